"""Progress of a campaign: a live rich display on a terminal, plain lines otherwise, fed
by what each run's output says as it goes (``LiveStatus``)."""

from __future__ import annotations

import json
import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from gp2bm.campaign.folder import PlannedRun
from gp2bm.campaign.record import RunRecord


class LiveStatus:
    """What the progress display shows, updated from the output pump thread."""

    def __init__(self):
        self.accuracy: float | None = None
        self.epoch: float | None = None
        self.lines = 0

    def on_line(self, line: bytes) -> None:
        self.lines += 1
        pos = line.find(b":::MLLOG")
        if pos < 0 or b"eval_accuracy" not in line:
            return
        try:
            rec = json.loads(line[pos + 8 :])
            if rec.get("key") == "eval_accuracy":
                self.accuracy = float(rec["value"])
                self.epoch = (rec.get("metadata") or {}).get("epoch_num")
        except (ValueError, KeyError, TypeError):
            pass


class CampaignProgress:
    def __init__(self, console: Console | None = None, live: bool | None = None):
        self.console = console or Console(stderr=True)
        self.live = self.console.is_terminal if live is None else live
        self._progress: Progress | None = None
        self._task = None
        self._status: LiveStatus | None = None
        self._planned: PlannedRun | None = None
        self._t0 = 0.0

    def __enter__(self):
        if self.live:
            self._progress = Progress(
                TextColumn("[bold]{task.fields[label]}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} runs"),
                TimeElapsedColumn(),
                TextColumn("{task.fields[detail]}"),
                console=self.console,
                transient=False,
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)
        return False

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]{text}[/]", highlight=False)

    def _label(self, p: PlannedRun) -> str:
        return f"{p.benchmark} run {p.index} ({p.position}/{p.total})"

    def start_run(self, planned: PlannedRun, status: LiveStatus) -> None:
        self._planned, self._status, self._t0 = planned, status, time.monotonic()
        if self._progress is not None:
            if self._task is None:
                self._task = self._progress.add_task(
                    "campaign", total=planned.total, label="", detail=""
                )
            self._progress.update(self._task, label=self._label(planned), detail="starting")
        else:
            self.console.print(f"{self._label(planned)}: started", highlight=False)

    def tick(self) -> None:
        if self._progress is None or self._status is None:
            return
        s = self._status
        detail = f"run {time.monotonic() - self._t0:6.1f} s"
        if s.accuracy is not None:
            epoch = "" if s.epoch is None else f" @ {s.epoch:g}"
            detail += f"  eval_accuracy {s.accuracy:.4f}{epoch}"
        self._progress.update(self._task, detail=detail)

    def end_run(self, planned: PlannedRun, record: RunRecord) -> None:
        minutes = record.minutes
        took = f"{minutes * 60:.2f} s to train" if minutes is not None else "no time to train"
        verdict = record.status + (f" ({record.reason})" if record.reason else "")
        line = f"{self._label(planned)}: {verdict}, seed {record.seed}, {took}"
        if self._progress is not None:
            self._progress.advance(self._task)
            self._progress.console.print(line, highlight=False)
        else:
            self.console.print(line, highlight=False)
