"""How every report shows a benchmark's result: the official number (the olympic mean times
the scaling factor, as MLCommons' tools publish it), the unscaled olympic mean beside it,
why the factor is what it is, and how far the result could move: its 95 % interval from its
runs beside MLPerf's stated variance (``results.spread``).

For a suite with RCP checks the factor is the RCP normalisation MLCommons' package checker
writes to scaling.json: a vendor whose runs converge faster than the reference sees the
number the evaluator will compute, never the better unscaled one alone.
"""

from __future__ import annotations

from gp2bm.files.plaintext import printable
from gp2bm.results.energy import BenchmarkEnergy
from gp2bm.results.scoring import BenchmarkScore, SuiteScore

# How a form shows the numbers (the workbooks' number formats, the text): minutes with
# three decimals, as MLCommons' results tables publish time-to-train; seconds with three (a
# run's time is whole milliseconds); the score with six. The cells and the CSV hold them in
# full: only the float noise of the arithmetic is cut (``STORED_DECIMALS``: far below a
# millisecond's share of any mean of runs), so 0.239 s is never 0.23899999999999996 and a
# smoke run's 0.0018116666666667 min is never 0.002.
MINUTE_DECIMALS = 3
SECOND_DECIMALS = 3
SCORE_DECIMALS = 6
STORED_DECIMALS = 12


def factor_text(b: BenchmarkScore) -> str:
    """The factor, with where it comes from: ``1.0213 (rcp)``; ``none (rcp)`` when the RCP
    check failed and gives none."""
    factor = "none" if b.scaling_factor is None else f"{b.scaling_factor:.6g}"
    return f"{factor} ({b.scaling_source})"


def scaled(b: BenchmarkScore) -> bool:
    """Whether the official number differs from the unscaled mean (or there is none)."""
    return b.scaling_factor != 1.0


def result_line(b: BenchmarkScore) -> str:
    """One line: ``olympic mean X min x scaling F (source) = Y min: <reason>``."""
    mean = "none" if b.mean is None else f"{b.mean:.6f} min"
    official = "none" if b.minutes is None else f"{b.minutes:.6f} min"
    return f"olympic mean {mean} x scaling {factor_text(b)} = {official}: {b.scaling_reason}"


def spread_text(b: BenchmarkScore, digits: int = 6) -> str:
    """``95 % interval 0.002389 to 0.002706 min (bootstrap of the olympic rule over the 5
    runs, 10000 resamples); MLPerf's stated variance +/-2.5 % (image benchmarks): ...``."""
    interval = b.interval
    how = ""
    if interval.seed is not None:
        how = (
            f" (bootstrap of the olympic rule over the {interval.runs} runs, "
            f"{interval.resamples} resamples)"
        )
    return (
        f"95 % interval {interval.text(digits)}{how}; MLPerf's stated variance "
        f"{b.stated_variance.text(digits)}"
    )


def score_spread_text(score: SuiteScore, digits: int = 6) -> str | None:
    """``95 % interval 8233.874841 to 9398.002736 (joint bootstrap of the benchmarks)``;
    None without a score."""
    interval = score.score_interval
    if interval is None:
        return None
    return f"95 % interval {interval.text(digits)} (joint bootstrap of the benchmarks)"


def score_interval_summary(score: SuiteScore) -> dict | None:
    """The score's 95 % interval for a JSON answer (None without a score)."""
    interval = score.score_interval
    return None if interval is None else interval.as_dict()


def typed_minutes(minutes: float | None) -> float | None:
    """Minutes as a report's cell holds them: full precision (a smoke run's 0.0018 min is
    no 0.002); a cell's number format rounds for display only (``MINUTE_DECIMALS``)."""
    return None if minutes is None else round(float(minutes), STORED_DECIMALS)


def typed_seconds(minutes: float | None) -> float | None:
    """The seconds of ``minutes``, full precision (displayed with ``SECOND_DECIMALS``)."""
    return None if minutes is None else round(float(minutes) * 60, STORED_DECIMALS - 3)


def typed_score(score: float | None) -> float | None:
    """The score, full precision (displayed with ``SCORE_DECIMALS``)."""
    return None if score is None else round(float(score), STORED_DECIMALS)


def official_summary(b: BenchmarkScore) -> dict:
    """The official number and what it is made of, for a JSON answer."""
    return {
        "minutes": b.minutes,
        "seconds": None if b.minutes is None else b.minutes * 60,
        "valid": b.valid,
        "unscaled_minutes": b.mean,
        "scaling_factor": b.scaling_factor,
        "scaling_source": b.scaling_source,
        "scaling_reason": b.scaling_reason,
        "interval": b.interval.as_dict(),
        "stated_variance": b.stated_variance.as_dict(),
    }


def energy_text(e: BenchmarkEnergy) -> str:
    """A benchmark's energy in one line: kWh, the runs' average node power and readings,
    the source (printable: the source's name comes from a power log)."""
    measured = [r for r in e.runs if r.joules is not None]
    watts = [r.average_w for r in measured if r.average_w is not None]
    samples = sum(r.samples for r in measured)
    source = printable(str(next((r.source for r in e.runs if r.source), "unknown")), 120)
    if e.kwh is None:
        figure = f"none ({e.reason})"
    else:
        figure = f"{e.kwh:.6g} kWh ({e.joules:.6g} J, olympic mean of {len(e.counted)} runs)"
    average = f"{sum(watts) / len(watts):.1f} W average node power" if watts else "no reading"
    return (
        f"{figure}; {average}, {samples} readings in {len(measured)} measured loops; "
        f"{source}; {len(e.findings)} finding(s)"
    )
