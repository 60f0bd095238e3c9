"""What one array task does on its node: one run of the campaign, under the run's own lock.

The task takes the run's lock (waiting a few seconds: the submitter or ``gp2bm status`` may
hold it for a moment), keeps a partial log left by an earlier, cancelled attempt of the same
run as an attempt, prepares the image on this node (pull by digest, or the campaign's SIF),
does the run exactly as ``run-all`` does it, and writes into the shared campaign folder. A
run whose result appeared meanwhile, or that another gp2bm is doing, is left alone (exit 0).
SIGTERM (``scancel``, the time limit) stops the run and keeps its log as a partial attempt.

A task of a suite of several nodes holds the run's lock in the name of all its nodes, writes
the campaign's inventory and system description (``number_of_nodes``) once, from the first
of them, and does the run across them (``gp2bm.run.spanning``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace

from gp2bm.campaign.folder import Campaign, PlannedRun
from gp2bm.campaign.record import ABORTED, RunRecord
from gp2bm.errors import RunBusy
from gp2bm.node.allocation import NODELIST_ENV
from gp2bm.node.description import record_node_once
from gp2bm.node.fingerprint import node_name, slurm_job
from gp2bm.node.preflight import Preflight, node_checks
from gp2bm.run.campaignrun import preflight_state, require_preflight
from gp2bm.run.execute import execute_run
from gp2bm.run.images import require_pinned
from gp2bm.run.options import RunOptions
from gp2bm.run.progress import LiveStatus
from gp2bm.run.signals import SignalGuard
from gp2bm.runtimes.base import Runtime
from gp2bm.spec.manifest import BenchmarkManifest, suite_manifests

# How long a task waits for a run lock someone holds for a moment (archiving, a status probe).
RUN_LOCK_WAIT_S = 15.0


@dataclass
class TaskResult:
    benchmark: str
    run: int
    outcome: str  # success | aborted | already done | busy
    record: RunRecord | None = None
    message: str = ""

    @property
    def exit_code(self) -> int:
        return 1 if self.outcome == ABORTED else 0


def run_task(
    campaign: Campaign,
    manifest: BenchmarkManifest,
    runtime: Runtime,
    options: RunOptions,
    index: int,
) -> TaskResult:
    bench = manifest.benchmark
    require_pinned(campaign.suite, {bench: manifest}, runtime, options.allow_unpinned)
    several = campaign.suite.nodes > 1
    holder: dict[str, str | None] = {
        "node": (os.environ.get(NODELIST_ENV) if several else None) or node_name()
    }
    holder["job"] = slurm_job()
    if several:
        record_node_once(campaign, suite_manifests(campaign.suite), _warn)
    else:  # a run across nodes checks each node in its node step
        options = replace(options, preflight=_node_preflight(campaign, manifest, runtime, options))
    with SignalGuard():
        try:
            with campaign.claim_run(bench, index, wait=RUN_LOCK_WAIT_S, holder=holder) as todo:
                if not todo:
                    return TaskResult(bench, index, "already done", message="result already there")
                runtime.use_images_dir(campaign.layout.images_dir)
                image = runtime.prepare(manifest)
                total = campaign.suite.benchmarks[bench].runs
                planned = PlannedRun(bench, index, index + 1, total)
                outcome = execute_run(
                    campaign, planned, manifest, runtime, image, options, LiveStatus()
                )
        except RunBusy as exc:
            return TaskResult(bench, index, "busy", message=str(exc))
    record = outcome.record
    return TaskResult(bench, index, record.status, record, record.reason or "")


def _node_preflight(
    campaign: Campaign, manifest: BenchmarkManifest, runtime: Runtime, options: RunOptions
) -> str:
    """This node's checks before its one run (GPUs, the runtime, the cache drop, the data
    folders); a blocking failure stops the task before the run (exit 1)."""
    items = node_checks(
        Preflight(
            suite=campaign.suite,
            manifests={manifest.benchmark: manifest},
            runtime=runtime,
            campaign_root=campaign.root,
            cache_drop=options.cache_drop,
            cache_drop_command=options.cache_drop_command,
            allow_cache_drop_failure=options.allow_cache_drop_failure,
            allow_unpinned=options.allow_unpinned,
        )
    )
    require_preflight(items)
    return preflight_state(items)


def _warn(message: str) -> None:
    print(f"gp2bm run-task: warning: {message}", file=sys.stderr, flush=True)
