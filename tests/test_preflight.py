"""The pre-flight check (gp2bm check) and its gate in front of run-all."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import pytest
import yaml
from campaign_helpers import NO_DROP, run_all_local, write_suite
from fake_pynvml import install
from rich.console import Console

from gp2bm.files.findings import CheckStatus
from gp2bm.node import gpus, preflight
from gp2bm.node.cachedrop import DROP_CACHES
from gp2bm.reports.node_text import preflight_table
from gp2bm.runtimes import get_runtime
from gp2bm.runtimes.docker import DockerRuntime
from gp2bm.spec.manifest import suite_manifests
from gp2bm.spec.suite import load_suite

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "manifests" / "smoke.yaml"
no_real_gpu = pytest.mark.skipif(gpus.describe_gpus().found, reason="this machine has GPUs")


def can_drop_caches() -> bool:
    try:
        with open(DROP_CACHES, "w"):
            return True
    except OSError:
        return False


def by_name(items) -> dict:
    return {i["name"] if isinstance(i, dict) else i.name: i for i in items}


def set_gpus(suite_path: Path, bench: str, gpus_value) -> None:
    path = suite_path.parent / f"{bench}.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["gpus"] = gpus_value
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def context(suite_path: Path, **kw) -> preflight.Preflight:
    suite = load_suite(suite_path)
    if isinstance(kw.get("runtime"), str):
        kw["runtime"] = get_runtime(kw["runtime"])
    return preflight.Preflight(suite=suite, manifests=suite_manifests(suite), **kw)


# ---------------------------------------------------------------------------- this machine


@no_real_gpu
def test_check_reports_the_missing_gpu_as_blocking(cli):
    res = cli("check", "--json")
    assert res.code == 1
    data = res.json()
    assert data["ok"] is False
    gpu = by_name(data["checks"])["GPUs"]
    assert gpu["status"] == "fail" and gpu["blocking"] is True
    assert gpu["detail"].startswith("no GPU found (NVML: ")
    assert "NVIDIA" in gpu["fix"] and "driver" in gpu["fix"]
    human = cli("check")
    assert human.code == 1
    assert "no GPU found" in human.out and "blocking failure" in human.out


def test_check_passes_for_the_smoke_suite_without_gpu(cli):
    args = ["check", "--no-gpu", "--runtime", "local", "--suite", SMOKE]
    if not can_drop_caches():  # not root: the site's own drop command
        args += NO_DROP
    res = cli(*args)
    assert res.code == 0, res.out
    assert "ready" in res.out
    # the smoke manifests say gpus: none, so even without --no-gpu nothing asks for a GPU
    res = cli("check", "--runtime", "local", "--suite", SMOKE, "--json", *NO_DROP)
    assert res.code == 0
    assert "gpus: none" in by_name(res.json()["checks"])["GPUs"]["detail"]


def test_unknown_runtime_is_a_usage_error(cli):
    res = cli("check", "--runtime", "nope")
    assert res.code == 2 and "unknown runtime 'nope'" in res.err


# ---------------------------------------------------------------------------- GPUs


def test_gpus_needed_is_derived_from_the_manifests(tmp_path):
    suite = write_suite(tmp_path, {"resnet": 1, "bert": 1})
    assert context(suite).gpus_needed() == 0
    set_gpus(suite, "resnet", "all")
    assert context(suite).gpus_needed() == 1
    set_gpus(suite, "bert", 4)
    assert context(suite).gpus_needed() == 4


def test_fake_8_gpu_node_passes_and_counts(monkeypatch, tmp_path):
    install(monkeypatch)
    suite = write_suite(tmp_path, {"resnet": 1})
    set_gpus(suite, "resnet", "all")
    items = by_name(preflight.check_gpus(context(suite)))
    assert items["NVIDIA driver"].status == "pass" and "535.129.03" in items["NVIDIA driver"].detail
    assert items["GPUs"].status == "pass"
    assert items["GPUs"].detail.startswith("8x NVIDIA H100 80GB HBM3")
    set_gpus(suite, "resnet", 16)
    items = by_name(preflight.check_gpus(context(suite)))
    assert items["GPUs"].blocking
    assert "8 usable GPU(s), the manifests need 16" in items["GPUs"].detail


def test_mig_enabled_warns(monkeypatch, tmp_path):
    fake = install(monkeypatch)
    fake.module.nvmlDeviceGetMigMode = lambda h: [1, 1]
    suite = write_suite(tmp_path, {"resnet": 1})
    set_gpus(suite, "resnet", "all")
    items = by_name(preflight.check_gpus(context(suite)))
    assert items["MIG mode"].status == "warn"


# ---------------------------------------------------------------------------- engine, runtime


def runtime_checks(p: preflight.Preflight) -> list:
    """The selected runtime's own part of the pre-flight (engine, GPU runtime, images)."""
    return p.runtime.checks(p.runtime_context())


def test_unreachable_docker_engine_is_blocking(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no.sock")
    suite = write_suite(tmp_path, {"resnet": 1})
    items = by_name(runtime_checks(context(suite, runtime="docker")))
    engine = items["container engine"]
    assert engine.blocking and "DOCKER_HOST" in engine.fix


class FakeDocker:
    def __init__(self, info):
        self._info = info

    def info(self):
        return self._info


def test_gpu_runtime_nvidia_or_cdi(tmp_path):
    gpu_runtime = DockerRuntime().check_gpu_runtime
    assert gpu_runtime(FakeDocker({"Runtimes": {"runc": {}, "nvidia": {}}})).status == (
        "pass"
    )
    missing = gpu_runtime(FakeDocker({"Runtimes": {"runc": {}}}))
    assert missing.blocking and "nvidia-ctk" in missing.fix
    (tmp_path / "nvidia.yaml").write_text("cdiVersion: 0.5.0\nkind: nvidia.com/gpu\n")
    cdi = gpu_runtime(FakeDocker({"Runtimes": {"runc": {}}, "CDISpecDirs": [tmp_path]}))
    assert cdi.status == "pass" and "CDI" in cdi.detail


def test_unpinned_image_fails_unless_allowed(tmp_path):
    suite = write_suite(tmp_path, {"resnet": 1})
    item = by_name(runtime_checks(context(suite, runtime="docker")))["resnet image"]
    assert item.blocking and item.fix == f"gp2bm pin resnet gp2bm/smoke:latest --suite {suite}"


# ---------------------------------------------------------------------------- data


def add_mount(suite_path: Path, host: Path, checksums: str | None = None) -> None:
    path = suite_path.parent / "resnet.yaml"
    doc = yaml.safe_load(path.read_text())
    mount = {"host": str(host), "container": "/data", "what": "ImageNet"}
    if checksums:
        mount["checksums"] = checksums
    doc["mounts"] = [mount]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_missing_dataset_is_blocking_with_its_fix(tmp_path):
    suite = write_suite(tmp_path / "s", {"resnet": 1})
    add_mount(suite, tmp_path / "imagenet")
    item = preflight.check_data(context(suite))[0]
    assert item.name == "resnet ImageNet" and item.blocking
    assert f"put the ImageNet at {tmp_path / 'imagenet'}" in item.fix


def test_checksums_verified_then_cached(tmp_path):
    data = tmp_path / "imagenet"
    (data / "train").mkdir(parents=True)
    files = {"train/a.rec": b"a" * 1000, "val.rec": b"v" * 10}
    lines = []
    for rel, content in files.items():
        (data / rel).write_bytes(content)
        lines.append(f"{hashlib.sha256(content).hexdigest()}  {rel}")
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "imagenet.sha256").write_text("\n".join(lines) + "\n")
    suite = write_suite(tmp_path / "s", {"resnet": 1})
    add_mount(suite, data, "imagenet.sha256")  # relative to the manifest's folder
    cache = tmp_path / "cache.json"
    item = preflight.check_data(context(suite, checksum_cache=cache))[0]
    assert item.status == "pass" and "2 file(s) match" in item.detail
    again = preflight.check_data(context(suite, checksum_cache=cache))[0]
    assert "2 unchanged since last verified" in again.detail
    (data / "val.rec").write_bytes(b"X" * 10)  # same size, new content and mtime
    os.utime(data / "val.rec", ns=(1, 1))
    bad = preflight.check_data(context(suite, checksum_cache=cache))[0]
    assert bad.blocking and "1 with a wrong sha256 (val.rec)" in bad.detail
    (data / "train" / "a.rec").unlink()
    gone = preflight.check_data(context(suite))[0]
    assert "1 file(s) missing" in gone.detail


def test_malformed_checksum_list_fails(tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    (tmp_path / "sums").write_text("not a checksum line\n")
    suite = write_suite(tmp_path / "s", {"resnet": 1})
    add_mount(suite, data, str(tmp_path / "sums"))
    item = preflight.check_data(context(suite))[0]
    assert item.blocking and "line 1" in item.detail


# ---------------------------------------------------------------------------- disk, cache


def test_disk_and_cache_drop(tmp_path):
    suite = write_suite(tmp_path / "s", {"resnet": 1})
    disk = preflight.check_disk(context(suite, campaign_root=tmp_path / "new" / "campaign"))[0]
    assert disk.status == "pass" and str(tmp_path) in disk.detail
    p = context(suite, cache_drop_command=["/no/such/drop-caches"])
    assert preflight.check_cache_drop(p)[0].blocking
    p.allow_cache_drop_failure = True
    assert preflight.check_cache_drop(p)[0].status == "warn"
    p = context(suite, cache_drop_command=["true"])
    assert preflight.check_cache_drop(p)[0].status == "pass"


def test_a_crashing_check_is_reported_not_raised(monkeypatch, tmp_path):
    def check_boom(p):
        raise RuntimeError("boom")

    monkeypatch.setattr(preflight, "CHECKS", (check_boom, preflight.check_disk))
    suite = write_suite(tmp_path / "s", {"resnet": 1})
    items = preflight.run_checks(context(suite, campaign_root=tmp_path))
    assert items[0].name == "boom" and "RuntimeError: boom" in items[0].detail
    assert items[1].name == "campaign disk"


# ---------------------------------------------------------------------------- run-all
# (3 runs: the fewest that score valid, so that exit 0 means the campaign went through)


@no_real_gpu
def test_run_all_stops_before_any_run_when_a_gpu_is_needed(cli, tmp_path):
    suite = write_suite(tmp_path / "s", {"resnet": 3})
    set_gpus(suite, "resnet", "all")
    campaign = tmp_path / "c"
    res = run_all_local(cli, suite, campaign, "--json")
    assert res.code == 1
    assert "pre-flight: 2 blocking failure(s): NVIDIA driver, GPUs" in " ".join(res.err.split())
    assert res.out == ""  # nothing on stdout: no score object
    assert not (campaign / "records").exists() and not (campaign / "inventory.json").exists()
    # the local runtime ignores `gpus`; --no-gpu / --skip-check let the campaign go on
    assert run_all_local(cli, suite, campaign, "--no-gpu").code == 0
    assert run_all_local(cli, suite, tmp_path / "c2", "--skip-check").code == 0


def test_run_all_passes_preflight_with_fake_gpus(cli, monkeypatch, tmp_path):
    install(monkeypatch)
    suite = write_suite(tmp_path / "s", {"resnet": 3})
    set_gpus(suite, "resnet", 8)
    assert run_all_local(cli, suite, tmp_path / "c").code == 0


def test_run_all_records_the_node_once(cli, monkeypatch, tmp_path):
    suite = write_suite(tmp_path / "s", {"resnet": 3, "bert": 3})
    campaign = tmp_path / "c"
    assert run_all_local(cli, suite, campaign, "--json").code == 0
    inv = json.loads((campaign / "inventory.json").read_text())
    system = json.loads((campaign / "gp2bm" / "systems" / "node1.json").read_text())
    assert inv["cpu"]["logical_cpus"] == os.cpu_count()
    assert system["submitter"] == "<FILL IN>"  # no system.yaml beside this suite
    assert system["host_processor_vcpu_count"] == str(os.cpu_count())
    # the submission tree holds only result files and the system description
    results = campaign / "gp2bm" / "results" / "node1"
    assert sorted(p.name for p in (results / "resnet").iterdir()) == [
        f"result_{i}.txt" for i in range(3)
    ]
    (campaign / "inventory.json").write_text('{"kept": true}')
    suite_doc = yaml.safe_load(suite.read_text())
    suite_doc["benchmarks"]["resnet"]["runs"] = 4
    suite.write_text(yaml.safe_dump(suite_doc))
    assert run_all_local(cli, suite, campaign).code == 0
    assert json.loads((campaign / "inventory.json").read_text()) == {"kept": True}


def test_run_all_with_a_broken_system_yaml_goes_on(cli, tmp_path):
    suite = write_suite(tmp_path / "s", {"resnet": 3})
    (suite.parent / "system.yaml").write_text("submitter: [broken\n")
    campaign = tmp_path / "c"
    res = run_all_local(cli, suite, campaign)
    assert res.code == 0
    assert "warning" in res.err and "system.yaml" in res.err
    assert (campaign / "gp2bm" / "systems" / "node1.json").exists()


# ---------------------------------------------------------------------------- skipped, why


def test_a_gpu_check_not_made_is_skipped_never_a_pass(tmp_path):
    suite = write_suite(tmp_path / "s", {"resnet": 1})
    (none,) = preflight.check_gpus(context(suite))  # every manifest says gpus: none
    assert none.status == CheckStatus.SKIPPED and "not checked" in none.detail and none.why
    set_gpus(suite, "resnet", "all")
    (flag,) = preflight.check_gpus(context(suite, no_gpu=True))
    assert flag.status == CheckStatus.SKIPPED and "--no-gpu" in flag.detail
    assert "leave out --no-gpu" in flag.why and not flag.blocking


def test_every_item_that_is_not_a_pass_says_why(tmp_path):
    suite = write_suite(tmp_path / "s", {"resnet": 1, "bert": 1})
    p = context(
        suite,
        runtime="local",
        no_gpu=True,
        cache_drop=False,
        campaign_root=tmp_path / "campaign",
    )
    items = preflight.run_checks(p)
    assert {i.status for i in items} >= {CheckStatus.PASS, CheckStatus.SKIPPED, CheckStatus.WARN}
    for item in items:
        if item.status == CheckStatus.PASS:
            assert item.why == ""
        else:
            assert item.why.strip(), item
            assert item.fix.strip(), item  # the checks of this file give their own why
    # the table a person reads: "skipped" for the GPUs, and the why beside each non-pass
    buf = io.StringIO()
    Console(file=buf, width=240, force_terminal=False).print(preflight_table(items))
    text = buf.getvalue()
    gpu_row = next(line for line in text.splitlines() if "GPUs" in line)
    assert "skipped" in gpu_row and " pass " not in gpu_row and "leave out --no-gpu" in gpu_row
    assert "why / what to do" in text and "leave out --no-cache-drop" in text
