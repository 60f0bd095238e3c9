"""gp2bm status, run-task (hidden) and the Slurm side of run-all: runs fanned out over nodes."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gp2bm.campaign.folder import Campaign
from gp2bm.campaign.layout import default_campaign_root
from gp2bm.campaign.resolve import resolve_suite
from gp2bm.cli.app import app, err, out
from gp2bm.cli.options import JsonOpt, SuiteOpt
from gp2bm.cli.runrequest import RunRequest, open_campaign, run_options
from gp2bm.errors import InputError
from gp2bm.node.fingerprint import node_name, slurm_job
from gp2bm.placement import Scheduler, TaskState, get_scheduler
from gp2bm.placement.fanout import (
    FanoutOptions,
    JobBook,
    Run,
    Submission,
    run_of_task,
    submit_missing,
    wait_for,
)
from gp2bm.placement.runstate import RunState, counts, run_states
from gp2bm.placement.slurm import SlurmScheduler
from gp2bm.placement.task import run_task
from gp2bm.reports.official import official_summary, result_line
from gp2bm.results.nodetypes import NodeTypes, node_types
from gp2bm.results.resultset import score_paths
from gp2bm.results.scoring import SuiteScore
from gp2bm.results.verdictcache import VerdictCache, default_cache_dir
from gp2bm.run.loop import require_pinned
from gp2bm.runtimes import DEFAULT, get_runtime
from gp2bm.spec.manifest import suite_manifests
from gp2bm.spec.suite import Suite, load_suite

STATE_STYLE = {
    "done": "green",
    "failed": "bold red",
    "running": "cyan",
    "pending": "yellow",
    "interrupted": "magenta",
    "missing": "dim",
}


def _print(line: str) -> None:
    err.print(line, highlight=False, markup=False, soft_wrap=True)


# ---------------------------------------------------------------------------- run-all --slurm


def task_options(req: RunRequest) -> list[str]:
    """run-all's per-run options, as the run-task options every array task gets."""
    opts = [] if req.cache_drop else ["--no-cache-drop"]
    if req.cache_drop_command:
        opts += ["--cache-drop-command", req.cache_drop_command]
    if req.allow_cache_drop_failure:
        opts.append("--allow-cache-drop-failure")
    if req.allow_unpinned:
        opts.append("--allow-unpinned")
    if req.timeout is not None:
        opts += ["--timeout", repr(float(req.timeout))]
    if req.allow_mixed_nodes:
        opts.append("--allow-mixed-nodes")
    return opts


class _Watch:
    """Prints a line whenever a run changes state while the array runs."""

    def __init__(self, campaign: Campaign, scheduler: Scheduler):
        self.campaign, self.scheduler = campaign, scheduler
        # the picture before the submission (from the folder) is not news
        self.seen = {(s.benchmark, s.run): (s.state, s.node) for s in run_states(campaign)[0]}

    def __call__(self, queued: dict[Run, TaskState]) -> None:
        states, _ = run_states(self.campaign, self.scheduler, queued=queued)
        for s in states:
            key = (s.benchmark, s.run)
            before, now = self.seen.get(key), (s.state, s.node)
            self.seen[key] = now
            if before == now or s.state == "pending":
                continue
            where = f" on {s.node}" if s.node else ""
            job = f" (job {s.job})" if s.job else ""
            took = f", {s.seconds:.1f} s" if s.seconds is not None and s.state == "done" else ""
            why = f": {s.detail}" if s.detail and s.state not in ("done", "running") else ""
            _print(f"{s.benchmark} run {s.run}: {s.state}{where}{job}{took}{why}")


def run_all_slurm(
    req: RunRequest,
    partition: str | None,
    nodes: int | None,
    account: str | None,
    time_limit: str | None,
    wait: bool,
) -> tuple[Campaign, Suite]:
    """Submit the campaign's missing runs as one Slurm job array and wait for it; return the
    campaign and its suite, to be scored. A dry run, or --no-wait, exits after submitting."""
    if nodes is not None and nodes < 1:
        raise InputError("--nodes must be at least 1")
    the_suite, manifests, campaign = open_campaign(req)
    require_pinned(
        manifests, get_runtime(campaign.runtime), req.allow_unpinned, campaign.suite.path
    )
    scheduler = get_scheduler("slurm")
    options = FanoutOptions(
        runtime=campaign.runtime,
        max_nodes=nodes,
        partition=partition,
        account=account,
        time_limit=time_limit,
        task_options=task_options(req),
    )
    watch = None if req.dry_run or not wait else _Watch(campaign, scheduler)
    sub = submit_missing(campaign, scheduler, options, dry_run=req.dry_run)
    if req.dry_run or not wait:
        _print_submission(campaign, sub, req)
        raise typer.Exit(0)
    _print_submitted(sub, nodes, the_suite.nodes)
    try:
        wait_for(campaign, scheduler, on_poll=watch)
    except KeyboardInterrupt:
        _print(
            "gp2bm: stopped waiting; the jobs go on in Slurm (`gp2bm status` follows them, "
            "`scancel` stops them, `gp2bm run-all --slurm` again waits and scores)"
        )
        raise typer.Exit(130) from None
    return campaign, the_suite


def _print_submission(campaign: Campaign, sub: Submission, req: RunRequest) -> None:
    """What a dry run would submit, or what --no-wait submitted (--json only)."""
    if req.as_json:
        print(json.dumps({"campaign": str(campaign.root), **sub.as_dict()}, indent=2))
    elif req.dry_run:
        out.print(f"campaign {campaign.root}: {len(sub.runs)} run(s) to submit", highlight=False)
        if sub.argv:
            out.print(shlex.join(sub.argv), highlight=False, soft_wrap=True)


def _print_submitted(sub: Submission, nodes: int | None, per_run: int = 1) -> None:
    if sub.kept:
        _print(f"kept {len(sub.kept)} interrupted log(s) as attempts")
    if sub.queued:
        _print(
            f"{len(sub.queued)} run(s) already queued in Slurm: "
            + ", ".join(t.ident for t in sub.queued.values())
        )
    if sub.busy:
        _print(f"{len(sub.busy)} run(s) being done by another gp2bm")
    if sub.job_id:
        each = "one node each" if per_run == 1 else f"{per_run} nodes each"
        _print(
            f"submitted Slurm job {sub.job_id}: {len(sub.runs)} run(s), {each}"
            + (f", at most {nodes // per_run} at a time" if nodes else "")
        )


# ---------------------------------------------------------------------------- status


@app.command()
def status(
    campaign_arg: Annotated[
        Path | None,
        typer.Argument(
            metavar="CAMPAIGN",
            help="Campaign folder (default: results/<suite name> of the default or --suite "
            "suite), as report and package take it.",
        ),
    ] = None,
    suite: SuiteOpt = None,
    campaign_opt: Annotated[
        Path | None,
        typer.Option("--campaign", help="The campaign folder, given as an option (the same)."),
    ] = None,
    as_json: JsonOpt = False,
):
    """The state of every run of a campaign: done, failed, running (on which node), pending
    in Slurm, interrupted or missing; from the campaign folder and the scheduler. Then the
    score of the runs done so far (the official number: olympic mean times the scaling
    factor), with the checkers' verdicts of unchanged logs taken from the verdict cache."""
    if campaign_arg and campaign_opt and campaign_arg != campaign_opt:
        raise InputError(f"two campaigns given: {campaign_arg} and --campaign {campaign_opt}")
    campaign = campaign_arg or campaign_opt
    the_suite = resolve_suite(suite, campaign)
    root = campaign or default_campaign_root(the_suite.name)
    c = Campaign.open(root, the_suite, create=False)
    scheduler = get_scheduler("slurm")
    if not JobBook(c, scheduler).job_ids():
        scheduler = None  # never fanned out: the folder says everything
    states, notes = run_states(c, scheduler, ask_finished=True)
    types = node_types(c.layout)
    score = _score_so_far(c, the_suite, notes)
    if as_json:
        data = {
            "campaign": str(c.root),
            "suite": the_suite.name,
            "counts": counts(states),
            "runs": [s.as_dict() for s in states],
            "nodes": types.as_dict(),
            "score": None if score is None else score.score,
            "benchmarks": {}
            if score is None
            else {n: official_summary(b) for n, b in score.benchmarks.items()},
            "notes": notes,
        }
        print(json.dumps(data, indent=2))
        return
    _print_status(c, the_suite, states, notes, types)
    _print_score(score)


def _score_so_far(c: Campaign, the_suite: Suite, notes: list[str]) -> SuiteScore | None:
    """The score of the logs there are (None before the first); why not, in ``notes``."""
    if not any(c.finished(b) for b in the_suite.benchmarks):
        return None
    try:
        return score_paths(
            [c.layout.results_dir], the_suite, cache=VerdictCache(default_cache_dir())
        )
    except InputError as exc:
        notes.append(f"not scored: {exc}")
        return None


def _print_score(score: SuiteScore | None) -> None:
    if score is None:
        return
    for name, b in score.benchmarks.items():
        out.print(f"{name}: {result_line(b)}", highlight=False, markup=False)
    shown = "none yet" if score.score is None else f"{score.score:.6f}"
    out.print(f"score so far ({score.suite.formula_text()}): {shown}", highlight=False)


def _print_status(
    c: Campaign, the_suite: Suite, states: list[RunState], notes: list[str], types: NodeTypes
) -> None:
    table = Table(title=f"campaign {c.root} ({the_suite.name})")
    for col in ("benchmark", "run", "state", "node", "job", "seconds", "detail"):
        table.add_column(col, overflow="fold")
    for s in states:
        style = STATE_STYLE.get(s.state, "")
        table.add_row(
            s.benchmark,
            str(s.run),
            f"[{style}]{s.state}[/]" if style else s.state,
            s.node or "",
            s.job or "",
            f"{s.seconds:.1f}" if s.seconds is not None else "",
            s.detail or "",
        )
    out.print(table)
    out.print(
        ", ".join(f"{n} {state}" for state, n in counts(states).items() if n), highlight=False
    )
    if types.mixed:
        out.print(f"[bold red]several node types:[/] {types.describe()}", highlight=False)
    for note in notes:
        out.print(f"[yellow]{note}[/]", highlight=False)


# ---------------------------------------------------------------------------- run-task


@app.command("run-task", hidden=True)
def run_task_command(
    campaign: Annotated[Path, typer.Option("--campaign", help="The shared campaign folder.")],
    suite: Annotated[Path, typer.Option("--suite", help="The campaign's suite manifest.")],
    runtime: Annotated[str, typer.Option("--runtime", help="Container runtime.")] = DEFAULT,
    benchmark: Annotated[
        str | None, typer.Option("--benchmark", help="Benchmark (default: from the task index).")
    ] = None,
    index: Annotated[
        int | None,
        typer.Option("--index", help="Run index (default: from $SLURM_ARRAY_TASK_ID)."),
    ] = None,
    cache_drop: Annotated[bool, typer.Option("--cache-drop/--no-cache-drop")] = True,
    cache_drop_command: Annotated[str | None, typer.Option("--cache-drop-command")] = None,
    allow_cache_drop_failure: Annotated[bool, typer.Option("--allow-cache-drop-failure")] = False,
    allow_unpinned: Annotated[bool, typer.Option("--allow-unpinned")] = False,
    timeout: Annotated[float | None, typer.Option("--timeout")] = None,
    allow_mixed_nodes: Annotated[bool, typer.Option("--allow-mixed-nodes")] = False,
):
    """One run of a campaign on this node (what each task of `run-all --slurm` runs), or
    across the nodes of its allocation for a suite of several nodes."""
    the_suite = load_suite(suite)
    benchmark, index = _task_run(the_suite, benchmark, index)
    c = Campaign.open(campaign, the_suite, runtime=runtime, create=False)
    manifest = suite_manifests(the_suite)[benchmark]
    options = run_options(
        cache_drop,
        cache_drop_command,
        allow_cache_drop_failure,
        allow_unpinned,
        timeout,
        allow_mixed_nodes,
    )
    where = f"{node_name()}" + (f" (job {slurm_job()})" if slurm_job() else "")
    print(f"gp2bm run-task: {benchmark} run {index} on {where}", flush=True)
    result = run_task(c, manifest, get_runtime(c.runtime), options, index)
    minutes = result.record.minutes if result.record is not None else None
    took = f", {minutes * 60:.2f} s to train" if minutes else ""
    why = f": {result.message}" if result.message else ""
    print(f"gp2bm run-task: {benchmark} run {index}: {result.outcome}{took}{why}", flush=True)
    raise typer.Exit(result.exit_code)


def _task_run(the_suite: Suite, benchmark: str | None, index: int | None) -> tuple[str, int]:
    """The run a task does: as given, else from its index in the array."""
    if benchmark is None or index is None:
        if benchmark is not None or index is not None:
            raise InputError("give both --benchmark and --index, or neither (array task)")
        task = os.environ.get(SlurmScheduler.task_id_env, "")
        if not task.isdigit():
            raise InputError(
                f"no --benchmark/--index and no ${SlurmScheduler.task_id_env}: not an array task"
            )
        benchmark, index = run_of_task(the_suite, int(task))
    if benchmark not in the_suite.benchmarks:
        raise InputError(f"benchmark '{benchmark}' is not in suite '{the_suite.name}'")
    return benchmark, index
