"""Text from outside (a log, a suite, a command line) made fit for a terminal line or a
report cell: characters that would not show as themselves are escaped (an ANSI escape could
clear the screen or recolour a verdict, a bidi override reverse what follows it, a NUL end a
C string, a line separator start a line), and a text is cut at a length.

What is escaped: the Unicode categories of controls (Cc), format characters (Cf: bidi
marks, zero-width characters), line and paragraph separators (Zl, Zp), surrogates,
private-use and unassigned code points.
"""

from __future__ import annotations

import unicodedata

HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cn", "Co", "Cs"})
ELLIPSIS = "..."
# The longest line a command prints of text it did not write itself (a finding, a checker's
# message, an error naming a member of a bundle): longer ones are cut.
LINE_LIMIT = 4000


def is_hidden(ch: str) -> bool:
    return unicodedata.category(ch) in HIDDEN_CATEGORIES


def hidden_characters(text: str) -> list[str]:
    """The characters of ``text`` that would not show as themselves (``U+001B``...), each
    once, in order."""
    found: list[str] = []
    for ch in text:
        code = f"U+{ord(ch):04X}"
        if is_hidden(ch) and code not in found:
            found.append(code)
    return found


def printable(text: object, limit: int | None = None) -> str:
    """``text`` with every hidden character escaped as Python writes it (``\\x1b``,
    ``\\u202e``) and, past ``limit`` characters, cut with "..."."""
    text = str(text)
    cut = text if limit is None else text[:limit]
    out = "".join(ascii(ch)[1:-1] if is_hidden(ch) else ch for ch in cut)
    return out + (ELLIPSIS if limit is not None and len(text) > limit else "")


def terminal_line(text: object, limit: int = LINE_LIMIT) -> str:
    """One line for the terminal: ``printable`` with the line limit (a newline is shown as
    ``\\n``, so a text can never start a line of its own)."""
    return printable(text, limit)
