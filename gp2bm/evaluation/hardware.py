"""The hardware a bundle claims, held against what the node reported (``docs/VERIFY.md``,
"Hardware").

Three accounts of the node travel in a bundle: the MLPerf system description (the vendor's
words, ``<org>/systems/<system>.json``), the inventory gp2bm took when the campaign started
(``inventory.json``), and every run record's facts of the node it ran on (accelerator model
and count, CPU model and logical CPUs, memory). verify compares them, with accelerator
names read as the atlas reads them (one name per accelerator, ``atlas.accelerators``):
any disagreement is a finding, and so is a missing inventory. The organisation that hands
the bundle in is the system description's ``submitter``; the fields MLCommons' result
summarizer reads as integers are integers. What the node reports can still be forged
along with the logs: only a re-run on the delivered system proves the hardware.
"""

from __future__ import annotations

from gp2bm.campaign.layout import INVENTORY_FILE
from gp2bm.campaign.record import RunRecord
from gp2bm.node.measured import MEMORY_SHARE, accelerator, contradictions, count, gib, same_cpu
from gp2bm.node.systemdesc import WHOLE_NUMBERS, detected_fields
from gp2bm.reports.view import CampaignView

# The system description's fields MLCommons' result summarizer reads with int().
INTEGER_FIELDS = WHOLE_NUMBERS
def node_accounts(records: list[RunRecord]) -> dict[str, set]:
    """What the run records say of their nodes, each fact's values."""
    accounts: dict[str, set] = {
        "gpus": set(), "models": set(), "cpu": set(), "cpus": set(), "memory": set()
    }  # fmt: skip
    for record in records:
        nodes = [
            n.get("facts") for n in (record.node_hardware or {}).values() if isinstance(n, dict)
        ]
        for facts in [f for f in nodes if isinstance(f, dict)] or [record.node_facts or {}]:
            accounts["gpus"].add(facts.get("gpu_count"))
            models = facts.get("gpu_models") or []
            accounts["models"].add(" + ".join(sorted({accelerator(m) for m in models})))
            accounts["cpu"].add(facts.get("cpu_model"))
            accounts["cpus"].add(facts.get("logical_cpus"))
            accounts["memory"].add(facts.get("memory_gib"))
    return accounts


def _claims(desc: dict, where: str) -> list[str]:
    found = [
        f"{where}: {key} {str(desc.get(key))[:30]!r} is not an integer (rule: MLCommons' "
        "result summarizer reads it as one)"
        for key in INTEGER_FIELDS
        if count(desc.get(key)) is None
    ]
    return found


def _against_inventory(desc: dict, found_fields: dict, where: str) -> list[str]:
    return [
        f"{where}: {key}: claimed {str(desc.get(key))[:60]!r}, the inventory "
        f"({INVENTORY_FILE}) gives {str(found_fields.get(key))[:60]!r}"
        for key in contradictions(desc, found_fields)
    ]


def _against_records(desc: dict, accounts: dict[str, set], where: str) -> list[str]:
    out = []
    gpus = {g for g in accounts["gpus"] if g is not None}
    claimed = count(desc.get("accelerators_per_node"))
    if gpus and gpus != {claimed}:
        out.append(
            f"{where}: accelerators_per_node {desc.get('accelerators_per_node')!r}, the run "
            f"records' nodes had {sorted(gpus)} (rule: the description is the node that ran)"
        )
    models = accounts["models"] - {None}
    if gpus and models and models != {accelerator(desc.get("accelerator_model_name"))}:
        out.append(
            f"{where}: accelerator_model_name {str(desc.get('accelerator_model_name'))[:60]!r}, "
            f"the run records' nodes had {sorted(m or 'none' for m in models)}"
        )
    out += _host_against_records(desc, accounts, where)
    cpus = {c for c in accounts["cpus"] if c is not None}
    vcpus = count(desc.get("host_processor_vcpu_count"))
    if cpus and vcpus is not None and cpus != {vcpus}:
        out.append(
            f"{where}: host_processor_vcpu_count {vcpus}, the run records' nodes had "
            f"{sorted(cpus)} logical CPUs"
        )
    return out


def _host_against_records(desc: dict, accounts: dict[str, set], where: str) -> list[str]:
    """The host processor's model and the memory capacity against the records' nodes."""
    out = []
    models = {" ".join(str(c).split()) for c in accounts["cpu"] if c}
    claimed = " ".join(str(desc.get("host_processor_model_name") or "").split())
    if models and not any(same_cpu(claimed, m) for m in models):
        out.append(
            f"{where}: host_processor_model_name {claimed[:60]!r}, the run records' nodes had "
            f"{sorted(m[:60] for m in models)}"
        )
    memory = {float(m) for m in accounts["memory"] if isinstance(m, (int, float))}
    ours = gib(desc.get("host_memory_capacity"))
    if ours is not None and any(abs(ours - m) > MEMORY_SHARE * max(m, 1.0) for m in memory):
        out.append(
            f"{where}: host_memory_capacity {desc.get('host_memory_capacity')!r}, the run "
            f"records' nodes had {sorted(memory)} GiB"
        )
    return out


def vendor_words(view: CampaignView) -> str | None:
    """What of the system description no account of the node measures: the vendor's word."""
    if view.system_desc is None:
        return None
    measured = set(detected_fields(view.inventory or {}, view.suite.nodes))
    words = sorted(k for k in view.system_desc if k not in measured)
    return (
        f"{view.relative(view.system_desc_path)}: {len(words)} field(s) in the vendor's words, "
        "not measured by the inventory"
    )


def check_hardware(view: CampaignView) -> list[str]:
    """The system description against the inventory and the run records; the submitter
    against the organisation; the integer fields."""
    desc, where = view.system_desc, view.relative(view.system_desc_path)
    if desc is None:
        return [f"{where}: missing (rule: the bundle describes its system)"]
    found = _claims(desc, where)
    if str(desc.get("submitter", "")) != view.org:
        found.append(
            f"{where}: submitter {str(desc.get('submitter'))[:60]!r}, the campaign's "
            f"organisation {view.org!r} (rule: one organisation hands it in)"
        )
    records = [run.record for runs in view.runs.values() for run in runs if run.record]
    found += _against_records(desc, node_accounts(records), where)
    if view.inventory is None:
        return found + [
            f"{INVENTORY_FILE}: missing (rule: the node's inventory is the evidence of what "
            "the system description claims)"
        ]
    return found + _against_inventory(
        desc, detected_fields(view.inventory, view.suite.nodes), where
    )
