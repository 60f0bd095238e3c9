"""What a command asks of a campaign's runs (``run-all``, ``run``, ``run-task``), and the
campaign it opens: the suite (given, else the campaign's, else the default), its benchmark
manifests, the campaign folder (given, else ``results/<suite name>``) and the runtime."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from gp2bm.campaign.folder import Campaign
from gp2bm.campaign.layout import default_campaign_root
from gp2bm.campaign.resolve import resolve_suite
from gp2bm.errors import InputError
from gp2bm.run.options import RunOptions
from gp2bm.runtimes import Runtime, get_runtime
from gp2bm.spec.manifest import BenchmarkManifest, suite_manifests
from gp2bm.spec.power import DEFAULT_PASSWORD_ENV, PowerSettings
from gp2bm.spec.suite import Suite


@dataclass(frozen=True)
class CampaignChoice:
    """Which campaign a command means, as its options give it."""

    suite: Path | None  # --suite
    folder: Path | None  # --campaign
    runtime: str  # --runtime
    org: str | None = None  # --org (a new campaign's)
    system: str | None = None  # --system (a new campaign's)


@dataclass(frozen=True)
class RunRequest:
    """What run-all and run are asked: which campaign, the options of every run, whether
    the pre-flight runs first and needs GPUs."""

    choice: CampaignChoice
    options: RunOptions = field(default_factory=RunOptions)
    skip_check: bool = False
    no_gpu: bool = False
    # the node power source to sample during every run (None: the campaign's, if any)
    power: PowerSettings | None = None
    # stop between two runs once the runs so far decide the campaign cannot pass
    stop_early: bool = False


def run_options(
    cache_drop: bool = True,
    cache_drop_command: str | None = None,
    allow_cache_drop_failure: bool = False,
    allow_unpinned: bool = False,
    timeout: float | None = None,
    allow_mixed_nodes: bool = False,
) -> RunOptions:
    """The per-run options, from the command line's words (``--cache-drop-command`` is a
    command line of its own, split as a shell would)."""
    return RunOptions(
        cache_drop=cache_drop,
        cache_drop_command=shlex.split(cache_drop_command) if cache_drop_command else None,
        allow_cache_drop_failure=allow_cache_drop_failure,
        allow_unpinned=allow_unpinned,
        timeout_seconds=timeout,
        allow_mixed_nodes=allow_mixed_nodes,
    )


@dataclass(frozen=True)
class PowerWords:
    """The power options of run-all, as the command line gives them."""

    source: str | None = None
    address: str | None = None
    user: str | None = None
    password_env: str | None = None
    resource: str | None = None
    interval_s: float = 1.0
    conversion_eff: float | None = None
    measurement: str | None = None
    interconnect_power_w: float | None = None

    def settings(self) -> PowerSettings | None:
        """The power source they name (None: none given); InputError for options that
        need a source without one, or settings no source works with."""
        if self.source is None:
            if self.address or self.resource or self.user:
                raise InputError("--power-address, --power-resource and --power-user need "
                                 "--power-source")
            return None
        password_env = self.password_env or (DEFAULT_PASSWORD_ENV if self.user else None)
        settings = PowerSettings(
            source=self.source,
            address=self.address,
            user=self.user,
            password_env=password_env,
            resource=self.resource,
            interval_s=self.interval_s,
            conversion_eff=self.conversion_eff,
            measurement=self.measurement.upper() if self.measurement else None,
            interconnect_power_w=self.interconnect_power_w,
        )
        settings.check("--power-source")
        return settings


@dataclass(frozen=True)
class OpenCampaign:
    """A campaign opened for its runs: its suite, manifests and runtime."""

    suite: Suite
    manifests: dict[str, BenchmarkManifest]
    campaign: Campaign
    runtime: Runtime

    def of(self, benchmarks: list[str] | None) -> dict[str, BenchmarkManifest]:
        """The manifests of ``benchmarks`` (every benchmark of the suite when None)."""
        return {b: self.manifests[b] for b in benchmarks or self.suite.benchmarks}


def open_campaign(choice: CampaignChoice, benchmarks: list[str] | None = None) -> OpenCampaign:
    """The suite (given, else the campaign's, else the default), its manifests, and the
    campaign folder (given, else results/<suite name>; a new one when there is none).
    ``benchmarks``: those a command names, each refused when not in the suite."""
    suite = resolve_suite(choice.suite, choice.folder)
    for b in benchmarks or []:
        if b not in suite.benchmarks:
            raise InputError(f"benchmark '{b}' is not in suite '{suite.name}'")
    manifests = suite_manifests(suite)
    root = choice.folder or default_campaign_root(suite.name)
    campaign = Campaign.open(
        root, suite, org=choice.org, system=choice.system, runtime=choice.runtime
    )
    return OpenCampaign(suite, manifests, campaign, get_runtime(campaign.runtime))
