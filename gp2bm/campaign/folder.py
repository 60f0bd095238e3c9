"""A campaign folder: the MLPerf submission layout, and the state of every run.

The folder IS the state; resuming means looking at what is there:

    <campaign>/campaign.json                         who, what suite, which runtime
    <campaign>/<org>/results/<system>/<bench>/result_N.txt   finished runs (never rewritten)
    <campaign>/records/<bench>/run_N.json            run record (seed, image digest, times...)
    <campaign>/records/<bench>/result_N.txt.partial  the log of a run in progress
    <campaign>/records/<bench>/attempts/             logs and records of interrupted attempts
    <campaign>/records/<bench>/run_N.lock            held (flock) by the gp2bm doing run N
    <campaign>/records/<bench>/telemetry_N.csv       the run's telemetry (rank 0's node), and
    <campaign>/records/<bench>/telemetry_N.NODE.csv  that of each other node of a run across nodes

A finished log appears in the submission tree only by an atomic rename once the run has
ended, so the submission tree never holds a partial log, and a run is redone exactly when
its result_N.txt is missing.

Several gp2bm processes may share one campaign (Slurm array tasks on different nodes, the
folder on a shared file system): each run is done under its own lock, so a run is never done
twice at once and a partial log that is still being written is never taken for an
interrupted one. The campaign-wide lock is for whoever plans and submits. The locks
themselves are ``gp2bm.campaign.locks``; the run records, ``gp2bm.campaign.record``.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from gp2bm import __version__
from gp2bm.campaign.locks import campaign_lock, lock_holder, run_lock
from gp2bm.campaign.record import INTERRUPTED, RUNNING, RunRecord
from gp2bm.errors import InputError, RunBusy
from gp2bm.files.jsonfile import read_json, write_json_atomic
from gp2bm.files.plaintext import printable
from gp2bm.files.timestamps import now_iso
from gp2bm.runtimes import DEFAULT as DEFAULT_RUNTIME
from gp2bm.spec.suite import Suite

CAMPAIGN_FILE = "campaign.json"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# An organisation or system name becomes a folder name and a field of every log.
NAME_MAX = 64


def default_campaign_root(suite: Suite) -> Path:
    """results/<suite name>: the campaign folder when none is given."""
    return Path("results") / suite.name


def check_name(what: str, value: str) -> None:
    """An organisation or system name as the submission tree takes it, refused in one line
    that shows it escaped and cut (it may hold terminal escapes or be very long)."""
    if len(value) > NAME_MAX:
        raise InputError(
            f"--{what} '{printable(value, 24)}': {len(value)} characters, at most {NAME_MAX}"
        )
    if not NAME_RE.match(value):
        raise InputError(
            f"--{what} '{printable(value, NAME_MAX)}': use letters, digits, '_', '.', '-'"
        )


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

    def telemetry_path(self, bench: str, n: int) -> Path:
        return self.records_dir(bench) / f"telemetry_{n}.csv"

    def node_telemetry_path(self, bench: str, n: int, node: str) -> Path:
        """The telemetry of another node than rank 0's, in a run across nodes."""
        return self.records_dir(bench) / f"telemetry_{n}.{node}.csv"

    def run_lock_path(self, bench: str, n: int) -> Path:
        return self.records_dir(bench) / f"run_{n}.lock"

    @property
    def ident(self) -> str:
        """A stable label value naming this campaign's containers."""
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
                    was, now = printable(meta.get(key), NAME_MAX), printable(given, NAME_MAX)
                    raise InputError(f"{meta_path}: this campaign's {key} is '{was}', not '{now}'")
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
                runtime=runtime or meta.get("runtime", DEFAULT_RUNTIME),
                created=meta.get("created", ""),
            )
        if not create:
            raise InputError(f"{root}: not a gp2bm campaign (no {CAMPAIGN_FILE})")
        org = org or "gp2bm"
        system = system or default_system_name()
        for what, value in (("org", org), ("system", system)):
            check_name(what, value)
        return cls(
            root=root, org=org, system=system, suite=suite, runtime=runtime or DEFAULT_RUNTIME
        )

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
        """Keep each interrupted run's log (and record) as a numbered attempt.

        A partial log whose run lock is held belongs to a run still going on (another
        node's array task): it is left alone.
        """
        kept = []
        for bench in self.suite.benchmarks:
            for n in self.partials(bench):
                try:
                    with self.run_lock(bench, n):
                        dest = self.archive_partial(bench, n)
                except RunBusy:
                    continue
                if dest is not None:
                    kept.append(dest)
        return kept

    def archive_partial(self, bench: str, n: int) -> Path | None:
        """Move run n's partial log (and its record) to attempts/; call with its run lock."""
        partial = self.partial_path(bench, n)
        if not partial.exists():
            return None
        attempts = self.attempts_dir(bench)
        attempts.mkdir(parents=True, exist_ok=True)
        k = 1
        while (attempts / f"result_{n}.attempt{k}.txt").exists():
            k += 1
        dest = attempts / f"result_{n}.attempt{k}.txt"
        os.replace(partial, dest)
        telemetry = self.telemetry_path(bench, n)
        if telemetry.exists() and not self.result_path(bench, n).exists():
            os.replace(telemetry, attempts / f"telemetry_{n}.attempt{k}.csv")
        for other in sorted(self.records_dir(bench).glob(f"telemetry_{n}.*.csv")):
            if not self.result_path(bench, n).exists():
                node = other.name[len(f"telemetry_{n}.") : -len(".csv")]
                os.replace(other, attempts / f"telemetry_{n}.attempt{k}.{node}.csv")
        record_path = self.record_path(bench, n)
        if record_path.exists() and not self.result_path(bench, n).exists():
            record = RunRecord.from_dict(read_json(record_path))
            if record.status in (None, RUNNING):
                record.status = INTERRUPTED
                if record.reason is None:
                    record.reason = "gp2bm stopped before the run ended"
            record.attempt_log = str(dest.relative_to(self.root))
            record.save(attempts / f"run_{n}.attempt{k}.json")
            record_path.unlink()
        return dest

    def used_seeds(self, bench: str) -> set[int]:
        """The seeds of every run and attempt recorded so far (a record that cannot be read
        names no seed)."""
        folder = self.records_dir(bench)
        if not folder.is_dir():
            return set()
        paths = list(folder.glob("run_*.json")) + list(folder.glob("attempts/run_*.json"))
        records = (RunRecord.load(p) for p in paths)
        return {r.seed for r in records if r is not None and r.seed is not None}

    # ------------------------------------------------------------------ locks
    def lock(self) -> AbstractContextManager[None]:
        """One gp2bm at a time per campaign; a second one is refused, not queued."""
        return campaign_lock(self.root)

    def run_lock(
        self, bench: str, n: int, wait: float = 0.0, holder: dict | None = None
    ) -> AbstractContextManager[None]:
        """Hold run n's own lock while doing it (RunBusy after ``wait`` s when held)."""
        return run_lock(self.run_lock_path(bench, n), f"{bench} run {n}", wait, holder)

    def run_holder(self, bench: str, n: int) -> dict | None:
        """Who holds run n's lock (what it wrote there), or None when nobody does."""
        return lock_holder(self.run_lock_path(bench, n))

    @contextmanager
    def claim_run(
        self, bench: str, n: int, wait: float = 0.0, holder: dict | None = None
    ) -> Iterator[bool]:
        """Hold run n's lock; keep a partial log an earlier attempt left as an attempt.

        Yields whether the run still has to be done (False: its result_N.txt appeared
        meanwhile, done by another gp2bm). Raises RunBusy when another gp2bm is doing it.
        """
        with self.run_lock(bench, n, wait=wait, holder=holder):
            if self.result_path(bench, n).exists():
                yield False
                return
            self.archive_partial(bench, n)
            yield True
