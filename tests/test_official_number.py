"""The number gp2bm shows is the number MLCommons' tools give (issue: score exactly what
MLCommons publishes), on logs written with mlperf_logging.mllog (tests/synth.py)."""

from __future__ import annotations

import json
import math
import shutil
import statistics

import pytest
from mlperf_logging.rcp_checker import rcp_checker
from synth import BERT_MINUTES, RESNET_MINUTES, write_benchmark, write_run

from gp2bm.cli.score import EXIT_CONTRACT
from gp2bm.results.runlog import parse_run_log
from gp2bm.results.scoring import score_run
from gp2bm.results.timing import timing_mismatch

ORG, SYSTEM = "org", "node1"


def olympic(times):
    return statistics.fmean(sorted(times)[1:-1])


def make_campaign(root, suite_file=None, suite="gp2rfp", **resnet_kw):
    """A gp2bm campaign folder: campaign.json and the submission layout."""
    meta = {"org": ORG, "system": SYSTEM, "suite": suite, "suite_file": suite_file}
    root.mkdir(parents=True, exist_ok=True)
    (root / "campaign.json").write_text(json.dumps(meta))
    results = root / ORG / "results" / SYSTEM
    write_benchmark(results / "resnet", "resnet", RESNET_MINUTES, **resnet_kw)
    write_benchmark(results / "bert", "bert", BERT_MINUTES)
    return root


def official_factor(folder, tmp_path, ruleset="3.1.0"):
    """The scaling.json MLCommons' package checker writes for a folder (on a copy)."""
    copy = tmp_path / "package-checker-copy"
    shutil.copytree(folder, copy)
    passed, _, _ = rcp_checker.check_directory(
        str(copy), "training", ruleset, False, False, rcp_pass="pruned_rcps", set_scaling=True
    )
    assert passed
    scaling = copy / "scaling.json"
    return json.loads(scaling.read_text())["scaling_factor"] if scaling.exists() else 1.0


# ------------------------------------------------------------ time to train, nothing else
@pytest.mark.parametrize("compliance", ["strict", "report"])
@pytest.mark.parametrize(
    "odd", [{"late_evals": True}, {"stop_before_last_eval_ms": 5000}], ids=["late", "stop"]
)
def test_time_going_back_in_accepted_logs_counts(cli, tmp_path, compliance, odd):
    folder = tmp_path / "resnet"
    write_benchmark(folder, "resnet", RESNET_MINUTES, **odd)
    res = cli("score", folder, "--json", "--compliance", compliance)
    b = res.json()["benchmarks"]["resnet"]
    assert b["valid"], (b["problems"], [r["reasons"] for r in b["runs"]])
    assert all(r["role"] != "failed" for r in b["runs"])
    assert math.isclose(b["minutes"], olympic(RESNET_MINUTES), rel_tol=1e-12)
    assert all(any("time goes back" in n for n in r["notes"]) for r in b["runs"])


# ------------------------------------------------------------ gp2bm's own timing
def _record(root, bench, n, observed):
    folder = root / "records" / bench
    folder.mkdir(parents=True, exist_ok=True)
    record = {"benchmark": bench, "run": n, "status": "success", "observed_seconds": observed}
    (folder / f"run_{n}.json").write_text(json.dumps(record))


@pytest.mark.reliability("clock-step-synthetic")
def test_own_timing_catches_a_clock_step_in_a_campaign(cli, tmp_path):
    root = make_campaign(tmp_path / "campaign")
    for n, minutes in enumerate(RESNET_MINUTES):
        _record(root, "resnet", n, minutes * 60 + 0.4)
    _record(root, "resnet", 2, RESNET_MINUTES[2] * 60 + 120)  # the clock went back 2 min
    res = cli("score", root, "--json")
    runs = {r["file"]: r for r in res.json()["benchmarks"]["resnet"]["runs"]}
    assert runs["result_2.txt"]["role"] == "failed"
    assert any("gp2bm measured" in why for why in runs["result_2.txt"]["reasons"])
    assert runs["result_2.txt"]["observed_seconds"] == RESNET_MINUTES[2] * 60 + 120
    assert all(runs[f"result_{n}.txt"]["role"] != "failed" for n in (0, 1, 3, 4))


def test_own_timing_is_never_applied_to_a_log_alone(tmp_path):
    path = write_run(tmp_path / "resnet", 0, "resnet", 30.0)
    run = score_run(parse_run_log(path, target=0.759), "off", "3.1.0")
    assert not run.failed and run.observed_seconds is None
    assert timing_mismatch(30.0, 30 * 60 + 4.9) is None
    assert "gp2bm measured 1920.0 s" in timing_mismatch(30.0, 1920.0)


# ------------------------------------------------------------ which files are result logs
def test_any_result_name_is_a_result_log(cli, tmp_path):
    folder = tmp_path / "resnet"
    names = [
        "result_220520100725096152634_1.txt",
        "result_220520100725096152634_10.txt",
        "result_220520100725096152634_2.txt",
        "result_a.txt",
        "result_.txt",
    ]
    for n, (name, minutes) in enumerate(zip(names, RESNET_MINUTES, strict=True)):
        write_run(folder, n, "resnet", minutes, name=name)
    (folder / "results_0.txt").write_text("not a result log")
    res = cli("score", folder, "--json")
    b = res.json()["benchmarks"]["resnet"]
    assert b["valid"], b["problems"]
    assert [r["file"] for r in b["runs"]] == [  # numbers compared as numbers
        "result_220520100725096152634_1.txt",
        "result_220520100725096152634_2.txt",
        "result_220520100725096152634_10.txt",
        "result_.txt",
        "result_a.txt",
    ]
    assert math.isclose(b["minutes"], olympic(RESNET_MINUTES), rel_tol=1e-12)


def test_stray_subfolder_of_a_benchmark_folder_is_not_scored(cli, tmp_path):
    folder = tmp_path / "system" / "resnet"
    write_benchmark(folder, "resnet", RESNET_MINUTES)
    write_benchmark(folder / "bert", "bert", BERT_MINUTES)
    data = cli("score", tmp_path / "system", "--json").json()
    assert list(data["benchmarks"]) == ["resnet"]
    assert data["missing"] == ["bert"]


# ------------------------------------------------------------ the campaign's RCP factor
def test_campaign_gets_the_rcp_factor_mlcommons_would_write(cli, tmp_path):
    root = make_campaign(tmp_path / "campaign", epochs=35)  # faster than the RCP mean 35.15
    resnet_dir = root / ORG / "results" / SYSTEM / "resnet"
    factor = official_factor(resnet_dir, tmp_path)
    assert factor > 1
    res = cli("score", root, "--json")
    assert res.code == 0, res.out
    data = res.json()
    b = data["benchmarks"]["resnet"]
    assert b["scaling_source"] == "rcp" and b["scaling_factor"] == factor
    assert math.isclose(b["unscaled_minutes"], olympic(RESNET_MINUTES), rel_tol=1e-12)
    assert math.isclose(b["minutes"], factor * olympic(RESNET_MINUTES), rel_tol=1e-12)
    assert "faster than the RCP mean" in b["scaling_reason"]
    assert data["benchmarks"]["bert"]["scaling_factor"] == 1.0
    expected = 7.19 / b["minutes"] + 9.05 / olympic(BERT_MINUTES)
    assert math.isclose(data["score"], expected, rel_tol=1e-12)
    assert not (resnet_dir / "scaling.json").exists()  # the evidence is not modified
    # the same logs outside a campaign are scored as the summarizer does: no scaling.json, 1
    copy = tmp_path / "published" / "resnet"
    shutil.copytree(resnet_dir, copy)
    published = cli("score", copy, "--json").json()["benchmarks"]["resnet"]
    assert published["scaling_factor"] == 1.0 and published["scaling_source"] == "none"
    assert published["rcp"]["factor"] == factor


def test_failed_rcp_check_has_no_factor(cli, tmp_path):
    root = make_campaign(tmp_path / "campaign", epochs=30)  # beyond the maximum speedup
    res = cli("score", root, "--json", "--compliance", "report")
    assert res.code == 1
    b = res.json()["benchmarks"]["resnet"]
    assert b["rcp"]["passed"] is False and b["rcp"]["factor"] is None
    assert b["scaling_factor"] is None and b["minutes"] is None and b["valid"] is False
    assert math.isclose(b["unscaled_minutes"], olympic(RESNET_MINUTES), rel_tol=1e-12)
    assert "RCP check failed" in b["scaling_reason"]
    # --rcp on a published folder: the same, no factor
    folder = root / ORG / "results" / SYSTEM / "resnet"
    copy = tmp_path / "published" / "resnet"
    shutil.copytree(folder, copy)
    b = cli("score", copy, "--json", "--rcp").json()["benchmarks"]["resnet"]
    assert b["scaling_factor"] is None and b["minutes"] is None


# ------------------------------------------------------------ the campaign's suite, layout
def test_score_campaign_uses_its_own_suite(cli, tmp_path):
    suite = tmp_path / "mini.yaml"
    suite.write_text(
        "name: mini\nruleset: 3.1.0\nnodes: 1\nscore: {formula: 7.19/R}\n"
        "checks: {compliance: strict, rcp: false}\n"
        "benchmarks:\n  resnet: {manifest: resnet.yaml, runs: 5, target: 0.759, weight: 7.19, "
        "symbol: R}\n"
    )
    root = tmp_path / "campaign"
    root.mkdir()
    meta = {"org": ORG, "system": SYSTEM, "suite": "mini", "suite_file": str(suite)}
    (root / "campaign.json").write_text(json.dumps(meta))
    write_benchmark(root / ORG / "results" / SYSTEM / "resnet", "resnet", RESNET_MINUTES)
    res = cli("score", root, "--json")
    assert res.code == 0, res.out + res.err
    data = res.json()
    assert data["suite"] == "mini" and data["missing"] == []
    assert math.isclose(data["score"], 7.19 / olympic(RESNET_MINUTES), rel_tol=1e-12)
    assert data["campaign"] == str(root.resolve())


def test_benchmark_whose_every_run_aborted_is_reported(cli, tmp_path):
    root = make_campaign(tmp_path / "campaign")
    bert = root / ORG / "results" / SYSTEM / "bert"
    for n in range(10):
        (bert / f"result_{n}.txt").write_text("Traceback (most recent call last):\n  killed\n")
    res = cli("score", root, "--json")
    assert res.code == 1, res.err
    b = res.json()["benchmarks"]["bert"]
    assert b["valid"] is False and len(b["runs"]) == 10
    assert all(r["role"] == "failed" for r in b["runs"])
    assert any("10 failed runs" in p for p in b["problems"])
    assert res.json()["benchmarks"]["resnet"]["valid"] is True


def test_campaign_scores_only_its_results(cli, tmp_path):
    root = make_campaign(tmp_path / "campaign")
    source = root / "implementations" / "resnet"
    source.mkdir(parents=True)
    (source / "result_parser.txt").write_text("notes of the implementation, not a log\n")
    res = cli("score", root, "--json")
    assert res.code == 0, res.out + res.err
    assert sorted(res.json()["benchmarks"]) == ["bert", "resnet"]


def test_log_naming_another_benchmark_in_a_campaign_fails_its_run(cli, tmp_path):
    root = make_campaign(tmp_path / "campaign")
    write_run(root / ORG / "results" / SYSTEM / "resnet", 4, "bert", 20.0)
    runs = cli("score", root, "--json").json()["benchmarks"]["resnet"]["runs"]
    assert runs[4]["role"] == "failed"
    assert any("names benchmark 'bert'" in why for why in runs[4]["reasons"])


# ------------------------------------------------------------ the exit code
def test_exit_codes_follow_the_contract(cli, tmp_path):
    root = make_campaign(tmp_path / "campaign")
    assert cli("score", root).code == 0
    one = cli("score", root / ORG / "results" / SYSTEM / "resnet", "--json")
    assert one.code == 1
    assert one.json()["score"] is None and one.json()["missing"] == ["bert"]
    assert one.json()["benchmarks"]["resnet"]["valid"] is True
    assert cli("score", tmp_path / "nothing").code == 2
    help_text = " ".join(cli("score", "--help").out.replace("│", " ").split())
    assert " ".join(EXIT_CONTRACT.split()) in help_text


# ------------------------------------------------------------ scaling.json is MLCommons'
@pytest.mark.parametrize(
    "factor", ["0.5", "1e-300", "0", "-2", "NaN", "Infinity", "true", '"1.2"', "null"]
)
def test_scaling_factor_must_be_at_least_one(cli, tmp_path, factor):
    folder = tmp_path / "resnet"
    write_benchmark(folder, "resnet", RESNET_MINUTES)
    (folder / "scaling.json").write_text('{"scaling_factor": ' + factor + "}")
    res = cli("score", folder)
    assert res.code == 2, res.out
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and str(folder / "scaling.json") in lines[0]
    assert "Traceback" not in res.err
