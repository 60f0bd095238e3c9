"""The campaign loop with the local runtime: real processes of the smoke workload."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from campaign_helpers import NO_DROP, bench_dir, digests, run_all_local, spawn_run_all, write_suite

from gp2bm.results.runlog import parse_run_log


@pytest.mark.slow
def test_smoke_campaign_end_to_end(cli, tmp_path):
    suite = write_suite(tmp_path / "suite")
    campaign = tmp_path / "campaign"
    res = run_all_local(cli, suite, campaign, "--json")
    assert res.code == 0, res.err[-2000:]
    data = res.json()
    assert data["score"] is not None and data["score"] > 0
    assert data["benchmarks"]["resnet"]["valid"] and data["benchmarks"]["bert"]["valid"]
    seeds = set()
    for bench, n in (("resnet", 5), ("bert", 10)):
        folder = bench_dir(campaign, bench)
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            f"result_{i}.txt" for i in range(n)
        )
        for i in range(n):
            text = (folder / f"result_{i}.txt").read_text()
            first = json.loads(text.splitlines()[0].split(":::MLLOG ", 1)[1])
            assert first["key"] == "cache_clear" and first["value"] is True
            trace = json.loads(text.splitlines()[1].split(":::MLLOG ", 1)[1])
            assert trace["key"] == "gp2bm_run" and trace["value"]["run"] == i
            record = json.loads((campaign / "records" / bench / f"run_{i}.json").read_text())
            assert record["status"] == "success" and record["exit_code"] == 0
            assert (
                record["seed"]
                == trace["value"]["seed"]
                == parse_run_log(folder / f"result_{i}.txt").seed
            )
            assert record["cache_drop"]["ok"] is True
            seeds.add(record["seed"])
    assert len(seeds) == 15  # a fresh seed per run
    # running again does nothing and scores the same
    again = run_all_local(cli, suite, campaign, "--json")
    assert again.code == 0 and again.json()["score"] == data["score"]
    assert "already there" in again.err


def test_dry_run_runs_nothing(cli, tmp_path):
    suite = write_suite(tmp_path / "suite", {"resnet": 2})
    res = run_all_local(cli, suite, tmp_path / "c", "--dry-run", "--json")
    assert res.code == 0
    plan = res.json()["plan"]
    assert [p["run"] for p in plan] == [0, 1]
    assert any("SEED=<fresh seed>" in a for a in plan[0]["command"])
    assert not (tmp_path / "c").exists()


def test_docker_dry_run_renders_docker_run(cli, tmp_path):
    digest = "sha256:" + "a" * 64
    suite = write_suite(tmp_path / "suite", {"resnet": 1}, image=f"127.0.0.1:5000/smoke@{digest}")
    res = cli("run-all", "--suite", suite, "--campaign", tmp_path / "c", "--dry-run", "--json")
    assert res.code == 0, res.err
    argv = res.json()["plan"][0]["command"]
    assert argv[:3] == ["docker", "run", "--rm"]
    assert argv[argv.index("--network") + 1] == "none"
    assert f"127.0.0.1:5000/smoke@{digest}" in argv
    assert "--privileged" not in argv


@pytest.mark.reliability("unpinned-image")
def test_unpinned_image_refused(cli, tmp_path):
    suite = write_suite(tmp_path / "suite", {"resnet": 1})
    res = cli("run-all", "--suite", suite, "--campaign", tmp_path / "c", *NO_DROP)
    assert res.code == 2
    assert "not pinned by digest" in res.err and "gp2bm pin resnet" in res.err
    assert len(res.err.strip().splitlines()) == 1


@pytest.mark.reliability("nonzero-exit")
def test_nonzero_exit_is_an_aborted_failed_run(cli, tmp_path):
    suite = write_suite(tmp_path / "suite", {"resnet": 5}, local_env={"SMOKE_FAIL": "crash"})
    campaign = tmp_path / "c"
    res = run_all_local(cli, suite, campaign, "--json")
    assert res.code == 1
    record = json.loads((campaign / "records/resnet/run_0.json").read_text())
    assert record["status"] == "aborted" and record["exit_code"] != 0
    assert "exit code" in record["reason"]
    runs = res.json()["benchmarks"]["resnet"]["runs"]
    assert all(r["role"] == "failed" for r in runs)
    assert any("aborted" in reason for reason in runs[0]["reasons"])


@pytest.mark.reliability("nonzero-exit")
def test_nonzero_exit_after_success_still_fails(cli, tmp_path, monkeypatch):
    """gp2bm's own closing line fails a run whose process exited non-zero."""
    suite = write_suite(tmp_path / "suite", {"resnet": 1}, local_env={"SMOKE_FAIL": "1"})
    res = run_all_local(cli, suite, tmp_path / "c", "--json")
    run = res.json()["benchmarks"]["resnet"]["runs"][0]
    assert run["role"] == "failed"


@pytest.mark.reliability("timeout")
def test_timeout_stops_the_run_and_marks_it_aborted(cli, tmp_path):
    suite = write_suite(tmp_path / "suite", {"resnet": 1}, extra_args=["--sleep-per-epoch", "5"])
    campaign = tmp_path / "c"
    t0 = time.monotonic()
    res = run_all_local(cli, suite, campaign, "--timeout", "2", "--json")
    assert time.monotonic() - t0 < 30
    record = json.loads((campaign / "records/resnet/run_0.json").read_text())
    assert record["status"] == "aborted" and record["reason"].startswith("timeout after 2")
    run = res.json()["benchmarks"]["resnet"]["runs"][0]
    assert run["role"] == "failed"


@pytest.mark.reliability("cache-drop-failure")
def test_cache_drop_failure_stops_campaign(cli, tmp_path):
    suite = write_suite(tmp_path / "suite", {"resnet": 3})
    campaign = tmp_path / "c"
    res = run_all_local(cli, suite, campaign, cache_drop=["--cache-drop-command", "false"])
    assert res.code == 1 and "cache drop before resnet run 0 failed" in res.err
    assert not bench_dir(campaign, "resnet").exists() or not any(
        bench_dir(campaign, "resnet").iterdir()
    )
    assert (campaign / "records/resnet/cache_drop_failure_0.json").exists()
    # allowed: the runs go on, and the logs say the cache was not cleared
    res = run_all_local(
        cli, suite, campaign, "--allow-cache-drop-failure", "--json",
        cache_drop=["--cache-drop-command", "false"],
    )
    assert res.code == 0, res.err
    first = bench_dir(campaign, "resnet").joinpath("result_0.txt").read_text().splitlines()[0]
    assert '"key": "cache_clear", "value": false' in first


def _wait_for(predicate, timeout=60):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def _train_processes(marker: str) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes()
            except OSError:
                continue
            if b"train.py" in cmd and marker.encode() in cmd:
                pids.append(int(d.name))
    return pids


@pytest.mark.slow
@pytest.mark.reliability("kill-mid-run")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_mid_run_resumes(cli, tmp_path, sig):
    marker = "0.0517"  # a unique --sleep-per-epoch value to find our processes
    suite = write_suite(tmp_path / "suite", {"resnet": 4}, extra_args=["--sleep-per-epoch", marker])
    campaign = tmp_path / "c"
    proc = spawn_run_all(suite, campaign)
    partial = campaign / "records/resnet/result_2.txt.partial"
    try:
        _wait_for(lambda: partial.exists() and partial.stat().st_size > 2000, timeout=120)
    finally:
        os.kill(proc.pid, sig)
        proc.wait(timeout=60)
    if sig == signal.SIGTERM:
        assert proc.returncode == 130, proc.stderr.read().decode()
    before = digests(bench_dir(campaign, "resnet"))
    assert sorted(before) == ["result_0.txt", "result_1.txt"]
    _wait_for(lambda: not _train_processes(marker), timeout=10)  # nothing left running
    partial_bytes = partial.read_bytes()

    res = run_all_local(cli, suite, campaign, "--json")
    after = digests(bench_dir(campaign, "resnet"))
    assert sorted(after) == [f"result_{i}.txt" for i in range(4)]
    assert {k: after[k] for k in before} == before  # finished runs byte-identical
    attempt = campaign / "records/resnet/attempts/result_2.attempt1.txt"
    assert attempt.read_bytes() == partial_bytes
    rec = json.loads((campaign / "records/resnet/attempts/run_2.attempt1.json").read_text())
    assert rec["status"] == "interrupted"
    # the attempt's telemetry is kept beside it, not overwritten by the redone run
    assert (campaign / "records/resnet/attempts/telemetry_2.attempt1.csv").exists()
    assert (campaign / "records/resnet/telemetry_2.csv").exists()
    assert not partial.exists()
    assert "kept 1 interrupted log" in res.err
    assert not _train_processes(marker)


@pytest.mark.slow
@pytest.mark.reliability("two-run-all")
def test_second_run_all_is_refused(cli, tmp_path):
    suite = write_suite(tmp_path / "suite", {"resnet": 3}, extra_args=["--sleep-per-epoch", "0.05"])
    campaign = tmp_path / "c"
    proc = spawn_run_all(suite, campaign)
    try:
        _wait_for(lambda: (campaign / "records/resnet/run_0.json").exists(), timeout=60)
        res = run_all_local(cli, suite, campaign)
        assert res.code == 2 and "in use by another gp2bm" in res.err
    finally:
        proc.wait(timeout=120)
    assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]


def test_run_one_benchmark(cli, tmp_path):
    suite = write_suite(tmp_path / "suite", {"resnet": 2, "bert": 2})
    campaign = tmp_path / "c"
    res = cli(
        "run",
        "bert",
        "--suite",
        suite,
        "--campaign",
        campaign,
        "--runtime",
        "local",
        "--system",
        "node1",
        *NO_DROP,
    )
    assert res.code == 0, res.err
    assert not bench_dir(campaign, "resnet").exists()
    assert len(list(bench_dir(campaign, "bert").glob("result_*.txt"))) == 2


def test_campaign_identity_is_kept(cli, tmp_path):
    suite = write_suite(tmp_path / "suite", {"resnet": 3})
    campaign = tmp_path / "c"
    assert run_all_local(cli, suite, campaign).code == 0
    res = cli(
        "run-all",
        "--suite",
        suite,
        "--campaign",
        campaign,
        "--runtime",
        "local",
        "--system",
        "other",
        *NO_DROP,
    )
    assert res.code == 2 and "system is 'node1'" in res.err


@pytest.mark.slow
def test_record_keeps_gp2bm_own_timing_of_the_run(cli, tmp_path):
    """The run record holds gp2bm's monotonic time from run_start to run_stop as the lines
    came: what the log's wall-clock time to train is checked against."""
    suite = write_suite(tmp_path / "suite", {"resnet": 1}, extra_args=["--sleep-per-epoch", "0.2"])
    campaign = tmp_path / "c"
    res = run_all_local(cli, suite, campaign, "--skip-check")
    record = json.loads((campaign / "records/resnet/run_0.json").read_text())
    assert record["status"] == "success", res.err[-2000:]
    logged = parse_run_log(bench_dir(campaign, "resnet") / "result_0.txt").minutes * 60
    assert logged > 1.0
    assert abs(record["observed_seconds"] - logged) < 1.0
    assert record["observed_seconds"] <= record["seconds"]
