"""The two kinds of failure the CLI turns into exit codes.

Exit 2: the user gave something unusable (missing file, malformed YAML, unknown ruleset).
Exit 1: the input was read and checked, and it is invalid (non-compliant, too many failed
runs, a tampered bundle). Messages are one line and name the file and the problem.
"""

from __future__ import annotations


class Gp2bmError(Exception):
    exit_code = 2


class InputError(Gp2bmError):
    """Usage or input error: the message names the file and the problem."""

    exit_code = 2


class InvalidError(Gp2bmError):
    """The checked thing is invalid."""

    exit_code = 1
