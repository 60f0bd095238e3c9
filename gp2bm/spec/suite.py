"""The suite an RFP asks for, as data: benchmarks, run counts, targets, weights, ruleset.

The default suites ship inside gp2bm as the package ``gp2bm.spec.suites`` (pyproject.toml
maps it to the repository's top-level ``manifests/`` folder): an editable install finds the
repository's files there, a ``pip install .`` its own copy inside the installed package.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from gp2bm.files.yamlfile import load_validated

SUITES_PACKAGE = "gp2bm.spec.suites"
# gp2bm is installed as files (pip never runs a wheel zipped), so the package is a folder;
# os.fspath refuses anything else instead of guessing a path.
MANIFEST_DIR = Path(os.fspath(resources.files(SUITES_PACKAGE)))
DEFAULT_SUITE = MANIFEST_DIR / "gp2rfp.yaml"


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
    compliance: str = "strict"
    rcp: bool = True
    path: Path | None = field(default=None, compare=False)

    def formula_text(self) -> str:
        if self.formula:
            return self.formula
        return " + ".join(f"{b.weight}/{b.symbol or b.name}" for b in self.benchmarks.values())


def load_suite(path: Path | str = DEFAULT_SUITE) -> Suite:
    path = Path(path)
    doc = load_validated(path, "suite")
    benchmarks = {
        name: BenchmarkSpec(
            name=name,
            runs=spec["runs"],
            target=float(spec["target"]),
            weight=float(spec["weight"]),
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
        compliance=checks.get("compliance", "strict"),
        rcp=checks.get("rcp", True),
        path=path,
    )
