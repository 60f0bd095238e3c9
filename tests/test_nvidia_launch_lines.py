"""The launch lines gp2bm renders for NVIDIA's v4.0 manifests, option by option against
NVIDIA's (v3.1) and Dell's (v4.0) own run_with_docker.sh, read from the fixtures; and
``run-all --dry-run`` printing them on a machine without GPUs. No Docker needed: the config
file is sourced on the host, from the implementation folder NVIDIA ships it in."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from services import NVIDIA_FIXTURES

from gp2bm.node.gpus import GpuReport
from gp2bm.run import benchsetup
from gp2bm.run.launch import plan_launch
from gp2bm.runtimes.base import run_spec
from gp2bm.runtimes.docker import DockerRuntime
from gp2bm.spec.configenv import resolve_host_config
from gp2bm.spec.manifest import load_manifest

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs" / "NVIDIA.md"
LAUNCH = NVIDIA_FIXTURES / "docker-launch"
SCRIPTS = {
    "resnet": ["nvidia-v3.1-resnet-run_with_docker.sh", "dell-v4.0-resnet-run_with_docker.sh"],
    "bert": ["nvidia-v3.1-bert-run_with_docker.sh", "dell-v4.0-bert-run_with_docker.sh"],
}
CONFIG = {
    "resnet": ("resnet", "config_DGXH100.sh"),
    "bert": ("bert", "config_DGXH100_1x8x48x1_pack.sh"),
}
# What gp2bm does differently on purpose (docs/NVIDIA.md, the table's last rows): one
# container per run instead of `--detach ... sleep infinity` + `docker exec`, its own
# container name, the output captured by gp2bm instead of a /results volume, and all GPUs
# (NV_GPU picks a subset by hand in NVIDIA's script).
NOT_COPIED = ("--detach", "--name=", "--gpus=\"device=", "-e")
SKIP_VOLUMES = ("/results",)

pytestmark = pytest.mark.skipif(
    not NVIDIA_FIXTURES.is_dir(), reason=f"NVIDIA's v4.0 files are absent: {NVIDIA_FIXTURES}"
)


def docker_run_words(script: Path) -> list[str]:
    """The words of the script's `docker run` (or `nvidia-docker run`) up to the image,
    its `_cont_mounts` array's volumes in place of the array."""
    text = script.read_text().replace("\\\n", " ")
    line = next(x for x in text.splitlines() if re.match(r"\s*(nvidia-)?docker run ", x))
    words = shlex.split(line.split('"${CONT}"')[0].split("gitlab-master")[0])[2:]
    volumes = [
        w
        for x in text.splitlines()
        if re.match(r"\s*_cont_mounts\+?=\(", x)
        for w in shlex.split(x.split("(", 1)[1].rsplit(")", 1)[0])
    ]
    assert volumes, f"{script}: no _cont_mounts"
    return [w for w in words if "_cont_mounts" not in w] + volumes


def normalised(word: str) -> list[str] | None:
    """A run_with_docker.sh option as gp2bm's Docker line spells it (None: not copied)."""
    if word.startswith(NOT_COPIED) or word.startswith("${"):
        return None
    name, _, value = word.partition("=")
    if name == "--ulimit":
        limit, _, n = value.partition("=")
        return ["--ulimit", f"{limit}={n}:{n}"]
    if name == "--net":
        return ["--network", value]
    return [name, value] if value else [name]


def launcher_words(script: Path, dgxngpu: str) -> list[str]:
    """The launcher of the script's `docker exec` of a run, with DGXNGPU filled in."""
    text = script.read_text().replace("\\\n", " ")
    torch = re.search(r'readonly TORCH_RUN="([^"]+)"', text)
    for line in text.splitlines():
        if "./run_and_time.sh" in line and ("mpirun" in line or "TORCH_RUN" in line):
            tail = line.split('"${_cont_name}"')[-1]
            tail = tail.replace("${TORCH_RUN}", torch.group(1) if torch else "")
            return shlex.split(tail.replace("${DGXNGPU}", dgxngpu))
    raise AssertionError(f"{script}: no launcher line")


def compgen_names(folder: Path, config: str) -> set[str]:
    """What NVIDIA's scripts pass: `env -i bash -c ". config && compgen -e"` less PWD, SHLVL."""
    out = subprocess.run(
        ["env", "-i", "bash", "-c", f". ./{config} && compgen -e"],
        cwd=folder, capture_output=True, text=True, check=True,
    ).stdout
    return {n for n in out.split() if n not in ("PWD", "SHLVL")}


def rendered(bench: str) -> tuple[list[str], str, dict]:
    m = load_manifest(REPO / "manifests" / f"nvidia_{bench}.yaml")
    folder, name = CONFIG[bench]
    config = resolve_host_config(NVIDIA_FIXTURES / folder / "implementation" / name)
    env = {"MLPERF_SUBMISSION_ORG": "Acme", "MLPERF_SUBMISSION_PLATFORM": "X9000"}
    launch = plan_launch(m, 123456789, 8, config, env)
    argv = DockerRuntime().render(run_spec(m, launch, f"gp2bm-c-{bench}-1", {}))
    return argv, m.image, config.exported


def contains(argv: list[str], part: list[str]) -> bool:
    return any(argv[i : i + len(part)] == part for i in range(len(argv)))


@pytest.mark.parametrize("bench", ["resnet", "bert"])
def test_launch_line_matches_nvidia_and_dell_option_by_option(bench):
    argv, image, exported = rendered(bench)
    before = argv[: argv.index(image)]
    targets = {a.split("target=")[1].split(",")[0] for a in before if "target=" in a}
    for script in SCRIPTS[bench]:
        for word in docker_run_words(LAUNCH / script):
            if word.startswith("--volume="):
                target = word.split(":")[-1].strip()
                assert target in targets or target in SKIP_VOLUMES, (script, word)
                continue
            option = normalised(word)
            if option is not None and option[0] != "--gpus":
                assert contains(before, option), (script, word, option)
        assert argv[argv.index(image) + 1 :] == launcher_words(LAUNCH / script, "8"), script
    assert contains(before, ["--gpus", "all"])
    # every variable NVIDIA's launch passes from the config file, with the config's value
    folder, name = CONFIG[bench]
    names = compgen_names(NVIDIA_FIXTURES / folder / "implementation", name)
    passed = {a.split("=", 1)[0]: a.split("=", 1)[1] for a in before if "=" in a and
              before[before.index(a) - 1] == "--env"}
    assert names <= set(passed)
    assert all(passed[n] == exported[n] for n in names if n != "SEED")
    assert passed["SEED"] == "123456789"


def test_the_docs_table_names_every_option_of_the_launch_line():
    docs = DOCS.read_text()
    for bench in ("resnet", "bert"):
        argv, image, _ = rendered(bench)
        options = {a for a in argv[: argv.index(image)] if a.startswith("--")}
        options -= {"--rm", "--name", "--env", "--mount", "--workdir", "--label"}
        for option in options:
            assert f"`{option}" in docs, option
        for word in argv[argv.index(image) + 1 : argv.index(image) + 3]:
            assert word in docs


def _host_config_suite(folder: Path) -> Path:
    """The shipped suite with ResNet's config file on the host (copied beside the manifest
    with the file it sources), as a vendor without the image on the planning machine."""
    folder.mkdir()
    for name in ("nvidia-v4.0.yaml", "nvidia_bert.yaml", "system.yaml"):
        shutil.copy(REPO / "manifests" / name, folder / name)
    impl = NVIDIA_FIXTURES / "resnet" / "implementation"
    for name in ("config_DGXH100.sh", "config_DGXA100_common.sh"):
        shutil.copy(impl / name, folder / name)
    doc = yaml.safe_load((REPO / "manifests" / "nvidia_resnet.yaml").read_text())
    doc["config"] = {"file": "config_DGXH100.sh", "in": "host"}
    (folder / "nvidia_resnet.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder / "nvidia-v4.0.yaml"


def test_dry_run_without_gpus_starts_the_configs_dgxngpu(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(benchsetup, "describe_gpus", lambda: GpuReport(error="no NVML here"))
    suite = _host_config_suite(tmp_path / "suite")
    res = cli("run", "resnet", "--suite", suite, "--campaign", tmp_path / "c", "--dry-run",
              "--json")
    assert res.code == 0, res.err
    data = res.json()
    resnet = [row for row in data["plan"] if row["benchmark"] == "resnet"]
    assert len(resnet) == 5
    argv = resnet[0]["command"]
    assert argv[-7:] == ["mpirun", "--allow-run-as-root", "--bind-to", "none", "--np", "8",
                         "./run_and_time.sh"]
    assert "BATCHSIZE=400" in argv and "SEED=<fresh seed>" in argv
    assert any("processes per node from" in n and "DGXNGPU" in n for n in data["notes"])
    assert not (tmp_path / "c").exists()  # a dry run writes nothing


def test_dry_run_of_the_shipped_suite_needs_no_engine_and_no_image(cli, tmp_path, monkeypatch):
    """``run-all --dry-run`` of manifests/nvidia-v4.0.yaml on a planning machine: no Docker
    Engine answers, no image is here, no GPU. What only the image or the node can tell (the
    config file's variables, the GPUs per node) is said to be read at run time, and the
    command lines are NVIDIA's launch all the same."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    monkeypatch.setattr(benchsetup, "describe_gpus", lambda: GpuReport(error="no NVML here"))
    res = cli("run-all", "--suite", REPO / "manifests" / "nvidia-v4.0.yaml",
              "--campaign", tmp_path / "c", "--dry-run", "--json")
    assert res.code == 0, res.err
    data = res.json()
    assert [row["benchmark"] for row in data["plan"]] == ["resnet"] * 5 + ["bert"] * 10
    for bench in ("resnet", "bert"):
        said = [n for n in data["notes"] if n.startswith(f"{bench}: ")]
        assert any("read from the image at run time" in n for n in said), said
        assert any("counted at run time" in n for n in said), said
    resnet = data["plan"][0]["command"]
    assert resnet[:2] == ["docker", "run"]
    assert resnet[-7:] == ["mpirun", "--allow-run-as-root", "--bind-to", "none", "--np",
                           benchsetup.GPUS_AT_RUN_TIME, "./run_and_time.sh"]
    assert "--security-opt" in resnet and "seccomp=unconfined" in resnet
    bert = data["plan"][5]["command"]
    assert f"--nproc_per_node={benchsetup.GPUS_AT_RUN_TIME}" in bert
    assert not (tmp_path / "c").exists()  # a dry run writes nothing
