"""What the node did during a run: GPU power, utilisation, temperatures, clocks and clock
event ("throttle") reasons, and host CPU and memory, sampled every second.

A background thread writes one CSV row per sample (``telemetry_N.csv`` beside the run
record, flushed each time so a killed gp2bm still leaves the data) and keeps a running
summary for the run record: GPU energy, peak temperature, throttling seen, peak host load.
Telemetry never fails a run: a sampler that cannot start or breaks records why and stops.
Its own cost is measured (the thread's CPU time) and kept in the summary.
"""

from __future__ import annotations

import csv
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psutil

from gp2bm.errors import GpuUnavailable
from gp2bm.node.gpus import THROTTLING, GpuMonitor, reason_names

DEFAULT_INTERVAL_S = 1.0
HOST_COLUMNS = ("time_utc", "elapsed_s", "host_cpu_pct", "host_mem_used_bytes", "host_mem_pct")
GPU_COLUMNS = (
    "power_w",
    "sm_util_pct",
    "mem_util_pct",
    "temp_c",
    "sm_clock_mhz",
    "mem_clock_mhz",
    "mem_used_bytes",
    "energy_j",
    "clock_event_reasons",
)


def columns(gpu_count: int) -> list[str]:
    return list(HOST_COLUMNS) + [f"gpu{i}_{name}" for i in range(gpu_count) for name in GPU_COLUMNS]


class _Summary:
    """Peaks and energy, updated with each sample so nothing is re-read at the end."""

    def __init__(self, gpu_count: int):
        self.samples = 0
        self.elapsed = 0.0
        self.peak_cpu = None
        self.peak_mem_pct = None
        self.peak_mem_bytes = None
        self.peak_power = None
        self.peak_temp = None
        self.reasons: set[str] = set()
        self.first_energy: list[float | None] = [None] * gpu_count
        self.last_energy: list[float | None] = [None] * gpu_count
        self.counter_ok = [True] * gpu_count
        self.power_integral_j = [0.0] * gpu_count
        self.last_power: list[tuple[float, float] | None] = [None] * gpu_count

    @staticmethod
    def _peak(old, new):
        return new if old is None or (new is not None and new > old) else old

    def add(self, elapsed: float, host: dict, gpus: list[dict]) -> None:
        self.samples += 1
        self.elapsed = elapsed
        self.peak_cpu = self._peak(self.peak_cpu, host.get("host_cpu_pct"))
        self.peak_mem_pct = self._peak(self.peak_mem_pct, host.get("host_mem_pct"))
        self.peak_mem_bytes = self._peak(self.peak_mem_bytes, host.get("host_mem_used_bytes"))
        for i, g in enumerate(gpus):
            self.peak_power = self._peak(self.peak_power, g.get("power_w"))
            self.peak_temp = self._peak(self.peak_temp, g.get("temp_c"))
            if g.get("clock_event_reasons"):
                self.reasons.update(reason_names(g["clock_event_reasons"]))
            energy = g.get("energy_j")
            if energy is None:
                self.counter_ok[i] = False
            else:
                if self.first_energy[i] is None:
                    self.first_energy[i] = energy
                self.last_energy[i] = energy
            power = g.get("power_w")
            if power is not None:
                previous = self.last_power[i]
                if previous is not None:  # trapezoid between two samples
                    self.power_integral_j[i] += (elapsed - previous[0]) * (power + previous[1]) / 2
                self.last_power[i] = (elapsed, power)

    def energy(self) -> tuple[list[float] | None, str | None]:
        n = len(self.counter_ok)
        if not n or not self.samples:
            return None, None
        first = [e for e in self.first_energy if e is not None]
        last = [e for e in self.last_energy if e is not None]  # set with each first one
        if all(self.counter_ok) and len(first) == n:
            return [last[i] - first[i] for i in range(n)], "energy counter"
        if all(p is not None for p in self.last_power):
            return list(self.power_integral_j), "power samples"
        return None, None


class TelemetrySampler:
    """Samples host and GPUs every ``interval`` seconds into ``path`` until ``stop``."""

    def __init__(
        self,
        path: Path,
        interval: float = 1.0,
        monitor_factory: Callable[[], GpuMonitor] | None = GpuMonitor,
    ):
        self.path = Path(path)
        self.interval = interval
        self._monitor_factory = monitor_factory
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="gp2bm-telemetry")
        self._summary: _Summary | None = None
        self._result: dict | None = None
        self.gpu_error: str | None = None
        self.error: str | None = None
        self.gpu_count = 0
        self.cpu_seconds = 0.0
        self.wall_seconds = 0.0

    # ------------------------------------------------------------------ control
    def start(self) -> TelemetrySampler:
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> dict:
        """Stop (idempotent) and return the summary for the run record."""
        if self._result is not None:
            return self._result
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 10)
        if self._thread.is_alive() and self.error is None:
            self.error = "the sampler did not stop within its grace time"
        self._result = self.summary()
        return self._result

    def __enter__(self) -> TelemetrySampler:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        cpu0 = time.thread_time()
        monitor = None
        try:
            if self._monitor_factory is not None:
                try:
                    monitor = self._monitor_factory()
                    self.gpu_count = monitor.count
                except GpuUnavailable as exc:
                    self.gpu_error = f"no GPU found ({exc})"
            else:
                self.gpu_error = "GPU sampling off"
            self._summary = _Summary(self.gpu_count)
            psutil.cpu_percent(interval=None)  # the first call only sets the reference point
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(columns(self.gpu_count))
                k = 0
                while True:
                    self._sample(writer, monitor)
                    fh.flush()
                    if self._stop.is_set():
                        break
                    k += 1
                    # on a fixed grid: a slow sample does not shift the ones after it
                    delay = self._t0 + k * self.interval - time.monotonic()
                    if delay < 0:
                        k += int(-delay // self.interval) + 1
                        delay = self._t0 + k * self.interval - time.monotonic()
                    # a last sample is taken when the run ends, then the loop exits
                    self._stop.wait(max(0.0, delay))
        except Exception as exc:  # noqa: BLE001 - telemetry must never fail the run
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            if monitor is not None:
                monitor.close()
            self.cpu_seconds = time.thread_time() - cpu0
            self.wall_seconds = time.monotonic() - self._t0

    def _sample(self, writer, monitor: GpuMonitor | None) -> None:
        summary = self._summary
        assert summary is not None  # made by _run before the first sample
        elapsed = time.monotonic() - self._t0
        vm = psutil.virtual_memory()
        cpu = psutil.cpu_percent(interval=None)
        host = {
            # the first figure spans only the instant since the reference point: meaningless
            "host_cpu_pct": cpu if summary.samples else None,
            "host_mem_used_bytes": vm.total - vm.available,
            "host_mem_pct": vm.percent,
        }
        gpus = monitor.sample() if monitor is not None else []
        row: list[object] = [datetime.now(UTC).isoformat(timespec="milliseconds"), f"{elapsed:.3f}"]
        row += [
            "" if host[name] is None else host[name]
            for name in ("host_cpu_pct", "host_mem_used_bytes", "host_mem_pct")
        ]
        for g in gpus:
            for name in GPU_COLUMNS:
                value = g.get(name)
                if name == "clock_event_reasons" and value is not None:
                    value = ";".join(reason_names(value))
                row.append("" if value is None else value)
        writer.writerow(row)
        summary.add(elapsed, host, gpus)

    # ------------------------------------------------------------------ the summary
    def summary(self) -> dict:
        s = self._summary
        per_gpu_j, source = s.energy() if s else (None, None)
        reasons = sorted(s.reasons) if s else []
        wall = self.wall_seconds or (time.monotonic() - self._t0)
        return {
            "file": self.path.name,
            "interval_s": self.interval,
            "samples": s.samples if s else 0,
            "seconds": round(s.elapsed, 3) if s else 0.0,
            "gpus": self.gpu_count,
            "gpu_error": self.gpu_error,
            "gpu_energy_wh": None if per_gpu_j is None else round(sum(per_gpu_j) / 3600, 4),
            "gpu_energy_wh_per_gpu": None
            if per_gpu_j is None
            else [round(j / 3600, 4) for j in per_gpu_j],
            "gpu_energy_source": source,
            "peak_gpu_power_w": s.peak_power if s else None,
            "peak_gpu_temp_c": s.peak_temp if s else None,
            "throttling": (bool(THROTTLING & set(reasons)) if s and self.gpu_count else None),
            "clock_event_reasons": reasons,
            "peak_host_cpu_pct": s.peak_cpu if s else None,
            "peak_host_mem_pct": s.peak_mem_pct if s else None,
            "peak_host_mem_bytes": s.peak_mem_bytes if s else None,
            "sampler_cpu_s": round(self.cpu_seconds, 6),
            "sampler_cpu_pct_of_one_core": round(100 * self.cpu_seconds / wall, 4)
            if wall > 0
            else None,
            "error": self.error,
        }


def start_telemetry(path: Path, interval: float | None = None) -> TelemetrySampler:
    """A started sampler (every ``DEFAULT_INTERVAL_S`` unless told). Never raises."""
    sampler = TelemetrySampler(path, interval or DEFAULT_INTERVAL_S)
    try:
        return sampler.start()
    except RuntimeError as exc:  # no thread can be started
        sampler.error = f"cannot start the sampler: {exc}"
        return sampler


# Signals that end the sampling of one node of a run across nodes (srun forwards SIGUSR1 to
# every task of its step; SIGTERM and SIGINT end it too).
STOP_SIGNALS = frozenset({signal.SIGUSR1, signal.SIGTERM, signal.SIGINT})


def sample_until_signalled(path: Path, interval: float | None = None) -> dict:
    """Sample into ``path`` until one of ``STOP_SIGNALS`` arrives; the summary.

    The signals are blocked before the sampler's thread starts (it inherits the mask), so
    the one that arrives is taken by ``sigwait`` here and never ends the process midway.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    sampler = start_telemetry(path, interval)
    signal.sigwait(STOP_SIGNALS)
    return sampler.stop()
