"""``gp2bm pin`` for every runtime without a daemon, and images no registry holds.

A tag is resolved by the registry's own API: here the real Debian ``docker-registry`` on
loopback, started alone (no dockerd anywhere: DOCKER_HOST and CONTAINER_HOST name sockets
nothing listens on), the image pushed into it over the same API. An image built here is
pinned locally: a Podman build (the ``podman`` command, a private store), a Docker build
(the test dockerd), a SIF or squashfs file by its sha256; the ledger names its runs.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from campaign_helpers import write_suite

from gp2bm.campaign.layout import CampaignLayout
from gp2bm.campaign.record import RunRecord
from gp2bm.campaign.trust import PINNED_LOCALLY, UNPINNED
from gp2bm.errors import InputError
from gp2bm.results.ledger import campaign_ledger
from gp2bm.runtimes import get_runtime
from gp2bm.spec.manifest import load_manifest
from gp2bm.spec.suite import load_suite

REGISTRY = shutil.which("docker-registry")
PODMAN = shutil.which("podman")
RUNTIMES = ("docker", "podman", "apptainer", "enroot")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving_registry(folder: Path, addr: str, auth: dict | None = None):
    """Debian's docker-registry serving ``folder``'s store at ``addr`` (with ``auth``, its
    configuration's auth section) until the block ends."""
    if REGISTRY is None:
        pytest.skip("docker-registry (Debian's package) is not installed")
    config = folder / "registry.yml"
    storage = {"filesystem": {"rootdirectory": str(folder / "registry-data")}}
    doc = {"version": 0.1, "log": {"level": "warn"}, "storage": storage, "http": {"addr": addr}}
    config.write_text(yaml.safe_dump({**doc, **({"auth": auth} if auth else {})}))
    log = open(folder / "registry.log", "ab")
    proc = subprocess.Popen([REGISTRY, "serve", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://{addr}/v2/", timeout=2).close()
                break
            except urllib.error.HTTPError:  # it answers, asking for a login
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail(f"docker-registry did not answer: {config}")
                time.sleep(0.1)
        yield addr
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture
def registry_only(tmp_path):
    """The registry alone, on a free loopback port: no Docker Engine is started."""
    with serving_registry(tmp_path, f"127.0.0.1:{free_port()}") as addr:
        yield addr


@pytest.fixture
def no_daemon(tmp_path, monkeypatch):
    """DOCKER_HOST and CONTAINER_HOST name sockets nothing listens on (checked)."""
    dead = tmp_path / "no-daemon.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{dead}")
    monkeypatch.setenv("CONTAINER_HOST", f"unix://{dead}")
    with socket.socket(socket.AF_UNIX) as s, pytest.raises(OSError):
        s.connect(str(dead))
    return dead


@pytest.fixture
def podman_store(tmp_path, monkeypatch):
    """Podman with a store of its own under tmp_path (the machine's is left alone)."""
    if PODMAN is None:
        pytest.skip("podman is not installed")
    if os.geteuid() != 0:
        pytest.skip("podman's private store here needs root")
    conf = tmp_path / "storage.conf"
    conf.write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{tmp_path}/podman-root"\n'
                    f'runroot = "{tmp_path}/podman-run"\n')  # fmt: skip
    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", str(conf))
    return conf


def _blob(addr: str, repo: str, data: bytes) -> str:
    """Upload one blob through the distribution API; its digest."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start = urllib.request.Request(f"http://{addr}/v2/{repo}/blobs/uploads/", method="POST")
    with urllib.request.urlopen(start) as r:
        location = r.headers["Location"]
    url = location if location.startswith("http") else f"http://{addr}{location}"
    url += ("&" if "?" in url else "?") + f"digest={digest}"
    put = urllib.request.Request(url, data=data, method="PUT",
                                 headers={"Content-Type": "application/octet-stream"})  # fmt: skip
    urllib.request.urlopen(put).close()
    return digest


def push_image(addr: str, repo: str, tag: str) -> str:
    """A one-file OCI image pushed as REPO:TAG over HTTP (no engine); the manifest's digest
    as the registry states it (Docker-Content-Digest)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"hello\n"))
    layer = gzip.compress(buf.getvalue(), mtime=0)
    diff_id = "sha256:" + hashlib.sha256(buf.getvalue()).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()  # fmt: skip
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": _blob(addr, repo, config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": _blob(addr, repo, layer), "size": len(layer)}],
    }).encode()  # fmt: skip
    put = urllib.request.Request(f"http://{addr}/v2/{repo}/manifests/{tag}", data=manifest,
                                 method="PUT", headers={"Content-Type": OCI_MANIFEST})  # fmt: skip
    with urllib.request.urlopen(put) as r:
        stated = r.headers["Docker-Content-Digest"]
    assert stated == "sha256:" + hashlib.sha256(manifest).hexdigest()
    return stated


def registry_digest(addr: str, repo: str, tag: str) -> str:
    head = urllib.request.Request(f"http://{addr}/v2/{repo}/manifests/{tag}", method="HEAD",
                                  headers={"Accept": OCI_MANIFEST})  # fmt: skip
    with urllib.request.urlopen(head) as r:
        return r.headers["Docker-Content-Digest"]


def image_of(suite: Path, bench: str = "resnet") -> str:
    return load_manifest(suite.parent / f"{bench}.yaml").image


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_pin_a_tag_from_the_registry_with_no_daemon(
    cli, registry_only, no_daemon, podman_store, runtime, tmp_path
):
    pushed = push_image(registry_only, "gp2bm/pintest", "v1")
    suite = write_suite(tmp_path / "s", {"resnet": 1})
    ref = f"{registry_only}/gp2bm/pintest:v1"
    res = cli("pin", "resnet", ref, "--suite", suite, "--runtime", runtime, "--json")
    assert res.code == 0, res.err
    expected = f"{registry_only}/gp2bm/pintest@{pushed}"
    assert res.json()["pinned"] == expected and res.json()["how"] == "pinned by digest"
    assert image_of(suite) == expected
    assert pushed == registry_digest(registry_only, "gp2bm/pintest", "v1")
    assert not no_daemon.exists()  # nothing started a daemon on the way


def test_pin_an_unknown_tag_names_the_registry(cli, registry_only, no_daemon, tmp_path):
    suite = write_suite(tmp_path / "s", {"resnet": 1})
    res = cli("pin", "resnet", f"{registry_only}/nothing/here:1", "--suite", suite)
    assert res.code == 2 and len(res.err.strip().splitlines()) == 1
    assert f"registry {registry_only} has no {registry_only}/nothing/here:1" in res.err
    assert "--local" in res.err  # what pins an image built here instead


def test_unreachable_registry_and_unknown_runtime_are_one_line(cli, no_daemon, tmp_path):
    suite = write_suite(tmp_path / "s", {"resnet": 1})
    closed = f"127.0.0.1:{free_port()}"
    res = cli("pin", "resnet", f"{closed}/x/y:1", "--suite", suite, "--runtime", "enroot")
    assert res.code == 2 and len(res.err.strip().splitlines()) == 1
    assert f"cannot reach registry {closed}:" in res.err and "refused" in res.err.lower()
    res = cli("pin", "resnet", "x/y:1", "--suite", suite, "--runtime", "rkt")
    assert res.code == 2 and len(res.err.strip().splitlines()) == 1
    assert "unknown runtime 'rkt'" in res.err
    res = cli("pin", "resnet", "x/y:1", "--suite", suite, "--runtime", "local")
    assert res.code == 2 and "runs no image" in res.err
    res = cli("pin", "resnet", str(tmp_path / "none.sif"), "--suite", suite, "--runtime",
              "apptainer", "--local")  # fmt: skip
    assert res.code == 2 and "no such SIF file" in res.err
    assert image_of(suite) == "gp2bm/smoke:latest"  # nothing written


def test_pin_a_podman_build_locally(cli, podman_store, no_daemon, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "hello.txt").write_text("hello\n")
    (context / "Containerfile").write_text("FROM scratch\nCOPY hello.txt /hello.txt\n")
    local = {k: v for k, v in os.environ.items() if k != "CONTAINER_HOST"}  # not remote
    built = subprocess.run([PODMAN, "build", "-q", "-t", "gp2bm-pintest:1", str(context)],
                           capture_output=True, text=True, check=True,
                           env=local).stdout.split()[-1]  # fmt: skip
    suite = write_suite(tmp_path / "s", {"resnet": 1, "bert": 1})
    res = cli("pin", "resnet", "gp2bm-pintest:1", "--suite", suite, "--runtime", "podman")
    assert res.code == 0, res.err
    assert image_of(suite) == f"sha256:{built}" and "(pinned locally)" in res.out
    res = cli("pin", "bert", "gp2bm-pintest:1", "--suite", suite, "--runtime", "podman",
              "--local", "--json")  # fmt: skip
    assert res.json()["how"] == "pinned locally" and image_of(suite, "bert") == f"sha256:{built}"
    manifest = load_manifest(suite.parent / "resnet.yaml")
    assert manifest.pinned_locally and manifest.fixed and not manifest.pinned
    # podman names the image by the ID as it is written
    argv = [PODMAN, "image", "inspect", "--format", "{{.Id}}", manifest.image]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, env=local).stdout
    assert out.strip() == built
    created = subprocess.run([PODMAN, "create", manifest.image, "/hello.txt"], env=local,
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    subprocess.run([PODMAN, "rm", created], env=local, capture_output=True, check=True)


@pytest.mark.parametrize(("runtime", "name"), [("apptainer", "x.sif"), ("enroot", "x.sqsh")])
def test_pin_an_image_file_by_its_hash(cli, runtime, name, tmp_path):
    image = tmp_path / name
    image.write_bytes(b"a stand-in for the image file: the hash path is the same\n")
    suite = write_suite(tmp_path / "s", {"resnet": 1})
    res = cli("pin", "resnet", image, "--suite", suite, "--runtime", runtime)
    assert res.code == 0, res.err
    assert "(pinned locally)" in res.out
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    assert image_of(suite) == f"{image}@sha256:{digest}"
    manifest = load_manifest(suite.parent / "resnet.yaml")
    assert manifest.launch_image == str(image) and manifest.pinned_locally
    rt = get_runtime(runtime)
    assert rt.prepare(manifest).id == f"sha256:{digest}"
    image.write_bytes(b"another image\n")
    with pytest.raises(InputError, match="has changed since it was pinned") as exc:
        rt.prepare(manifest)
    assert "\n" not in str(exc.value)


def test_the_ledger_names_runs_pinned_locally(tmp_path):
    suite = load_suite(write_suite(tmp_path / "s", {"resnet": 1, "bert": 1}))
    layout = CampaignLayout(tmp_path / "c", "org", "sys")
    for bench, locally in (("resnet", True), ("bert", False)):
        record = RunRecord(bench, 0, runtime="podman", status="success",
                           image="sha256:" + "a" * 64 if locally else "x/y@sha256:" + "b" * 64,
                           image_pinned=not locally, image_pinned_locally=locally)  # fmt: skip
        record.save(layout.record_path(bench, 0))
        path = layout.result_path(bench, 0)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(":::MLLOG {}\n")
    ledger = campaign_ledger(layout, suite, ran={"resnet/0": True, "bert/0": True})
    assert ledger.pinned == {"pinned locally": 1, "pinned by digest": 1}
    assert PINNED_LOCALLY in ledger.names()
    assert UNPINNED not in ledger.names()
    [line] = [x for x in ledger.lines() if x.startswith(f"reservation {PINNED_LOCALLY}")]
    assert "resnet/0" in line and "bert/0" not in line


@pytest.mark.docker
def test_pin_a_docker_build_locally(cli, docker_services, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", docker_services.docker_host)
    client = docker_services.client()
    try:
        context = io.BytesIO()
        with tarfile.open(fileobj=context, mode="w") as tar:
            for file, data in (("Dockerfile", b"FROM scratch\nCOPY hello.txt /\n"),
                               ("hello.txt", b"hello\n")):  # fmt: skip
                info = tarfile.TarInfo(file)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        context.seek(0)
        image, _ = client.images.build(fileobj=context, custom_context=True,
                                       tag="gp2bm-pintest:local")  # fmt: skip
    finally:
        client.close()
    suite = write_suite(tmp_path / "s", {"resnet": 1})
    res = cli("pin", "resnet", "gp2bm-pintest:local", "--suite", suite)
    assert res.code == 0, res.err
    assert image_of(suite) == image.id and "(pinned locally)" in res.out
    manifest = load_manifest(suite.parent / "resnet.yaml")
    rt = get_runtime("docker")
    try:
        assert rt.prepare(manifest).id == image.id
    finally:
        rt.close()
    client = docker_services.client()
    try:  # the engine launches the image ID as it is written
        client.containers.create(manifest.image, ["/hello.txt"]).remove()
    finally:
        client.close()


@pytest.mark.docker
def test_a_run_of_an_image_pinned_locally(cli, docker_services, smoke_image, monkeypatch,
                                          tmp_path):  # fmt: skip
    """run-all starts from the image ID without --allow-unpinned; its record, the ledger
    and status say "pinned locally"."""
    monkeypatch.setenv("DOCKER_HOST", docker_services.docker_host)
    client = docker_services.client()
    try:
        image_id = client.images.get(smoke_image).id
    finally:
        client.close()
    suite = write_suite(tmp_path / "s", {"resnet": 1}, image=smoke_image)
    res = cli("pin", "resnet", smoke_image, "--suite", suite, "--local")
    assert res.code == 0 and image_of(suite) == image_id, res.err
    campaign = tmp_path / "c"
    res = cli("run-all", "--suite", suite, "--campaign", campaign, "--system", "node1",
              "--cache-drop-command", "true", "--json")  # fmt: skip
    assert res.code in (0, 1), res.err[-3000:]
    record = json.loads((campaign / "records/resnet/run_0.json").read_text())
    assert record["image"] == image_id and record["image_id"] == image_id
    assert record["image_pinned_locally"] is True and record["image_pinned"] is False
    assert record["allow_unpinned"] is False
    ledger = campaign_ledger(CampaignLayout.read(campaign), load_suite(suite))
    assert ledger.pinned == {"pinned locally": 1}
    assert PINNED_LOCALLY in ledger.names() and UNPINNED not in ledger.names()
    res = cli("status", campaign)
    assert "pinned locally" in res.out, res.out


@pytest.mark.slow
def test_verify_names_runs_pinned_locally(cli, tmp_path_factory, tmp_path):
    """A bundle whose runs (records and run lines) say their image was pinned locally:
    verify shows the ledger's "pinned locally" and the reservation, refused until it is
    accepted by name."""
    from test_report_campaign import copy_campaign, smoke_campaign

    from gp2bm.handin.bundle import PackageOptions, build_bundle

    smoke = smoke_campaign(tmp_path_factory)
    suite = smoke.parent / "suite" / "suite.yaml"  # the suite it ran
    root = copy_campaign(smoke, tmp_path / "campaign")
    for path in sorted((root / "records").glob("*/run_*.json")):
        record = json.loads(path.read_text())
        record.update(runtime="enroot", image=f"/images/smoke.sqsh@sha256:{'c' * 64}",
                      image_pinned=False,
                      image_pinned_locally=True)  # fmt: skip
        path.write_text(json.dumps(record))
        log = root / record["log"]
        log.write_text("".join(_as_run(line, record) for line in log.read_text().splitlines()))
    # the enroot runtime cannot copy the source out of an image: the bundle says so
    options = PackageOptions(allow_incomplete=True)
    bundle = build_bundle(root, tmp_path / "handin.tar.gz", options=options).output
    res = cli("verify", bundle, "--json", "--suite", suite)
    data = json.loads(res.out)
    assert res.code == 1 and not data["verified"], res.err
    assert data["ledger"]["pinned"] == {"pinned locally": 15}
    assert [r["name"] for r in data["reservations"]] == [PINNED_LOCALLY]
    text = cli("verify", bundle, "--suite", suite).out
    assert "pinned locally" in text and f"reservation {PINNED_LOCALLY}" in text, text
    data = json.loads(cli("verify", bundle, "--json", "--suite", suite, "--accept",
                          PINNED_LOCALLY).out)  # fmt: skip
    assert [r["accepted"] for r in data["reservations"]] == [True]
    # what is left is the source enroot could not copy, not the pin
    left = [f for f in data["findings"] if not f.get("accepted")]
    assert left and all("implementation source missing" in f["text"] for f in left), left


def _as_run(line: str, record: dict) -> str:
    """A log line, its gp2bm run line saying the record's runtime and image."""
    prefix = ":::MLLOG "
    if line.startswith(prefix):
        event = json.loads(line[len(prefix) :])
        if event.get("key") == "gp2bm_run":
            event["value"].update(runtime=record["runtime"], image=record["image"])
            line = prefix + json.dumps(event)
    return line + "\n"
