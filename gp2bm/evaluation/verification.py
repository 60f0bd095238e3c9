"""What ``gp2bm verify`` finds, and how two claims are compared.

A finding is a difference (the bundle claims something its logs do not give), a problem
(the logs give no valid result, a checker fails) or an unverifiable claim (something only
the vendor can know: when the bundle was made, the words of the system description that no
inventory measures). The bundle passes when there is no difference and no problem; what is
unverifiable is listed, never silently believed.

MLCommons' checkers name files by absolute path in their messages (and gp2bm cuts a long
message short): a message written when the bundle was made names the folder it was made
in, the same message recomputed names the folder verify extracted it to. So texts are
compared with every absolute path in them read as one token, ``<path>``; numbers and all
other text are compared as they are.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from gp2bm.errors import InvalidError


@dataclass
class Verification:
    bundle: Path
    differences: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unverifiable: list[str] = field(default_factory=list)
    checked: dict = field(default_factory=dict)
    score: float | None = None
    benchmarks: dict[str, dict] = field(default_factory=dict)  # official_summary of each

    def add(self, other: Verification) -> None:
        """The findings of ``other`` (a part checked elsewhere) after these."""
        self.differences += other.differences
        self.problems += other.problems
        self.unverifiable += other.unverifiable
        self.checked.update(other.checked)

    @property
    def ok(self) -> bool:
        return not self.differences and not self.problems

    def as_dict(self) -> dict:
        return {
            "bundle": str(self.bundle),
            "ok": self.ok,
            "score": self.score,
            "benchmarks": dict(self.benchmarks),
            "differences": list(self.differences),
            "problems": list(self.problems),
            "unverifiable": list(self.unverifiable),
            "checked": dict(self.checked),
        }

    def failure(self) -> InvalidError | None:
        """The error to exit with when anything differs or is wrong; the first finding."""
        if self.ok:
            return None
        first = (self.differences or self.problems)[0]
        count = len(self.differences) + len(self.problems)
        return InvalidError(f"{self.bundle}: {count} finding(s); first: {first}")


# An absolute path in a text: "/" not after a letter, digit, dot, "<" or ":" (so neither
# "7.19/R", "</td>" nor "https://" starts one), up to a space, a quote or a bracket.
ABSOLUTE_PATH_RE = re.compile(r"(?<![\w.<:/])/[^\s'\"<>()\[\]]+")


def comparable(text: str) -> str:
    """A text with its absolute paths read as ``<path>`` (see the module's docstring)."""
    return ABSOLUTE_PATH_RE.sub("<path>", text)


def close(a, b) -> bool:
    """Equal, numbers to 1e-12 relative (what JSON and a spreadsheet keep of a float),
    texts but their absolute paths (``comparable``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)
    if isinstance(a, str) and isinstance(b, str):
        return a == b or comparable(a) == comparable(b)
    return a == b


def compare(claimed, actual, path: str = "") -> list[str]:
    """Where two JSON values differ, as 'path: claimed X, recomputed Y' lines.

    Lists of runs are matched by their file name so that a line names the run.
    """
    here = path or "(top)"
    if isinstance(claimed, dict) and isinstance(actual, dict):
        out = []
        for key in list(claimed) + [k for k in actual if k not in claimed]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in actual:
                out.append(f"{sub}: claimed but not recomputed")
            elif key not in claimed:
                out.append(f"{sub}: recomputed but not claimed")
            else:
                out += compare(claimed[key], actual[key], sub)
        return out
    if isinstance(claimed, list) and isinstance(actual, list):
        return _compare_lists(claimed, actual, path)
    if not close(claimed, actual):
        return [f"{here}: claimed {claimed!r}, recomputed {actual!r}"]
    return []


def _compare_lists(claimed: list, actual: list, path: str) -> list[str]:
    keyed = all(isinstance(x, dict) and "file" in x for x in claimed + actual)
    if keyed:
        a = {x["file"]: x for x in claimed}
        b = {x["file"]: x for x in actual}
        out = [f"{path}[{f}]: claimed run not in the logs" for f in a if f not in b]
        out += [f"{path}[{f}]: run in the logs but not claimed" for f in b if f not in a]
        for f in a:
            if f in b:
                out += compare(a[f], b[f], f"{path}[{f}]")
        return out
    if len(claimed) != len(actual):
        return [f"{path or '(top)'}: claimed {claimed!r}, recomputed {actual!r}"]
    out = []
    for i, (x, y) in enumerate(zip(claimed, actual, strict=True)):
        out += compare(x, y, f"{path}[{i}]")
    return out


def same_text(claimed: str, actual: str) -> bool:
    """Two texts (a report, a README) alike but for their absolute paths."""
    return claimed == actual or comparable(claimed) == comparable(actual)


def first_difference(claimed: str, actual: str, width: int = 60) -> str:
    """Where two texts first differ (but for their absolute paths): the line and a little
    of each side."""
    claimed, actual = comparable(claimed), comparable(actual)
    n = next(
        (i for i, (x, y) in enumerate(zip(claimed, actual, strict=False)) if x != y),
        min(len(claimed), len(actual)),
    )
    line = claimed.count("\n", 0, n) + 1
    start = max(0, n - 20)
    return (
        f"line {line}: the bundle has {claimed[start : start + width]!r}, the logs give "
        f"{actual[start : start + width]!r}"
    )
