"""What run-all shows as it goes, on a console that is not a terminal (plain lines): each run's
start and end with the elapsed time and the time left estimated from the runs done, a run
that missed its quality target read as such, and a final line with the totals."""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console

from gp2bm.campaign.folder import PlannedRun
from gp2bm.campaign.record import RunRecord
from gp2bm.run import progress as progress_module
from gp2bm.run.progress import CampaignProgress, LiveStatus, run_verdict

TARGET = 0.759


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(progress_module.time, "monotonic", fake)
    return fake


def _console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=False, width=80), buf  # lines stay whole


def _eval_line(accuracy: float, epoch: int) -> bytes:
    record = {"key": "eval_accuracy", "value": accuracy, "metadata": {"epoch_num": epoch}}
    return b":::MLLOG " + json.dumps(record).encode()


def _missed(run: int, seed: int) -> tuple[RunRecord, LiveStatus]:
    """A smoke run that trained 40 epochs and stopped below its target (exit status 1)."""
    status = LiveStatus()
    for n, acc in enumerate([0.61, 0.70, 0.7412, 0.7398]):
        status.on_line(_eval_line(acc, 4 * (n + 1) + 24))
    record = RunRecord("resnet", run, status="aborted", reason="exit code 1", seed=seed)
    record.update(exit_code=1, log_status="aborted", minutes=0.004, seconds=0.31)
    return record, status


def _success(run: int, seed: int, minutes: float) -> RunRecord:
    record = RunRecord("resnet", run, status="success", seed=seed, exit_code=0)
    record.update(minutes=minutes, best_accuracy=0.7601, seconds=minutes * 60 + 0.5)
    return record


def test_a_missed_target_reads_as_such():
    record, status = _missed(0, 17)
    line = run_verdict(record, status, TARGET)
    assert line == (
        "did not reach the target 0.759 by epoch_num 40 (best eval_accuracy 0.7412 in 4 "
        "evaluations, exit code 1), seed 17, ran 0.3 s"
    )
    assert "to train" not in line and "aborted (exit code 1)" not in line


def test_other_ends_keep_their_reason():
    # stopped by gp2bm (a timeout) below the target: the timeout is the reason, not the target
    record, status = _missed(0, 17)
    record.update(reason="timeout after 300 s")
    assert run_verdict(record, status, TARGET) == (
        "aborted (timeout after 300 s), seed 17, ran 0.3 s"
    )
    # a crash before any evaluation: nothing says it missed a target
    crashed = RunRecord("resnet", 1, status="aborted", reason="exit code 4", seed=3, seconds=2.0)
    assert run_verdict(crashed, LiveStatus(), TARGET) == "aborted (exit code 4), seed 3, ran 2.0 s"
    # without the target known, no claim about it either
    record, status = _missed(2, 5)
    assert run_verdict(record, status) == "aborted (exit code 1), seed 5, ran 0.3 s"
    # a success has its time to train, from the log
    assert run_verdict(_success(3, 9, 0.2)) == "success, seed 9, 12.00 s to train"


def test_plain_lines_with_elapsed_time_left_and_a_final_line(clock):
    console, buf = _console()
    plan = [PlannedRun("resnet", n, n + 1, 3) for n in range(3)]
    with CampaignProgress(console, live=False, targets={"resnet": TARGET}) as progress:
        status = LiveStatus()
        progress.start_run(plan[0], status)
        clock.now += 12.0
        progress.end_run(plan[0], _success(0, 1, 0.19))
        missed, status = _missed(1, 8)
        progress.start_run(plan[1], status)
        clock.now += 8.0
        progress.end_run(plan[1], missed)
        progress.start_run(plan[2], LiveStatus())
        clock.now += 10.0
        progress.end_run(plan[2], _success(2, 15, 0.15))
    lines = buf.getvalue().splitlines()
    assert lines == [
        "resnet run 0 (1/3): started",
        "resnet run 0 (1/3): success, seed 1, 11.40 s to train "
        "[1/3 runs done, 12 s elapsed, about 24 s left]",
        "resnet run 1 (2/3): started",
        "resnet run 1 (2/3): did not reach the target 0.759 by epoch_num 40 (best "
        "eval_accuracy 0.7412 in 4 evaluations, exit code 1), seed 8, ran 0.3 s "
        "[2/3 runs done, 20 s elapsed, about 10 s left]",
        "resnet run 2 (3/3): started",
        "resnet run 2 (3/3): success, seed 15, 9.00 s to train [3/3 runs done, 30 s elapsed]",
        "3 run(s) in 30 s: 2 success, 1 aborted",
    ]


def test_time_left_is_unknown_until_a_run_ended(clock):
    console, buf = _console()
    planned = PlannedRun("bert", 0, 1, 10)
    with CampaignProgress(console, live=False) as progress:
        progress.start_run(planned, LiveStatus())
        assert progress.clock.summary(planned, running=True) == (
            "0/10 runs done, 0 s elapsed, time left unknown yet"
        )
        clock.now += 125.0
        progress.end_run(planned, _success(0, 1, 2.0))
        second = PlannedRun("bert", 1, 2, 10)
        progress.start_run(second, LiveStatus())  # 9 runs of 125 s each to go
        assert progress.clock.summary(second, running=True) == (
            "1/10 runs done, 2 min 05 s elapsed, about 18 min 45 s left"
        )
        clock.now += 100.0  # a quarter of the run still to go
        assert progress.clock.summary(second, running=True) == (
            "1/10 runs done, 3 min 45 s elapsed, about 17 min 05 s left"
        )
    assert buf.getvalue().splitlines()[-1] == "1 run(s) in 3 min 45 s: 1 success"


def test_no_final_line_when_nothing_ran_or_it_failed(clock):
    console, buf = _console()
    with CampaignProgress(console, live=False):
        pass
    assert buf.getvalue() == ""
    with pytest.raises(RuntimeError), CampaignProgress(console, live=False) as progress:
        progress.start_run(PlannedRun("bert", 0, 1, 2), LiveStatus())
        progress.end_run(PlannedRun("bert", 0, 1, 2), _success(0, 1, 1.0))
        raise RuntimeError("stopped")
    assert "run(s) in" not in buf.getvalue()


def test_the_live_line_at_80_columns_keeps_its_clock_and_is_not_red(clock):
    """On a terminal of 80 columns the live line's elapsed clock is never cut (the detail
    gives way, with an ellipsis) and the bar is green, not rich's red-pink default."""
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=80, color_system="truecolor")
    status = LiveStatus()
    for n, acc in enumerate([0.61, 0.70, 0.7412]):
        status.on_line(_eval_line(acc, 4 * (n + 1)))
    planned = PlannedRun("resnet", 3, 4, 15)
    with CampaignProgress(console, live=True, targets={"resnet": TARGET}) as progress:
        progress.start_run(planned, status)
        clock.now += 754.0
        progress.tick()
        assert progress._progress is not None
        progress._progress.refresh()
    text = buf.getvalue()
    assert "38;2;249;38;114" not in text  # rich's bar.complete colour
    plain = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line) for line in text.split("\r")]
    shown = [line.strip("\n") for line in plain if "resnet run 3" in line][-1]
    assert len(shown.rstrip()) <= 80, shown
    assert re.search(r"\b\d:\d\d:\d\d\b", shown), shown  # h:mm:ss whole
