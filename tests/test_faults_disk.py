"""Fault: the disk holding the campaign fills up in the middle of a run."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import subprocess
import time
from pathlib import Path

import pytest
from campaign_helpers import WhenRun1Writes, write_suite

NO_DROP = ["--cache-drop-command", "true", "--skip-check"]  # the pre-flight wants 1 GiB free


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(path: Path) -> None:
    """Write ``path`` until the disk is full."""
    block = b"\0" * 65536
    with open(path, "wb", buffering=0) as fh:
        while True:
            try:
                fh.write(block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if len(block) == 1:
                    return
                block = block[: len(block) // 2]


def tree_digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def processes_tagged(tag: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if tag.encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@pytest.mark.slow
@pytest.mark.reliability("disk-full")
def test_disk_full_mid_run_stops_cleanly_and_resumes(cli, tmp_path, small_disk):
    tag = f"gp2bm-disk-test-{secrets.token_hex(4)}"
    suite = write_suite(
        tmp_path / "suite",
        {"resnet": 3},
        extra_args=["--sleep-per-epoch", "0.05"],
        local_env={"GP2BM_TEST_TAG": tag},
    )
    campaign = small_disk / "campaign"
    results = campaign / "gp2bm" / "results" / "node1" / "resnet"
    partial = campaign / "records" / "resnet" / "result_1.txt.partial"
    filler = small_disk / "filler"
    args = ["--suite", suite, "--campaign", campaign, "--runtime", "local", "--system", "node1"]
    # fill the disk once run 0 is finished and run 1 is writing its log
    with WhenRun1Writes(results, partial, lambda: fill(filler) is None) as filled:
        res = cli("run-all", *args, *NO_DROP)
    assert filled.done.is_set(), "run 1 ended before the disk could be filled: " + res.err[-1500:]
    assert res.code == 2, res.err[-2000:]
    last = res.err.strip().splitlines()[-1]
    assert "result_1.txt.partial" in last and "no space left on device" in last
    assert "Traceback" not in res.err and "internal error" not in res.err
    # run 0 is finished and recorded; run 1's partial log is there; no process is left
    finished = tree_digests(results)
    assert list(finished) == ["result_0.txt"]
    record0 = json.loads((campaign / "records" / "resnet" / "run_0.json").read_text())
    assert record0["status"] == "success"
    assert partial.exists() and b'"run_start"' in partial.read_bytes()
    assert not list(campaign.rglob(".*.tmp"))
    deadline = time.monotonic() + 10
    while processes_tagged(tag) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_tagged(tag) == []

    # free the space: the next run-all keeps the partial log as an attempt and completes
    filler.unlink()
    res = cli("run-all", *args, *NO_DROP, "--json")
    assert res.code == 0, res.err[-2000:]
    assert res.json()["benchmarks"]["resnet"]["valid"]
    assert tree_digests(results)["result_0.txt"] == finished["result_0.txt"]
    assert sorted(tree_digests(results)) == [f"result_{i}.txt" for i in range(3)]
    attempts = list((campaign / "records" / "resnet" / "attempts").rglob("*"))
    assert any("result_1" in p.name for p in attempts), attempts
