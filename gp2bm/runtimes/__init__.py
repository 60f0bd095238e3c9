"""Container runtimes, one file each, behind the narrow interface of ``base.Runtime``.

The registry knows the runtimes by name and imports a runtime's module only when it is
asked for (so that no plugin is imported by another, and none imports the registry).
Adding a runtime: one module here whose class is decorated with ``@register``, and its name
in ``NAMES``; ``tests/test_runtime_contract.py`` then runs the contract over it.
"""

from __future__ import annotations

import importlib

from gp2bm.errors import InputError
from gp2bm.runtimes.base import (
    REGISTERED,
    CheckContext,
    Execution,
    ImageInfo,
    RunSpec,
    Runtime,
    SourceExport,
)

# Every built-in runtime, by name; each is the module gp2bm.runtimes.<name>.
NAMES = ("docker", "podman", "apptainer", "enroot", "local")
DEFAULT = "docker"


def runtime_class(name: str) -> type[Runtime]:
    if name not in NAMES:
        raise InputError(f"unknown runtime '{name}' (known: {', '.join(NAMES)})")
    importlib.import_module(f"gp2bm.runtimes.{name}")
    return REGISTERED[name]


def get_runtime(name: str, **settings) -> Runtime:
    """A runtime by name; ``settings`` are its constructor's keyword options."""
    cls = runtime_class(name)
    try:
        return cls(**settings)
    except TypeError as exc:
        raise InputError(f"runtime '{name}': {exc}") from None


def able(capability: str) -> list[str]:
    """The runtimes whose class declares ``capability`` (e.g. "pulls_by_digest")."""
    return [name for name in NAMES if getattr(runtime_class(name), capability)]


__all__ = [
    "DEFAULT",
    "NAMES",
    "CheckContext",
    "Execution",
    "ImageInfo",
    "RunSpec",
    "Runtime",
    "SourceExport",
    "able",
    "get_runtime",
    "runtime_class",
]
