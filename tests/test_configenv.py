"""The config file's environment, as NVIDIA's launch computes it (a clean bash sourcing it)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gp2bm.errors import InputError
from gp2bm.spec.configenv import (
    dump_argv,
    merge_environment,
    overridden_names,
    parse_env_dump,
    resolve_host_config,
    resolve_image_config,
)

NVIDIA = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "nvidia-v4.0"
RESNET_CONFIG = NVIDIA / "resnet" / "implementation" / "config_DGXH100.sh"
BERT_CONFIG = NVIDIA / "bert" / "implementation" / "config_DGXH100_1x8x48x1_pack.sh"


@pytest.fixture
def nvidia():
    if not RESNET_CONFIG.is_file():
        pytest.skip(f"NVIDIA's v4.0 files are not available: {NVIDIA} is absent")
    return NVIDIA


def nvidia_names(config: Path) -> set[str]:
    """What run_with_docker.sh passes: env -i bash -c '. ./config && compgen -e' minus
    PWD and SHLVL, run in the config's folder."""
    out = subprocess.run(["env", "-i", "bash", "-c", f". ./{config.name} && compgen -e"],
                         cwd=config.parent, capture_output=True, text=True, check=True).stdout
    return {n for n in out.split() if n not in ("PWD", "SHLVL")}


def sourced_value(config: Path, name: str) -> str:
    return subprocess.run(["env", "-i", "bash", "-c", f'. ./{config.name} && printf %s "${name}"'],
                          cwd=config.parent, capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("config", [RESNET_CONFIG, BERT_CONFIG], ids=["resnet", "bert"])
def test_same_variables_and_values_as_nvidias_launch(nvidia, config):
    env = resolve_host_config(config).exported
    assert set(env) == nvidia_names(config)
    for name in env:
        assert env[name] == sourced_value(config, name), name


def test_resnet_config(nvidia):
    env = resolve_host_config(RESNET_CONFIG).exported
    # the values run_and_time.sh would otherwise default (batch 1664, 90 epochs, no GPUs)
    assert (env["BATCHSIZE"], env["NUMEPOCHS"], env["DGXNGPU"]) == ("400", "37", "8")
    # derived from the file's own name and from config_DGXA100_common.sh beside it
    assert env["DGXSYSTEM"] == "DGXH100"
    assert env["WALLTIME"] == "25"  # NEXP unset in the clean shell: 1 * 20 + 5
    assert env["OMPI_MCA_btl"] == "^openib"


def test_bert_config(nvidia):
    env = resolve_host_config(BERT_CONFIG).exported
    assert (env["BATCHSIZE"], env["MAX_STEPS"], env["PHASE"]) == ("48", "3680", "2")
    assert env["DGXSYSTEM"] == "DGXH100_1x8x48x1_pack"
    assert "--packed_samples" in env["EXTRA_PARAMS"]
    assert "--cuda_graph_mode 'segmented'" in env["EXTRA_PARAMS"]
    assert env["SLURM_NTASKS"] == "8"  # from config_DGXA100_common.sh


def test_the_callers_environment_does_not_leak(tmp_path, monkeypatch):
    monkeypatch.setenv("NEXP", "10")
    monkeypatch.setenv("GP2BM_SECRET_TOKEN", "x")
    cfg = tmp_path / "config_T.sh"
    cfg.write_text('export WALLTIME=$(( ${NEXP:-1} * 8 ))\n')
    assert resolve_host_config(cfg).exported == {"WALLTIME": "8"}


def test_values_with_newlines_spaces_and_equals(tmp_path):
    cfg = tmp_path / "with space" / "config_X.sh"
    cfg.parent.mkdir()
    cfg.write_text("export A='two\nlines'\nexport B='x=y z'\nC=unexported\nexport EMPTY=\n"
                   "f() { :; }\nexport -f f\n")
    assert resolve_host_config(cfg).exported == {"A": "two\nlines", "B": "x=y z", "EMPTY": ""}


def test_a_failing_config_is_one_line(tmp_path):
    cfg = tmp_path / "config_bad.sh"
    cfg.write_text("source ./missing_common.sh\n")
    with pytest.raises(InputError) as info:
        resolve_host_config(cfg)
    msg = str(info.value)
    assert "\n" not in msg and str(cfg) in msg and "exit 1" in msg and "missing_common" in msg


def test_missing_config(tmp_path):
    with pytest.raises(InputError, match="config file not found"):
        resolve_host_config(tmp_path / "config_none.sh")


def test_manifest_environment_wins():
    exported = {"BATCHSIZE": "400", "DGXNGPU": "8"}
    manifest = {"DGXNGPU": "4", "EXTRA": "1"}
    assert merge_environment(exported, manifest) == {"BATCHSIZE": "400", "DGXNGPU": "4",
                                                    "EXTRA": "1"}
    assert overridden_names(exported, manifest) == {"DGXNGPU": "8"}


def test_parse_drops_shell_bookkeeping():
    data = b"PWD=/x\0SHLVL=1\0_=/usr/bin/env\0A=1\0BASH_FUNC_f%%=() {  :\n}\0B=\0"
    assert parse_env_dump(data, "c") == {"A": "1", "B": ""}


def test_dump_argv_never_splices_the_path():
    argv = dump_argv("./config; rm -rf /.sh")
    assert argv[:3] == ["env", "-i", "bash"] and argv[-1] == "./config; rm -rf /.sh"
    assert "config" not in argv[4]


class FakeRunner:
    def __init__(self, result):
        self.result, self.calls = result, []

    def run_in_image(self, image, argv, workdir):
        self.calls.append((image, argv, workdir))
        return self.result


def test_image_config_through_the_runtime():
    runner = FakeRunner((0, b"BATCHSIZE=400\0PWD=/w\0", b""))
    cfg = resolve_image_config(runner, "img@sha256:1", "./config_DGXH100.sh", "/w")
    assert cfg.exported == {"BATCHSIZE": "400"}
    assert cfg.source == "img@sha256:1:./config_DGXH100.sh"
    assert runner.calls == [("img@sha256:1", dump_argv("./config_DGXH100.sh"), "/w")]


def test_image_config_failure_and_relative_path_without_workdir():
    runner = FakeRunner((1, b"", b"bash: ./config_X.sh: No such file or directory\n"))
    with pytest.raises(InputError, match="img:./config_X.sh: sourcing it in a clean bash "
                                         "failed \\(exit 1\\): bash: ./config_X.sh: No such"):
        resolve_image_config(runner, "img", "./config_X.sh", "/w")
    with pytest.raises(InputError, match="needs the manifest's workdir"):
        resolve_image_config(runner, "img", "config_X.sh", None)
