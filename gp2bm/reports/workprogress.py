"""Long work as it goes (scoring, packaging, verifying): one live line on stderr when stderr
is a terminal (the step, how far, the time elapsed and the time left), nothing otherwise,
so that a script or a pipe reads only the result. What the work reports is
``results.checkpool.Progress``'s ``(stage, done, total)``: each log parsed, each check done,
each step of a bundle.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

# What the scoring's stages are called on the line.
STAGE_NAMES = {"parse": "reading the logs", "check": "MLCommons' checks"}


class WorkProgress:
    """A ``Progress`` callable for ``score_paths`` and the hand-in steps, drawn on a
    terminal only; ``elapsed`` for the final line either way."""

    def __init__(self, console: Console, what: str, live: bool | None = None):
        self.console = console
        self.what = what
        self.live = console.is_terminal if live is None else live
        self.t0 = time.monotonic()
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> WorkProgress:
        if self.live:
            self._progress = Progress(
                TextColumn(f"[bold]{self.what}[/]: {{task.description}}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
            self._progress = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._progress is None:
            return
        name = STAGE_NAMES.get(stage, stage)
        task = self._tasks.get(name)
        if task is None:
            for other in self._tasks.values():  # a new step: the ones before are over
                self._progress.update(other, visible=False)
            task = self._tasks[name] = self._progress.add_task(name, total=total or None)
        self._progress.update(task, completed=done, total=total or None)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.t0
