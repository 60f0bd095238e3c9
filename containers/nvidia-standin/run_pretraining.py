"""Stand-in for NVIDIA's BERT-large PyTorch entry point (run_pretraining.py, NGC 23.04).

NVIDIA's run_and_time.sh starts it once per GPU under torch.distributed.run (Docker) as
``python -u /workspace/bert/run_pretraining.py <PHASE2> ... --seed=$SEED``. Each process
checks what a real one depends on: the rank environment ``init_process_group(env://)``
reads, the config file's hyper-parameters (the published run's), the seed gp2bm drew, the
packed training shards (``--packed_samples`` reads ``packed_input_len`` from each), the
phase-1 checkpoint and the evaluation set. Rank 0 then replays the published log; the
submission lines come, as in the real script, from mlperf_common's
``mlperf_submission_log('bert')`` with MLPERF_SUBMISSION_ORG / _PLATFORM of the launch.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import standin_replay as sr
from mlperf_common.frameworks.base import CommunicationHandler
from mlperf_common.logging import MLLoggerWrapper
from mlperf_logging import mllog

ENTRY = "run_pretraining.py"
# In the order torch reads them for init_process_group(init_method="env://").
TORCH_ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
FROM_CONFIG = {
    "train_batch_size": ("d_batch_size", "BATCHSIZE"),
    "max_steps": ("opt_learning_rate_training_steps", "MAX_STEPS"),
    "gradient_accumulation_steps": ("gradient_accumulation_steps", "GRADIENT_STEPS"),
    "learning_rate": ("opt_base_learning_rate", "LR"),
    "opt_lamb_beta_1": ("opt_lamb_beta_1", "OPT_LAMB_BETA_1"),
    "opt_lamb_beta_2": ("opt_lamb_beta_2", "OPT_LAMB_BETA_2"),
    "weight_decay_rate": ("opt_lamb_weight_decay_rate", "WEIGHT_DECAY_RATE"),
}
SUBMISSION_KEYS = {
    "submission_benchmark",
    "submission_org",
    "submission_division",
    "submission_status",
    "submission_platform",
}
# The dataset name a packed shard has and an unpacked one lacks (create_packed_trainset.py).
PACKED_DATASET = b"packed_input_len"


class StandinComm(CommunicationHandler):
    """mlperf_common's communication handler, from the rank environment."""

    def global_rank(self):
        return int(os.environ["RANK"])

    def barrier(self, sync_group=None):
        pass


def torch_rank() -> int:
    for name in TORCH_ENV:
        if name not in os.environ:
            raise sr.Refusal(
                "ValueError: Error initializing torch.distributed using env:// rendezvous: "
                f"environment variable {name} expected, but not set"
            )
    return int(os.environ["RANK"])


def check_data(options: dict[str, str]) -> None:
    shards = sorted(Path(options.get("input_dir", "/nonexistent")).glob("*part_*"))
    if not shards:
        raise sr.Refusal(f"no training shard (part_*) in --input_dir {options.get('input_dir')}")
    if "packed_samples" in options:
        with open(shards[0], "rb") as fh:
            if PACKED_DATASET not in fh.read():
                raise sr.Refusal(
                    f"KeyError: \"Unable to open object (object 'packed_input_len' doesn't "
                    f'exist)" in {shards[0]}: --packed_samples needs the packed shards'
                )
    for option in ("init_checkpoint", "bert_config_path"):
        if not Path(options.get(option, "/nonexistent")).is_file():
            raise sr.Refusal(f"FileNotFoundError: --{option} {options.get(option)}")
    if not any(Path(options.get("eval_dir", "/nonexistent")).glob("*")):
        raise sr.Refusal(f"no evaluation data in --eval_dir {options.get('eval_dir')}")


def check(options: dict[str, str], records: list[dict], system: dict) -> None:
    torch_rank()
    world = sr.published_world_size(system)
    if int(os.environ["WORLD_SIZE"]) != world:
        raise sr.Refusal(f"WORLD_SIZE {os.environ['WORLD_SIZE']}, the published run had {world}")
    for option, (key, variable) in FROM_CONFIG.items():
        sr.expect(
            option,
            options.get(option),
            sr.first_value(records, key),
            f"{variable} of the config file",
        )
    check_data(options)


def main(argv: list[str]) -> int:
    try:
        options = sr.parse_options(argv)
        seed = sr.seed_from_launch(options)
        path = sr.pick_log("bert", seed)
        records, system = sr.read_log(path)
        check(options, records, system)
    except sr.Refusal as exc:
        sr.refuse(ENTRY, str(exc))
    if int(os.environ["RANK"]) != 0:
        return 0
    print(f"{ENTRY}: stand-in replaying {path.name} of the published run", flush=True)
    logger = mllog.get_mllogger()
    wrapper = MLLoggerWrapper(StandinComm(), mllogger=logger, value=None)
    sr.replay(
        records,
        logger,
        {"seed": seed},
        skip=lambda rec: (
            sr.from_host(rec)
            or (rec["key"] in SUBMISSION_KEYS and rec["key"] != "submission_benchmark")
        ),
        instead={"submission_benchmark": lambda: wrapper.mlperf_submission_log("bert")},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
