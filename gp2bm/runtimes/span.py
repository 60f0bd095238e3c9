"""One run across the nodes of a Slurm allocation: what a runtime that can span nodes is
given, and what it must do with it.

The launcher ``srun`` starts the run's tasks on every node from outside the container, so a
runtime that spans nodes puts srun's words before its own command line (Apptainer:
``srun ... apptainer run ...``), or is srun itself (Enroot through Pyxis: srun's own
``--container-*`` options). Each task must also find its rank in the container:
Pyxis passes the task's environment (``SLURM_PROCID`` ...) into the container; Apptainer's
``--cleanenv`` does not, so an Apptainer task goes through ``taskenv.py`` on its node,
which hands Slurm's task variables (and each task's PyTorch rank, slurm2pytorch's
mapping) to the container as ``APPTAINERENV_*``. Before the run the runtime makes its
image ready on every node once (``ready_command``: Pyxis imports it under a name, as
NVIDIA's run.sub does; Apptainer starts the campaign's SIF once on each node).

A runtime that spans nodes implements ``SpansNodes``; the others (Docker, Podman, local)
start the processes of one node only, and a suite of several nodes refuses them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from gp2bm.runtimes.base import Execution, RunSpec
from gp2bm.spec.manifest import BenchmarkManifest

TASKENV = Path(__file__).with_name("taskenv.py")


@dataclass(frozen=True)
class Span:
    """How one run spans the nodes of its allocation (plain data, rendered by the run)."""

    launch: tuple[str, ...]  # srun and its options: every task of the run (launcher srun)
    each_node: tuple[str, ...]  # srun and its options: one task on each node
    nodes: tuple[str, ...]  # rank 0's node first
    # per task, the variable the workload reads and the Slurm variable it comes from
    rank_map: tuple[tuple[str, str], ...] = ()
    name: str = ""  # the run's image under this name on every node (Pyxis)


def taskenv_argv(span: Span, prefix: str) -> list[str]:
    """The per-task step on every node that hands Slurm's task variables, under ``prefix``,
    to the command after it (``taskenv.py``: standard library only, run by path)."""
    mapped = [f"{name}={source}" for name, source in span.rank_map]
    return [sys.executable, "-I", str(TASKENV), prefix, *mapped, "--"]


@runtime_checkable
class SpansNodes(Protocol):
    """A runtime that can start one run's tasks on every node of an allocation."""

    def ready_command(self, manifest: BenchmarkManifest, span: Span) -> list[str]:
        """One task per node that makes the image ready there (exit 0 on every node)."""

    def render_span(self, spec: RunSpec, span: Span) -> list[str]:
        """The run's command line across the nodes, as an argument list."""

    def start_span(
        self, spec: RunSpec, span: Span, sink: BinaryIO, on_line: Callable[[bytes], None] | None
    ) -> Execution:
        """Start the run across the nodes; its output (every task's) goes to ``sink``."""
