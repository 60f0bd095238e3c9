"""The narrow interface every launcher implements, and the plan it renders from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from gp2bm.errors import InputError

# The variable NVIDIA's config files export for the GPUs of one node (run_with_docker.sh
# passes it to `mpirun --np` and `--nproc_per_node`).
CONFIG_GPU_VARIABLE = "DGXNGPU"


@dataclass(frozen=True)
class LaunchPlan:
    """How many processes a launcher starts, and where: plain data, one per run.

    ``master_port`` None: the launcher picks a free port itself (torchrun --standalone).
    ``hosts``: the nodes of a run across several nodes, rank 0's first (empty: not known
    yet, e.g. a dry run outside an allocation); ``mpi``: Slurm's MPI plugin for srun's
    ``--mpi`` (None: Slurm's default). ``count_text``: what stands for the number of
    processes per node where it is not known yet (a dry run on a machine without the GPUs
    and without the config file that would say it); ``processes_per_node`` is then 0.
    """

    processes_per_node: int
    nodes: int = 1
    node_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int | None = None
    hosts: tuple[str, ...] = ()
    mpi: str | None = None
    count_text: str | None = None

    @property
    def world_size(self) -> int:
        return self.processes_per_node * self.nodes

    @property
    def per_node_text(self) -> str:
        """The processes per node as a command line says it."""
        return self.count_text or str(self.processes_per_node)

    @property
    def world_text(self) -> str:
        """The processes of the whole run as a command line says it."""
        if self.count_text is None:
            return str(self.world_size)
        return self.count_text if self.nodes == 1 else f"{self.nodes} x {self.count_text}"


class Launcher(ABC):
    name: ClassVar[str]
    # The executable the image must have for the rendered command to start.
    needs: ClassVar[str | None] = None
    # Every variable each started process finds set by the launcher.
    rank_variables: ClassVar[tuple[str, ...]] = ()
    # Variables whose values the launcher chooses when it starts (not known beforehand).
    dynamic_variables: ClassVar[tuple[str, ...]] = ()
    # Where the rendered options come from, for the docs and the dry run.
    origin: ClassVar[str] = ""
    # Whether it starts the processes of several nodes (srun); the others start those of
    # the node they run on, and a run across nodes needs one that spans them.
    spans_nodes: ClassVar[bool] = False
    # Whether its words start the runtime's own command on every node, from outside the
    # container (srun); the others' words run inside the container, before the command.
    outside: ClassVar[bool] = False

    def run_environment(self, plan: LaunchPlan) -> dict[str, str]:
        """What gp2bm puts into the environment of every process of the run (the same for
        each), beside what the launcher itself sets per process."""
        return {}

    @abstractmethod
    def wrap(self, command: list[str], plan: LaunchPlan) -> list[str]:
        """The argument list that starts ``command`` once per process of the plan."""

    @abstractmethod
    def rank_environment(self, plan: LaunchPlan, local_rank: int) -> dict[str, str]:
        """What the launcher sets for the process of ``local_rank`` on the plan's node
        (the ``dynamic_variables`` only where the plan fixes them)."""


REGISTERED: dict[str, type[Launcher]] = {}


def register(cls: type[Launcher]) -> type[Launcher]:
    """Class decorator of a launcher module: known to the registry by its ``name``."""
    REGISTERED[cls.name] = cls
    return cls


def launch_plan(
    processes_per_node: int | None,
    node_gpus: int | None,
    nodes: int = 1,
    node_rank: int = 0,
    where: str = "the manifest",
) -> LaunchPlan:
    """Processes per node: the manifest's number, else the GPUs the node reports."""
    count = processes_per_node if processes_per_node is not None else node_gpus
    if not count:
        raise InputError(
            f"{where}: the launcher starts one process per GPU, but no GPU was found on "
            "this node; set launcher.processes_per_node"
        )
    return LaunchPlan(processes_per_node=count, nodes=nodes, node_rank=node_rank)


def visible_gpus(requested: str | int, node_gpus: int) -> int | None:
    """The GPUs a run's container gets: the manifest's number (``gpus: 4``), else every GPU
    the node reports (``gpus: all``); None when that is none."""
    if requested in ("none", None):
        return None
    if requested == "all":
        return node_gpus or None
    return int(requested)


def config_gpu_count(env: Mapping[str, str]) -> int | None:
    """The GPUs per node a config file was made for (its DGXNGPU), None when it says none."""
    value = env.get(CONFIG_GPU_VARIABLE)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def gpu_count_problem(env: Mapping[str, str], plan: LaunchPlan, config: str) -> str | None:
    """Why the config file and the plan disagree on the GPUs of a node, or None.

    NVIDIA's scripts size themselves from the config's DGXNGPU (the GPU list of ResNet's
    train_imagenet.py, BERT's SLURM_NTASKS): a launcher starting another number of
    processes trains a different configuration.
    """
    value = env.get(CONFIG_GPU_VARIABLE)
    if value is None:
        return None
    try:
        gpus = int(value)
    except ValueError:
        return f"{config}: {CONFIG_GPU_VARIABLE}={value!r} is not a number"
    if gpus != plan.processes_per_node:
        return (
            f"{config} exports {CONFIG_GPU_VARIABLE}={gpus} but the launcher starts "
            f"{plan.processes_per_node} processes per node: use the config file made for "
            f"this node, or set {CONFIG_GPU_VARIABLE} in the manifest's environment"
        )
    return None
