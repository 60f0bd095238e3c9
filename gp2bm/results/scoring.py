"""From parsed runs to MLPerf results and the RFP score.

MLCommons' arithmetic, verified on published logs:

* a run's time is (run_stop - run_start) / 60000 minutes, unrounded;
* a run whose run_stop status is not ``success`` (or that fails compliance, in strict mode)
  is a failed run;
* olympic mean: sort the good runs, drop the fastest, drop the slowest only when no run
  failed (a failed run takes the place of the dropped slowest), average the rest; more
  failed runs than allowed (one, for 5- and 10-run benchmarks) give no valid result;
* the mean is multiplied by ``scaling_factor`` (scaling.json, or the RCP factor).

The RFP score is the sum over benchmarks of weight / minutes (7.19/R + 9.05/B).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gp2bm.results import rules
from gp2bm.results.runlog import RunLog
from gp2bm.spec.suite import BenchmarkSpec, Suite

COUNTED = "counted"
DROPPED_FASTEST = "dropped (fastest)"
DROPPED_SLOWEST = "dropped (slowest)"
FAILED = "failed"

COMPLIANCE_MODES = ("strict", "report", "off")


def olympic_mean(times: Sequence[float], failed: int = 0, drop: int = 1) -> float | None:
    """MLCommons' olympic mean of the good runs' times.

    ``drop`` runs are dropped at each end; each failed run stands in for one dropped slowest
    run. Returns None when more runs failed than may be dropped, or nothing is left.
    """
    roles = olympic_roles(times, failed, drop)
    if roles is None:
        return None
    kept = [t for t, role in zip(times, roles, strict=True) if role == COUNTED]
    if not kept:
        return None
    return sum(sorted(kept)) / len(kept)


def olympic_roles(times: Sequence[float], failed: int = 0, drop: int = 1) -> list[str] | None:
    """For each time, whether it is counted or dropped (and which end), in input order."""
    if failed > drop:
        return None
    order = sorted(range(len(times)), key=lambda i: times[i])
    roles = [COUNTED] * len(times)
    for i in order[:drop]:
        roles[i] = DROPPED_FASTEST
    slow = drop - failed
    if slow:
        for i in order[drop:][-slow:]:
            roles[i] = DROPPED_SLOWEST
    return roles


@dataclass
class RunScore:
    file: str
    path: Path
    minutes: float | None
    status: str
    seed: int | None
    failed: bool
    reasons: list[str] = field(default_factory=list)
    role: str = COUNTED
    compliance: rules.CheckResult | None = None
    log: RunLog | None = None

    @property
    def counted(self) -> bool:
        return self.role == COUNTED

    def as_dict(self) -> dict:
        return {
            "file": self.file,
            "minutes": self.minutes,
            "status": self.status,
            "counted": self.counted,
            "role": self.role,
            "seed": self.seed,
            "reasons": list(self.reasons),
            "compliance": None
            if self.compliance is None
            else {
                "passed": self.compliance.passed,
                "messages": list(self.compliance.messages),
            },
        }


@dataclass
class BenchmarkScore:
    benchmark: str
    folder: Path
    spec: BenchmarkSpec | None
    runs: list[RunScore]
    mean: float | None = None
    scaling_factor: float = 1.0
    scaling_source: str = "none"
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rcp: rules.RcpResult | None = None
    seeds: rules.CheckResult | None = None

    @property
    def minutes(self) -> float | None:
        return None if self.mean is None else self.mean * self.scaling_factor

    @property
    def valid(self) -> bool:
        return self.minutes is not None and not self.problems

    def as_dict(self) -> dict:
        return {
            "folder": str(self.folder),
            "minutes": self.minutes,
            "seconds": None if self.minutes is None else self.minutes * 60,
            "valid": self.valid,
            "unscaled_minutes": self.mean,
            "scaling_factor": self.scaling_factor,
            "scaling_source": self.scaling_source,
            "required_runs": None if self.spec is None else self.spec.runs,
            "problems": list(self.problems),
            "notes": list(self.notes),
            "rcp": None
            if self.rcp is None
            else {
                "passed": self.rcp.passed,
                "message": self.rcp.message,
                "factor": self.rcp.factor,
            },
            "seeds": None
            if self.seeds is None
            else {
                "passed": self.seeds.passed,
                "messages": list(self.seeds.messages),
            },
            "runs": [r.as_dict() for r in self.runs],
        }


@dataclass
class SuiteScore:
    suite: Suite
    ruleset: str
    compliance: str
    benchmarks: dict[str, BenchmarkScore]

    @property
    def missing(self) -> list[str]:
        return [b for b in self.suite.benchmarks if b not in self.benchmarks]

    @property
    def score(self) -> float | None:
        total = 0.0
        for name, spec in self.suite.benchmarks.items():
            result = self.benchmarks.get(name)
            if result is None or not result.valid:
                return None
            total += spec.weight / result.minutes
        return total

    @property
    def valid(self) -> bool:
        return self.score is not None

    def as_dict(self) -> dict:
        return {
            "suite": self.suite.name,
            "ruleset": self.ruleset,
            "compliance": self.compliance,
            "formula": self.suite.formula_text(),
            "benchmarks": {name: b.as_dict() for name, b in self.benchmarks.items()},
            "missing": self.missing,
            "score": self.score,
        }


def score_run(log: RunLog, compliance_mode: str, ruleset: str) -> RunScore:
    reasons = []
    status = log.status or "no run_stop"
    if log.status != "success":
        reasons.append(f"run_stop status is '{log.status}'" if log.status else "no run_stop")
    reasons.extend(str(a) for a in log.errors if a.kind != "missing_run_stop")
    compliance = None
    if compliance_mode != "off":
        compliance = rules.check_compliance(log.path, ruleset)
        if compliance_mode == "strict" and not compliance.passed:
            reasons.extend(f"compliance: {m}" for m in compliance.messages)
    if log.minutes is None and not reasons:
        reasons.append("no time to train")
    return RunScore(
        file=log.path.name,
        path=log.path,
        minutes=log.minutes,
        status=status,
        seed=log.seed,
        failed=bool(reasons),
        reasons=reasons,
        role=FAILED if reasons else COUNTED,
        compliance=compliance,
        log=log,
    )


def score_benchmark(
    benchmark: str,
    folder: Path,
    logs: list[RunLog],
    spec: BenchmarkSpec | None,
    ruleset: str,
    compliance_mode: str = "strict",
    rcp: str = "check",
) -> BenchmarkScore:
    """Score one benchmark folder.

    ``rcp``: "off" (no RCP check), "check" (check and report; in strict mode a failure
    invalidates) or "factor" (also take the scaling factor from the RCPs, not scaling.json).
    """
    runs = [score_run(log, compliance_mode, ruleset) for log in logs]
    result = BenchmarkScore(benchmark=benchmark, folder=folder, spec=spec, runs=runs)
    max_failed = spec.max_failed_runs if spec else 1
    failed = [r for r in runs if r.failed]
    good = [r for r in runs if not r.failed]

    if spec is not None and len(runs) != spec.runs:
        word = "fewer" if len(runs) < spec.runs else "more"
        result.problems.append(f"{len(runs)} runs, {word} than the {spec.runs} required")
    if len(failed) > max_failed:
        result.problems.append(
            f"{len(failed)} failed runs, at most {max_failed} allowed: no valid result"
        )
    roles = olympic_roles([r.minutes for r in good], failed=len(failed), drop=1)
    if roles is not None:
        for run, role in zip(good, roles, strict=True):
            run.role = role
        result.mean = olympic_mean([r.minutes for r in good], failed=len(failed), drop=1)
        if result.mean is None:
            result.problems.append("no run left after the olympic drops")

    if compliance_mode != "off":
        # A cut-off or garbled log is already a failed run; MLCommons' seed checker would
        # reject the whole folder over its parse error, so it sees only readable logs.
        readable = [
            log.path
            for log in logs
            if not any(a.kind in ("truncated", "garbled_line") for a in log.anomalies)
        ]
        result.seeds = rules.check_seeds(readable, ruleset)
        if not result.seeds.passed:
            if compliance_mode == "strict":
                result.problems.extend(f"seeds: {m}" for m in result.seeds.messages or ("fail",))
            else:
                result.notes.extend(f"seeds: {m}" for m in result.seeds.messages or ("fail",))

    if rcp != "off":
        result.rcp = rules.check_rcp(folder, ruleset)
        if not result.rcp.passed:
            text = f"RCP check failed: {result.rcp.message}"
            if compliance_mode == "strict" or rcp == "factor":
                result.problems.append(text)
            else:
                result.notes.append(text)

    scaling = rules.read_scaling(folder)
    if rcp == "factor":
        result.scaling_factor = result.rcp.factor
        result.scaling_source = "rcp"
        if scaling is not None and abs(scaling - result.rcp.factor) > 1e-9 * scaling:
            result.notes.append(
                f"scaling.json says {scaling}, the RCPs give {result.rcp.factor}; using the RCPs"
            )
    elif scaling is not None:
        result.scaling_factor = scaling
        result.scaling_source = "scaling.json"
    return result
