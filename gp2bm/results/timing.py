"""gp2bm's own check of a run's time: its monotonic clock against the log's time to train.

The log's time to train (run_stop - run_start, wall-clock stamps) is what MLCommons scores,
and is never changed here. A clock step during a run (an NTP step, an operator's
``date -s``) makes it wrong without a trace in the log, so gp2bm times every run it executes
on its own monotonic clock, between the run_start and run_stop lines as it saw them streamed
(``observed_seconds`` in the run record). A difference beyond the tolerance fails the run of a
gp2bm campaign. Published logs carry no such measurement and are never checked.
"""

from __future__ import annotations

import math

# The lines reach gp2bm through pipes and container log streams: both ends of the interval
# see about the same delay, so a few seconds cover it; a longer run may drift a little more.
TOLERANCE_SECONDS = 5.0
TOLERANCE_FRACTION = 0.005


def tolerance(observed_seconds: float) -> float:
    return max(TOLERANCE_SECONDS, TOLERANCE_FRACTION * observed_seconds)


def observed_number(value: object) -> float | None:
    """A run record's ``observed_seconds``, when it holds a usable measurement."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def timing_mismatch(log_minutes: float | None, observed_seconds: float | None) -> str | None:
    """Why the log's time to train cannot be trusted, or None when it agrees with gp2bm's."""
    if log_minutes is None or observed_seconds is None:
        return None
    logged = log_minutes * 60
    if abs(logged - observed_seconds) <= tolerance(observed_seconds):
        return None
    return (
        f"the log's time to train is {logged:.1f} s but gp2bm measured {observed_seconds:.1f} s "
        "between run_start and run_stop on its monotonic clock (clock stepped during the run?)"
    )
