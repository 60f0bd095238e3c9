"""Human-readable rendering of a SuiteScore (the data model stays in scoring.py)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

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
    lines.append(f" x scaling {b.scaling_factor:g} ({b.scaling_source})")
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
