"""gp2bm's own workbook: Summary, Runs with a chart, Inventory, Compliance, Telemetry."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook
from synth import BERT_MINUTES, RESNET_MINUTES
from test_report_campaign import synthetic_campaign, unfilled_smoke_campaign

from gp2bm.reports.xlsx_report import DROPPED_COLOUR, ROLE_COLOURS, read_claimed_score
from gp2bm.results.scoring import RunRole


@pytest.fixture
def workbook(cli, tmp_path):
    root = synthetic_campaign(tmp_path)
    path = tmp_path / "results.xlsx"
    res = cli("report", root, "--xlsx", path)
    assert res.code == 0, res.err
    return path


def _score() -> float:
    r = (30.0 + 31.5 + 30.5) / 3
    b = sum(sorted(BERT_MINUTES)[1:-1]) / 8
    return 7.19 / r + 9.05 / b


def test_sheets_and_summary(workbook):
    wb = load_workbook(workbook)
    assert wb.sheetnames == ["Summary", "Runs", "Inventory", "Compliance", "Telemetry"]
    found, score = read_claimed_score(workbook)
    assert found and score == pytest.approx(_score())
    ws = wb["Summary"]
    rows = {r[0]: r for r in ws.iter_rows(values_only=True) if r and r[0]}
    assert rows["resnet"][1] == pytest.approx((30.0 + 31.5 + 30.5) / 3, rel=1e-12)  # in full
    assert rows["resnet"][2] == pytest.approx(60 * (30.0 + 31.5 + 30.5) / 3, rel=1e-12)
    assert rows["bert"][3] == "yes" and rows["bert"][4] == 10
    assert isinstance(rows["score"][1], float)


def test_runs_sheet_and_chart_mark_dropped_runs(workbook):
    ws = load_workbook(workbook)["Runs"]
    rows = list(ws.iter_rows(min_row=2, max_col=8, values_only=True))
    assert len(rows) == 15
    resnet = [r for r in rows if r[0] == "resnet"]
    assert [r[4] for r in resnet] == pytest.approx(RESNET_MINUTES)
    assert [r[7] for r in resnet].count(RunRole.COUNTED) == 3
    # the chart of the written file (openpyxl keeps charts it wrote; read the XML back)
    import zipfile

    with zipfile.ZipFile(workbook) as z:
        charts = sorted(n for n in z.namelist() if n.startswith("xl/charts/chart"))
        assert len(charts) == 2
        xml = z.read(charts[0]).decode()
    assert xml.count("<dPt>") == 5
    assert xml.count(DROPPED_COLOUR) >= 2 and ROLE_COLOURS[RunRole.COUNTED] in xml


def test_inventory_compliance_telemetry(workbook):
    wb = load_workbook(workbook)
    inv = [r for r in wb["Inventory"].iter_rows(min_row=2, values_only=True)]
    parts = {r[0] for r in inv}
    assert {"software", "system description", "inventory"} <= parts
    assert ("inventory", "gpus.driver_version", "535.104.05") in inv
    comp = list(wb["Compliance"].iter_rows(min_row=2, values_only=True))
    assert sum(1 for r in comp if r[1] == "compliance" and r[3] == "yes") == 15
    assert {(r[0], r[1], r[3]) for r in comp if r[1] in ("seeds", "RCP")} == {
        ("resnet", "seeds", "yes"),
        ("bert", "seeds", "yes"),
        ("resnet", "RCP", "yes"),
        ("bert", "RCP", "yes"),
    }
    tele = list(wb["Telemetry"].iter_rows(min_row=2, values_only=True))
    power = [r for r in tele if r[3] == "power_w [gpu 0]" and r[0] == "bert" and r[1] == 0]
    assert power and power[0][4] == 250 and power[0][6] == 261
    assert any(r[2] == "run record" and r[3] == "samples" for r in tele)


def _no_float_noise(value) -> bool:
    """A number in full but without float noise (12 decimals at most)."""
    return isinstance(value, float) and repr(value) == repr(round(value, 12))


def test_smoke_workbook_numbers_are_typed_and_the_banner_is_on_top(cli, tmp_path_factory):
    root = unfilled_smoke_campaign(tmp_path_factory)
    path = tmp_path_factory.mktemp("xlsx") / "results.xlsx"
    res = cli("report", root, "--xlsx", path)
    assert res.code == 0, res.err
    wb = load_workbook(path)
    banner = wb["Summary"]["A2"].value
    assert banner.startswith("INCOMPLETE: system description: ") and wb["Summary"]["A2"].font.b
    header = [c.value for c in wb["Runs"][1]]
    minutes, seconds = header.index("minutes"), header.index("seconds")
    runs = list(wb["Runs"].iter_rows(min_row=2, values_only=True))
    assert len(runs) == 15
    for row in runs:  # runs of a fraction of a second: 0.239, never 0.23899999999999996
        assert _no_float_noise(row[minutes]) and _no_float_noise(row[seconds]), row


def test_a_complete_campaign_has_no_banner(workbook):
    assert load_workbook(workbook)["Summary"]["A2"].value is None
