"""The keeper of one run's processes: run by path (``python -I subreaper.py``) between gp2bm
and a process-based run (local, Apptainer, Enroot), with the standard library and psutil only.

A workload may fork children that leave its process group and session (``setsid``) and
outlive it while holding its stdout. This process is a child subreaper
(``PR_SET_CHILD_SUBREAPER``): whatever the workload forks, orphans included, stays below
it, so that

* when the workload's main process ends, every process it left is ended too (SIGTERM, a
  short grace, SIGKILL), and only then does this process exit, with the workload's status
  (its exit code, or the signal that killed it);
* when gp2bm dies (even by SIGKILL) this process is told (``PR_SET_PDEATHSIG``) and ends
  every process of the run before it exits;
* SIGUSR2 from gp2bm ends every process of the run at once (gp2bm's stop after its grace).

Protocol: ``subreaper.py STATUS_FD PARENT_PID -- COMMAND...``. STATUS_FD is closed without
a byte once COMMAND has been executed; when it cannot be, ``ERRNO STRERROR`` is written to
it and this process exits 127. SIGTERM, SIGINT and SIGHUP are left to the workload (they
reach it through its process group): this process goes on until the workload has ended.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
import time

import psutil

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PARENT_DIED = signal.SIGUSR1
END_NOW = signal.SIGUSR2
# How long the processes a workload leaves behind get between SIGTERM and SIGKILL.
LEFTOVER_GRACE_S = 2.0
# Rounds of SIGKILL over the whole tree (a process may fork while the tree is being killed).
KILL_ROUNDS = 50

_libc = ctypes.CDLL(None, use_errno=True)
# The exit status of every child reaped so far, by pid (the workload's among them).
REAPED: dict[int, int] = {}


def _prctl(option: int, value: int) -> None:
    _libc.prctl(option, value, 0, 0, 0)


def reap() -> None:
    """Collect every child that has exited (orphans of the run become ours)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        REAPED[pid] = status


def _signal_all(sig: int) -> int:
    """Send ``sig`` to every process below this one; how many there were."""
    procs = psutil.Process().children(recursive=True)
    for proc in procs:
        try:
            proc.send_signal(sig)
        except psutil.Error:
            pass
    return len(procs)


def _living_children() -> bool:
    reap()
    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                return True
        except psutil.Error:
            continue
    return False


def end_all(grace: float) -> None:
    """End every process below this one: SIGTERM, up to ``grace`` seconds, then SIGKILL."""
    if grace > 0 and _signal_all(signal.SIGTERM):
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _living_children():
            time.sleep(0.02)
    for _ in range(KILL_ROUNDS):
        reap()
        if not _signal_all(signal.SIGKILL):
            break
        time.sleep(0.01)
    reap()


def _on_parent_died(parent: int):
    def handler(signum, frame):
        if os.getppid() != parent:  # gp2bm is gone (not one of its threads ending)
            end_all(0)
            os._exit(128 + signal.SIGKILL)

    return handler


def _on_end_now(signum, frame) -> None:
    end_all(0)


def _ignore(signum, frame) -> None:
    """The workload gets these through its process group; this process outlives it."""


def _start(command: list[str], status_fd: int) -> int:
    """Fork and exec the workload; report an exec failure on ``status_fd``."""
    pid = os.fork()
    if pid == 0:  # the workload: dies with this process, default signal dispositions
        try:
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, PARENT_DIED, END_NOW):
                signal.signal(sig, signal.SIG_DFL)
            os.execvp(command[0], command)
        except OSError as exc:
            os.write(status_fd, f"{exc.errno} {exc.strerror}".encode())
        finally:
            os._exit(127)
    return pid


def _exit_like(status: int) -> None:
    """Exit as the workload did: its exit code, or killed by the same signal."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file of this process
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        time.sleep(1)  # a signal that does not end a process (SIGCHLD...) falls through
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def main(argv: list[str]) -> None:
    status_fd, parent = int(argv[1]), int(argv[2])
    command = argv[4:]
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(PARENT_DIED, _on_parent_died(parent))
    signal.signal(END_NOW, _on_end_now)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _ignore)
    _prctl(PR_SET_PDEATHSIG, PARENT_DIED)
    if os.getppid() != parent:  # gp2bm died before the line above
        os._exit(128 + signal.SIGKILL)
    os.set_inheritable(status_fd, False)  # closed in the workload by its exec
    workload = _start(command, status_fd)
    os.close(status_fd)
    while workload not in REAPED:
        try:
            pid, status = os.wait()
        except ChildProcessError:  # cannot happen while the workload is ours
            os._exit(1)
        REAPED[pid] = status
    end_all(LEFTOVER_GRACE_S)
    _exit_like(REAPED[workload])


if __name__ == "__main__":
    main(sys.argv)
