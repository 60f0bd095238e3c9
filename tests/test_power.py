"""Node power against real protocol servers: a Redfish service (sushy-tools' sushy-static
serving a mockup) and an IPMI BMC (OpenIPMI's ipmi_sim), each reporting a power that
changes as the run goes (tests/powerservers.py).

The acceptance: a smoke campaign sampling node power writes MLPerf's power logs beside its
result logs; MLCommons' package checker accepts the tree and its result summarizer gives the
same energy as gp2bm's score. The faults: a BMC that stops answering mid-run, sampling
slower than once a second, fewer than 60 readings (and the extended loop that fixes it), a
BMC whose clock is off: each a finding in the run record, the run itself unharmed.
"""

from __future__ import annotations

import csv
import glob
import json
import re
import tarfile
import threading
import time
from pathlib import Path

import pytest
import yaml
from campaign_helpers import bench_dir, run_all_local, write_suite
from nvidia_chain import system_fields
from openpyxl import load_workbook
from powerservers import (
    IPMI_PASSWORD,
    IPMI_USER,
    SENSOR,
    IpmiServer,
    RedfishServer,
    start_ipmi,
    start_redfish,
)

from gp2bm.errors import PowerSourceError
from gp2bm.node.power import open_power_source
from gp2bm.results.energy import read_power_log
from gp2bm.results.mlcommons.package import check_package
from gp2bm.results.mlcommons.summarizer import summarize
from gp2bm.spec.power import PowerSettings

SYSTEM_FIELDS = {
    "submitter": "gp2bm",
    "division": "closed",
    "status": "Available on-premise",
    "system_name": "node1",
    "accelerators_per_node": "0",
    "accelerator_model_name": "N/A (a CPU smoke workload)",
    "framework": "numpy",
    "hw_notes": "a CPU node sampled through a test BMC",
    "sw_notes": "the smoke workload",
}

# what the inventory measures (a claim that differs from it is a finding of verify)
MEASURED = {
    "number_of_nodes", "host_processors_per_node", "host_processor_model_name",
    "host_processor_core_count", "host_processor_vcpu_count", "host_memory_capacity",
    "host_processor_caches", "operating_system", "other_software_stack",
}


def record(campaign: Path, bench: str, n: int) -> dict:
    return json.loads((campaign / "records" / bench / f"run_{n}.json").read_text())


def power_suite(folder: Path, runs: dict[str, int], sleep: float = 0.02, env=None) -> Path:
    suite = write_suite(folder, runs, extra_args=["--sleep-per-epoch", str(sleep)],
                        local_env=env)
    # every field the vendor gives filled in (tests/nvidia_chain.py's), this node's own
    fields = {k: "none (a CPU test node)" for k in system_fields() if k not in MEASURED}
    (folder / "system.yaml").write_text(yaml.safe_dump({**fields, **SYSTEM_FIELDS}))
    return suite


# ---------------------------------------------------------------------------- the sources


def test_redfish_reads_a_chassis_and_a_pdu_outlet(tmp_path):
    server = start_redfish(tmp_path)
    try:
        chassis = open_power_source(PowerSettings("redfish", server.url))
        first = chassis.read()
        assert chassis.label.endswith("/redfish/v1/Chassis/Node0/Power")  # discovered
        assert 400 <= first.watts <= 800 and first.source_time is not None
        time.sleep(0.2)
        assert chassis.read().watts != first.watts  # the load moves
        outlet = open_power_source(PowerSettings("redfish", server.url, resource=server.OUTLET))
        assert 400 <= outlet.read().watts <= 800
        with pytest.raises(PowerSourceError, match="HTTP 404"):
            open_power_source(PowerSettings("redfish", server.url, resource="/redfish/v1/No"))
    finally:
        server.close()


def test_ipmi_reads_a_sensor_and_says_the_simulator_has_no_dcmi(tmp_path, monkeypatch):
    server = start_ipmi(tmp_path)
    monkeypatch.setenv("BMC_PW", IPMI_PASSWORD)
    base = PowerSettings("ipmi", server.address, user=IPMI_USER, password_env="BMC_PW")
    try:
        sensor = open_power_source(PowerSettings(**{**base.as_dict(), "resource": SENSOR}))
        assert 400 <= sensor.read().watts <= 800
        sensor.close()
        # ipmi_sim answers DCMI's Get Power Reading with "invalid command" (0xc1)
        with pytest.raises(PowerSourceError, match="Invalid Command"):
            open_power_source(base)
        wrong = PowerSettings(**{**base.as_dict(), "resource": "No Such Sensor"})
        with pytest.raises(PowerSourceError, match="no SDR sensor named"):
            open_power_source(wrong)
    finally:
        server.close()


# ---------------------------------------------------------------------------- acceptance


def _energies(cli, campaign: Path) -> dict[str, float]:
    result = cli("score", campaign, "--json")
    assert result.code == 0, result.out
    doc = json.loads(result.out)
    return {b: v["energy"]["joules"] for b, v in doc["benchmarks"].items()}


def _in_run_order(monkeypatch) -> None:
    """MLCommons' summarizer takes a folder's result logs in the directory's order
    (``glob.glob``) and sorts them by time, stably: of two runs of the same time (the smoke
    runs' milliseconds tie often) the one the directory lists first is dropped as the
    fastest, and its energy with it. No rule fixes a directory's order; gp2bm takes runs of
    equal time in run order. Here the summarizer gets them in run order too."""
    from mlperf_logging.result_summarizer import result_summarizer

    def number(path: str) -> tuple[int, str]:
        found = re.search(r"result_(\d+)\.txt$", path)
        return (int(found.group(1)) if found else -1, path)

    real = glob.glob
    monkeypatch.setattr(
        result_summarizer.glob, "glob", lambda *a, **k: sorted(real(*a, **k), key=number)
    )


def _mlcommons(cli, campaign: Path, tmp: Path, suite: Path, monkeypatch) -> dict[str, float]:
    """gp2bm package (MLCommons' package checker on the bundle's tree, power logs
    included), gp2bm verify, then MLCommons' summarizer on the bundle's tree (its runs of
    equal time in run order: ``_in_run_order``)."""
    bundle = tmp / "bundle.tar.gz"
    packed = cli("package", campaign, "--output", bundle, "--allow-incomplete")
    assert packed.code == 0, packed.out + packed.err
    verified = cli("verify", bundle, "--suite", suite, "--json")
    assert verified.code == 0, verified.out[:3000] + verified.err
    # compare shows each benchmark's energy as recomputed from the bundle's power logs
    compared = cli("compare", bundle, "--suite", suite, "--json")
    assert compared.code == 0, compared.out[:3000] + compared.err
    (ranked,) = json.loads(compared.out)["ranking"]
    for bench, joules in _energies(cli, campaign).items():
        shown = ranked["benchmarks"][bench]
        assert shown["energy_kwh"] == pytest.approx(joules / 3.6e6, rel=1e-12), shown
        assert shown["average_power_w"] > 0 and shown["energy_source"]
    assert "kWh" in cli("compare", bundle, "--suite", suite).out
    tree = tmp / "tree"
    tree.mkdir()
    with tarfile.open(bundle) as tar:
        tar.extractall(tree, filter="data")
    (org,) = tree.glob("*/gp2bm")
    assert sorted(p.name for p in (org / "results" / "node1" / "resnet" / "power").iterdir()) == [
        f"result_{n}" for n in range(5)
    ]
    checked = check_package(org, "3.1.0", tmp / "checker")
    assert checked.passed, checked.errors
    (tmp / "summary").mkdir()
    _in_run_order(monkeypatch)
    summary = summarize(org, "3.1.0", tmp / "summary")
    return {k.split("/")[-1]: v for k, v in summary.energy.items()}


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["redfish", "ipmi"])
def test_campaign_power_logs_pass_mlcommons_and_its_energy_is_gp2bms(
    cli, tmp_path, monkeypatch, protocol
):
    suite = power_suite(tmp_path / "suite", {"resnet": 5, "bert": 10})
    server: RedfishServer | IpmiServer
    if protocol == "redfish":
        server = start_redfish(tmp_path / "bmc")
        source = ["--power-source", "redfish", "--power-address", server.url]
    else:
        server = bmc = start_ipmi(tmp_path / "bmc")
        monkeypatch.setenv("GP2BM_POWER_PASSWORD", IPMI_PASSWORD)
        source = ["--power-source", "ipmi", "--power-address", bmc.address,
                  "--power-user", IPMI_USER, "--power-resource", SENSOR]
    campaign = tmp_path / "campaign"
    try:
        result = run_all_local(cli, suite, campaign, "--no-gpu", *source,
                               "--power-interval", "0.05", "--power-measurement", "AC",
                               "--conversion-eff", "0.94", "--interconnect-power", "25")
    finally:
        server.close()
    assert result.code == 0, result.out
    ours = _energies(cli, campaign)
    theirs = _mlcommons(cli, campaign, tmp_path, suite, monkeypatch)
    assert set(theirs) == {"resnet", "bert"}
    for bench in ("resnet", "bert"):
        print(f"{protocol} {bench}: gp2bm {ours[bench]!r} J, MLCommons' summarizer "
              f"{theirs[bench]!r} J")
        assert ours[bench] == pytest.approx(theirs[bench], rel=1e-9), bench
    power = bench_dir(campaign, "resnet") / "power" / "result_0"
    assert sorted(p.name for p in power.iterdir()) == ["node_0.txt", "sw_0.txt"]
    log = read_power_log(power / "node_0.txt")
    assert log.conversion_eff == 0.94 and len({w for _, w in log.readings}) > 1
    run = record(campaign, "resnet", 0)
    assert run["status"] == "success"
    assert run["power"]["energy"]["joules"] > 0
    # the smoke runs are short: MLPerf's 60 readings are not reached, and it is said
    assert any("fewer than MLPerf's 60" in f for f in run["power"]["findings"])
    assert json.loads((campaign / "power.json").read_text())["password_env"] in (
        None, "GP2BM_POWER_PASSWORD"
    )
    _energy_in_the_reports(cli, campaign, tmp_path, ours)


def _energy_in_the_reports(cli, campaign: Path, tmp_path: Path, joules: dict) -> None:
    """The reports carry each benchmark's energy (kWh) and each run's; the page plots the
    node power of a counted run with its timed window."""
    out = tmp_path / "reports"
    res = cli("report", campaign, "--csv", out / "r.csv", "--xlsx", out / "r.xlsx",
              "--html", out / "r.html")  # fmt: skip
    assert res.code == 0, res.err
    with open(out / "r.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for bench, value in joules.items():
        (result,) = [r for r in rows if r["kind"] == "result" and r["benchmark"] == bench]
        assert float(result["energy_kwh"]) == pytest.approx(value / 3.6e6, rel=1e-9)
        runs = [r for r in rows if r["kind"] == "run" and r["benchmark"] == bench]
        assert all(float(r["energy_kwh"]) > 0 and int(r["power_samples"]) > 0 for r in runs)
    page = (out / "r.html").read_text()
    assert "<h2>Node power</h2>" in page and "energy: " in page
    summary = load_workbook(out / "r.xlsx")["Summary"]
    cells = [row for row in summary.iter_rows(values_only=True) if row and row[0] == "resnet"]
    assert cells and cells[0][13] == pytest.approx(joules["resnet"] / 3.6e6, rel=1e-9)


# ---------------------------------------------------------------------------- faults


def _stop_during_run(campaign: Path, server: RedfishServer, after_s: float) -> threading.Thread:
    """Stop the BMC ``after_s`` seconds into the first run (its partial log appears)."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        partial = campaign / "records" / "resnet" / "result_0.txt.partial"
        while not partial.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(after_s)
        server.stop()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow
def test_a_bmc_that_stops_answering_mid_run_is_a_finding_not_a_failed_run(cli, tmp_path):
    suite = power_suite(tmp_path / "suite", {"resnet": 1}, sleep=0.15)
    server = start_redfish(tmp_path / "bmc")
    campaign = tmp_path / "campaign"
    watcher = _stop_during_run(campaign, server, 0.8)
    try:
        result = run_all_local(cli, suite, campaign, "--no-gpu", "--power-source", "redfish",
                               "--power-address", server.url, "--power-interval", "0.1")
    finally:
        watcher.join(10)
        server.close()
    run = record(campaign, "resnet", 0)
    assert run["status"] == "success", result.out
    sampled = run["telemetry"]["power"]
    assert sampled["readings"] > 0 and sampled["failures"] >= 3
    assert any("stopped answering" in f for f in run["power"]["findings"])
    # the readings before it stopped are still MLPerf's power log, which says it is short
    assert any("the measured loop ends before run_stop" in f for f in run["power"]["findings"])
    assert run["power"]["written"] and run["power"]["energy"]["samples"] > 0


@pytest.mark.slow
def test_sampling_slower_than_once_a_second_is_a_finding(cli, tmp_path):
    suite = power_suite(tmp_path / "suite", {"resnet": 1}, sleep=0.2)
    server = start_redfish(tmp_path / "bmc")
    campaign = tmp_path / "campaign"
    try:
        result = run_all_local(cli, suite, campaign, "--no-gpu", "--power-source", "redfish",
                               "--power-address", server.url, "--power-interval", "1.5")
    finally:
        server.close()
    run = record(campaign, "resnet", 0)
    assert run["status"] == "success", result.out
    findings = run["power"]["findings"]
    assert any("sampled every 1.5 s" in f for f in findings)
    assert any("1.50 s apart" in f or "s apart, MLPerf" in f for f in findings)


@pytest.mark.slow
def test_the_extended_loop_gives_60_readings_and_the_same_log_verdict(cli, tmp_path):
    env = {"MLPERF_POWER_TRAIN_AFTER_RUN_STOP": "1", "SUSTAINED_TRAINING_TIME": "0.06"}
    suite = power_suite(tmp_path / "suite", {"resnet": 1}, env=env)
    server = start_redfish(tmp_path / "bmc")
    campaign = tmp_path / "campaign"
    try:
        result = run_all_local(cli, suite, campaign, "--no-gpu", "--power-source", "redfish",
                               "--power-address", server.url, "--power-interval", "0.05")
    finally:
        server.close()
    run = record(campaign, "resnet", 0)
    assert run["status"] == "success", result.out
    power = run["power"]
    assert power["extended_after_run_stop"] is True
    assert power["energy"]["samples"] >= 60
    assert not any("fewer than MLPerf's 60" in f for f in power["findings"])
    # the measured loop is longer than the timed run; the energy is still over run_start..
    # run_stop (average power times the time to train)
    assert power["energy"]["measured_s"] > run["minutes"] * 60 + 2
    score = json.loads(cli("score", campaign, "--json").out)
    assert score["benchmarks"]["resnet"]["runs"][0]["status"] == "success"


@pytest.mark.slow
def test_a_bmc_clock_off_by_30_s_is_a_finding_and_readings_keep_the_hosts_clock(cli, tmp_path):
    suite = power_suite(tmp_path / "suite", {"resnet": 1}, sleep=0.05)
    server = start_redfish(tmp_path / "bmc", clock_offset_s=30)
    campaign = tmp_path / "campaign"
    try:
        result = run_all_local(cli, suite, campaign, "--no-gpu", "--power-source", "redfish",
                               "--power-address", server.url, "--power-interval", "0.1")
    finally:
        server.close()
    run = record(campaign, "resnet", 0)
    assert run["status"] == "success", result.out
    assert 28 <= run["telemetry"]["power"]["clock_skew_s"] <= 31
    assert any("s ahead of the host's" in f for f in run["power"]["findings"])
    # stamped on the host's clock: the measured loop covers the run as the log times it
    assert not any("starts after run_start" in f or "ends before run_stop" in f
                   for f in run["power"]["findings"])
    assert run["power"]["energy"]["joules"] > 0


def test_a_power_source_that_cannot_be_read_stops_run_all_before_any_run(cli, tmp_path):
    suite = power_suite(tmp_path / "suite", {"resnet": 1})
    result = run_all_local(cli, suite, tmp_path / "campaign", "--no-gpu", "--power-source",
                           "redfish", "--power-address", "http://127.0.0.1:9")
    assert result.code == 2
    assert "power source redfish http://127.0.0.1:9" in result.err
    assert "no answer" in result.err
    assert not (tmp_path / "campaign" / "records" / "resnet").exists()
