"""Inventory and record values as a person reads them: bytes in GiB, clocks in MHz, power in
W, yes/no for booleans, a dash for nothing, and an error without the Python exception repr
that a library put inside it. The JSON keeps every raw value; only the pages change."""

from __future__ import annotations

import re

from gp2bm.files.plaintext import printable
from gp2bm.files.units import human_bytes

NOTHING = "\u2013"  # an en dash: the value is unknown or absent
# Key endings -> how the number reads (the inventory's and telemetry's own naming).
UNITS = (
    ("_mhz", "MHz"),
    ("_w", "W"),
    ("_watts", "W"),
    ("_wh", "Wh"),
    ("_pct", "%"),
    ("_c", "\u00b0C"),
    ("_s", "s"),
    ("_seconds", "s"),
)
# "... version: ('Connection aborted.', FileNotFoundError(2, 'No such file'))": a tuple
# or an exception repr after the last colon is Python's, not a message for a person.
PYTHON_REPR = re.compile(r":\s*(?:\(['\"]|[A-Z][A-Za-z]*(?:Error|Exception)\().*$")


def readable_error(text: object) -> str:
    """An error message without the Python reprs a library appended; cut at 200 characters."""
    message = str(text)
    while True:
        shorter = PYTHON_REPR.sub("", message).rstrip(" :")
        if shorter == message or not shorter:
            break
        message = shorter
    return printable(message, 200)


def _number(key: str, value: float) -> str:
    if key.endswith("_bytes"):
        return human_bytes(value)
    for ending, unit in UNITS:
        if key.endswith(ending):
            shown = f"{value:.0f}" if abs(value) >= 100 else f"{value:g}"
            return f"{shown} {unit}" if unit != "%" else f"{shown} %"
    return f"{value:g}" if isinstance(value, float) else str(value)


def human_value(key: str, value: object) -> str:
    """``value`` of the (dotted) ``key`` as a person reads it."""
    last = key.rsplit(".", 1)[-1].lower()
    if value is None:
        return NOTHING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return _number(last, value)
    if last == "error" or last.endswith("_error"):
        return readable_error(value)
    return str(value)
