"""The narrow interface every container runtime implements.

A runtime *renders* what it would run as data (``render`` gives the equivalent command line
as an argument list: testable without a daemon, shown by ``--dry-run``) and a small part
*executes* it (``start`` returns an Execution whose output is pumped into a file).

Everything that differs between runtimes lives in the runtime's own file: its pre-flight
checks (``checks``: engine or binary, GPU runtime, images), how it makes an image present
(``prepare``; ``local_image`` for ``gp2bm pin`` of an image no registry holds, ``pull`` for
``gp2bm pull`` where it talks to registries) and how the implementation source of what ran
is read back (``export_source``).
The callers (pre-flight, pin/pull, the hand-in bundle) never ask which runtime they hold.

A runtime may declare that it can start one run's tasks on every node of a Slurm
allocation (``spans_nodes``): it then renders and starts a run from a ``Span`` (srun's words
and the nodes) and makes its image ready on every node first; the others refuse a run across
nodes in one line. ``gp2bm.runtimes.span`` says which runtimes and launchers can span.

Settings are keyword-only constructor arguments whose defaults come from the environment
(``get_runtime(name, **settings)``); a runtime holds no other state a caller reads.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, ClassVar, Protocol

from gp2bm.errors import InputError
from gp2bm.files.checksums import sha256_file
from gp2bm.files.findings import CheckItem, fail, warn
from gp2bm.runtimes.output import OutputPump
from gp2bm.spec.container import ContainerOptions
from gp2bm.spec.manifest import BenchmarkManifest, Mount, pin_command

LABEL_CAMPAIGN = "io.gp2bm.campaign"
LABEL_RUN = "io.gp2bm.run"
# The names of the pre-flight items every runtime reports, so the table reads the same.
ENGINE_CHECK = "container engine"
GPU_CHECK = "GPU runtime"


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
    # seccomp, capabilities, init, UTS namespace, devices (gp2bm.spec.container)
    options: ContainerOptions = field(default_factory=ContainerOptions)
    # the launcher's words before the manifest's command in ``command`` (mpirun ... --np 8):
    # a runtime that runs another command than the image's (local) wraps its own with them
    launcher: list[str] = field(default_factory=list)
    manifest: str = ""  # the manifest's path, named by a runtime that refuses an option


class RunLaunchLike(Protocol):
    """What ``run_spec`` reads of a run's launch (``gp2bm.run.launch.RunLaunch``, frozen)."""

    @property
    def command(self) -> list[str]: ...
    @property
    def environment(self) -> dict[str, str]: ...
    @property
    def options(self) -> ContainerOptions: ...
    @property
    def prefix(self) -> list[str]: ...


def run_spec(
    manifest: BenchmarkManifest, launch: RunLaunchLike, name: str, labels: dict[str, str]
) -> RunSpec:
    """The spec of one run: the manifest's image, mounts and limits, and the launch's
    command, environment (the seed is in it already) and container options
    (``gp2bm.run.launch.plan_launch``)."""
    return RunSpec(
        name=name,
        image=manifest.launch_image,
        command=list(launch.command),
        benchmark=manifest.benchmark,
        env=dict(launch.environment),
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
        options=launch.options,
        launcher=list(launch.prefix),
        manifest=str(manifest.path),
    )


@dataclass(frozen=True)
class Span:
    """How one run spans the nodes of its allocation (plain data, rendered by the run).

    The launcher ``srun`` starts the run's tasks on every node from outside the container, so
    a runtime that spans nodes puts srun's words before its own command line (Apptainer:
    ``srun ... apptainer run ...``), or is srun itself (Enroot through Pyxis: srun's own
    ``--container-*`` options).
    """

    launch: tuple[str, ...]  # srun and its options: every task of the run (launcher srun)
    each_node: tuple[str, ...]  # srun and its options: one task on each node
    nodes: tuple[str, ...]  # rank 0's node first
    # per task, the variable the workload reads and the Slurm variable it comes from
    rank_map: tuple[tuple[str, str], ...] = ()
    name: str = ""  # the run's image under this name on every node (Pyxis)


@dataclass
class ImageInfo:
    reference: str
    id: str | None = None
    repo_digests: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CheckContext:
    """What a runtime's own pre-flight checks need to know of the campaign."""

    manifests: dict[str, BenchmarkManifest]
    gpus: int = 0  # GPUs one run needs; 0 when none is needed or the check is off (--no-gpu)
    allow_unpinned: bool = False
    # where the campaign keeps a runtime's per-campaign images (Apptainer's SIF), if any
    images_dir: Path | None = None
    suite_path: Path | None = None  # named in the pin command a check suggests


@dataclass(frozen=True)
class SourceExport:
    """The implementation source of what ran, readable as plain files in ``folder``."""

    folder: Path
    origin: str  # where it came from, as the bundle tells it
    max_files: int | None = None  # more files than this is not one benchmark's source


def image_checks(
    context: CheckContext, present: Callable[[str, BenchmarkManifest], CheckItem] | None
) -> list[CheckItem]:
    """Per benchmark: its image pinned by digest (a blocking failure unless the campaign
    allows unpinned images), then ``present(bench, manifest)``: what the runtime sees of it."""
    items = []
    for bench, m in context.manifests.items():
        name = f"{bench} image"
        if not m.fixed:
            fix = pin_command(bench, m.image, context.suite_path)
            if not context.allow_unpinned:
                items.append(fail(name, f"{m.image} is not pinned by digest", fix))
                continue
            items.append(warn(name, f"{m.image} is not pinned (--allow-unpinned)", fix))
        if present is not None:
            items.append(present(bench, m))
    return items


def pinned_only(context: CheckContext) -> CheckContext:
    """The context of a runtime that runs images by digest only, whatever the campaign allows."""
    return replace(context, allow_unpinned=False)


def require_source_dir(manifest: BenchmarkManifest) -> str:
    if not manifest.source_dir:
        raise InputError(
            f"{manifest.path}: no implementation.source (where the source lives in the image)"
        )
    return manifest.source_dir


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
    # Whether the runtime pulls images by digest itself (`gp2bm pull`); a tag is resolved to
    # its digest by the registry's own API for every runtime (gp2bm.runtimes.registry).
    pulls_by_digest: ClassVar[bool] = False
    # Why it does not, for the one-line error of pull.
    no_pull_reason: ClassVar[str] = "it does not talk to image registries"
    # Why ``run_in_image`` is refused (runtimes that cannot run a command in an image).
    no_image_commands_reason: ClassVar[str] = "put the config file on the host (config.in: host)"
    # Whether it starts one run's tasks on every node of an allocation (``render_span``,
    # ``start_span``, ``ready_command``); the others start the processes of one node.
    spans_nodes: ClassVar[bool] = False

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

    @abstractmethod
    def checks(self, context: CheckContext) -> list[CheckItem]:
        """The runtime's part of the pre-flight: its engine or binary (a missing one is a
        blocking failure with its fix), the GPU runtime when ``context.gpus``, the images."""

    @abstractmethod
    def export_source(
        self, manifest: BenchmarkManifest, image: str, scratch: Path, notes: list[str], what: str
    ) -> SourceExport:
        """Where the source the runs used (``manifest.source_dir`` in ``image``, the image id
        recorded by the runs) can be read, without running the benchmark. ``scratch`` is an
        empty folder of the caller's; what was left out goes into ``notes``, named ``what``.
        Raises Gp2bmError when it cannot be had (the bundle then calls it missing)."""

    def ready_command(self, manifest: BenchmarkManifest, span: Span) -> list[str]:
        """One task per node that makes the image ready there (exit 0 on every node)."""
        raise self._no_span()

    def render_span(self, spec: RunSpec, span: Span) -> list[str]:
        """The run's command line across the nodes, as an argument list."""
        raise self._no_span()

    def start_span(
        self, spec: RunSpec, span: Span, sink: BinaryIO, on_line: Callable[[bytes], None] | None
    ) -> Execution:
        """Start the run across the nodes; its output (every task's) goes to ``sink``."""
        raise self._no_span()

    def _no_span(self) -> InputError:
        return InputError(f"the {self.name} runtime cannot start a run across nodes")

    def local_image(self, image: str, asked: bool) -> str | None:
        """IMAGE as this runtime's local store holds it, pinned by its content (``gp2bm pin``:
        a Docker or Podman image ID ``sha256:...``, an image file's ``PATH@sha256:...``).
        ``asked`` (``--local``): the local image, whatever it is, or InputError saying why
        not; else only an image no registry holds (built here), None for any other."""
        if asked:
            raise InputError(f"the {self.name} runtime keeps no local images to pin {image} by")
        return None

    def pull(self, manifest: BenchmarkManifest) -> ImageInfo:
        """Pull the manifest's pinned image by its digest (``gp2bm pull``)."""
        raise InputError(
            f"the {self.name} runtime cannot pull {manifest.image}: {self.no_pull_reason}"
        )

    def run_in_image(
        self, image: str, argv: list[str], workdir: str | None
    ) -> tuple[int, bytes, bytes]:
        """Run ``argv`` in a throw-away container of ``image`` (no network, no GPU, no
        mounts, the image's own user, ``workdir`` as the working directory): its exit code,
        stdout and stderr. What reads a config file or a checksum list inside the image."""
        raise InputError(
            f"the {self.name} runtime cannot run a command in {image} before the run: "
            f"{self.no_image_commands_reason}"
        )

    def image_present(self, image: str) -> bool:
        """Whether ``run_in_image`` can use ``image`` here without fetching it first."""
        return True

    def check_options(self, options: ContainerOptions, where: str) -> None:  # noqa: B027
        """Raise InputError naming the first container option (seccomp, capabilities, init,
        namespaces, devices) this runtime cannot honour; ``where`` is the manifest."""

    def use_images_dir(self, folder: Path) -> None:  # noqa: B027 - most runtimes keep nothing
        """Where the campaign keeps the runtime's per-campaign images (Apptainer's SIF);
        told before prepare."""

    def close(self) -> None:  # noqa: B027 - most runtimes hold no connection
        """Release a connection to the engine; the runtime opens a new one when used again."""


def image_here(runtime: Runtime, image: str) -> bool:
    """Whether ``run_in_image`` can use ``image`` on this machine now, without fetching it
    (a runtime without images: always); False when the engine does not answer (its own
    pre-flight check says so)."""
    if not runtime.uses_images:
        return True
    try:
        return runtime.image_present(image)
    except InputError:
        return False


def file_pin(image: str, asked: bool, kind: str) -> str | None:
    """``/abs/path@sha256:HEX`` of an image file (a SIF, a squashfs: ``kind``), or None
    when IMAGE names no file (unless ``asked``: then InputError)."""
    path = Path(image).expanduser()
    if path.is_file():
        try:
            return f"{path.resolve()}@sha256:{sha256_file(path)}"
        except OSError as exc:
            raise InputError(f"{image}: cannot read the image file: {exc.strerror}") from None
    if asked:
        raise InputError(f"{image}: no such {kind} file (a local image is pinned by its file)")
    return None


def check_file_pin(manifest: BenchmarkManifest) -> str:
    """The image file of a file pinned locally, refused in one line when it is missing or
    its content changed since it was pinned."""
    file = manifest.image_file or ""
    try:
        actual = f"sha256:{sha256_file(Path(file))}"
    except OSError as exc:
        raise InputError(f"{manifest.path}: image file {file}: {exc.strerror}") from None
    if actual != manifest.digest:
        raise InputError(
            f"{manifest.path}: image file {file} has changed since it was pinned "
            f"({actual}, pinned {manifest.digest}); pin it again with `gp2bm pin "
            f"{manifest.benchmark} {file}`"
        )
    return actual


REGISTERED: dict[str, type[Runtime]] = {}


def register(cls: type[Runtime]) -> type[Runtime]:
    """Class decorator of a runtime plugin: known to the registry by its ``name``."""
    REGISTERED[cls.name] = cls
    return cls
