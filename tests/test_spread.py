"""The 95 % interval on a benchmark's result (gp2bm.results.spread): the seeded bootstrap
against the exact distribution of every resample of small sets, its determinism, its
scaling, the failed-run rule inside it, the score's interval and where it is shown."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
from collections import Counter

import pytest
from test_report_campaign import synthetic_campaign

from gp2bm.results.olympic import olympic_mean, olympic_result
from gp2bm.results.resultset import score_paths
from gp2bm.results.spread import (
    RESAMPLES,
    SCORE_RULE,
    Interval,
    benchmark_interval,
    resampled_results,
    score_interval,
    spread_seed,
    stated_variance,
)
from gp2bm.spec.suite import load_suite

INF = math.inf


def exact_distribution(times: list[float], failed: int, allowed: int) -> Counter:
    """Brute force: every ordered resample of the runs (n**n of them, equally likely),
    scored by the olympic mean and the failed-run rule as MLCommons states them; no result
    is +inf (slower than any). Returns result -> number of resamples."""
    population: list[float | None] = [*times, *[None] * failed]
    found: Counter = Counter()
    for picks in itertools.product(range(len(population)), repeat=len(population)):
        drawn = [population[i] for i in picks]
        good = [t for t in drawn if t is not None]
        k = len(drawn) - len(good)
        result = None if k > allowed else olympic_mean(good, failed=k)
        found[INF if result is None else result] += 1
    return found


def cdf(dist: Counter, value: float) -> float:
    total = sum(dist.values())
    return sum(n for v, n in dist.items() if v <= value) / total


def quantile(dist: Counter, p: float) -> float:
    """The smallest value with at least ``p`` of the distribution at or below it."""
    total, seen = sum(dist.values()), 0
    for value in sorted(dist):
        seen += dist[value]
        if seen >= p * total:
            return value
    return INF


# (good runs' minutes, failed runs): distinct times, ties, 3 runs, 6 runs, a failed run
SMALL_SETS = [
    ([10.2, 10.9, 11.4, 12.0, 13.1], 0),
    ([20.0, 20.0, 21.5, 22.0, 22.0], 0),
    ([5.0, 5.5, 7.25], 0),
    ([3.1, 3.3, 3.4, 3.8, 4.0, 4.7], 0),
    ([10.2, 10.9, 11.4, 12.0], 1),
]


@pytest.mark.parametrize(("times", "failed"), SMALL_SETS)
def test_the_bootstrap_matches_every_resample_enumerated(times, failed):
    exact = exact_distribution(times, failed, allowed=1)
    seed = spread_seed(times, failed, 1)
    boot = resampled_results(times, failed, 1, RESAMPLES, seed)
    drawn = Counter(INF if r is None else r for r in boot)
    # the bootstrap's distribution is the exact one, to sampling error (DKW: a distance
    # over 0.02 with 10000 resamples has probability 2 exp(-8), 7e-4)
    support = sorted(set(exact) | set(drawn))
    distance = max(abs(cdf(exact, v) - cdf(drawn, v)) for v in support)
    assert distance < 0.02, distance
    interval = benchmark_interval(times, failed, 1, 1.0)
    low = interval.low
    high = INF if interval.high is None else interval.high
    assert low is not None
    assert quantile(exact, 0.015) <= low <= quantile(exact, 0.035)
    assert quantile(exact, 0.965) <= high <= quantile(exact, 0.985)
    # the share of resamples with no result (two failed runs drawn) is the exact one
    assert interval.no_result == pytest.approx(exact[INF] / sum(exact.values()), abs=0.01)


def resampled_results_plainly(
    times, failed: int, max_failed_runs: int, resamples: int, seed: int
) -> list[float | None]:
    """``resampled_results`` as the rule says it, resample by resample through
    ``olympic_result``, with the same draws: what the fast one is held to."""
    good = sorted(times)
    n, m = len(good) + failed, len(good)
    draw = random.Random(seed).random
    out: list[float | None] = []
    for _ in range(resamples):
        drawn = [good[i] for i in (int(draw() * n) for _ in range(n)) if i < m]
        out.append(olympic_result(drawn, n - len(drawn), max_failed_runs))
    return out


def test_the_fast_resampling_is_the_rule_resample_by_resample_to_the_bit():
    """``resampled_results`` (the drops as the ends of each resample's sorted indices) gives
    every resample's ``olympic_result`` exactly, over runs with ties, failed runs and every
    allowance of failed runs, a few runs or many."""

    rng = random.Random(20261207)
    for _ in range(1500):
        k, failed, allowed = rng.randint(0, 12), rng.randint(0, 3), rng.randint(0, 3)
        times = [round(rng.uniform(1, 30), rng.randint(0, 6)) for _ in range(k)]
        if times and rng.random() < 0.3:
            times = [times[0]] * k
        if k + failed == 0:
            continue
        seed = rng.getrandbits(48)
        fast = resampled_results(times, failed, allowed, 40, seed)
        plain = resampled_results_plainly(times, failed, allowed, 40, seed)
        assert [None if r is None else r.hex() for r in fast] == [
            None if r is None else r.hex() for r in plain
        ], (times, failed, allowed)


def test_one_failed_run_in_five_leaves_no_upper_end():
    """A resample holds two failed runs with probability 1 - 0.8**5 - 0.8**4 = 26.3 %: more
    than the 2.5 % tail, so the interval has no upper end, and says so."""
    interval = benchmark_interval([10.2, 10.9, 11.4, 12.0], 1, 1, 1.0)
    assert interval.no_result == pytest.approx(1 - 0.8**5 - 0.8**4, abs=0.01)
    assert interval.low is not None and interval.high is None
    assert "no upper end" in interval.text() and "have no result" in interval.text()


def test_no_result_no_interval():
    interval = benchmark_interval([10.2, 10.9, 11.4], 2, 1, 1.0)
    assert interval == Interval(None, None, runs=5, reason="no result")
    assert interval.text() == "none (no result)"
    assert benchmark_interval([1.0, 2.0, 3.0], 0, 1, None).reason == "no scaling factor"


def test_the_same_runs_give_the_same_interval():
    times = [14.11, 13.87, 14.52, 13.95, 14.20]
    first = benchmark_interval(times, 0, 1, 1.0)
    again = benchmark_interval(list(reversed(times)), 0, 1, 1.0)
    # computed afresh, not taken from the cache of the first
    fresh = resampled_results(times, 0, 1, RESAMPLES, spread_seed(times, 0, 1))
    assert first == again
    assert sorted(r for r in fresh if r is not None)[249] == first.low
    assert sorted(r for r in fresh if r is not None)[9749] == first.high
    # the seed is the first 6 bytes of the SHA-256 of the runs, as the method states it
    text = "\n".join(["gp2bm.spread/1", "allowed 1", *(repr(t) for t in sorted(times))])
    assert first.seed == int.from_bytes(hashlib.sha256(text.encode()).digest()[:6], "big")
    # other runs, another seed
    assert benchmark_interval([*times[:4], 14.21], 0, 1, 1.0).seed != first.seed


def test_the_interval_is_scaled_as_the_result_is():
    times = [30.0, 31.5, 29.8, 33.0, 30.6]
    plain, scaled = benchmark_interval(times, 0, 1, 1.0), benchmark_interval(times, 0, 1, 1.25)
    assert plain.low is not None and plain.high is not None
    assert scaled.low == pytest.approx(plain.low * 1.25)
    assert scaled.high == pytest.approx(plain.high * 1.25)
    assert (scaled.unscaled_low, scaled.unscaled_high) == (plain.low, plain.high)


def exact_score_distribution(sets, weights) -> Counter:
    """Brute force: the score of every pair of ordered resamples of two small sets (no
    result in either: no score, -inf). Returns score -> count."""
    first, second = (exact_distribution(t, f, allowed=1) for t, f in sets)
    found: Counter = Counter()
    for a, na in first.items():
        for b, nb in second.items():
            score = -INF if INF in (a, b) else weights[0] / a + weights[1] / b
            found[score] += na * nb
    return found


def test_the_score_interval_is_a_joint_bootstrap_of_the_benchmarks():
    """The score's ends against every pair of resamples of two small sets enumerated."""
    sets = [([20.0, 20.4, 21.1, 22.0, 22.3], 0), ([10.0, 10.6, 11.2, 11.5, 12.5], 0)]
    weights = (7.19, 9.05)
    intervals = [benchmark_interval(t, f, 1, 1.0) for t, f in sets]
    found = score_interval(list(zip(weights, intervals, strict=True)))
    assert found is not None and found.low is not None and found.high is not None
    exact = exact_score_distribution(sets, weights)
    assert quantile(exact, 0.015) <= found.low <= quantile(exact, 0.035)
    assert quantile(exact, 0.965) <= found.high <= quantile(exact, 0.985)
    assert found.as_dict()["rule"] == SCORE_RULE and found.no_score == 0.0
    # narrower than the score at the benchmarks' ends (that would be a wider, not a 95 %,
    # interval: both benchmarks at their 2.5 % ends at once)
    corner_low = sum(w / i.high for w, i in zip(weights, intervals, strict=True) if i.high)
    corner_high = sum(w / i.low for w, i in zip(weights, intervals, strict=True) if i.low)
    assert corner_low < found.low < found.high < corner_high
    # determinism: the same runs, the same interval
    again = [benchmark_interval(list(reversed(t)), f, 1, 1.0) for t, f in sets]
    assert score_interval(list(zip(weights, again, strict=True))) == found


def test_a_failed_run_leaves_the_score_no_lower_end():
    bert = benchmark_interval([10.0, 10.6, 11.2, 11.5, 12.5], 0, 1, 1.0)
    failing = benchmark_interval([10.2, 10.9, 11.4, 12.0], 1, 1, 1.0)
    found = score_interval([(7.19, failing), (9.05, bert)])
    assert found is not None and found.low is None and found.high is not None
    assert found.no_score == pytest.approx(failing.no_result)
    assert "no lower end" in found.text() and "have no score" in found.text()
    assert score_interval([(7.19, Interval(None, None)), (9.05, bert)]) is None


def test_mlperf_stated_variance_is_named():
    image, other = stated_variance("resnet", 20.0), stated_variance("bert", 10.0)
    assert (image.fraction, image.area, image.low, image.high) == (0.025, "image", 19.5, 20.5)
    assert (other.fraction, other.area) == (0.05, "other")
    assert other.low == pytest.approx(9.5) and other.high == pytest.approx(10.5)
    assert "MLCommons" in image.as_dict()["source"]
    assert image.text() == "+/-2.5 % (image benchmarks): 19.500000 to 20.500000 min"


def test_a_scored_campaign_carries_its_intervals(tmp_path, cli):
    """``score --json`` keeps every key it had and adds the intervals; the score lies in
    its interval, each result in its own; the text says it all."""
    root = synthetic_campaign(tmp_path)
    res = cli("score", root, "--json")
    assert res.code == 0, res.err
    data = res.json()
    for key in ("suite", "ruleset", "compliance", "benchmarks", "missing", "score"):
        assert key in data
    for name, b in data["benchmarks"].items():
        for key in ("minutes", "valid", "scaling_factor", "runs"):
            assert key in b, (name, key)
        interval = b["interval"]
        assert interval["method"] == "bootstrap of the olympic rule over the runs"
        assert interval["resamples"] == RESAMPLES and interval["level"] == 0.95
        assert interval["low"] <= b["minutes"] <= interval["high"], name
        assert b["stated_variance"]["fraction"] == (0.025 if name == "resnet" else 0.05)
    score = data["score_interval"]
    assert score["low"] <= data["score"] <= score["high"]
    suite = load_suite(json.loads((root / "campaign.json").read_text())["suite_file"])
    direct = score_paths([root], suite)
    assert direct.as_dict()["score_interval"] == score  # the same runs, the same interval
    text = cli("score", root).out
    assert "95 % interval" in text and "MLPerf's stated variance +/-2.5 % (image" in text
    assert "interval: 95 % interval: the runs (failed ones included) resampled" in text
