"""gp2bm report, package, verify: the hand-in commands."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from gp2bm.campaign.resolve import campaign_suite, resolve_campaign_dir
from gp2bm.cli.app import app, err, out
from gp2bm.cli.options import JsonOpt, SuiteOpt

CampaignArg = Annotated[
    Path | None,
    typer.Argument(
        help="Campaign folder (default: results/<suite name> of the default or --suite suite)."
    ),
]
TemplateOpt = Annotated[
    Path | None,
    typer.Option(
        "--template",
        help="The RFP's Benchmark_Results.xlsx: fill a copy of its MLPerf tab (never the file).",
    ),
]
ChangesOpt = Annotated[
    Path | None,
    typer.Option(
        "--changes",
        help="Text file: the description of changes for the RFP workbook (with --template).",
    ),
]
ProposedOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--proposed",
        help="KEY=VALUE for the workbook's Proposed column: nodes, bert and resnet (in the "
        "form's unit: seconds), mpi_tasks, omp_threads; repeat it.",
    ),
]
TestOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--test",
        help="KEY=VALUE for Test-column lines a campaign cannot know (mpi_tasks, omp_threads, "
        "compiler, mpi, libraries, compiler_flags, library_flags); repeat it.",
    ),
]


@contextmanager
def _file_errors():
    """A file that cannot be read or written is bad input: one line naming it, exit 2."""
    from gp2bm.errors import InputError

    try:
        yield
    except OSError as exc:
        where = exc.filename or "a file"
        raise InputError(f"{where}: {exc.strerror or exc}") from None


def _campaign_root(campaign: Path | None, suite: Path | None) -> Path:
    return resolve_campaign_dir(campaign, suite)


def _changes_text(changes: Path | None) -> str | None:
    from gp2bm.reports.rfp_workbook import read_changes

    return read_changes(changes)


def _write_reports(
    view, csv_path, xlsx_path, html_path, template, changes_text, proposed, test
) -> list[tuple[str, Path]]:
    """Write what was asked; the filled RFP workbook first, as it may refuse an invalid
    result before anything is written."""
    from gp2bm.reports.rfp_workbook import fill_rfp_workbook

    written = []
    if template is not None:
        filled = fill_rfp_workbook(view, template, xlsx_path, changes_text, proposed, test)
        written.append(("rfp workbook", xlsx_path))
        for cell in filled:
            shown = cell.value if not isinstance(cell.value, str) else cell.value[:60]
            err.print(
                f"  {cell.column} {cell.coordinate} {cell.key} = {shown!r}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
    if csv_path:
        from gp2bm.reports.csv_report import write_csv

        written.append(("csv", write_csv(view, csv_path)))
    if xlsx_path and template is None:
        from gp2bm.reports.xlsx_report import write_xlsx

        written.append(("xlsx", write_xlsx(view, xlsx_path)))
    if html_path:
        from gp2bm.reports.html_report import write_html

        written.append(("html", write_html(view, html_path)))
    return written


@app.command()
def report(
    campaign: CampaignArg = None,
    csv_path: Annotated[
        Path | None, typer.Option("--csv", help="Write the spreadsheet-ready CSV here.")
    ] = None,
    xlsx_path: Annotated[
        Path | None,
        typer.Option(
            "--xlsx",
            help="Write gp2bm's workbook here (with --template: the filled RFP workbook).",
        ),
    ] = None,
    html_path: Annotated[
        Path | None, typer.Option("--html", help="Write the self-contained HTML report here.")
    ] = None,
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
    from gp2bm.errors import InputError
    from gp2bm.reports.rfp_workbook import parse_assignments
    from gp2bm.reports.view import load_campaign

    if template is None and (changes or proposed or test):
        raise InputError("--changes, --proposed and --test fill the RFP workbook: give --template")
    proposed_values = parse_assignments(proposed, "--proposed")
    test_values = parse_assignments(test, "--test")
    changes_text = _changes_text(changes)
    if template is not None and not template.is_file():
        raise InputError(f"{template}: file not found")
    root = _campaign_root(campaign, suite)
    view = load_campaign(root, suite)
    if not (csv_path or xlsx_path or html_path):
        reports = root / "reports"
        csv_path, html_path = reports / "results.csv", reports / "report.html"
        xlsx_path = reports / (template.name if template else "results.xlsx")
    elif template is not None and xlsx_path is None:
        xlsx_path = root / "reports" / template.name

    with _file_errors():
        written = _write_reports(
            view,
            csv_path,
            xlsx_path,
            html_path,
            template,
            changes_text,
            proposed_values,
            test_values,
        )
    score = view.score.score
    if as_json:
        print(
            json.dumps(
                {
                    "campaign": str(root),
                    "score": score,
                    "valid": view.score.valid,
                    "written": {kind: str(path) for kind, path in written},
                },
                indent=2,
            )
        )
    else:
        for kind, path in written:
            out.print(f"{kind}: {path}", highlight=False)
        shown = "none (invalid)" if score is None else f"{score:.6f}"
        out.print(f"score ({view.suite.formula_text()}): {shown}", highlight=False)


@app.command()
def package(
    campaign: CampaignArg = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="Bundle to write (default: <suite>-<org>-<system>.tar.gz)."
        ),
    ] = None,
    allow_incomplete: Annotated[
        bool,
        typer.Option(
            "--allow-incomplete",
            help="Write the bundle even without a system description or implementation "
            "source, and exit 0 when it is written (what is missing is listed in it).",
        ),
    ] = False,
    upstream: Annotated[
        list[str] | None,
        typer.Option(
            "--upstream",
            help="BENCH=FOLDER: a local copy of the upstream implementation to diff against.",
        ),
    ] = None,
    template: TemplateOpt = None,
    changes: ChangesOpt = None,
    proposed: ProposedOpt = None,
    test: TestOpt = None,
    suite: SuiteOpt = None,
    as_json: JsonOpt = False,
):
    """Write the hand-in bundle: MLPerf submission tree, source, reports, SHA256SUMS.

    The bundle holds the submission tree with the source that ran, the manifests,
    inventory, run records, telemetry, the reports, a README for the evaluator and
    SHA256SUMS; MLCommons' package checker runs on it.

    Exit 0 when written and valid, 1 when the system description is missing (unless
    --allow-incomplete), the score is invalid or MLCommons' package checker fails (the
    bundle is still written then), 2 for bad input.
    """
    from gp2bm.errors import InputError
    from gp2bm.handin.bundle import PackageOptions, build_bundle
    from gp2bm.reports.rfp_workbook import parse_assignments

    if template is None and (proposed or test):
        raise InputError("--proposed and --test fill the RFP workbook: give --template")
    upstreams = {k: Path(v) for k, v in parse_assignments(upstream, "--upstream").items()}
    options = PackageOptions(
        allow_incomplete=allow_incomplete,
        template=template,
        changes=_changes_text(changes),
        proposed=parse_assignments(proposed, "--proposed"),
        test=parse_assignments(test, "--test"),
        upstreams=upstreams,
    )
    if template is not None and not template.is_file():
        raise InputError(f"{template}: file not found")
    root = _campaign_root(campaign, suite)
    if output is None:
        meta, the_suite = campaign_suite(root, suite)
        output = Path(f"{the_suite.name}-{meta['org']}-{meta['system']}.tar.gz")
    with _file_errors():
        result = build_bundle(root, output, suite, options)
    failed = bool(result.problems) and not allow_incomplete
    if as_json:
        print(
            json.dumps(
                {
                    "bundle": str(result.output),
                    "files": result.files,
                    "score": result.score,
                    "valid": result.valid,
                    "package_checker": result.package_check.as_dict(),
                    "rcp_bypass": result.rcp_bypass,
                    "incomplete": result.incomplete,
                    "problems": result.problems,
                },
                indent=2,
            )
        )
    else:
        out.print(f"bundle: {result.output} ({result.files} files)", highlight=False)
        check = result.package_check
        verdict = "pass" if check.passed else ("not run" if not check.ran else "FAIL")
        out.print(f"MLCommons package checker: {verdict}", highlight=False)
        if result.rcp_bypass:
            out.print(
                f"RCP bypass (suite turns RCP off): {', '.join(result.rcp_bypass)}",
                highlight=False,
            )
        shown = "none (invalid)" if result.score is None else f"{result.score:.6f}"
        out.print(f"score: {shown}", highlight=False)
        for item in result.incomplete:
            err.print(f"incomplete: {item}", highlight=False, markup=False, soft_wrap=True)
        for item in result.problems:
            err.print(f"problem: {item}", highlight=False, markup=False, soft_wrap=True)
    if failed:
        from gp2bm.errors import InvalidError

        raise InvalidError(f"{result.output}: written, but {result.problems[0]}")


@app.command()
def verify(
    bundle: Annotated[Path, typer.Argument(help="A bundle written by `gp2bm package`.")],
    suite: Annotated[
        Path | None,
        typer.Option("--suite", help="Your own copy of the RFP's suite, to score against instead."),
    ] = None,
    as_json: JsonOpt = False,
):
    """Verify a hand-in bundle: recompute it from its raw logs and compare every claim.

    SHA256SUMS is checked, every log re-parsed, each result and the score recomputed,
    MLCommons' compliance, seed, RCP and package checks re-run, and all of it compared with
    what the bundle and its reports claim.

    Exit 0 only when everything matches and the bundle is valid, 1 with the differences
    otherwise (or for an unsafe archive member), 2 when the file is not a readable bundle.
    """
    from gp2bm.errors import InvalidError
    from gp2bm.handin.verify import verify_bundle

    result = verify_bundle(bundle, suite)
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        checked = result.checked
        out.print(
            f"{bundle}: {checked.get('files', 0)} files, {checked.get('runs', 0)} runs checked; "
            f"package checker {checked.get('package_checker', 'not run')}",
            highlight=False,
        )
        for d in result.differences:
            out.print(f"  differs: {d}", highlight=False, markup=False, soft_wrap=True)
        for p in result.problems:
            out.print(f"  problem: {p}", highlight=False, markup=False, soft_wrap=True)
        if result.ok:
            out.print(f"verified: score {result.score:.6f}", highlight=False)
    if not result.ok:
        first = (result.differences or result.problems)[0]
        count = len(result.differences) + len(result.problems)
        raise InvalidError(f"{bundle}: {count} finding(s); first: {first}")
