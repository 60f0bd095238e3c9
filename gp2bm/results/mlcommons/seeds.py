"""MLCommons' seed checker: every run logs a seed, no two runs of a folder the same one.

The checker reads each log's seed records, then compares them. gp2bm reads the records of
each log apart (in parallel, one log per checker process; or from the verdict cache; or
from the one parse of ``compliance.check_log``), and ``RecordedSeedChecker``, the one
subclass of MLCommons' ``SeedChecker`` in gp2bm, compares them: it takes a log's records
from what was read beforehand, and reads the log itself only where nothing was. gp2bm's own
seed check (``check_seeds``) and the package checker (``package``) both use it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from mlperf_logging.package_checker.seed_checker import SeedChecker

from gp2bm.results.mlcommons import install
from gp2bm.results.mlcommons.capture import captured_logging, relative_names, short
from gp2bm.results.rules import CheckResult, SeedRecords
from gp2bm.results.runlog import oversize

# A log's seed records read beforehand, by the path the checker was given (None: not read).
SeedLookup = Callable[[Path], SeedRecords | None]


def nothing_read(log: Path) -> SeedRecords | None:
    """The lookup of a checker that reads every log itself."""
    return None


class RecordedSeedChecker(SeedChecker):
    """MLCommons' seed checker, taking each log's seed records from ``known`` when they were
    read beforehand (an error read there is raised as its own reading of the file raises)."""

    def __init__(self, ruleset: str, known: SeedLookup = nothing_read):
        super().__init__(ruleset)
        self._known = known

    def _get_seed_records(self, result_file):
        found = self._known(Path(result_file))
        if found is None:
            return super()._get_seed_records(result_file)
        if found.error is not None:
            raise ValueError(found.error)
        return list(found.records)


def seed_records(path: Path, ruleset: str) -> SeedRecords:
    """One log's seed records, read by MLCommons' seed checker itself (one log at a time, so
    that logs can be read in parallel; ``check_seeds`` then compares them)."""
    install()
    too_large = oversize(path)
    if too_large:
        return SeedRecords((), too_large)
    try:
        with captured_logging():
            found = SeedChecker(ruleset)._get_seed_records(str(path))
    except Exception as exc:  # the checker's message, as its own loop would record it
        return SeedRecords((), str(exc))
    return SeedRecords(tuple(tuple(record) for record in found))


def records_of(loglines: list, errors: list) -> SeedRecords:
    """``SeedChecker._get_seed_records``, on the lines MLCommons' parser already gave."""
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


def check_seeds(
    paths: list[Path], ruleset: str, records: dict[Path, SeedRecords] | None = None
) -> CheckResult:
    """MLCommons' seed checker: every run logs a seed, no two runs log the same one.

    ``records``: each log's seed records, when already read (in parallel, or from the cache).
    """
    install()
    known = {str(p): r for p, r in (records or {}).items()}
    try:
        with captured_logging() as logged:
            checker = RecordedSeedChecker(ruleset, lambda log: known.get(str(log)))
            ok = checker.check_seeds([str(p) for p in paths])
    except Exception as exc:
        return CheckResult("seeds", False, (f"seed checker crashed: {type(exc).__name__}: {exc}",))
    msgs: list[str] = []
    for rec in logged:
        if rec.levelno >= logging.ERROR:
            text = relative_names(rec.getMessage(), paths)
            text = text.replace(" Seed checker failed and found the following errors: ", "")
            msgs.extend(short(t) for t in text.split("\n") if "^^" not in t and t.strip())
    return CheckResult("seeds", bool(ok), tuple(msgs))
