"""gp2bm.atlas.claims: a claimed result judged against the published record."""

from __future__ import annotations

from collections import defaultdict

import pytest

from gp2bm.atlas import load_atlas, plausibility
from gp2bm.atlas.claims import CANNOT_JUDGE, FASTER, IMPLAUSIBLE, MARGIN, PLAUSIBLE, SLOW
from gp2bm.atlas.table import BENCHMARKS, round_key
from gp2bm.errors import InputError


@pytest.fixture(scope="module")
def atlas():
    return load_atlas()


@pytest.fixture(scope="module")
def h100_resnet(atlas):
    times = [r.minutes for r in atlas.results("resnet", "H100-SXM5-80GB", 8, 1)]
    return min(times), max(times), len(times)


def test_far_faster_than_any_published_is_implausible(atlas, h100_resnet):
    fastest, _, n = h100_resnet
    verdict = plausibility(atlas, "resnet", "H100-SXM5-80GB", 8, 1, fastest / 2.6)
    assert verdict.verdict == IMPLAUSIBLE
    assert verdict.sentence == (
        f"implausible: 2.6x faster than any of {n} published 8x H100-SXM5-80GB ResNet "
        "results on 1 node"
    )
    assert len(verdict.compared) == n and verdict.fastest == fastest


def test_a_little_faster_is_within_the_margin(atlas, h100_resnet):
    fastest, _, _ = h100_resnet
    verdict = plausibility(atlas, "resnet", "NVIDIA H100 80GB HBM3", 8, 1, fastest / 1.2)
    assert verdict.verdict == FASTER and "within the 1.5x margin" in verdict.sentence


def test_within_the_published_range_is_plausible(atlas, h100_resnet):
    fastest, slowest, _ = h100_resnet
    verdict = plausibility(atlas, "resnet", "H100-SXM5-80GB", 8, 1, (fastest + slowest) / 2)
    assert verdict.verdict == PLAUSIBLE and verdict.sentence.startswith(
        "plausible: within the range"
    )


def test_slower_than_the_slowest_says_the_node_may_be_misconfigured(atlas, h100_resnet):
    _, slowest, _ = h100_resnet
    verdict = plausibility(atlas, "resnet", "H100-SXM5-80GB", 8, 1, slowest * 1.3)
    assert verdict.verdict == SLOW and verdict.sentence.endswith("the node may be misconfigured")


def test_no_published_result_cannot_be_judged(atlas):
    verdict = plausibility(atlas, "bert", "H100-SXM5-80GB", 7, None, 5.0)
    assert verdict.verdict == CANNOT_JUDGE and verdict.compared == ()
    assert verdict.sentence.startswith(
        "cannot judge: no published closed-division 7x H100-SXM5-80GB"
    )


def test_a_claim_is_a_positive_number(atlas):
    with pytest.raises(InputError):
        plausibility(atlas, "bert", "H100-SXM5-80GB", 8, 1, 0.0)


def test_the_margin_is_wider_than_any_published_round_beat_the_rounds_before(atlas):
    """The docstring's claim: no round's best beat the earlier rounds' best by MARGIN."""
    groups = defaultdict(list)
    for benchmark in BENCHMARKS:
        for row in atlas.results(benchmark):
            groups[(benchmark, row.accelerator, row.count, row.nodes)].append(row)
    best_gain = 0.0
    for rows in groups.values():
        for round_ in {r.round for r in rows}:
            before = [r.minutes for r in rows if round_key(r.round) < round_key(round_)]
            if len(before) >= 2:
                now = min(r.minutes for r in rows if r.round == round_)
                best_gain = max(best_gain, min(before) / now)
    assert 1.0 < best_gain < MARGIN
