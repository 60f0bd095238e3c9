"""gp2bm run-all, run, pin, pull: the campaign commands (wiring: parse, call, render)."""

from __future__ import annotations

import json
import shlex

import typer

from gp2bm.campaign.folder import Campaign
from gp2bm.campaign.resolve import resolve_suite
from gp2bm.cli.app import app, command_line, err, out
from gp2bm.cli.options import (
    AccountOpt,
    BenchmarkArg,
    BenchmarksArg,
    CacheCmdOpt,
    CacheDropOpt,
    CacheFailOpt,
    ConversionEffOpt,
    DryRunOpt,
    ImageArg,
    ImportSourceArg,
    InsecureRegistryOpt,
    InterconnectOpt,
    JsonOpt,
    LocalPinOpt,
    MeasurementOpt,
    MixedNodesOpt,
    NewCampaignOpt,
    NoGpuOpt,
    OrgOpt,
    PartitionOpt,
    PinRuntimeOpt,
    PowerAddressOpt,
    PowerIntervalOpt,
    PowerPasswordEnvOpt,
    PowerResourceOpt,
    PowerSourceOpt,
    PowerUserOpt,
    ResumedCampaignOpt,
    RuntimeOpt,
    SkipCheckOpt,
    SlurmNodesOpt,
    SlurmOpt,
    StopEarlyOpt,
    SuiteOpt,
    SystemOpt,
    TimeLimitOpt,
    TimeoutOpt,
    UnpinnedOpt,
    WaitOpt,
)
from gp2bm.errors import InputError
from gp2bm.files.findings import CheckItem, CheckStatus
from gp2bm.files.plaintext import printable
from gp2bm.files.shellline import shell_line
from gp2bm.node.systemdesc import package_step
from gp2bm.placement import TaskState
from gp2bm.placement.fanout import Run, Submission
from gp2bm.placement.runstate import RunState, StateChanges
from gp2bm.placement.submit import Fanout, SlurmRequest, fan_out
from gp2bm.reports.node_text import preflight_table
from gp2bm.reports.terminal import print_ledger, print_plain, render_score
from gp2bm.results.campaignscore import score_campaign
from gp2bm.results.importing import import_logs
from gp2bm.results.ledger import campaign_ledger, ran_of
from gp2bm.run.campaignrun import DryRun, dry_run, run_requested
from gp2bm.run.detach import Detachable
from gp2bm.run.images import pin_image, pull_images
from gp2bm.run.progress import CampaignProgress
from gp2bm.run.request import CampaignChoice, PowerWords, RunRequest, run_options
from gp2bm.runtimes import DEFAULT
from gp2bm.spec.manifest import PINNED_LOCALLY


def _note(line: str) -> None:
    print_plain(err, line)


class TerminalDisplay:
    """A campaign's start and runs on the terminal (stderr: --json output stays one
    object): the pre-flight table when anything warns or fails, warnings, live progress."""

    def checked(self, items: list[CheckItem]) -> None:
        if any(i.status in (CheckStatus.WARN, CheckStatus.FAIL) for i in items):
            err.print(preflight_table(items))

    def warn(self, message: str) -> None:
        _note(f"gp2bm: warning: {message}")

    def progress(self, targets: dict[str, float]) -> CampaignProgress:
        return CampaignProgress(err, targets=targets)


# ---------------------------------------------------------------------------- dry run


def _print_plan(planned: DryRun, as_json: bool) -> None:
    campaign, runtime, plan = planned.opened.campaign, planned.opened.runtime, planned.plan
    if as_json:
        document = {
            "campaign": str(campaign.root),
            "runtime": runtime.name,
            "plan": [r.as_dict() for r in plan.rows],
            "notes": plan.notes,
        }
        print(json.dumps(document, indent=2))
        return
    for note in plan.notes:
        _note(f"note: {note}")
    out.print(
        f"campaign {campaign.root}: {len(plan.rows)} run(s) to do with {runtime.name}",
        highlight=False,
    )
    for r in plan.rows:
        out.print(f"# {r.benchmark} run {r.run} -> {r.result}", highlight=False)
        # pasted into a shell, runs exactly the argv (a tab, a newline shown as $'\t')
        out.print(shell_line(r.command), highlight=False, markup=False, soft_wrap=True)


def _dry_run_footer(planned: DryRun, suite_given: bool) -> None:
    """What the dry run did not check, in one line each, then the command that runs."""
    if planned.pins:
        _note(
            f"run-all will refuse {len(planned.pins)} image(s) not pinned by digest: "
            + "; ".join(planned.pins)
            + " (or --allow-unpinned)"
        )
    check = ["gp2bm", "check", "--runtime", planned.opened.runtime.name]
    suite = planned.opened.suite.path
    check += ["--suite", str(suite)] if suite_given and suite is not None else []
    _note(
        f"the dry run checks nothing; `{shlex.join(check)}` runs the pre-flight that run-all "
        "runs first"
    )
    words = [w for w in command_line() if w != "--dry-run"] or ["run-all"]
    _note(f"next: {shlex.join(['gp2bm', *words])}")


# ---------------------------------------------------------------------------- runs


def _score(req: RunRequest, as_json: bool, campaign: Campaign) -> None:
    """Score the campaign (one node type unless allowed), exit 0 if valid; the last line
    names the next command."""
    scored = score_campaign(campaign.layout, campaign.suite, req.options.allow_mixed_nodes)
    ledger = campaign_ledger(campaign.layout, campaign.suite, ran_of(scored.score))
    if as_json:
        data = scored.score.as_dict()
        data["campaign"] = str(campaign.root)
        data["nodes"] = scored.nodes.as_dict()
        data["ledger"] = ledger.as_dict()
        print(json.dumps(data, indent=2))
    else:
        if scored.nodes.mixed:
            _note(f"warning: runs from several node types: {scored.nodes.describe()}")
        out.print(render_score(scored.score))
        print_ledger(ledger, out)
    where = shlex.quote(str(campaign.root))
    if scored.score.valid:
        step = package_step(campaign.layout.system_file, where)
        _note(f"next: gp2bm report {where} (the reports), then {step}")
    else:
        _note(f"next: gp2bm status {where} (which runs failed, and why)")
    raise typer.Exit(0 if scored.score.valid else 1)


def _run(req: RunRequest, benchmarks: list[str] | None, dry: bool, as_json: bool) -> None:
    """run-all or run on this node: the plan (a dry run), or the runs."""
    if dry:
        planned = dry_run(req.choice, benchmarks, req.options)
        _print_plan(planned, as_json)
        _dry_run_footer(planned, req.choice.suite is not None)
        raise typer.Exit(0)
    done = run_requested(req, benchmarks, TerminalDisplay())
    if not done.outcomes:
        _note(f"campaign {done.campaign.root}: every required run is already there")
    if benchmarks is not None:
        raise typer.Exit(0 if all(o.record.succeeded for o in done.outcomes) else 1)
    _score(req, as_json, done.campaign)


# ---------------------------------------------------------------------------- Slurm


def _state_line(s: RunState) -> str:
    where = f" on {s.node}" if s.node else ""
    job = f" (job {s.job})" if s.job else ""
    took = f", {s.seconds:.1f} s" if s.seconds is not None and s.state == "done" else ""
    why = f": {s.detail}" if s.detail and s.state not in ("done", "running") else ""
    return f"{s.benchmark} run {s.run}: {s.state}{where}{job}{took}{why}"


def _submission_lines(sub: Submission, nodes: int | None, per_run: int) -> list[str]:
    """What a submission did, one line each."""
    lines = []
    if sub.kept:
        lines.append(f"kept {len(sub.kept)} interrupted log(s) as attempts")
    if sub.queued:
        lines.append(
            f"{len(sub.queued)} run(s) already queued in Slurm: "
            + ", ".join(t.ident for t in sub.queued.values())
        )
    if sub.busy:
        lines.append(f"{len(sub.busy)} run(s) being done by another gp2bm")
    if sub.job_id:
        each = "one node each" if per_run == 1 else f"{per_run} nodes each"
        at_once = f", at most {nodes // per_run} at a time" if nodes else ""
        lines.append(f"submitted Slurm job {sub.job_id}: {len(sub.runs)} run(s), {each}{at_once}")
    return lines


def _submitted(fanout: Fanout, dry: bool, wait: bool, as_json: bool, slurm: SlurmRequest) -> None:
    """Submit the missing runs; say what went where (--json: one object, and only when
    nothing is waited for)."""
    campaign = fanout.opened.campaign
    watch = None if dry or not wait else StateChanges(campaign, fanout.scheduler)
    sub = fanout.submit(dry)
    if as_json and (dry or not wait):
        print(json.dumps({"campaign": str(campaign.root), **sub.as_dict()}, indent=2))
    elif dry:
        out.print(f"campaign {campaign.root}: {len(sub.runs)} run(s) to submit", highlight=False)
        if sub.argv:
            out.print(shlex.join(sub.argv), highlight=False, soft_wrap=True)
    if dry or not wait:
        raise typer.Exit(0)
    for line in _submission_lines(sub, slurm.max_nodes, campaign.suite.nodes):
        _note(line)

    def each_look(queued: dict[Run, TaskState]) -> None:
        for state in watch(queued) if watch is not None else []:
            _note(_state_line(state))

    try:
        fanout.wait(each_look)
    except KeyboardInterrupt:
        _note(
            "gp2bm: stopped waiting; the jobs go on in Slurm (`gp2bm status` follows them, "
            "`scancel` stops them, `gp2bm run-all --slurm` again waits and scores)"
        )
        raise typer.Exit(130) from None


def _on_slurm(req: RunRequest, slurm: SlurmRequest, dry: bool, wait: bool, as_json: bool) -> None:
    """run-all --slurm: the missing runs submitted, waited for, scored."""
    if req.stop_early:
        raise InputError(
            "--stop-early stops the runs of this node between two runs; with --slurm the runs "
            "are Slurm's (`gp2bm status` shows the projection, `scancel` stops them)"
        )
    fanout = fan_out(req, slurm)
    _submitted(fanout, dry, wait, as_json, slurm)
    _score(req, as_json, fanout.opened.campaign)


# ---------------------------------------------------------------------------- commands


@app.command("run-all")
def run_all(
    suite: SuiteOpt = None,
    campaign: ResumedCampaignOpt = None,
    runtime: RuntimeOpt = DEFAULT,
    org: OrgOpt = None,
    system: SystemOpt = None,
    dry: DryRunOpt = False,
    allow_unpinned: UnpinnedOpt = False,
    cache_drop: CacheDropOpt = True,
    cache_drop_command: CacheCmdOpt = None,
    allow_cache_drop_failure: CacheFailOpt = False,
    timeout: TimeoutOpt = None,
    skip_check: SkipCheckOpt = False,
    no_gpu: NoGpuOpt = False,
    slurm: SlurmOpt = False,
    partition: PartitionOpt = None,
    nodes: SlurmNodesOpt = None,
    account: AccountOpt = None,
    time_limit: TimeLimitOpt = None,
    wait: WaitOpt = True,
    allow_mixed_nodes: MixedNodesOpt = False,
    stop_early: StopEarlyOpt = False,
    power_source: PowerSourceOpt = None,
    power_address: PowerAddressOpt = None,
    power_user: PowerUserOpt = None,
    power_password_env: PowerPasswordEnvOpt = None,
    power_resource: PowerResourceOpt = None,
    power_interval: PowerIntervalOpt = 1.0,
    conversion_eff: ConversionEffOpt = None,
    power_measurement: MeasurementOpt = None,
    interconnect_power: InterconnectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run every missing run of the suite (5 ResNet + 10 BERT for GP2BM), then score.

    Resumable: finished runs are kept untouched, an interrupted run's log is kept as an
    attempt and the run is redone. The pre-flight (gp2bm check) runs first: a blocking
    failure stops it before any run. After each run it says at once when the campaign can no
    longer pass (failed runs beyond the olympic rule, the RCP and seed checks so far), with
    the node time the runs left would waste; --stop-early stops it there (exit 1). Exit 0
    when the campaign scores valid, 1 otherwise. With --slurm the runs go to Slurm, one
    exclusive node each (`gp2bm status` follows them).
    With --power-source each run's node power is sampled and written as MLPerf's power logs.
    """
    power = PowerWords(power_source, power_address, power_user, power_password_env,
                       power_resource, power_interval, conversion_eff, power_measurement,
                       interconnect_power)  # fmt: skip
    options = run_options(cache_drop, cache_drop_command, allow_cache_drop_failure,
                          allow_unpinned, timeout, allow_mixed_nodes)  # fmt: skip
    req = RunRequest(CampaignChoice(suite, campaign, runtime, org, system), options,
                     skip_check=skip_check, no_gpu=no_gpu, power=power.settings(),
                     stop_early=stop_early)  # fmt: skip
    with Detachable():  # a closed pipe or a lost terminal stops no run
        if not slurm:
            _run(req, None, dry, as_json)
            return
        _on_slurm(req, SlurmRequest(partition, nodes, account, time_limit), dry, wait, as_json)


@app.command("run")
def run_one(
    benchmark: BenchmarkArg,
    suite: SuiteOpt = None,
    campaign: ResumedCampaignOpt = None,
    runtime: RuntimeOpt = DEFAULT,
    org: OrgOpt = None,
    system: SystemOpt = None,
    dry: DryRunOpt = False,
    allow_unpinned: UnpinnedOpt = False,
    cache_drop: CacheDropOpt = True,
    cache_drop_command: CacheCmdOpt = None,
    allow_cache_drop_failure: CacheFailOpt = False,
    timeout: TimeoutOpt = None,
    skip_check: SkipCheckOpt = False,
    no_gpu: NoGpuOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Run the missing runs of one benchmark of the suite (no scoring)."""
    req = RunRequest(
        CampaignChoice(suite, campaign, runtime, org, system),
        run_options(
            cache_drop, cache_drop_command, allow_cache_drop_failure, allow_unpinned, timeout
        ),
        skip_check=skip_check,
        no_gpu=no_gpu,
    )
    _run(req, [benchmark], dry, as_json)


@app.command()
def pin(
    benchmark: BenchmarkArg,
    image: ImageArg,
    suite: SuiteOpt = None,
    runtime: PinRuntimeOpt = DEFAULT,
    local: LocalPinOpt = False,
    insecure_registry: InsecureRegistryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Pin IMAGE in the benchmark's manifest: a tag by its registry's digest
    (repo@sha256:..., asked of the registry's own API, no daemon needed), or an image no
    registry holds by its local image ID or file hash ("pinned locally")."""
    result = pin_image(suite, benchmark, image, runtime, local, tuple(insecure_registry or ()))
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        out.print(
            f"{result['manifest']}: image {result['previous']} -> {result['pinned']} "
            f"({result['how']})",
            highlight=False, markup=False, soft_wrap=True,
        )  # fmt: skip
        other = "" if runtime == DEFAULT else f" --runtime {runtime}"
        out.print(f"next: gp2bm check{other}", highlight=False, markup=False, soft_wrap=True)


@app.command()
def pull(
    benchmarks: BenchmarksArg = None,
    suite: SuiteOpt = None,
    runtime: RuntimeOpt = DEFAULT,
    as_json: JsonOpt = False,
) -> None:
    """Pull each pinned image by digest with the runtime's own engine and check the local
    image carries that digest (an image pinned locally is not pulled: no registry holds it)."""
    results = pull_images(suite, benchmarks, runtime)
    if as_json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        what = f"image id {r['id']}" if r["pulled"] else f"{PINNED_LOCALLY}, not pulled"
        out.print(f"{r['benchmark']}: {r['image']} ({what})",
                  highlight=False, markup=False, soft_wrap=True)  # fmt: skip
    other = "" if runtime == DEFAULT else f" --runtime {runtime}"
    out.print(f"next: gp2bm check{other}", highlight=False, markup=False, soft_wrap=True)


@app.command("import")
def import_command(
    source: ImportSourceArg,
    campaign: NewCampaignOpt,
    suite: SuiteOpt = None,
    org: OrgOpt = None,
    system: SystemOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a campaign of result logs gp2bm did not run: NVIDIA's launch scripts' logs
    (DATESTAMP_N.log) or an MLPerf submission tree's (result_N.txt), each benchmark's by
    what its log says, in their order, copied byte for byte as result_N.txt with an import
    record each (never a run record). Then score, report and package work on it; the
    trust ledger, and verify, name its runs "not run by gp2bm". The organisation and system
    default to the logs' submission lines; a systems/<system>.json under SOURCE is copied.
    """
    the_suite = resolve_suite(suite)
    done = import_logs(source, campaign, the_suite, org, system)
    if as_json:
        print(json.dumps(done.as_dict(), indent=2))
    else:
        runs = ", ".join(f"{bench} {n}" for bench, n in done.runs.items())
        out.print(
            f"imported into {done.campaign}: {runs} (org {done.org}, system {done.system})",
            highlight=False, markup=False, soft_wrap=True,
        )  # fmt: skip
    for note in done.notes:
        _note(f"note: {printable(note, 300)}")
    where = shlex.quote(str(done.campaign))
    _note(f"next: gp2bm score {where}, then gp2bm report {where}")
