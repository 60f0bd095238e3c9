"""The gp2bm command line: wiring only; each command calls one stage of the pipeline.

One module per group of commands; each registers its commands on ``app``.
"""

from __future__ import annotations

import os
import sys
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
