"""SIGTERM handled like Ctrl-C while runs go on, so ``scancel``, a Slurm time limit or a
plain ``kill`` stop the run in progress and keep its log as an attempt."""

from __future__ import annotations

import signal

from gp2bm.files.signals import owned_handler


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class SignalGuard:
    """Turn SIGTERM into KeyboardInterrupt inside the ``with`` block (main thread only)."""

    def __enter__(self) -> SignalGuard:
        self._old = signal.getsignal(signal.SIGTERM)
        try:
            signal.signal(signal.SIGTERM, owned_handler(_interrupt))
        except ValueError:  # not the main thread: signals cannot be handled here
            self._old = None
        return self

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)
