"""gp2bm package: the MLPerf submission tree, the source that ran, reports, SHA256SUMS; and
MLCommons' package checker passing on it."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from campaign_helpers import TRAIN
from test_report_campaign import (
    ORG,
    RFP_WORKBOOK,
    SYSTEM,
    copy_campaign,
    smoke_campaign,
    synthetic_campaign,
)

from gp2bm.campaign.layout import PARAMS_FILE
from gp2bm.files import safetar
from gp2bm.handin.format import RCP_BYPASS
from gp2bm.handin.package_check import check_package


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".gp2bm.lock"
    }


def _extract(bundle: Path, dest: Path) -> Path:
    safetar.extract(bundle, dest)
    (top,) = list(dest.iterdir())
    return top


@pytest.mark.slow
def test_smoke_campaign_package_then_verify(cli, tmp_path, tmp_path_factory):
    root = copy_campaign(smoke_campaign(tmp_path_factory), tmp_path / "campaign")
    before = _digests(root)
    bundle = tmp_path / "handin.tar.gz"
    res = cli("package", root, "-o", bundle, "--json")
    assert res.code == 0, res.err
    data = res.json()
    assert data["package_checker"]["passed"] and data["package_checker"]["ran"]
    # the smoke bert is a toy model: its convergence cannot match MLCommons' RCPs
    assert data["rcp_bypass"] == ["bert"]
    assert data["valid"] and data["score"] > 0
    assert _digests(root) == before  # the campaign is evidence: never modified

    top = _extract(bundle, tmp_path / "x")
    assert top.name == "handin"
    results = top / ORG / "results" / SYSTEM
    for bench, n in (("resnet", 5), ("bert", 10)):
        for i in range(n):
            name = f"{ORG}/results/{SYSTEM}/{bench}/result_{i}.txt"
            assert (top / name).read_bytes() == (root / name).read_bytes()
        impl = top / ORG / "benchmarks" / bench / "implementations" / "numpy"
        assert (impl / "train.py").read_bytes() == TRAIN.read_bytes()
    assert (results / "bert" / PARAMS_FILE).read_bytes() == RCP_BYPASS.encode()
    assert not (results / "resnet" / PARAMS_FILE).exists()
    assert not list(results.rglob("scaling.json"))
    readme = (top / "README.md").read_text()
    assert "## RCP bypass" in readme and "`rcp-bypass`" in readme and "- bert" in readme
    for name in (
        "SHA256SUMS",
        "gp2bm-claims.json",
        "gp2bm-bundle.json",
        "campaign.json",
        f"{ORG}/systems/{SYSTEM}.json",
        "manifests/suite.yaml",
        "manifests/resnet.yaml",
        "manifests/images.json",
        "records/bert/run_9.json",
        "reports/results.csv",
        "reports/results.xlsx",
        "reports/report.html",
        "checks/package_checker.log",
        "changes/resnet.upstream.txt",
    ):
        assert (top / name).is_file(), name
    sums = (top / "SHA256SUMS").read_text().splitlines()
    listed = {line.split("  ", 1)[1] for line in sums}
    files = {p.relative_to(top).as_posix() for p in top.rglob("*") if p.is_file()}
    assert listed == files - {"SHA256SUMS"}
    claims = json.loads((top / "gp2bm-claims.json").read_text())
    score = cli("score", results, "--suite", top / "manifests" / "suite.yaml", "--json").json()
    assert claims["score"] == score["score"]
    images = json.loads((top / "manifests" / "images.json").read_text())
    assert images["bert"]["ran"][0]["runtime"] == "local"
    assert images["bert"]["ran"][0]["runs"] == 10

    # the evaluator holds it to the suite's rules (the smoke suite turns RCP off): the
    # campaign's own suite file, as a copy of it would
    res = cli("verify", bundle, "--suite", top / "manifests" / "suite.yaml")
    assert res.code == 0, res.out + res.err
    assert "verified: score" in res.out and "package checker pass" in res.out


def test_package_checker_needs_the_bypass_for_the_smoke_bert(tmp_path, tmp_path_factory):
    """Without its rcp-bypass file the package checker rejects the smoke bert on RCP only."""
    root = smoke_campaign(tmp_path_factory)
    org = copy_campaign(root / ORG, tmp_path / ORG)
    check = check_package(org, "3.1.0", tmp_path / "scratch")
    assert check.ran and not check.passed
    assert any("RCP" in e for e in check.errors), check.errors
    (org / "results" / SYSTEM / "bert" / PARAMS_FILE).write_text(RCP_BYPASS + "\n")
    again = check_package(org, "3.1.0", tmp_path / "scratch2")
    # the checker matches lines with their newline: "rcp-bypass\n" is not a bypass
    assert not again.passed
    (org / "results" / SYSTEM / "bert" / PARAMS_FILE).write_text(RCP_BYPASS)
    assert check_package(org, "3.1.0", tmp_path / "scratch3").passed


def test_synthetic_campaign_passes_rcp_without_bypass(cli, tmp_path):
    root = synthetic_campaign(tmp_path, rcp=True)
    bundle = tmp_path / "b.tar.gz"
    args = ["package", root, "-o", bundle, "--json"]
    if RFP_WORKBOOK.is_file():
        changes = tmp_path / "changes.txt"
        changes.write_text("No source changes.")
        args += ["--template", RFP_WORKBOOK, "--changes", changes, "--proposed", "nodes=4",
                 "--test", "mpi_tasks=8", "--test", "omp_threads=1"]
    res = cli(*args)
    assert res.code == 0, res.err
    data = res.json()
    assert data["rcp_bypass"] == [] and data["package_checker"]["passed"]
    top = _extract(bundle, tmp_path / "x")
    assert not list(top.rglob(PARAMS_FILE))
    assert (top / "inventory.json").is_file()
    assert (top / "records" / "bert" / "telemetry_3.csv").is_file()
    assert "| `inventory.json` |" in (top / "README.md").read_text()
    if RFP_WORKBOOK.is_file():
        assert (top / "reports" / "Benchmark_Results.xlsx").is_file()
        assert (top / "changes" / "DESCRIPTION.txt").read_text() == "No source changes.\n"
    assert cli("verify", bundle).code == 0


def test_missing_system_description(cli, tmp_path):
    root = synthetic_campaign(tmp_path, system_json=False)
    bundle = tmp_path / "b.tar.gz"
    res = cli("package", root, "-o", bundle)
    assert res.code == 1
    assert f"{ORG}/systems/{SYSTEM}.json: no MLPerf system description" in res.err
    assert "--allow-incomplete" in res.err and res.err.count("\n") == 1
    assert not bundle.exists()

    res = cli("package", root, "-o", bundle, "--allow-incomplete", "--json")
    assert res.code == 0, res.err
    data = res.json()
    assert data["incomplete"] and "no system description" in data["incomplete"][0]
    assert not data["package_checker"]["ran"]
    top = _extract(bundle, tmp_path / "x")
    assert "## Incomplete" in (top / "README.md").read_text()
    res = cli("verify", bundle)
    assert res.code == 1 and "package checker" in res.out


def test_upstream_diff(cli, tmp_path):
    root = synthetic_campaign(tmp_path)
    upstream = tmp_path / "upstream"
    shutil.copytree(TRAIN.parent, upstream)
    text = (upstream / "train.py").read_text().replace("EXIT_NOT_CONVERGED = 1", "EXIT_X = 9")
    (upstream / "train.py").write_text(text)
    (upstream / "ONLY_UPSTREAM.md").write_text("gone\n")
    bundle = tmp_path / "b.tar.gz"
    res = cli("package", root, "-o", bundle, "--upstream", f"resnet={upstream}")
    assert res.code == 0, res.err
    top = _extract(bundle, tmp_path / "x")
    diff = (top / "changes" / "resnet.diff").read_text()
    assert "--- a/train.py\n+++ b/train.py\n" in diff
    assert "-EXIT_X = 9\n+EXIT_NOT_CONVERGED = 1\n" in diff
    assert "--- a/ONLY_UPSTREAM.md\n+++ /dev/null\n" in diff
    assert "Dockerfile" not in diff  # identical files are not in the diff
    assert (top / "changes" / "bert.upstream.txt").is_file()
    res = cli("package", root, "-o", bundle, "--upstream", f"resnet={tmp_path / 'none'}")
    assert res.code == 2 and "no such folder" in res.err
    res = cli("package", root, "-o", bundle, "--upstream", f"gpt3={upstream}")
    assert res.code == 2 and "not a benchmark" in res.err


def test_records_that_name_no_runtime_take_the_campaigns(cli, tmp_path):
    """Run records that name their image but no runtime (an empty "runtime"): the source is
    exported by the campaign's runtime, as when no record names an image."""
    root = synthetic_campaign(tmp_path)
    for path in (root / "records").rglob("run_*.json"):
        record = json.loads(path.read_text())
        record["runtime"] = ""
        path.write_text(json.dumps(record))
    bundle = tmp_path / "b.tar.gz"
    res = cli("package", root, "-o", bundle, "--json")
    assert res.code == 0, res.err
    top = _extract(bundle, tmp_path / "x")
    impl = top / ORG / "benchmarks" / "resnet" / "implementations" / "numpy"
    assert (impl / "train.py").read_bytes() == TRAIN.read_bytes()


def test_package_bad_input(cli, tmp_path):
    res = cli("package", tmp_path / "nowhere", "-o", tmp_path / "b.tar.gz")
    assert res.code == 2 and "nowhere" in res.err and res.err.count("\n") == 1
    root = synthetic_campaign(tmp_path)
    res = cli("package", root, "-o", tmp_path / "b.tar.gz", "--proposed", "nodes=4")
    assert res.code == 2 and "--template" in res.err


@pytest.mark.docker
def test_source_is_copied_out_of_the_image_that_ran(
    cli, docker_services, smoke_image, tmp_path, monkeypatch
):
    from campaign_helpers import write_suite

    monkeypatch.setenv("DOCKER_HOST", docker_services.docker_host)
    suite = write_suite(tmp_path / "suite", {"resnet": 1}, image=smoke_image)
    root = tmp_path / "campaign"
    res = cli(
        "run", "resnet", "--suite", suite, "--campaign", root, "--runtime", "docker",
        "--system", SYSTEM, "--allow-unpinned", "--cache-drop-command", "true",
    )  # fmt: skip
    assert res.code == 0, res.err
    record = json.loads((root / "records" / "resnet" / "run_0.json").read_text())
    assert record["image_id"].startswith("sha256:")
    bundle = tmp_path / "b.tar.gz"
    res = cli("package", root, "-o", bundle, "--allow-incomplete", "--json")
    assert res.code == 0, res.err
    top = _extract(bundle, tmp_path / "x")
    impl = top / ORG / "benchmarks" / "resnet" / "implementations" / "numpy"
    assert (impl / "train.py").read_bytes() == TRAIN.read_bytes()
    meta = json.loads((top / "gp2bm-bundle.json").read_text())
    assert record["image_id"] in meta["implementations"]["resnet"]["origin"]
    client = docker_services.client()
    try:
        left = client.containers.list(all=True, filters={"label": "io.gp2bm.package"})
        assert left == []  # the container made to copy the source is gone
    finally:
        client.close()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"status": "<FILL IN>", "hw_notes": ""}, "2 field(s) still a placeholder or empty"),
        ({"division": "open"}, "division is 'open', not 'closed'"),
    ],
)
def test_unfinished_system_description_is_refused(cli, tmp_path, change, message):
    root = synthetic_campaign(tmp_path)
    path = root / ORG / "systems" / f"{SYSTEM}.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    res = cli("package", root, "-o", tmp_path / "b.tar.gz")
    assert res.code == 1 and message in res.err and res.err.count("\n") == 1
    assert not (tmp_path / "b.tar.gz").exists()
