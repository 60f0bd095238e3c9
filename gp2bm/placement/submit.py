"""``run-all --slurm``: a campaign's missing runs submitted as one job array, and waited for.

The campaign is opened as run-all opens it (``run.request``), its images checked as run-all
checks them (``images.require_pinned``), and every task is given the request's run options
(``RunOptions.task_arguments``); then the fan-out submits what is neither done, queued nor
being done (``fanout.submit_missing``) and waits while the tasks run (``fanout.wait_for``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gp2bm.errors import InputError
from gp2bm.placement import Scheduler, TaskState, get_scheduler
from gp2bm.placement.fanout import FanoutOptions, Run, Submission, submit_missing, wait_for
from gp2bm.run.images import require_pinned
from gp2bm.run.power import settle_power
from gp2bm.run.request import OpenCampaign, RunRequest, open_campaign


@dataclass(frozen=True)
class SlurmRequest:
    """What run-all --slurm is asked of the scheduler."""

    partition: str | None = None
    max_nodes: int | None = None  # --nodes: at most this many nodes at a time
    account: str | None = None
    time_limit: str | None = None


@dataclass
class Fanout:
    """A campaign about to be fanned out: opened, its scheduler, the array's options."""

    opened: OpenCampaign
    scheduler: Scheduler
    options: FanoutOptions

    def submit(self, dry_run: bool) -> Submission:
        """Submit the missing runs as one array (a dry run: only render the submission)."""
        return submit_missing(self.opened.campaign, self.scheduler, self.options, dry_run)

    def wait(self, on_poll: Callable[[dict[Run, TaskState]], None] | None) -> None:
        """Until no task of the campaign is pending or running (``on_poll``: each look)."""
        wait_for(self.opened.campaign, self.scheduler, on_poll=on_poll)


def fan_out(req: RunRequest, slurm: SlurmRequest) -> Fanout:
    """The campaign of ``req`` opened for Slurm, its images checked, nothing submitted yet."""
    if slurm.max_nodes is not None and slurm.max_nodes < 1:
        raise InputError("--nodes must be at least 1")
    opened = open_campaign(req.choice)
    require_pinned(opened.suite, opened.manifests, opened.runtime, req.options.allow_unpinned)
    # each task samples the campaign's power source on its own node (power.json)
    settle_power(opened.campaign.layout, opened.suite.power, req.power)
    options = FanoutOptions(
        runtime=opened.campaign.runtime,
        max_nodes=slurm.max_nodes,
        partition=slurm.partition,
        account=slurm.account,
        time_limit=slurm.time_limit,
        task_options=req.options.task_arguments(),
    )
    return Fanout(opened, get_scheduler("slurm"), options)
