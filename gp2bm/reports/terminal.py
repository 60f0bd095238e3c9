"""What the commands print for a person: the score of a campaign, the reports written, a
hand-in bundle and its verification. The data stays where it is computed; a bundle and a
verification are rendered from the same object their ``--json`` prints."""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from gp2bm.reports.rfp_workbook import FilledCell
from gp2bm.reports.writer import WrittenReports
from gp2bm.results.scoring import COUNTED, FAILED, BenchmarkScore, SuiteScore


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def benchmark_table(b: BenchmarkScore) -> Table:
    title = f"{b.benchmark}  ({b.folder})"
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("run", no_wrap=True)
    table.add_column("minutes", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("seed", justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("why", overflow="fold")
    for r in b.runs:
        style = "green" if r.role == COUNTED else ("red" if r.role == FAILED else "yellow")
        why = "; ".join(r.reasons)
        if not why and r.compliance is not None and not r.compliance.passed:
            why = "compliance (reported only): " + "; ".join(r.compliance.messages)
        table.add_row(
            r.file,
            _fmt(r.minutes),
            r.status,
            "-" if r.seed is None else str(r.seed),
            Text(r.role, style=style),
            why,
        )
    return table


def benchmark_summary(b: BenchmarkScore) -> Text:
    lines = Text()
    lines.append(f"  olympic mean {_fmt(b.mean, 6)} min")
    factor = "none" if b.scaling_factor is None else f"{b.scaling_factor:g}"
    lines.append(f" x scaling {factor} ({b.scaling_source})")
    lines.append(f" = {_fmt(b.minutes, 6)} min")
    if b.minutes is not None:
        lines.append(f" = {b.minutes * 60:.2f} s")
    lines.append(
        "  VALID" if b.valid else "  INVALID", style="bold green" if b.valid else "bold red"
    )
    if b.rcp is not None:
        lines.append(f"\n  RCP: {'pass' if b.rcp.passed else 'FAIL'} - {b.rcp.message}")
    if b.seeds is not None:
        lines.append(f"\n  seeds: {b.seeds.summary()}")
    for p in b.problems:
        lines.append(f"\n  problem: {p}", style="red")
    for n in b.notes:
        lines.append(f"\n  note: {n}", style="yellow")
    return lines


def render_score(result: SuiteScore) -> Group:
    parts = [
        Text(
            f"suite {result.suite.name}  ruleset {result.ruleset}  compliance {result.compliance}",
            style="bold",
        )
    ]
    for b in result.benchmarks.values():
        parts += [benchmark_table(b), benchmark_summary(b), Text("")]
    for name in result.missing:
        parts.append(Text(f"{name}: no results found", style="red"))
    score = result.score
    if score is None:
        parts.append(Text(f"score ({result.suite.formula_text()}): none", style="bold red"))
    else:
        terms = " + ".join(
            f"{spec.weight:g}/{result.benchmarks[n].minutes:.6f}"
            for n, spec in result.suite.benchmarks.items()
        )
        parts.append(
            Text(f"score ({result.suite.formula_text()}) = {terms} = {score:.6f}", style="bold")
        )
    return Group(*parts)


def _plain(console: Console, text: str) -> None:
    """A line of free text (paths, checker messages): no markup, never wrapped."""
    console.print(text, highlight=False, markup=False, soft_wrap=True)


def _score_text(score: float | None) -> str:
    return "none (invalid)" if score is None else f"{score:.6f}"


def print_filled_cells(filled: list[FilledCell], err: Console) -> None:
    """The cells of the RFP workbook that were filled, one a line."""
    for cell in filled:
        shown = cell.value if not isinstance(cell.value, str) else cell.value[:60]
        _plain(err, f"  {cell.column} {cell.coordinate} {cell.key} = {shown!r}")


def print_reports(written: WrittenReports, out: Console) -> None:
    for kind, path in written.written:
        out.print(f"{kind}: {path}", highlight=False)
    out.print(f"score ({written.formula}): {_score_text(written.score)}", highlight=False)


def print_package(bundle: dict, out: Console, err: Console) -> None:
    """A bundle as ``gp2bm package --json`` gives it."""
    out.print(f"bundle: {bundle['bundle']} ({bundle['files']} files)", highlight=False)
    check = bundle["package_checker"]
    verdict = "pass" if check["passed"] else ("not run" if not check["ran"] else "FAIL")
    out.print(f"MLCommons package checker: {verdict}", highlight=False)
    if bundle["rcp_bypass"]:
        out.print(
            f"RCP bypass (suite turns RCP off): {', '.join(bundle['rcp_bypass'])}",
            highlight=False,
        )
    out.print(f"score: {_score_text(bundle['score'])}", highlight=False)
    for item in bundle["incomplete"]:
        _plain(err, f"incomplete: {item}")
    for item in bundle["problems"]:
        _plain(err, f"problem: {item}")


def print_verification(verification: dict, out: Console) -> None:
    """A verification as ``gp2bm verify --json`` gives it."""
    checked = verification["checked"]
    out.print(
        f"{verification['bundle']}: {checked.get('files', 0)} files, "
        f"{checked.get('runs', 0)} runs checked; "
        f"package checker {checked.get('package_checker', 'not run')}",
        highlight=False,
    )
    for d in verification["differences"]:
        _plain(out, f"  differs: {d}")
    for p in verification["problems"]:
        _plain(out, f"  problem: {p}")
    if verification["ok"]:
        out.print(f"verified: score {verification['score']:.6f}", highlight=False)
