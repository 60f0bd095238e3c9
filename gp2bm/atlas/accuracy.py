"""How well ``expect`` predicts published results: every closed-division result predicted
from the others (leave one submission out), by the same rule and code ``gp2bm expect``
uses, as of the result's own round.

A submission left out is the result and every publication of the same runs (a result
published again in a later round or by a partner would otherwise predict itself). A result
is predicted when its accelerator and count have at least ``MIN_OTHERS`` other results
(on any number of nodes); the error is |predicted - published| / published.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from gp2bm.atlas.expectation import BenchmarkExpectation, expect_benchmark
from gp2bm.atlas.table import Atlas, AtlasRow

MIN_OTHERS = 2


@dataclass(frozen=True)
class Prediction:
    row: AtlasRow
    expected: BenchmarkExpectation

    @property
    def error(self) -> float:
        """The relative absolute error of the prediction."""
        assert self.row.minutes is not None and self.expected.minutes is not None
        return abs(self.expected.minutes - self.row.minutes) / self.row.minutes


@dataclass(frozen=True)
class Accuracy:
    benchmark: str
    predictions: tuple[Prediction, ...]

    @property
    def errors(self) -> list[float]:
        return [p.error for p in self.predictions]

    @property
    def median(self) -> float | None:
        return statistics.median(self.errors) if self.errors else None

    @property
    def p90(self) -> float | None:
        """The 90th percentile of the errors (linear between order statistics)."""
        errors = self.errors
        if len(errors) < 2:
            return errors[0] if errors else None
        return statistics.quantiles(errors, n=10, method="inclusive")[-1]


def leave_one_out(atlas: Atlas, benchmark: str) -> Accuracy:
    """Each eligible result of ``benchmark`` predicted from the rest of the atlas."""
    predictions = []
    for row in atlas.results(benchmark):
        if not row.accelerator or row.count is None:
            continue
        others = atlas.without(row)
        if len(others.results(benchmark, row.accelerator, row.count)) < MIN_OTHERS:
            continue
        expected = expect_benchmark(
            others, benchmark, row.accelerator, row.count, row.nodes, target_round=row.round
        )
        if expected.minutes is not None:
            predictions.append(Prediction(row, expected))
    return Accuracy(benchmark, tuple(predictions))
