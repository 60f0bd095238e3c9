"""The gp2bm command line: wiring only; each command calls one stage of the pipeline.

One module per group of commands; each registers its commands on ``app`` when it is
imported. ``main`` imports only the module of the command that runs (a command's start-up
is then what that command needs, not what every command needs); help, or a name it does
not know, imports them all, so that ``gp2bm --help`` lists every command with its help.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer
from rich.console import Console

from gp2bm.cli.options import VersionOpt
from gp2bm.errors import Gp2bmError
from gp2bm.files.atomic import FIXES, write_error
from gp2bm.files.plaintext import terminal_line

app = typer.Typer(
    name="gp2bm",
    help=(
        "Run, check, score and hand in the GP2BM MLPerf Training benchmark of an RFP "
        "(ResNet-50 x5 and BERT-large x10 on one node; score = 7.19/R + 9.05/B)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # click's own help: paragraphs re-wrapped whole (never cut where the docstring broke a
    # line), option names and defaults never cropped, no type shown for a flag
    rich_markup_mode=None,
)

# no emoji codes: ":x:" in a member name or a log line is shown as written, never replaced
out = Console(emoji=False)
err = Console(stderr=True, emoji=False)

# The words gp2bm was started with (after "gp2bm"), for a hint that repeats the command.
_invoked: list[str] = []


def command_line() -> list[str]:
    """The arguments of the running gp2bm command, as given."""
    return list(_invoked)


# Every command, and the module of gp2bm.cli that registers it (in the order help lists them).
# A command missing here still runs (every module is imported for a name not listed), only
# slower; tests/test_cli_lazy.py checks that the table names every command.
COMMAND_MODULES = {
    "init": "scaffold",
    "inventory": "node",
    "check": "node",
    "node-step": "node",
    "node-telemetry": "node",
    "status": "slurm",
    "run-task": "slurm",
    "run-all": "campaign",
    "run": "campaign",
    "pin": "campaign",
    "pull": "campaign",
    "import": "campaign",
    "report": "handin",
    "package": "handin",
    "verify": "evaluation",
    "compare": "evaluation",
    "accept": "evaluation",
    "score": "score",
    "atlas": "atlas",
    "expect": "atlas",
}


# Work a command starts before its modules are imported: ``verify``'s side process begins
# importing MLCommons' checkers while this process imports the rest (``evaluation.early``).
EARLY_STARTS = {"verify": "gp2bm.evaluation.early", "accept": "gp2bm.evaluation.early"}


def register_commands(argv: list[str]) -> None:
    """Import the module of the command ``argv`` names; every module when it names none
    that is known (``--help``, no command, a typo: click then lists or suggests them all)."""
    name = next((arg for arg in argv if not arg.startswith("-")), None)
    if name in EARLY_STARTS and not {"--help", "-h"} & set(argv):
        importlib.import_module(EARLY_STARTS[name]).start()
    module = COMMAND_MODULES.get(name or "")
    for each in [module] if module else dict.fromkeys(COMMAND_MODULES.values()):
        importlib.import_module(f"gp2bm.cli.{each}")


@app.callback()
def _root(version: VersionOpt = False) -> None:
    pass


def main(argv: list[str] | None = None) -> None:
    """Entry point: turn gp2bm's errors into one line and an exit code, never a traceback."""
    _invoked[:] = sys.argv[1:] if argv is None else argv
    try:
        _main(argv)
    finally:
        for name in EARLY_STARTS.values():  # what a command started but never took
            if name in sys.modules:
                sys.modules[name].discard()


def _main(argv: list[str] | None) -> None:
    try:
        register_commands(_invoked)
        rc = app(args=argv, prog_name="gp2bm", standalone_mode=False)
        sys.exit(rc if isinstance(rc, int) else 0)
    except Gp2bmError as exc:
        # the message may quote a member name, a log line or a checker (escaped and cut)
        err.print(
            terminal_line(f"gp2bm: error: {exc}"), markup=False, highlight=False, soft_wrap=True
        )
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
        exit_code = getattr(exc, "exit_code", None)
        if hasattr(exc, "show") and isinstance(exit_code, int):
            exc.show()  # a usage error from the CLI parser: it prints its own message
            sys.exit(exit_code)
        if os.environ.get("GP2BM_DEBUG"):
            raise
        if isinstance(exc, OSError) and exc.errno in FIXES:
            # a disk or permission error no stage named: one line naming the file and the fix
            line = write_error(exc.filename or "a file (the system named none)", exc)
            err.print(terminal_line(f"gp2bm: error: {line}"), markup=False, highlight=False)
            sys.exit(2)
        err.print(
            terminal_line(
                f"gp2bm: internal error: {type(exc).__name__}: {exc} "
                "(set GP2BM_DEBUG=1 for details)"
            ),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(3)
