"""Properties of MLCommons' olympic mean."""

from __future__ import annotations

import math
import statistics

from hypothesis import given
from hypothesis import strategies as st

from gp2bm.results.scoring import (
    RunRole,
    olympic_mean,
    olympic_roles,
)

times = st.floats(min_value=0.01, max_value=1e4, allow_nan=False, allow_infinity=False)
time_lists = st.lists(times, min_size=3, max_size=40)


@given(time_lists)
def test_no_failure_drops_both_ends(ts):
    s = sorted(ts)
    assert math.isclose(olympic_mean(ts), statistics.fmean(s[1:-1]), rel_tol=1e-12)


@given(time_lists)
def test_bounded_by_min_and_max(ts):
    m = olympic_mean(ts)
    assert min(ts) <= m * (1 + 1e-12) and m <= max(ts) * (1 + 1e-12)


@given(time_lists, st.randoms())
def test_order_does_not_matter(ts, rnd):
    shuffled = list(ts)
    rnd.shuffle(shuffled)
    assert math.isclose(olympic_mean(ts), olympic_mean(shuffled), rel_tol=1e-12)


@given(time_lists, st.floats(min_value=0.5, max_value=2.0))
def test_scale_equivariant(ts, k):
    assert math.isclose(olympic_mean([t * k for t in ts]), k * olympic_mean(ts), rel_tol=1e-9)


@given(st.lists(times, min_size=2, max_size=40))
def test_one_failure_keeps_slowest(ts):
    s = sorted(ts)
    assert math.isclose(olympic_mean(ts, failed=1), statistics.fmean(s[1:]), rel_tol=1e-12)


@given(time_lists, st.integers(min_value=2, max_value=5))
def test_more_failures_than_drops_is_invalid(ts, failed):
    assert olympic_mean(ts, failed=failed) is None
    assert olympic_roles(ts, failed=failed) is None


@given(time_lists, st.integers(min_value=0, max_value=1))
def test_roles_partition(ts, failed):
    roles = olympic_roles(ts, failed=failed)
    assert roles.count(RunRole.DROPPED_FASTEST) == 1
    assert roles.count(RunRole.DROPPED_SLOWEST) == 1 - failed
    assert roles.count(RunRole.COUNTED) == len(ts) - 2 + failed
    kept = [t for t, r in zip(ts, roles, strict=True) if r == RunRole.COUNTED]
    fastest = ts[roles.index(RunRole.DROPPED_FASTEST)]
    assert all(fastest <= t for t in kept)
    if not failed:
        slowest = ts[roles.index(RunRole.DROPPED_SLOWEST)]
        assert all(t <= slowest for t in kept)


@given(time_lists)
def test_outlier_does_not_move_mean(ts):
    base = olympic_mean(ts)
    worse = list(ts) + [max(ts) * 100]
    better = list(ts) + [min(ts) / 100]
    # adding a slower-than-all run can only raise the mean by re-admitting the old slowest
    assert olympic_mean(worse) >= base * (1 - 1e-12)
    assert olympic_mean(better) <= base * (1 + 1e-12)


def test_too_few_runs():
    assert olympic_mean([5.0, 6.0]) is None
    assert olympic_mean([5.0], failed=1) is None
    assert olympic_mean([]) is None
