"""The text of every report a bundle carries, held against ``tests/golden/reports.json``.

``gp2bm verify`` renders a bundle's reports and README again and compares them with the
ones handed in, character for character: a gp2bm whose reports read differently cannot
verify a bundle an older one wrote, so a change of their text is a new bundle format. This
test renders the reports of a fixed synthetic campaign (exact times, fixed timestamps and
version) and compares them with the golden texts: while ``BUNDLE_FORMAT`` is the golden's,
any difference fails; after ``BUNDLE_FORMAT`` goes up, the golden must be written again::

    python tests/test_golden_reports.py --write
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest
from test_report_campaign import synthetic_campaign

from gp2bm.handin.format import BUNDLE_FORMAT
from gp2bm.handin.package_check import PackageCheck
from gp2bm.handin.readme import render_readme
from gp2bm.reports import html_report, xlsx_report
from gp2bm.reports.claims import claims
from gp2bm.reports.csv_report import render_csv
from gp2bm.reports.view import CampaignView, load_campaign

GOLDEN = Path(__file__).resolve().parent / "golden" / "reports.json"
GENERATED = "2024-03-02T09:00:00+00:00"
VERSION = "golden"
WRITE = "python tests/test_golden_reports.py --write"


def _bundle_meta(view: CampaignView) -> dict:
    """What gp2bm-bundle.json says, fixed: the README renders it."""
    return {
        "bundle_format": BUNDLE_FORMAT,
        "created": GENERATED,
        "gp2bm_version": VERSION,
        "reports": ["reports/results.csv", "reports/results.xlsx", "reports/report.html"],
        "implementations": {
            bench: {"path": f"{view.org}/benchmarks/{bench}/implementations/numpy",
                    "origin": "the local runtime's script folder", "files": 1}
            for bench in view.suite.benchmarks
        },
        "incomplete": [],
        "notes": [],
    }


def texts(view: CampaignView) -> dict[str, str]:
    """Every report text a bundle of ``view`` carries, as verify renders it again (the
    HTML page without its plots' pixels, the workbook as its cells' values)."""
    view = dataclasses.replace(view, generated=GENERATED, gp2bm_version=VERSION)
    check = PackageCheck(ran=True, passed=True, log="FOUND NO ERRORS\n")
    present = {"records", "inventory.json", "reports", "manifests", "changes", "checks"}
    cells = xlsx_report.cell_values(xlsx_report.build_workbook(view))
    found = {
        "README.md": render_readme(view, _bundle_meta(view), check, [], present),
        "results.csv": render_csv(view),
        "report.html": html_report.without_plots(html_report.render_html(view, draw=False)),
        "gp2bm-claims.json": json.dumps(claims(view), indent=2, sort_keys=True),
        "results.xlsx": json.dumps(cells, indent=1, sort_keys=True, default=str),
    }
    folder = str(view.root.resolve().parent)  # the campaign's and its suite's, temporary
    return {name: text.replace(folder, "<folder>") for name, text in found.items()}


def golden_view(folder: Path) -> CampaignView:
    return load_campaign(synthetic_campaign(folder))


def differences(now: dict[str, str], golden: dict) -> list[str]:
    """The reports whose text differs from the golden ones (or that one of them lacks)."""
    kept = golden.get("texts", {})
    return sorted(name for name in set(now) | set(kept) if now.get(name) != kept.get(name))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, str]:
    return texts(golden_view(tmp_path_factory.mktemp("golden")))


def test_report_texts_change_only_with_the_bundle_format(rendered):
    assert GOLDEN.is_file(), f"{GOLDEN} is missing: {WRITE}"
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    if golden["bundle_format"] != BUNDLE_FORMAT:
        pytest.fail(
            f"BUNDLE_FORMAT is {BUNDLE_FORMAT}, the golden texts are of format "
            f"{golden['bundle_format']}: {WRITE}"
        )
    changed = differences(rendered, golden)
    assert not changed, (
        f"the text of {', '.join(changed)} changed while BUNDLE_FORMAT is still "
        f"{BUNDLE_FORMAT}: a bundle an earlier gp2bm wrote would no longer verify. Raise "
        f"BUNDLE_FORMAT in gp2bm/handin/format.py, then {WRITE}"
    )


def test_the_guard_sees_a_changed_report(rendered):
    """No vacuous pass: the golden holds every report, and one changed character of any of
    them is found."""
    golden = {"bundle_format": BUNDLE_FORMAT, "texts": dict(rendered)}
    assert differences(rendered, golden) == []
    assert set(rendered) == {"README.md", "results.csv", "report.html", "gp2bm-claims.json",
                             "results.xlsx"}
    for name, text in rendered.items():
        assert len(text) > 200, name
        changed = dict(rendered, **{name: text.replace("0", "1", 1)})
        assert differences(changed, golden) == [name]


def _write() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        now = texts(golden_view(Path(tmp)))
    GOLDEN.parent.mkdir(exist_ok=True)
    document = {"bundle_format": BUNDLE_FORMAT, "texts": now}
    GOLDEN.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN} (bundle format {BUNDLE_FORMAT})")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(f"usage: {WRITE}")
    _write()
