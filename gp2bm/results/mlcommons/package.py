"""MLCommons' package checker on an organisation's submission tree, as a library.

``check_training_package`` returns nothing and prints; its verdict is in what it logs: an
ERROR record, or no closing "FOUND NO ERRORS" line, is a failure. It keeps the configs it
read in a module-level list, cleared before and after; its output is captured.

With the pinned release installed (``install``), the checker runs on the tree itself and is
handed what the caller already knows (``Handed``): for a log the caller has a verdict for,
the compliance verdict and the seed records that the same library calls gave (the seeds
through ``seeds.RecordedSeedChecker``); any other log it checks itself. Its RCP check runs,
as gp2bm's own does, on copies of the logs holding only the lines the RCP checker reads
(``rcp.trimmed_logs``); the ``scaling.json`` it writes lands in those copies, never in the
tree. With another release, it runs as it is on a copy of the tree (it writes scaling.json
beside the logs it checks) and checks every log itself.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import os
import shutil
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlperf_logging.compliance_checker import mlp_compliance

from gp2bm.campaign.layout import RESULT_GLOB, org_results, org_system_file, scaling_files
from gp2bm.files.plaintext import printable
from gp2bm.results.mlcommons import install, installed
from gp2bm.results.mlcommons.capture import captured_logging
from gp2bm.results.mlcommons.compliance import fresh_queue
from gp2bm.results.mlcommons.rcp import checker_module, trimmed_logs
from gp2bm.results.mlcommons.rulesets import USAGE
from gp2bm.results.mlcommons.seeds import RecordedSeedChecker, SeedLookup, nothing_read
from gp2bm.results.rules import CheckResult
from gp2bm.results.runlog import Record, iter_records

# Where the RCP checker's trimmed copies of the logs go, in the work folder.
TRIMMED = "rcp-logs"
# Where the copy of the tree goes that the checker runs on as it is (another release).
TREE = "tree"
# How long an error or warning line of the checker is kept.
LINE_LIMIT = 300
# How many records of a log are read for the benchmark it names (its submission lines
# come first).
HEAD_RECORDS = 200


def no_verdict(log: Path) -> CheckResult | None:
    """The lookup of a checker that checks every log itself."""
    return None


@dataclass(frozen=True)
class Handed:
    """What the caller already knows of a log, by its path (None: the checker reads it)."""

    compliance: Callable[[Path], CheckResult | None] = no_verdict
    seeds: SeedLookup = nothing_read


@dataclass(frozen=True)
class PackageRun:
    """What MLCommons' package checker said of a tree: its errors and warnings (one line
    each, paths relative to the tree's parent), its log, and the scaling.json factors it
    wrote (by ``<system>/<benchmark>``)."""

    passed: bool
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    log: str = ""
    scaling: dict[str, float] = field(default_factory=dict)


def _checker() -> types.ModuleType:
    checker_module()  # the RCP checker first, as ``rcp`` imports it
    from mlperf_logging.package_checker import package_checker  # heavy: 0.14 s to import

    return package_checker


def load_checker() -> None:
    """Import MLCommons' package checker now (its RCP checker first, as ``rcp`` imports it):
    before forking checker processes, so that they share it."""
    _checker()


def _handed_main(original: Callable, known: Callable[[Path], CheckResult | None]) -> Callable:
    """``mlp_compliance.main`` for the package checker: a log whose verdict the caller has
    gets it (its messages logged as the checker logs them), any other is checked."""

    def main(filename, config_file, checker):
        found = known(Path(filename))
        if found is None:
            return original(filename, config_file, checker)
        logging.info("Running compliance on file: %s (verdict of this run)", filename)
        if found.messages:
            logging.warning(" %s", "\n".join(found.messages))
        return found.passed, None, None, None

    return main


def _trimmed_rcp(original: Callable, org_dir: Path, trimmed: Path) -> Callable:
    """``rcp_checker.check_directory`` on a copy of the folder's logs holding only the lines
    it reads; the scaling.json it writes stays in the copy."""

    def check_directory(folder, *args, **kwargs):
        rel = Path(folder).resolve().relative_to(org_dir.resolve())
        return original(str(trimmed_logs(Path(folder), trimmed / rel)), *args, **kwargs)

    return check_directory


@contextlib.contextmanager
def _handing(module: Any, org_dir: Path, trimmed: Path, handed: Handed) -> Iterator[None]:
    """The package checker's compliance, seed and RCP calls (``module``: the checker's
    module, untyped), handed the caller's verdicts and the trimmed logs, for as long as it
    runs."""
    rcp = module.rcp_checker
    saved = (mlp_compliance.main, module.SeedChecker, rcp.check_directory)
    mlp_compliance.main = _handed_main(saved[0], handed.compliance)
    module.SeedChecker = functools.partial(RecordedSeedChecker, known=handed.seeds)
    rcp.check_directory = _trimmed_rcp(saved[2], org_dir, trimmed)
    try:
        yield
    finally:
        mlp_compliance.main, module.SeedChecker, rcp.check_directory = saved


def _run(
    module: types.ModuleType, tree: Path, ruleset: str, handing: contextlib.AbstractContextManager
) -> tuple[list[logging.LogRecord], str | None]:
    """``check_training_package`` on ``tree``: what it logged, and why it crashed (if so)."""
    crashed = None
    sink = io.StringIO()
    with (
        fresh_queue(),
        captured_logging() as records,
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
        handing,
    ):
        try:
            module.check_training_package(
                str(tree),
                USAGE,
                ruleset,
                False,  # quiet
                False,  # werror
                False,  # rcp_bypass: only where a folder's package_checker_params says
                False,  # rcp_bert_train_samples
                False,  # seed_checker_bypass
                os.devnull,
            )
        except Exception as exc:  # its code reads files the tree may lack
            crashed = (
                "MLCommons' package checker stopped before its verdict on something in the "
                f"tree it could not read ({type(exc).__name__}: {printable(exc, 200)})"
            )
    return records, crashed


def _scaling_written(tree: Path) -> dict[str, float]:
    """The scaling.json factors the checker wrote under ``tree``, by <system>/<benchmark>."""
    scaling = {}
    for path in scaling_files(tree):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            factor = json.loads(path.read_text())["scaling_factor"]
            scaling[f"{path.parent.parent.name}/{path.parent.name}"] = float(factor)
    return scaling


def check_package(
    org_dir: Path, ruleset: str, work: Path, handed: Handed | None = None
) -> PackageRun:
    """MLCommons' package checker on ``org_dir``, which it does not modify; ``work``: an empty
    folder for its copies of the logs. ``handed``: what the caller knows of the logs."""
    install()
    org_dir = Path(org_dir)
    module = _checker()
    if installed():
        checked = work / TRIMMED / org_dir.name
        tree = org_dir
        handing: contextlib.AbstractContextManager = _handing(
            module, org_dir, checked, handed or Handed()
        )
    else:
        checked = tree = work / TREE / org_dir.name
        shutil.copytree(org_dir, tree, symlinks=True)
        handing = contextlib.nullcontext()
    problems = tree_problems(org_dir)
    if problems:  # the checker's code would stop on them with a bare KeyError
        return _verdict([], None, [], {}, problems)
    records, crashed = _run(module, tree, ruleset, handing)
    return _verdict(records, crashed, _prefixes(org_dir, work), _scaling_written(checked))


def _named_benchmark(log: Path) -> object:
    """The benchmark a log's ``submission_benchmark`` line names, or None."""
    try:
        for n, rec in enumerate(iter_records(log)):
            if n >= HEAD_RECORDS:
                break
            if isinstance(rec, Record) and rec.key == "submission_benchmark":
                return rec.value
    except OSError:
        return None  # the checker says what it cannot read
    return None


def tree_problems(org_dir: Path) -> list[str]:
    """What in an organisation's tree MLCommons' package checker cannot read but crashes on
    (a ``KeyError`` or ``FileNotFoundError`` of its own code), one line each naming the
    file: a system without its description, a log in another benchmark's folder."""
    org_dir = Path(org_dir)
    org = org_dir.name
    problems = []
    for system in sorted(p for p in org_results(org_dir).glob("*") if p.is_dir()):
        if not org_system_file(org_dir, system.name).is_file():
            problems.append(
                f"{org}/systems/{printable(system.name, 100)}.json: missing (the package "
                "checker reads the description of each system with results)"
            )
        for folder in sorted(p for p in system.iterdir() if p.is_dir()):
            for log in sorted(folder.glob(RESULT_GLOB)):
                named = _named_benchmark(log)
                if named is not None and named != folder.name:
                    problems.append(
                        f"{printable(log.relative_to(org_dir.parent).as_posix(), 200)}: a "
                        f"'{printable(named, 40)}' log in the '{printable(folder.name, 40)}' "
                        "folder (each benchmark's logs lie in its own folder)"
                    )
    return problems


def _prefixes(org_dir: Path, work: Path) -> list[str]:
    """What the checker's messages start paths with, longest first: cut off, so that a
    message names ``<org>/results/...`` wherever the tree or its copies lie."""
    found = {
        f"{work / TRIMMED}/",
        f"{work / TREE}/",
        f"{org_dir.parent}/",
        f"{org_dir.resolve().parent}/",
    }
    return sorted(found, key=len, reverse=True)


def _verdict(
    records: list[logging.LogRecord],
    crashed: str | None,
    prefixes: list[str],
    scaling: dict[str, float],
    problems: list[str] | None = None,
) -> PackageRun:
    lines = [f"ERROR - {p} (the checker was not run)" for p in problems or []]
    errors, warnings = list(problems or []), []
    for rec in records:
        text = rec.getMessage()
        for prefix in prefixes:
            text = text.replace(prefix, "")
        lines.append(f"{rec.levelname} - {text}")
        if rec.levelno >= logging.ERROR:
            errors.append(" ".join(text.split())[:LINE_LIMIT])
        elif rec.levelno == logging.WARNING:
            warnings.append(" ".join(text.split())[:LINE_LIMIT])
    if crashed:
        errors.append(crashed)
        lines.append(f"ERROR - {crashed}")
    finished = any("FOUND NO ERRORS" in ln for ln in lines)
    return PackageRun(
        passed=finished and not errors,
        errors=errors,
        warnings=warnings,
        log="\n".join(lines) + "\n",
        scaling=scaling,
    )
