"""From parsed runs to MLPerf results and the RFP score.

MLCommons' arithmetic, verified on published logs:

* a run's time is (run_stop - run_start) / 60000 minutes, unrounded;
* a run whose run_stop status is not ``success`` (or that fails compliance, in strict mode)
  is a failed run;
* olympic mean: sort the good runs, drop the fastest, drop the slowest only when no run
  failed (a failed run takes the place of the dropped slowest), average the rest; more
  failed runs than allowed (one, for 5- and 10-run benchmarks) give no valid result;
* the mean is multiplied by ``scaling_factor``: scaling.json beside the logs, else 1, as
  MLCommons' summarizer does; for a gp2bm campaign of a suite with RCP checks (or on
  request), the RCP normalisation factor MLCommons' package checker would write to
  scaling.json (none when the RCP check fails: then there is no result).

Time to train is run_stop - run_start and nothing else. gp2bm's own measurement of its runs
(results/timing.py) only ever fails a run of a gp2bm campaign.

The RFP score is the sum over benchmarks of weight / minutes (7.19/R + 9.05/B).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from gp2bm.results import rules
from gp2bm.results.checkpool import Verdicts
from gp2bm.results.energy import BenchmarkEnergy, benchmark_energy
from gp2bm.results.mlcommons import compliance as compliance_checker
from gp2bm.results.mlcommons import rcp as rcp_checker
from gp2bm.results.mlcommons import seeds as seed_checker
from gp2bm.results.olympic import OLYMPIC_DROP, olympic_mean, olympic_roles
from gp2bm.results.olympic import RunRole as RunRole
from gp2bm.results.runlog import RunLog
from gp2bm.results.spread import (
    Interval,
    ScoreInterval,
    StatedVariance,
    benchmark_interval,
    score_interval,
    stated_variance,
)
from gp2bm.results.timing import timing_mismatch
from gp2bm.spec.suite import BenchmarkSpec, ComplianceMode, Suite


class RcpMode(StrEnum):
    """off: no RCP check; check: check and report (strict compliance: a failure
    invalidates); factor: also take the scaling factor from the RCP check (a gp2bm campaign
    of an RCP suite, or --rcp)."""

    OFF = "off"
    CHECK = "check"
    FACTOR = "factor"


# Anomalies of a log that keep it from MLCommons' seed checker (its run fails already).
UNCHECKED_KINDS = ("truncated", "garbled_line", "log_too_large")

# The failed runs MLCommons allows a benchmark of 5 or 10 runs (a published set has no suite).
DEFAULT_MAX_FAILED = 1

NO_SCALING = "none"
SCALING_JSON = "scaling.json"
SCALING_RCP = "rcp"


@dataclass(frozen=True)
class ScoringOptions:
    ruleset: str
    compliance: ComplianceMode = ComplianceMode.STRICT
    rcp: RcpMode = RcpMode.CHECK
    campaign: bool = False  # a gp2bm campaign (campaign.json), not a published result


@dataclass
class RunScore:
    file: str
    path: Path
    minutes: float | None
    status: str
    seed: int | None
    failed: bool
    reasons: list[str] = field(default_factory=list)
    role: RunRole = RunRole.COUNTED
    compliance: rules.CheckResult | None = None
    log: RunLog | None = None
    notes: list[str] = field(default_factory=list)  # warnings that fail nothing
    observed_seconds: float | None = None  # gp2bm's monotonic timing (campaigns only)

    @property
    def counted(self) -> bool:
        return self.role == RunRole.COUNTED

    def as_dict(self) -> dict:
        return {
            "file": self.file,
            "minutes": self.minutes,
            "status": self.status,
            "counted": self.counted,
            "role": self.role.value,
            "seed": self.seed,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "observed_seconds": self.observed_seconds,
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
    mean: float | None = None  # the olympic mean, unscaled
    scaling_factor: float | None = 1.0  # None: the RCP check failed, there is no factor
    scaling_source: str = NO_SCALING
    scaling_reason: str = "no scaling.json: factor 1"
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rcp: rules.RcpResult | None = None
    seeds: rules.CheckResult | None = None
    energy: BenchmarkEnergy | None = None  # from its power logs, when it has them

    @property
    def minutes(self) -> float | None:
        """The official result: the olympic mean times the scaling factor."""
        if self.mean is None or self.scaling_factor is None:
            return None
        return self.mean * self.scaling_factor

    @property
    def valid(self) -> bool:
        return self.minutes is not None and not self.problems

    @property
    def max_failed_runs(self) -> int:
        """The failed runs its suite allows (a published set, without one: MLCommons' 1)."""
        return self.spec.max_failed_runs if self.spec is not None else DEFAULT_MAX_FAILED

    @property
    def interval(self) -> Interval:
        """The 95 % interval on the result (``spread.METHOD``), scaled as the result is."""
        good = [r.minutes for r in self.runs if not r.failed and r.minutes is not None]
        if self.minutes is None:
            runs = len(self.runs)
            return Interval(None, None, runs=runs, reason="no result")
        failed = sum(1 for r in self.runs if r.failed)
        return benchmark_interval(good, failed, self.max_failed_runs, self.scaling_factor)

    @property
    def stated_variance(self) -> StatedVariance:
        """MLPerf's stated variance of such a benchmark, around the result."""
        return stated_variance(self.benchmark, self.minutes)

    def as_dict(self) -> dict:
        return {
            "folder": str(self.folder),
            "minutes": self.minutes,
            "seconds": None if self.minutes is None else self.minutes * 60,
            "valid": self.valid,
            "unscaled_minutes": self.mean,
            "scaling_factor": self.scaling_factor,
            "scaling_source": self.scaling_source,
            "scaling_reason": self.scaling_reason,
            "required_runs": None if self.spec is None else self.spec.runs,
            "problems": list(self.problems),
            "notes": list(self.notes),
            "rcp": None if self.rcp is None else self.rcp.to_dict(),
            "seeds": None
            if self.seeds is None
            else {
                "passed": self.seeds.passed,
                "messages": list(self.seeds.messages),
            },
            "energy": None if self.energy is None else self.energy.as_dict(),
            "interval": self.interval.as_dict(),
            "stated_variance": self.stated_variance.as_dict(),
            "runs": [r.as_dict() for r in self.runs],
        }


@dataclass
class SuiteScore:
    suite: Suite
    ruleset: str
    compliance: ComplianceMode
    benchmarks: dict[str, BenchmarkScore]
    campaign: Path | None = None  # the gp2bm campaign scored, when it is one

    @property
    def missing(self) -> list[str]:
        return [b for b in self.suite.benchmarks if b not in self.benchmarks]

    @property
    def score(self) -> float | None:
        total = 0.0
        for name, spec in self.suite.benchmarks.items():
            result = self.benchmarks.get(name)
            minutes = result.minutes if result is not None and result.valid else None
            if minutes is None:
                return None
            total += spec.weight / minutes
        return total

    @property
    def score_interval(self) -> ScoreInterval | None:
        """The score's 95 % interval (``spread.SCORE_RULE``); None without a score."""
        if self.score is None:
            return None
        weights = {n: spec.weight for n, spec in self.suite.benchmarks.items()}
        return score_interval([(w, self.benchmarks[n].interval) for n, w in weights.items()])

    @property
    def valid(self) -> bool:
        """The score is computed: every benchmark of the suite is present and valid."""
        return self.score is not None

    def as_dict(self) -> dict:
        return {
            "suite": self.suite.name,
            "ruleset": self.ruleset,
            "compliance": self.compliance.value,
            "campaign": None if self.campaign is None else str(self.campaign),
            "formula": self.suite.formula_text(),
            "benchmarks": {name: b.as_dict() for name, b in self.benchmarks.items()},
            "missing": self.missing,
            "score": self.score,
            "score_interval": None
            if self.score_interval is None
            else self.score_interval.as_dict(),
        }


def score_run(
    log: RunLog,
    compliance_mode: ComplianceMode,
    ruleset: str,
    compliance: rules.CheckResult | None = None,
    observed_seconds: float | None = None,
) -> RunScore:
    """One run: failed or good, and why. ``compliance``: its checker verdict, when already
    known; ``observed_seconds``: gp2bm's own timing of the run (gp2bm campaigns only)."""
    reasons = []
    status = log.status or "no run_stop"
    if log.status != "success":
        reasons.append(f"run_stop status is '{log.status}'" if log.status else "no run_stop")
    reasons.extend(str(a) for a in log.errors if a.kind != "missing_run_stop")
    if compliance_mode != ComplianceMode.OFF:
        compliance = compliance or compliance_checker.check_compliance(log.path, ruleset)
        if compliance_mode == ComplianceMode.STRICT and not compliance.passed:
            reasons.extend(f"compliance: {m}" for m in compliance.messages)
    else:
        compliance = None
    mismatch = timing_mismatch(log.minutes, observed_seconds)
    if mismatch:
        reasons.append(mismatch)
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
        role=RunRole.FAILED if reasons else RunRole.COUNTED,
        compliance=compliance,
        log=log,
        notes=[str(a) for a in log.warnings],
        observed_seconds=observed_seconds,
    )


def score_benchmark(
    benchmark: str,
    folder: Path,
    logs: list[RunLog],
    spec: BenchmarkSpec | None,
    options: ScoringOptions,
    verdicts: Verdicts | None = None,
    observed: dict[Path, float | None] | None = None,
) -> BenchmarkScore:
    """Score one benchmark folder. ``verdicts``: the checkers' verdicts already known (from
    the parallel checks or the cache; the rest are checked here); ``observed``: gp2bm's own
    timing of each log's run, for a gp2bm campaign."""
    verdicts = verdicts or Verdicts()
    observed = observed or {}
    runs = [
        score_run(
            log,
            options.compliance,
            options.ruleset,
            verdicts.compliance.get(log.path),
            observed.get(log.path),
        )
        for log in logs
    ]
    result = BenchmarkScore(benchmark=benchmark, folder=folder, spec=spec, runs=runs)
    _olympic(result, spec)
    if options.compliance != ComplianceMode.OFF:
        _seeds(result, logs, options, verdicts)
    if options.rcp != RcpMode.OFF:
        _rcp(result, options, verdicts)
    _scaling(result, options)
    counted = [r.file for r in result.runs if r.counted] if result.mean is not None else []
    result.energy = benchmark_energy(folder, logs, counted, result.scaling_factor)
    return result


def _olympic(result: BenchmarkScore, spec: BenchmarkSpec | None) -> None:
    runs = result.runs
    max_failed = spec.max_failed_runs if spec else DEFAULT_MAX_FAILED
    failed = [r for r in runs if r.failed]
    good = [r for r in runs if not r.failed]
    if spec is not None and len(runs) != spec.runs:
        word = "fewer" if len(runs) < spec.runs else "more"
        result.problems.append(f"{len(runs)} runs, {word} than the {spec.runs} required")
    if len(failed) > max_failed:
        result.problems.append(
            f"{len(failed)} failed runs, at most {max_failed} allowed: no valid result"
        )
    # a run without a time has failed (score_run): every good run has one
    times = [r.minutes for r in good if r.minutes is not None]
    roles = olympic_roles(times, failed=len(failed), drop=OLYMPIC_DROP)
    if roles is not None:
        for run, role in zip(good, roles, strict=True):
            run.role = role
        result.mean = olympic_mean(times, failed=len(failed), drop=OLYMPIC_DROP)
        if result.mean is None:
            result.problems.append("no run left after the olympic drops")


def _seeds(
    result: BenchmarkScore, logs: list[RunLog], options: ScoringOptions, verdicts: Verdicts
) -> None:
    # A cut-off or garbled log is already a failed run; MLCommons' seed checker would
    # reject the whole folder over its parse error, so it sees only readable logs (and
    # not a log too large to check, which has failed its run already).
    readable = [
        log.path for log in logs if not any(a.kind in UNCHECKED_KINDS for a in log.anomalies)
    ]
    result.seeds = seed_checker.check_seeds(readable, options.ruleset, verdicts.seeds)
    if not result.seeds.passed:
        where = result.problems if options.compliance == ComplianceMode.STRICT else result.notes
        where.extend(f"seeds: {m}" for m in result.seeds.messages or ("fail",))


def _rcp(result: BenchmarkScore, options: ScoringOptions, verdicts: Verdicts) -> None:
    rcp = verdicts.rcp.get(result.folder) or rcp_checker.check_rcp(result.folder, options.ruleset)
    result.rcp = rcp
    if not rcp.passed:
        text = f"RCP check failed: {rcp.message}"
        if options.compliance == ComplianceMode.STRICT or options.rcp == RcpMode.FACTOR:
            result.problems.append(text)
        else:
            result.notes.append(text)


def _scaling(result: BenchmarkScore, options: ScoringOptions) -> None:
    scaling = rules.read_scaling(result.folder)
    rcp = result.rcp  # checked (``_rcp``) whenever options.rcp is not "off"
    if options.rcp == RcpMode.FACTOR and rcp is not None:
        result.scaling_factor = rcp.factor
        result.scaling_source = SCALING_RCP
        result.scaling_reason = rcp_reason(rcp)
        if scaling is not None and (
            rcp.factor is None or abs(scaling - rcp.factor) > 1e-9 * scaling
        ):
            result.notes.append(
                f"scaling.json says {scaling}, the RCPs give {rcp.factor}; using the RCPs"
            )
    elif scaling is not None:
        result.scaling_factor = scaling
        result.scaling_source = SCALING_JSON
        result.scaling_reason = "scaling.json beside the logs (the review's RCP factor)"


def rcp_reason(rcp: rules.RcpResult) -> str:
    """Why the RCP factor is what it is, in one line."""
    if rcp.factor is None:
        return f"RCP check failed ({rcp.message}): no normalisation factor, no official result"
    means = ""
    if rcp.submission_mean is not None and rcp.rcp_mean is not None:
        means = f" (runs: {rcp.submission_mean:.6g} on average, RCP mean: {rcp.rcp_mean:.6g})"
    if rcp.factor > 1:
        return (
            f"RCP normalisation ({rcp.message}): the runs converge faster than the RCP mean"
            f"{means} within the maximum speedup: factor RCP mean / theirs, as MLCommons' "
            "package checker writes it to scaling.json"
        )
    return f"RCP check passed ({rcp.message}): no faster than the RCP mean{means}: factor 1"
