"""Slurm's srun: one process per GPU on every node of an allocation, as NVIDIA's run.sub.

NVIDIA's multi-node launch (``run.sub`` of ResNet and BERT, v4.0) runs, inside an
allocation of ``$DGXNNODES`` nodes,

    srun --mpi=pmix --ntasks=$((NNODES*NGPU)) --ntasks-per-node=$NGPU \\
         --container-name=... ./run_and_time.sh                    (ResNet)
    srun --ntasks=... --ntasks-per-node=$NGPU ... slurm2pytorch ./run_and_time.sh   (BERT)

srun starts the tasks on every node *outside* the container: its words come before the
runtime's own command (``apptainer run ...``, or Pyxis's ``--container-*`` options, which
are srun's own), never inside it. gp2bm renders ``--nodes``, ``--ntasks``,
``--ntasks-per-node``, the allocation's nodes in order (``--nodelist``: rank 0 on the first,
whose address is ``MASTER_ADDR``), ``--mpi=pmix`` only where Slurm's pmix works, and
``--kill-on-bad-exit=1`` (run.sub has 0 for ResNet and leaves MPI to end the others; here
a rank that fails ends the run at once instead of leaving its peers waiting for it).

Every task finds Slurm's own variables (``SLURM_PROCID``, ``SLURM_LOCALID``, ...). For
PyTorch, mlperf-common's ``slurm2pytorch`` maps them: ``RANK=SLURM_PROCID``,
``LOCAL_RANK=SLURM_LOCALID``, ``WORLD_SIZE=SLURM_NTASKS``, ``MASTER_ADDR`` the first node
(``MLPERF_SLURM_FIRSTNODE``), ``MASTER_PORT`` 29500, ``OMP_NUM_THREADS=1`` with several
tasks per node. gp2bm sets the same: the values common to every task in the run's
environment (``run_environment``), the per-task ones from Slurm's (``SLURM_TO_PYTORCH``, by
the runtime: see ``gp2bm.runtimes.span``).
"""

from __future__ import annotations

import os
import re

from gp2bm.launchers.base import Launcher, LaunchPlan, register

# slurm2pytorch's static rendezvous port (outside the ephemeral ranges of IANA and Linux).
DEFAULT_MASTER_PORT = 29500
# Each task's PyTorch variable and the Slurm variable it is read from (slurm2pytorch).
SLURM_TO_PYTORCH = (("RANK", "SLURM_PROCID"), ("LOCAL_RANK", "SLURM_LOCALID"))
# Until the allocation is known (a dry run): what MASTER_ADDR will be.
FIRST_NODE_PLACEHOLDER = "<the first node of the allocation>"


@register
class SrunLauncher(Launcher):
    name = "srun"
    needs = None  # srun runs on the host, not in the image
    spans_nodes = True
    outside = True
    rank_variables = (
        "SLURM_PROCID",
        "SLURM_LOCALID",
        "SLURM_NODEID",
        "SLURM_NTASKS",
        "SLURM_NNODES",
        "RANK",
        "LOCAL_RANK",
        "WORLD_SIZE",
        "MASTER_ADDR",
        "MASTER_PORT",
        "MLPERF_SLURM_FIRSTNODE",
        "OMP_NUM_THREADS",
    )
    origin = (
        "NVIDIA's run.sub (ResNet and BERT, Slurm with Pyxis) and mlperf-common's slurm2pytorch"
    )

    def __init__(self, srun: str | None = None):
        self.srun = srun or os.environ.get("GP2BM_SRUN") or "srun"

    def wrap(self, command: list[str], plan: LaunchPlan) -> list[str]:
        argv = [
            self.srun,
            f"--nodes={plan.nodes}",
            f"--ntasks={plan.world_text}",
            f"--ntasks-per-node={plan.per_node_text}",
        ]
        if plan.hosts:
            argv.append(f"--nodelist={','.join(plan.hosts)}")
        if plan.mpi:
            argv.append(f"--mpi={plan.mpi}")
        return [*argv, "--kill-on-bad-exit=1", *command]

    def run_environment(self, plan: LaunchPlan) -> dict[str, str]:
        env = {
            "MASTER_ADDR": plan.master_addr,
            "MASTER_PORT": str(plan.master_port or DEFAULT_MASTER_PORT),
            "WORLD_SIZE": plan.world_text,
            "MLPERF_SLURM_FIRSTNODE": plan.hosts[0] if plan.hosts else plan.master_addr,
        }
        if plan.processes_per_node > 1:
            env["OMP_NUM_THREADS"] = "1"  # as torch.distributed.run and slurm2pytorch
        return env

    def rank_environment(self, plan: LaunchPlan, local_rank: int) -> dict[str, str]:
        rank = plan.node_rank * plan.processes_per_node + local_rank
        env = {
            "SLURM_PROCID": str(rank),
            "SLURM_LOCALID": str(local_rank),
            "SLURM_NODEID": str(plan.node_rank),
            "SLURM_NTASKS": str(plan.world_size),
            "SLURM_NNODES": str(plan.nodes),
        }
        env.update({name: env[source] for name, source in SLURM_TO_PYTORCH})
        return {**env, **self.run_environment(plan)}


# srun's own lines about tasks that did not end by themselves: killed with SIGKILL ("Killed",
# or exit code 137 = 128 + 9 when a process below the task was: an operator, the OOM killer,
# a node going down; srun's own --kill-on-bad-exit sends SIGTERM first, and SIGKILL only to
# tasks that outlive Slurm's KillWait), or a node Slurm lost.
_KILLED = re.compile(
    r"^srun: error: (\S+): tasks? [0-9,\-]+: (?:Killed|Exited with exit code 137)\s*$"
)
_NODE_FAILURE = re.compile(r"^srun: error: Node failure on (\S+)")


def lost_nodes(lines: list[str]) -> dict[str, str]:
    """The nodes srun says were lost during a step (its error lines), each with what it said."""
    found: dict[str, str] = {}
    for line in lines:
        m = _KILLED.match(line) or _NODE_FAILURE.match(line)
        if m:
            found.setdefault(m.group(1), line.removeprefix("srun: error: "))
    return found
