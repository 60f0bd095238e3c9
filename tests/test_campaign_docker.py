"""Campaigns in real containers: a private Docker Engine and a local registry.

The smoke image is built offline, pushed to the registry, pinned by digest with
`gp2bm pin`, removed locally, and `run-all` pulls it by digest and runs every run in its
own container.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import docker
import pytest
from campaign_helpers import NO_DROP, digests, write_suite

pytestmark = pytest.mark.docker



def push(client, image: str, ref: str) -> None:
    repo, tag = ref.rsplit(":", 1)
    client.images.get(image).tag(repo, tag=tag)
    for event in client.images.push(repo, tag=tag, stream=True, decode=True):
        assert "error" not in event, event


def gp2bm_containers(client) -> list:
    return client.containers.list(all=True, filters={"label": "io.gp2bm.campaign"})


@pytest.fixture
def docker_env(docker_services, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", docker_services.docker_host)
    client = docker_services.client()
    yield client
    client.close()


def pinned_suite(cli, client, registry, smoke_image, folder, **kw):
    ref = f"{registry}/gp2bm/smoke:{folder.name}"
    push(client, smoke_image, ref)
    suite = write_suite(folder, image=ref, **kw)
    for bench in ("resnet", "bert"):
        if (folder / f"{bench}.yaml").exists():
            res = cli("pin", bench, ref, "--suite", suite, "--json")
            assert res.code == 0, res.err
    return suite


def test_pin_pull_by_digest_and_run_all_in_containers(
    cli, docker_env, docker_services, smoke_image, tmp_path
):
    client = docker_env
    folder = tmp_path / "suite"
    suite = pinned_suite(cli, client, docker_services.registry, smoke_image, folder)
    manifest = (folder / "resnet.yaml").read_text()
    pinned = next(ln.split(":", 1)[1].strip() for ln in manifest.splitlines()
                  if ln.startswith("image:"))
    assert "@sha256:" in pinned
    image_id = client.images.get(pinned).id

    # nothing of it is left locally: run-all must pull it from the registry by digest
    client.images.remove(image_id, force=True)
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(pinned)

    campaign = tmp_path / "campaign"
    res = cli("run-all", "--suite", suite, "--campaign", campaign, "--system", "node1",
              *NO_DROP, "--json")
    assert res.code == 0, res.err[-3000:]
    data = res.json()
    assert data["score"] > 0
    assert client.images.get(pinned).id == image_id
    for bench, n in (("resnet", 5), ("bert", 10)):
        results = sorted((campaign / "gp2bm/results/node1" / bench).glob("result_*.txt"))
        assert len(results) == n
        for i in range(n):
            rec = json.loads((campaign / f"records/{bench}/run_{i}.json").read_text())
            assert rec["runtime"] == "docker" and rec["status"] == "success"
            assert rec["image"] == pinned and pinned in rec["image_repo_digests"]
            assert rec["image_id"] == image_id
            assert rec["command"][:2] == ["docker", "run"] and pinned in rec["command"]
            trace = (campaign / rec["log"]).read_text().splitlines()[1]
            assert pinned in trace
    assert gp2bm_containers(client) == []


def test_pull_checks_digest(cli, docker_env, docker_services, smoke_image, tmp_path):
    client = docker_env
    suite = pinned_suite(cli, client, docker_services.registry, smoke_image, tmp_path / "s",
                         runs={"resnet": 1})
    res = cli("pull", "--suite", suite, "--json")
    assert res.code == 0, res.err
    [pulled] = res.json()
    assert pulled["image"] in pulled["repo_digests"]


def test_pin_unknown_tag_is_one_line(cli, docker_env, docker_services, tmp_path):
    suite = write_suite(tmp_path / "s", {"resnet": 1})
    res = cli("pin", "resnet", f"{docker_services.registry}/nothing/here:1", "--suite", suite)
    assert res.code == 2 and len(res.err.strip().splitlines()) == 1
    assert f"registry {docker_services.registry} has no" in res.err


@pytest.mark.reliability("nonzero-exit", "timeout")
def test_failures_in_containers_are_aborted_runs(
    cli, docker_env, docker_services, smoke_image, tmp_path
):
    client = docker_env
    # a container that exits non-zero
    suite = pinned_suite(cli, client, docker_services.registry, smoke_image, tmp_path / "s1",
                         runs={"resnet": 1}, env={"SMOKE_FAIL": "crash"})
    res = cli("run-all", "--suite", suite, "--campaign", tmp_path / "c1", *NO_DROP, "--json")
    assert res.code == 1
    [run] = res.json()["benchmarks"]["resnet"]["runs"]
    assert run["role"] == "failed"
    rec = json.loads((tmp_path / "c1/records/resnet/run_0.json").read_text())
    assert rec["status"] == "aborted" and rec["exit_code"] == 4

    # a container that runs past its timeout
    suite = pinned_suite(cli, client, docker_services.registry, smoke_image, tmp_path / "s2",
                         runs={"resnet": 1}, extra_args=["--sleep-per-epoch", "5"])
    t0 = time.monotonic()
    res = cli("run-all", "--suite", suite, "--campaign", tmp_path / "c2", *NO_DROP,
              "--timeout", "3", "--json")
    assert time.monotonic() - t0 < 60
    [run] = res.json()["benchmarks"]["resnet"]["runs"]
    assert run["role"] == "failed"
    rec = json.loads((tmp_path / "c2/records/resnet/run_0.json").read_text())
    assert rec["status"] == "aborted" and rec["reason"].startswith("timeout")
    assert gp2bm_containers(client) == []


@pytest.mark.reliability("kill-mid-run")
def test_sigkill_mid_run_then_resume(cli, docker_env, docker_services, smoke_image, tmp_path):
    client = docker_env
    suite = pinned_suite(cli, client, docker_services.registry, smoke_image, tmp_path / "s",
                         runs={"resnet": 4}, extra_args=["--sleep-per-epoch", "0.05"])
    campaign = tmp_path / "c"
    env = {**os.environ, "DOCKER_HOST": docker_services.docker_host}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gp2bm", "run-all", "--suite", str(suite), "--campaign",
         str(campaign), "--system", "node1", *NO_DROP],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    partial = campaign / "records/resnet/result_2.txt.partial"
    t0 = time.monotonic()
    try:
        while not (partial.exists() and partial.stat().st_size > 3000):
            assert time.monotonic() - t0 < 180, "run 2 never started"
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    # gp2bm is gone; its container is not (that is what resume must clean up)
    assert [c.status for c in gp2bm_containers(client)] == ["running"]
    folder = campaign / "gp2bm/results/node1/resnet"
    before = digests(folder)
    assert sorted(before) == ["result_0.txt", "result_1.txt"]

    res = cli("run-all", "--suite", suite, "--campaign", campaign, *NO_DROP, "--json")
    assert res.code == 0, res.err[-3000:]
    after = digests(folder)
    assert sorted(after) == [f"result_{i}.txt" for i in range(4)]
    assert {k: after[k] for k in before} == before
    assert (campaign / "records/resnet/attempts/result_2.attempt1.txt").exists()
    assert "removed 1 container" in res.err
    assert gp2bm_containers(client) == []
