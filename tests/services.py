"""Real services for the tests that need them: a Docker Engine and a local OCI registry.

Plain functions over ``scripts/services.sh`` and the image build scripts; the fixtures that
use them live in ``conftest.py``. A typical session fixture::

    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    try:
        services = start_services(tmp_path_factory.mktemp("services"))
    except ServicesUnavailable as exc:
        pytest.skip(str(exc))
    yield services
    stop_services(services)

Both daemons are private to the directory given: dockerd listens on ``DIR/docker.sock`` and
the registry on ``127.0.0.1:<free port>``; nothing else on the machine is touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
SERVICES_SH = SCRIPTS / "services.sh"
BUILD_BASE_SH = SCRIPTS / "build_base_image.sh"
BUILD_SMOKE_SH = SCRIPTS / "build_smoke_image.sh"

SMOKE_BASE = "gp2bm/smoke-base:bookworm"
SMOKE_TAG = "gp2bm/smoke:latest"  # what manifests/smoke_*.yaml name
# Where the smoke workload's source lives inside the image.
SMOKE_SOURCE_DIR = "/workspace/smoke"

# The scripts' exit status for "this machine cannot do it" (not root, nothing to install
# the packages from, no Debian mirror, no PyPI).
EXIT_UNAVAILABLE = 3
# A first start may install Debian packages; a first image build runs mmdebstrap.
START_TIMEOUT_S = 900
BUILD_TIMEOUT_S = 900
STOP_TIMEOUT_S = 120


class ServicesUnavailable(RuntimeError):
    """This machine cannot provide the services; tests that need them should skip."""


@dataclass(frozen=True)
class Services:
    docker_host: str  # unix:///.../docker.sock
    registry: str  # 127.0.0.1:PORT (plain HTTP)
    dir: Path

    def env(self) -> dict[str, str]:
        """What a child process needs to reach them (the names of DIR/env)."""
        return {"DOCKER_HOST": self.docker_host, "GP2BM_TEST_REGISTRY": self.registry}

    def client(self, timeout: int = 120):
        """A Docker SDK client of this daemon (the caller closes it)."""
        import docker

        return docker.DockerClient(base_url=self.docker_host, timeout=timeout)


def unavailable_reason() -> str | None:
    """Why the services cannot start on this machine, or None if they should."""
    if sys.platform != "linux":
        return "the docker test services need Linux"
    if os.geteuid() != 0:
        return "the docker test services need root (they start a private dockerd)"
    if shutil.which("bash") is None:
        return "the docker test services need bash"
    if shutil.which("dockerd") is None and shutil.which("apt-get") is None:
        return "no dockerd, and no apt-get to install docker.io"
    return None


def _run_script(args: list[str], timeout: float, env: dict[str, str] | None = None,
                what: str = "") -> str:
    try:
        proc = subprocess.run(["bash", *args], capture_output=True, text=True, timeout=timeout,
                              env=env, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{what or args[0]} did not finish in {timeout:.0f} s") from exc
    if proc.returncode == EXIT_UNAVAILABLE:
        raise ServicesUnavailable(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip()
                                  else f"{what} cannot run on this machine")
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-30:])
        raise RuntimeError(f"{what or args[0]} failed with exit status {proc.returncode}:\n{tail}")
    return proc.stdout


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() and not name.lstrip().startswith("#"):
            env[name.strip()] = value.strip()
    return env


def start_services(directory: str | os.PathLike) -> Services:
    """Start (or find running) dockerd and the registry private to ``directory``.

    Raises ServicesUnavailable when this machine cannot run them, RuntimeError when they
    fail to start.
    """
    reason = unavailable_reason()
    if reason:
        raise ServicesUnavailable(reason)
    path = Path(directory).resolve()
    path.mkdir(parents=True, exist_ok=True)
    _run_script([str(SERVICES_SH), "start", str(path)], START_TIMEOUT_S,
                what="scripts/services.sh start")
    env = read_env_file(path / "env")
    return Services(docker_host=env["DOCKER_HOST"], registry=env["GP2BM_TEST_REGISTRY"],
                    dir=path)


def stop_services(services: Services) -> None:
    """Stop both daemons and unmount what they left under their directory."""
    _run_script([str(SERVICES_SH), "stop", str(services.dir)], STOP_TIMEOUT_S,
                what="scripts/services.sh stop")


def ensure_base_image(services: Services, base: str = SMOKE_BASE) -> str:
    """Make the mmdebstrap base image in this daemon unless it has it (cached rootfs)."""
    env = {**os.environ, **services.env()}
    _run_script([str(BUILD_BASE_SH), base], BUILD_TIMEOUT_S, env=env,
                what="scripts/build_base_image.sh")
    return base


def ensure_smoke_image(services: Services, tag: str = SMOKE_TAG,
                       base: str = SMOKE_BASE) -> str:
    """Build the smoke benchmark image as ``tag`` (from the current train.py); return tag.

    Layers are cached by the daemon, so calling it again is quick.
    """
    ensure_base_image(services, base)
    env = {**os.environ, **services.env(), "GP2BM_SMOKE_BASE": base,
           # The wheel is downloaded with the pip of the interpreter running the tests.
           "PYTHON": sys.executable}
    _run_script([str(BUILD_SMOKE_SH), tag], BUILD_TIMEOUT_S, env=env,
                what="scripts/build_smoke_image.sh")
    return tag


# ---------------------------------------------------------------------------- HPC services
# Slurm, Podman's API service and Apptainer, for the runtime and scheduler tests: each is
# private to a directory like dockerd above (scripts/slurm.sh, podman.sh, apptainer.sh).

SLURM_SH = SCRIPTS / "slurm.sh"
PODMAN_SH = SCRIPTS / "podman.sh"
APPTAINER_SH = SCRIPTS / "apptainer.sh"
APPTAINER_PREFIX = Path("/opt/gp2bm-apptainer")


def _root_reason(what: str, binary: str, package: str) -> str | None:
    if sys.platform != "linux":
        return f"{what} needs Linux"
    if os.geteuid() != 0:
        return f"{what} needs root"
    if shutil.which(binary) is None and shutil.which("apt-get") is None:
        return f"no {binary}, and no apt-get to install {package}"
    return None


@dataclass(frozen=True)
class SlurmCluster:
    conf: str  # the slurm.conf every Slurm command of the tests must read
    nodes: int
    partition: str
    dir: Path

    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": self.conf}


def slurm_unavailable_reason() -> str | None:
    return _root_reason("a local Slurm", "slurmctld", "slurm-wlm")


def start_slurm(directory: str | os.PathLike, nodes: int = 1) -> SlurmCluster:
    """munged, slurmctld and ``nodes`` slurmd (n1..nN, one host) private to ``directory``."""
    reason = slurm_unavailable_reason()
    if reason:
        raise ServicesUnavailable(reason)
    path = Path(directory).resolve()
    _run_script([str(SLURM_SH), "start", str(path), str(nodes)], START_TIMEOUT_S,
                what="scripts/slurm.sh start")
    env = read_env_file(path / "env")
    return SlurmCluster(conf=env["SLURM_CONF"], nodes=int(env["GP2BM_TEST_SLURM_NODES"]),
                        partition=env["GP2BM_TEST_SLURM_PARTITION"], dir=path)


def stop_slurm(cluster: SlurmCluster) -> None:
    _run_script([str(SLURM_SH), "stop", str(cluster.dir)], STOP_TIMEOUT_S,
                what="scripts/slurm.sh stop")


def slurm_or_skip(directory: str | os.PathLike, nodes: int) -> Iterator[SlurmCluster]:
    """A Slurm test fixture's body (``yield from``): a private Slurm of ``nodes`` nodes, with
    ``SLURM_CONF`` naming it while in use (the tests' own Slurm commands and every task read
    it); the tests skip, saying why, where it cannot run here."""
    import pytest

    reason = slurm_unavailable_reason()
    if reason:
        pytest.skip(reason)
    try:
        cluster = start_slurm(directory, nodes)
    except ServicesUnavailable as exc:
        pytest.skip(str(exc))
    before = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = cluster.conf
    try:
        yield cluster
    finally:
        if before is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = before
        stop_slurm(cluster)


@dataclass(frozen=True)
class PodmanService:
    host: str  # unix:///.../podman.sock: Podman's Docker-compatible API
    dir: Path

    def env(self) -> dict[str, str]:
        return {"CONTAINER_HOST": self.host}

    def client(self, timeout: int = 120):
        import docker

        return docker.DockerClient(base_url=self.host, timeout=timeout)


def podman_unavailable_reason() -> str | None:
    return _root_reason("rootful Podman", "podman", "podman")


def start_podman(directory: str | os.PathLike, registries: list[str] = ()) -> PodmanService:
    """``podman system service`` on DIR/podman.sock; it may pull from these HTTP registries."""
    reason = podman_unavailable_reason()
    if reason:
        raise ServicesUnavailable(reason)
    path = Path(directory).resolve()
    _run_script([str(PODMAN_SH), "start", str(path), *registries], START_TIMEOUT_S,
                what="scripts/podman.sh start")
    return PodmanService(host=read_env_file(path / "env")["CONTAINER_HOST"], dir=path)


def stop_podman(service: PodmanService) -> None:
    _run_script([str(PODMAN_SH), "stop", str(service.dir)], STOP_TIMEOUT_S,
                what="scripts/podman.sh stop")


def install_apptainer(prefix: Path = APPTAINER_PREFIX) -> str:
    """A working apptainer (on PATH, or unpacked under ``prefix``): its path."""
    reason = _root_reason("Apptainer", "apptainer", "apptainer")
    if reason:
        raise ServicesUnavailable(reason)
    out = _run_script([str(APPTAINER_SH), "install", str(prefix)], START_TIMEOUT_S,
                      what="scripts/apptainer.sh install")
    return out.strip().splitlines()[-1]


# ---------------------------------------------------------------------- NVIDIA proof image
# NVIDIA's v4.0 launch chain with stand-in entry points (containers/nvidia-standin), built
# from the real files of shared/fixtures/nvidia-v4.0.

BUILD_NVIDIA_SH = SCRIPTS / "build_nvidia_standin_image.sh"
NVIDIA_FIXTURES = ROOT.parent / "shared" / "fixtures" / "nvidia-v4.0"
NVIDIA_STANDIN_TAG = "gp2bm/nvidia-standin:v4.0"


def ensure_nvidia_standin_image(services: Services, tag: str = NVIDIA_STANDIN_TAG) -> str:
    """Build the proof image as ``tag`` in the services' daemon (layers cached); return tag."""
    env = {**os.environ, **services.env(), "PYTHON": sys.executable,
           "GP2BM_NVIDIA_FIXTURES": str(NVIDIA_FIXTURES)}
    _run_script([str(BUILD_NVIDIA_SH), tag], BUILD_TIMEOUT_S, env=env,
                what="scripts/build_nvidia_standin_image.sh")
    return tag
