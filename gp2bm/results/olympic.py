"""MLCommons' olympic mean of a benchmark's runs, and its failed-run rule.

Sort the good runs' times, drop the fastest, drop the slowest only when no run failed (a
failed run takes the place of the dropped slowest), average the rest. More failed runs than
may be dropped, or than the suite allows (one, for 5- and 10-run benchmarks), give no
result. ``scoring`` scores a benchmark with it, ``spread`` resamples it.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


class RunRole(StrEnum):
    """What a run is to its benchmark's result: counted in the olympic mean, dropped at
    either end of it, or failed (a failed run takes the dropped slowest run's place)."""

    COUNTED = "counted"
    DROPPED_FASTEST = "dropped (fastest)"
    DROPPED_SLOWEST = "dropped (slowest)"
    FAILED = "failed"


# MLCommons drops one run at each end (ResNet, BERT: every benchmark gp2bm scores).
OLYMPIC_DROP = 1


def olympic_mean(times: Sequence[float], failed: int = 0, drop: int = OLYMPIC_DROP) -> float | None:
    """MLCommons' olympic mean of the good runs' times.

    ``drop`` runs are dropped at each end; each failed run stands in for one dropped slowest
    run. Returns None when more runs failed than may be dropped, or nothing is left.
    """
    roles = olympic_roles(times, failed, drop)
    if roles is None:
        return None
    kept = [t for t, role in zip(times, roles, strict=True) if role == RunRole.COUNTED]
    if not kept:
        return None
    return sum(sorted(kept)) / len(kept)


def olympic_roles(
    times: Sequence[float], failed: int = 0, drop: int = OLYMPIC_DROP
) -> list[RunRole] | None:
    """For each time, whether it is counted or dropped (and which end), in input order."""
    if failed > drop:
        return None
    order = sorted(range(len(times)), key=lambda i: times[i])
    roles = [RunRole.COUNTED] * len(times)
    for i in order[:drop]:
        roles[i] = RunRole.DROPPED_FASTEST
    slow = drop - failed
    if slow:
        for i in order[drop:][-slow:]:
            roles[i] = RunRole.DROPPED_SLOWEST
    return roles


def allowed_failures(max_failed_runs: int) -> int:
    """How many of a benchmark's runs may fail and leave a result: the suite's allowance,
    and never more than the olympic rule drops (each failed run is a dropped slowest)."""
    return max(0, min(max_failed_runs, OLYMPIC_DROP))


def olympic_result(times: Sequence[float], failed: int, max_failed_runs: int) -> float | None:
    """The unscaled result of a benchmark whose good runs took ``times`` and of which
    ``failed`` runs failed, as ``scoring`` gives it: None when more runs failed than the
    suite allows or the olympic rule drops, or no run is left to average."""
    if failed > max_failed_runs:
        return None
    return olympic_mean(times, failed=failed, drop=OLYMPIC_DROP)
