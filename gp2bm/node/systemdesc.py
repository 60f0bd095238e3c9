"""The MLPerf system description (``<org>/systems/<system>.json``) of the node.

What the inventory detects is filled in (processors, memory, accelerators, interconnects,
OS); what only the vendor knows (submitter, division, status, system name, framework,
cooling, notes...) comes from a ``system.yaml`` the vendor edits, whose template ships
with placeholders. ``problems`` refuses placeholders and empty fields before a long
campaign, the way mlperf-sysinfo's ``check`` does, and ``mlperf_check`` asks MLCommons'
own system-description checker for its verdict, as the package checker will.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from gp2bm.errors import InputError
from gp2bm.files.units import human_bytes
from gp2bm.files.yamlfile import load_yaml
from gp2bm.results.mlcommons.rulesets import USAGE
from gp2bm.results.mlcommons.sysdesc import check_system_desc
from gp2bm.results.rules import CheckResult

PLACEHOLDER = "<FILL IN>"
SYSTEM_YAML = "system.yaml"

# The fields mlperf-logging's training system-description checker requires (4.1.68, the
# same list for every training ruleset); a test keeps this list equal to the library's.
REQUIRED_FIELDS = (
    "submitter",
    "division",
    "status",
    "system_name",
    "number_of_nodes",
    "host_processors_per_node",
    "host_processor_model_name",
    "host_processor_core_count",
    "host_processor_vcpu_count",
    "host_processor_frequency",
    "host_processor_caches",
    "host_processor_interconnect",
    "host_memory_capacity",
    "host_storage_type",
    "host_storage_capacity",
    "host_networking",
    "host_networking_topology",
    "host_memory_configuration",
    "accelerators_per_node",
    "accelerator_model_name",
    "accelerator_host_interconnect",
    "accelerator_frequency",
    "accelerator_on-chip_memories",
    "accelerator_memory_configuration",
    "accelerator_memory_capacity",
    "accelerator_interconnect",
    "accelerator_interconnect_topology",
    "cooling",
    "hw_notes",
    "framework",
    "other_software_stack",
    "operating_system",
    "sw_notes",
)
_PLACEHOLDER_RE = re.compile(r"<\s*fill[\s_-]*in\b[^>]*>|^\s*<[^<>]*>\s*$", re.IGNORECASE)


def is_placeholder(value) -> bool:
    return isinstance(value, str) and _PLACEHOLDER_RE.search(value) is not None


@dataclass
class SystemDescription:
    fields: dict[str, str]
    # where each field's value came from: "detected", "system.yaml", or "placeholder"
    sources: dict[str, str] = field(default_factory=dict)
    system_yaml: Path | None = None


@dataclass(frozen=True)
class FieldProblem:
    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


# ---------------------------------------------------------------------------- system.yaml


def default_system_yaml(suite_path: Path | None) -> Path | None:
    """``system.yaml`` beside the suite manifest, if the vendor has one there."""
    if suite_path is None:
        return None
    candidate = Path(suite_path).parent / SYSTEM_YAML
    return candidate if candidate.is_file() else None


def load_vendor_fields(path: Path) -> dict[str, str]:
    """The vendor's fields: a flat mapping of MLPerf field name to text."""
    doc = load_yaml(path)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise InputError(f"{path}: expected a mapping of MLPerf system fields, got a list or text")
    out: dict[str, str] = {}
    for key, value in doc.items():
        if not isinstance(key, str):
            raise InputError(f"{path}: field name {key!r} is not text")
        if key not in REQUIRED_FIELDS:
            close = difflib.get_close_matches(key, REQUIRED_FIELDS, n=1, cutoff=0.85)
            if close:
                raise InputError(f"{path}: unknown field '{key}' (did you mean '{close[0]}'?)")
        if value is None:
            out[key] = ""
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InputError(
                f"{path}: at {key}: expected text or a number, got {type(value).__name__}"
            )
        else:
            # MLCommons' checker joins some fields as text: numbers must be strings there.
            out[key] = str(value).strip()
    return out


# ---------------------------------------------------------------------------- detection


def _mhz(value) -> str | None:
    return f"{value:.0f} MHz" if isinstance(value, int | float) and value > 0 else None


def _capacity(n) -> str | None:
    return human_bytes(n).replace(".0 ", " ") if isinstance(n, int | float) and n > 0 else None


def detected_fields(inventory: dict, nodes: int = 1) -> dict[str, str]:
    """Every system field the inventory can answer; a field it cannot answer is left out."""
    out: dict[str, str | None] = {"number_of_nodes": str(nodes)}
    cpu = inventory.get("cpu") or {}
    if "error" not in cpu:
        caches = cpu.get("caches") or {}
        out.update(
            host_processors_per_node=_str(cpu.get("sockets")),
            host_processor_model_name=cpu.get("model_name"),
            host_processor_core_count=_str(cpu.get("cores_per_socket")),
            host_processor_vcpu_count=_str(cpu.get("logical_cpus")),
            host_processor_frequency=_mhz(cpu.get("max_mhz")),
            host_processor_caches=", ".join(f"{k}: {v}" for k, v in caches.items()) or None,
        )
    memory = inventory.get("memory") or {}
    out["host_memory_capacity"] = _capacity(memory.get("total_bytes"))
    out.update(_storage_fields(inventory.get("storage") or {}))
    ib = inventory.get("infiniband") or {}
    links = [
        f"{p.get('rate')}"
        for dev in ib.get("devices") or []
        for p in dev.get("ports") or []
        if (p.get("state") or "").endswith("ACTIVE") and p.get("rate")
    ]
    if links:
        kinds = {p.get("link_layer") or "InfiniBand" for d in ib["devices"] for p in d["ports"]}
        out["host_networking"] = f"{len(links)}x {'/'.join(sorted(kinds))} {links[0]}"
    out.update(_gpu_fields(inventory.get("gpus") or {}))
    osinfo = inventory.get("os") or {}
    if osinfo.get("name"):
        out["operating_system"] = f"{osinfo['name']}, kernel {osinfo.get('kernel')}"
    out["other_software_stack"] = _software_stack(inventory)
    return {k: v for k, v in out.items() if v}


def _str(value) -> str | None:
    return None if value is None else str(value)


def _storage_fields(storage: dict) -> dict:
    present = [p for p in storage.get("paths") or [] if p.get("exists") and "error" not in p]
    if not present:
        return {}
    seen: dict[str, dict] = {}
    for p in present:
        seen.setdefault(p.get("mountpoint") or p["path"], p)
    kinds = []
    for p in seen.values():
        kind = {"nvme": "NVMe SSD", "ssd": "SSD", "hdd": "HDD"}.get(p.get("device_kind") or "")
        kinds.append(f"{kind} ({p.get('fstype')})" if kind else str(p.get("fstype")))
    total = sum(p.get("total_bytes") or 0 for p in seen.values())
    return {
        "host_storage_type": ", ".join(dict.fromkeys(kinds)),
        "host_storage_capacity": _capacity(total),
    }


def _gpu_fields(gpus: dict) -> dict:
    if "error" in gpus and "gpus" not in gpus:
        return {}
    devices = gpus.get("gpus") or []
    if not devices:
        # NVML answered and counted nothing: 0 accelerators is a fact; NVML missing is not.
        return {"accelerators_per_node": "0"} if gpus.get("driver_version") else {}
    first = devices[0]
    names = list(dict.fromkeys(g.get("name") for g in devices if g.get("name")))
    out = {
        "accelerators_per_node": str(len(devices)),
        "accelerator_model_name": " + ".join(names) or None,
        "accelerator_frequency": _mhz(first.get("max_sm_clock_mhz")),
        "accelerator_memory_capacity": _capacity(first.get("memory_total_bytes")),
    }
    if first.get("pcie_generation_max"):
        out["accelerator_host_interconnect"] = (
            f"PCIe Gen{first['pcie_generation_max']} x{first.get('pcie_width_max')}"
        )
    links = first.get("nvlink_links_active")
    if links:
        version = first.get("nvlink_version")
        out["accelerator_interconnect"] = (
            f"{links}x NVLink{' ' + str(version) if version else ''} per accelerator"
        )
    elif links == 0:
        out["accelerator_interconnect"] = "PCIe (no NVLink)"
    return out


def _software_stack(inventory: dict) -> str | None:
    parts = []
    gpus = inventory.get("gpus") or {}
    if gpus.get("driver_version"):
        parts.append(f"NVIDIA driver {gpus['driver_version']}")
    if gpus.get("cuda_driver_version"):
        parts.append(f"CUDA driver API {gpus['cuda_driver_version']}")
    engines = inventory.get("engines") or {}
    docker = engines.get("docker") or {}
    if docker.get("reachable"):
        parts.append(f"Docker Engine {docker.get('version')}")
    for name, label in (("podman", "Podman"), ("apptainer", "Apptainer")):
        entry = engines.get(name) or {}
        if entry.get("present") and entry.get("version"):
            parts.append(entry["version"] if label.lower() in entry["version"].lower() else label)
    toolkit = engines.get("nvidia_container_toolkit") or {}
    if toolkit.get("present") and toolkit.get("version"):
        parts.append(toolkit["version"])
    return ", ".join(parts) or None


# ---------------------------------------------------------------------------- building


def build(
    inventory: dict,
    vendor: dict[str, str] | None = None,
    nodes: int = 1,
    system_yaml: Path | None = None,
) -> SystemDescription:
    """Detected fields, then the vendor's (a filled-in vendor value wins), then placeholders.

    A placeholder left in system.yaml does not hide a detected value; where neither says
    anything the field stays a placeholder, for ``problems`` to name.
    """
    vendor = vendor or {}
    detected = detected_fields(inventory, nodes)
    fields: dict[str, str] = {}
    sources: dict[str, str] = {}
    for name in list(REQUIRED_FIELDS) + [k for k in vendor if k not in REQUIRED_FIELDS]:
        given = vendor.get(name)
        if given is not None and not is_placeholder(given):
            fields[name], sources[name] = given, SYSTEM_YAML
        elif name in detected:
            fields[name], sources[name] = detected[name], "detected"
        else:
            fields[name], sources[name] = PLACEHOLDER, "placeholder"
    return SystemDescription(fields=fields, sources=sources, system_yaml=system_yaml)


# The fields MLCommons' result summarizer reads with int().
WHOLE_NUMBERS = ("number_of_nodes", "accelerators_per_node", "host_processors_per_node")


def problems(fields: dict[str, str]) -> list[FieldProblem]:
    """Missing, empty or placeholder fields, each named."""
    out = []
    for name in REQUIRED_FIELDS:
        value = fields.get(name)
        if value is None:
            out.append(FieldProblem(name, "missing"))
        elif is_placeholder(value):
            out.append(FieldProblem(name, f"still a placeholder ({value})"))
        elif not str(value).strip():
            out.append(FieldProblem(name, "empty (write N/A if there is nothing to say)"))
    for name, value in fields.items():
        if name not in REQUIRED_FIELDS and is_placeholder(value):
            out.append(FieldProblem(name, f"still a placeholder ({value})"))
    for name in WHOLE_NUMBERS:
        value = fields.get(name)
        if value is not None and not is_placeholder(value) and not str(value).strip().isdigit():
            out.append(
                FieldProblem(
                    name,
                    f"{str(value)[:20]!r} is not a whole number (MLCommons' result summarizer "
                    "reads it as one; 0 for a node without accelerators)",
                )
            )
    return out


def mlperf_check(fields: dict[str, str], ruleset: str, usage: str = USAGE) -> CheckResult:
    """MLCommons' system-description checker on these fields, as the package checker runs it
    (``results.mlcommons.sysdesc``)."""
    return check_system_desc(fields, ruleset, usage)



def package_step(system_file: Path, where: str) -> str:
    """The next step toward ``gp2bm package`` of the campaign at ``where`` (a shell-quoted
    path): the package itself, or, while the campaign's system description is missing or
    not filled in, the step before it."""
    fields: dict | None = None
    if system_file.is_file():
        try:
            loaded = json.loads(system_file.read_text(encoding="utf-8"))
            fields = loaded if isinstance(loaded, dict) else None
        except (OSError, ValueError):
            fields = None
    gaps = None if fields is None else problems({k: str(v) for k, v in fields.items()})
    if gaps == []:
        return f"gp2bm package {where}"
    what = "no system description" if gaps is None else f"{len(gaps)} system field(s) to fill"
    return (
        f"fill in system.yaml beside the suite ({what}), then gp2bm inventory --campaign "
        f"{where} --check, then gp2bm package {where}"
    )
