"""One run's launch assembled from the manifest: command, environment, options, record."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gp2bm.files.redact import REDACTED
from gp2bm.run.launch import plan_launch
from gp2bm.spec.configenv import ConfigEnvironment
from gp2bm.spec.manifest import LauncherSpec, load_manifest

REPO = Path(__file__).resolve().parents[1]
RESNET = load_manifest(REPO / "manifests" / "nvidia_resnet.yaml")
CONFIG = ConfigEnvironment("img:./config_DGXH100.sh",
                           {"BATCHSIZE": "400", "DGXNGPU": "8", "SEED": "1", "NEXP": "5"})


def test_nvidia_resnet_launch():
    launch = plan_launch(RESNET, 4242, 8, CONFIG, {"MLPERF_SUBMISSION_ORG": "Acme"})
    assert launch.command == ["mpirun", "--allow-run-as-root", "--bind-to", "none", "--np",
                              "8", "./run_and_time.sh"]
    # the config's variables, then gp2bm's: the drawn seed wins over any config value
    assert launch.environment["BATCHSIZE"] == "400"
    assert launch.environment["SEED"] == "4242"
    assert launch.environment["MLPERF_SUBMISSION_ORG"] == "Acme"
    assert launch.problems == []
    record = launch.as_record()
    assert record["config"] == "img:./config_DGXH100.sh"
    assert record["relaxed"] == ["seccomp=unconfined", "network=host", "ipc=host", "uts=host"]


def test_manifest_environment_overrides_the_config():
    m = dataclasses.replace(RESNET, environment={"NEXP": "1"})
    launch = plan_launch(m, 1, 8, CONFIG)
    assert launch.environment["NEXP"] == "1" and launch.overridden == {"NEXP": "5"}


def test_a_node_with_fewer_gpus_than_the_config_is_named():
    launch = plan_launch(RESNET, 1, 4, CONFIG)
    assert launch.command[5] == "4"
    assert len(launch.problems) == 1 and "DGXNGPU=8" in launch.problems[0]


def test_a_config_must_be_resolved_first():
    with pytest.raises(ValueError, match="config file must be resolved"):
        plan_launch(RESNET, 1, 8, None)


def test_no_launcher_needs_no_gpu_count():
    m = dataclasses.replace(RESNET, config=None, launcher=LauncherSpec("none"))
    assert plan_launch(m, 1, None).command == ["./run_and_time.sh"]


def test_secrets_are_redacted_in_the_record():
    cfg = ConfigEnvironment("c", {"REGISTRY_TOKEN": "s3cret", "DGXNGPU": "8"})
    record = plan_launch(RESNET, 1, 8, cfg).as_record()
    assert record["environment"]["REGISTRY_TOKEN"] == REDACTED
