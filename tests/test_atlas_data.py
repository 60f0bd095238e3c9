"""The shipped atlas (gp2bm/atlas/atlas.json) and its manifest: complete, consistent, exact."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter

import pytest

from gp2bm.atlas import load_atlas
from gp2bm.atlas.table import (
    BENCHMARKS,
    DIVISIONS,
    MANIFEST_FILE,
    data_path,
    dumps,
    loads,
    round_key,
)
from gp2bm.errors import InputError
from gp2bm.results.scoring import olympic_mean


@pytest.fixture(scope="module")
def atlas():
    return load_atlas()


def test_data_file_is_small_and_the_manifest_names_it(atlas):
    data = data_path().read_bytes()
    assert len(data) < 1 << 20
    manifest = json.loads(data_path(MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest["data"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["data"]["bytes"] == len(data)
    assert manifest["data"]["rows"] == len(atlas) > 600


def test_reading_and_writing_give_back_the_same_bytes(atlas):
    assert dumps(atlas.all).encode("utf-8") == data_path().read_bytes()


def test_rows_per_round_and_benchmark_are_the_manifests(atlas):
    counts = Counter((r.round, r.benchmark) for r in atlas.all)
    for round_, entry in atlas.manifest["rounds"].items():
        assert re.fullmatch(r"[0-9a-f]{40}", entry["commit"])
        assert entry["repository"] == f"mlcommons/training_results_{round_}"
        for benchmark in BENCHMARKS:
            assert counts.get((round_, benchmark), 0) == entry["rows"].get(benchmark, 0)
        assert {r.commit for r in atlas.all if r.round == round_} == {entry["commit"]}
    assert atlas.rounds == sorted(atlas.manifest["rounds"], key=round_key)
    # ResNet was retired after v4.0: no ResNet rows later
    assert max((r.round for r in atlas.rows(benchmark="resnet")), key=round_key) == "v4.0"


def test_each_result_is_the_olympic_mean_of_its_runs_times_the_scaling(atlas):
    """The shipped minutes are MLCommons' arithmetic on the shipped runs, to the last bit."""
    for row in atlas.all:
        good = [r.minutes for r in row.runs if not r.failed and r.minutes is not None]
        failed = sum(r.failed for r in row.runs)
        mean = olympic_mean(good, failed=failed)
        assert row.unscaled_minutes == mean, row.label
        assert row.minutes == (None if mean is None else mean * row.scaling_factor), row.label


def test_rows_are_unique_and_well_formed(atlas):
    assert len({r.key for r in atlas.all}) == len(atlas)
    for row in atlas.all:
        assert row.benchmark in BENCHMARKS and row.division in DIVISIONS, row.label
        assert row.availability in ("available", "preview", "research"), row.label
        assert row.source == f"{row.submitter}/results/{row.system}/{row.benchmark}"
        assert row.scaling_factor >= 1.0
        assert row.runs and all(r.file.startswith("result_") for r in row.runs)


def test_filters(atlas):
    h100 = atlas.rows(benchmark="bert", accelerator="H100-SXM5-80GB", count=8, nodes=1)
    assert h100 and all(r.count == 8 and r.nodes == 1 for r in h100)
    assert (
        atlas.rows(benchmark="bert", accelerator="NVIDIA H100 80GB HBM3", count=8, nodes=1) == h100
    )
    assert all(r.round == "v3.0" for r in atlas.rows(round="v3.0"))
    assert {r.division for r in atlas.rows(division="open")} == {"open"}
    assert atlas.rows(accelerator="no such part") == []


def test_results_count_a_republished_result_once(atlas):
    rows = atlas.rows(
        benchmark="bert", accelerator="H100-SXM5-80GB", count=8, nodes=1, division="closed"
    )
    results = atlas.results("bert", "H100-SXM5-80GB", 8, 1)
    assert len({r.fingerprint for r in rows}) == len(results) < len(rows)
    # NVIDIA's v3.1 BERT logs were published again in v4.0 and v4.1: kept in v4.1
    eos = [r for r in results if r.system == "eos_ngc23.04_pytorch"]
    assert [r.round for r in eos] == ["v4.1"]


def test_an_unknown_format_is_refused():
    with pytest.raises(InputError, match="format"):
        loads(json.dumps({"format": "gp2bm.atlas/99", "columns": [], "rows": []}), "x.json")
    with pytest.raises(InputError, match="not JSON"):
        loads("{", "x.json")
