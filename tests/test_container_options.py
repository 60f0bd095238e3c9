"""The container options of a real MLPerf launch, in each runtime's terms."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gp2bm.errors import InputError
from gp2bm.spec.container import (
    ContainerOptions,
    apptainer_flags,
    container_options,
    docker_flags,
    docker_kwargs,
    enroot_flags,
)
from gp2bm.spec.manifest import load_manifest

REPO = Path(__file__).resolve().parents[1]
NVIDIA = ContainerOptions(security_opt=("seccomp=unconfined",), init=True, uts="host",
                          ipc="host", network="host")


@pytest.mark.parametrize("bench", ["resnet", "bert"])
def test_nvidia_manifests_carry_nvidias_options(bench):
    m = load_manifest(REPO / "manifests" / f"nvidia_{bench}.yaml")
    assert container_options(m) == NVIDIA
    # run_with_docker.sh: --init --net=host --uts=host --ipc=host --security-opt=seccomp=unconfined
    assert docker_flags(container_options(m)) == [
        "--security-opt", "seccomp=unconfined", "--init", "--uts", "host"]


def test_docker_flags_and_sdk_kwargs_agree():
    o = dataclasses.replace(NVIDIA, cap_add=("SYS_NICE",), devices=("/dev/infiniband",))
    assert docker_flags(o) == [
        "--security-opt", "seccomp=unconfined", "--cap-add", "SYS_NICE", "--init",
        "--uts", "host", "--device", "/dev/infiniband:/dev/infiniband:rwm"]
    assert docker_kwargs(o) == {
        "security_opt": ["seccomp=unconfined"], "cap_add": ["SYS_NICE"], "init": True,
        "uts_mode": "host", "devices": ["/dev/infiniband:/dev/infiniband:rwm"]}
    assert docker_kwargs(ContainerOptions()) == {}


def test_cap_prefix_is_dropped(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("benchmark: r\nimage: i\ncommand: [x]\ncap_add: [CAP_SYS_NICE]\n")
    assert container_options(load_manifest(path)).cap_add == ("SYS_NICE",)


def test_relaxed_lists_what_weakens_isolation():
    o = dataclasses.replace(NVIDIA, cap_add=("SYS_NICE",))
    assert o.relaxed() == ["seccomp=unconfined", "cap_add=SYS_NICE", "network=host",
                           "ipc=host", "uts=host"]
    assert ContainerOptions().relaxed() == []
    assert o.as_record()["security_opt"] == ["seccomp=unconfined"]


def test_apptainer_honours_seccomp_and_namespaces_by_default():
    assert apptainer_flags(NVIDIA, "m.yaml") == []
    o = dataclasses.replace(NVIDIA, cap_add=("SYS_NICE",), devices=("/dev/infiniband",))
    assert apptainer_flags(o, "m.yaml") == [
        "--add-caps", "SYS_NICE", "--bind", "/dev/infiniband:/dev/infiniband"]
    with pytest.raises(InputError, match="m.yaml: the apptainer runtime cannot honour "
                                         "security_opt apparmor=unconfined"):
        apptainer_flags(ContainerOptions(security_opt=("apparmor=unconfined",)), "m.yaml")


def test_enroot_honours_nvidias_options_and_refuses_capabilities():
    assert enroot_flags(NVIDIA, "m.yaml") == []
    assert enroot_flags(ContainerOptions(devices=("/dev/infiniband",)), "m") == [
        "/dev/infiniband:/dev/infiniband"]
    with pytest.raises(InputError) as info:
        enroot_flags(ContainerOptions(cap_add=("SYS_NICE",)), "m.yaml")
    assert "\n" not in str(info.value) and "cap_add SYS_NICE" in str(info.value)
