"""Launchers: what starts one process per GPU around an implementation's command.

Each launcher is one module behind the narrow interface of ``base.Launcher``, registered by
name; it *renders* the argument list that wraps the command (a pure function, shown by
``--dry-run`` and recorded in each run record) and documents the rank environment every
process finds (what NVIDIA's ``run_and_time.sh`` and ``bindpcie`` read). The registry
imports a launcher's module only when asked for it.
"""

from __future__ import annotations

import importlib

from gp2bm.errors import InputError
from gp2bm.launchers.base import (
    REGISTERED,
    Launcher,
    LaunchPlan,
    config_gpu_count,
    gpu_count_problem,
    launch_plan,
    visible_gpus,
)

# Every built-in launcher, by name; each is the module gp2bm.launchers.<name>.
NAMES = ("none", "mpirun", "torchrun", "srun")
DEFAULT = "none"


def launcher_class(name: str) -> type[Launcher]:
    if name not in NAMES:
        raise InputError(f"unknown launcher '{name}' (known: {', '.join(NAMES)})")
    importlib.import_module(f"gp2bm.launchers.{name}")
    return REGISTERED[name]


def get_launcher(name: str, **settings) -> Launcher:
    """A launcher by name; ``settings`` are its constructor's keyword options."""
    cls = launcher_class(name)
    try:
        return cls(**settings)
    except TypeError as exc:
        raise InputError(f"launcher '{name}': {exc}") from None


__all__ = [
    "DEFAULT",
    "NAMES",
    "LaunchPlan",
    "Launcher",
    "config_gpu_count",
    "get_launcher",
    "gpu_count_problem",
    "launch_plan",
    "launcher_class",
    "visible_gpus",
]
