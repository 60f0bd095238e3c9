"""Runs across nodes on a real local Slurm (scripts/slurm.sh: four slurmd emulating nodes
n1-n4 of this host) with Apptainer: the smoke workload's ranks meet over TCP and all-reduce
their gradients across the nodes of each run's allocation, every node's cache drop,
fingerprint and telemetry are recorded, a node lost mid-run makes the run an attempt that
the next run-all redoes, and nodes of different hardware are refused."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest
from campaign_helpers import NO_DROP, bench_dir, digests
from multinode_helpers import write_multinode_suite

from gp2bm.campaign.folder import Campaign
from gp2bm.placement.slurm import SlurmScheduler
from gp2bm.spec.suite import load_suite

NODES = 4
pytestmark = [pytest.mark.slurm, pytest.mark.docker]
WORLD_RE = re.compile(r"^smoke: world size (\d+): (.*) \(rank 0 at ", re.M)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from services import slurm_or_skip

    yield from slurm_or_skip(tmp_path_factory.mktemp("slurm4"), NODES)


@pytest.fixture
def image(cluster, docker_services, smoke_image, tmp_path, monkeypatch):
    """The smoke image in the local registry (Apptainer builds each campaign's SIF from it)."""
    from services import ServicesUnavailable, install_apptainer

    try:
        apptainer = install_apptainer()
    except ServicesUnavailable as exc:
        pytest.skip(str(exc))
    monkeypatch.setenv("DOCKER_HOST", docker_services.docker_host)  # gp2bm pin
    monkeypatch.setenv("GP2BM_APPTAINER", apptainer)
    monkeypatch.setenv("APPTAINER_CACHEDIR", str(tmp_path / "apptainer-cache"))
    (tmp_path / "apptainer-tmp").mkdir()
    monkeypatch.setenv("APPTAINER_TMPDIR", str(tmp_path / "apptainer-tmp"))
    client = docker_services.client()
    repo = f"{docker_services.registry}/gp2bm/smoke"
    client.images.get(smoke_image).tag(repo, tag="multinode")
    for event in client.images.push(repo, tag="multinode", stream=True, decode=True):
        assert "error" not in event, event
    client.close()
    return f"{repo}:multinode"


def pinned_suite(cli, folder: Path, image: str, nodes: int, per_node: int, runs, **kw) -> Path:
    suite = write_multinode_suite(folder, nodes, per_node, runs, image=image, **kw)
    for bench in runs:
        res = cli("pin", bench, image, "--suite", suite)
        assert res.code == 0, res.err
    return suite


def run_all(cli, suite: Path, campaign: Path, *extra: str):
    return cli("run-all", "--suite", suite, "--campaign", campaign, "--runtime", "apptainer",
               "--system", "node1", "--slurm", "--nodes", str(NODES), *NO_DROP, "--json", *extra)


def record(campaign: Path, bench: str, n: int) -> dict:
    return json.loads((campaign / "records" / bench / f"run_{n}.json").read_text())


def check_run(campaign: Path, bench: str, n: int, nodes: int, per_node: int) -> None:
    """Every rank took part; every node dropped its cache, was fingerprinted and sampled."""
    log = (bench_dir(campaign, bench) / f"result_{n}.txt").read_text()
    rec = record(campaign, bench, n)
    assert rec["status"] == "success" and len(rec["nodes"]) == nodes
    [(world, where)] = WORLD_RE.findall(log)
    assert int(world) == nodes * per_node
    ranks = dict(re.findall(r"rank (\d+) on (\S+?)(?:,|$)", where))
    assert sorted(map(int, ranks)) == list(range(nodes * per_node))
    assert sorted(set(ranks.values())) == sorted(rec["nodes"])  # ranks on every node
    [shares] = re.findall(r"^smoke: samples trained per rank: (.*) \(", log, re.M)
    assert len(shares.split(", ")) == nodes * per_node and ": 0," not in shares + ","
    drops = [line for line in log.splitlines() if '"key": "cache_clear"' in line]
    assert sorted(json.loads(d.split(":::MLLOG ")[1])["metadata"]["node"] for d in drops) == \
        sorted(rec["nodes"])
    assert set(rec["cache_drop"]["nodes"]) == set(rec["nodes"]) and rec["cache_drop"]["ok"]
    assert set(rec["node_hardware"]) == set(rec["nodes"])
    tele = rec["telemetry"]
    assert set(tele["nodes"]) == set(rec["nodes"]) and tele["error"] is None
    for node, summary in tele["nodes"].items():
        assert summary["samples"] >= 1
        assert (campaign / "records" / bench / tele["files"][node]).is_file()
    assert rec["launch"]["srun"][1:4] == [f"--nodes={nodes}", f"--ntasks={nodes * per_node}",
                                          f"--ntasks-per-node={per_node}"]


@pytest.mark.parametrize(("nodes", "per_node"), [(2, 2), (4, 1)])
def test_smoke_campaign_across_nodes_scores_valid(cli, image, tmp_path, nodes, per_node):
    runs = {"resnet": 3, "bert": 3}
    suite = pinned_suite(cli, tmp_path / "s", image, nodes, per_node, runs)
    campaign = tmp_path / "c"
    res = run_all(cli, suite, campaign)
    assert res.code == 0, res.err[-3000:]
    data = res.json()
    assert data["score"] > 0 and data["nodes"]["mixed"] is False
    assert all(data["benchmarks"][b]["valid"] for b in runs)
    [job] = json.loads((campaign / "slurm/jobs.json").read_text())["jobs"]
    assert f"--nodes={nodes}" in job["argv"] and "--exclusive" in job["argv"]
    assert f"--array=0-5%{NODES // nodes}" in job["argv"]
    for bench, n in runs.items():
        for i in range(n):
            check_run(campaign, bench, i, nodes, per_node)
    system = json.loads((campaign / "gp2bm/systems/node1.json").read_text())
    assert system["number_of_nodes"] == str(nodes)
    used = {node for b, n in runs.items() for i in range(n) for node in record(campaign, b, i)
            ["nodes"]}
    for node in used:
        assert (campaign / "records/nodes" / node / "inventory.json").is_file()


def kill_node_of(rec: dict) -> tuple[str, list[int]]:
    """SIGKILL every process of the run's task on the run's last node (what a node that dies
    leaves of the run: nothing)."""
    victim = rec["nodes"][-1]
    array, task = rec["slurm_job"].split("_")
    killed = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        env = dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)
        if (env.get("SLURMD_NODENAME"), env.get("SLURM_ARRAY_JOB_ID"),
                env.get("SLURM_ARRAY_TASK_ID")) == (victim, array, task):
            try:
                os.kill(int(pid), signal.SIGKILL)
                killed.append(int(pid))
            except ProcessLookupError:
                pass
    return victim, killed


def wait_until(condition, timeout: float, what: str) -> None:
    t0 = time.monotonic()
    while not condition():
        assert time.monotonic() - t0 < timeout, f"{what}: not after {timeout} s"
        time.sleep(0.1)


@pytest.mark.reliability("node-lost-mid-run")
def test_a_node_lost_mid_run_is_redone_alone(cli, image, tmp_path):
    suite = pinned_suite(cli, tmp_path / "s", image, 2, 1, {"resnet": 3},
                         extra_args=["--sleep-per-epoch", "0.15"])
    campaign = tmp_path / "c"
    res = run_all(cli, suite, campaign, "--no-wait")
    assert res.code == 0, res.err[-3000:]
    job = res.json()["job_id"]
    c = Campaign.open(campaign, load_suite(suite), create=False)
    partial = c.layout.partial_path("resnet", 1)
    wait_until(lambda: partial.exists() and b'"epoch_stop"' in partial.read_bytes(), 120,
               "run 1 training")
    victim, killed = kill_node_of(record(campaign, "resnet", 1))
    assert killed
    wait_until(lambda: not SlurmScheduler().queued([job]), 180, "the array to end")

    rec = record(campaign, "resnet", 1)
    assert rec["status"] == "aborted" and f"node {victim} lost" in rec["reason"]
    assert partial.exists() and not c.layout.result_path("resnet", 1).exists()
    status = {r["run"]: r for r in cli("status", "--campaign", campaign, "--json").json()["runs"]}
    assert status[1]["state"] == "interrupted" and [status[i]["state"] for i in (0, 2)] == [
        "done", "done"]
    before = digests(bench_dir(campaign, "resnet"))

    res = run_all(cli, suite, campaign)
    assert res.code == 0, res.err[-3000:]
    assert res.json()["benchmarks"]["resnet"]["valid"]
    after = digests(bench_dir(campaign, "resnet"))
    assert sorted(after) == [f"result_{i}.txt" for i in range(3)]
    assert {k: after[k] for k in before} == before  # finished runs byte-identical
    jobs = json.loads((campaign / "slurm/jobs.json").read_text())["jobs"]
    assert len(jobs) == 2 and jobs[1]["tasks"] == {"1": "resnet/1"}
    attempts = campaign / "records/resnet/attempts"
    assert json.loads((attempts / "run_1.attempt1.json").read_text())["status"] == "aborted"
    assert (attempts / f"telemetry_1.attempt1.{victim}.csv").exists()


STAND_IN_SRUN = r"""#!/bin/bash
# Slurm's srun, but the last node of --nodelist answers gp2bm's node step with the
# fingerprint of another kind of hardware (the emulated nodes are all the same machine):
# each task's answer is in its own file (--output=DIR/%t.out), edited once srun is done.
last=
out=
for arg in "$@"; do
    case $arg in
    --nodelist=*) last=${arg##*,}; last=${last#--nodelist=} ;;
    --output=*) out=${arg#--output=} ;;
    esac
done
odd='"fingerprint": "hw-0000000000000000"'
case " $* " in
*" node-step "*)
    srun "$@"; rc=$?
    sed -i "/\"node\": \"$last\"/s/\"fingerprint\": \"hw-[0-9a-f]*\"/$odd/" "${out%/*}"/*.out
    exit $rc ;;
*) exec srun "$@" ;;
esac
"""

def test_nodes_of_different_hardware(cli, image, tmp_path, monkeypatch):
    stand_in = tmp_path / "srun"
    stand_in.write_text(STAND_IN_SRUN)
    stand_in.chmod(0o755)
    monkeypatch.setenv("GP2BM_SRUN", str(stand_in))
    suite = pinned_suite(cli, tmp_path / "s", image, 2, 1, {"resnet": 3})
    campaign = tmp_path / "c"
    res = run_all(cli, suite, campaign)
    assert res.code == 1  # no run started
    outs = sorted((campaign / "slurm").glob("*.out"))
    assert len(outs) == 3
    for out in outs:
        errors = [line for line in out.read_text().splitlines() if "gp2bm: error:" in line]
        assert len(errors) == 1 and "gave nodes of different hardware" in errors[0], errors
        assert "hw-0000000000000000" in errors[0] and "--allow-mixed-nodes" in errors[0]
    assert not digests(bench_dir(campaign, "resnet"))

    res = run_all(cli, suite, campaign, "--allow-mixed-nodes")
    assert res.code == 0, res.err[-3000:]
    assert res.json()["nodes"]["mixed"] is True
    # scoring refuses them unless allowed, as for runs of one node
    res = run_all(cli, suite, campaign)
    assert res.code == 1 and "different node types" in res.err and "--allow-mixed-nodes" in res.err


def test_a_suite_larger_than_the_partition(cli, image, tmp_path):
    suite = pinned_suite(cli, tmp_path / "s", image, NODES + 1, 1, {"resnet": 3})
    res = cli("run-all", "--suite", suite, "--campaign", tmp_path / "c", "--runtime",
              "apptainer", "--slurm", *NO_DROP)
    assert res.code == 2 and res.err.strip().count("\n") == 0
    assert f"runs each run on {NODES + 1} nodes, but the default partition of slurm has " \
           f"{NODES}" in res.err


@pytest.mark.reliability("node-step-long-lines")
def test_long_lines_of_every_node_arrive_whole(cluster, tmp_path):
    """Slurm forwards a task's output in messages of at most 1 KiB: two nodes' long lines
    (a node step's JSON is over 1 KiB) came interleaved on srun's output, and the step read
    "no answer" from both (half of 30 steps of 1.1 KB lines did). Each task's output now has
    its own file."""
    import sys

    from gp2bm.node.allocation import each_node_argv, run_each

    nodes = ("n1", "n2")
    line = "import json, os; print(json.dumps({'node': os.environ['SLURMD_NODENAME'], " \
           "'pad': 'x' * 1100}), flush=True)"
    for i in range(8):
        outputs = tmp_path / f"step{i}"
        got = run_each(each_node_argv("srun", nodes), [sys.executable, "-c", line], nodes,
                       "long lines", 120, outputs)
        assert sorted(got) == list(nodes)
        assert all(len(v["pad"]) == 1100 for v in got.values())
        assert not outputs.exists()  # the per-task files are read, then removed
