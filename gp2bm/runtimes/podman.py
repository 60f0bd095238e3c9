"""Podman, through its Docker-compatible API (``podman system service``) and the Docker SDK.

Why the API and not the ``podman`` CLI: the Docker runtime's execution (create with labels,
stream the logs into the result log as they come, wait for the exit code, stop with a grace
period, remove, find what a killed gp2bm left by label) is then the same tested code for
both engines, with the engine's errors as structured answers instead of parsed CLI text.
The cost is a service to start: ``systemctl enable --now podman.socket`` (rootful:
/run/podman/podman.sock; rootless: $XDG_RUNTIME_DIR/podman/podman.sock) or
``podman system service --time=0 unix://PATH``. CONTAINER_HOST (podman's own variable)
names another socket.

What differs from Docker is here: the equivalent ``podman run`` line, GPUs as the CDI
device ``nvidia.com/gpu=all`` (NVIDIA Container Toolkit's ``nvidia-ctk cdi generate``), the
pre-flight's GPU check (a CDI spec, Podman has no NVIDIA runtime hook for ``--gpus``), the
messages that name the service to start, and an image built here pinned by its image ID
(``gp2bm pin --local``), read with the ``podman`` command itself (GP2BM_PODMAN names it), so
that no service is needed to pin.
"""

from __future__ import annotations

import json
import os
import subprocess

import docker.types

from gp2bm.errors import InputError
from gp2bm.files.command import run_short
from gp2bm.files.findings import CheckItem, fail, ok
from gp2bm.runtimes.base import GPU_CHECK, RunSpec, register

# The one plugin that imports another: Podman is driven through Docker's API, so the Docker
# runtime's tested code (run, logs, wait, stop, cleanup, checks, pull, source export) is its.
from gp2bm.runtimes.docker import CDI_GPU, DockerRuntime, cdi_specs

# Where Podman reads CDI specs (containers.conf's cdi_spec_dirs defaults).
CDI_DIRS = ("/etc/cdi", "/var/run/cdi")


def default_podman_host() -> str:
    if os.environ.get("CONTAINER_HOST"):
        return os.environ["CONTAINER_HOST"]
    if os.geteuid() == 0:
        return "unix:///run/podman/podman.sock"
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.geteuid()}"
    return f"unix://{runtime_dir}/podman/podman.sock"


@register
class PodmanRuntime(DockerRuntime):
    name = "podman"
    product = "Podman"
    engine = "Podman's API service"
    cli = "podman"
    reach_hint = (
        "start it with `systemctl start podman.socket` or `podman system service --time=0 "
        "unix://PATH`; set CONTAINER_HOST"
    )
    engine_fix = (
        "start Podman's API service (systemctl start podman.socket, or podman system service "
        "--time=0 unix://PATH) or set CONTAINER_HOST to it"
    )

    def __init__(self, *, podman_host: str | None = None, podman: str | None = None):
        # the Docker runtime's engine address is Podman's API socket
        super().__init__(docker_host=podman_host or default_podman_host())
        self.binary = podman or os.environ.get("GP2BM_PODMAN") or "podman"

    def local_image(self, image: str, asked: bool) -> str | None:
        """The image ID in Podman's store, read by the ``podman`` command itself (no API
        service needed); without ``asked``, only an image built here: every repo digest
        Podman lists for it is its own ``localhost/`` one."""
        argv = [self.binary, "image", "inspect", "--format", "json", image]
        # the store itself, never a remote service CONTAINER_HOST names
        env = {k: v for k, v in os.environ.items() if k != "CONTAINER_HOST"}
        try:
            proc = run_short(argv, 120, env=env)
        except (OSError, subprocess.TimeoutExpired) as exc:
            if asked:
                raise InputError(f"podman image inspect {image}: {exc}") from None
            return None
        if proc.returncode != 0:
            if asked:
                tail = proc.stderr.strip().splitlines()
                why = tail[-1] if tail else f"exit {proc.returncode}"
                raise InputError(f"image {image} is not in Podman's store: {why}")
            return None
        found = json.loads(proc.stdout)[0]
        digests = [d for d in found.get("RepoDigests") or [] if not d.startswith("localhost/")]
        return f"sha256:{found['Id']}" if asked or not digests else None

    def render_gpus(self, spec: RunSpec) -> list[str]:
        if spec.gpus in ("none", None):
            return []
        return [a for d in cdi_gpus(spec.gpus) for a in ("--device", d)]

    def gpu_requests(self, spec: RunSpec) -> list:
        if spec.gpus in ("none", None):
            return []
        # The API form of `--device nvidia.com/gpu=all`: a CDI device request (what Docker
        # Compose sends too); Podman has no NVIDIA hook for the "gpu" capability.
        return [docker.types.DeviceRequest(driver="cdi", device_ids=cdi_gpus(spec.gpus))]

    def check_gpu_runtime(self, client) -> CheckItem:
        dirs = list(client.info().get("CDISpecDirs") or CDI_DIRS)
        cdi = cdi_specs(dirs)
        if cdi:
            return ok(GPU_CHECK, f"CDI devices {CDI_GPU} in {', '.join(cdi)}")
        return fail(
            GPU_CHECK,
            f"no {CDI_GPU} CDI spec in {', '.join(dirs)}",
            "install the NVIDIA Container Toolkit and run "
            "`nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`",
        )


def cdi_gpus(gpus: str | int) -> list[str]:
    if gpus == "all":
        return [f"{CDI_GPU}=all"]
    return [f"{CDI_GPU}={g}" for g in range(int(gpus))]
