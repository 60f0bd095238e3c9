"""gp2bm's SIGTERM handlers stay in the process that set them: a child forked while one is
installed (a checker process, verify's side process) and signalled before it sets its own
ends as if no handler were set. Before, the parent's handler raised in the child, whose
copy of the parent's stack then went on: a test session ran twice, side by side."""

from __future__ import annotations

import os
import signal
import time

import pytest

from gp2bm.files.signals import owned_handler


def _fork_and_signal() -> int:
    """A child forked now, signalled at once; its wait status (exit 99: the handler ran)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except BaseException:  # noqa: BLE001 - the parent's handler raised in the child
            os._exit(99)
        os._exit(98)
    _, status = os.waitpid(pid, 0)
    return status


@pytest.mark.reliability("forked-child-signalled")
def test_a_forked_child_never_runs_the_parents_handler():
    def handler(signum, frame):
        raise RuntimeError("the parent's handler")

    old = signal.signal(signal.SIGTERM, owned_handler(handler))
    try:
        status = _fork_and_signal()
    finally:
        signal.signal(signal.SIGTERM, old)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM, status


def test_the_handler_still_runs_in_its_own_process():
    seen = []
    old = signal.signal(signal.SIGTERM, owned_handler(lambda signum, frame: seen.append(signum)))
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)
    finally:
        signal.signal(signal.SIGTERM, old)
    assert seen == [signal.SIGTERM]


@pytest.mark.reliability("forked-child-signalled")
def test_gp2bm_installs_owned_handlers():
    from gp2bm.handin.scratch import stop_on_sigterm
    from gp2bm.run.signals import SignalGuard

    for guard in (SignalGuard(), stop_on_sigterm("test")):
        with guard:
            assert signal.getsignal(signal.SIGTERM).__qualname__.startswith("owned_handler")
