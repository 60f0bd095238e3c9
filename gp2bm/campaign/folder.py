"""A campaign folder: the state of every run (its layout is ``gp2bm.campaign.layout``).

The folder IS the state; resuming means looking at what is there. A finished log appears in
the submission tree only by an atomic rename once the run has ended, so the submission tree
never holds a partial log, and a run is redone exactly when its result_N.txt is missing.

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
from gp2bm.campaign.layout import CAMPAIGN_FILE, CampaignLayout, CampaignMeta, OnLayout
from gp2bm.campaign.locks import campaign_lock, lock_holder, run_lock
from gp2bm.campaign.record import INTERRUPTED, RUNNING, RunRecord, check_format
from gp2bm.errors import InputError, RunBusy
from gp2bm.files.jsonfile import read_json
from gp2bm.files.plaintext import printable
from gp2bm.files.timestamps import now_iso
from gp2bm.runtimes import DEFAULT as DEFAULT_RUNTIME
from gp2bm.spec.suite import Suite

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# An organisation or system name becomes a folder name and a field of every log.
NAME_MAX = 64


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
class Campaign(OnLayout):
    """A campaign being run: where its files lie, its suite, the runtime its runs use."""

    layout: CampaignLayout
    suite: Suite
    runtime: str
    created: str = field(default_factory=now_iso)

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
        if (root / CAMPAIGN_FILE).exists():
            return cls._existing(root, suite, org, system, runtime)
        if not create:
            raise InputError(f"{root}: not a gp2bm campaign (no {CAMPAIGN_FILE})")
        org = org or "gp2bm"
        system = system or default_system_name()
        for what, value in (("org", org), ("system", system)):
            check_name(what, value)
        return cls(CampaignLayout(root, org, system), suite, runtime or DEFAULT_RUNTIME)

    @classmethod
    def _existing(
        cls, root: Path, suite: Suite, org: str | None, system: str | None, runtime: str | None
    ) -> Campaign:
        meta = CampaignMeta.read(root)
        meta_path = root / CAMPAIGN_FILE
        for key, given, was in (("org", org, meta.org), ("system", system, meta.system)):
            if given and given != was:
                shown, now = printable(was, NAME_MAX), printable(given, NAME_MAX)
                raise InputError(f"{meta_path}: this campaign's {key} is '{shown}', not '{now}'")
        if meta.suite != suite.name:
            raise InputError(
                f"{meta_path}: this campaign runs suite '{printable(meta.suite, NAME_MAX)}', "
                f"not '{suite.name}' (use another --campaign folder)"
            )
        layout = CampaignLayout.of(root, meta)
        return cls(layout, suite, runtime or meta.runtime or DEFAULT_RUNTIME, meta.created)

    @property
    def meta(self) -> CampaignMeta:
        """What campaign.json says of this campaign."""
        return CampaignMeta(
            org=self.org,
            system=self.system,
            suite=self.suite.name,
            suite_file=str(self.suite.path) if self.suite.path else None,
            ruleset=self.suite.ruleset,
            runtime=self.runtime,
            created=self.created,
            gp2bm_version=__version__,
        )

    def save(self) -> None:
        """Write campaign.json at the campaign's first start (never rewritten)."""
        if not self.layout.meta_file.exists():
            self.meta.write(self.layout)

    # ------------------------------------------------------------------ state
    def finished(self, bench: str) -> set[int]:
        return self.layout.finished(bench)

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
            for n in self.layout.partials(bench):
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
        layout = self.layout
        partial = layout.partial_path(bench, n)
        if not partial.exists():
            return None
        attempt = layout.next_attempt(bench, n)
        attempt.folder.mkdir(parents=True, exist_ok=True)
        os.replace(partial, attempt.log)
        finished = layout.result_path(bench, n).exists()
        telemetry = layout.telemetry_path(bench, n)
        if telemetry.exists() and not finished:
            os.replace(telemetry, attempt.telemetry)
        for node, other in list(layout.node_telemetry_paths(bench, n)):
            if not finished:
                os.replace(other, attempt.node_telemetry(node))
        record_path = layout.record_path(bench, n)
        if record_path.exists() and not finished:
            data = read_json(record_path)
            check_format(data, record_path)
            record = RunRecord.from_dict(data)
            if record.status in (None, RUNNING):
                record.status = INTERRUPTED
                if record.reason is None:
                    record.reason = "gp2bm stopped before the run ended"
            record.attempt_log = layout.relative(attempt.log)
            record.save(attempt.record)
            record_path.unlink()
        return attempt.log

    def used_seeds(self, bench: str) -> set[int]:
        """The seeds of every run and attempt recorded so far (a record that cannot be read
        names no seed)."""
        paths = [*self.layout.record_files(bench).values(), *self.layout.attempt_records(bench)]
        records = (RunRecord.load(p) for p in paths)
        return {r.seed for r in records if r is not None and r.seed is not None}

    # ------------------------------------------------------------------ locks
    def lock(self) -> AbstractContextManager[None]:
        """One gp2bm at a time per campaign; a second one is refused, not queued."""
        return campaign_lock(self.layout)

    def run_lock(
        self, bench: str, n: int, wait: float = 0.0, holder: dict | None = None
    ) -> AbstractContextManager[None]:
        """Hold run n's own lock while doing it (RunBusy after ``wait`` s when held)."""
        return run_lock(self.layout.run_lock_path(bench, n), f"{bench} run {n}", wait, holder)

    def run_holder(self, bench: str, n: int) -> dict | None:
        """Who holds run n's lock (what it wrote there), or None when nobody does."""
        return lock_holder(self.layout.run_lock_path(bench, n))

    @contextmanager
    def claim_run(
        self, bench: str, n: int, wait: float = 0.0, holder: dict | None = None
    ) -> Iterator[bool]:
        """Hold run n's lock; keep a partial log an earlier attempt left as an attempt.

        Yields whether the run still has to be done (False: its result_N.txt appeared
        meanwhile, done by another gp2bm). Raises RunBusy when another gp2bm is doing it.
        """
        with self.run_lock(bench, n, wait=wait, holder=holder):
            if self.layout.result_path(bench, n).exists():
                yield False
                return
            self.archive_partial(bench, n)
            yield True
