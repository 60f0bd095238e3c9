"""The narrow interface every container runtime implements.

A runtime *renders* what it would run as data (``render`` gives the equivalent command line
as an argument list: testable without a daemon, shown by ``--dry-run``) and a small part
*executes* it (``start`` returns an Execution whose output is pumped into a file).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, ClassVar

from gp2bm.errors import InputError
from gp2bm.spec.manifest import BenchmarkManifest, Mount

LABEL_CAMPAIGN = "io.gp2bm.campaign"
LABEL_RUN = "io.gp2bm.run"


@dataclass(frozen=True)
class RunSpec:
    """Everything needed to start one run, independent of the runtime."""

    name: str
    image: str
    command: list[str]
    benchmark: str = ""
    env: dict[str, str] = field(default_factory=dict)
    mounts: list[Mount] = field(default_factory=list)
    workdir: str | None = None
    user: str | None = None
    shm_size: str | None = None
    ulimits: dict[str, tuple[int, int]] = field(default_factory=dict)
    gpus: str | int = "all"
    ipc: str | None = None
    network: str = "none"
    privileged: bool = False
    labels: dict[str, str] = field(default_factory=dict)


def run_spec(
    manifest: BenchmarkManifest,
    name: str,
    seed: int | str,
    extra_env: dict[str, str],
    labels: dict[str, str],
) -> RunSpec:
    env = dict(manifest.environment)
    env.update(extra_env)
    command = list(manifest.command)
    if manifest.seed_env:
        env[manifest.seed_env] = str(seed)
    if manifest.seed_arg:
        command += [manifest.seed_arg, str(seed)]
    return RunSpec(
        name=name,
        image=manifest.image,
        command=command,
        benchmark=manifest.benchmark,
        env=env,
        mounts=list(manifest.mounts),
        workdir=manifest.workdir,
        user=manifest.user,
        shm_size=manifest.shm_size,
        ulimits=dict(manifest.ulimits),
        gpus=manifest.gpus,
        ipc=manifest.ipc,
        network=manifest.network,
        privileged=manifest.privileged,
        labels=dict(labels),
    )


@dataclass
class ImageInfo:
    reference: str
    id: str | None = None
    repo_digests: list[str] = field(default_factory=list)


class Execution(ABC):
    """A started run. ``wait`` returns the exit code, or None if still running."""

    ident: str = ""

    @abstractmethod
    def wait(self, timeout: float) -> int | None: ...

    @abstractmethod
    def stop(self, grace_seconds: float = 10.0) -> None: ...

    @abstractmethod
    def close(self) -> None:
        """Release everything (remove the container); the output pump has finished."""


class Runtime(ABC):
    name: ClassVar[str]
    uses_images: ClassVar[bool] = True

    @abstractmethod
    def render(self, spec: RunSpec) -> list[str]:
        """The equivalent command line, as an argument list (never a shell string)."""

    @abstractmethod
    def prepare(self, manifest: BenchmarkManifest) -> ImageInfo:
        """Make sure what the manifest runs is present (pull by digest) and describe it."""

    @abstractmethod
    def start(
        self, spec: RunSpec, sink: BinaryIO, on_line: Callable[[bytes], None] | None = None
    ) -> Execution: ...

    @abstractmethod
    def cleanup(self, labels: dict[str, str], busy=None) -> list[str]:
        """Stop and remove whatever a previous, killed gp2bm left running with these labels.

        ``busy(run)`` (run = the ``io.gp2bm.run`` label, "bench/N") says whether another
        gp2bm is doing that run right now; its container is left alone.
        """

    def use_campaign(self, root: Path) -> None:  # noqa: B027 - most runtimes keep nothing
        """Where per-campaign files of the runtime go (apptainer's SIF images); before prepare."""


RUNTIMES: dict[str, type[Runtime]] = {}


def register(cls: type[Runtime]) -> type[Runtime]:
    RUNTIMES[cls.name] = cls
    return cls


def get_runtime(name: str, **options) -> Runtime:
    # Import the built-in runtimes so that they register themselves.
    from gp2bm.runtimes import apptainer, docker, enroot, local, podman  # noqa: F401

    try:
        cls = RUNTIMES[name]
    except KeyError:
        raise InputError(
            f"unknown runtime '{name}' (known: {', '.join(sorted(RUNTIMES))})"
        ) from None
    return cls(**options)


class OutputPump(threading.Thread):
    """Copies a run's output into its log file as it comes, line by line to ``on_line``."""

    def __init__(
        self,
        chunks: Iterable[bytes],
        sink: BinaryIO,
        on_line: Callable[[bytes], None] | None = None,
    ):
        super().__init__(daemon=True, name="gp2bm-output")
        self.chunks = chunks
        self.sink = sink
        self.on_line = on_line
        self.error: BaseException | None = None

    def run(self) -> None:
        pending = b""
        try:
            for chunk in self.chunks:
                if not chunk:
                    continue
                self.sink.write(chunk)
                self.sink.flush()
                if self.on_line is not None:
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        self.on_line(line)
                    if len(pending) > 1 << 20:
                        pending = b""
        except BaseException as exc:  # noqa: BLE001 - reported by the campaign, not lost
            self.error = exc
        finally:
            if pending and self.on_line is not None:
                self.on_line(pending)
