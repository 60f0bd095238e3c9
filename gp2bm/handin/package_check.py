"""MLCommons' package checker on a bundle's submission tree, the system description's
fitness for a hand-in, and the per-folder RCP bypass.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mlperf_logging.compliance_checker import mlp_compliance

from gp2bm.errors import InputError
from gp2bm.files.jsonfile import read_json
from gp2bm.handin.layout import PARAMS_FILE, RCP_BYPASS
from gp2bm.node.systemdesc import problems
from gp2bm.results import rules
from gp2bm.spec.suite import Suite


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


def _run_checker(copy: Path, ruleset: str) -> tuple[list[logging.LogRecord], str | None]:
    """``check_training_package`` on ``copy``: what it logged, and why it crashed (if so).
    It keeps the configs it read in a module-level list: cleared before and after."""
    from mlperf_logging.package_checker import package_checker  # heavy: 0.6 s to import

    crashed = None
    mlp_compliance.enqueued_configs.clear()
    sink = io.StringIO()
    try:
        with (
            rules.captured_logging() as records,
            contextlib.redirect_stdout(sink),
            contextlib.redirect_stderr(sink),
        ):
            try:
                package_checker.check_training_package(
                    str(copy),
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


def _scaling_written(copy: Path) -> dict[str, float]:
    """The scaling.json factors the checker wrote into the copy, by <system>/<benchmark>."""
    scaling = {}
    results = copy / "results"
    if results.is_dir():
        for path in sorted(results.glob("*/*/scaling.json")):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                factor = json.loads(path.read_text())["scaling_factor"]
                scaling[f"{path.parent.parent.name}/{path.parent.name}"] = float(factor)
    return scaling


def check_package(org_dir: Path, ruleset: str, scratch: Path) -> PackageCheck:
    """MLCommons' package checker (as a library) on a copy of ``org_dir``.

    ``check_training_package`` returns nothing and prints; its verdict is in what it logs:
    an ERROR record, or no closing "FOUND NO ERRORS" line, is a failure.
    """
    copy = scratch / org_dir.name
    shutil.copytree(org_dir, copy)
    records, crashed = _run_checker(copy, ruleset)
    lines = []
    errors, warnings = [], []
    for rec in records:
        text = rec.getMessage().replace(str(scratch) + "/", "")
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
        scaling=_scaling_written(copy),
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


def rcp_bypass(suite: Suite, results: Path) -> list[str]:
    """Where the suite turns RCP off and a benchmark's RCP check fails, the package checker's
    per-folder bypass file; returns those benchmarks."""
    bypass = []
    if suite.rcp:
        return bypass
    for bench in suite.benchmarks:
        folder = results / bench
        if folder.is_dir() and not rules.check_rcp(folder, suite.ruleset).passed:
            (folder / PARAMS_FILE).write_text(RCP_BYPASS)
            bypass.append(bench)
    return bypass
