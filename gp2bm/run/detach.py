"""run-all without its terminal: a closed stdout or stderr (the reader of a pipe gone, as
``run-all | head``), or a terminal that hung up (SIGHUP: the ssh session lost), stops no
run. From then on what that stream would have shown goes to the campaign's own log,
``run-all.log`` in the campaign folder (``CampaignFiles.run_all_log``), after one line
saying how and when it was detached; the other stream, while it still works, says where.
Before the campaign folder is known, what a detached stream would show is dropped (the
pre-flight's table; its verdict is kept in each run record).

``Detachable`` puts the two streams in place for the rest of the process (rich's consoles
write to ``sys.stdout`` and ``sys.stderr`` as they are at each write) and handles SIGHUP
in the main thread. The runs themselves never see the terminal: each starts in a session
of its own (``runtimes.process``), so the hang-up reaches gp2bm only.
"""

from __future__ import annotations

import io
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from gp2bm.files.signals import owned_handler


class DetachableStream(io.TextIOBase):
    """A text stream that, once its own stream fails, writes to the campaign's log."""

    def __init__(self, stream: TextIO, name: str, owner: Detachable):
        super().__init__()
        self.stream, self.name, self.owner = stream, name, owner
        self.detached: str | None = None  # why, once detached

    # what rich and print ask of a stream
    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", None) or "utf-8"

    def isatty(self) -> bool:
        return self.detached is None and self.stream.isatty()

    def fileno(self) -> int:
        if self.detached is not None:
            raise io.UnsupportedOperation("detached")
        return self.stream.fileno()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.detached is None:
            try:
                return self.stream.write(text)
            except (BrokenPipeError, OSError) as exc:  # EPIPE; EIO: the terminal is gone
                self.let_go(f"{self.name} could not be written ({exc.strerror or exc})")
        self.owner.log(text)
        return len(text)

    def flush(self) -> None:
        if self.detached is None:
            try:
                self.stream.flush()
            except (BrokenPipeError, OSError) as exc:
                self.let_go(f"{self.name} could not be written ({exc.strerror or exc})")

    def let_go(self, why: str) -> None:
        if self.detached is not None:
            return
        self.detached = why
        self.owner.detached(self, why)


# The Detachable in place, if any (``log_to_campaign`` tells it the campaign folder).
_ACTIVE: list[Detachable] = []


def log_to_campaign(path: Path) -> None:
    """Detached output goes to ``path`` from now on (no-op without a Detachable)."""
    for active in _ACTIVE:
        active.log_to(path)


class Detachable:
    """sys.stdout and sys.stderr made detachable, SIGHUP handled, in the ``with`` block;
    once one was detached they stay for the rest of the process (gp2bm's last words must
    not fail on the closed stream)."""

    def __init__(self) -> None:
        self.target: Path | None = None
        self._file: TextIO | None = None
        self._pending: list[str] = []
        self.streams: list[DetachableStream] = []

    def __enter__(self) -> Detachable:
        out = DetachableStream(sys.stdout, "stdout", self)
        err = DetachableStream(sys.stderr, "stderr", self)
        self.streams = [out, err]
        sys.stdout, sys.stderr = out, err
        _ACTIVE.append(self)
        try:
            signal.signal(signal.SIGHUP, owned_handler(self._hang_up))
        except ValueError:  # not the main thread
            pass
        return self

    def __exit__(self, *exc) -> None:
        if self in _ACTIVE:
            _ACTIVE.remove(self)
        if self._file is not None:
            self._file.flush()
        if all(s.detached is None for s in self.streams):  # nothing failed: as it was
            sys.stdout, sys.stderr = (s.stream for s in self.streams)

    def _hang_up(self, signum, frame) -> None:
        for stream in self.streams:
            stream.let_go("the terminal hung up (SIGHUP)")

    def log_to(self, path: Path) -> None:
        """Where detached output goes from now on (the campaign folder is known)."""
        self.target = Path(path)
        if self._pending:
            self._open().write("".join(self._pending))
            self._pending = []

    def _open(self) -> TextIO:
        if self._file is None:
            assert self.target is not None
            self.target.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.target, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        return self._file

    def log(self, text: str) -> None:
        if self.target is None:
            return  # before the campaign is known: dropped (see the module)
        handle = self._open()
        handle.write(text)
        handle.flush()

    def detached(self, stream: DetachableStream, why: str) -> None:
        when = datetime.now(UTC).isoformat(timespec="seconds")
        line = f"gp2bm run-all: {why} at {when}; its output goes on here\n"
        if self.target is not None:
            self.log(line)
        else:
            self._pending.append(line)
        for other in self.streams:
            if other is not stream and other.detached is None and self.target is not None:
                other.write(f"gp2bm: {why}; run-all goes on, its output in {self.target}\n")
