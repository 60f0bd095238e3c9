"""expect measured: every published result predicted from the others (leave one submission
out) by benchmarks/atlas_accuracy.py's code; the median error is at most 5 %."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO

from gp2bm.atlas import load_atlas
from gp2bm.atlas.accuracy import MIN_OTHERS, leave_one_out
from gp2bm.atlas.expectation import scaling_exponent


@pytest.fixture(scope="module")
def accuracy():
    atlas = load_atlas()
    return {b: leave_one_out(atlas, b) for b in ("resnet", "bert")}


@pytest.mark.parametrize("benchmark", ["resnet", "bert"])
def test_median_error_is_at_most_five_percent(accuracy, benchmark):
    result = accuracy[benchmark]
    assert len(result.predictions) > 150
    assert result.median <= 0.05
    assert result.median <= result.p90


@pytest.mark.parametrize("benchmark", ["resnet", "bert"])
def test_a_result_never_predicts_itself(accuracy, benchmark):
    atlas = load_atlas()
    for p in accuracy[benchmark].predictions:
        assert all(u.row.fingerprint != p.row.fingerprint for u in p.expected.used)
        others = atlas.without(p.row).results(benchmark, p.row.accelerator, p.row.count)
        assert len(others) >= MIN_OTHERS
        assert p.expected.target_round == p.row.round


def test_the_script_prints_the_figures():
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "atlas_accuracy.py"), "--worst", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    for benchmark in ("resnet", "bert"):
        assert f"{benchmark}: " in done.stdout and "median absolute error" in done.stdout


def test_the_readme_states_the_measured_figures(accuracy):
    text = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    atlas = load_atlas()
    for benchmark, name in (("resnet", "ResNet"), ("bert", "BERT")):
        result = accuracy[benchmark]
        assert result.median is not None and result.p90 is not None
        stated = (
            f"{100 * result.median:.1f} % for {name} ({len(result.predictions)} results, "
            f"90th percentile {100 * result.p90:.1f} %)"
        )
        assert stated in text
        alpha = scaling_exponent(atlas, benchmark)
        assert alpha is not None and f"{alpha:.3f} for {name}" in text
