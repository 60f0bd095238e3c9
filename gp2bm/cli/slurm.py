"""gp2bm status, and run-task (hidden): the state of a campaign's runs, and one run of a
Slurm array (wiring: parse, call, render)."""

from __future__ import annotations

import json
import os

import typer
from rich.table import Table

from gp2bm.campaign.folder import Campaign
from gp2bm.campaign.layout import default_campaign_root
from gp2bm.campaign.resolve import resolve_suite
from gp2bm.cli.app import app, out
from gp2bm.cli.options import (
    CacheCmdOpt,
    CacheDropOpt,
    CacheFailOpt,
    JsonOpt,
    MixedNodesOpt,
    RuntimeOpt,
    SharedCampaignOpt,
    StatusCampaignArg,
    StatusCampaignOpt,
    SuiteFileOpt,
    SuiteOpt,
    TaskBenchmarkOpt,
    TaskIndexOpt,
    TimeoutOpt,
    UnpinnedOpt,
)
from gp2bm.errors import InputError
from gp2bm.node.fingerprint import node_name, slurm_job
from gp2bm.placement import get_scheduler
from gp2bm.placement.fanout import JobBook, task_run
from gp2bm.placement.runstate import RunState, counts, run_states
from gp2bm.placement.task import run_task
from gp2bm.reports.official import official_summary, result_line
from gp2bm.reports.terminal import print_ledger
from gp2bm.results.campaignscore import projection_so_far, score_so_far
from gp2bm.results.ledger import campaign_ledger, ran_of
from gp2bm.results.nodetypes import NodeTypes, node_types
from gp2bm.results.scoring import SuiteScore
from gp2bm.results.verdictcache import VerdictCache, default_cache_dir
from gp2bm.run.request import run_options
from gp2bm.runtimes import DEFAULT, get_runtime
from gp2bm.spec.manifest import suite_manifests
from gp2bm.spec.suite import Suite, load_suite

# "wall": gp2bm's clock of a whole run; the time to train is the log's (gp2bm score).
WALL_CAPTION = "wall s: gp2bm's clock of each run, launch to exit (the time to train: gp2bm score)"
STATE_STYLE = {
    "done": "green",
    "failed": "bold red",
    "running": "cyan",
    "pending": "yellow",
    "interrupted": "magenta",
    "missing": "dim",
}


# ---------------------------------------------------------------------------- status


@app.command()
def status(
    campaign_arg: StatusCampaignArg = None,
    suite: SuiteOpt = None,
    campaign_opt: StatusCampaignOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The state of every run of a campaign: done, failed, running (on which node), pending
    in Slurm, interrupted or missing; from the campaign folder and the scheduler. Then the
    score of the runs done so far (the official number: olympic mean times the scaling
    factor), with the checkers' verdicts of unchanged logs taken from the verdict cache, and
    the projection: whether the campaign can still pass by the rules (failed runs against
    what the olympic rule allows, the seed and RCP checks of the runs so far), and the node
    time of the runs left."""
    if campaign_arg and campaign_opt and campaign_arg != campaign_opt:
        raise InputError(f"two campaigns given: {campaign_arg} and --campaign {campaign_opt}")
    campaign = campaign_arg or campaign_opt
    the_suite = resolve_suite(suite, campaign)
    root = campaign or default_campaign_root(the_suite.name)
    c = Campaign.open(root, the_suite, create=False)
    scheduler = get_scheduler("slurm")
    states, notes = run_states(
        c, scheduler if JobBook(c, scheduler).job_ids() else None, ask_finished=True
    )
    types = node_types(c.layout)
    score = score_so_far(c.layout, the_suite, VerdictCache(default_cache_dir()), notes)
    ledger = campaign_ledger(c.layout, the_suite, None if score is None else ran_of(score))
    projection = projection_so_far(c.layout, the_suite, score)
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
            "ledger": ledger.as_dict(),
            "projection": projection.as_dict(),
        }
        print(json.dumps(data, indent=2))
        return
    _print_status(c, the_suite, states, notes, types)
    _print_score(score, all(s.state in ("done", "failed") for s in states))
    out.print(projection.line(), highlight=False, markup=False, soft_wrap=True)
    print_ledger(ledger, out)


def _print_score(score: SuiteScore | None, every_run_done: bool) -> None:
    if score is None:
        return
    for name, b in score.benchmarks.items():
        out.print(f"{name}: {result_line(b)}", highlight=False, markup=False)
    shown = "none yet" if score.score is None else f"{score.score:.6f}"
    label = "score" if every_run_done else "score so far"
    out.print(f"{label} ({score.suite.formula_text()}): {shown}", highlight=False)


def _print_status(
    c: Campaign, the_suite: Suite, states: list[RunState], notes: list[str], types: NodeTypes
) -> None:
    table = Table(title=f"campaign {c.root} ({the_suite.name})", caption=WALL_CAPTION,
                  caption_justify="left")  # fmt: skip
    for col in ("benchmark", "run", "state", "node", "job", "wall s", "detail"):
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
    campaign: SharedCampaignOpt,
    suite: SuiteFileOpt,
    runtime: RuntimeOpt = DEFAULT,
    benchmark: TaskBenchmarkOpt = None,
    index: TaskIndexOpt = None,
    cache_drop: CacheDropOpt = True,
    cache_drop_command: CacheCmdOpt = None,
    allow_cache_drop_failure: CacheFailOpt = False,
    allow_unpinned: UnpinnedOpt = False,
    timeout: TimeoutOpt = None,
    allow_mixed_nodes: MixedNodesOpt = False,
) -> None:
    """One run of a campaign on this node (what each task of `run-all --slurm` runs), or
    across the nodes of its allocation for a suite of several nodes."""
    the_suite = load_suite(suite)
    task_id_env = get_scheduler("slurm").task_id_env
    benchmark, index = task_run(the_suite, benchmark, index, os.environ, task_id_env)
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
