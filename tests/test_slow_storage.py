"""Fault: the campaign folder lies on slow network storage (a FUSE loopback that delays every
operation, tests/slowfs.py), and the storage stalls for seconds while a run's log is written.

The campaign completes with valid runs; gp2bm's own timing of a run is taken as the lines
arrive, not when slow storage has written them, so a stall is not mistaken for a clock step.
Needs root (mount), /dev/fuse, libfuse 3 and the ``mfusepy`` package: skipped otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from campaign_helpers import NO_DROP, SYSTEM, write_suite

SLOWFS = Path(__file__).with_name("slowfs.py")
DELAY_S = "0.02"  # every file system operation
STALL_S = 8  # one stall of the log's storage, well past the 5 s tolerance of gp2bm's timing


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "mounting a FUSE file system needs root here"
    if not Path("/dev/fuse").exists():
        return "no /dev/fuse"
    try:
        import mfusepy  # noqa: F401
    except (ImportError, OSError) as exc:
        return f"mfusepy with libfuse 3 is needed: {exc}"
    return None


@pytest.fixture
def slow_mount(tmp_path):
    reason = _unavailable()
    if reason:
        pytest.skip(reason)
    root, mount, stall = tmp_path / "root", tmp_path / "mnt", tmp_path / "stall"
    root.mkdir()
    mount.mkdir()
    proc = subprocess.Popen([sys.executable, str(SLOWFS), str(root), str(mount), DELAY_S,
                             str(stall)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not os.path.ismount(mount) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not os.path.ismount(mount):
        proc.kill()
        pytest.skip(f"the FUSE file system did not mount: {proc.stderr.read()[-300:]!r}")
    yield root, mount, stall
    subprocess.run(["umount", "-l", str(mount)], check=False)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def _stall_once_after_run_start(partial: Path, stall: Path, done: threading.Event) -> None:
    """Stall the log's storage once, as soon as run 0's run_start line is on disk."""
    while not done.is_set():
        try:
            if b'"run_start"' in partial.read_bytes():
                stall.write_text(str(STALL_S))
                return
        except OSError:
            pass
        time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.reliability("slow-storage")
def test_campaign_on_slow_storage_with_a_stall(slow_mount, tmp_path):
    root, mount, stall = slow_mount
    suite = write_suite(mount / "suite", {"resnet": 3}, extra_args=["--sleep-per-epoch", "0.1"])
    campaign = mount / "c"
    done = threading.Event()
    # watched on the storage itself (root), not through the slow mount
    partial = root / "c" / "records" / "resnet" / "result_0.txt.partial"
    watcher = threading.Thread(target=_stall_once_after_run_start, args=(partial, stall, done))
    watcher.start()
    argv = [sys.executable, "-m", "gp2bm", "run-all", "--suite", str(suite), "--campaign",
            str(campaign), "--runtime", "local", "--system", SYSTEM, *NO_DROP, "--json"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    finally:
        done.set()
        watcher.join()
    assert not stall.exists(), "the stall was never reached"
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = json.loads(proc.stdout)["benchmarks"]["resnet"]["runs"]
    assert [r["role"] for r in runs].count("failed") == 0, runs
    record = json.loads((campaign / "records/resnet/run_0.json").read_text())
    assert record["status"] == "success"
    # the log is whole: gp2bm's closing line made it through the stall
    assert '"key": "gp2bm_run_end"' in (
        campaign / "gp2bm/results" / SYSTEM / "resnet/result_0.txt"
    ).read_text()
    shutil.rmtree(root / "c", ignore_errors=True)
