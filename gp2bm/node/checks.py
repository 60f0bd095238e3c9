"""One finding of a check: pass, warn or fail, with the fix for a failure.

The pre-flight (``preflight.py``) and every runtime's own checks (engine, GPU runtime,
images) speak this one type, so a runtime's checks live in the runtime's file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

PASS, WARN, FAIL = "pass", "warn", "fail"


@dataclass(frozen=True)
class CheckItem:
    name: str
    status: str
    detail: str
    fix: str = ""
    blocking: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def ok(name: str, detail: str) -> CheckItem:
    return CheckItem(name, PASS, detail)


def warn(name: str, detail: str, fix: str = "") -> CheckItem:
    return CheckItem(name, WARN, detail, fix)


def fail(name: str, detail: str, fix: str) -> CheckItem:
    return CheckItem(name, FAIL, detail, fix, blocking=True)


def blocking(items: list[CheckItem]) -> list[CheckItem]:
    return [i for i in items if i.status == FAIL and i.blocking]
