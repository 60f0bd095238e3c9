"""The acceptance verdict (``evaluation.accept``) as text lines and as one self-contained
HTML page. Both render the verdict's JSON (``Acceptance.as_dict``); every text from a
bundle or a campaign is escaped (HTML) or shown as plain text (the terminal)."""

from __future__ import annotations

from html import escape
from pathlib import Path

from gp2bm.files.atomic import write_text_atomic
from gp2bm.files.plaintext import printable


def _score(value: float | None) -> str:
    return "none" if value is None else f"{value:.6f}"


def acceptance_lines(data: dict) -> list[str]:
    """The verdict in lines: the rules, what was compared, each benchmark, each difference,
    the acceptance campaign's ledger, then "accepted" or why not."""
    ref = data.get("reference") or {}
    lines = [f"acceptance of {data['campaign']} against the committed {data['bundle']}"]
    if ref:
        lines.append(f"  rules: {ref.get('source', '?')}")
    lines += [f"  compared: {printable(c, 400)}" for c in data["compared"]]
    lines += [f"  {printable(b['line'], 400)}" for b in data["benchmarks"].values()]
    lines.append(
        f"  score: committed {_score(data['committed_score'])}, delivered "
        f"{_score(data['delivered_score'])}"
    )
    for d in data["differences"]:
        mark = "accepted" if d["accepted"] else "differs"
        lines.append(f"  {mark}: {d['kind']}: {printable(d['text'], 400)}")
    lines += [f"  acceptance campaign's ledger: {printable(x, 300)}" for x in data["ledger"]]
    accepting = data.get("accepting") or []
    also = f" (accepting {', '.join(accepting)})" if accepting else ""
    lines.append(f"accepted{also}" if data["accepted"] else "not accepted")
    return lines


def acceptance_html(data: dict) -> str:
    """One page, no script, no outside resource."""
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td>{escape(b['line'].split(': ', 1)[-1])}</td>"
        f"<td>{'pass' if b['passed'] else 'FAIL'}</td></tr>"
        for name, b in data["benchmarks"].items()
    )
    diffs = (
        "".join(
            f"<li>{'accepted' if d['accepted'] else 'differs'}: {escape(d['kind'])}: "
            f"{escape(d['text'])}</li>"
            for d in data["differences"]
        )
        or "<li>none</li>"
    )
    compared = "".join(f"<li>{escape(c)}</li>" for c in data["compared"])
    ledger = "".join(f"<li>{escape(x)}</li>" for x in data["ledger"])
    verdict = "accepted" if data["accepted"] else "not accepted"
    ref = escape(str((data.get("reference") or {}).get("source", "?")))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>gp2bm acceptance</title><style>body{font-family:sans-serif;margin:2em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}"
        "</style></head><body>"
        f"<h1>Acceptance: {escape(verdict)}</h1>"
        f"<p>The acceptance campaign {escape(str(data['campaign']))} against the committed "
        f"bundle {escape(str(data['bundle']))}, by the rules of {ref}.</p>"
        f"<h2>What was compared</h2><ul>{compared}</ul>"
        "<h2>Results</h2><table><tr><th>benchmark</th><th>committed and delivered</th>"
        f"<th>verdict</th></tr>{rows}</table>"
        f"<p>Score: committed {_score(data['committed_score'])}, delivered "
        f"{_score(data['delivered_score'])}.</p>"
        f"<h2>Differences</h2><ul>{diffs}</ul>"
        f"<h2>The acceptance campaign's trust ledger</h2><ul>{ledger}</ul>"
        "</body></html>\n"
    )


def write_acceptance_html(data: dict, path: Path) -> Path:
    return write_text_atomic(Path(path), acceptance_html(data))
