"""The apptainer runtime: a SIF built once per campaign from the smoke image's digest in the
local registry (plain HTTP: --no-https), run with --containall; the SIF's sha256 is what the
run records name as the image that ran."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from campaign_helpers import NO_DROP, TRAIN, write_suite

from gp2bm.campaign.layout import CampaignFiles
from gp2bm.errors import InputError
from gp2bm.handin.source import stage_source
from gp2bm.runtimes.apptainer import (
    ApptainerRuntime,
    build_command,
    export_command,
    is_plain_http,
    registry_of,
)
from gp2bm.runtimes.base import RunSpec
from gp2bm.spec.manifest import Mount, load_manifest

DIGEST = "sha256:" + "c" * 64


def spec(**kw) -> RunSpec:
    base = dict(name="r", image=f"nvcr.io/x/bert@{DIGEST}", command=["./run_and_time.sh"],
                benchmark="bert", env={"SEED": "5", "LIST": "a,b"}, gpus="none",
                mounts=[Mount("/data/bert", "/workspace/data"), Mount("/out", "/o", False)],
                workdir="/workspace/bert")
    base.update(kw)
    return RunSpec(**base)


def test_render(tmp_path):
    rt = ApptainerRuntime(apptainer="apptainer", image_dir=tmp_path / "images")
    argv = rt.render(spec())
    # the environment as APPTAINERENV_*: a value with a comma stays whole
    assert argv[:3] == ["env", "APPTAINERENV_LIST=a,b", "APPTAINERENV_SEED=5"]
    run = argv[argv.index("apptainer"):]
    assert run[:3] == ["apptainer", "run", "--containall"] and "--nv" not in run
    assert ["--bind", "/data/bert:/workspace/data:ro"] == run[3:5]
    assert ["--bind", "/out:/o:rw"] == run[5:7]
    assert ["--pwd", "/workspace/bert"] == run[7:9]
    assert run[9:] == [str(tmp_path / "images" / "bert.sif"), "./run_and_time.sh"]

    gpu = rt.render(spec(gpus="all", ipc="host"))
    assert ["--contain", "--cleanenv", "--pid", "--nv"] == gpu[gpu.index("run") + 1:][:4]
    two = rt.render(spec(gpus=2))
    assert "APPTAINERENV_CUDA_VISIBLE_DEVICES=0,1" in two
    with pytest.raises(InputError, match="','"):
        rt.render(spec(mounts=[Mount("/data/a,b", "/d")]))
    # before a campaign is known, the OCI image itself
    assert ApptainerRuntime(apptainer="apptainer").render(spec())[-2] == f"docker://{spec().image}"


def test_build_command_and_plain_http(monkeypatch):
    monkeypatch.delenv("GP2BM_INSECURE_REGISTRIES", raising=False)
    assert registry_of("127.0.0.1:5000/gp2bm/smoke@x") == "127.0.0.1:5000"
    assert registry_of("library/ubuntu") is None
    assert is_plain_http("127.0.0.1:5000") and is_plain_http("localhost:5000")
    assert not is_plain_http("nvcr.io") and not is_plain_http(None)
    local = build_command("apptainer", "/c/images/resnet.sif",
                          f"docker://127.0.0.1:5000/gp2bm/smoke@{DIGEST}")
    assert local == ["apptainer", "build", "--no-https", "/c/images/resnet.sif",
                     f"docker://127.0.0.1:5000/gp2bm/smoke@{DIGEST}"]
    assert "--no-https" not in build_command("apptainer", "x.sif", f"docker://nvcr.io/a@{DIGEST}")
    monkeypatch.setenv("GP2BM_INSECURE_REGISTRIES", "registry.lan:5000")
    assert "--no-https" in build_command("apptainer", "x.sif", "docker://registry.lan:5000/a:1")


def test_export_command_reads_the_source_out_of_the_sif():
    assert export_command("apptainer", Path("/c/images/bert.sif"), "/workspace/bert") == [
        "apptainer", "exec", "--containall", "/c/images/bert.sif",
        "tar", "-C", "/workspace/bert", "-cf", "-", "."]


@pytest.fixture(scope="module")
def apptainer_binary():
    from services import ServicesUnavailable, install_apptainer

    try:
        return install_apptainer()
    except ServicesUnavailable as exc:
        pytest.skip(str(exc))


@pytest.mark.docker
def test_apptainer_runs_the_smoke_image_from_a_sif(
    cli, docker_services, smoke_image, apptainer_binary, tmp_path, monkeypatch
):
    monkeypatch.setenv("DOCKER_HOST", docker_services.docker_host)  # gp2bm pin
    monkeypatch.setenv("GP2BM_APPTAINER", apptainer_binary)
    monkeypatch.setenv("APPTAINER_CACHEDIR", str(tmp_path / "cache"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("APPTAINER_TMPDIR", str(tmp_path / "tmp"))
    client = docker_services.client()
    repo = f"{docker_services.registry}/gp2bm/smoke"
    client.images.get(smoke_image).tag(repo, tag="apptainer")
    for event in client.images.push(repo, tag="apptainer", stream=True, decode=True):
        assert "error" not in event, event
    client.close()
    suite = write_suite(tmp_path / "s", {"resnet": 3, "bert": 3}, image=f"{repo}:apptainer")
    for bench in ("resnet", "bert"):
        res = cli("pin", bench, f"{repo}:apptainer", "--suite", suite, "--json")
        assert res.code == 0, res.err
    pinned = res.json()["pinned"]

    campaign = tmp_path / "c"
    args = ("run-all", "--suite", suite, "--campaign", campaign, "--runtime", "apptainer",
            "--system", "node1", "--skip-check", *NO_DROP, "--json")
    res = cli(*args)
    assert res.code == 0, res.err[-3000:]
    assert res.json()["score"] > 0

    images = campaign / "images"
    resnet_sif, bert_sif = images / "resnet.sif", images / "bert.sif"
    # one image, one build: the second benchmark's SIF is the same file
    assert resnet_sif.stat().st_ino == bert_sif.stat().st_ino
    sha = hashlib.sha256(resnet_sif.read_bytes()).hexdigest()
    meta = json.loads((images / "resnet.sif.json").read_text())
    assert meta["source"] == f"docker://{pinned}" and "--no-https" in meta["build_command"]
    for bench in ("resnet", "bert"):
        for i in range(3):
            rec = json.loads((campaign / f"records/{bench}/run_{i}.json").read_text())
            assert rec["runtime"] == "apptainer" and rec["status"] == "success"
            assert rec["image_id"] == f"sha256:{sha}"
            assert rec["image_repo_digests"] == [pinned]
            run = rec["command"][rec["command"].index(apptainer_binary):]
            assert run[1:3] == ["run", "--containall"] and run[-3] == str(images / f"{bench}.sif")
            assert any(a.startswith("APPTAINERENV_SEED=") for a in rec["command"])

    # a later gp2bm neither rebuilds nor re-hashes an unchanged SIF
    mtime = resnet_sif.stat().st_mtime_ns
    res = cli(*args)
    assert res.code == 0 and "already there" in res.err
    assert resnet_sif.stat().st_mtime_ns == mtime

    # the hand-in's source: out of the SIF the records name, found in the campaign
    notes: list[str] = []
    manifest = load_manifest(suite.parent / "resnet.yaml")
    origin, count = stage_source("resnet", manifest, [{"image_id": f"sha256:{sha}"}],
                                 "apptainer", tmp_path / "impl", tmp_path / "scratch", notes,
                                 images_dir=CampaignFiles(campaign).images_dir)
    assert count == 1 and "resnet.sif" in origin
    assert (tmp_path / "impl" / "train.py").read_bytes() == TRAIN.read_bytes()
