"""What MLCommons' checkers log, captured; their messages made one short, printable line.

The checkers report through the root logger (calling ``logging.warning`` on a bare root
logger installs a stderr handler for the whole process) and warn through ``warnings``:
``captured_logging`` collects both for the time of one call, without leaking a handler or
printing anything, and ``short`` turns one of their multi-line messages into the line that
says which key and which test failed.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gp2bm.files.plaintext import printable


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def captured_logging() -> Iterator[list[logging.LogRecord]]:
    """Collect what mlperf-logging logs, without leaking handlers or output."""
    root = logging.getLogger()
    handler = _Capture()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            yield handler.records
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def _failed_test(lines: list[str]) -> str | None:
    """The test a checker message says failed (its lines up to the context), on one line."""
    for i, line in enumerate(lines):
        if line.startswith("failed test:"):
            body = [line[len("failed test:") :].strip()]
            for more in lines[i + 1 :]:
                if more.startswith("current context") or more.startswith("current line"):
                    break
                body.append(more)
            return " ".join(" ".join(body).split())
    return None


def short(message: str, limit: int = 200) -> str:
    """One line out of a multi-line checker message: which key, which test failed."""
    lines = [ln.strip() for ln in message.strip().splitlines() if ln.strip()]
    if not lines:
        return printable(message.strip(), limit)
    test = _failed_test(lines)
    first = lines[0]
    if first.startswith("CHECK for") and test:
        first = first.split(" failed in line")[0] + f" failed: {test}"
    elif first.startswith("failed test:") and test:
        first = f"end-of-log check failed: {test}"
    elif first.startswith("Failed executing CHECK code:") and len(lines) > 1:
        first = f"check code failed: {lines[1]}"
    # a checker message quotes the log, which may hold escapes meant for a terminal
    return printable(first if len(first) <= limit else first[: limit - 3] + "...")


def relative_names(text: str, paths: list[Path]) -> str:
    """The checkers name logs by the path they were given: keep only their file names, so
    that a message says the same wherever the folder lies (and is not cut inside a long
    path)."""
    for p in sorted(paths, key=lambda q: len(str(q)), reverse=True):
        text = text.replace(str(p), Path(p).name)
    return text
