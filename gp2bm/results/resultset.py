"""Finding the result logs under a path and scoring them against a suite.

A path may be a benchmark folder (holding ``result_*.txt``), a system folder, an
organisation's tree or a whole campaign: every folder below it that holds result logs is
one benchmark's result set. The benchmark is what the logs say (``submission_benchmark``),
never the folder's name.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

from gp2bm.errors import InputError
from gp2bm.results import rules
from gp2bm.results.runlog import RunLog, parse_run_log
from gp2bm.results.scoring import COMPLIANCE_MODES, SuiteScore, score_benchmark
from gp2bm.spec.suite import Suite

RESULT_RE = re.compile(r"result_(\d+)\.txt")
# Sub-folders that hold evidence but no counted runs (interrupted attempts, telemetry).
SKIP_DIRS = {"attempts", "telemetry", "records"}


def result_files(folder: Path) -> list[Path]:
    found = [p for p in folder.iterdir() if RESULT_RE.fullmatch(p.name) and not p.is_dir()]
    return sorted(found, key=lambda p: int(RESULT_RE.fullmatch(p.name).group(1)))


def find_benchmark_folders(path: Path) -> list[Path]:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such folder")
    if not path.is_dir():
        raise InputError(f"{path}: not a folder (give a benchmark, system or campaign folder)")
    folders = []
    for root, dirs, files in os.walk(path, onerror=None):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        if any(RESULT_RE.fullmatch(f) for f in files):
            folders.append(Path(root))
    if not folders:
        raise InputError(
            f"{path}: no result_*.txt logs found (give a benchmark, system or campaign folder)"
        )
    return folders


def load_folder(folder: Path, targets: dict[str, float]) -> tuple[str, list[RunLog]]:
    """Parse a benchmark folder's logs; return the benchmark they name and the runs."""
    paths = result_files(folder)
    logs = [parse_run_log(p) for p in paths]
    names = Counter(log.benchmark for log in logs if log.benchmark)
    if not names:
        raise InputError(f"{folder}: no log names its benchmark (submission_benchmark)")
    benchmark = names.most_common(1)[0][0]
    target = targets.get(benchmark)
    if target is not None:
        logs = [parse_run_log(p, target=target) for p in paths]
    return benchmark, logs


def score_paths(
    paths: list[Path],
    suite: Suite,
    ruleset: str | None = None,
    compliance: str | None = None,
    rcp: str | None = None,
) -> SuiteScore:
    ruleset = ruleset or suite.ruleset
    compliance = compliance or suite.compliance
    if compliance not in COMPLIANCE_MODES:
        raise InputError(f"--compliance must be one of {', '.join(COMPLIANCE_MODES)}")
    if rcp is None:
        rcp = "check" if suite.rcp and compliance != "off" else "off"
    rules.require_ruleset(ruleset)
    targets = {name: spec.target for name, spec in suite.benchmarks.items()}

    loaded: dict[str, tuple[Path, list[RunLog]]] = {}
    for path in paths:
        for folder in find_benchmark_folders(path):
            benchmark, logs = load_folder(folder, targets)
            if benchmark not in suite.benchmarks:
                raise InputError(
                    f"{folder}: benchmark '{benchmark}' is not part of suite '{suite.name}' "
                    f"({', '.join(suite.benchmarks)})"
                )
            if benchmark in loaded:
                raise InputError(
                    f"two result sets for '{benchmark}': {loaded[benchmark][0]} and {folder}; "
                    "give the one to score"
                )
            loaded[benchmark] = (folder, logs)

    rules.require_ruleset(ruleset, loaded if compliance != "off" or rcp != "off" else ())
    results = {}
    for name in suite.benchmarks:
        if name not in loaded:
            continue
        folder, logs = loaded[name]
        results[name] = score_benchmark(
            name, folder, logs, suite.benchmarks[name], ruleset, compliance, rcp
        )
    return SuiteScore(suite=suite, ruleset=ruleset, compliance=compliance, benchmarks=results)
