"""The gp2bm command line. Importing this package registers every command on ``app``."""

from gp2bm.cli import campaign, handin, node, score, slurm  # noqa: F401  (each registers)
from gp2bm.cli.app import app, main

__all__ = ["app", "main"]
