"""verify against the published record: a real smoke campaign on a node that NVML (its
stand-in, tests/fake_pynvml) answers as 8 H100, every account of it consistent (the
inventory, the run records, the system description gp2bm detected), claims ResNet and BERT
in about a second: far faster than any published 8x H100 result, so not verified but for
the reservation ``implausible``, accepted only by name. A bundle of a node without GPUs is
not judged, and verifies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from campaign_helpers import SYSTEM, run_all_local, write_suite
from fake_pynvml import install
from test_report_campaign import ORG, system_description

from gp2bm.handin.bundle import build_bundle
from gp2bm.node import fingerprint
from gp2bm.node.systemdesc import detected_fields

pytestmark = pytest.mark.slow


@pytest.fixture
def eight_h100(monkeypatch):
    """This process's node answers NVML with 8 H100; the node's facts, taken once per
    process, are taken again with it, and again after."""
    fingerprint._identity.cache_clear()
    install(monkeypatch)
    yield
    fingerprint._identity.cache_clear()


def test_a_result_far_faster_than_published_is_implausible(cli, tmp_path, eight_h100):
    suite = write_suite(tmp_path / "suite")
    root = tmp_path / "campaign"
    assert run_all_local(cli, suite, root, "--no-gpu").code == 0
    inventory = json.loads((root / "inventory.json").read_text())
    desc = {**system_description(), **detected_fields(inventory)}
    assert desc["accelerators_per_node"] == "8"
    folder = root / ORG / "systems"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{SYSTEM}.json").write_text(json.dumps(desc, indent=2))
    bundle = build_bundle(root, tmp_path / "handin.tar.gz", None).output

    res = cli("verify", bundle, "--suite", suite, "--json")
    assert res.code == 1, res.err[-2000:]
    data = json.loads(res.out)
    open_ = [f for f in data["findings"] if not f.get("accepted")]
    assert [f["class"] for f in open_] == ["reservation", "reservation"], open_
    for bench, name in (("resnet", "ResNet"), ("bert", "BERT")):
        (hit,) = [f["text"] for f in open_ if f["text"].startswith(f"implausible: {bench}: ")]
        assert "x faster than any of" in hit and f"8x H100-SXM5-80GB {name}" in hit, hit
    assert "implausible" in data["checked"]["plausibility"]
    accepted = cli("verify", bundle, "--suite", suite, "--accept", "implausible")
    assert accepted.code == 0, accepted.out[-2000:] + accepted.err[-2000:]
    assert "verified (accepting implausible)" in accepted.out


def test_a_node_without_gpus_is_not_judged(cli, tmp_path):
    suite = write_suite(tmp_path / "suite")
    root = tmp_path / "campaign"
    assert run_all_local(cli, suite, root).code == 0
    inventory = json.loads((root / "inventory.json").read_text())
    no_gpu = {"accelerators_per_node": "0", "accelerator_model_name": "N/A",
              "accelerator_memory_capacity": "N/A"}  # fmt: skip
    desc = {**system_description(), **no_gpu, **detected_fields(inventory)}
    folder = root / ORG / "systems"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{SYSTEM}.json").write_text(json.dumps(desc, indent=2))
    bundle: Path = build_bundle(root, tmp_path / "handin.tar.gz", None).output
    res = cli("verify", bundle, "--suite", suite, "--json")
    assert res.code == 0, res.out[-3000:]
    assert json.loads(res.out)["checked"]["plausibility"].startswith("not judged")
