"""A campaign's per-run overhead (atlas/overheads.py), measured by gp2bm's clock, in the
node time ``gp2bm expect --overheads-from CAMPAIGN`` plans."""

from __future__ import annotations

import pytest
from test_report_campaign import synthetic_campaign

from gp2bm.atlas.overheads import ALL, TimedRun, run_overheads


def _at(seconds: float) -> str:
    minute, second = divmod(seconds, 60)
    return f"2026-01-05T10:{int(minute):02d}:{second:06.3f}+00:00"


def test_a_run_costs_until_the_next_one_starts():
    """Run 0: 60 s from its start to the next run's (its cache drop and pre-flight in
    between), 45 s of them training; the last run: to its own stop."""
    runs = [
        TimedRun(_at(0), _at(50), 0.75),
        TimedRun(_at(60), _at(110), 0.75),
        TimedRun(_at(120), _at(170), 0.75),
    ]
    found = run_overheads({"resnet": runs}, "here")
    assert found["resnet"].minutes == pytest.approx(0.25)  # 60 s - 45 s, twice; then 50 - 45
    assert found["resnet"].runs == 3
    assert found["resnet"].source == (
        "median node time less time to train of 3 resnet run(s) of here"
    )
    last = run_overheads({"resnet": runs[2:]}, "here")["resnet"]
    assert last.minutes == pytest.approx(5 / 60)


def test_a_pause_before_the_next_run_is_not_the_runs():
    """A campaign resumed an hour later: the run before the pause costs to its stop only;
    a run without a time to train, or stamps without a zone, is not measured."""
    runs = [
        TimedRun("2026-01-05T10:00:00+00:00", "2026-01-05T10:00:50+00:00", 0.75),
        TimedRun("2026-01-05T11:00:00+00:00", "2026-01-05T11:00:50+00:00", 0.75),
        TimedRun("2026-01-05T12:00:00+00:00", "2026-01-05T12:00:50+00:00", None),
        TimedRun("2026-01-05T13:00:00", "2026-01-05T13:00:50", 0.75),
    ]
    found = run_overheads({"bert": runs}, "here")
    assert found["bert"].runs == 2 and found["bert"].minutes == pytest.approx(5 / 60)
    assert found[ALL].minutes == found["bert"].minutes
    assert run_overheads({"bert": runs[2:]}, "here") == {}


def test_expect_plans_the_node_time_with_the_campaigns_overheads(cli, tmp_path):
    root = synthetic_campaign(tmp_path)
    args = ["expect", "--accelerator", "A100-SXM4-80GB", "--count", 8, "--json"]
    published = cli(*args).json()
    measured = cli(*args, "--overheads-from", root).json()
    for name, b in measured["benchmarks"].items():
        assert b["overhead_measured"] and not published["benchmarks"][name]["overhead_measured"]
        assert b["minutes"] == published["benchmarks"][name]["minutes"]  # the same results
        assert b["init_source"].startswith("median node time less time to train of ")
        assert b["node_minutes"] == pytest.approx(b["runs"] * (b["minutes"] + b["init_minutes"]))
    text = cli(*args[:-1], "--overheads-from", root)
    assert text.code == 0 and "overhead as the campaign measured it" in " ".join(text.out.split())
    bad = cli(*args, "--overheads-from", tmp_path / "nowhere")
    assert bad.code == 2 and "nowhere" in bad.err and len(bad.err.strip().splitlines()) == 1
