"""A campaign folder: the MLPerf submission layout, and the state of every run.

The folder IS the state; resuming means looking at what is there:

    <campaign>/campaign.json                         who, what suite, which runtime
    <campaign>/<org>/results/<system>/<bench>/result_N.txt   finished runs (never rewritten)
    <campaign>/records/<bench>/run_N.json            run record (seed, image digest, times...)
    <campaign>/records/<bench>/result_N.txt.partial  the log of a run in progress
    <campaign>/records/<bench>/attempts/             logs and records of interrupted attempts

A finished log appears in the submission tree only by an atomic rename once the run has
ended, so the submission tree never holds a partial log, and a run is redone exactly when
its result_N.txt is missing.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gp2bm import __version__
from gp2bm.errors import InputError
from gp2bm.suite import Suite

CAMPAIGN_FILE = "campaign.json"
LOCK_FILE = ".gp2bm.lock"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def write_json_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object")
    return data


def default_system_name() -> str:
    host = socket.gethostname().split(".")[0] or "node"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", host)


@dataclass(frozen=True)
class PlannedRun:
    benchmark: str
    index: int
    position: int  # 1-based place among the runs this invocation will do
    total: int


@dataclass
class Campaign:
    root: Path
    org: str
    system: str
    suite: Suite
    runtime: str
    created: str = field(default_factory=now_iso)

    # ------------------------------------------------------------------ layout
    @property
    def results_dir(self) -> Path:
        return self.root / self.org / "results" / self.system

    def bench_dir(self, bench: str) -> Path:
        return self.results_dir / bench

    def records_dir(self, bench: str) -> Path:
        return self.root / "records" / bench

    def result_path(self, bench: str, n: int) -> Path:
        return self.bench_dir(bench) / f"result_{n}.txt"

    def partial_path(self, bench: str, n: int) -> Path:
        return self.records_dir(bench) / f"result_{n}.txt.partial"

    def record_path(self, bench: str, n: int) -> Path:
        return self.records_dir(bench) / f"run_{n}.json"

    def attempts_dir(self, bench: str) -> Path:
        return self.records_dir(bench) / "attempts"

    @property
    def ident(self) -> str:
        """A stable label value naming this campaign's containers."""
        import hashlib

        return hashlib.sha256(str(self.root.resolve()).encode()).hexdigest()[:12]

    # ------------------------------------------------------------------ open / create
    @classmethod
    def open(
        cls,
        root: Path,
        suite: Suite,
        org: str | None = None,
        system: str | None = None,
        runtime: str | None = None,
        create: bool = True,
    ) -> Campaign:
        root = Path(root)
        meta_path = root / CAMPAIGN_FILE
        if meta_path.exists():
            meta = read_json(meta_path)
            for key, given in (("org", org), ("system", system)):
                if given and given != meta.get(key):
                    raise InputError(
                        f"{meta_path}: this campaign's {key} is '{meta.get(key)}', not '{given}'"
                    )
            if meta.get("suite") != suite.name:
                raise InputError(
                    f"{meta_path}: this campaign runs suite '{meta.get('suite')}', "
                    f"not '{suite.name}' (use another --campaign folder)"
                )
            return cls(
                root=root,
                org=meta["org"],
                system=meta["system"],
                suite=suite,
                runtime=runtime or meta.get("runtime", "docker"),
                created=meta.get("created", ""),
            )
        if not create:
            raise InputError(f"{root}: not a gp2bm campaign (no {CAMPAIGN_FILE})")
        org = org or "gp2bm"
        system = system or default_system_name()
        for what, value in (("org", org), ("system", system)):
            if not NAME_RE.match(value):
                raise InputError(f"--{what} '{value}': use letters, digits, '_', '.', '-'")
        campaign = cls(root=root, org=org, system=system, suite=suite, runtime=runtime or "docker")
        return campaign

    def save(self) -> None:
        meta_path = self.root / CAMPAIGN_FILE
        if meta_path.exists():
            return
        write_json_atomic(
            meta_path,
            {
                "org": self.org,
                "system": self.system,
                "suite": self.suite.name,
                "suite_file": str(self.suite.path) if self.suite.path else None,
                "ruleset": self.suite.ruleset,
                "runtime": self.runtime,
                "created": self.created,
                "gp2bm_version": __version__,
            },
        )

    # ------------------------------------------------------------------ state
    def finished(self, bench: str) -> set[int]:
        folder = self.bench_dir(bench)
        if not folder.is_dir():
            return set()
        out = set()
        for p in folder.iterdir():
            m = re.fullmatch(r"result_(\d+)\.txt", p.name)
            if m:
                out.add(int(m.group(1)))
        return out

    def partials(self, bench: str) -> list[int]:
        folder = self.records_dir(bench)
        if not folder.is_dir():
            return []
        found = []
        for p in folder.iterdir():
            m = re.fullmatch(r"result_(\d+)\.txt\.partial", p.name)
            if m:
                found.append(int(m.group(1)))
        return sorted(found)

    def plan(self, benchmarks: list[str] | None = None) -> list[PlannedRun]:
        names = benchmarks or list(self.suite.benchmarks)
        todo = []
        for bench in names:
            done = self.finished(bench)
            todo += [(bench, n) for n in range(self.suite.benchmarks[bench].runs) if n not in done]
        return [PlannedRun(b, n, i, len(todo)) for i, (b, n) in enumerate(todo, 1)]

    def archive_partials(self) -> list[Path]:
        """Keep each interrupted run's log (and record) as a numbered attempt."""
        kept = []
        for bench in self.suite.benchmarks:
            for n in self.partials(bench):
                attempts = self.attempts_dir(bench)
                attempts.mkdir(parents=True, exist_ok=True)
                k = 1
                while (attempts / f"result_{n}.attempt{k}.txt").exists():
                    k += 1
                dest = attempts / f"result_{n}.attempt{k}.txt"
                os.replace(self.partial_path(bench, n), dest)
                kept.append(dest)
                record = self.record_path(bench, n)
                if record.exists() and not self.result_path(bench, n).exists():
                    data = read_json(record)
                    if data.get("status") in (None, "running"):
                        data["status"] = "interrupted"
                        data.setdefault("reason", "gp2bm stopped before the run ended")
                    data["attempt_log"] = str(dest.relative_to(self.root))
                    write_json_atomic(attempts / f"run_{n}.attempt{k}.json", data)
                    record.unlink()
        return kept

    def used_seeds(self, bench: str) -> set[int]:
        seeds = set()
        folder = self.records_dir(bench)
        if folder.is_dir():
            for p in list(folder.glob("run_*.json")) + list(folder.glob("attempts/run_*.json")):
                try:
                    seed = json.loads(p.read_text()).get("seed")
                except (OSError, ValueError):
                    continue
                if isinstance(seed, int):
                    seeds.add(seed)
        return seeds

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One gp2bm at a time per campaign; a second one is refused, not queued."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                holder = os.pread(fd, 100, 0).decode(errors="replace").strip() or "?"
                raise InputError(
                    f"{self.root}: campaign is in use by another gp2bm (pid {holder})"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)
