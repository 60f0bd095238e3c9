"""Sizes as a person reads them (binary units: GiB, as memory and disks are sold in tests)."""

from __future__ import annotations

BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_bytes(n: float | None) -> str:
    """``25276510208`` -> ``23.5 GiB``; ``?`` for an unknown size."""
    if n is None:
        return "?"
    for unit in BINARY_UNITS[:-1]:
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"
