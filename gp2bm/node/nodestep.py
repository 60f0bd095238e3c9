"""What gp2bm does on one node of a run across nodes, just before the run: say which node
it is (name, host, hardware fingerprint and the facts hashed), check it (GPUs, runtime,
cache drop, data folders), describe it once per campaign (its inventory), then drop its page
cache. One JSON object, printed by ``gp2bm node-step`` on every node of the run's
allocation and gathered by ``gp2bm.node.allocation.run_each``.
"""

from __future__ import annotations

import socket
from pathlib import Path

from gp2bm.campaign.layout import CampaignFiles
from gp2bm.files.jsonfile import read_json_or_empty
from gp2bm.node.cachedrop import drop_page_cache
from gp2bm.node.fingerprint import fingerprint, hardware_facts, node_name
from gp2bm.node.inventory import collect, data_paths_of, default_probes, write_inventory
from gp2bm.node.preflight import Preflight, node_checks


def node_inventory(campaign_root: Path, node: str, manifests: dict) -> str:
    """The node's inventory in the campaign, written the first time the node is used;
    returns where, relative to the campaign."""
    files = CampaignFiles(Path(campaign_root))
    path = files.node_inventory_file(node)
    if not read_json_or_empty(path):
        write_inventory(collect(default_probes(data_paths_of(manifests))), path)
    return files.relative(path)


def node_step(p: Preflight, drop: bool, drop_command: list[str] | None) -> dict:
    """This node: who it is, its checks, its inventory (in the campaign), its cache drop."""
    name = node_name()
    facts = hardware_facts()
    out = {
        "node": name,
        "host": socket.gethostname(),
        "fingerprint": fingerprint(facts),
        "facts": facts,
        "checks": [item.as_dict() for item in node_checks(p)],
        "inventory": None,
    }
    if p.campaign_root is not None:
        try:
            out["inventory"] = node_inventory(p.campaign_root, name, p.manifests)
        except OSError as exc:
            out["inventory_error"] = f"{exc.strerror or exc}"
    out["cache_drop"] = drop_page_cache(drop_command).as_dict() if drop else None
    return out
