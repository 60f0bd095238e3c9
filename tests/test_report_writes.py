"""Every report is written whole or not at all: a full disk or a read-only file system
leaves the report that was there intact (never a 0-byte or truncated file) and no
temporary file, and says so in one line naming the file and the fix, exit 2; the verdict
cache lies under $XDG_CACHE_HOME or the home folder, never under /."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import test_faults_disk
from test_faults_disk import fill
from test_report_campaign import copy_campaign, smoke_campaign

from gp2bm.files.atomic import write_text_atomic
from gp2bm.results.verdictcache import default_cache_dir

pytestmark = pytest.mark.slow

small_disk = test_faults_disk.small_disk  # a 2 MiB tmpfs (root), unmounted afterwards


def gp2bm(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gp2bm", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env if env is not None else {**os.environ, "GP2BM_DEBUG": ""},
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_line_naming(proc: subprocess.CompletedProcess, path: Path, *words: str) -> None:
    lines = [line for line in proc.stderr.splitlines() if line.startswith("gp2bm: error")]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr[-2000:]
    assert str(path) in lines[0] and all(w in lines[0] for w in words), lines[0]


@pytest.mark.reliability("report-writes-atomic")
@pytest.mark.parametrize("kind", ["--csv", "--html", "--xlsx"])
def test_a_report_on_a_full_disk_keeps_the_old_one_whole(tmp_path_factory, small_disk, kind):
    root = copy_campaign(smoke_campaign(tmp_path_factory), small_disk.parent / "campaign")
    target = small_disk / f"report{kind.replace('--', '.')}"
    assert gp2bm("report", root, kind, target).returncode == 0
    before = digest(target)
    fill(small_disk / "filler")
    proc = gp2bm("report", root, kind, target)
    one_line_naming(proc, target, "No space left on device", "free space")
    assert digest(target) == before  # the report that was there, whole
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", target.name]


@pytest.mark.reliability("report-writes-atomic")
def test_a_report_on_a_read_only_disk_is_one_line(tmp_path_factory, small_disk):
    root = copy_campaign(smoke_campaign(tmp_path_factory), small_disk.parent / "campaign")
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    target = small_disk / "out" / "results.csv"
    proc = gp2bm("report", root, "--csv", target)
    one_line_naming(proc, target.parent, "Read-only file system", "write it elsewhere")


@pytest.mark.reliability("report-writes-atomic")
def test_a_failed_atomic_write_leaves_no_temporary_file(small_disk):
    target = small_disk / "state.json"
    write_text_atomic(target, "old\n")
    fill(small_disk / "filler")
    with pytest.raises(OSError) as caught:
        write_text_atomic(target, "x" * 100_000)
    assert caught.value.filename == str(target)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "state.json"]


@pytest.mark.reliability("verdict-cache-home")
@pytest.mark.parametrize("home", ["", "/", "relative/home"])
def test_without_a_home_the_verdict_cache_is_refused_in_one_line(tmp_path_factory, tmp_path, home):
    root = copy_campaign(smoke_campaign(tmp_path_factory), tmp_path / "campaign")
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "GP2BM_DEBUG")}
    proc = gp2bm("report", root, "--csv", tmp_path / "r.csv", env={**env, "HOME": home})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("gp2bm: error")]
    assert "verdict cache" in line and "set XDG_CACHE_HOME" in line, line


@pytest.mark.reliability("verdict-cache-home")
def test_the_verdict_cache_lies_under_xdg_cache_home_or_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "gp2bm" / "verdicts"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")  # ignored, as the XDG spec says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "gp2bm" / "verdicts"


def fill_leaving(path: Path, room: int) -> None:
    """Fill the disk of ``path``, then give back ``room`` bytes: too little for a bundle."""
    fill(path)
    with open(path, "r+b") as fh:
        fh.truncate(max(0, path.stat().st_size - room))


@pytest.mark.reliability("scratch-full")
def test_a_full_temporary_folder_is_named_not_the_file_being_copied(
    tmp_path_factory, tmp_path, small_disk
):
    """package and verify work in a scratch folder under TMPDIR: with too little room
    there, the one line names that folder and TMPDIR, never the campaign's log that was
    being copied into it (nor 'a file'), exit 2; nothing is written under the bundle's
    name and no scratch folder is left."""
    root = copy_campaign(smoke_campaign(tmp_path_factory), tmp_path / "campaign")
    bundle = tmp_path / "b.tar.gz"
    env = {**os.environ, "GP2BM_DEBUG": "", "COLUMNS": "300"}
    made = gp2bm("package", root, "--allow-incomplete", "--output", bundle, env=env)
    assert made.returncode == 0, made.stderr[-2000:]
    fill_leaving(small_disk / "filler", 96 * 1024)
    full = {**env, "TMPDIR": str(small_disk)}
    again = tmp_path / "again.tar.gz"
    for proc in (gp2bm("package", root, "--allow-incomplete", "--output", again, env=full),
                 gp2bm("verify", bundle, env=full)):  # fmt: skip
        one_line_naming(proc, small_disk, "No space left on device".lower(), "TMPDIR")
        assert "result_" not in proc.stderr and "a file" not in proc.stderr, proc.stderr
    assert not again.exists()
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]
