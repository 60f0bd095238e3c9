"""The reference rules verify holds a bundle to (gp2bm/evaluation/reference.py): rules, not
names. gp2bm's own suites that state the same RFP have no rule difference; a suite that
differs in one rule is named by that rule; the reference is the evaluator's file, else the
built-in suite of the bundle's suite's name, else GP2BM's."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from gp2bm.evaluation.reference import reference_suite, rule_differences, scoring_suite
from gp2bm.spec.suite import load_suite

MANIFESTS = Path(__file__).resolve().parent.parent / "manifests"


def suite(name: str):
    return load_suite(MANIFESTS / f"{name}.yaml")


@pytest.mark.parametrize("name", ["nvidia-v4.0", "gp2rfp"])
def test_gp2rfp_suites_have_the_same_rules(name):
    """A vendor's nvidia-v4.0 campaign is held to gp2rfp's rules without a difference."""
    assert rule_differences(suite(name), suite("gp2rfp")) == []


def test_lp2rfp_differs_from_gp2rfp_in_nodes_only():
    assert rule_differences(suite("lp2rfp"), suite("gp2rfp")) == [
        "rule nodes: the bundle's suite says 4, the reference 1"
    ]


def test_each_rule_that_differs_is_named():
    ref = suite("gp2rfp")
    benchmarks = dict(ref.benchmarks)
    benchmarks["bert"] = replace(benchmarks["bert"], weight=19.05, runs=5)
    other = replace(ref, benchmarks=benchmarks, rcp=False)
    found = rule_differences(other, ref)
    assert "rule rcp: the bundle's suite says False, the reference True" in found
    assert "rule bert.runs: the bundle's suite says 5, the reference 10" in found
    assert "rule bert.weight: the bundle's suite says 19.05, the reference 9.05" in found
    assert len(found) == 3
    # Scored by the reference's rules, the bundle's names kept.
    scored = scoring_suite(other, ref)
    assert scored.benchmarks["bert"].runs == 10 and scored.benchmarks["bert"].weight == 9.05
    assert scored.name == other.name


def test_a_benchmark_only_on_one_side_is_named():
    ref = suite("gp2rfp")
    only_resnet = replace(ref, benchmarks={"resnet": ref.benchmarks["resnet"]})
    assert rule_differences(only_resnet, ref) == [
        "rule benchmarks: bert is only in the reference"
    ]


def test_the_reference_is_the_evaluators_file_then_the_builtin_then_gp2bm(tmp_path):
    renamed = tmp_path / "our-rules.yaml"
    shutil.copy(MANIFESTS / "smoke.yaml", renamed)  # alone: its manifests are not beside it
    given = reference_suite(renamed, suite("nvidia-v4.0"))
    assert given.source == f"your suite file {renamed}"
    assert given.suite.name == "smoke"
    builtin = reference_suite(None, suite("smoke"))
    assert builtin.source == "gp2bm's built-in suite smoke"
    fallback = reference_suite(None, replace(suite("smoke"), name="vendor-own"))
    assert fallback.suite.name == "gp2rfp"
    assert "GP2BM" in fallback.source
    assert reference_suite(None, None).suite.name == "gp2rfp"
