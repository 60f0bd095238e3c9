"""How far a benchmark's result could move: a 95 % interval on it from its own runs, beside
the variance MLCommons states for MLPerf Training results.

The interval (``METHOD``) is a bootstrap of the olympic rule over the benchmark's runs. Its
runs, the failed ones included, are resampled with replacement ``RESAMPLES`` times, each
resample as many runs as the benchmark has; each resample is scored by MLCommons' olympic
rule exactly as the result is (``olympic.olympic_result``: the fastest dropped, the slowest
dropped unless a run failed; more failed runs than allowed give no result, which counts as
slower than any). The ends are the 2.5 % and 97.5 % points of the resampled results (the
250th and the 9750th of the 10000 in order: the smallest result with at least that share
of the resamples at or below it), times the result's scaling factor, held fixed (the
resamples do not re-run the RCP check). When more than 2.5 % of the resamples have no
result there is no upper end: with one failed run of five, one resample in four holds two.

The seed is the first 6 bytes of the SHA-256 of the runs themselves (``spread_seed``: each
good run's minutes as Python's ``repr`` writes them, sorted, then one line per failed run,
and the failed runs the suite allows), so the same runs give the same interval on any
machine, in any order and under any file names; the resamples are drawn with
``random.Random(seed).random()``, the one generator Python promises to keep from version to
version.

The RFP score's interval (``SCORE_RULE``): the same bootstrap, joint over the benchmarks.
Resample i of the score is the sum of weight / result of resample i of every benchmark
(each drawn from its own seed, so the benchmarks are resampled independently, as their runs
are independent), a resample where any benchmark has no result has no score (lower than
any); the ends are its 2.5 % and 97.5 % points (no lower end when more than 2.5 % of the
resamples have no score: a re-run may give no score at all).

MLPerf's stated variance (``STATED_SOURCE``): with its MLPerf Training results, MLCommons
states that even the olympic mean leaves a variance of very roughly +/-2.5 % for imaging
benchmarks and +/-5 % for the others; it is shown beside the interval, as a range around
the result.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from gp2bm.results.olympic import OLYMPIC_DROP, olympic_result

RESAMPLES = 10_000
LEVEL = 0.95
TAIL_PER_MILLE = 25  # 2.5 % of the resamples in each tail
SEED_SCHEMA = "gp2bm.spread/1"
# 48 bits: a seed every JSON reader keeps exact (JavaScript's numbers hold 53)
SEED_BYTES = 6
METHOD_NAME = "bootstrap of the olympic rule over the runs"
METHOD = (
    "95 % interval: the runs (failed ones included) resampled with replacement "
    f"{RESAMPLES} times, each resample scored by MLCommons' olympic rule as the result is "
    "(fastest dropped, slowest dropped unless a run failed, too many failed runs: no result, "
    "slower than any), the 2.5 % and 97.5 % points of the resampled results times the "
    "scaling factor; seeded by the SHA-256 of the runs' times (the same runs, the same "
    "interval)"
)
SCORE_RULE = (
    "the same bootstrap, joint: resample i of the score is the sum of weight / result of "
    "resample i of every benchmark (each benchmark from its own seed), a resample where a "
    "benchmark has no result has no score (lower than any); its 2.5 % and 97.5 % points"
)

# MLPerf Training's imaging benchmarks (the rules' "Vision" area); every other is "other".
IMAGE_BENCHMARKS = frozenset({"resnet", "ssd", "retinanet", "maskrcnn", "unet3d"})
IMAGE_VARIANCE = 0.025
OTHER_VARIANCE = 0.05
STATED_SOURCE = (
    "MLCommons, with its MLPerf Training results: even the olympic mean varies, very "
    "roughly +/-2.5 % for imaging benchmarks, +/-5 % for the others"
)


def spread_seed(times: Sequence[float], failed: int, max_failed_runs: int) -> int:
    """The seed of a benchmark's resamples: the first 6 bytes of the SHA-256 of its runs
    (good runs' minutes sorted, as ``repr`` writes them; a line per failed run; the
    failed runs allowed)."""
    lines = [SEED_SCHEMA, f"allowed {max_failed_runs}"]
    lines += [repr(float(t)) for t in sorted(times)]
    lines += ["failed"] * failed
    digest = hashlib.sha256("\n".join(lines).encode("ascii")).digest()
    return int.from_bytes(digest[:SEED_BYTES], "big")


def resampled_results(
    times: Sequence[float], failed: int, max_failed_runs: int, resamples: int, seed: int
) -> list[float | None]:
    """The unscaled olympic result of each of ``resamples`` resamples of the runs (None: no
    result), drawn with ``random.Random(seed)``: ``olympic_result`` of each resample, to
    the bit (the good runs are sorted, so a resample's indices sorted are its times in
    order: the olympic rule's drops are the ends of that list, and its mean the same sum in
    the same order; ``tests/test_spread.py`` holds the two to each other)."""
    good = sorted(times)
    n, m = len(good) + failed, len(good)
    draw = random.Random(seed).random
    most = min(max_failed_runs, OLYMPIC_DROP)  # more failed runs: no result
    out: list[float | None] = []
    for _ in range(resamples):
        drawn = sorted(i for i in (int(draw() * n) for _ in range(n)) if i < m)
        lost = n - len(drawn)
        kept = drawn[OLYMPIC_DROP : len(drawn) - (OLYMPIC_DROP - lost)] if lost <= most else []
        out.append(sum([good[i] for i in kept]) / len(kept) if kept else None)
    return out


def rank(count: int, per_mille: int) -> int:
    """The 1-based rank of the ``per_mille`` point of ``count`` ordered values: the smallest
    with at least that share at or below it."""
    return max(1, -(-count * per_mille // 1000))


def percentile_ends(results: Sequence[float | None]) -> tuple[float | None, float | None]:
    """The 2.5 % and 97.5 % points of ``results`` (None, no result, is slower than any; an
    end that falls on one is None)."""
    ordered = sorted(results, key=lambda r: math.inf if r is None else r)
    count = len(ordered)
    return (
        ordered[rank(count, TAIL_PER_MILLE) - 1],
        ordered[rank(count, 1000 - TAIL_PER_MILLE) - 1],
    )


@dataclass(frozen=True)
class Interval:
    """A benchmark's 95 % interval, in minutes scaled as its result is (``METHOD``)."""

    low: float | None  # None: no interval (``reason`` says why)
    high: float | None  # None with a low end: no upper end
    unscaled_low: float | None = None
    unscaled_high: float | None = None
    runs: int = 0
    seed: int | None = None
    no_result: float | None = None  # the share of the resamples with no result
    resamples: int = RESAMPLES
    reason: str = ""
    # each resample's result, scaled (None: no result), in draw order: the score's
    # joint bootstrap pairs resample i of every benchmark
    resampled: tuple[float | None, ...] = field(default=(), repr=False, compare=False)

    @property
    def exists(self) -> bool:
        return self.low is not None

    def text(self, digits: int = 6) -> str:
        """``0.002401 to 0.002471 min``; ``none (why)``; an open end said so."""
        if self.low is None:
            return f"none ({self.reason})"
        if self.high is None:
            return f"{self.low:.{digits}f} min to no upper end ({self.reason})"
        return f"{self.low:.{digits}f} to {self.high:.{digits}f} min"

    def as_dict(self) -> dict:
        return {
            "method": METHOD_NAME,
            "level": LEVEL,
            "low": self.low,
            "high": self.high,
            "unscaled_low": self.unscaled_low,
            "unscaled_high": self.unscaled_high,
            "runs": self.runs,
            "resamples": self.resamples,
            "seed": self.seed,
            "no_result_share": self.no_result,
            "reason": self.reason or None,
        }


@lru_cache(maxsize=512)
def _unscaled(
    times: tuple[float, ...], failed: int, max_failed_runs: int, resamples: int
) -> tuple[float | None, float | None, int, float, tuple[float | None, ...]]:
    seed = spread_seed(times, failed, max_failed_runs)
    results = resampled_results(times, failed, max_failed_runs, resamples, seed)
    low, high = percentile_ends(results)
    return low, high, seed, sum(r is None for r in results) / resamples, tuple(results)


def benchmark_interval(
    times: Sequence[float],
    failed: int,
    max_failed_runs: int,
    factor: float | None,
    resamples: int = RESAMPLES,
) -> Interval:
    """The interval on the result of a benchmark whose good runs took ``times`` minutes and
    of which ``failed`` runs failed, scaled by ``factor`` (its result's); computed once for
    the same runs (each report asks for it)."""
    key = tuple(sorted(float(t) for t in times))
    return _benchmark_interval(key, failed, max_failed_runs, factor, resamples)


@lru_cache(maxsize=256)
def _benchmark_interval(
    times: tuple[float, ...], failed: int, max_failed_runs: int, factor: float | None,
    resamples: int,
) -> Interval:
    runs = len(times) + failed
    if factor is None:
        return Interval(None, None, runs=runs, resamples=resamples, reason="no scaling factor")
    if olympic_result(times, failed, max_failed_runs) is None:
        return Interval(None, None, runs=runs, resamples=resamples, reason="no result")
    low, high, seed, no_result, results = _unscaled(times, failed, max_failed_runs, resamples)
    reason = "" if high is not None else f"{no_result * 100:.1f} % of the resamples have no result"
    if low is None:
        high = None
    return Interval(
        low=None if low is None else low * factor,
        high=None if high is None else high * factor,
        unscaled_low=low,
        unscaled_high=high,
        runs=runs,
        seed=seed,
        no_result=no_result,
        resamples=resamples,
        reason=reason,
        resampled=tuple(None if r is None else r * factor for r in results),
    )


@dataclass(frozen=True)
class StatedVariance:
    """MLPerf's stated variance of a benchmark's results, as a range around its result."""

    fraction: float
    area: str  # "image" or "other"
    low: float | None
    high: float | None

    def text(self, digits: int = 6) -> str:
        span = f"+/-{self.fraction * 100:g} % ({self.area} benchmarks)"
        if self.low is None or self.high is None:
            return span
        return f"{span}: {self.low:.{digits}f} to {self.high:.{digits}f} min"

    def as_dict(self) -> dict:
        return {
            "fraction": self.fraction,
            "area": self.area,
            "low": self.low,
            "high": self.high,
            "source": STATED_SOURCE,
        }


def stated_variance(benchmark: str, minutes: float | None) -> StatedVariance:
    image = benchmark in IMAGE_BENCHMARKS
    fraction = IMAGE_VARIANCE if image else OTHER_VARIANCE
    if minutes is None:
        return StatedVariance(fraction, "image" if image else "other", None, None)
    low, high = minutes * (1 - fraction), minutes * (1 + fraction)
    return StatedVariance(fraction, "image" if image else "other", low, high)


@dataclass(frozen=True)
class ScoreInterval:
    """The RFP score's 95 % interval (``SCORE_RULE``)."""

    low: float | None  # None: no lower end (more than 2.5 % of the resamples: no score)
    high: float | None  # None: neither end (more than 97.5 %)
    no_score: float = 0.0  # the share of the resamples with no score

    def text(self, digits: int = 6) -> str:
        share = f"{self.no_score * 100:.1f} % of the resamples have no score"
        if self.high is None:
            return f"none ({share})"
        if self.low is None:
            return f"no lower end to {self.high:.{digits}f} ({share})"
        return f"{self.low:.{digits}f} to {self.high:.{digits}f}"

    def as_dict(self) -> dict:
        return {
            "level": LEVEL,
            "low": self.low,
            "high": self.high,
            "no_score_share": self.no_score,
            "rule": SCORE_RULE,
        }


def resampled_scores(terms: Sequence[tuple[float, Interval]]) -> list[float | None]:
    """Resample i of the score: the sum of weight / resample i of each benchmark (None
    where one has no result)."""
    out: list[float | None] = []
    for results in zip(*(i.resampled for _, i in terms), strict=True):
        if any(r is None or r <= 0 for r in results):
            out.append(None)
        else:
            out.append(sum(w / r for (w, _), r in zip(terms, results, strict=True) if r))
    return out


def score_interval(terms: Sequence[tuple[float, Interval]]) -> ScoreInterval | None:
    """The score's interval from each benchmark's weight and interval (its resamples);
    None when a benchmark has no interval. Computed once per set of terms: every report
    of a campaign (and verify, rendering each again) asks for the same one."""
    return _score_interval(tuple((float(w), i) for w, i in terms))


@lru_cache(maxsize=64)
def _score_interval(terms: tuple[tuple[float, Interval], ...]) -> ScoreInterval | None:
    # an Interval's hash leaves its resamples out: they follow from its seed (the runs'
    # times), its ends (the scaling factor), its runs and its resample count, which it has
    if not terms or any(i.low is None or not i.resampled for _, i in terms):
        return None
    scores = resampled_scores(terms)
    # no score is lower than any: in ascending order the Nones come first
    ordered = sorted(scores, key=lambda s: -math.inf if s is None else s)
    count = len(ordered)
    low = ordered[rank(count, TAIL_PER_MILLE) - 1]
    high = ordered[rank(count, 1000 - TAIL_PER_MILLE) - 1]
    no_score = sum(s is None for s in scores) / count
    return ScoreInterval(low, high, no_score)
