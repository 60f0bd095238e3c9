"""MLPerf rule checks, delegated to MLCommons' ``mlperf-logging`` library.

gp2bm does not re-implement MLCommons' rules; it calls the library and wraps its traps:

* its command-line defaults pick the newest ruleset, which has no ResNet or BERT rules any
  more and crashes on them, so every call here names the ruleset explicitly and checks
  that the ruleset has rules for the benchmark first;
* its checkers report through the root logger (calling ``logging.warning`` on a bare root
  logger installs a stderr handler for the whole process) and some always "succeed";
  here every verdict is read from the checker's own state or return value, and its log
  output is captured, not printed;
* the compliance checker keeps a module-global queue of configs, which a crashed check
  leaves dirty for the next one: it is cleared before every call.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from gp2bm.errors import InputError

USAGE = "training"


@dataclass(frozen=True)
class CheckResult:
    """Verdict of one MLCommons checker: passed, and why not in short lines."""

    name: str
    passed: bool
    messages: tuple[str, ...] = ()
    detail: dict = field(default_factory=dict)

    def summary(self) -> str:
        return "pass" if self.passed else "; ".join(self.messages) or "fail"


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@contextmanager
def captured_logging():
    """Collect what mlperf-logging logs, without leaking handlers or output."""
    root = logging.getLogger()
    handler = _Capture()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            yield handler.records
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def _package_dir(sub: str) -> Path:
    return Path(str(resources.files("mlperf_logging").joinpath(sub)))


@cache
def supported_rulesets() -> tuple[str, ...]:
    """Rulesets for which the compliance checker, the parser and the RCP checker all exist."""
    from mlperf_logging.compliance_checker import mlp_compliance

    versions = set()
    for entry in _package_dir("compliance_checker").iterdir():
        m = re.fullmatch(rf"{USAGE}_(\d+\.\d+\.\d+)", entry.name)
        if m and (entry / "common.yaml").is_file():
            versions.add(m.group(1))
    versions &= set(mlp_compliance.rule_choices())
    return tuple(sorted(versions, key=lambda v: tuple(int(x) for x in v.split("."))))


def rules_cover(ruleset: str, benchmark: str) -> bool:
    return (
        _package_dir("compliance_checker") / f"{USAGE}_{ruleset}" / f"closed_{benchmark}.yaml"
    ).is_file()


def require_ruleset(ruleset: str, benchmarks=()) -> None:
    if ruleset not in supported_rulesets():
        raise InputError(
            f"unknown ruleset '{ruleset}': mlperf-logging knows {', '.join(supported_rulesets())}"
        )
    for bench in benchmarks:
        if bench and not rules_cover(ruleset, bench):
            raise InputError(f"ruleset {ruleset} has no rules for benchmark '{bench}'")


def _short(message: str, limit: int = 200) -> str:
    """One line out of a multi-line checker message: which key, which test failed."""
    lines = [ln.strip() for ln in message.strip().splitlines() if ln.strip()]
    if not lines:
        return message.strip()
    test = None
    for i, line in enumerate(lines):
        if line.startswith("failed test:"):
            body = [line[len("failed test:") :].strip()]
            for more in lines[i + 1 :]:
                if more.startswith("current context") or more.startswith("current line"):
                    break
                body.append(more)
            test = " ".join(" ".join(body).split())
            break
    first = lines[0]
    if first.startswith("CHECK for") and test:
        first = first.split(" failed in line")[0] + f" failed: {test}"
    elif first.startswith("failed test:") and test:
        first = f"end-of-log check failed: {test}"
    elif first.startswith("Failed executing CHECK code:") and len(lines) > 1:
        first = f"check code failed: {lines[1]}"
    return first if len(first) <= limit else first[: limit - 3] + "..."


def check_compliance(path: Path, ruleset: str) -> CheckResult:
    """MLCommons' compliance checker on one result log, with an explicit ruleset."""
    from mlperf_logging.compliance_checker import mlp_compliance

    mlp_compliance.enqueued_configs.clear()
    checker = mlp_compliance.make_checker(USAGE, ruleset, quiet=False, werror=False)
    config = f"{USAGE}_{ruleset}/common.yaml"
    try:
        with captured_logging():
            valid, *_ = mlp_compliance.main(str(path), config, checker)
    except Exception as exc:  # the checker's own code can crash on odd logs
        return CheckResult(
            "compliance", False, (f"compliance checker crashed: {type(exc).__name__}: {exc}",)
        )
    finally:
        mlp_compliance.enqueued_configs.clear()
    messages = [
        *checker.overwritable.values(),
        *checker.not_overwritable,
    ]
    passed = bool(valid) and not messages
    shorts = tuple(dict.fromkeys(_short(m) for m in messages))
    return CheckResult(
        "compliance", passed, shorts, {"warnings": [_short(w) for w in checker.warnings.values()]}
    )


def check_seeds(paths: list[Path], ruleset: str) -> CheckResult:
    """MLCommons' seed checker: every run logs a seed, no two runs log the same one."""
    from mlperf_logging.package_checker.seed_checker import SeedChecker

    try:
        with captured_logging() as records:
            ok = SeedChecker(ruleset).check_seeds([str(p) for p in paths])
    except Exception as exc:
        return CheckResult("seeds", False, (f"seed checker crashed: {type(exc).__name__}: {exc}",))
    msgs = []
    for rec in records:
        if rec.levelno >= logging.ERROR:
            text = rec.getMessage()
            text = text.replace(" Seed checker failed and found the following errors: ", "")
            msgs.extend(_short(t) for t in text.split("\n") if "^^" not in t and t.strip())
    return CheckResult("seeds", bool(ok), tuple(msgs))


@dataclass(frozen=True)
class RcpResult:
    passed: bool
    message: str
    factor: float


def check_rcp(folder: Path, ruleset: str) -> RcpResult:
    """MLCommons' RCP check of one benchmark folder, and its normalisation factor.

    The library writes scaling.json into the folder only when asked (``set_scaling``); it is
    never asked here: the folder is evidence and is not modified.
    """
    from mlperf_logging.rcp_checker import rcp_checker

    try:
        with captured_logging():
            passed, msg, factor = rcp_checker.check_directory(
                str(folder),
                USAGE,
                ruleset,
                False,
                False,
                rcp_pass="pruned_rcps",
                rcp_bypass=False,
                set_scaling=False,
            )
    except Exception as exc:
        return RcpResult(False, f"RCP checker crashed: {type(exc).__name__}: {exc}", 1.0)
    return RcpResult(bool(passed), str(msg), float(factor))


def read_scaling(folder: Path) -> float | None:
    """The ``scaling_factor`` of ``scaling.json`` beside the logs, as MLCommons applies it."""
    path = Path(folder) / "scaling.json"
    if not path.exists():
        return None
    try:
        factor = json.loads(path.read_text(encoding="utf-8"))["scaling_factor"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InputError(f"{path}: not a JSON object with a numeric 'scaling_factor'") from None
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor > 0:
        raise InputError(f"{path}: 'scaling_factor' must be a positive number")
    return float(factor)
