"""``gp2bm verify``: the bundle's reports against the reports its logs give.

Every report is made again from the recomputed view of the bundle (SPEC's ``--rawformat``
idea: the raw results are the truth, a report only renders them) and compared with the one
handed in: the CSV character for character (and row by row, to name what differs: its
numbers are the typed ones, ``official.typed_*``), every cell and part of gp2bm's workbook
and of the filled RFP workbook (``workbookshape``: formulas as stored, number formats,
hidden sheets, names, links, comments...; the RFP workbook filled again from the template
bundled beside it), every character of the HTML page but the pixels of its plots, the
README. What only the vendor can know in them (when a report was generated, the answers the
vendor typed into the RFP's workbook, whether the bundled template is the RFP's own) is
listed as unverifiable. A report that is missing,
unreadable, or differs is a difference, naming the file.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import timedelta
from pathlib import Path

from gp2bm.campaign.layout import README_FILE, REPORT_NAMES, BundleFiles
from gp2bm.errors import Gp2bmError
from gp2bm.evaluation.verification import (
    Verification,
    close,
    compare,
    first_difference,
    same_text,
)
from gp2bm.evaluation.workbookshape import Shape, content_of, differences, shape_of
from gp2bm.files.checksums import sha256_file
from gp2bm.files.plaintext import printable
from gp2bm.files.timestamps import moment
from gp2bm.handin.limits import check_workbook
from gp2bm.handin.package_check import PackageCheck
from gp2bm.handin.readme import render_readme
from gp2bm.reports import html_report, rfp_workbook, xlsx_report
from gp2bm.reports.csv_report import render_csv
from gp2bm.reports.official import typed_minutes, typed_score
from gp2bm.reports.view import CampaignView

MAX_CELL_DIFFERENCES = 5
# How far a report's generated stamp may lie outside the campaign's and the bundle's times
# (their clocks are read to the second, by different steps).
STAMP_SLACK_S = 5


def _read(path: Path, name: str, result: Verification) -> str | None:
    if not path.is_file():
        result.differences.append(f"{name}: missing")
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        result.differences.append(f"{name}: unreadable ({exc})")
        return None


def _csv_number(name: str, what: str, text, expected, result: Verification) -> None:
    if text in (None, ""):
        value = None
    else:
        try:
            value = float(text)
        except ValueError:
            result.differences.append(f"{name}: {what}: '{text}' is not a number")
            return
    if (value is None) != (expected is None) or (value is not None and not close(value, expected)):
        result.differences.append(f"{name}: {what}: claimed {value!r}, recomputed {expected!r}")


def _csv_rows(name: str, rows: list[dict], recomputed: dict, result: Verification) -> None:
    """Every run row, result row and the score row against the recomputation; every run
    of the logs must have its row."""
    expected_runs = {
        (b, r["file"]): r for b, d in recomputed["benchmarks"].items() for r in d["runs"]
    }
    seen = set()
    for row in rows:
        kind, bench = row.get("kind"), row.get("benchmark")
        if kind == "run":
            key = (bench, row.get("file"))
            seen.add(key)
            run = expected_runs.get(key)
            if run is None:
                result.differences.append(f"{name}: run {bench}/{row.get('file')} not in logs")
                continue
            what = f"{bench}/{row['file']}"
            minutes = typed_minutes(run["minutes"])
            _csv_number(name, f"{what} minutes", row.get("minutes"), minutes, result)
            if row.get("verdict") != run["role"]:
                result.differences.append(
                    f"{name}: {what} verdict: claimed {row.get('verdict')!r}"
                    f", recomputed {run['role']!r}"
                )
        elif kind == "result" and bench in recomputed["benchmarks"]:
            expected = typed_minutes(recomputed["benchmarks"][bench]["minutes"])
            _csv_number(name, f"{bench} result minutes", row.get("minutes"), expected, result)
        elif kind == "score":
            expected = typed_score(recomputed["score"])
            _csv_number(name, "score", row.get("score"), expected, result)
    for key in expected_runs:
        if key not in seen:
            result.differences.append(f"{name}: run {key[0]}/{key[1]} missing")


def check_csv(view: CampaignView, recomputed: dict, result: Verification) -> None:
    """The CSV row by row (naming what differs), then character for character."""
    path = view.layout.report_file("csv")
    name = view.relative(path)
    if not path.is_file():
        result.differences.append(f"{name}: missing")
        return
    try:
        text = path.read_bytes().decode("utf-8")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        result.differences.append(f"{name}: unreadable ({exc})")
        return
    before = len(result.differences)
    _csv_rows(name, rows, recomputed, result)
    expected = render_csv(view)
    if len(result.differences) == before and not same_text(text, expected):
        result.differences.append(
            f"{name}: differs from the CSV its logs give ({first_difference(text, expected)})"
        )


def _report(name: str, found: list[str], result: Verification) -> None:
    result.differences += [f"{name}: {d}" for d in found[:MAX_CELL_DIFFERENCES]]
    if len(found) > MAX_CELL_DIFFERENCES:
        more = len(found) - MAX_CELL_DIFFERENCES
        result.differences.append(f"{name}: {more} more differences in its cells and parts")


def _rendered(wb) -> Shape:
    """The shape of a workbook made here, as it reads back once saved."""
    return shape_of(io.BytesIO(xlsx_report.workbook_bytes(wb)))


def check_xlsx(view: CampaignView, bundle: Path, result: Verification) -> None:
    """gp2bm's workbook against the workbook its logs give: every cell (type, value or
    formula, number format) and every part (``workbookshape``)."""
    from openpyxl import load_workbook  # heavy: openpyxl

    path = view.layout.report_file("xlsx")
    name = view.relative(path)
    if not path.is_file():
        result.differences.append(f"{name}: missing")
        return
    check_workbook(path, bundle, name)
    try:
        wb = load_workbook(path)  # formulas as stored, not their cached values
        claimed = shape_of(str(path), wb)
        generated = xlsx_report.summary_value(wb, "report generated")
        version = xlsx_report.summary_value(wb, "gp2bm")
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        result.differences.append(f"{name}: unreadable ({type(exc).__name__})")
        return
    again = dataclasses.replace(view, generated=generated or "", gp2bm_version=version or "")
    _report(name, differences(claimed, _rendered(xlsx_report.build_workbook(again))), result)
    when, by = printable(generated, 40), printable(version, 40)
    result.unverifiable.append(f"{name}: when it was generated ({when}), by gp2bm {by}")


def check_workbooks(view: CampaignView, bundle: Path) -> Verification:
    """``check_xlsx`` and ``check_rfp``, the checks that need openpyxl, their findings in a
    Verification of their own (verify's side process runs them)."""
    result = Verification(bundle=bundle)
    check_xlsx(view, bundle, result)
    check_rfp(view, bundle, result)
    return result


def check_stamp(
    name: str, stamp: tuple[str, str], view: CampaignView, meta: dict | None
) -> list[str]:
    """A report's "generated" stamp against the rest of the bundle: a time with its zone,
    not before the campaign was made nor after the bundle was (``STAMP_SLACK_S``), by the
    gp2bm that packaged it. When it was generated stays the vendor's word (unverifiable);
    a stamp the bundle itself contradicts is a finding."""
    when, version = stamp
    made, packed = moment(view.meta.created), moment((meta or {}).get("created"))
    at = moment(when)
    if at is None:
        return [f"{name}: its generated stamp {printable(when, 60)!r} is not a time with its zone"]
    found = []
    if made is not None and at < made - timedelta(seconds=STAMP_SLACK_S):
        found.append(f"{name}: generated {when}, before the campaign was made ({made.isoformat()})")
    if packed is not None and at > packed + timedelta(seconds=STAMP_SLACK_S):
        found.append(f"{name}: generated {when}, after the bundle was made ({packed.isoformat()})")
    packer = (meta or {}).get("gp2bm_version")
    if isinstance(packer, str) and version != packer:
        found.append(
            f"{name}: generated by gp2bm {printable(version, 40)}, the bundle by gp2bm "
            f"{printable(packer, 40)}"
        )
    return found


def check_html(
    view: CampaignView, recomputed: dict, result: Verification, meta: dict | None = None
) -> None:
    """The page's embedded claims, then every character of the page but the plots' pixels
    (PNG bytes depend on the matplotlib, FreeType and fonts that drew them: redrawn on the
    evaluator's machine they differ; what they draw is in the page's verified text and
    claims), then its generated stamp against the bundle (``check_stamp``)."""
    path = view.layout.report_file("html")
    name = view.relative(path)
    page = _read(path, name, result)
    if page is None:
        return
    embedded = html_report.claims_of(page)
    if embedded is None:
        result.differences.append(f"{name}: no embedded claims")
        return
    found = compare(embedded, recomputed)
    result.differences += [f"{name}: {d}" for d in found]
    when, version = html_report.generated_of(page) or ("", "")
    again = dataclasses.replace(view, generated=when, gp2bm_version=version)
    text, expected = html_report.without_plots(page), html_report.render_html(again, draw=False)
    if not found and not same_text(text, expected):
        result.differences.append(
            f"{name}: differs from the page its logs give ({first_difference(text, expected)})"
        )
    result.differences += check_stamp(name, (when, version), view, meta)
    result.unverifiable.append(f"{name}: when it was generated ({when}) and its plots' pixels")


def check_readme(view: CampaignView, meta: dict | None, result: Verification) -> None:
    """The README as its logs, gp2bm-bundle.json and the checker's claimed verdict render it."""
    bundle = BundleFiles(view.root)
    text = _read(bundle.readme_file, README_FILE, result)
    if text is None or meta is None:
        return
    try:
        check = PackageCheck.from_dict(meta["package_checker"])
        present = {p.name for p in bundle.root.iterdir()}
        expected = render_readme(view, meta, check, list(meta["rcp_bypass"]), present)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        result.differences.append(f"{README_FILE}: cannot be rendered again ({exc})")
        return
    if not same_text(text, expected):
        result.differences.append(
            f"{README_FILE}: differs from the README its logs give "
            f"({first_difference(text, expected)})"
        )


def _filled_again(view: CampaignView, claimed, template: Path) -> Shape:
    """The RFP workbook gp2bm fills from ``template`` with the logs and the vendor's
    answers as the ``claimed`` workbook holds them (InputError, InvalidError when it
    cannot)."""
    from openpyxl import load_workbook  # heavy: openpyxl

    form = load_workbook(template)
    where, tab = view.relative(template), rfp_workbook.SHEET
    answers = rfp_workbook.answers_of(view, claimed[tab], form[tab], where)
    rfp_workbook.fill_form(view, form, Path(where), answers.changes, answers.proposed, answers.test)
    return _rendered(form)


def check_rfp(view: CampaignView, bundle: Path, result: Verification) -> None:
    """A filled RFP workbook in reports/ against the one gp2bm fills again from the template
    bundled beside it (reports/template/), the logs and the vendor's answers as the workbook
    holds them: every cell and part (``workbookshape``); a formula only where the template
    has it. The answers themselves and the template are unverifiable."""
    from openpyxl import load_workbook  # heavy: openpyxl

    for path in sorted(view.layout.reports_dir.glob("*.xlsx")):
        if path.name == REPORT_NAMES["xlsx"]:
            continue
        name, template = view.relative(path), view.layout.rfp_template(path.name)
        if not template.is_file():
            result.differences.append(
                f"{name}: the template it was filled from ({view.relative(template)}) is not "
                "in the bundle: it cannot be filled again"
            )
            continue
        check_workbook(path, bundle, name)
        check_workbook(template, bundle, view.relative(template))
        try:
            wb = load_workbook(path)  # formulas as stored, not their cached values
            claimed = shape_of(str(path), wb)
            expected = _filled_again(view, wb, template)
        except Gp2bmError as exc:
            result.differences.append(f"{name}: cannot be filled again ({printable(exc, 200)})")
            continue
        except Exception as exc:  # a missing tab or form, or openpyxl's many kinds
            result.differences.append(f"{name}: not a filled RFP workbook ({type(exc).__name__})")
            continue
        _report(name, differences(claimed, expected), result)
        digest = sha256_file(template)
        result.unverifiable.append(f"{name}: the vendor's own answers (all but the results)")
        result.unverifiable.append(
            f"{view.relative(template)}: {TEMPLATE_QUESTION} (sha256 {digest}; verify "
            "--template FILE holds it to yours)"
        )


TEMPLATE_QUESTION = "the RFP's own workbook?"


def check_template(view: CampaignView, given: Path, result: Verification) -> None:
    """``verify --template FILE``: each bundled template (reports/template/) against the
    RFP's workbook as the evaluator holds it. The same bytes, or the same cells and parts
    (``workbookshape``: a copy saved again differs in its zip's bytes only), answers the
    question the verdict otherwise leaves open; any other difference is a finding, and so is
    a bundle without a filled RFP workbook (the RFP asks for one)."""
    filled = [
        path
        for path in sorted(view.layout.reports_dir.glob("*.xlsx"))
        if path.name != REPORT_NAMES["xlsx"]
    ]
    if not filled:
        result.differences.append(
            f"--template {given.name}: the bundle holds no filled RFP workbook to hold to it"
        )
        return
    digest = sha256_file(given)
    ours: Shape | None = None
    for path in filled:
        template = view.layout.rfp_template(path.name)
        name = view.relative(template)
        if not template.is_file():
            continue  # check_rfp names it missing
        result.unverifiable[:] = [
            u for u in result.unverifiable if not u.startswith(f"{name}: {TEMPLATE_QUESTION}")
        ]
        if sha256_file(template) == digest:
            same = f"{name}: the workbook given (--template), byte for byte"
            result.checked["rfp_template"] = same
            continue
        try:
            ours = ours or content_of(shape_of(str(given)))
            found = differences(content_of(shape_of(str(template))), ours)
        except Exception as exc:  # openpyxl raises many kinds on a damaged file
            result.differences.append(
                f"{name}: cannot be held to --template {given.name} ({type(exc).__name__})"
            )
            continue
        if found:
            _report(f"{name} against --template {given.name}", found, result)
        else:
            result.checked["rfp_template"] = (
                f"{name}: the workbook given (--template), cell for cell and part for part "
                "(saved again: other bytes)"
            )
