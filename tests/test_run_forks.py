"""Fault: a workload forks a child that leaves its process group and session (``setsid``)
and holds its stdout. The run's timeout and its end must hold all the same, and no process
of the run may outlive it (the local runtime, through ``gp2bm run-all``)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from campaign_helpers import TRAIN, spawn_run_all, write_suite

# gp2bm must finish well within this; today's code waited for the child (10 minutes)
BOUND_S = 60


def _marker() -> str:
    """A unique sleep length, to find the test's own processes in /proc."""
    return f"600.{secrets.randbelow(10**6):06d}"


def _processes(marker: str) -> list[int]:
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmd and b"sleep" in cmd:
                found.append(int(d.name))
    return found


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _forking_suite(folder: Path, marker: str, sleep_per_epoch: str) -> Path:
    """A one-run resnet suite whose workload first forks `setsid sleep 600.x` (stdout held)."""
    suite = write_suite(folder, {"resnet": 1})
    manifest_path = folder / "resnet.yaml"
    manifest = yaml.safe_load(manifest_path.read_text())
    train = f"{sys.executable} {TRAIN} --benchmark resnet --sleep-per-epoch {sleep_per_epoch}"
    manifest["local"]["command"] = ["sh", "-c", f"setsid sleep {marker} & exec {train}"]
    manifest_path.write_text(yaml.safe_dump(manifest))
    return suite


def _finish(proc: subprocess.Popen, marker: str) -> float:
    t0 = time.monotonic()
    try:
        proc.wait(timeout=BOUND_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        _kill(_processes(marker))
        pytest.fail(f"gp2bm run-all still running after {BOUND_S} s: it waits for the child")
    return time.monotonic() - t0


def _left(marker: str) -> list[int]:
    deadline = time.monotonic() + 5
    while _processes(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _processes(marker)
    _kill(left)
    return left


@pytest.mark.slow
@pytest.mark.reliability("timeout-forked-child")
def test_timeout_holds_when_the_workload_forks_a_setsid_child(tmp_path):
    marker = _marker()
    suite = _forking_suite(tmp_path / "suite", marker, "5")
    campaign = tmp_path / "c"
    t0 = time.monotonic()
    proc = spawn_run_all(suite, campaign, "--timeout", "3", "--json")
    _finish(proc, marker)
    assert time.monotonic() - t0 < 30
    record = json.loads((campaign / "records/resnet/run_0.json").read_text())
    assert record["status"] == "aborted", record
    assert record["reason"].startswith("timeout after 3"), record
    assert record["seconds"] < 20, record
    assert not _left(marker), "a process of the run outlived it"


@pytest.mark.reliability("timeout-forked-child")
def test_the_run_ends_with_its_main_process_and_ends_what_it_left(tmp_path):
    marker = _marker()
    suite = _forking_suite(tmp_path / "suite", marker, "0")
    campaign = tmp_path / "c"
    proc = spawn_run_all(suite, campaign, "--timeout", "300", "--json")
    elapsed = _finish(proc, marker)
    assert elapsed < 30
    record = json.loads((campaign / "records/resnet/run_0.json").read_text())
    assert record["status"] == "success", record
    assert record["seconds"] < 20, record
    assert not _left(marker), "the setsid child outlived the run"


@pytest.mark.reliability("timeout-forked-child")
def test_sigkill_of_gp2bm_ends_the_setsid_child_too(tmp_path):
    marker = _marker()
    suite = _forking_suite(tmp_path / "suite", marker, "5")
    campaign = tmp_path / "c"
    proc = spawn_run_all(suite, campaign, "--timeout", "300")
    partial = campaign / "records/resnet/result_0.txt.partial"
    deadline = time.monotonic() + BOUND_S
    while not (_processes(marker) and partial.exists()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes(marker), "the workload did not start"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=BOUND_S)
    assert not _left(marker), "the setsid child outlived a killed gp2bm"
