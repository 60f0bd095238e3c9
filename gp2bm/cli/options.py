"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

SuiteOpt = Annotated[
    Path | None,
    typer.Option("--suite", help="Suite manifest (default: manifests/gp2rfp.yaml, the GP2BM RFP)."),
]


JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
