"""NVIDIA's v4.0 launch chain by hand: what gp2bm's runner will do, from the same data.

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

from gp2bm.run.launch import RunLaunch, plan_launch
from gp2bm.run.submission import mllog_record, submission_info, submission_lines
from gp2bm.runtimes.base import run_spec
from gp2bm.runtimes.docker import DockerRuntime
from gp2bm.spec.configenv import ConfigEnvironment, resolve_image_config
from gp2bm.spec.container import docker_flags
from gp2bm.spec.manifest import BenchmarkManifest, load_manifest

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


def make_data(root: Path) -> dict[str, Path]:
    """Tiny stand-ins of the data sets, as the mounts' container paths map them."""
    dirs = {name: root / name for name in ("imagenet", "packed", "phase1", "eval")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    for name in ("train.rec", "train.idx", "val.rec", "val.idx"):
        (dirs["imagenet"] / name).write_bytes(b"recordio stand-in\n")
    # a packed shard holds a 'packed_input_len' dataset (create_packed_trainset.py)
    (dirs["packed"] / "part_00000").write_bytes(b"\x89HDF\r\n\x1a\npacked_input_len\0")
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
    """DockerRuntime's command line with the launch's command and environment, and the
    container options inserted before the image (what INTEGRATION.md asks of render)."""
    spec = dataclasses.replace(run_spec(m, name, seed, {}, {}), command=launch.command,
                               env=launch.environment)
    base = DockerRuntime().render(spec)
    cut = len(base) - len(spec.command) - 1
    assert base[cut] == m.image
    return base[:cut] + docker_flags(launch.options) + base[cut:]


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
