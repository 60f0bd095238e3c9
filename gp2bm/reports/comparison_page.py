"""The comparison of several bundles as one self-contained HTML page: no script, no
resource fetched, every chart an inline SVG drawn here (deterministic: the same comparison
gives the same page, but for the time it was made).

The page: the rules, the ranking of the bundles that verify (each benchmark's result in
minutes and seconds with its 95 % interval and the runs' range, the score and its interval,
the reservations accepted, the published results' verdict), a chart of the scores, the
bundles that do not verify apart with their first findings, per benchmark a strip plot of
every vendor's runs (counted, dropped and failed marked) with the table of every run, each
vendor's hardware in words, and a section per bundle with its verdict and trust ledger.
Every text from a bundle goes through ``html.escape`` (after ``plaintext.printable``).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from gp2bm.files.plaintext import printable
from gp2bm.reports.comparison import (
    accelerators_text,
    bench_name,
    energy_text,
    first_findings,
    hardware_words,
    interval_text,
    label,
    number,
    plausibility_text,
    score_text,
    write_file,
)
from gp2bm.reports.html_report import CSS, ROLE_COLOURS
from gp2bm.results.scoring import RunRole

EXTRA_CSS = """
svg.chart{background:#fff;border:1px solid #d5dce6;border-radius:6px;max-width:100%}
tr.apart td{color:#8e1b1b}.flag{color:#8a5a00;font-weight:600}
section.bundle{background:#fff;border:1px solid #d5dce6;border-radius:8px;padding:4px 16px;
margin:12px 0}
"""
CHART_W = 960  # every chart's width, in pixels
LABEL_W = 330  # the labels' column
LABEL_CHARS = 44  # a label longer than this is cut in a chart (the tables have it whole)
ROW_H = 26
SHOWN_FINDINGS = 50  # a bundle's section lists this many findings (the JSON has all)


def _e(text: object) -> str:
    """Text for the page: markup escaped, and any character that would not show as itself
    (a control character, a bidi override) shown escaped (``plaintext.printable``)."""
    return escape(printable(text))


def _cell(text: object, num: bool = False) -> str:
    return f'<td class="num">{_e(str(text))}</td>' if num else f"<td>{_e(str(text))}</td>"


def _table(ident: str, headers: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(rows) or f'<tr><td colspan="{len(headers)}">none</td></tr>'
    return f'<table id="{ident}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _flags(entry: dict) -> str:
    if not entry["same_as"]:
        return ""
    return "same vendor and system as " + ", ".join(entry["same_as"])


# ---------------------------------------------------------------------------- tables


def _ranking(data: dict) -> str:
    headers = ["rank", "vendor and system", "accelerators"]
    for b in data["benchmarks"]:
        name = bench_name(data, b)
        headers += [f"{name} (min = s)", f"{name} spread (min), energy", f"{name} published"]
    headers += ["score", "score 95 % interval", "reservations accepted", "flags"]
    rows = []
    for e in data["ranking"]:
        cells = [_cell(e["rank"], True), _cell(label(e)), _cell(accelerators_text(e))]
        for b in data["benchmarks"]:
            r = e["benchmarks"][b]
            judged = r["plausibility"]
            cells += [
                _cell(f"{number(r['minutes'])} = {number(r['seconds'])} s", True),
                _cell(
                    f"95 %: {interval_text(r['interval_low'], r['interval_high'])}; runs: "
                    f"{interval_text(r['runs_min'], r['runs_max'])}; {energy_text(r)}"
                ),
                f'<td title="{_e(judged["sentence"])}">{_e(judged["verdict"])}</td>',
            ]
        interval = e["score_interval"] or {}
        cells += [
            _cell(score_text(e["score"]), True),
            _cell(interval_text(interval.get("low"), interval.get("high"), 8), True),
            _cell(", ".join(e["accepted_reservations"]) or "none"),
            f'<td class="flag">{_e(_flags(e))}</td>',
        ]
        rows.append(f'<tr class="ranked" data-rank="{e["rank"]}">{"".join(cells)}</tr>')
    return _table("ranking", headers, rows) + _published(data)


def _published(data: dict) -> str:
    """What the published results say of each ranked bundle's results, in words."""
    items = [
        f"<li>{e['rank']}. {_e(label(e))}: {_e(plausibility_text(e, data))}</li>"
        for e in data["ranking"]
    ]
    if not items:
        return ""
    return (
        "<p>Against the published results (gp2bm atlas: the closed-division results of the "
        f"same accelerator, count and nodes):</p><ul>{''.join(items)}</ul>"
    )


def _apart(data: dict) -> str:
    rows = []
    for e in data["apart"]:
        first = "".join(f"<li>{_e(f)}</li>" for f in first_findings(e, 3))
        rows.append(
            '<tr class="apart">'
            + _cell(label(e))
            + _cell(e["bundle"])
            + _cell(len(e["findings"]), True)
            + f"<td><ul>{first}</ul></td>"
            + f'<td class="flag">{_e(_flags(e))}</td></tr>'
        )
    headers = ["vendor and system", "bundle", "findings", "first findings", "flags"]
    return _table("apart", headers, rows)


def _runs_table(data: dict, bench: str) -> str:
    rows = []
    for run in data["runs"][bench]:
        entry = f"{run['rank']}." if run["rank"] else "not verified"
        rows.append(
            f'<tr class="run {_e(run["role"].split()[0])}">'
            + _cell(entry)
            + _cell(f"{run['vendor']}: {run['system']}")
            + _cell(run["file"])
            + _cell(number(run["minutes"]), True)
            + _cell(number(None if run["minutes"] is None else run["minutes"] * 60), True)
            + _cell(run["role"])
            + "</tr>"
        )
    headers = ["rank", "vendor: system", "run", "minutes", "seconds", "counted or dropped"]
    return _table(f"runs-{_e(bench)}", headers, rows)


def _hardware(data: dict) -> str:
    rows = [
        "<tr>" + _cell(label(e)) + _cell(accelerators_text(e)) + _cell(hardware_words(e)) + "</tr>"
        for e in data["ranking"] + data["apart"]
    ]
    return _table("hardware", ["vendor and system", "accelerators", "hardware in words"], rows)


# ---------------------------------------------------------------------------- charts


def _svg(height: int, title: str, shapes: list[str]) -> str:
    text = _e(title)
    return (
        f'<svg class="chart" width="{CHART_W}" height="{height}" viewBox="0 0 {CHART_W} '
        f'{height}" role="img" aria-label="{text}"><title>{text}</title>{"".join(shapes)}</svg>'
    )


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 12) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="#1d2733">{_e(text)}</text>'
    )


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 3] + "..."


def score_chart(data: dict) -> str:
    """A bar per ranked bundle, its 95 % interval as a whisker; none for a bundle set apart."""
    ranked = data["ranking"]
    if not ranked:
        return "<p>No bundle verifies: no score to chart.</p>"
    ends = [e["score"] for e in ranked]
    ends += [(e["score_interval"] or {}).get("high") or e["score"] for e in ranked]
    top = max(ends) or 1.0
    span = CHART_W - LABEL_W - 110

    def x(value: float) -> float:
        return LABEL_W + span * value / top

    shapes = []
    for i, e in enumerate(ranked):
        y = 16 + i * ROW_H
        shapes.append(_text(LABEL_W - 8, y + 13, _short(f"{e['rank']}. {label(e)}"), "end"))
        shapes.append(
            f'<rect class="score-bar" x="{LABEL_W}" y="{y + 3}" '
            f'width="{x(e["score"]) - LABEL_W:.1f}" height="{ROW_H - 10}" fill="#2e7d32"/>'
        )
        interval = e["score_interval"] or {}
        end = e["score"]
        if interval.get("low") is not None:
            end = interval["high"] if interval.get("high") is not None else top
            shapes.append(
                f'<line class="score-interval" x1="{x(interval["low"]):.1f}" '
                f'y1="{y + ROW_H / 2 - 2:.1f}" x2="{x(end):.1f}" y2="{y + ROW_H / 2 - 2:.1f}" '
                'stroke="#1d2733" stroke-width="2"/>'
            )
        shapes.append(_text(x(max(e["score"], end)) + 6, y + 13, score_text(e["score"])))
    height = 24 + len(ranked) * ROW_H
    return _svg(height, "RFP score of each verified bundle, with its 95 % interval", shapes)


def _marker(role: str, cx: float, cy: float, tip: str) -> str:
    colour = ROLE_COLOURS.get(RunRole(role), "#9e9e9e")
    title = f"<title>{_e(tip)}</title>"
    if role == RunRole.FAILED:
        return (
            f'<g class="run failed"><path d="M{cx - 4:.1f},{cy - 4:.1f}l8,8m0,-8l-8,8" '
            f'stroke="{colour}" stroke-width="2"/>{title}</g>'
        )
    if role == RunRole.COUNTED:
        return (
            f'<circle class="run counted" cx="{cx:.1f}" cy="{cy:.1f}" r="4" '
            f'fill="{colour}">{title}</circle>'
        )
    return (
        f'<circle class="run dropped" cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="none" '
        f'stroke="{colour}" stroke-width="2">{title}</circle>'
    )


def _axis(lo: float, hi: float, x, bottom: float) -> list[str]:
    shapes = [f'<line x1="{LABEL_W}" y1="{bottom}" x2="{CHART_W - 20}" y2="{bottom}" '
              'stroke="#5a6778"/>']  # fmt: skip
    for k in range(5):
        value = lo + (hi - lo) * k / 4
        shapes.append(_text(x(value), bottom + 16, number(value), "middle", 11))
    shapes.append(_text(CHART_W - 20, bottom + 32, "minutes", "end", 11))
    return shapes


def strip_plot(data: dict, bench: str) -> str:
    """Every run of every bundle of ``bench``: a row per bundle (ranked ones first, then those
    set apart), a dot per run (filled: counted; hollow: dropped; a cross: failed) and a tick
    at the bundle's result."""
    rows = [e for e in data["ranking"] + data["apart"] if e["runs"].get(bench)]
    times = [r["minutes"] for e in rows for r in e["runs"][bench] if r["minutes"] is not None]
    if not times:
        return f"<p>No {_e(bench)} run to plot.</p>"
    lo, hi = min(times), max(times)
    pad = 0.06 * ((hi - lo) or hi or 1.0)
    lo, hi = max(0.0, lo - pad), hi + pad

    def x(value: float) -> float:
        return LABEL_W + (CHART_W - LABEL_W - 20) * (value - lo) / (hi - lo)

    shapes = []
    for i, e in enumerate(rows):
        y = 14 + i * ROW_H + ROW_H / 2
        name = f"{e['rank']}. {label(e)}" if e["rank"] else f"not verified: {label(e)}"
        shapes.append(_text(LABEL_W - 8, y + 4, _short(name), "end"))
        shapes.append(f'<line x1="{LABEL_W}" y1="{y}" x2="{CHART_W - 20}" y2="{y}" '
                      'stroke="#e6ebf1"/>')  # fmt: skip
        result = (e["benchmarks"].get(bench) or {}).get("minutes")
        if result is not None and e["verified"]:
            shapes.append(
                f'<line class="result" x1="{x(result):.1f}" y1="{y - 9}" x2="{x(result):.1f}" '
                f'y2="{y + 9}" stroke="#1d2733" stroke-width="2"/>'
            )
        for run in e["runs"][bench]:
            if run["minutes"] is not None:
                tip = f"{label(e)}: {run['file']} {number(run['minutes'])} min, {run['role']}"
                shapes.append(_marker(run["role"], x(run["minutes"]), y, tip))
    bottom = 14 + len(rows) * ROW_H + 4
    shapes += _axis(lo, hi, x, bottom)
    title = f"{bench}: every run of every bundle (filled: counted; hollow: dropped; cross: failed)"
    return _svg(int(bottom + 40), title, shapes)


# ---------------------------------------------------------------------------- sections


def _bundle_section(entry: dict) -> str:
    verdict = "verified" if entry["verified"] else "not verified"
    rank = f"rank {entry['rank']}" if entry["rank"] else "not ranked"
    findings = entry["findings"]
    items = "".join(
        f"<li>{_e(f['class'])}: {_e(f['text'])}</li>" for f in findings[:SHOWN_FINDINGS]
    )
    if len(findings) > SHOWN_FINDINGS:
        items += f"<li>and {len(findings) - SHOWN_FINDINGS} more (gp2bm verify lists them)</li>"
    reservations = "".join(
        f"<li>{_e(r['name'])} ({'accepted' if r['accepted'] else 'open'}): "
        f"{_e(r['text'])}</li>"
        for r in entry["reservations"]
    )
    ledger = "".join(f"<li>{_e(line)}</li>" for line in entry["ledger_lines"])
    flag = _flags(entry)
    return (
        f'<section class="bundle"><h3>{_e(label(entry))}</h3>'
        f'<p><b class="{"valid" if entry["verified"] else "invalid"}">{verdict}</b>, {rank}; '
        f"bundle {_e(entry['bundle'])}, SHA-256 {_e(str(entry['sha256']))}; rules of "
        f"{_e(str(entry.get('reference', '?')))}</p>"
        + (f'<p class="flag">{_e(flag)}</p>' if flag else "")
        + f"<p>Hardware: {_e(hardware_words(entry))}</p>"
        + f"<h4>Findings</h4><ul>{items or '<li>none</li>'}</ul>"
        + f"<h4>Reservations</h4><ul>{reservations or '<li>none</li>'}</ul>"
        + f"<h4>Trust ledger</h4><ul>{ledger or '<li>nothing recorded</li>'}</ul></section>"
    )


def _head(data: dict) -> str:
    direction = "higher is better" if data["higher_is_better"] else "lower is better"
    return (
        f"<h1>Comparison of {data['compared']} bundle(s)</h1>"
        f'<div class="meta">rules of {_e(str(data["reference"].get("source", "?")))} '
        f"&middot; score {_e(data['formula'])} ({direction}) &middot; reservations "
        f"accepted for every bundle: {_e(', '.join(data['accepted']) or 'none')} &middot; "
        f"compared {_e(data['generated'])} by gp2bm {_e(data['gp2bm_version'])}</div>"
    )


def comparison_html(data: dict) -> str:
    """The page (see the module)."""
    body = [_head(data)]
    if data["apart"]:
        body.append(
            '<div class="banner" id="not-verified"><b>NOT EVERY BUNDLE VERIFIES</b><p>'
            f"{len(data['apart'])} of {data['compared']} bundle(s) do not verify: they are set "
            "apart below, never ranked.</p></div>"
        )
    body += ["<h2>Ranking</h2>", "<p>The bundles that verify, by the RFP score.</p>",
             _ranking(data), "<h2>Score</h2>", score_chart(data),
             "<h2>Not verified (not ranked)</h2>", _apart(data)]  # fmt: skip
    if data["same_vendor_system"]:
        body.append("<h2>Same vendor and system</h2><ul>")
        for group in data["same_vendor_system"]:
            said = f"{group['vendor']}: {group['system']}: {', '.join(group['bundles'])}"
            body.append(f"<li>{_e(said)}</li>")
        body.append("</ul>")
    body.append("<h2>Runs</h2>")
    for bench in data["benchmarks"]:
        body += [f"<h3>{_e(bench)}</h3>", strip_plot(data, bench), _runs_table(data, bench)]
    body += ["<h2>Hardware</h2>", _hardware(data), "<h2>Bundles</h2>"]
    body += [_bundle_section(e) for e in data["ranking"] + data["apart"]]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>gp2bm comparison of {data['compared']} bundle(s)</title>"
        f"<style>{CSS}{EXTRA_CSS}</style></head><body><main>"
        + "\n".join(body)
        + "</main></body></html>\n"
    )


def write_comparison_html(data: dict, path: Path) -> Path:
    return write_file(path, comparison_html(data).encode("utf-8"))
