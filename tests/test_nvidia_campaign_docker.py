"""``gp2bm run-all`` with NVIDIA's v4.0 suite in real Docker, through the real launch chain.

The shipped suite (manifests/nvidia-v4.0.yaml) with the proof image (containers/
nvidia-standin: NVIDIA's run_and_time.sh, config files, bindpcie and mlperf-common on
Debian's Open MPI and numactl, stand-ins only for the training entry points, nvidia-smi's
GPU count and torch.distributed.run), changed only as tests/nvidia_chain.write_proof_suite
says. 5 ResNet runs under mpirun and 10 BERT runs under torchrun, each resolving the config
file inside the image, passing its environment and the container options: the logs pass
MLCommons' compliance checker (3.1.0, strict), its seed checker and its package checker,
and the campaign scores valid.

Then what went wrong before gp2bm launched as NVIDIA does, each through run-all: drop the
config file, the launcher, the seccomp option or the submission lines from the manifest and
the run fails with the error NVIDIA's own scripts give; mount the unpacked BERT shards and
the pre-flight stops the campaign before a single run, naming the packing step.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import docker  # type: ignore[import-untyped]  # no stubs in the dev extra
import nvidia_chain as nc
import pytest
from services import NVIDIA_FIXTURES, ServicesUnavailable, ensure_nvidia_standin_image

from gp2bm.campaign.record import RunRecord
from gp2bm.results.mlcommons.compliance import check_compliance
from gp2bm.results.mlcommons.seeds import check_seeds
from gp2bm.run.submission import key_counts
from gp2bm.runtimes import get_runtime
from gp2bm.spec.configenv import resolve_image_config

pytestmark = [pytest.mark.docker, pytest.mark.slow]

CAMPAIGN_BUDGET_S = 300  # the acceptance: 15 runs in under 5 minutes on 2 cores
RUN_TIMEOUT_S = 900


@dataclass
class Proof:
    image: str
    data: dict[str, Path]
    docker_host: str
    tmp: pytest.TempPathFactory
    build_seconds: float


@pytest.fixture(scope="module")
def proof(docker_services, tmp_path_factory) -> Proof:
    if not NVIDIA_FIXTURES.is_dir():
        pytest.skip(f"NVIDIA's v4.0 files are not available: {NVIDIA_FIXTURES} is absent")
    t0 = time.monotonic()
    try:
        image = ensure_nvidia_standin_image(docker_services)
    except ServicesUnavailable as exc:
        pytest.skip(str(exc))
    data = nc.make_data(tmp_path_factory.mktemp("nvidia-data"), shards=nc.PACKED_SHARDS)
    return Proof(image, data, docker_services.docker_host, tmp_path_factory,
                 time.monotonic() - t0)


def gp2bm(proof: Proof, *args) -> subprocess.CompletedProcess:
    """gp2bm as a vendor runs it, against the test daemon, in a folder of its own (where a
    default campaign folder would go)."""
    env = {**os.environ, "DOCKER_HOST": proof.docker_host, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "gp2bm", *map(str, args)], env=env,
                          cwd=proof.tmp.mktemp("cwd"), capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S, check=False)


def run_all(proof: Proof, suite: Path, campaign: Path, *extra) -> subprocess.CompletedProcess:
    return gp2bm(proof, "run-all", "--suite", suite, "--campaign", campaign, "--org", nc.ORG,
                 "--system", nc.SYSTEM, "--allow-unpinned", "--cache-drop-command", "true",
                 "--json", *extra)


def result_dir(campaign: Path, bench: str) -> Path:
    return campaign / nc.ORG / "results" / nc.SYSTEM / bench


def record(campaign: Path, bench: str, n: int = 0) -> RunRecord:
    found = RunRecord.load(campaign / "records" / bench / f"run_{n}.json")
    assert found is not None, f"no run record of {bench} run {n}"
    return found


@dataclass
class Done:
    root: Path
    proc: subprocess.CompletedProcess
    seconds: float


@pytest.fixture(scope="module")
def campaign(proof) -> Done:
    folder = proof.tmp.mktemp("nvidia-campaign")
    suite = nc.write_proof_suite(folder / "suite", proof.image, proof.data)
    root = folder / "campaign"
    t0 = time.monotonic()
    proc = run_all(proof, suite, root)
    seconds = time.monotonic() - t0
    print(f"\nproof image ready in {proof.build_seconds:.1f} s; run-all of 15 runs "
          f"in {seconds:.1f} s")
    return Done(root, proc, seconds)


def test_fifteen_runs_through_nvidias_launch_chain_score_valid(campaign):
    proc = campaign.proc
    assert proc.returncode == 0, proc.stderr[-4000:]
    score = json.loads(proc.stdout)
    assert score["score"] is not None and score["score"] > 0
    for bench, n in (("resnet", 5), ("bert", 10)):
        result = score["benchmarks"][bench]
        assert result["valid"] and len(result["runs"]) == n
        assert all(r["status"] == "success" for r in result["runs"]), result["runs"]
    assert campaign.seconds < CAMPAIGN_BUDGET_S, f"run-all took {campaign.seconds:.0f} s"


@pytest.mark.parametrize("bench, launcher, n", [("resnet", "mpirun", 5), ("bert", "torchrun", 10)])
def test_each_run_was_launched_as_nvidia_launches_it(campaign, bench, launcher, n):
    logs = sorted(result_dir(campaign.root, bench).glob("result_*.txt"))
    assert len(logs) == n
    for i, log in enumerate(logs):
        rec = record(campaign.root, bench, i)
        assert rec.succeeded, rec.reason
        launch = rec.launch
        assert launch is not None
        assert launch["launcher"] == launcher and launch["processes_per_node"] == 8
        assert launch["config"].endswith(".sh") and not launch["problems"]
        assert launch["environment"]["DGXNGPU"] == "8"
        assert launch["environment"]["SEED"] == str(rec.seed)
        assert "seccomp=unconfined" in rec.relaxed and "uts=host" in rec.relaxed
        image = rec.command.index(rec.image)
        assert rec.command[image - 5 : image] == ["--security-opt", "seccomp=unconfined",
                                                   "--init", "--uts", "host"]
        assert rec.command[image + 1] == ("mpirun" if launcher == "mpirun" else "python")
        # the submission lines exactly once each: gp2bm's for ResNet, BERT's own for BERT
        text = log.read_bytes()
        assert key_counts(text) == dict.fromkeys(key_counts(b""), 1)
        writer = b'"key": "submission_org", "value": "Acme", "metadata": {"file": "gp2bm"'
        assert (writer in text) == (bench == "resnet")
        assert rec.submission_problem is None
        compliance = check_compliance(log, "3.1.0")
        assert compliance.passed, (log, compliance.messages)
    assert check_seeds(logs, "3.1.0").passed


def test_the_campaign_packages_and_passes_mlcommons_package_checker(proof, campaign):
    assert campaign.proc.returncode == 0
    bundle = campaign.root.parent / "handin.tar.gz"
    res = gp2bm(proof, "package", campaign.root, "-o", bundle, "--json")
    assert res.returncode == 0, res.stderr[-3000:]
    data = json.loads(res.stdout)
    assert data["package_checker"]["ran"] and data["package_checker"]["passed"]
    assert data["valid"]
    score = gp2bm(proof, "score", campaign.root, "--json")
    assert score.returncode == 0 and json.loads(score.stdout)["score"] == data["score"]
    # The evaluator's verdict, held to gp2rfp's rules (the RFP's suite): no rule differs; the
    # proof image ran by tag (--allow-unpinned), a reservation verified only when accepted.
    gp2rfp = Path(__file__).resolve().parent.parent / "manifests" / "gp2rfp.yaml"
    plain = gp2bm(proof, "verify", bundle, "--suite", gp2rfp, "--json")
    assert plain.returncode == 1, plain.stdout[-3000:] + plain.stderr[-3000:]
    verdict = json.loads(plain.stdout)
    assert verdict["reference"]["suite"] == "gp2rfp"
    assert not [f for f in verdict["findings"] if f["class"] != "reservation"], verdict
    assert "unpinned" in plain.stdout
    accepted = gp2bm(proof, "verify", bundle, "--suite", gp2rfp, "--accept", "unpinned")
    assert accepted.returncode == 0, accepted.stdout[-3000:] + accepted.stderr[-3000:]
    assert "rules: your suite file" in accepted.stdout and "verified" in accepted.stdout


# ---------------------------------------------------------------------------- what failed


def failing_campaign(proof: Proof, name: str, runs: dict[str, int],
                     drop: dict[str, list[str]]) -> tuple[subprocess.CompletedProcess, Path]:
    folder = proof.tmp.mktemp(name)
    suite = nc.write_proof_suite(folder / "suite", proof.image, proof.data, runs, drop)
    root = folder / "campaign"
    return run_all(proof, suite, root), root


def failed_run(root: Path, bench: str, message: str) -> RunRecord:
    """The run failed, its record says so, and its log holds NVIDIA's scripts' error."""
    rec = record(root, bench)
    assert rec.status == "aborted" and rec.exit_code not in (0, None), rec.reason
    log = (root / rec.log).read_text(errors="replace")
    assert message in log, log[-3000:]
    return rec


@pytest.mark.reliability("launch-no-config")
def test_without_the_config_file(proof):
    """Before: manifests/bert.yaml set only DGXSYSTEM and NEXP; resnet.yaml trained on
    run_and_time.sh's defaults (no GPU list, batch 1664, 90 epochs)."""
    proc, root = failing_campaign(proof, "no-config", {"resnet": 1, "bert": 1},
                                  {"resnet": ["config"], "bert": ["config"]})
    assert proc.returncode == 1
    rec = failed_run(root, "resnet", "--batch-size 1664, but the published run had 400")
    assert rec.launch is not None
    assert rec.launch["config"] is None and "BATCHSIZE" not in rec.launch["environment"]
    failed_run(root, "bert", "BATCHSIZE: BATCHSIZE not set")


@pytest.mark.reliability("launch-no-launcher")
def test_without_the_launcher(proof):
    """Before: gp2bm started ./run_and_time.sh once, not once per GPU."""
    proc, root = failing_campaign(proof, "no-launcher", {"resnet": 1, "bert": 1},
                                  {"resnet": ["launcher"], "bert": ["launcher"]})
    assert proc.returncode == 1
    rec = failed_run(root, "resnet", "ERROR: cannot read LOCAL_RANK from env")
    assert rec.launch is not None
    assert rec.launch["launcher"] == "none"
    failed_run(root, "bert", "environment variable RANK expected, but not set")


@pytest.mark.reliability("launch-no-seccomp")
def test_without_seccomp_unconfined(proof):
    """Before: the manifest could not say --security-opt seccomp=unconfined; Docker's default
    profile refuses bindpcie's numactl --membind."""
    proc, root = failing_campaign(proof, "no-seccomp", {"resnet": 1}, {"resnet": ["security_opt"]})
    assert proc.returncode == 1
    rec = failed_run(root, "resnet", "set_mempolicy: Operation not permitted")
    assert "seccomp=unconfined" not in rec.relaxed


@pytest.mark.reliability("launch-submission-lines")
def test_without_gp2bm_submission_lines(proof):
    """Before: NVIDIA's host script writes ResNet's submission lines, train_imagenet.py does
    not: the run ends well, and fails compliance."""
    proc, root = failing_campaign(proof, "no-submission", {"resnet": 1},
                                  {"resnet": ["submission_lines"]})
    assert proc.returncode == 1
    rec = record(root, "resnet")
    assert rec.succeeded  # the training itself ended well
    assert rec.submission_problem is not None
    assert "set submission_lines: gp2bm" in rec.submission_problem
    assert "will fail compliance" in proc.stderr and "submission_lines: gp2bm" in proc.stderr
    run = json.loads(proc.stdout)["benchmarks"]["resnet"]["runs"][0]
    assert run["status"] != "success" or not run["counted"]
    assert any("submission_" in reason for reason in run["reasons"]), run


@pytest.mark.reliability("launch-unpacked-data")
def test_unpacked_bert_shards_stop_the_campaign_before_any_run(proof):
    """Before: the manifest mounted the unpacked shards, which this config cannot read."""
    unpacked = proof.tmp.mktemp("hdf5_4320_shards_varlength")
    for i in range(nc.PACKED_SHARDS):
        (unpacked / f"part_{i:05}_of_04320.hdf5").write_bytes(b"\x89HDF\r\n\x1a\ninput_ids\0")
    data = {**proof.data, "/workspace/data_phase2": unpacked}
    folder = proof.tmp.mktemp("unpacked")
    suite = nc.write_proof_suite(folder / "suite", proof.image, data, {"bert": 1})
    proc = run_all(proof, suite, folder / "campaign")
    assert proc.returncode == 1
    assert "(0 of 4320 files)" in proc.stderr and "create_packed_trainset.py" in proc.stderr
    assert not (folder / "campaign" / "records" / "bert").exists()
    # what the old manifest led to, the pre-flight skipped: the run fails as h5py would
    proc = run_all(proof, suite, folder / "campaign", "--skip-check")
    assert proc.returncode == 1
    failed_run(folder / "campaign", "bert", "object 'packed_input_len' doesn't exist")


# ---------------------------------------------------------------------------- the shipped suite


@pytest.fixture(scope="module")
def shipped_images(proof):
    """The shipped manifests' image names on the proof image: what a vendor has after
    building NVIDIA's images (the config files inside are NVIDIA's own)."""
    client = docker.DockerClient(base_url=proof.docker_host)
    try:
        image = client.images.get(proof.image)
        for ref in (nc.load_manifest(nc.MANIFESTS / f"nvidia_{b}.yaml").image
                    for b in ("resnet", "bert")):
            repo, tag = ref.rsplit(":", 1)
            image.tag(repo, tag)
    finally:
        client.close()
    return nc.MANIFESTS / "nvidia-v4.0.yaml"


def test_dry_run_of_the_shipped_suite_prints_nvidias_launch(proof, shipped_images, tmp_path):
    res = gp2bm(proof, "run-all", "--suite", shipped_images, "--campaign", tmp_path / "c",
                "--org", nc.ORG, "--system", nc.SYSTEM, "--dry-run")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    commands = {b: next(lines[i + 1] for i, x in enumerate(lines) if x.startswith(f"# {b} run 0"))
                for b in ("resnet", "bert")}
    for bench, command in commands.items():
        print(f"\n{bench}: {command}")
        assert "--security-opt seccomp=unconfined --init --uts host mlperf-nvidia:" in command
        assert "--env BATCHSIZE=" in command and "--env DGXNGPU=8" in command
    assert commands["resnet"].endswith("mpirun --allow-run-as-root --bind-to none --np 8 "
                                       "./run_and_time.sh")
    assert commands["bert"].endswith("python -m torch.distributed.run --standalone --no_python "
                                     "--nproc_per_node=8 ./run_and_time.sh")
    assert "DGXNGPU" in res.stderr and "note:" in res.stderr  # no GPU here: the config's
    assert not (tmp_path / "c").exists()


def test_check_of_the_shipped_suite_reads_configs_and_launchers_in_the_images(
    proof, shipped_images
):
    res = gp2bm(proof, "check", "--suite", shipped_images, "--no-gpu", "--json")
    assert res.returncode == 1  # /raid/datasets is not on this machine
    items = {i["name"]: i for i in json.loads(res.stdout)["checks"]}
    for bench, count in (("resnet", 50), ("bert", 28)):
        assert items[f"{bench} config"]["status"] == "pass", items[f"{bench} config"]
        assert items[f"{bench} config"]["detail"].startswith(f"{count} variables from ")
        assert items[f"{bench} launcher"]["status"] == "pass", items[f"{bench} launcher"]
        assert items[f"{bench} container options"]["status"] == "pass"
    assert "/usr/bin/mpirun" in items["resnet launcher"]["detail"]
    data = items["bert packed training shards"]
    assert data["status"] == "fail" and "does not exist" in data["detail"]
    assert "create_packed_trainset.py" in data["fix"]


def test_the_runtime_reads_a_config_as_the_reference_runner_does(proof):
    runtime = get_runtime("docker", docker_host=proof.docker_host)
    config = "./config_DGXH100.sh"
    workdir = "/workspace/image_classification"
    ours = resolve_image_config(runtime, proof.image, config, workdir)
    reference = resolve_image_config(nc.DockerImageRunner(proof.docker_host), proof.image,
                                     config, workdir)
    assert ours.exported == reference.exported and ours.exported["DGXNGPU"] == "8"
    client = docker.DockerClient(base_url=proof.docker_host)
    try:  # the throw-away containers are gone
        assert not client.containers.list(all=True, filters={"label": "io.gp2bm.probe"})
    finally:
        client.close()
