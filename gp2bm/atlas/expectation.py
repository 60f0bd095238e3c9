"""What the published results say a campaign will give, before it runs.

The rule (``RULE``, printed by ``gp2bm expect``), for each benchmark of the suite:

1. The closed-division results of the same accelerator (its one name) and the same count
   of accelerators on the same number of nodes; none there, the same count on another
   number of nodes. Each result counts once (the same runs published again, in a later
   round or by a partner, are one result, in its latest round).
2. Of those, the results of the round nearest the target round (unless told, the latest
   round that published the benchmark; of two as near, the later), widened to the next
   nearest rounds until there are at least ``MIN_RESULTS`` results: software gets faster
   from round to round, and the newest published software is what a campaign runs.
3. Expected minutes: their median; the range: their lowest and highest.
4. No result at that count: the same accelerator's nearest published count ``c`` (by
   ratio; of two as near, the larger), steps 1 to 3 there (the same number of nodes
   preferred), each time scaled to the count
   asked for as ``minutes x (c / count) ** alpha``; ``alpha`` is fitted from the atlas,
   per benchmark: the median, over accelerators and rounds, of the slope of log minutes
   against log count between neighbouring published counts (1 would be perfect scaling).
5. No result of that accelerator at all: it cannot tell.

The expected RFP score is the suite's sum of weight / expected minutes (its range from the
range's ends). The campaign's node time is, per benchmark, the suite's runs x (expected
minutes + the per-run initialisation): the median, over the results used, of each run's
``init_start`` to ``run_start`` as their logs stamp it (else the median of every closed
result of the benchmark). It is a lower bound: container start, data staging and the
time between runs are in no published log. Given a campaign's own measure of them
(``atlas.overheads``: node time less time to train, per run), that measure is used
instead.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from gp2bm.atlas.accelerators import accelerator_name
from gp2bm.atlas.overheads import ALL, Overhead
from gp2bm.atlas.table import Atlas, AtlasRow
from gp2bm.spec.suite import Suite

MIN_RESULTS = 3

EXACT = "exact"
OTHER_NODES = "other nodes"
SCALED = "scaled"
UNKNOWN = "cannot tell"

RULE = (
    "median of the closed-division results of the same accelerator, count and nodes "
    "(else the same count on other nodes), from the rounds nearest the target (unless told, "
    f"the benchmark's latest round) until there are {MIN_RESULTS}; with no result at that "
    "count, the nearest published count's, scaled by (that count / count) ** alpha (alpha "
    "fitted from the atlas per benchmark); range: lowest and highest of the results used; "
    "node time: runs x (expected minutes + median init_start..run_start of the results used)"
)


@dataclass(frozen=True)
class UsedResult:
    """A published result an expectation rests on, and how far it is from what is asked."""

    row: AtlasRow
    minutes: float  # its result, scaled to the count asked for where the rule scales
    rounds_away: int  # rounds between its round and the target round

    def as_dict(self) -> dict:
        r = self.row
        return {
            "round": r.round,
            "rounds_away": self.rounds_away,
            "submitter": r.submitter,
            "system": r.system,
            "accelerator": r.accelerator,
            "count": r.count,
            "nodes": r.nodes,
            "framework": r.framework,
            "published_minutes": r.minutes,
            "minutes": self.minutes,
            "source": r.source,
            "commit": r.commit,
        }


@dataclass(frozen=True)
class BenchmarkExpectation:
    benchmark: str
    basis: str  # EXACT | OTHER_NODES | SCALED | UNKNOWN
    explanation: str  # one sentence: what was used instead of an exact match, or why not
    minutes: float | None = None
    low: float | None = None
    high: float | None = None
    used: tuple[UsedResult, ...] = ()
    target_round: str = ""  # the round "rounds away" counts from
    alpha: float | None = None  # the scaling exponent, where the rule scaled
    runs: int = 0
    init_minutes: float | None = None  # per run
    init_source: str = ""
    node_minutes: float | None = None
    overhead_measured: bool = False  # init_minutes is a campaign's overhead per run

    def as_dict(self) -> dict:
        return {
            "benchmark": self.benchmark,
            "basis": self.basis,
            "explanation": self.explanation,
            "minutes": self.minutes,
            "low": self.low,
            "high": self.high,
            "target_round": self.target_round,
            "alpha": self.alpha,
            "runs": self.runs,
            "init_minutes": self.init_minutes,
            "init_source": self.init_source,
            "node_minutes": self.node_minutes,
            "overhead_measured": self.overhead_measured,
            "used": [u.as_dict() for u in self.used],
        }


@dataclass(frozen=True)
class Expectation:
    accelerator: str  # the one name (or the cleaned spelling) looked up
    accelerator_known: bool
    count: int
    nodes: int | None
    target_round: str | None  # None: each benchmark's latest round
    suite: str
    benchmarks: dict[str, BenchmarkExpectation] = field(default_factory=dict)
    score: float | None = None
    score_low: float | None = None
    score_high: float | None = None
    node_minutes: float | None = None
    rule: str = RULE

    @property
    def complete(self) -> bool:
        """Every benchmark of the suite has an expectation."""
        return all(b.minutes is not None for b in self.benchmarks.values())

    def as_dict(self) -> dict:
        return {
            "accelerator": self.accelerator,
            "accelerator_known": self.accelerator_known,
            "count": self.count,
            "nodes": self.nodes,
            "target_round": self.target_round,
            "suite": self.suite,
            "rule": self.rule,
            "benchmarks": {name: b.as_dict() for name, b in self.benchmarks.items()},
            "score": self.score,
            "score_low": self.score_low,
            "score_high": self.score_high,
            "node_minutes": self.node_minutes,
        }


def scaling_exponent(atlas: Atlas, benchmark: str) -> float | None:
    """alpha of step 4: the median slope of -log minutes / log count between neighbouring
    published counts of one accelerator in one round (closed division; None: no pair)."""
    medians: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in atlas.rows(benchmark=benchmark, division="closed"):
        if row.minutes is not None and row.count and row.accelerator:
            medians[(row.accelerator, row.round)][row.count].append(row.minutes)
    slopes = []
    for by_count in medians.values():
        counts = sorted(by_count)
        for low, high in zip(counts, counts[1:], strict=False):
            ratio = statistics.median(by_count[high]) / statistics.median(by_count[low])
            slopes.append(-math.log(ratio) / math.log(high / low))
    return statistics.median(slopes) if slopes else None


def _nearest(results: list[AtlasRow], rounds: list[str], target: str) -> list[tuple[AtlasRow, int]]:
    """The results of the rounds nearest ``target``, widened until MIN_RESULTS; each with
    its distance in rounds."""
    position = {name: i for i, name in enumerate(rounds)}
    at = position.get(target, len(rounds) - 1)

    def away(row: AtlasRow) -> int:
        return abs(position[row.round] - at)

    # nearer first; of two as near, the later round
    order = sorted(results, key=lambda r: (away(r), -position[r.round], r.key))
    chosen: list[tuple[AtlasRow, int]] = []
    for row in order:
        if len(chosen) >= MIN_RESULTS and away(row) > chosen[-1][1]:
            break
        chosen.append((row, away(row)))
    return chosen


def _nearest_count(results: list[AtlasRow], count: int) -> int | None:
    counts = {r.count for r in results if r.count}
    if not counts:
        return None
    return min(counts, key=lambda c: (abs(math.log(c / count)), -c))


def _from_results(
    benchmark: str, chosen: list[tuple[AtlasRow, int]], factor: float
) -> tuple[float, float, float, tuple[UsedResult, ...]]:
    used = tuple(UsedResult(row, row.minutes * factor, away) for row, away in chosen if row.minutes)
    times = [u.minutes for u in used]
    return statistics.median(times), min(times), max(times), used


def _init(atlas: Atlas, benchmark: str, used: tuple[UsedResult, ...]) -> tuple[float | None, str]:
    own = [u.row.init_minutes for u in used if u.row.init_minutes is not None]
    if own:
        return statistics.median(own), f"median of {len(own)} of the results used"
    every = [
        r.init_minutes
        for r in atlas.rows(benchmark=benchmark, division="closed")
        if r.init_minutes is not None
    ]
    if every:
        return statistics.median(every), f"median of all {len(every)} closed {benchmark} results"
    return None, "no published log stamps init_start"


def _rows_at_count(
    atlas: Atlas, benchmark: str, accelerator: str, count: int, nodes: int | None
) -> tuple[list[AtlasRow], str]:
    if nodes is not None:
        same = atlas.results(benchmark, accelerator, count, nodes)
        if same:
            return same, EXACT
        other = atlas.results(benchmark, accelerator, count)
        return other, OTHER_NODES
    return atlas.results(benchmark, accelerator, count), EXACT


def _where(count: int, nodes: int | None, accelerator: str) -> str:
    per = "" if nodes is None else f" on {nodes} node{'s' if nodes != 1 else ''}"
    return f"{count}x {accelerator}{per}"


def expect_benchmark(
    atlas: Atlas,
    benchmark: str,
    accelerator: str,
    count: int,
    nodes: int | None = None,
    runs: int = 0,
    target_round: str | None = None,
    overhead: Overhead | None = None,
) -> BenchmarkExpectation:
    """One benchmark's expectation by ``RULE`` (``nodes`` None: any node count);
    ``overhead``: a campaign's measured per-run overhead, used for the node time instead
    of the published logs' initialisation."""
    name = accelerator_name(accelerator)[0]
    rounds = atlas.rounds
    published = [r.round for r in atlas.rows(benchmark=benchmark)]
    target = target_round or (published[-1] if published else "")
    where = _where(count, nodes, name)
    results, basis = _rows_at_count(atlas, benchmark, name, count, nodes)
    factor, alpha, explanation = 1.0, None, f"{benchmark} results of {where}"
    if basis == OTHER_NODES and results:
        shown = sorted({r.nodes for r in results if r.nodes is not None})
        explanation = (
            f"no published {benchmark} result of {where}: used {count}x {name} on "
            f"{', '.join(map(str, shown))} node(s)"
        )
    if not results:
        everything = atlas.results(benchmark, name)
        near = _nearest_count(everything, count)
        alpha = scaling_exponent(atlas, benchmark)
        if near is None or alpha is None:
            return BenchmarkExpectation(
                benchmark,
                UNKNOWN,
                f"cannot tell: no published closed {benchmark} result of {name}",
                target_round=target,
                runs=runs,
            )
        results = _rows_at_count(atlas, benchmark, name, near, nodes)[0]
        factor, basis = (near / count) ** alpha, SCALED
        explanation = (
            f"no published {benchmark} result of {count}x {name}: used the nearest count, "
            f"{near}x, scaled by ({near}/{count})**{alpha:.3f} = {factor:.3f}"
        )
    minutes, low, high, used = _from_results(benchmark, _nearest(results, rounds, target), factor)
    init, init_source = (
        (overhead.minutes, overhead.source) if overhead else _init(atlas, benchmark, used)
    )
    node = runs * (minutes + (init or 0.0)) if runs else None
    return BenchmarkExpectation(
        benchmark, basis, explanation, minutes, low, high, used, target, alpha, runs, init,
        init_source, node, overhead is not None,
    )  # fmt: skip


def expect(
    atlas: Atlas,
    accelerator: str,
    count: int,
    nodes: int | None,
    suite: Suite,
    target_round: str | None = None,
    overheads: Mapping[str, Overhead] | None = None,
) -> Expectation:
    """What the published results say ``count`` accelerators on ``nodes`` nodes (None:
    any) will give for each benchmark of ``suite``, its RFP score and node time (RULE);
    ``overheads``: a campaign's measured per-run overheads (``atlas.overheads``)."""
    name, known = accelerator_name(accelerator)
    measured = overheads or {}
    found = {
        b: expect_benchmark(
            atlas,
            b,
            name,
            count,
            nodes,
            spec.runs,
            target_round,
            measured.get(b) or measured.get(ALL),
        )
        for b, spec in suite.benchmarks.items()
    }
    values = [(suite.benchmarks[b].weight, e) for b, e in found.items()]
    score = score_low = score_high = node = None
    if values and all(e.minutes for _, e in values):
        score = sum(w / e.minutes for w, e in values if e.minutes)
        score_low = sum(w / e.high for w, e in values if e.high)
        score_high = sum(w / e.low for w, e in values if e.low)
        node = sum(e.node_minutes or 0.0 for _, e in values)
    return Expectation(
        name,
        known,
        count,
        nodes,
        target_round,
        suite.name,
        found,
        score,
        score_low,
        score_high,
        node,
    )
