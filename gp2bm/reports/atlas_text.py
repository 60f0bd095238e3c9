"""What ``gp2bm atlas`` and ``gp2bm expect`` print: published results as a table or CSV, an
expectation with the results it rests on. Text from the published repositories (names,
frameworks) is shown escaped (``printable``), never read as markup; in the CSV, text that
starts like a formula gets an apostrophe (``celltext``)."""

from __future__ import annotations

import csv
import io

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from gp2bm.atlas.expectation import BenchmarkExpectation, Expectation
from gp2bm.atlas.table import AtlasRow
from gp2bm.files.plaintext import printable
from gp2bm.reports.celltext import csv_text

CSV_COLUMNS = [
    "round",
    "submitter",
    "system",
    "benchmark",
    "division",
    "availability",
    "accelerator",
    "accelerator_published",
    "accelerators_per_node",
    "nodes",
    "count",
    "host_cpu",
    "framework",
    "minutes",
    "unscaled_minutes",
    "scaling_factor",
    "runs",
    "failed_runs",
    "init_minutes",
    "source",
    "commit",
]
NUMBER_COLUMNS = set(
    "accelerators_per_node nodes count minutes unscaled_minutes scaling_factor runs "
    "failed_runs init_minutes".split()
)
SHOWN_CHARS = 48


def _num(value: float | int | None) -> str:
    return "" if value is None else repr(value)


def _csv_row(row: AtlasRow) -> dict[str, str]:
    values = row.as_dict()
    values["runs"] = len(row.runs)
    values["failed_runs"] = sum(r.failed for r in row.runs)
    return {
        c: _num(values[c]) if c in NUMBER_COLUMNS else csv_text(str(values[c])) for c in CSV_COLUMNS
    }


def atlas_csv(rows: list[AtlasRow]) -> str:
    """The rows as CSV, one line each, numbers as Python writes them (exact)."""
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(_csv_row(row) for row in rows)
    return buf.getvalue()


def _text(value: object, limit: int = SHOWN_CHARS) -> Text:
    return Text(printable(value, limit))


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def atlas_table(rows: list[AtlasRow], title: str) -> Table:
    """One line per result set; long names cut to fit a terminal (--csv and --json have
    every column whole)."""
    table = Table(title=title, title_justify="left", box=None, padding=(0, 1, 0, 0))
    table.add_column("round", no_wrap=True, min_width=5)
    table.add_column("result set", no_wrap=True, overflow="ellipsis", max_width=28)
    table.add_column("bench", no_wrap=True, min_width=6)
    table.add_column("div", no_wrap=True, min_width=6)
    table.add_column("accelerator", no_wrap=True, overflow="ellipsis", max_width=14)
    table.add_column("nodes", no_wrap=True, min_width=5)
    table.add_column("minutes", justify="right", no_wrap=True, min_width=7)
    for row in rows:
        table.add_row(
            row.round,
            _text(f"{row.submitter} {row.system}"),
            row.benchmark,
            row.division,
            _text(row.accelerator or "(none)"),
            f"{_num(row.nodes) or '?'}x{_num(row.accelerators_per_node) or '?'}",
            _minutes(row.minutes),
        )
    return table


def _used_table(b: BenchmarkExpectation) -> Table:
    """The results an expectation rests on, one line each: the round (and how many rounds
    from the target), the result set, nodes x accelerators, the published minutes and the
    software; long names cut to fit a terminal (the JSON has them whole)."""
    table = Table(box=None, padding=(0, 1, 0, 0), show_edge=False)
    table.add_column("  round", no_wrap=True, min_width=10)
    table.add_column("result set", no_wrap=True, overflow="ellipsis", max_width=32)
    table.add_column("nodes", no_wrap=True, min_width=5)
    table.add_column("minutes", justify="right", no_wrap=True, min_width=7)
    table.add_column("software", no_wrap=True, overflow="ellipsis", max_width=28)
    for u in b.used:
        r = u.row
        table.add_row(
            f"  {r.round} ({u.rounds_away})",
            _text(f"{r.submitter} {r.system}"),
            f"{_num(r.nodes)}x{_num(r.accelerators_per_node)}",
            _minutes(r.minutes),
            _text(r.framework),
        )
    return table


def _benchmark_lines(b: BenchmarkExpectation) -> list[RenderableType]:
    if b.minutes is None:
        return [Text(f"{b.benchmark}: {b.explanation}", style="bold red")]
    head = Text(f"{b.benchmark}: {b.minutes:.2f} min", style="bold")
    head.append(f" (range {b.low:.2f} to {b.high:.2f}, {len(b.used)} result(s); {b.basis})")
    lines: list[RenderableType] = [head, Text(f"  {b.explanation}")]
    scaled = "" if b.alpha is None else ", each scaled as said"
    lines.append(Text(f"  results used (round, rounds away from {b.target_round}{scaled}):"))
    lines.append(_used_table(b))
    init = "no initialisation measured" if b.init_minutes is None else f"{b.init_minutes:.2f}"
    what = "overhead" if b.overhead_measured else "init"
    if b.node_minutes is not None:
        lines.append(
            Text(
                f"  node time: {b.runs} runs x ({b.minutes:.2f} + {init} {what}) = "
                f"{b.node_minutes:.1f} min ({what}: {b.init_source})"
            )
        )
    return lines


def expectation_view(e: Expectation, formula: str) -> Group:
    """An expectation for a person: each benchmark, the results used, score and node time."""
    nodes = "any number of nodes" if e.nodes is None else f"{e.nodes} node(s)"
    known = "" if e.accelerator_known else " (a name the atlas's table of spellings lacks)"
    parts: list[RenderableType] = [
        Text(f"{e.count}x {printable(e.accelerator, 80)}{known} on {nodes}, suite {e.suite}"),
        Text(f"rule: {e.rule}", style="dim"),
    ]
    for b in e.benchmarks.values():
        parts.append(Text(""))
        parts.extend(_benchmark_lines(b))
    parts.append(Text(""))
    if e.score is None:
        parts.append(Text("expected RFP score: cannot tell (a benchmark has no expectation)"))
    else:
        parts.append(
            Text(
                f"expected RFP score: {formula} = {e.score:.4f} (range {e.score_low:.4f} to "
                f"{e.score_high:.4f})",
                style="bold",
            )
        )
    if e.node_minutes is not None:
        measured = all(b.overhead_measured for b in e.benchmarks.values())
        why = (
            "each run's overhead as the campaign measured it"
            if measured
            else "a lower bound: container start, data staging and the time between runs are "
            "in no published log; --overheads-from CAMPAIGN measures them"
        )
        parts.append(
            Text(
                f"campaign node time: {e.node_minutes:.0f} min = {e.node_minutes / 60:.1f} h "
                f"({why})"
            )
        )
    return Group(*parts)
