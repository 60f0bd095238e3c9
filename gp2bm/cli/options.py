"""Options shared by several commands, declared once.

A command names the type and gives the default: ``suite: SuiteOpt = None``,
``campaign: CampaignOpt = None``, ``runtime: RuntimeOpt = DEFAULT`` (``gp2bm.runtimes``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gp2bm.runtimes import DEFAULT, NAMES

SuiteOpt = Annotated[
    Path | None,
    typer.Option(
        "--suite",
        help="Suite manifest (default: the GP2BM RFP's, gp2rfp.yaml of gp2bm's default suites).",
    ),
]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]

CampaignOpt = Annotated[
    Path | None,
    typer.Option("--campaign", help="Campaign folder (default: results/<suite name>)."),
]

RuntimeOpt = Annotated[
    str,
    typer.Option(
        "--runtime",
        help=f"How each run is started: {', '.join(NAMES)} (default: {DEFAULT}).",
    ),
]
