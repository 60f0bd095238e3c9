"""Runs as child processes of gp2bm (local, Apptainer, Enroot/srun): start, pump the output
into the run's log, stop every process of the run, die with gp2bm.

A run is started below its keeper (``subreaper.py``), a child subreaper: whatever the
workload forks stays below the keeper, even a ``setsid`` child that leaves the workload's
process group and session and holds its stdout. The keeper ends every process the workload
left when the workload ends, and exits only then; gp2bm's timeout and stop reach the whole
tree through it (and, should the keeper itself be stuck, through psutil). The output is
read with a bounded wait: gp2bm never waits for the pipe's end of file longer than
``PUMP_DRAIN_S`` once the run has ended.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import psutil

from gp2bm.runtimes.base import Execution
from gp2bm.runtimes.output import OutputPump

SUBREAPER = Path(__file__).with_name("subreaper.py")
END_NOW = signal.SIGUSR2  # the keeper's "end every process of the run now"
# How long the output may still flow once the run's processes have all ended (the pipe's
# end of file comes at once unless a process outside the run holds it).
PUMP_DRAIN_S = 10.0
# How long what was read may take to reach the log on slow storage, after that. Past it,
# the log is incomplete: the run's output is lost (``output_error``) and the run fails.
WRITE_DRAIN_S = 600.0
POLL_MS = 200
CHUNK = 65536


def _read_chunks(fd: int, stop: threading.Event) -> Iterator[bytes]:
    """What the run writes, as it comes, until end of file or until ``stop`` is set."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    while not stop.is_set():
        if not poller.poll(POLL_MS):
            continue
        chunk = os.read(fd, CHUNK)
        if not chunk:
            return
        yield chunk


def _exec_status(fd: int) -> bytes:
    """The keeper's report on executing the command: empty when it was executed."""
    data = b""
    with os.fdopen(fd, "rb") as status:
        while chunk := status.read(4096):
            data += chunk
    return data


def start_process(
    argv: list[str],
    env: dict[str, str],
    sink: BinaryIO,
    on_line: Callable[[bytes], None] | None = None,
    cwd: str | None = None,
) -> ProcessExecution:
    """Start argv below its keeper (every process of the run dies with gp2bm, and with the
    run's end), its output pumped into ``sink``.

    Raises OSError when it cannot be started; callers say what was missing.
    """
    read_end, write_end = os.pipe()
    keeper = [sys.executable, "-I", str(SUBREAPER), str(write_end), str(os.getpid()), "--"]
    try:
        proc = subprocess.Popen(
            keeper + list(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
            pass_fds=(write_end,),
        )
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    assert proc.stdout is not None  # stdout=PIPE
    failure = _exec_status(read_end)
    if failure:
        proc.wait()
        proc.stdout.close()
        number, _, text = failure.decode(errors="replace").partition(" ")
        raise OSError(int(number) if number.isdigit() else 0, text, argv[0])
    stop = threading.Event()
    pump = OutputPump(_read_chunks(proc.stdout.fileno(), stop), sink, on_line)
    pump.start()
    return ProcessExecution(proc, pump, stop)


class ProcessExecution(Execution):
    pump: OutputPump

    def __init__(self, proc: subprocess.Popen, pump: OutputPump, stop_reading: threading.Event):
        self.proc = proc
        self.pump = pump
        self.stop_reading = stop_reading
        self.ident = f"pid {proc.pid}"

    def wait(self, timeout: float) -> int | None:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._drain()
        return code

    def _drain(self) -> None:
        """Let the output of an ended run flow to its end, for a bounded time, then let
        what was read reach the log."""
        self.pump.join(timeout=PUMP_DRAIN_S)
        if self.pump.reading:
            self.stop_reading.set()
        self.pump.join(timeout=WRITE_DRAIN_S)
        if self.pump.is_alive() and self.pump.read_error is None:
            self.pump.read_error = TimeoutError(
                f"the log was still being written {WRITE_DRAIN_S:g} s after the run ended"
            )

    def descendants(self) -> list[psutil.Process]:
        """Every process of the run below the keeper (orphans included: it reaps them)."""
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            return []

    def _signal(self, sig: int) -> None:
        """``sig`` to the run's process group and to every process below the keeper."""
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        for proc in self.descendants():
            try:
                proc.send_signal(sig)
            except psutil.Error:
                pass

    def stop(self, grace_seconds: float = 10.0) -> None:
        """SIGTERM to every process of the run; after the grace, every one is killed."""
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            if not self._ended_within(grace_seconds):
                self._kill()
        self._drain()

    def _ended_within(self, seconds: float) -> bool:
        try:
            self.proc.wait(timeout=seconds)
            return True
        except subprocess.TimeoutExpired:
            return False

    def _kill(self) -> None:
        """The keeper ends the whole tree; should it not, gp2bm kills what it sees."""
        try:
            self.proc.send_signal(END_NOW)
        except ProcessLookupError:
            return
        if self._ended_within(5):
            return
        self._signal(signal.SIGKILL)
        self.proc.kill()
        self._ended_within(5)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.stop(1)
        self.stop_reading.set()
        self.pump.join(timeout=2 * POLL_MS / 1000)
        if self.proc.stdout and not self.pump.reading:
            self.proc.stdout.close()
