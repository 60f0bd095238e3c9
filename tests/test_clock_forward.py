"""Fault: the real clock jumps FORWARD during a local run (an NTP step after a long drift, a
VM resumed from a pause): the log's time to train grows by the jump, gp2bm's own monotonic
timing does not, and the run fails in scoring (results/timing.py). The same test stepping
back is tests/test_faults_clock.py::test_real_clock_step_back_during_a_local_run."""

from __future__ import annotations

import json
import threading
import time

import pytest
from campaign_helpers import NO_DROP, write_suite
from test_faults_clock import _libfaketime


@pytest.mark.slow
@pytest.mark.reliability("clock-jump-forward")
def test_real_clock_jumps_forward_during_a_local_run(cli, tmp_path):
    stamp = tmp_path / "faketime.rc"
    stamp.write_text("+0\n")
    env = {
        "LD_PRELOAD": _libfaketime(),
        "FAKETIME_TIMESTAMP_FILE": str(stamp),
        "FAKETIME_NO_CACHE": "1",
    }
    suite = write_suite(tmp_path / "suite", {"resnet": 3},
                        extra_args=["--sleep-per-epoch", "0.05"], local_env=env)
    campaign = tmp_path / "campaign"
    partial = campaign / "records" / "resnet" / "result_0.txt.partial"
    done = campaign / "gp2bm" / "results" / "node1" / "resnet" / "result_0.txt"
    jumped, stop = threading.Event(), threading.Event()

    def jumper():
        # +3 minutes once run 0 has logged run_start; back to +0 once run 0 is over
        while not stop.is_set():
            if not jumped.is_set() and partial.exists() and b'"run_start"' in partial.read_bytes():
                stamp.write_text("+3m\n")
                jumped.set()
            if jumped.is_set() and done.exists():
                stamp.write_text("+0\n")
                return
            time.sleep(0.02)

    thread = threading.Thread(target=jumper, daemon=True)
    thread.start()
    try:
        res = cli("run-all", "--suite", suite, "--campaign", campaign, "--runtime", "local",
                  "--system", "node1", *NO_DROP, "--json")
    finally:
        stop.set()
        thread.join(10)
    assert jumped.is_set(), "run 0 ended before the clock could jump"
    # one failed run of three is allowed: it takes the dropped slowest run's place
    assert res.code == 0, res.err[-2000:]
    runs = {r["file"]: r for r in res.json()["benchmarks"]["resnet"]["runs"]}
    bad = runs["result_0.txt"]
    assert bad["minutes"] > 2.5, bad  # the log believed the jump...
    assert bad["role"] == "failed"  # ...gp2bm's own clock did not
    assert any("gp2bm measured" in why for why in bad["reasons"]), bad["reasons"]
    for name in ("result_1.txt", "result_2.txt"):
        assert runs[name]["role"] != "failed", runs[name]["reasons"]
    assert res.json()["benchmarks"]["resnet"]["minutes"] < 1  # the jump counts nowhere
    record = json.loads((campaign / "records" / "resnet" / "run_0.json").read_text())
    assert record["observed_seconds"] < 60
