"""Every node's telemetry during a run across nodes: a step beside the run's tasks.

``gp2bm node-telemetry`` runs as one srun task on each node of the run (``--overlap``: it
shares the run's CPUs), sampling the node into its own CSV (rank 0's node into the run's
``telemetry_N.csv``, each other node into ``telemetry_N.NODE.csv``). When the run ends it
gets SIGUSR1 (srun forwards it to every task), and each node prints its summary as one JSON
line; the run record keeps every node's summary and the run's (energy summed, peaks the
highest, throttling on any node).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import time
from collections.abc import Mapping
from pathlib import Path

import psutil

from gp2bm.campaign.layout import CampaignLayout
from gp2bm.node.allocation import (
    each_node_argv,
    gp2bm_argv,
    read_task_outputs,
    task_output_option,
)
from gp2bm.runtimes.process import ProcessExecution, start_process

# How long the telemetry tasks may take to start (a gp2bm import on a busy node), and to
# write their summaries once told to stop.
TELEMETRY_START_S = 60.0
TELEMETRY_STOP_S = 30.0
POLL_S = 0.05


class NodesTelemetry:
    """The telemetry step beside a run: each node sampled into its own CSV. The step's srun
    runs below a keeper (``gp2bm.runtimes.process``): it dies with gp2bm, as the run does."""

    def __init__(self, srun_binary: str, nodes: tuple[str, ...], paths: dict[str, Path]):
        self.paths, self.nodes = paths, nodes
        outs = [f"--out={n}={p}" for n, p in paths.items()]
        srun = each_node_argv(srun_binary, nodes, overlap=True)
        first = paths[nodes[0]]
        self.outputs = first.with_name(f".{first.stem}.tasks")  # each node's summary line
        shutil.rmtree(self.outputs, ignore_errors=True)
        self.outputs.mkdir(parents=True)
        argv = [*srun, task_output_option(self.outputs), *gp2bm_argv("node-telemetry", *outs)]
        self.error: str | None = None
        self.result: dict | None = None
        self.output = io.BytesIO()
        try:
            self.execution: ProcessExecution | None = start_process(
                argv, dict(os.environ), self.output
            )
        except OSError as exc:
            self.execution, self.error = None, f"cannot start {argv[0]}: {exc.strerror}"

    def _started(self) -> bool:
        return all(p.exists() for p in self.paths.values())

    def stop(self) -> dict:
        """End every node's sampling; the summaries, each node's and together."""
        if self.result is not None:
            return self.result
        out = ""
        if self.execution is not None:
            # a task told to stop before its sampler runs would end unsampled: wait for
            # every node's CSV (the sampler writes its header first), for a bounded time
            deadline = time.monotonic() + TELEMETRY_START_S
            while self.execution.wait(POLL_S) is None and not self._started():
                if time.monotonic() > deadline:
                    break
            out = self._end(self.execution)
        else:
            shutil.rmtree(self.outputs, ignore_errors=True)
        self.result = combine_telemetry(self._summaries(out), self.paths, self.nodes, self.error)
        return self.result

    def _end(self, execution: ProcessExecution) -> str:
        """SIGUSR1 to srun (it forwards it to every task), then its output."""
        if execution.proc.poll() is None:
            try:
                for srun in psutil.Process(execution.proc.pid).children():
                    srun.send_signal(signal.SIGUSR1)
            except psutil.Error:
                pass  # it ended meanwhile
        code = execution.wait(TELEMETRY_STOP_S)
        if code is None:
            execution.stop(1)
            self.error = f"the telemetry step did not end within {TELEMETRY_STOP_S:g} s"
        execution.close()
        out = self.output.getvalue().decode(errors="replace")  # srun's own words
        out += "\n" + read_task_outputs(self.outputs)
        if code not in (0, None) and self.error is None:
            said = [line for line in out.splitlines() if line and not line.startswith("{")]
            self.error = f"telemetry step exit {code}" + (f": {said[-1]}" if said else "")
        return out

    def _summaries(self, out: str) -> dict[str, object]:
        """Each node's summary as its line gave it (checked by combine_telemetry)."""
        found: dict[str, object] = {}
        for line in out.splitlines():
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict) and data.get("node") in self.paths:
                found[data["node"]] = data.get("telemetry")
        return found


def combine_telemetry(
    per_node: Mapping[str, object],
    paths: dict[str, Path],
    nodes: tuple[str, ...],
    error: str | None,
) -> dict:
    """The run record's telemetry of a run across nodes: each node's summary, and the run's
    (energy summed, peaks the highest, throttling on any node)."""
    summaries = [s for s in per_node.values() if isinstance(s, dict)]
    missing = [n for n in nodes if not isinstance(per_node.get(n), dict)]

    def peak(key: str):
        values = [s[key] for s in summaries if isinstance(s.get(key), int | float)]
        return max(values) if values else None

    energy = [s.get("gpu_energy_wh") for s in summaries]
    throttled = [s.get("throttling") for s in summaries if s.get("throttling") is not None]
    errors = [e for e in [error, *(f"{n}: no summary" for n in missing)] if e]
    return {
        "file": paths[nodes[0]].name,
        "files": {n: paths[n].name for n in nodes},
        "nodes": {n: per_node.get(n) for n in nodes},
        "samples": min((s.get("samples") or 0 for s in summaries), default=0),
        "gpus": sum(s.get("gpus") or 0 for s in summaries),
        "gpu_energy_wh": sum(energy) if energy and None not in energy and not missing else None,
        "peak_gpu_power_w": peak("peak_gpu_power_w"),
        "peak_gpu_temp_c": peak("peak_gpu_temp_c"),
        "throttling": any(throttled) if throttled else None,
        "peak_host_cpu_pct": peak("peak_host_cpu_pct"),
        "peak_host_mem_pct": peak("peak_host_mem_pct"),
        "error": "; ".join(errors) or None,
    }


def telemetry_paths(layout: CampaignLayout, bench: str, n: int, nodes: tuple[str, ...]) -> dict:
    """Rank 0's node samples into the run's own telemetry_N.csv, each other node beside it."""
    return {
        node: layout.telemetry_path(bench, n)
        if i == 0
        else layout.node_telemetry_path(bench, n, node)
        for i, node in enumerate(nodes)
    }
