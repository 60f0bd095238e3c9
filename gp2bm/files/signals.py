"""Signal handlers that stay in the process that set them.

A child forked while a Python-level handler is installed (a checker process, ``verify``'s
side process) inherits it until it sets its own; a signal that comes before then would run
the parent's handler in the child, and an exception it raises there unwinds the parent's
copied stack in the child: the child goes on as a second copy of the parent's program. A
handler made with ``owned_handler`` ends such a child as if no handler were set.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable


def owned_handler(handler: Callable) -> Callable:
    """``handler`` for this process; in a forked child, the signal's default action."""
    owner = os.getpid()

    def run(signum, frame):
        if os.getpid() != owner:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            os._exit(128 + signum)  # a signal whose default action does not end it
        return handler(signum, frame)

    return run
