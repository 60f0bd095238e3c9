"""A run's telemetry CSV read back as time series, for the reports.

gp2bm's sampler (``gp2bm.run.telemetry``) writes ``elapsed_s``, host columns and
``gpu<i>_<quantity>`` columns, one sample a row; other tools write one row per GPU and
sample (a ``gpu`` column). Both read into the same ``Telemetry``: one ``Series`` per
quantity, per GPU where the file names one.
"""

from __future__ import annotations

import csv
import math
import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

TIME_COLUMNS = (
    "elapsed_s",
    "elapsed",
    "time_s",
    "seconds",
    "t",
    "time",
    "timestamp",
    "unix_time",
    "time_ms",
)
GROUP_COLUMNS = ("gpu", "gpu_index", "device", "index")
WIDE_GPU_RE = re.compile(r"gpu(\d+)_(\w+)")


class Series:
    """One sampled quantity: seconds since the run's first sample, and its values (None
    where a row has no number). Kept as arrays of doubles, 8 bytes a sample (a bundle's
    telemetry may be tens of megabytes); ``seconds`` and ``values`` give lists."""

    def __init__(self, seconds, values):
        self._seconds = seconds if isinstance(seconds, array) else array("d", seconds)
        self._values = (
            values
            if isinstance(values, array)
            else array("d", (math.nan if v is None else v for v in values))
        )

    @property
    def seconds(self) -> list[float]:
        return self._seconds.tolist()

    @property
    def values(self) -> list[float | None]:
        return [None if math.isnan(v) else v for v in self._values]

    def numbers(self) -> list[float]:
        """The values that are numbers."""
        return [v for v in self._values if not math.isnan(v)]

    def __len__(self) -> int:
        return len(self._values)


@dataclass
class Telemetry:
    """The samples of one run: one Series per column (per GPU when rows name a GPU)."""

    path: Path
    series: dict[str, Series]

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for name, s in self.series.items():
            nums = s.numbers()
            if nums:
                out[name] = {"min": min(nums), "mean": sum(nums) / len(nums), "max": max(nums)}
        return out

    def metrics(self) -> list[str]:
        """The column names, without the per-GPU suffix, in file order."""
        return list(dict.fromkeys(name.split(" [", 1)[0] for name in self.series))


@dataclass(frozen=True)
class TelemetrySummary:
    """A run's telemetry as the workbooks show it, without its samples: the file and each
    series' min, mean and max (``Telemetry.summary``), small enough to hand to another
    process (``reports.view.summarized``)."""

    path: Path
    stats: dict[str, dict[str, float]]

    def summary(self) -> dict[str, dict[str, float]]:
        return self.stats


@dataclass
class _Table:
    """What a first pass learns of the CSV: its header, the columns that hold the time and
    the GPU (None when absent; the time column dropped when a row's time does not parse),
    the columns that hold a number somewhere, the first time."""

    path: Path
    header: list[str]
    time_col: int | None
    group_col: int | None
    numeric: set[int]
    first: float = 0.0
    rows: int = 0


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _timestamp(text: str) -> float | None:
    value = _number(text)
    if value is not None:
        return value
    try:
        stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def _body(path: Path, width: int | None = None) -> Iterator[list[str]]:
    """The CSV's rows after the header, blank ones left out, padded to ``width``; one at a
    time (never the whole file in memory)."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        width = width if width is not None else len(header or [])
        for row in reader:
            if any(c.strip() for c in row):
                yield row + [""] * (width - len(row))


def _scan(path: Path) -> _Table | None:
    """The first pass: header, time and GPU columns, numeric columns, the first time."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            header = [h.strip() for h in next(csv.reader(fh), [])]
        lowered = [h.lower() for h in header]
        time_col = next((lowered.index(n) for n in TIME_COLUMNS if n in lowered), None)
        group_col = next((lowered.index(n) for n in GROUP_COLUMNS if n in lowered), None)
        table = _Table(path, header, time_col, group_col, set(), math.inf)
        for row in _body(path, len(header)):
            table.rows += 1
            _scan_row(table, row)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    if not header or table.rows == 0:  # a header and blank lines: nothing was sampled
        return None
    if table.time_col is None:
        table.first = 0.0
    return table


def _scan_row(table: _Table, row: list[str]) -> None:
    if table.time_col is not None:
        stamp = _timestamp(row[table.time_col])
        if stamp is None:  # not a time on every row: rows are counted at 1 Hz per GPU
            table.time_col = None
        else:
            table.first = min(table.first, _seconds(table, stamp))
    for i in range(len(table.header)):
        if i not in table.numeric and _number(row[i]) is not None:
            table.numeric.add(i)


def _seconds(table: _Table, stamp: float) -> float:
    name = table.header[table.time_col] if table.time_col is not None else ""
    return stamp / 1000 if name.lower().endswith("_ms") else stamp


def _series_of(table: _Table, name: str) -> tuple[str, bool]:
    """A column's series name, and whether it is one series per GPU (the GPU column's value
    completes the name: "<name> [gpu i]") rather than one following every row."""
    wide = WIDE_GPU_RE.fullmatch(name)  # gp2bm's telemetry: gpu<i>_<quantity> columns
    if wide:
        return f"{wide.group(2)} [gpu {wide.group(1)}]", False
    return name, table.group_col is not None


def read_telemetry(path: Path) -> Telemetry | None:
    """A telemetry CSV: a header row, then one sample a row, or one row per GPU and sample.

    The time column is the first of TIME_COLUMNS present (numbers or ISO times), else the
    row number (1 Hz). Each GPU's quantity is its own series, named "<quantity> [gpu i]".
    Columns that hold no number are left out. None when nothing numeric is there. Read in
    two passes, a row at a time; series that follow the same rows share their times.
    """
    table = _scan(path)
    if table is None:
        return None
    columns = [
        (i, *_series_of(table, name))
        for i, name in enumerate(table.header)
        if i in table.numeric and i not in (table.time_col, table.group_col) and name
    ]
    if not columns:
        return None
    times: dict[str | None, array] = {}  # per GPU (None: every row)
    values: dict[str, array] = {}
    follows: dict[str, str | None] = {}
    counted: dict[str, int] = {}
    try:
        for row in _body(path, len(table.header)):
            g = row[table.group_col].strip() if table.group_col is not None else ""
            if table.time_col is not None:
                read = _timestamp(row[table.time_col])
                if read is None:  # a row written after the first pass (a half-written line)
                    continue
                stamp = _seconds(table, read)
            else:  # the n-th row of each GPU is second n
                stamp = float(counted.get(g, 0))
                counted[g] = counted.get(g, 0) + 1
            times.setdefault(None, array("d")).append(stamp - table.first)
            if table.group_col is not None:
                times.setdefault(g, array("d")).append(stamp - table.first)
            for i, name, per_gpu in columns:
                key, gpu = (f"{name} [gpu {g}]", g) if per_gpu else (name, None)
                follows[key] = gpu
                value = _number(row[i])
                values.setdefault(key, array("d")).append(math.nan if value is None else value)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    series = {key: Series(times[follows[key]], vals) for key, vals in values.items()}
    return Telemetry(path=path, series=series)
