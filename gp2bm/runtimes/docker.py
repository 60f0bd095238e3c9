"""Docker Engine runtime, through the Docker SDK (Engine API)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import BinaryIO

from gp2bm.errors import InputError
from gp2bm.runtimes.base import (
    LABEL_CAMPAIGN,
    LABEL_RUN,
    Execution,
    ImageInfo,
    RunSpec,
    Runtime,
    register,
)
from gp2bm.runtimes.output import OutputPump
from gp2bm.spec.manifest import BenchmarkManifest


def docker_client(docker_host: str | None = None, timeout: int = 120):
    import docker

    base_url = docker_host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        client = docker.DockerClient(base_url=base_url, timeout=timeout)
        client.ping()
    except Exception as exc:  # DockerException, connection errors, bad URLs
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(
            f"cannot reach the Docker Engine at {base_url}: {reason} "
            "(is dockerd running? set DOCKER_HOST)"
        ) from None
    return client


def pull_by_digest(client, reference: str) -> ImageInfo:
    """Pull ``repo@sha256:...`` and check that what arrived carries that digest."""
    import docker

    repo, _, digest = reference.partition("@")
    try:
        events = client.api.pull(repo, tag=digest, stream=True, decode=True)
        for event in events:
            # The Engine reports failures inside the stream, not as an HTTP error.
            if "error" in event or "errorDetail" in event:
                detail = event.get("error") or event.get("errorDetail", {}).get("message")
                raise InputError(f"pull of {reference} failed: {detail}")
    except docker.errors.APIError as exc:
        raise InputError(f"pull of {reference} failed: {exc.explanation or exc}") from None
    return inspect_image(client, reference, require_digest=True)


def inspect_image(client, reference: str, require_digest: bool = False) -> ImageInfo:
    import docker

    try:
        image = client.images.get(reference)
    except docker.errors.ImageNotFound:
        raise InputError(f"image {reference} is not present locally") from None
    digests = list(image.attrs.get("RepoDigests") or [])
    if require_digest and reference not in digests:
        raise InputError(
            f"image {reference}: the local image's repo digests {digests} do not include it"
        )
    return ImageInfo(reference=reference, id=image.id, repo_digests=digests)


class DockerExecution(Execution):
    def __init__(self, container, pump: OutputPump):
        self.container = container
        self.ident = container.name
        self.pump = pump
        self._exit: int | None = None
        # Why the Docker Engine stopped answering while the container ran, if it did.
        self.lost: str | None = None
        self._done = threading.Event()
        self._waiter = threading.Thread(target=self._wait, daemon=True, name="gp2bm-wait")
        self._waiter.start()

    def _wait(self):
        try:
            result = self.container.wait()
            self._exit = int(result.get("StatusCode", -1))
        except Exception as exc:  # the daemon went away; wait() reports -1
            self._exit = -1
            self.lost = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self._done.set()

    def wait(self, timeout: float) -> int | None:
        if not self._done.wait(timeout):
            return None
        self.pump.join(timeout=30)
        return self._exit

    def stop(self, grace_seconds: float = 10.0) -> None:
        try:
            self.container.stop(timeout=int(grace_seconds))
        except Exception:
            pass
        self._done.wait(grace_seconds + 5)
        self.pump.join(timeout=10)

    def close(self) -> None:
        try:
            self.container.remove(force=True)
        except Exception:
            pass


@register
class DockerRuntime(Runtime):
    name = "docker"

    def __init__(self, docker_host: str | None = None):
        self.docker_host = docker_host
        self._client = None

    @property
    def client(self):
        if self._client is None:
            self._client = docker_client(self.docker_host)
        return self._client

    def render(self, spec: RunSpec) -> list[str]:
        argv = ["docker", "run", "--rm", "--name", spec.name, "--network", spec.network]
        for k, v in sorted(spec.labels.items()):
            argv += ["--label", f"{k}={v}"]
        if spec.gpus not in ("none", None):
            argv += ["--gpus", str(spec.gpus)]
        if spec.ipc:
            argv += ["--ipc", spec.ipc]
        if spec.shm_size:
            argv += ["--shm-size", spec.shm_size]
        for name, (soft, hard) in sorted(spec.ulimits.items()):
            argv += ["--ulimit", f"{name}={soft}:{hard}"]
        if spec.privileged:
            argv += ["--privileged"]
        if spec.user:
            argv += ["--user", spec.user]
        if spec.workdir:
            argv += ["--workdir", spec.workdir]
        for m in spec.mounts:
            opts = "ro" if m.readonly else "rw"
            argv += ["--mount", f"type=bind,source={m.host},target={m.container},{opts}"]
        for k, v in sorted(spec.env.items()):
            argv += ["--env", f"{k}={v}"]
        return argv + [spec.image, *spec.command]

    def create_kwargs(self, spec: RunSpec) -> dict:
        """The same run as keyword arguments of the SDK's containers.run."""
        import docker.types

        kwargs = dict(
            image=spec.image,
            command=spec.command,
            name=spec.name,
            environment=dict(spec.env),
            labels=dict(spec.labels),
            network_mode=spec.network,
            detach=True,
            privileged=spec.privileged,
            mounts=[
                docker.types.Mount(
                    target=m.container, source=m.host, type="bind", read_only=m.readonly
                )
                for m in spec.mounts
            ],
            ulimits=[
                docker.types.Ulimit(name=n, soft=s, hard=h)
                for n, (s, h) in sorted(spec.ulimits.items())
            ],
        )
        if spec.gpus not in ("none", None):
            count = -1 if spec.gpus == "all" else int(spec.gpus)
            kwargs["device_requests"] = [
                docker.types.DeviceRequest(count=count, capabilities=[["gpu"]])
            ]
        if spec.ipc:
            kwargs["ipc_mode"] = spec.ipc
        if spec.shm_size:
            kwargs["shm_size"] = spec.shm_size
        if spec.user:
            kwargs["user"] = spec.user
        if spec.workdir:
            kwargs["working_dir"] = spec.workdir
        return kwargs

    def prepare(self, manifest: BenchmarkManifest) -> ImageInfo:
        import docker

        try:
            info = inspect_image(self.client, manifest.image)
        except InputError:
            if not manifest.pinned:
                raise InputError(
                    f"{manifest.path}: image {manifest.image} is not present and is not pinned "
                    "by digest; run `gp2bm pin` or pull it yourself"
                ) from None
            return pull_by_digest(self.client, manifest.image)
        except docker.errors.APIError as exc:
            raise InputError(f"image {manifest.image}: {exc.explanation or exc}") from None
        if manifest.pinned and manifest.image not in info.repo_digests:
            raise InputError(
                f"{manifest.path}: local image {info.id} does not carry digest {manifest.digest}"
            )
        return info

    def start(
        self, spec: RunSpec, sink: BinaryIO, on_line: Callable[[bytes], None] | None = None
    ) -> Execution:
        import docker

        try:
            container = self.client.containers.run(**self.create_kwargs(spec))
        except docker.errors.APIError as exc:
            raise InputError(
                f"cannot start container {spec.name}: {exc.explanation or exc}"
            ) from None
        chunks = container.logs(stream=True, follow=True, stdout=True, stderr=True)
        pump = OutputPump(chunks, sink, on_line)
        pump.start()
        return DockerExecution(container, pump)

    def cleanup(self, labels: dict[str, str], busy=None) -> list[str]:
        campaign = labels.get(LABEL_CAMPAIGN)
        if not campaign:
            return []
        removed = []
        for c in self.client.containers.list(
            all=True, filters={"label": f"{LABEL_CAMPAIGN}={campaign}"}
        ):
            if busy is not None and busy(c.labels.get(LABEL_RUN, "")):
                continue
            try:
                c.remove(force=True)
                removed.append(c.name)
            except Exception:
                pass
        return removed
