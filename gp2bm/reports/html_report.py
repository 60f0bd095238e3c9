"""The HTML report: one self-contained page, readable offline.

Inline CSS, plots as inline base64 PNG drawn with matplotlib's Agg canvas (no pyplot, no
global backend switch, no display), no script, no external resource. The page shows the
score, each benchmark's result and runs (dropped runs marked), the eval-accuracy curve of
every run, telemetry when the campaign has any, the inventory and the compliance results.
What the page claims is also embedded as JSON (``<script type="application/json"
id="gp2bm-claims">``, inert data) so that ``gp2bm verify`` can compare it; verify also renders
the page again from the bundled logs without drawing (``render_html(view, draw=False)``:
each plot a placeholder) and compares every character but the plots' pixels.

Each benchmark's result is the official number (the olympic mean times the scaling factor);
the unscaled mean, the factor and why are beside it, and how far it could move: its 95 %
interval from its runs (``results.spread``), drawn as an error bar (an inline SVG in the
results table, on the stated variance's band; in the run-time plot, at the olympic mean).
"""

from __future__ import annotations

import base64
import io
import json
import re
from html import escape, unescape
from pathlib import Path

from gp2bm.atlas import load_atlas
from gp2bm.atlas.claims import claimed_accelerator
from gp2bm.campaign.layout import run_number
from gp2bm.files.atomic import write_text_atomic
from gp2bm.node.systemdesc import is_placeholder
from gp2bm.reports.claims import claims
from gp2bm.reports.completeness import BANNER_TITLE, incomplete
from gp2bm.reports.humanize import human_value
from gp2bm.reports.nested import flatten
from gp2bm.reports.node_text import summary_rows
from gp2bm.reports.official import (
    SCORE_DECIMALS,
    energy_text,
    factor_text,
    scaled,
    score_spread_text,
)
from gp2bm.reports.software import software
from gp2bm.reports.telemetry import Telemetry
from gp2bm.reports.view import CampaignView, images_used, submission_fixes
from gp2bm.results.energy import PowerLog, read_power_log
from gp2bm.results.scoring import (
    BenchmarkScore,
    RunRole,
    SuiteScore,
)
from gp2bm.results.spread import METHOD, SCORE_RULE, STATED_SOURCE

CLAIMS_ID = "gp2bm-claims"
# What a plot is when the page is rendered without drawing, and what verify puts in place
# of each drawn one before comparing.
PLOT_PLACEHOLDER = '<img class="plot" alt="plot" src="(not drawn)">'
PLOT_RE = re.compile(r'<img class="plot" alt="plot" src="data:image/png;base64,[A-Za-z0-9+/=]*">')
ROLE_COLOURS = {
    RunRole.COUNTED: "#2e7d32",
    RunRole.DROPPED_FASTEST: "#9e9e9e",
    RunRole.DROPPED_SLOWEST: "#9e9e9e",
    RunRole.FAILED: "#c62828",
}
# Telemetry quantities drawn first when present; others follow up to MAX_METRICS.
PREFERRED_METRICS = (
    "power_w",
    "sm_util_pct",
    "temp_c",
    "sm_clock_mhz",
    "host_cpu_pct",
    "host_mem_pct",
)
MAX_METRICS = 6
# A run sampled fewer times than this (a run shorter than a few seconds, at 1 Hz) is not
# drawn: its line would be a dot; the page says so instead.
MIN_SAMPLES = 5
LONG_TEXT = 400  # longer inventory values (raw tool output) go into a collapsed block

CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;margin:0;
color:#1d2733;background:#f4f6f9}
main{max-width:1180px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:34px 0 10px;border-bottom:2px solid
#d5dce6;padding-bottom:4px}h3{font-size:16px;margin:22px 0 8px}
.meta{color:#5a6778;font-size:13px}
.score{display:flex;gap:18px;flex-wrap:wrap;margin:18px 0}
.card{background:#fff;border:1px solid #d5dce6;border-radius:8px;padding:14px 18px;
min-width:200px}
.card .label{font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:#5a6778}
.card .value{font-size:28px;font-weight:600;margin-top:4px}
.card .sub{font-size:13px;color:#5a6778}
.valid{color:#2e7d32}.invalid{color:#c62828}
table{border-collapse:collapse;background:#fff;font-size:13px;margin:6px 0 12px;
border:1px solid #d5dce6}
th,td{padding:5px 9px;border-bottom:1px solid #e6ebf1;text-align:left;vertical-align:top}
th{background:#e9eef5;font-weight:600}td.num{text-align:right;font-variant-numeric:
tabular-nums;white-space:nowrap}
tr.dropped td{color:#7a8491}tr.failed td{color:#c62828}
.role{display:inline-block;padding:1px 7px;border-radius:9px;font-size:12px;color:#fff}
img.plot{max-width:100%;background:#fff;border:1px solid #d5dce6;border-radius:6px}
.problem{color:#c62828}.note{color:#8a5a00}
pre{background:#fff;border:1px solid #d5dce6;padding:8px;overflow:auto;font-size:12px;
max-height:360px}
details summary{cursor:pointer;color:#30506f}
td.key{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px;color:#30506f}
.banner{background:#fdecea;border:2px solid #c62828;border-radius:8px;padding:12px 16px;
margin:16px 0;color:#8e1b1b}.banner b{font-size:16px;letter-spacing:.04em}
.banner ul{margin:6px 0 0 18px;padding:0}
td.placeholder{color:#c62828;font-weight:600}
svg.errorbar{vertical-align:middle}
"""


def _fmt(value: float | None, digits: int = 4) -> str:
    return "&ndash;" if value is None else f"{value:.{digits}f}"


def _factor(value: float | None) -> str:
    """A scaling factor; none when the RCP check failed and gives none."""
    return "none" if value is None else f"{value:g}"


def _png(fig) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # heavy: matplotlib

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img class="plot" alt="plot" src="data:image/png;base64,{data}">'


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # heavy: matplotlib

    return Figure(figsize=(width, height), layout="constrained")


def _role_badge(role: RunRole) -> str:
    colour = ROLE_COLOURS.get(role, "#9e9e9e")
    return f'<span class="role" style="background:{colour}">{escape(role)}</span>'


def plot_run_times(view: CampaignView, draw: bool = True) -> str | None:
    benches = [(n, b) for n, b in view.score.benchmarks.items() if b.runs]
    if not benches or not draw:
        return PLOT_PLACEHOLDER if benches else None
    from matplotlib.patches import Patch  # heavy: matplotlib

    fig = _figure(11, 3.2 * len(benches))
    axes = fig.subplots(len(benches), 1, squeeze=False)[:, 0]
    for ax, (name, bench) in zip(axes, benches, strict=True):
        labels = [r.file.removeprefix("result_").removesuffix(".txt") for r in bench.runs]
        heights = [r.minutes or 0.0 for r in bench.runs]
        colours = [ROLE_COLOURS.get(r.role, "#9e9e9e") for r in bench.runs]
        dropped = (RunRole.DROPPED_FASTEST, RunRole.DROPPED_SLOWEST)
        hatches = ["//" if r.role in dropped else "" for r in bench.runs]
        bars = ax.bar(labels, heights, color=colours, edgecolor="#37474f", linewidth=0.6)
        for bar, hatch in zip(bars, hatches, strict=True):
            bar.set_hatch(hatch)
        if bench.mean is not None:
            ax.axhline(bench.mean, color="#1565c0", linestyle="--", linewidth=1.2)
            _plot_interval(ax, bench, max(heights, default=bench.mean))
        result = "no valid result" if bench.minutes is None else f"{bench.minutes:.4f} min"
        ax.set_title(f"{name}: minutes per run (olympic mean {result})", fontsize=11)
        ax.set_xlabel("run")
        ax.set_ylabel("minutes")
        ax.grid(axis="y", alpha=0.3)
    handles = [
        Patch(facecolor=ROLE_COLOURS[RunRole.COUNTED], edgecolor="#37474f", label="counted"),
        Patch(facecolor="#9e9e9e", edgecolor="#37474f", hatch="//", label="dropped"),
        Patch(facecolor=ROLE_COLOURS[RunRole.FAILED], edgecolor="#37474f", label="failed"),
    ]
    # outside the axes: a legend inside covers a bar
    fig.legend(handles=handles, loc="outside upper right", ncols=3, fontsize=9)
    return _png(fig)


def _published(view: CampaignView) -> list[tuple[str, float, list[float]]]:
    """Per benchmark with a result: its minutes and the minutes of every published
    closed-division result of the system description's accelerator, count and nodes."""
    claimed = claimed_accelerator(view.system_desc)
    if claimed is None:
        return []
    name, per_node = claimed
    nodes = view.score.suite.nodes
    atlas = load_atlas()
    out = []
    for bench, b in view.score.benchmarks.items():
        rows = atlas.results(bench, name, per_node * nodes, nodes)
        times = sorted(r.minutes for r in rows if r.minutes is not None)
        if b.minutes is not None and times:
            out.append((bench, b.minutes, times))
    return out


def _power_runs(view: CampaignView) -> list[tuple[str, str, PowerLog, int, int]]:
    """Per benchmark with power logs: its first counted run's node 0 power log and the
    run's run_start and run_stop stamps (the timed window)."""
    out = []
    for name, b in view.score.benchmarks.items():
        if b.energy is None:
            continue
        for run in (r for r in b.runs if r.counted and r.log is not None):
            n = run_number(run.file)
            path = view.layout.power_node_file(name, n, 0) if n is not None else None
            if path is None or not path.is_file():
                continue
            start, stop = run.log.start_ms, run.log.stop_ms  # type: ignore[union-attr]
            if start is not None and stop is not None:
                out.append((name, run.file, read_power_log(path), start, stop))
                break
    return out


def plot_power(view: CampaignView, draw: bool = True) -> str | None:
    """Node power over time of each benchmark's first counted run, its timed window
    (run_start to run_stop) shaded."""
    found = _power_runs(view)
    if not found or not draw:
        return PLOT_PLACEHOLDER if found else None
    fig = _figure(11, 2.4 * len(found))
    axes = fig.subplots(len(found), 1, squeeze=False)[:, 0]
    for ax, (name, file, log, start, stop) in zip(axes, found, strict=True):
        readings = sorted(log.readings)
        t0 = min([start, *(t for t, _ in readings)])
        ax.plot([(t - t0) / 1000 for t, _ in readings], [w for _, w in readings],
                color="#6a1b9a", linewidth=1.2)  # fmt: skip
        ax.axvspan((start - t0) / 1000, (stop - t0) / 1000, color="#c8e6c9", alpha=0.6,
                   label="run_start to run_stop")  # fmt: skip
        ax.set_title(f"{name} {file}: node power", fontsize=10)
        ax.set_xlabel("seconds")
        ax.set_ylabel("W")
        ax.legend(loc="lower right", fontsize=8)
        ax.grid(alpha=0.3)
    return _png(fig)


def plot_published(view: CampaignView, draw: bool = True) -> str | None:
    """A strip plot per benchmark: every published result of the node's accelerator and
    count (grey, spread vertically in their order), the campaign's result marked (red)."""
    found = _published(view)
    if not found or not draw:
        return PLOT_PLACEHOLDER if found else None
    claimed = claimed_accelerator(view.system_desc)
    assert claimed is not None
    fig = _figure(11, 1.6 * len(found) + 0.6)
    axes = fig.subplots(len(found), 1, squeeze=False)[:, 0]
    for ax, (bench, minutes, times) in zip(axes, found, strict=True):
        spread = [((i * 7) % 11 - 5) / 25 for i in range(len(times))]  # fixed, not random
        ax.scatter(times, spread, color="#9e9e9e", s=18, label="published")
        ax.scatter([minutes], [0], color="#c62828", s=80, marker="D", label="this campaign")
        ax.set_yticks([])
        ax.set_ylim(-0.5, 0.5)
        ax.set_xlabel("minutes")
        ax.set_title(
            f"{bench}: {minutes:.4f} min among {len(times)} published {claimed[1]}x "
            f"{claimed[0]} results",
            fontsize=10,
        )
        ax.grid(axis="x", alpha=0.3)
    axes[0].legend(loc="upper right", fontsize=8)
    return _png(fig)


def _plot_interval(ax, bench: BenchmarkScore, tallest: float) -> None:
    """The olympic mean's 95 % interval (unscaled, as the bars are) as an error bar beside
    the runs; an open upper end drawn to the top, and said."""
    low, high, mean = bench.interval.unscaled_low, bench.interval.unscaled_high, bench.mean
    if mean is None or low is None:
        return
    top = high if high is not None else max(tallest, mean) * 1.15
    ax.errorbar(
        ["95 %"],
        [mean],
        yerr=[[max(mean - low, 0.0)], [max(top - mean, 0.0)]],
        fmt="D",
        color="#1565c0",
        capsize=6,
        linewidth=1.6,
    )
    if high is None:
        ax.annotate("no upper end", ("95 %", top), fontsize=8, ha="center", va="bottom")


def plot_accuracy(view: CampaignView, draw: bool = True) -> str | None:
    benches = [
        (n, b)
        for n, b in view.score.benchmarks.items()
        if any(r.log is not None and r.log.evals for r in b.runs)
    ]
    if not benches or not draw:
        return PLOT_PLACEHOLDER if benches else None
    fig = _figure(11, 3.6 * len(benches))
    axes = fig.subplots(len(benches), 1, squeeze=False)[:, 0]
    for ax, (name, bench) in zip(axes, benches, strict=True):
        for r in bench.runs:
            log = r.log
            if log is None or not log.evals:
                continue
            start = log.start_ms if log.start_ms is not None else log.evals[0].time_ms
            xs = [(e.time_ms - start) / 60000 for e in log.evals]
            ys = [e.accuracy for e in log.evals]
            counted, failed = r.role == RunRole.COUNTED, r.role == RunRole.FAILED
            style = "-" if counted else (":" if failed else "--")
            label = r.file.removesuffix(".txt") + ("" if counted else f" ({r.role})")
            ax.plot(xs, ys, style, marker=".", linewidth=1.2, label=label)
        if bench.spec is not None:
            ax.axhline(bench.spec.target, color="#c62828", linewidth=1, linestyle="-.")
            ax.annotate(
                f"target {bench.spec.target}",
                (0, bench.spec.target),
                xycoords=("axes fraction", "data"),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=8,
                color="#c62828",
            )
        ax.set_title(f"{name}: eval accuracy of every run", fontsize=11)
        ax.set_xlabel("minutes since run_start")
        ax.set_ylabel("eval_accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2, loc="lower right")
    return _png(fig)


def _metrics(view: CampaignView, name: str) -> list[str]:
    found: list[str] = []
    for run in view.runs.get(name, []):
        if isinstance(run.telemetry, Telemetry):  # the samples (not a summary's figures)
            found += [m for m in run.telemetry.metrics() if m not in found]
    ordered = [m for m in PREFERRED_METRICS if m in found]
    ordered += [m for m in found if m not in ordered]
    return ordered[:MAX_METRICS]


def _samples(run) -> int:
    """How many times a run was sampled (its longest series)."""
    if not isinstance(run.telemetry, Telemetry):
        return 0  # none, or its summary only (the page is drawn from the samples)
    return max((len(s) for s in run.telemetry.series.values()), default=0)


def sparse_runs(view: CampaignView, name: str) -> list[tuple[int | None, int]]:
    """(run, samples) of each run with telemetry sampled fewer than MIN_SAMPLES times."""
    return [
        (run.index, n)
        for run in view.runs.get(name, [])
        if run.telemetry is not None and (n := _samples(run)) < MIN_SAMPLES
    ]


def plot_telemetry(view: CampaignView, name: str, draw: bool = True) -> str | None:
    sparse = {index for index, _ in sparse_runs(view, name)}
    drawn = [r for r in view.runs.get(name, []) if r.telemetry and r.index not in sparse]
    metrics = _metrics(view, name) if drawn else []
    if not metrics or not draw:
        return PLOT_PLACEHOLDER if metrics else None
    cols = 2 if len(metrics) > 1 else 1
    rows = (len(metrics) + cols - 1) // cols
    fig = _figure(11, 2.8 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, metric in zip(axes, metrics, strict=False):
        for i, run in enumerate(view.runs[name]):
            if not isinstance(run.telemetry, Telemetry) or run.index in sparse:
                continue
            label: str | None = f"run {run.index}"
            # one colour per run; a run's GPUs are its lines of that colour
            for series_name, s in run.telemetry.series.items():
                if series_name.split(" [", 1)[0] != metric:
                    continue
                marker = "." if len(s.values) <= 30 else None  # a short run: show its points
                ax.plot(
                    s.seconds,
                    s.values,
                    color=f"C{i % 10}",
                    linewidth=0.9,
                    marker=marker,
                    label=label,
                )
                label = None
        ax.set_title(metric, fontsize=10)
        ax.set_xlabel("seconds")
        ax.grid(alpha=0.3)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    if 0 < len(labels) <= 20:
        axes[0].legend(fontsize=7, ncol=2)
    return _png(fig)


def _table(headers: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _td(text: str, num: bool = False, raw: bool = False) -> str:
    content = text if raw else escape(str(text))
    return f'<td class="num">{content}</td>' if num else f"<td>{content}</td>"


def _score_cards(score: SuiteScore) -> str:
    """The score and each benchmark's result, as cards."""
    formula = escape(score.suite.formula_text())
    if score.score is None:
        card = (
            '<div class="card"><div class="label">RFP score</div>'
            '<div class="value invalid" id="score">no score</div>'
            f'<div class="sub">{formula}</div></div>'
        )
    else:
        card = (
            '<div class="card"><div class="label">RFP score (higher is better)</div>'
            f'<div class="value valid" id="score">{score.score:.{SCORE_DECIMALS}f}</div>'
            f'<div class="sub">{formula}{_score_interval_sub(score)}</div></div>'
        )
    cards = [card]
    for name, spec in score.suite.benchmarks.items():
        b = score.benchmarks.get(name)
        symbol = f" ({escape(spec.symbol)})" if spec.symbol else ""
        if b is None or b.minutes is None:
            value, sub, cls = "none", "no valid result", "invalid"
        else:
            value = f"{b.minutes:.4f} min"
            sub = f"{b.minutes * 60:.2f} s &middot; weight {spec.weight:g}"
            if scaled(b):
                sub += f" &middot; olympic mean {b.mean:.4f} min x {escape(factor_text(b))}"
            sub += f" &middot; 95 % interval {escape(b.interval.text(4))}"
            cls = "valid" if b.valid else "invalid"
        cards.append(
            f'<div class="card"><div class="label">{escape(name)}{symbol}</div>'
            f'<div class="value {cls}">{value}</div><div class="sub">{sub}</div></div>'
        )
    return f'<section class="score">{"".join(cards)}</section>'


RESULT_HEADERS = [
    "benchmark",
    "verdict",
    "olympic mean (min)",
    "scaling",
    "result (min)",
    "result (s)",
    "runs",
    "required",
    "95 % interval (min)",
    "MLPerf stated variance",
    "spread",
]


def _results_table(score: SuiteScore) -> str:
    rows = []
    for name, spec in score.suite.benchmarks.items():
        b = score.benchmarks.get(name)
        if b is None:
            rows.append(
                [_td(name), _td("no results"), *[_td("")] * 5, _td(str(spec.runs), True)]
                + [_td("")] * 3
            )
            continue
        counted = sum(1 for r in b.runs if r.counted)
        rows.append(
            [
                _td(name),
                _td("valid" if b.valid else "INVALID"),
                _td(_fmt(b.mean, 6), True, raw=True),
                _td(f"{_factor(b.scaling_factor)} ({b.scaling_source})", True),
                _td(_fmt(b.minutes, 6), True, raw=True),
                _td(_fmt(None if b.minutes is None else b.minutes * 60, 3), True, raw=True),
                _td(f"{len(b.runs)} ({counted} counted)", True),
                _td(str(spec.runs), True),
                _td(_interval_cell(b), True),
                _td(f"+/-{b.stated_variance.fraction * 100:g} % ({b.stated_variance.area})", True),
                _td(error_bar(b), raw=True),
            ]
        )
    return _table(RESULT_HEADERS, rows)


def _score_interval_sub(score: SuiteScore) -> str:
    text = score_spread_text(score, 4)
    return "" if text is None else f"<br>{escape(text)}"


def _interval_cell(b: BenchmarkScore) -> str:
    interval = b.interval
    if interval.low is None:
        return f"none ({interval.reason})"
    if interval.high is None:
        return f"{interval.low:.6f} to no upper end"
    return f"{interval.low:.6f} to {interval.high:.6f}"


ERRORBAR_W, ERRORBAR_H = 180, 24


def error_bar(b: BenchmarkScore) -> str:
    """The result as a dot, its 95 % interval as a bar with caps (an arrow where it has no
    upper end), on the grey band of MLPerf's stated variance: an inline SVG, no script."""
    interval, stated = b.interval, b.stated_variance
    if b.minutes is None or interval.low is None or stated.low is None or stated.high is None:
        return ""
    ends = [interval.low, b.minutes, stated.low, stated.high]
    ends += [] if interval.high is None else [interval.high]
    lo, hi = min(ends), max(ends)
    pad = 0.08 * ((hi - lo) or abs(b.minutes) or 1.0)
    lo, hi = lo - pad, hi + pad

    def x(value: float) -> float:
        return round(4 + (ERRORBAR_W - 8) * (value - lo) / (hi - lo), 1)

    left = x(interval.low)
    right = ERRORBAR_W - 2 if interval.high is None else x(interval.high)
    mid = ERRORBAR_H // 2
    shapes = [
        f'<rect x="{x(stated.low)}" y="4" width="{round(x(stated.high) - x(stated.low), 1)}" '
        f'height="{ERRORBAR_H - 8}" fill="#dfe5ee"/>',
        f'<line x1="{left}" y1="{mid}" x2="{right}" y2="{mid}" stroke="#1565c0" stroke-width="2"/>',
        f'<line x1="{left}" y1="{mid - 6}" x2="{left}" y2="{mid + 6}" stroke="#1565c0" '
        'stroke-width="2"/>',
    ]
    if interval.high is None:
        shapes.append(
            f'<polygon points="{right},{mid} {right - 7},{mid - 5} {right - 7},{mid + 5}" '
            'fill="#1565c0"/>'
        )
    else:
        shapes.append(
            f'<line x1="{right}" y1="{mid - 6}" x2="{right}" y2="{mid + 6}" stroke="#1565c0" '
            'stroke-width="2"/>'
        )
    shapes.append(f'<circle cx="{x(b.minutes)}" cy="{mid}" r="3.5" fill="#1d2733"/>')
    label = escape(
        f"result {b.minutes:.6f} min; 95 % interval {interval.text()}; MLPerf's stated "
        f"variance {stated.text()}"
    )
    return (
        f'<svg class="errorbar" width="{ERRORBAR_W}" height="{ERRORBAR_H}" '
        f'viewBox="0 0 {ERRORBAR_W} {ERRORBAR_H}" role="img" aria-label="{label}">'
        f"<title>{label}</title>{''.join(shapes)}</svg>"
    )


def _summary_section(view: CampaignView) -> str:
    score = view.score
    parts = [_score_cards(score)]
    if score.score is not None:
        terms = " + ".join(
            f"{spec.weight:g} / {score.benchmarks[n].minutes:.6f}"
            for n, spec in score.suite.benchmarks.items()
        )
        parts.append(f"<p>score = {escape(terms)} = <b>{score.score:.6f}</b></p>")
    parts.append(_results_table(score))
    parts.append(
        '<p class="meta">The spread bar: the result (dot), its 95 % interval (blue bar; an '
        "arrow where it has no upper end) and MLPerf's stated variance (grey band). "
        f"Interval: {escape(METHOD)}. Stated variance: {escape(STATED_SOURCE)}. The score's "
        f"interval: {escape(SCORE_RULE)}.</p>"
    )
    for name, b in score.benchmarks.items():
        parts.append(
            f'<p class="meta">{escape(name)} scaling {escape(factor_text(b))}: '
            f"{escape(b.scaling_reason)}</p>"
        )
        if b.energy is not None:
            said = escape(energy_text(b.energy))
            parts.append(f'<p class="meta">{escape(name)} energy: {said}</p>')
        for p in b.problems:
            parts.append(f'<p class="problem">{escape(name)}: {escape(p)}</p>')
        for n in b.notes:
            parts.append(f'<p class="note">{escape(name)}: {escape(n)}</p>')
    for name in score.missing:
        parts.append(f'<p class="problem">{escape(name)}: no results found</p>')
    return "\n".join(parts)


def _runs_table(view: CampaignView, name: str, bench: BenchmarkScore) -> str:
    rows, classes = [], []
    for run in view.runs[name]:
        r = run.score
        best = r.log.best_accuracy if r.log is not None else None
        rows.append(
            [
                _td(r.file),
                _td("" if r.seed is None else str(r.seed), True),
                _td(_fmt(r.minutes, 4), True, raw=True),
                _td(_fmt(None if r.minutes is None else r.minutes * 60, 2), True, raw=True),
                _td(r.status),
                _td(_role_badge(r.role), raw=True),
                _td(_fmt(best, 4), True, raw=True),
                _td("; ".join(r.reasons)),
            ]
        )
        dropped = r.role != RunRole.COUNTED
        classes.append("failed" if r.role == RunRole.FAILED else ("dropped" if dropped else ""))
    return _table(
        ["run", "seed", "minutes", "seconds", "status", "verdict", "best accuracy", "why"],
        rows,
        classes,
    )


def _kv_table(pairs: list[tuple[str, object]]) -> str:
    """Keys and values as a person reads them (units, yes/no); a placeholder in red; long
    values (raw tool output) each in a collapsed block."""
    rows = []
    long_parts = []
    for key, value in pairs:
        text = human_value(key, value)
        if len(text) > LONG_TEXT or "\n" in text:
            long_parts.append(
                f"<details><summary>{escape(key)}</summary><pre>{escape(text)}</pre></details>"
            )
            continue
        cls = ' class="placeholder"' if is_placeholder(text) else ""
        rows.append([f'<td class="key">{escape(key)}</td>', f"<td{cls}>{escape(text)}</td>"])
    return _table(["key", "value"], rows) + "".join(long_parts)


def _images_table(view: CampaignView) -> str:
    rows = []
    for bench, imgs in images_used(view).items():
        for img in imgs:
            digests = ", ".join(img.repo_digests) or "&ndash;"
            rows.append(
                [
                    _td(bench),
                    _td(img.runtime or ""),
                    _td("(plain process)" if img.local else img.image or ""),
                    _td("" if img.local else img.image_id or "not recorded"),
                    _td(digests, raw=not img.repo_digests),
                    _td(str(img.runs), True),
                ]
            )
    if not rows:
        return ""
    return "<h3>Images that ran</h3>" + _table(
        ["benchmark", "runtime", "image", "image id", "repo digests", "runs"], rows
    )


def _hardware(view: CampaignView) -> str:
    """One line per part of the node (as ``gp2bm inventory`` prints it), then every detail
    of inventory.json, folded."""
    if view.inventory is None:
        return '<p class="note">absent: the campaign has no inventory.json</p>'
    rows = [
        [f'<td class="key">{escape(part)}</td>', _td(line)]
        for part, line in summary_rows(view.inventory)
    ]
    return (
        _table(["part", "what"], rows)
        + "<details><summary>Every detail of inventory.json</summary>"
        + _kv_table(flatten(view.inventory))
        + "</details>"
    )


def _inventory_section(view: CampaignView) -> str:
    parts = ["<h3>Software</h3>", _kv_table(list(software(view))), _images_table(view)]
    parts.append("<h3>System description</h3>")
    if view.system_desc is not None:
        parts.append(_kv_table(flatten(view.system_desc)))
    else:
        where = escape(view.relative(view.system_desc_path))
        parts.append(f'<p class="problem">absent: {where}</p>')
    parts += ["<h3>Hardware inventory</h3>", _hardware(view)]
    return "\n".join(parts)


def _compliance_rows(view: CampaignView, name: str, b: BenchmarkScore) -> list[list[str]]:
    fixes = submission_fixes(view, name)
    rows = []
    for r in b.runs:
        if r.compliance is None:
            verdict, detail = "not run", ""
        else:
            verdict = "pass" if r.compliance.passed else "FAIL"
            detail = "; ".join(r.compliance.messages)
        fix = fixes.get(r.file, "")
        rows.append(
            [_td(name), _td("compliance"), _td(r.file), _td(verdict), _td(detail), _td(fix)]
        )
    if b.seeds is not None:
        verdict = "pass" if b.seeds.passed else "FAIL"
        rows.append([_td(name), _td("seeds"), _td("all runs"), _td(verdict), _td(""), _td("")])
    if b.rcp is not None:
        verdict = "pass" if b.rcp.passed else "FAIL"
        rcp = [_td(name), _td("RCP"), _td("all runs"), _td(verdict), _td(b.rcp.message)]
    else:
        off = "the suite turns the RCP check off"
        rcp = [_td(name), _td("RCP"), _td("all runs"), _td("not run"), _td(off)]
    return rows + [rcp + [_td("")]]


def _compliance_section(view: CampaignView) -> str:
    rows = []
    for name, b in view.score.benchmarks.items():
        rows += _compliance_rows(view, name, b)
    intro = (
        f"<p>MLCommons' mlperf-logging checkers, ruleset {escape(view.score.ruleset)}, "
        f"compliance mode <b>{escape(view.score.compliance)}</b>. A run whose submission "
        "lines are missing or written twice has the manifest fix beside it.</p>"
    )
    headers = ["benchmark", "check", "subject", "verdict", "detail", "fix"]
    return intro + _table(headers, rows)


def _ledger_section(view: CampaignView) -> str:
    """How the runs were started, and each reservation (gp2bm verify names them)."""
    lines = "".join(f"<li>{escape(line)}</li>" for line in view.ledger.lines())
    return (
        "<p>What weakens the result without breaking a rule: a reservation is verified only "
        "when the evaluator accepts it by name (<code>gp2bm verify --accept NAME</code>).</p>"
        f"<ul>{lines}</ul>"
    )


def _claims_json(view: CampaignView) -> str:
    text = json.dumps(claims(view), sort_keys=True)
    # inert data: "</" would end the script element early
    return text.replace("</", "<\\/")


def _elevated_runs(view: CampaignView) -> list[str]:
    """Runs whose record says they ran privileged, on the host network, or with another
    relaxed container option (not the default)."""
    out = []
    for name, runs in view.runs.items():
        for run in runs:
            rec = run.record
            if rec is None:
                continue
            how = []
            if rec.privileged:
                how.append("privileged")
            if rec.network == "host":
                how.append("host network")
            # seccomp=unconfined, cap_add=..., uts=host ...: relaxed as the manifest asks
            how += [r for r in rec.relaxed or [] if r not in ("privileged", "network=host")]
            if how:
                out.append(f"{name} {run.score.file}: {' and '.join(how)}")
    return out


def _banner(items: list[str]) -> str:
    """The "incomplete" banner: what keeps this campaign from a hand-in; none when complete."""
    if not items:
        return ""
    listed = "".join(f"<li>{escape(item)}</li>" for item in items)
    return (
        f'<div class="banner" id="incomplete"><b>{BANNER_TITLE}</b>: not ready to hand in; '
        f"complete these first.<ul>{listed}</ul></div>"
    )


def _sparse_note(view: CampaignView, name: str) -> str:
    sparse = sparse_runs(view, name)
    if not sparse:
        return ""
    runs = ", ".join(f"run {i} ({n} sample{'s' if n != 1 else ''})" for i, n in sparse)
    return (
        f'<p class="meta">Too few samples to draw (under {MIN_SAMPLES}, at 1 Hz: runs of a '
        f"few seconds): {escape(runs)}. Their samples are in records/{escape(name)}/.</p>"
    )


def _telemetry_section(view: CampaignView, draw: bool) -> str:
    parts = []
    for name in view.score.benchmarks:
        img = plot_telemetry(view, name, draw)
        note = _sparse_note(view, name)
        if img or note:
            parts += [f"<h3>{escape(name)}</h3>", img or "", note]
    if not parts:
        return '<p class="meta">No telemetry samples in this campaign.</p>'
    return "\n".join(p for p in parts if p)


def _power_and_published(view: CampaignView, draw: bool) -> list[str]:
    """The node power plot and the place among the published results, where there are."""
    body: list[str] = []
    power = plot_power(view, draw)
    if power:
        body += ["<h2>Node power</h2>", power]
        body.append(
            '<p class="meta">Node power of each benchmark\'s first counted run, from its MLPerf '
            "power log; the shaded span is the timed window (run_start to run_stop).</p>"
        )
    published = plot_published(view, draw)
    if published:
        body += ["<h2>Among the published results</h2>", published]
        body.append(
            '<p class="meta">Each grey point is a published closed-division MLPerf Training '
            "result of the system description's accelerator, count per node and node count "
            "(gp2bm atlas); the red point is this campaign's result.</p>"
        )
    return body


def render_html(view: CampaignView, draw: bool = True) -> str:
    """The page; ``draw=False``: each plot a placeholder (what verify compares)."""
    score = view.score
    title = f"{score.suite.title or score.suite.name}: MLPerf Training results"
    head = (
        f"<h1>{escape(title)}</h1>"
        f'<div class="meta">suite {escape(score.suite.name)} &middot; organisation '
        f"{escape(view.org)} &middot; system {escape(view.system)} &middot; "
        f"{score.suite.nodes} node(s) &middot; ruleset {escape(score.ruleset)} &middot; "
        f"runtime {escape(view.meta.runtime or '?')} &middot; campaign created "
        f"{escape(view.meta.created or '?')} &middot; report generated "
        f"{escape(view.generated)} by gp2bm {escape(view.gp2bm_version)}</div>"
    )
    body = [head, _banner(incomplete(view)), "<h2>Score</h2>", _summary_section(view)]
    elevated = _elevated_runs(view)
    if elevated:
        body.append(
            '<p class="problem">Runs with elevated container rights (as their manifests ask): '
            + escape("; ".join(elevated))
            + "</p>"
        )
    times = plot_run_times(view, draw)
    if times:
        body += ["<h2>Time to train per run</h2>", times]
        body.append(
            '<p class="meta">Green bars are counted in the olympic mean (dashed line), grey '
            "hatched bars are the dropped fastest and slowest runs, red bars failed; the blue "
            "error bar on the right is the olympic mean's 95 % interval (unscaled).</p>"
        )
    for name, bench in score.benchmarks.items():
        body += [f"<h3>{escape(name)} runs</h3>", _runs_table(view, name, bench)]
    body += _power_and_published(view, draw)
    accuracy = plot_accuracy(view, draw)
    if accuracy:
        body += ["<h2>Eval accuracy</h2>", accuracy]
    body += ["<h2>Telemetry</h2>", _telemetry_section(view, draw)]
    body += ["<h2>Compliance</h2>", _compliance_section(view)]
    body += ["<h2>Trust ledger</h2>", _ledger_section(view)]
    body += ["<h2>Inventory</h2>", _inventory_section(view)]
    if view.notes:
        body.append("<h2>Notes</h2>")
        body += [f'<p class="note">{escape(n)}</p>' for n in view.notes]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>"
        + "\n".join(body)
        + f'\n<script type="application/json" id="{CLAIMS_ID}">{_claims_json(view)}</script>'
        + "</main></body></html>\n"
    )


def write_html(view: CampaignView, path: Path) -> Path:
    return write_text_atomic(Path(path), render_html(view))


def without_plots(page: str) -> str:
    """A written page with each drawn plot replaced by the placeholder (for verify)."""
    return PLOT_RE.sub(PLOT_PLACEHOLDER, page)


GENERATED_RE = re.compile(r"report generated (.*?) by gp2bm (.*?)</div>")


def generated_of(page: str) -> tuple[str, str] | None:
    """(when, gp2bm version) the page says it was made."""
    m = GENERATED_RE.search(page)
    return None if m is None else (unescape(m.group(1)), unescape(m.group(2)))


def read_claims(path: Path) -> dict | None:
    """The claims JSON embedded in a report written here (for verify); None if absent."""
    return claims_of(Path(path).read_text(encoding="utf-8"))


def claims_of(text: str) -> dict | None:
    """The claims JSON embedded in a page; None if absent."""
    m = re.search(
        rf'<script type="application/json" id="{CLAIMS_ID}">(.*?)</script>', text, re.DOTALL
    )
    if not m:
        return None
    try:
        return json.loads(m.group(1).replace("<\\/", "</"))
    except ValueError:
        return None
