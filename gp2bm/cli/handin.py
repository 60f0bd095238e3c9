"""gp2bm report, package: the hand-in commands (wiring: parse, call, render)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gp2bm.campaign.layout import CampaignLayout
from gp2bm.campaign.resolve import resolve_campaign_dir
from gp2bm.cli.app import app, err, out
from gp2bm.cli.options import (
    AllowFileOpt,
    AllowIncompleteOpt,
    CampaignArg,
    ChangesOpt,
    CsvOpt,
    HtmlOpt,
    JsonOpt,
    OutputOpt,
    ProposedOpt,
    SuiteOpt,
    TemplateOpt,
    TestOpt,
    UpstreamOpt,
    XlsxOpt,
)
from gp2bm.errors import InputError
from gp2bm.handin.bundle import build_bundle
from gp2bm.handin.package import PackageRequest, default_output, package_options
from gp2bm.handin.scratch import stop_on_sigterm
from gp2bm.node.systemdesc import package_step
from gp2bm.reports.rfp_workbook import SHEET as RFP_SHEET
from gp2bm.reports.terminal import (
    print_filled_cells,
    print_incomplete,
    print_package,
    print_plain,
    print_reports,
)
from gp2bm.reports.workprogress import WorkProgress
from gp2bm.reports.writer import ReportRequest, make_reports


def next_step(line: str) -> None:
    """The last line of a long command: what to do next (stderr: --json output stays one
    object)."""
    print_plain(err, line)


def _took(work: WorkProgress) -> str:
    return f"{work.elapsed:.1f} s"


def bundle_beside(root: Path, suite: Path | None) -> Path:
    """The default bundle: <suite>-<org>-<system>.tar.gz in the folder that holds the
    campaign folder (never the working folder, which may be a checkout of gp2bm)."""
    return root.resolve().parent / default_output(root, suite).name


@contextmanager
def _file_errors() -> Iterator[None]:
    """A file that cannot be read or written is bad input: one line naming it, exit 2."""
    try:
        yield
    except OSError as exc:
        where = exc.filename or "a file"
        raise InputError(f"{where}: {exc.strerror or exc}") from None


@app.command()
def report(
    campaign: CampaignArg = None,
    csv_path: CsvOpt = None,
    xlsx_path: XlsxOpt = None,
    html_path: HtmlOpt = None,
    template: TemplateOpt = None,
    changes: ChangesOpt = None,
    proposed: ProposedOpt = None,
    test: TestOpt = None,
    suite: SuiteOpt = None,
    as_json: JsonOpt = False,
):
    """Write the reports of a campaign: CSV, XLSX (or the RFP's own workbook filled), HTML.

    With no --csv/--xlsx/--html, all three go to <campaign>/reports/. Exit 0 when written
    (even for an invalid campaign, which the reports show as such), 1 when the RFP workbook
    cannot be filled because a result is invalid, 2 for bad input.
    """
    request = ReportRequest(
        csv_path, xlsx_path, html_path, template, changes, proposed or [], test or []
    )
    with _file_errors(), WorkProgress(err, "report") as work:
        written = make_reports(campaign, suite, request, work)
    workbook = dict(written.written).get("rfp workbook")
    print_filled_cells(written.filled, err, workbook, RFP_SHEET)
    print_incomplete(written.incomplete, err)
    if as_json:
        print(json.dumps(written.as_dict(), indent=2))
    else:
        print_reports(written, out)
    where = shlex.quote(str(written.campaign))
    system_file = CampaignLayout.read(written.campaign).system_file
    next_step(f"reports written in {_took(work)}; next: {package_step(system_file, where)}")


@app.command()
def package(
    campaign: CampaignArg = None,
    output: OutputOpt = None,
    allow_incomplete: AllowIncompleteOpt = False,
    upstream: UpstreamOpt = None,
    template: TemplateOpt = None,
    changes: ChangesOpt = None,
    proposed: ProposedOpt = None,
    test: TestOpt = None,
    suite: SuiteOpt = None,
    allow_file: AllowFileOpt = None,
    as_json: JsonOpt = False,
):
    """Write the hand-in bundle: MLPerf submission tree, source, reports, SHA256SUMS.

    The bundle holds the submission tree with the source that ran, the manifests,
    inventory, run records, telemetry, the reports, a README for the evaluator and
    SHA256SUMS; MLCommons' package checker runs on it. A source file that holds a secret
    (.env, a private key, a token) or that verify would refuse (its name, its size) is
    refused, naming it; --allow-file ships one such secret deliberately.

    Exit 0 when written and valid, 1 when the system description is missing (unless
    --allow-incomplete), the score is invalid or MLCommons' package checker fails (the
    bundle is still written then), 2 for bad input, 130 when stopped (Ctrl-C, SIGTERM:
    nothing is written under the bundle's name).
    """
    request = PackageRequest(
        output,
        allow_incomplete,
        upstream or [],
        template,
        changes,
        proposed or [],
        test or [],
        allow_file or [],
    )
    package_options(request)  # bad options fail before the campaign is looked for
    root = resolve_campaign_dir(campaign, suite)
    options = package_options(request, root)  # with the RFP answers kept by report
    target = output or bundle_beside(root, suite)
    with stop_on_sigterm("gp2bm package"), _file_errors(), WorkProgress(err, "package") as work:
        result = build_bundle(root, target, suite, options, work)
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print_package(result.as_dict(), out, err)
    failure = result.failure(allow_incomplete)
    if failure is not None:
        raise failure
    next_step(
        f"bundle written in {_took(work)}; next: gp2bm verify {shlex.quote(str(result.output))}"
    )
