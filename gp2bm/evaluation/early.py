"""``verify``'s side process, forked as the command starts, before its own modules load.

The side process (``checkerside``) spends its first 0.3 s importing MLCommons' package
checker, the scipy function of its RCP checker and the modules of its own jobs. Forked from
a process that has loaded only the CLI (``cli.app`` starts it for the commands of
``EARLY_STARTS``), it does so while ``verify`` imports its own modules and opens the
bundle, and is ready when the first job arrives.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from gp2bm.results.checkpool import can_fork, start_worker
from gp2bm.results.mlcommons import install, package

_forked: list[ProcessPoolExecutor] = []
# How long ``end_now`` waits for a killed side process to be gone (it takes milliseconds).
END_WAIT_S = 5.0


# The module of the side's later jobs (``checkerside``, which imports this one): the side,
# forked before the command imported it, imports it in its first job rather than when the
# first of those jobs arrives (0.08 s later).
JOBS_MODULE = "gp2bm.evaluation.checkerside"


def warm() -> None:
    """The side's first job: import MLCommons' package checker (its RCP checker first,
    through ``results.mlcommons``), the t-test's scipy module, openpyxl, and the module of
    its jobs."""
    package.load_checker()
    import openpyxl  # noqa: F401  # heavy: for the workbook checks
    from scipy import special  # noqa: F401  # heavy: the RCP checker's t-test

    importlib.import_module(JOBS_MODULE)


def start() -> None:
    """Fork the side process now (where forking is safe) and have it import the checker;
    gp2bm's speed-ups installed into MLCommons' library first, for both processes."""
    if _forked or not can_fork():
        return
    install()
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
    wait for its job to finish before a failed command could end. SIGKILL: no handler it
    may have inherited runs (``files.signals``). Waited for: once this returns, it writes
    nothing more (into a scratch folder about to be removed)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for proc in processes:
        proc.kill()
    for proc in processes:
        proc.join(END_WAIT_S)
    pool.shutdown(wait=False, cancel_futures=True)
