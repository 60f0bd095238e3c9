"""The suite an RFP asks for, as data: benchmarks, run counts, targets, weights, ruleset.

Beyond its schema, a suite's arithmetic is checked when it is loaded, each failure one line
naming the file: weights and targets are finite numbers above 0 (YAML's ``.nan`` and
``.inf`` are numbers to JSON Schema); every benchmark asks for at least MIN_RUNS runs,
unless the suite says it is a ``trial`` (a check of a setup, whose benchmarks with fewer
runs can never have a result); the
``score.formula`` it prints is the sum gp2bm computes, weight / symbol for each benchmark
once (a formula ``100/R + 1/B`` beside weights 7.19 and 9.05 would print one number and
compute another); symbols are unique; the title holds no control or format characters.

The default suites ship inside gp2bm as the package ``gp2bm.spec.suites`` (pyproject.toml
maps it to the repository's top-level ``manifests/`` folder): an editable install finds the
repository's files there, a ``pip install .`` its own copy inside the installed package.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path

from gp2bm.errors import InputError
from gp2bm.files.plaintext import hidden_characters
from gp2bm.files.yamlfile import load_validated
from gp2bm.spec.power import SuitePower

SUITES_PACKAGE = "gp2bm.spec.suites"
# gp2bm is installed as files (pip never runs a wheel zipped), so the package is a folder;
# anything else is refused instead of guessing a path.
_SUITES = resources.files(SUITES_PACKAGE)
if not isinstance(_SUITES, os.PathLike):
    raise ImportError(f"{SUITES_PACKAGE} is not a folder: gp2bm must be installed as files")
MANIFEST_DIR = Path(os.fspath(_SUITES))
DEFAULT_SUITE = MANIFEST_DIR / "gp2rfp.yaml"

# MLCommons' olympic mean drops the fastest run and the slowest (a failed run, of which one
# is allowed, takes the slowest's place): with fewer than 3 runs nothing is left to average,
# so such a benchmark can never have a result.
MIN_RUNS = 3
# One term of a score formula: WEIGHT / SYMBOL.
FORMULA_TERM = re.compile(r"\s*(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*/\s*([A-Za-z_][A-Za-z0-9_]*)\s*")
MAX_TITLE_CHARS = 200


class ComplianceMode(StrEnum):
    """How MLCommons' compliance checker counts (a suite's ``checks.compliance``, or
    ``--compliance``): strict, a run failing it is a failed run (MLCommons' summarizer);
    report, checked and reported only; off, not checked."""

    STRICT = "strict"
    REPORT = "report"
    OFF = "off"


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str
    runs: int
    target: float
    weight: float
    symbol: str = ""
    manifest: str | None = None
    # MLCommons allows one failed run for 5- and 10-run benchmarks (it replaces the dropped
    # slowest run in the olympic mean).
    max_failed_runs: int = 1


@dataclass(frozen=True)
class Suite:
    name: str
    ruleset: str
    nodes: int
    benchmarks: dict[str, BenchmarkSpec]
    title: str = ""
    usage: str = "training"
    formula: str = ""
    compliance: ComplianceMode = ComplianceMode.STRICT
    rcp: bool = True
    trial: bool = False  # may ask for fewer runs than a result needs (checks a setup)
    higher_is_better: bool = True  # the score's direction
    power: SuitePower = field(default_factory=SuitePower)  # its power files' constants
    path: Path | None = field(default=None, compare=False)

    def rules(self) -> dict[str, object]:
        """What decides a result, and nothing else (not the name, the title, the files, the
        symbols the formula prints: the score is the sum of weight / minutes, and the
        formula is checked against the weights when the suite is loaded): two suites with
        the same rules score every campaign alike. Plain data, for comparing and JSON."""
        return {
            "ruleset": self.ruleset,
            "usage": self.usage,
            "nodes": self.nodes,
            "compliance": self.compliance.value,
            "rcp": self.rcp,
            "higher_is_better": self.higher_is_better,
            "benchmarks": {
                name: {
                    "runs": b.runs,
                    "target": b.target,
                    "weight": b.weight,
                    "max_failed_runs": b.max_failed_runs,
                }
                for name, b in sorted(self.benchmarks.items())
            },
        }

    def formula_text(self) -> str:
        if self.formula:
            return self.formula
        return " + ".join(f"{b.weight}/{b.symbol or b.name}" for b in self.benchmarks.values())


def builtin_suite_names() -> list[str]:
    """gp2bm's own suites, by name (``--suite NAME``)."""
    return sorted(
        p.stem for p in MANIFEST_DIR.glob("*.yaml") if p.stem != "system" and _is_suite_file(p)
    )


def _is_suite_file(path: Path) -> bool:
    try:
        return re.search(r"^benchmarks:", path.read_text(encoding="utf-8"), re.M) is not None
    except OSError:
        return False


def named_suite(path: Path | str) -> Path:
    """``path`` as given, or, when no such file is there and it is a bare name (``smoke``,
    ``gp2rfp.yaml``), gp2bm's own suite of that name."""
    path = Path(path)
    if path.exists() or len(path.parts) != 1:
        return path
    shipped = MANIFEST_DIR / f"{path.name.removesuffix('.yaml')}.yaml"
    if shipped.is_file() and _is_suite_file(shipped):
        return shipped
    raise InputError(
        f"{path}: no such suite file, nor a suite of gp2bm's of that name (known: "
        f"{', '.join(builtin_suite_names())})"
    )


def load_suite(path: Path | str = DEFAULT_SUITE) -> Suite:
    path = named_suite(path)
    doc = load_validated(path, "suite")
    suite = _suite(path, doc)
    check_arithmetic(suite)
    return suite


def _suite(path: Path, doc: dict) -> Suite:
    benchmarks = {
        name: BenchmarkSpec(
            name=name,
            runs=spec["runs"],
            target=_float(spec["target"], path, f"benchmarks.{name}.target"),
            weight=_float(spec["weight"], path, f"benchmarks.{name}.weight"),
            symbol=spec.get("symbol", ""),
            manifest=spec.get("manifest"),
            max_failed_runs=spec.get("max_failed_runs", 1),
        )
        for name, spec in doc["benchmarks"].items()
    }
    checks = doc.get("checks", {})
    return Suite(
        name=doc["name"],
        title=doc.get("title", ""),
        ruleset=doc["ruleset"],
        usage=doc.get("usage", "training"),
        nodes=doc["nodes"],
        benchmarks=benchmarks,
        formula=doc.get("score", {}).get("formula", ""),
        compliance=ComplianceMode(checks.get("compliance", "strict")),  # the schema's enum
        rcp=checks.get("rcp", True) in (True, "on"),  # the schema: a boolean, on or off
        trial=doc.get("trial", False),
        higher_is_better=doc.get("score", {}).get("higher_is_better", True),
        power=SuitePower.from_doc(doc.get("power")),
        path=path,
    )


def _float(value: int | float, path: Path, where: str) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer of hundreds of digits
        raise InputError(f"{path}: {where} is too large a number") from None


def check_arithmetic(suite: Suite) -> None:
    """InputError naming the suite's file when its numbers cannot give a meaningful score."""
    where = suite.path
    for name, b in suite.benchmarks.items():
        for what, value in (("weight", b.weight), ("target", b.target)):
            if not math.isfinite(value) or value <= 0:
                raise InputError(
                    f"{where}: benchmarks.{name}.{what} is {value}: it must be a finite "
                    "number above 0"
                )
        if b.runs < MIN_RUNS and not suite.trial:
            raise InputError(
                f"{where}: benchmarks.{name}.runs is {b.runs}: the olympic mean drops the "
                f"fastest and the slowest (or a failed) run, so a result needs at least "
                f"{MIN_RUNS} runs (a suite that only checks a setup says 'trial: true')"
            )
    _check_symbols(suite)
    _check_formula(suite)
    hidden = hidden_characters(suite.title)
    if hidden or len(suite.title) > MAX_TITLE_CHARS:
        why = (
            f"holds {', '.join(hidden[:5])}" if hidden else f"is over {MAX_TITLE_CHARS} characters"
        )
        raise InputError(f"{where}: title {why}: a title is one line of plain text")


def _check_symbols(suite: Suite) -> None:
    seen: dict[str, str] = {}
    for name, b in suite.benchmarks.items():
        symbol = b.symbol or name
        if symbol in seen:
            raise InputError(
                f"{suite.path}: benchmarks {seen[symbol]} and {name} have the same symbol "
                f"'{symbol}': the score formula could not tell them apart"
            )
        seen[symbol] = name


def _check_formula(suite: Suite) -> None:
    """``score.formula`` must say what gp2bm computes: weight / symbol, each benchmark once."""
    if not suite.formula:
        return
    computed = " + ".join(f"{b.weight:g}/{b.symbol or b.name}" for b in suite.benchmarks.values())
    terms = _formula_terms(suite.formula)
    wanted = {b.symbol or b.name: b.weight for b in suite.benchmarks.values()}
    given = {symbol: weight for weight, symbol in terms or ()}
    if (
        terms is None
        or len(terms) != len(given)
        or set(given) != set(wanted)
        or any(not math.isclose(given[s], w, rel_tol=1e-9) for s, w in wanted.items())
    ):
        raise InputError(
            f"{suite.path}: score.formula does not match the weights and symbols: gp2bm's "
            f"score is the sum of weight / minutes, here {computed}"
        )


def _formula_terms(formula: str) -> list[tuple[float, str]] | None:
    """The WEIGHT / SYMBOL terms of a formula written as their sum, or None."""
    terms = []
    for part in formula.split("+"):
        m = FORMULA_TERM.fullmatch(part)
        if m is None:
            return None
        terms.append((float(m.group(1)), m.group(2)))
    return terms
