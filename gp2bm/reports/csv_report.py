"""The spreadsheet-ready CSV: one row per run, one per benchmark result, one for the score.

One table with a fixed header, so that any spreadsheet opens it as columns: ``kind`` says
what a row is (``run``, ``result``, ``score``); numbers are plain decimals with a point, in full
without float noise (``official.typed_*``), never quoted, never localised. A result row
gives the official number (``minutes``: the olympic mean times the scaling factor) with the
unscaled mean, the factor and why beside it, then its 95 % interval (``interval_low``,
``interval_high``: minutes, or the score on the score row; empty where there is none, or no
upper end) and MLPerf's stated variance of such a benchmark (``stated_variance``, a
fraction). With MLPerf power logs, each run's energy (``energy_kwh``), its nodes' average
power and its readings, and each result's energy (the olympic mean over the same runs as
the score, scaled as it is). Text that would start like a formula gets a leading
apostrophe (``celltext``).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from gp2bm.files.atomic import write_text_atomic
from gp2bm.reports.celltext import csv_text
from gp2bm.reports.official import factor_text, typed_minutes, typed_score, typed_seconds
from gp2bm.reports.view import CampaignView
from gp2bm.results.scoring import BenchmarkScore, SuiteScore

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
    "unscaled_minutes",
    "scaling_factor",
    "scaling_reason",
    "interval_low",
    "interval_high",
    "stated_variance",
    "energy_kwh",
    "average_power_w",
    "power_samples",
]
# Columns that hold numbers: never touched by the formula guard.
NUMBER_COLUMNS = {
    "run",
    "seed",
    "minutes",
    "seconds",
    "score",
    "unscaled_minutes",
    "scaling_factor",
    "interval_low",
    "interval_high",
    "stated_variance",
    "energy_kwh",
    "average_power_w",
    "power_samples",
}


def _num(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _relaxed(record) -> list[str]:
    """The run's relaxed container options (seccomp=unconfined, ...), as the HTML shows them."""
    relaxed = record.relaxed if record is not None else None
    return [f"container: {', '.join(relaxed)}"] if relaxed else []


def _run_energy(bench: BenchmarkScore, file: str) -> dict[str, str]:
    """A run's energy columns (empty without power logs)."""
    found = next((e for e in (bench.energy.runs if bench.energy else []) if e.result == file), None)
    if found is None:
        return {}
    return {
        "energy_kwh": _num(found.kwh),
        "average_power_w": _num(found.average_w),
        "power_samples": str(found.samples),
    }


def _run_rows(view: CampaignView) -> list[dict[str, str]]:
    out = []
    for name, bench in view.score.benchmarks.items():
        for run in view.runs[name]:
            r = run.score
            out.append(
                {
                    **dict.fromkeys(COLUMNS, ""),
                    "kind": "run",
                    "benchmark": name,
                    "run": "" if run.index is None else str(run.index),
                    "file": r.file,
                    "seed": "" if r.seed is None else str(r.seed),
                    "minutes": _num(typed_minutes(r.minutes)),
                    "seconds": _num(typed_seconds(r.minutes)),
                    "status": r.status,
                    "verdict": r.role,
                    "valid": "",
                    "score": "",
                    "note": "; ".join(r.reasons + _relaxed(run.record)),
                    **_run_energy(bench, r.file),
                }
            )
    return out


def _result_rows(score: SuiteScore) -> list[dict[str, str]]:
    out = []
    for name, bench in score.benchmarks.items():
        counted = sum(1 for r in bench.runs if r.counted)
        note = f"olympic mean of {counted} counted runs x scaling {factor_text(bench)}"
        interval = bench.interval
        if interval.reason:
            note += f"; 95 % interval: {interval.reason}"
        if bench.problems:
            note += "; " + "; ".join(bench.problems)
        out.append(
            {
                **dict.fromkeys(COLUMNS, ""),
                "kind": "result",
                "benchmark": name,
                "minutes": _num(typed_minutes(bench.minutes)),
                "seconds": _num(typed_seconds(bench.minutes)),
                "valid": "yes" if bench.valid else "no",
                "note": note,
                "unscaled_minutes": _num(typed_minutes(bench.mean)),
                "scaling_factor": _num(bench.scaling_factor),
                "scaling_reason": bench.scaling_reason,
                "interval_low": _num(typed_minutes(interval.low)),
                "interval_high": _num(typed_minutes(interval.high)),
                "stated_variance": _num(bench.stated_variance.fraction),
                "energy_kwh": "" if bench.energy is None else _num(bench.energy.kwh),
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
    interval = score.score_interval
    return {
        **dict.fromkeys(COLUMNS, ""),
        "kind": "score",
        "valid": "yes" if score.valid else "no",
        "score": _num(typed_score(score.score)),
        "note": f"{suite.formula_text()} (suite {suite.name}, ruleset {score.ruleset})",
        "interval_low": _num(typed_score(None if interval is None else interval.low)),
        "interval_high": _num(typed_score(None if interval is None else interval.high)),
    }


def _guarded(row: dict[str, str]) -> dict[str, str]:
    return {k: v if k in NUMBER_COLUMNS else csv_text(v) for k, v in row.items()}


def rows(view: CampaignView) -> list[dict[str, str]]:
    """Every run, then every benchmark's result, then the score; text made formula-safe."""
    table = [*_run_rows(view), *_result_rows(view.score), _score_row(view.score)]
    return [_guarded(row) for row in table]


def render_csv(view: CampaignView) -> str:
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows(view))
    return buf.getvalue()


def write_csv(view: CampaignView, path: Path) -> Path:
    return write_text_atomic(Path(path), render_csv(view))


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV written by write_csv (for verify)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
