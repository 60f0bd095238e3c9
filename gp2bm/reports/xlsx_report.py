"""gp2bm's own workbook: Summary, Runs (with a chart of per-run times), Inventory,
Compliance and Telemetry sheets, written with openpyxl.

Numbers are stored as numbers (with a display format), never as text, so that the
evaluator can compute with them; text is always a string cell, never a formula
(``celltext``). The Summary sheet gives each benchmark's official result (the olympic mean
times the scaling factor) with the unscaled mean, the factor and why beside it, then its
95 % interval (``results.spread``) and MLPerf's stated variance; the score's interval is on
the row below the score. ``gp2bm verify`` builds the workbook again from the bundled logs
(``build_workbook``) and compares every cell and part (``evaluation.workbookshape``).
"""

from __future__ import annotations

import io
from pathlib import Path

from gp2bm.files.atomic import write_bytes_atomic
from gp2bm.reports.celltext import put_value
from gp2bm.reports.completeness import banner_text, incomplete
from gp2bm.reports.nested import flatten
from gp2bm.reports.official import energy_text, typed_minutes, typed_score, typed_seconds
from gp2bm.reports.software import software
from gp2bm.reports.view import CampaignView, RunView, images_used, submission_fixes
from gp2bm.results.scoring import RunRole

ROLE_COLOURS = {RunRole.COUNTED: "2E7D32", RunRole.FAILED: "C62828"}
DROPPED_COLOUR = "9E9E9E"
HEADER_FILL = "DDE4EE"
# Where verify reads the claimed score back.
SUMMARY_SCORE_LABEL = "score"
SUMMARY_INTERVAL_LABEL = "score 95 % interval"


def _colour(role: RunRole) -> str:
    return ROLE_COLOURS.get(role, DROPPED_COLOUR)


def _header(ws, row: int, names: list[str]) -> None:
    from openpyxl.styles import Font, PatternFill  # heavy: openpyxl

    for col, name in enumerate(names, 1):
        cell = ws.cell(row=row, column=col, value=name)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor=HEADER_FILL)


def _widths(ws, widths: list[int]) -> None:
    from openpyxl.utils import get_column_letter  # heavy: openpyxl

    for i, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = w


def _cell_value(value):
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # heavy: openpyxl

    if value is None or isinstance(value, (int, float, bool)):
        return value
    # control characters (from a tool's raw output) make openpyxl refuse the cell
    return ILLEGAL_CHARACTERS_RE.sub("", str(value))


def _put(ws, row: int, column: int, value):
    """Write a value: a number as a number, text as text (never a formula); the cell."""
    cell = ws.cell(row=row, column=column)
    put_value(cell, _cell_value(value))
    return cell


def _summary(wb, view: CampaignView) -> None:
    from openpyxl.styles import Font  # heavy: openpyxl

    ws = wb.active
    ws.title = "Summary"
    score = view.score
    put_value(ws["A1"], f"{score.suite.title or score.suite.name}: MLPerf Training results")
    ws["A1"].font = Font(bold=True, size=14)
    gaps = incomplete(view)
    if gaps:
        put_value(ws["A2"], banner_text(gaps))
        ws["A2"].font = Font(bold=True, color="C62828")
    rows = [
        ("suite", score.suite.name),
        ("formula", score.suite.formula_text()),
        ("ruleset", score.ruleset),
        ("compliance", score.compliance),
        ("organisation", view.org),
        ("system", view.system),
        ("nodes", score.suite.nodes),
        ("runtime", view.meta.runtime),
        ("campaign created", view.meta.created or None),
        ("report generated", view.generated),
        ("gp2bm", view.gp2bm_version),
    ]
    r = 3
    for label, value in rows:
        ws.cell(row=r, column=1, value=label).font = Font(bold=True)
        _put(ws, r, 2, value)
        r += 1
    r = _summary_results(ws, view, r + 1)
    r += 1
    ws.cell(row=r, column=1, value=SUMMARY_SCORE_LABEL).font = Font(bold=True, size=13)
    cell = ws.cell(row=r, column=2, value=typed_score(score.score))
    cell.number_format = "0.000000"
    cell.font = Font(bold=True, size=13)
    ws.cell(row=r, column=3, value="valid" if score.valid else "INVALID: no score")
    r = _score_interval_row(ws, view, r + 1)
    r += 1
    problems = [f"{n}: {p}" for n, b in score.benchmarks.items() for p in b.problems]
    problems += [f"{n}: no results" for n in score.missing]
    for text in problems:
        ws.cell(row=r, column=1, value="problem").font = Font(bold=True, color="C62828")
        _put(ws, r, 2, text)
        r += 1
    _widths(ws, [20, 22, 14, 10, 8, 10, 10, 22, 12, 60, 16, 16, 16])


def _score_interval_row(ws, view: CampaignView, r: int) -> int:
    """The score's 95 % interval (its low and high end; text where it has no lower end),
    on row ``r`` when there is a score; returns the next free row."""
    from openpyxl.styles import Font  # heavy: openpyxl

    interval = view.score.score_interval
    if interval is None:
        return r
    ws.cell(row=r, column=1, value=SUMMARY_INTERVAL_LABEL).font = Font(bold=True)
    low = _put(ws, r, 2, typed_score(interval.low) if interval.low is not None else "no lower end")
    low.number_format = "0.000000"
    high = typed_score(interval.high) if interval.high is not None else "no upper end"
    _put(ws, r, 3, high).number_format = "0.000000"
    _put(ws, r, 4, "joint bootstrap of the benchmarks (see Runs)")
    return r + 1


SUMMARY_HEADER = ["benchmark", "minutes", "seconds", "valid", "runs", "required", "scaling"]
SUMMARY_HEADER += ["unscaled minutes", "source", "why this scaling"]
SUMMARY_HEADER += ["95 % interval from (min)", "95 % interval to (min)", "MLPerf stated variance"]
SUMMARY_HEADER += ["energy (kWh)", "energy, as measured"]


def _summary_results(ws, view: CampaignView, r: int) -> int:
    """Each benchmark's official result and, beside it, the unscaled olympic mean, the
    scaling factor and why; returns the next free row."""
    score = view.score
    _header(ws, r, SUMMARY_HEADER)
    r += 1
    for name, spec in score.suite.benchmarks.items():
        b = score.benchmarks.get(name)
        _put(ws, r, 1, name)
        if b is not None:
            _put(ws, r, 2, typed_minutes(b.minutes)).number_format = "0.000"
            _put(ws, r, 3, typed_seconds(b.minutes)).number_format = "0.000"
            _put(ws, r, 4, "yes" if b.valid else "no")
            _put(ws, r, 5, len(b.runs))
            _put(ws, r, 7, b.scaling_factor)
            _put(ws, r, 8, typed_minutes(b.mean)).number_format = "0.000"
            _put(ws, r, 9, b.scaling_source)
            _put(ws, r, 10, b.scaling_reason)
            _interval_cells(ws, r, b)
            if b.energy is not None:
                _put(ws, r, 14, b.energy.kwh).number_format = "0.000000"
                _put(ws, r, 15, energy_text(b.energy))
        else:
            _put(ws, r, 4, "no results")
        _put(ws, r, 6, spec.runs)
        r += 1
    return r


def _interval_cells(ws, r: int, b) -> None:
    """A benchmark's 95 % interval (text where an end is missing) and MLPerf's stated
    variance, in columns 11 to 13 of its Summary row."""
    interval = b.interval
    if interval.low is None:
        _put(ws, r, 11, f"none ({interval.reason})")
    else:
        _put(ws, r, 11, typed_minutes(interval.low)).number_format = "0.000"
        if interval.high is None:
            _put(ws, r, 12, f"no upper end ({interval.reason})")
        else:
            _put(ws, r, 12, typed_minutes(interval.high)).number_format = "0.000"
    _put(ws, r, 13, b.stated_variance.fraction).number_format = "0.0%"


def _run_values(name: str, run: RunView) -> list:
    s = run.score
    rec = run.record
    best = s.log.best_accuracy if s.log is not None else None
    return [
        name,
        run.index,
        s.file,
        s.seed,
        typed_minutes(s.minutes),
        typed_seconds(s.minutes),
        s.status,
        s.role,
        best,
        rec.image if rec is not None else None,
        rec.start if rec is not None else None,
        rec.stop if rec is not None else None,
        # the reasons, then the relaxed container options (seccomp=unconfined, ...)
        "; ".join(
            s.reasons + ([f"container: {', '.join(rec.relaxed)}"] if rec and rec.relaxed else [])
        ),
    ]


def _runs(wb, view: CampaignView) -> None:
    from openpyxl.styles import Font  # heavy: openpyxl

    ws = wb.create_sheet("Runs")
    names = ["benchmark", "run", "file", "seed", "minutes", "seconds", "status", "verdict"]
    names += ["best accuracy", "image", "start", "stop", "reasons"]
    _header(ws, 1, names)
    r = 2
    blocks = []
    for name, runs in view.runs.items():
        first = r
        for run in runs:
            for col, value in enumerate(_run_values(name, run), 1):
                cell = _put(ws, r, col, value)
                if col in (5, 6) and value is not None:
                    cell.number_format = "0.000"
                elif col == 9 and value is not None:
                    cell.number_format = "0.0000"
            ws.cell(row=r, column=8).font = Font(color=_colour(run.score.role), bold=True)
            r += 1
        blocks.append((name, first, r - 1, runs))
    _widths(ws, [10, 5, 14, 12, 11, 11, 10, 18, 13, 36, 30, 30, 50])
    ws.freeze_panes = "A2"
    _run_charts(ws, blocks)


def _run_charts(ws, blocks: list[tuple[str, int, int, list[RunView]]]) -> None:
    """One bar chart per benchmark; each bar coloured by what the olympic mean did with it."""
    from openpyxl.chart import BarChart, Reference  # heavy: openpyxl
    from openpyxl.chart.marker import DataPoint  # heavy: openpyxl
    from openpyxl.styles import Font  # heavy: openpyxl

    ws["O1"] = (
        "Bars: green counted in the olympic mean, grey dropped (fastest, slowest), red failed"
    )
    ws["O1"].font = Font(italic=True)
    anchor_row = 2
    for name, first, last, runs in blocks:
        if last < first:
            continue
        chart = BarChart()
        chart.type = "col"
        chart.title = f"{name}: seconds per run"
        chart.y_axis.title = "seconds"
        chart.x_axis.title = "run"
        chart.x_axis.delete = chart.y_axis.delete = False  # else some viewers hide the axes
        chart.legend = None
        # seconds: a run's exact time (minutes to three decimals hide short runs' spread)
        data = Reference(ws, min_col=6, min_row=first, max_row=last)
        cats = Reference(ws, min_col=2, min_row=first, max_row=last)
        chart.add_data(data, titles_from_data=False)
        chart.set_categories(cats)
        series = chart.series[0]
        for i, run in enumerate(runs):
            point = DataPoint(idx=i)
            point.graphicalProperties.solidFill = _colour(run.score.role)
            point.graphicalProperties.line.solidFill = _colour(run.score.role)
            series.dPt.append(point)
        chart.width, chart.height = 18, 7.5
        ws.add_chart(chart, f"O{anchor_row}")
        anchor_row += 16


def _inventory(wb, view: CampaignView) -> None:
    ws = wb.create_sheet("Inventory")
    _header(ws, 1, ["part", "key", "value"])
    r = 2

    def put(part, key, value):
        nonlocal r
        text = _cell_value(value)
        if isinstance(text, str) and len(text) > 32000:  # a cell holds at most 32767 chars
            text = text[:32000] + " [cut]"
        _put(ws, r, 1, part)
        _put(ws, r, 2, key)
        _put(ws, r, 3, text)
        r += 1

    for name, ver in software(view):
        put("software", name, ver)
    for bench, images in images_used(view).items():
        for img in images:
            put("images", bench, f"{img.image} id {img.image_id} ({img.runs} runs)")
    if view.system_desc is not None:
        for key, value in flatten(view.system_desc):
            put("system description", key, value)
    else:
        put("system description", "", f"absent ({view.relative(view.system_desc_path)})")
    if view.inventory is not None:
        for key, value in flatten(view.inventory):
            put("inventory", key, value)
    else:
        put("inventory", "", "absent (no inventory.json)")
    _widths(ws, [20, 45, 80])


def _compliance(wb, view: CampaignView) -> None:
    ws = wb.create_sheet("Compliance")
    _header(ws, 1, ["benchmark", "check", "subject", "passed", "detail", "fix"])
    r = 2

    def put(*values):
        nonlocal r
        for col, value in enumerate(values, 1):
            _put(ws, r, col, value)
        r += 1

    for name, b in view.score.benchmarks.items():
        fixes = submission_fixes(view, name)
        for run in b.runs:
            fix = fixes.get(run.file)
            if run.compliance is None:
                put(name, "compliance", run.file, "not run", "", fix)
            else:
                put(
                    name,
                    "compliance",
                    run.file,
                    "yes" if run.compliance.passed else "no",
                    "; ".join(run.compliance.messages),
                    fix,
                )
        if b.seeds is not None:
            put(name, "seeds", "all runs", "yes" if b.seeds.passed else "no", b.seeds.summary())
        if b.rcp is not None:
            put(name, "RCP", "all runs", "yes" if b.rcp.passed else "no", b.rcp.message)
        else:
            put(name, "RCP", "all runs", "not run", "the suite turns the RCP check off")
        for p in b.problems:
            put(name, "result", "", "no", p)
        for n in b.notes:
            put(name, "note", "", "", n)
    _widths(ws, [10, 12, 14, 8, 100, 60])


def _telemetry(wb, view: CampaignView) -> None:
    ws = wb.create_sheet("Telemetry")
    _header(ws, 1, ["benchmark", "run", "source", "quantity", "min", "mean", "max", "value"])
    r = 2
    for name, runs in view.runs.items():
        for run in runs:
            if run.telemetry is not None:
                for quantity, stats in run.telemetry.summary().items():
                    values: list[object] = [name, run.index, run.telemetry.path.name, quantity]
                    values += [stats["min"], stats["mean"], stats["max"]]
                    for col, value in enumerate(values, 1):
                        _put(ws, r, col, value)
                    r += 1
            summary = run.record.telemetry if run.record is not None else None
            if isinstance(summary, dict):
                for key, value in flatten(summary):
                    values = [name, run.index, "run record", key, None, None, None, value]
                    for col, v in enumerate(values, 1):
                        _put(ws, r, col, v)
                    r += 1
    if r == 2:
        ws.cell(row=2, column=1, value="no telemetry in this campaign")
    _widths(ws, [10, 5, 18, 32, 12, 12, 12, 30])


def build_workbook(view: CampaignView):
    """The workbook of a campaign, in memory."""
    from openpyxl import Workbook  # heavy: openpyxl

    wb = Workbook()
    _summary(wb, view)
    _runs(wb, view)
    _inventory(wb, view)
    _compliance(wb, view)
    _telemetry(wb, view)
    return wb


def workbook_bytes(wb) -> bytes:
    """A workbook saved in memory: a failing write then fails once, in plain sight (openpyxl
    writing to a full device leaves a half-closed zip that complains again at exit)."""
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write_xlsx(view: CampaignView, path: Path) -> Path:
    data = workbook_bytes(build_workbook(view))
    return write_bytes_atomic(Path(path), data)


def cell_values(wb) -> dict[str, list[tuple]]:
    """Every sheet's cell values, row by row (charts and styles left aside)."""
    return {ws.title: [tuple(row) for row in ws.iter_rows(values_only=True)] for ws in wb}


def summary_value(wb, label: str):
    """What the Summary sheet gives for ``label`` ("report generated", "gp2bm"), or None."""
    for row in wb["Summary"].iter_rows(min_col=1, max_col=2, values_only=True):
        if row and row[0] == label:
            return row[1]
    return None


def read_claimed_score(path: Path) -> tuple[bool, float | None]:
    """(found, score) as the Summary sheet of a workbook written here states it (score None
    when its cell holds no number)."""
    from openpyxl import load_workbook  # heavy: openpyxl

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb["Summary"]
        for row in ws.iter_rows(min_col=1, max_col=2, values_only=True):
            if row and row[0] == SUMMARY_SCORE_LABEL:
                value = row[1]
                if isinstance(value, int | float) and not isinstance(value, bool):
                    return True, value
                return True, None
    finally:
        wb.close()
    return False, None
