"""NVIDIA's v4.0 launch chain in real Docker, by hand with the docker CLI.

The proof image (scripts/build_nvidia_standin_image.sh: NVIDIA's run_and_time.sh, config
files, bindpcie and mlperf-common on Debian's Open MPI and numactl, with stand-in training
entry points) run with ``docker run`` and exactly the argv gp2bm's Docker runtime renders
(tests/test_nvidia_campaign_docker.py runs the same chain through ``gp2bm run-all``). One
ResNet and one BERT launch pass MLCommons' compliance checker (ruleset 3.1.0) and its seed
checker; dropping the config file, the launcher, the seccomp option or the
submission lines fails with the error NVIDIA's own scripts give.
"""

from __future__ import annotations

import dataclasses
import time

import nvidia_chain
import pytest
from services import NVIDIA_FIXTURES, ServicesUnavailable, ensure_nvidia_standin_image

from gp2bm.results.mlcommons.compliance import check_compliance
from gp2bm.results.mlcommons.seeds import check_seeds
from gp2bm.run.submission import writer_problem
from gp2bm.spec.manifest import LauncherSpec

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def proof(docker_services, tmp_path_factory):
    if not NVIDIA_FIXTURES.is_dir():
        pytest.skip(f"NVIDIA's v4.0 files are not available: {NVIDIA_FIXTURES} is absent")
    t0 = time.monotonic()
    try:
        image = ensure_nvidia_standin_image(docker_services)
    except ServicesUnavailable as exc:
        pytest.skip(str(exc))
    print(f"\nproof image ready in {time.monotonic() - t0:.1f} s")
    data = nvidia_chain.make_data(tmp_path_factory.mktemp("nvidia-data"))
    return nvidia_chain, image, data, docker_services.docker_host, tmp_path_factory


def launch(proof, bench, seed, name, **changes):
    nc, image, data, host, tmp = proof
    m = nc.proof_manifest(bench, image, data, **changes)
    run = nc.run_chain(m, seed, host, tmp.mktemp(name) / "result_0.txt")
    print(f"{name}: exit {run.code} in {run.seconds:.1f} s")
    return m, run


@pytest.fixture(scope="module")
def resnet_run(proof):
    return launch(proof, "resnet", 1234567, "resnet")


@pytest.mark.parametrize("bench", ["resnet", "bert"])
def test_launch_passes_compliance_and_seeds(proof, resnet_run, bench):
    m, run = resnet_run if bench == "resnet" else launch(proof, "bert", 7654321, "bert")
    assert run.code == 0, run.output[-3000:].decode(errors="replace")
    argv = run.argv
    image = argv.index(m.image)
    # NVIDIA's run_with_docker.sh options, then its launcher, as the manifest renders them
    for option in (["--security-opt", "seccomp=unconfined"], ["--init"], ["--uts", "host"],
                   ["--network", "host"], ["--ipc", "host"]):
        assert any(argv[i:i + len(option)] == option for i in range(image)), option
    assert argv[image + 1:image + 3] == (["mpirun", "--allow-run-as-root"] if bench == "resnet"
                                         else ["python", "-m"])
    assert "--env" in argv and any(a.startswith("BATCHSIZE=") for a in argv)
    compliance = check_compliance(run.log, "3.1.0")
    assert compliance.passed, compliance.messages
    assert check_seeds([run.log], "3.1.0").passed
    text = run.log.read_text()
    seed = 1234567 if bench == "resnet" else 7654321
    assert f'"key": "seed", "value": {seed}' in text
    assert writer_problem(m.submission_lines, run.log.read_bytes(), "m") is None


def test_without_the_config_file(proof):
    _, resnet = launch(proof, "resnet", 11, "resnet-no-config", config=None)
    assert resnet.code != 0
    # run_and_time.sh falls back to its defaults: no GPU list, batch 1664, 90 epochs
    out = resnet.output.decode()
    assert "--gpus ''" in out and "--batch-size 1664, but the published run had 400" in out
    _, bert = launch(proof, "bert", 12, "bert-no-config", config=None)
    assert bert.code != 0 and "BATCHSIZE: BATCHSIZE not set" in bert.output.decode()


def test_without_the_launcher(proof):
    _, resnet = launch(proof, "resnet", 13, "resnet-no-launcher", launcher=LauncherSpec("none"))
    assert resnet.code != 0
    assert "ERROR: cannot read LOCAL_RANK from env" in resnet.output.decode()
    _, bert = launch(proof, "bert", 14, "bert-no-launcher", launcher=LauncherSpec("none"))
    assert bert.code != 0
    assert "environment variable RANK expected, but not set" in bert.output.decode()


def test_without_seccomp_unconfined(proof):
    _, run = launch(proof, "resnet", 15, "resnet-seccomp", security_opt=[])
    assert run.code != 0
    out = run.output.decode()
    # Docker's default seccomp profile refuses set_mempolicy to numactl --membind
    assert "set_mempolicy: Operation not permitted" in out
    assert "setting membind: Operation not permitted" in out


def test_without_gp2bm_submission_lines(proof, resnet_run, tmp_path):
    m, run = resnet_run
    nc = proof[0]
    # the same container output, with the header of submission_lines: implementation
    log = tmp_path / "result_0.txt"
    log.write_bytes(nc.header(dataclasses.replace(m, submission_lines="implementation"))
                    + run.output)
    result = check_compliance(log, "3.1.0")
    assert not result.passed and any("submission_org" in msg for msg in result.messages)
    problem = writer_problem("implementation", log.read_bytes(), "nvidia_resnet.yaml")
    assert problem is not None and "set submission_lines: gp2bm" in problem
