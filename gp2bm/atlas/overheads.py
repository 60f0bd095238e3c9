"""What a run of a campaign costs beyond its time to train, measured by gp2bm's own clock:
``gp2bm expect --overheads-from CAMPAIGN`` adds it to each expected run instead of the
published logs' initialisation (which leaves out container start, data staging, the cache
drop and the pre-flight check, and the time between runs).

A run's overhead is its node time less its time to train: from its record's ``start`` to
the next run's ``start`` (the cache drop and pre-flight check of the next run included),
or to its own ``stop`` for the last run or when the next started more than ``GAP_S`` later
(a campaign resumed another day), less the minutes its log gives. The overhead of a
benchmark is the median over its runs; a benchmark the campaign did not run takes the
median over all of its runs. The times to train are the run records' (gp2bm writes each
from its log as the run ends; ``verify`` holds them to the logs): a plan, not a verdict.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gp2bm.campaign.layout import CampaignLayout
from gp2bm.campaign.record import RunRecord
from gp2bm.errors import InputError
from gp2bm.files.jsonfile import read_json
from gp2bm.files.timestamps import moment

ALL = "*"  # the overhead of every run, for a benchmark the campaign did not run
GAP_S = 300.0  # a longer pause before the next run is not the run's


@dataclass(frozen=True)
class TimedRun:
    """One run as its record and its log give it."""

    start: str | None  # ISO time with zone, the record's
    stop: str | None
    minutes: float | None  # time to train, from the log


@dataclass(frozen=True)
class Overhead:
    minutes: float  # per run
    runs: int
    source: str  # in words

    def as_dict(self) -> dict:
        return {"minutes": self.minutes, "runs": self.runs, "source": self.source}


def _overheads(runs: Sequence[TimedRun]) -> list[float]:
    """Each run's overhead in minutes, for the runs with a start, a stop and a time."""
    timed = sorted(
        (
            (start, stop, run.minutes)
            for run in runs
            if (start := moment(run.start)) is not None
            and (stop := moment(run.stop)) is not None
            and run.minutes is not None
            and stop >= start
        ),
        key=lambda t: t[0],
    )
    out = []
    for i, (start, stop, minutes) in enumerate(timed):
        end = stop
        if i + 1 < len(timed):
            following = timed[i + 1][0]
            if stop <= following and (following - stop).total_seconds() <= GAP_S:
                end = following
        spent = (end - start).total_seconds() / 60 - minutes
        if spent >= 0:
            out.append(spent)
    return out


def run_overheads(campaign: Mapping[str, Sequence[TimedRun]], where: str) -> dict[str, Overhead]:
    """Each benchmark's overhead per run (``ALL``: over every run), measured in the
    campaign at ``where`` (named in each source)."""
    out: dict[str, Overhead] = {}
    every: list[float] = []
    for bench, runs in campaign.items():
        values = _overheads(runs)
        every += values
        if values:
            out[bench] = Overhead(
                statistics.median(values),
                len(values),
                f"median node time less time to train of {len(values)} {bench} run(s) of "
                f"{where}",
            )
    if every:
        out[ALL] = Overhead(
            statistics.median(every),
            len(every),
            f"median node time less time to train of the {len(every)} run(s) of {where}",
        )
    return out


def campaign_overheads(root: Path) -> dict[str, Overhead]:
    """Each benchmark's overhead per run in the campaign at ``root``, from its run records;
    a folder that is no campaign, or has no timed run, is bad input."""
    layout = CampaignLayout.read(Path(root))
    runs = {}
    for bench in layout.benchmarks_recorded():
        records = [RunRecord.from_dict(read_json(p)) for p in layout.record_files(bench).values()]
        runs[bench] = [TimedRun(r.start, r.stop, r.minutes) for r in records]
    measured = run_overheads(runs, str(root))
    if not measured:
        raise InputError(f"{root}: no run with a start, a stop and a time to train to measure")
    return measured
