"""A run's launch (config file, launcher, container options, submission lines) wired into
every runtime's command line, the runner and the pre-flight; no daemon needed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path

import pytest
import yaml
from campaign_helpers import NO_DROP, SYSTEM, TRAIN, bench_dir, write_suite

from gp2bm.campaign.folder import Campaign
from gp2bm.errors import InputError
from gp2bm.files.findings import CheckStatus
from gp2bm.node import datasets
from gp2bm.node.launchcheck import launch_items
from gp2bm.results.mlcommons.compliance import check_compliance
from gp2bm.run.benchsetup import benchmark_setup
from gp2bm.run.launch import plan_launch
from gp2bm.runtimes import get_runtime
from gp2bm.runtimes.base import run_spec
from gp2bm.runtimes.docker import DockerRuntime
from gp2bm.spec.configenv import ConfigEnvironment, dump_argv
from gp2bm.spec.manifest import LauncherSpec, load_manifest
from gp2bm.spec.suite import load_suite

REPO = Path(__file__).resolve().parents[1]
RESNET = load_manifest(REPO / "manifests" / "nvidia_resnet.yaml")
BERT = load_manifest(REPO / "manifests" / "nvidia_bert.yaml")
CONFIG = ConfigEnvironment("img:./config_DGXH100.sh", {"BATCHSIZE": "400", "DGXNGPU": "8"})
DIGEST = "sha256:" + "b" * 64


def spec_of(m, gpus=8, config=CONFIG, seed=7):
    launch = plan_launch(m, seed, gpus, config, {"MLPERF_SUBMISSION_ORG": "Acme"})
    return run_spec(m, launch, "gp2bm-x-resnet-0", {"io.gp2bm.run": "resnet/0"})


def test_run_spec_takes_the_launch():
    spec = spec_of(RESNET)
    assert spec.command == ["mpirun", "--allow-run-as-root", "--bind-to", "none", "--np", "8",
                            "./run_and_time.sh"]
    assert spec.launcher == spec.command[:-1]
    assert spec.env["BATCHSIZE"] == "400" and spec.env["SEED"] == "7"
    assert spec.options.security_opt == ("seccomp=unconfined",) and spec.options.init
    assert spec.manifest == str(RESNET.path)


@pytest.mark.parametrize("name", ["docker", "podman"])
def test_docker_and_podman_put_the_options_before_the_image(name):
    runtime = get_runtime(name)
    assert isinstance(runtime, DockerRuntime)  # podman's too
    spec = spec_of(RESNET)
    argv = runtime.render(spec)
    image = argv.index(RESNET.image)
    assert argv[image - 5 : image] == ["--security-opt", "seccomp=unconfined", "--init",
                                       "--uts", "host"]
    assert argv[image + 1 :] == spec.command
    kwargs = runtime.create_kwargs(spec)
    assert kwargs["security_opt"] == ["seccomp=unconfined"]
    assert kwargs["init"] is True and kwargs["uts_mode"] == "host"
    caps = dataclasses.replace(RESNET, cap_add=["sys_nice"], security_opt=[],
                               devices=["/dev/infiniband"])
    argv = runtime.render(spec_of(caps))
    assert ["--cap-add", "SYS_NICE"] == argv[argv.index("--cap-add") : argv.index("--cap-add") + 2]
    assert "/dev/infiniband:/dev/infiniband:rwm" in argv
    assert runtime.create_kwargs(spec_of(caps))["cap_add"] == ["SYS_NICE"]


def test_a_manifest_without_launch_fields_renders_no_new_option():
    m = dataclasses.replace(RESNET, config=None, launcher=LauncherSpec("none"), security_opt=[],
                            init=False, uts=None)
    argv = get_runtime("docker").render(run_spec(m, plan_launch(m, 1, None), "n", {}))
    for option in ("--security-opt", "--init", "--uts", "--cap-add", "--device"):
        assert option not in argv
    assert argv[argv.index(m.image) + 1 :] == ["./run_and_time.sh"]


def test_apptainer_honours_or_refuses_each_option(tmp_path):
    runtime = get_runtime("apptainer", apptainer="apptainer", image_dir=tmp_path)
    argv = runtime.render(spec_of(dataclasses.replace(RESNET, cap_add=["SYS_NICE"])))
    assert argv[argv.index("--add-caps") + 1] == "SYS_NICE"
    assert argv[-7:] == spec_of(RESNET).command
    apparmor = dataclasses.replace(RESNET, security_opt=["apparmor=unconfined"])
    with pytest.raises(InputError, match=r"nvidia_resnet.yaml: the apptainer runtime cannot "
                                         r"honour security_opt apparmor=unconfined"):
        runtime.render(spec_of(apparmor))


def test_enroot_mounts_devices_and_refuses_capabilities():
    runtime = get_runtime("enroot", srun="srun")
    pinned = dataclasses.replace(RESNET, image=f"nvcr.io/nvidia/mxnet@{DIGEST}",
                                 devices=["/dev/infiniband"])
    argv = runtime.render(spec_of(pinned))
    mounts = next(a for a in argv if a.startswith("--container-mounts="))
    assert mounts.endswith(",/dev/infiniband:/dev/infiniband")
    with pytest.raises(InputError, match="cannot honour cap_add SYS_NICE"):
        runtime.render(spec_of(dataclasses.replace(pinned, cap_add=["SYS_NICE"])))
    with pytest.raises(InputError, match="config.in: host"):
        runtime.run_in_image(pinned.image, dump_argv("./config_DGXH100.sh"), "/workspace")


def _local_suite(tmp_path: Path, **manifest_changes) -> Path:
    suite = write_suite(tmp_path / "s", {"resnet": 1})
    path = suite.parent / "resnet.yaml"
    doc = yaml.safe_load(path.read_text())
    doc.update(manifest_changes)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return suite


def test_local_runtime_wraps_its_command_with_the_launcher(tmp_path):
    suite = _local_suite(tmp_path, launcher={"name": "torchrun", "processes_per_node": 2})
    m = load_manifest(suite.parent / "resnet.yaml")
    runtime = get_runtime("local")
    runtime.prepare(m)
    argv = runtime.render(spec_of(m, gpus=None, config=None))
    cmd = argv[argv.index("python") :]
    assert cmd[:6] == ["python", "-m", "torch.distributed.run", "--standalone", "--no_python",
                       "--nproc_per_node=2"]
    assert cmd[6] == sys.executable and cmd[7:] == [str(TRAIN), "--benchmark", "resnet"]


@pytest.mark.parametrize("change, message", [
    ({"security_opt": ["seccomp=unconfined"]}, "local runtime has no container: remove "
                                               "security_opt"),
    ({"init": True, "uts": "host"}, "remove init, uts"),
    ({"config": {"file": "./config_X.sh", "in": "image"}}, "config.in: image, but the local"),
])
def test_local_runtime_refuses_what_needs_a_container(tmp_path, change, message):
    m = load_manifest(_local_suite(tmp_path, **change).parent / "resnet.yaml")
    with pytest.raises(InputError, match=message):
        get_runtime("local").prepare(m)


# ---------------------------------------------------------------------------- the runner


def run_local(cli, suite: Path, campaign: Path, *extra):
    """gp2bm run resnet with the local runtime (one run: no score)."""
    return cli("run", "resnet", "--suite", suite, "--campaign", campaign, "--runtime", "local",
               "--system", SYSTEM, *NO_DROP, *extra)


def _config(folder: Path, text: str) -> str:
    path = folder / "config_TEST.sh"
    path.write_text(text)
    return str(path)


def test_run_all_passes_the_config_and_records_the_launch(cli, tmp_path):
    suite = _local_suite(tmp_path, config={"file": "config_TEST.sh", "in": "host"},
                         environment={"NEXP": "1"})
    _config(suite.parent, "export BATCHSIZE=400\nexport NEXP=5\nexport HF_TOKEN=s3cr3t\n"
                          "export DGXSYSTEM=$(basename ${BASH_SOURCE[0]} .sh)\n")
    res = run_local(cli, suite, tmp_path / "c")
    assert res.code == 0, res.err
    record = json.loads((tmp_path / "c" / "records" / "resnet" / "run_0.json").read_text())
    launch = record["launch"]
    env = launch["environment"]
    assert env["BATCHSIZE"] == "400" and env["DGXSYSTEM"] == "config_TEST"
    assert env["NEXP"] == "1" and launch["config_overridden"] == ["NEXP"]
    assert env["HF_TOKEN"] != "s3cr3t" and "s3cr3t" not in json.dumps(record)
    assert launch["launcher"] == "none" and record["relaxed"] == []
    assert record["submission_problem"] is None


@pytest.mark.reliability("launch-no-config")
def test_a_config_that_does_not_source_stops_before_any_run(cli, tmp_path):
    suite = _local_suite(tmp_path, config={"file": "config_TEST.sh", "in": "host"})
    _config(suite.parent, "echo broken >&2; exit 3\n")
    res = run_local(cli, suite, tmp_path / "c", "--skip-check")
    assert res.code == 2
    assert "config_TEST.sh: sourcing it in a clean bash failed (exit 3): broken" in res.err
    assert len(res.err.strip().splitlines()) == 1
    assert not (tmp_path / "c" / "records" / "resnet").exists()


def test_gp2bm_submission_lines_need_a_status(cli, tmp_path):
    suite = _local_suite(tmp_path, submission_lines="gp2bm")
    (suite.parent / "system.yaml").write_text('status: "<FILL IN>"\n')
    res = run_local(cli, suite, tmp_path / "c")
    assert res.code == 2
    assert "status is '<FILL IN>': the resnet submission lines need it" in res.err
    assert not (tmp_path / "c" / "records" / "resnet").exists()


@pytest.mark.reliability("launch-submission-lines")
def test_submission_lines_written_twice_are_named_with_the_fix(cli, tmp_path):
    """The smoke workload writes its own submission lines: gp2bm's would be the second."""
    suite = _local_suite(tmp_path, submission_lines="gp2bm")
    (suite.parent / "system.yaml").write_text('status: "Available on-premise"\n')
    res = run_local(cli, suite, tmp_path / "c")
    assert res.code == 0  # the run itself ended well; its log fails compliance
    path = bench_dir(tmp_path / "c", "resnet") / "result_0.txt"
    log = path.read_text()
    assert log.count('"key": "submission_org"') == 2
    assert not check_compliance(path, "3.1.0").passed
    assert '"value": "1x' + SYSTEM + '"' in log  # gp2bm's platform: <nodes>x<system>
    record = json.loads((tmp_path / "c" / "records" / "resnet" / "run_0.json").read_text())
    assert "written twice" in record["submission_problem"]
    assert "set submission_lines: implementation" in record["submission_problem"]
    assert "will fail compliance" in res.err


@pytest.mark.reliability("launch-no-launcher")
def test_benchmark_setup_names_a_launcher_without_gpus(tmp_path, monkeypatch):
    from gp2bm.node.gpus import GpuReport
    from gp2bm.run import benchsetup

    monkeypatch.setattr(benchsetup, "describe_gpus", lambda: GpuReport(error="none here"))
    suite = _local_suite(tmp_path, launcher="mpirun")
    campaign = Campaign.open(tmp_path / "c", load_suite(suite), system=SYSTEM, runtime="local")
    m = load_manifest(suite.parent / "resnet.yaml")
    with pytest.raises(InputError, match="no GPU was found on this node; set "
                                         "launcher.processes_per_node"):
        benchmark_setup(campaign, m, get_runtime("local"))


# ---------------------------------------------------------------------------- pre-flight


class ImageRuntime:
    """A runtime stand-in with an image store: what the launch items ask of a runtime."""

    name = "fake"
    uses_images = True

    def __init__(self, present=True, files=None, refuse=None):
        self.present, self.files, self.refuse = present, files or {}, refuse
        self.calls = []

    def image_present(self, image):
        return self.present

    def check_options(self, options, where):
        if self.refuse:
            raise InputError(f"{where}: the fake runtime cannot honour {self.refuse}")

    def run_in_image(self, image, argv, workdir):
        self.calls.append(argv)
        if argv[:2] == ["env", "-i"]:
            text = self.files.get(argv[-1])
            if text is None:
                return 1, b"", f"bash: {argv[-1]}: No such file or directory\n".encode()
            return 0, text.encode(), b""
        found = argv[-1] in self.files.get("PATH", "")
        return (0, f"/usr/bin/{argv[-1]}\n".encode(), b"") if found else (1, b"", b"")


def _items(runtime, gpus=8, manifests=None):
    items = launch_items(runtime, manifests or {"resnet": RESNET}, lambda: gpus)
    return {i.name: i for i in items}


def test_preflight_launch_items_pass():
    runtime = ImageRuntime(files={"./config_DGXH100.sh": "BATCHSIZE=400\0DGXNGPU=8\0",
                                  "PATH": "mpirun"})
    items = _items(runtime)
    assert items["resnet container options"].status == CheckStatus.PASS
    assert "seccomp=unconfined" in items["resnet container options"].detail
    assert items["resnet config"].status == CheckStatus.PASS
    assert "2 variables from" in items["resnet config"].detail
    assert items["resnet processes"].status == CheckStatus.PASS
    assert "8 per node" in items["resnet processes"].detail
    assert items["resnet launcher"].status == CheckStatus.PASS
    assert "resnet GPUs per node" not in items


def test_preflight_launch_items_name_each_problem():
    runtime = ImageRuntime(files={"PATH": ""}, refuse="security_opt seccomp=unconfined")
    items = _items(runtime, gpus=4)
    assert items["resnet container options"].status == CheckStatus.FAIL
    assert "nvidia_resnet.yaml" in items["resnet container options"].detail
    assert items["resnet config"].status == CheckStatus.FAIL
    assert "sourcing it in a clean bash failed" in items["resnet config"].detail
    assert items["resnet launcher"].status == CheckStatus.WARN and "mpirun not found" in items[
        "resnet launcher"].detail
    runtime = ImageRuntime(files={"./config_DGXH100.sh": "DGXNGPU=8\0", "PATH": "mpirun"})
    items = _items(runtime, gpus=4)
    assert items["resnet GPUs per node"].status == CheckStatus.WARN
    assert "DGXNGPU=8 but the launcher starts 4 processes" in items["resnet GPUs per node"].detail


def test_preflight_before_the_image_is_pulled_warns_not_fails():
    items = _items(ImageRuntime(present=False))
    assert items["resnet config"].status == CheckStatus.WARN
    assert "not here yet" in items["resnet config"].detail
    assert items["resnet launcher"].status == CheckStatus.WARN


def test_smoke_manifests_get_no_launch_item(tmp_path):
    m = load_manifest(_local_suite(tmp_path).parent / "resnet.yaml")
    assert launch_items(get_runtime("local"), {"resnet": m}, lambda: 0) == []


def test_check_verifies_declared_data_once_and_remembers_it(cli, tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.rec").write_bytes(b"recordio\n")
    digest = hashlib.md5(b"recordio\n").hexdigest()
    mounts = [{"host": str(data), "container": "/data", "what": "ImageNet",
               "files": [{"path": "train.rec", "md5": digest}, "train.idx"],
               "prepare": "scripts/prepare_imagenet.sh"}]
    suite = _local_suite(tmp_path, mounts=mounts)
    hashed = []
    real = datasets.DIGESTS["md5"]
    def counted(p):
        hashed.append(p)
        return real(p)

    monkeypatch.setitem(datasets.DIGESTS, "md5", counted)
    args = ("check", "--suite", suite, "--runtime", "local", "--no-gpu", "--campaign",
            tmp_path / "c", "--cache-drop-command", "true", "--json")
    first = cli(*args)
    item = {i["name"]: i for i in first.json()["checks"]}["resnet ImageNet"]
    assert item["status"] == CheckStatus.FAIL and "missing: train.idx" in item["detail"]
    assert "scripts/prepare_imagenet.sh" in item["fix"]
    (data / "train.idx").write_bytes(b"index\n")
    second = cli(*args)
    assert second.code == 0, second.out
    item = {i["name"]: i for i in second.json()["checks"]}["resnet ImageNet"]
    assert item["status"] == CheckStatus.PASS and "1 checksum(s) verified" in item["detail"]
    assert len(hashed) == 1  # the second check read nothing again
    assert (tmp_path / "c" / "records" / "datasets_verified.json").is_file()
