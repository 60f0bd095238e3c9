"""Edge cases of scoring, on logs written with mlperf_logging.mllog (tests/synth.py)."""

from __future__ import annotations

import json
import math
import statistics

import pytest
from synth import BERT_MINUTES, RESNET_MINUTES, write_benchmark, write_run


def olympic(times):
    s = sorted(times)
    return statistics.fmean(s[1:-1])


@pytest.fixture
def campaign(tmp_path):
    root = tmp_path / "campaign"
    write_benchmark(root / "org/results/sys/resnet", "resnet", RESNET_MINUTES)
    write_benchmark(root / "org/results/sys/bert", "bert", BERT_MINUTES)
    return root


def test_clean_campaign_passes_compliance_and_rcp(cli, campaign):
    res = cli("score", campaign, "--json")
    assert res.code == 0, res.out + res.err
    data = res.json()
    assert data["ruleset"] == "3.1.0" and data["compliance"] == "strict"
    for name, minutes in (("resnet", RESNET_MINUTES), ("bert", BERT_MINUTES)):
        b = data["benchmarks"][name]
        assert b["valid"], b["problems"]
        assert b["rcp"]["passed"], b["rcp"]
        assert b["seeds"]["passed"]
        assert all(r["compliance"]["passed"] for r in b["runs"]), b["runs"]
        assert math.isclose(b["minutes"], olympic(minutes), rel_tol=1e-12)
    expected = 7.19 / olympic(RESNET_MINUTES) + 9.05 / olympic(BERT_MINUTES)
    assert math.isclose(data["score"], expected, rel_tol=1e-12)


def _resnet(cli, folder, *extra):
    res = cli("score", folder, "--json", *extra)
    return res, res.json()["benchmarks"]["resnet"]


def test_one_failed_run_replaces_dropped_slowest(cli, tmp_path):
    folder = tmp_path / "resnet"
    write_benchmark(folder, "resnet", RESNET_MINUTES[:4])
    write_run(folder, 4, "resnet", 28.0, status="aborted")
    res, b = _resnet(cli, folder)
    assert b["valid"] and res.code == 1  # valid, but bert is missing: no suite score
    assert res.json()["missing"] == ["bert"]
    runs = {r["file"]: r for r in b["runs"]}
    assert runs["result_4.txt"]["role"] == "failed"
    assert "aborted" in runs["result_4.txt"]["reasons"][0]
    # good runs 30, 31.5, 29, 30.5: drop fastest (29) only, keep the slowest
    assert runs["result_2.txt"]["role"] == "dropped (fastest)"
    assert runs["result_1.txt"]["role"] == "counted"
    assert math.isclose(b["minutes"], statistics.fmean([30.0, 31.5, 30.5]), rel_tol=1e-12)


def test_two_failed_runs_make_benchmark_invalid(cli, tmp_path):
    folder = tmp_path / "resnet"
    write_benchmark(folder, "resnet", RESNET_MINUTES[:3])
    write_run(folder, 3, "resnet", 30.0, status="aborted")
    write_run(folder, 4, "resnet", 30.0, reach_target=False, status="aborted")
    res, b = _resnet(cli, folder)
    assert res.code == 1
    assert b["valid"] is False and b["minutes"] is None
    assert any("2 failed runs" in p for p in b["problems"])
    assert res.json()["score"] is None


def test_fastest_run_failed(cli, tmp_path):
    folder = tmp_path / "resnet"
    write_benchmark(folder, "resnet", [30.0, 31.0, 32.0, 33.0])
    write_run(folder, 4, "resnet", 10.0, status="aborted")  # would be the fastest
    res, b = _resnet(cli, folder)
    assert b["valid"]
    # the failed 10-minute run is not the dropped fastest: 30 is; 33 stays in
    assert math.isclose(b["minutes"], statistics.fmean([31.0, 32.0, 33.0]), rel_tol=1e-12)


def test_duplicate_run_start_fails_the_run(cli, tmp_path):
    folder = tmp_path / "resnet"
    write_benchmark(folder, "resnet", RESNET_MINUTES[:4])
    write_run(folder, 4, "resnet", 30.0, duplicate_run_start=True)
    res, b = _resnet(cli, folder, "--compliance", "off")
    run = b["runs"][4]
    assert run["role"] == "failed"
    assert any("second run_start" in r for r in run["reasons"])
    # time to train is measured from the FIRST run_start, never shortened
    assert math.isclose(run["minutes"], 30.0, rel_tol=1e-9)


def test_truncated_file_is_a_failed_run(cli, tmp_path):
    folder = tmp_path / "resnet"
    paths = write_benchmark(folder, "resnet", RESNET_MINUTES)
    text = paths[3].read_text()
    paths[3].write_text(text[: len(text) * 2 // 3].rsplit("\n", 1)[0][:-15])  # cut mid-line
    res, b = _resnet(cli, folder)
    run = b["runs"][3]
    assert run["role"] == "failed" and run["status"] == "no run_stop"
    assert any("no run_stop" in r for r in run["reasons"])
    assert b["valid"] is True  # one failed run is allowed
    good = [m for i, m in enumerate(RESNET_MINUTES) if i != 3]
    assert math.isclose(b["minutes"], statistics.fmean(sorted(good)[1:]), rel_tol=1e-12)


def test_lines_after_run_stop_are_read(cli, tmp_path):
    folder = tmp_path / "resnet"
    write_benchmark(folder, "resnet", RESNET_MINUTES, lines_after_stop=True)
    res, b = _resnet(cli, folder)
    assert b["valid"] and res.code == 1  # valid, but bert is missing: no suite score
    assert res.json()["missing"] == ["bert"]
    assert math.isclose(b["minutes"], olympic(RESNET_MINUTES), rel_tol=1e-12)


def test_mpirun_prefix_is_accepted(cli, tmp_path):
    folder = tmp_path / "resnet"
    write_benchmark(folder, "resnet", RESNET_MINUTES, prefix="[1,0]<stdout>")
    res, b = _resnet(cli, folder, "--compliance", "off")
    assert b["valid"]
    assert math.isclose(b["minutes"], olympic(RESNET_MINUTES), rel_tol=1e-12)


@pytest.mark.parametrize("first", [0, 1])
def test_files_numbered_from_0_or_1(cli, tmp_path, first):
    folder = tmp_path / "bert"
    write_benchmark(folder, "bert", BERT_MINUTES, first=first)
    res = cli("score", folder, "--json")
    b = res.json()["benchmarks"]["bert"]
    assert b["valid"], b["problems"]
    assert [r["file"] for r in b["runs"]] == [f"result_{first + i}.txt" for i in range(10)]
    assert math.isclose(b["minutes"], olympic(BERT_MINUTES), rel_tol=1e-12)


def test_files_sorted_numerically(cli, tmp_path):
    folder = tmp_path / "bert"
    write_benchmark(folder, "bert", BERT_MINUTES, first=1)
    res = cli("score", folder, "--json")
    files = [r["file"] for r in res.json()["benchmarks"]["bert"]["runs"]]
    assert files[-2:] == ["result_9.txt", "result_10.txt"]


def test_fewer_runs_than_required(cli, tmp_path):
    folder = tmp_path / "bert"
    write_benchmark(folder, "bert", BERT_MINUTES[:7])
    res = cli("score", folder, "--json")
    b = res.json()["benchmarks"]["bert"]
    assert res.code == 1 and b["valid"] is False
    assert "7 runs, fewer than the 10 required" in b["problems"]


def test_scaling_json(cli, tmp_path):
    folder = tmp_path / "resnet"
    write_benchmark(folder, "resnet", RESNET_MINUTES)
    (folder / "scaling.json").write_text(json.dumps({"scaling_factor": 1.25}))
    res, b = _resnet(cli, folder)
    assert b["scaling_source"] == "scaling.json" and b["scaling_factor"] == 1.25
    assert math.isclose(b["minutes"], 1.25 * olympic(RESNET_MINUTES), rel_tol=1e-12)


def test_rcp_factor_on_request(cli, tmp_path):
    folder = tmp_path / "resnet"
    write_benchmark(folder, "resnet", RESNET_MINUTES)
    (folder / "scaling.json").write_text(json.dumps({"scaling_factor": 1.25}))
    res, b = _resnet(cli, folder, "--rcp")
    assert b["scaling_source"] == "rcp"
    # these runs converge no faster than the RCP mean: factor 1
    assert b["scaling_factor"] == 1.0
    assert any("scaling.json says 1.25" in n for n in b["notes"])
    assert not (folder / "scaling.json").read_text() == ""  # evidence left untouched


def test_compliance_failure_strict_vs_report(cli, tmp_path):
    folder = tmp_path / "resnet"
    paths = write_benchmark(folder, "resnet", RESNET_MINUTES)
    # remove a required hyperparameter from one log
    lines = paths[0].read_text().splitlines(keepends=True)
    paths[0].write_text("".join(ln for ln in lines if '"lars_epsilon"' not in ln))
    _, strict = _resnet(cli, folder)
    assert strict["runs"][0]["role"] == "failed"
    assert any("lars_epsilon" in r for r in strict["runs"][0]["reasons"])
    _, report = _resnet(cli, folder, "--compliance", "report")
    assert report["runs"][0]["role"] != "failed"
    assert report["runs"][0]["compliance"]["passed"] is False
    assert any("lars_epsilon" in m for m in report["runs"][0]["compliance"]["messages"])
    _, off = _resnet(cli, folder, "--compliance", "off")
    assert off["runs"][0]["compliance"] is None


def test_target_not_reached_with_success_status(cli, tmp_path):
    folder = tmp_path / "resnet"
    write_benchmark(folder, "resnet", RESNET_MINUTES[:4])
    write_run(folder, 4, "resnet", 30.0, reach_target=False)
    _, b = _resnet(cli, folder, "--compliance", "off")
    assert b["runs"][4]["role"] == "failed"
    assert any("target 0.759" in r for r in b["runs"][4]["reasons"])


def test_same_seed_twice_fails_seed_check(cli, tmp_path):
    folder = tmp_path / "resnet"
    write_benchmark(folder, "resnet", RESNET_MINUTES, seed=42)
    res, b = _resnet(cli, folder)
    assert res.code == 1
    assert b["seeds"]["passed"] is False
    assert any("seed" in p for p in b["problems"])


def test_table_explains_each_run(cli, tmp_path):
    folder = tmp_path / "resnet"
    write_benchmark(folder, "resnet", RESNET_MINUTES[:4])
    write_run(folder, 4, "resnet", 28.0, status="aborted")
    res = cli("score", folder)
    assert "run_stop status is 'aborted'" in res.out
    assert "dropped (fastest)" in res.out and "counted" in res.out
    assert "score (7.19/R + 9.05/B): none" in res.out
