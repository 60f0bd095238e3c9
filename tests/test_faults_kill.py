"""Fault: gp2bm killed with SIGKILL while scoring and while packaging a campaign."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from freeze import ATTEMPTS, frozen_when, live_children
from test_report_campaign import synthetic_campaign

from gp2bm.campaign.layout import CampaignFiles
from gp2bm.campaign.locks import campaign_lock, lock_holder, run_lock
from gp2bm.files import safetar


def tree_digests(root: Path) -> dict[str, str]:
    """Every file of the campaign (the lock file's content is the holder, not a record)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".gp2bm.lock"
    }


def gp2bm(*args, cache: Path | None = None) -> subprocess.Popen:
    env = dict(os.environ, XDG_CACHE_HOME=str(cache)) if cache else None  # no verdict kept
    return subprocess.Popen(
        [sys.executable, "-m", "gp2bm", *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )


def kill(proc: subprocess.Popen) -> bool:
    """SIGKILL it; False when it had already ended by itself."""
    if proc.poll() is not None:
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    return True


@pytest.mark.slow
@pytest.mark.reliability("sigkill-scoring")
def test_sigkill_during_scoring_changes_nothing(tmp_path):
    root = synthetic_campaign(tmp_path)
    before = tree_digests(root)
    for delay in (0.2, 0.6, 1.0):  # at moments of the start and of the parsing, if so
        proc = gp2bm("score", root, "--json", cache=tmp_path / f"cache-{delay}")
        time.sleep(delay)
        kill(proc)
        assert tree_digests(root) == before
    # and, for certain, while its checker processes run
    caches = iter(range(ATTEMPTS))
    proc = frozen_when(
        lambda: gp2bm("score", root, "--json", cache=tmp_path / f"cache{next(caches)}"),
        lambda p: bool(live_children(p)),
        "its checker processes",
    )
    assert kill(proc)
    assert tree_digests(root) == before


@pytest.mark.slow
@pytest.mark.reliability("sigkill-packaging")
def test_sigkill_during_packaging_leaves_no_bundle(tmp_path):
    root = synthetic_campaign(tmp_path)
    before = tree_digests(root)
    out = tmp_path / "out"
    out.mkdir()
    bundle = out / "handin.tar.gz"

    # while the tar itself is being written: frozen, then killed, with its temporary file there
    def start():
        bundle.unlink(missing_ok=True)  # what an attempt that got past the moment wrote
        return gp2bm("package", root, "-o", bundle)

    proc = frozen_when(
        start,
        lambda p: bool(list(out.glob(".handin.tar.gz.*.tmp"))),
        "the tar being written",
    )
    assert kill(proc)
    assert not bundle.exists()
    assert tree_digests(root) == before

    # and at other moments of the staging and checks
    for delay in (0.5, 1.5):
        proc = gp2bm("package", root, "-o", bundle)
        time.sleep(delay)
        if kill(proc):
            assert not bundle.exists()
        assert tree_digests(root) == before

    # a later package writes a complete, readable bundle over whatever was left
    res = subprocess.run(
        [sys.executable, "-m", "gp2bm", "package", str(root), "-o", str(bundle)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    safetar.extract(bundle, tmp_path / "x")
    assert tree_digests(root) == before


# Takes the campaign lock and a run lock, forks a child that lives on (as a pool worker
# would), writes the child's pid, then SIGKILLs itself while holding both locks.
LOCK_THEN_FORK = """
import os, signal, sys, time
from pathlib import Path
from gp2bm.campaign.layout import CampaignFiles
from gp2bm.campaign.locks import campaign_lock, run_lock
root = Path(sys.argv[1])
with campaign_lock(CampaignFiles(root)), run_lock(root / "run_0.lock", "resnet run 0"):
    child = os.fork()
    if child == 0:
        time.sleep(60)
        os._exit(0)
    (root / "child.pid").write_text(str(child))
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_forked_child_keeps_no_lock_once_gp2bm_is_killed(tmp_path):
    """A worker forked while gp2bm holds the campaign's locks (the checkers' process pool)
    does not keep the campaign locked after that gp2bm is killed."""
    proc = subprocess.run([sys.executable, "-c", LOCK_THEN_FORK, str(tmp_path)], timeout=60)
    assert proc.returncode == -signal.SIGKILL
    child = int((tmp_path / "child.pid").read_text())
    try:
        assert Path(f"/proc/{child}").exists(), "the forked child ended too early"
        assert lock_holder(tmp_path / "run_0.lock") is None
        lock = run_lock(tmp_path / "run_0.lock", "resnet run 0")
        with campaign_lock(CampaignFiles(tmp_path)), lock:
            pass
    finally:
        os.kill(child, signal.SIGKILL)
