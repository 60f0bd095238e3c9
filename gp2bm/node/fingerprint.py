"""Which node a run ran on, and what kind of node it is: a stable hash of its hardware.

The RFP asks for the benchmark on one node type. When a campaign's runs are spread over
several nodes (a Slurm job array), each run record carries the node's name and the
fingerprint of its hardware facts (CPU model, logical CPU count, memory rounded to 4 GiB,
GPU models and count), so that scoring can refuse runs from nodes of different kinds
(``gp2bm.results.nodetypes``). The facts come from ``gp2bm.node.inventory``'s probes; each
is tolerant (a fact that cannot be had is None, and is hashed as such), so taking the
fingerprint never fails a run.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import socket

import psutil

from gp2bm.node.inventory import probe_cpu, probe_gpus

SCHEMA = "gp2bm.node-fingerprint/1"
MEMORY_ROUND_GIB = 4
# Slurm names the node a task runs on (several emulated nodes may share one host name).
NODE_ENV = "SLURMD_NODENAME"


def _cpu() -> dict:
    try:
        cpu = probe_cpu()
    except Exception:  # noqa: BLE001 - a fact that cannot be had is None, never a failed run
        return {"cpu_model": None, "logical_cpus": os.cpu_count()}
    return {"cpu_model": cpu.get("model_name"), "logical_cpus": cpu.get("logical_cpus")}


def _memory() -> dict:
    try:
        total = psutil.virtual_memory().total
    except Exception:  # noqa: BLE001
        return {"memory_gib": None}
    # Identical nodes differ by a few hundred MiB (firmware, kernel reservations).
    gib = total / 2**30
    return {"memory_gib": int(round(gib / MEMORY_ROUND_GIB) * MEMORY_ROUND_GIB)}


def _gpus() -> dict:
    try:
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
