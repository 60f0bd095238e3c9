"""Docker Engine runtime, through the Docker SDK (Engine API).

Besides running the benchmark, this file holds the Docker Engine's own parts: the pre-flight
checks (the engine answers, a GPU runtime: NVIDIA's runtime or a CDI spec, each image
present or served by its registry), ``gp2bm pin`` (a tag resolved to its registry digest)
and ``gp2bm pull`` (by digest, checked), and the implementation source copied out of the
image that ran through the Engine API, without starting a container.

The module is imported only when the docker or podman runtime is asked for, so the Docker
SDK is needed only by those who use them.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, ClassVar

import docker
import docker.errors
import docker.types
import requests.exceptions

from gp2bm.errors import InputError
from gp2bm.files.findings import CheckItem, fail, ok
from gp2bm.files.safetar import extract_stream
from gp2bm.runtimes.base import (
    ENGINE_CHECK,
    GPU_CHECK,
    LABEL_CAMPAIGN,
    LABEL_RUN,
    CheckContext,
    Execution,
    ImageInfo,
    RunSpec,
    Runtime,
    SourceExport,
    image_checks,
    register,
    require_source_dir,
)
from gp2bm.runtimes.output import OutputPump
from gp2bm.spec.container import docker_flags, docker_kwargs
from gp2bm.spec.manifest import BenchmarkManifest

DEFAULT_HOST = "unix:///var/run/docker.sock"
CHECK_TIMEOUT_S = 30  # the pre-flight asks little of the engine: do not wait long for it
CDI_GPU = "nvidia.com/gpu"
LABEL_PACKAGE = "io.gp2bm.package"
LABEL_PROBE = "io.gp2bm.probe"
# Reading a config file or a checksum list in the image takes a second; a command that
# takes minutes is stuck (a config that waits for input).
PROBE_TIMEOUT_S = 120


def connect(base_url: str, timeout: int, engine: str, hint: str):
    """A client of the engine at ``base_url`` that answered a ping; InputError otherwise."""
    try:
        client = docker.DockerClient(base_url=base_url, timeout=timeout)
        client.ping()
    except Exception as exc:  # DockerException, connection errors, bad URLs
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot reach {engine} at {base_url}: {reason} ({hint})") from None
    return client


def docker_client(docker_host: str | None = None, timeout: int = 120):
    """A client of the Docker Engine at ``docker_host`` (default: $DOCKER_HOST)."""
    rt = DockerRuntime(docker_host=docker_host)
    return rt.connect(timeout)


def pull_by_digest(client, reference: str) -> ImageInfo:
    """Pull ``repo@sha256:...`` and check that what arrived carries that digest."""
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


def split_repo(image: str) -> str:
    """The repository part of IMAGE[:TAG] or IMAGE@DIGEST."""
    if "@" in image:
        return image.split("@", 1)[0]
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        return image[: len(image) - len(last)] + last.split(":", 1)[0]
    return image


def cdi_specs(dirs) -> list[str]:
    """The CDI spec files in ``dirs`` that describe NVIDIA GPUs."""
    return [
        str(f)
        for d in dirs
        for f in sorted(Path(d).glob("*"))
        if f.suffix in (".yaml", ".yml", ".json") and CDI_GPU in _head(f)
    ]


def _head(path: Path, size: int = 1 << 20) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(size)
    except OSError:
        return ""


def csv_field(field: str) -> str:
    """One field of a ``--mount`` value, which Docker and Podman read as a CSV record: a
    field holding a comma, a quote or a line break is quoted, its quotes doubled (a host
    path ``/data,source=/etc`` stays one path, never a second option)."""
    if any(ch in field for ch in ',"\r\n'):
        return '"' + field.replace('"', '""') + '"'
    return field


class DockerExecution(Execution):
    pump: OutputPump

    def __init__(self, container, pump: OutputPump):
        self.container = container
        self.ident = container.name
        self.pump = pump
        self._exit: int | None = None
        self.lost = None  # set when the engine stops answering while the container runs
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
    pulls_by_digest = True
    # How this engine is named in messages, and what fixes it (Podman says its own).
    product: ClassVar[str] = "Docker Engine"
    engine: ClassVar[str] = "the Docker Engine"
    cli: ClassVar[str] = "docker"
    reach_hint: ClassVar[str] = "is dockerd running? set DOCKER_HOST"
    engine_fix: ClassVar[str] = (
        "start the Docker Engine (systemctl start docker) or set DOCKER_HOST to it"
    )

    def __init__(self, *, docker_host: str | None = None):
        self.host = docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
        self._client = None

    def connect(self, timeout: int = 120):
        return connect(self.host, timeout, self.engine, self.reach_hint)

    @property
    def client(self):
        if self._client is None:
            self._client = self.connect()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # ----------------------------------------------------------------- rendering
    def render(self, spec: RunSpec) -> list[str]:
        argv = [self.cli, "run", "--rm", "--name", spec.name, "--network", spec.network]
        for k, v in sorted(spec.labels.items()):
            argv += ["--label", f"{k}={v}"]
        argv += self.render_gpus(spec)
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
            fields = ["type=bind", f"source={m.host}", f"target={m.container}", opts]
            argv += ["--mount", ",".join(csv_field(f) for f in fields)]
        for k, v in sorted(spec.env.items()):
            argv += ["--env", f"{k}={v}"]
        # seccomp, capabilities, init, UTS, devices: as NVIDIA's run_with_docker.sh has them
        argv += docker_flags(spec.options)
        return argv + [spec.image, *spec.command]

    def render_gpus(self, spec: RunSpec) -> list[str]:
        return [] if spec.gpus in ("none", None) else ["--gpus", str(spec.gpus)]

    def gpu_requests(self, spec: RunSpec) -> list:
        """The API form of ``render_gpus``: the device requests of the container."""
        if spec.gpus in ("none", None):
            return []
        count = -1 if spec.gpus == "all" else int(spec.gpus)
        return [docker.types.DeviceRequest(count=count, capabilities=[["gpu"]])]

    def create_kwargs(self, spec: RunSpec) -> dict:
        """The same run as keyword arguments of the SDK's containers.run."""
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
        optional = dict(
            device_requests=self.gpu_requests(spec),
            ipc_mode=spec.ipc,
            shm_size=spec.shm_size,
            user=spec.user,
            working_dir=spec.workdir,
        )
        kwargs.update({k: v for k, v in optional.items() if v})
        kwargs.update(docker_kwargs(spec.options))
        return kwargs

    # ----------------------------------------------------------------- images
    def prepare(self, manifest: BenchmarkManifest) -> ImageInfo:
        if manifest.pinned_locally:
            return self._local_pinned(manifest)
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

    def _local_pinned(self, manifest: BenchmarkManifest) -> ImageInfo:
        """An image pinned by its ID: present in this engine's store, or refused (no
        registry holds it to pull it from)."""
        try:
            info = inspect_image(self.client, manifest.image)
        except InputError:
            raise InputError(
                f"{manifest.path}: image {manifest.image} is pinned locally (its image ID) and "
                f"is not in {self.engine}'s store; build or load it here, then pin it again"
            ) from None
        except docker.errors.APIError as exc:
            raise InputError(f"image {manifest.image}: {exc.explanation or exc}") from None
        return info

    def local_image(self, image: str, asked: bool) -> str | None:
        """The image ID of IMAGE in the engine's store; without ``asked``, only an image no
        registry digest names (built or loaded here). None when the engine does not answer
        (a registry is asked instead), unless ``asked``."""
        try:
            client = self.connect(CHECK_TIMEOUT_S)
        except InputError:
            if asked:
                raise
            return None
        try:
            info = inspect_image(client, image)
        except InputError:
            if asked:
                raise InputError(f"image {image} is not in {self.engine}'s store") from None
            return None
        finally:
            client.close()
        return info.id if asked or not info.repo_digests else None

    def pull(self, manifest: BenchmarkManifest) -> ImageInfo:
        if not manifest.pinned:
            raise InputError(f"{manifest.path}: image {manifest.image} is not pinned by digest")
        return pull_by_digest(self.client, manifest.image)

    def image_present(self, image: str) -> bool:
        try:
            self.client.images.get(image)
        except docker.errors.ImageNotFound:
            return False
        except docker.errors.APIError as exc:
            raise InputError(f"image {image}: {exc.explanation or exc}") from None
        return True

    def run_in_image(
        self, image: str, argv: list[str], workdir: str | None
    ) -> tuple[int, bytes, bytes]:
        """A throw-away container of the image (present here: never pulled for this), no
        network, no GPU, no mounts; stdout and stderr apart."""
        if not self.image_present(image):
            raise InputError(f"image {image} is not present in {self.engine} (gp2bm pull)")
        try:
            container = self.client.containers.create(
                image,
                argv[1:],
                entrypoint=[argv[0]],
                working_dir=workdir,
                network_mode="none",
                labels={LABEL_PROBE: "run_in_image"},
            )
        except docker.errors.APIError as exc:
            raise InputError(f"cannot create a container of {image}: {exc}") from None
        try:
            return self._probe(container, image, argv)
        finally:
            with contextlib.suppress(Exception):
                container.remove(force=True)

    def _probe(self, container, image: str, argv: list[str]) -> tuple[int, bytes, bytes]:
        try:
            container.start()
            code = int(container.wait(timeout=PROBE_TIMEOUT_S).get("StatusCode", -1))
            out = container.logs(stdout=True, stderr=False)
            err = container.logs(stdout=False, stderr=True)
        except docker.errors.APIError as exc:
            raise InputError(f"{image}: {argv[0]} could not run: {exc}") from None
        except requests.exceptions.ReadTimeout:
            raise InputError(f"{image}: {argv[0]} did not end in {PROBE_TIMEOUT_S} s") from None
        return code, out, err

    # ----------------------------------------------------------------- running
    def start(
        self, spec: RunSpec, sink: BinaryIO, on_line: Callable[[bytes], None] | None = None
    ) -> Execution:
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

    # ----------------------------------------------------------------- pre-flight
    def checks(self, context: CheckContext) -> list[CheckItem]:
        try:
            client = self.connect(CHECK_TIMEOUT_S)
        except InputError as exc:
            return self._blind_checks(str(exc), context)
        try:
            return [
                *self.check_engine(client, context),
                *image_checks(context, lambda b, m: self.check_image(client, b, m)),
            ]
        finally:
            client.close()

    def _blind_checks(self, reason: str, context: CheckContext) -> list[CheckItem]:
        """The engine does not answer: a blocking failure, and images it cannot look at."""

        def blind(bench: str, m: BenchmarkManifest) -> CheckItem:
            return fail(f"{bench} image", f"cannot look: {reason}", f"start {self.engine}")

        return [fail(ENGINE_CHECK, reason, self.engine_fix), *image_checks(context, blind)]

    def check_engine(self, client, context: CheckContext) -> list[CheckItem]:
        version = client.version()
        items = [
            ok(ENGINE_CHECK, f"{self.product} {version.get('Version')} at {self.host}")
        ]
        if context.gpus:
            items.append(self.check_gpu_runtime(client))
        return items

    def check_gpu_runtime(self, client) -> CheckItem:
        info = client.info()
        runtimes = sorted((info.get("Runtimes") or {}).keys())
        cdi = cdi_specs(info.get("CDISpecDirs") or [])
        if "nvidia" in runtimes:
            return ok(GPU_CHECK, f"Docker runtimes: {', '.join(runtimes)}")
        if cdi:
            return ok(GPU_CHECK, f"CDI devices {CDI_GPU} in {', '.join(cdi)}")
        return fail(
            GPU_CHECK,
            f"no nvidia runtime (Docker runtimes: {', '.join(runtimes) or 'none'}) and no "
            f"{CDI_GPU} CDI spec",
            "install the NVIDIA Container Toolkit, run `nvidia-ctk runtime configure "
            "--runtime=docker` and restart dockerd (or `nvidia-ctk cdi generate`)",
        )

    def check_image(self, client, bench: str, m: BenchmarkManifest) -> CheckItem:
        name = f"{bench} image"
        try:
            image = client.images.get(m.image)
            return ok(name, f"{m.image} present (image id {image.short_id})")
        except docker.errors.ImageNotFound:
            pass
        except docker.errors.APIError as exc:
            return fail(name, f"{m.image}: {exc.explanation or exc}", f"check {self.engine}")
        if m.pinned_locally:
            return fail(
                name,
                f"{m.image} is pinned locally and is not in {self.engine}'s store",
                f"build or load the image here and pin it: `gp2bm pin {bench} IMAGE --local`",
            )
        try:
            data = client.images.get_registry_data(m.image)
        except docker.errors.APIError as exc:
            return fail(
                name,
                f"{m.image} is not present and its registry does not serve it: "
                f"{exc.explanation or exc}",
                f"{self.cli} login to the registry, or load the image ({self.cli} load) and pin "
                f"it with `gp2bm pin {bench} IMAGE`",
            )
        return ok(name, f"{m.image} not present yet, pullable ({data.id[:19]}); `gp2bm pull`")

    # ----------------------------------------------------------------- source
    def export_source(
        self, manifest: BenchmarkManifest, image: str, scratch: Path, notes: list[str], what: str
    ) -> SourceExport:
        """Copied out of a created (never started) container of the image that ran."""
        source_dir = require_source_dir(manifest)
        unpacked = scratch / "unpacked"
        container = self._source_container(image, what)
        try:
            try:
                chunks, _stat = container.get_archive(source_dir)
            except docker.errors.NotFound:
                raise InputError(f"{what}: image {image} has no {source_dir}") from None
            skipped: list[str] = []
            extract_stream(
                chunks, unpacked, f"{image}:{source_dir}", scratch / "source.tar", skipped
            )
            notes += [f"{what}: {s}" for s in skipped]
        finally:
            with contextlib.suppress(Exception):
                container.remove(force=True)
        inner = unpacked / Path(source_dir.rstrip("/")).name
        return SourceExport(
            folder=inner if inner.is_dir() else unpacked,
            origin=f"copied out of image {image} ({source_dir}), the image the runs used, "
            "without starting it",
        )

    def _source_container(self, image: str, what: str):
        try:
            return self.client.containers.create(
                image, command=["true"], labels={LABEL_PACKAGE: "source"}
            )
        except docker.errors.ImageNotFound:
            raise InputError(
                f"{what}: image {image} is not in {self.engine} (run `gp2bm pull`)"
            ) from None
        except docker.errors.APIError as exc:
            raise InputError(f"{what}: cannot create a container of {image}: {exc}") from None
