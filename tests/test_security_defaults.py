"""Security defaults: no elevated containers unless asked, no secrets written down, no
world-writable files, no shell strings."""

from __future__ import annotations

import json
import re
import stat
import tarfile
from pathlib import Path

import pytest
import yaml
from campaign_helpers import write_suite
from test_report_campaign import synthetic_campaign

from gp2bm.reports.csv_report import rows as csv_rows
from gp2bm.reports.html_report import render_html
from gp2bm.reports.view import load_campaign
from gp2bm.run.launch import plan_launch
from gp2bm.runtimes.base import run_spec
from gp2bm.runtimes.docker import DockerRuntime
from gp2bm.runtimes.podman import PodmanRuntime
from gp2bm.spec.manifest import load_manifest

REPO = Path(__file__).resolve().parent.parent
DIGEST = "sha256:" + "a" * 64


def _spec(tmp_path: Path, **manifest_changes):
    suite = write_suite(tmp_path / "s", {"resnet": 1}, image=f"127.0.0.1:5000/smoke@{DIGEST}")
    path = suite.parent / "resnet.yaml"
    doc = yaml.safe_load(path.read_text())
    doc.update(manifest_changes)
    path.write_text(yaml.safe_dump(doc))
    manifest = load_manifest(path)
    return run_spec(manifest, plan_launch(manifest, 1, None), "gp2bm-x-resnet-0", {})


@pytest.mark.reliability("security-no-elevation")
@pytest.mark.parametrize("runtime", [DockerRuntime(), PodmanRuntime()], ids=["docker", "podman"])
def test_containers_are_not_privileged_nor_on_host_network_by_default(tmp_path, runtime):
    spec = _spec(tmp_path)
    argv = runtime.render(spec)
    assert "--privileged" not in argv and not any(a.startswith("--privileged") for a in argv)
    assert argv[argv.index("--network") + 1] == "none"
    assert "host" not in [a for a in argv if a.startswith("--net")]
    kwargs = runtime.create_kwargs(spec)
    assert kwargs["privileged"] is False and kwargs["network_mode"] == "none"
    assert not kwargs.get("cap_add") and not kwargs.get("pid_mode")


@pytest.mark.reliability("security-no-elevation")
def test_elevation_only_when_the_manifest_says_so(tmp_path):
    spec = _spec(tmp_path, privileged=True, network="host")
    runtime = DockerRuntime()
    argv = runtime.render(spec)
    assert "--privileged" in argv and argv[argv.index("--network") + 1] == "host"
    kwargs = runtime.create_kwargs(spec)
    assert kwargs["privileged"] is True and kwargs["network_mode"] == "host"


@pytest.mark.reliability("security-no-elevation")
def test_report_shows_runs_with_elevated_rights(tmp_path):
    root = synthetic_campaign(tmp_path)
    assert "elevated container rights" not in render_html(load_campaign(root))
    record = root / "records" / "resnet" / "run_2.json"
    data = json.loads(record.read_text())
    data.update(privileged=True, network="host")
    record.write_text(json.dumps(data))
    html = render_html(load_campaign(root))
    assert "elevated container rights" in html
    assert "resnet result_2.txt: privileged and host network" in html



@pytest.mark.reliability("security-no-elevation")
def test_reports_show_relaxed_container_options_beside_privileged(tmp_path):
    root = synthetic_campaign(tmp_path)
    record = root / "records" / "bert" / "run_4.json"
    data = json.loads(record.read_text())
    data.update(network="host", relaxed=["seccomp=unconfined", "network=host", "uts=host"])
    record.write_text(json.dumps(data))
    view = load_campaign(root)
    html = render_html(view)
    assert "bert result_4.txt: host network and seccomp=unconfined and uts=host" in html
    runs = {(r["benchmark"], r["file"]): r for r in csv_rows(view) if r["kind"] == "run"}
    note = runs.pop(("bert", "result_4.txt"))["note"]
    assert note.endswith("container: seccomp=unconfined, network=host, uts=host")
    assert runs and not any("container:" in r["note"] for r in runs.values())

SECRET = "hf_s3cr3tVALUEnotToBeWritten"
KEY_SECRET = "k3yVALUEnotToBeWritten"


def _world_writable(mode: int) -> bool:
    return bool(mode & stat.S_IWOTH) and not stat.S_ISLNK(mode)


@pytest.mark.slow
@pytest.mark.reliability("security-secrets")
def test_secrets_never_reach_campaign_or_bundle(cli, tmp_path):
    suite = write_suite(
        tmp_path / "suite",
        {"resnet": 1},
        env={"HF_TOKEN": SECRET, "PLAIN": "visible"},
        local_env={"AWS_SECRET_ACCESS_KEY": KEY_SECRET},
    )
    campaign = tmp_path / "campaign"
    res = cli("run-all", "--suite", suite, "--campaign", campaign, "--runtime", "local",
              "--system", "node1", "--cache-drop-command", "true")  # fmt: skip
    assert res.code in (0, 1), res.err[-2000:]  # one run: no valid score, but it ran
    record = json.loads((campaign / "records/resnet/run_0.json").read_text())
    assert record["status"] == "success"
    assert "HF_TOKEN=<redacted>" in record["command"] and "PLAIN=visible" in record["command"]
    bundle = tmp_path / "handin.tar.gz"
    res = cli("package", campaign, "-o", bundle, "--allow-incomplete")
    assert res.code == 0, res.err[-2000:]
    assert bundle.is_file()

    leaks = []
    for path in campaign.rglob("*"):
        if path.is_file() and (SECRET.encode() in (data := path.read_bytes()) or
                               KEY_SECRET.encode() in data):  # fmt: skip
            leaks.append(str(path))
        if _world_writable(path.lstat().st_mode):
            leaks.append(f"world-writable: {path}")
    with tarfile.open(bundle) as tar:
        for member in tar.getmembers():
            if member.mode & stat.S_IWOTH:
                leaks.append(f"world-writable in bundle: {member.name}")
            if member.isfile():
                data = tar.extractfile(member).read()
                if SECRET.encode() in data or KEY_SECRET.encode() in data:
                    leaks.append(f"bundle: {member.name}")
    assert not _world_writable(bundle.stat().st_mode)
    assert leaks == []


@pytest.mark.reliability("security-no-shell")
def test_no_shell_strings_in_gp2bm():
    pattern = re.compile(r"shell\s*=\s*True|os\.system\s*\(|os\.popen\s*\(|commands\.getoutput")
    found = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for path in sorted((REPO / "gp2bm").rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []
