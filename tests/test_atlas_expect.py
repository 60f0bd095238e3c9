"""gp2bm.atlas.expectation: what the published results say a campaign will give."""

from __future__ import annotations

import math
import statistics
from itertools import count as counter

import pytest

from gp2bm.atlas import expect, load_atlas
from gp2bm.atlas.expectation import (
    EXACT,
    MIN_RESULTS,
    OTHER_NODES,
    SCALED,
    UNKNOWN,
    scaling_exponent,
)
from gp2bm.atlas.table import Atlas, AtlasRow, RunEntry
from gp2bm.spec.suite import load_suite

_serial = counter(1)


def _row(round_: str, minutes: float, count: int = 8, nodes: int = 1, **kw) -> AtlasRow:
    """A result as the build writes one (its runs unique, so that it is its own result)."""
    serial = next(_serial)
    runs = tuple(
        RunEntry(f"result_{i}.txt", serial * 100 + i, "success", False, kw.get("init_ms"))
        for i in range(5)
    )
    return AtlasRow(
        round=round_,
        submitter=kw.get("submitter", f"S{serial}"),
        system=f"sys{serial}",
        benchmark=kw.get("benchmark", "bert"),
        division=kw.get("division", "closed"),
        availability="available",
        status="available",
        accelerator=kw.get("accelerator", "H100-SXM5-80GB"),
        accelerator_published="NVIDIA H100-SXM5-80GB",
        accelerator_known=True,
        accelerators_per_node=count // nodes,
        nodes=nodes,
        host_cpu="cpu",
        framework="fw",
        minutes=minutes,
        unscaled_minutes=minutes,
        scaling_factor=1.0,
        runs=runs,
        source=f"S{serial}/results/sys{serial}/bert",
        commit="0" * 40,
    )


def _number(value: float | None) -> float:
    assert value is not None
    return value


@pytest.fixture(scope="module")
def suite():
    return load_suite()


def test_h100_8_gpus_from_the_latest_published_rounds(suite):
    atlas = load_atlas()
    found = expect(atlas, "H100-SXM5-80GB", 8, 1, suite)
    assert found.complete and set(found.benchmarks) == {"resnet", "bert"}
    for name, b in found.benchmarks.items():
        assert b.basis == EXACT and len(b.used) >= MIN_RESULTS
        rows = [u.row for u in b.used]
        assert all(
            r.accelerator == "H100-SXM5-80GB" and r.count == 8 and r.nodes == 1 for r in rows
        )
        assert all(r.division == "closed" and r.benchmark == name for r in rows)
        assert len({r.fingerprint for r in rows}) == len(rows)
        times = [_number(r.minutes) for r in rows]
        assert b.minutes == statistics.median(times)
        assert b.low == min(times) and b.high == max(times)
        assert b.target_round == ("v4.0" if name == "resnet" else "v5.0")
        assert b.runs == suite.benchmarks[name].runs
        init = statistics.median(r.init_minutes for r in rows if r.init_minutes is not None)
        assert b.init_minutes == init
        assert math.isclose(_number(b.node_minutes), b.runs * (_number(b.minutes) + init))
    r, b = found.benchmarks["resnet"], found.benchmarks["bert"]
    assert {u.row.round for u in r.used} == {"v4.0"}
    score = 7.19 / _number(r.minutes) + 9.05 / _number(b.minutes)
    assert math.isclose(_number(found.score), score)
    assert math.isclose(_number(found.score_low), 7.19 / _number(r.high) + 9.05 / _number(b.high))
    assert _number(found.score_low) <= score <= _number(found.score_high)
    nodes = _number(r.node_minutes) + _number(b.node_minutes)
    assert math.isclose(_number(found.node_minutes), nodes)
    # any published spelling names the same accelerator
    assert expect(atlas, "NVIDIA H100 80GB HBM3", 8, 1, suite).as_dict() == found.as_dict()


def test_nearest_round_first_widened_until_enough_results():
    atlas = Atlas([_row("v3.0", 6.0), _row("v3.1", 5.8), _row("v4.0", 5.6), _row("v4.1", 5.4)])
    found = expect(atlas, "H100-SXM5-80GB", 8, 1, load_suite())
    bert = found.benchmarks["bert"]
    assert [(u.row.round, u.rounds_away) for u in bert.used] == [
        ("v4.1", 0),
        ("v4.0", 1),
        ("v3.1", 2),
    ]
    assert bert.minutes == 5.6
    as_of = expect(atlas, "H100-SXM5-80GB", 8, 1, load_suite(), target_round="v3.0").benchmarks[
        "bert"
    ]
    assert [u.row.round for u in as_of.used] == ["v3.0", "v3.1", "v4.0"]
    # resnet: nothing published in this atlas
    assert (
        found.benchmarks["resnet"].basis == UNKNOWN and not found.complete and found.score is None
    )


def test_a_result_published_twice_counts_once():
    original = _row("v3.1", 5.0)
    again = AtlasRow(**{**original.__dict__, "round": "v4.0", "submitter": "partner"})
    atlas = Atlas([original, again, _row("v4.0", 6.0)])
    used = expect(atlas, "H100-SXM5-80GB", 8, 1, load_suite()).benchmarks["bert"].used
    shown = {(u.row.submitter, u.row.round) for u in used}
    assert ("partner", "v4.0") in shown and (original.submitter, "v3.1") not in shown
    assert len(used) == 2


def test_the_same_count_on_other_nodes_when_none_on_these():
    atlas = Atlas([_row("v4.0", 5.0, 8, 2), _row("v4.0", 5.2, 8, 2), _row("v4.0", 9.0, 4, 1)])
    bert = expect(atlas, "H100-SXM5-80GB", 8, 1, load_suite()).benchmarks["bert"]
    assert bert.basis == OTHER_NODES and "2 node(s)" in bert.explanation
    assert bert.minutes == 5.1


def test_another_count_scaled_by_the_fitted_exponent():
    rows = [
        _row("v4.0", 10.0, 4),
        _row("v4.0", 5.5, 8),
        _row("v3.0", 20.0, 2),
        _row("v3.0", 12.0, 4),
    ]
    atlas = Atlas(rows)
    alpha = scaling_exponent(atlas, "bert")
    slopes = [-math.log(5.5 / 10.0) / math.log(2), -math.log(12.0 / 20.0) / math.log(2)]
    assert alpha == statistics.median(slopes)
    bert = expect(atlas, "H100-SXM5-80GB", 16, 2, load_suite()).benchmarks["bert"]
    assert bert.basis == SCALED and bert.alpha == alpha
    assert "nearest count, 8x" in bert.explanation and f"{alpha:.3f}" in bert.explanation
    assert alpha is not None and math.isclose(_number(bert.minutes), 5.5 * (8 / 16) ** alpha)
    assert [u.row.count for u in bert.used] == [8]


def test_cannot_tell_an_accelerator_never_published():
    bert = expect(load_atlas(), "Acme X9000", 8, 1, load_suite()).benchmarks["bert"]
    assert bert.basis == UNKNOWN and bert.minutes is None and bert.used == ()
    assert bert.explanation.startswith("cannot tell")


def test_open_division_and_results_without_a_number_are_not_used():
    rows = [_row("v4.0", 1.0, division="open"), _row("v4.0", 5.0)]
    bert = expect(Atlas(rows), "H100-SXM5-80GB", 8, 1, load_suite()).benchmarks["bert"]
    assert [u.row.minutes for u in bert.used] == [5.0]
