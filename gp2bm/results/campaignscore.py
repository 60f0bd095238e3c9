"""A gp2bm campaign's score: its results scored against its suite, from runs of one node
type (the RFP asks for one), as ``run-all`` ends and ``status`` shows it so far; and its
projection so far (``results.projection``: whether it can still pass, and the node time of
the runs left), as run-all says it after each run and ``status`` shows it."""

from __future__ import annotations

from dataclasses import dataclass

from gp2bm.campaign.layout import CampaignLayout
from gp2bm.campaign.record import RunRecord
from gp2bm.errors import InputError, InvalidError
from gp2bm.results.nodetypes import NodeTypes, require_one_node_type
from gp2bm.results.projection import Projection, project
from gp2bm.results.resultset import score_paths
from gp2bm.results.scoring import SuiteScore
from gp2bm.results.verdictcache import VerdictCache
from gp2bm.spec.suite import Suite


@dataclass
class CampaignScore:
    """The score of a campaign's finished runs, and the node types they ran on."""

    score: SuiteScore
    nodes: NodeTypes


def any_finished(layout: CampaignLayout, suite: Suite) -> bool:
    return any(layout.finished(b) for b in suite.benchmarks)


def score_campaign(
    layout: CampaignLayout, suite: Suite, allow_mixed_nodes: bool = False
) -> CampaignScore:
    """The campaign's score; InvalidError when no run finished, or when the runs come from
    nodes of different hardware (unless allowed)."""
    if not any_finished(layout, suite):
        raise InvalidError(f"{layout.root}: no run finished (see `gp2bm status`)")
    types = require_one_node_type(layout, allow_mixed_nodes)
    return CampaignScore(score_paths([layout.results_dir], suite), types)


def score_so_far(
    layout: CampaignLayout, suite: Suite, cache: VerdictCache, notes: list[str]
) -> SuiteScore | None:
    """The score of the logs there are (None before the first); why not, in ``notes``.
    ``cache``: the checkers' verdicts of unchanged logs."""
    if not any_finished(layout, suite):
        return None
    try:
        return score_paths([layout.results_dir], suite, cache=cache)
    except InputError as exc:
        notes.append(f"not scored: {exc}")
        return None



def node_seconds(layout: CampaignLayout, suite: Suite) -> dict[str, list[float]]:
    """The node seconds each finished run of each benchmark took (its run record's: gp2bm's
    own clock from start to end); a run without a record counts for nothing."""
    took: dict[str, list[float]] = {}
    for bench in suite.benchmarks:
        records = (RunRecord.load(layout.record_path(bench, n)) for n in layout.finished(bench))
        took[bench] = [r.seconds for r in records if r is not None and r.seconds is not None]
    return took


def projection_so_far(
    layout: CampaignLayout, suite: Suite, score: SuiteScore | None
) -> Projection:
    """Whether the campaign can still pass, from its score so far (``score_so_far``)."""
    return project(suite, score, node_seconds(layout, suite))
