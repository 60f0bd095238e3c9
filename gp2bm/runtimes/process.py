"""Runs as child processes of gp2bm (local, Apptainer, Enroot/srun): start, pump the output
into the run's log, stop the whole process group, die with gp2bm."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
from collections.abc import Callable
from typing import BinaryIO

from gp2bm.runtimes.base import Execution
from gp2bm.runtimes.output import OutputPump

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def start_process(
    argv: list[str],
    env: dict[str, str],
    sink: BinaryIO,
    on_line: Callable[[bytes], None] | None = None,
    cwd: str | None = None,
) -> ProcessExecution:
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
    return ProcessExecution(proc, pump)


class ProcessExecution(Execution):
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
