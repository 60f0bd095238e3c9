"""What ``gp2bm verify`` finds, and how two claims are compared.

Every finding is of one class of the trust model (``docs/VERIFY.md``):

* **recomputed**: a claim that does not recompute from the raw logs under the reference
  rules (``differences``: the bundle claims what its logs do not give; ``problems``: the
  logs give no valid result, a checker fails; a rule of the bundle's suite that is not the
  reference's);
* **cross-checked**: two accounts of the same run that contradict each other, or a piece of
  evidence that is missing (``contradictions``: the log against its record, gp2bm's own
  lines, the campaign, the attempts, the inventory, the system description);
* **reservation**: what weakens the result without breaking a rule (the trust ledger),
  verified only when the evaluator accepts it by name.

What no bundle can prove (that the runs happened on the hardware claimed) is said, never
checked. The bundle is verified when there is no recomputed and no cross-checked finding
and every reservation is accepted; what is only the vendor's word is listed apart
(``unverifiable``).

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
from typing import TYPE_CHECKING

from gp2bm.errors import InvalidError

if TYPE_CHECKING:  # the view is made by verify; this module stays light
    from gp2bm.reports.view import CampaignView

RECOMPUTED = "recomputed"
CROSS_CHECKED = "cross-checked"
RESERVATION = "reservation"
# What no bundle can prove, whatever verify finds in it.
NOT_PROVABLE = (
    "that the runs happened on the hardware claimed, when and with the data claimed: only a "
    "re-run on the delivered system shows it; the published results (gp2bm atlas) only say "
    "whether the claim is plausible"
)


@dataclass
class Verification:
    bundle: Path
    differences: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    contradictions: list[str] = field(default_factory=list)
    reservations: list[dict] = field(default_factory=list)  # name, text, runs, accepted
    unverifiable: list[str] = field(default_factory=list)
    checked: dict = field(default_factory=dict)
    score: float | None = None
    score_interval: dict | None = None  # the recomputed score's 95 % interval
    benchmarks: dict[str, dict] = field(default_factory=dict)  # official_summary of each
    reference: dict = field(default_factory=dict)  # the rules the bundle was held to
    ledger: dict = field(default_factory=dict)
    ledger_lines: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)  # reservations the evaluator accepts
    # the bundle read as a campaign and recomputed (for ``accept``; never in the JSON)
    view: CampaignView | None = field(default=None, repr=False, compare=False)

    def add(self, other: Verification) -> None:
        """The findings of ``other`` (a part checked elsewhere) after these."""
        self.differences += other.differences
        self.problems += other.problems
        self.contradictions += other.contradictions
        self.unverifiable += other.unverifiable
        self.checked.update(other.checked)

    def reserve(self, name: str, text: str, runs: list[str]) -> None:
        self.reservations.append(
            {"name": name, "text": text, "runs": runs, "accepted": name in self.accepted}
        )

    @property
    def open_reservations(self) -> list[dict]:
        return [r for r in self.reservations if not r["accepted"]]

    @property
    def ok(self) -> bool:
        return not (
            self.differences or self.problems or self.contradictions or self.open_reservations
        )

    def findings(self) -> list[dict]:
        """Every finding with its class, in the order of the trust model."""
        out = [{"class": RECOMPUTED, "text": t} for t in self.differences + self.problems]
        out += [{"class": CROSS_CHECKED, "text": t} for t in self.contradictions]
        out += [
            {"class": RESERVATION, "text": f"{r['name']}: {r['text']}", "accepted": r["accepted"]}
            for r in self.reservations
        ]
        return out

    def as_dict(self) -> dict:
        return {
            "bundle": str(self.bundle),
            "ok": self.ok,
            "verified": self.ok,
            "score": self.score,
            "score_interval": self.score_interval,
            "benchmarks": dict(self.benchmarks),
            "reference": dict(self.reference),
            "ledger": dict(self.ledger),
            "ledger_lines": list(self.ledger_lines),
            "accepted": list(self.accepted),
            "findings": self.findings(),
            "differences": list(self.differences),
            "problems": list(self.problems),
            "contradictions": list(self.contradictions),
            "reservations": list(self.reservations),
            "unverifiable": list(self.unverifiable),
            "not_provable": NOT_PROVABLE,
            "checked": dict(self.checked),
        }

    def failure(self) -> InvalidError | None:
        """The error to exit with when anything differs, contradicts or is reserved and not
        accepted; the first finding, with its class."""
        if self.ok:
            return None
        open_ = [f for f in self.findings() if not f.get("accepted")]
        first = open_[0]
        return InvalidError(
            f"{self.bundle}: not verified: {len(open_)} finding(s); first ({first['class']}): "
            f"{first['text']}"
        )


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
