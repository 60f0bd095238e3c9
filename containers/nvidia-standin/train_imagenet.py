"""Stand-in for NVIDIA's ResNet-50 MXNet entry point (train_imagenet.py, NGC 24.04).

NVIDIA's run_and_time.sh starts it once per GPU under mpirun, through
``bindpcie --cpu=exclusive -- python train_imagenet.py <PARAMS>``. Each rank checks what a
real rank would depend on: an MPI rank (horovod initialises from mpi4py), the GPU list and
its place in it, the memory binding bindpcie asked numactl for, the config file's
hyper-parameters (the published run's), the seed gp2bm drew and the RecordIO files. Rank 0
then replays the published log (without the host's submission and cache_clear lines: NVIDIA
writes those from the launcher, not from this script).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import standin_replay as sr
from mlperf_logging import mllog

ENTRY = "train_imagenet.py"
# The published log's key for each argument run_and_time.sh builds from the config file.
FROM_CONFIG = {
    "batch_size": ("d_batch_size", "BATCHSIZE"),
    "num_epochs": ("lars_opt_learning_rate_decay_steps", "NUMEPOCHS"),
    "lr": ("lars_opt_base_learning_rate", "LR"),
    "warmup_epochs": ("lars_opt_learning_rate_warmup_epochs", "WARMUP_EPOCHS"),
    "optimizer": ("s_optimizer", "OPTIMIZER"),
    "network": ("s_network", "NETWORK"),
    "kv_store": ("s_process", "KVSTORE"),
}
DATA = ("data_train", "data_train_idx", "data_val", "data_val_idx")


def mpi_rank() -> tuple[int, int, int]:
    try:
        return (
            int(os.environ["OMPI_COMM_WORLD_RANK"]),
            int(os.environ["OMPI_COMM_WORLD_LOCAL_RANK"]),
            int(os.environ["OMPI_COMM_WORLD_SIZE"]),
        )
    except KeyError as missing:
        raise sr.Refusal(
            f"no {missing.args[0]}: not started by mpirun, so horovod would train one "
            "process for every GPU of --gpus"
        ) from None


def memory_binding() -> str:
    """The memory policy numactl set for this process (bindpcie: --membind=<node>)."""
    try:
        first = Path("/proc/self/numa_maps").read_text().split("\n", 1)[0]
    except OSError:
        return "unknown"
    return first.split()[1] if len(first.split()) > 1 else "unknown"


def check(options: dict[str, str], records: list[dict], system: dict) -> None:
    """Every way this launch differs from the published run, in one refusal."""
    rank, local_rank, size = mpi_rank()
    problems = []
    gpus = options.get("gpus", "").split(",") if options.get("gpus") else []
    world = sr.published_world_size(system)
    if size != world or len(gpus) != int(system["accelerators_per_node"]):
        problems.append(
            f"{size} ranks for --gpus {options.get('gpus')!r}; the published run had "
            f"{world} ranks, one per GPU (DGXNGPU of the config file)"
        )
    elif not 0 <= local_rank < len(gpus):
        problems.append(f"local rank {local_rank} has no GPU in --gpus {options['gpus']}")
    binding = memory_binding()
    if not binding.startswith("bind:"):
        problems.append(f"memory policy '{binding}': bindpcie's numactl --membind did not apply")
    for option, (key, variable) in FROM_CONFIG.items():
        try:
            sr.expect(
                option.replace("_", "-"),
                options.get(option),
                sr.first_value(records, key),
                f"{variable} of the config file",
            )
        except sr.Refusal as exc:
            problems.append(str(exc))
    for option in DATA:
        path = options.get(option)
        if not path or not Path(path).is_file():
            problems.append(f"[DALI] cannot open --{option.replace('_', '-')} {path}")
    if problems:
        raise sr.Refusal("; ".join(problems))


def main(argv: list[str]) -> int:
    try:
        options = sr.parse_options(argv)
        seed = sr.seed_from_launch(options)
        path = sr.pick_log("resnet", seed)
        records, system = sr.read_log(path)
        check(options, records, system)
    except sr.Refusal as exc:
        sr.refuse(ENTRY, str(exc))
    if int(os.environ["OMPI_COMM_WORLD_RANK"]) != 0:
        return 0
    print(f"{ENTRY}: stand-in replaying {path.name} of the published run", flush=True)
    sr.replay(records, mllog.get_mllogger(), {"seed": seed}, skip=sr.from_host)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
