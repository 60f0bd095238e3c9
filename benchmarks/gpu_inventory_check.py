#!/usr/bin/env python3
"""gp2bm's GPU inventory (real NVML) compared field by field with ``nvidia-smi -q -x``.

    python benchmarks/gpu_inventory_check.py INVENTORY.json NVIDIA_SMI_Q.xml

Prints one line per GPU and field: gp2bm's value, nvidia-smi's, and whether they agree;
exits 1 when a field both report differs, 0 otherwise (a field one of them lacks is shown,
not failed).
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

MIB = 1024 * 1024


def _text(node: ET.Element, path: str) -> str | None:
    found = node.find(path)
    return None if found is None or found.text is None else found.text.strip()


def _watts(text: str | None) -> float | None:
    try:
        return None if text is None else float(text.split()[0])
    except ValueError:
        return None


def _mib(text: str | None) -> int | None:
    try:
        return None if text is None else int(text.split()[0])
    except ValueError:
        return None


def _mode(text: str | None) -> str | None:
    return None if text is None else text.strip().lower()


def smi_fields(gpu: ET.Element) -> dict[str, object]:
    limit = _text(gpu, "gpu_power_readings/current_power_limit") or _text(
        gpu, "power_readings/power_limit"
    )
    return {
        "name": _text(gpu, "product_name"),
        "uuid": _text(gpu, "uuid"),
        "serial": _text(gpu, "serial"),
        "vbios": _text(gpu, "vbios_version"),
        "pci_bus_id": _text(gpu, "pci/pci_bus_id"),
        "memory_total_mib": _mib(_text(gpu, "fb_memory_usage/total")),
        "enforced_power_limit_w": _watts(limit),
        "persistence_mode": _mode(_text(gpu, "persistence_mode")),
    }


def ours(gpu: dict) -> dict[str, object]:
    total = gpu.get("memory_total_bytes")
    return {
        "name": gpu.get("name"),
        "uuid": gpu.get("uuid"),
        "serial": gpu.get("serial"),
        "vbios": gpu.get("vbios"),
        "pci_bus_id": gpu.get("pci_bus_id"),
        "memory_total_mib": None if total is None else int(total) // MIB,
        "enforced_power_limit_w": gpu.get("enforced_power_limit_w"),
        "persistence_mode": _mode(gpu.get("persistence_mode")),
    }


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) < 0.5  # type: ignore[arg-type]
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower() or a.lower().endswith(b.lower()[-12:])
    return a == b


def main(argv: list[str]) -> int:
    inventory = json.loads(Path(argv[0]).read_text())
    root = ET.parse(argv[1]).getroot()
    gpus = inventory["gpus"]["gpus"]
    smi = root.findall("gpu")
    bad = 0
    print(f"driver: gp2bm {inventory['gpus'].get('driver_version')}, "
          f"nvidia-smi {_text(root, 'driver_version')}")
    if len(gpus) != len(smi):
        print(f"GPU count: gp2bm {len(gpus)}, nvidia-smi {len(smi)}: DIFFER")
        bad += 1
    for mine, theirs in zip(gpus, smi, strict=False):
        a, b = ours(mine), smi_fields(theirs)
        for field in a:
            if a[field] is None or b[field] is None:
                verdict = "one side has none"
            elif _same(a[field], b[field]):
                verdict = "same"
            else:
                verdict = "DIFFER"
                bad += 1
            print(f"gpu{mine.get('index')} {field}: gp2bm {a[field]!r}, nvidia-smi "
                  f"{b[field]!r}: {verdict}")
    print(f"{bad} field(s) differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
