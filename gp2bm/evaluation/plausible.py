"""A bundle's results against the published record (``atlas.plausibility``).

The bundle's accelerator and count are its system description's (``accelerator_model_name``,
``accelerators_per_node``; the hardware cross-check holds them against the inventory and
the records), its node count the suite's (the atlas counts accelerators in all: per node
times nodes). Each benchmark's recomputed result is judged against every closed-division
result of that accelerator, count and node count:

* faster than the fastest published by more than the atlas's margin (1.5x): the
  reservation ``implausible`` (``campaign.trust``), accepted only by name;
* faster within the margin, or slower than the slowest published ("the node may be
  misconfigured"): said, and listed as unverifiable;
* accelerators the atlas does not know, or no such published result: listed as
  unverifiable (what the record cannot vouch for); a node without accelerators: said as
  not judged.
"""

from __future__ import annotations

from gp2bm.atlas import load_atlas, plausibility
from gp2bm.atlas.claims import IMPLAUSIBLE, PLAUSIBLE, claimed_accelerator
from gp2bm.campaign.trust import IMPLAUSIBLE_RESULT
from gp2bm.evaluation.verification import Verification
from gp2bm.files.plaintext import printable
from gp2bm.node.measured import count
from gp2bm.reports.view import CampaignView


def judge(view: CampaignView, result: Verification) -> None:
    """Each benchmark's result against the published ones: a reservation when implausible,
    a line of what was judged otherwise (``result.checked["plausibility"]``)."""
    claimed = claimed_accelerator(view.system_desc)
    if claimed is None:
        desc = view.system_desc or {}
        model = printable(str(desc.get("accelerator_model_name")), 60)
        unjudged = f"not judged: no accelerator the published results know ({model})"
        result.checked["plausibility"] = unjudged
        if (count(desc.get("accelerators_per_node")) or 0) > 0:  # ones the record cannot name
            result.unverifiable.append(f"published results: {unjudged}")
        return
    name, per_node = claimed
    nodes = view.suite.nodes
    atlas = load_atlas()
    said = []
    for bench, b in view.score.benchmarks.items():
        if b.minutes is None or not b.minutes > 0:
            continue
        judged = plausibility(atlas, bench, name, per_node * nodes, nodes, b.minutes)
        said.append(f"{bench}: {judged.sentence}")
        if judged.verdict == IMPLAUSIBLE:
            why = judged.sentence.removeprefix(f"{IMPLAUSIBLE}: ")
            result.reserve(IMPLAUSIBLE_RESULT, f"{bench}: {why}", [bench])
        elif judged.verdict != PLAUSIBLE:  # faster within the margin, slow, or unjudged
            result.unverifiable.append(f"published results: {bench}: {judged.sentence}")
    result.checked["plausibility"] = "; ".join(said) or "no result to judge"
