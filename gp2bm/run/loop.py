"""The campaign loop: every missing run of a campaign, one after the other.

Under the campaign lock it first cleans up what a killed gp2bm left (its containers, the
partial logs, kept as attempts), prepares each image once, then does each run under the
run's own lock: Slurm array tasks may share the campaign, and a run another gp2bm is doing
is skipped, not done twice. A ``CampaignWatch`` given projects the campaign before the first
run and after each (``run.watch``), and may stop it between two runs (``--stop-early``).
"""

from __future__ import annotations

import functools

from gp2bm.campaign.folder import Campaign, PlannedRun
from gp2bm.errors import RunBusy
from gp2bm.run.benchsetup import BenchmarkSetup, benchmark_setup
from gp2bm.run.execute import RunOutcome, execute_run
from gp2bm.run.options import RunOptions
from gp2bm.run.progress import CampaignProgress, LiveStatus
from gp2bm.run.signals import SignalGuard
from gp2bm.run.spanning import require_allocation
from gp2bm.run.watch import CampaignWatch
from gp2bm.run.writing import disk_full, is_disk_full
from gp2bm.runtimes.base import LABEL_CAMPAIGN, ImageInfo, Runtime
from gp2bm.runtimes.span import spans
from gp2bm.spec.manifest import BenchmarkManifest


def run_campaign(
    campaign: Campaign,
    manifests: dict[str, BenchmarkManifest],
    runtime: Runtime,
    options: RunOptions,
    benchmarks: list[str] | None = None,
    progress: CampaignProgress | None = None,
    watch: CampaignWatch | None = None,
) -> list[RunOutcome]:
    """Run every missing run of the campaign (or of the named benchmarks). The caller has
    checked what must hold before (the images pinned: ``images.require_pinned``).
    ``watch``: told before the first run and after each; it may stop the campaign there."""
    names = benchmarks or list(campaign.suite.benchmarks)
    try:
        return _run_campaign(campaign, manifests, runtime, options, names, progress, watch)
    except OSError as exc:
        # Any other write of the campaign (its lock, suite copy, attempts) that failed for
        # want of room or of permission.
        if not is_disk_full(exc):
            raise
        raise disk_full(exc.filename or campaign.root, exc) from None


def _run_campaign(
    campaign: Campaign,
    manifests: dict[str, BenchmarkManifest],
    runtime: Runtime,
    options: RunOptions,
    names: list[str],
    progress: CampaignProgress | None,
    watch: CampaignWatch | None,
) -> list[RunOutcome]:
    outcomes = []
    with campaign.lock(), SignalGuard():
        campaign.save()
        _clean_up(campaign, runtime, progress)
        plan = campaign.plan(names)
        runtime.use_images_dir(campaign.layout.images_dir)
        benches = list(dict.fromkeys(p.benchmark for p in plan))
        for b in benches:  # runs across nodes: inside an allocation, or nothing is prepared
            if spans(manifests[b]):
                require_allocation(manifests[b], campaign.suite.nodes)
        images = {b: runtime.prepare(manifests[b]) for b in benches}
        # every benchmark's launch before the first run: a config that does not source
        # stops the campaign now, not after the first benchmark's runs
        setups = {b: benchmark_setup(campaign, manifests[b], runtime) for b in benches}
        if progress:
            for note in (n for b in benches for n in setups[b].notes):
                progress.note(f"warning: {note}")
        if watch is not None and plan:
            watch.check()  # a campaign resumed may not pass already
        for planned in plan:
            bench = planned.benchmark
            outcome = _run_one(
                campaign, planned, setups[bench], runtime, images[bench], options, progress
            )
            if outcome is not None:
                outcomes.append(outcome)
                if watch is not None:
                    watch.check(outcome)
    return outcomes


def _run_is_busy(campaign: Campaign, run: str) -> bool:
    """Whether another gp2bm does ``run`` (a container's run label, "bench/N") right now."""
    bench, _, n = run.partition("/")
    return n.isdigit() and campaign.run_holder(bench, int(n)) is not None


def _clean_up(campaign: Campaign, runtime: Runtime, progress: CampaignProgress | None) -> None:
    """Remove the containers and keep the partial logs a killed gp2bm left."""
    busy = functools.partial(_run_is_busy, campaign)
    left = runtime.cleanup({LABEL_CAMPAIGN: campaign.ident}, busy=busy)
    if progress and left:
        progress.note(f"removed {len(left)} container(s) left by an earlier gp2bm: {left}")
    kept = campaign.archive_partials()
    if progress and kept:
        progress.note(
            f"kept {len(kept)} interrupted log(s) as attempts: "
            + ", ".join(str(p.relative_to(campaign.root)) for p in kept)
        )


def _run_one(
    campaign: Campaign,
    planned: PlannedRun,
    setup: BenchmarkSetup,
    runtime: Runtime,
    image: ImageInfo,
    options: RunOptions,
    progress: CampaignProgress | None,
) -> RunOutcome | None:
    """One run under its own lock; None when it was done or is being done meanwhile."""
    status = LiveStatus()
    try:
        with campaign.claim_run(planned.benchmark, planned.index) as todo:
            if not todo:
                return None
            if progress:
                progress.start_run(planned, status)
            tick = progress.tick if progress else None
            outcome = execute_run(
                campaign,
                planned,
                setup.manifest,
                runtime,
                image,
                options,
                status,
                tick=tick,
                setup=setup,
            )
    except RunBusy as exc:
        if progress:
            progress.note(f"skipped: {exc}")
        return None
    if progress:
        progress.end_run(planned, outcome.record)
        if outcome.record.submission_problem:
            progress.note(
                f"{planned.benchmark} run {planned.index} will fail compliance: "
                f"{outcome.record.submission_problem}"
            )
        for found in outcome.record.secrets_in_log or []:
            progress.note(
                f"warning: {planned.benchmark} run {planned.index}'s log shows a secret, "
                f"{found}; the log is kept as written: look before handing it in"
            )
    return outcome
