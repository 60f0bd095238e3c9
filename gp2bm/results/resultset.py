"""Finding the result logs under a path and scoring them against a suite.

A path may be a benchmark folder (holding ``result_*.txt``), a system folder, an
organisation's tree or a whole campaign: every folder below it that holds result logs is
one benchmark's result set, and its own sub-folders are not (MLCommons reads the logs of a
benchmark folder only). Any ``result_*.txt`` is a result log, as in MLCommons' summarizer.
The benchmark is what the logs say (``submission_benchmark``), never the folder's name;
within a gp2bm campaign (a ``campaign.json`` above the path) it is the folder's place in
the layout, ``<org>/results/<system>/<benchmark>``, so that a benchmark whose every run
died before logging is still reported.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

from gp2bm.campaign.layout import (
    CAMPAIGN_FILE,
    EVIDENCE_DIRS,
    CampaignLayout,
    is_result_log,
    run_number,
)
from gp2bm.campaign.record import RunRecord
from gp2bm.errors import InputError
from gp2bm.files.plaintext import printable
from gp2bm.files.regular import not_regular
from gp2bm.results import rules
from gp2bm.results.checkpool import PARSE, CheckPlan, PendingChecks, Progress
from gp2bm.results.runlog import Anomaly, RunLog, check_target, parse_run_log
from gp2bm.results.scoring import (
    RcpMode,
    ScoringOptions,
    SuiteScore,
    score_benchmark,
)
from gp2bm.results.timing import observed_number
from gp2bm.results.verdictcache import VerdictStore
from gp2bm.spec.suite import ComplianceMode, Suite

# How far above a benchmark folder campaign.json may sit: <root>/<org>/results/<system>/<b>.
CAMPAIGN_DEPTH = 4


def _name_key(name: str) -> tuple:
    # numbers compared as numbers (result_9 before result_10), ties broken by the name
    parts = re.split(r"(\d+)", name)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), name


def result_files(folder: Path) -> list[Path]:
    """The result logs of a benchmark folder, in a stable order. A result log that is not a
    regular file (a FIFO, a device, a socket, or a link to one) is refused before anything
    opens it: a FIFO would block every reader, the checkers' worker processes included."""
    found = [p for p in Path(folder).iterdir() if is_result_log(p.name) and not p.is_dir()]
    for path in found:
        try:
            kind = not_regular(path)
        except OSError:  # a dangling link: parsing says "file not found"
            continue
        if kind is not None:
            raise InputError(f"{path}: is {kind}, expected a result log (a regular file)")
    return sorted(found, key=lambda p: _name_key(p.name))


def find_benchmark_folders(path: Path, layout: CampaignLayout | None = None) -> list[Path]:
    """Every result set under ``path``. Within a campaign, only its results are searched
    (not the evidence beside them: implementation sources, reports, attempts)."""
    path = Path(path)
    if layout is not None and path.exists() and _above(path, layout.results_dir):
        path = layout.results_dir
    if not path.exists():
        raise InputError(f"{path}: no such folder")
    if not path.is_dir():
        raise InputError(f"{path}: not a folder (give a benchmark, system or campaign folder)")
    folders = []
    for root, dirs, files in os.walk(path, onerror=None):
        if any(is_result_log(f) for f in files):
            folders.append(Path(root))
            dirs[:] = []  # a benchmark folder's sub-folders are not result sets
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in EVIDENCE_DIRS)
    if not folders:
        raise InputError(
            f"{path}: no result_*.txt logs found (give a benchmark, system or campaign folder)"
        )
    return folders


def _above(path: Path, inner: Path) -> bool:
    """Whether ``inner`` lies strictly below ``path``."""
    return Path(path).resolve() in Path(inner).resolve().parents


def observed_seconds(layout: CampaignLayout, benchmark: str, log: Path) -> float | None:
    """gp2bm's own monotonic timing of the run that wrote ``log`` (its run record)."""
    n = run_number(log.name)
    if n is None:
        return None
    record = RunRecord.load(layout.record_path(benchmark, n))
    if record is None:
        return None
    return observed_number(record.observed_seconds)


def campaign_root(path: Path) -> Path | None:
    """The gp2bm campaign a path lies in (the folder holding campaign.json), or None."""
    here = Path(path).resolve()
    for candidate in [here, *here.parents][: CAMPAIGN_DEPTH + 1]:
        if (candidate / CAMPAIGN_FILE).is_file():
            return candidate
    return None


def campaign_of(paths: list[Path]) -> Path | None:
    """The one gp2bm campaign the folders among ``paths`` lie in (its suite is the one to
    score against), else None."""
    roots = {campaign_root(p) for p in paths if Path(p).is_dir()}
    found = [root for root in roots if root is not None]
    return found[0] if len(found) == 1 and len(roots) == 1 else None


def campaign_layout(path: Path) -> CampaignLayout | None:
    root = campaign_root(path)
    if root is None:
        return None
    return CampaignLayout.read(root)


def _one_campaign(paths: list[Path]) -> CampaignLayout | None:
    """The campaign all paths lie in, or None when none does."""
    layouts = {campaign_layout(p) for p in paths}
    if len(layouts) > 1:
        shown = ", ".join(str(layout.root) if layout else "(no campaign)" for layout in layouts)
        raise InputError(
            f"the paths lie in different campaigns ({shown}): score one campaign at a time"
        )
    return layouts.pop() if layouts else None


def scoring_options(
    suite: Suite,
    ruleset: str | None,
    compliance: str | None,
    rcp: str | None,
    campaign: bool,
) -> ScoringOptions:
    """The options of a scoring: given, else the suite's. A gp2bm campaign of a suite with
    RCP checks takes its factor from them (MLCommons would write it to scaling.json)."""
    given = compliance or suite.compliance
    if given not in tuple(ComplianceMode):
        raise InputError(f"--compliance must be one of {', '.join(ComplianceMode)}")
    mode = ComplianceMode(given)
    if rcp is None:
        if not suite.rcp or mode == ComplianceMode.OFF:
            rcp = RcpMode.OFF
        else:
            rcp = RcpMode.FACTOR if campaign else RcpMode.CHECK
    if rcp not in tuple(RcpMode):
        raise InputError(f"rcp must be one of {', '.join(RcpMode)}")
    return ScoringOptions(ruleset or suite.ruleset, mode, RcpMode(rcp), campaign)


def _benchmark(folder: Path, logs: list[RunLog], layout: CampaignLayout | None) -> str:
    """The benchmark of a folder: its place in a campaign, else what its logs name."""
    placed = layout.benchmark_of(folder) if layout is not None else None
    names = Counter(log.benchmark for log in logs if log.benchmark)
    if placed is not None:
        for log in logs:
            if log.benchmark is not None and log.benchmark != placed:
                log.anomalies.append(
                    Anomaly(
                        "benchmark_mismatch",
                        f"the log names benchmark '{printable(log.benchmark, 40)}', its "
                        f"folder is '{placed}'",
                    )
                )
        return placed
    if not names:
        raise InputError(f"{folder}: no log names its benchmark (submission_benchmark)")
    return names.most_common(1)[0][0]


def _parse_all(
    files: dict[Path, tuple[Path, ...]], progress: Progress | None
) -> dict[Path, list[RunLog]]:
    total = sum(len(paths) for paths in files.values())
    parsed: dict[Path, list[RunLog]] = {}
    for folder, paths in files.items():
        parsed[folder] = []
        for path in paths:
            parsed[folder].append(parse_run_log(path))
            if progress is not None:
                progress(PARSE, sum(map(len, parsed.values())), total)
    return parsed


def _load(
    files: dict[Path, tuple[Path, ...]],
    suite: Suite,
    layout: CampaignLayout | None,
    progress: Progress | None = None,
) -> dict[str, tuple[Path, list[RunLog]]]:
    """Parse every folder's logs; benchmark name -> (folder, its runs)."""
    loaded: dict[str, tuple[Path, list[RunLog]]] = {}
    for folder, logs in _parse_all(files, progress).items():
        benchmark = _benchmark(folder, logs, layout)
        if benchmark not in suite.benchmarks:
            raise InputError(
                f"{folder}: benchmark '{printable(benchmark, 40)}' is not part of suite "
                f"'{suite.name}' ({', '.join(suite.benchmarks)})"
            )
        if benchmark in loaded:
            raise InputError(
                f"two result sets for '{benchmark}': {loaded[benchmark][0]} and {folder}; "
                "give the one to score"
            )
        for log in logs:
            check_target(log, suite.benchmarks[benchmark].target)
        loaded[benchmark] = (folder, logs)
    return loaded


def score_paths(
    paths: list[Path],
    suite: Suite,
    ruleset: str | None = None,
    compliance: str | None = None,
    rcp: str | None = None,
    *,
    cache: VerdictStore | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> SuiteScore:
    """Score the result sets under ``paths`` against ``suite``: the number MLCommons' tools
    give (for a gp2bm campaign, with the RCP factor its package checker would write).

    ``cache``: reuse checker verdicts of unchanged logs (status, report, package; never
    verify). ``workers``: checker processes (default: one per available core).
    ``progress``: told of each log parsed and each check done (checkpool.Progress).
    """
    layout = _one_campaign(paths)
    options = scoring_options(suite, ruleset, compliance, rcp, layout is not None)
    rules.require_ruleset(options.ruleset)
    folders = [folder for path in paths for folder in find_benchmark_folders(path, layout)]
    files = {folder: tuple(result_files(folder)) for folder in folders}
    checking = options.compliance != ComplianceMode.OFF
    plan = CheckPlan(options.ruleset, files, checking, checking, options.rcp != RcpMode.OFF)
    with PendingChecks(plan, cache, workers, progress) as pending:
        loaded = _load(files, suite, layout, progress)
        if checking or options.rcp != RcpMode.OFF:
            rules.require_ruleset(options.ruleset, loaded)
        verdicts = pending.verdicts()
    results = {}
    for name in suite.benchmarks:
        if name not in loaded:
            continue
        folder, logs = loaded[name]
        observed = {}
        if layout is not None:
            observed = {log.path: observed_seconds(layout, name, log.path) for log in logs}
        results[name] = score_benchmark(
            name, folder, logs, suite.benchmarks[name], options, verdicts, observed
        )
    return SuiteScore(
        suite=suite,
        ruleset=options.ruleset,
        compliance=options.compliance,
        benchmarks=results,
        campaign=None if layout is None else layout.root,
    )
