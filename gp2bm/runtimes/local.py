"""Local runtime: the benchmark as a plain process on the host (native installs, the demo).

No engine and no image: the pre-flight checks that each manifest gives a ``local`` command,
and the implementation source is the folder of the script it runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from gp2bm.errors import InputError
from gp2bm.files.findings import CheckItem, fail, ok
from gp2bm.runtimes.base import (
    ENGINE_CHECK,
    CheckContext,
    Execution,
    ImageInfo,
    RunSpec,
    Runtime,
    SourceExport,
    register,
)
from gp2bm.runtimes.process import start_process
from gp2bm.spec.container import ContainerOptions, container_options
from gp2bm.spec.manifest import BenchmarkManifest

# The source is the folder of the script the runs ran; a bigger folder than this is not
# one benchmark's source (a script in /usr/bin, a home folder).
MAX_SOURCE_FILES = 5000


def expand(arg: str, manifest: BenchmarkManifest) -> str:
    return arg.replace("{python}", sys.executable).replace(
        "{manifest_dir}", str(Path(manifest.path).resolve().parent)
    )


def source_dir(manifest: BenchmarkManifest) -> Path | None:
    """The folder of the script the local command runs (e.g. containers/smoke/)."""
    if manifest.local is None:
        return None
    base = Path(manifest.path).resolve().parent
    if manifest.local.workdir:
        base = Path(expand(manifest.local.workdir, manifest))
    for arg in manifest.local.command:
        text = expand(arg, manifest)
        if text == sys.executable or text.startswith("-"):
            continue
        path = Path(text) if Path(text).is_absolute() else base / text
        if path.is_file():
            return path.resolve().parent
    return None


@register
class LocalRuntime(Runtime):
    name = "local"
    uses_images = False
    no_pull_reason = "it runs no image"
    no_image_commands_reason = "it runs no image; put the config file on the host (config.in: host)"

    def __init__(self):
        self.manifests: dict[str, BenchmarkManifest] = {}

    def _argv(self, spec: RunSpec) -> tuple[list[str], str | None, dict[str, str]]:
        manifest = self.manifests.get(spec.benchmark)
        if manifest is None or manifest.local is None:
            raise InputError(
                f"{manifest.path if manifest else spec.image}: no 'local' command: "
                "this benchmark cannot run with the local runtime"
            )
        # the launcher (mpirun ...) wraps the local command as it wraps the image's
        argv = [*spec.launcher, *(expand(a, manifest) for a in manifest.local.command)]
        # the container command's own arguments after the seed (e.g. --seed N) still apply
        extra = spec.command[len(spec.launcher) + len(manifest.command) :]
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

    def check_options(self, options: ContainerOptions, where: str) -> None:
        """No container: what only a container can do is refused, not silently dropped."""
        asked = [
            name
            for name, value in (
                ("security_opt", options.security_opt),
                ("cap_add", options.cap_add),
                ("init", options.init),
                ("uts", options.uts),
                ("devices", options.devices),
            )
            if value
        ]
        if asked:
            raise InputError(
                f"{where}: the local runtime has no container: remove {', '.join(asked)} "
                "from the manifest, or use a container runtime"
            )

    def prepare(self, manifest: BenchmarkManifest) -> ImageInfo:
        if manifest.local is None:
            raise InputError(
                f"{manifest.path}: no 'local' command: this benchmark cannot run with the "
                "local runtime"
            )
        if manifest.config is not None and manifest.config.location == "image":
            raise InputError(
                f"{manifest.path}: config.in: image, but the local runtime runs no image: "
                "put the config file on the host (config.in: host)"
            )
        self.check_options(container_options(manifest), str(manifest.path))
        for arg in manifest.local.command:
            # a file the manifest names beside itself must be there (an installed gp2bm has
            # no containers/ folder): say so now, not after N failed runs
            if "{manifest_dir}" in arg and not Path(expand(arg, manifest)).exists():
                raise InputError(
                    f"{manifest.path}: local command: {expand(arg, manifest)} does not exist"
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

    def checks(self, context: CheckContext) -> list[CheckItem]:
        items = [ok(ENGINE_CHECK, "not needed: local runtime (plain processes)")]
        for bench, m in context.manifests.items():
            if m.local is None:
                items.append(
                    fail(
                        f"{bench} command",
                        f"{m.path}: no 'local' command",
                        "add a local: command to the manifest or use --runtime docker",
                    )
                )
            else:
                items.append(ok(f"{bench} command", "local command given in the manifest"))
        return items

    def export_source(
        self, manifest: BenchmarkManifest, image: str, scratch: Path, notes: list[str], what: str
    ) -> SourceExport:
        folder = source_dir(manifest)
        if folder is None:
            raise InputError(f"{manifest.path}: cannot tell which folder the local command runs")
        return SourceExport(
            folder=folder,
            origin=f"the local runtime ran the folder of its command (`{Path(folder).name}`) as "
            "a plain process; copied from that folder when the bundle was made",
            max_files=MAX_SOURCE_FILES,
        )
