"""One run across N nodes, without a cluster: what is rendered (srun's words before each
runtime's command, the array of N-node tasks), what is refused in one line, how the nodes'
answers are read (fingerprints, checks, cache drops, telemetry, lost nodes), and the suites
that ship (LP2BM, the smoke suites across nodes, NVIDIA's 4-node manifests)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from multinode_helpers import write_multinode_suite

from gp2bm.campaign.folder import Campaign
from gp2bm.campaign.layout import CampaignLayout
from gp2bm.campaign.record import RunRecord
from gp2bm.errors import CampaignStopped, InputError
from gp2bm.launchers.srun import SLURM_TO_PYTORCH
from gp2bm.node.allocation import Allocation, each_node_argv, parse_each, parse_node_address
from gp2bm.placement.base import ArrayJob, Scheduler
from gp2bm.placement.fanout import FanoutOptions, runs_at_once, submit_missing
from gp2bm.placement.slurm import parse_sinfo_nodes, sbatch_argv, sinfo_argv
from gp2bm.results.nodetypes import node_types
from gp2bm.run.launch import Placement, plan_launch
from gp2bm.run.nodetelemetry import combine_telemetry
from gp2bm.run.spanning import SpanRun, master_port, require_node_checks, require_one_hardware
from gp2bm.runtimes import get_runtime
from gp2bm.runtimes.base import RunSpec, Span
from gp2bm.runtimes.span import spanning_problem
from gp2bm.runtimes.taskenv import task_environment
from gp2bm.spec.manifest import load_manifest, suite_manifests
from gp2bm.spec.suite import load_suite

REPO = Path(__file__).resolve().parents[1]
MANIFESTS = REPO / "manifests"
DIGEST = "sha256:" + "e" * 64
FACTS = {"cpu_model": "EPYC 9454", "logical_cpus": 96, "memory_gib": 1536,
         "gpu_models": ["NVIDIA H100 80GB HBM3"] * 8, "gpu_count": 8}
SPAN = Span(
    launch=("srun", "--nodes=2", "--ntasks=4", "--ntasks-per-node=2", "--nodelist=n1,n2",
            "--kill-on-bad-exit=1"),
    each_node=("srun", "--nodes=2", "--ntasks=2", "--ntasks-per-node=1", "--nodelist=n1,n2"),
    nodes=("n1", "n2"),
    rank_map=SLURM_TO_PYTORCH,
    name="gp2bm-abc-resnet",
)


def spec(**kw) -> RunSpec:
    base = dict(name="r", image=f"127.0.0.1:5000/gp2bm/smoke@{DIGEST}",
                command=["--benchmark", "resnet"], benchmark="resnet",
                env={"WORLD_SIZE": "4", "MASTER_ADDR": "127.0.0.1"}, gpus="none")
    base.update(kw)
    return RunSpec(**base)


def report(node: str, fp: str = "hw-1", checks=(), drop=None) -> dict:
    return {"node": node, "host": "h", "fingerprint": fp, "facts": FACTS,
            "checks": list(checks),
            "cache_drop": drop or {"ok": True, "method": "command", "seconds": 0.1,
                                   "error": None}}


def span_run(reports: dict) -> SpanRun:
    run = SpanRun("77", tuple(reports), Placement(tuple(reports), "10.0.0.1", 29577),
                  SPAN.each_node, SPAN.name)
    run.reports = reports
    return run


# ---------------------------------------------------------------------------- rendering


def test_apptainer_runs_each_task_through_taskenv(tmp_path):
    rt = get_runtime("apptainer", apptainer="apptainer", image_dir=tmp_path / "images")
    assert rt.spans_nodes
    argv = rt.render_span(spec(), SPAN)
    assert argv[:3] == ["env", "APPTAINERENV_MASTER_ADDR=127.0.0.1", "APPTAINERENV_WORLD_SIZE=4"]
    srun = argv.index("srun")
    assert argv[srun:srun + 6] == list(SPAN.launch)
    task = argv[srun + 6:]
    assert task[1:3] == ["-I", str(REPO / "gp2bm/runtimes/taskenv.py")]
    assert task[3:7] == ["APPTAINERENV_", "RANK=SLURM_PROCID", "LOCAL_RANK=SLURM_LOCALID", "--"]
    assert task[7:10] == ["apptainer", "run", "--containall"]
    assert task[-3:] == [str(tmp_path / "images/resnet.sif"), "--benchmark", "resnet"]
    manifest = load_manifest(MANIFESTS / "smoke_srun2_resnet.yaml")
    ready = rt.ready_command(manifest, SPAN)
    assert ready == [*SPAN.each_node, "apptainer", "exec", "--containall",
                     str(tmp_path / "images/resnet.sif"), "true"]


def test_enroot_is_srun_with_the_launchers_words_and_a_named_image():
    rt = get_runtime("enroot", srun="srun")
    argv = rt.render_span(spec(), SPAN)
    srun = argv.index("srun")
    assert argv[srun:srun + 6] == list(SPAN.launch)
    assert "--nodes=1" not in argv and "--ntasks=1" not in argv
    assert argv[srun + 6:srun + 8] == [f"--container-image=127.0.0.1:5000#gp2bm/smoke@{DIGEST}",
                                       "--container-name=gp2bm-abc-resnet"]
    assert "--container-env=MASTER_ADDR,WORLD_SIZE" in argv
    assert argv[-2:] == ["--benchmark", "resnet"]
    manifest = load_manifest(MANIFESTS / "smoke_srun2_resnet.yaml")
    # run.sub: srun --ntasks=$NNODES --container-image=$CONT --container-name=$NAME true
    assert rt.ready_command(manifest, SPAN) == [
        *SPAN.each_node, "--container-image=gp2bm/smoke:latest",
        "--container-name=gp2bm-abc-resnet", "true"]


def test_docker_podman_and_local_do_not_span_nodes():
    for name in ("docker", "podman", "local"):
        assert not get_runtime(name).spans_nodes


def test_taskenv_hands_slurms_variables_to_the_container():
    env = {"SLURM_PROCID": "3", "SLURM_LOCALID": "1", "SLURMD_NODENAME": "n2",
           "PMIX_RANK": "3", "PATH": "/bin", "APPTAINERENV_SEED": "7"}
    out = task_environment(env, "APPTAINERENV_", ["RANK=SLURM_PROCID", "LOCAL_RANK=SLURM_LOCALID"])
    assert out["APPTAINERENV_SLURM_PROCID"] == "3" and out["APPTAINERENV_SLURMD_NODENAME"] == "n2"
    assert out["APPTAINERENV_PMIX_RANK"] == "3" and "APPTAINERENV_PATH" not in out
    assert (out["APPTAINERENV_RANK"], out["APPTAINERENV_LOCAL_RANK"]) == ("3", "1")
    assert out["APPTAINERENV_SEED"] == "7"
    # it runs by path and becomes the command
    proc = subprocess.run(
        [sys.executable, "-I", str(REPO / "gp2bm/runtimes/taskenv.py"), "X_",
         "RANK=SLURM_PROCID", "--", sys.executable, "-c",
         "import os; print(os.environ['X_RANK'], os.environ['X_SLURM_PROCID'])"],
        env={"SLURM_PROCID": "5"}, capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.split() == ["5", "5"]


def test_plan_launch_puts_srun_outside_and_slurm2pytorch_in_the_environment():
    manifest = load_manifest(MANIFESTS / "smoke_srun2_resnet.yaml")
    place = Placement(("n1", "n2"), "10.0.0.1", 29577, "pmix")
    launch = plan_launch(manifest, 42, None, None, {}, nodes=2, place=place)
    assert launch.command == ["--benchmark", "resnet"] and launch.prefix == []
    assert launch.outer[:5] == ["srun", "--nodes=2", "--ntasks=4", "--ntasks-per-node=2",
                                "--nodelist=n1,n2"]
    assert "--mpi=pmix" in launch.outer
    env = launch.environment
    assert (env["MASTER_ADDR"], env["MASTER_PORT"], env["WORLD_SIZE"]) == ("10.0.0.1", "29577",
                                                                          "4")
    record = launch.as_record()
    assert record["srun"] == launch.outer and record["hosts"] == ["n1", "n2"]
    assert record["mpi"] == "pmix" and record["nodes"] == 2
    # a one-node launch's record is as it was
    assert "srun" not in plan_launch(load_manifest(MANIFESTS / "smoke_resnet.yaml"), 1,
                                     None).as_record()


@pytest.mark.parametrize("launcher", ["none", "mpirun", "torchrun"])
def test_launchers_of_one_node_are_refused_across_nodes(tmp_path, launcher):
    suite = write_multinode_suite(tmp_path / "s", 2, 1, {"resnet": 3}, launcher=launcher)
    manifest = load_manifest(suite.parent / "resnet.yaml")
    with pytest.raises(InputError, match="starts the processes of one node.*launcher: srun"):
        plan_launch(manifest, 1, 8, nodes=2)
    problem = spanning_problem(2, {"resnet": manifest}, get_runtime("apptainer"))
    assert "use launcher: srun" in problem


def test_spanning_problem_names_the_runtime(tmp_path):
    suite = write_multinode_suite(tmp_path / "s", 2, 1, {"resnet": 3})
    manifests = suite_manifests(load_suite(suite))
    for name in ("docker", "podman", "local"):
        problem = spanning_problem(2, manifests, get_runtime(name))
        assert f"the {name} runtime starts a run on one node only" in problem
        # srun needs a runtime that spans nodes even for one node
        assert "cannot: use --runtime apptainer or enroot" in spanning_problem(
            1, manifests, get_runtime(name))
    for name in ("apptainer", "enroot"):
        assert spanning_problem(2, manifests, get_runtime(name)) is None


# ---------------------------------------------------------------------------- placement


def test_sbatch_gives_each_task_n_exclusive_nodes():
    job = ArrayJob(name="gp2bm-x", task_ids=[0, 1, 2, 3], script=Path("/c/slurm/task.sh"),
                   command=["gp2bm"], output="/c/slurm/%A_%a.out", max_parallel=2, nodes=4)
    argv = sbatch_argv(job)
    assert "--nodes=4" in argv and "--ntasks-per-node=1" in argv and "--exclusive" in argv
    assert "--array=0-3%2" in argv and "--ntasks=1" not in argv and "--nodes=1" not in argv


def test_runs_at_once_and_the_partition_size(tmp_path):
    suite = load_suite(write_multinode_suite(tmp_path / "s", 4, 1, {"resnet": 3}))
    assert runs_at_once(suite, 8) == 2 and runs_at_once(suite, 9) == 2
    assert runs_at_once(suite, None) is None
    with pytest.raises(InputError, match="--nodes 3: each run of suite 'smoke-4x1' takes 4 nodes"):
        runs_at_once(suite, 3)
    assert sinfo_argv("gpu") == ["sinfo", "--noheader", "--format=%P|%D", "--partition=gpu"]
    text = "debug|2\ngpu*|4\n"
    assert parse_sinfo_nodes(text, None) == 4 and parse_sinfo_nodes(text, "debug") == 2
    assert parse_sinfo_nodes(text, "nope") is None


class SmallPartition(Scheduler):
    """A scheduler whose partition has 3 nodes; submitting is a test failure."""

    name, task_id_env, node_env, output_pattern = "fake", "T", "N", "%A_%a"

    def partition_nodes(self, partition):
        return 3

    def render_submit(self, job):
        return ["fake-submit"]

    def submit(self, job):
        raise AssertionError("nothing may be submitted")

    def queued(self, job_ids):
        return []

    def finished(self, job_id):
        return []

    def render_cancel(self, idents):
        return []

    def cancel(self, idents):
        pass


def test_a_suite_larger_than_the_partition_is_one_line(tmp_path):
    suite = load_suite(write_multinode_suite(tmp_path / "s", 4, 1, {"resnet": 3}))
    campaign = Campaign.open(tmp_path / "c", suite, system="node1", runtime="apptainer")
    with pytest.raises(InputError, match="runs each run on 4 nodes, but the default partition "
                                         "of fake has 3"):
        submit_missing(campaign, SmallPartition(), FanoutOptions(runtime="apptainer"))
    docker = FanoutOptions(runtime="docker")
    with pytest.raises(InputError, match="docker runtime starts a run on one node only"):
        submit_missing(campaign, SmallPartition(), docker, dry_run=True)


def test_allocation_answers():
    assert Allocation("9", ("n1", "n2", "n3")).first(2, "s.yaml") == ("n1", "n2")
    with pytest.raises(InputError, match="runs each run on 4 nodes, but Slurm job 9 has 3"):
        Allocation("9", ("n1", "n2", "n3")).first(4, "s.yaml")
    assert each_node_argv("srun", ("n1", "n2"), overlap=True) == [
        "srun", "--nodes=2", "--ntasks=2", "--ntasks-per-node=1", "--nodelist=n1,n2",
        "--overlap"]
    text = "NodeName=n1 Arch=x86_64 CoresPerSocket=2 NodeAddr=127.0.0.1 NodeHostName=localhost"
    assert parse_node_address(text, "n1") == "127.0.0.1"
    assert parse_node_address("NodeName=n1", "n1") == "n1"
    out = 'noise\n{"node": "n2", "x": 2}\n{"node": "n1", "x": 1}\n{"node": "n9"}\n'
    assert parse_each(out, ("n1", "n2"), "step") == {"n1": {"node": "n1", "x": 1},
                                                      "n2": {"node": "n2", "x": 2}}
    with pytest.raises(InputError, match="step: no answer from n3"):
        parse_each(out, ("n1", "n3"), "step")
    assert master_port("1234") == 29500 + 1234 and master_port("x") == 29500


# ---------------------------------------------------------------------------- the nodes' answers


def test_nodes_of_different_hardware_are_refused_in_one_line():
    run = span_run({"n1": report("n1", "hw-a"), "n2": report("n2", "hw-b")})
    with pytest.raises(InputError) as exc:
        require_one_hardware(run, allow_mixed=False)
    message = str(exc.value)
    assert "\n" not in message and "Slurm job 77 gave nodes of different hardware" in message
    assert "n1 hw-a" in message and "n2 hw-b" in message and "--allow-mixed-nodes" in message
    require_one_hardware(run, allow_mixed=True)
    require_one_hardware(span_run({"n1": report("n1"), "n2": report("n2")}), allow_mixed=False)


def test_a_blocking_check_on_one_node_stops_the_run():
    failing = {"name": "GPUs", "status": "fail", "detail": "7 usable GPU(s), need 8",
               "fix": "reset GPU 3", "blocking": True}
    run = span_run({"n1": report("n1"), "n2": report("n2", checks=[failing])})
    with pytest.raises(CampaignStopped, match="pre-flight on n2: GPUs: 7 usable.*reset GPU 3"):
        require_node_checks(run)


def test_every_nodes_cache_drop_is_kept():
    bad = {"ok": False, "method": "/proc/sys/vm/drop_caches", "seconds": 0.0,
           "error": "Permission denied"}
    good = span_run({"n1": report("n1"), "n2": report("n2")})
    assert good.cache_drop().ok and set(good.drops()) == {"n1", "n2"}
    drop = span_run({"n1": report("n1"), "n2": report("n2", drop=bad)}).cache_drop()
    assert not drop.ok and drop.error == "n2: Permission denied"
    fields = good.record_fields()
    assert fields["node"] == "n1,n2" and fields["nodes"] == ["n1", "n2"]
    assert fields["node_hardware"]["n2"] == {"fingerprint": "hw-1", "facts": FACTS}


def test_telemetry_of_every_node_together(tmp_path):
    paths = {"n1": tmp_path / "telemetry_0.csv", "n2": tmp_path / "telemetry_0.n2.csv"}
    one = {"samples": 5, "gpus": 8, "gpu_energy_wh": 1.5, "peak_gpu_power_w": 600.0,
           "throttling": False, "peak_host_cpu_pct": 40.0}
    two = {**one, "samples": 4, "gpu_energy_wh": 2.0, "peak_gpu_power_w": 650.0,
           "throttling": True}
    both = combine_telemetry({"n1": one, "n2": two}, paths, ("n1", "n2"), None)
    assert both["samples"] == 4 and both["gpus"] == 16 and both["gpu_energy_wh"] == 3.5
    assert both["peak_gpu_power_w"] == 650.0 and both["throttling"] is True
    assert both["files"] == {"n1": "telemetry_0.csv", "n2": "telemetry_0.n2.csv"}
    half = combine_telemetry({"n1": one}, paths, ("n1", "n2"), None)
    assert half["gpu_energy_wh"] is None and half["error"] == "n2: no summary"


def test_node_types_count_every_node_of_a_run(tmp_path):
    layout = CampaignLayout(tmp_path, "Acme", "X9000")
    records = layout.records_root
    for n, kinds in enumerate(({"n1": "hw-a", "n2": "hw-a"}, {"n3": "hw-a", "n4": "hw-b"})):
        layout.benchmark_dir("resnet").mkdir(parents=True, exist_ok=True)
        layout.result_path("resnet", n).write_text("log\n")
        record = RunRecord("resnet", n, node=",".join(kinds), nodes=list(kinds),
                           node_fingerprint="hw-a", node_facts=FACTS,
                           node_hardware={k: {"fingerprint": v, "facts": FACTS}
                                          for k, v in kinds.items()})
        record.save(records / "resnet" / f"run_{n}.json")
        again = RunRecord.load(records / "resnet" / f"run_{n}.json")
        assert again.nodes == list(kinds) and again.node_hardware == record.node_hardware
    types = node_types(layout)
    assert types.mixed and set(types.groups) == {"hw-a", "hw-b"}
    assert types.groups["hw-b"] == {"n4": ["resnet/1"]}
    assert "hw-a (EPYC 9454, 1536 GiB, 8x NVIDIA H100 80GB HBM3): 2 run(s)" in types.describe()


def test_archive_keeps_every_nodes_telemetry(tmp_path):
    suite = load_suite(write_multinode_suite(tmp_path / "s", 2, 1, {"resnet": 3}))
    campaign = Campaign.open(tmp_path / "c", suite, system="node1", runtime="apptainer")
    records = campaign.layout.records_dir("resnet")
    records.mkdir(parents=True)
    campaign.layout.partial_path("resnet", 1).write_text("cut\n")
    campaign.layout.telemetry_path("resnet", 1).write_text("a\n")
    campaign.layout.node_telemetry_path("resnet", 1, "n2").write_text("b\n")
    campaign.layout.node_telemetry_path("resnet", 10, "n2").write_text("other run\n")
    [kept] = campaign.archive_partials()
    attempts = campaign.layout.attempts_dir("resnet")
    assert kept.name == "result_1.attempt1.txt"
    assert (attempts / "telemetry_1.attempt1.n2.csv").read_text() == "b\n"
    assert campaign.layout.node_telemetry_path("resnet", 10, "n2").exists()


# ---------------------------------------------------------------------------- command line


def test_bad_input_is_one_line(cli, tmp_path):
    suite = write_multinode_suite(tmp_path / "s", 2, 2, {"resnet": 3})
    for runtime in ("docker", "podman", "local"):
        res = cli("run-all", "--suite", suite, "--campaign", tmp_path / f"c-{runtime}",
                  "--runtime", runtime, "--dry-run")
        assert res.code == 2, res.err
        assert res.err.strip().count("\n") == 0
        assert f"the {runtime} runtime starts a run on one node only" in res.err
    mpirun = write_multinode_suite(tmp_path / "m", 2, 2, {"resnet": 3}, launcher="mpirun")
    res = cli("run-all", "--suite", mpirun, "--campaign", tmp_path / "cm", "--runtime",
              "apptainer", "--dry-run")
    assert res.code == 2 and "launcher mpirun starts the processes of one node" in res.err
    res = cli("run-all", "--suite", suite, "--campaign", tmp_path / "cs", "--runtime",
              "apptainer", "--slurm", "--nodes", "1", "--dry-run", "--allow-unpinned")
    assert res.code == 2 and "--nodes 1: each run of suite 'smoke-2x2' takes 2 nodes" in res.err
    # outside an allocation, a run across nodes is refused before anything starts
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_JOB")}
    proc = subprocess.run(
        [sys.executable, "-m", "gp2bm", "run-all", "--suite", str(suite), "--campaign",
         str(tmp_path / "ca"), "--runtime", "apptainer", "--allow-unpinned", "--skip-check",
         "--cache-drop-command", "true"],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "launcher srun starts a run's tasks inside a Slurm allocation" in proc.stderr


def test_the_preflight_names_the_nodes(cli, tmp_path):
    suite = write_multinode_suite(tmp_path / "s", 2, 2, {"resnet": 3})
    res = cli("check", "--suite", suite, "--runtime", "docker", "--json")
    [item] = [i for i in res.json()["checks"] if i["name"] == "nodes"]
    assert item["status"] == "fail" and "docker runtime starts a run on one node" in item["detail"]
    res = cli("check", "--suite", suite, "--runtime", "apptainer", "--json")
    [item] = [i for i in res.json()["checks"] if i["name"] == "nodes"]
    assert item["status"] == "pass" and "each run checks every node" in item["detail"]


def test_node_step_says_who_the_node_is(cli, tmp_path, monkeypatch):
    suite = write_multinode_suite(tmp_path / "s", 2, 1, {"resnet": 3})
    monkeypatch.setenv("SLURMD_NODENAME", "n7")
    res = cli("node-step", "--campaign", tmp_path / "c", "--suite", suite, "--benchmark",
              "resnet", "--runtime", "apptainer", "--cache-drop-command", "true",
              "--allow-unpinned")
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert data["node"] == "n7" and data["fingerprint"].startswith("hw-")
    assert data["cache_drop"]["ok"] is True and data["cache_drop"]["method"] == "command"
    names = {c["name"] for c in data["checks"]}
    assert {"GPUs", "container engine", "cache drop"} <= names
    assert data["inventory"] == "records/nodes/n7/inventory.json"
    assert (tmp_path / "c" / data["inventory"]).is_file()


def test_node_telemetry_samples_until_told_to_stop(tmp_path):
    csv = tmp_path / "telemetry_0.csv"
    env = {**os.environ, "SLURMD_NODENAME": "n3"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gp2bm", "node-telemetry", "--out", f"n3={csv}", "--out",
         f"n4={tmp_path / 'other.csv'}", "--interval", "0.2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60  # a gp2bm start on a busy machine
        while not csv.exists() and proc.poll() is None:
            assert time.monotonic() < deadline, "the sampler did not start"
            time.sleep(0.05)
        proc.send_signal(signal.SIGUSR1)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    data = json.loads(out)
    assert data["node"] == "n3" and data["telemetry"]["samples"] >= 1
    assert data["telemetry"]["file"] == "telemetry_0.csv"
    assert not (tmp_path / "other.csv").exists()


# ---------------------------------------------------------------------------- shipped suites


def test_lp2rfp_is_gp2bm_on_four_nodes():
    lp2, gp2 = load_suite(MANIFESTS / "lp2rfp.yaml"), load_suite(MANIFESTS / "gp2rfp.yaml")
    assert lp2.nodes == 4 and gp2.nodes == 1
    assert lp2.formula_text() == gp2.formula_text() and lp2.ruleset == gp2.ruleset
    for name, b in gp2.benchmarks.items():
        other = lp2.benchmarks[name]
        assert (other.runs, other.target, other.weight) == (b.runs, b.target, b.weight)
    for m in suite_manifests(lp2).values():
        assert m.launcher.name == "srun" and m.config.location == "host"


@pytest.mark.parametrize(
    ("manifest", "per_gpu", "global_batch", "reviewed"),
    [("nvidia_resnet_4node.yaml", "100", 3200, "config_DGXH100_multi_8x8x50.sh"),
     ("nvidia_bert_4node.yaml", "24", 768, "config_XE9680_2x8x48x1_pack.sh")],
)
def test_the_4_node_configs(manifest, per_gpu, global_batch, reviewed):
    m = load_manifest(MANIFESTS / manifest)
    config = Path(m.config.file)
    text = config.read_text()
    assert reviewed in text  # the published config it keeps the DL parameters of
    proc = subprocess.run(["env", "-i", "bash", "-c", 'source "$1" && env', "sh", str(config)],
                          capture_output=True, text=True, check=True)
    env = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    assert env["DGXNNODES"] == "4" and env["DGXNGPU"] == "8" and env["BATCHSIZE"] == per_gpu
    assert 4 * 8 * int(env["BATCHSIZE"]) == global_batch
    assert "SLURM_NTASKS" not in env  # across nodes the task count is Slurm's own
    assert env["DGXSYSTEM"] == config.stem.removeprefix("config_")


def test_lp2rfp_dry_run_is_run_sub(cli, tmp_path):
    res = cli("run-all", "--suite", MANIFESTS / "lp2rfp.yaml", "--campaign", tmp_path / "c",
              "--runtime", "enroot", "--dry-run", "--json")
    assert res.code == 0, res.err
    plan = res.json()["plan"]
    assert len(plan) == 15
    command = plan[0]["command"]
    srun = command.index("srun")
    assert command[srun + 1:srun + 4] == ["--nodes=4", "--ntasks=32", "--ntasks-per-node=8"]
    assert "--container-name=" in " ".join(command) and command[-1] == "./run_and_time.sh"
    bert = plan[5]["command"]
    assert bert[-2:] == ["slurm2pytorch", "./run_and_time.sh"]


@pytest.mark.parametrize(("name", "nodes", "per_node"), [("smoke-2x2", 2, 2), ("smoke-4x1", 4, 1)])
def test_smoke_suites_across_nodes(name, nodes, per_node):
    suite = load_suite(MANIFESTS / f"{name}.yaml")
    assert suite.nodes == nodes and suite.formula_text() == "7.19/R + 9.05/B"
    assert [b.runs for b in suite.benchmarks.values()] == [5, 10]
    for m in suite_manifests(suite).values():
        assert m.launcher.name == "srun" and m.launcher.processes_per_node == per_node
        doc = yaml.safe_load(Path(m.path).read_text())
        assert doc["command"][:2] == ["--benchmark", m.benchmark]


def test_enroot_starts_the_span_as_one_srun_step(tmp_path):
    stand_in = tmp_path / "srun"
    stand_in.write_text('#!/bin/sh\necho "srun $*"\necho "SEED=$SEED"\n')
    stand_in.chmod(0o755)
    rt = get_runtime("enroot", srun=str(stand_in))
    span = Span(launch=(str(stand_in), *SPAN.launch[1:]), each_node=SPAN.each_node,
                nodes=SPAN.nodes, rank_map=SLURM_TO_PYTORCH, name=SPAN.name)
    log = tmp_path / "log"
    with open(log, "wb") as sink:
        execution = rt.start_span(spec(env={"SEED": "9"}), span, sink, None)
        assert execution.wait(30) == 0
        execution.close()
    text = log.read_text()
    assert "srun --nodes=2 --ntasks=4 --ntasks-per-node=2" in text
    assert "--container-name=gp2bm-abc-resnet" in text and "SEED=9" in text
