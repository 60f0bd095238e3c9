"""PyTorch's elastic launcher, as NVIDIA launches BERT with Docker.

NVIDIA's and Dell's run_with_docker.sh run, inside the container,
``python -m torch.distributed.run --standalone --no_python --nproc_per_node=$DGXNGPU
./run_and_time.sh``: ``--no_python`` because the command is a shell script, and
``--standalone`` (a rendezvous on this host, on a free port) for one node. Several nodes get
a static rendezvous on the first node instead.
"""

from __future__ import annotations

from gp2bm.launchers.base import Launcher, LaunchPlan, register

# torch.distributed.run sets OMP_NUM_THREADS=1 when it starts more than one process per node
# and the variable is not set already (a value in the environment is kept).
OMP_THREADS_DEFAULT = "1"


@register
class TorchrunLauncher(Launcher):
    name = "torchrun"
    needs = "python"
    rank_variables = (
        "LOCAL_RANK",
        "RANK",
        "GROUP_RANK",
        "ROLE_RANK",
        "LOCAL_WORLD_SIZE",
        "WORLD_SIZE",
        "ROLE_WORLD_SIZE",
        "MASTER_ADDR",
        "MASTER_PORT",
        "TORCHELASTIC_RUN_ID",
        "TORCHELASTIC_RESTART_COUNT",
        "TORCHELASTIC_MAX_RESTARTS",
        "OMP_NUM_THREADS",
    )
    # With --standalone the agent names this host (its fully qualified name) and a free port.
    dynamic_variables = ("MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID")
    origin = "NVIDIA's and Dell's run_with_docker.sh (BERT)"

    def __init__(self, python: str = "python"):
        self.python = python

    def wrap(self, command: list[str], plan: LaunchPlan) -> list[str]:
        argv = [self.python, "-m", "torch.distributed.run"]
        if plan.nodes == 1:
            argv.append("--standalone")
        else:
            argv += [
                f"--nnodes={plan.nodes}",
                f"--node_rank={plan.node_rank}",
                f"--master_addr={plan.master_addr}",
                f"--master_port={plan.master_port or 29500}",
            ]
        return [*argv, "--no_python", f"--nproc_per_node={plan.per_node_text}", *command]

    def rank_environment(self, plan: LaunchPlan, local_rank: int) -> dict[str, str]:
        rank = plan.node_rank * plan.processes_per_node + local_rank
        env = {
            "LOCAL_RANK": str(local_rank),
            "RANK": str(rank),
            "GROUP_RANK": str(plan.node_rank),
            "ROLE_RANK": str(rank),
            "LOCAL_WORLD_SIZE": str(plan.processes_per_node),
            "WORLD_SIZE": str(plan.world_size),
            "ROLE_WORLD_SIZE": str(plan.world_size),
            "TORCHELASTIC_RESTART_COUNT": "0",
            "TORCHELASTIC_MAX_RESTARTS": "0",
        }
        if plan.nodes > 1:
            env["MASTER_ADDR"] = plan.master_addr
            env["MASTER_PORT"] = str(plan.master_port or 29500)
        if plan.processes_per_node > 1:
            env["OMP_NUM_THREADS"] = OMP_THREADS_DEFAULT
        return env
