"""The spreadsheet-ready CSV: one row per run, one per benchmark result, one for the score.

One table with a fixed header, so that any spreadsheet opens it as columns: ``kind`` says
what a row is (``run``, ``result``, ``score``); numbers are plain decimals with a point and
full precision (a float's shortest exact text), never quoted, never localised.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from gp2bm.reports.view import CampaignView

COLUMNS = [
    "kind",
    "benchmark",
    "run",
    "file",
    "seed",
    "minutes",
    "seconds",
    "status",
    "verdict",
    "valid",
    "score",
    "note",
]


def _num(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def rows(view: CampaignView) -> list[dict[str, str]]:
    out = []
    score = view.score
    for name in score.benchmarks:
        for run in view.runs[name]:
            r = run.score
            out.append(
                {
                    "kind": "run",
                    "benchmark": name,
                    "run": "" if run.index is None else str(run.index),
                    "file": r.file,
                    "seed": "" if r.seed is None else str(r.seed),
                    "minutes": _num(r.minutes),
                    # a run's time is whole milliseconds: no float noise in its seconds
                    "seconds": _num(None if r.minutes is None else round(r.minutes * 60, 3)),
                    "status": r.status,
                    "verdict": r.role,
                    "valid": "",
                    "score": "",
                    "note": "; ".join(r.reasons),
                }
            )
    for name, bench in score.benchmarks.items():
        counted = sum(1 for r in bench.runs if r.counted)
        note = f"olympic mean of {counted} counted runs x scaling {bench.scaling_factor:g}"
        if bench.problems:
            note += "; " + "; ".join(bench.problems)
        out.append(
            {
                "kind": "result",
                "benchmark": name,
                "run": "",
                "file": "",
                "seed": "",
                "minutes": _num(bench.minutes),
                "seconds": _num(None if bench.minutes is None else bench.minutes * 60),
                "status": "",
                "verdict": "",
                "valid": "yes" if bench.valid else "no",
                "score": "",
                "note": note,
            }
        )
    for name in score.missing:
        out.append(
            {
                **dict.fromkeys(COLUMNS, ""),
                "kind": "result",
                "benchmark": name,
                "valid": "no",
                "note": "no results",
            }
        )
    out.append(
        {
            **dict.fromkeys(COLUMNS, ""),
            "kind": "score",
            "valid": "yes" if score.valid else "no",
            "score": _num(score.score),
            "note": f"{score.suite.formula_text()} (suite {score.suite.name}, "
            f"ruleset {score.ruleset})",
        }
    )
    return out


def render_csv(view: CampaignView) -> str:
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows(view))
    return buf.getvalue()


def write_csv(view: CampaignView, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_csv(view), encoding="utf-8", newline="")
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV written by write_csv (for verify)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
