"""MLCommons' RCP checker on one benchmark folder, and the trimmed copies of its logs.

The RCP checker reads, of each log, the MLLOG lines holding one of ``RCP_WORDS``
(``rcp_checker.read_submission_file`` of the pinned mlperf-logging). The other lines, most
of a real log, change nothing, yet cost most of its time (a backtracking regex on every
line): with the pinned release installed (``install``), the checker is given copies of the
logs holding only those lines (``trimmed_logs``; gp2bm's own RCP check and the package
checker's both; tests/test_score_checks.py shows the verdicts equal on every published
folder). Another release may read other lines: it is given the logs themselves.

The library writes scaling.json into the folder it checks only when asked (``set_scaling``);
gp2bm's check never asks: the folder is evidence and is not modified.
"""

from __future__ import annotations

import importlib
import logging
import tempfile
import types
from pathlib import Path
from typing import SupportsFloat

from gp2bm.campaign.layout import RESULT_GLOB
from gp2bm.results.mlcommons import install, installed
from gp2bm.results.mlcommons.capture import captured_logging
from gp2bm.results.mlcommons.rcpmodule import RCP_CHECKER, rcp_checker
from gp2bm.results.mlcommons.rulesets import USAGE
from gp2bm.results.rules import RcpResult
from gp2bm.results.runlog import MAX_RECORD_BYTES

RCP_WORDS = (
    b"global_batch_size",
    b"submission_benchmark",
    b"eval_error",
    b"eval_accuracy",
    b"train_samples",
    b"run_stop",
)
MLLOG = b":::MLLOG"


def checker_module() -> types.ModuleType:
    """MLCommons' RCP checker module: imported without scipy.stats (``rcpmodule``) once the
    speed-ups are installed, as the library imports it otherwise."""
    install()
    return rcp_checker() if installed() else importlib.import_module(RCP_CHECKER)


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


def trimmed_logs(folder: Path, dest: Path) -> Path:
    """``dest`` (made if need be), holding a copy of each log of ``folder`` that the RCP
    checker reads, with only the lines it reads."""
    dest.mkdir(parents=True, exist_ok=True)
    for log in Path(folder).glob(RESULT_GLOB):
        if log.is_file():
            rcp_lines(log, dest / log.name)
    return dest


def check_rcp(folder: Path, ruleset: str, trimmed: bool = True) -> RcpResult:
    """MLCommons' RCP check of one benchmark folder, and its normalisation factor.

    ``trimmed``: check copies of the logs holding only the lines the checker reads (the same
    verdict, much faster), when the pinned release is installed.
    """
    install()
    with tempfile.TemporaryDirectory(prefix="gp2bm-rcp-") as tmp:
        where = Path(folder)
        if trimmed and installed():
            where = trimmed_logs(where, Path(tmp))
        return _check_rcp_dir(where, ruleset)


def _check_rcp_dir(folder: Path, ruleset: str) -> RcpResult:
    try:
        with captured_logging() as logged:
            passed, msg, factor = checker_module().check_directory(
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


def _rcp_means(logged: list[logging.LogRecord]) -> tuple[float | None, float | None]:
    """The submission's and the RCP's mean, from what the RCP checker logged."""
    subm = rcp = None
    for rec in logged:
        args = rec.args
        if rec.msg == " Submission mean epochs: %.4f" and isinstance(args, tuple) and args:
            subm = float(args[0]) if isinstance(args[0], SupportsFloat) else subm
        elif rec.msg == " RCP Record: %s" and isinstance(args, dict):
            # logging unpacks a lone mapping argument: args is the RCP record itself
            mean = args.get("RCP Mean")
            rcp = float(mean) if isinstance(mean, (int, float)) else rcp
    return subm, rcp
