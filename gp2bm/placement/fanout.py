"""Fanning a campaign's missing runs out over a scheduler's nodes, as one job array.

Every run of a suite has a fixed task index, its place in the suite (GP2BM: resnet runs 0-4
are tasks 0-4, bert runs 0-9 are tasks 5-14), so a task knows its run from its index alone
and a resubmission reuses the same indices. Each task runs ``gp2bm run-task`` on its node
and writes into the shared campaign folder; see ``gp2bm.placement.task``.

    <campaign>/slurm/jobs.json       every array submitted: job id, the run of each task, argv
    <campaign>/slurm/task.sh         the batch script: it runs its arguments, nothing else
    <campaign>/slurm/JOB_TASK.out    each task's own output

The submitting gp2bm holds the campaign-wide lock while it plans and submits, not while the
tasks run. A run is not submitted again while a task of an earlier submission for it is
pending or running (asked of the scheduler), or while some gp2bm holds its run lock.

A suite of N nodes per run gets N exclusive nodes per task (the batch script runs on the
first; ``gp2bm.run.spanning`` steps onto the others), and ``--nodes K`` lets K // N runs go
at a time. Before anything is submitted, a suite that cannot work is one line: more nodes
per run than the partition has (or than K), a runtime or launcher that cannot span them.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from gp2bm.campaign.folder import Campaign
from gp2bm.errors import InputError, SchedulerError
from gp2bm.files.jsonfile import write_json_atomic
from gp2bm.files.timestamps import now_iso
from gp2bm.placement.base import ArrayJob, Scheduler, TaskState
from gp2bm.runtimes import get_runtime
from gp2bm.runtimes.span import spanning_problem
from gp2bm.spec.manifest import suite_manifests
from gp2bm.spec.suite import Suite

JOBS_FILE = "jobs.json"
TASK_SCRIPT = "task.sh"
SCRIPT_TEXT = """#!/bin/sh
# One array task of a gp2bm campaign. Its arguments are the command it runs (gp2bm run-task
# ...), passed by the scheduler as an argument list: nothing here is built from text.
exec "$@"
"""
POLL_S = 0.5
MAX_SCHEDULER_ERRORS = 5

Run = tuple[str, int]


def task_index(suite: Suite) -> dict[Run, int]:
    """Each run of the suite and its task index (its place in the suite)."""
    out, offset = {}, 0
    for bench, spec in suite.benchmarks.items():
        for n in range(spec.runs):
            out[(bench, n)] = offset + n
        offset += spec.runs
    return out


def run_of_task(suite: Suite, task_id: int) -> Run:
    for run, index in task_index(suite).items():
        if index == task_id:
            return run
    raise InputError(
        f"task index {task_id} is no run of suite '{suite.name}' (0-{len(task_index(suite)) - 1})"
    )


def task_run(
    suite: Suite,
    benchmark: str | None,
    index: int | None,
    environ: Mapping[str, str],
    task_id_env: str,
) -> Run:
    """The run an array task does: as given, else from its index in the array (the
    scheduler's ``task_id_env`` in ``environ``)."""
    if benchmark is None or index is None:
        if benchmark is not None or index is not None:
            raise InputError("give both --benchmark and --index, or neither (array task)")
        task = environ.get(task_id_env, "")
        if not task.isdigit():
            raise InputError(f"no --benchmark/--index and no ${task_id_env}: not an array task")
        benchmark, index = run_of_task(suite, int(task))
    if benchmark not in suite.benchmarks:
        raise InputError(f"benchmark '{benchmark}' is not in suite '{suite.name}'")
    return benchmark, index


def run_label(run: Run) -> str:
    return f"{run[0]}/{run[1]}"


@dataclass
class FanoutOptions:
    runtime: str
    max_nodes: int | None = None
    partition: str | None = None
    account: str | None = None
    time_limit: str | None = None
    # gp2bm run-task options every task gets (cache drop, timeout, --allow-unpinned...)
    task_options: list[str] = field(default_factory=list)


class JobBook:
    """``<campaign>/<scheduler>/jobs.json``: the arrays submitted for this campaign."""

    def __init__(self, campaign: Campaign, scheduler: Scheduler):
        self.dir = campaign.layout.scheduler_dir(scheduler.name)
        self.path = self.dir / JOBS_FILE

    def jobs(self) -> list[dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise InputError(f"{self.path}: not valid JSON ({exc})") from None
        jobs = data.get("jobs") if isinstance(data, dict) else None
        return [j for j in jobs or [] if isinstance(j, dict) and j.get("job_id")]

    def job_ids(self) -> list[str]:
        return [str(j["job_id"]) for j in self.jobs()]

    def add(self, entry: dict) -> None:
        """Record a submission (the caller holds the campaign lock)."""
        write_json_atomic(self.path, {"jobs": [*self.jobs(), entry]})

    def run_of(self, job_id: str, task_id: int | None) -> Run | None:
        for job in self.jobs():
            if str(job["job_id"]) == str(job_id) and task_id is not None:
                label = (job.get("tasks") or {}).get(str(task_id))
                if label:
                    bench, _, n = label.rpartition("/")
                    return bench, int(n)
        return None

    def output_of(self, job_id: str, task_id: int) -> Path:
        return self.dir / f"{job_id}_{task_id}.out"

    def last_task_of(self, run: Run) -> tuple[str, int] | None:
        """The most recent (job id, task id) submitted for this run."""
        for job in reversed(self.jobs()):
            for task, label in (job.get("tasks") or {}).items():
                if label == run_label(run):
                    return str(job["job_id"]), int(task)
        return None


def queued_runs(book: JobBook, scheduler: Scheduler) -> dict[Run, TaskState]:
    """The runs with a task still pending or running in the scheduler."""
    out = {}
    for task in scheduler.queued(book.job_ids()):
        run = book.run_of(task.job_id, task.task_id)
        if run is not None:
            out[run] = task
    return out


@dataclass
class Submission:
    job_id: str | None  # None: nothing submitted (nothing to do, or a dry run)
    runs: list[Run]
    queued: dict[Run, TaskState]
    busy: list[Run]  # held by a gp2bm outside the scheduler's view
    kept: list[Path]
    argv: list[str]

    def as_dict(self) -> dict:
        return {
            "job_id": self.job_id,
            "runs": [run_label(r) for r in self.runs],
            "already_queued": {run_label(r): t.ident for r, t in sorted(self.queued.items())},
            "running_elsewhere": [run_label(r) for r in self.busy],
            "kept_attempts": [str(p) for p in self.kept],
            "command": self.argv,
        }


def task_command(campaign: Campaign, suite: Suite, options: FanoutOptions) -> list[str]:
    if suite.path is None:
        raise InputError(f"suite '{suite.name}' has no file for the tasks to read")
    return [
        sys.executable,
        "-P",  # not the task's working directory on sys.path: the campaign has a gp2bm/ folder
        "-m",
        "gp2bm",
        "run-task",
        "--campaign",
        str(campaign.root.resolve()),
        "--suite",
        str(Path(suite.path).resolve()),
        "--runtime",
        options.runtime,
        *options.task_options,
    ]


def runs_at_once(suite: Suite, max_nodes: int | None) -> int | None:
    """How many runs may go at a time on at most ``max_nodes`` nodes (None: no limit)."""
    if max_nodes is None:
        return None
    if max_nodes < suite.nodes:
        raise InputError(
            f"--nodes {max_nodes}: each run of suite '{suite.name}' takes {suite.nodes} nodes"
        )
    return max_nodes // suite.nodes


def check_nodes(
    campaign: Campaign, scheduler: Scheduler, options: FanoutOptions, dry_run: bool
) -> None:
    """InputError, before anything is submitted, when the suite's runs cannot be placed."""
    suite = campaign.suite
    problem = spanning_problem(suite.nodes, suite_manifests(suite), get_runtime(options.runtime))
    if problem:
        raise InputError(problem)
    if suite.nodes == 1 or dry_run:
        return  # a dry run needs no cluster
    have = scheduler.partition_nodes(options.partition)
    if have is not None and have < suite.nodes:
        where = f"partition '{options.partition}'" if options.partition else "default partition"
        raise InputError(
            f"{suite.path}: suite '{suite.name}' runs each run on {suite.nodes} nodes, but the "
            f"{where} of {scheduler.name} has {have}"
        )


def submit_missing(
    campaign: Campaign,
    scheduler: Scheduler,
    options: FanoutOptions,
    dry_run: bool = False,
) -> Submission:
    """Submit every run that has no result and is not already on its way, as one array.

    A dry run only renders the submission: it takes no lock and writes nothing.
    """
    at_once = runs_at_once(campaign.suite, options.max_nodes)
    check_nodes(campaign, scheduler, options, dry_run)
    with nullcontext() if dry_run else campaign.lock():
        if not dry_run:
            campaign.save()
        kept = [] if dry_run else campaign.archive_partials()
        book = JobBook(campaign, scheduler)
        queued = queued_runs(book, scheduler)
        index = task_index(campaign.suite)
        missing = [(p.benchmark, p.index) for p in campaign.plan()]
        busy = [r for r in missing if r not in queued and campaign.run_holder(*r) is not None]
        todo = [r for r in missing if r not in queued and r not in busy]
        if not todo:
            return Submission(None, [], queued, busy, kept, [])
        script = book.dir / TASK_SCRIPT
        job = ArrayJob(
            name=f"gp2bm-{campaign.ident}",
            task_ids=[index[r] for r in todo],
            script=script,
            command=task_command(campaign, campaign.suite, options),
            output=str(book.dir.resolve() / scheduler.output_pattern),
            max_parallel=at_once,
            partition=options.partition,
            account=options.account,
            time_limit=options.time_limit,
            workdir=book.dir.resolve(),
            nodes=campaign.suite.nodes,
        )
        argv = scheduler.render_submit(job)
        if dry_run:
            return Submission(None, todo, queued, busy, kept, argv)
        book.dir.mkdir(parents=True, exist_ok=True)
        if not script.exists() or script.read_text() != SCRIPT_TEXT:
            script.write_text(SCRIPT_TEXT)
        os.chmod(script, 0o755)
        job_id = scheduler.submit(job)
        book.add(
            {
                "job_id": job_id,
                "scheduler": scheduler.name,
                "submitted": now_iso(),
                "tasks": {str(index[r]): run_label(r) for r in todo},
                "argv": argv,
            }
        )
        return Submission(job_id, todo, queued, busy, kept, argv)


def wait_for(
    campaign: Campaign,
    scheduler: Scheduler,
    on_poll: Callable[[dict[Run, TaskState]], None] | None = None,
    poll_seconds: float = POLL_S,
) -> None:
    """Until no task of this campaign's arrays is pending or running any more."""
    book = JobBook(campaign, scheduler)
    errors = 0
    while True:
        try:
            queued = queued_runs(book, scheduler)
            errors = 0
        except SchedulerError:
            # a busy controller times out now and then; give up only when it stays away
            errors += 1
            if errors >= MAX_SCHEDULER_ERRORS:
                raise
            time.sleep(poll_seconds)
            continue
        if on_poll:
            on_poll(queued)
        if not queued:
            return
        time.sleep(poll_seconds)
