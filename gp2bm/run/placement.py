"""Where one run runs: this node, or the nodes of a Slurm allocation (``run.spanning``).

A run is planned and executed the same way wherever it runs (``run.plan``, ``run.execute``);
what differs is asked of its ``RunPlacement``: where its launch places rank 0 and the other
nodes, how its page cache is dropped and said in the log, how its command line is rendered
and started, how its telemetry is sampled, what its record says of its nodes, and whether a
node was lost during it. ``ThisNode`` is the placement of every run of a one-node suite; a
suite whose launcher starts its tasks on every node of an allocation (srun) gets a
``SpanRun`` (``run.spanning``), placed on the allocation (or on placeholders in a dry run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from gp2bm.campaign.layout import CampaignLayout
from gp2bm.node.cachedrop import CacheDrop, drop_page_cache
from gp2bm.run.launch import Placement, RunLaunch
from gp2bm.run.mllog import mllog_line
from gp2bm.run.options import RunOptions
from gp2bm.run.power import PowerSampler, campaign_power, start_power
from gp2bm.run.telemetry import start_telemetry
from gp2bm.runtimes.base import Execution, RunSpec, Runtime


class Sampler(Protocol):
    """A run's telemetry while it runs: stopped when the run ends, its summary then."""

    def stop(self) -> dict: ...


class RunPlacement(Protocol):
    """Where one run runs, and what that changes in how it is started and recorded."""

    @property
    def place(self) -> Placement | None:
        """Where the launch puts the run's processes (None: this node's own)."""

    @property
    def notes(self) -> list[str]:
        """What the placing found (recorded in the run's launch)."""

    def drop_cache(self, options: RunOptions) -> CacheDrop:
        """The page cache dropped (on every node of the run)."""

    def drop_record(self, drop: CacheDrop) -> dict:
        """The run record's ``cache_drop``."""

    def cache_clear_lines(self, drop: CacheDrop) -> list[bytes]:
        """gp2bm's ``cache_clear`` lines at the top of the log (one per node)."""

    def render(self, runtime: Runtime, spec: RunSpec, launch: RunLaunch) -> list[str]:
        """The command line that starts the run."""

    def start(
        self,
        runtime: Runtime,
        spec: RunSpec,
        launch: RunLaunch,
        sink: BinaryIO,
        on_line: Callable[[bytes], None] | None,
    ) -> Execution:
        """Start the run; its output goes to ``sink``."""

    def telemetry(self, layout: CampaignLayout, bench: str, n: int) -> Sampler:
        """The run's telemetry, sampled from now on."""

    def record_fields(self) -> dict:
        """What the run record says of the nodes the run ran on."""

    def on_line(self, line: bytes) -> None:
        """Each line of the run's output (the scheduler's own error lines are kept)."""

    def lost(self) -> str | None:
        """Which node was lost during the run and how, or None."""


@dataclass
class NodeSampling:
    """A node's telemetry, and its power when the campaign has a power source: started
    together, stopped together (the power summary goes into the telemetry's, ``power``)."""

    telemetry: Sampler
    power: PowerSampler | None = None

    def stop(self) -> dict:
        summary = self.telemetry.stop()
        if self.power is not None:
            summary["power"] = self.power.stop()
        return summary


@dataclass
class ThisNode:
    """The placement of a run on the node gp2bm runs on."""

    @property
    def place(self) -> Placement | None:
        return None

    @property
    def notes(self) -> list[str]:
        return []

    def drop_cache(self, options: RunOptions) -> CacheDrop:
        return drop_page_cache(options.cache_drop_command)

    def drop_record(self, drop: CacheDrop) -> dict:
        return drop.as_dict()

    def cache_clear_lines(self, drop: CacheDrop) -> list[bytes]:
        return [mllog_line("cache_clear", drop.ok, {"method": drop.method})]

    def render(self, runtime: Runtime, spec: RunSpec, launch: RunLaunch) -> list[str]:
        return runtime.render(spec)

    def start(
        self,
        runtime: Runtime,
        spec: RunSpec,
        launch: RunLaunch,
        sink: BinaryIO,
        on_line: Callable[[bytes], None] | None,
    ) -> Execution:
        return runtime.start(spec, sink, on_line)

    def telemetry(self, layout: CampaignLayout, bench: str, n: int) -> Sampler:
        power = start_power(campaign_power(layout), layout.power_samples_path(bench, n))
        return NodeSampling(start_telemetry(layout.telemetry_path(bench, n)), power)

    def record_fields(self) -> dict:
        return {}

    def on_line(self, line: bytes) -> None:
        return None

    def lost(self) -> str | None:
        return None
