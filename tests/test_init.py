"""gp2bm init (a vendor's working folder), and the journey's one-line hints: the dry run and
run-all name the exact pin command with the suite given, status takes the campaign as
report and package do."""

from __future__ import annotations

import yaml

from gp2bm.node.systemdesc import load_vendor_fields
from gp2bm.spec.scaffold import PLACEHOLDER, placeholders, prefill_system_yaml
from gp2bm.spec.suite import MANIFEST_DIR

TEMPLATE = (MANIFEST_DIR / "system.yaml").read_text(encoding="utf-8")


def test_prefill_fills_what_the_node_told_and_leaves_the_rest():
    text = prefill_system_yaml(
        TEMPLATE, {"host_processor_model_name": "AMD EPYC 9654", "number_of_nodes": "1"}, "n1"
    )
    fields = yaml.safe_load(text)
    # what the node told is shown, never frozen: gp2bm detects it at every campaign
    assert "host_processor_model_name" not in fields and "number_of_nodes" not in fields
    assert '# host_processor_model_name: "AMD EPYC 9654"' in text
    # what the node could not tell is to fill in, not left out
    assert fields["accelerator_model_name"] == "<FILL IN>"
    assert "accelerator_model_name: " + PLACEHOLDER + "  # not detected on n1" in text
    # the vendor's part is the template's
    assert fields["submitter"] == "<FILL IN>" and fields["division"] == "closed"
    assert "submitter" in placeholders(text) and "number_of_nodes" not in placeholders(text)


def test_init_writes_a_working_folder(cli, tmp_path):
    res = cli("init", tmp_path, "--suite", "smoke")
    assert res.code == 0, res.err
    manifests = tmp_path / "manifests"
    assert {p.name for p in manifests.iterdir()} >= {
        "smoke.yaml",
        "smoke_resnet.yaml",
        "smoke_bert.yaml",
        "system.yaml",
    }
    resnet = (manifests / "smoke_resnet.yaml").read_text()
    assert "{manifest_dir}" not in resnet and str(MANIFEST_DIR.resolve()) in resnet
    fields = load_vendor_fields(manifests / "system.yaml")
    assert fields["submitter"] == "<FILL IN>"
    assert "operating_system" not in fields  # detected on every host, at every campaign
    assert "# operating_system: " in (manifests / "system.yaml").read_text()
    assert "to fill in" in res.out and "gp2bm inventory --suite" in res.out
    again = cli("init", tmp_path, "--suite", "smoke")
    assert again.code == 2 and "already there" in again.err and len(again.err.splitlines()) == 1


def test_dry_run_and_run_all_give_the_pin_command_with_the_suite(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("init", ".", "--suite", "smoke").code == 0
    suite = "manifests/smoke.yaml"
    dry = cli("run-all", "--suite", suite, "--runtime", "docker", "--dry-run")
    assert dry.code == 0, dry.err
    refuse = [line for line in dry.err.splitlines() if "will refuse" in line]
    assert len(refuse) == 1
    assert f"gp2bm pin resnet gp2bm/smoke:latest --suite {suite}" in refuse[0]
    assert f"gp2bm pin bert gp2bm/smoke:latest --suite {suite}" in refuse[0]
    assert "gp2bm check --runtime docker --suite manifests/smoke.yaml" in dry.err
    assert f"next: gp2bm run-all --suite {suite} --runtime docker" in dry.err
    run = cli("run-all", "--suite", suite, "--runtime", "docker")
    assert run.code == 2 and len(run.err.strip().splitlines()) == 1
    assert "manifests/smoke_resnet.yaml: image 'gp2bm/smoke:latest' is not pinned" in run.err
    assert f"`gp2bm pin resnet gp2bm/smoke:latest --suite {suite}`" in run.err


def test_local_dry_run_has_no_pin_line(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("init", ".", "--suite", "smoke").code == 0
    dry = cli("run-all", "--suite", "manifests/smoke.yaml", "--runtime", "local", "--dry-run")
    assert dry.code == 0 and "will refuse" not in dry.err and "gp2bm check" in dry.err


def test_status_takes_the_campaign_positionally_or_as_an_option(cli, tmp_path):
    missing = tmp_path / "nowhere"
    for args in (["status", missing], ["status", "--campaign", missing]):
        res = cli(*args)
        assert res.code == 2 and f"{missing}: not a gp2bm campaign" in res.err
    both = cli("status", missing, "--campaign", tmp_path / "other")
    assert both.code == 2 and "two campaigns given" in both.err


def test_the_working_folder_remembers_its_suite(cli, tmp_path, monkeypatch):
    """After init, commands run in the folder take its suite without --suite; the
    campaign folder follows (results/<suite name>); --suite NAME names gp2bm's own."""
    monkeypatch.chdir(tmp_path)
    assert cli("init", ".", "--suite", "smoke").code == 0
    marker = tmp_path / ".gp2bm.json"
    assert yaml.safe_load(marker.read_text())["suite"] == "manifests/smoke.yaml"
    dry = cli("run-all", "--runtime", "local", "--dry-run")
    assert dry.code == 0, dry.err
    assert "smoke" in dry.out + dry.err and "gp2rfp" not in dry.out + dry.err
    named = cli("inventory", "--suite", "gp2rfp", "--json")
    assert named.code == 0, named.err
    wrong = cli("run-all", "--suite", "no-such-suite", "--runtime", "local", "--dry-run")
    assert wrong.code == 2 and "known: gp2rfp" in wrong.err
    (tmp_path / "manifests" / "smoke.yaml").unlink()
    gone = cli("run-all", "--runtime", "local", "--dry-run")
    assert gone.code == 2 and ".gp2bm.json" in gone.err and len(gone.err.splitlines()) == 1


def test_a_typed_value_the_node_contradicts_is_a_check_finding(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("init", ".", "--suite", "smoke").code == 0
    system = tmp_path / "manifests" / "system.yaml"
    args = ("check", "--runtime", "local", "--no-gpu", "--allow-cache-drop-failure", "--json")
    honest = cli(*args)
    (item,) = [i for i in honest.json()["checks"] if i["name"] == "system.yaml"]
    assert item["status"] == "pass", item
    system.write_text(system.read_text() + 'host_processor_vcpu_count: "4096"\n')
    res = cli(*args)
    assert res.code == 1
    (item,) = [i for i in res.json()["checks"] if i["name"] == "system.yaml"]
    assert item["status"] == "fail" and "host_processor_vcpu_count: typed '4096'" in item["detail"]
    assert "delete the line" in item["fix"]
