"""A property of verify over a real smoke campaign: moving one counted log's run_start
later, or its run_stop earlier, by more than the stated tolerance (docs/VERIFY.md:
max(1 s, 1 % of the time to train)), with that run's record and SHA256SUMS recomputed to
match the moved stamps, is always found, as a cross-check naming the log. The smoke runs
last a tenth of a second; the same property over a synthetic campaign of half-hour runs
(gp2bm's lines and records as run-all writes them) holds it where a move stays inside the
run."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_report_campaign import smoke_campaign, synthetic_campaign
from test_verdict import (
    edit_json,
    events,
    find,
    package,
    record_path,
    resum,
    texts,
    write_events,
)

from gp2bm.evaluation.timeline import consistency_tolerance
from gp2bm.files import safetar

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["smoke", "synthetic"])
def bundle(request, tmp_path_factory) -> tuple[Path, Path, list[tuple[str, int]]]:
    """The extracted bundle, its suite file and its counted runs (bench, N)."""
    base = tmp_path_factory.mktemp(request.param)
    if request.param == "smoke":
        root = smoke_campaign(tmp_path_factory)
    else:
        root = synthetic_campaign(base / "made")
    suite = root.parent / "suite" / "suite.yaml"
    safetar.extract(package(root, base / "handin.tar.gz", suite), base / "x")
    (top,) = (base / "x").iterdir()
    claims = json.loads((top / "gp2bm-claims.json").read_text())
    counted = [
        (bench, int(run["file"].removeprefix("result_").removesuffix(".txt")))
        for bench, result in sorted(claims["benchmarks"].items())
        for run in result["runs"]
        if run["counted"]
    ]
    return top, suite, counted


def _move(top: Path, log: Path, bench: str, n: int, stamp: str, by_ms: int) -> None:
    """Move the stamp by ``by_ms`` (run_start later, run_stop earlier); the record then
    says what the moved stamps give, as the forger rewrites it. (A forger who rewrites
    gp2bm's closing line in the log as well leaves no account of the run in the bundle
    but the forged one: docs/VERIFY.md, "What no bundle proves".)"""
    lines = events(log)
    i = find(lines, stamp)
    lines[i]["time_ms"] += by_ms if stamp == "run_start" else -by_ms
    start = lines[find(lines, "run_start")]["time_ms"]
    stop = lines[find(lines, "run_stop")]["time_ms"]
    moved = (stop - start) / 1000
    write_events(log, lines)

    def matched(data: dict) -> None:
        data.update(observed_seconds=moved, minutes=moved / 60)
        data["seconds"] = max(float(data["seconds"]), moved)

    edit_json(record_path(top, bench, n), matched)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    pick=st.integers(min_value=0, max_value=10_000),
    stamp=st.sampled_from(["run_start", "run_stop"]),
    beyond_ms=st.integers(min_value=1, max_value=3_600_000),
)
def test_a_stamp_moved_beyond_the_tolerance_is_always_found(cli, bundle, pick, stamp, beyond_ms):
    extracted, suite, counted = bundle
    bench, n = counted[pick % len(counted)]
    with tempfile.TemporaryDirectory() as tmp:
        top = Path(tmp) / extracted.name
        shutil.copytree(extracted, top)
        log = next(top.glob(f"*/results/*/{bench}/result_{n}.txt"))
        lines = events(log)
        ttt = (lines[find(lines, "run_stop")]["time_ms"] - lines[find(lines, "run_start")]
               ["time_ms"]) / 1000  # fmt: skip
        by_ms = int(consistency_tolerance(ttt) * 1000) + beyond_ms
        _move(top, log, bench, n, stamp, by_ms)
        resum(top)
        res = cli("verify", top, "--suite", suite, "--json")
        assert res.code == 1, res.out[-2000:]
        data = json.loads(res.out)
        named = log.relative_to(top).as_posix()
        found = [t for t in texts(data, "cross-checked") if named in t]
        assert found, (bench, n, stamp, by_ms, data["findings"])
