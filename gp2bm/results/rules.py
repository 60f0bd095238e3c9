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
  leaves dirty for the next one: it is cleared before every call;
* it parses its rule files (YAML) again for every log, a quarter of its time: the parse
  of each rule file is kept (``RuleFiles``), and the checker is given a copy of it each
  time, so that it runs the same rules on the same data, once parsed;
* its log parsers strip each line with a regex that takes time quadratic in the line's
  length: ``linestrip`` gives them the same function in linear time;
* its RCP checker imports all of scipy.stats for one t-test: ``rcpmodule`` imports it
  with that t-test computed the same way from scipy.special.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import re
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from mlperf_logging.compliance_checker import mlp_compliance, mlp_parser
from mlperf_logging.package_checker.seed_checker import SeedChecker

from gp2bm.errors import InputError
from gp2bm.files.plaintext import printable
from gp2bm.results import linestrip
from gp2bm.results.rcpmodule import rcp_checker
from gp2bm.results.runlog import MAX_RECORD_BYTES, oversize

USAGE = "training"


class RuleFiles:
    """The ``yaml`` the compliance checker sees: ``load`` of a rule file keeps its parse,
    by path, size, modification time and loader, and hands out a copy of it; the rest is
    PyYAML's."""

    def __init__(self, yaml_module):
        self.yaml = yaml_module
        self.parsed: dict[tuple, object] = {}

    def load(self, stream, Loader):  # noqa: N803 - PyYAML's name
        name = getattr(stream, "name", None)
        if not isinstance(name, str):
            return self.yaml.load(stream, Loader=Loader)
        st = os.stat(name)
        key = (name, st.st_size, st.st_mtime_ns, Loader)
        if key not in self.parsed:
            self.parsed[key] = self.yaml.load(stream, Loader=Loader)
        return copy.deepcopy(self.parsed[key])

    def __getattr__(self, attr: str):
        return getattr(self.yaml, attr)


if not isinstance(mlp_compliance.yaml, RuleFiles):
    mlp_compliance.yaml = RuleFiles(mlp_compliance.yaml)
linestrip.install()


@dataclass(frozen=True)
class CheckResult:
    """Verdict of one MLCommons checker: passed, and why not in short lines."""

    name: str
    passed: bool
    messages: tuple[str, ...] = ()
    detail: dict = field(default_factory=dict)

    def summary(self) -> str:
        return "pass" if self.passed else "; ".join(self.messages) or "fail"

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "passed": self.passed,
            "messages": list(self.messages),
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: dict) -> CheckResult:
        return cls(
            str(data["name"]), bool(data["passed"]), tuple(data["messages"]), dict(data["detail"])
        )


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
        return printable(message.strip(), limit)
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
    # a checker message quotes the log, which may hold escapes meant for a terminal
    return printable(first if len(first) <= limit else first[: limit - 3] + "...")


def check_compliance(path: Path, ruleset: str) -> CheckResult:
    """MLCommons' compliance checker on one result log, with an explicit ruleset (not run on
    a log over runlog.MAX_CHECKED_LOG_BYTES: a failed check saying so)."""
    too_large = oversize(path)
    if too_large:
        return CheckResult("compliance", False, (too_large,))
    mlp_compliance.enqueued_configs.clear()
    checker = mlp_compliance.make_checker(USAGE, ruleset, quiet=False, werror=False)
    try:
        with captured_logging():
            valid, *_ = mlp_compliance.main(str(path), _config(ruleset), checker)
    except Exception as exc:  # the checker's own code can crash on odd logs
        return _crashed(exc)
    finally:
        mlp_compliance.enqueued_configs.clear()
    return _verdict(checker, valid)


def _config(ruleset: str) -> str:
    return f"{USAGE}_{ruleset}/common.yaml"


def _crashed(exc: Exception) -> CheckResult:
    return CheckResult(
        "compliance", False, (f"compliance checker crashed: {type(exc).__name__}: {exc}",)
    )


def _verdict(checker, valid) -> CheckResult:
    messages = [
        *checker.overwritable.values(),
        *checker.not_overwritable,
    ]
    passed = bool(valid) and not messages
    shorts = tuple(dict.fromkeys(_short(m) for m in messages))
    return CheckResult(
        "compliance", passed, shorts, {"warnings": [_short(w) for w in checker.warnings.values()]}
    )


def check_log(path: Path, ruleset: str) -> tuple[CheckResult, SeedRecords]:
    """The compliance verdict and the seed records of one log, from ONE parse by MLCommons'
    parser (parsing is a third of the checking time): the same as ``check_compliance`` and
    ``seed_records``, which each parse the file (tests/test_score_checks.py compares them)."""
    too_large = oversize(path)
    if too_large:
        return CheckResult("compliance", False, (too_large,)), SeedRecords((), too_large)
    try:
        loglines, errors = mlp_parser.parse_file(str(path), ruleset=ruleset)
    except Exception as exc:  # as the checkers would each meet it
        return _crashed(exc), SeedRecords((), str(exc))
    mlp_compliance.enqueued_configs.clear()
    checker = mlp_compliance.make_checker(USAGE, ruleset, quiet=False, werror=False)
    try:
        with captured_logging():
            # ComplianceChecker.check_file, on the lines already parsed
            if errors:
                checker.put_message("Log lines had parsing errors.")
            checker.check_loglines(loglines, _config(ruleset))
            checker.log_messages()
            valid = not checker.has_messages()
        compliance = _verdict(checker, valid)
    except Exception as exc:
        compliance = _crashed(exc)
    finally:
        mlp_compliance.enqueued_configs.clear()
    return compliance, _seeds_of(loglines, errors)


def _seeds_of(loglines, errors) -> SeedRecords:
    """SeedChecker._get_seed_records, on the lines already parsed."""
    if errors:
        return SeedRecords(
            (),
            "\n".join(
                ["Found parsing errors:"]
                + [f"{line}\n  ^^  {error}" for line, error in errors]
                + ["", "Log lines had parsing errors."]
            ),
        )
    try:
        found = tuple(
            (ln.value["metadata"]["file"], ln.value["metadata"]["lineno"], int(ln.value["value"]))
            for ln in loglines
            if ln.key == "seed"
        )
    except Exception as exc:
        return SeedRecords((), str(exc))
    return SeedRecords(found)


@dataclass(frozen=True)
class SeedRecords:
    """The seeds one result log records, as MLCommons' seed checker reads them: (source
    file, line, seed) per ``seed`` line; or why they cannot be read."""

    records: tuple[tuple, ...] = ()  # (file, lineno, seed) as the log gives them
    error: str | None = None

    def to_dict(self) -> dict:
        return {"records": [list(r) for r in self.records], "error": self.error}

    @classmethod
    def from_dict(cls, data: dict) -> SeedRecords:
        return cls(tuple(tuple(record) for record in data["records"]), data["error"])


def seed_records(path: Path, ruleset: str) -> SeedRecords:
    """One log's seed records, read by MLCommons' seed checker itself (one log at a time, so
    that logs can be read in parallel; ``check_seeds`` then compares them)."""
    too_large = oversize(path)
    if too_large:
        return SeedRecords((), too_large)
    try:
        with captured_logging():
            found = SeedChecker(ruleset)._get_seed_records(str(path))
    except Exception as exc:  # the checker's message, as its own loop would record it
        return SeedRecords((), str(exc))
    return SeedRecords(tuple(tuple(record) for record in found))


class _ReadSeedChecker(SeedChecker):
    """MLCommons' seed checker over seed records read beforehand by ``seed_records``."""

    def __init__(self, ruleset: str, known: dict[str, SeedRecords]):
        super().__init__(ruleset)
        self._known = known

    def _get_seed_records(self, result_file):
        found = self._known.get(result_file)
        if found is None:
            return super()._get_seed_records(result_file)
        if found.error is not None:
            raise ValueError(found.error)
        return list(found.records)


def check_seeds(
    paths: list[Path], ruleset: str, records: dict[Path, SeedRecords] | None = None
) -> CheckResult:
    """MLCommons' seed checker: every run logs a seed, no two runs log the same one.

    ``records``: each log's seed records, when already read (in parallel, or from the cache).
    """
    known = {str(p): r for p, r in (records or {}).items()}
    try:
        with captured_logging() as logged:
            ok = _ReadSeedChecker(ruleset, known).check_seeds([str(p) for p in paths])
    except Exception as exc:
        return CheckResult("seeds", False, (f"seed checker crashed: {type(exc).__name__}: {exc}",))
    msgs = []
    for rec in logged:
        if rec.levelno >= logging.ERROR:
            text = _relative_names(rec.getMessage(), paths)
            text = text.replace(" Seed checker failed and found the following errors: ", "")
            msgs.extend(_short(t) for t in text.split("\n") if "^^" not in t and t.strip())
    return CheckResult("seeds", bool(ok), tuple(msgs))


def _relative_names(text: str, paths: list[Path]) -> str:
    """The checker names logs by the path it was given: keep only their file names, so that a
    message says the same wherever the folder lies (and is not cut inside a long path)."""
    for p in sorted(paths, key=lambda q: len(str(q)), reverse=True):
        text = text.replace(str(p), Path(p).name)
    return text


@dataclass(frozen=True)
class RcpResult:
    """MLCommons' RCP check of one benchmark folder.

    ``factor`` is the RCP normalisation factor MLCommons' package checker would write to
    scaling.json: above 1 only when the runs converge faster than the RCP mean yet within
    the maximum speedup, 1 otherwise; None when the check fails (there is no factor then).
    """

    passed: bool
    message: str
    factor: float | None
    submission_mean: float | None = None  # mean epochs (or samples) to converge, olympic
    rcp_mean: float | None = None

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "message": self.message,
            "factor": self.factor,
            "submission_mean": self.submission_mean,
            "rcp_mean": self.rcp_mean,
        }

    @classmethod
    def from_dict(cls, data: dict) -> RcpResult:
        return cls(
            bool(data["passed"]),
            str(data["message"]),
            data["factor"],
            data.get("submission_mean"),
            data.get("rcp_mean"),
        )


def _rcp_means(logged: list[logging.LogRecord]) -> tuple[float | None, float | None]:
    """The submission's and the RCP's mean, from what the RCP checker logged."""
    subm = rcp = None
    for rec in logged:
        args = rec.args
        if rec.msg == " Submission mean epochs: %.4f" and isinstance(args, tuple) and args:
            subm = float(args[0])
        elif rec.msg == " RCP Record: %s" and isinstance(args, dict):
            # logging unpacks a lone mapping argument: args is the RCP record itself
            mean = args.get("RCP Mean")
            rcp = float(mean) if isinstance(mean, (int, float)) else rcp
    return subm, rcp


# What MLCommons' RCP checker reads of a log (rcp_checker.read_submission_file of the pinned
# mlperf-logging): the MLLOG lines holding one of these words. The other lines (most of a
# real log) change nothing, yet cost most of its time (a backtracking regex on every line),
# so the check runs on copies holding only these lines (tests/test_score_checks.py shows
# the verdicts equal on every published folder).
RCP_WORDS = (
    b"global_batch_size",
    b"submission_benchmark",
    b"eval_error",
    b"eval_accuracy",
    b"train_samples",
    b"run_stop",
)
MLLOG = b":::MLLOG"


def rcp_lines(log: Path, dest: Path) -> None:
    """Copy the lines of ``log`` that the RCP checker reads, byte for byte, in order (a line
    over runlog.MAX_RECORD_BYTES is no MLLOG record: skipped without holding it whole)."""
    with open(log, "rb") as src, open(dest, "wb") as out:
        while line := src.readline(MAX_RECORD_BYTES + 1):
            if len(line) > MAX_RECORD_BYTES and not line.endswith(b"\n"):
                while line and not line.endswith(b"\n"):
                    line = src.readline(MAX_RECORD_BYTES)
                continue
            if MLLOG in line and any(word in line for word in RCP_WORDS):
                out.write(line)


def check_rcp(folder: Path, ruleset: str, trimmed: bool = True) -> RcpResult:
    """MLCommons' RCP check of one benchmark folder, and its normalisation factor.

    The library writes scaling.json into the folder only when asked (``set_scaling``); it is
    never asked here: the folder is evidence and is not modified. ``trimmed``: check copies
    of the logs holding only the lines the checker reads (same verdict, much faster).
    """
    with tempfile.TemporaryDirectory(prefix="gp2bm-rcp-") as tmp:
        where = Path(folder)
        if trimmed:
            where = Path(tmp)
            for log in Path(folder).glob("result_*.txt"):  # what the checker globs
                if log.is_file():
                    rcp_lines(log, where / log.name)
        return _check_rcp_dir(where, ruleset)


def _check_rcp_dir(folder: Path, ruleset: str) -> RcpResult:
    try:
        with captured_logging() as logged:
            passed, msg, factor = rcp_checker().check_directory(
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
        return RcpResult(False, f"RCP checker crashed: {type(exc).__name__}: {exc}", None)
    subm, rcp = _rcp_means(logged)
    # On a failed check the library still returns its ratio (the RCP mean over the
    # submission's, or 1): no factor is written then, so none is given here.
    return RcpResult(bool(passed), str(msg), float(factor) if passed else None, subm, rcp)


def read_scaling(folder: Path) -> float | None:
    """The ``scaling_factor`` of ``scaling.json`` beside the logs, as MLCommons applies it.

    MLCommons' factor is the RCP mean over the submission's mean, written only when that is
    above 1: a factor below 1 (or not a finite number) is bad input, not a result.
    """
    path = Path(folder) / "scaling.json"
    if not path.exists():
        return None
    try:
        factor = json.loads(path.read_text(encoding="utf-8"))["scaling_factor"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, OSError):
        raise InputError(f"{path}: not a JSON object with a numeric 'scaling_factor'") from None
    if (
        isinstance(factor, bool)
        or not isinstance(factor, (int, float))
        or not math.isfinite(factor)
        or factor < 1
    ):
        raise InputError(
            f"{path}: 'scaling_factor' must be a finite number >= 1 (MLCommons' RCP "
            f"factor), not {json.dumps(factor)[:40]}"
        )
    return float(factor)
