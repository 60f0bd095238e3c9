"""gp2bm import: NVIDIA's published v4.0 logs (../shared/fixtures/nvidia-v4.0) become a
campaign that score, report and package read; verify names its runs "not run by gp2bm".
The logs are copied byte for byte; NVIDIA's own file names (DATESTAMP_N.log) are taken in
their order and sorted into benchmarks by what each log says; nothing recorded is
overwritten."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NVIDIA = REPO.parent / "shared" / "fixtures" / "nvidia-v4.0"
SUITE = REPO / "manifests" / "nvidia-v4.0.yaml"
# The official numbers (the fixtures' README): MLCommons' summarizer on these logs.
OFFICIAL = {"resnet": 13.326343499245853, "bert": 5.46880625}


@pytest.fixture
def nvidia() -> Path:
    if not (NVIDIA / "resnet" / "results").is_dir():
        pytest.skip(f"NVIDIA's v4.0 logs are not available: {NVIDIA} is absent")
    return NVIDIA


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def published(nvidia: Path, bench: str) -> list[Path]:
    logs = (nvidia / bench / "results").glob("result_*.txt")
    return sorted(logs, key=lambda p: int(p.stem.split("_")[1]))


@pytest.mark.slow
def test_nvidias_published_logs_become_a_campaign(cli, nvidia, tmp_path):
    root = tmp_path / "campaign"
    res = cli("import", nvidia, "--campaign", root, "--suite", SUITE,
              "--system", "eos_ngc24.04_mxnet", "--json")  # fmt: skip
    assert res.code == 0, res.err
    done = res.json()
    assert done["runs"] == {"resnet": 5, "bert": 10} and done["org"] == "NVIDIA"
    assert done["system_description"] == "eos_ngc24.04_mxnet.json"
    results = root / "NVIDIA" / "results" / "eos_ngc24.04_mxnet"
    for bench in ("resnet", "bert"):
        for n, log in enumerate(published(nvidia, bench)):
            copied = results / bench / f"result_{n}.txt"
            assert sha(copied) == sha(log)  # byte for byte
            record = json.loads((root / "records" / bench / f"imported_{n}.json").read_text())
            assert record["schema"] == "gp2bm.import/1" and record["sha256"] == sha(log)
            assert record["source_file"] == log.name and record["status"] == "success"
            assert not (root / "records" / bench / f"run_{n}.json").exists()
    assert json.loads((root / "campaign.json").read_text())["imported"]["runs"]["bert"] == 10

    score = cli("score", root, "--json")
    assert score.code == 0, score.err
    for bench, minutes in OFFICIAL.items():
        assert score.json()["benchmarks"][bench]["minutes"] == pytest.approx(minutes, rel=1e-12)
    assert "not-run-by-gp2bm" in cli("score", root).out  # the ledger says so

    assert cli("report", root).code == 0
    bundle = tmp_path / "imported.tar.gz"
    packed = cli("package", root, "-o", bundle, "--allow-incomplete")
    assert packed.code == 0, packed.err[-2000:]
    verdict = cli("verify", bundle, "--suite", SUITE, "--json")
    assert verdict.code == 1
    data = verdict.json()
    (reserved,) = [r for r in data["reservations"] if r["name"] == "not-run-by-gp2bm"]
    assert len(reserved["runs"]) == 15


def test_nvidias_own_log_names_in_their_order(cli, nvidia, tmp_path):
    """DATESTAMP_N.log files of both benchmarks in one folder: each benchmark's runs by
    what its log says, in datestamp order, numbered from 0."""
    raw = tmp_path / "logs"
    raw.mkdir()
    expected: dict[str, list[str]] = {"resnet": [], "bert": []}
    for bench, stamp in (("bert", 240502), ("resnet", 240501)):
        for n, log in enumerate(reversed(published(nvidia, bench))):  # later stamp, earlier N
            name = f"{stamp}{n:04d}_{n + 1}.log"
            shutil.copyfile(log, raw / name)
            expected[bench].append(sha(log))
    root = tmp_path / "campaign"
    res = cli("import", raw, "--campaign", root, "--suite", SUITE, "--org", "Acme",
              "--system", "X9000")  # fmt: skip
    assert res.code == 0, res.err
    assert "no systems/X9000.json" in res.err  # what is missing is said
    for bench, digests in expected.items():
        folder = root / "Acme" / "results" / "X9000" / bench
        assert [sha(folder / f"result_{n}.txt") for n in range(len(digests))] == digests


def test_bad_sources_and_a_campaign_that_holds_results(cli, nvidia, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    res = cli("import", empty, "--campaign", tmp_path / "c", "--suite", SUITE)
    assert res.code == 2 and "no result log" in res.err
    assert len(res.err.strip().splitlines()) == 1
    root = tmp_path / "c2"
    assert cli("import", nvidia / "resnet", "--campaign", root, "--suite", SUITE).code == 0
    before = sha(next(root.rglob("result_0.txt")))
    again = cli("import", nvidia / "bert", "--campaign", root, "--suite", SUITE)
    assert again.code == 2 and "not empty" in again.err
    assert sha(next(root.rglob("result_0.txt"))) == before
