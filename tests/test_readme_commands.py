"""The README's commands are true: every `gp2bm COMMAND` in its code blocks (and in its
inline code) is a command gp2bm has, and every option shown with it is one of that
command's options."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from gp2bm.cli.app import app, register_commands

README = Path(__file__).resolve().parent.parent / "README.md"
COMMAND = re.compile(r"\bgp2bm ([a-z][a-z-]*)((?:[^`\n]|\\\n)*)")
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


def _commands() -> dict:
    register_commands(["--help"])
    group = typer.main.get_command(app)
    assert hasattr(group, "commands")
    return dict(group.commands)


def _shown() -> list[tuple[int, str, list[str]]]:
    """(line, command, options) of each `gp2bm COMMAND ...` the README shows."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)
    spans = [b.replace("\\\n", " ") for b in blocks]
    spans += re.findall(r"`([^`\n]*gp2bm [^`\n]*)`", text)
    found = []
    for span in spans:
        for line in span.splitlines():
            code = line.split(" # ", 1)[0].strip().removeprefix("$ ")
            for m in COMMAND.finditer(code):
                before = code[: m.start()].rstrip()
                if before and not before.endswith(("(", "&&", ";", "|", "then", "next:")):
                    continue  # prose that names gp2bm, not a command line
                rest = re.split(r"\bgp2bm |[;|&]|\bthen\b", m.group(2))[0]
                found.append((text.find(line), m.group(1), OPTION.findall(rest)))
    return found


def test_every_command_and_option_the_readme_shows_exists():
    commands = _commands()
    shown = _shown()
    assert len(shown) > 40  # the README shows its commands; the parse found them
    wrong = []
    for _, name, options in shown:
        command = commands.get(name)
        if command is None:
            wrong.append(f"gp2bm {name}: no such command")
            continue
        known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
        known.add("--help")
        wrong += [f"gp2bm {name} {o}: no such option" for o in options if o not in known]
    assert not wrong, sorted(set(wrong))
