"""One node type per campaign: the finished runs grouped by their node's hardware fingerprint.

The RFP asks for the benchmark on one node type. Each run record names its node and the
fingerprint of the node's hardware (``gp2bm.node.fingerprint``), a run across nodes every
node and each one's fingerprint; scoring a campaign refuses finished runs from nodes of
different fingerprints (across runs, or within one run) unless the user allows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gp2bm.campaign.layout import CampaignLayout
from gp2bm.campaign.record import RunRecord
from gp2bm.errors import InvalidError


@dataclass
class NodeTypes:
    """The finished runs of a campaign grouped by the fingerprint of their node."""

    # fingerprint -> node -> ["resnet/0", ...]
    groups: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    facts: dict[str, dict] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)  # runs whose record has no fingerprint

    @property
    def mixed(self) -> bool:
        return len(self.groups) > 1

    def describe(self) -> str:
        parts = []
        for fp, nodes in sorted(self.groups.items()):
            runs = len({r for each in nodes.values() for r in each})  # a run may span nodes
            facts = self.facts.get(fp) or {}
            what = ", ".join(
                str(v) for v in (facts.get("cpu_model"), _gib(facts), _gpu_text(facts)) if v
            )
            parts.append(
                f"{fp} ({what or 'facts unknown'}): {runs} run(s) on {', '.join(sorted(nodes))}"
            )
        return "; ".join(parts)

    def as_dict(self) -> dict:
        return {
            "mixed": self.mixed,
            "node_types": {
                fp: {"facts": self.facts.get(fp), "nodes": nodes}
                for fp, nodes in sorted(self.groups.items())
            },
            "runs_without_fingerprint": self.unknown,
        }

    def add(self, run: str, record: RunRecord | None) -> None:
        """One finished run, by its record (None: no readable record); a run across nodes
        counts on each of its nodes, by that node's own fingerprint."""
        if record is not None and record.node_hardware:
            self._add_nodes(run, record.node_hardware)
            return
        fp = record.node_fingerprint if record is not None else None
        if record is None or not fp or not isinstance(fp, str):
            self.unknown.append(run)
            return
        node = str(record.where or "?")
        self.groups.setdefault(fp, {}).setdefault(node, []).append(run)
        if record.node_facts is not None:
            self.facts.setdefault(fp, record.node_facts)

    def _add_nodes(self, run: str, hardware: dict) -> None:
        for node, kind in sorted(hardware.items()):
            fp = kind.get("fingerprint") if isinstance(kind, dict) else None
            if not fp or not isinstance(fp, str):
                self.unknown.append(f"{run} ({node})")
                continue
            self.groups.setdefault(fp, {}).setdefault(str(node), []).append(run)
            if isinstance(kind.get("facts"), dict):
                self.facts.setdefault(fp, kind["facts"])


def _gib(facts: dict) -> str | None:
    return f"{facts['memory_gib']} GiB" if facts.get("memory_gib") is not None else None


def _gpu_text(facts: dict) -> str | None:
    models = facts.get("gpu_models") or []
    if not models:
        return "no GPU"
    return ", ".join(f"{models.count(m)}x {m}" for m in sorted(set(models)))


def node_types(layout: CampaignLayout) -> NodeTypes:
    """Group the campaign's finished runs (those with a result_N.txt) by node fingerprint."""
    out = NodeTypes()
    for bench in layout.benchmarks_recorded():
        for n, path in layout.record_files(bench).items():
            if layout.result_path(bench, n).exists():
                out.add(f"{bench}/{n}", RunRecord.load(path))
    return out


def require_one_node_type(layout: CampaignLayout, allow_mixed: bool) -> NodeTypes:
    """Raise InvalidError when the finished runs come from nodes of different kinds."""
    types = node_types(layout)
    if types.mixed and not allow_mixed:
        raise InvalidError(
            f"{layout.records_root}: the runs come from {len(types.groups)} different node types, "
            f"the RFP asks for one: {types.describe()} (pass --allow-mixed-nodes to score "
            "them anyway)"
        )
    return types
