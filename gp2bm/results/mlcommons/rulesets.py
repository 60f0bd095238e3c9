"""Which training rulesets the installed mlperf-logging has rules for, and for which
benchmarks.

The library's command-line defaults pick its newest ruleset, which has no ResNet or BERT
rules any more and crashes on them: gp2bm names the ruleset in every call, and asks here
first whether the library has its rules.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path

import mlperf_logging
from mlperf_logging.compliance_checker import mlp_compliance

USAGE = "training"


def _package_dir(sub: str) -> Path:
    return Path(str(resources.files(mlperf_logging).joinpath(sub)))


@cache
def supported_rulesets() -> tuple[str, ...]:
    """Rulesets for which the compliance checker, the parser and the RCP checker all exist."""
    versions = set()
    for entry in _package_dir("compliance_checker").iterdir():
        m = re.fullmatch(rf"{USAGE}_(\d+\.\d+\.\d+)", entry.name)
        if m and (entry / "common.yaml").is_file():
            versions.add(m.group(1))
    versions &= set(mlp_compliance.rule_choices())
    return tuple(sorted(versions, key=lambda v: tuple(int(x) for x in v.split("."))))


def rules_cover(ruleset: str, benchmark: str) -> bool:
    """Whether the ruleset has compliance rules for the benchmark."""
    return (
        _package_dir("compliance_checker") / f"{USAGE}_{ruleset}" / f"closed_{benchmark}.yaml"
    ).is_file()


def config_file(ruleset: str) -> str:
    """The compliance checker's first rule file for a training log of ``ruleset``."""
    return f"{USAGE}_{ruleset}/common.yaml"
