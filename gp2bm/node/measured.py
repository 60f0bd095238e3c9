"""A system description's claims against what a node measured: the one comparison that
``gp2bm check`` (a value typed into system.yaml against this node) and ``gp2bm verify``
(a bundle's description against its inventory and its records) make.

Counts are compared as whole numbers, accelerator names as the atlas reads them (one name
per accelerator, ``atlas.accelerators``; "N/A" and "none" are no accelerator), CPU models
without their vendor's decorations ("(R)", "CPU @ 2.4GHz"), capacities ("1.5 TB", "80 GB",
"2048 GiB") within ``MEMORY_SHARE``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from gp2bm.atlas.accelerators import accelerator_name, has_no_accelerator

# How far a memory capacity may differ between accounts (firmware reservations, rounding).
MEMORY_SHARE = 0.1


def count(value: object) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def gib(text: object) -> float | None:
    """A capacity as the system description writes it ("1.5 TB", "80 GB", "2048 GiB")."""
    m = re.fullmatch(r"\s*([\d.]+)\s*([KMGTP])i?B\s*", str(text or ""), flags=re.I)
    if not m:
        return None
    scale = {"K": 2**-20, "M": 2**-10, "G": 1, "T": 2**10, "P": 2**20}[m.group(2).upper()]
    return float(m.group(1)) * scale


def accelerator(name: object) -> str:
    """One name per accelerator ('' for none), as the atlas files it."""
    text = str(name or "").strip()
    if not text or has_no_accelerator(text) or re.match(r"(n/?a|none)\b", text, flags=re.I):
        return ""
    return " + ".join(sorted(accelerator_name(part.strip())[0] for part in text.split("+")))


def same_cpu(claimed: str, reported: str) -> bool:
    """A claimed CPU model matches what a node reported: the same words, or the claim
    is the reported name without its vendor's decorations ("(R)", "CPU @ 2.4GHz")."""

    def words(text: str) -> list[str]:
        plain = re.sub(r"\((R|TM|C)\)|\bCPU\b|@.*$|\bProcessor\b", " ", text, flags=re.I)
        return plain.lower().split()

    return claimed == reported or (bool(words(claimed)) and words(claimed) == words(reported))


def _cpu_name(value: object) -> str:
    return " ".join(str(value or "").split())


COMPARED: tuple[tuple[str, Callable[[object], object]], ...] = (
    ("accelerators_per_node", count),
    ("host_processors_per_node", count),
    ("host_processor_core_count", count),
    ("host_processor_vcpu_count", count),
    ("accelerator_model_name", accelerator),
    ("host_processor_model_name", _cpu_name),
)
CAPACITIES = ("host_memory_capacity", "accelerator_memory_capacity")


def contradictions(claimed: dict, measured: dict) -> list[str]:
    """Each field of ``claimed`` that ``measured`` (detected fields) contradicts, by name."""
    out = []
    for key, read in COMPARED:
        if key not in measured or key not in claimed:
            continue
        ours, theirs = read(claimed.get(key)), read(measured.get(key))
        if key == "host_processor_model_name":
            same = same_cpu(str(ours), str(theirs))
        else:
            same = ours == theirs
        if not same:
            out.append(key)
    for key in CAPACITIES:
        ours_gib, theirs_gib = gib(claimed.get(key)), gib(measured.get(key))
        if ours_gib is not None and theirs_gib is not None:
            if abs(ours_gib - theirs_gib) > MEMORY_SHARE * theirs_gib:
                out.append(key)
    return out
