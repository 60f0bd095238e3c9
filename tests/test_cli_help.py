"""One style across commands: every command's --help, at 80 columns, shows its defaults in
full (none cut with "..." nor broken inside a word), no `<bool>` metavar for a flag, and the
campaign is given the same way (positionally) to status, report and package."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from gp2bm.cli.app import COMMAND_MODULES
from gp2bm.runtimes import NAMES

GP2BM = [sys.executable, "-m", "gp2bm"]


def _help(*command: str) -> str:
    env = dict(os.environ, COLUMNS="80", TERM="dumb")
    res = subprocess.run(
        [*GP2BM, *command, "--help"], capture_output=True, text=True, env=env, timeout=60
    )
    assert res.returncode == 0, res.stderr
    return res.stdout


@pytest.mark.parametrize("command", sorted(COMMAND_MODULES))
def test_help_shows_whole_defaults_and_no_bool_metavar(command):
    text = _help(command)
    assert "<bool>" not in text
    assert "\u2026" not in text, text  # rich's ellipsis for a cropped cell
    joined = " ".join(text.split())
    defaults = re.findall(r"\[default: ([^\]]*)\]", joined)
    defaults += re.findall(r"\(default: ([^()]*(?:\([^()]*\)[^()]*)*)\)", joined)
    for default in defaults:
        assert "..." not in default, f"{command}: default cut: {default}"
    # a default broken across lines at a hyphen ("[default: no-" / "allow-...") is cut
    assert not re.search(r"\[default: [^\]]*-\n", text), text


def test_run_help_names_every_runtime():
    for command in ("run", "run-all"):
        text = " ".join(_help(command).split())
        for name in NAMES:
            assert name in text, f"{command} --help does not name the runtime {name}"


@pytest.mark.parametrize("command", ["status", "report", "package"])
def test_campaign_is_positional(command):
    assert re.search(rf"Usage: gp2bm {command} \[OPTIONS\] \[CAMPAIGN\]", _help(command))
