"""MLCommons' checkers over many logs at once: in parallel across the cores, and through the
verdict cache when one is given.

Each log is checked in a worker process (the compliance checker keeps module-global state,
so one check at a time per process); the RCP checks of all folders form one job, so that
only one worker pays for importing scipy. Workers are forked (fast: the checkers are already
imported), which is safe only while this process runs no other thread: otherwise the checks
run here, one after the other.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gp2bm.files.checksums import sha256_file
from gp2bm.results.mlcommons import compliance as compliance_checker
from gp2bm.results.mlcommons import install
from gp2bm.results.mlcommons import rcp as rcp_checker
from gp2bm.results.mlcommons import seeds as seed_checker
from gp2bm.results.rules import CheckResult, RcpResult, SeedRecords
from gp2bm.results.verdictcache import VerdictStore, folder_digest

# How far a scoring has come: (stage, done, total), stage PARSE (gp2bm reads the logs)
# or CHECK (MLCommons' checkers, one step per log and one for the RCP checks). Called from
# the thread that scores, after each step; the CLI shows it on long scorings.
Progress = Callable[[str, int, int], None]
PARSE = "parse"
CHECK = "check"

COMPLIANCE = "compliance"
SEEDS = "seed-records"
RCP = "rcp"


@dataclass(frozen=True)
class CheckPlan:
    """What to check: each log (compliance, seed records) and each folder (RCP)."""

    ruleset: str
    folders: dict[Path, tuple[Path, ...]]  # benchmark folder -> its result logs
    compliance: bool = True
    seeds: bool = True
    rcp: bool = True

    @property
    def logs(self) -> list[Path]:
        return [log for logs in self.folders.values() for log in logs]


@dataclass
class Verdicts:
    compliance: dict[Path, CheckResult] = field(default_factory=dict)
    seeds: dict[Path, SeedRecords] = field(default_factory=dict)
    rcp: dict[Path, RcpResult] = field(default_factory=dict)


def check_log(
    path: Path, ruleset: str, compliance: bool, seeds: bool
) -> tuple[CheckResult | None, SeedRecords | None]:
    """One log's verdicts (a worker's job): both from one parse when both are wanted."""
    if compliance and seeds:
        return compliance_checker.check_log(path, ruleset)
    return (
        compliance_checker.check_compliance(path, ruleset) if compliance else None,
        seed_checker.seed_records(path, ruleset) if seeds else None,
    )


def check_folders(folders: list[Path], ruleset: str) -> list[RcpResult]:
    """The RCP checks of several folders (one worker's job)."""
    return [rcp_checker.check_rcp(folder, ruleset) for folder in folders]


# The checkers do no linear algebra: BLAS thread pools (started when the RCP checker imports
# numpy) would only compete with the other checks for the cores.
ONE_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


# How often a checker process looks whether gp2bm is still there.
PARENT_CHECK_S = 1.0


def start_worker(parent: int | None = None) -> None:
    """Each checker process: one thread for numerical libraries (before they are imported),
    and it ends when gp2bm does: a gp2bm killed by SIGKILL cannot shut its pool down, and
    its idle workers would otherwise wait on their queue forever."""
    for name in ONE_THREAD:
        os.environ.setdefault(name, "1")
    if parent is not None:
        threading.Thread(target=_exit_without, args=(parent,), daemon=True).start()


def _exit_without(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(1)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether checker processes can be forked from this one. Forking a process that runs
    other threads can copy a lock one of them holds; starting fresh interpreters instead
    would re-run the command's ``__main__``: with threads, the checks run in this process."""
    return (
        threading.active_count() == 1
        and "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon  # a daemon may have no children
    )


class PendingChecks:
    """Checks started in the background; ``verdicts()`` waits for them. A context manager:
    leaving it early cancels what has not started."""

    def __init__(
        self,
        plan: CheckPlan,
        cache: VerdictStore | None,
        workers: int | None,
        progress: Progress | None = None,
        helper: Executor | None = None,
    ):
        self.plan, self.cache = plan, cache
        self.progress = progress
        self.found = Verdicts()
        self.digests: dict[Path, str] = {}
        # log -> (check compliance, read seed records); folders whose RCP check is to run
        self.todo_logs: dict[Path, tuple[bool, bool]] = {}
        self.todo_folders: list[Path] = []
        self._from_cache()
        jobs = len(self.todo_logs) + (1 if self.todo_folders else 0)
        workers = min(workers or available_cores(), jobs) if can_fork() else 1
        self.pool = None
        self.futures: dict[object, Future] = {}
        self.helped = False
        if workers <= 1 and helper is not None:
            self._offer(helper)
        elif workers > 1:
            install()  # MLCommons' library as the workers will use it, before they fork
            self.pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=start_worker,
                initargs=(os.getpid(),),
            )
            if self.todo_folders:  # the longest job first
                self.futures[RCP] = self.pool.submit(check_folders, self.todo_folders, plan.ruleset)
            for log, want in self.todo_logs.items():
                self.futures[log] = self.pool.submit(check_log, log, plan.ruleset, *want)

    def _offer(self, helper: Executor) -> None:
        """Every log offered to ``helper`` (a process of the command's own, with a core to
        spare), first log first; ``verdicts`` takes them back from the last one while the
        helper has not started them, so that both share the logs whatever each costs."""
        self.helped = True
        for log, want in self.todo_logs.items():
            self.futures[log] = helper.submit(check_log, log, self.plan.ruleset, *want)

    def __enter__(self) -> PendingChecks:
        return self

    def __exit__(self, *exc) -> None:
        for future in self.futures.values() if self.helped else ():
            future.cancel()  # what the helper has not started is no longer wanted
        if self.pool is not None:
            self.pool.shutdown(wait=exc[0] is None, cancel_futures=True)

    def _from_cache(self) -> None:
        """Take what the cache holds; note the logs and folders still to check."""
        plan, cache, found = self.plan, self.cache, self.found
        if cache is not None:
            self.digests = {log: sha256_file(log) for log in plan.logs}
            for log in plan.logs:
                _load(cache, plan, log, self.digests[log], found)
        for log in plan.logs:
            want = (
                plan.compliance and log not in found.compliance,
                plan.seeds and log not in found.seeds,
            )
            if any(want):
                self.todo_logs[log] = want
        for folder, logs in plan.folders.items() if plan.rcp else ():
            digest = self._digest(logs)
            hit = None if cache is None or digest is None else cache.load(RCP, plan.ruleset, digest)
            if hit is not None:
                found.rcp[folder] = RcpResult.from_dict(hit)
            else:
                self.todo_folders.append(folder)

    def _digest(self, logs: tuple[Path, ...]) -> str | None:
        if self.cache is None:
            return None  # nothing hashed: no cache to look up
        return folder_digest([(log.name, self.digests[log]) for log in logs])

    def verdicts(self) -> Verdicts:
        """Every verdict of the plan (waiting for the workers), stored in the cache."""
        plan, found = self.plan, self.found
        total = len(self.todo_logs) + (1 if self.todo_folders else 0)
        done = 0
        if self.todo_folders:
            results, ok = self._result(
                RCP,
                (check_folders, self.todo_folders, plan.ruleset),
                lambda why: [RcpResult(False, why, None) for _ in self.todo_folders],
            )
            for folder, result in zip(self.todo_folders, results, strict=True):
                found.rcp[folder] = result
                if ok:
                    self._store(RCP, self._digest(plan.folders[folder]), result)
            done += 1
            self._report(done, total)
        results = {}
        for log in self._taken_back():  # each taken back just before it is checked here
            results[log] = self._log_result(log)
            done += 1
            self._report(done, total)
        for log in self.todo_logs:  # then what the workers or the helper check
            if log not in results:
                results[log] = self._log_result(log)
                done += 1
                self._report(done, total)
        for log in self.todo_logs:
            (compliance, seeds), ok = results[log]
            if compliance is not None:
                found.compliance[log] = compliance
                if ok:
                    self._store(COMPLIANCE, self.digests.get(log), compliance)
            if seeds is not None:
                found.seeds[log] = seeds
                if ok:
                    self._store(SEEDS, self.digests.get(log), seeds)
        return found

    def _taken_back(self):
        """The logs this process checks itself: every log without a worker's future; of the
        logs offered to a helper, those it has not started, from the last one on."""
        for log in reversed(self.todo_logs):
            future = self.futures.get(log)
            if future is not None and not (self.helped and future.cancel()):
                return
            self.futures.pop(log, None)
            yield log

    def _log_result(self, log: Path) -> tuple:
        want = self.todo_logs[log]
        return self._result(
            log,
            (check_log, log, self.plan.ruleset, *want),
            lambda why: (
                CheckResult("compliance", False, (why,)) if want[0] else None,
                SeedRecords((), why) if want[1] else None,
            ),
        )

    def _report(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(CHECK, done, total)

    def _result(self, key, job: tuple, failed) -> tuple:
        """(a job's result, whether it ran to the end): from its worker, else run here."""
        future = self.futures.get(key)
        if future is None:
            return job[0](*job[1:]), True
        try:
            return future.result(), True
        except BrokenExecutor:
            if self.helped:  # the helper is gone: its share is checked here
                return job[0](*job[1:]), True
            return failed("checker process failed: it ended before its check did"), False
        except Exception as exc:  # a worker died (killed, out of memory): a failed check
            return failed(f"checker process failed: {type(exc).__name__}: {exc}"), False

    def _store(self, checker: str, digest: str | None, verdict) -> None:
        if self.cache is not None and digest is not None:
            self.cache.store(checker, self.plan.ruleset, digest, verdict.to_dict())


def _load(cache: VerdictStore, plan: CheckPlan, log: Path, digest: str, found: Verdicts) -> None:
    if plan.compliance:
        hit = cache.load(COMPLIANCE, plan.ruleset, digest)
        if hit is not None:
            found.compliance[log] = CheckResult.from_dict(hit)
    if plan.seeds:
        hit = cache.load(SEEDS, plan.ruleset, digest)
        if hit is not None:
            found.seeds[log] = SeedRecords.from_dict(hit)
