"""Enroot through Slurm's Pyxis plugin: each run is one ``srun --container-image=...`` step.

On NVIDIA's own MLPerf systems (and most GPU clusters run like them) containers are started
by Pyxis, a Slurm plugin that adds ``--container-*`` options to ``srun`` and runs the image
with Enroot, unprivileged. gp2bm renders that command line and runs it as a child process
inside the job (an array task of ``run-all --slurm``, or an allocation of your own):

    env SEED=... srun --nodes=1 --ntasks=1 --container-image=REGISTRY#REPO@sha256:...
        --container-mounts=SRC:DST:ro,... --container-workdir=DIR --container-env=SEED,...
        --container-entrypoint --no-container-mount-home IMAGE-ARGS...

The image is named by its pinned digest (Enroot URIs put ``#`` between the registry and the
repository), so what ran is the digest recorded; a squashfs file pinned locally
(``image: FILE.sqsh@sha256:...``) is given to Pyxis as the file, hashed again first. The
run's environment reaches the container as srun's own environment, named with
``--container-env`` so that it overrides the image's values. GPUs and the network are the
allocation's.

A run across the nodes of an allocation (launcher ``srun``) is one step whose srun options
are the launcher's (``--nodes=N --ntasks=N*P --ntasks-per-node=P``, ``--mpi=pmix`` where it
works) instead of ``--nodes=1 --ntasks=1``, as NVIDIA's run.sub: the image is imported once
on every node under a name (``srun --ntasks-per-node=1 --container-image=...
--container-name=NAME true``), and the run's step names it again. Pyxis passes each task's
environment (``SLURM_PROCID`` ...) into the container; the PyTorch rank variables come from
it inside the image (mlperf-common's slurm2pytorch, as in run.sub), the ones common to
every task (``MASTER_ADDR``, ``MASTER_PORT``, ``WORLD_SIZE``) from gp2bm's environment.

The pre-flight checks that ``srun`` is there and knows Pyxis's ``--container-image``, and
that every image is pinned (Pyxis is given the digest, whatever the campaign allows). gp2bm
cannot copy the implementation source out of an image here: Pyxis imports it on the compute
node when the step starts, so a bundle of an enroot campaign lists the source as missing.

Enroot cannot be installed on the machines gp2bm is developed on (no Debian package, not
on PyPI): this runtime is tested on its rendered command line, and its execution (that
command as a child process, stopped like any process: srun forwards the signal to the step)
with a stand-in ``srun`` (GP2BM_SRUN).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from gp2bm.errors import InputError
from gp2bm.files.command import run_short
from gp2bm.files.findings import CheckItem, fail, ok, warn
from gp2bm.runtimes.base import (
    ENGINE_CHECK,
    GPU_CHECK,
    CheckContext,
    Execution,
    ImageInfo,
    RunSpec,
    Runtime,
    SourceExport,
    Span,
    check_file_pin,
    file_pin,
    image_checks,
    pinned_only,
    register,
)
from gp2bm.runtimes.process import start_process
from gp2bm.spec.container import ContainerOptions, enroot_flags
from gp2bm.spec.manifest import BenchmarkManifest

PYXIS_OPTION = "--container-image"
HELP_TIMEOUT_S = 30


def enroot_uri(image: str) -> str:
    """``registry/repo@sha256:...`` as Enroot writes it: ``registry#repo@sha256:...``."""
    first, sep, rest = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return f"{first}#{rest}"
    return image


def _check_mount_path(path: str) -> str:
    if "," in path or ":" in path:
        raise InputError(f"pyxis cannot mount a path with ',' or ':': {path!r}")
    return path


def _named(span: Span) -> list[str]:
    return [f"--container-name={span.name}"] if span.name else []


def _imported_at_start(bench: str, m: BenchmarkManifest) -> CheckItem:
    return ok(f"{bench} image", f"{m.image}: Pyxis imports it when a run starts")


@register
class EnrootRuntime(Runtime):
    name = "enroot"
    spans_nodes = True
    no_pull_reason = "Pyxis imports the image by its digest when the step starts"
    no_image_commands_reason = (
        "Pyxis imports the image only when a run's step starts; put a copy of the config "
        "file on the host (config.in: host) and checksum lists on the host (verify[].in: host)"
    )

    def __init__(self, *, srun: str | None = None):
        self.srun = srun or os.environ.get("GP2BM_SRUN") or "srun"

    def _argv(self, spec: RunSpec) -> list[str]:
        argv = [self.srun, "--nodes=1", "--ntasks=1"]
        return argv + self._container_argv(spec, [])

    def _container_argv(self, spec: RunSpec, named: list[str]) -> list[str]:
        """Pyxis's options and the command, after srun's own."""
        argv = [f"--container-image={enroot_uri(spec.image)}", *named]
        mounts = [
            f"{_check_mount_path(m.host)}:{_check_mount_path(m.container)}"
            + (":ro" if m.readonly else "")
            for m in spec.mounts
        ]
        # devices are container mounts; seccomp, init and the host namespaces are defaults
        mounts += enroot_flags(spec.options, spec.manifest or spec.benchmark)
        if mounts:
            argv.append("--container-mounts=" + ",".join(mounts))
        if spec.workdir:
            argv.append(f"--container-workdir={spec.workdir}")
        if spec.env:
            argv.append("--container-env=" + ",".join(sorted(spec.env)))
        # the manifest's command is the image entrypoint's arguments, as with `docker run`
        argv += ["--container-entrypoint", "--no-container-mount-home"]
        return argv + list(spec.command)

    def check_options(self, options: ContainerOptions, where: str) -> None:
        enroot_flags(options, where)

    def render(self, spec: RunSpec) -> list[str]:
        env = [f"{k}={v}" for k, v in sorted(spec.env.items())]
        return (["env", *env] if env else []) + self._argv(spec)

    # ----------------------------------------------------------------- across nodes
    def _span_argv(self, spec: RunSpec, span: Span) -> list[str]:
        return [*span.launch, *self._container_argv(spec, _named(span))]

    def render_span(self, spec: RunSpec, span: Span) -> list[str]:
        env = [f"{k}={v}" for k, v in sorted(spec.env.items())]
        return (["env", *env] if env else []) + self._span_argv(spec, span)

    def ready_command(self, manifest: BenchmarkManifest, span: Span) -> list[str]:
        """The image imported once on every node under the run's name (run.sub's
        ``srun --container-image=... --container-name=... true``)."""
        image = f"--container-image={enroot_uri(manifest.launch_image)}"
        return [*span.each_node, image, *_named(span), "true"]

    def start_span(
        self, spec: RunSpec, span: Span, sink: BinaryIO, on_line: Callable[[bytes], None] | None
    ) -> Execution:
        return self._start(self._span_argv(spec, span), spec, sink, on_line)

    def local_image(self, image: str, asked: bool) -> str | None:
        """A squashfs image file (``enroot import``'s ``.sqsh``), pinned by its path and its
        sha256; Pyxis's ``--container-image`` takes the file as it is."""
        return file_pin(image, asked, "squashfs")

    def prepare(self, manifest: BenchmarkManifest) -> ImageInfo:
        if manifest.image_file:  # pinned locally: the squashfs itself, checked against its pin
            return ImageInfo(reference=manifest.image, id=check_file_pin(manifest))
        if not manifest.pinned:
            raise InputError(
                f"{manifest.path}: the enroot runtime runs images by digest only; "
                f"pin '{manifest.image}' with `gp2bm pin {manifest.benchmark} IMAGE`"
            )
        # Pyxis imports the image by this digest when the step starts: what runs is it.
        return ImageInfo(
            reference=manifest.image, id=manifest.digest, repo_digests=[manifest.image]
        )

    def start(
        self, spec: RunSpec, sink: BinaryIO, on_line: Callable[[bytes], None] | None = None
    ) -> Execution:
        return self._start(self._argv(spec), spec, sink, on_line)

    @staticmethod
    def _start(
        argv: list[str],
        spec: RunSpec,
        sink: BinaryIO,
        on_line: Callable[[bytes], None] | None,
    ) -> Execution:
        env = {**os.environ, **spec.env}
        try:
            return start_process(argv, env, sink, on_line)
        except OSError as exc:
            raise InputError(f"cannot start {argv[0]}: {exc.strerror}") from None

    def cleanup(self, labels: dict[str, str], busy=None) -> list[str]:
        # Pyxis removes unnamed containers when the step ends; srun dies with gp2bm.
        return []

    def checks(self, context: CheckContext) -> list[CheckItem]:
        items = [self._check_srun()]
        if context.gpus:
            items.append(
                warn(
                    GPU_CHECK,
                    "not checked here: Enroot's NVIDIA hook gives the allocation's GPUs to the "
                    "container on the compute node",
                    "run `srun --container-image=IMAGE nvidia-smi` in an allocation",
                )
            )
        # Pyxis is given the image by digest: a tag is refused whatever the campaign allows.
        return items + image_checks(pinned_only(context), _imported_at_start)

    def _check_srun(self) -> CheckItem:
        found = shutil.which(self.srun)
        if found is None:
            return fail(
                ENGINE_CHECK,
                f"'{self.srun}' not found: the enroot runtime runs each run as a Slurm step",
                "run inside a Slurm allocation of a cluster with Pyxis, or set GP2BM_SRUN to "
                "srun's path",
            )
        try:
            proc = run_short([found, "--help"], HELP_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return fail(ENGINE_CHECK, f"{found} --help: {exc}", "check the Slurm installation")
        if PYXIS_OPTION not in proc.stdout + proc.stderr:
            return fail(
                ENGINE_CHECK,
                f"{found} has no {PYXIS_OPTION} option: the Pyxis plugin is not loaded",
                "install Pyxis (github.com/NVIDIA/pyxis) and list it in Slurm's plugstack.conf",
            )
        return ok(ENGINE_CHECK, f"Slurm's srun with Pyxis ({found})")

    def export_source(
        self, manifest: BenchmarkManifest, image: str, scratch: Path, notes: list[str], what: str
    ) -> SourceExport:
        raise InputError(
            f"{what}: the enroot runtime cannot copy the source out of {image} (Pyxis imports "
            "the image on the compute node); add it to the bundle by hand"
        )
