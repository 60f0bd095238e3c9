"""The real test services: a private dockerd and registry, and the offline smoke image.

End to end, as the launcher will use them: build the smoke image without any registry, run
it with the Docker SDK, push it to the local registry, pin it by digest, and pull it back by
that digest alone.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest
from services import (
    SERVICES_SH,
    SMOKE_SOURCE_DIR,
    ServicesUnavailable,
    ensure_smoke_image,
    read_env_file,
    start_services,
    stop_services,
    unavailable_reason,
)

pytestmark = pytest.mark.docker

TOKEN = ":::MLLOG "
ROOT = Path(__file__).resolve().parents[1]
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def _start_or_skip(directory: Path):
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    try:
        return start_services(directory)
    except ServicesUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def own_services(tmp_path_factory):
    """Services private to this module (the suite's shared ones come from conftest)."""
    services = _start_or_skip(tmp_path_factory.mktemp("services"))
    yield services
    stop_services(services)


@pytest.fixture(scope="module")
def smoke_image(own_services):
    try:
        return ensure_smoke_image(own_services)
    except ServicesUnavailable as exc:
        pytest.skip(str(exc))


def mllog_records(text: str) -> list[dict]:
    return [json.loads(line.split(TOKEN, 1)[1]) for line in text.splitlines() if TOKEN in line]


def run_container(client, image: str, args: list[str], **kwargs) -> tuple[int, str]:
    container = client.containers.run(image, args, detach=True, network_mode="none", **kwargs)
    try:
        status = container.wait(timeout=120)["StatusCode"]
        return status, container.logs(stdout=True, stderr=False).decode()
    finally:
        container.remove(force=True)


def registry_digest(registry: str, repository: str, tag: str) -> str:
    request = urllib.request.Request(f"http://{registry}/v2/{repository}/manifests/{tag}",
                                     method="HEAD", headers={"Accept": MANIFEST_V2})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.headers["Docker-Content-Digest"]


def test_start_is_idempotent(own_services):
    again = start_services(own_services.dir)
    assert again == own_services
    assert read_env_file(own_services.dir / "env") == own_services.env()
    assert own_services.docker_host == f"unix://{own_services.dir}/docker.sock"
    with closing(own_services.client()) as client:
        assert client.ping()
    with urllib.request.urlopen(f"http://{own_services.registry}/v2/", timeout=10) as response:
        assert response.status == 200


def test_smoke_image_runs_offline(own_services, smoke_image):
    with closing(own_services.client()) as client:
        image = client.images.get(smoke_image)
        assert image.attrs["Config"]["User"] not in ("", "0", "root")
        assert image.labels["io.gp2bm.source-dir"] == SMOKE_SOURCE_DIR

        status, out = run_container(client, smoke_image,
                                    ["--benchmark", "resnet", "--seed", "7"])
        assert status == 0, out[-2000:]
        records = mllog_records(out)
        stops = [r for r in records if r["key"] == "run_stop"]
        assert [s["metadata"]["status"] for s in stops] == ["success"]
        assert [r["value"] for r in records if r["key"] == "submission_benchmark"] == ["resnet"]
        assert not [r for r in records if r["key"] == "cache_clear"]

        # Same seed, same image: same training.
        _, again = run_container(client, smoke_image, ["--benchmark", "resnet", "--seed", "7"])
        accuracy = [r["value"] for r in mllog_records(again) if r["key"] == "eval_accuracy"]
        assert accuracy == [r["value"] for r in records if r["key"] == "eval_accuracy"]

        # Seed and submission fields through the environment, a failure through its status.
        status, out = run_container(client, smoke_image, ["--benchmark", "bert"], environment={
            "SEED": "11", "MLPERF_SUBMISSION_ORG": "ACME", "SMOKE_FAIL": "1"})
        records = mllog_records(out)
        assert status != 0
        assert [r["value"] for r in records if r["key"] == "seed"] == [11]
        assert [r["value"] for r in records if r["key"] == "submission_org"] == ["ACME"]
        assert [r["metadata"]["status"] for r in records if r["key"] == "run_stop"] == ["aborted"]

        # The image carries exactly the workload source of this checkout.
        source = client.containers.run(smoke_image, [f"{SMOKE_SOURCE_DIR}/train.py"],
                                       entrypoint="cat", network_mode="none", remove=True)
        assert source == (ROOT / "containers" / "smoke" / "train.py").read_bytes()


def test_push_then_pull_by_digest(own_services, smoke_image):
    import docker

    repository = "gp2bm/smoke"
    remote = f"{own_services.registry}/{repository}"
    with closing(own_services.client()) as client:
        image = client.images.get(smoke_image)
        image_id = image.id
        assert image.tag(remote, tag="pushed")
        for event in client.api.push(remote, tag="pushed", stream=True, decode=True):
            assert "error" not in event and "errorDetail" not in event, event

        pushed = client.images.get(f"{remote}:pushed")
        pinned = next(d for d in pushed.attrs["RepoDigests"] if d.startswith(remote + "@"))
        digest = pinned.split("@", 1)[1]
        assert digest == registry_digest(own_services.registry, repository, "pushed")

        # Drop every local reference, so only the registry can give the image back.
        for reference in (f"{remote}:pushed", smoke_image):
            client.images.remove(reference)
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(image_id)

        # The SDK's images.pull() does not raise on an error reported in the stream.
        events = list(client.api.pull(remote, tag=digest, stream=True, decode=True))
        assert not [e for e in events if "error" in e or "errorDetail" in e], events
        pulled = client.images.get(pinned)
        assert pulled.id == image_id
        assert pinned in pulled.attrs["RepoDigests"]

        status, out = run_container(client, pinned, ["--benchmark", "bert", "--seed", "3"])
        assert status == 0, out[-2000:]
        assert any(r["key"] == "run_stop" and r["metadata"]["status"] == "success"
                   for r in mllog_records(out))

        # An unknown digest is an error, not a silent success.
        missing = "sha256:" + "0" * 64
        with pytest.raises(docker.errors.APIError):
            client.images.pull(remote, tag=missing)
        pulled.tag(smoke_image)  # give the tag back for later tests


def test_stop_leaves_nothing_behind(tmp_path):
    services = _start_or_skip(tmp_path / "services")
    pids = [int((services.dir / name).read_text()) for name in ("dockerd.pid", "registry.pid")]
    stop_services(services)

    for pid in pids:
        state = Path(f"/proc/{pid}/stat")
        assert not state.exists() or state.read_text().split()[2] in ("Z", "X")
    mounts = Path("/proc/mounts").read_text().split("\n")
    assert not [m for m in mounts if f" {services.dir}/" in m]
    assert not (services.dir / "env").exists()
    assert not (services.dir / "docker.sock").exists()

    status = subprocess.run(["bash", str(SERVICES_SH), "env", str(services.dir)],
                            capture_output=True, text=True, check=False)
    assert status.returncode == 1
    stop_services(services)  # stopping twice is fine
