"""``verify``'s side process, forked as the command starts, before its own modules load.

The side process (``checkerside``) spends its first 0.6 s importing MLCommons' package
checker (scipy, through the RCP checker), the longest single step of a ``verify``. Forked
from a process that has loaded only the CLI (``cli.app`` starts it for the commands of
``EARLY_STARTS``), it begins that import about 0.2 s sooner than from ``verify`` itself;
the modules of the jobs it is later given are imported there as they arrive.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from gp2bm.results.checkpool import can_fork, start_worker

_forked: list[ProcessPoolExecutor] = []


def warm() -> None:
    """The side's first job: import MLCommons' package checker."""
    from mlperf_logging.package_checker import package_checker  # noqa: F401  # heavy: scipy


def start() -> None:
    """Fork the side process now (where forking is safe) and have it import the checker."""
    if _forked or not can_fork():
        return
    pool = ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("fork"),
        initializer=start_worker,  # one BLAS thread; it ends when this process does
        initargs=(os.getpid(),),
    )
    pool.submit(warm)
    _forked.append(pool)


def forked_side() -> ProcessPoolExecutor | None:
    """The side process forked by ``start``, handed over once; None when there is none."""
    return _forked.pop() if _forked else None


def discard() -> None:
    """End a side process the command never took (it stopped before, on bad input)."""
    while _forked:
        end_now(_forked.pop())


def end_now(pool: ProcessPoolExecutor) -> None:
    """End a side process at once, whatever it is doing: at exit, Python would otherwise
    wait for its job (the 0.6 s import) to finish before a failed command could end.
    SIGKILL: no handler it may have inherited runs (``files.signals``)."""
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        proc.kill()
    pool.shutdown(wait=False, cancel_futures=True)
