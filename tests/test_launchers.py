"""Every registered launcher: what it renders, and the rank environment it documents."""

from __future__ import annotations

import pytest

from gp2bm import launchers
from gp2bm.errors import InputError
from gp2bm.launchers import LaunchPlan, get_launcher, gpu_count_problem, launch_plan

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
