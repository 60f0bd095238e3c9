"""One run across the nodes of a Slurm allocation, as NVIDIA's run.sub does it.

Before the run, on every node of it (each an srun step of one task per node):

1. the image made ready once (``Runtime.ready_command``: Pyxis imports it under the
   run's name; Apptainer starts the campaign's SIF on the node);
2. gp2bm's node step (``gp2bm node-step``): the node's name and hardware fingerprint, its
   pre-flight items, its inventory (once per campaign), then its page cache dropped.

The nodes must be of one kind of hardware (else the run is refused in one line, unless
``--allow-mixed-nodes``) and pass their pre-flight (else the campaign stops). srun gets
``--mpi=pmix`` only where Slurm's pmix starts a step on these nodes (asked each time).

During the run: its tasks (``Runtime.start_span``, srun's words from the launcher), and
beside them every node's telemetry (``gp2bm.run.nodetelemetry``). ``SpanRun`` is the run's
``RunPlacement`` (``gp2bm.run.placement``); a dry run places it on placeholders.

After it: srun's own error lines say when a node was lost during the run (its tasks killed
with SIGKILL, or a node failure). Such a run did not end by the workload's doing: it ends
aborted, its log is kept as an attempt, and the next run-all redoes it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from gp2bm.campaign.folder import Campaign
from gp2bm.campaign.layout import CampaignLayout
from gp2bm.campaign.record import PREFLIGHT_PASSED, PREFLIGHT_WARNED
from gp2bm.errors import CampaignStopped, InputError
from gp2bm.files.findings import CheckItem, CheckStatus, blocking
from gp2bm.launchers.srun import DEFAULT_MASTER_PORT, SLURM_TO_PYTORCH, SrunLauncher, lost_nodes
from gp2bm.node.allocation import (
    current_allocation,
    each_node_argv,
    gp2bm_argv,
    in_allocation,
    node_address,
    run_each,
)
from gp2bm.node.cachedrop import CacheDrop
from gp2bm.run.benchsetup import BenchmarkSetup
from gp2bm.run.launch import Placement, RunLaunch
from gp2bm.run.mllog import mllog_line
from gp2bm.run.nodetelemetry import NodesTelemetry, telemetry_paths
from gp2bm.run.options import RunOptions
from gp2bm.run.placement import RunPlacement, Sampler, ThisNode
from gp2bm.runtimes.base import Execution, RunSpec, Runtime, Span
from gp2bm.spec.manifest import BenchmarkManifest

# A first import of a large image on a node, or its first inventory, may take minutes.
STEP_TIMEOUT_S = 900.0
PROBE_TIMEOUT_S = 60.0
CHECK_FIELDS = ("name", "status", "detail", "fix", "blocking")
# Rank 0's port moves with the job id (slurm2pytorch's 29500 + job id mod this): runs of
# one campaign whose rank 0 share a host (nodes emulated on one machine) never share a port.
MASTER_PORT_SPREAD = 2000


def master_port(job: str) -> int:
    return DEFAULT_MASTER_PORT + (int(job) % MASTER_PORT_SPREAD if job.isdigit() else 0)


def _step(argv: list[str], timeout: float) -> tuple[int, str, str]:
    """Exit status, all output and its last line (a timeout is status -1)."""
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError:
        return 127, "", f"{argv[0]}: not found"
    except subprocess.TimeoutExpired:
        return -1, "", f"no end within {timeout:g} s"
    text = proc.stderr + proc.stdout
    lines = text.strip().splitlines()
    return proc.returncode, text, lines[-1] if lines else ""


def working_mpi(each_node: tuple[str, ...]) -> tuple[str | None, str | None]:
    """``pmix`` when Slurm lists it and it starts a step on these nodes; else None, and why."""
    code, listed, _ = _step([each_node[0], "--mpi=list"], PROBE_TIMEOUT_S)
    if code != 0 or "pmix" not in listed:
        return None, "srun --mpi=list names no pmix: the tasks start without --mpi"
    code, _, tail = _step([*each_node, "--mpi=pmix", "true"], PROBE_TIMEOUT_S)
    if code != 0:
        return None, f"Slurm's pmix starts no step here ({tail}): the tasks start without --mpi"
    return "pmix", None


@dataclass
class SpanRun:
    """A run placed on the nodes of its allocation, and what each node said before it: the
    ``RunPlacement`` of a run across nodes."""

    job: str
    nodes: tuple[str, ...]
    placed: Placement
    each_node: tuple[str, ...]
    name: str  # the image's name on every node (Pyxis)
    reports: dict[str, dict] = field(default_factory=dict)
    found: list[str] = field(default_factory=list)  # what placing it found (no pmix...)
    errors: list[str] = field(default_factory=list)  # srun's error lines during the run

    @classmethod
    def unplaced(cls, campaign: Campaign, manifest: BenchmarkManifest) -> SpanRun:
        """A dry run's: no allocation yet, so its nodes and rank 0's address are
        placeholders (the launcher's), and nothing was asked of any node."""
        return cls("", (), Placement(), (), _image_name(campaign, manifest))

    @property
    def place(self) -> Placement | None:
        return self.placed

    @property
    def notes(self) -> list[str]:
        return list(self.found)

    def span(self, launch: RunLaunch | None = None) -> Span:
        return Span(
            launch=tuple(launch.outer) if launch is not None else (),
            each_node=self.each_node,
            nodes=self.nodes,
            rank_map=SLURM_TO_PYTORCH,
            name=self.name,
        )

    def drop_cache(self, options: RunOptions) -> CacheDrop:
        """Every node's cache drop (each dropped by its node step), as one."""
        return self.cache_drop()

    def drop_record(self, drop: CacheDrop) -> dict:
        """The record's cache drop: the run's, and each node's."""
        return {**drop.as_dict(), "nodes": self.drops()}

    def cache_clear_lines(self, drop: CacheDrop) -> list[bytes]:
        """One line per node, as NVIDIA's run.sub has every node's task write it."""
        lines = []
        for node in self.nodes:
            each = self.drops().get(node) or drop.as_dict()
            lines.append(
                mllog_line("cache_clear", each["ok"], {"method": each["method"], "node": node})
            )
        return lines

    def render(self, runtime: Runtime, spec: RunSpec, launch: RunLaunch) -> list[str]:
        """srun's words before the runtime's command line (the runtime's render_span)."""
        return runtime.render_span(spec, self.span(launch))

    def start(
        self,
        runtime: Runtime,
        spec: RunSpec,
        launch: RunLaunch,
        sink: BinaryIO,
        on_line: Callable[[bytes], None] | None,
    ) -> Execution:
        return runtime.start_span(spec, self.span(launch), sink, on_line)

    def telemetry(self, layout: CampaignLayout, bench: str, n: int) -> Sampler:
        """Every node sampled into its own CSV beside the run."""
        paths = telemetry_paths(layout, bench, n, self.nodes)
        return NodesTelemetry(self.each_node[0], self.nodes, paths)

    def drops(self) -> dict[str, dict]:
        return {
            n: self.reports[n]["cache_drop"]
            for n in self.nodes
            if self.reports[n].get("cache_drop")
        }

    def cache_drop(self) -> CacheDrop:
        """Every node's cache drop as one: ok when every node's was."""
        drops = self.drops()
        failed = [f"{n}: {d.get('error')}" for n, d in drops.items() if not d.get("ok")]
        missing = [n for n in self.nodes if n not in drops]
        failed += [f"{n}: no cache drop reported" for n in missing]
        method = next((d.get("method") for d in drops.values()), "none")
        seconds = max((float(d.get("seconds") or 0.0) for d in drops.values()), default=0.0)
        return CacheDrop(not failed, str(method), seconds, "; ".join(failed) or None)

    def record_fields(self) -> dict:
        """The run record's part: every node, each one's hardware, rank 0's as the run's."""
        first = self.reports[self.nodes[0]]
        checks = [i for n in self.nodes for i in self.reports[n].get("checks") or []]
        warned = any(i.get("status") in (CheckStatus.WARN, CheckStatus.FAIL) for i in checks)
        return {
            "preflight": PREFLIGHT_WARNED if warned else PREFLIGHT_PASSED,
            "node": ",".join(self.nodes),
            "nodes": list(self.nodes),
            "node_fingerprint": first["fingerprint"],
            "node_facts": first["facts"],
            "node_hardware": {
                n: {
                    "fingerprint": self.reports[n]["fingerprint"],
                    "facts": self.reports[n]["facts"],
                }
                for n in self.nodes
            },
        }

    def on_line(self, line: bytes) -> None:
        """Each line of the run's output: srun's own error lines are kept."""
        if line.startswith(b"srun: error:"):
            self.errors.append(line.decode(errors="replace").strip())

    def lost(self) -> str | None:
        """Which node was lost during the run and how srun said it, or None."""
        found = lost_nodes(self.errors)
        if not found:
            return None
        return "; ".join(f"node {n} lost ({said})" for n, said in found.items())


def _node_step_argv(
    campaign: Campaign, bench: str, runtime: Runtime, options: RunOptions
) -> list[str]:
    assert campaign.suite.path is not None  # a campaign's suite is read from its file
    args = [
        "node-step",
        "--campaign",
        str(campaign.root.resolve()),
        "--suite",
        str(Path(campaign.suite.path).resolve()),
        "--benchmark",
        bench,
        "--runtime",
        runtime.name,
    ]
    return gp2bm_argv(*args, *options.node_arguments())


def require_allocation(manifest: BenchmarkManifest, nodes: int) -> None:
    """InputError outside a Slurm allocation (before any image is prepared for nothing)."""
    if not in_allocation():
        raise InputError(
            f"{manifest.path}: launcher srun starts a run's tasks inside a Slurm allocation: "
            f"use run-all --slurm, or run gp2bm inside one (salloc -N {nodes})"
        )


def place_run(campaign: Campaign, manifest: BenchmarkManifest, nodes: int) -> SpanRun:
    """The run's nodes (the allocation's first ``nodes``), rank 0's address and port, MPI."""
    require_allocation(manifest, nodes)
    allocation = current_allocation()
    assert allocation is not None  # require_allocation: this process runs inside one
    hosts = allocation.first(nodes, str(manifest.path))
    each = tuple(each_node_argv(SrunLauncher().srun, hosts))
    mpi, why = working_mpi(each)
    place = Placement(hosts, node_address(hosts[0]), master_port(allocation.job), mpi)
    name = _image_name(campaign, manifest)
    return SpanRun(allocation.job, hosts, place, each, name, found=[why] if why else [])


def _image_name(campaign: Campaign, manifest: BenchmarkManifest) -> str:
    return f"gp2bm-{campaign.ident}-{manifest.benchmark}"


def open_span(
    campaign: Campaign,
    manifest: BenchmarkManifest,
    runtime: Runtime,
    options: RunOptions,
    nodes: int,
) -> SpanRun:
    """Place the run, make its image ready on every node, and step onto each node."""
    if not runtime.spans_nodes:
        raise InputError(f"the {runtime.name} runtime cannot start a run across nodes")
    run = place_run(campaign, manifest, nodes)
    code, _, tail = _step(runtime.ready_command(manifest, run.span()), STEP_TIMEOUT_S)
    if code != 0:
        raise CampaignStopped(
            f"{manifest.image} could not be made ready on every node ({', '.join(run.nodes)}): "
            f"{tail or f'exit status {code}'}"
        )
    command = _node_step_argv(campaign, manifest.benchmark, runtime, options)
    outputs = campaign.layout.node_step_outputs(manifest.benchmark, run.job)
    run.reports = run_each(
        list(run.each_node), command, run.nodes, "the node step", STEP_TIMEOUT_S, outputs
    )
    require_one_hardware(run, options.allow_mixed_nodes)
    require_node_checks(run)
    return run


def require_one_hardware(run: SpanRun, allow_mixed: bool) -> None:
    kinds = {n: r["fingerprint"] for n, r in run.reports.items()}
    if len(set(kinds.values())) <= 1 or allow_mixed:
        return
    what = ", ".join(
        f"{n} {fp} ({_facts_text(run.reports[n]['facts'])})" for n, fp in kinds.items()
    )
    raise InputError(
        f"Slurm job {run.job} gave nodes of different hardware for one run: {what}; the RFP "
        "asks for one node type (exclude the odd node, or pass --allow-mixed-nodes)"
    )


def _facts_text(facts: dict) -> str:
    gpus = facts.get("gpu_count")
    models = sorted(set(facts.get("gpu_models") or [])) or ["no GPU"]
    return (
        f"{facts.get('cpu_model')}, {facts.get('logical_cpus')} CPUs, "
        f"{facts.get('memory_gib')} GiB, {gpus}x {'/'.join(models)}"
    )


def require_node_checks(run: SpanRun) -> None:
    for node in run.nodes:
        items = run.reports[node].get("checks") or []
        stops = blocking([CheckItem(**{k: i.get(k) for k in CHECK_FIELDS}) for i in items])
        if stops:
            first = stops[0]
            raise CampaignStopped(
                f"pre-flight on {node}: {first.name}: {first.detail}"
                + (f" ({first.fix})" if first.fix else "")
            )


def placement_for(
    campaign: Campaign, setup: BenchmarkSetup, runtime: Runtime, options: RunOptions | None
) -> RunPlacement:
    """Where a benchmark's run runs: this node, or the nodes of the allocation (each stepped
    onto first). ``options`` None: a dry run, placed on the launcher's placeholders."""
    if not setup.spans:
        return ThisNode()
    if options is None:
        return SpanRun.unplaced(campaign, setup.manifest)
    return open_span(campaign, setup.manifest, runtime, options, setup.nodes)
