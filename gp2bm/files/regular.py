"""Opening a file that must be a regular file (a log, a suite, a JSON record), never anything
else under its name: a FIFO would block ``open`` forever, a device (``/dev/zero``) would be
read without end, a socket cannot be read at all. A symbolic link to one of those is refused
the same way; a link to a regular file is read as the file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from gp2bm.errors import InputError

KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def kind_of(mode: int) -> str:
    """What a file of this mode is, in words (for the one-line refusal)."""
    for test, words in KINDS:
        if test(mode):
            return words
    return "not a regular file"


def not_regular(path: Path | str) -> str | None:
    """Why ``path`` (a link followed) is not a regular file, or None when it is one.
    Raises OSError (FileNotFoundError...) when it cannot be looked at."""
    mode = os.stat(path).st_mode
    return None if stat.S_ISREG(mode) else kind_of(mode)


def refuse_unless_regular(path: Path | str, what: str = "a file") -> None:
    """InputError naming ``path`` unless it is a regular file; OSError when it is missing."""
    kind = not_regular(path)
    if kind is not None:
        raise InputError(f"{path}: is {kind}, expected {what}")


def open_regular(path: Path | str, what: str = "a file") -> BinaryIO:
    """``path`` opened for binary reading, only when it is a regular file.

    Looked at before it is opened (``stat`` opens nothing), and opened without blocking so
    that a file swapped for a FIFO in between cannot block either; InputError naming it when
    it is not a regular file, OSError (FileNotFoundError...) when it cannot be opened.
    """
    refuse_unless_regular(path, what)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise InputError(f"{path}: is {kind_of(mode)}, expected {what}")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
