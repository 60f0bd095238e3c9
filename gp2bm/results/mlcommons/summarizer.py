"""MLCommons' result summarizer on an organisation's submission tree, for its energy column.

``summarize_results`` reads every ``<system>/<benchmark>`` of the tree (its system
description, each result log through the compliance checker, the power logs of a benchmark
with a ``power`` folder) and returns pandas tables; its detailed table has one
``<benchmark>:Energy`` column (joules, the olympic mean over the score's runs). It runs the
RCP checker on closed-division folders, which writes ``scaling.json`` beside the logs: it
is run on a copy of the tree, never on the tree. What it prints is captured.
"""

from __future__ import annotations

import contextlib
import io
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from gp2bm.results.mlcommons import install
from gp2bm.results.mlcommons.capture import captured_logging
from gp2bm.results.mlcommons.compliance import fresh_queue
from gp2bm.results.mlcommons.rulesets import USAGE

ENERGY = ":Energy"
TIME = ":time_to_train"


@dataclass(frozen=True)
class Summary:
    """The summarizer's energy (joules) and time to train (minutes) of each
    ``<system>/<benchmark>`` it scored, and what it printed."""

    energy: dict[str, float] = field(default_factory=dict)
    minutes: dict[str, float] = field(default_factory=dict)
    output: str = ""


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def summarize(org_dir: Path, ruleset: str, work: Path) -> Summary:
    """MLCommons' summarizer on a copy of ``org_dir`` made in ``work`` (an empty folder)."""
    install()
    from mlperf_logging.result_summarizer import (  # heavy: pandas, 1 s to import
        result_summarizer,
    )

    tree = Path(work) / Path(org_dir).name
    shutil.copytree(org_dir, tree, symlinks=True)
    sink = io.StringIO()
    with (
        fresh_queue(),
        captured_logging(),
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
    ):
        tables = result_summarizer.summarize_results(str(tree), USAGE, ruleset)
    detailed = tables[2]
    energy, minutes = {}, {}
    for row in detailed.to_dict("records") if len(detailed) else []:
        system = str(row.get("system"))
        for column, value in row.items():
            number = _number(value)
            if number is None:
                continue
            if str(column).endswith(ENERGY):
                energy[f"{system}/{str(column)[: -len(ENERGY)]}"] = number
            elif str(column).endswith(TIME):
                minutes[f"{system}/{str(column)[: -len(TIME)]}"] = number
    return Summary(energy, minutes, sink.getvalue())
