"""``run-all`` and ``run`` as one operation each: from a request to the campaign's runs.

The command line only parses and renders; what a campaign's start does, in order, is here:
open the campaign (its suite, manifests, folder and runtime), refuse images not pinned by
digest (the one pin check, ``images.require_pinned``), run the pre-flight that ``gp2bm
check`` runs (unless ``--skip-check``: a blocking failure stops the campaign before any run),
describe the node once (its inventory and system description), then do every missing run,
the campaign projected before the first and after each (``watch``: whether it can still
pass, said at once; ``--stop-early`` stops it there). A dry run plans the same runs
(``plan.plan_campaign``) and starts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from gp2bm.campaign.folder import Campaign
from gp2bm.campaign.record import PREFLIGHT_PASSED, PREFLIGHT_SKIPPED, PREFLIGHT_WARNED
from gp2bm.errors import InvalidError
from gp2bm.files.findings import CheckItem, CheckStatus, blocking
from gp2bm.node.description import record_node_once
from gp2bm.node.preflight import CHECKSUM_CACHE, Preflight, run_checks
from gp2bm.run.detach import log_to_campaign
from gp2bm.run.execute import RunOutcome
from gp2bm.run.images import require_pinned, unpinned
from gp2bm.run.loop import run_campaign
from gp2bm.run.options import RunOptions
from gp2bm.run.plan import CampaignPlan, plan_campaign
from gp2bm.run.power import settle_power
from gp2bm.run.progress import CampaignProgress
from gp2bm.run.request import CampaignChoice, OpenCampaign, RunRequest, open_campaign
from gp2bm.run.watch import CampaignWatch
from gp2bm.runtimes.base import Runtime
from gp2bm.spec.manifest import BenchmarkManifest


class RunDisplay(Protocol):
    """What shows a campaign's start and runs to the person who started it."""

    def checked(self, items: list[CheckItem]) -> None:
        """The pre-flight's items (shown when anything warns or fails)."""

    def warn(self, message: str) -> None:
        """What describing the node could not do."""

    def progress(self, targets: dict[str, float]) -> CampaignProgress:
        """The live display of the runs (each benchmark's quality target)."""


@dataclass
class CampaignRun:
    """What run-all or run did: the campaign it opened and each run it did."""

    opened: OpenCampaign
    outcomes: list[RunOutcome]

    @property
    def campaign(self) -> Campaign:
        return self.opened.campaign


@dataclass
class DryRun:
    """What a dry run shows: the plan, and the pin commands run-all would ask for first."""

    opened: OpenCampaign
    plan: CampaignPlan
    pins: list[str]


def campaign_preflight(
    campaign: Campaign,
    manifests: dict[str, BenchmarkManifest],
    runtime: Runtime,
    options: RunOptions,
    no_gpu: bool,
) -> list[CheckItem]:
    """The pre-flight of run-all and run: what ``gp2bm check`` checks, with the campaign's
    own cache drop, leave for unpinned images and checksum memory."""
    return run_checks(
        Preflight(
            suite=campaign.suite,
            manifests=manifests,
            runtime=runtime,
            no_gpu=no_gpu,
            campaign_root=campaign.root,
            cache_drop=options.cache_drop,
            cache_drop_command=options.cache_drop_command,
            allow_cache_drop_failure=options.allow_cache_drop_failure,
            allow_unpinned=options.allow_unpinned,
            checksum_cache=campaign.layout.cache_file(CHECKSUM_CACHE),
        )
    )


def preflight_state(items: list[CheckItem]) -> str:
    """How the pre-flight went, as each run record says it (it did not block)."""
    warned = any(i.status in (CheckStatus.WARN, CheckStatus.FAIL) for i in items)
    return PREFLIGHT_WARNED if warned else PREFLIGHT_PASSED


def require_preflight(items: list[CheckItem]) -> None:
    """Stop the campaign (exit 1) when a pre-flight item blocks it."""
    stops = blocking(items)
    if stops:
        raise InvalidError(
            f"pre-flight: {len(stops)} blocking failure(s): "
            + ", ".join(i.name for i in stops)
            + " (fix them, or pass --skip-check)"
        )


def dry_run(choice: CampaignChoice, benchmarks: list[str] | None, options: RunOptions) -> DryRun:
    """The plan of every missing run, and what run-all would refuse first (unpinned images,
    unless allowed). Nothing is written, pulled or started."""
    opened = open_campaign(choice, benchmarks)
    plan = plan_campaign(
        opened.campaign, opened.manifests, opened.runtime, benchmarks, options.timeout_seconds
    )
    pins = [] if options.allow_unpinned else unpinned(
        opened.suite, opened.of(benchmarks), opened.runtime
    )
    return DryRun(opened, plan, [pin for _, pin in pins])


def run_requested(
    req: RunRequest, benchmarks: list[str] | None, display: RunDisplay
) -> CampaignRun:
    """Every missing run of the campaign (or of ``benchmarks``), shown on ``display``."""
    opened = open_campaign(req.choice, benchmarks)
    campaign, runtime, options = opened.campaign, opened.runtime, req.options
    log_to_campaign(campaign.layout.run_all_log)
    manifests = opened.of(benchmarks)
    require_pinned(opened.suite, manifests, runtime, options.allow_unpinned)
    settle_power(campaign.layout, opened.suite.power, req.power)
    if not req.skip_check:
        items = campaign_preflight(campaign, manifests, runtime, options, req.no_gpu)
        display.checked(items)
        require_preflight(items)
        options = replace(options, preflight=preflight_state(items))
    else:
        options = replace(options, preflight=PREFLIGHT_SKIPPED)
    record_node_once(campaign, opened.manifests, display.warn)
    targets = {name: b.target for name, b in opened.suite.benchmarks.items()}
    with display.progress(targets) as progress:
        watch = CampaignWatch(campaign, req.stop_early, progress.warn)
        outcomes = run_campaign(
            campaign, opened.manifests, runtime, options, benchmarks, progress, watch
        )
    return CampaignRun(opened, outcomes)
