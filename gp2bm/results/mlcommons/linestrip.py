"""MLCommons' log parsers, their line stripping done in linear time.

Each ruleset parser of ``mlperf_logging.compliance_checker.mlp_parser`` keeps, of every line
holding its token (``:::MLLOG ``), the token and what follows: ``strip_and_dedup`` applies
``re.sub(".*" + TOKEN, TOKEN, line)`` to each such line. After its one match, the regex
engine tries every later position of the line, running ``.*`` to the end of the line and
back each time: quadratic in the line's length, and two thirds of the compliance check of a
real log (0.43 s of 0.66 s for NVIDIA's fifteen v4.0 logs).

``stripped`` gives the same string in linear time. By the regex's own semantics (``.``
matches anything but a newline, and the leftmost match wins), each newline-separated part
of a line that holds the token loses everything before the end of the token's last
occurrence in it, and parts without the token stay as they are. ``install`` puts it in
place of the function of every parser module whose code is the known one and whose token
has no regex metacharacter (``gp2bm.results.mlcommons.install`` calls it, for the pinned
release only); a module with other code (another mlperf-logging release) is left as it is,
and so is a module already done. ``tests/test_linestrip.py`` compares both on every
published log and on crafted lines.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Callable, Iterable

PARSERS = "mlperf_logging.compliance_checker.mlp_parser"
# What a regex reads as other than itself (outside verbose mode): a token holding none of
# these matches itself only.
REGEX_SPECIAL = set(".^$*+?{}[]\\|()")

# The function as mlperf-logging writes it in every ruleset parser, in a module that imports
# ``re`` as the parsers do (the compiler calls a function of an imported module another way):
# compiled here only to compare its code with the library's.
_KNOWN_SOURCE = """
import re

def strip_and_dedup(gen):
    lines = []
    for l in gen:
        if TOKEN not in l:
            continue
        lines.append(re.sub(".*"+TOKEN, TOKEN, l))
    return lines
"""


def _known_code() -> types.CodeType:
    namespace: dict = {}
    exec(compile(_KNOWN_SOURCE, "<strip_and_dedup>", "exec"), namespace)  # noqa: S102
    return namespace["strip_and_dedup"].__code__


KNOWN_CODE = _known_code()


def _part(part: str, token: str) -> str:
    at = part.rfind(token)
    return part if at < 0 else token + part[at + len(token) :]


def stripped(line: str, token: str) -> str:
    """``re.sub(".*" + re.escape(token), token, line)``, in linear time."""
    newline = line.find("\n")
    if newline < 0 or newline == len(line) - 1:  # a line as a file gives it
        return _part(line, token)
    return "\n".join(_part(part, token) for part in line.split("\n"))


def linear_strip_and_dedup(token: str) -> Callable[[Iterable[str]], list[str]]:
    """``strip_and_dedup`` of a parser module whose token is ``token``."""

    def strip_and_dedup(gen: Iterable[str]) -> list[str]:
        return [stripped(line, token) for line in gen if token in line]

    return strip_and_dedup


def _same_code(function: object) -> bool:
    code = getattr(function, "__code__", None)
    return (
        code is not None
        and code.co_code == KNOWN_CODE.co_code
        and code.co_consts == KNOWN_CODE.co_consts
        and code.co_names == KNOWN_CODE.co_names
    )


def install() -> list[str]:
    """Replace the known ``strip_and_dedup`` of every ruleset parser (each a module the
    parsers' package imports); the modules done."""
    package = importlib.import_module(PARSERS)
    done = []
    for module in list(vars(package).values()):
        if not isinstance(module, types.ModuleType) or module.__package__ != PARSERS:
            continue
        token = getattr(module, "TOKEN", None)
        function = getattr(module, "strip_and_dedup", None)
        if isinstance(token, str) and token and not set(token) & REGEX_SPECIAL:
            if _same_code(function):
                vars(module)["strip_and_dedup"] = linear_strip_and_dedup(token)
                done.append(module.__name__.rsplit(".", 1)[1])
    return done
