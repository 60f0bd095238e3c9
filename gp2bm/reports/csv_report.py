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
from gp2bm.results.scoring import SuiteScore

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


def _run_rows(view: CampaignView) -> list[dict[str, str]]:
    out = []
    for name in view.score.benchmarks:
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
    return out


def _result_rows(score: SuiteScore) -> list[dict[str, str]]:
    out = []
    for name, bench in score.benchmarks.items():
        counted = sum(1 for r in bench.runs if r.counted)
        factor = "none" if bench.scaling_factor is None else f"{bench.scaling_factor:g}"
        note = f"olympic mean of {counted} counted runs x scaling {factor}"
        if bench.problems:
            note += "; " + "; ".join(bench.problems)
        out.append(
            {
                **dict.fromkeys(COLUMNS, ""),
                "kind": "result",
                "benchmark": name,
                "minutes": _num(bench.minutes),
                "seconds": _num(None if bench.minutes is None else bench.minutes * 60),
                "valid": "yes" if bench.valid else "no",
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
    return out


def _score_row(score: SuiteScore) -> dict[str, str]:
    suite = score.suite
    return {
        **dict.fromkeys(COLUMNS, ""),
        "kind": "score",
        "valid": "yes" if score.valid else "no",
        "score": _num(score.score),
        "note": f"{suite.formula_text()} (suite {suite.name}, ruleset {score.ruleset})",
    }


def rows(view: CampaignView) -> list[dict[str, str]]:
    """Every run, then every benchmark's result, then the score."""
    return [*_run_rows(view), *_result_rows(view.score), _score_row(view.score)]


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
