"""The gp2bm command line. ``main`` registers on ``app`` only the command that runs (see
``app.register_commands``); import a command's module to register it by hand."""

from gp2bm.cli.app import COMMAND_MODULES, app, main, register_commands

__all__ = ["COMMAND_MODULES", "app", "main", "register_commands"]
