"""Writing a campaign's report files: which ones, where, and in which order.

``gp2bm report`` and the hand-in bundle both write through ``write_reports``. The filled
RFP workbook goes first: it refuses a campaign without a valid result, and then nothing
else has been written. ``gp2bm compare`` writes the comparison of several bundles through
``write_comparison_reports``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from gp2bm.campaign.layout import CampaignFiles, CampaignLayout
from gp2bm.campaign.resolve import resolve_campaign_dir
from gp2bm.files.atomic import write_error
from gp2bm.reports.answers import campaign_answers, keep_answers
from gp2bm.reports.comparison import write_comparison_csv, write_comparison_xlsx
from gp2bm.reports.comparison_page import write_comparison_html
from gp2bm.reports.completeness import incomplete
from gp2bm.reports.csv_report import write_csv
from gp2bm.reports.html_report import write_html
from gp2bm.reports.official import official_summary, score_interval_summary
from gp2bm.reports.rfp_workbook import FilledCell, RfpAnswers, fill_answers, read_answers
from gp2bm.reports.view import CampaignView, load_campaign
from gp2bm.reports.xlsx_report import write_xlsx
from gp2bm.results.checkpool import Progress
from gp2bm.results.verdictcache import VerdictCache, default_cache_dir

T = TypeVar("T")


@dataclass
class ReportTargets:
    """Where each report goes (None: not written). ``rfp`` is where the RFP workbook,
    filled from ``answers``, goes."""

    csv: Path | None = None
    xlsx: Path | None = None
    html: Path | None = None
    rfp: Path | None = None
    answers: RfpAnswers | None = None


@dataclass
class ReportRequest:
    """What ``gp2bm report`` is asked for, as its command line gives it."""

    csv: Path | None = None
    xlsx: Path | None = None
    html: Path | None = None
    template: Path | None = None
    changes: Path | None = None
    proposed: list[str] = field(default_factory=list)
    test: list[str] = field(default_factory=list)


@dataclass
class WrittenReports:
    campaign: Path
    score: float | None
    valid: bool
    formula: str
    score_interval: dict | None = None  # the score's 95 % interval
    written: list[tuple[str, Path]] = field(default_factory=list)
    filled: list[FilledCell] = field(default_factory=list)
    benchmarks: dict[str, dict] = field(default_factory=dict)  # official_summary of each
    incomplete: list[str] = field(default_factory=list)  # what the reports' banner names

    def as_dict(self) -> dict:
        return {
            "campaign": str(self.campaign),
            "score": self.score,
            "score_interval": self.score_interval,
            "valid": self.valid,
            "benchmarks": self.benchmarks,
            "written": {kind: str(path) for kind, path in self.written},
            "incomplete": self.incomplete,
        }


def write_reports(
    view: CampaignView, targets: ReportTargets
) -> tuple[list[tuple[str, Path]], list[FilledCell]]:
    """Write every report ``targets`` names; returns (kind, path) of each and the cells of
    the RFP workbook that were filled."""
    written: list[tuple[str, Path]] = []
    filled: list[FilledCell] = []
    if targets.rfp is not None and targets.answers is not None:
        with _naming(targets.rfp):
            filled = fill_answers(view, targets.answers, targets.rfp)
        written.append(("rfp workbook", targets.rfp))
    written += write_each(
        view,
        [
            ("csv", targets.csv, write_csv),
            ("xlsx", targets.xlsx, write_xlsx),
            ("html", targets.html, write_html),
        ],
    )
    return written, filled


def write_each(
    subject: T, targets: list[tuple[str, Path | None, Callable[[T, Path], Path]]]
) -> list[tuple[str, Path]]:
    """``write(subject, path)`` of each (kind, path, write) whose path is given, in order;
    returns (kind, path) of each written. One that cannot be written is named (InputError)."""
    written: list[tuple[str, Path]] = []
    for kind, path, write in targets:
        if path:
            with _naming(path):
                written.append((kind, write(subject, path)))
    return written


def write_comparison_reports(
    data: dict, csv: Path | None, xlsx: Path | None, html: Path | None
) -> list[tuple[str, Path]]:
    """The comparison of several bundles (``Comparison.as_dict``) as a CSV, a workbook and a
    page, each where it is asked for."""
    return write_each(
        data,
        [
            ("csv", csv, write_comparison_csv),
            ("xlsx", xlsx, write_comparison_xlsx),
            ("html", html, write_comparison_html),
        ],
    )


@contextmanager
def _naming(path: Path) -> Iterator[None]:
    """A report that cannot be written is named: ``/dev/full: No space left on device``
    (the OS names no file when a write, rather than an open, fails)."""
    try:
        yield
    except OSError as exc:
        raise write_error(exc.filename or path, exc) from None


def report_targets(
    layout: CampaignLayout, request: ReportRequest, answers: RfpAnswers
) -> ReportTargets:
    """Where ``gp2bm report`` writes: what was asked; with nothing asked, every report in
    <campaign>/reports/. A filled RFP workbook takes the place of gp2bm's own workbook."""
    csv, xlsx, html = request.csv, request.xlsx, request.html
    template = answers.template
    if not (csv or xlsx or html):
        csv, html = layout.report_file("csv"), layout.report_file("html")
        xlsx = layout.reports_dir / template.name if template else layout.report_file("xlsx")
    elif template is not None and xlsx is None:
        xlsx = layout.reports_dir / template.name
    if template is None:
        return ReportTargets(csv=csv, xlsx=xlsx, html=html)
    return ReportTargets(csv=csv, html=html, rfp=xlsx, answers=answers)


def report_gaps(view: CampaignView, filled: list[FilledCell]) -> list[str]:
    """What the reports' banner names: the campaign's gaps, and the RFP workbook's own
    (a blank description of changes) when one was filled."""
    gaps = incomplete(view)
    return gaps + [g for cell in filled for g in cell.gaps if g not in gaps]


def make_reports(
    campaign: Path | None,
    suite_path: Path | None,
    request: ReportRequest,
    progress: Progress | None = None,
) -> WrittenReports:
    """``gp2bm report``: check what was asked, read the campaign once, write its reports.
    ``progress``: told how the scoring goes (``score_paths``)."""
    given = read_answers(request.template, request.changes, request.proposed, request.test)
    root = resolve_campaign_dir(campaign, suite_path)
    answers = campaign_answers(CampaignFiles(root), given)  # given once, kept
    cache = VerdictCache(default_cache_dir())
    view = load_campaign(root, suite_path, cache=cache, progress=progress)
    written, filled = write_reports(view, report_targets(view.layout, request, answers))
    keep_answers(CampaignFiles(root), given, answers)
    return WrittenReports(
        campaign=root,
        score=view.score.score,
        valid=view.score.valid,
        formula=view.suite.formula_text(),
        score_interval=score_interval_summary(view.score),
        written=written,
        filled=filled,
        benchmarks={n: official_summary(b) for n, b in view.score.benchmarks.items()},
        incomplete=report_gaps(view, filled),
    )
