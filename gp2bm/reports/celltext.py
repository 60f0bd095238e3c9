"""Text that reaches a spreadsheet stays text (OWASP's CSV-injection rules).

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
taken for a formula by spreadsheet programs (``=cmd|"/c calc"!A1``). Such text comes from
the vendor (``--changes``, ``--test``, ``--proposed``, the system description, names) and
from the logs. In a CSV it gets a leading apostrophe, as OWASP advises; in a workbook it is
written as a string cell with Excel's quote prefix (the text itself unchanged, never a
formula). Numbers are never touched: they stay numbers.
"""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def risky(text: str) -> bool:
    """Whether a spreadsheet would read this text as a formula."""
    return text.startswith(FORMULA_START)


def csv_text(text: str) -> str:
    """A CSV field for free text: prefixed with an apostrophe when it starts like a formula."""
    return "'" + text if risky(text) else text


def put_text(cell, text: str) -> None:
    """Write text into an openpyxl cell as a string cell, never as a formula."""
    cell.value = text
    if cell.data_type in ("f", "e"):  # openpyxl reads "=..." as a formula, "#N/A" as an error
        cell.data_type = "s"
    if risky(text):
        cell.quotePrefix = True  # Excel shows it as typed and keeps it text when edited


def put_value(cell, value) -> None:
    """A number (or nothing) as it is, anything else as text (``put_text``)."""
    if value is None or isinstance(value, (bool, int, float)):
        cell.value = value
    else:
        put_text(cell, str(value))
