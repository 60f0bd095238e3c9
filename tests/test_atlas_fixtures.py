"""The shipped atlas against the published logs of ../shared/fixtures: the rows of those
result sets hold the logs' own run times, the systems' own descriptions and MLCommons'
official numbers (the fixtures' READMEs), and gp2bm's scoring of the logs gives the
atlas's number to the last bit."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import MLPERF_FIXTURES
from test_published_scores import NVIDIA_PUBLISHED, PUBLISHED

from gp2bm.atlas import load_atlas
from gp2bm.results.resultset import result_files, score_paths
from gp2bm.results.runlog import parse_run_log
from gp2bm.spec.suite import load_suite

NVIDIA_V40 = MLPERF_FIXTURES.parent / "nvidia-v4.0"
NVIDIA_SYSTEMS = {"resnet": "eos_ngc24.04_mxnet", "bert": "eos_ngc23.04_pytorch"}


def _cases() -> list[tuple[str, str, str, str, str, Path, Path, float]]:
    """(round, submitter, system, benchmark, ruleset, logs, system description, official)."""
    cases = []
    for folder, ruleset, bench, official in PUBLISHED:
        round_, submitter, _, system, _ = folder.split("/")
        logs = MLPERF_FIXTURES / folder
        desc = MLPERF_FIXTURES / round_ / submitter / "systems" / f"{system}.json"
        cases.append((round_, submitter, system, bench, ruleset, logs, desc, official))
    for bench, official in NVIDIA_PUBLISHED.items():
        system = NVIDIA_SYSTEMS[bench]
        logs = NVIDIA_V40 / bench / "results"
        desc = NVIDIA_V40 / "systems" / f"{system}.json"
        cases.append(("v4.0", "NVIDIA", system, bench, "4.0.0", logs, desc, official))
    return cases


CASES = _cases()


def _ms(start: int | None, stop: int | None) -> int | None:
    return None if start is None or stop is None else stop - start


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[1]}-{c[3]}" for c in CASES])
def test_shipped_row_is_the_published_logs(case):
    round_, submitter, system, bench, ruleset, logs, desc, official = case
    if not logs.is_dir():
        pytest.skip(f"published MLPerf logs not available: {logs} is absent")
    [row] = [
        r
        for r in load_atlas().rows(benchmark=bench, round=round_)
        if r.submitter == submitter and r.system == system
    ]
    assert row.minutes is not None and math.isclose(row.minutes, official, rel_tol=1e-9)
    parsed = [parse_run_log(path) for path in result_files(logs)]
    assert [r.file for r in row.runs] == [log.path.name for log in parsed]
    assert [r.ms for r in row.runs] == [_ms(log.start_ms, log.stop_ms) for log in parsed]
    assert [r.status for r in row.runs] == [log.status for log in parsed]
    scaling = logs / "scaling.json"
    factor = json.loads(scaling.read_text())["scaling_factor"] if scaling.exists() else 1.0
    assert row.scaling_factor == factor
    scored = score_paths([logs], load_suite(), ruleset=ruleset, compliance="off")
    assert scored.benchmarks[bench].minutes == row.minutes  # the same arithmetic, bit for bit
    description = json.loads(desc.read_text())
    assert row.accelerator_published == description["accelerator_model_name"]
    assert row.accelerators_per_node == int(description["accelerators_per_node"])
    assert row.nodes == int(float(description["number_of_nodes"]))
    assert row.framework == " ".join(description["framework"].split())
