"""The node described for a suite: its inventory and the MLPerf system description built from
it, and where both are written (a campaign folder, or a folder of the user's choice).

``<root>/inventory.json`` (with nvidia-smi's raw text beside it) and
``<root>/<org>/systems/<system>.json``, the file MLCommons' package checker reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gp2bm.campaign.folder import Campaign
from gp2bm.campaign.layout import INVENTORY_FILE, CampaignLayout
from gp2bm.errors import InputError
from gp2bm.files.jsonfile import write_json_atomic
from gp2bm.node.inventory import collect, data_paths_of, default_probes, write_inventory
from gp2bm.node.systemdesc import (
    FieldProblem,
    SystemDescription,
    build,
    default_system_yaml,
    load_vendor_fields,
)
from gp2bm.results.rules import CheckResult
from gp2bm.spec.suite import Suite

SYSTEM_JSON = "system.json"


@dataclass
class NodeRecord:
    """The inventory and the system description built from it."""

    inventory: dict
    description: SystemDescription


def describe_node(suite: Suite, manifests: dict, system_yaml: Path | None) -> NodeRecord:
    """Probe this node (and the storage of the suite's data sets) and describe it, with the
    vendor's fields from ``system_yaml`` when there is one."""
    vendor = load_vendor_fields(system_yaml) if system_yaml else {}
    inventory = collect(default_probes(data_paths_of(manifests)))
    return NodeRecord(inventory, build(inventory, vendor, suite.nodes, system_yaml))


def write_node_record(
    record: NodeRecord, layout: CampaignLayout, replace: bool = True
) -> list[Path]:
    """The campaign's inventory.json (+ nvidia-smi text) and its system description
    (kept when it exists and ``replace`` is false: the vendor may have written it already)."""
    written = write_inventory(record.inventory, layout.inventory_file)
    path = layout.system_file
    if replace or not path.exists():
        write_json_atomic(path, record.description.fields)
        written.append(path)
    return written


def write_described(
    record: NodeRecord, folder: Path | None, campaign: CampaignLayout | None
) -> list[Path]:
    """``inventory --out`` and ``--campaign``: the record written into each place given;
    a place that cannot be written is one line naming it (exit 2)."""
    written: list[Path] = []
    for place in (folder, campaign):
        if place is None:
            continue
        try:
            if isinstance(place, CampaignLayout):
                written += write_node_record(record, place)
            else:
                written += write_node_folder(record, place)
        except OSError as exc:
            where = place.root if isinstance(place, CampaignLayout) else place
            raise InputError(f"{where}: cannot write there: {exc.strerror or exc}") from None
    return written


def write_node_folder(record: NodeRecord, folder: Path) -> list[Path]:
    """``inventory --out FOLDER``: the inventory files and ``system.json``, side by side."""
    written = write_inventory(record.inventory, folder / INVENTORY_FILE)
    write_json_atomic(folder / SYSTEM_JSON, record.description.fields)
    return written + [folder / SYSTEM_JSON]


def record_node_once(
    campaign: Campaign, manifests: dict, warn: Callable[[str], None]
) -> list[Path]:
    """At a campaign's first start: its inventory and system description, never rewritten.

    The vendor's system.yaml is optional here, and a broken one is reported through ``warn``,
    not fatal: `gp2bm inventory --campaign DIR` rewrites the description once it is fixed.
    """
    if campaign.layout.inventory_file.exists():
        return []
    system_yaml = default_system_yaml(campaign.suite.path)
    try:
        record = describe_node(campaign.suite, manifests, system_yaml)
    except InputError as exc:
        warn(f"{exc}; the system description keeps placeholders")
        record = describe_node(campaign.suite, manifests, None)
    return write_node_record(record, campaign.layout, replace=False)


def description_summary(
    record: NodeRecord,
    yaml_path: Path | None,
    ruleset: str,
    found: list[FieldProblem],
    verdict: CheckResult | None,
) -> dict:
    """The system description as ``inventory --json`` reports it beside the inventory."""
    summary: dict[str, object] = {
        "system_yaml": str(yaml_path) if yaml_path else None,
        "ruleset": ruleset,
        "fields": record.description.fields,
        "sources": record.description.sources,
        "problems": [{"field": p.field, "problem": p.problem} for p in found],
    }
    if verdict is not None:
        summary["mlperf_logging"] = {"passed": verdict.passed, "messages": list(verdict.messages)}
    return summary
