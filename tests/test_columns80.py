"""Every command's output at 80 columns, as a newcomer's terminal has it: tables fit in 80
columns (they fold), and every command a line suggests (``next: gp2bm ...``, a fix in
backticks) survives whole: the command exists, each option it shows is one of that
command's, and each path it names exists. A campaign folder with a long name makes the
lines long; COLUMNS=80 and NO_COLOR are honoured."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from test_readme_commands import OPTION, _commands

pytestmark = pytest.mark.slow

TABLE = re.compile(r"[│┃┏┓┗┛━─┡┩╇┼]")
SUGGESTED = re.compile(r"\bgp2bm ([a-z][a-z-]*)((?:[^`;\n)]|\)(?!\s|$))*)")
NVIDIA = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "nvidia-v4.0"


def run(folder: Path, *args: str) -> str:
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", "TERM": "xterm"}
    env.pop("FORCE_COLOR", None)
    proc = subprocess.run([sys.executable, "-m", "gp2bm", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode in (0, 1, 2), (args, proc.stderr[-2000:])
    if proc.returncode == 2:  # bad input here (pin without a Docker Engine): one line
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return proc.stdout + proc.stderr


def check_output(folder: Path, text: str, commands: dict, what: str, named: set[str]) -> None:
    assert "\x1b[" not in text, f"{what}: colour codes with NO_COLOR"
    for line in text.splitlines():
        if TABLE.search(line):
            assert len(line) <= 80, f"{what}: a table line of {len(line)} columns: {line}"
        for m in SUGGESTED.finditer(line):
            name, rest = m.group(1), m.group(2)
            if name not in commands:
                continue  # prose ("gp2bm detects ...")
            command = commands[name]
            known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
            for option in OPTION.findall(rest.split(" then ")[0]):
                assert option in known | {"--help"}, f"{what}: {line!r}: {name} {option}"
            words = shlex.split(rest.split(" (")[0].split(", then")[0], posix=True)
            for word in words:
                if "/" in word and not word.startswith(("-", "<", "$")) and "=" not in word:
                    whole = word in named or (folder / word).exists() or Path(word).exists()
                    assert whole, (
                        f"{what}: {line!r} names {word!r}, which is not there (split?)"
                    )


def test_every_command_at_80_columns(tmp_path):
    commands = _commands()
    work = tmp_path / "work"
    work.mkdir()
    campaign = "../a-folder-with-a-rather-long-name-for-campaigns/the-smoke-campaign-of-acme"
    steps = [
        ("init", ".", "--suite", "smoke"),
        ("inventory",),
        ("check", "--runtime", "local", "--no-gpu", "--allow-cache-drop-failure"),
        ("run-all", "--runtime", "local", "--campaign", campaign, "--dry-run",
         "--cache-drop-command", "true"),
        ("run-all", "--runtime", "local", "--campaign", campaign, "--cache-drop-command",
         "true", "--org", "Acme", "--system", "X9000"),
        ("status", campaign),
        ("score", campaign),
        ("report", campaign),
        ("package", campaign, "--allow-incomplete", "-o", "handin.tar.gz"),
        ("verify", "handin.tar.gz"),
        ("accept", "handin.tar.gz", campaign, "--tolerance", "200"),
        ("atlas", "--benchmark", "resnet", "--accelerator", "H100-SXM5-80GB", "--count", "8"),
        ("expect", "--accelerator", "H100-SXM5-80GB", "--count", "8"),
        ("pin", "resnet", "gp2bm/smoke:latest"),
    ]  # fmt: skip
    if NVIDIA.is_dir():
        steps.append(("import", str(NVIDIA), "--campaign", "imported", "--suite", "nvidia-v4.0"))
    for args in steps:
        text = run(work, *args)
        # the image pin names (a registry's reference, not a path)
        check_output(work, text, commands, " ".join(args[:2]), {campaign, "gp2bm/smoke:latest"})
