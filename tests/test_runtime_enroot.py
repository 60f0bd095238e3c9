"""The enroot runtime (Slurm + Pyxis). Enroot cannot be installed here (no Debian package,
not on PyPI): it is tested on the command line it renders, which is what it executes."""

from __future__ import annotations

import pytest
from campaign_helpers import write_suite

from gp2bm.errors import InputError
from gp2bm.runtimes import get_runtime
from gp2bm.runtimes.base import RunSpec
from gp2bm.runtimes.enroot import enroot_uri
from gp2bm.spec.manifest import Mount, load_manifest

DIGEST = "sha256:" + "d" * 64


def spec(**kw) -> RunSpec:
    base = dict(name="r", image=f"nvcr.io/nvidia/mlperf-bert@{DIGEST}",
                command=["./run_and_time.sh"], benchmark="bert",
                env={"SEED": "42", "DGXSYSTEM": "DGXA100"},
                mounts=[Mount("/data/bert", "/workspace/data"), Mount("/scratch", "/out", False)],
                workdir="/workspace/bert", gpus="all", ipc="host")
    base.update(kw)
    return RunSpec(**base)


def test_enroot_uri_puts_a_hash_between_registry_and_repository():
    assert enroot_uri(f"nvcr.io/nvidia/pytorch@{DIGEST}") == f"nvcr.io#nvidia/pytorch@{DIGEST}"
    assert enroot_uri(f"127.0.0.1:5000/gp2bm/smoke@{DIGEST}") == (
        f"127.0.0.1:5000#gp2bm/smoke@{DIGEST}")
    assert enroot_uri(f"localhost/x@{DIGEST}") == f"localhost#x@{DIGEST}"
    assert enroot_uri(f"library/ubuntu@{DIGEST}") == f"library/ubuntu@{DIGEST}"


def test_rendered_srun_line():
    argv = get_runtime("enroot").render(spec())
    assert argv == [
        "env", "DGXSYSTEM=DGXA100", "SEED=42",
        "srun", "--nodes=1", "--ntasks=1",
        f"--container-image=nvcr.io#nvidia/mlperf-bert@{DIGEST}",
        "--container-mounts=/data/bert:/workspace/data:ro,/scratch:/out",
        "--container-workdir=/workspace/bert",
        "--container-env=DGXSYSTEM,SEED",
        "--container-entrypoint", "--no-container-mount-home",
        "./run_and_time.sh",
    ]
    bare = get_runtime("enroot", srun="/opt/slurm/bin/srun").render(
        spec(env={}, mounts=[], workdir=None, command=["--benchmark", "resnet"]))
    assert bare[0] == "/opt/slurm/bin/srun" and bare[-2:] == ["--benchmark", "resnet"]
    assert not any(a.startswith(("--container-mounts", "--container-env")) for a in bare)
    with pytest.raises(InputError, match="','"):
        get_runtime("enroot").render(spec(mounts=[Mount("/a,b", "/d")]))


def test_prepare_names_the_digest_and_refuses_tags(tmp_path):
    suite = write_suite(tmp_path / "s", {"bert": 1}, image=f"nvcr.io/nvidia/bert@{DIGEST}")
    manifest = load_manifest(suite.parent / "bert.yaml")
    info = get_runtime("enroot").prepare(manifest)
    assert info.id == DIGEST and info.repo_digests == [manifest.image]
    tagged = load_manifest(write_suite(tmp_path / "t", {"bert": 1}, image="nvcr.io/x:1").parent
                           / "bert.yaml")
    with pytest.raises(InputError, match="by digest only"):
        get_runtime("enroot").prepare(tagged)


def test_dry_run_shows_the_srun_lines(cli, tmp_path):
    suite = write_suite(tmp_path / "s", {"resnet": 1}, image=f"reg.lan:5000/smoke@{DIGEST}")
    res = cli("run-all", "--suite", suite, "--campaign", tmp_path / "c", "--runtime", "enroot",
              "--dry-run", "--json")
    assert res.code == 0, res.err
    [row] = res.json()["plan"]
    command = row["command"]
    assert "srun" in command and f"--container-image=reg.lan:5000#smoke@{DIGEST}" in command
    assert "--container-env=MLPERF_SUBMISSION_ORG,MLPERF_SUBMISSION_PLATFORM,SEED" in command
