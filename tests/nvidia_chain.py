"""NVIDIA's v4.0 launch chain by hand: what gp2bm's runner does, from the same data.

The proof image (containers/nvidia-standin) run with ``docker run`` using exactly the argv
that the launcher and the container options produce, the config file resolved inside the
image, gp2bm's header lines (cache_clear, and the submission lines where the manifest says
gp2bm writes them) before the container's output.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import shutil
import subprocess
import time
from pathlib import Path

import yaml

from gp2bm.run.launch import RunLaunch, plan_launch
from gp2bm.run.submission import mllog_record, submission_info, submission_lines
from gp2bm.runtimes.base import run_spec
from gp2bm.runtimes.docker import DockerRuntime
from gp2bm.spec.configenv import ConfigEnvironment, resolve_image_config
from gp2bm.spec.container import docker_flags
from gp2bm.spec.manifest import BenchmarkManifest, load_manifest
from gp2bm.spec.suite import MIN_RUNS

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = ROOT / "manifests"
# What the stand-in nvidia-smi reports: the 8 GPUs of the DGX H100 the manifests are for.
NODE_GPUS = 8
ORG, SYSTEM, STATUS = "Acme", "X9000", "Available on-premise"


def docker_cli() -> str:
    return "/usr/bin/docker" if os.access("/usr/bin/docker", os.X_OK) else shutil.which("docker")


class DockerImageRunner:
    """The ``ImageCommandRunner`` the runtimes will implement, with the docker CLI."""

    def __init__(self, docker_host: str):
        self.env = {**os.environ, "DOCKER_HOST": docker_host}

    def run_in_image(self, image, argv, workdir):
        cmd = [docker_cli(), "run", "--rm", "--network", "none", "--entrypoint", argv[0]]
        if workdir:
            cmd += ["--workdir", workdir]
        proc = subprocess.run([*cmd, image, *argv[1:]], capture_output=True, env=self.env,
                              timeout=120, check=False)
        return proc.returncode, proc.stdout, proc.stderr


# The packed BERT data set: create_packed_trainset.py writes part_00000 ... part_04319.
PACKED_SHARDS = 4320


def make_data(root: Path, shards: int = 1) -> dict[str, Path]:
    """Tiny stand-ins of the data sets, as the mounts' container paths map them (``shards``
    packed shards: the manifest's data check wants all 4320)."""
    dirs = {name: root / name for name in ("imagenet", "packed", "phase1", "eval")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    for name in ("train.rec", "train.idx", "val.rec", "val.idx"):
        (dirs["imagenet"] / name).write_bytes(b"recordio stand-in\n")
    # a packed shard holds a 'packed_input_len' dataset (create_packed_trainset.py)
    for i in range(shards):
        (dirs["packed"] / f"part_{i:05}").write_bytes(b"\x89HDF\r\n\x1a\npacked_input_len\0")
    (dirs["phase1"] / "model.ckpt-28252.pt").write_bytes(b"checkpoint stand-in\n")
    (dirs["phase1"] / "bert_config.json").write_text("{}\n")
    (dirs["eval"] / "part_eval_10k.hdf5").write_bytes(b"\x89HDF\r\n\x1a\neval\0")
    return {
        "/data": dirs["imagenet"],
        "/workspace/data_phase2": dirs["packed"],
        "/workspace/phase1": dirs["phase1"],
        "/workspace/evaldata": dirs["eval"],
    }


def machine_ulimits(wanted: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """The manifest's ulimits within what this machine lets dockerd set: without
    CAP_SYS_RESOURCE (a test sandbox) memlock cannot exceed the caller's hard limit."""
    out = dict(wanted)
    _, hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    if "memlock" in out and hard != resource.RLIM_INFINITY:
        out["memlock"] = (hard, hard)
    return out


def proof_manifest(benchmark: str, image: str, data: dict[str, Path], **changes):
    """The suite's manifest with the proof image, no GPU request (no GPU runtime here),
    the data mounts on ``data`` and memlock within this machine's limit; ``changes``
    replace manifest fields."""
    m = load_manifest(MANIFESTS / f"nvidia_{benchmark}.yaml")
    mounts = [dataclasses.replace(x, host=str(data[x.container])) for x in m.mounts]
    return dataclasses.replace(m, image=image, gpus="none", mounts=mounts,
                               ulimits=machine_ulimits(m.ulimits), **changes)


def resolve_config(m: BenchmarkManifest, docker_host: str) -> ConfigEnvironment | None:
    if m.config is None:
        return None
    return resolve_image_config(DockerImageRunner(docker_host), m.image, m.config.file,
                                m.workdir)


def docker_argv(m: BenchmarkManifest, launch: RunLaunch, name: str, seed: int) -> list[str]:
    """DockerRuntime's command line of the run: the launch's command, environment and
    container options (inserted before the image), as gp2bm's runner renders it."""
    argv = DockerRuntime().render(run_spec(m, launch, name, {}))
    cut = argv.index(m.image)
    assert argv[cut - len(docker_flags(launch.options)) : cut] == docker_flags(launch.options)
    return argv


def header(m: BenchmarkManifest) -> bytes:
    now = int(time.time() * 1000)
    info = submission_info(m.benchmark, ORG, SYSTEM, STATUS)
    return mllog_record("cache_clear", True, now) + submission_lines(m.submission_lines, info, now)


@dataclasses.dataclass
class ChainRun:
    code: int
    output: bytes  # the container's own output
    log: Path  # header + output, as the runner writes result_N.txt
    argv: list[str]
    seconds: float


def run_chain(m: BenchmarkManifest, seed: int, docker_host: str, log: Path,
              extra_env: dict[str, str] | None = None, timeout: float = 300) -> ChainRun:
    config = resolve_config(m, docker_host)
    env = {"MLPERF_SUBMISSION_ORG": ORG, "MLPERF_SUBMISSION_PLATFORM": SYSTEM,
           **(extra_env or {})}
    launch = plan_launch(m, seed, NODE_GPUS, config, env)
    argv = docker_argv(m, launch, f"gp2bm-proof-{m.benchmark}-{seed}", seed)
    t0 = time.monotonic()
    proc = subprocess.run([docker_cli(), *argv[1:]], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, env={**os.environ, "DOCKER_HOST": docker_host},
                          timeout=timeout, check=False)
    seconds = time.monotonic() - t0
    log.write_bytes(header(m) + proc.stdout)
    return ChainRun(proc.returncode, proc.stdout, log, argv, seconds)


# ---------------------------------------------------------------------------- as a suite
# What the proof suite changes in the shipped manifests, and why: the proof image (a local
# tag, run with --allow-unpinned); no GPU request (no GPU runtime here: the stand-in
# nvidia-smi reports the 8 GPUs of a DGX H100, so the launchers start 8 processes); the data
# mounts on the stand-in data; memlock within this machine's limit; the stand-ins' replay
# speed (CAMPAIGN_TIME_SCALE); and no content digests
# (the md5 of bert_config.json, BERT's eval .chk list): the stand-in files are not the
# real data, only its layout.


# The stand-ins replay the published logs 240 times faster than they ran (a published minute
# in a quarter of a second): a 15-run campaign takes about a minute, and every record and
# check is the same as at any other speed.
CAMPAIGN_TIME_SCALE = 240


def proof_manifest_doc(benchmark: str, image: str, data: dict[str, Path]) -> dict:
    """The shipped manifest as a YAML document, changed as the comment above says."""
    doc = yaml.safe_load((MANIFESTS / f"nvidia_{benchmark}.yaml").read_text())
    doc.update(image=image, gpus="none")
    doc.setdefault("environment", {})["STANDIN_TIME_SCALE"] = str(CAMPAIGN_TIME_SCALE)
    doc["launcher"] = {"name": doc["launcher"], "processes_per_node": NODE_GPUS}
    memlock = machine_ulimits({"memlock": (-1, -1)})["memlock"]
    doc["ulimits"]["memlock"] = {"soft": memlock[0], "hard": memlock[1]}
    for mount in doc["mounts"]:
        mount["host"] = str(data[mount["container"]])
        mount.pop("verify", None)
        mount["files"] = [f if isinstance(f, str) else {k: v for k, v in f.items()
                                                        if k in ("path", "count")}
                          for f in mount.get("files", [])]
    return doc


def write_proof_suite(folder: Path, image: str, data: dict[str, Path],
                      runs: dict[str, int] | None = None,
                      drop: dict[str, list[str]] | None = None) -> Path:
    """manifests/nvidia-v4.0.yaml and its two manifests as a proof suite in ``folder``
    (``runs`` per benchmark; ``drop``: manifest keys removed per benchmark), with a filled-in
    system.yaml beside it (what the ResNet submission lines and the package checker need)."""
    folder.mkdir(parents=True, exist_ok=True)
    suite = yaml.safe_load((MANIFESTS / "nvidia-v4.0.yaml").read_text())
    runs = runs or {b: spec["runs"] for b, spec in suite["benchmarks"].items()}
    suite["benchmarks"] = {b: {**suite["benchmarks"][b], "runs": n} for b, n in runs.items()}
    if min(runs.values()) < 3:
        suite["trial"] = True  # fewer runs than a result needs: a check of the setup
    if min(runs.values()) < MIN_RUNS:
        suite["trial"] = True  # fewer runs than a result needs: a check of the setup
    # the formula names the benchmarks kept, each once (load_suite checks it)
    suite["score"]["formula"] = " + ".join(
        f"{s['weight']}/{s['symbol']}" for s in suite["benchmarks"].values()
    )
    for bench in runs:
        doc = proof_manifest_doc(bench, image, data)
        for key in (drop or {}).get(bench, []):
            doc.pop(key)
        (folder / f"nvidia_{bench}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    (folder / "system.yaml").write_text(yaml.safe_dump(host_system_fields(), sort_keys=False))
    path = folder / "nvidia-v4.0.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


# What this test node is, that the DGX H100's fields below are not: its own CPU and memory
# (as `gp2bm init` detects them) and no GPU (nvidia-smi in the image is a stand-in). A
# system description that claims the DGX's would be a hardware contradiction to verify.
NO_GPU = {
    "accelerators_per_node": "0",
    "accelerator_model_name": "N/A (a CPU test node; the image's nvidia-smi is a stand-in)",
}


def host_system_fields() -> dict[str, str]:
    """``system_fields`` with this node's own host facts, and no accelerator (each other
    accelerator field N/A)."""
    from gp2bm.node.inventory import probe_cpu, probe_memory
    from gp2bm.node.systemdesc import detected_fields

    found = detected_fields({"cpu": probe_cpu(), "memory": probe_memory()})
    host = {k: v for k, v in found.items() if k.startswith("host_processor")}
    host.update({k: v for k, v in found.items() if k == "host_memory_capacity"})
    fields = {**system_fields(), **host}
    fields.update({k: "N/A" for k in fields if k.startswith("accelerator_")})
    return {**fields, **NO_GPU}


def system_fields() -> dict[str, str]:
    """What only the vendor knows, filled in (a DGX H100 as NVIDIA's system JSON has it)."""
    return {
        "submitter": ORG,
        "division": "closed",
        "status": STATUS,
        "system_name": SYSTEM,
        "number_of_nodes": "1",
        "host_processors_per_node": "2",
        "host_processor_model_name": "Intel(R) Xeon(R) Platinum 8480C",
        "host_processor_core_count": "56",
        "host_processor_vcpu_count": "224",
        "host_processor_frequency": "3800 MHz",
        "host_processor_caches": "N/A",
        "host_processor_interconnect": "N/A",
        "host_memory_capacity": "2 TB",
        "host_storage_type": "NVMe SSD",
        "host_storage_capacity": "30 TB",
        "host_networking": "8x ConnectX-7 IB NDR 400Gb/s",
        "host_networking_topology": "N/A (single node)",
        "host_memory_configuration": "32x 64 GB DDR5",
        "accelerators_per_node": "8",
        "accelerator_model_name": "NVIDIA H100-SXM5-80GB",
        "accelerator_host_interconnect": "PCIe Gen5 x16",
        "accelerator_frequency": "1980 MHz",
        "accelerator_on-chip_memories": "50 MB L2",
        "accelerator_memory_configuration": "HBM3",
        "accelerator_memory_capacity": "80 GB",
        "accelerator_interconnect": "NVLINK Gen4 900 GB/s + NVSWITCH Gen3",
        "accelerator_interconnect_topology": "NVSwitch, fully connected",
        "cooling": "air",
        "hw_notes": "N/A",
        "framework": "MXNet NVIDIA Release 24.04 (resnet), PyTorch NVIDIA Release 23.04 (bert)",
        "other_software_stack": "CUDA 12.4, NCCL 2.21",
        "operating_system": "Ubuntu 22.04",
        "sw_notes": "N/A",
    }
