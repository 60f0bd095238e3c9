"""Slurm fan-out: rendered command lines, per-run locks, node types, status, and campaigns
on a real local Slurm cluster (scripts/slurm.sh: munged, slurmctld and three slurmd daemons
emulating nodes n1-n3 of this host; the campaign folder is shared because it is local).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from campaign_helpers import NO_DROP, bench_dir, digests, write_suite

from gp2bm.campaign.folder import Campaign
from gp2bm.errors import RunBusy
from gp2bm.node.fingerprint import fingerprint
from gp2bm.placement.base import ArrayJob
from gp2bm.placement.fanout import run_of_task, task_index
from gp2bm.placement.slurm import (
    SlurmScheduler,
    array_spec,
    parse_sbatch,
    parse_scontrol,
    parse_squeue,
    sbatch_argv,
    scancel_argv,
    squeue_argv,
)
from gp2bm.spec.suite import load_suite

NODES = 3


def record(campaign: Path, bench: str, n: int) -> dict:
    return json.loads((campaign / "records" / bench / f"run_{n}.json").read_text())


# ---------------------------------------------------------------------------- rendering


def test_array_spec_compresses_ranges():
    assert array_spec([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"
    assert array_spec([3], 4) == "3%4"
    assert array_spec([9, 0, 1, 1]) == "0-1,9"
    with pytest.raises(ValueError):
        array_spec([])


def test_sbatch_is_an_argument_list():
    job = ArrayJob(
        name="gp2bm-abc",
        task_ids=[0, 1, 2, 7],
        script=Path("/shared/my campaign/slurm/task.sh"),
        command=["/venv/bin/python", "-P", "-m", "gp2bm", "run-task", "--campaign",
                 "/shared/my campaign"],
        output="/shared/my campaign/slurm/%A_%a.out",
        max_parallel=4,
        partition="gpu",
        account="rfp",
        time_limit="3:00:00",
        workdir=Path("/shared/my campaign/slurm"),
    )
    argv = sbatch_argv(job)
    assert argv[:2] == ["sbatch", "--parsable"]
    for opt in ("--array=0-2,7%4", "--exclusive", "--nodes=1", "--ntasks=1",
                "--partition=gpu", "--account=rfp", "--time=3:00:00",
                "--output=/shared/my campaign/slurm/%A_%a.out", "--job-name=gp2bm-abc"):
        assert opt in argv
    # the script, then its arguments, each path with its space kept as one argument
    i = argv.index("/shared/my campaign/slurm/task.sh")
    assert argv[i + 1:] == job.command
    assert parse_sbatch("1234\n") == "1234" and parse_sbatch("77;cluster\n") == "77"
    assert squeue_argv(["12", "15"])[-2:] == ["--jobs=12,15", "--format=%F|%K|%T|%N|%r"]
    assert scancel_argv(["12_3"]) == ["scancel", "12_3"]


def test_parse_squeue_and_scontrol():
    tasks = parse_squeue("7|0|RUNNING|n1|None\n7|3|PENDING||JobArrayTaskLimit\n")
    assert [(t.ident, t.state, t.node, t.reason) for t in tasks] == [
        ("7_0", "RUNNING", "n1", None),
        ("7_3", "PENDING", None, "JobArrayTaskLimit"),
    ]
    text = (
        "JobId=9 ArrayJobId=7 ArrayTaskId=1 JobName=gp2bm-x JobState=CANCELLED Reason=None "
        "ExitCode=0:15 NodeList=n2 Command=/a b/task.sh\n"
        "JobId=7 ArrayJobId=7 ArrayTaskId=4-9%2 JobState=PENDING Reason=JobArrayTaskLimit\n"
    )
    [t] = parse_scontrol(text)
    assert (t.ident, t.state, t.node, t.exit_code) == ("7_1", "CANCELLED", "n2", "0:15")


def test_task_index_is_the_place_in_the_suite(tmp_path):
    suite = load_suite(write_suite(tmp_path / "s", {"resnet": 5, "bert": 10}))
    index = task_index(suite)
    assert index[("resnet", 0)] == 0 and index[("resnet", 4)] == 4
    assert index[("bert", 0)] == 5 and index[("bert", 9)] == 14
    assert run_of_task(suite, 7) == ("bert", 2)


def test_slurm_dry_run_needs_no_cluster(cli, tmp_path):
    suite = write_suite(tmp_path / "s", {"resnet": 2, "bert": 2})
    res = cli("run-all", "--suite", suite, "--campaign", tmp_path / "c", "--runtime", "local",
              "--slurm", "--nodes", "2", "--partition", "p1", "--dry-run", "--json", *NO_DROP)
    assert res.code == 0, res.err
    data = res.json()
    assert data["job_id"] is None and data["runs"] == ["resnet/0", "resnet/1", "bert/0",
                                                       "bert/1"]
    argv = data["command"]
    assert "--array=0-3%2" in argv and "--partition=p1" in argv and "--exclusive" in argv
    task = argv[argv.index("run-task") - 4:]
    assert task[1:4] == ["-P", "-m", "gp2bm"] and "--cache-drop-command" in task


# ---------------------------------------------------------------------------- run locks


def test_archive_skips_the_partial_of_a_run_in_progress(tmp_path):
    suite = load_suite(write_suite(tmp_path / "s", {"resnet": 3}))
    campaign = Campaign.open(tmp_path / "c", suite, system="node1", runtime="local")
    campaign.save()
    for n in (0, 1):
        campaign.layout.partial_path("resnet", n).parent.mkdir(parents=True, exist_ok=True)
        campaign.layout.partial_path("resnet", n).write_text(f"partial {n}\n")
    with campaign.run_lock("resnet", 0, holder={"node": "n7", "job": "12_0"}):
        holder = campaign.run_holder("resnet", 0)
        assert holder["node"] == "n7" and holder["job"] == "12_0"
        with pytest.raises(RunBusy, match="n7"):
            with campaign.run_lock("resnet", 0, wait=0.1):
                pass
        kept = campaign.archive_partials()
    assert [p.name for p in kept] == ["result_1.attempt1.txt"]
    assert campaign.layout.partial_path("resnet", 0).exists()  # still being written
    assert campaign.run_holder("resnet", 0) is None


def test_run_all_leaves_a_run_held_elsewhere_alone(cli, tmp_path):
    suite_path = write_suite(tmp_path / "s", {"resnet": 3})
    campaign_dir = tmp_path / "c"
    args = ("run-all", "--suite", suite_path, "--campaign", campaign_dir, "--runtime", "local",
            "--system", "node1", "--skip-check", *NO_DROP, "--json")
    campaign = Campaign.open(campaign_dir, load_suite(suite_path), system="node1",
                             runtime="local")
    with campaign.run_lock("resnet", 1, holder={"node": "n9"}):
        res = cli(*args)
    assert res.code == 1
    assert "skipped: resnet run 1 is being done by another gp2bm" in res.err
    assert sorted(digests(bench_dir(campaign_dir, "resnet"))) == ["result_0.txt",
                                                                  "result_2.txt"]
    res = cli(*args)
    assert res.code == 0, res.err[-2000:]
    assert len(digests(bench_dir(campaign_dir, "resnet"))) == 3


# ---------------------------------------------------------------------------- node types


def test_fingerprint_is_stable_and_sensitive():
    facts = {"cpu_model": "EPYC 9454", "logical_cpus": 96, "memory_gib": 1536,
             "gpu_models": ["NVIDIA H100 80GB HBM3"] * 8, "gpu_count": 8}
    assert fingerprint(facts) == fingerprint(dict(reversed(list(facts.items()))))
    assert fingerprint(facts) != fingerprint({**facts, "gpu_count": 4})
    assert fingerprint(facts).startswith("hw-")


def test_scoring_refuses_runs_from_different_node_types(cli, tmp_path):
    suite = write_suite(tmp_path / "s", {"resnet": 3, "bert": 3})
    campaign = tmp_path / "c"
    args = ("run-all", "--suite", suite, "--campaign", campaign, "--runtime", "local",
            "--system", "node1", "--skip-check", *NO_DROP, "--json")
    res = cli(*args)
    assert res.code == 0, res.err[-2000:]
    rec = record(campaign, "bert", 2)
    assert rec["node_fingerprint"].startswith("hw-") and rec["node"]
    rec.update(node="other", node_fingerprint="hw-0000000000000000",
               node_facts={**rec["node_facts"], "gpu_count": 8})
    (campaign / "records/bert/run_2.json").write_text(json.dumps(rec))

    res = cli(*args)
    assert res.code == 1
    assert "2 different node types" in res.err and "--allow-mixed-nodes" in res.err
    res = cli(*args, "--allow-mixed-nodes")
    assert res.code == 0, res.err[-2000:]
    status = cli("status", "--campaign", campaign, "--json").json()
    assert status["nodes"]["mixed"] is True
    assert status["counts"]["done"] == 6


def test_status_of_a_local_campaign(cli, tmp_path):
    suite = write_suite(tmp_path / "s", {"resnet": 3})
    campaign = tmp_path / "c"
    res = cli("run", "resnet", "--suite", suite, "--campaign", campaign, "--runtime", "local",
              "--system", "node1", "--skip-check", *NO_DROP)
    assert res.code == 0, res.err[-2000:]
    os.remove(bench_dir(campaign, "resnet") / "result_2.txt")
    (campaign / "records/resnet/result_2.txt.partial").write_text("cut short\n")
    (campaign / "records/resnet/run_1.json").unlink()
    os.remove(bench_dir(campaign, "resnet") / "result_1.txt")
    # --suite comes from campaign.json
    res = cli("status", "--campaign", campaign, "--json")
    assert res.code == 0, res.err
    states = {r["run"]: r for r in res.json()["runs"]}
    assert states[0]["state"] == "done" and states[0]["node"]
    assert states[1]["state"] == "missing"
    assert states[2]["state"] == "interrupted"
    res = cli("status", "--campaign", campaign)
    assert res.code == 0 and "1 done" in res.out


# ---------------------------------------------------------------------------- real Slurm


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    from services import slurm_or_skip

    yield from slurm_or_skip(tmp_path_factory.mktemp("slurm"), NODES)


def wait_until(condition, timeout: float, what: str):
    t0 = time.monotonic()
    while not condition():
        assert time.monotonic() - t0 < timeout, f"{what}: not after {timeout} s"
        time.sleep(0.05)


@pytest.mark.slurm
def test_smoke_campaign_on_slurm(cli, slurm_cluster, tmp_path):
    suite = write_suite(tmp_path / "s")  # 5 resnet + 10 bert, as GP2BM
    campaign = tmp_path / "c"
    args = ("run-all", "--suite", suite, "--campaign", campaign, "--runtime", "local",
            "--system", "node1", "--slurm", "--nodes", str(NODES), *NO_DROP, "--json")
    res = cli(*args)
    assert res.code == 0, res.err[-3000:]
    data = res.json()
    assert data["score"] > 0
    assert data["benchmarks"]["resnet"]["valid"] and data["benchmarks"]["bert"]["valid"]
    assert data["nodes"]["mixed"] is False
    [job] = json.loads((campaign / "slurm/jobs.json").read_text())["jobs"]
    assert job["tasks"]["0"] == "resnet/0" and job["tasks"]["14"] == "bert/9"
    assert "--array=0-14%3" in job["argv"] and "--exclusive" in job["argv"]
    nodes, fingerprints = set(), set()
    for bench, n in (("resnet", 5), ("bert", 10)):
        assert len(digests(bench_dir(campaign, bench))) == n
        for i in range(n):
            rec = record(campaign, bench, i)
            assert rec["status"] == "success" and rec["runtime"] == "local"
            assert rec["slurm_job"] == f"{job['job_id']}_{task_index_of(bench, i)}"
            nodes.add(rec["node"])
            fingerprints.add(rec["node_fingerprint"])
    assert nodes <= {"n1", "n2", "n3"} and len(nodes) >= 2
    assert len(fingerprints) == 1
    status = cli("status", "--campaign", campaign, "--json").json()
    assert status["counts"]["done"] == 15

    # nothing left to do: nothing submitted, the same score
    again = cli(*args)
    assert again.code == 0 and again.json()["score"] == data["score"]
    assert len(json.loads((campaign / "slurm/jobs.json").read_text())["jobs"]) == 1


def task_index_of(bench: str, n: int) -> int:
    return n if bench == "resnet" else 5 + n


@pytest.mark.slurm
def test_cancelled_task_then_resume(cli, slurm_cluster, tmp_path):
    suite = write_suite(tmp_path / "s", {"resnet": 4}, extra_args=["--sleep-per-epoch", "0.15"])
    campaign = tmp_path / "c"
    args = ("run-all", "--suite", suite, "--campaign", campaign, "--runtime", "local",
            "--system", "node1", "--slurm", "--nodes", "2", *NO_DROP, "--json")
    res = cli(*args, "--no-wait")
    assert res.code == 0, res.err[-3000:]
    job = res.json()["job_id"]
    assert job and res.json()["runs"] == [f"resnet/{i}" for i in range(4)]

    # a second run-all while the array is queued submits nothing
    res = cli(*args, "--no-wait")
    assert res.code == 0, res.err[-3000:]
    assert res.json()["job_id"] is None
    assert sorted(res.json()["already_queued"]) == [f"resnet/{i}" for i in range(4)]

    # cancel run 1's task in the middle of its run
    suite_obj = load_suite(suite)
    c = Campaign.open(campaign, suite_obj, create=False)
    partial = c.layout.partial_path("resnet", 1)
    wait_until(lambda: partial.exists() and b'"epoch_stop"' in partial.read_bytes(), 60,
               "run 1 in progress")
    assert c.run_holder("resnet", 1)["job"] == f"{job}_1"
    SlurmScheduler().cancel([f"{job}_1"])
    wait_until(lambda: not SlurmScheduler().queued([job]), 120, "the array to end")

    status = {r["run"]: r for r in cli("status", "--campaign", campaign, "--json").json()["runs"]}
    assert status[1]["state"] == "interrupted" and "cancelled" in status[1]["detail"]
    assert [status[i]["state"] for i in (0, 2, 3)] == ["done"] * 3
    before = digests(bench_dir(campaign, "resnet"))
    assert sorted(before) == ["result_0.txt", "result_2.txt", "result_3.txt"]

    res = cli(*args)
    assert res.code == 0, res.err[-3000:]
    assert res.json()["benchmarks"]["resnet"]["valid"]
    after = digests(bench_dir(campaign, "resnet"))
    assert sorted(after) == [f"result_{i}.txt" for i in range(4)]
    assert {k: after[k] for k in before} == before
    attempts = campaign / "records/resnet/attempts"
    assert (attempts / "result_1.attempt1.txt").exists()
    assert json.loads((attempts / "run_1.attempt1.json").read_text())["status"] == "interrupted"
    jobs = json.loads((campaign / "slurm/jobs.json").read_text())["jobs"]
    assert len(jobs) == 2 and jobs[1]["tasks"] == {"1": "resnet/1"}
