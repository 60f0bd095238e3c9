"""Huge result logs: a log over the size MLCommons' checkers are run on fails its run with
the reason, quickly and in little memory; a 2 GB line (a sparse file) goes through `score`;
a long scoring reports its progress."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from synth import RESNET_MINUTES, run_log_text, write_benchmark

from gp2bm.results.checkpool import CHECK, PARSE
from gp2bm.results.resultset import score_paths
from gp2bm.results.runlog import MAX_CHECKED_LOG_BYTES, parse_run_log
from gp2bm.spec.suite import DEFAULT_SUITE, load_suite

# What `score` may take on such a log on the reference machine (2 cores), and its memory.
BOUND_S = 120
BOUND_RSS_MB = 600


def _sparse_log(path: Path, hole: int, run: int = 5) -> None:
    """A result log whose first line is ``:::MLLOG `` and ``hole`` NUL bytes (a sparse file:
    no disk used), then a good run's log."""
    with open(path, "wb") as fh:
        fh.write(b":::MLLOG ")
        fh.seek(hole, 1)
        fh.write(b"\n" + run_log_text("resnet", run, 30.0).encode())


def _score_in_a_process(*args) -> tuple[subprocess.CompletedProcess, float, float]:
    """gp2bm score as a process: its result, seconds, and peak RSS in MB."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "gp2bm", "score", *map(str, args), "--json"],
        capture_output=True,
        text=True,
        timeout=BOUND_S * 3,
    )
    seconds = time.monotonic() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return proc, seconds, max(peak, before) / 1024


@pytest.mark.reliability("huge-log")
def test_a_log_over_the_limit_fails_its_run_unchecked(tmp_path):
    path = tmp_path / "result_0.txt"
    _sparse_log(path, MAX_CHECKED_LOG_BYTES)
    run = parse_run_log(path, target=0.759)
    assert run.minutes == pytest.approx(30.0)  # read all the same
    too_large = [a for a in run.errors if a.kind == "log_too_large"]
    assert len(too_large) == 1 and "64 MiB" in too_large[0].message


@pytest.mark.slow
@pytest.mark.reliability("huge-log")
def test_a_2gb_line_goes_through_score(tmp_path):
    folder = tmp_path / "resnet"
    write_benchmark(folder, "resnet", RESNET_MINUTES)
    _sparse_log(folder / "result_5.txt", 2 << 30)
    proc, seconds, rss_mb = _score_in_a_process(folder)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    runs = {r["file"]: r for r in json.loads(proc.stdout)["benchmarks"]["resnet"]["runs"]}
    bad = runs["result_5.txt"]
    assert bad["role"] == "failed"
    assert any("MiB" in why and "not checked" in why for why in bad["reasons"]), bad["reasons"]
    assert seconds < BOUND_S, seconds
    assert rss_mb < BOUND_RSS_MB, rss_mb


@pytest.mark.reliability("huge-log")
def test_scoring_reports_its_progress(tmp_path):
    write_benchmark(tmp_path / "resnet", "resnet", RESNET_MINUTES)
    seen = []
    score_paths([tmp_path], load_suite(DEFAULT_SUITE), workers=1,
                progress=lambda stage, done, total: seen.append((stage, done, total)))
    logs = len(RESNET_MINUTES)
    parsed = [s for s in seen if s[0] == PARSE]
    checked = [s for s in seen if s[0] == CHECK]
    assert parsed == [(PARSE, i, logs) for i in range(1, logs + 1)]
    # one step per log, and one for the RCP checks of the folder
    assert checked == [(CHECK, i, logs + 1) for i in range(1, logs + 2)]
