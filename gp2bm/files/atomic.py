"""Files written whole or not at all: the bytes go to a temporary file beside the target
(same folder, same file system), are flushed to the disk, then renamed over it, so that a
full disk, a lost permission or a kill leaves the old file or none, never a truncated one.
A target that exists and is not a regular file (a device such as ``/dev/stdout``) is
written in place, never replaced.

A write that fails raises the system's OSError naming the target (the temporary file is
removed); ``write_error`` makes it one line naming the file, what the system said and the
fix (``InputError``, exit 2), as the command line's error funnel does for every disk or
permission error (a campaign's full disk is its own stop: ``run/writing.py``).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from gp2bm.errors import InputError

FIXES = {
    errno.ENOSPC: "free space on its disk or write it elsewhere",
    errno.EDQUOT: "free space within your quota or write it elsewhere",
    errno.EACCES: "make its folder writable for this user or write it elsewhere",
    errno.EPERM: "make its folder writable for this user or write it elsewhere",
    errno.EROFS: "its file system is read-only: write it elsewhere",
}


def temporary_path(path: Path) -> Path:
    """The temporary file a write of ``path`` goes through (hidden, per process)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_error(path: Path | str, exc: OSError) -> InputError:
    """A failed write as one line: the file, the system's words, the fix."""
    fix = FIXES.get(exc.errno or 0, "check the folder and its disk, or write it elsewhere")
    return InputError(f"{path}: {exc.strerror or exc}; {fix}")


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file beside it, fsync'd, then renamed."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and not path.is_file():
            path.write_bytes(data)
            return path
        tmp = temporary_path(path)
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        if exc.filename is None or str(exc.filename).startswith(str(temporary_path(path))):
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    return path


def write_text_atomic(path: Path, text: str) -> Path:
    """``write_bytes_atomic`` of ``text`` in UTF-8 (newlines as given)."""
    return write_bytes_atomic(path, text.encode("utf-8"))
