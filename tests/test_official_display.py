"""The campaign's number is the official one wherever a score is shown: for a suite with RCP
checks, the RCP factor MLCommons' package checker would write is applied in the terminal, the
JSON answers, the CSV, gp2bm's workbook, the HTML page, the RFP workbook, the bundle's README
and verify, with the unscaled olympic mean and the reason beside it."""

from __future__ import annotations

import csv
import json
import math
import shutil
import statistics
import tarfile

import pytest
from openpyxl import load_workbook
from synth import RESNET_MINUTES
from test_report_campaign import RFP_WORKBOOK, synthetic_campaign

UNSCALED = statistics.fmean(sorted(RESNET_MINUTES)[1:-1])


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """A campaign of an RCP suite whose ResNet runs converge faster than the RCP mean."""
    folder = tmp_path_factory.mktemp("official")
    return synthetic_campaign(folder, rcp=True, bench_kw={"resnet": {"epochs": 35}})


@pytest.fixture(scope="module")
def factor(campaign):
    from gp2bm.reports.view import load_campaign

    b = load_campaign(campaign).score.benchmarks["resnet"]
    assert b.scaling_source == "rcp" and b.scaling_factor > 1
    assert math.isclose(b.mean, UNSCALED, rel_tol=1e-12)
    return b.scaling_factor


@pytest.mark.slow
def test_terminal_and_json(cli, campaign, factor):
    res = cli("score", campaign)
    assert res.code == 0, res.out
    official = f"{UNSCALED * factor:.6f} min"
    assert f"olympic mean {UNSCALED:.6f} min (unscaled) x scaling {factor:.6g} (rcp)" in res.out
    assert f"= {official}" in res.out and "faster than the RCP mean" in res.out
    data = cli("report", campaign, "--json").json()
    b = data["benchmarks"]["resnet"]
    assert math.isclose(b["minutes"], UNSCALED * factor, rel_tol=1e-12)
    assert b["unscaled_minutes"] == pytest.approx(UNSCALED) and b["scaling_factor"] == factor
    assert "faster than the RCP mean" in b["scaling_reason"]
    res = cli("report", campaign)
    assert f"resnet: {UNSCALED * factor:.6f} min (olympic mean {UNSCALED:.6f}" in res.out


def test_csv_xlsx_html(cli, campaign, factor, tmp_path):
    out = tmp_path / "r"
    res = cli("report", campaign, "--csv", out / "r.csv", "--xlsx", out / "r.xlsx",
              "--html", out / "r.html")  # fmt: skip
    assert res.code == 0, res.err
    with open(out / "r.csv", newline="") as fh:
        rows = {r["benchmark"]: r for r in csv.DictReader(fh) if r["kind"] == "result"}
    r = rows["resnet"]
    # minutes as MLCommons publishes them (three decimals); the exact value is in the JSON
    assert float(r["minutes"]) == pytest.approx(UNSCALED * factor, rel=1e-12)
    assert float(r["unscaled_minutes"]) == pytest.approx(UNSCALED, rel=1e-12)
    assert float(r["scaling_factor"]) == factor and "faster" in r["scaling_reason"]
    ws = load_workbook(out / "r.xlsx")["Summary"]
    header = next(row for row in ws.iter_rows(values_only=True) if row[0] == "benchmark")
    resnet = dict(zip(header, next(row for row in ws.iter_rows(values_only=True)
                                   if row[0] == "resnet"), strict=True))  # fmt: skip
    assert resnet["minutes"] == pytest.approx(UNSCALED * factor, rel=1e-12)
    assert resnet["unscaled minutes"] == pytest.approx(UNSCALED, rel=1e-12)
    assert resnet["scaling"] == pytest.approx(factor, rel=1e-12)  # a workbook keeps 15 digits
    assert "faster" in resnet["why this scaling"]
    page = (out / "r.html").read_text()
    assert f"{UNSCALED * factor:.4f} min" in page
    assert f"olympic mean {UNSCALED:.4f} min x {factor:.6g} (rcp)" in page
    assert "faster than the RCP mean" in page


def test_rfp_workbook_cell_carries_the_unscaled_mean(cli, campaign, factor, tmp_path):
    if not RFP_WORKBOOK.is_file():
        pytest.skip(f"the RFP workbook is not available: {RFP_WORKBOOK} is absent")
    out = tmp_path / "rfp.xlsx"
    assert cli("report", campaign, "--template", RFP_WORKBOOK, "--xlsx", out).code == 0
    cell = load_workbook(out)["MLPerf"]["C9"]  # ResNet Benchmark (seconds)
    assert cell.value == pytest.approx(60 * UNSCALED * factor, rel=1e-12)  # in full
    assert f"olympic mean {60 * UNSCALED:.3f} seconds (unscaled)" in cell.comment.text
    assert "faster than the RCP mean" in cell.comment.text


def test_bundle_readme_package_and_verify(cli, campaign, factor, tmp_path):
    bundle = tmp_path / "b.tar.gz"
    # the earlier test's RFP answers (kept in the campaign) are not this bundle's
    shutil.rmtree(campaign / ".rfp-answers", ignore_errors=True)
    res = cli("package", campaign, "-o", bundle, "--json")
    assert res.code == 0, res.err
    b = res.json()["benchmarks"]["resnet"]
    assert b["minutes"] == pytest.approx(UNSCALED * factor, rel=1e-12)
    with tarfile.open(bundle) as tar:
        readme = tar.extractfile("b/README.md").read().decode()
        claims = json.loads(tar.extractfile("b/gp2bm-claims.json").read())
    row = f"| resnet | {UNSCALED * factor:.6f} | {UNSCALED * factor * 60:.3f} | {UNSCALED:.6f} |"
    assert row in readme and f"{factor:.6g} (rcp)" in readme
    assert "- resnet: RCP normalisation" in readme
    assert claims["benchmarks"]["resnet"]["scaling_factor"] == factor
    res = cli("verify", bundle)
    assert res.code == 0, res.out
    assert f"resnet: {UNSCALED * factor:.6f} min (olympic mean {UNSCALED:.6f} min" in res.out
    data = cli("verify", bundle, "--json").json()
    assert data["benchmarks"]["resnet"]["unscaled_minutes"] == pytest.approx(UNSCALED)
    assert "faster than the RCP mean" in data["benchmarks"]["resnet"]["scaling_reason"]
