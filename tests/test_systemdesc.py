"""The MLPerf system description: detected fields + the vendor's system.yaml, checked by
gp2bm's placeholder check and by MLCommons' own system-description checker."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import yaml
from campaign_helpers import write_suite
from fake_pynvml import install

from gp2bm.campaign.folder import Campaign
from gp2bm.node import inventory, systemdesc
from gp2bm.results.mlcommons.capture import captured_logging
from gp2bm.spec.suite import load_suite

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "manifests" / "system.yaml"

VENDOR = {
    "submitter": "ACME",
    "division": "closed",
    "status": "Available on-premise",
    "system_name": "ACME X9000 (1 node, 8x H100-SXM5-80GB)",
    "framework": "MXNet NVIDIA Release 23.09 (resnet), PyTorch NVIDIA Release 23.09 (bert)",
    "host_processor_interconnect": "4x UPI 16 GT/s",
    "host_processor_frequency": "3800 MHz",  # detected only where lscpu knows the maximum
    "host_memory_configuration": "32x 64 GB DDR5-4800",
    "host_networking": "8x NDR 400 Gb/s InfiniBand",
    "host_networking_topology": "N/A (single node)",
    "host_storage_type": "NVMe SSD",
    "host_storage_capacity": "30 TB",
    "accelerator_on-chip_memories": "50 MB L2 per GPU",
    "accelerator_memory_configuration": "HBM3",
    "accelerator_interconnect_topology": "NVSwitch, fully connected",
    "cooling": "air",
    "hw_notes": "N/A",
    "sw_notes": "N/A",
    "host_processor_core_count": 56,  # a number in YAML: written as text for MLCommons
}


def library_verdict(path: Path, ruleset: str = "3.1.0") -> bool:
    """MLCommons' checker called directly, as its package checker calls it."""
    from mlperf_logging.system_desc_checker import system_desc_checker

    with captured_logging():
        valid, *_ = system_desc_checker.check_system_desc(str(path), "training", ruleset)
    return valid


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def fake_node_inventory(monkeypatch) -> dict:
    install(monkeypatch)
    return inventory.collect(inventory.default_probes())


def test_required_fields_are_the_librarys(tmp_path):
    """gp2bm's list of required fields is exactly what the library reports missing."""
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    from mlperf_logging.system_desc_checker import system_desc_checker

    with captured_logging() as records:
        valid, *_ = system_desc_checker.check_system_desc(str(empty), "training", "3.1.0")
    assert valid is False
    args = [r for r in records if r.levelno == logging.ERROR][0].args
    assert isinstance(args, tuple)
    reasons = args[1]
    assert reasons == [f"Missing field {f}" for f in systemdesc.REQUIRED_FIELDS]


def test_template_has_placeholders_and_loads():
    fields = systemdesc.load_vendor_fields(TEMPLATE)
    assert fields["division"] == "closed"
    assert systemdesc.is_placeholder(fields["submitter"])
    assert set(fields) <= set(systemdesc.REQUIRED_FIELDS)


def test_fake_node_and_filled_yaml_pass_mlperf_checker(monkeypatch, tmp_path):
    inv = fake_node_inventory(monkeypatch)
    vendor = systemdesc.load_vendor_fields(write_yaml(tmp_path / "system.yaml", VENDOR))
    desc = systemdesc.build(inv, vendor, nodes=1)
    f = desc.fields
    assert systemdesc.problems(f) == []
    assert f["accelerators_per_node"] == "8"
    assert f["accelerator_model_name"] == "NVIDIA H100 80GB HBM3"
    assert f["accelerator_host_interconnect"] == "PCIe Gen5 x16"
    assert f["accelerator_interconnect"] == "18x NVLink 4 per accelerator"
    assert f["accelerator_frequency"] == "1980 MHz"
    assert f["accelerator_memory_capacity"] == "79.6 GiB"
    assert "NVIDIA driver 535.129.03" in f["other_software_stack"]
    assert f["host_processor_vcpu_count"] == str(inv["cpu"]["logical_cpus"])
    assert f["host_processor_core_count"] == "56"  # the vendor's value wins, as text
    assert desc.sources["accelerators_per_node"] == "detected"
    assert desc.sources["submitter"] == "system.yaml"
    # gp2bm's wrapper and the library called directly agree
    assert systemdesc.mlperf_check(f, "3.1.0").passed
    path = tmp_path / "node.json"
    path.write_text(json.dumps(f))
    assert library_verdict(path) is True
    assert library_verdict(path, "4.1.0") is True  # status is one of 4.1's values too


def test_checker_output_does_not_leak(monkeypatch, tmp_path, capsys):
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    result = systemdesc.mlperf_check({"submitter": "x"}, "3.1.0")
    assert not result.passed and "Missing field division" in result.messages[0]
    assert root.handlers == handlers and root.level == level
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_checker_crash_is_a_failed_check():
    # a number where the library joins text makes it raise TypeError: reported, not raised
    fields: dict = {f: "x" for f in systemdesc.REQUIRED_FIELDS} | {"accelerators_per_node": 8}
    result = systemdesc.mlperf_check(fields, "3.1.0")
    assert not result.passed and "checker crashed" in result.messages[0]


def test_placeholder_in_yaml_does_not_hide_a_detected_value(monkeypatch):
    inv = fake_node_inventory(monkeypatch)
    desc = systemdesc.build(inv, {"accelerators_per_node": "<FILL IN>"})
    assert desc.fields["accelerators_per_node"] == "8"


def test_no_gpu_leaves_accelerator_fields_to_fill(monkeypatch):
    install(monkeypatch, library_missing=True)
    inv = inventory.collect(inventory.default_probes())
    desc = systemdesc.build(inv, {})
    assert desc.fields["accelerators_per_node"] == systemdesc.PLACEHOLDER
    assert "accelerators_per_node" in [p.field for p in systemdesc.problems(desc.fields)]


# ---------------------------------------------------------------------------- the CLI


def test_check_passes_with_filled_yaml(cli, monkeypatch, tmp_path):
    install(monkeypatch)
    suite = write_suite(tmp_path / "suite", {"resnet": 1})
    yaml_path = write_yaml(tmp_path / "system.yaml", VENDOR)
    res = cli("inventory", "--check", "--suite", suite, "--system-yaml", yaml_path, "--json")
    assert res.code == 0, res.out[-3000:]
    summary = res.json()["system_description"]
    assert summary["problems"] == [] and summary["mlperf_logging"]["passed"] is True
    human = cli("inventory", "--check", "--suite", suite, "--system-yaml", yaml_path)
    assert human.code == 0 and "check: pass" in human.out


def test_placeholder_fails_check_naming_the_field(cli, monkeypatch, tmp_path):
    install(monkeypatch)
    suite = write_suite(tmp_path / "suite", {"resnet": 1})
    yaml_path = write_yaml(tmp_path / "system.yaml", VENDOR | {"cooling": "<FILL IN>"})
    res = cli("inventory", "--check", "--suite", suite, "--system-yaml", yaml_path)
    assert res.code == 1
    assert "cooling: still a placeholder (<FILL IN>)" in res.out
    assert "check: FAIL (1 field(s) to fill in)" in res.out
    empty = write_yaml(tmp_path / "empty.yaml", VENDOR | {"hw_notes": ""})
    res = cli("inventory", "--check", "--suite", suite, "--system-yaml", empty, "--json")
    assert res.code == 1
    assert res.json()["system_description"]["problems"][0]["field"] == "hw_notes"


def test_template_fails_check(cli, monkeypatch):
    install(monkeypatch)
    res = cli("inventory", "--check", "--json")  # manifests/system.yaml, as shipped
    assert res.code == 1
    fields = [p["field"] for p in res.json()["system_description"]["problems"]]
    assert "submitter" in fields and "status" in fields and "division" not in fields


def test_campaign_gets_system_json_and_inventory(cli, monkeypatch, tmp_path):
    install(monkeypatch)
    suite_path = write_suite(tmp_path / "suite", {"resnet": 1})
    root = tmp_path / "camp"
    Campaign.open(root, load_suite(suite_path), org="ACME", system="x9000", runtime="local").save()
    yaml_path = write_yaml(tmp_path / "system.yaml", VENDOR)
    res = cli("inventory", "--campaign", root, "--system-yaml", yaml_path, "--check")
    assert res.code == 0, res.out[-3000:]
    system_json = root / "ACME" / "systems" / "x9000.json"
    assert library_verdict(system_json) is True
    assert json.loads((root / "inventory.json").read_text())["gpus"]["count"] == 8
    assert f"wrote {system_json}" in " ".join(res.err.split())


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("submitter: [ACME\n", "YAML error"),
        ("- a\n- list\n", "expected a mapping"),
        ("submiter: ACME\n", "unknown field 'submiter' (did you mean 'submitter'?)"),
        ("cooling: {kind: air}\n", "at cooling: expected text or a number"),
        ("cooling: true\n", "at cooling: expected text or a number, got bool"),
    ],
)
def test_bad_system_yaml_is_one_line_exit_2(cli, tmp_path, text, needle):
    path = tmp_path / "system.yaml"
    path.write_text(text)
    res = cli("inventory", "--system-yaml", path)
    assert res.code == 2, (res.code, res.err)
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.err
    assert str(path) in lines[0] and needle in lines[0]


def test_missing_inputs_are_one_line_exit_2(cli, tmp_path):
    res = cli("inventory", "--system-yaml", tmp_path / "nope.yaml")
    assert res.code == 2 and res.err.strip().endswith("nope.yaml: file not found")
    res = cli("inventory", "--campaign", tmp_path)
    assert res.code == 2 and "campaign.json: file not found" in res.err
    assert len(res.err.strip().splitlines()) == 1
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    res = cli("inventory", "--out", blocker / "sub")
    assert res.code == 2 and f"{blocker / 'sub'}: cannot write there" in res.err
    assert len(res.err.strip().splitlines()) == 1
