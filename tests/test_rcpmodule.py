"""MLCommons' RCP checker without scipy.stats: the same t-test, bit for bit, so the same
reference statistics, interpolations and verdicts."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy
import scipy.stats

from gp2bm.results.mlcommons import rcpmodule

module: Any = rcpmodule.rcp_checker()  # MLCommons' module: untyped
RCP_DIR = Path(module.__file__).parent


def same(a, b) -> bool:
    """Equal to the bit (NaN equal to NaN)."""
    a, b = float(a), float(b)
    return (math.isnan(a) and math.isnan(b)) or a.hex() == b.hex()


def test_the_checker_is_imported_without_scipy_stats():
    code = (
        "import sys\n"
        "from gp2bm.results.mlcommons.rcpmodule import rcp_checker\n"
        "m = rcp_checker()\n"
        "from mlperf_logging.package_checker import package_checker\n"
        "print('scipy.stats' in sys.modules, m.scipy.stats.ttest_ind_from_stats.__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "gp2bm.results.mlcommons.rcpmodule"]


def test_random_inputs_give_scipys_bits():
    rng = random.Random(5)
    for _ in range(3000):
        n1, n2 = rng.choice([1, 2, 3, 8, 10, 40]), rng.choice([1, 2, 5, 8, 10, 38])
        m1, m2 = rng.uniform(0, 100), rng.uniform(0, 100)
        s1, s2 = rng.choice([0.0, rng.uniform(0, 20)]), rng.choice([0.0, rng.uniform(0, 20)])
        if rng.random() < 0.5:
            m1, s1 = np.float64(m1), np.float64(s1)  # as np.mean / np.std give them
        with np.errstate(invalid="ignore", divide="ignore"):  # n1 = n2 = 1: 0/0, both ways
            theirs = scipy.stats.ttest_ind_from_stats(m1, s1, n1, m2, s2, n2, equal_var=True)
            ours = rcpmodule.ttest_ind_from_stats(m1, s1, n1, m2, s2, n2, equal_var=True)
        assert same(ours[0], theirs[0]) and same(ours[1], theirs[1]), (m1, s1, n1, m2, s2, n2)


def test_other_questions_go_to_scipy():
    args = (1.0, 2.0, 5, 3.0, 1.5, 7)
    theirs = scipy.stats.ttest_ind_from_stats(*args, equal_var=False, alternative="less")
    ours = rcpmodule.ttest_ind_from_stats(*args, equal_var=False, alternative="less")
    assert same(ours[1], theirs[1])
    assert rcpmodule.STATS.norm is scipy.stats.norm


def reference_files():
    return sorted(RCP_DIR.glob("training_*/rcps_*.json"))


def checker(ruleset: str, benchmark: str, stats_module):
    module.scipy = stats_module
    try:
        return module.RCP_Checker("training", ruleset, benchmark, False)
    finally:
        module.scipy = rcpmodule.SCIPY


@pytest.mark.parametrize("path", reference_files(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_reference_statistics_and_interpolations_are_scipys(path):
    ruleset = path.parent.name.split("_", 1)[1]
    benchmark = path.stem.split("_", 1)[1]
    if benchmark not in module.submission_runs["training"]:
        pytest.skip(f"{benchmark}: no submission run count in this mlperf-logging release")
    ours = checker(ruleset, benchmark, rcpmodule.SCIPY)
    theirs = checker(ruleset, benchmark, scipy)
    assert json.dumps(ours.rcp_data, default=float) == json.dumps(theirs.rcp_data, default=float)
    assert list(ours.pruned_rcp_data) == list(theirs.pruned_rcp_data)
    sizes = sorted(r["BS"] for r in theirs.rcp_data.values())
    for low, high in zip(sizes, sizes[1:], strict=False):
        if high - low < 2:
            continue
        bs = (low + high) // 2
        lo = ours._find_top_min_rcp(bs, "pruned_rcps")  # the pass gp2bm checks with
        hi = ours._find_bottom_max_rcp(bs, "pruned_rcps")
        if lo is None or hi is None:
            continue
        module.scipy = scipy
        try:
            _, expected = theirs._create_interp_rcp(bs, lo, hi)
        finally:
            module.scipy = rcpmodule.SCIPY
        _, got = ours._create_interp_rcp(bs, lo, hi)
        assert same(got["Min Epochs"], expected["Min Epochs"]), bs
