"""Whether a claimed result is believable, against the published record.

A claim (minutes for a benchmark on ``count`` accelerators of one kind, on ``nodes`` nodes)
is compared with every closed-division result of the same accelerator and count (and node
count, when given), each result once:

* faster than the fastest of them by more than ``MARGIN`` (the fastest's minutes over the
  claim's): **implausible**. The margin is 1.5x: across the atlas, no round's best result
  for an accelerator, count and node count beat the best of the earlier rounds (where two
  or more were published) by as much (the most: 1.49x, 8x A100-PCIe-80GB BERT in v2.0,
  new software; most often a round's best beats none); ``tests/test_atlas_claims.py``
  checks it on the shipped atlas;
* faster than the fastest, within the margin: **faster than published** (newer software
  can do that; worth a look);
* within the published range: **plausible**;
* slower than the slowest: **slow**, with the note that the node may be misconfigured;
* no published result: **cannot judge**.
"""

from __future__ import annotations

from dataclasses import dataclass

from gp2bm.atlas.accelerators import accelerator_name
from gp2bm.atlas.table import Atlas, AtlasRow
from gp2bm.errors import InputError

MARGIN = 1.5

IMPLAUSIBLE = "implausible"
FASTER = "faster than published"
PLAUSIBLE = "plausible"
SLOW = "slow"
CANNOT_JUDGE = "cannot judge"

NAMES = {"resnet": "ResNet", "bert": "BERT"}


@dataclass(frozen=True)
class Plausibility:
    verdict: str  # IMPLAUSIBLE | FASTER | PLAUSIBLE | SLOW | CANNOT_JUDGE
    sentence: str
    minutes: float
    fastest: float | None = None
    slowest: float | None = None
    margin: float = MARGIN
    compared: tuple[AtlasRow, ...] = ()

    @property
    def speedup(self) -> float | None:
        """The fastest published result's minutes over the claim's (above 1: faster)."""
        return None if self.fastest is None else self.fastest / self.minutes

    def as_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "sentence": self.sentence,
            "minutes": self.minutes,
            "fastest": self.fastest,
            "slowest": self.slowest,
            "speedup": self.speedup,
            "margin": self.margin,
            "compared": [r.source for r in self.compared],
        }


def claimed_accelerator(system_desc: dict | None) -> tuple[str, int] | None:
    """A system description's accelerator (the atlas's name) and count per node, or None
    (no accelerator, a count that is not a whole number, a model the atlas does not know)."""
    desc = system_desc or {}
    try:
        count = int(str(desc.get("accelerators_per_node", "")).strip())
    except ValueError:
        return None
    name, known = accelerator_name(str(desc.get("accelerator_model_name") or ""))
    if count <= 0 or not known or not name:
        return None
    return name, count


def plausibility(
    atlas: Atlas,
    benchmark: str,
    accelerator: str,
    count: int,
    nodes: int | None,
    minutes: float,
    margin: float = MARGIN,
) -> Plausibility:
    """The verdict on a claimed result (``nodes`` None: published results on any number)."""
    if not minutes > 0:
        raise InputError(f"a claimed result is a positive number of minutes, not {minutes}")
    name = accelerator_name(accelerator)[0]
    rows = tuple(atlas.results(benchmark, name, count, nodes))
    on = "" if nodes is None else f" on {nodes} node{'s' if nodes != 1 else ''}"
    bench = NAMES.get(benchmark, benchmark)
    if not rows:
        return Plausibility(
            CANNOT_JUDGE,
            f"cannot judge: no published closed-division {count}x {name} {bench} result{on}",
            minutes,
            margin=margin,
        )
    times = [r.minutes for r in rows if r.minutes is not None]
    fastest, slowest = min(times), max(times)
    plural = "s" if len(rows) != 1 else ""
    of = f"{len(rows)} published {count}x {name} {bench} result{plural}{on}"
    if minutes * margin < fastest:
        verdict = IMPLAUSIBLE
        sentence = f"implausible: {fastest / minutes:.1f}x faster than any of {of}"
    elif minutes < fastest:
        verdict = FASTER
        sentence = (
            f"faster than any of {of} ({fastest / minutes:.2f}x the fastest, "
            f"{fastest:.2f} min), within the {margin:g}x margin: newer software can do that"
        )
    elif minutes > slowest:
        verdict = SLOW
        sentence = (
            f"slower than any of {of} ({minutes / slowest:.2f}x the slowest, {slowest:.2f} "
            "min): the node may be misconfigured"
        )
    else:
        verdict = PLAUSIBLE
        sentence = f"plausible: within the range of {of} ({fastest:.2f} to {slowest:.2f} min)"
    return Plausibility(verdict, sentence, minutes, fastest, slowest, margin, rows)
