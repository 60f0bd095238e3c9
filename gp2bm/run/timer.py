"""gp2bm's own timing of a run: its monotonic clock when the run's ``run_start`` and
``run_stop`` lines stream by. The log's time to train uses wall-clock stamps, which a clock
step (NTP, ``date -s``) falsifies without a trace; this measurement, kept in the run record
as ``observed_seconds``, is what ``gp2bm.results.timing`` compares it with."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

TOKEN = b":::MLLOG"
START, STOP = "run_start", "run_stop"


def _key(line: bytes) -> str | None:
    """The MLLOG key of a run_start or run_stop line, else None (cheap for other lines)."""
    pos = line.find(TOKEN)
    if pos < 0 or (b'"run_start"' not in line and b'"run_stop"' not in line):
        return None
    try:
        record = json.loads(line[pos + len(TOKEN) :])
    except ValueError:
        return None
    return record.get("key") if isinstance(record, dict) else None


class RunTimer:
    """Watches a run's output lines (then hands each to ``then``, the progress display)."""

    def __init__(self, then: Callable[[bytes], None] | None = None):
        self.started: float | None = None
        self.stopped: float | None = None
        self._then = then

    def on_line(self, line: bytes) -> None:
        now = time.monotonic()
        key = _key(line)
        if key == START and self.started is None:
            self.started = now
        elif key == STOP and self.started is not None and self.stopped is None:
            self.stopped = now
        if self._then is not None:
            self._then(line)

    @property
    def seconds(self) -> float | None:
        """From the first run_start line to the first run_stop after it, when both came."""
        if self.started is None or self.stopped is None:
            return None
        return self.stopped - self.started
