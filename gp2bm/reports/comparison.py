"""The comparison of several bundles (``evaluation.compare``) as terminal lines, one CSV row
per bundle and a workbook of its tables; ``comparison_page`` draws the HTML page. Each
renders the comparison's JSON (``Comparison.as_dict``).

Every text that came from a bundle (a vendor's name, a system's, a finding) is escaped for
where it goes: shown as plain text on a terminal (``plaintext.printable``: no escape
sequence obeyed), a formula-safe field in the CSV and a string cell in the workbook
(``celltext``: a name that starts with ``=`` stays text). Numbers stay numbers, at full
precision (``official.typed_*``), as gp2bm's other sheets give them; the JSON keeps the
exact values, which the ranking is made of.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from gp2bm.files.atomic import write_bytes_atomic
from gp2bm.files.plaintext import printable
from gp2bm.reports.celltext import csv_text
from gp2bm.reports.official import typed_minutes, typed_score, typed_seconds
from gp2bm.reports.xlsx_report import _header, _put, _widths, workbook_bytes

TEXT_LIMIT = 300  # a finding or a name, cut on a terminal line


# ---------------------------------------------------------------------------- words


def number(value: float | None, digits: int = 4) -> str:
    """Minutes or seconds for a person: four significant digits ("13.34", "0.001177")."""
    return "none" if value is None else f"{value:.{digits}g}"


def score_text(value: float | None) -> str:
    return "none" if value is None else f"{value:.4f}"


def interval_text(low: float | None, high: float | None, digits: int = 4) -> str:
    if low is None:
        return "none"
    return f"{number(low, digits)} to {'no upper end' if high is None else number(high, digits)}"


def accelerators_text(entry: dict) -> str:
    """``8x H100-SXM5-80GB per node, 1 node`` (``no accelerator`` for none)."""
    per_node, nodes = entry["accelerators_per_node"], entry["nodes"]
    on = f"{nodes} node{'s' if nodes != 1 else ''}" if nodes else "nodes not known"
    if not entry["accelerator"] or not per_node:
        return f"no accelerator, {on}"
    return f"{per_node}x {entry['accelerator']} per node, {on}"


def hardware_words(entry: dict) -> str:
    """The hardware in the system description's words, in one sentence."""
    h = entry["hardware"]
    parts = ["no accelerator"]
    if entry["accelerator"] and h.get("accelerator_model_name"):
        memory = h.get("accelerator_memory_capacity")
        memory = f" ({memory})" if memory else ""
        parts = [
            f"{h.get('accelerators_per_node', '?')}x {h['accelerator_model_name']}{memory} per node"
        ]
    parts.append(f"{h.get('number_of_nodes', entry['nodes'] or '?')} node(s)")
    if h.get("host_processor_model_name"):
        cores = h.get("host_processor_core_count")
        parts.append(
            f"host {h.get('host_processors_per_node', '?')}x {h['host_processor_model_name']}"
            + (f" ({cores} cores each)" if cores else "")
        )
    for key, word in (("host_memory_capacity", "memory"), ("host_networking", "network"),
                       ("accelerator_interconnect", "interconnect"),
                       ("framework", "framework"), ("operating_system", "OS")):  # fmt: skip
        if h.get(key) and (entry["accelerator"] or key != "accelerator_interconnect"):
            parts.append(f"{word} {h[key]}")
    if entry.get("driver"):
        parts.append(f"GPU driver {entry['driver']}")
    return "; ".join(parts) if entry["org"] is not None else "not known (the bundle was not read)"


def label(entry: dict) -> str:
    """``Acme: Acme X9000 (node1)``: the vendor, the system's name and its folder's."""
    if entry["org"] is None:
        return f"{entry['name']} (not read)"
    name, system = entry["system_name"], entry["system"]
    return f"{entry['vendor']}: {name}" + ("" if name == system else f" ({system})")


def first_findings(entry: dict, count: int) -> list[str]:
    return [f"{f['class']}: {f['text']}" for f in entry["findings"][:count]]


def bench_name(data: dict, bench: str) -> str:
    """``R resnet`` where the formula names the benchmark by a symbol, else ``resnet``."""
    symbol = data["symbols"].get(bench) or bench
    return bench if symbol == bench else f"{symbol} {bench}"


def plausibility_text(entry: dict, data: dict) -> str:
    said = [
        f"{b}: {entry['benchmarks'][b]['plausibility']['sentence']}"
        for b in data["benchmarks"]
        if b in entry["benchmarks"]
    ]
    return "; ".join(said) or "none"


# ---------------------------------------------------------------------------- terminal


def _rules_line(data: dict) -> str:
    direction = "higher is better" if data["higher_is_better"] else "lower is better"
    accepted = ", ".join(data["accepted"]) or "none"
    return (
        f"compared {data['compared']} bundle(s) by the rules of "
        f"{data['reference'].get('source', '?')}: {data['verified']} verified, ranked by the "
        f"RFP score ({data['formula']}, {direction}); {len(data['apart'])} not verified, set "
        f"apart; reservations accepted for every bundle: {accepted}"
    )


def _ranked_lines(entry: dict, data: dict) -> list[str]:
    results = []
    for b in data["benchmarks"]:
        r = entry["benchmarks"][b]
        results.append(
            f"{bench_name(data, b)} {number(r['minutes'])} min = {number(r['seconds'])} s "
            f"(95 % interval {interval_text(r['interval_low'], r['interval_high'])}; runs "
            f"{interval_text(r['runs_min'], r['runs_max'])}; {energy_text(r)})"
        )
    interval = entry["score_interval"] or {}
    lines = [
        f"  {entry['rank']}. {printable(label(entry), TEXT_LIMIT)}, "
        f"{printable(accelerators_text(entry), TEXT_LIMIT)}: score {score_text(entry['score'])} "
        f"(95 % interval {interval_text(interval.get('low'), interval.get('high'), 8)})",
        f"     {'; '.join(results)}",
        "     reservations accepted: "
        + (", ".join(entry["accepted_reservations"]) or "none")
        + f"; published results: {printable(plausibility_text(entry, data), 2 * TEXT_LIMIT)}",
    ]
    return lines + _bundle_lines(entry)


def _bundle_lines(entry: dict) -> list[str]:
    lines = [f"     bundle {printable(entry['bundle'], TEXT_LIMIT)} (SHA-256 {entry['sha256']})"]
    if entry["same_as"]:
        others = ", ".join(printable(b, TEXT_LIMIT) for b in entry["same_as"])
        lines.append(f"     same vendor and system as: {others}")
    return lines


def _apart_lines(entry: dict, count: int) -> list[str]:
    lines = [
        f"  {printable(label(entry), TEXT_LIMIT)}: not verified, {len(entry['findings'])} "
        "finding(s); first:"
    ]
    lines += [f"     {printable(f, TEXT_LIMIT)}" for f in first_findings(entry, count)]
    return lines + _bundle_lines(entry)


def _run_lines(data: dict) -> list[str]:
    lines = []
    for bench in data["benchmarks"]:
        for entry in data["ranking"] + data["apart"]:
            runs = entry["runs"].get(bench) or []
            if not runs:
                continue
            rank = f"{entry['rank']}." if entry["rank"] else "not verified:"
            each = ", ".join(f"{number(r['minutes'])} {r['role']}" for r in runs)
            lines.append(f"  {bench}, {rank} {printable(label(entry), TEXT_LIMIT)}: {each}")
    return lines


def comparison_lines(data: dict, count: int = 3) -> list[str]:
    """The comparison in lines: the rules, the ranking, the bundles set apart (each with
    its first ``count`` findings), every run (minutes), then the verdict."""
    lines = [printable(_rules_line(data), 2 * TEXT_LIMIT), "ranking (the bundles that verify):"]
    for entry in data["ranking"]:
        lines += _ranked_lines(entry, data)
    if not data["ranking"]:
        lines.append("  none")
    if data["apart"]:
        lines.append("not verified, not ranked:")
        for entry in data["apart"]:
            lines += _apart_lines(entry, count)
    lines.append("every run (minutes, and what the olympic mean did with it):")
    lines += _run_lines(data)
    lines.append(
        "every bundle verified"
        if data["ok"]
        else f"not every bundle verified: {len(data['apart'])} of {data['compared']} set apart"
    )
    return lines


# ---------------------------------------------------------------------------- tables


def _result_columns(data: dict, entry: dict) -> dict:
    out: dict = {}
    for b in data["benchmarks"]:
        r = entry["benchmarks"].get(b) or {}
        out[f"{b}_minutes"] = typed_minutes(r.get("minutes"))
        out[f"{b}_seconds"] = typed_seconds(r.get("minutes"))
        out[f"{b}_interval_low"] = typed_minutes(r.get("interval_low"))
        out[f"{b}_interval_high"] = typed_minutes(r.get("interval_high"))
        out[f"{b}_runs_min"] = typed_minutes(r.get("runs_min"))
        out[f"{b}_runs_max"] = typed_minutes(r.get("runs_max"))
        out[f"{b}_plausibility"] = (r.get("plausibility") or {}).get("verdict")
        out[f"{b}_energy_kwh"] = r.get("energy_kwh")
        out[f"{b}_average_power_w"] = r.get("average_power_w")
    return out


def energy_text(r: dict) -> str:
    """A benchmark's energy in a comparison: kWh and average node power, or none."""
    if r.get("energy_kwh") is None:
        return "no energy (no power logs)"
    watts = r.get("average_power_w")
    power = f", {watts:.1f} W average node power" if watts is not None else ""
    return f"energy {r['energy_kwh']:.6g} kWh{power}"


def bundle_row(data: dict, entry: dict) -> dict:
    """One bundle as one row of typed values (the CSV's row, the Ranking sheet's)."""
    interval = entry["score_interval"] or {}
    return {
        "rank": entry["rank"],
        "verified": entry["verified"],
        "vendor": entry["vendor"],
        "organisation": entry["org"],
        "system": entry["system"],
        "system_name": entry["system_name"],
        "accelerator": entry["accelerator"] or None,
        "accelerators_per_node": entry["accelerators_per_node"],
        "nodes": entry["nodes"],
        **_result_columns(data, entry),
        "score": typed_score(entry["score"]),
        "score_interval_low": typed_score(interval.get("low")),
        "score_interval_high": typed_score(interval.get("high")),
        "reservations_accepted": ", ".join(entry["accepted_reservations"]),
        "findings": len(entry["findings"]),
        "first_finding": (first_findings(entry, 1) or [""])[0],
        "same_vendor_system": ", ".join(entry["same_as"]),
        "bundle": entry["bundle"],
        "sha256": entry["sha256"],
    }


RUN_COLUMNS = ["benchmark", "rank", "verified", "vendor", "system", "bundle", "file",
               "minutes", "seconds", "role", "counted"]  # fmt: skip


def _run_table(data: dict) -> list[dict]:
    return [
        dict(zip(RUN_COLUMNS, (
            bench, run["rank"], run["verified"], run["vendor"], run["system"], run["bundle"],
            run["file"], typed_minutes(run["minutes"]), typed_seconds(run["minutes"]),
            run["role"], run["counted"],
        ), strict=True))
        for bench, runs in data["runs"].items()
        for run in runs
    ]  # fmt: skip


def _bundle_tables(data: dict) -> tuple[list[dict], list[dict]]:
    """The hardware of each bundle, and each line of its verdict and ledger."""
    hardware, verdicts = [], []
    for entry in data["ranking"] + data["apart"]:
        who = {"rank": entry["rank"], "vendor": entry["vendor"], "system": entry["system"],
               "bundle": entry["bundle"]}  # fmt: skip
        hardware.append({**who, "accelerator": entry["accelerator"] or None,
                         "accelerators_per_node": entry["accelerators_per_node"],
                         "nodes": entry["nodes"], "hardware": hardware_words(entry)})  # fmt: skip
        said = [("verdict", "verified" if entry["verified"] else "not verified")]
        said += [(f["class"], f["text"]) for f in entry["findings"]]
        for r in entry["reservations"]:
            state = "accepted" if r["accepted"] else "open"
            said.append(("reservation", f"{r['name']} ({state}): {r['text']}"))
        said += [("ledger", line) for line in entry["ledger_lines"]]
        verdicts += [{**who, "kind": kind, "text": text} for kind, text in said]
    return hardware, verdicts


def tables(data: dict) -> dict[str, list[dict]]:
    """Every table of the comparison, by its sheet's name: rows of typed values."""
    hardware, verdicts = _bundle_tables(data)
    return {
        "Ranking": [bundle_row(data, e) for e in data["ranking"]],
        "Not verified": [bundle_row(data, e) for e in data["apart"]],
        "Runs": _run_table(data),
        "Hardware": hardware,
        "Verdicts": verdicts,
        "Rules": [
            {"what": "rules of", "value": data["reference"].get("source")},
            {"what": "suite", "value": data["reference"].get("suite")},
            {"what": "formula", "value": data["formula"]},
            {"what": "higher is better", "value": data["higher_is_better"]},
            {"what": "reservations accepted", "value": ", ".join(data["accepted"]) or "none"},
            {"what": "generated", "value": data["generated"]},
            {"what": "gp2bm", "value": data["gp2bm_version"]},
        ],
    }


# ---------------------------------------------------------------------------- files


def _number_format(column: str) -> str | None:
    """How a sheet shows a column's numbers: as the CSV gives them."""
    if column.startswith("score"):
        return "0.000000"
    if column.endswith(("minutes", "seconds", "_low", "_high", "_min", "_max")):
        return "0.000"
    return None


def _sheet(ws, rows: list[dict], columns: list[str]) -> None:
    _header(ws, 1, columns)
    for r, row in enumerate(rows, 2):
        for c, column in enumerate(columns, 1):
            cell = _put(ws, r, c, row.get(column))
            fmt = _number_format(column)
            if fmt and isinstance(row.get(column), float):
                cell.number_format = fmt
    _widths(ws, [max(10, min(48, len(c) + 4)) for c in columns])
    ws.freeze_panes = "A2"


def build_comparison_workbook(data: dict):
    """The comparison's workbook, in memory: one sheet per table, values typed."""
    from openpyxl import Workbook  # heavy: openpyxl

    wb = Workbook()
    first = wb.worksheets[0]
    for n, (title, rows) in enumerate(tables(data).items()):
        ws = first if n == 0 else wb.create_sheet()
        ws.title = title
        _sheet(ws, rows, list(rows[0]) if rows else columns_of(data, title))
    return wb


def columns_of(data: dict, title: str) -> list[str]:
    """The columns of a table that has no row (no bundle set apart, no run read)."""
    if title in ("Ranking", "Not verified"):
        return list(bundle_row(data, _EMPTY))
    return RUN_COLUMNS if title == "Runs" else ["vendor", "system", "bundle"]


# An entry with nothing in it: the columns of the bundle tables when a table has no row.
_EMPTY: dict = {
    "rank": None, "verified": False, "vendor": None, "org": None, "system": None,
    "system_name": None, "accelerator": "", "accelerators_per_node": None, "nodes": None,
    "benchmarks": {}, "score": None, "score_interval": None, "accepted_reservations": [],
    "findings": [], "same_as": [], "bundle": None, "sha256": None,
}  # fmt: skip


def write_file(path: Path, data: bytes) -> Path:
    """``data`` written to ``path`` whole or not at all (its folder made where missing)."""
    return write_bytes_atomic(Path(path), data)


def write_comparison_xlsx(data: dict, path: Path) -> Path:
    return write_file(path, workbook_bytes(build_comparison_workbook(data)))


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return repr(value)
    return csv_text(printable(value))


def render_comparison_csv(data: dict) -> str:
    """One row per bundle: the ranked ones in rank order, then those set apart."""
    rows = [bundle_row(data, e) for e in data["ranking"] + data["apart"]]
    columns = list(bundle_row(data, _EMPTY))
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_value(row[c]) for c in columns])
    return buf.getvalue()


def write_comparison_csv(data: dict, path: Path) -> Path:
    return write_file(path, render_comparison_csv(data).encode("utf-8"))
