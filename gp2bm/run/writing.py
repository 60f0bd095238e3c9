"""A campaign that can no longer be written (its disk full, its folder made unwritable or
read-only, a quota reached) while it runs: a clean stop naming the file and the fix, never a
traceback, and no half-written record left behind. The interrupted run's partial log stays
where it is and the next run-all keeps it as an attempt."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gp2bm.campaign.record import RunRecord
from gp2bm.errors import DiskFull
from gp2bm.files.atomic import temporary_path

# ENOSPC, or EDQUOT where a quota is what ran out.
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
# The folder lost its write permission, or its file system became read-only.
UNWRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
STOPS = NO_SPACE | UNWRITABLE
_KEPT = "the campaign stopped (finished runs are kept, a partial log is kept as an attempt)"
_FIXES = {
    errno.EACCES: "make the campaign folder writable for this user",
    errno.EPERM: "make the campaign folder writable for this user",
    errno.EROFS: "remount its file system read-write",
}


def is_disk_full(exc: BaseException | None) -> bool:
    """A write that failed for want of room or of permission: the campaign stops."""
    return isinstance(exc, OSError) and exc.errno in STOPS


def disk_full(path: Path | str, exc: BaseException | None = None) -> DiskFull:
    """The stop of a campaign whose write of ``path`` failed (``exc``; none: no space)."""
    code = getattr(exc, "errno", None) or errno.ENOSPC
    if code in NO_SPACE:
        return DiskFull(f"{path}: no space left on device; {_KEPT}: free space and run "
                        "run-all again")  # fmt: skip
    said = getattr(exc, "strerror", None) or os.strerror(code)
    fix = _FIXES.get(code, "make it writable")
    return DiskFull(f"{path}: {said.lower()}; {_KEPT}: {fix}, then run run-all again")


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn a failed write of ``path`` (no space, no permission) into a clean stop naming
    the file."""
    try:
        yield
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        raise disk_full(exc.filename or path, exc) from None


def save_record(path: Path, record: RunRecord) -> None:
    try:
        with writing(path):
            record.save(path)
    except DiskFull:
        temporary_path(path).unlink(missing_ok=True)  # left by the failed write
        raise
