"""The narrow interface every container runtime implements.

A runtime *renders* what it would run as data (``render`` gives the equivalent command line
as an argument list: testable without a daemon, shown by ``--dry-run``) and a small part
*executes* it (``start`` returns an Execution whose output is pumped into a file).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, ClassVar

from gp2bm.runtimes.output import OutputPump
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
    """A started run. ``wait`` returns the exit code, or None if still running.

    What the runner reads besides: ``lost`` (why the engine stopped answering, when it did:
    the run is then not the workload's failure) and ``output_error`` (why the run's output
    could not be written into its log, e.g. a full disk).
    """

    ident: str = ""
    lost: str | None = None
    pump: OutputPump | None = None

    @property
    def output_error(self) -> BaseException | None:
        return None if self.pump is None else self.pump.error

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


REGISTERED: dict[str, type[Runtime]] = {}


def register(cls: type[Runtime]) -> type[Runtime]:
    """Class decorator of a runtime plugin: known to the registry by its ``name``."""
    REGISTERED[cls.name] = cls
    return cls
