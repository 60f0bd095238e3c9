"""Every registered launcher: what it renders, and the rank environment it documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gp2bm import launchers
from gp2bm.errors import InputError
from gp2bm.launchers import LaunchPlan, get_launcher, gpu_count_problem, launch_plan
from gp2bm.launchers.srun import lost_nodes

SCHEMA = Path(__file__).resolve().parents[1] / "gp2bm/spec/schemas/benchmark.schema.json"

COMMAND = ["./run_and_time.sh", "--data dir/with space"]
PLAN = LaunchPlan(processes_per_node=8)


@pytest.mark.parametrize("name", launchers.NAMES)
def test_contract(name):
    launcher = get_launcher(name)
    argv = launcher.wrap(COMMAND, PLAN)
    assert all(isinstance(a, str) for a in argv)
    # the command is passed through as its own arguments, never joined into a string
    assert argv[-len(COMMAND):] == COMMAND
    for local in range(PLAN.processes_per_node):
        env = launcher.rank_environment(PLAN, local)
        assert set(env) <= set(launcher.rank_variables)
        assert not set(env) & set(launcher.dynamic_variables)
    assert launcher.origin


def test_mpirun_is_nvidia_resnet_launch():
    # NVIDIA's run_with_docker.sh: mpirun --allow-run-as-root --bind-to none --np ${DGXNGPU}
    assert get_launcher("mpirun").wrap(["./run_and_time.sh"], PLAN) == [
        "mpirun", "--allow-run-as-root", "--bind-to", "none", "--np", "8", "./run_and_time.sh"]


def test_torchrun_is_nvidia_bert_launch():
    # python -m torch.distributed.run --standalone --no_python --nproc_per_node=${DGXNGPU}
    assert get_launcher("torchrun").wrap(["./run_and_time.sh"], PLAN) == [
        "python", "-m", "torch.distributed.run", "--standalone", "--no_python",
        "--nproc_per_node=8", "./run_and_time.sh"]


def test_none_starts_the_command_once_with_no_rank():
    launcher = get_launcher("none")
    assert launcher.wrap(COMMAND, PLAN) == COMMAND
    assert launcher.rank_environment(PLAN, 0) == {}


def test_mpirun_rank_environment():
    env = get_launcher("mpirun").rank_environment(PLAN, 3)
    assert env == {"OMPI_COMM_WORLD_SIZE": "8", "OMPI_COMM_WORLD_RANK": "3",
                   "OMPI_COMM_WORLD_LOCAL_RANK": "3", "OMPI_COMM_WORLD_LOCAL_SIZE": "8",
                   "OMPI_COMM_WORLD_NODE_RANK": "0"}


def test_torchrun_rank_environment():
    env = get_launcher("torchrun").rank_environment(PLAN, 5)
    assert env["LOCAL_RANK"] == env["RANK"] == "5"
    assert env["WORLD_SIZE"] == env["LOCAL_WORLD_SIZE"] == "8"
    assert env["OMP_NUM_THREADS"] == "1"
    assert "MASTER_PORT" not in env  # --standalone picks a free port


def test_torchrun_several_nodes_use_a_static_rendezvous():
    plan = LaunchPlan(4, nodes=2, node_rank=1, master_addr="n1", master_port=29500)
    launcher = get_launcher("torchrun")
    assert launcher.wrap(["x"], plan) == [
        "python", "-m", "torch.distributed.run", "--nnodes=2", "--node_rank=1",
        "--master_addr=n1", "--master_port=29500", "--no_python", "--nproc_per_node=4", "x"]
    env = launcher.rank_environment(plan, 2)
    assert (env["RANK"], env["WORLD_SIZE"], env["MASTER_ADDR"]) == ("6", "8", "n1")


def test_mpirun_refuses_several_nodes():
    with pytest.raises(InputError, match="srun"):
        get_launcher("mpirun").wrap(["x"], LaunchPlan(8, nodes=2))


def test_unknown_launcher():
    with pytest.raises(InputError, match="known: none, mpirun, torchrun"):
        get_launcher("srunx")


def test_processes_per_node_from_manifest_else_node():
    assert launch_plan(4, 8).processes_per_node == 4
    assert launch_plan(None, 8).processes_per_node == 8
    with pytest.raises(InputError, match="processes_per_node"):
        launch_plan(None, None, where="m.yaml")


def test_config_gpu_count_must_match_the_plan():
    assert gpu_count_problem({"DGXNGPU": "8"}, PLAN, "config_DGXH100.sh") is None
    assert gpu_count_problem({}, PLAN, "c") is None
    problem = gpu_count_problem({"DGXNGPU": "8"}, LaunchPlan(4), "config_DGXH100.sh")
    assert "config_DGXH100.sh exports DGXNGPU=8" in problem and "4 processes" in problem


def test_registry_and_schema_name_the_same_launchers():
    schema = json.loads(SCHEMA.read_text())["properties"]["launcher"]["oneOf"]
    names = [schema[0]["enum"], schema[1]["properties"]["name"]["enum"]]
    assert names == [list(launchers.NAMES)] * 2


def test_srun_is_nvidia_run_sub_launch():
    # run.sub: srun --mpi=pmix --ntasks=$((NNODES*NGPU)) --ntasks-per-node=$NGPU ...
    plan = LaunchPlan(8, nodes=4, hosts=("n1", "n2", "n3", "n4"), mpi="pmix")
    launcher = get_launcher("srun", srun="/opt/slurm/bin/srun")
    assert launcher.outside and launcher.spans_nodes and launcher.needs is None
    assert launcher.wrap(["./run_and_time.sh"], plan) == [
        "/opt/slurm/bin/srun", "--nodes=4", "--ntasks=32", "--ntasks-per-node=8",
        "--nodelist=n1,n2,n3,n4", "--mpi=pmix", "--kill-on-bad-exit=1", "./run_and_time.sh"]
    # no allocation known yet (a dry run), no working pmix: neither option
    bare = launcher.wrap([], LaunchPlan(2, nodes=2))
    assert not any(a.startswith(("--nodelist", "--mpi")) for a in bare)


def test_srun_environment_is_slurm2pytorch():
    plan = LaunchPlan(2, nodes=2, node_rank=1, master_addr="10.0.0.1", master_port=29507,
                      hosts=("n1", "n2"))
    launcher = get_launcher("srun")
    common = launcher.run_environment(plan)
    assert common == {"MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29507", "WORLD_SIZE": "4",
                      "MLPERF_SLURM_FIRSTNODE": "n1", "OMP_NUM_THREADS": "1"}
    env = launcher.rank_environment(plan, 1)
    assert (env["SLURM_PROCID"], env["RANK"], env["SLURM_LOCALID"], env["LOCAL_RANK"]) == (
        "3", "3", "1", "1")
    assert env["SLURM_NODEID"] == "1" and env["WORLD_SIZE"] == env["SLURM_NTASKS"] == "4"
    one = launcher.run_environment(LaunchPlan(1, nodes=4))
    assert "OMP_NUM_THREADS" not in one and one["MASTER_PORT"] == "29500"


def test_srun_lines_that_say_a_node_was_lost():
    lines = [
        "srun: error: n4: tasks 2-3: Exited with exit code 137",
        "srun: error: n3: tasks 0-1: Exited with exit code 5",  # the workload's own end
        "srun: error: n2: task 1: Killed",
        "srun: error: n1: task 0: Terminated",  # srun's own --kill-on-bad-exit
        "srun: error: Node failure on n7",
    ]
    assert lost_nodes(lines) == {"n4": "n4: tasks 2-3: Exited with exit code 137",
                                 "n2": "n2: task 1: Killed", "n7": "Node failure on n7"}
    assert lost_nodes(lines[1:2] + lines[3:4]) == {}
