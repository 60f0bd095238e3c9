"""Scratch folders of ``package`` and ``verify`` that a killed gp2bm does not leave behind
for good, and the stop on SIGTERM.

A scratch folder is ``<temp dir>/gp2bm-<job>-<pid>-<random>``: named after the process that
owns it. It is removed when the command ends, however it ends but SIGKILL; the next
``package`` or ``verify`` removes the scratch folders (and the hidden ``.NAME.PID.tmp`` of an
unfinished bundle next to its output) whose owner is no longer running.

SIGTERM during ``package`` or ``verify`` raises ``Interrupted``: the command stops with one
line and exit 130, as for Ctrl-C, its scratch removed and nothing written under the
bundle's name.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gp2bm.errors import InputError, Interrupted
from gp2bm.files.signals import owned_handler

# Less room than this left in the temporary folder when a copy failed for want of space:
# the scratch folder is what ran out (a bundle's staged copy of a campaign is megabytes).
SCRATCH_ROOM = 64 * 1024 * 1024
OWNED_RE = re.compile(r"gp2bm-[a-z]+-(\d+)-.*")
PARTIAL_RE = re.compile(r"\..+\.(\d+)\.tmp")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: running, and not ours to clean
    return True


def _orphans(folder: Path, pattern: re.Pattern) -> list[Path]:
    """Entries of ``folder`` named by ``pattern`` whose owner process is gone."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    out = []
    for path in entries:
        m = pattern.fullmatch(path.name)
        if m and int(m.group(1)) != os.getpid() and not _running(int(m.group(1))):
            out.append(path)
    return out


def sweep(folder: Path | None = None) -> list[Path]:
    """Remove the scratch folders in ``folder`` (default: the temp dir) whose gp2bm is gone;
    returns what was removed."""
    removed = []
    for path in _orphans(Path(folder or tempfile.gettempdir()), OWNED_RE):
        if path.is_dir() and not path.is_symlink() and _mine(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def sweep_partial_bundles(folder: Path) -> list[Path]:
    """Remove the hidden ``.NAME.PID.tmp`` files that a killed ``package`` left next to its
    output; returns what was removed."""
    removed = []
    for path in _orphans(Path(folder), PARTIAL_RE):
        if path.is_file() and not path.is_symlink() and _mine(path):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _mine(path: Path) -> bool:
    try:
        return path.lstat().st_uid == os.getuid()
    except OSError:
        return False


@contextmanager
def scratch(job: str) -> Iterator[Path]:
    """A scratch folder named after this process, removed on the way out; orphans of
    earlier runs are removed first. A full (or unwritable) temporary folder is named as
    what ran out, never the file that was being copied into it."""
    sweep()
    folder = tempfile.gettempdir()
    try:
        path = Path(tempfile.mkdtemp(prefix=f"gp2bm-{job}-{os.getpid()}-"))
    except OSError as exc:
        raise scratch_error(folder, exc) from None
    try:
        yield path
    except OSError as exc:
        if not _scratch_ran_out(path, exc):
            raise
        raise scratch_error(folder, exc) from None
    finally:
        shutil.rmtree(path, ignore_errors=True)


def scratch_error(folder: str, exc: OSError) -> InputError:
    """The temporary folder as what failed: where it is, the system's words, the fix."""
    said = exc.strerror or str(exc)
    return InputError(
        f"{folder}: {said.lower()} in the temporary folder gp2bm works in; free space there, "
        "or give another with TMPDIR=FOLDER"
    )


def _scratch_ran_out(path: Path, exc: OSError) -> bool:
    """Whether ``exc`` is the scratch folder's file system running out of room: the failed
    file lies in it, or (a copy's error names its source, or nothing) the scratch's file
    system has less room left than ``SCRATCH_ROOM`` and than that of any file named."""
    if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
        return False
    named = [str(n) for n in (exc.filename, exc.filename2) if n]
    if any(n.startswith(str(path)) for n in named):
        return True
    room = _room(str(path))
    if room is None or room >= SCRATCH_ROOM:
        return False
    others = [_room(os.path.dirname(os.path.abspath(n))) for n in named]
    return all(other is None or other > room for other in others)


def _room(folder: str) -> int | None:
    try:
        found = os.statvfs(folder)
    except OSError:
        return None
    return found.f_bavail * found.f_frsize


def unscratched(text: str) -> str:
    """``text`` with the path of any scratch folder (``<temp dir>/gp2bm-<job>-<pid>-*``)
    written ``<scratch>``: a verdict kept after its command ended names a folder that is
    gone, and another run of the same check names another folder."""
    prefix = re.escape(os.path.join(tempfile.gettempdir(), "gp2bm-"))
    return re.sub(prefix + r"[a-z]+-\d+-[^/\s'\"]+", "<scratch>", text)


# What stopped the command (set by the SIGTERM handler), for the checkpoints to see: code
# that catches every exception (a checker's own guard) may swallow the one the handler raises.
_STOPPED: list[str] = []


def check_stopped() -> None:
    """Raise Interrupted when SIGTERM came (a checkpoint between the steps of a command)."""
    if _STOPPED:
        raise Interrupted(_STOPPED[0])


@contextmanager
def stop_on_sigterm(what: str) -> Iterator[None]:
    """While inside, SIGTERM raises Interrupted ("<what> stopped by SIGTERM ..."), so that
    every ``finally`` runs (scratch removed, no partial bundle); should that exception be
    swallowed on its way, the next ``check_stopped`` (and the end of the block) raises it
    again. The old handler comes back on the way out. Only the main thread can set a
    handler: elsewhere, nothing changes."""
    message = f"{what} stopped by SIGTERM (its scratch folder removed)"

    def stop(signum, frame):
        _STOPPED.append(message)
        raise Interrupted(message)

    try:
        old = signal.signal(signal.SIGTERM, owned_handler(stop))
    except ValueError:  # not the main thread
        yield
        return
    _STOPPED.clear()
    unraisable = sys.unraisablehook
    sys.unraisablehook = _quiet_when_stopped(unraisable)
    try:
        try:
            yield
        except Exception as exc:
            # the handler's exception may come back as another one: raised inside a module's
            # import, it is an ImportError ("initialization failed") on its way out
            if _STOPPED and not isinstance(exc, Interrupted):
                raise Interrupted(message) from exc
            raise
        check_stopped()
    finally:
        signal.signal(signal.SIGTERM, old)
        sys.unraisablehook = unraisable
        _STOPPED.clear()


def _quiet_when_stopped(hook):
    """Python's hook for an exception it cannot raise (one raised in a finalizer or a
    weakref callback, where SIGTERM's handler may run) made silent for the handler's own:
    Python would print it with a traceback; the stop is kept (``_STOPPED``) and raised at
    the next checkpoint, as one line."""

    def quiet(unraisable) -> None:
        if isinstance(unraisable.exc_value, Interrupted) and _STOPPED:
            return
        hook(unraisable)

    return quiet
