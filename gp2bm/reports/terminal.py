"""What the commands print for a person: the score of a campaign, the reports written, a
hand-in bundle and its verification. The data stays where it is computed; a bundle and a
verification are rendered from the same object their ``--json`` prints."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from gp2bm.files.plaintext import printable, terminal_line
from gp2bm.reports.official import energy_text, factor_text, score_spread_text, spread_text
from gp2bm.results.ledger import Ledger
from gp2bm.results.scoring import BenchmarkScore, RunRole, SuiteScore
from gp2bm.results.spread import METHOD

if TYPE_CHECKING:  # names for the annotations only: `gp2bm score` need not load the writers
    from pathlib import Path

    from gp2bm.reports.rfp_workbook import FilledCell
    from gp2bm.reports.writer import WrittenReports


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _why(r) -> str:
    why = "; ".join(r.reasons)
    if not why and r.compliance is not None and not r.compliance.passed:
        why = "compliance (reported only): " + "; ".join(r.compliance.messages)
    return why


# One name per duration: the time to train is a log's (run_start to run_stop, what
# MLPerf scores); "wall" is gp2bm's own clock of a whole run (launch to exit, start-up
# included: status, run records' ``seconds``).
TRAIN_CAPTION = "min, s: the log's time to train (run_start to run_stop), what MLPerf scores"


def benchmark_table(b: BenchmarkScore) -> Table:
    """The runs of a benchmark; the "why" column only when a run has a reason to show."""
    whys = [_why(r) for r in b.runs]
    table = Table(title=Text(printable(b.benchmark, 200)), title_justify="left", expand=False,
                  caption=TRAIN_CAPTION, caption_justify="left")  # fmt: skip
    table.add_column("run", no_wrap=True)
    table.add_column("min", justify="right", no_wrap=True)
    table.add_column("s", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("seed", justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    if any(whys):
        table.add_column("why", overflow="fold")
    for r, why in zip(b.runs, whys, strict=True):
        counted, failed = r.role == RunRole.COUNTED, r.role == RunRole.FAILED
        style = "green" if counted else ("red" if failed else "yellow")
        row: list[str | Text] = [
            Text(printable(r.file, 200)),
            _fmt(r.minutes),
            "-" if r.minutes is None else f"{r.minutes * 60:.3f}",
            Text(printable(r.status, 60)),
            "-" if r.seed is None else str(r.seed),
            Text(r.role, style=style),
        ]
        table.add_row(*row, *([Text(terminal_line(why))] if any(whys) else []))
    return table


def _unbroken(text: str, style: str = "") -> Text:
    """A line a terminal may wrap but rich never breaks (a path stays one token to copy)."""
    return Text(text, style=style, no_wrap=True, overflow="ignore")


def benchmark_summary(b: BenchmarkScore) -> Text:
    """The official result (olympic mean x scaling factor), the unscaled mean beside it and
    why the factor is what it is."""
    lines = Text()
    lines.append(f"  olympic mean {_fmt(b.mean, 6)} min (unscaled)")
    lines.append(f" x scaling {factor_text(b)}")
    lines.append(f"\n  = {_fmt(b.minutes, 6)} min", style="bold")
    if b.minutes is not None:
        lines.append(f" = {b.minutes * 60:.3f} s", style="bold")
    lines.append(
        "  VALID" if b.valid else "  INVALID", style="bold green" if b.valid else "bold red"
    )
    lines.append(f"\n  {spread_text(b)}")
    lines.append(f"\n  scaling: {terminal_line(b.scaling_reason)}")
    if b.rcp is not None:
        lines.append(
            f"\n  RCP: {'pass' if b.rcp.passed else 'FAIL'} - {terminal_line(b.rcp.message)}"
        )
    if b.seeds is not None:
        lines.append(f"\n  seeds: {b.seeds.summary()}")
    if b.energy is not None:
        lines.append(f"\n  energy: {energy_text(b.energy)}")
    for p in b.problems:
        lines.append(f"\n  problem: {terminal_line(p)}", style="red")
    for n in b.notes:
        lines.append(f"\n  note: {terminal_line(n)}", style="yellow")
    return lines


def render_score(result: SuiteScore) -> Group:
    parts: list[Text | Table] = [
        Text(
            f"suite {result.suite.name}  ruleset {result.ruleset}  compliance {result.compliance}",
            style="bold",
        )
    ]
    for b in result.benchmarks.values():
        parts += [benchmark_table(b), _unbroken(f"  logs: {b.folder}", "dim")]
        parts += [benchmark_summary(b), Text("")]
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
        parts.append(Text(f"  {score_spread_text(result)}"))
    if result.benchmarks:
        parts.append(Text(f"interval: {METHOD}", style="dim"))
    return Group(*parts)


def print_ledger(ledger: Ledger, console: Console) -> None:
    """The trust ledger, one line each (reservations named)."""
    for line in ledger.lines():
        print_plain(console, f"ledger: {line}")


def print_plain(console: Console, text: str) -> None:
    """The one way a command prints a line holding text from a log, a bundle, a record or a
    checker: escaped and cut (``files.plaintext.terminal_line``), no rich markup, no
    highlighting, never wrapped."""
    console.print(terminal_line(text), highlight=False, markup=False, emoji=False, soft_wrap=True)


def _score_text(score: float | None, interval: dict | None = None) -> str:
    if score is None:
        return "none (invalid)"
    if interval is None:
        return f"{score:.6f}"
    low = "no lower end" if interval.get("low") is None else f"{interval['low']:.6f}"
    high = "no upper end" if interval.get("high") is None else f"{interval['high']:.6f}"
    return f"{score:.6f} (95 % interval {low} to {high})"


PREVIEW = 60  # characters of a filled text cell shown


def print_filled_cells(
    filled: list[FilledCell], err: Console, workbook: Path | None = None, sheet: str = ""
) -> None:
    """The cells of the RFP workbook that were filled, one a line, under a line naming the
    file and its tab (the banner is warned of with the reports' other gaps)."""
    if filled:
        where = f"{workbook}, " if workbook is not None else ""
        print_plain(err, f"filled {where}tab '{sheet}' (the template itself is unchanged):")
    for cell in filled:
        if cell.column == "Banner":
            print_plain(err, f"  {cell.coordinate}: the INCOMPLETE banner")
            continue
        shown = cell.value
        if isinstance(shown, str) and len(shown) > PREVIEW:
            shown = shown[: PREVIEW - 1] + "…"
        print_plain(err, f"  {cell.column} {cell.coordinate} {cell.key} = {shown!r}")


def print_incomplete(gaps: list[str], err: Console) -> None:
    """What keeps the reports from a hand-in, one warning a line."""
    for gap in gaps:
        print_plain(err, f"warning: incomplete: {gap}")


def print_next(err: Console, what: str, elapsed: float | None = None) -> None:
    """The last line of a long command: how long it took, and what to do next."""
    took = "" if elapsed is None else f"done in {elapsed:.1f} s; "
    print_plain(err, f"{took}next: {what}")


def _print_results(benchmarks: dict[str, dict], out: Console) -> None:
    """Each benchmark's official result, its unscaled mean and the reason for the factor, as
    ``official.official_summary`` gives them."""
    for name, b in benchmarks.items():
        official = "none" if b["minutes"] is None else f"{b['minutes']:.6f} min"
        unscaled = "none" if b["unscaled_minutes"] is None else f"{b['unscaled_minutes']:.6f}"
        factor = "none" if b["scaling_factor"] is None else f"{b['scaling_factor']:.6g}"
        print_plain(
            out,
            f"{name}: {official} (olympic mean {unscaled} min x scaling {factor} "
            f"({b['scaling_source']}): {b['scaling_reason']}); {_interval_text(b)}",
        )


def _interval_text(b: dict) -> str:
    """A benchmark's 95 % interval as ``official_summary`` gives it, in a few words."""
    interval = b.get("interval") or {}
    low, high = interval.get("low"), interval.get("high")
    if low is None:
        return f"95 % interval none ({interval.get('reason') or 'no result'})"
    if high is None:
        return f"95 % interval {low:.6f} min to no upper end ({interval.get('reason')})"
    return f"95 % interval {low:.6f} to {high:.6f} min"


def print_reports(written: WrittenReports, out: Console) -> None:
    for kind, path in written.written:
        print_plain(out, f"{kind}: {path}")
    _print_results(written.benchmarks, out)
    score = _score_text(written.score, written.score_interval)
    print_plain(out, f"score ({written.formula}): {score}")


def print_package(bundle: dict, out: Console, err: Console) -> None:
    """A bundle as ``gp2bm package --json`` gives it."""
    print_plain(out, f"bundle: {bundle['bundle']} ({bundle['files']} files)")
    check = bundle["package_checker"]
    verdict = "pass" if check["passed"] else ("not run" if not check["ran"] else "FAIL")
    print_plain(out, f"MLCommons package checker: {verdict}")
    if bundle["rcp_bypass"]:
        print_plain(out, f"RCP bypass (suite turns RCP off): {', '.join(bundle['rcp_bypass'])}")
    _print_results(bundle.get("benchmarks") or {}, out)
    print_plain(out, f"score: {_score_text(bundle['score'])}")
    for item in bundle["incomplete"]:
        print_plain(err, f"incomplete: {item}")
    for item in bundle.get("secrets_in_logs") or []:
        print_plain(err, f"warning: a log shows a secret: {item}")
    for item in bundle["problems"]:
        print_plain(err, f"problem: {item}")


def _reference_line(reference: dict) -> str:
    rules = reference.get("rules") or {}
    runs = ", ".join(
        f"{name} x{b['runs']} to {b['target']} (weight {b['weight']})"
        for name, b in (rules.get("benchmarks") or {}).items()
    )
    return (
        f"rules: {reference.get('source', '?')}: {runs}; ruleset {rules.get('ruleset')}, "
        f"{rules.get('nodes')} node(s), compliance {rules.get('compliance')}, RCP "
        f"{'checked' if rules.get('rcp') else 'off'}"
    )


def print_verification(verification: dict, out: Console) -> None:
    """A verification as ``gp2bm verify --json`` gives it: what was recomputed, by which
    rules, the ledger, each finding with its class (``docs/VERIFY.md``), the verdict."""
    checked = verification["checked"]
    print_plain(
        out,
        f"{verification['bundle']}: recomputed from {checked.get('runs', 0)} logs "
        f"({checked.get('files', 0)} files, SHA256SUMS, times, olympic means, scaling, "
        f"score, compliance, seeds, RCP; package checker "
        f"{checked.get('package_checker', 'not run')}); cross-checked logs, records, "
        "attempts, gp2bm's own lines, the hardware",
    )
    if verification.get("reference"):
        print_plain(out, "  " + _reference_line(verification["reference"]))
    for line in verification.get("ledger_lines") or []:
        print_plain(out, f"  ledger: {line}")
    for f in verification["findings"]:
        mark = " (accepted)" if f.get("accepted") else ""
        print_plain(out, f"  {f['class']}{mark}: {f['text']}")
    _print_results(verification.get("benchmarks") or {}, out)
    if checked.get("plausibility"):
        print_plain(out, f"  against the published results: {checked['plausibility']}")
    print_plain(out, f"  not provable from a bundle: {verification['not_provable']}")
    if verification["ok"]:
        accepted_names = verification.get("accepted") or []
        also = f" (accepting {', '.join(accepted_names)})" if accepted_names else ""
        score = _score_text(verification["score"], verification.get("score_interval"))
        print_plain(out, f"verified{also}: score {score}")
