"""The rules a bundle is held to: the evaluator's, never the bundle's own.

A bundle carries the suite its campaign ran; a vendor who wants a better number can edit
its weights, its formula or its checks. So verify scores a bundle by a **reference** suite:

1. the evaluator's own suite file (``--suite FILE``): its rules only; its name and its
   benchmark manifests do not matter (a copy of the RFP's suite file alone is enough);
2. else gp2bm's built-in suite of the bundled suite's name (a campaign of ``nvidia-v4.0``
   is held to gp2bm's ``nvidia-v4.0``);
3. else gp2bm's built-in GP2BM suite (``gp2rfp``).

The bundled suite's rules (``Suite.rules``: benchmarks, runs, targets, weights, direction,
ruleset, nodes, compliance mode, RCP check) are compared with the reference's:
any rule that differs is named and the bundle is not verified. Its names, title and
manifests (what ran) may differ: a campaign of NVIDIA's implementations verifies against
the RFP's own suite when the rules are the same.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from gp2bm.spec.suite import DEFAULT_SUITE, MANIFEST_DIR, Suite, load_suite


@dataclass(frozen=True)
class Reference:
    """The reference suite, and where it came from, as verify says it."""

    suite: Suite
    source: str  # "your suite file X", "gp2bm's built-in suite nvidia-v4.0", ...

    def as_dict(self) -> dict:
        return {"source": self.source, "suite": self.suite.name, "rules": self.suite.rules()}


def _builtin(name: str) -> Suite | None:
    """gp2bm's own default suite of that name, if there is one."""
    path = MANIFEST_DIR / f"{name}.yaml"
    if "/" in name or not path.is_file():
        return None
    suite = load_suite(path)
    return suite if suite.name == name else None


def reference_suite(given: Path | None, bundled: Suite | None) -> Reference:
    """The suite a bundle is scored by (see the module's docstring)."""
    if given is not None:
        return Reference(load_suite(given), f"your suite file {given}")
    if bundled is not None:
        builtin = _builtin(bundled.name)
        if builtin is not None:
            return Reference(builtin, f"gp2bm's built-in suite {builtin.name}")
    default = load_suite(DEFAULT_SUITE)
    return Reference(default, f"gp2bm's built-in suite {default.name} (the GP2BM RFP's)")


def rule_differences(bundled: Suite, reference: Suite) -> list[str]:
    """Each rule the bundle's suite has otherwise than the reference, one line each."""
    ours, theirs = bundled.rules(), reference.rules()
    out = []
    for key in ours:
        if key == "benchmarks" or ours[key] == theirs[key]:
            continue
        out.append(
            f"rule {key}: the bundle's suite says {ours[key]!r}, the reference {theirs[key]!r}"
        )
    a, b = ours["benchmarks"], theirs["benchmarks"]
    assert isinstance(a, dict) and isinstance(b, dict)
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            where = "the reference" if name in b else "the bundle's suite"
            out.append(f"rule benchmarks: {name} is only in {where}")
            continue
        for key, value in a[name].items():
            if value != b[name][key]:
                out.append(
                    f"rule {name}.{key}: the bundle's suite says {value!r}, the reference "
                    f"{b[name][key]!r}"
                )
    return out


def scoring_suite(bundled: Suite, reference: Suite) -> Suite:
    """The bundled suite (its names, title and manifests) under the reference's rules: what
    the bundle's logs are scored by. Equal to the bundled suite when the rules are equal."""
    benchmarks = {
        name: replace(
            spec,
            runs=reference.benchmarks[name].runs,
            target=reference.benchmarks[name].target,
            weight=reference.benchmarks[name].weight,
            max_failed_runs=reference.benchmarks[name].max_failed_runs,
        )
        for name, spec in bundled.benchmarks.items()
        if name in reference.benchmarks
    }
    return replace(
        bundled,
        ruleset=reference.ruleset,
        usage=reference.usage,
        nodes=reference.nodes,
        compliance=reference.compliance,
        rcp=reference.rcp,
        formula="",  # the bundle's symbols with the reference's weights
        higher_is_better=reference.higher_is_better,
        benchmarks=benchmarks,
    )
