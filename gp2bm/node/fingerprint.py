"""Which node a run ran on, and what kind of node it is: a stable hash of its hardware.

The RFP asks for the benchmark on one node type. When a campaign's runs are spread over
several nodes (a Slurm job array), each run record carries the node's name and the
fingerprint of its hardware facts (CPU model, logical CPU count, memory rounded to 4 GiB,
GPU models and count), so that scoring can refuse runs from nodes of different kinds.
The facts come from ``gp2bm.node.inventory``'s probes; each is tolerant (a fact that cannot be
had is None, and is hashed as such), so taking the fingerprint never fails a run.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

from gp2bm.errors import InvalidError

SCHEMA = "gp2bm.node-fingerprint/1"
MEMORY_ROUND_GIB = 4
# Slurm names the node a task runs on (several emulated nodes may share one host name).
NODE_ENV = "SLURMD_NODENAME"
RUN_RECORD_RE = re.compile(r"run_(\d+)\.json")


def _cpu() -> dict:
    from gp2bm.node.inventory import probe_cpu

    try:
        cpu = probe_cpu()
    except Exception:  # noqa: BLE001 - a fact that cannot be had is None, never a failed run
        return {"cpu_model": None, "logical_cpus": os.cpu_count()}
    return {"cpu_model": cpu.get("model_name"), "logical_cpus": cpu.get("logical_cpus")}


def _memory() -> dict:
    try:
        import psutil

        total = psutil.virtual_memory().total
    except Exception:  # noqa: BLE001
        return {"memory_gib": None}
    # Identical nodes differ by a few hundred MiB (firmware, kernel reservations).
    gib = total / 2**30
    return {"memory_gib": int(round(gib / MEMORY_ROUND_GIB) * MEMORY_ROUND_GIB)}


def _gpus() -> dict:
    try:
        from gp2bm.node.inventory import probe_gpus

        gpus = probe_gpus()
    except Exception:  # noqa: BLE001
        return {"gpu_models": [], "gpu_count": 0}
    names = sorted(str(g.get("name")) for g in gpus.get("gpus") or [] if isinstance(g, dict))
    return {"gpu_models": names, "gpu_count": len(names)}


def hardware_facts() -> dict:
    """The facts that make two nodes the same kind of node (and nothing that varies)."""
    return {**_cpu(), **_memory(), **_gpus()}


def fingerprint(facts: dict) -> str:
    """A short stable hash of the facts: equal facts, equal fingerprint."""
    text = json.dumps({"schema": SCHEMA, **facts}, sort_keys=True, separators=(",", ":"))
    return "hw-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def node_name() -> str:
    return os.environ.get(NODE_ENV) or socket.gethostname()


@functools.cache
def _identity() -> tuple[str, str]:
    facts = hardware_facts()
    return fingerprint(facts), json.dumps(facts, sort_keys=True)


def slurm_job() -> str | None:
    """The Slurm job (ARRAY_TASK for an array task) this process runs in, if any."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID")


def node_identity() -> dict:
    """What a run record carries about its node: name, fingerprint and the facts hashed
    (and the Slurm job it ran in, when it did)."""
    fp, facts = _identity()
    out = {"node": node_name(), "node_fingerprint": fp, "node_facts": json.loads(facts)}
    job = slurm_job()
    if job:
        out["slurm_job"] = job
    return out


# ----------------------------------------------------------------------------- the check


@dataclass
class NodeTypes:
    """The finished runs of a campaign grouped by the fingerprint of their node."""

    # fingerprint -> node -> ["resnet/0", ...]
    groups: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    facts: dict[str, dict] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)  # runs whose record has no fingerprint

    @property
    def mixed(self) -> bool:
        return len(self.groups) > 1

    def describe(self) -> str:
        parts = []
        for fp, nodes in sorted(self.groups.items()):
            runs = sum(len(r) for r in nodes.values())
            facts = self.facts.get(fp) or {}
            what = ", ".join(
                str(v) for v in (facts.get("cpu_model"), _gib(facts), _gpu_text(facts)) if v
            )
            parts.append(
                f"{fp} ({what or 'facts unknown'}): {runs} run(s) on {', '.join(sorted(nodes))}"
            )
        return "; ".join(parts)

    def as_dict(self) -> dict:
        return {
            "mixed": self.mixed,
            "node_types": {
                fp: {"facts": self.facts.get(fp), "nodes": nodes}
                for fp, nodes in sorted(self.groups.items())
            },
            "runs_without_fingerprint": self.unknown,
        }


def _gib(facts: dict) -> str | None:
    return f"{facts['memory_gib']} GiB" if facts.get("memory_gib") is not None else None


def _gpu_text(facts: dict) -> str | None:
    models = facts.get("gpu_models") or []
    if not models:
        return "no GPU"
    return ", ".join(f"{models.count(m)}x {m}" for m in sorted(set(models)))


def node_types(records_root: Path, results_dir: Path) -> NodeTypes:
    """Group the campaign's finished runs (those with a result_N.txt) by node fingerprint.

    ``records_root`` is ``<campaign>/records``; ``results_dir`` the system's results folder.
    """
    out = NodeTypes()
    if not records_root.is_dir():
        return out
    for bench_dir in sorted(p for p in records_root.iterdir() if p.is_dir()):
        for record in sorted(bench_dir.iterdir()):
            m = RUN_RECORD_RE.fullmatch(record.name)
            if not m or not (results_dir / bench_dir.name / f"result_{m.group(1)}.txt").exists():
                continue
            run = f"{bench_dir.name}/{m.group(1)}"
            try:
                data = json.loads(record.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                out.unknown.append(run)
                continue
            fp = data.get("node_fingerprint") if isinstance(data, dict) else None
            if not fp:
                out.unknown.append(run)
                continue
            node = str(data.get("node") or data.get("host") or "?")
            out.groups.setdefault(fp, {}).setdefault(node, []).append(run)
            if isinstance(data.get("node_facts"), dict):
                out.facts.setdefault(fp, data["node_facts"])
    return out


def require_one_node_type(records_root: Path, results_dir: Path, allow_mixed: bool) -> NodeTypes:
    """Raise InvalidError when the finished runs come from nodes of different kinds."""
    types = node_types(records_root, results_dir)
    if types.mixed and not allow_mixed:
        raise InvalidError(
            f"{records_root}: the runs come from {len(types.groups)} different node types, "
            f"the RFP asks for one: {types.describe()} (pass --allow-mixed-nodes to score "
            "them anyway)"
        )
    return types
