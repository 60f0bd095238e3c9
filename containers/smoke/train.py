#!/usr/bin/env python3
"""Smoke benchmark: a tiny but real training run that logs like MLPerf Training (closed).

It stands in for the real ResNet-50 and BERT-large workloads when there is no GPU node: the
launcher, the log checks, the scoring and the hand-in can then be exercised end to end in a
few seconds. Nothing in the log is invented: the model really trains, the hyperparameters
logged are the ones used, and the accuracy is measured on held-out data.

* ``--benchmark resnet``: image classification. Ten classes of 8x8 "images" made from smooth
  class templates under noise, random shifts and brightness; a one-hidden-layer network
  trained with LARS (the optimizer of the closed-division ResNet submissions) and its
  polynomial decay, evaluated every 4 epochs (``epoch_num`` counts epochs).
* ``--benchmark bert``: masked-token prediction. Sentences from a sparse Markov "language",
  15 % of the tokens replaced by ``[MASK]``; a log-linear model of the masked token given its
  neighbours, trained with LAMB (BERT's optimizer); ``epoch_num`` counts training samples
  (sentences), as in the BERT reference.

The datasets are fixed (like ImageNet or Wikipedia); the seed drives initialisation and the
order of the data. The workload does not log ``cache_clear``: the launcher writes that line
itself before the container output.

Exit status: 0 target reached; 1 target not reached within ``--max-epochs`` (``run_stop``
status ``aborted``); 2 usage error; 3 failure simulated with ``SMOKE_FAIL=1`` (``run_stop``
status ``aborted``); 4 crash simulated with ``SMOKE_FAIL=crash`` (no ``run_stop`` at all);
143 stopped by SIGTERM (``run_stop`` status ``aborted``).
"""

import argparse
import os
import secrets
import signal
import sys
import threading
import time

# One core and no thread pool: tiny matrices gain nothing from threads, and a single thread
# keeps the floating-point results identical from run to run.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from mlperf_logging import mllog  # noqa: E402
from mlperf_logging.mllog import constants as K  # noqa: E402

DEFAULT_TARGETS = {"resnet": 0.759, "bert": 0.720}
DEFAULT_MAX_EPOCHS = {"resnet": 64, "bert": 40}

# The data are part of the benchmark definition, not of the run: fixed seeds.
DATA_SEED = {"resnet": 20240201, "bert": 20240202}

EXIT_NOT_CONVERGED = 1
EXIT_SIMULATED_FAILURE = 3
EXIT_SIMULATED_CRASH = 4
EXIT_SIGTERM = 143

mllogger = mllog.get_mllogger()


class Aborted(Exception):
    """The run stops early; ``run_stop`` is logged with status ``aborted``."""

    def __init__(self, exit_code: int, reason: str):
        super().__init__(reason)
        self.exit_code = exit_code


# Set by SIGTERM and checked by the training loops. Raising from the handler instead would
# be lost whenever the signal lands inside a logging call: logging.Handler.handleError
# swallows the exception and the run would go on for all its epochs.
_STOP = threading.Event()


def _on_sigterm(signum, frame):
    _STOP.set()


def _check_stop() -> None:
    if _STOP.is_set():
        raise Aborted(EXIT_SIGTERM, "stopped by SIGTERM")


def _sleep(seconds: float, step: float = 0.05) -> None:
    """Sleep, but stop within ``step`` seconds of a SIGTERM.

    Relative sleeps only: a wait with a deadline on the wall clock (``Event.wait``) would
    stretch or shrink when the clock is stepped, which the clock-fault tests do on purpose.
    """
    whole, rest = divmod(max(0.0, seconds), step)
    for _ in range(int(whole)):
        time.sleep(step)
        _check_stop()
    time.sleep(rest)
    _check_stop()


def _failure_mode() -> str:
    mode = os.environ.get("SMOKE_FAIL", "").strip().lower()
    if mode in ("", "0", "false", "no"):
        return ""
    return "crash" if mode == "crash" else "abort"


def _maybe_fail(done_units: int) -> None:
    """Simulated failure (for tests of the launcher): after the first unit of work."""
    mode = _failure_mode()
    if not mode or done_units < 1:
        return
    if mode == "crash":
        print("SMOKE_FAIL=crash: exiting without run_stop", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(EXIT_SIMULATED_CRASH)
    raise Aborted(EXIT_SIMULATED_FAILURE, "SMOKE_FAIL is set: simulated failure")


# --------------------------------------------------------------------------- common pieces
def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray):
    """Mean cross-entropy and its gradient with respect to the logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    probs = exp / exp.sum(axis=1, keepdims=True)
    n = labels.shape[0]
    loss = -np.log(probs[np.arange(n), labels] + 1e-12).mean()
    grad = probs
    grad[np.arange(n), labels] -= 1.0
    return loss, grad / n


def poly_decay(step: int, base: float, end: float, warmup: int, decay: int, power: float):
    """Linear warm-up, then polynomial decay to ``end`` (held there afterwards)."""
    if warmup > 0 and step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, decay))
    return (base - end) * (1.0 - progress) ** power + end


def _norm(a: np.ndarray) -> float:
    return float(np.sqrt(np.sum(a * a)))


# --------------------------------------------------------------------------- resnet (vision)
class VisionTask:
    """Ten classes of 8x8 single-channel images; a 64-56-10 network trained with LARS."""

    benchmark = K.RESNET
    classes = 10
    side = 8
    # 56 hidden units: with 48, about one seed in a few hundred ended its LR decay just under
    # the target in the image's numpy build (a failed run in a 15-run test campaign). With 56
    # every seed tried converged (1300 with pip's numpy, 601 in the image; lowest accuracy
    # after the decay 0.775 vs 0.759), still late enough (36-40 epochs, 32 in 0.4 %) for
    # MLCommons' ResNet RCP check (olympic mean of epochs >= 33.8).
    hidden = 56
    train_size = 2048
    eval_size = 2048
    batch_size = 256
    epochs_between_evals = 4

    # LARS, polynomial decay (power 2) to 1e-4, as in the closed-division ResNet rules.
    base_lr = 10.0
    end_lr = 0.0001
    poly_power = 2
    warmup_epochs = 2
    planned_epochs = 40
    momentum = 0.9
    weight_decay = 0.00005
    lars_epsilon = 0.0
    trust_coefficient = 0.05

    def __init__(self):
        rng = np.random.default_rng(DATA_SEED[self.benchmark])
        coarse = rng.normal(size=(self.classes, 4, 4))
        # Smooth templates: nearest upsampling, then a 2x2 box blur with wrap-around.
        fine = np.kron(coarse, np.ones((2, 2)))
        fine = (fine + np.roll(fine, 1, 1) + np.roll(fine, 1, 2)
                + np.roll(fine, (1, 1), (1, 2))) / 4
        self.templates = fine
        self.x_train, self.y_train = self._sample(rng, self.train_size)
        self.x_eval, self.y_eval = self._sample(rng, self.eval_size)
        self.steps_per_epoch = self.train_size // self.batch_size
        self.warmup_steps = self.warmup_epochs * self.steps_per_epoch
        self.decay_steps = (self.planned_epochs - self.warmup_epochs) * self.steps_per_epoch

    def _sample(self, rng, n):
        labels = rng.integers(0, self.classes, size=n)
        images = self.templates[labels].copy()
        shifts = rng.integers(-1, 2, size=(n, 2))
        for i in range(n):
            images[i] = np.roll(images[i], tuple(shifts[i]), axis=(0, 1))
        images *= rng.uniform(0.6, 1.4, size=(n, 1, 1))
        images += rng.uniform(-0.5, 0.5, size=(n, 1, 1))
        images += rng.normal(scale=1.0, size=images.shape)
        return images.reshape(n, -1).astype(np.float64), labels

    def hyperparameters(self):
        return [
            (K.GLOBAL_BATCH_SIZE, self.batch_size),
            (K.GRADIENT_ACCUMULATION_STEPS, 1),
            (K.OPT_NAME, K.LARS),
            (K.LARS_EPSILON, self.lars_epsilon),
            (K.LARS_OPT_WEIGHT_DECAY, self.weight_decay),
            (K.LARS_OPT_BASE_LEARNING_RATE, self.base_lr),
            (K.LARS_OPT_END_LR, self.end_lr),
            (K.LARS_OPT_LR_DECAY_POLY_POWER, self.poly_power),
            (K.LARS_OPT_LR_DECAY_STEPS, self.decay_steps),
            (K.LARS_OPT_LEARNING_RATE_WARMUP_EPOCHS, self.warmup_epochs),
            (K.LARS_OPT_MOMENTUM, self.momentum),
            (K.TRAIN_SAMPLES, self.train_size),
            (K.EVAL_SAMPLES, self.eval_size),
        ]

    def init_model(self, rng):
        d = self.side * self.side
        self.params = {
            "w1": rng.normal(scale=np.sqrt(2.0 / d), size=(d, self.hidden)),
            "b1": np.zeros(self.hidden),
            "w2": rng.normal(scale=np.sqrt(1.0 / self.hidden), size=(self.hidden, self.classes)),
            "b2": np.zeros(self.classes),
        }
        self.velocity = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.step = 0

    def _forward(self, x):
        p = self.params
        pre = x @ p["w1"] + p["b1"]
        act = np.maximum(pre, 0.0)
        return pre, act, act @ p["w2"] + p["b2"]

    def _train_step(self, x, y):
        p = self.params
        pre, act, logits = self._forward(x)
        _, dlogits = softmax_cross_entropy(logits, y)
        dact = dlogits @ p["w2"].T
        dact[pre <= 0.0] = 0.0
        grads = {"w2": act.T @ dlogits, "b2": dlogits.sum(0), "w1": x.T @ dact, "b1": dact.sum(0)}
        lr = poly_decay(self.step, self.base_lr, self.end_lr, self.warmup_steps,
                        self.decay_steps, self.poly_power)
        for name, g in grads.items():
            w = p[name]
            if name.startswith("w"):
                # LARS: weight decay and a layer-wise trust ratio on weight matrices only.
                g = g + self.weight_decay * w
                w_norm, g_norm = _norm(w), _norm(g)
                denom = g_norm + self.lars_epsilon
                trust = self.trust_coefficient * w_norm / denom if w_norm > 0 and denom > 0 else 1.0
                local_lr = lr * trust
            else:
                local_lr = lr * self.trust_coefficient
            self.velocity[name] = self.momentum * self.velocity[name] + local_lr * g
            p[name] = w - self.velocity[name]
        self.step += 1

    def train_epoch(self, rng):
        order = rng.permutation(self.train_size)
        for s in range(self.steps_per_epoch):
            idx = order[s * self.batch_size:(s + 1) * self.batch_size]
            self._train_step(self.x_train[idx], self.y_train[idx])

    def evaluate(self):
        _, _, logits = self._forward(self.x_eval)
        return float((logits.argmax(1) == self.y_eval).mean())

    def run(self, rng, target, max_epochs, sleep_per_epoch):
        """Blocks of ``epochs_between_evals`` epochs, each followed by an evaluation."""
        epoch = 0
        while epoch < max_epochs:
            first = epoch + 1
            count = min(self.epochs_between_evals, max_epochs - epoch)
            mllogger.start(K.BLOCK_START, metadata={K.FIRST_EPOCH_NUM: first,
                                                    K.EPOCH_COUNT: count})
            for _ in range(count):
                epoch += 1
                mllogger.start(K.EPOCH_START, metadata={K.EPOCH_NUM: epoch})
                _check_stop()
                self.train_epoch(rng)
                _check_stop()
                if sleep_per_epoch > 0:
                    _sleep(sleep_per_epoch)
                mllogger.end(K.EPOCH_STOP, metadata={K.EPOCH_NUM: epoch})
                _maybe_fail(epoch)
            mllogger.start(K.EVAL_START, metadata={K.EPOCH_NUM: epoch})
            accuracy = self.evaluate()
            mllogger.event(K.EVAL_ACCURACY, value=accuracy, metadata={K.EPOCH_NUM: epoch})
            mllogger.end(K.EVAL_STOP, metadata={K.EPOCH_NUM: epoch})
            mllogger.end(K.BLOCK_STOP, metadata={K.FIRST_EPOCH_NUM: first})
            if accuracy >= target:
                return True
        return False

    def final_records(self):
        return []


# --------------------------------------------------------------------------- bert (language)
class LanguageTask:
    """Masked-token prediction on a sparse Markov language, trained with LAMB."""

    benchmark = K.BERT
    vocab = 40
    seq_len = 32
    context = (-2, -1, 1, 2)
    mask_fraction = 0.15
    train_size = 4096
    eval_size = 1024
    batch_size = 64
    samples_between_evals = 1024

    base_lr = 0.02
    lamb_beta_1 = 0.9
    lamb_beta_2 = 0.999
    lamb_epsilon = 1e-06
    weight_decay = 0.01
    warmup_steps = 16
    start_warmup_step = 0
    training_steps = 640

    def __init__(self):
        rng = np.random.default_rng(DATA_SEED[self.benchmark])
        # Each token is followed by one of three likely successors (and rarely anything).
        successors = np.full((self.vocab, self.vocab), 0.02 / self.vocab)
        for t in range(self.vocab):
            nxt = rng.choice(self.vocab, size=3, replace=False)
            successors[t, nxt] += np.array([0.66, 0.22, 0.10])
        self.transition = successors / successors.sum(1, keepdims=True)
        self.mask_id, self.pad_id = self.vocab, self.vocab + 1
        self.train = self._corpus(rng, self.train_size)
        self.eval = self._corpus(rng, self.eval_size)
        self.features = len(self.context) * (self.vocab + 2)

    def _corpus(self, rng, n):
        """Sentences with ``[MASK]`` applied once (static masking, as in the MLPerf data)."""
        cdf = np.cumsum(self.transition, axis=1)
        tokens = np.empty((n, self.seq_len), dtype=np.int64)
        tokens[:, 0] = rng.integers(0, self.vocab, size=n)
        draws = rng.random(size=(n, self.seq_len))
        for j in range(1, self.seq_len):
            rows = cdf[tokens[:, j - 1]]
            tokens[:, j] = np.minimum((rows < draws[:, j:j + 1]).sum(1), self.vocab - 1)
        masked = rng.random(size=tokens.shape) < self.mask_fraction
        inputs = np.where(masked, self.mask_id, tokens)
        padded = np.pad(inputs, ((0, 0), (2, 2)), constant_values=self.pad_id)
        sent, pos = np.nonzero(masked)
        # One prediction per masked token: the ids of its neighbours, offset by slot.
        ctx = np.stack([padded[sent, pos + 2 + off] + i * (self.vocab + 2)
                        for i, off in enumerate(self.context)], axis=1)
        return {"sentence": sent, "context": ctx, "label": tokens[sent, pos]}

    def hyperparameters(self):
        return [
            (K.GLOBAL_BATCH_SIZE, self.batch_size),
            (K.GRADIENT_ACCUMULATION_STEPS, 1),
            (K.OPT_BASE_LR, self.base_lr),
            (K.OPT_LAMB_EPSILON, self.lamb_epsilon),
            (K.OPT_LR_TRAINING_STEPS, self.training_steps),
            (K.OPT_LR_WARMUP_STEPS, self.warmup_steps),
            (K.NUM_WARMUP_STEPS, self.warmup_steps),
            (K.START_WARMUP_STEP, self.start_warmup_step),
            (K.OPT_LAMB_BETA_1, self.lamb_beta_1),
            (K.OPT_LAMB_BETA_2, self.lamb_beta_2),
            (K.OPT_LAMB_WEIGHT_DECAY, self.weight_decay),
            (K.MAX_SEQUENCE_LENGTH, self.seq_len),
            (K.EVAL_SAMPLES, self.eval_size),
        ]

    def init_model(self, rng):
        self.params = {"w": rng.normal(scale=0.01, size=(self.features, self.vocab)),
                       "b": np.zeros(self.vocab)}
        self.m = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.v = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.step = 0
        self.samples = 0
        # Predictions grouped by sentence, so a batch of sentences is a slice of rows.
        order = np.argsort(self.train["sentence"], kind="stable")
        self.by_sentence = {k: v[order] for k, v in self.train.items()}
        self.sentence_start = np.searchsorted(self.by_sentence["sentence"],
                                              np.arange(self.train_size + 1))
        self.epoch_order = np.empty(0, dtype=np.int64)

    def _logits(self, ctx):
        return self.params["w"][ctx].sum(axis=1) + self.params["b"]

    def _lr(self):
        step = self.step - self.start_warmup_step
        if step < self.warmup_steps:
            return self.base_lr * (step + 1) / self.warmup_steps
        progress = min(1.0, step / self.training_steps)
        return self.base_lr * (1.0 - progress)

    def _train_step(self, sentences):
        rows = np.concatenate([np.arange(self.sentence_start[s], self.sentence_start[s + 1])
                               for s in sentences])
        ctx = self.by_sentence["context"][rows]
        labels = self.by_sentence["label"][rows]
        _, dlogits = softmax_cross_entropy(self._logits(ctx), labels)
        gw = np.zeros_like(self.params["w"])
        np.add.at(gw, ctx.ravel(), np.repeat(dlogits, ctx.shape[1], axis=0))
        grads = {"w": gw, "b": dlogits.sum(0)}
        lr = self._lr()
        self.step += 1
        b1, b2 = self.lamb_beta_1, self.lamb_beta_2
        for name, g in grads.items():
            w = self.params[name]
            self.m[name] = b1 * self.m[name] + (1 - b1) * g
            self.v[name] = b2 * self.v[name] + (1 - b2) * g * g
            m_hat = self.m[name] / (1 - b1 ** self.step)
            v_hat = self.v[name] / (1 - b2 ** self.step)
            update = m_hat / (np.sqrt(v_hat) + self.lamb_epsilon)
            if name == "w":
                update = update + self.weight_decay * w
            w_norm, u_norm = _norm(w), _norm(update)
            trust = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
            self.params[name] = w - lr * trust * update

    def _next_sentences(self, rng, n):
        while self.epoch_order.size < n:
            self.epoch_order = np.concatenate([self.epoch_order,
                                               rng.permutation(self.train_size)])
        chosen, self.epoch_order = self.epoch_order[:n], self.epoch_order[n:]
        return chosen

    def evaluate(self):
        logits = self._logits(self.eval["context"])
        return float((logits.argmax(1) == self.eval["label"]).mean())

    def run(self, rng, target, max_epochs, sleep_per_epoch):
        """Blocks of ``samples_between_evals`` sentences; ``epoch_num`` counts samples.

        ``max_epochs`` bounds the number of blocks (evaluations).
        """
        for block in range(max_epochs):
            first = self.samples
            mllogger.start(K.BLOCK_START, metadata={K.FIRST_EPOCH_NUM: first,
                                                    K.EPOCH_COUNT: self.samples_between_evals})
            for _ in range(self.samples_between_evals // self.batch_size):
                _check_stop()
                self._train_step(self._next_sentences(rng, self.batch_size))
                self.samples += self.batch_size
            if sleep_per_epoch > 0:
                _sleep(sleep_per_epoch)
            _maybe_fail(block + 1)
            mllogger.start(K.EVAL_START, metadata={K.EPOCH_NUM: self.samples})
            accuracy = self.evaluate()
            mllogger.event(K.EVAL_ACCURACY, value=accuracy, metadata={K.EPOCH_NUM: self.samples})
            mllogger.end(K.EVAL_STOP, metadata={K.EPOCH_NUM: self.samples})
            mllogger.end(K.BLOCK_STOP, metadata={K.FIRST_EPOCH_NUM: first})
            if accuracy >= target:
                return True
        return False

    def final_records(self):
        # As in the BERT reference: the samples actually trained, once, at the end.
        return [(K.TRAIN_SAMPLES, self.samples)]


TASKS = {"resnet": VisionTask, "bert": LanguageTask}


# --------------------------------------------------------------------------- driver
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmark", required=True, choices=sorted(TASKS))
    parser.add_argument("--seed", type=int, default=None,
                        help="run seed (default: $SEED, else a random one)")
    parser.add_argument("--target", type=float, default=None,
                        help="quality target (default: 0.759 resnet, 0.720 bert)")
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="give up after this many epochs (bert: evaluation blocks); "
                             "default: 64 resnet, 40 bert")
    parser.add_argument("--sleep-per-epoch", type=float, default=0.0,
                        help="extra seconds per epoch (bert: per block), to make runs longer")
    args = parser.parse_args(argv)
    if args.seed is None:
        env_seed = os.environ.get("SEED", "").strip()
        if env_seed:
            try:
                args.seed = int(env_seed)
            except ValueError:
                parser.error(f"SEED must be an integer, got {env_seed!r}")
        else:
            args.seed = secrets.randbits(31)
    if args.target is None:
        args.target = DEFAULT_TARGETS[args.benchmark]
    if args.max_epochs is None:
        args.max_epochs = DEFAULT_MAX_EPOCHS[args.benchmark]
    if args.max_epochs < 1:
        parser.error("--max-epochs must be at least 1")
    if args.sleep_per_epoch < 0:
        parser.error("--sleep-per-epoch must not be negative")
    return args


def initialize(args):
    """Everything before ``run_start``: untimed, as model and data set-up are in MLPerf."""
    mllogger.start(K.INIT_START)
    mllogger.event(K.SUBMISSION_BENCHMARK, value=args.benchmark)
    mllogger.event(K.SUBMISSION_ORG, value=os.environ.get("MLPERF_SUBMISSION_ORG") or "gp2bm")
    mllogger.event(K.SUBMISSION_DIVISION, value=K.CLOSED)
    mllogger.event(K.SUBMISSION_STATUS,
                   value=os.environ.get("MLPERF_SUBMISSION_STATUS") or K.ONPREM)
    mllogger.event(K.SUBMISSION_PLATFORM,
                   value=os.environ.get("MLPERF_SUBMISSION_PLATFORM") or "smoke")
    mllogger.event(K.SEED, value=args.seed)

    task = TASKS[args.benchmark]()
    for key, value in task.hyperparameters():
        mllogger.event(key, value=value)
    rng = np.random.default_rng(args.seed)
    task.init_model(rng)
    mllogger.end(K.INIT_STOP)
    return task, rng


def main(argv=None) -> int:
    args = parse_args(argv)
    # As PID 1 of a container the process would otherwise ignore `docker stop`.
    signal.signal(signal.SIGTERM, _on_sigterm)
    task, started = None, False
    status, exit_code = K.ABORTED, EXIT_NOT_CONVERGED
    try:
        task, rng = initialize(args)
        _check_stop()
        mllogger.start(K.RUN_START)
        started = True
        if task.run(rng, args.target, args.max_epochs, args.sleep_per_epoch):
            status, exit_code = K.SUCCESS, 0
        else:
            print(f"target {args.target} not reached in {args.max_epochs} epochs",
                  file=sys.stderr)
    except Aborted as stop:
        print(str(stop), file=sys.stderr)
        exit_code = stop.exit_code
    finally:
        # Ignore a second SIGTERM while the closing records are written.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if not started:  # stopped during initialisation: there is no run to close
        return exit_code
    mllogger.end(K.RUN_STOP, metadata={K.STATUS: status})
    for key, value in task.final_records():
        mllogger.event(key, value=value)
    sys.stdout.flush()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
