"""The proof image's stand-ins, run here as plain processes: what they check, what they
replay (MLCommons' compliance checker on the result), and the launcher stand-ins."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gp2bm.launchers import LaunchPlan, get_launcher
from gp2bm.results.mlcommons.compliance import check_compliance
from gp2bm.results.mlcommons.seeds import check_seeds
from gp2bm.run.submission import key_counts, mllog_record

REPO = Path(__file__).resolve().parents[1]
STANDIN = REPO / "containers" / "nvidia-standin"
NVIDIA = REPO.parent / "shared" / "fixtures" / "nvidia-v4.0"
CACHE_CLEAR = mllog_record("cache_clear", True, 1)
# run_and_time.sh's PHASE2 and fixed arguments with config_DGXH100_1x8x48x1_pack.sh's values
BERT_ARGS = ["--train_batch_size=48", "--learning_rate=0.00096", "--opt_lamb_beta_1=0.60466",
             "--opt_lamb_beta_2=0.85437", "--max_steps=3680", "--weight_decay_rate=0.1",
             "--gradient_accumulation_steps=1", "--packed_samples", "--seed=4242"]
RANK0 = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "8", "MASTER_ADDR": "127.0.0.1",
         "MASTER_PORT": "29500", "SEED": "4242", "MLPERF_SUBMISSION_ORG": "Acme",
         "MLPERF_SUBMISSION_PLATFORM": "X9000"}


def load_script(name: str):
    """A stand-in script without a .py suffix, as a module."""
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"), str(STANDIN / name))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture
def published(tmp_path):
    if not (NVIDIA / "bert" / "results").is_dir():
        pytest.skip(f"NVIDIA's v4.0 files are not available: {NVIDIA} is absent")
    for bench in ("resnet", "bert"):
        (tmp_path / "published" / bench).mkdir(parents=True)
        for log in (NVIDIA / bench / "results").glob("result_*.txt"):
            (tmp_path / "published" / bench / log.name).write_bytes(log.read_bytes())
    return tmp_path / "published"


@pytest.fixture
def bert_data(tmp_path):
    d = {n: tmp_path / n for n in ("packed", "phase1", "eval")}
    for p in d.values():
        p.mkdir()
    (d["packed"] / "part_00000").write_bytes(b"\x89HDF\r\n\x1a\npacked_input_len\0")
    (d["phase1"] / "model.ckpt-28252.pt").touch()
    (d["phase1"] / "bert_config.json").write_text("{}")
    (d["eval"] / "part_eval_10k.hdf5").touch()
    return [f"--input_dir={d['packed']}", f"--init_checkpoint={d['phase1']}/model.ckpt-28252.pt",
            f"--bert_config_path={d['phase1']}/bert_config.json", f"--eval_dir={d['eval']}"]


def run_bert(published, args, env, tmp_path):
    environ = {"PATH": os.environ["PATH"], "STANDIN_PUBLISHED": str(published),
               "STANDIN_TIME_SCALE": "3000", "STANDIN_REPLAY": "0",
               "PYTHONPATH": os.pathsep.join([str(STANDIN), str(NVIDIA / "mlperf-common")]),
               **env}
    return subprocess.run([sys.executable, str(STANDIN / "run_pretraining.py"), *args],
                          env=environ, capture_output=True, timeout=120, check=False)


def test_bert_standin_replays_a_compliant_log(published, bert_data, tmp_path):
    proc = run_bert(published, BERT_ARGS + bert_data, RANK0, tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    log = tmp_path / "result_0.txt"
    log.write_bytes(CACHE_CLEAR + proc.stdout)
    assert check_compliance(log, "3.1.0").passed
    assert check_seeds([log], "3.1.0").passed
    text = proc.stdout.decode()
    assert '"key": "seed", "value": 4242' in text
    # the submission lines come from mlperf_common's helper, with the launch's values
    assert '"key": "submission_org", "value": "Acme"' in text
    assert '"key": "submission_platform", "value": "1xX9000"' in text
    assert key_counts(proc.stdout) == dict.fromkeys(key_counts(b""), 1)


@pytest.mark.parametrize("change, message", [
    ({"args": ["--train_batch_size=56"]}, "--train_batch_size 56, but the published run had 48"),
    ({"drop_env": "RANK"}, "environment variable RANK expected, but not set"),
    ({"env": {"SEED": "1"}}, "--seed 4242, but the launch drew SEED=1"),
    ({"env": {"WORLD_SIZE": "4"}}, "WORLD_SIZE 4, the published run had 8"),
    ({"unpacked": True}, "object 'packed_input_len' doesn't exist"),
])
def test_bert_standin_refuses_another_launch(published, bert_data, tmp_path, change, message):
    args = [a for a in BERT_ARGS if not a.startswith("--train_batch_size")
            or "args" not in change] + change.get("args", []) + bert_data
    env = {**RANK0, **change.get("env", {})}
    env.pop(change.get("drop_env", ""), None)
    if change.get("unpacked"):
        shard = Path(bert_data[0].split("=", 1)[1]) / "part_00000"
        shard.write_bytes(b"\x89HDF\r\n\x1a\ninput_ids\0")
    proc = run_bert(published, args, env, tmp_path)
    assert proc.returncode == 1
    assert message in proc.stderr.decode()
    assert b":::MLLOG" not in proc.stdout


def test_torchrun_standin_sets_the_documented_rank_environment(tmp_path):
    probe = tmp_path / "probe.sh"
    probe.write_text('#!/bin/sh\nenv > "$OUT/rank.$LOCAL_RANK"\n')
    probe.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(STANDIN), "OUT": str(tmp_path)}
    env.pop("OMP_NUM_THREADS", None)
    argv = get_launcher("torchrun", python=sys.executable).wrap([str(probe)], LaunchPlan(4))
    proc = subprocess.run(argv, env=env, capture_output=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    launcher = get_launcher("torchrun")
    ports = set()
    for local in range(4):
        lines = (tmp_path / f"rank.{local}").read_text().splitlines()
        got = dict(line.split("=", 1) for line in lines if "=" in line)
        expected = launcher.rank_environment(LaunchPlan(4), local)
        assert {k: got[k] for k in expected} == expected
        assert set(launcher.rank_variables) <= set(got)
        ports.add(got["MASTER_PORT"])
    assert len(ports) == 1


def test_torchrun_standin_stops_all_when_one_fails(tmp_path):
    probe = tmp_path / "probe.sh"
    probe.write_text('#!/bin/sh\n[ "$LOCAL_RANK" = 2 ] && exit 3\nsleep 30\n')
    probe.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(STANDIN)}
    argv = get_launcher("torchrun", python=sys.executable).wrap([str(probe)], LaunchPlan(4))
    proc = subprocess.run(argv, env=env, capture_output=True, timeout=20, check=False)
    assert proc.returncode == 1
    assert b"ChildFailedError" in proc.stderr and b"local_rank 2, exitcode 3" in proc.stderr


def test_numactl_standin_keeps_lists_of_existing_cpus():
    numactl = load_script("numactl")
    cpus = sorted(os.sched_getaffinity(0))
    exact = ",".join(map(str, cpus))
    assert numactl.fit(exact) == exact
    assert numactl.fit(f"{cpus[0]}-{cpus[0]}") == f"{cpus[0]}-{cpus[0]}"
    # bindpcie --cpu=exclusive with fewer cores than GPUs: 0-(2^64-1)
    assert numactl.fit("0-18446744073709551615,0-18446744073709551615") == exact
    assert numactl.fit("100000-100001") == exact


def test_nvidia_smi_standin_count():
    env = {**os.environ, "STANDIN_GPUS": "4"}
    out = subprocess.run([sys.executable, str(STANDIN / "nvidia-smi"), "-i", "0",
                          "--query-gpu=count", "--format=csv,noheader,nounits"],
                         env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "4"
