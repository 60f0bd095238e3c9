"""Run by path on every node, once per task of a run across nodes: hand the task's Slurm
variables to a container that sees only prefixed ones, then become the command.

    python -I taskenv.py PREFIX [NAME=SLURM_VAR ...] -- COMMAND...

Apptainer's ``--cleanenv`` passes the container only ``APPTAINERENV_*``: each of the task's
``SLURM_*``, ``SLURMD_*``, ``PMI_*`` and ``PMIX_*`` variables is set again as PREFIX + its
name (what Pyxis gives a container as it is), and each NAME=SLURM_VAR as PREFIX + NAME
(RANK=SLURM_PROCID: mlperf-common's slurm2pytorch mapping), unless already set. Standard
library only, no gp2bm import: it starts in milliseconds, once per task.
"""

import os
import sys

FORWARDED = ("SLURM_", "SLURMD_", "PMI_", "PMIX_")


def task_environment(env: dict, prefix: str, mapping: list[str]) -> dict:
    out = dict(env)
    for name, value in env.items():
        if name.startswith(FORWARDED):
            out[prefix + name] = value
    for pair in mapping:
        name, _, source = pair.partition("=")
        if source in env and prefix + name not in env:
            out[prefix + name] = env[source]
    return out


def main(argv: list[str]) -> int:
    if "--" not in argv or len(argv) < 2:
        print("usage: taskenv.py PREFIX [NAME=SLURM_VAR ...] -- COMMAND...", file=sys.stderr)
        return 2
    cut = argv.index("--")
    command = argv[cut + 1 :]
    if not command:
        print("taskenv.py: no command after --", file=sys.stderr)
        return 2
    env = task_environment(dict(os.environ), argv[0], argv[1:cut])
    try:
        os.execvpe(command[0], command, env)
    except OSError as exc:
        print(f"taskenv.py: cannot run {command[0]}: {exc.strerror}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
