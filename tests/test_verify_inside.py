"""``verify`` reads only what is inside the bundle: in an extracted folder no link is
followed out (nor what it points at quoted), ``../`` in campaign.json's org never leads
the scoring out of the bundle, and a bundled suite's manifest paths are never opened on
the evaluator's machine. Built from a real smoke campaign's bundle, forged as a careful
forger does it (extracted, changed, SHA256SUMS recomputed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from test_report_campaign import ORG
from test_verdict import forged_bundle

pytestmark = pytest.mark.slow

SECRET = "root:SECRET-OF-THE-EVALUATOR:19000:0:99999:7:::"


def outside_secret(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "shadow"
    secret.parent.mkdir(parents=True)
    secret.write_text(SECRET + "\n")
    return secret


def first_log(top: Path) -> Path:
    return sorted((top / ORG / "results").glob("*/resnet/result_0.txt"))[0]


def assert_not_quoted(res) -> None:
    assert "Traceback" not in res.err and SECRET not in res.out + res.err, res.out + res.err


@pytest.mark.reliability("verify-inside-bundle")
@pytest.mark.parametrize("what", ["log", "folder", "records"])
def test_a_link_out_of_an_extracted_bundle_is_never_followed(cli, honest, suite, tmp_path, what):
    secret = outside_secret(tmp_path)

    def link_out(top: Path) -> None:
        log = first_log(top)
        if what == "log":
            log.unlink()
            log.symlink_to(secret)
        elif what == "folder":
            shutil.rmtree(log.parent)
            log.parent.symlink_to(secret.parent, target_is_directory=True)
        else:
            record = top / "records" / "resnet" / "run_0.json"
            record.unlink()
            record.symlink_to(secret)

    top = forged_bundle(honest, tmp_path, link_out)
    res = cli("verify", top, "--suite", suite)
    assert res.code == 1 and "a symbolic link, which a bundle never holds" in res.err, res.err
    assert len(res.err.strip().splitlines()) == 1, res.err
    assert_not_quoted(res)


@pytest.mark.reliability("verify-inside-bundle")
@pytest.mark.parametrize("org", ["../outside", "..", "a/../../outside", "/tmp/outside"])
def test_dot_dot_in_campaign_json_org_never_leads_out(cli, honest, suite, tmp_path, org):
    def escape(top: Path) -> None:
        # the logs copied outside the bundle, where the forged org would lead
        shutil.copytree(top / ORG, tmp_path / "outside" / ORG)
        meta = json.loads((top / "campaign.json").read_text())
        meta["org"] = org
        (top / "campaign.json").write_text(json.dumps(meta))

    top = forged_bundle(honest, tmp_path, escape)
    for target in (top, tmp_path / "forged.tar.gz"):
        if target.suffix == ".gz":
            shutil.make_archive(str(tmp_path / "forged"), "gztar", top.parent, top.name)
        res = cli("verify", target, "--suite", suite)
        # a finding, and not one log scored: the copies outside were never read
        assert res.code == 1 and "recomputed from 0 logs" in res.out, res.out + res.err
        assert "'org'" in res.out and "would lead out of the campaign" in res.out, res.out
        assert len(res.err.strip().splitlines()) == 1 and "Traceback" not in res.err


@pytest.mark.reliability("verify-inside-bundle")
@pytest.mark.parametrize("how", ["dotdot", "absolute", "link"])
def test_a_bundled_suites_manifest_paths_are_never_opened_outside(
    cli, honest, suite, tmp_path, how
):
    evil = tmp_path / "outside" / "resnet.yaml"
    evil.parent.mkdir(parents=True)
    evil.write_text(f"benchmark: {SECRET}\n")

    def point_out(top: Path) -> None:
        suite_file = next((top / "manifests").glob("suite*.yaml"), None) or next(
            p for p in (top / "manifests").glob("*.yaml") if "benchmarks" in p.read_text()
        )
        doc = yaml.safe_load(suite_file.read_text())
        rel = Path("../" * len(suite_file.relative_to(tmp_path).parts)) / evil.relative_to(tmp_path)
        doc["benchmarks"]["resnet"]["manifest"] = {
            "dotdot": str(rel), "absolute": str(evil), "link": "evil-link.yaml"
        }[how]  # fmt: skip
        if how == "link":
            (suite_file.parent / "evil-link.yaml").symlink_to(evil)
        suite_file.write_text(yaml.safe_dump(doc, sort_keys=False))

    top = forged_bundle(honest, tmp_path, point_out)
    if how == "link":  # a folder with a link is refused whole, before anything is read
        res = cli("verify", top, "--suite", suite)
        assert res.code == 1 and "a symbolic link" in res.err, res.err
        assert_not_quoted(res)
        return
    res = cli("verify", top, "--suite", suite, "--json")
    assert res.code == 1, res.out[-2000:] + res.err
    data = json.loads(res.out)
    texts = [f["text"] for f in data["findings"]]
    assert any("benchmarks.resnet.manifest" in t and "outside the bundle" in t for t in texts)
    assert_not_quoted(res)
