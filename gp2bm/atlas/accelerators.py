"""One name per accelerator: the spellings submitters gave in their system descriptions
(``accelerator_model_name``), each mapped to the one name the atlas uses.

A spelling is looked up by its key: case folded, the vendor's prefix ("NVIDIA", "Nvidia
Tesla", "Habana", "Intel", "AMD", "Graphcore") and a power rating in brackets ("(400W)")
dropped, spaces and hyphens made one separator. So "NVIDIA A100-SXM4-80GB (400W)",
"NVIDIA A100-SXM4-80GB(400W)" and "A100-SXM4-80GB" are one key; "NVIDIA A100-SXM-80GB" is
listed as a spelling of it as published (the A100's only SXM form is SXM4). The power
rating is a setting of the same part, kept in the published name of each row.

A spelling that is not in the table is not guessed (``normalise_accelerator`` gives None);
``clean_accelerator`` gives its cleaned form (the atlas keeps it, and the build lists it),
so that a name that says too little ("NVIDIA A100": which memory? "TPU": which version?)
never joins another accelerator's results.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# The one name -> every published spelling of it (and the examples of MLCommons' own
# tables). Names are the part's model as NVIDIA and the others write it, form and memory
# included where the part has several.
SPELLINGS: dict[str, tuple[str, ...]] = {
    "H100-SXM5-80GB": (
        "NVIDIA H100-SXM5-80GB",
        "NVIDIA H100-SXM-80GB",
        "NVIDIA H100 80GB HBM3",
        "NVIDIA H100 SXM 80GB",
        "NVIDIA H100 SXM5 80GB",
    ),
    "H100-SXM5-96GB": ("NVIDIA H100-SXM5-96GB",),
    "H100-PCIe-80GB": ("NVIDIA H100-PCIe-80GB", "NVIDIA H100-PCIe", "NVIDIA H100 PCIe 80GB"),
    # "NVIDIA H200", "NVIDIA B200": what NVML calls the SXM parts (the PCIe card is "H200 NVL")
    "H200-SXM5-141GB": ("NVIDIA H200-SXM5-141GB", "NVIDIA H200 141GB HBM3e", "NVIDIA H200"),
    "B200-SXM-180GB": (
        "NVIDIA Blackwell GPU (B200-SXM-180GB)",
        "NVIDIA B200-SXM-180GB",
        "NVIDIA B200",
    ),
    "GB200": ("NVIDIA Blackwell GPU (GB200)", "NVIDIA GB200"),
    "A100-SXM4-80GB": (
        "NVIDIA A100-SXM4-80GB",
        "NVIDIA A100-SXM4-80GB (400W)",
        "NVIDIA A100-SXM4-80GB (500W)",
        "NVIDIA A100-SXM4-80GB(400W)",
        "A100-SXM4-80GB",
        "NVIDIA A100-SXM-80GB",
        "NVIDIA A100-SXM-80GB (400W)",
        "NVIDIA A100-SXM-80GB (500W)",
        "NVIDIA A100-SXM-80GB CTS",
    ),
    "A100-SXM4-40GB": (
        "NVIDIA A100-SXM4-40GB",
        "NVIDIA A100-SXM4-40GB (400W)",
        "NVIDIA A100-SXM4-40GB(400W)",
        "A100-SXM4-40GB",
        "NVIDIA A100-SXM-40GB",
    ),
    "A100-PCIe-80GB": (
        "NVIDIA A100-PCIe-80GB",
        "NVIDIA A100-PCIE-80GB",
        "NVIDIA A100-PCIe-80GB (300W)",
        "NVIDIA A100-PCIE-80GB (300W)",
        "NVIDIA A100 - PCIe - 80 GB",
        "NVIDIA A100 80GB PCIe",  # NVML's name of it
    ),
    "A100-PCIe-40GB": (
        "NVIDIA A100-PCIe-40GB",
        "NVIDIA A100-PCIE-40GB",
        "NVIDIA A100-PCIe-40GB (250W)",
        "NVIDIA A100-PCIE-40GB (250W)",
        "NVIDIA A100-PCIe-40GB(250W)",
    ),
    "A30-PCIe-24GB": ("NVIDIA A30", "NVIDIA A30-PCIE-24GB"),
    "A40": ("NVIDIA A40",),
    "A10G": ("NVIDIA A10G",),
    "L4": ("NVIDIA L4",),
    "L40": ("NVIDIA L40",),
    "L40S": ("NVIDIA L40S",),
    "RTX-A5000": ("NVIDIA RTX A5000",),
    "RTX-4090": ("NVIDIA GeForce RTX 4090",),
    "V100-SXM2-16GB": ("NVIDIA V100-SXM2-16GB (300W)",),
    "V100-SXM2-32GB": ("Nvidia Tesla V100-SXM2-32GB", "NVIDIA V100-SXM2-32GB"),
    "V100-SXM3-32GB": ("NVIDIA V100-SXM3-32GB (450W)",),
    "V100S-PCIe-32GB": ("Nvidia Tesla V100S-PCIe-32GB",),
    "MI300X-192GB": ("AMD Instinct MI300X 192GB HBM3", "AMD Instinct MI300X"),
    "RX-7900-XTX": ("AMD Radeon RX 7900 XTX",),
    "Gaudi": ("Habana Gaudi", "Habana Gaudi HL-205"),
    "Gaudi2": ("Habana Gaudi2", "Intel Gaudi2"),
    "IPU-GC200": ("Graphcore IPU GC200",),
    "Bow-IPU": ("Graphcore Bow IPU",),
    "Ascend-910": ("Ascend910", "Ascend 910"),
    "Ascend-910-Pro-A": ("Ascend 910 Pro A",),
    "Ascend-910-Premium-A": ("Ascend 910 Premium A",),
    "TPU-v3": ("TPU v3", "TPU-v3"),
    "TPU-v4": ("TPU-v4", "TPU v4"),
}

# What a system without accelerators writes (CPU-only submissions): no accelerator.
NO_ACCELERATOR = ("", "n/a", "na", "none", "-")

# "Tesla" alone: NVML's names of the V100 ("Tesla V100-SXM2-32GB")
_VENDORS = re.compile(r"^(nvidia tesla|nvidia|tesla|habana|intel|amd|graphcore)\s+")
_POWER = re.compile(r"\(\s*\d+\s*w\s*\)")
_SEPARATORS = re.compile(r"[\s_-]+")


def _key(name: str) -> str:
    text = " ".join(name.casefold().split())
    text = _POWER.sub(" ", text).strip()
    text = _VENDORS.sub("", text)
    return _SEPARATORS.sub("-", text).strip("-")


_BY_KEY: dict[str, str] = {}
for _name, _spellings in SPELLINGS.items():
    for _spelling in (_name, *_spellings):
        _BY_KEY[_key(_spelling)] = _name


def normalise_accelerator(name: str) -> str | None:
    """The atlas's one name of a published spelling (or of the name itself), else None."""
    return _BY_KEY.get(_key(name))


def clean_accelerator(name: str) -> str:
    """A spelling the table does not know, cleaned (vendor prefix and power rating dropped,
    one hyphen between words): "NVIDIA A100" -> "A100". Empty for "no accelerator"."""
    if has_no_accelerator(name):
        return ""
    text = _POWER.sub(" ", " ".join(name.split())).strip()
    text = re.sub(r"^(?i:nvidia tesla|nvidia|tesla|habana|intel|amd|graphcore)\s+", "", text)
    return _SEPARATORS.sub("-", text).strip("-")


def has_no_accelerator(name: str) -> bool:
    """A CPU-only system's ``accelerator_model_name`` ("N/A")."""
    return name.strip().casefold() in NO_ACCELERATOR


def named_by(name: str, names: Iterable[str]) -> list[str]:
    """The accelerators among ``names`` (one name each) that ``name`` is a shorter name of,
    whole words only: "H100" -> H100-PCIe-80GB, H100-SXM5-80GB...; "MI300X" -> MI300X-192GB.
    Empty for a name the table knows, or one no accelerator's name holds."""
    if normalise_accelerator(name) is not None:
        return []
    key = _key(name)
    if not key:
        return []
    found = set()
    for one in names:
        other = _key(one)
        if other != key and f"-{key}-" in f"-{other}-":
            found.add(one)
    return sorted(found)


def accelerator_name(name: str) -> tuple[str, bool]:
    """The name the atlas files a published spelling under, and whether the table knows it."""
    known = normalise_accelerator(name)
    return (known, True) if known is not None else (clean_accelerator(name), False)
