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


@dataclass
class Series:
    """One sampled quantity: seconds since the run's first sample, and its values."""

    seconds: list[float]
    values: list[float | None]


@dataclass
class Telemetry:
    """The samples of one run: one Series per column (per GPU when rows name a GPU)."""

    path: Path
    series: dict[str, Series]

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for name, s in self.series.items():
            nums = [v for v in s.values if v is not None]
            if nums:
                out[name] = {"min": min(nums), "mean": sum(nums) / len(nums), "max": max(nums)}
        return out

    def metrics(self) -> list[str]:
        """The column names, without the per-GPU suffix, in file order."""
        return list(dict.fromkeys(name.split(" [", 1)[0] for name in self.series))


@dataclass
class _Table:
    """The CSV as read: its header, its non-empty rows (padded to the header) and the
    columns that hold the time and the GPU (None when absent)."""

    header: list[str]
    body: list[list[str]]
    time_col: int | None
    group_col: int | None


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


def _read_table(path: Path) -> _Table | None:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    if len(rows) < 2:
        return None
    header = [h.strip() for h in rows[0]]
    body = [r + [""] * (len(header) - len(r)) for r in rows[1:] if any(c.strip() for c in r)]
    if not body:  # a header and blank lines: nothing was sampled
        return None
    lowered = [h.lower() for h in header]
    time_col = next((lowered.index(n) for n in TIME_COLUMNS if n in lowered), None)
    group_col = next((lowered.index(n) for n in GROUP_COLUMNS if n in lowered), None)
    return _Table(header, body, time_col, group_col)


def _stamps(table: _Table) -> list[float]:
    """Each row's time in seconds; a time column that does not parse on every row is
    dropped (``table.time_col`` becomes None) and rows are counted at 1 Hz per GPU."""
    if table.time_col is not None:
        stamps = [_timestamp(r[table.time_col]) for r in table.body]
        if all(s is not None for s in stamps):
            if table.header[table.time_col].lower().endswith("_ms"):
                return [s / 1000 for s in stamps]
            return stamps
        table.time_col = None
    per_group: dict[str, int] = {}
    stamps = []
    for row in table.body:  # the n-th row of each GPU is second n
        g = row[table.group_col].strip() if table.group_col is not None else ""
        stamps.append(float(per_group.get(g, 0)))
        per_group[g] = per_group.get(g, 0) + 1
    return stamps


def _series_key(table: _Table, name: str, row: list[str]) -> str:
    wide = WIDE_GPU_RE.fullmatch(name)  # gp2bm's telemetry: gpu<i>_<quantity> columns
    if wide:
        return f"{wide.group(2)} [gpu {wide.group(1)}]"
    if table.group_col is not None:
        return f"{name} [gpu {row[table.group_col].strip()}]"
    return name


def read_telemetry(path: Path) -> Telemetry | None:
    """A telemetry CSV: a header row, then one sample a row, or one row per GPU and sample.

    The time column is the first of TIME_COLUMNS present (numbers or ISO times), else the
    row number (1 Hz). Each GPU's quantity is its own series, named "<quantity> [gpu i]".
    Columns that hold no number are left out. None when nothing numeric is there.
    """
    table = _read_table(path)
    if table is None:
        return None
    stamps = _stamps(table)
    first = min(stamps)
    series: dict[str, Series] = {}
    for i, name in enumerate(table.header):
        if i in (table.time_col, table.group_col) or not name:
            continue
        values = [_number(r[i]) for r in table.body]
        if all(v is None for v in values):
            continue
        for row, value, stamp in zip(table.body, values, stamps, strict=True):
            s = series.setdefault(_series_key(table, name, row), Series([], []))
            s.seconds.append(stamp - first)
            s.values.append(value)
    if not series:
        return None
    return Telemetry(path=path, series=series)
