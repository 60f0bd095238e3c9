"""The node inventory: real probes of this host, and the NVML path on a fake 8-GPU node."""

from __future__ import annotations

import json
import os
import platform
import stat

import psutil
import pytest
from fake_pynvml import H100_MEMORY, H100_NAME, NVMLError_NotSupported, install

from gp2bm.node import gpus, inventory


def real_gpus() -> bool:
    return gpus.describe_gpus().found


# ---------------------------------------------------------------------------- this host


def test_inventory_json_reports_this_host(cli):
    res = cli("inventory", "--json")
    assert res.code == 0, res.err
    inv = res.json()
    assert inv["schema"] == inventory.SCHEMA
    assert inv["cpu"]["logical_cpus"] == os.cpu_count()
    assert inv["cpu"]["model_name"]
    assert inv["cpu"]["sockets"] >= 1
    assert inv["memory"]["total_bytes"] == psutil.virtual_memory().total
    assert inv["os"]["kernel"] == platform.release()
    assert inv["os"]["name"]
    assert inv["numa"]["count"] >= 1
    assert isinstance(inv["engines"]["docker"]["reachable"], bool)
    for name in ("podman", "apptainer"):
        assert isinstance(inv["engines"][name]["present"], bool)
    # the default suite's dataset paths, each with the filesystem that holds (or would hold) it
    paths = [p["path"] for p in inv["storage"]["paths"]]
    assert "/data/imagenet" in paths
    assert all(p["free_bytes"] > 0 for p in inv["storage"]["paths"])
    assert "system_description" in inv
    if not real_gpus():
        assert inv["gpus"]["count"] == 0
        assert inv["gpus"]["status"].startswith("no GPU found (NVML: ")
        assert inv["gpus"]["error"]


@pytest.mark.skipif(real_gpus(), reason="this machine has GPUs")
def test_human_table_says_no_gpu_found(cli):
    res = cli("inventory")
    assert res.code == 0, res.err
    assert "no GPU found" in res.out
    assert "Traceback" not in res.err


def test_a_failing_probe_does_not_fail_the_inventory():
    def broken():
        raise OSError("sensor on fire")

    inv = inventory.collect({"broken": broken, "os": inventory.probe_os})
    assert inv["broken"] == {"error": "OSError: sensor on fire"}
    assert inv["os"]["kernel"] == platform.release()


def test_lscpu_both_formats():
    flat = [{"field": "Model name:", "data": "X"}, {"field": "Socket(s):", "data": "2"}]
    nested = [
        {
            "field": "Model name:",
            "data": "X",
            "children": [{"field": "Socket(s):", "data": "2"}],
        }
    ]
    assert inventory._lscpu_fields(flat, {}) == inventory._lscpu_fields(nested, {})


def test_infiniband_from_sysfs(tmp_path):
    port = tmp_path / "mlx5_0" / "ports" / "1"
    port.mkdir(parents=True)
    (tmp_path / "mlx5_0" / "hca_type").write_text("MT4129\n")
    (tmp_path / "mlx5_0" / "fw_ver").write_text("28.39.1002\n")
    (port / "state").write_text("4: ACTIVE\n")
    (port / "rate").write_text("400 Gb/sec (4X NDR)\n")
    (port / "link_layer").write_text("InfiniBand\n")
    ib = inventory.probe_infiniband(tmp_path)
    assert ib["count"] == 1
    assert ib["devices"][0]["ports"][0] == {
        "port": "1",
        "state": "4: ACTIVE",
        "rate": "400 Gb/sec (4X NDR)",
        "link_layer": "InfiniBand",
    }
    assert inventory.probe_infiniband(tmp_path / "absent")["count"] == 0


def test_filesystem_of_present_and_missing_paths(tmp_path):
    here = inventory.filesystem_of(tmp_path)
    assert here["exists"] and here["fstype"] and here["free_bytes"] > 0
    missing = inventory.filesystem_of(tmp_path / "no" / "such" / "dataset")
    assert not missing["exists"]
    assert missing["measured_at"] == str(tmp_path)
    assert missing["fstype"] == here["fstype"]


# ---------------------------------------------------------------------------- fake 8-GPU node


def test_nvml_describes_the_fake_8_gpu_node(monkeypatch):
    fake = install(monkeypatch)
    report = gpus.describe_gpus()
    assert report.error is None and report.count == 8
    assert report.driver_version == "535.129.03"
    assert report.cuda_driver_version == "12.2"
    g = report.gpus[3]
    assert g.name == H100_NAME
    assert g.memory_total_bytes == H100_MEMORY
    assert g.power_limit_w == 700
    assert g.max_sm_clock_mhz == 1980
    assert (g.pcie_generation_max, g.pcie_width_max) == (5, 16)
    assert (g.nvlink_links_active, g.nvlink_version) == (18, 4)
    assert g.ecc_mode == "enabled" and g.mig_mode == "disabled"
    assert g.errors == {}
    assert fake.inits == 0  # every nvmlInit was matched by nvmlShutdown


def test_nvml_missing_says_no_gpu_found(monkeypatch):
    install(monkeypatch, library_missing=True)
    report = gpus.describe_gpus()
    assert report.count == 0
    assert report.status() == "no GPU found (NVML: NVML Shared Library Not Found)"


def test_an_unsupported_query_leaves_one_fact_empty(monkeypatch):
    fake = install(monkeypatch)

    def not_supported(handle):
        raise NVMLError_NotSupported()

    fake.module.nvmlDeviceGetEccMode = not_supported
    report = gpus.describe_gpus()
    assert report.count == 8
    assert report.gpus[0].ecc_mode is None
    assert report.gpus[0].errors == {"ecc_mode": "Not Supported"}
    assert report.gpus[0].mig_mode == "disabled"


def _fake_nvidia_smi(folder):
    folder.mkdir()
    script = folder / "nvidia-smi"
    script.write_text(
        '#!/bin/sh\nif [ "$1" = topo ]; then echo "GPU0 X NV18"; else echo "==NVSMI LOG=="; fi\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return folder


def test_cli_inventory_of_the_fake_node_with_out(cli, monkeypatch, tmp_path):
    install(monkeypatch)
    bin_dir = _fake_nvidia_smi(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "out"
    res = cli("inventory", "--json", "--out", out)
    assert res.code == 0, res.err
    inv = res.json()
    assert inv["gpus"]["count"] == 8 and inv["gpus"]["status"] == "8 GPU(s) found"
    assert inv["nvidia_smi"]["query"].startswith("==NVSMI LOG==")
    saved = json.loads((out / "inventory.json").read_text())
    assert saved["gpus"]["count"] == 8
    assert "system_description" not in saved  # the file is the inventory alone
    assert (out / "nvidia-smi-q.txt").read_text().startswith("==NVSMI LOG==")
    assert "NV18" in (out / "nvidia-smi-topo-m.txt").read_text()
    fields = json.loads((out / "system.json").read_text())
    assert fields["accelerators_per_node"] == "8"
    human = cli("inventory")
    assert "8x NVIDIA H100 80GB HBM3" in human.out
    assert "NVLink 18 link(s)" in human.out
