"""Progress of a campaign: a live rich display on a terminal, plain lines otherwise, fed
by what each run's output says as it goes (``LiveStatus``), with the elapsed time and the
time left estimated from the runs done (``RunClock``)."""

from __future__ import annotations

import json
import time

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column

from gp2bm.campaign.folder import PlannedRun
from gp2bm.campaign.record import ABORTED, RunRecord

# Reasons of an aborted run that are the workload's own end (it exited, its log says it did
# not succeed), not gp2bm stopping it (timeout, Ctrl-C, lost engine or node).
WORKLOAD_ENDS = ("exit code ", "the log has no successful run_stop")


class LiveStatus:
    """What the progress display shows, updated from the output pump thread."""

    def __init__(self):
        self.accuracy: float | None = None
        self.epoch: float | None = None
        self.best: float | None = None  # the best eval_accuracy so far
        self.evals = 0
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
                self.evals += 1
                self.best = self.accuracy if self.best is None else max(self.best, self.accuracy)
        except (ValueError, KeyError, TypeError):
            pass


def duration(seconds: float) -> str:
    """A duration as a person reads it: 42 s, 3 min 05 s, 2 h 07 min."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class RunClock:
    """Elapsed time of a campaign's invocation and the time left, estimated from the runs
    done so far: the mean duration of each benchmark's runs (else of every run) times the
    runs still to do, less what the current run has already taken."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.took: dict[str, list[float]] = {}
        self.left: dict[str, int] = {}
        self.run_started = 0.0

    def start(self, planned: PlannedRun) -> None:
        self.run_started = time.monotonic()

    def end(self, planned: PlannedRun) -> None:
        self.took.setdefault(planned.benchmark, []).append(time.monotonic() - self.run_started)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def _mean(self, bench: str) -> float | None:
        times = self.took.get(bench) or [t for ts in self.took.values() for t in ts]
        return sum(times) / len(times) if times else None

    def remaining(self, planned: PlannedRun, running: bool) -> float | None:
        """Seconds left after (or, ``running``, during) ``planned``; None before any run
        ended. The runs left are counted as of ``planned``'s benchmark: a good guess while
        the runs of one benchmark follow each other, as the plan has them."""
        mean = self._mean(planned.benchmark)
        if mean is None:
            return None
        after = planned.total - planned.position
        left = after * mean
        if running:
            left += max(mean - (time.monotonic() - self.run_started), 0.0)
        return left

    def summary(self, planned: PlannedRun, running: bool = False) -> str:
        done = planned.position - (1 if running else 0)
        text = f"{done}/{planned.total} runs done, {duration(self.elapsed)} elapsed"
        left = self.remaining(planned, running)
        if planned.position < planned.total or running:
            text += ", time left unknown yet" if left is None else f", about {duration(left)} left"
        return text


class CampaignProgress:
    """What run-all shows while it runs: a live line on a terminal (the run, its eval
    accuracy, the campaign's elapsed time and the time left), plain lines otherwise; each
    run's verdict as it ends, with the same counts."""

    def __init__(
        self,
        console: Console | None = None,
        live: bool | None = None,
        targets: dict[str, float] | None = None,
    ):
        self.console = console or Console(stderr=True, emoji=False)
        self.live = self.console.is_terminal if live is None else live
        self.targets = dict(targets or {})  # benchmark -> quality target (the suite's)
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._status: LiveStatus | None = None
        self._planned: PlannedRun | None = None
        self.clock = RunClock()
        self.runs = 0
        self.ended: dict[str, int] = {}  # status -> runs that ended so

    def __enter__(self):
        if self.live:
            # a calm bar (rich's default is red-pink), a clock never cut, the detail last and
            # the one that gives way at 80 columns
            self._progress = Progress(
                TextColumn("[bold]{task.fields[label]}", table_column=Column(no_wrap=True)),
                BarColumn(bar_width=16, complete_style="green", finished_style="green"),
                TextColumn("{task.completed}/{task.total} runs", table_column=Column(no_wrap=True)),
                TimeElapsedColumn(table_column=Column(no_wrap=True, min_width=7)),
                TextColumn("{task.fields[detail]}",
                           table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1)),
                console=self.console,
                transient=False,
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)
        if self.runs and exc[0] is None:
            self._line(self.final_line())
        return False

    def final_line(self) -> str:
        """The last line: how many runs, how long, and how each ended."""
        ends = ", ".join(f"{n} {status}" for status, n in self.ended.items())
        return f"{self.runs} run(s) in {duration(self.clock.elapsed)}: {ends}"

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]{escape(text)}[/]", highlight=False)

    def warn(self, text: str) -> None:
        """A warning in one whole line (the campaign's projection, a slow run): never
        folded, so a log or a pipe reads it as one line."""
        self.console.print(text, style="yellow", highlight=False, markup=False, soft_wrap=True)

    def _label(self, p: PlannedRun) -> str:
        return f"{p.benchmark} run {p.index} ({p.position}/{p.total})"

    def start_run(self, planned: PlannedRun, status: LiveStatus) -> None:
        self._planned, self._status = planned, status
        self.clock.start(planned)
        if self._progress is not None:
            if self._task is None:
                self._task = self._progress.add_task(
                    "campaign", total=planned.total, label="", detail=""
                )
            task = self._task
            self._progress.update(task, label=self._label(planned), detail="starting")
        else:
            self._line(f"{self._label(planned)}: started")

    def tick(self) -> None:
        if self._progress is None or self._task is None:
            return
        if self._status is None or self._planned is None:
            return
        if self._task is None:
            return
        s = self._status
        detail = f"run {time.monotonic() - self.clock.run_started:6.1f} s"
        if s.accuracy is not None:
            epoch = "" if s.epoch is None else f" @ {s.epoch:g}"
            detail += f"  eval_accuracy {s.accuracy:.4f}{epoch}"
        left = self.clock.remaining(self._planned, running=True)
        if left is not None:
            detail += f"  about {duration(left)} left"
        self._progress.update(self._task, detail=detail)

    def end_run(self, planned: PlannedRun, record: RunRecord) -> None:
        self.clock.end(planned)
        self.runs += 1
        self.ended[record.status] = self.ended.get(record.status, 0) + 1
        status = self._status if self._planned == planned else None
        verdict = run_verdict(record, status, self.targets.get(planned.benchmark))
        line = f"{self._label(planned)}: {verdict} [{self.clock.summary(planned)}]"
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)
        self._line(line)

    def _line(self, text: str) -> None:
        """One line of plain text, whole: never folded at the console's width (a log, a
        pipe, a terminal's scrollback read it as one line)."""
        self.console.print(text, highlight=False, markup=False, soft_wrap=True)


def run_verdict(
    record: RunRecord, status: LiveStatus | None = None, target: float | None = None
) -> str:
    """A run's end in one phrase: a success with its time to train; a run that missed its
    quality target as such (with its best accuracy and where it stopped); any other end with
    why. Only a success has a time to train; the others say how long they ran."""
    ran = _ran_seconds(record)
    if record.succeeded and record.minutes is not None:
        return f"{record.status}, seed {record.seed}, {record.minutes * 60:.2f} s to train"
    missed = _missed_target(record, status, target)
    if missed is not None:
        return f"{missed}, seed {record.seed}{ran}"
    verdict = record.status + (f" ({record.reason})" if record.reason else "")
    return f"{verdict}, seed {record.seed}{ran}"


def _ran_seconds(record: RunRecord) -> str:
    """``, ran 3.1 s``: gp2bm's own time of the run, else the log's."""
    seconds = record.seconds
    if seconds is None and record.minutes is not None:
        seconds = record.minutes * 60
    return "" if seconds is None else f", ran {seconds:.1f} s"


def _missed_target(
    record: RunRecord, status: LiveStatus | None, target: float | None
) -> str | None:
    """``did not reach the target 0.759 by epoch_num 40 (best eval_accuracy 0.7512 in 10
    evaluations, exit code 1)`` when the workload ended on its own with every evaluation below the
    target; None for any other end (stopped, lost, crashed before evaluating)."""
    best = record.best_accuracy
    if best is None and status is not None:
        best = status.best
    if target is None or best is None or best >= target or record.status != ABORTED:
        return None
    if record.reason is not None and not record.reason.startswith(WORKLOAD_ENDS):
        return None
    # epoch_num as the log counts it: epochs for ResNet, training samples for BERT
    where = ""
    if status is not None and isinstance(status.epoch, (int, float)):
        where = f" by epoch_num {status.epoch:g}"
    evals = f" in {status.evals} evaluations" if status is not None and status.evals else ""
    code = f", exit code {record.exit_code}" if record.exit_code else ""
    found = f"best eval_accuracy {best:.4f}{evals}{code}"
    return f"did not reach the target {target:g}{where} ({found})"
