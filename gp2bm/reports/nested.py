"""Nested JSON (an inventory, a system description) as flat (dotted key, value) rows: how
every report tabulates data whose shape it does not know in advance."""

from __future__ import annotations


def flatten(data, prefix: str = "") -> list[tuple[str, object]]:
    """Nested dicts and lists as (dotted key, scalar) pairs, for tables."""
    out: list[tuple[str, object]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            out += flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(data, list) and any(isinstance(v, (dict, list)) for v in data):
        for i, value in enumerate(data):
            out += flatten(value, f"{prefix}[{i}]")
    elif isinstance(data, list):
        out.append((prefix, ", ".join(str(v) for v in data)))
    else:
        out.append((prefix, data))
    return out
