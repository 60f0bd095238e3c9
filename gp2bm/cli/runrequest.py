"""What run-all, run and run-task share: the options as given, the per-run options they
turn into, and the campaign (with its suite and manifests) they open."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, fields
from pathlib import Path

from gp2bm.campaign.folder import Campaign
from gp2bm.campaign.layout import default_campaign_root
from gp2bm.campaign.resolve import resolve_suite
from gp2bm.run.options import RunOptions
from gp2bm.spec.manifest import BenchmarkManifest, suite_manifests
from gp2bm.spec.suite import Suite


@dataclass(frozen=True)
class RunRequest:
    """The options run-all and run share, as given on the command line."""

    suite: Path | None
    campaign_dir: Path | None
    runtime: str
    org: str | None
    system: str | None
    dry_run: bool
    allow_unpinned: bool
    cache_drop: bool
    cache_drop_command: str | None
    allow_cache_drop_failure: bool
    timeout: float | None
    as_json: bool
    skip_check: bool = False
    no_gpu: bool = False
    allow_mixed_nodes: bool = False

    @classmethod
    def given(cls, options: dict) -> RunRequest:
        """The request of a command's parameters (its ``locals()`` on entry): each field from
        the parameter of the same name (``campaign_dir`` from ``campaign``); the parameters a
        command does not have keep their defaults."""
        names = {f.name: f.name for f in fields(cls)} | {"campaign_dir": "campaign"}
        return cls(**{f: options[p] for f, p in names.items() if p in options})

    def run_options(self) -> RunOptions:
        return run_options(
            self.cache_drop,
            self.cache_drop_command,
            self.allow_cache_drop_failure,
            self.allow_unpinned,
            self.timeout,
            self.allow_mixed_nodes,
        )


def run_options(
    cache_drop: bool,
    cache_drop_command: str | None,
    allow_cache_drop_failure: bool,
    allow_unpinned: bool,
    timeout: float | None,
    allow_mixed_nodes: bool = False,
) -> RunOptions:
    """The per-run options, from the command line's words."""
    return RunOptions(
        cache_drop=cache_drop,
        cache_drop_command=shlex.split(cache_drop_command) if cache_drop_command else None,
        allow_cache_drop_failure=allow_cache_drop_failure,
        allow_unpinned=allow_unpinned,
        timeout_seconds=timeout,
        allow_mixed_nodes=allow_mixed_nodes,
    )


def open_campaign(req: RunRequest) -> tuple[Suite, dict[str, BenchmarkManifest], Campaign]:
    """The suite (given, else the campaign's, else the default), its manifests, and the
    campaign folder (given, else results/<suite name>; a new one when there is none)."""
    the_suite = resolve_suite(req.suite, req.campaign_dir)
    manifests = suite_manifests(the_suite)
    root = req.campaign_dir or default_campaign_root(the_suite.name)
    campaign = Campaign.open(root, the_suite, org=req.org, system=req.system, runtime=req.runtime)
    return the_suite, manifests, campaign
