"""MLCommons' package checker in a process of its own, started before anything else.

Importing the package checker imports scipy (through its RCP checker): the longest single
step of a ``verify``. A forked side process imports it while this process opens the bundle
and checks its logs; the side then computes the RCP verdicts (the scoring needs them) and,
handed every verdict of this run, runs the package checker while this process checks the
claims and reports. Two cores, two processes, no import done twice. The process is forked
as the command starts (``early``). Where forking is not safe (threads already running),
everything runs here, one step after the other.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from gp2bm.handin import early
from gp2bm.handin.early import forked_side
from gp2bm.handin.package_check import PackageCheck, check_package, load_checker
from gp2bm.handin.verdicts import RunVerdicts
from gp2bm.results import rules
from gp2bm.results.rules import RcpResult


def rcp_verdicts(folders: list[Path], ruleset: str) -> list[RcpResult]:
    """MLCommons' RCP check of each folder (the side's job; ``rules.check_rcp``)."""
    load_checker()
    return [rules.check_rcp(folder, ruleset) for folder in folders]


class CheckerSide:
    """A context manager: the side process (or none), its jobs done in the order given."""

    def __init__(self):
        self.pool = forked_side()  # forked as the command started (``early``), else now
        if self.pool is None:
            early.start()
            self.pool = forked_side()

    def __enter__(self) -> CheckerSide:
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is None:
            return
        if exc[0] is None:
            self.pool.shutdown(wait=True)
        else:  # the command failed or was stopped: nothing the side does is wanted now
            early.end_now(self.pool)

    @property
    def busy_core(self) -> bool:
        """Whether the side process takes a core (the checks here then use one process)."""
        return self.pool is not None

    def start(self, job, *args) -> Callable[[], object]:
        """A job given to the side process now; call what is returned for its result (the
        job runs here when there is no side process, or it was lost)."""
        future = None if self.pool is None else self.pool.submit(job, *args)

        def result():
            if future is not None:
                try:
                    return future.result()
                except BrokenProcessPool:  # the side process was killed: do it here
                    self.pool = None
            return job(*args)

        return result

    def rcp(self, folders: list[Path], ruleset: str) -> Callable[[], list[RcpResult]]:
        """The RCP verdicts of ``folders``, started now."""
        return self.start(rcp_verdicts, folders, ruleset)

    def package(
        self, org_dir: Path, ruleset: str, scratch: Path, verdicts: RunVerdicts
    ) -> Callable[[], PackageCheck]:
        """MLCommons' package checker on ``org_dir``, handed ``verdicts``, started now."""
        return self.start(check_package, org_dir, ruleset, scratch, verdicts)
