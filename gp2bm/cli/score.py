"""gp2bm score."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from gp2bm.cli.app import app, out
from gp2bm.cli.options import SuiteOpt


class Compliance(StrEnum):
    strict = "strict"
    report = "report"
    off = "off"


@app.command()
def score(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Benchmark folder(s) with result_*.txt, system folder(s) or a campaign."
        ),
    ],
    ruleset: Annotated[
        str | None,
        typer.Option(help="mlperf-logging ruleset to check against (default: the suite's, 3.1.0)."),
    ] = None,
    compliance: Annotated[
        Compliance | None,
        typer.Option(
            help="strict: a run failing compliance is a failed run (MLCommons' summarizer); "
            "report: check and report only (older rounds' logs fail today's checker); off: skip.",
        ),
    ] = None,
    rcp: Annotated[
        bool,
        typer.Option(
            "--rcp", help="Take the scaling factor from the RCPs instead of scaling.json."
        ),
    ] = False,
    suite: SuiteOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
):
    """Score MLPerf result logs: per-run minutes, olympic mean, scaling and the RFP score.

    Exit 0 when every benchmark of the suite is present and valid, 1 when a result is
    invalid or missing, 2 for bad input.
    """
    from gp2bm.reports.terminal import render_score
    from gp2bm.results.resultset import score_paths
    from gp2bm.spec.suite import DEFAULT_SUITE, load_suite

    the_suite = load_suite(suite or DEFAULT_SUITE)
    result = score_paths(
        paths,
        the_suite,
        ruleset=ruleset,
        compliance=compliance.value if compliance else None,
        rcp="factor" if rcp else None,
    )
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        out.print(render_score(result))
    invalid = any(not b.valid for b in result.benchmarks.values())
    raise typer.Exit(1 if invalid else 0)
