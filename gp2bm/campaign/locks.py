"""The locks of a campaign folder: flock on files, so a killed holder never leaves one held.

The campaign-wide lock (``.gp2bm.lock``) is for whoever plans and submits: a second gp2bm
is refused, not queued. Each run has its own lock (``records/<bench>/run_N.lock``) held by
the gp2bm doing it, so Slurm array tasks on several nodes may share the campaign and a run
is never done twice at once. A lock file holds who holds it (pid, host, node, job), for
``gp2bm status`` and for the message of whoever is refused.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from gp2bm.campaign.layout import CampaignFiles
from gp2bm.errors import InputError, RunBusy
from gp2bm.files.timestamps import now_iso

RUN_LOCK_POLL_S = 0.05
# flock's answer when another process holds the lock
_HELD = (errno.EAGAIN, errno.EACCES)
# The lock files this process has open. A forked child (a pool of checker workers) shares
# their open file descriptions, hence the locks: it closes its copies at once, so that it
# never keeps a campaign locked after the gp2bm that took the lock is gone (closing a copy
# releases nothing while the parent still has its own).
_OPEN: set[int] = set()


def _forget_in_child() -> None:
    for fd in _OPEN:
        with contextlib.suppress(OSError):  # already closed by the child: nothing to drop
            os.close(fd)
    _OPEN.clear()


os.register_at_fork(after_in_child=_forget_in_child)


@contextlib.contextmanager
def _lock_file(path: Path) -> Iterator[int]:
    """The lock file open (created if need be) for as long as the lock is wanted."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    _OPEN.add(fd)
    try:
        yield fd
    finally:
        _OPEN.discard(fd)
        os.close(fd)


def _try_flock(fd: int, mode: int) -> bool:
    """Take the lock without waiting; False when another process holds it."""
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in _HELD:
            raise
        return False
    return True


@contextlib.contextmanager
def campaign_lock(campaign: CampaignFiles) -> Iterator[None]:
    """One gp2bm at a time per campaign; a second one is refused, not queued."""
    root = campaign.root
    root.mkdir(parents=True, exist_ok=True)
    with _lock_file(campaign.lock_file) as fd:
        if not _try_flock(fd, fcntl.LOCK_EX):
            holder = os.pread(fd, 100, 0).decode(errors="replace").strip() or "?"
            raise InputError(f"{root}: campaign is in use by another gp2bm (pid {holder})")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield


@contextlib.contextmanager
def run_lock(
    path: Path, what: str, wait: float = 0.0, holder: dict | None = None
) -> Iterator[None]:
    """Hold the run lock at ``path`` (``what``: "resnet run 3", for the message).

    Waits up to ``wait`` seconds (someone may hold it for a moment, e.g. while archiving a
    partial log), then raises RunBusy naming the holder. ``holder`` (node, job...) is
    written into the lock file for ``gp2bm status``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock_file(path) as fd:
        deadline = time.monotonic() + wait
        while not _try_flock(fd, fcntl.LOCK_EX):
            if time.monotonic() >= deadline:
                info = _holder_of(fd)
                where = ", ".join(f"{k} {v}" for k, v in info.items() if k != "since")
                raise RunBusy(f"{what} is being done by another gp2bm ({where or '?'})", info)
            time.sleep(RUN_LOCK_POLL_S)
        info = {"pid": os.getpid(), "host": socket.gethostname(), **(holder or {})}
        info["since"] = now_iso()
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info, sort_keys=True) + "\n").encode(), 0)
        yield


def lock_holder(path: Path) -> dict | None:
    """Who holds the run lock at ``path`` (what it wrote there), or None when nobody does."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        # a shared lock only tests: it never keeps the holder-to-be from its own exclusive
        # lock for longer than this call
        return None if _try_flock(fd, fcntl.LOCK_SH) else _holder_of(fd)
    finally:
        os.close(fd)


def _holder_of(fd: int) -> dict:
    text = os.pread(fd, 4096, 0).decode(errors="replace").strip()
    try:
        info = json.loads(text)
    except ValueError:
        return {"pid": text} if text else {}
    return info if isinstance(info, dict) else {}
