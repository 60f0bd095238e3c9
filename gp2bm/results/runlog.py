"""Reading one MLPerf result log (``result_N.txt``) into plain data.

A result log is whatever a run printed; the MLLOG records are the lines that contain
``:::MLLOG {json}``, whatever precedes the token (``[1,0]<stdout>:::MLLOG`` from mpirun).
Other lines are ignored. Parsing never stops at ``run_stop`` (real logs carry lines after
it) and never raises on a garbled line: problems become ``Anomaly`` entries on the run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeGuard

from gp2bm.errors import InputError
from gp2bm.files.plaintext import printable
from gp2bm.files.regular import open_regular

TOKEN = b":::MLLOG"
# Lines longer than this are not MLLOG records (which are a few hundred bytes); they are
# skipped without decoding so a multi-GB line of noise cannot exhaust memory.
MAX_RECORD_BYTES = 1 << 20
# How far back in time (ms) two consecutive records may step before it is noted. Ranks log
# through separate processes, so a few ms of reordering is normal. A larger step back is
# only ever a warning: accepted logs write eval_accuracy lines after later blocks with their
# true, earlier timestamps, or stamp run_stop before the last eval line, and MLCommons' time
# to train is run_stop - run_start whatever lies between. A clock step during a gp2bm run is
# caught by comparing with gp2bm's own monotonic measurement (results/timing.py).
CLOCK_TOLERANCE_MS = 1000
# time_ms is milliseconds since 1970: a value outside [0, year 2286] is not a time (a
# 400-digit number would overflow every float it meets); such a record is an error.
MAX_TIME_MS = 10**13
# Seeds are 32- or 64-bit; a batch size past this is not one. Beyond: a warning, not kept.
MAX_SEED = 2**64
MAX_BATCH = 10**9
# A log larger than this is not checked by MLCommons' checkers (which hold a whole log in
# memory and took 193 s and 1.5 GB on 173 MB): the run fails, saying so. The largest
# published logs of the fixtures are 0.2 MB; real logs are a few MB.
MAX_CHECKED_LOG_BYTES = 64 << 20
# The organisation, platform and division a log names are shown in reports: their hidden
# characters escaped (an ANSI escape, a bidi override) and cut at this length.
MAX_NAME_CHARS = 200

# gp2bm's own lines in each run it executed (gp2bm/run/execute.py): the run line, written
# before the workload starts (what runs, where, with which seed), and the closing line,
# written when its process has ended (gp2bm's verdict and timings).
GP2BM_RUN = "gp2bm_run"
GP2BM_RUN_END = "gp2bm_run_end"

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Anomaly:
    kind: str
    message: str
    severity: str = ERROR
    lineno: int | None = None

    def __str__(self) -> str:
        where = f"line {self.lineno}: " if self.lineno else ""
        return f"{where}{self.message}"


@dataclass(frozen=True)
class EvalPoint:
    time_ms: int
    accuracy: float
    epoch_num: float | None = None
    samples_count: float | None = None
    lineno: int = 0


@dataclass(frozen=True)
class Stamp:
    """Where and when one event of a log stands."""

    key: str
    time_ms: int
    lineno: int


# The events of the training and its evaluations (the first one: when the work began).
TRAINING_KEYS = frozenset(
    {"epoch_start", "epoch_stop", "block_start", "block_stop", "eval_start", "eval_stop"}
)


@dataclass
class RunLog:
    path: Path
    benchmark: str | None = None
    start_ms: int | None = None
    stop_ms: int | None = None
    status: str | None = None
    seed: int | None = None
    global_batch_size: int | None = None
    org: str | None = None
    platform: str | None = None
    division: str | None = None
    evals: list[EvalPoint] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    records: int = 0
    cache_clears: int = 0
    init_start_ms: int | None = None  # the first init_start: the run's initialisation began
    # where the log's own timeline stands (the first of each; a second one is an anomaly)
    start: Stamp | None = None
    stop: Stamp | None = None
    first_training: Stamp | None = None
    # gp2bm's own lines (its run line, its closing line), when gp2bm ran it
    trace: dict | None = None
    trace_at: Stamp | None = None
    end: dict | None = None
    end_at: Stamp | None = None

    @property
    def minutes(self) -> float | None:
        """Time to train: run_stop minus run_start, in minutes, unrounded."""
        if self.start_ms is None or self.stop_ms is None:
            return None
        return (self.stop_ms - self.start_ms) / 60000

    @property
    def errors(self) -> list[Anomaly]:
        return [a for a in self.anomalies if a.severity == ERROR]

    @property
    def warnings(self) -> list[Anomaly]:
        return [a for a in self.anomalies if a.severity == WARNING]

    @property
    def best_accuracy(self) -> float | None:
        return max((e.accuracy for e in self.evals), default=None)


@dataclass(frozen=True)
class Record:
    lineno: int
    key: str
    value: object
    time_ms: int
    event_type: str
    metadata: dict


def iter_records(path: Path) -> Iterator[Record | Anomaly]:
    """Yield each MLLOG record of a file, or an Anomaly for a line that cannot be read."""
    with open_regular(path, "a result log") as fh:
        lineno = 0
        while True:
            raw = fh.readline(MAX_RECORD_BYTES + 1)
            if not raw:
                return
            lineno += 1
            if len(raw) > MAX_RECORD_BYTES and not raw.endswith(b"\n"):
                # Skip the rest of an over-long line without holding it in memory.
                while raw and not raw.endswith(b"\n"):
                    raw = fh.readline(MAX_RECORD_BYTES)
                yield Anomaly("long_line", "line over 1 MiB skipped", WARNING, lineno)
                continue
            pos = raw.find(TOKEN)
            if pos < 0:
                continue
            payload = raw[pos + len(TOKEN) :].strip()
            truncated = not raw.endswith(b"\n")
            try:
                obj = json.loads(payload.decode("utf-8"))
                key, time_ms = obj["key"], obj["time_ms"]
                if not isinstance(key, str) or not isinstance(time_ms, (int, float)):
                    raise TypeError("key or time_ms of the wrong type")
                if isinstance(time_ms, float) and not math.isfinite(time_ms):
                    raise ValueError("time_ms is not finite")
                metadata = obj.get("metadata") or {}
                if not isinstance(metadata, dict):
                    metadata = {}
            except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
                kind, what = (
                    ("truncated", "last MLLOG line is cut off")
                    if truncated
                    else ("garbled_line", "unreadable MLLOG line")
                )
                yield Anomaly(kind, what, WARNING, lineno)
                continue
            if not 0 <= time_ms <= MAX_TIME_MS:
                yield Anomaly(
                    "absurd_time", f"time_ms of '{_shown(key)}' is not a time", ERROR, lineno
                )
                continue
            yield Record(
                lineno=lineno,
                key=key,
                value=obj.get("value"),
                time_ms=int(time_ms),
                event_type=str(obj.get("event_type", "")),
                metadata=metadata,
            )


def _shown(key: str) -> str:
    """A key from a log, fit for a one-line message (control characters escaped, short)."""
    return printable(key, 40)


def _number(value) -> float | None:
    """A finite number, else None (a 400-digit integer does not fit a float either)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def parse_run_log(path: Path | str, target: float | None = None) -> RunLog:
    """Parse one result log. Raises InputError only when the file is not a log at all."""
    path = Path(path)
    _check_readable_log(path)
    run = RunLog(path=path)
    last_time = None  # the latest time seen so far
    prev_time = None  # the previous record's time
    for item in iter_records(path):
        if isinstance(item, Anomaly):
            run.anomalies.append(item)
            continue
        rec = item
        run.records += 1
        # Noted once per step: records after a step are behind the latest time seen until
        # the clock catches up, but only the first of them (or a further step) counts.
        if (
            last_time is not None
            and prev_time is not None
            and rec.time_ms < last_time - CLOCK_TOLERANCE_MS
            and rec.time_ms < prev_time - CLOCK_TOLERANCE_MS
        ):
            run.anomalies.append(
                Anomaly(
                    "clock_backwards",
                    f"time goes back {last_time - rec.time_ms} ms at '{rec.key}' (time to "
                    "train is run_stop - run_start all the same)",
                    WARNING,
                    rec.lineno,
                )
            )
        last_time = rec.time_ms if last_time is None else max(last_time, rec.time_ms)
        prev_time = rec.time_ms
        _apply(run, rec)
    _finish(run)
    too_large = oversize(path)
    if too_large:
        run.anomalies.append(Anomaly("log_too_large", too_large))
    check_target(run, target)
    return run


def oversize(path: Path) -> str | None:
    """Why MLCommons' checkers are not run on this log (its size), or None."""
    size = Path(path).stat().st_size
    if size <= MAX_CHECKED_LOG_BYTES:
        return None
    return (
        f"the log is {size / 2**20:.0f} MiB, over the {MAX_CHECKED_LOG_BYTES >> 20} MiB "
        "MLCommons' checkers are run on (real logs are a few MB): not checked"
    )


def _check_readable_log(path: Path) -> None:
    try:
        with open_regular(path, "a result log") as fh:
            head = fh.read(65536)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, expected a result log") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    if b"\0" in head and TOKEN not in head:
        raise InputError(f"{path}: binary file, not an MLPerf result log")


def _apply(run: RunLog, rec: Record) -> None:
    if rec.key in ("run_start", "run_stop"):
        _apply_start_stop(run, rec)
    else:
        _apply_fact(run, rec)


def _apply_start_stop(run: RunLog, rec: Record) -> None:
    key, md = rec.key, rec.metadata
    if key == "run_start":
        if run.start_ms is not None:
            run.anomalies.append(
                Anomaly(
                    "duplicate_run_start",
                    "second run_start (would silently shorten time-to-train)",
                    ERROR,
                    rec.lineno,
                )
            )
        else:
            run.start_ms = rec.time_ms
            run.start = Stamp(key, rec.time_ms, rec.lineno)
    elif key == "run_stop":
        if run.stop_ms is not None:
            run.anomalies.append(
                Anomaly("duplicate_run_stop", "second run_stop", ERROR, rec.lineno)
            )
        else:
            run.stop_ms = rec.time_ms
            run.stop = Stamp(key, rec.time_ms, rec.lineno)
            status = md.get("status")
            run.status = status if isinstance(status, str) else None


def _apply_fact(run: RunLog, rec: Record) -> None:
    key, value, md = rec.key, rec.value, rec.metadata
    if key == "eval_accuracy":
        acc = _number(value)
        if acc is not None:
            run.evals.append(
                EvalPoint(
                    time_ms=rec.time_ms,
                    accuracy=acc,
                    epoch_num=_number(md.get("epoch_num")),
                    samples_count=_number(md.get("samples_count")),
                    lineno=rec.lineno,
                )
            )
    elif key == "submission_benchmark" and isinstance(value, str):
        if run.benchmark is not None and run.benchmark != value:
            run.anomalies.append(
                Anomaly(
                    "benchmark_mismatch",
                    f"submission_benchmark '{printable(value, 40)}' differs from "
                    f"'{printable(run.benchmark, 40)}'",
                    ERROR,
                    rec.lineno,
                )
            )
        run.benchmark = run.benchmark or value
    elif key in ("seed", "global_batch_size") and _numeric(value):
        _apply_integer(run, key, value, rec.lineno)
    elif key == "submission_org" and isinstance(value, str):
        run.org = printable(value, MAX_NAME_CHARS)
    elif key == "submission_platform" and isinstance(value, str):
        run.platform = printable(value, MAX_NAME_CHARS)
    elif key == "submission_division" and isinstance(value, str):
        run.division = printable(value, MAX_NAME_CHARS)
    elif key == "cache_clear":
        run.cache_clears += 1
    elif key == "init_start" and run.init_start_ms is None:
        run.init_start_ms = rec.time_ms
    elif key in TRAINING_KEYS and run.first_training is None:
        run.first_training = Stamp(key, rec.time_ms, rec.lineno)
    elif key == GP2BM_RUN and isinstance(value, dict) and run.trace is None:
        run.trace, run.trace_at = value, Stamp(key, rec.time_ms, rec.lineno)
    elif key == GP2BM_RUN_END and isinstance(value, dict):
        if run.end is None:
            run.end, run.end_at = value, Stamp(key, rec.time_ms, rec.lineno)
        # gp2bm's own verdict on the process: a non-zero exit or a timeout fails the run
        # even when the workload logged a successful run_stop before dying.
        if value.get("status") != "success":
            why = printable(value.get("reason") or value.get("status"), 200)
            run.anomalies.append(
                Anomaly("run_aborted", f"gp2bm ended the run as aborted: {why}", ERROR, rec.lineno)
            )


def _numeric(value) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _apply_integer(run: RunLog, key: str, value: int | float, lineno: int) -> None:
    """The seed (the first one) or the global batch size, when in a sensible range."""
    number = _number(value)
    low, high = (0, MAX_SEED) if key == "seed" else (1, MAX_BATCH)
    if number is None or not low <= value < high:
        run.anomalies.append(_absurd(key, lineno))
    elif key == "global_batch_size":
        run.global_batch_size = int(value)
    elif run.seed is None:
        run.seed = int(value)


def _absurd(key: str, lineno: int) -> Anomaly:
    return Anomaly("absurd_number", f"{key} is out of any sensible range: ignored", WARNING, lineno)


def _finish(run: RunLog) -> None:
    if run.records == 0:
        run.anomalies.append(Anomaly("no_records", "no MLLOG records in the file"))
        return
    if run.start_ms is None:
        run.anomalies.append(Anomaly("missing_run_start", "no run_start"))
    if run.stop_ms is None:
        run.anomalies.append(
            Anomaly("missing_run_stop", "no run_stop (run incomplete or log truncated)")
        )
    if run.start_ms is not None and run.stop_ms is not None and run.stop_ms < run.start_ms:
        run.anomalies.append(Anomaly("negative_duration", "run_stop is earlier than run_start"))
    if run.benchmark is None:
        run.anomalies.append(Anomaly("missing_benchmark", "no submission_benchmark"))


def check_target(run: RunLog, target: float | None) -> None:
    """A run whose run_stop says success must have reached the benchmark's quality target."""
    if target is None or run.status != "success" or run.records == 0:
        return
    best = run.best_accuracy
    if best is None or best < target:
        shown = "no eval_accuracy" if best is None else f"best eval_accuracy {best:.4f}"
        run.anomalies.append(
            Anomaly(
                "target_not_reached",
                f"run_stop says success but {shown} < target {target}",
            )
        )
