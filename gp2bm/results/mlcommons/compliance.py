"""MLCommons' compliance checker (and its log parser) on one result log.

The checker keeps a module-global queue of configs, which a crashed check leaves dirty for
the next one: it is cleared before and after every call (``fresh_queue``). Its own code can
crash on odd logs: a crash is a failed check that says so. A log over
``runlog.MAX_CHECKED_LOG_BYTES`` is not given to it: a failed check saying so.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlperf_logging.compliance_checker import mlp_compliance, mlp_parser

from gp2bm.results.mlcommons import install
from gp2bm.results.mlcommons.capture import captured_logging, short
from gp2bm.results.mlcommons.rulesets import USAGE, config_file
from gp2bm.results.mlcommons.seeds import records_of
from gp2bm.results.rules import CheckResult, SeedRecords
from gp2bm.results.runlog import oversize

NAME = "compliance"


@contextmanager
def fresh_queue() -> Iterator[None]:
    """The checker's module-global queue of configs, empty before and after."""
    mlp_compliance.enqueued_configs.clear()
    try:
        yield
    finally:
        mlp_compliance.enqueued_configs.clear()


def _checker(ruleset: str):
    return mlp_compliance.make_checker(USAGE, ruleset, quiet=False, werror=False)


def check_compliance(path: Path, ruleset: str) -> CheckResult:
    """MLCommons' compliance checker on one result log, with an explicit ruleset (not run on
    a log over runlog.MAX_CHECKED_LOG_BYTES: a failed check saying so)."""
    install()
    too_large = oversize(path)
    if too_large:
        return CheckResult(NAME, False, (too_large,))
    with fresh_queue():
        checker = _checker(ruleset)
        try:
            with captured_logging():
                valid, *_ = mlp_compliance.main(str(path), config_file(ruleset), checker)
        except Exception as exc:  # the checker's own code can crash on odd logs
            return crashed(exc)
    return _verdict(checker, valid)


def crashed(exc: Exception) -> CheckResult:
    """The failed check of a checker that raised ``exc``."""
    return CheckResult(NAME, False, (f"compliance checker crashed: {type(exc).__name__}: {exc}",))


def _verdict(checker, valid: object) -> CheckResult:
    messages = [
        *checker.overwritable.values(),
        *checker.not_overwritable,
    ]
    passed = bool(valid) and not messages
    shorts = tuple(dict.fromkeys(short(m) for m in messages))
    return CheckResult(
        NAME, passed, shorts, {"warnings": [short(w) for w in checker.warnings.values()]}
    )


def check_log(path: Path, ruleset: str) -> tuple[CheckResult, SeedRecords]:
    """The compliance verdict and the seed records of one log, from ONE parse by MLCommons'
    parser (parsing is a third of the checking time): the same as ``check_compliance`` and
    ``seeds.seed_records``, which each parse the file (tests/test_score_checks.py compares
    them)."""
    install()
    too_large = oversize(path)
    if too_large:
        return CheckResult(NAME, False, (too_large,)), SeedRecords((), too_large)
    try:
        loglines, errors = mlp_parser.parse_file(str(path), ruleset=ruleset)
    except Exception as exc:  # as the checkers would each meet it
        return crashed(exc), SeedRecords((), str(exc))
    with fresh_queue():
        checker = _checker(ruleset)
        try:
            with captured_logging():
                # ComplianceChecker.check_file, on the lines already parsed
                if errors:
                    checker.put_message("Log lines had parsing errors.")
                checker.check_loglines(loglines, config_file(ruleset))
                checker.log_messages()
                valid = not checker.has_messages()
            compliance = _verdict(checker, valid)
        except Exception as exc:
            compliance = crashed(exc)
    return compliance, records_of(loglines, errors)
