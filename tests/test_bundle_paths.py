"""No absolute path of the vendor's machine in what ``package`` writes: run records (their
command and manifest), gp2bm-bundle.json, the README's "Implementation source" line, the
reports, the copied manifests and suite name the campaign's, the suite's, gp2bm's and
Python's folders by role; the bundle still verifies."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from test_report_campaign import copy_campaign, smoke_campaign

from gp2bm.handin.bundle import build_bundle
from gp2bm.handin.vendorpaths import VendorPaths

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


def members(bundle: Path) -> dict[str, str]:
    with tarfile.open(bundle) as tar:
        return {
            m.name: tar.extractfile(m).read().decode("utf-8", "replace")  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def is_log(name: str) -> bool:
    """A result log or an attempt's log: the workload's own output, carried byte for byte
    (its MLLOG ``metadata.file`` is where the workload's code lay), never rewritten."""
    return "/results/" in name and name.endswith(".txt") or "/attempts/" in name


@pytest.mark.reliability("bundle-no-vendor-paths")
def test_no_absolute_path_of_the_campaign_or_the_repository_in_a_bundle(
    cli, tmp_path_factory, tmp_path
):
    root = copy_campaign(smoke_campaign(tmp_path_factory), tmp_path / "campaign")
    suite = smoke_campaign(tmp_path_factory).parent / "suite"
    out = build_bundle(root, tmp_path / "out" / "handin.tar.gz").output
    needles = {
        str(root),
        str(root.resolve()),
        str(REPO),
        str(tmp_path),
        str(suite),
        str(Path.home()),
    }
    found = [
        (name, needle)
        for name, text in members(out).items()
        if not is_log(name)
        for needle in needles
        if needle in text
    ]
    assert found == [], found
    files = members(out)
    readme = next(text for name, text in files.items() if name.endswith("README.md"))
    assert "the folder of its command (`smoke`)" in readme, readme
    record = json.loads(next(t for n, t in files.items() if n.endswith("records/bert/run_0.json")))
    assert record["command"][-3:] == ["<gp2bm>/containers/smoke/train.py", "--benchmark", "bert"]
    assert not record["manifest"].startswith("/"), record["manifest"]
    # what is named by role still verifies, by the suite the campaign ran
    res = cli("verify", out, "--suite", suite / "suite.yaml")
    assert res.code == 0, res.out[-3000:] + res.err[-2000:]


@pytest.mark.reliability("bundle-no-vendor-paths")
def test_vendor_folders_are_named_by_role_on_whole_components(tmp_path):
    paths = VendorPaths.of(tmp_path / "c", tmp_path / "s" / "suite.yaml", [])
    assert paths.text(f"{tmp_path}/c/records/x.json") == "<campaign>/records/x.json"
    assert paths.text(f"{tmp_path}/cc/x") == f"{tmp_path}/cc/x"  # not a component of it
    assert paths.text(f"run {tmp_path}/s/b.yaml, then") == "run <suite>/b.yaml, then"
    assert paths.document({f"{tmp_path}/c": [f"{tmp_path}/c"]}) == {"<campaign>": ["<campaign>"]}
