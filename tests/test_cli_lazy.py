"""The command line loads only the module of the command that runs; help lists them all."""

from __future__ import annotations

import json
import subprocess
import sys

from gp2bm.cli import COMMAND_MODULES, app, register_commands

LOADED = (
    "import json, sys\n"
    "from gp2bm.cli import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit:\n"
    "    pass\n"
    "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('gp2bm.', 'docker',"
    " 'openpyxl', 'matplotlib')))), file=sys.stderr)\n"
)


def loaded(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", LOADED, *args], capture_output=True, text=True, timeout=120
    )
    return set(json.loads(proc.stderr.strip().splitlines()[-1]))


def test_score_loads_only_its_own_command_module():
    modules = loaded("score", "--help")
    cli = {m for m in modules if m.startswith("gp2bm.cli.")}
    assert cli == {"gp2bm.cli.app", "gp2bm.cli.options", "gp2bm.cli.score"}
    assert not any(m.startswith(("openpyxl", "matplotlib", "gp2bm.handin")) for m in modules)
    assert "gp2bm.run.loop" not in modules and "gp2bm.node.preflight" not in modules


def test_verify_loads_no_campaign_machinery():
    modules = loaded("verify", "--help")
    assert "gp2bm.cli.evaluation" in modules
    assert not {"gp2bm.cli.campaign", "gp2bm.cli.node", "gp2bm.cli.slurm", "gp2bm.cli.handin"} & (
        modules
    )


def test_help_lists_every_command_with_its_help(cli):
    res = cli("--help")
    assert res.code == 0
    register_commands(["--help"])
    registered = {
        c.name or c.callback.__name__.replace("_", "-"): c for c in app.registered_commands
    }
    assert set(registered) == set(COMMAND_MODULES)  # the table names every command, no more
    for name, command in registered.items():
        if command.hidden:
            assert f" {name} " not in res.out
            continue
        assert f" {name} " in res.out, name
        first = (command.short_help or command.help or command.callback.__doc__ or "").split()[0]
        assert first in res.out, (name, first)


def test_an_unknown_command_is_a_usage_error(cli):
    res = cli("scroe")
    assert res.code == 2 and "No such command" in res.err
