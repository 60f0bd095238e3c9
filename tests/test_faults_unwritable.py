"""Fault: the campaign folder can no longer be written while a run is going on (its folders
made immutable with ``chattr +i``, which holds for root as a lost permission holds for an
ordinary user: creating or renaming a file there fails with EPERM). The campaign stops with
one line naming the file and the fix, exit 2, never a traceback; the finished run is kept,
the interrupted one's log is kept as an attempt by the next run-all, which completes once
the folder is writable again."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from campaign_helpers import WhenRun1Writes, write_suite

NO_DROP = ["--cache-drop-command", "true", "--skip-check"]


def _folders(root: Path) -> list[Path]:
    return [root, *(p for p in root.rglob("*") if p.is_dir() and not p.is_symlink())]


def _immutable(root: Path, on: bool) -> subprocess.CompletedProcess:
    flag = "+i" if on else "-i"
    return subprocess.run(["chattr", flag, *map(str, _folders(root))],
                          capture_output=True, text=True)  # fmt: skip


@pytest.fixture
def can_lock(tmp_path) -> Iterator[Path]:
    """A folder whose subfolders the test may make immutable (root and chattr needed)."""
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("making a folder immutable needs root and chattr")
    probe = tmp_path / "probe"
    probe.mkdir()
    res = _immutable(probe, True)
    if res.returncode != 0:
        pytest.skip(f"chattr +i does not work here: {res.stderr.strip()}")
    _immutable(probe, False)
    yield tmp_path
    if (tmp_path / "campaign").exists():
        _immutable(tmp_path / "campaign", False)  # pytest must be able to remove it


@pytest.mark.slow
@pytest.mark.reliability("campaign-unwritable")
def test_a_campaign_made_unwritable_mid_run_stops_in_one_line(cli, can_lock):
    suite = write_suite(can_lock / "suite", {"resnet": 3},
                        extra_args=["--sleep-per-epoch", "0.05"])  # fmt: skip
    campaign = can_lock / "campaign"
    results = campaign / "gp2bm" / "results" / "node1" / "resnet"
    partial = campaign / "records" / "resnet" / "result_1.txt.partial"
    args = ["--suite", suite, "--campaign", campaign, "--runtime", "local", "--system", "node1"]
    locking = lambda: _immutable(campaign, True).returncode == 0  # noqa: E731
    with WhenRun1Writes(results, partial, locking) as lock:
        res = cli("run-all", *args, *NO_DROP)
    try:
        assert lock.done.is_set(), "run 1 ended before the folder was locked: " + res.err[-1500:]
        assert res.code == 2, res.err[-2000:]
        last = res.err.strip().splitlines()[-1]
        assert "operation not permitted" in last, last
        assert "make the campaign folder writable" in last and str(campaign) in last, last
        assert "Traceback" not in res.err and "internal error" not in res.err
        assert sorted(p.name for p in results.iterdir()) == ["result_0.txt"]
        assert partial.exists()
    finally:
        _immutable(campaign, False)

    # writable again: the next run-all keeps the partial log as an attempt and completes
    res = cli("run-all", *args, *NO_DROP, "--json")
    assert res.code == 0, res.err[-2000:]
    assert sorted(p.name for p in results.iterdir()) == [f"result_{i}.txt" for i in range(3)]
    attempts = list((campaign / "records" / "resnet" / "attempts").rglob("*"))
    assert any("result_1" in p.name for p in attempts), attempts
