"""Faults of the container services: the registry down during a pull, dockerd killed mid-run.

These tests stop and kill daemons, so they use services of their own (tests/services.py on a
temporary folder), never the session's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from campaign_helpers import NO_DROP, digests, write_suite

pytestmark = [pytest.mark.docker, pytest.mark.slow]



def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _kill_pidfile(path: Path, sig=signal.SIGKILL) -> None:
    pid = int(path.read_text().strip())
    os.kill(pid, sig)
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        try:  # a child of this process only when this process started it
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    assert not _alive(pid), f"pid {pid} ({path.name}) did not die"


@pytest.fixture(scope="module")
def own_services(tmp_path_factory):
    from services import (
        ServicesUnavailable,
        start_services,
        stop_services,
        unavailable_reason,
    )

    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    try:
        services = start_services(tmp_path_factory.mktemp("own-services"))
    except ServicesUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield services
    finally:
        stop_services(services)


def _pinned_suite(cli, client, services, folder: Path, **kw) -> tuple[Path, str]:
    from services import SMOKE_TAG, ensure_smoke_image

    ensure_smoke_image(services)  # quick from the daemon's cache; an earlier test removed it
    ref = f"{services.registry}/gp2bm/smoke:{folder.name}"
    repo, tag = ref.rsplit(":", 1)
    client.images.get(SMOKE_TAG).tag(repo, tag=tag)
    for event in client.images.push(repo, tag=tag, stream=True, decode=True):
        assert "error" not in event, event
    suite = write_suite(folder, image=ref, **kw)
    res = cli("pin", "resnet", ref, "--suite", suite, "--json")
    assert res.code == 0, res.err
    pinned = next(
        ln.split(":", 1)[1].strip()
        for ln in (folder / "resnet.yaml").read_text().splitlines()
        if ln.startswith("image:")
    )
    return suite, pinned


def _containers(client) -> list:
    return client.containers.list(all=True, filters={"label": "io.gp2bm.campaign"})


@pytest.mark.reliability("registry-down")
def test_registry_down_during_pull(cli, own_services, tmp_path, monkeypatch):
    import docker

    monkeypatch.setenv("DOCKER_HOST", own_services.docker_host)
    client = own_services.client()
    try:
        suite, pinned = _pinned_suite(
            cli, client, own_services, tmp_path / "regdown", runs={"resnet": 1}
        )
        image_id = client.images.get(pinned).id
        client.images.remove(image_id, force=True)
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(pinned)

        _kill_pidfile(own_services.dir / "registry.pid", signal.SIGTERM)
        campaign = tmp_path / "campaign"
        args = ["--suite", suite, "--campaign", campaign, "--system", "node1", *NO_DROP]
        # the pre-flight sees it first and names the image and why
        res = cli("run-all", *args)
        assert res.code == 1, res.err[-2000:]
        assert "resnet image" in res.err and "does not serve it" in res.err
        assert res.err.strip().splitlines()[-1].startswith("gp2bm: error: pre-flight: 1 blocking")
        # past the pre-flight, the pull itself fails with one line
        res = cli("run-all", *args, "--skip-check")
        assert res.code == 2, res.err[-2000:]
        lines = res.err.strip().splitlines()
        assert len(lines) == 1 and pinned in lines[0] and "pull" in lines[0], res.err
        assert "connection refused" in lines[0]
        assert "Traceback" not in res.err
        assert not list(campaign.rglob("result_*")) and not list(campaign.rglob("run_*.json"))

        # the registry is back (same address and storage): run-all completes
        yml = own_services.dir / "registry.yml"
        proc = subprocess.Popen(
            ["docker-registry", "serve", str(yml)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        (own_services.dir / "registry.pid").write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + 30
        import urllib.request

        while True:
            try:
                urllib.request.urlopen(f"http://{own_services.registry}/v2/", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "the registry did not come back"
                time.sleep(0.2)
        res = cli("run-all", *args, "--json")
        # (one run of a benchmark is too few for a valid score: exit 1, but it ran)
        assert res.code in (0, 1) and "Traceback" not in res.err, res.err[-2000:]
        record = json.loads((campaign / "records/resnet/run_0.json").read_text())
        assert record["status"] == "success", record
        assert res.json()["benchmarks"]["resnet"]["runs"][0]["role"] != "failed"
        assert client.images.get(pinned).id == image_id
        assert _containers(client) == []
    finally:
        client.close()


@pytest.mark.reliability("dockerd-killed")
def test_dockerd_killed_mid_run_then_resume(cli, own_services, tmp_path, monkeypatch):
    from services import start_services

    monkeypatch.setenv("DOCKER_HOST", own_services.docker_host)
    client = own_services.client()
    try:
        suite, _ = _pinned_suite(
            cli,
            client,
            own_services,
            tmp_path / "dkill",
            runs={"resnet": 3},
            extra_args=["--sleep-per-epoch", "0.05"],
        )
    finally:
        client.close()
    campaign = tmp_path / "c"
    env = {**os.environ, "DOCKER_HOST": own_services.docker_host}
    argv = [sys.executable, "-m", "gp2bm", "run-all", "--suite", str(suite),
            "--campaign", str(campaign), "--system", "node1", *NO_DROP]  # fmt: skip
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    partial = campaign / "records/resnet/result_1.txt.partial"
    t0 = time.monotonic()
    try:
        while not (partial.exists() and b'"run_start"' in partial.read_bytes()):
            assert time.monotonic() - t0 < 180, "run 1 never started"
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(0.05)
        _kill_pidfile(own_services.dir / "dockerd.pid")
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
    err = err.decode()
    assert proc.returncode == 1, err[-2000:]
    assert "Traceback" not in err and "internal error" not in err
    last = err.strip().splitlines()[-1]
    assert "container engine stopped answering during resnet run 1" in last, err[-2000:]
    assert partial.exists()
    record = json.loads((campaign / "records/resnet/run_1.json").read_text())
    assert record["status"] == "interrupted" and "engine lost" in record["reason"]
    folder = campaign / "gp2bm/results/node1/resnet"
    before = digests(folder)
    assert sorted(before) == ["result_0.txt"]

    # dockerd is started again (scripts/services.sh start on the same folder)
    services = start_services(own_services.dir)
    monkeypatch.setenv("DOCKER_HOST", services.docker_host)
    res = cli("run-all", "--suite", suite, "--campaign", campaign, "--system", "node1",
              *NO_DROP, "--json")  # fmt: skip
    assert res.code == 0, res.err[-3000:]
    after = digests(folder)
    assert sorted(after) == [f"result_{i}.txt" for i in range(3)]
    assert after["result_0.txt"] == before["result_0.txt"]
    assert (campaign / "records/resnet/attempts/result_1.attempt1.txt").exists()
    client = services.client()
    try:
        assert _containers(client) == []
    finally:
        client.close()
