"""Which runs can span the nodes of an allocation, and how a task finds its rank there.

A run across nodes needs a launcher that starts the processes of every node (``srun``) and a
runtime that declares ``spans_nodes`` (Apptainer, Enroot through Pyxis). Docker, Podman and
the local runtime start the processes of one node; mpirun, torchrun and none start those of
the node they run on. ``spanning_problem`` is asked by the pre-flight, before a campaign's
runs are planned, and before a Slurm array is submitted: a suite that cannot work is one
line, not N failed runs.

What a runtime that spans nodes is given (``base.Span``) and must do with it (``base.Runtime``:
``ready_command``, ``render_span``, ``start_span``) is the runtime's own; how each task finds
its rank in the container is too (Pyxis passes the task's environment into the container;
Apptainer's tasks go through ``taskenv.py``).
"""

from __future__ import annotations

from gp2bm.launchers import launcher_class
from gp2bm.runtimes import NAMES, runtime_class
from gp2bm.runtimes.base import Runtime
from gp2bm.spec.manifest import BenchmarkManifest


def spans(manifest: BenchmarkManifest) -> bool:
    """Whether the manifest's launcher starts its processes on every node (srun)."""
    return launcher_class(manifest.launcher.name).spans_nodes


def spanning_runtimes() -> str:
    """The runtimes that can span nodes, as a sentence names them ("apptainer or enroot")."""
    return " or ".join(n for n in NAMES if runtime_class(n).spans_nodes)


def spanning_problem(
    nodes: int, manifests: dict[str, BenchmarkManifest], runtime: Runtime
) -> str | None:
    """Why these runs cannot be started on ``nodes`` nodes each, or None."""
    for m in manifests.values():
        name = m.launcher.name
        if nodes > 1 and not runtime.spans_nodes:
            return (
                f"{m.path}: the suite runs each run on {nodes} nodes, but the {runtime.name} "
                f"runtime starts a run on one node only: use --runtime {spanning_runtimes()} "
                "(with launcher: srun)"
            )
        if nodes > 1 and not spans(m):
            return (
                f"{m.path}: launcher {name} starts the processes of one node, but the suite "
                f"runs each run on {nodes} nodes: use launcher: srun (NVIDIA's run.sub)"
            )
        if spans(m) and not runtime.spans_nodes:
            return (
                f"{m.path}: launcher {name} starts the run's tasks on every node of a Slurm "
                f"allocation, which the {runtime.name} runtime cannot: use --runtime "
                f"{spanning_runtimes()}"
            )
    return None
