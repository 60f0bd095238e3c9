"""MLCommons' package checker on a bundle's submission tree, the system description's
fitness for a hand-in, and the per-folder RCP bypass.

The checker runs as a library, on the tree itself, and is handed what this run already
knows (``verdicts.RunVerdicts``): for a log whose bytes were checked by the scoring, the
compliance verdict and the seed records that the same library calls gave; any other log it
checks itself. Its RCP check runs, as gp2bm's own does, on copies of the logs holding only
the lines the RCP checker reads (the verdicts are the same, tests/test_score_checks.py; a
full log costs a backtracking regex on every line); the ``scaling.json`` it writes lands in
those copies, never in the tree.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mlperf_logging.compliance_checker import mlp_compliance
from mlperf_logging.package_checker.seed_checker import SeedChecker

from gp2bm.campaign.layout import CampaignLayout
from gp2bm.errors import InputError
from gp2bm.files.checksums import sha256_file
from gp2bm.files.jsonfile import read_json
from gp2bm.handin.format import RCP_BYPASS
from gp2bm.handin.verdicts import RunVerdicts
from gp2bm.node.systemdesc import problems
from gp2bm.results import rules
from gp2bm.results.rcpmodule import rcp_checker
from gp2bm.spec.suite import Suite

# Where the RCP checker's trimmed copies of the logs go, in the scratch folder.
TRIMMED = "rcp-logs"


@dataclass
class PackageCheck:
    """The verdict of MLCommons' package checker and what it logged."""

    ran: bool
    passed: bool
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    log: str = ""
    scaling: dict[str, float] = field(default_factory=dict)
    reason: str = ""

    def as_dict(self) -> dict:
        return {
            "ran": self.ran,
            "passed": self.passed,
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "scaling_written_by_checker": dict(self.scaling),
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: dict) -> PackageCheck:
        """What ``as_dict`` wrote (gp2bm-bundle.json), without the log; ValueError if not."""
        try:
            return cls(
                ran=bool(data["ran"]),
                passed=bool(data["passed"]),
                errors=[str(e) for e in data["errors"]],
                warnings=[str(w) for w in data["warnings"]],
                scaling={str(k): float(v) for k, v in data["scaling_written_by_checker"].items()},
                reason=str(data["reason"]),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"not a package checker verdict ({exc})") from None


def load_checker():
    """MLCommons' package checker module (its RCP checker first, as ``rcpmodule`` imports
    it: import this before forking checker processes, so that they share it)."""
    rcp_checker()
    from mlperf_logging.package_checker import package_checker  # heavy: 0.14 s to import

    return package_checker


class _HandedSeeds(SeedChecker):
    """MLCommons' seed checker, handed the seed records this run read from each log."""

    known: RunVerdicts | None = None
    known_ruleset = ""

    def _get_seed_records(self, result_file):
        found = None
        if self.known is not None:
            found = self.known.seeds(self.known_ruleset, sha256_file(Path(result_file)))
        if found is None:
            return super()._get_seed_records(result_file)
        if found.error is not None:
            raise ValueError(found.error)  # as its own reading of the file raises
        return list(found.records)


def _handed_compliance(original, known: RunVerdicts, ruleset: str):
    """``mlp_compliance.main`` for the package checker: a log whose verdict this run computed
    gets it (its messages logged as the checker logs them), any other is checked."""

    def main(filename, config_file, checker):
        found = known.compliance(ruleset, sha256_file(Path(filename)))
        if found is None:
            return original(filename, config_file, checker)
        logging.info("Running compliance on file: %s (verdict of this run)", filename)
        if found.messages:
            logging.warning(" %s", "\n".join(found.messages))
        return found.passed, None, None, None

    return main


def _trimmed_rcp(original, org_dir: Path, trimmed: Path):
    """``rcp_checker.check_directory`` on a copy of the folder's logs holding only the lines
    it reads; the scaling.json it writes stays in the copy."""

    def check_directory(folder, *args, **kwargs):
        rel = Path(folder).resolve().relative_to(org_dir.resolve())
        copy = trimmed / rel
        copy.mkdir(parents=True, exist_ok=True)
        for log in Path(folder).glob("result_*.txt"):  # what the checker globs
            if log.is_file():
                rules.rcp_lines(log, copy / log.name)
        return original(str(copy), *args, **kwargs)

    return check_directory


@contextlib.contextmanager
def _handing(
    module, org_dir: Path, trimmed: Path, ruleset: str, known: RunVerdicts | None
) -> Iterator[None]:
    """The package checker's compliance, seed and RCP calls, handed this run's verdicts and
    the trimmed logs, for as long as it runs."""
    rcp = module.rcp_checker
    saved = (mlp_compliance.main, module.SeedChecker, rcp.check_directory)
    known = known or RunVerdicts()
    seeds = type("HandedSeeds", (_HandedSeeds,), {"known": known, "known_ruleset": ruleset})
    mlp_compliance.main = _handed_compliance(saved[0], known, ruleset)
    module.SeedChecker = seeds
    rcp.check_directory = _trimmed_rcp(saved[2], org_dir, trimmed)
    try:
        yield
    finally:
        mlp_compliance.main, module.SeedChecker, rcp.check_directory = saved


def _run_checker(
    org_dir: Path, ruleset: str, scratch: Path, known: RunVerdicts | None
) -> tuple[list[logging.LogRecord], str | None]:
    """``check_training_package`` on ``org_dir``: what it logged, and why it crashed (if so).
    It keeps the configs it read in a module-level list: cleared before and after."""
    package_checker = load_checker()
    trimmed = scratch / TRIMMED / org_dir.name
    crashed = None
    mlp_compliance.enqueued_configs.clear()
    sink = io.StringIO()
    try:
        with (
            rules.captured_logging() as records,
            contextlib.redirect_stdout(sink),
            contextlib.redirect_stderr(sink),
            _handing(package_checker, org_dir, trimmed, ruleset, known),
        ):
            try:
                package_checker.check_training_package(
                    str(org_dir),
                    "training",
                    ruleset,
                    False,  # quiet
                    False,  # werror
                    False,  # rcp_bypass: only where a folder's package_checker_params says
                    False,  # rcp_bert_train_samples
                    False,  # seed_checker_bypass
                    os.devnull,
                )
            except Exception as exc:  # its code reads files the bundle may lack
                crashed = f"package checker crashed: {type(exc).__name__}: {exc}"
    finally:
        mlp_compliance.enqueued_configs.clear()
    return records, crashed


def _scaling_written(trimmed: Path) -> dict[str, float]:
    """The scaling.json factors the checker wrote (into the trimmed copies), by
    <system>/<benchmark>."""
    scaling = {}
    results = trimmed / "results"
    if results.is_dir():
        for path in sorted(results.glob("*/*/scaling.json")):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                factor = json.loads(path.read_text())["scaling_factor"]
                scaling[f"{path.parent.parent.name}/{path.parent.name}"] = float(factor)
    return scaling


def check_package(
    org_dir: Path, ruleset: str, scratch: Path, known: RunVerdicts | None = None
) -> PackageCheck:
    """MLCommons' package checker (as a library) on ``org_dir``, which it does not modify.
    ``known``: the verdicts this run computed, handed to it for byte-identical logs.

    ``check_training_package`` returns nothing and prints; its verdict is in what it logs:
    an ERROR record, or no closing "FOUND NO ERRORS" line, is a failure.
    """
    scratch.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="checker-", dir=scratch))
    records, crashed = _run_checker(Path(org_dir), ruleset, work, known)
    prefixes = sorted(
        {f"{work / TRIMMED}/", f"{Path(org_dir).parent}/", f"{Path(org_dir).resolve().parent}/"},
        key=len,
        reverse=True,
    )
    lines = []
    errors, warnings = [], []
    for rec in records:
        text = rec.getMessage()
        for prefix in prefixes:
            text = text.replace(prefix, "")
        lines.append(f"{rec.levelname} - {text}")
        if rec.levelno >= logging.ERROR:
            errors.append(" ".join(text.split())[:300])
        elif rec.levelno == logging.WARNING:
            warnings.append(" ".join(text.split())[:300])
    if crashed:
        errors.append(crashed)
        lines.append(f"ERROR - {crashed}")
    finished = any("FOUND NO ERRORS" in ln for ln in lines)
    return PackageCheck(
        ran=True,
        passed=finished and not errors,
        errors=errors,
        warnings=warnings,
        log="\n".join(lines) + "\n",
        scaling=_scaling_written(work / TRIMMED / Path(org_dir).name),
    )


def system_problems(path: Path, root: Path) -> list[tuple[str, str]]:
    """What keeps the system description from a valid hand-in: (message, short form).

    Placeholders pass MLCommons' checker (it only asks that each field exist), and a
    division other than "closed" makes its package checker skip the seed and RCP checks:
    both are refused here.
    """
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    fix = "fill in system.yaml beside the suite, then `gp2bm inventory --campaign DIR`"
    if not path.is_file():
        return [
            (
                f"{path}: no MLPerf system description; MLCommons' package checker needs it "
                f"({fix})",
                f"no system description ({rel})",
            )
        ]
    try:
        desc = read_json(path)
    except InputError as exc:
        return [(str(exc), f"system description unreadable ({rel})")]
    found = problems(desc)
    out = []
    if found:
        names = ", ".join(p.field for p in found)
        out.append(
            (
                f"{path}: {len(found)} field(s) still a placeholder or empty ({names}); {fix}",
                f"system description {rel}: not filled in: {names}",
            )
        )
    division = desc.get("division")
    if not any(p.field == "division" for p in found) and division != "closed":
        out.append(
            (
                f"{path}: division is {division!r}, not 'closed': the MLPerf Training closed "
                "division is what the RFP asks for (and MLCommons' checker skips the seed and "
                "RCP checks otherwise)",
                f"system description {rel}: division {division!r}, not 'closed'",
            )
        )
    return out


def rcp_bypass(suite: Suite, layout: CampaignLayout) -> list[str]:
    """Where the suite turns RCP off and a benchmark's RCP check fails, the package checker's
    per-folder bypass file; returns those benchmarks."""
    bypass: list[str] = []
    if suite.rcp:
        return bypass
    for bench in suite.benchmarks:
        folder = layout.benchmark_dir(bench)
        if folder.is_dir() and not rules.check_rcp(folder, suite.ruleset).passed:
            layout.params_file(bench).write_text(RCP_BYPASS)
            bypass.append(bench)
    return bypass
