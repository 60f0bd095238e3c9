"""The compliance checker's rule files (YAML), parsed once per process.

MLCommons' compliance checker parses its rule files again for every log it checks, a
quarter of its time. ``install`` gives it, in place of the ``yaml`` module it calls,
``RuleFiles``: its ``load`` of a rule file keeps the parse (by path, size, modification time
and loader) and hands out a deep copy of it each time, so that the checker runs the same
rules on the same data, once parsed; everything else is PyYAML's.
"""

from __future__ import annotations

import copy
import os
import types

from mlperf_logging.compliance_checker import mlp_compliance


class RuleFiles:
    """The ``yaml`` the compliance checker sees: ``load`` of a rule file keeps its parse,
    by path, size, modification time and loader, and hands out a copy of it; the rest is
    PyYAML's."""

    def __init__(self, yaml_module: types.ModuleType):
        self.yaml = yaml_module
        self.parsed: dict[tuple[str, int, int, object], object] = {}

    def load(self, stream, Loader):  # noqa: N803 - PyYAML's name
        name = getattr(stream, "name", None)
        if not isinstance(name, str):
            return self.yaml.load(stream, Loader=Loader)
        st = os.stat(name)
        key = (name, st.st_size, st.st_mtime_ns, Loader)
        if key not in self.parsed:
            self.parsed[key] = self.yaml.load(stream, Loader=Loader)
        return copy.deepcopy(self.parsed[key])

    def __getattr__(self, attr: str):
        return getattr(self.yaml, attr)


def installed() -> bool:
    return isinstance(mlp_compliance.yaml, RuleFiles)


def install() -> None:
    """The compliance checker's ``yaml``, wrapped once."""
    if not installed():
        mlp_compliance.yaml = RuleFiles(mlp_compliance.yaml)
