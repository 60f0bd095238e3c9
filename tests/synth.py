"""Synthetic MLPerf result logs written with mlperf_logging.mllog, for edge-case tests.

``write_run`` writes one result_N.txt that passes the 3.1.0 compliance checker for ResNet
(LARS) or BERT, with a simulated clock so that its time to train is exactly what the test
asks for, and convergence points near the RCP means so the RCP check passes too.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from mlperf_logging import mllog
from mlperf_logging.mllog import constants as C

RESNET_BS = 3264
BERT_BS = 448
# Convergence points near the 3.1.0 RCP means (ResNet epochs at BS 3264, BERT samples at 448).
RESNET_EPOCHS = [35, 36, 35, 37, 36, 36, 35, 36, 37, 35]
BERT_SAMPLES = [
    2433536,
    2458624,
    2483712,
    2408448,
    2533888,
    2458624,
    2483712,
    2433536,
    2508800,
    2458624,
]

# how much longer than its time to train a synthetic run's process takes (start-up before
# run_start, exit after run_stop): its closing line and its record say the same
PROCESS_EXTRA_S = 3.5


@dataclass
class _Clock:
    now: int

    def tick(self, ms: int = 1) -> int:
        self.now += ms
        return self.now


def _logger() -> tuple[mllog.mllog.MLLogger, io.StringIO]:
    buf = io.StringIO()
    log = logging.getLogger(f"gp2bm-synth-{id(buf)}")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.handlers[:] = [logging.StreamHandler(buf)]
    return mllog.mllog.MLLogger(logger=log, default_namespace=""), buf


def _hyperparameters(benchmark: str) -> dict:
    if benchmark == "resnet":
        return {
            C.GLOBAL_BATCH_SIZE: RESNET_BS,
            C.GRADIENT_ACCUMULATION_STEPS: 1,
            C.OPT_NAME: "lars",
            C.LARS_OPT_BASE_LEARNING_RATE: 10.5,
            C.LARS_OPT_END_LR: 0.0001,
            C.LARS_OPT_LR_DECAY_POLY_POWER: 2,
            C.LARS_OPT_LR_DECAY_STEPS: 14523,
            C.LARS_EPSILON: 0.0,
            C.LARS_OPT_LEARNING_RATE_WARMUP_EPOCHS: 2,
            C.LARS_OPT_MOMENTUM: 0.9,
            C.LARS_OPT_WEIGHT_DECAY: 5e-05,
            C.TRAIN_SAMPLES: 1281167,
            C.EVAL_SAMPLES: 50000,
        }
    return {
        C.GLOBAL_BATCH_SIZE: BERT_BS,
        C.GRADIENT_ACCUMULATION_STEPS: 1,
        C.OPT_BASE_LR: 0.000425,
        C.OPT_LAMB_EPSILON: 1e-06,
        C.OPT_LR_TRAINING_STEPS: 6700,
        C.OPT_LR_WARMUP_STEPS: 0,
        C.NUM_WARMUP_STEPS: 0,
        C.START_WARMUP_STEP: 0,
        C.OPT_LAMB_BETA_1: 0.9,
        C.OPT_LAMB_BETA_2: 0.999,
        C.OPT_LAMB_WEIGHT_DECAY: 0.01,
        C.TRAIN_SAMPLES: 156725653,
        C.EVAL_SAMPLES: 10000,
    }


def run_log_text(
    benchmark: str,
    seed: int,
    minutes: float,
    *,
    index: int = 0,
    start_ms: int = 1_700_000_000_000,
    status: str = "success",
    reach_target: bool = True,
    duplicate_run_start: bool = False,
    lines_after_stop: bool = False,
    prefix: str = "",
    epochs: int | None = None,
    late_evals: bool = False,
    stop_before_last_eval_ms: int = 0,
    gp2bm_run: dict | None = None,
    jitter: int = 0,
) -> str:
    """The text of one result log whose time to train is exactly ``minutes``.

    ``epochs``: converge after that many epochs (ResNet) or samples (BERT) instead of near
    the RCP mean; ``late_evals``: write each eval's lines after the next training block's,
    with their true, earlier timestamps; ``stop_before_last_eval_ms``: stamp the last eval
    that much after run_stop (written before it), as some accepted logs do. ``gp2bm_run``:
    the value of gp2bm's run line, written with its closing line as gp2bm writes them (a
    run gp2bm did); ``jitter``: moves every evaluation below the target by a different
    small amount (two runs' curves differ, as two seeds' do).
    """
    ml, buf = _logger()
    clock = _Clock(start_ms)
    ml.event(C.CACHE_CLEAR, True, time_ms=clock.tick())
    if gp2bm_run is not None:
        ml.event("gp2bm_run", gp2bm_run, time_ms=clock.tick())
    ml.start(C.INIT_START, None, time_ms=clock.tick())
    for key, value in [
        (C.SUBMISSION_BENCHMARK, benchmark),
        (C.SUBMISSION_ORG, "gp2bm-test"),
        (C.SUBMISSION_DIVISION, "closed"),
        (C.SUBMISSION_STATUS, "onprem"),
        (C.SUBMISSION_PLATFORM, "synthetic"),
        (C.SEED, seed),
    ]:
        ml.event(key, value, time_ms=clock.tick())
    for key, value in _hyperparameters(benchmark).items():
        ml.event(key, value, time_ms=clock.tick())
    ml.end(C.INIT_STOP, None, time_ms=clock.tick())
    run_start = clock.tick(1000)
    ml.start(C.RUN_START, None, time_ms=run_start)
    run_stop = run_start + round(minutes * 60000)
    target = 0.759 if benchmark == "resnet" else 0.720
    if benchmark == "resnet":
        points = list(range(1, (epochs or RESNET_EPOCHS[index % len(RESNET_EPOCHS)]) + 1))
    else:
        last = epochs or BERT_SAMPLES[index % len(BERT_SAMPLES)]
        points = [last * k // 10 for k in range(1, 11)]
    span = run_stop - run_start - 10
    late: list[tuple] = []  # eval lines still to write (late_evals)
    for i, point in enumerate(points, 1):
        t = run_start + span * i // len(points)
        if i == len(points) and stop_before_last_eval_ms:
            t = run_stop + stop_before_last_eval_ms
        if duplicate_run_start and i == len(points) // 2:
            ml.start(C.RUN_START, None, time_ms=t - 2)
        _block(ml, benchmark, point, t)
        acc = target * (0.5 + 0.5 * i / len(points))
        if jitter:
            acc -= ((jitter * 31 + i) % 997) * 1e-7
        if i == len(points) and reach_target:
            acc = target + 0.002
        elif not reach_target:
            acc = min(acc, target - 0.01)
        for evals in late:
            _eval(ml, *evals)
        late = [(point, acc, t)]
        if not late_evals:
            _eval(ml, *late.pop())
    for evals in late:
        _eval(ml, *evals)
    ml.end(C.RUN_STOP, None, time_ms=run_stop, metadata={"status": status})
    if gp2bm_run is not None:
        closing = {
            "status": status,
            "exit_code": 0,
            "reason": None,
            "seconds": minutes * 60 + PROCESS_EXTRA_S,
            "observed_seconds": minutes * 60,
        }
        ml.event("gp2bm_run_end", closing, time_ms=run_stop + 5)
    text = buf.getvalue()
    if lines_after_stop:
        text += "ENDING TIMING RUN AT 2024-01-01\n"
        after = {
            "namespace": "",
            "time_ms": run_stop + 500,
            "event_type": "POINT_IN_TIME",
            "key": "tracked_stats",
            "value": {"step": 1},
            "metadata": {"step": 1},
        }
        text += ":::MLLOG " + json.dumps(after) + "\n"
    if prefix:
        text = "".join(
            prefix + line + "\n" if ":::MLLOG" in line else line + "\n"
            for line in text.splitlines()
        )
    return text


def _block(ml, benchmark: str, point, t: int) -> None:
    if benchmark == "resnet":
        ml.start(C.EPOCH_START, None, time_ms=t - 4, metadata={"epoch_num": point})
        ml.end(C.EPOCH_STOP, None, time_ms=t - 3, metadata={"epoch_num": point})
    else:
        ml.start(
            C.BLOCK_START,
            None,
            time_ms=t - 4,
            metadata={"first_epoch_num": point, "epoch_count": 1},
        )
        ml.end(C.BLOCK_STOP, None, time_ms=t - 3, metadata={"first_epoch_num": point})


def _eval(ml, point, acc: float, t: int) -> None:
    ml.start(C.EVAL_START, None, time_ms=t - 2, metadata={"epoch_num": point})
    ml.event(C.EVAL_ACCURACY, acc, time_ms=t - 1, metadata={"epoch_num": point})
    ml.end(C.EVAL_STOP, None, time_ms=t, metadata={"epoch_num": point})


def write_run(folder: Path, n: int, benchmark: str, minutes: float, **kw) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    seed = kw.pop("seed", 1000 + n * 7)
    path = folder / kw.pop("name", f"result_{n}.txt")
    path.write_text(run_log_text(benchmark, seed, minutes, index=n, **kw))
    return path


def write_benchmark(
    folder: Path, benchmark: str, minutes: list[float], first: int = 0, **kw
) -> list[Path]:
    return [write_run(folder, first + i, benchmark, m, **kw) for i, m in enumerate(minutes)]


RESNET_MINUTES = [30.0, 31.5, 29.0, 30.5, 32.0]
BERT_MINUTES = [20.0, 21.0, 19.5, 20.5, 22.0, 19.0, 20.25, 21.5, 20.75, 19.75]
