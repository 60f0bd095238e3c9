"""Energy to train, as MLPerf Training measures it (training_policies
``power_measurement.adoc``) and MLCommons' result summarizer computes it.

A run's power logs lie beside its result log (``power/result_N/node_K.txt``, one per node,
and ``sw_K.txt`` for an interconnect's estimate). For each node, the readings between
``power_measurement_start`` and ``power_measurement_stop`` are summed, each reading times
the time since the previous one (the first counted from the start); that sum over the
measured span is the node's average power, multiplied by the log's ``conversion_eff`` and by
the run's time to train (``run_stop`` - ``run_start`` of the result log's own stamps). An
interconnect adds its estimated power times the time to train. The run's energy is the sum
over its nodes and interconnects, in joules.

A benchmark's energy is the mean over the same runs as its score's olympic mean (the
fastest and the slowest dropped, a failed run taking the slowest's place), times the same
scaling factor, as the summarizer does. Of runs of equal time, the first in run order is
the one dropped as the fastest (the summarizer takes them in the order its directory
listing gives, which no rule fixes: with such a tie its energy can be another run's).

What MLPerf asks of the readings that the summarizer does not check is said as findings:
fewer than 60 readings in the measured loop (the rule: extend the loop, as NVIDIA's configs
do with ``MLPERF_POWER_TRAIN_AFTER_RUN_STOP=1``), readings further apart than a second, a
measured loop that does not cover run_start to run_stop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gp2bm.campaign.layout import has_power, power_files
from gp2bm.results.runlog import Anomaly, RunLog, iter_records
from gp2bm.spec.power import MAX_INTERVAL_S, MIN_SAMPLES

J_PER_KWH = 3.6e6
# A reading late by less than this still counts as "once a second" (a sampler's jitter).
GAP_SLACK_S = 0.1

START = "power_measurement_start"
STOP = "power_measurement_stop"
READING = "power_reading"
EFFICIENCY = "conversion_eff"
INTERCONNECT = "interconnect_power_est"


@dataclass
class PowerLog:
    """One node's (or interconnect's) MLPerf power log, as read."""

    path: Path
    start_ms: int | None = None
    stop_ms: int | None = None
    readings: list[tuple[int, float]] = field(default_factory=list)  # (time_ms, watts)
    conversion_eff: float = 1.0
    interconnect_w: float | None = None
    source: str | None = None  # gp2bm's "source" metadata: what was read
    problems: list[str] = field(default_factory=list)

    def counted(self) -> list[tuple[int, float]]:
        """The readings of the measured loop, in time order (the summarizer's)."""
        if self.start_ms is None:
            return []
        stop = self.stop_ms if self.stop_ms is not None else max(t for t, _ in self.readings)
        return sorted((t, w) for t, w in self.readings if self.start_ms <= t <= stop)


def _value(value: object) -> float | None:
    if isinstance(value, dict):
        value = value.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def read_power_log(path: Path) -> PowerLog:
    """A power log's lines (any line gp2bm cannot read is a problem of the log)."""
    log = PowerLog(path)
    for rec in iter_records(path):
        if isinstance(rec, Anomaly):
            log.problems.append(f"line {rec.lineno}: {rec.message}")
            continue
        value = _value(rec.value)
        if rec.key == START:
            log.start_ms = rec.time_ms
            log.source = log.source or rec.metadata.get("source")
        elif rec.key == STOP:
            log.stop_ms = rec.time_ms
        elif rec.key == READING and value is not None:
            log.readings.append((rec.time_ms, value))
        elif rec.key == EFFICIENCY and value is not None:
            log.conversion_eff = value
        elif rec.key == INTERCONNECT and value is not None:
            log.interconnect_w = value
    return log


def node_joules(log: PowerLog, time_to_train_ms: float) -> float | None:
    """A node's energy over the run's time to train (the summarizer's ``_compute_power_node``)."""
    readings = log.counted()
    if log.start_ms is None or not readings:
        return None
    stop = log.stop_ms if log.stop_ms is not None else readings[-1][0]
    if stop <= log.start_ms:
        return None
    total, previous = 0.0, log.start_ms
    for t, watts in readings:
        total += watts * (t - previous)
        previous = t
    return log.conversion_eff * total * time_to_train_ms / (stop - log.start_ms) / 1000


@dataclass
class RunEnergy:
    """One run's energy and how it was measured."""

    result: str  # the result log's file name
    joules: float | None
    nodes: int = 0
    switches: int = 0
    samples: int = 0  # readings in the measured loop (the fewest of any node)
    average_w: float | None = None  # the nodes' power over the measured loop, summed
    measured_s: float | None = None  # the measured loop's length
    max_gap_s: float | None = None
    source: str | None = None
    findings: list[str] = field(default_factory=list)

    @property
    def kwh(self) -> float | None:
        return None if self.joules is None else self.joules / J_PER_KWH

    def as_dict(self) -> dict:
        return {
            "result": self.result,
            "joules": self.joules,
            "kwh": self.kwh,
            "nodes": self.nodes,
            "switches": self.switches,
            "samples": self.samples,
            "average_w": self.average_w,
            "measured_s": self.measured_s,
            "max_gap_s": self.max_gap_s,
            "source": self.source,
            "findings": list(self.findings),
        }


def _loop_findings(log: PowerLog, run: RunLog) -> list[str]:
    """What MLPerf's rules ask of one node's measured loop and it does not give."""
    found = []
    readings = log.counted()
    name = log.path.name
    if len(readings) < MIN_SAMPLES:
        found.append(
            f"{name}: {len(readings)} readings in the measured loop, fewer than MLPerf's "
            f"{MIN_SAMPLES}: extend the measured loop (train on after run_stop, as "
            "MLPERF_POWER_TRAIN_AFTER_RUN_STOP=1 does in NVIDIA's configs)"
        )
    gap = _max_gap(log)
    if gap is not None and gap > MAX_INTERVAL_S + GAP_SLACK_S:
        found.append(
            f"{name}: readings up to {gap:.2f} s apart, MLPerf asks for at least one a second"
        )
    if log.start_ms is not None and run.start_ms is not None and log.start_ms > run.start_ms:
        found.append(f"{name}: the measured loop starts after run_start")
    stop = log.stop_ms if log.stop_ms is not None else (readings[-1][0] if readings else None)
    if stop is not None and run.stop_ms is not None and stop < run.stop_ms:
        found.append(f"{name}: the measured loop ends before run_stop")
    return found + [f"{name}: {p}" for p in log.problems]


def _max_gap(log: PowerLog) -> float | None:
    times = [log.start_ms] + [t for t, _ in log.counted()] if log.start_ms is not None else []
    gaps = [(b - a) / 1000 for a, b in zip(times, times[1:], strict=False)]
    return max(gaps) if gaps else None


def _summed(logs: list[PowerLog]) -> tuple[float | None, float | None, float | None]:
    """The nodes' average power summed, the measured loop's length, the largest gap."""
    averages, spans, gaps = [], [], []
    for log in logs:
        readings = log.counted()
        if log.start_ms is None or not readings:
            return None, None, None
        stop = log.stop_ms if log.stop_ms is not None else readings[-1][0]
        joules = node_joules(log, stop - log.start_ms)
        if joules is None:
            return None, None, None
        span = (stop - log.start_ms) / 1000
        averages.append(joules / span / log.conversion_eff)
        spans.append(span)
        gaps.append(_max_gap(log) or 0.0)
    return sum(averages), max(spans), max(gaps)


def run_energy(benchmark_folder: Path, run: RunLog) -> RunEnergy | None:
    """The energy of one result log's run, from its power logs; None without any."""
    nodes, switches = power_files(benchmark_folder, run.path.stem)
    if not nodes and not switches:
        return None
    energy = RunEnergy(run.path.name, None, len(nodes), len(switches))
    if run.start_ms is None or run.stop_ms is None:
        energy.findings.append("the result log has no run_start and run_stop: no energy")
        return energy
    ttt = run.stop_ms - run.start_ms
    node_logs = [read_power_log(p) for p in nodes]
    parts = [node_joules(log, ttt) for log in node_logs]
    for path in switches:
        sw = read_power_log(path)
        est = sw.interconnect_w
        parts.append(None if est is None else sw.conversion_eff * est * ttt / 1000)
    for log in node_logs:
        energy.findings += _loop_findings(log, run)
    energy.samples = min((len(log.counted()) for log in node_logs), default=0)
    energy.average_w, energy.measured_s, energy.max_gap_s = _summed(node_logs)
    energy.source = next((log.source for log in node_logs if log.source), None)
    if any(p is None for p in parts) or not node_logs:
        energy.findings.append("a power log without readings in its measured loop: no energy")
        return energy
    energy.joules = sum(p for p in parts if p is not None)
    return energy


@dataclass
class BenchmarkEnergy:
    """A benchmark's energy: the mean over the score's counted runs, scaled as its score."""

    joules: float | None
    runs: list[RunEnergy]
    counted: list[str]
    scaling_factor: float | None
    reason: str | None = None  # why there is no figure

    @property
    def kwh(self) -> float | None:
        return None if self.joules is None else self.joules / J_PER_KWH

    @property
    def findings(self) -> list[str]:
        return [f"{r.result}: {f}" for r in self.runs for f in r.findings]

    def as_dict(self) -> dict:
        return {
            "joules": self.joules,
            "kwh": self.kwh,
            "counted": list(self.counted),
            "scaling_factor": self.scaling_factor,
            "reason": self.reason,
            "source": next((r.source for r in self.runs if r.source), None),
            "runs": [r.as_dict() for r in self.runs],
        }


def benchmark_energy(
    folder: Path,
    logs: Sequence[RunLog],
    counted: Sequence[str],
    scaling_factor: float | None,
) -> BenchmarkEnergy | None:
    """The energy of a benchmark folder's runs; ``counted``: the file names of the runs its
    olympic mean counts. None when the folder holds no power logs."""
    if not has_power(folder):
        return None
    runs = [e for log in logs if (e := run_energy(folder, log)) is not None]
    by_name = {r.result: r for r in runs}
    result = BenchmarkEnergy(None, runs, list(counted), scaling_factor)
    missing = [name for name in counted if by_name.get(name) is None]
    unmeasured = [n for n in counted if n in by_name and by_name[n].joules is None]
    if not counted:
        result.reason = "no counted run: no energy"
    elif missing or unmeasured:
        result.reason = f"no energy for counted run(s) {', '.join(missing + unmeasured)}"
    elif scaling_factor is None:
        result.reason = "no scaling factor (the RCP check failed): no energy"
    else:
        total = sum(by_name[name].joules or 0.0 for name in counted)
        result.joules = total / len(counted) * scaling_factor
    return result
