"""The podman runtime: Podman's Docker-compatible API service (scripts/podman.sh), driven by
the Docker SDK, runs the smoke image pulled by digest from the local registry."""

from __future__ import annotations

import json

import pytest
from campaign_helpers import NO_DROP, write_suite

from gp2bm.runtimes import get_runtime
from gp2bm.runtimes.base import RunSpec
from gp2bm.spec.manifest import Mount


def spec(**kw) -> RunSpec:
    base = dict(name="gp2bm-x-resnet-0", image="reg.example/x@sha256:" + "a" * 64,
                command=["./run_and_time.sh"], benchmark="resnet", env={"SEED": "7"},
                mounts=[Mount("/data/imagenet", "/data")], gpus="all", ipc="host",
                labels={"io.gp2bm.campaign": "c"})
    base.update(kw)
    return RunSpec(**base)


def test_render_and_api_form_of_gpus():
    rt = get_runtime("podman", podman_host="unix:///nonexistent.sock")
    argv = rt.render(spec())
    assert argv[:2] == ["podman", "run"]
    assert argv[argv.index("--device") + 1] == "nvidia.com/gpu=all" and "--gpus" not in argv
    assert "type=bind,source=/data/imagenet,target=/data,ro" in argv
    assert argv[-2:] == ["reg.example/x@sha256:" + "a" * 64, "./run_and_time.sh"]
    two = rt.render(spec(gpus=2))
    assert [two[i + 1] for i, a in enumerate(two) if a == "--device"] == [
        "nvidia.com/gpu=0", "nvidia.com/gpu=1"]
    [request] = rt.create_kwargs(spec())["device_requests"]
    assert request["Driver"] == "cdi" and request["DeviceIDs"] == ["nvidia.com/gpu=all"]
    assert "device_requests" not in rt.create_kwargs(spec(gpus="none"))


def test_unreachable_service_is_one_line(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("CONTAINER_HOST", f"unix://{tmp_path}/none.sock")
    suite = write_suite(tmp_path / "s", {"resnet": 1},
                        image="reg.example/x@sha256:" + "b" * 64)
    res = cli("run-all", "--suite", suite, "--campaign", tmp_path / "c", "--runtime", "podman",
              "--skip-check", *NO_DROP)
    assert res.code == 2 and len(res.err.strip().splitlines()) == 1
    assert "cannot reach Podman's API service" in res.err


class FakePodman:
    def __init__(self, info):
        self._info = info

    def info(self):
        return self._info


def test_gpu_check_wants_a_cdi_spec(tmp_path):
    gpu_runtime = get_runtime("podman", podman_host="unix:///nonexistent.sock").check_gpu_runtime
    missing = gpu_runtime(FakePodman({"CDISpecDirs": [str(tmp_path)]}))
    assert missing.blocking and "nvidia-ctk cdi generate" in missing.fix
    (tmp_path / "nvidia.yaml").write_text("cdiVersion: 0.5.0\nkind: nvidia.com/gpu\n")
    found = gpu_runtime(FakePodman({"CDISpecDirs": [str(tmp_path)]}))
    assert found.status == "pass" and str(tmp_path / "nvidia.yaml") in found.detail


@pytest.fixture(scope="module")
def podman_service(docker_services, tmp_path_factory):
    from services import ServicesUnavailable, start_podman, stop_podman

    try:
        service = start_podman(tmp_path_factory.mktemp("podman"), [docker_services.registry])
    except ServicesUnavailable as exc:
        pytest.skip(str(exc))
    yield service
    stop_podman(service)


@pytest.mark.docker
def test_podman_runs_the_smoke_image_by_digest(
    cli, docker_services, smoke_image, podman_service, tmp_path, monkeypatch
):
    monkeypatch.setenv("DOCKER_HOST", docker_services.docker_host)  # gp2bm pin
    monkeypatch.setenv("CONTAINER_HOST", podman_service.host)
    client = docker_services.client()
    ref = f"{docker_services.registry}/gp2bm/smoke:podman"
    client.images.get(smoke_image).tag(ref.rsplit(":", 1)[0], tag="podman")
    for event in client.images.push(ref.rsplit(":", 1)[0], tag="podman", stream=True,
                                    decode=True):
        assert "error" not in event, event
    client.close()
    folder = tmp_path / "s"
    suite = write_suite(folder, {"resnet": 3, "bert": 3}, image=ref)
    for bench in ("resnet", "bert"):
        res = cli("pin", bench, ref, "--suite", suite, "--json")
        assert res.code == 0, res.err
    pinned = res.json()["pinned"]

    campaign = tmp_path / "c"
    res = cli("run-all", "--suite", suite, "--campaign", campaign, "--runtime", "podman",
              "--system", "node1", "--skip-check", *NO_DROP, "--json")
    assert res.code == 0, res.err[-3000:]
    data = res.json()
    assert data["score"] > 0
    podman = podman_service.client()
    image_id = podman.images.get(pinned).id
    for bench in ("resnet", "bert"):
        for i in range(3):
            rec = json.loads((campaign / f"records/{bench}/run_{i}.json").read_text())
            assert rec["runtime"] == "podman" and rec["status"] == "success"
            assert rec["command"][:2] == ["podman", "run"] and pinned in rec["command"]
            assert rec["image"] == pinned and pinned in rec["image_repo_digests"]
            assert rec["image_id"] == image_id
            trace = (campaign / rec["log"]).read_text().splitlines()[1]
            assert pinned in trace and '"runtime": "podman"' in trace
    assert podman.containers.list(all=True, filters={"label": "io.gp2bm.campaign"}) == []
    podman.close()
