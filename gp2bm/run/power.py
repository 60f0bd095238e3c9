"""Node power while a run trains: sampled on the host, written as MLPerf's power logs.

``PowerSampler`` reads the campaign's power source (``node.power``) on a fixed grid (every
``interval_s``, 1 s or less), from just before the run starts until it has ended, in a
thread of its own. Each reading is stamped on the host's clock when it arrives (the clock
of the run's MLLOG lines) and written at once to ``records/<bench>/power_N.csv`` beside the
source's own clock, the request's latency and any error. A source that cannot be opened,
stops answering or answers late never harms the run: each becomes a finding in the run
record (``telemetry.power``).

When the run has ended and its log is final, ``write_power_logs`` cuts the measured loop
out of the readings: from the last reading at or before the log's ``run_start`` to the
first at or after its ``run_stop`` (to the last reading when the run trains on after
run_stop, ``MLPERF_POWER_TRAIN_AFTER_RUN_STOP=1`` in its environment), and writes it as
MLPerf's ``power/result_N/node_0.txt`` (``power_measurement_start``, ``conversion_eff``,
the ``power_reading`` lines, ``power_measurement_stop``) with ``sw_0.txt`` for an
interconnect estimate; NVML's GPU power goes to ``records/<bench>/gpu_power_N.txt`` instead,
never into the submission tree. The run's energy (``results.energy``) and every finding go
into the record's ``power``.
"""

from __future__ import annotations

import csv
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gp2bm.campaign.layout import CampaignFiles, CampaignLayout
from gp2bm.campaign.record import RunRecord
from gp2bm.errors import InputError, PowerSourceError
from gp2bm.files.jsonfile import read_json, write_json_atomic
from gp2bm.files.plaintext import printable
from gp2bm.node.power import open_power_source
from gp2bm.node.powerreading import PowerSource
from gp2bm.results.energy import (
    EFFICIENCY,
    INTERCONNECT,
    READING,
    START,
    STOP,
    node_joules,
    read_power_log,
    run_energy,
)
from gp2bm.results.runlog import parse_run_log
from gp2bm.run.mllog import mllog_line
from gp2bm.spec.power import MAX_INTERVAL_S, PowerSettings, SuitePower

COLUMNS = ("time_ms", "watts", "source_time_ms", "latency_ms", "error")
# A BMC clock further than this from the host's is a finding (Redfish's Date: whole seconds).
SKEW_LIMIT_S = 2.0
# Failed readings in a row, at the end, that say the source stopped answering.
STOPPED_AFTER = 3
EXTEND_ENV = "MLPERF_POWER_TRAIN_AFTER_RUN_STOP"


@dataclass
class _Tally:
    readings: int = 0
    failures: int = 0
    failing_since_ms: int | None = None  # the first of the failures in a row, now
    first_error: str | None = None
    last_ok_ms: int | None = None
    skews: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


class PowerSampler:
    """Reads one power source every ``settings.interval_s`` into ``path`` until ``stop``."""

    def __init__(
        self,
        settings: PowerSettings,
        path: Path,
        opener: Callable[[PowerSettings], PowerSource] = open_power_source,
    ):
        self.settings = settings
        self.path = Path(path)
        self._opener = opener
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="gp2bm-power")
        self._tally = _Tally()
        self.label: str | None = None
        self.error: str | None = None
        self._result: dict | None = None

    def start(self) -> PowerSampler:
        self._t0 = time.monotonic()
        try:
            self._thread.start()
        except RuntimeError as exc:
            self.error = f"cannot start the power sampler: {exc}"
        return self

    def stop(self) -> dict:
        """Stop (idempotent) and return the summary for the run record."""
        if self._result is None:
            self._stop.set()
            if self._thread.is_alive():
                self._thread.join(timeout=self.settings.interval_s + self.settings.timeout_s + 5)
            self._result = self.summary()
        return self._result

    def _run(self) -> None:
        source = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(COLUMNS)
                fh.flush()
                source = self._open()
                if source is not None:
                    self._loop(source, writer, fh)
        except Exception as exc:  # noqa: BLE001 - the sampler must never fail the run
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            if source is not None:
                source.close()

    def _open(self) -> PowerSource | None:
        try:
            source = self._opener(self.settings)
        except PowerSourceError as exc:
            self.error = f"the power source could not be opened: {printable(str(exc), 300)}"
            return None
        self.label = source.label
        return source

    def _loop(self, source: PowerSource, writer, fh) -> None:
        k, interval = 0, self.settings.interval_s
        while True:
            self._sample(source, writer)
            fh.flush()
            if self._stop.is_set():
                return
            k += 1
            delay = self._t0 + k * interval - time.monotonic()
            if delay < 0:  # a slow reading: the grid goes on, the missed slots are skipped
                k += int(-delay // interval) + 1
                delay = self._t0 + k * interval - time.monotonic()
            self._stop.wait(max(0.0, delay))

    def _sample(self, source: PowerSource, writer) -> None:
        asked = time.monotonic()
        try:
            reading = source.read()
            error = None
        except PowerSourceError as exc:
            reading, error = None, printable(str(exc), 200)
        now_ms = int(time.time() * 1000)
        latency = (time.monotonic() - asked) * 1000
        tally = self._tally
        if reading is None:
            tally.failures += 1
            tally.first_error = tally.first_error or error
            tally.failing_since_ms = tally.failing_since_ms or now_ms
            writer.writerow([now_ms, "", "", f"{latency:.1f}", error])
            return
        tally.readings += 1
        tally.failing_since_ms = None
        tally.last_ok_ms = now_ms
        tally.latencies.append(latency)
        source_ms = None if reading.source_time is None else int(reading.source_time * 1000)
        if source_ms is not None:
            tally.skews.append((source_ms - now_ms) / 1000)
        writer.writerow([now_ms, reading.watts, source_ms or "", f"{latency:.1f}", ""])

    def summary(self) -> dict:
        tally = self._tally
        skew = statistics.median(tally.skews) if tally.skews else None
        return {
            "file": self.path.name,
            "settings": self.settings.as_dict(),
            "source": self.label or self.settings.label,
            "node_level": self.settings.node_level,
            "interval_s": self.settings.interval_s,
            "readings": tally.readings,
            "failures": tally.failures,
            "first_error": tally.first_error,
            "median_latency_ms": round(statistics.median(tally.latencies), 3)
            if tally.latencies
            else None,
            "clock_skew_s": None if skew is None else round(skew, 3),
            "error": self.error,
            "findings": self.findings(skew),
        }

    def findings(self, skew: float | None) -> list[str]:
        """What went wrong with the sampling itself (the run is not harmed by any)."""
        tally, found = self._tally, []
        if self.error:
            found.append(self.error)
        if self.settings.interval_s > MAX_INTERVAL_S:
            found.append(
                f"sampled every {self.settings.interval_s:g} s: MLPerf asks for at least one "
                "reading a second"
            )
        if tally.failing_since_ms is not None and tally.failures >= STOPPED_AFTER:
            found.append(
                f"the power source stopped answering {_clock(tally.failing_since_ms)} "
                f"({tally.failures} failed readings; first: {tally.first_error})"
            )
        elif tally.failures:
            found.append(f"{tally.failures} readings failed (first: {tally.first_error})")
        if skew is not None and abs(skew) > SKEW_LIMIT_S:
            side = "ahead of" if skew > 0 else "behind"
            found.append(
                f"the power source's clock is {abs(skew):.1f} s {side} the host's: readings "
                "are stamped on the host's clock, the run's MLLOG clock"
            )
        return found


def _clock(ms: int) -> str:
    return "at " + time.strftime("%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d} UTC"


def start_power(settings: PowerSettings | None, path: Path) -> PowerSampler | None:
    """A started sampler for the campaign's power source (None: the campaign has none)."""
    return None if settings is None else PowerSampler(settings, path).start()


# ---------------------------------------------------------------------------- the power logs


def _readings(path: Path) -> list[tuple[int, float]]:
    """The readings the sampler took (time_ms, watts), failed ones left out."""
    if not path.is_file():
        return []
    found = []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            try:
                found.append((int(row["time_ms"]), float(row["watts"])))
            except (KeyError, TypeError, ValueError):
                continue
    return sorted(found)


def measured_loop(
    readings: list[tuple[int, float]], start_ms: int, stop_ms: int, extended: bool
) -> list[tuple[int, float]]:
    """The readings of the measured loop: from the last at or before run_start to the first
    at or after run_stop (the last of all when the run trained on after run_stop)."""
    before = [i for i, (t, _) in enumerate(readings) if t <= start_ms]
    first = before[-1] if before else 0
    after = [i for i, (t, _) in enumerate(readings) if t >= stop_ms]
    last = len(readings) - 1 if extended or not after else after[0]
    return readings[first : last + 1]


def _lines(
    loop: list[tuple[int, float]], settings: PowerSettings, label: str, node: str
) -> list[bytes]:
    """MLPerf's power log of one node: start, conversion efficiency, readings, stop."""
    meta = {"host": node, "source": label}
    start, stop = loop[0][0], loop[-1][0]
    eff = settings.conversion_eff if settings.conversion_eff is not None else 1.0
    lines = [
        mllog_line(START, None, meta, start, "INTERVAL_START"),
        mllog_line(EFFICIENCY, eff, {"host": node, "measurement_type": settings.measured}, start),
    ]
    lines += [mllog_line(READING, watts, {"host": node, "unit": "W"}, t) for t, watts in loop]
    lines.append(mllog_line(STOP, None, {"host": node}, stop, "INTERVAL_END"))
    return lines


def _write(path: Path, lines: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(b"".join(lines))
    partial.replace(path)


def write_power_logs(
    layout: CampaignLayout, bench: str, n: int, record: RunRecord, env: dict[str, str]
) -> dict | None:
    """After a run whose log is final: its measured loop as MLPerf's power logs, its energy
    and the findings (the record's ``power``); None when the campaign samples no power."""
    sampled = (record.telemetry or {}).get("power")
    if not isinstance(sampled, dict):
        return None
    settings = PowerSettings.from_dict(sampled.get("settings") or {}, "run record")
    log = parse_run_log(layout.result_path(bench, n))
    readings = _readings(layout.power_samples_path(bench, n))
    findings = list(sampled.get("findings") or [])
    extended = env.get(EXTEND_ENV, "").strip() == "1"
    result: dict = {"source": sampled.get("source"), "node_level": settings.node_level}
    result["extended_after_run_stop"] = extended
    if log.start_ms is None or log.stop_ms is None or not readings:
        why = "no run_start and run_stop in the log" if readings else "no power reading"
        result.update(written=[], energy=None, findings=findings + [f"{why}: no power log"])
        return result
    loop = measured_loop(readings, log.start_ms, log.stop_ms, extended)
    label = str(sampled.get("source") or settings.label)
    if settings.node_level:
        node_file = layout.power_node_file(bench, n)
        files = [node_file]
        if settings.interconnect_power_w is not None:
            files.append(layout.power_switch_file(bench, n))
    else:
        node_file = layout.gpu_power_path(bench, n)
        files = [node_file]
    _write(node_file, _lines(loop, settings, label, "node_0"))
    if len(files) > 1:
        est = settings.interconnect_power_w
        _write(files[1], [mllog_line(INTERCONNECT, est, {"host": "sw_0"}, loop[0][0])])
    result["written"] = [layout.relative(p) for p in files]
    if not settings.node_level:  # GPU only: informative, never MLPerf's energy
        joules = node_joules(read_power_log(node_file), log.stop_ms - log.start_ms)
        result.update(energy=None, gpu_only_joules=joules, findings=findings)
        return result
    energy = run_energy(layout.benchmark_dir(bench), log)
    findings += energy.findings if energy is not None else []
    result.update(energy=None if energy is None else energy.as_dict(), findings=findings)
    return result


# ---------------------------------------------------------------------------- the campaign's


def campaign_power(layout: CampaignFiles) -> PowerSettings | None:
    """The campaign's power source (its ``power.json``), or None."""
    path = layout.power_file
    if not path.is_file():
        return None
    data = read_json(path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a JSON object")
    return PowerSettings.from_dict(data, str(path))


def settle_power(
    layout: CampaignFiles, suite: SuitePower, given: PowerSettings | None
) -> PowerSettings | None:
    """The power source of a campaign's runs: the one given (with the suite's constants,
    written to ``power.json``), else the campaign's; read once here, so that a source that
    cannot be read is said before any run (InputError), not found by the first run."""
    settings: PowerSettings | None = None
    if given is not None:
        settings = given.with_suite(suite)
        settings.check("--power-source")
        write_json_atomic(layout.power_file, settings.as_dict())
    else:
        settings = campaign_power(layout)
    if settings is None:
        return None
    try:
        open_power_source(settings).close()
    except PowerSourceError as exc:
        raise InputError(f"power source {settings.label}: {printable(str(exc), 300)}") from None
    return settings
