"""gp2bm's records of MLCommons' verdicts, and its rules around them.

MLCommons' checkers are run through ``results.mlcommons``, the one package of gp2bm that
imports ``mlperf-logging``; what they decide is kept here as plain data (``CheckResult``,
``SeedRecords``, ``RcpResult``: the verdict cache, the checker processes and the bundles
carry them as dictionaries), and so are gp2bm's own rules around them: a ruleset the
library has no rules for is bad input (``require_ruleset``), and ``scaling.json`` is read as
MLCommons' summarizer applies it (``read_scaling``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gp2bm.campaign.layout import SCALING_FILE
from gp2bm.errors import InputError
from gp2bm.results.mlcommons.rulesets import rules_cover, supported_rulesets


@dataclass(frozen=True)
class CheckResult:
    """Verdict of one MLCommons checker: passed, and why not in short lines."""

    name: str
    passed: bool
    messages: tuple[str, ...] = ()
    detail: dict = field(default_factory=dict)

    def summary(self) -> str:
        return "pass" if self.passed else "; ".join(self.messages) or "fail"

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "passed": self.passed,
            "messages": list(self.messages),
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: dict) -> CheckResult:
        return cls(
            str(data["name"]), bool(data["passed"]), tuple(data["messages"]), dict(data["detail"])
        )


@dataclass(frozen=True)
class SeedRecords:
    """The seeds one result log records, as MLCommons' seed checker reads them: (source
    file, line, seed) per ``seed`` line; or why they cannot be read."""

    records: tuple[tuple, ...] = ()  # (file, lineno, seed) as the log gives them
    error: str | None = None

    def to_dict(self) -> dict:
        return {"records": [list(r) for r in self.records], "error": self.error}

    @classmethod
    def from_dict(cls, data: dict) -> SeedRecords:
        return cls(tuple(tuple(record) for record in data["records"]), data["error"])


@dataclass(frozen=True)
class RcpResult:
    """MLCommons' RCP check of one benchmark folder.

    ``factor`` is the RCP normalisation factor MLCommons' package checker would write to
    scaling.json: above 1 only when the runs converge faster than the RCP mean yet within
    the maximum speedup, 1 otherwise; None when the check fails (there is no factor then).
    """

    passed: bool
    message: str
    factor: float | None
    submission_mean: float | None = None  # mean epochs (or samples) to converge, olympic
    rcp_mean: float | None = None

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "message": self.message,
            "factor": self.factor,
            "submission_mean": self.submission_mean,
            "rcp_mean": self.rcp_mean,
        }

    @classmethod
    def from_dict(cls, data: dict) -> RcpResult:
        return cls(
            bool(data["passed"]),
            str(data["message"]),
            data["factor"],
            data.get("submission_mean"),
            data.get("rcp_mean"),
        )


def require_ruleset(ruleset: str, benchmarks: Iterable[str] = ()) -> None:
    """Refuse (InputError) a ruleset the library has no rules for, or that has none for one
    of ``benchmarks``."""
    if ruleset not in supported_rulesets():
        raise InputError(
            f"unknown ruleset '{ruleset}': mlperf-logging knows {', '.join(supported_rulesets())}"
        )
    for bench in benchmarks:
        if bench and not rules_cover(ruleset, bench):
            raise InputError(f"ruleset {ruleset} has no rules for benchmark '{bench}'")


def read_scaling(folder: Path) -> float | None:
    """The ``scaling_factor`` of ``scaling.json`` beside the logs, as MLCommons applies it.

    MLCommons' factor is the RCP mean over the submission's mean, written only when that is
    above 1: a factor below 1 (or not a finite number) is bad input, not a result.
    """
    path = Path(folder) / SCALING_FILE
    if not path.exists():
        return None
    try:
        factor = json.loads(path.read_text(encoding="utf-8"))["scaling_factor"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, OSError):
        raise InputError(f"{path}: not a JSON object with a numeric 'scaling_factor'") from None
    if (
        isinstance(factor, bool)
        or not isinstance(factor, (int, float))
        or not math.isfinite(factor)
        or factor < 1
    ):
        raise InputError(
            f"{path}: 'scaling_factor' must be a finite number >= 1 (MLCommons' RCP "
            f"factor), not {json.dumps(factor)[:40]}"
        )
    return float(factor)
