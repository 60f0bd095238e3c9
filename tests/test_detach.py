"""run-all without its terminal: the reader of its output gone (``run-all | head``) or its
terminal hung up (SIGHUP) stops no run; what it would have shown goes on in the campaign's
run-all.log, after a line saying how and when. Real smoke campaigns, run-all in its own
process."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from campaign_helpers import NO_DROP, SYSTEM, bench_dir, write_suite

RUNS = {"resnet": 3, "bert": 3}


def start(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    suite = write_suite(tmp_path / "suite", RUNS, extra_args=["--sleep-per-epoch", "0.02"])
    root = tmp_path / "campaign"
    argv = [sys.executable, "-m", "gp2bm", "run-all", "--suite", str(suite), "--campaign",
            str(root), "--runtime", "local", "--system", SYSTEM, *NO_DROP]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return proc, root


def first_line(proc: subprocess.Popen) -> bytes:
    assert proc.stdout is not None
    return proc.stdout.readline()


def done(root: Path) -> dict[str, int]:
    return {b: len(list(bench_dir(root, b).glob("result_*.txt"))) for b in RUNS}


@pytest.mark.slow
@pytest.mark.reliability("terminal-lost")
def test_a_closed_pipe_stops_no_run(tmp_path):
    proc, root = start(tmp_path)
    assert b"started" in first_line(proc)
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone: the next write fails with EPIPE
    assert proc.wait(timeout=300) == 0
    assert done(root) == RUNS
    log = (root / "run-all.log").read_text()
    assert "could not be written (Broken pipe)" in log and "its output goes on here" in log
    assert "6 run(s) in" in log  # the summary written after the pipe closed


@pytest.mark.slow
@pytest.mark.reliability("terminal-lost")
def test_a_terminal_that_hangs_up_stops_no_run(tmp_path):
    proc, root = start(tmp_path)
    assert b"started" in first_line(proc)
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.2)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-2000:]
    assert done(root) == RUNS
    log = (root / "run-all.log").read_text()
    assert "the terminal hung up (SIGHUP)" in log and "6 run(s) in" in log
