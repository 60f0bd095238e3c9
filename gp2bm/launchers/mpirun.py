"""Open MPI's mpirun: one rank per GPU on one node, as NVIDIA launches ResNet with Docker.

NVIDIA's and Dell's run_with_docker.sh run, inside the container,
``mpirun --allow-run-as-root --bind-to none --np $DGXNGPU ./run_and_time.sh``:
root is the container's user, and binding is left to ``bindpcie`` (numactl) per rank.
"""

from __future__ import annotations

from gp2bm.errors import InputError
from gp2bm.launchers.base import Launcher, LaunchPlan, register


@register
class MpirunLauncher(Launcher):
    name = "mpirun"
    needs = "mpirun"
    rank_variables = (
        "OMPI_COMM_WORLD_SIZE",
        "OMPI_COMM_WORLD_RANK",
        "OMPI_COMM_WORLD_LOCAL_RANK",
        "OMPI_COMM_WORLD_LOCAL_SIZE",
        "OMPI_COMM_WORLD_NODE_RANK",
    )
    origin = "NVIDIA's and Dell's run_with_docker.sh (ResNet)"

    def wrap(self, command: list[str], plan: LaunchPlan) -> list[str]:
        if plan.nodes != 1:
            raise InputError(
                f"launcher mpirun starts the ranks of one node; {plan.nodes} nodes need the "
                "scheduler's launcher (srun)"
            )
        return [
            "mpirun",
            "--allow-run-as-root",
            "--bind-to",
            "none",
            "--np",
            plan.per_node_text,
            *command,
        ]

    def rank_environment(self, plan: LaunchPlan, local_rank: int) -> dict[str, str]:
        return {
            "OMPI_COMM_WORLD_SIZE": str(plan.world_size),
            "OMPI_COMM_WORLD_RANK": str(plan.node_rank * plan.processes_per_node + local_rank),
            "OMPI_COMM_WORLD_LOCAL_RANK": str(local_rank),
            "OMPI_COMM_WORLD_LOCAL_SIZE": str(plan.processes_per_node),
            "OMPI_COMM_WORLD_NODE_RANK": str(plan.node_rank),
        }
