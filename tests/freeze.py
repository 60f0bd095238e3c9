"""Catching a gp2bm process at a known moment of its work, however fast that work goes: it
is frozen (SIGSTOP) as soon as the moment is seen, and the moment checked again while it
is frozen; a process that got past it first is let go and started again."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

ATTEMPTS = 10


def freeze(pid: int) -> None:
    """SIGSTOP, and wait until the process is stopped."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + 20
    while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T":
        assert time.monotonic() < deadline, f"process {pid} did not stop"
        time.sleep(0.002)


def frozen_when(start: Callable[[], subprocess.Popen], moment: Callable[[subprocess.Popen], bool],
                what: str) -> subprocess.Popen:
    """A process from ``start()``, frozen while ``moment(proc)`` holds."""
    for _ in range(ATTEMPTS):
        proc = start()
        deadline = time.monotonic() + 60
        while proc.poll() is None and not moment(proc):
            assert time.monotonic() < deadline, f"never saw {what}"
            time.sleep(0.002)
        if proc.poll() is None:
            freeze(proc.pid)
            if moment(proc):
                return proc
            os.kill(proc.pid, signal.SIGCONT)
        proc.wait(60)
    pytest.fail(f"the process got past {what} before it could be frozen, {ATTEMPTS} times")


def live_children(proc: subprocess.Popen) -> list[psutil.Process]:
    """Its child processes that are running (not yet reaped zombies)."""
    found = []
    for child in psutil.Process(proc.pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found
