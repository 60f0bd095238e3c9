"""The spreadsheet-ready CSV: read back with the csv module and opened in LibreOffice."""

from __future__ import annotations

import csv
import shutil
import subprocess

import pytest
from synth import BERT_MINUTES, RESNET_MINUTES
from test_report_campaign import synthetic_campaign, unfilled_smoke_campaign

from gp2bm.reports.csv_report import COLUMNS


@pytest.fixture
def written(cli, tmp_path):
    root = synthetic_campaign(tmp_path)
    path = tmp_path / "out" / "results.csv"
    res = cli("report", root, "--csv", path)
    assert res.code == 0, res.err
    return path


def test_csv_module_reads_columns(written):
    with open(written, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == COLUMNS
    assert all(len(r) == len(COLUMNS) for r in rows)
    table = [dict(zip(COLUMNS, r, strict=True)) for r in rows[1:]]
    runs = [r for r in table if r["kind"] == "run"]
    assert len(runs) == 15
    for r in runs:
        bench, n = r["benchmark"], int(r["run"])
        expected = (RESNET_MINUTES if bench == "resnet" else BERT_MINUTES)[n]
        assert float(r["minutes"]) == pytest.approx(expected, rel=1e-12)  # in full
        assert float(r["seconds"]) == pytest.approx(60 * expected, rel=1e-12)
        assert r["seed"] == str(1000 + n * 7)
        assert r["status"] == "success"
        assert r["verdict"] in ("counted", "dropped (fastest)", "dropped (slowest)")
    resnet = {int(r["run"]): r["verdict"] for r in runs if r["benchmark"] == "resnet"}
    assert resnet == {
        0: "counted",
        1: "counted",
        2: "dropped (fastest)",
        3: "counted",
        4: "dropped (slowest)",
    }
    results = {r["benchmark"]: r for r in table if r["kind"] == "result"}
    r_min = (30.0 + 31.5 + 30.5) / 3
    assert float(results["resnet"]["minutes"]) == pytest.approx(r_min, rel=1e-12)
    assert float(results["resnet"]["seconds"]) == pytest.approx(60 * r_min, rel=1e-12)
    assert results["resnet"]["valid"] == results["bert"]["valid"] == "yes"
    b_min = sum(sorted(BERT_MINUTES)[1:-1]) / 8
    (score,) = [r for r in table if r["kind"] == "score"]
    assert float(score["score"]) == pytest.approx(7.19 / r_min + 9.05 / b_min, rel=1e-12)


def test_csv_opens_as_columns_in_libreoffice(written, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed (apt-get install libreoffice-calc-nogui)")
    from openpyxl import load_workbook

    outdir = tmp_path / "lo"
    proc = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}",
            "--headless",
            "--norestore",
            "--infilter=CSV:44,34,76,1",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(outdir),
            str(written),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    converted = outdir / "results.xlsx"
    assert converted.is_file(), proc.stdout + proc.stderr
    ws = load_workbook(converted).active
    header = [c.value for c in ws[1]]
    assert header == COLUMNS
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 15 + 2 + 1
    col = {name: i for i, name in enumerate(COLUMNS)}
    first = rows[0]
    assert first[col["kind"]] == "run" and first[col["benchmark"]] == "resnet"
    # numbers arrive as numbers, not text, in their own columns
    assert isinstance(first[col["minutes"]], (int, float))
    assert first[col["minutes"]] == pytest.approx(RESNET_MINUTES[0])
    assert isinstance(first[col["seconds"]], (int, float))
    score = rows[-1]
    assert score[col["kind"]] == "score" and isinstance(score[col["score"]], (int, float))


def test_smoke_csv_numbers_are_what_a_person_types(cli, tmp_path_factory):
    """Runs of a fraction of a second, in full (a smoke run's minutes are no 0.002) but
    without float noise: 0.239 s, never 0.23899999999999996."""
    root = unfilled_smoke_campaign(tmp_path_factory)
    path = tmp_path_factory.mktemp("csv") / "results.csv"
    assert cli("report", root, "--csv", path).code == 0
    with open(path, newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert sum(1 for r in table if r["kind"] == "run") == 15
    for row in table:
        for column in ("minutes", "seconds", "unscaled_minutes"):
            if row[column]:
                assert len(row[column].partition(".")[2]) <= 12, (column, row[column])
    for row in (r for r in table if r["kind"] == "run"):
        assert len(row["seconds"].partition(".")[2]) <= 3, row  # whole milliseconds
    exact = cli("score", root, "--json").json()["benchmarks"]["resnet"]["minutes"]
    (resnet,) = [r for r in table if r["kind"] == "result" and r["benchmark"] == "resnet"]
    assert float(resnet["minutes"]) == pytest.approx(exact, rel=1e-12)
