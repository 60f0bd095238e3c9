"""Local runtime: the benchmark as a plain process on the host (native installs, the demo)."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from gp2bm.errors import InputError
from gp2bm.runtimes.base import Execution, ImageInfo, OutputPump, RunSpec, Runtime, register
from gp2bm.spec.manifest import BenchmarkManifest

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def expand(arg: str, manifest: BenchmarkManifest) -> str:
    return arg.replace("{python}", sys.executable).replace(
        "{manifest_dir}", str(Path(manifest.path).resolve().parent)
    )


def start_process(
    argv: list[str],
    env: dict[str, str],
    sink: BinaryIO,
    on_line: Callable[[bytes], None] | None = None,
    cwd: str | None = None,
) -> LocalExecution:
    """Start argv as a child that dies with gp2bm, its output pumped into ``sink``.

    Raises OSError when it cannot be started; callers say what was missing.
    """
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    pump = OutputPump(iter(lambda: proc.stdout.read1(65536), b""), sink, on_line)
    pump.start()
    return LocalExecution(proc, pump)


class LocalExecution(Execution):
    def __init__(self, proc: subprocess.Popen, pump: OutputPump):
        self.proc = proc
        self.pump = pump
        self.ident = f"pid {proc.pid}"

    def wait(self, timeout: float) -> int | None:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self.pump.join(timeout=30)
        return code

    def stop(self, grace_seconds: float = 10.0) -> None:
        for sig, pause in ((signal.SIGTERM, grace_seconds), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=pause)
                break
            except subprocess.TimeoutExpired:
                continue
        self.pump.join(timeout=10)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.stop(1)
        if self.proc.stdout:
            self.proc.stdout.close()


@register
class LocalRuntime(Runtime):
    name = "local"
    uses_images = False

    def __init__(self, **_ignored):
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
