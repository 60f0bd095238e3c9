"""Podman, through its Docker-compatible API (``podman system service``) and the Docker SDK.

Why the API and not the ``podman`` CLI: the Docker runtime's execution (create with labels,
stream the logs into the result log as they come, wait for the exit code, stop with a grace
period, remove, find what a killed gp2bm left by label) is then the same tested code for
both engines, with the engine's errors as structured answers instead of parsed CLI text.
The cost is a service to start: ``systemctl enable --now podman.socket`` (rootful:
/run/podman/podman.sock; rootless: $XDG_RUNTIME_DIR/podman/podman.sock) or
``podman system service --time=0 unix://PATH``. CONTAINER_HOST (podman's own variable)
names another socket.

What differs from Docker is rendered here: the equivalent ``podman run`` line, GPUs as the
CDI device ``nvidia.com/gpu=all`` (NVIDIA Container Toolkit's ``nvidia-ctk cdi generate``),
and the error that names the service to start.
"""

from __future__ import annotations

import os

from gp2bm.errors import InputError
from gp2bm.runtimes.base import RunSpec, register
from gp2bm.runtimes.docker import DockerRuntime

CDI_GPU = "nvidia.com/gpu"


def default_podman_host() -> str:
    if os.environ.get("CONTAINER_HOST"):
        return os.environ["CONTAINER_HOST"]
    if os.geteuid() == 0:
        return "unix:///run/podman/podman.sock"
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.geteuid()}"
    return f"unix://{runtime_dir}/podman/podman.sock"


def podman_client(host: str, timeout: int = 120):
    import docker

    try:
        client = docker.DockerClient(base_url=host, timeout=timeout)
        client.ping()
    except Exception as exc:  # DockerException, connection errors, bad URLs
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(
            f"cannot reach Podman's API service at {host}: {reason} (start it with "
            "`systemctl start podman.socket` or `podman system service --time=0 "
            "unix://PATH`; set CONTAINER_HOST)"
        ) from None
    return client


@register
class PodmanRuntime(DockerRuntime):
    name = "podman"

    def __init__(self, podman_host: str | None = None):
        super().__init__(docker_host=podman_host or default_podman_host())

    @property
    def client(self):
        if self._client is None:
            self._client = podman_client(self.docker_host)
        return self._client

    def render(self, spec: RunSpec) -> list[str]:
        argv = super().render(spec)
        argv[0] = "podman"
        if "--gpus" in argv:
            i = argv.index("--gpus")
            argv[i : i + 2] = [a for d in cdi_gpus(spec.gpus) for a in ("--device", d)]
        return argv

    def create_kwargs(self, spec: RunSpec) -> dict:
        import docker.types

        kwargs = super().create_kwargs(spec)
        if kwargs.pop("device_requests", None):
            # The API form of `--device nvidia.com/gpu=all`: a CDI device request (what
            # Docker Compose sends too); Podman has no NVIDIA hook for the "gpu" capability.
            kwargs["device_requests"] = [
                docker.types.DeviceRequest(driver="cdi", device_ids=cdi_gpus(spec.gpus))
            ]
        return kwargs


def cdi_gpus(gpus: str | int) -> list[str]:
    if gpus == "all":
        return [f"{CDI_GPU}=all"]
    return [f"{CDI_GPU}={g}" for g in range(int(gpus))]
