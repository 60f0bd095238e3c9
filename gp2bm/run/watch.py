"""What run-all says between runs: whether the campaign can still pass, and a run far
slower than the published results of the node's accelerator.

After each run (and before the first, on a campaign resumed) the campaign is scored so far,
the checkers' verdicts of unchanged logs taken from the verdict cache, and projected
(``results.projection``). A projection that is not "can pass" is said at once, each time
it changes; with ``--stop-early`` a campaign that cannot pass stops there, between two runs:
every finished run and its record are kept, nothing is half-done, and the next run-all goes
on (``errors.CampaignCannotPass``, exit 1).

Where the atlas knows the node's accelerator (its model and count from the campaign's
inventory, ``atlas.normalise_accelerator``), a successful run slower than the slowest
published closed-division result of that accelerator, count and node count by more than
MLPerf's stated variance of the benchmark (``results.spread``: beyond it run-to-run noise
does not explain it) is a warning: the node may be misconfigured. A node without a GPU,
with GPUs of several kinds or of a kind the atlas does not know, says nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gp2bm.atlas import Atlas, load_atlas, normalise_accelerator, plausibility
from gp2bm.atlas.claims import NAMES, SLOW
from gp2bm.campaign.folder import Campaign
from gp2bm.errors import CampaignCannotPass
from gp2bm.files.jsonfile import read_json_or_empty
from gp2bm.results.campaignscore import projection_so_far, score_so_far
from gp2bm.results.projection import Outlook, Projection, node_time
from gp2bm.results.spread import stated_variance
from gp2bm.results.verdictcache import VerdictCache, default_cache_dir
from gp2bm.run.execute import RunOutcome


@dataclass(frozen=True)
class NodeAccelerators:
    """The node's accelerators as the atlas names them."""

    name: str
    count: int


def node_accelerators(inventory: dict) -> NodeAccelerators | None:
    """The one kind of accelerator of an inventory (inventory.json) and how many; None
    without a GPU, with several kinds, or with a kind the atlas does not know."""
    gpus = inventory.get("gpus")
    devices = gpus.get("gpus") if isinstance(gpus, dict) else None
    if not isinstance(devices, list) or not devices:
        return None
    names = {str(d.get("name")) for d in devices if isinstance(d, dict) and d.get("name")}
    if len(names) != 1:
        return None
    name = normalise_accelerator(names.pop())
    return None if name is None else NodeAccelerators(name, len(devices))


def slow_run_warning(
    atlas: Atlas, benchmark: str, node: NodeAccelerators, nodes: int, minutes: float
) -> str | None:
    """``the node may be misconfigured: 31 % slower than the slowest published 8x
    H100-SXM5-80GB ResNet result (...)``, or None when the run is not that slow."""
    count = node.count * nodes  # the atlas counts accelerators in all
    judged = plausibility(atlas, benchmark, node.name, count, nodes, minutes)
    if judged.verdict != SLOW or judged.slowest is None:
        return None
    slower = minutes / judged.slowest - 1
    if slower <= stated_variance(benchmark, minutes).fraction:
        return None
    on = f"{nodes} node{'s' if nodes != 1 else ''}"
    return (
        f"the node may be misconfigured: {slower * 100:.0f} % slower than the slowest "
        f"published {count}x {node.name} {NAMES.get(benchmark, benchmark)} result "
        f"({minutes:.2f} min against {judged.slowest:.2f} min, of {len(judged.compared)} "
        f"published results on {on})"
    )


def stop_message(projection: Projection) -> str:
    """The one line ``--stop-early`` stops with."""
    left = projection.runs_left
    waste = ""
    if projection.seconds_left is not None and left:
        waste = f" that would waste about {node_time(projection.seconds_left)} of node time"
    return (
        f"the campaign cannot pass: {'; '.join(projection.reasons)}; stopped by --stop-early "
        f"before its {left} run(s) left{waste}; every finished run is kept (gp2bm status "
        "shows them; run-all again goes on)"
    )


class CampaignWatch:
    """The projection after each run of a campaign, said through ``say`` (one line each),
    and ``--stop-early``'s stop."""

    def __init__(self, campaign: Campaign, stop_early: bool, say: Callable[[str], None]):
        self.layout, self.suite = campaign.layout, campaign.suite
        self.stop_early = stop_early
        self.say = say
        self.cache = VerdictCache(default_cache_dir())
        self.node = node_accelerators(read_json_or_empty(self.layout.inventory_file))
        self._atlas: Atlas | None = None
        self._said: tuple[str, ...] = ()
        self._notes: set[str] = set()

    def check(self, outcome: RunOutcome | None = None) -> Projection | None:
        """Score the campaign so far and project it (None before any run finished, or
        when the logs cannot be scored: said once); raise CampaignCannotPass when it cannot
        pass and ``--stop-early`` was given. ``outcome``: the run that just ended."""
        notes: list[str] = []
        score = score_so_far(self.layout, self.suite, self.cache, notes)
        for note in notes:
            if note not in self._notes:
                self._notes.add(note)
                self.say(f"projection: {note}")
        if score is None:
            return None
        projection = projection_so_far(self.layout, self.suite, score)
        self._tell(projection)
        if outcome is not None:
            self._published(outcome)
        if self.stop_early and projection.outlook is Outlook.CANNOT_PASS:
            raise CampaignCannotPass(stop_message(projection))
        return projection

    def _tell(self, projection: Projection) -> None:
        """Say a projection that is not "can pass", once for each set of reasons."""
        said = (projection.outlook.value, *projection.reasons)
        if projection.outlook is not Outlook.CAN_PASS and said != self._said:
            self.say(projection.line())
        self._said = said

    def _published(self, outcome: RunOutcome) -> None:
        record = outcome.record
        if self.node is None or not record.succeeded or not record.minutes:
            return
        if self._atlas is None:
            self._atlas = load_atlas()
        warning = slow_run_warning(
            self._atlas, record.benchmark, self.node, self.suite.nodes, record.minutes
        )
        if warning is not None:
            self.say(f"warning: {record.benchmark} run {record.run}: {warning}")
