"""The manifest fields of a real MLPerf launch: config file, launcher, container options,
who writes the submission lines, and the files each mount must hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gp2bm import launchers
from gp2bm.errors import InputError
from gp2bm.files.yamlfile import load_schema
from gp2bm.spec.manifest import (
    ChecksumList,
    ConfigFile,
    LauncherSpec,
    RequiredFile,
    load_manifest,
    suite_manifests,
)
from gp2bm.spec.suite import load_suite

REPO = Path(__file__).resolve().parents[1]
BASE = "benchmark: resnet\nimage: x/y:1\ncommand: [./run_and_time.sh]\nworkdir: /w\n"


def write(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(BASE + extra)
    return path


def test_defaults_keep_old_manifests_as_they_were():
    m = load_manifest(REPO / "manifests" / "resnet.yaml")
    assert m.config is None
    assert m.launcher == LauncherSpec("none", None)
    assert (m.security_opt, m.cap_add, m.devices) == ([], [], [])
    assert (m.init, m.uts, m.submission_lines) == (False, None, "implementation")
    assert m.mounts[0].files == [] and m.mounts[0].verify == [] and m.mounts[0].prepare == ""


def test_nvidia_suite_loads_with_its_launch():
    suite = load_suite(REPO / "manifests" / "nvidia-v4.0.yaml")
    ms = suite_manifests(suite)
    resnet, bert = ms["resnet"], ms["bert"]
    assert resnet.config == ConfigFile("./config_DGXH100.sh", "image")
    assert bert.config == ConfigFile("./config_DGXH100_1x8x48x1_pack.sh", "image")
    assert (resnet.launcher.name, bert.launcher.name) == ("mpirun", "torchrun")
    assert (resnet.submission_lines, bert.submission_lines) == ("gp2bm", "implementation")
    for m in (resnet, bert):
        assert m.security_opt == ["seccomp=unconfined"]
        assert (m.init, m.uts, m.network, m.ipc) == (True, "host", "host", "host")
        assert m.ulimits == {"memlock": (-1, -1), "stack": (67108864, 67108864)}
    assert [f.path for f in resnet.mounts[0].files] == ["train.rec", "train.idx", "val.rec",
                                                        "val.idx"]
    packed, phase1, evalset = bert.mounts
    assert packed.container == "/workspace/data_phase2" and "packed" in packed.host
    # the packed shards' names only: the unpacked part_N_of_04320.hdf5 must not count
    assert packed.files == [RequiredFile("part_[0-9][0-9][0-9][0-9][0-9]", count=4320)]
    assert RequiredFile("bert_config.json", md5="7f59165e21b7d566db610ff6756c926b") in phase1.files
    assert evalset.verify == [ChecksumList(
        "/workspace/bert/input_preprocessing/eval_varlength.chk", "chk", "image")]
    assert all(m.prepare for m in bert.mounts)


def test_launcher_shorthand_and_object(tmp_path):
    assert load_manifest(write(tmp_path, "launcher: torchrun\n")).launcher == LauncherSpec(
        "torchrun")
    m = load_manifest(write(tmp_path, "launcher: {name: mpirun, processes_per_node: 4}\n"))
    assert m.launcher == LauncherSpec("mpirun", 4)


def test_host_paths_resolve_beside_the_manifest(tmp_path):
    m = load_manifest(write(tmp_path, (
        "config: {file: cfg/config_X.sh, in: host}\n"
        "mounts:\n  - host: /d\n    container: /data\n"
        "    verify: [{list: lists/a.md5, format: md5sum}]\n")))
    assert m.config == ConfigFile(str(tmp_path / "cfg" / "config_X.sh"), "host")
    assert m.mounts[0].verify[0].listing == str(tmp_path / "lists" / "a.md5")


def test_image_config_path_is_kept_as_written(tmp_path):
    m = load_manifest(write(tmp_path, "config: {file: ./config_DGXH100.sh}\n"))
    assert m.config == ConfigFile("./config_DGXH100.sh", "image")


def test_schema_launchers_are_the_registry():
    schema = load_schema("benchmark")["properties"]["launcher"]["oneOf"]
    assert tuple(schema[0]["enum"]) == launchers.NAMES
    assert tuple(schema[1]["properties"]["name"]["enum"]) == launchers.NAMES


@pytest.mark.parametrize(
    "extra, where",
    [
        ("launcher: srunx\n", "launcher"),
        ("launcher: {name: mpirun, processes_per_node: 0}\n", "launcher"),
        ("security_opt: [unconfined]\n", "security_opt[0]"),
        ("cap_add: [sys-nice]\n", "cap_add[0]"),
        ("devices: [/tmp/x]\n", "devices[0]"),
        ("uts: private\n", "uts"),
        ("submission_lines: both\n", "submission_lines"),
        ("config: {file: x.sh, in: cloud}\n", "config.in"),
        ("mounts: [{host: /d, container: /c, files: [{path: a, count: 0}]}]\n", "mounts[0]"),
        ("mounts: [{host: /d, container: /c, verify: [{list: a, format: crc}]}]\n",
         "mounts[0].verify[0].format"),
    ],
)
def test_bad_fields_are_one_line_errors(tmp_path, extra, where):
    with pytest.raises(InputError) as info:
        load_manifest(write(tmp_path, extra))
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "m.yaml") in message
    assert where in message


def test_schema_is_valid_json():
    path = REPO / "gp2bm" / "spec" / "schemas" / "benchmark.schema.json"
    assert json.loads(path.read_text())["properties"]["submission_lines"]["enum"] == [
        "gp2bm", "implementation"]
