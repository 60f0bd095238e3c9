"""One finding of a check: pass, skipped, warn or fail, with why (the fix for a failure or a
warning, the reason for a check that was not made).

The pre-flight (``preflight.py``) and every runtime's own checks (engine, GPU runtime,
images) speak this one type, so a runtime's checks live in the runtime's file. A check that
was not made (``--no-gpu``, nothing needs it) is ``skipped``, never a pass: the reader must
not take it for a GPU that was looked at and found fine.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum


class CheckStatus(StrEnum):
    """How a check ended (written as its value in JSON and on the terminal)."""

    PASS = "pass"
    SKIPPED = "skipped"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class CheckItem:
    name: str
    status: CheckStatus
    detail: str
    fix: str = ""
    blocking: bool = False

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def why(self) -> str:
        """Why it is not a pass and what to do (a failure's or a warning's fix, a skipped
        check's reason); the detail itself where a check gave no more; empty for a pass."""
        if self.status == CheckStatus.PASS:
            return ""
        return self.fix or self.detail


def ok(name: str, detail: str) -> CheckItem:
    return CheckItem(name, CheckStatus.PASS, detail)


def skipped(name: str, what: str, why: str) -> CheckItem:
    """A check that was not made: ``what`` was not looked at, and ``why``."""
    return CheckItem(name, CheckStatus.SKIPPED, what, why)


def warn(name: str, detail: str, fix: str = "") -> CheckItem:
    return CheckItem(name, CheckStatus.WARN, detail, fix)


def fail(name: str, detail: str, fix: str) -> CheckItem:
    return CheckItem(name, CheckStatus.FAIL, detail, fix, blocking=True)


def blocking(items: list[CheckItem]) -> list[CheckItem]:
    return [i for i in items if i.status == CheckStatus.FAIL and i.blocking]
