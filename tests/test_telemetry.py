"""Telemetry: the 1 Hz sampler (host real, GPUs from the fake node) and its place in a run."""

from __future__ import annotations

import csv
import json
import time

import pytest
from campaign_helpers import NO_DROP, write_suite
from fake_pynvml import NVMLError_NotSupported, install

from gp2bm.node import gpus
from gp2bm.run import telemetry
from gp2bm.run.telemetry import TelemetrySampler


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def sample_for(path, seconds, interval=0.05, **kw) -> dict:
    sampler = TelemetrySampler(path, interval, **kw).start()
    time.sleep(seconds)
    return sampler.stop()


def test_host_only_sampler(tmp_path):
    path = tmp_path / "t.csv"
    summary = sample_for(path, 0.3, monitor_factory=None)
    rows = read_csv(path)
    assert list(rows[0]) == list(telemetry.HOST_COLUMNS)
    assert summary["samples"] == len(rows) >= 4
    assert rows[0]["host_cpu_pct"] == ""  # the first figure would be meaningless
    assert all(float(r["host_cpu_pct"]) >= 0 for r in rows[1:])
    assert all(int(r["host_mem_used_bytes"]) > 0 for r in rows)
    assert summary["peak_host_mem_bytes"] > 0 and summary["peak_host_cpu_pct"] is not None
    assert summary["gpus"] == 0 and summary["gpu_energy_wh"] is None
    assert summary["throttling"] is None and summary["error"] is None
    assert summary["sampler_cpu_s"] >= 0


def test_fake_gpus_energy_temperature_throttling(monkeypatch, tmp_path):
    install(monkeypatch)
    path = tmp_path / "t.csv"
    summary = sample_for(path, 0.5)
    rows = read_csv(path)
    assert len(rows[0]) == len(telemetry.HOST_COLUMNS) + 8 * len(telemetry.GPU_COLUMNS)
    assert float(rows[-1]["gpu7_power_w"]) == 657.0
    assert rows[-1]["gpu0_sm_util_pct"] == "97" and rows[-1]["gpu0_clock_event_reasons"] == ""
    assert summary["gpus"] == 8 and summary["gpu_error"] is None
    assert summary["gpu_energy_source"] == "energy counter"
    # 8 GPUs at 650..657 W for the sampled span, from the energy counters
    expected_wh = sum(650 + i for i in range(8)) * summary["seconds"] / 3600
    assert summary["gpu_energy_wh"] == pytest.approx(expected_wh, rel=0.15)
    assert summary["peak_gpu_temp_c"] == 61 + 7
    assert summary["peak_gpu_power_w"] == 657.0
    assert summary["throttling"] is False and summary["clock_event_reasons"] == []


def test_throttling_seen(monkeypatch, tmp_path):
    install(monkeypatch, throttle=0x1 | 0x4 | 0x40)
    summary = sample_for(tmp_path / "t.csv", 0.2)
    assert summary["throttling"] is True
    assert summary["clock_event_reasons"] == [
        "gpu_idle",
        "hw_thermal_slowdown",
        "sw_power_cap",
    ]
    row = read_csv(tmp_path / "t.csv")[0]
    assert row["gpu0_clock_event_reasons"] == "gpu_idle;sw_power_cap;hw_thermal_slowdown"


def test_energy_from_power_without_a_counter(monkeypatch, tmp_path):
    fake = install(monkeypatch)

    def not_supported(h):
        raise NVMLError_NotSupported()

    fake.module.nvmlDeviceGetTotalEnergyConsumption = not_supported
    summary = sample_for(tmp_path / "t.csv", 0.4)
    assert summary["gpu_energy_source"] == "power samples"
    expected_wh = sum(650 + i for i in range(8)) * summary["seconds"] / 3600
    assert summary["gpu_energy_wh"] == pytest.approx(expected_wh, rel=0.01)
    assert read_csv(tmp_path / "t.csv")[0]["gpu0_energy_j"] == ""


@pytest.mark.skipif(gpus.describe_gpus().found, reason="this machine has GPUs")
def test_no_gpu_here_is_said_and_host_still_sampled(tmp_path):
    summary = sample_for(tmp_path / "t.csv", 0.1)
    assert summary["gpu_error"].startswith("no GPU found (NVML: ")
    assert summary["samples"] >= 2 and summary["error"] is None


def test_sampler_never_raises(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    summary = sample_for(blocker / "t.csv", 0.1, monitor_factory=None)
    assert summary["error"].startswith(("FileExistsError", "NotADirectoryError"))
    assert summary["samples"] == 0


def test_stop_is_idempotent_and_the_grid_is_kept(tmp_path):
    sampler = TelemetrySampler(tmp_path / "t.csv", 0.1, monitor_factory=None).start()
    time.sleep(0.55)
    first = sampler.stop()
    assert sampler.stop() is first
    stamps = [float(r["elapsed_s"]) for r in read_csv(tmp_path / "t.csv")]
    # on the grid 0, 0.1, 0.2 ... (never early; a late one skips, not shifts), then the stop
    assert stamps == sorted(stamps) and 3 <= len(stamps) <= 8
    assert all(s >= round(0.1 * i, 3) - 0.002 for i, s in enumerate(stamps[:-1]))


@pytest.mark.slow
def test_sampling_costs_under_one_percent_of_a_core(monkeypatch, tmp_path):
    install(monkeypatch)
    summary = sample_for(tmp_path / "t.csv", 2.2, interval=1.0)
    assert summary["samples"] >= 3
    assert summary["sampler_cpu_pct_of_one_core"] < 1.0, summary


# ---------------------------------------------------------------------------- in a campaign


@pytest.mark.slow
def test_smoke_campaign_writes_telemetry_beside_the_records(cli, monkeypatch, tmp_path):
    install(monkeypatch)
    monkeypatch.setattr(telemetry, "DEFAULT_INTERVAL_S", 0.1)
    suite = write_suite(tmp_path / "s", {"resnet": 3}, extra_args=["--sleep-per-epoch", "0.05"])
    campaign = tmp_path / "c"
    res = cli(
        "run-all",
        "--suite",
        suite,
        "--campaign",
        campaign,
        "--runtime",
        "local",
        "--system",
        "node1",
        *NO_DROP,
        "--json",
    )
    assert res.code == 0, res.err[-2000:]
    records = campaign / "records" / "resnet"
    for n in range(3):
        rows = read_csv(records / f"telemetry_{n}.csv")
        assert len(rows) >= 2
        assert "gpu7_temp_c" in rows[0]
        assert all(int(r["host_mem_used_bytes"]) > 0 for r in rows)
        record = json.loads((records / f"run_{n}.json").read_text())
        t = record["telemetry"]
        assert t["file"] == f"telemetry_{n}.csv" and t["samples"] == len(rows)
        assert t["gpus"] == 8 and t["gpu_energy_wh"] > 0 and t["peak_gpu_temp_c"] == 68
        assert t["throttling"] is False and t["peak_host_cpu_pct"] is not None
        assert t["error"] is None
    # the submission tree stays clean: only the result logs
    results = campaign / "gp2bm" / "results" / "node1" / "resnet"
    assert sorted(p.name for p in results.iterdir()) == [f"result_{n}.txt" for n in range(3)]
    system = json.loads((campaign / "gp2bm" / "systems" / "node1.json").read_text())
    assert system["accelerators_per_node"] == "8"
