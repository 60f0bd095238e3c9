"""The timeline of each log gp2bm ran, and runs that are copies of one another.

MLCommons' time to train is run_stop minus run_start, whatever lies between; a log whose
stamps were moved keeps its arithmetic. So verify reads each log's events in order and
holds them to what a run is (``docs/VERIFY.md``, "Timeline"):

* one ``run_start`` and one ``run_stop``, the start before the stop;
* no training or evaluation event before ``run_start`` (the clock started before the work);
* the first evaluation that reaches the quality target inside [run_start, run_stop], and
  none after run_stop counted (the run ended when it had reached the target, not before);
* gp2bm's own lines around the run: its run line (written before the workload starts)
  before run_start, its closing line (written when the process has ended) after run_stop;
* the time to train within ``consistency_tolerance`` of gp2bm's own monotonic timing of
  the run (``observed_seconds`` of its record) and of the process (its ``seconds``).

The log's own events are held to their order strictly, by line and by stamp: in the 5,127
ResNet and BERT result logs MLCommons published from v0.7 to v5.0, no run_start line comes
after the first training event's, no target-reaching evaluation after run_stop's, and no
run_start is stamped later than the first training event; only 4 logs of one v3.1 system
stamp the target-reaching evaluation after run_stop (logs of two processes interleaved,
which no gp2bm run writes). gp2bm's own lines are written by another process, on another
node for a run that spans nodes: rules between them and the workload's stamps allow
``ORDER_SLACK_MS`` of clock difference. Two runs with the same evaluation curve, or the
same run_start stamp, are copies. These checks apply to gp2bm's own runs only (a published
log MLCommons accepted is never held to them).
"""

from __future__ import annotations

from collections.abc import Iterable

from gp2bm.results.runlog import RunLog, Stamp

# How much earlier than run_start (later than run_stop) the log's own events may be stamped:
# none (the published logs above).
EVENT_SLACK_MS = 0
# gp2bm's lines and the workload's stamps come from two processes (two nodes for a run that
# spans nodes): their clocks may differ by this much.
ORDER_SLACK_MS = 1000
# gp2bm's monotonic timing and the log's stamps agree within this much (seconds), or this
# share of the time to train, whichever is larger.
CONSISTENCY_FLOOR_S = 1.0
CONSISTENCY_SHARE = 0.01


def consistency_tolerance(seconds: float) -> float:
    """How far (seconds) two timings of one run may differ: 1 s, or 1 % of it."""
    return max(CONSISTENCY_FLOOR_S, CONSISTENCY_SHARE * abs(seconds))


def curve(log: RunLog) -> tuple:
    """The evaluation curve: (epoch, accuracy) of every evaluation, in order."""
    return tuple((e.epoch_num, e.samples_count, round(e.accuracy, 12)) for e in log.evals)


def reached(log: RunLog, target: float) -> Stamp | None:
    """The first evaluation at or above ``target``."""
    first = next((e for e in log.evals if e.accuracy >= target), None)
    return None if first is None else Stamp("eval_accuracy", first.time_ms, first.lineno)


def _at(where: str, stamp: Stamp) -> str:
    return f"{where}: line {stamp.lineno}"


def order_findings(line: RunLog, where: str, target: float) -> list[str]:
    """The rules of one log's own order (file, line, rule in each)."""
    found = [
        f"{where}: line {a.lineno}: a second {a.kind.removeprefix('duplicate_')} (rule: one "
        f"{a.kind.removeprefix('duplicate_')})"
        for a in line.anomalies
        if a.kind in ("duplicate_run_start", "duplicate_run_stop")
    ]
    found += repeated_evaluations(line, where)
    if line.start is None or line.stop is None:
        return found
    start, stop = line.start, line.stop
    if stop.time_ms < start.time_ms or stop.lineno < start.lineno:
        found.append(f"{_at(where, stop)}: run_stop before run_start (rule: start, then stop)")
    first = line.first_training
    if first is not None and (
        first.time_ms < start.time_ms - EVENT_SLACK_MS or first.lineno < start.lineno
    ):
        found.append(
            f"{_at(where, start)}: run_start comes after the first training event ({first.key}, "
            f"line {first.lineno}, stamped {start.time_ms - first.time_ms} ms before it) (rule: "
            "the clock starts before the training)"
        )
    found += _target_findings(line, where, target, start, stop)
    return found


def repeated_evaluations(line: RunLog, where: str) -> list[str]:
    """Two evaluations of one epoch (the same epoch and sample count): a run evaluates once
    per point of its schedule; a second line there is written in, and may be the one that
    reaches the target."""
    first: dict[tuple, int] = {}
    found = []
    for e in line.evals:
        if e.epoch_num is None and e.samples_count is None:
            continue
        point = (e.epoch_num, e.samples_count)
        if point in first:
            found.append(
                f"{where}: line {e.lineno}: a second evaluation of epoch {e.epoch_num}"
                + ("" if e.samples_count is None else f" (samples {e.samples_count})")
                + f", after line {first[point]} (rule: one evaluation per epoch)"
            )
        else:
            first[point] = e.lineno
    return found


def _target_findings(
    line: RunLog, where: str, target: float, start: Stamp, stop: Stamp
) -> list[str]:
    at = reached(line, target)
    if at is None:
        return []  # a run that never reached the target is the scoring's failed run
    if at.time_ms > stop.time_ms + EVENT_SLACK_MS or at.lineno > stop.lineno:
        return [
            f"{_at(where, at)}: the first evaluation at the target {target} comes after "
            f"run_stop (line {stop.lineno}, stamped {at.time_ms - stop.time_ms} ms before it) "
            "(rule: the target is reached inside the timed window; nothing after run_stop "
            "counts)"
        ]
    if at.time_ms < start.time_ms - EVENT_SLACK_MS or at.lineno < start.lineno:
        return [
            f"{_at(where, at)}: the evaluation at the target comes before run_start "
            f"(line {start.lineno}) (rule: the target is reached inside the timed window)"
        ]
    return []


def gp2bm_line_findings(line: RunLog, where: str) -> list[str]:
    """gp2bm's own lines around the run: its run line before run_start, its closing line
    after run_stop."""
    found = []
    if line.trace_at is not None and line.start is not None:
        start = line.start
        if line.trace_at.time_ms > start.time_ms + ORDER_SLACK_MS:
            found.append(
                f"{_at(where, start)}: run_start stamped before gp2bm started the run (its run "
                f"line, line {line.trace_at.lineno}) (rule: the run starts after gp2bm starts "
                "it)"
            )
    if line.end_at is not None and line.stop is not None:
        stop = line.stop
        if stop.time_ms > line.end_at.time_ms + ORDER_SLACK_MS:
            found.append(
                f"{_at(where, stop)}: run_stop stamped after gp2bm saw the run end (its closing "
                f"line, line {line.end_at.lineno}) (rule: the run stops before its process "
                "ends)"
            )
    return found


def timing_findings(
    line: RunLog, where: str, observed: float | None, process_seconds: float | None
) -> list[str]:
    """The time to train against gp2bm's own monotonic timings of the run (its record):
    from the run_start line to the run_stop line, and of the whole process."""
    if line.start_ms is None or line.stop_ms is None:
        return []
    ttt = (line.stop_ms - line.start_ms) / 1000
    tolerance = consistency_tolerance(ttt)
    found = []
    if observed is not None and abs(ttt - observed) > tolerance:
        found.append(
            f"{where}: time to train {ttt:.3f} s, but gp2bm timed {observed:.3f} s from its "
            f"run_start line to its run_stop line (rule: within {tolerance:.3f} s)"
        )
    if process_seconds is not None and ttt > process_seconds + tolerance:
        found.append(
            f"{where}: time to train {ttt:.3f} s, longer than the {process_seconds:.3f} s the "
            f"run's process took (rule: within {tolerance:.3f} s)"
        )
    return found


def copies(lines: Iterable[tuple[str, RunLog]]) -> list[str]:
    """Runs that are copies of one another: the same evaluation curve, or the same
    run_start stamp."""
    by_curve: dict[tuple, str] = {}
    by_start: dict[int, str] = {}
    found = []
    for where, line in lines:
        points = curve(line)
        if len(points) >= 2 and points in by_curve:
            found.append(
                f"{where}: the same evaluation curve as {by_curve[points]} ({len(points)} "
                "evaluations) (rule: no two runs are copies)"
            )
        by_curve.setdefault(points, where)
        if line.start_ms is not None:
            if line.start_ms in by_start:
                found.append(
                    f"{where}: run_start at the same millisecond as {by_start[line.start_ms]} "
                    "(rule: no two runs are copies)"
                )
            by_start.setdefault(line.start_ms, where)
    return found
