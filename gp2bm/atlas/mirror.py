"""Reading MLCommons' results repositories as git stores them, without a checkout.

A round's repository may be a bare git folder (what a mirror holds), a clone (its ``.git``)
or a folder holding either under ``repo/``; it is found in the mirror folder by its name,
``training_results_vX.Y`` (optionally with ``.git``, or owner-prefixed as
``mlcommons+training_results_vX.Y``). Files are read from the commit ``HEAD`` names:
``git ls-tree`` for the list, one ``git cat-file --batch`` process for the content.
A file the snapshot lists but does not hold (a mirror may leave out its largest files) is
reported as absent, never read as empty.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gp2bm.errors import InputError
from gp2bm.files.command import run_short

GIT_TIMEOUT_S = 600
REPOSITORY_RE = re.compile(r"^(?:[A-Za-z0-9_.-]+\+)?training_results_(v\d+\.\d+)(?:\.git)?$")


@dataclass(frozen=True)
class TreeEntry:
    path: str
    blob: str
    size: int


@dataclass(frozen=True)
class Repository:
    round: str  # v2.1
    name: str  # the folder's name in the mirror
    git_dir: Path
    commit: str


def git_dir_of(folder: Path) -> Path | None:
    """The git folder of a repository folder: itself when bare, its .git, or its repo/."""
    for candidate in (folder, folder / ".git", folder / "repo", folder / "repo" / ".git"):
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            return candidate
    return None


def git(git_dir: Path, *args: str) -> str:
    """A git command's output on ``git_dir``; its failure is bad input naming the folder."""
    try:
        done = run_short(["git", "--git-dir", str(git_dir), *args], GIT_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(f"{git_dir}: git {args[0]} did not run: {exc}") from None
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise InputError(f"{git_dir}: git {args[0]} failed: {why}")
    return done.stdout


def find_repositories(mirror: Path) -> dict[str, Repository]:
    """Round -> its repository, for every ``training_results_vX.Y`` folder in ``mirror``."""
    mirror = Path(mirror)
    if not mirror.is_dir():
        raise InputError(f"{mirror}: no such folder (give the folder holding the repositories)")
    found: dict[str, Repository] = {}
    for folder in sorted(mirror.iterdir()):
        match = REPOSITORY_RE.match(folder.name)
        git_dir = git_dir_of(folder) if match and folder.is_dir() else None
        if match is None or git_dir is None:
            continue
        round_ = match.group(1)
        if round_ in found:
            raise InputError(
                f"{mirror}: two repositories for round {round_}: {found[round_].name} and "
                f"{folder.name}"
            )
        commit = git(git_dir, "rev-parse", "HEAD").strip()
        found[round_] = Repository(round_, folder.name, git_dir, commit)
    return found


def list_tree(repo: Repository) -> list[TreeEntry]:
    """Every file of the repository's commit, with its blob and size."""
    out = git(repo.git_dir, "ls-tree", "-r", "-l", "-z", repo.commit)
    entries = []
    for item in out.split("\0"):
        if not item:
            continue
        meta, _, path = item.partition("\t")
        _mode, kind, blob, size = meta.split()
        if kind == "blob":
            entries.append(TreeEntry(path, blob, int(size) if size.isdigit() else 0))
    return entries


class BlobReader:
    """One ``git cat-file --batch`` per repository, kept open: a blob's bytes, or None
    when the store lists it but does not hold it."""

    def __init__(self, git_dir: Path):
        self.git_dir = git_dir
        self._proc: subprocess.Popen | None = None

    def _process(self) -> subprocess.Popen:
        if self._proc is None:
            self._proc = subprocess.Popen(
                ["git", "--git-dir", str(self.git_dir), "cat-file", "--batch"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        return self._proc

    def read(self, blob: str) -> bytes | None:
        proc = self._process()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(blob.encode() + b"\n")
        proc.stdin.flush()
        header = proc.stdout.readline().split()
        if len(header) < 3 or header[1] != b"blob":
            if not header:
                raise InputError(f"{self.git_dir}: git cat-file ended early")
            return None  # "<blob> missing"
        size = int(header[2])
        data = proc.stdout.read(size)
        proc.stdout.read(1)  # the newline after each object
        return data

    def close(self) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            self._proc.wait(timeout=GIT_TIMEOUT_S)
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None
