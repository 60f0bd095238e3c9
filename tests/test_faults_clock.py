"""Fault: the clock is stepped back during a run (NTP step, an operator's `date -s`)."""

from __future__ import annotations

import glob
import json
import shutil
import subprocess
import threading
import time

import pytest
from campaign_helpers import NO_DROP, write_suite
from synth import run_log_text

from gp2bm.results.runlog import CLOCK_TOLERANCE_MS, parse_run_log
from gp2bm.results.scoring import score_run


def _shift_after(text: str, key: str, delta_ms: int) -> str:
    """Move every MLLOG record from the first ``key`` on by ``delta_ms`` (a clock step)."""
    out, shifting = [], False
    for line in text.splitlines():
        if ":::MLLOG " in line:
            head, payload = line.split(":::MLLOG ", 1)
            obj = json.loads(payload)
            shifting = shifting or obj["key"] == key
            if shifting:
                obj["time_ms"] += delta_ms
            line = head + ":::MLLOG " + json.dumps(obj)
        out.append(line)
    return "\n".join(out) + "\n"


@pytest.mark.reliability("clock-step-synthetic")
def test_step_back_inside_the_timed_run_fails_the_run(tmp_path):
    p = tmp_path / "result_0.txt"
    p.write_text(_shift_after(run_log_text("resnet", 1, 30.0), "eval_accuracy", -600_000))
    log = parse_run_log(p, target=0.759)
    assert log.minutes == pytest.approx(20.0)  # what the wrong clock makes of it
    # The log alone cannot tell a step from lines written out of order (published logs do
    # that): a warning, never a failed run, as MLCommons scores it.
    steps = [a for a in log.anomalies if a.kind == "clock_backwards"]
    assert len(steps) == 1 and log.errors == []
    assert "599999 ms" in steps[0].message and "'eval_accuracy'" in steps[0].message
    assert not score_run(log, "off", "3.1.0").failed
    # In a gp2bm campaign the run record holds gp2bm's own monotonic timing (30 min here):
    # the step is caught there.
    scored = score_run(log, "off", "3.1.0", observed_seconds=1800)
    assert scored.failed and any("gp2bm measured" in r for r in scored.reasons)


def test_step_back_outside_the_timed_run_is_a_warning(tmp_path):
    p = tmp_path / "result_0.txt"
    p.write_text(_shift_after(run_log_text("resnet", 1, 30.0), "submission_org", -600_000))
    log = parse_run_log(p, target=0.759)
    assert "clock_backwards" in [a.kind for a in log.anomalies]
    assert log.errors == []
    assert not score_run(log, "off", "3.1.0").failed


def test_reordering_within_tolerance_is_ignored(tmp_path):
    p = tmp_path / "result_0.txt"
    step = -(CLOCK_TOLERANCE_MS - 10)
    p.write_text(_shift_after(run_log_text("resnet", 1, 30.0), "eval_accuracy", step))
    log = parse_run_log(p, target=0.759)
    assert not [a for a in log.anomalies if "clock" in a.kind]


# --------------------------------------------------------------- a real step, libfaketime
def _libfaketime() -> str:
    pattern = "/usr/lib/*/faketime/libfaketime.so.1"
    found = glob.glob(pattern)
    if not found and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "faketime"],
            capture_output=True,
            timeout=180,
            env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
        found = glob.glob(pattern)
    if not found:
        pytest.skip("libfaketime is not installed and `apt-get install faketime` failed")
    return found[0]


@pytest.mark.slow
@pytest.mark.reliability("clock-step-real")
def test_real_clock_step_back_during_a_local_run(cli, tmp_path):
    stamp = tmp_path / "faketime.rc"
    stamp.write_text("+0\n")
    env = {
        "LD_PRELOAD": _libfaketime(),
        "FAKETIME_TIMESTAMP_FILE": str(stamp),
        "FAKETIME_NO_CACHE": "1",
    }
    suite = write_suite(
        tmp_path / "suite",
        {"resnet": 2},
        extra_args=["--sleep-per-epoch", "0.05"],
        local_env=env,
    )
    campaign = tmp_path / "campaign"
    partial = campaign / "records" / "resnet" / "result_0.txt.partial"
    done = campaign / "gp2bm" / "results" / "node1" / "resnet" / "result_0.txt"
    stepped = threading.Event()
    stop = threading.Event()

    def stepper():
        # Step the clock back 2 minutes once run 0 has started its timed part, and restore
        # it once run 0 is over, so that run 1 is a normal run.
        while not stop.is_set():
            if not stepped.is_set() and partial.exists() and b'"run_start"' in partial.read_bytes():
                stamp.write_text("-2m\n")
                stepped.set()
            if stepped.is_set() and done.exists():
                stamp.write_text("+0\n")
                return
            time.sleep(0.02)

    thread = threading.Thread(target=stepper, daemon=True)
    thread.start()
    try:
        res = cli(
            "run-all",
            "--suite", suite,
            "--campaign", campaign,
            "--runtime", "local",
            "--system", "node1",
            *NO_DROP,
            "--json",
        )  # fmt: skip
    finally:
        stop.set()
        thread.join(10)
    assert stepped.is_set(), "run 0 ended before the clock could be stepped"
    assert res.code == 1, res.err[-2000:]
    # both runs were executed and recorded: the campaign went on after the faulty run
    for n in (0, 1):
        record = json.loads((campaign / "records" / "resnet" / f"run_{n}.json").read_text())
        assert record["status"] == "success"  # the process itself ended well
    runs = res.json()["benchmarks"]["resnet"]["runs"]
    by_file = {r["file"]: r for r in runs}
    bad, good = by_file["result_0.txt"], by_file["result_1.txt"]
    assert bad["role"] == "failed"
    assert any("gp2bm measured" in why for why in bad["reasons"]), bad["reasons"]
    assert good["role"] != "failed", good["reasons"]
