"""Whether a campaign can still pass, from the runs scored so far and its suite's rules.

``project`` is pure: from the campaign's score so far (every finished log scored as the
campaign will be) and the node time each run took, it says per benchmark what the rules
still allow. The rules are MLCommons' (its summarizer's and checkers', as
``results.scoring`` applies them):

* **failed runs**: the olympic rule lets a failed run take the place of the dropped slowest,
  so at most ``olympic.allowed_failures`` of a benchmark's runs may fail (1, and never more
  than the suite's ``max_failed_runs``). A run that ended is never replaced (run-all redoes
  only interrupted runs), so more failed runs than that: the benchmark can have no result
  and the campaign **cannot pass**; exactly that many with runs still to do: **at risk**
  (one more decides it). In strict compliance a run that fails MLCommons' compliance
  checker is a failed run, and counts so; a run that did not converge is a failed run.
* **more runs** than the suite asks for: cannot pass (the set is refused).
* **seeds** (strict compliance): MLCommons' seed checker failing on the runs so far: cannot
  pass (a seed missing or used twice stays so).
* **RCP** (a suite that checks it): MLCommons' RCP checker on the runs so far, their epochs
  to converge (olympic mean) against the reference convergence points. On the whole set a
  failure is final: cannot pass; on fewer runs (at least ``RCP_MIN_RUNS``: with fewer the
  checker's drops leave nothing) it is at risk: the runs left would have to converge in
  more epochs.

The campaign cannot pass when a benchmark cannot, is at risk when one is, else can pass.
The node time of the runs left (what a campaign that cannot pass would waste): each
benchmark's runs left times the mean node time of its runs done (gp2bm's own clock, from
the run records), else of every run done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from gp2bm.files.plaintext import printable
from gp2bm.results.olympic import allowed_failures
from gp2bm.results.scoring import SCALING_RCP, BenchmarkScore, RunScore, SuiteScore
from gp2bm.spec.suite import BenchmarkSpec, Suite

RCP_MIN_RUNS = 3
REASON_CHARS = 120


class Outlook(StrEnum):
    CAN_PASS = "can pass"
    AT_RISK = "at risk"
    CANNOT_PASS = "cannot pass"


SEVERITY = {Outlook.CAN_PASS: 0, Outlook.AT_RISK: 1, Outlook.CANNOT_PASS: 2}


def node_time(seconds: float) -> str:
    """Node time as a person plans it: ``45 s``, ``12 min``, ``3.4 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass(frozen=True)
class BenchmarkOutlook:
    """What the rules still allow one benchmark, and why."""

    benchmark: str
    outlook: Outlook
    required: int
    done: int
    allowed: int  # failed runs the rules allow it
    failed: tuple[str, ...] = ()  # each failed run: "result_1 (why)"
    reasons: tuple[str, ...] = ()  # why it is at risk or cannot pass

    @property
    def left(self) -> int:
        return max(self.required - self.done, 0)

    def summary(self) -> str:
        """``resnet 3/5 runs, 1 failed of 1 allowed``."""
        return (
            f"{self.benchmark} {self.done}/{self.required} runs, {len(self.failed)} failed "
            f"of {self.allowed} allowed"
        )

    def as_dict(self) -> dict:
        return {
            "outlook": self.outlook.value,
            "required": self.required,
            "done": self.done,
            "left": self.left,
            "allowed_failures": self.allowed,
            "failed": list(self.failed),
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class Projection:
    """Whether the campaign can still pass, and the node time of its runs left."""

    outlook: Outlook
    benchmarks: dict[str, BenchmarkOutlook]
    runs_left: int
    seconds_left: float | None
    measured: int  # the runs done whose node time the estimate is made of
    rules: tuple[str, ...] = field(default=())  # what the rules allow each benchmark

    @property
    def reasons(self) -> list[str]:
        return [r for b in self.benchmarks.values() for r in b.reasons]

    def time_left(self) -> str:
        """``the 12 runs left would waste about 40 min of node time (estimated from the 3
        runs done)``."""
        if not self.runs_left:
            return "no run left"
        runs = f"the {self.runs_left} run{'s' if self.runs_left != 1 else ''} left"
        verb = "would waste" if self.outlook is Outlook.CANNOT_PASS else "take"
        if self.seconds_left is None:
            return f"{runs} {verb} node time not known yet (no run done)"
        return (
            f"{runs} {verb} about {node_time(self.seconds_left)} of node time (estimated from "
            f"the {self.measured} run{'s' if self.measured != 1 else ''} done)"
        )

    def line(self) -> str:
        """The projection in one line, as run-all and status print it."""
        if self.outlook is Outlook.CAN_PASS:
            what = "; ".join(b.summary() for b in self.benchmarks.values())
            return f"projection: can pass ({what}); {self.time_left()}"
        return f"projection: {self.outlook.value}: {'; '.join(self.reasons)}; {self.time_left()}"

    def as_dict(self) -> dict:
        return {
            "outlook": self.outlook.value,
            "line": self.line(),
            "benchmarks": {n: b.as_dict() for n, b in self.benchmarks.items()},
            "runs_left": self.runs_left,
            "node_seconds_left": self.seconds_left,
            "estimated_from_runs": self.measured,
            "rules": list(self.rules),
        }


def _failed_run(run: RunScore, target: float) -> str:
    """``result_1 did not converge (best eval_accuracy 0.6519, target 0.759)``, else
    ``result_3 failed: <its first reason>``."""
    name = run.file.removesuffix(".txt")
    best = run.log.best_accuracy if run.log is not None else None
    if best is not None and best < target and run.status != "success":
        return f"{name} did not converge (best eval_accuracy {best:.4f}, target {target:g})"
    why = run.reasons[0] if run.reasons else "no reason given"
    return f"{name} failed: {printable(why, REASON_CHARS)}"


def allowance(spec: BenchmarkSpec) -> str:
    """What the rules allow a benchmark, in one phrase."""
    n = allowed_failures(spec.max_failed_runs)
    runs = f"{n} failed run{'s' if n != 1 else ''}"
    return (
        f"{spec.name}: {spec.runs} runs, {runs} allowed (MLCommons' olympic rule: a failed "
        "run takes the place of the dropped slowest)"
    )


def _failures(spec: BenchmarkSpec, failed: list[str], left: int) -> tuple[Outlook, str | None]:
    allowed = allowed_failures(spec.max_failed_runs)
    runs = f"{len(failed)} run{'s' if len(failed) != 1 else ''} failed ({'; '.join(failed)})"
    rule = f"the olympic rule allows {allowed} of its {spec.runs}"
    if len(failed) > allowed:
        return Outlook.CANNOT_PASS, (
            f"{spec.name}: {runs}; {rule} (a failed run takes the dropped slowest's place and "
            f"is never replaced): {spec.name} can have no result, so the campaign cannot score"
        )
    if failed and len(failed) == allowed and left:
        return Outlook.AT_RISK, (
            f"{spec.name}: {runs}; {rule}: one more failed {spec.name} run and the campaign "
            "cannot score"
        )
    return Outlook.CAN_PASS, None


def _checks(b: BenchmarkScore, spec: BenchmarkSpec, strict: bool) -> list[tuple[Outlook, str]]:
    """What the seed and RCP checks of the runs so far, and the run count, decide."""
    found: list[tuple[Outlook, str]] = []
    if len(b.runs) > spec.runs:
        more = f"{spec.name}: {len(b.runs)} runs, more than the {spec.runs} required"
        found.append((Outlook.CANNOT_PASS, more))
    if strict and b.seeds is not None and not b.seeds.passed:
        why = printable("; ".join(b.seeds.messages) or "fail", REASON_CHARS)
        found.append((Outlook.CANNOT_PASS, f"{spec.name}: seeds: {why} (no run can undo it)"))
    rcp = b.rcp
    blocking = strict or b.scaling_source == SCALING_RCP
    if rcp is not None and not rcp.passed and blocking and len(b.runs) >= RCP_MIN_RUNS:
        why = printable(rcp.message, REASON_CHARS)
        if len(b.runs) >= spec.runs:
            found.append((Outlook.CANNOT_PASS, f"{spec.name}: RCP check of its runs fails: {why}"))
        else:
            risk = (
                f"{spec.name}: RCP check of the {len(b.runs)} runs so far fails ({why}): the "
                f"{spec.runs - len(b.runs)} runs left would have to converge in more epochs"
            )
            found.append((Outlook.AT_RISK, risk))
    return found


def benchmark_outlook(
    b: BenchmarkScore | None, spec: BenchmarkSpec, strict: bool
) -> BenchmarkOutlook:
    """What the rules still allow one benchmark, from its runs so far (None: none yet)."""
    allowed = allowed_failures(spec.max_failed_runs)
    if b is None:
        return BenchmarkOutlook(spec.name, Outlook.CAN_PASS, spec.runs, 0, allowed)
    failed = [_failed_run(r, spec.target) for r in b.runs if r.failed]
    left = max(spec.runs - len(b.runs), 0)
    found: list[tuple[Outlook, str]] = []
    outlook, reason = _failures(spec, failed, left)
    if reason is not None:
        found.append((outlook, reason))
    found += _checks(b, spec, strict)
    worst = max((o for o, _ in found), key=SEVERITY.__getitem__, default=Outlook.CAN_PASS)
    reasons = tuple(r for _, r in found)
    done = len(b.runs)
    return BenchmarkOutlook(spec.name, worst, spec.runs, done, allowed, tuple(failed), reasons)


def _seconds_left(
    outlooks: Mapping[str, BenchmarkOutlook], took: Mapping[str, Sequence[float]]
) -> tuple[float | None, int]:
    every = [s for seconds in took.values() for s in seconds]
    total = 0.0
    for name, b in outlooks.items():
        seconds = list(took.get(name) or []) or every
        if b.left and not seconds:
            return None, len(every)
        if b.left:
            total += b.left * sum(seconds) / len(seconds)
    return total, len(every)


def project(
    suite: Suite, score: SuiteScore | None, took: Mapping[str, Sequence[float]]
) -> Projection:
    """The projection of a campaign of ``suite`` from its score so far (None: no run
    finished yet) and the node seconds each finished run of each benchmark took."""
    benchmarks = {} if score is None else score.benchmarks
    strict = (suite.compliance if score is None else score.compliance) == "strict"
    outlooks = {
        name: benchmark_outlook(benchmarks.get(name), spec, strict)
        for name, spec in suite.benchmarks.items()
    }
    worst = max(
        (b.outlook for b in outlooks.values()), key=SEVERITY.__getitem__, default=Outlook.CAN_PASS
    )
    seconds, measured = _seconds_left(outlooks, took)
    return Projection(
        outlook=worst,
        benchmarks=outlooks,
        runs_left=sum(b.left for b in outlooks.values()),
        seconds_left=seconds,
        measured=measured,
        rules=tuple(allowance(spec) for spec in suite.benchmarks.values()),
    )
