"""MLCommons' system-description checker, on the fields of a system description.

The checker reads a file and reports through the root logger: it gets a temporary file, its
log is captured, and its verdict is its return value.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from mlperf_logging.system_desc_checker import system_desc_checker

from gp2bm.results.mlcommons import install
from gp2bm.results.mlcommons.capture import captured_logging
from gp2bm.results.mlcommons.rulesets import USAGE
from gp2bm.results.rules import CheckResult

NAME = "system_description"


def check_system_desc(fields: dict[str, str], ruleset: str, usage: str = USAGE) -> CheckResult:
    """MLCommons' system-description checker on these fields, as the package checker runs it
    (a crash of the checker is a failed check that says so)."""
    install()
    with tempfile.TemporaryDirectory(prefix="gp2bm-system-") as tmp:
        path = Path(tmp) / "system.json"
        path.write_text(json.dumps(fields, indent=2), encoding="utf-8")
        with captured_logging() as records:
            try:
                valid, *_ = system_desc_checker.check_system_desc(str(path), usage, ruleset)
            except Exception as exc:  # noqa: BLE001 - a crash of the checker is a failed check
                return CheckResult(NAME, False, (f"checker crashed: {type(exc).__name__}: {exc}",))
    messages = tuple(
        " ".join(r.getMessage().split()) for r in records if r.levelname in ("ERROR", "WARNING")
    )
    return CheckResult(NAME, bool(valid), messages)
