"""The acceptance tolerance when none is given: MLPerf's stated variance of the benchmark's
area, or the committed result's own 95 % interval above it where that reaches further."""

from __future__ import annotations

import pytest

from gp2bm.evaluation.accept import benchmark_tolerance


def test_the_default_tolerance_is_mlperfs_or_wider():
    tight = {"minutes": 10.0, "interval": {"low": 9.99, "high": 10.01}}
    assert benchmark_tolerance("resnet", tight, None) == (
        pytest.approx(0.025), "MLPerf's stated variance of image benchmarks")
    assert benchmark_tolerance("bert", tight, None)[0] == pytest.approx(0.05)
    wide = {"minutes": 10.0, "interval": {"low": 9.0, "high": 11.0}}
    assert benchmark_tolerance("resnet", wide, None) == (
        pytest.approx(0.1), "the committed result's 95 % interval above it")
    # no interval (too few runs to resample): the stated variance
    assert benchmark_tolerance("resnet", {"minutes": 10.0}, None)[0] == pytest.approx(0.025)


def test_a_given_tolerance_wins():
    wide = {"minutes": 10.0, "interval": {"low": 9.0, "high": 11.0}}
    assert benchmark_tolerance("resnet", wide, 0.01) == (0.01, "the tolerance given")
