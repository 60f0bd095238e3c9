"""The gp2bm command line. Importing this package registers every command on ``app``."""

from gp2bm.cli import campaign, score  # noqa: F401  (each module registers its commands)
from gp2bm.cli.app import app, main

__all__ = ["app", "main"]
