"""gp2bm run-all, run, pin, pull: the campaign commands."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Annotated

import typer

from gp2bm.campaign.folder import Campaign
from gp2bm.cli.app import app, command_line, err, out
from gp2bm.cli.node import campaign_preflight, record_node_once
from gp2bm.cli.options import JsonOpt, RuntimeOpt, SuiteOpt
from gp2bm.cli.runrequest import RunRequest, open_campaign
from gp2bm.cli.slurm import run_all_slurm
from gp2bm.errors import InputError, InvalidError
from gp2bm.reports.terminal import render_score
from gp2bm.results.nodetypes import require_one_node_type
from gp2bm.results.resultset import score_paths
from gp2bm.run.images import pin_image, pull_images
from gp2bm.run.loop import run_campaign
from gp2bm.run.plan import CampaignPlan, plan_campaign
from gp2bm.run.progress import CampaignProgress
from gp2bm.runtimes import DEFAULT, Runtime, get_runtime
from gp2bm.spec.manifest import BenchmarkManifest
from gp2bm.spec.suite import Suite

CampaignOpt = Annotated[
    Path | None,
    typer.Option(
        "--campaign", help="Campaign folder (default: results/<suite name>). Resume = run again."
    ),
]


def _quoted(path: Path) -> str:
    return shlex.quote(str(path))


def unpinned(
    suite: Path | None, manifests: dict[str, BenchmarkManifest], runtime: Runtime
) -> list[tuple[BenchmarkManifest, str]]:
    """Each manifest whose image run-all would refuse (not pinned by digest), with its
    `gp2bm pin` command, naming the suite when it is not the default one (the pin goes into
    that suite's manifest)."""
    if not runtime.uses_images:
        return []
    where = f" --suite {_quoted(suite)}" if suite is not None else ""
    return [
        (m, f"gp2bm pin {bench} {shlex.quote(m.image)}{where}")
        for bench, m in manifests.items()
        if not m.pinned
    ]


def require_pinned_here(req: RunRequest, manifests: dict, runtime: Runtime) -> None:
    """run-all's refusal of unpinned images, with the exact pin commands (exit 2)."""
    found = [] if req.allow_unpinned else unpinned(req.suite, manifests, runtime)
    if found:
        first = found[0][0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise InputError(
            f"{first.path}: image '{first.image}' is not pinned by digest{more}; run `"
            + "`, `".join(pin for _, pin in found)
            + "` (or pass --allow-unpinned, which is recorded in every run record)"
        )


def _dry_run_footer(req: RunRequest, manifests: dict, runtime: Runtime) -> None:
    """What the dry run did not check, in one line each, then the command that runs."""
    pins = [pin for _, pin in unpinned(req.suite, manifests, runtime)]
    if pins and not req.allow_unpinned:
        _note(
            f"run-all will refuse {len(pins)} image(s) not pinned by digest: "
            + "; ".join(pins)
            + " (or --allow-unpinned)"
        )
    check = ["gp2bm", "check", "--runtime", runtime.name]
    check += ["--suite", str(req.suite)] if req.suite is not None else []
    _note(
        f"the dry run checks nothing; `{shlex.join(check)}` runs the pre-flight that run-all "
        "runs first"
    )
    words = [w for w in command_line() if w != "--dry-run"] or ["run-all"]
    _note(f"next: {shlex.join(['gp2bm', *words])}")


def _note(line: str) -> None:
    err.print(line, highlight=False, markup=False, soft_wrap=True)


def _print_plan(campaign: Campaign, runtime_name: str, plan: CampaignPlan, as_json: bool) -> None:
    rows = plan.rows
    if as_json:
        document = {
            "campaign": str(campaign.root),
            "runtime": runtime_name,
            "plan": [r.as_dict() for r in rows],
            "notes": plan.notes,
        }
        print(json.dumps(document, indent=2))
        return
    for note in plan.notes:
        err.print(f"note: {note}", highlight=False, markup=False, soft_wrap=True)
    out.print(
        f"campaign {campaign.root}: {len(rows)} run(s) to do with {runtime_name}", highlight=False
    )
    for r in rows:
        out.print(f"# {r.benchmark} run {r.run} -> {r.result}", highlight=False)
        out.print(shlex.join(r.command), highlight=False, markup=False, soft_wrap=True)


def _next_after_score(campaign: Campaign, valid: bool) -> None:
    where = _quoted(campaign.root)
    if valid:
        _note(f"next: gp2bm report {where} (the reports), then gp2bm package {where}")
    else:
        _note(f"next: gp2bm status {where} (which runs failed, and why)")


def score_campaign(
    campaign: Campaign, the_suite: Suite, as_json: bool, allow_mixed_nodes: bool
) -> None:
    """Score a campaign's results (one node type unless allowed) and exit 0 if valid; the
    last line names the next command."""
    if not any(campaign.finished(b) for b in the_suite.benchmarks):
        raise InvalidError(f"{campaign.root}: no run finished (see `gp2bm status`)")
    types = require_one_node_type(campaign.layout, allow_mixed_nodes)
    result = score_paths([campaign.layout.results_dir], the_suite)
    if as_json:
        data = result.as_dict()
        data["campaign"] = str(campaign.root)
        data["nodes"] = types.as_dict()
        print(json.dumps(data, indent=2))
    else:
        if types.mixed:
            err.print(
                f"warning: runs from several node types: {types.describe()}",
                highlight=False,
                markup=False,
            )
        out.print(render_score(result))
    _next_after_score(campaign, result.valid)
    raise typer.Exit(0 if result.valid else 1)


def _run(req: RunRequest, benchmarks: list[str] | None, score_after: bool):
    the_suite, manifests, campaign = open_campaign(req)
    for b in benchmarks or []:
        if b not in the_suite.benchmarks:
            raise InputError(f"benchmark '{b}' is not in suite '{the_suite.name}'")
    rt = get_runtime(campaign.runtime)
    names = benchmarks or list(the_suite.benchmarks)
    if req.dry_run:
        _print_plan(
            campaign,
            rt.name,
            plan_campaign(campaign, manifests, rt, benchmarks, req.timeout),
            req.as_json,
        )
        _dry_run_footer(req, {b: manifests[b] for b in names}, rt)
        raise typer.Exit(0)

    require_pinned_here(req, {b: manifests[b] for b in names}, rt)
    options = req.run_options()
    if not req.skip_check:
        campaign_preflight(campaign, {b: manifests[b] for b in names}, rt, options, req.no_gpu)
    record_node_once(campaign, manifests)
    targets = {name: b.target for name, b in the_suite.benchmarks.items()}
    with CampaignProgress(err, targets=targets) as progress:
        outcomes = run_campaign(campaign, manifests, rt, options, benchmarks, progress)
    if not outcomes:
        err.print(f"campaign {campaign.root}: every required run is already there", highlight=False)
    if not score_after:
        raise typer.Exit(0 if all(o.record.succeeded for o in outcomes) else 1)
    score_campaign(campaign, the_suite, req.as_json, req.allow_mixed_nodes)


DryRunOpt = Annotated[
    bool,
    typer.Option("--dry-run", help="Print the plan and the equivalent command lines; run nothing."),
]
UnpinnedOpt = Annotated[
    bool,
    typer.Option(
        "--allow-unpinned", help="Run images not pinned by digest (recorded in every run record)."
    ),
]
CacheDropOpt = Annotated[
    bool,
    typer.Option("--cache-drop/--no-cache-drop", help="Drop the host page cache before each run."),
]
CacheCmdOpt = Annotated[
    str | None,
    typer.Option(
        "--cache-drop-command",
        metavar="COMMAND",
        help="Command that drops the page cache instead of writing /proc/sys/vm/drop_caches "
        "(e.g. 'sudo /usr/local/sbin/drop-caches').",
    ),
]
CacheFailOpt = Annotated[
    bool,
    typer.Option(
        "--allow-cache-drop-failure",
        help="Go on when the cache drop fails (recorded in the log and the record).",
    ),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", help="Per-run timeout in seconds (default: the manifest's)."),
]
OrgOpt = Annotated[str | None, typer.Option(help="Submitter organisation (new campaigns).")]
SystemOpt = Annotated[
    str | None, typer.Option(help="System name (new campaigns; default: host name).")
]
SkipCheckOpt = Annotated[
    bool, typer.Option("--skip-check", help="Start without the pre-flight check (gp2bm check).")
]
NoGpuOpt = Annotated[bool, typer.Option("--no-gpu", help="The pre-flight does not require GPUs.")]
MixedNodesOpt = Annotated[
    bool,
    typer.Option(
        "--allow-mixed-nodes",
        help="Score runs from nodes of different hardware (the RFP asks for one node type).",
    ),
]
SlurmOpt = Annotated[
    bool,
    typer.Option(
        "--slurm",
        help="Submit the missing runs to Slurm as a job array (one exclusive node per run), "
        "wait for them, then score. Resumable like a local run-all.",
    ),
]
PartitionOpt = Annotated[str | None, typer.Option(help="Slurm partition (--slurm).")]
NodesOpt = Annotated[
    int | None, typer.Option("--nodes", help="At most this many nodes at a time (--slurm).")
]
AccountOpt = Annotated[str | None, typer.Option(help="Slurm account (--slurm).")]
TimeLimitOpt = Annotated[
    str | None,
    typer.Option(
        "--time-limit", help="Slurm time limit per run, e.g. 3:00:00 (--slurm; sbatch --time)."
    ),
]
WaitOpt = Annotated[
    bool,
    typer.Option(
        "--wait/--no-wait", help="Wait for the array and score (--slurm), or only submit."
    ),
]


@app.command("run-all")
def run_all(
    suite: SuiteOpt = None,
    campaign: CampaignOpt = None,
    runtime: RuntimeOpt = DEFAULT,
    org: OrgOpt = None,
    system: SystemOpt = None,
    dry_run: DryRunOpt = False,
    allow_unpinned: UnpinnedOpt = False,
    cache_drop: CacheDropOpt = True,
    cache_drop_command: CacheCmdOpt = None,
    allow_cache_drop_failure: CacheFailOpt = False,
    timeout: TimeoutOpt = None,
    skip_check: SkipCheckOpt = False,
    no_gpu: NoGpuOpt = False,
    slurm: SlurmOpt = False,
    partition: PartitionOpt = None,
    nodes: NodesOpt = None,
    account: AccountOpt = None,
    time_limit: TimeLimitOpt = None,
    wait: WaitOpt = True,
    allow_mixed_nodes: MixedNodesOpt = False,
    as_json: JsonOpt = False,
):
    """Run every missing run of the suite (5 ResNet + 10 BERT for GP2BM), then score.

    Resumable: finished runs are kept untouched, an interrupted run's log is kept as an
    attempt and the run is redone. The pre-flight (gp2bm check) runs first: a blocking
    failure stops it before any run. Exit 0 when the campaign scores valid, 1 otherwise.
    With --slurm the runs go to Slurm, one exclusive node each (`gp2bm status` follows them).
    """
    req = RunRequest.given(locals())
    if not slurm:
        _run(req, None, score_after=True)
        return
    done, the_suite = run_all_slurm(req, partition, nodes, account, time_limit, wait)
    score_campaign(done, the_suite, req.as_json, req.allow_mixed_nodes)


@app.command("run")
def run_one(
    benchmark: Annotated[str, typer.Argument(help="Benchmark of the suite, e.g. resnet.")],
    suite: SuiteOpt = None,
    campaign: CampaignOpt = None,
    runtime: RuntimeOpt = DEFAULT,
    org: OrgOpt = None,
    system: SystemOpt = None,
    dry_run: DryRunOpt = False,
    allow_unpinned: UnpinnedOpt = False,
    cache_drop: CacheDropOpt = True,
    cache_drop_command: CacheCmdOpt = None,
    allow_cache_drop_failure: CacheFailOpt = False,
    timeout: TimeoutOpt = None,
    skip_check: SkipCheckOpt = False,
    no_gpu: NoGpuOpt = False,
    as_json: JsonOpt = False,
):
    """Run the missing runs of one benchmark of the suite (no scoring)."""
    req = RunRequest.given(locals())
    _run(req, [benchmark], score_after=False)


@app.command()
def pin(
    benchmark: Annotated[str, typer.Argument(help="Benchmark of the suite, e.g. resnet.")],
    image: Annotated[str, typer.Argument(help="IMAGE[:TAG] to resolve in its registry.")],
    suite: SuiteOpt = None,
    as_json: JsonOpt = False,
):
    """Resolve IMAGE[:TAG] to its registry digest and write repo@sha256:... into the manifest."""
    result = pin_image(suite, benchmark, image)
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        out.print(
            f"{result['manifest']}: image {result['previous']} -> {result['pinned']}",
            highlight=False,
        )


@app.command()
def pull(
    benchmarks: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[BENCHMARK]...", help="Benchmarks to pull (default: all of the suite)."
        ),
    ] = None,
    suite: SuiteOpt = None,
    as_json: JsonOpt = False,
):
    """Pull each pinned image by digest and check the local image carries that digest."""
    results = pull_images(suite, benchmarks)
    if as_json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            out.print(f"{r['benchmark']}: {r['image']} (image id {r['id']})", highlight=False)
