"""An argument list as one line a person pastes into a POSIX shell (bash, zsh) to run
exactly that argument list: each argument single-quoted where it needs quoting
(``shlex.quote``), and one holding a control character (a tab, a newline, ESC) written
as ANSI-C quoting (``$'a\\tb'``), so that the line shows every character and a pasted tab
is never taken for completion nor a newline for the end of the command."""

from __future__ import annotations

import shlex
from collections.abc import Iterable

_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r", "\\": "\\\\", "'": "\\'"}


def _visible(ch: str) -> bool:
    return ch.isprintable() or ch == " "


def shell_word(arg: str) -> str:
    """One argument, quoted so that the shell gives it back unchanged."""
    if all(_visible(ch) for ch in arg):
        return shlex.quote(arg)
    out = []
    for ch in arg:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif _visible(ch):
            out.append(ch)
        else:
            code = ord(ch)
            if code < 0x80:
                out.append(f"\\x{code:02x}")
            else:
                out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return "$'" + "".join(out) + "'"


def shell_line(argv: Iterable[str]) -> str:
    """The argument list as one line to paste (``shlex.join`` where nothing is hidden)."""
    return " ".join(shell_word(str(arg)) for arg in argv)
