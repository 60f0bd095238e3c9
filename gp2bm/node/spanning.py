"""Whether a suite's runs can span the nodes it asks for: the runtime and every launcher.

A run across nodes needs a launcher that starts the processes of every node (``srun``) and a
runtime that can be started that way (Apptainer, Enroot through Pyxis: they implement
``gp2bm.runtimes.span.SpansNodes``). Docker, Podman and the local runtime start the
processes of one node; mpirun, torchrun and none start those of the node they run on.
Asked by the pre-flight, before a campaign's runs are planned, and before a Slurm array is
submitted: a suite that cannot work is one line, not N failed runs.
"""

from __future__ import annotations

from gp2bm.launchers import launcher_class
from gp2bm.runtimes.base import Runtime
from gp2bm.runtimes.span import SpansNodes
from gp2bm.spec.manifest import BenchmarkManifest

SPANNING_RUNTIMES = "apptainer or enroot"


def spans(manifest: BenchmarkManifest) -> bool:
    """Whether the manifest's launcher starts its processes on every node (srun)."""
    return launcher_class(manifest.launcher.name).spans_nodes


def spanning_problem(
    nodes: int, manifests: dict[str, BenchmarkManifest], runtime: Runtime
) -> str | None:
    """Why these runs cannot be started on ``nodes`` nodes each, or None."""
    can_span = isinstance(runtime, SpansNodes)
    for m in manifests.values():
        name = m.launcher.name
        if nodes > 1 and not can_span:
            return (
                f"{m.path}: the suite runs each run on {nodes} nodes, but the {runtime.name} "
                f"runtime starts a run on one node only: use --runtime {SPANNING_RUNTIMES} "
                "(with launcher: srun)"
            )
        if nodes > 1 and not spans(m):
            return (
                f"{m.path}: launcher {name} starts the processes of one node, but the suite "
                f"runs each run on {nodes} nodes: use launcher: srun (NVIDIA's run.sub)"
            )
        if spans(m) and not can_span:
            return (
                f"{m.path}: launcher {name} starts the run's tasks on every node of a Slurm "
                f"allocation, which the {runtime.name} runtime cannot: use --runtime "
                f"{SPANNING_RUNTIMES}"
            )
    return None
