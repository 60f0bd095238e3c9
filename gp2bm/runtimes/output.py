"""Copying a run's output into its log file as it comes (every runtime's executions use it)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import BinaryIO


class OutputPump(threading.Thread):
    """Copies a run's output into its log file as it comes, line by line to ``on_line``."""

    def __init__(
        self,
        chunks: Iterable[bytes],
        sink: BinaryIO,
        on_line: Callable[[bytes], None] | None = None,
    ):
        super().__init__(daemon=True, name="gp2bm-output")
        self.chunks = chunks
        self.sink = sink
        self.on_line = on_line
        self.error: BaseException | None = None

    def run(self) -> None:
        pending = b""
        try:
            for chunk in self.chunks:
                if not chunk:
                    continue
                self.sink.write(chunk)
                self.sink.flush()
                if self.on_line is not None:
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        self.on_line(line)
                    if len(pending) > 1 << 20:
                        pending = b""
        except BaseException as exc:  # noqa: BLE001 - reported by the campaign, not lost
            self.error = exc
        finally:
            if pending and self.on_line is not None:
                self.on_line(pending)
