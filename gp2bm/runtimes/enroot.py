"""Enroot through Slurm's Pyxis plugin: each run is one ``srun --container-image=...`` step.

On NVIDIA's own MLPerf systems (and most GPU clusters run like them) containers are started
by Pyxis, a Slurm plugin that adds ``--container-*`` options to ``srun`` and runs the image
with Enroot, unprivileged. gp2bm renders that command line and runs it as a child process
inside the job (an array task of ``run-all --slurm``, or an allocation of your own):

    env SEED=... srun --nodes=1 --ntasks=1 --container-image=REGISTRY#REPO@sha256:...
        --container-mounts=SRC:DST:ro,... --container-workdir=DIR --container-env=SEED,...
        --container-entrypoint --no-container-mount-home IMAGE-ARGS...

The image is named by its pinned digest (Enroot URIs put ``#`` between the registry and the
repository), so what ran is the digest recorded. The run's environment reaches the
container as srun's own environment, named with ``--container-env`` so that it overrides
the image's values. GPUs and the network are the allocation's.

Enroot cannot be installed on the machines gp2bm is developed on (no Debian package, not
on PyPI): this runtime is tested on its rendered command line only. Its execution is that
command as a child process, stopped like any process (srun forwards the signal to the step).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO

from gp2bm.errors import InputError
from gp2bm.runtimes.base import Execution, ImageInfo, RunSpec, Runtime, register
from gp2bm.runtimes.process import start_process
from gp2bm.spec.manifest import BenchmarkManifest


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


@register
class EnrootRuntime(Runtime):
    name = "enroot"

    def __init__(self, srun: str | None = None):
        self.srun = srun or os.environ.get("GP2BM_SRUN") or "srun"

    def _argv(self, spec: RunSpec) -> list[str]:
        argv = [
            self.srun,
            "--nodes=1",
            "--ntasks=1",
            f"--container-image={enroot_uri(spec.image)}",
        ]
        if spec.mounts:
            mounts = [
                f"{_check_mount_path(m.host)}:{_check_mount_path(m.container)}"
                + (":ro" if m.readonly else "")
                for m in spec.mounts
            ]
            argv.append("--container-mounts=" + ",".join(mounts))
        if spec.workdir:
            argv.append(f"--container-workdir={spec.workdir}")
        if spec.env:
            argv.append("--container-env=" + ",".join(sorted(spec.env)))
        # the manifest's command is the image entrypoint's arguments, as with `docker run`
        argv += ["--container-entrypoint", "--no-container-mount-home"]
        return argv + list(spec.command)

    def render(self, spec: RunSpec) -> list[str]:
        env = [f"{k}={v}" for k, v in sorted(spec.env.items())]
        return (["env", *env] if env else []) + self._argv(spec)

    def prepare(self, manifest: BenchmarkManifest) -> ImageInfo:
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
        argv = self._argv(spec)
        env = {**os.environ, **spec.env}
        try:
            return start_process(argv, env, sink, on_line)
        except OSError as exc:
            raise InputError(f"cannot start {argv[0]}: {exc.strerror}") from None

    def cleanup(self, labels: dict[str, str], busy=None) -> list[str]:
        # Pyxis removes unnamed containers when the step ends; srun dies with gp2bm.
        return []
