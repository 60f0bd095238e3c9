"""A full disk while a campaign writes: a clean stop naming the file, never a traceback,
and no half-written record left behind."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gp2bm.campaign.record import RunRecord
from gp2bm.errors import DiskFull
from gp2bm.files.atomic import temporary_path

# ENOSPC, or EDQUOT where a quota is what ran out.
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_disk_full(exc: BaseException | None) -> bool:
    return isinstance(exc, OSError) and exc.errno in NO_SPACE


def disk_full(path: Path | str) -> DiskFull:
    return DiskFull(
        f"{path}: no space left on device; the campaign stopped (finished runs are kept, a "
        "partial log is kept as an attempt): free space and run run-all again"
    )


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn a full disk while writing ``path`` into a clean stop naming the file."""
    try:
        yield
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        raise disk_full(exc.filename or path) from None


def save_record(path: Path, record: RunRecord) -> None:
    try:
        with writing(path):
            record.save(path)
    except DiskFull:
        temporary_path(path).unlink(missing_ok=True)  # left by the failed write
        raise
