"""The gp2bm command line: wiring only; each command calls one stage of the pipeline."""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gp2bm import __version__
from gp2bm.errors import Gp2bmError

app = typer.Typer(
    name="gp2bm",
    help=(
        "Run, check, score and hand in the GP2BM MLPerf Training benchmark of an RFP "
        "(ResNet-50 x5 and BERT-large x10 on one node; score = 7.19/R + 9.05/B)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

out = Console()
err = Console(stderr=True)


class Compliance(StrEnum):
    strict = "strict"
    report = "report"
    off = "off"


def _version(value: bool):
    if value:
        print(f"gp2bm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
):
    pass


SuiteOpt = Annotated[
    Path | None,
    typer.Option("--suite", help="Suite manifest (default: manifests/gp2rfp.yaml, the GP2BM RFP)."),
]


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
    from gp2bm.resultset import score_paths
    from gp2bm.scoreview import render_score
    from gp2bm.suite import DEFAULT_SUITE, load_suite

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


def main(argv: list[str] | None = None) -> None:
    """Entry point: turn gp2bm's errors into one line and an exit code, never a traceback."""
    try:
        rc = app(args=argv, prog_name="gp2bm", standalone_mode=False)
        sys.exit(rc if isinstance(rc, int) else 0)
    except Gp2bmError as exc:
        err.print(f"gp2bm: error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("gp2bm: aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err.print("gp2bm: interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last line of defence for the one-line contract
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()  # a usage error from the CLI parser: it prints its own message
            sys.exit(exc.exit_code)
        if os.environ.get("GP2BM_DEBUG"):
            raise
        err.print(
            f"gp2bm: internal error: {type(exc).__name__}: {exc} (set GP2BM_DEBUG=1 for details)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(3)
