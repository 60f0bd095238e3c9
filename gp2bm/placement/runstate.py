"""The state of every run of a campaign, from its folder and from the scheduler.

done          result_N.txt is there and its record says success
failed        result_N.txt is there and the run did not succeed (it counts as a failed run)
running       some gp2bm holds the run's lock (on the node named), or its task has started
pending       a task for it waits in the scheduler's queue
interrupted   an attempt was stopped (a partial log or an attempt kept); it will be redone
missing       never started
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from gp2bm.campaign.folder import Campaign
from gp2bm.campaign.record import RunRecord
from gp2bm.errors import SchedulerError
from gp2bm.placement.base import Scheduler, TaskState
from gp2bm.placement.fanout import JobBook, Run, queued_runs

STATES = ("done", "failed", "running", "pending", "interrupted", "missing")
# the scheduler's words for a task that waits for its node
WAITING = ("PENDING", "REQUEUED", "SUSPENDED")


@dataclass
class RunState:
    benchmark: str
    run: int
    state: str
    node: str | None = None
    job: str | None = None  # the scheduler's JOB_TASK
    detail: str | None = None
    seconds: float | None = None
    attempts: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def _attempts(campaign: Campaign, bench: str, n: int) -> int:
    return campaign.layout.attempt_count(bench, n)


class _EndedTasks:
    """How the tasks of a job ended, asked of the scheduler once per job."""

    def __init__(self, scheduler: Scheduler, notes: list[str]):
        self.scheduler, self.notes = scheduler, notes
        self._jobs: dict[str, dict[int | None, TaskState]] = {}

    def get(self, job_id: str, task_id: int) -> TaskState | None:
        if job_id not in self._jobs:
            try:
                self._jobs[job_id] = {t.task_id: t for t in self.scheduler.finished(job_id)}
            except SchedulerError as exc:
                self.notes.append(f"{self.scheduler.name} not asked about job {job_id}: {exc}")
                self._jobs[job_id] = {}
        return self._jobs[job_id].get(task_id)


def run_states(
    campaign: Campaign,
    scheduler: Scheduler | None = None,
    queued: dict[Run, TaskState] | None = None,
    ask_finished: bool = False,
) -> tuple[list[RunState], list[str]]:
    """Every run's state, and notes on what could not be asked (scheduler unreachable).

    ``queued`` is what the scheduler said (asked here when None and a scheduler is given);
    ``ask_finished`` also asks how the last task of each unfinished run ended.
    """
    notes: list[str] = []
    book = JobBook(campaign, scheduler) if scheduler else None
    if scheduler and book is not None and queued is None:
        try:
            queued = queued_runs(book, scheduler)
        except SchedulerError as exc:
            notes.append(f"{scheduler.name} not asked: {exc}")
    queued = queued or {}
    ended = _EndedTasks(scheduler, notes) if scheduler and ask_finished else None
    states = []
    for bench, spec in campaign.suite.benchmarks.items():
        for n in range(spec.runs):
            rs = _state(campaign, bench, n, queued.get((bench, n)))
            if rs.state in ("missing", "interrupted") and book is not None:
                _explain_last_task(rs, campaign, book, ended)
            states.append(rs)
    return states, notes


def _state(campaign: Campaign, bench: str, n: int, task: TaskState | None) -> RunState:
    """A run's state from the campaign folder, its lock, and its task in the queue."""
    rs = RunState(bench, n, "missing", attempts=_attempts(campaign, bench, n))
    record = RunRecord.load(campaign.layout.record_path(bench, n))
    holder = campaign.run_holder(bench, n)
    if campaign.layout.result_path(bench, n).exists():
        ok = record is not None and record.succeeded
        rs.state = "done" if ok else "failed"
        if record is not None:
            rs.node, rs.job, rs.seconds = record.where, record.slurm_job, record.seconds
        reason = record.reason if record is not None else None
        rs.detail = None if ok else reason or "not a successful run"
    elif holder is not None:
        rs.state = "running"
        rs.node = holder.get("node") or holder.get("host")
        rs.job = holder.get("job")
        rs.detail = f"since {holder['since'][11:19]} UTC" if holder.get("since") else None
    elif task is not None and task.state in WAITING:
        rs.state, rs.job, rs.detail = "pending", task.ident, task.reason
    elif task is not None:
        rs.state, rs.job, rs.node = "running", task.ident, task.node
        rs.detail = f"task {task.state.lower()}, the run not started yet"
    elif campaign.layout.partial_path(bench, n).exists() or rs.attempts or record is not None:
        rs.state = "interrupted"
        rs.node = record.where if record is not None else None
        reason = record.reason if record is not None else None
        rs.detail = reason or "an attempt was stopped; redone next time"
    return rs


def _explain_last_task(
    rs: RunState, campaign: Campaign, book: JobBook, ended: _EndedTasks | None
) -> None:
    """Add what became of the last task submitted for a run that has no result."""
    last = book.last_task_of((rs.benchmark, rs.run))
    if last is None:
        return
    job_id, task_id = last
    rs.job = rs.job or f"{job_id}_{task_id}"
    out = book.output_of(job_id, task_id)
    where = f"see {out.relative_to(campaign.root)}" if out.exists() else ""
    t = ended.get(job_id, task_id) if ended is not None else None
    if t is None:
        said = "its task left no result"
    else:
        said = f"its task ended {t.state.lower()}" + (
            f" (exit {t.exit_code})" if t.exit_code else ""
        )
    rs.detail = "; ".join(x for x in (rs.detail, said, where) if x)


def counts(states: list[RunState]) -> dict[str, int]:
    return {s: sum(1 for r in states if r.state == s) for s in STATES}


class StateChanges:
    """The runs whose state changed since the last look, while an array runs. The picture
    before the submission (from the folder) is no news; a run waiting in the queue is none
    either."""

    def __init__(self, campaign: Campaign, scheduler: Scheduler):
        self.campaign, self.scheduler = campaign, scheduler
        self.seen = {(s.benchmark, s.run): (s.state, s.node) for s in run_states(campaign)[0]}

    def __call__(self, queued: dict[Run, TaskState]) -> list[RunState]:
        states, _ = run_states(self.campaign, self.scheduler, queued=queued)
        changed = []
        for s in states:
            key = (s.benchmark, s.run)
            before, now = self.seen.get(key), (s.state, s.node)
            self.seen[key] = now
            if before != now and s.state != "pending":
                changed.append(s)
        return changed
