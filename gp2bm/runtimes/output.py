"""Copying a run's output into its log file as it comes (every runtime's executions use it).

Two threads: one reads the run's output and hands each complete line to ``on_line`` the
moment it arrives (gp2bm's own timing of run_start .. run_stop is taken there), the other
writes it to the log. Slow storage (an NFS server that stalls for seconds) then delays the
log, never the reading of the output nor gp2bm's timing: a stall while run_stop is written
would otherwise be measured as part of the run. What was read and not yet written is held
up to MAX_PENDING_BYTES; beyond that the reader waits (and the run with it, as a full pipe
would make it).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import BinaryIO

MAX_PENDING_BYTES = 64 << 20
UNIT = 1 << 16  # what is held is counted in 64 KiB units, a chunk at least one
_END = None


def _units(chunk: bytes) -> int:
    return max(1, len(chunk) // UNIT)


class _Writer(threading.Thread):
    """Writes the chunks it is given to the log, in order, flushing after each."""

    def __init__(self, sink: BinaryIO):
        super().__init__(daemon=True, name="gp2bm-log-writer")
        self.sink = sink
        self.chunks: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.room = threading.Semaphore(MAX_PENDING_BYTES // UNIT)
        self.error: BaseException | None = None

    def put(self, chunk: bytes | None) -> bool:
        """Queue a chunk (None: the end), waiting while too much is held; False when the
        writer has failed (nothing more is written)."""
        for _ in range(0 if chunk is None else _units(chunk)):
            while not self.room.acquire(timeout=0.2):
                if self.error is not None or not self.is_alive():
                    return False
        self.chunks.put(chunk)
        return self.error is None

    def run(self) -> None:
        while (chunk := self.chunks.get()) is not _END:
            try:
                if self.error is None:
                    self.sink.write(chunk)
                    self.sink.flush()
            except BaseException as exc:  # noqa: BLE001 - reported by the campaign, not lost
                self.error = exc
            for _ in range(_units(chunk)):
                self.room.release()


class OutputPump(threading.Thread):
    """Reads a run's output as it comes, line by line to ``on_line``, and has it written to
    its log file. ``join`` waits for both (the reading and the writing); ``reading`` tells
    whether the output is still being read; ``error`` is why the log could not be written."""

    def __init__(
        self,
        chunks: Iterable[bytes],
        sink: BinaryIO,
        on_line: Callable[[bytes], None] | None = None,
    ):
        super().__init__(daemon=True, name="gp2bm-output")
        self.chunks = chunks
        self.on_line = on_line
        self.writer = _Writer(sink)
        self.read_error: BaseException | None = None

    @property
    def error(self) -> BaseException | None:
        return self.writer.error or self.read_error

    @property
    def reading(self) -> bool:
        return super().is_alive()

    def start(self) -> None:
        self.writer.start()
        super().start()

    def is_alive(self) -> bool:
        return super().is_alive() or self.writer.is_alive()

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        super().join(timeout)
        if not super().is_alive():
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            self.writer.join(left)

    def run(self) -> None:
        pending = b""
        try:
            for chunk in self.chunks:
                if not chunk:
                    continue
                if self.on_line is not None:
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        self.on_line(line)
                    if len(pending) > 1 << 20:
                        pending = b""
                if not self.writer.put(chunk):
                    break
        except BaseException as exc:  # noqa: BLE001 - reported by the campaign, not lost
            self.read_error = exc
        finally:
            if pending and self.on_line is not None:
                self.on_line(pending)
            self.writer.put(_END)
