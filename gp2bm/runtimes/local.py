"""Local runtime: the benchmark as a plain process on the host (native installs, the demo)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from gp2bm.errors import InputError
from gp2bm.runtimes.base import Execution, ImageInfo, RunSpec, Runtime, register
from gp2bm.runtimes.process import start_process
from gp2bm.spec.manifest import BenchmarkManifest


def expand(arg: str, manifest: BenchmarkManifest) -> str:
    return arg.replace("{python}", sys.executable).replace(
        "{manifest_dir}", str(Path(manifest.path).resolve().parent)
    )


@register
class LocalRuntime(Runtime):
    name = "local"
    uses_images = False

    def __init__(self):
        self.manifests: dict[str, BenchmarkManifest] = {}

    def _argv(self, spec: RunSpec) -> tuple[list[str], str | None, dict[str, str]]:
        manifest = self.manifests.get(spec.benchmark)
        if manifest is None or manifest.local is None:
            raise InputError(
                f"{manifest.path if manifest else spec.image}: no 'local' command: "
                "this benchmark cannot run with the local runtime"
            )
        argv = [expand(a, manifest) for a in manifest.local.command]
        # the container command's own arguments after the seed (e.g. --seed N) still apply
        extra = spec.command[len(manifest.command) :]
        env = dict(spec.env)
        env.update({k: expand(v, manifest) for k, v in manifest.local.environment.items()})
        workdir = expand(manifest.local.workdir, manifest) if manifest.local.workdir else None
        return argv + extra, workdir, env

    def render(self, spec: RunSpec) -> list[str]:
        argv, workdir, env = self._argv(spec)
        prefix = ["env", *[f"{k}={v}" for k, v in sorted(env.items())]]
        if workdir:
            prefix = ["env", "-C", workdir, *prefix[1:]]
        return prefix + argv

    def prepare(self, manifest: BenchmarkManifest) -> ImageInfo:
        if manifest.local is None:
            raise InputError(
                f"{manifest.path}: no 'local' command: this benchmark cannot run with the "
                "local runtime"
            )
        self.manifests[manifest.benchmark] = manifest
        return ImageInfo(reference="local:" + " ".join(manifest.local.command))

    def start(
        self, spec: RunSpec, sink: BinaryIO, on_line: Callable[[bytes], None] | None = None
    ) -> Execution:
        argv, workdir, env = self._argv(spec)
        full_env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ")}
        full_env.update(env)
        try:
            return start_process(argv, full_env, sink, on_line, cwd=workdir)
        except OSError as exc:
            raise InputError(f"cannot start {argv[0]}: {exc.strerror}") from None

    def cleanup(self, labels: dict[str, str], busy=None) -> list[str]:
        # Children die with gp2bm (PR_SET_PDEATHSIG): nothing outlives a killed gp2bm.
        return []
