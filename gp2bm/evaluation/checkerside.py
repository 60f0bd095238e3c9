"""verify's side process: MLCommons' package checker, and the checks that need openpyxl.

A process forked as the command starts (``early``) imports what its jobs need (MLCommons'
package checker, scipy's t-test function, openpyxl) while this process imports its own
modules and opens the bundle. It then computes the RCP verdicts (the scoring needs them),
takes a share of the log checks (``checkpool.PendingChecks``' helper), and, handed every
verdict of this run, runs the package checker and checks the workbooks while this process
checks the other claims. Two cores, two processes, no import done twice. Where forking is
not safe (threads already running), everything runs here, one step after the other.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TypeVar

from gp2bm.evaluation import early
from gp2bm.evaluation.early import forked_side
from gp2bm.evaluation.reportcheck import check_workbooks
from gp2bm.evaluation.verification import Verification
from gp2bm.handin.package_check import PackageCheck, check_package
from gp2bm.handin.verdicts import RunVerdicts
from gp2bm.reports.view import CampaignView, summarized
from gp2bm.results.mlcommons import package
from gp2bm.results.mlcommons.rcp import check_rcp
from gp2bm.results.rules import RcpResult

T = TypeVar("T")


def rcp_verdicts(folders: list[Path], ruleset: str) -> list[RcpResult]:
    """MLCommons' RCP check of each folder (the side's job; ``mlcommons.rcp``)."""
    package.load_checker()
    return [check_rcp(folder, ruleset) for folder in folders]


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
        self.close()

    def close(self) -> None:
        """End the side at once, and wait until it is gone: every result of a job given to
        it has been taken by now, and what it may still be doing (importing, when the
        bundle held nothing to check; a job of a command that failed or was stopped) is no
        longer wanted. Once this returns it writes nothing more, so a folder its jobs wrote
        into can be removed."""
        if self.pool is not None:
            early.end_now(self.pool)
            self.pool = None

    @property
    def helper(self) -> ProcessPoolExecutor | None:
        """The side process, to take a share of other checks (None when there is none)."""
        return self.pool

    def start(self, job: Callable[..., T], *args: object) -> Callable[[], T]:
        """A job given to the side process now; call what is returned for its result (the
        job runs here when there is no side process, or it was lost)."""
        future = None if self.pool is None else self.pool.submit(job, *args)

        def result() -> T:
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

    def workbooks(self, view: CampaignView, bundle: Path) -> Callable[[], Verification]:
        """The findings of ``reportcheck.check_workbooks``, started now (handed the view
        without its telemetry samples, which the workbooks only summarise)."""
        return self.start(check_workbooks, summarized(view), bundle)
