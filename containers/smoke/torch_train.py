#!/usr/bin/env python3
"""The smoke benchmark on a GPU: train.py's two tasks, their data, hyperparameters, MLLOG
records (through ``mlperf_logging.mllog``), run loop and ranks, with the model's arithmetic
in PyTorch on the GPU (``cuda``, else the CPU with ``--device cpu``).

* ``--benchmark resnet``: the one-hidden-layer classifier, forward and backward by autograd,
  the LARS update (trust ratio per weight matrix, momentum, polynomial decay) in torch;
* ``--benchmark bert``: the log-linear masked-token model (a sum of embedding rows), its
  gradient by autograd, the LAMB update in torch.

It reaches the same targets as train.py within seconds on one GPU: what it proves is
gp2bm's GPU path (NVML inventory and telemetry, a GPU request, a GPU workload's MLLOG
through the launchers), not a GPU's speed. Launched by torchrun, every rank takes its
``LOCAL_RANK``'s GPU; gradients are summed across ranks by train.py's all-reduce.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # type: ignore[import-not-found]  # noqa: E402 - on the GPU machine only
import train  # noqa: E402

DEVICE = os.environ.get("SMOKE_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
if DEVICE == "cuda":
    torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
DTYPE = torch.float64  # the numpy workload's precision: the same convergence


def _t(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), device=DEVICE)


def _summed(ranks, grads: dict) -> dict:
    if ranks.single:
        return grads
    summed = ranks.allreduce([g.detach().cpu().numpy() for g in grads.values()])
    return {k: _t(v) for k, v in zip(grads, summed, strict=True)}


class TorchVision(train.VisionTask):
    def init_model(self, rng):
        super().init_model(rng)
        self.tp = {k: _t(v).to(DTYPE) for k, v in self.params.items()}
        self.tv = {k: torch.zeros_like(v) for k, v in self.tp.items()}
        self.x_train_t, self.y_train_t = _t(self.x_train).to(DTYPE), _t(self.y_train)
        self.x_eval_t, self.y_eval_t = _t(self.x_eval).to(DTYPE), _t(self.y_eval)

    def _logits_t(self, p, x):
        return torch.relu(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]

    def _train_step(self, x, y, total, ranks):
        p = {k: v.detach().requires_grad_(True) for k, v in self.tp.items()}
        logits = self._logits_t(p, _t(x).to(DTYPE))
        loss = torch.nn.functional.cross_entropy(logits, _t(y), reduction="sum") / total
        loss.backward()
        grads = _summed(ranks, {k: v.grad for k, v in p.items()})
        lr = train.poly_decay(self.step, self.base_lr, self.end_lr, self.warmup_steps,
                              self.decay_steps, self.poly_power)
        with torch.no_grad():
            for name, g in grads.items():
                w = self.tp[name]
                if name.startswith("w"):
                    g = g + self.weight_decay * w
                    w_norm, g_norm = float(w.norm()), float(g.norm())
                    denom = g_norm + self.lars_epsilon
                    ok = w_norm > 0 and denom > 0
                    local_lr = lr * (self.trust_coefficient * w_norm / denom if ok else 1.0)
                else:
                    local_lr = lr * self.trust_coefficient
                self.tv[name] = self.momentum * self.tv[name] + local_lr * g
                self.tp[name] = w - self.tv[name]
        self.step += 1

    def evaluate(self, ranks):
        with torch.no_grad():
            if ranks.single:
                logits = self._logits_t(self.tp, self.x_eval_t)
                return float((logits.argmax(1) == self.y_eval_t).double().mean())
            mine = _t(ranks.shard(np.arange(self.eval_size)))
            hits = (self._logits_t(self.tp, self.x_eval_t[mine]).argmax(1)
                    == self.y_eval_t[mine]).sum()
            (correct,) = ranks.allreduce([np.array([float(hits)])])
            return float(correct[0] / self.eval_size)


class TorchLanguage(train.LanguageTask):
    def init_model(self, rng):
        super().init_model(rng)
        self.tp = {k: _t(v).to(DTYPE) for k, v in self.params.items()}
        self.tm = {k: torch.zeros_like(v) for k, v in self.tp.items()}
        self.tvv = {k: torch.zeros_like(v) for k, v in self.tp.items()}

    def _logits_t(self, p, ctx):
        return p["w"][ctx].sum(dim=1) + p["b"]

    def _logits(self, ctx):
        with torch.no_grad():
            return self._logits_t(self.tp, _t(ctx)).cpu().numpy()

    def _train_step(self, sentences, ranks):
        mine = ranks.shard(sentences)
        rows = self._rows(mine)
        total = len(rows) if ranks.single else int(
            (self.sentence_start[sentences + 1] - self.sentence_start[sentences]).sum())
        p = {k: v.detach().requires_grad_(True) for k, v in self.tp.items()}
        logits = self._logits_t(p, _t(self.by_sentence["context"][rows]))
        labels = _t(self.by_sentence["label"][rows])
        loss = torch.nn.functional.cross_entropy(logits, labels, reduction="sum") / total
        loss.backward()
        grads = _summed(ranks, {k: v.grad for k, v in p.items()})
        self.samples_mine += len(mine)
        lr = self._lr()
        self.step += 1
        b1, b2 = self.lamb_beta_1, self.lamb_beta_2
        with torch.no_grad():
            for name, g in grads.items():
                w = self.tp[name]
                self.tm[name] = b1 * self.tm[name] + (1 - b1) * g
                self.tvv[name] = b2 * self.tvv[name] + (1 - b2) * g * g
                m_hat = self.tm[name] / (1 - b1 ** self.step)
                v_hat = self.tvv[name] / (1 - b2 ** self.step)
                update = m_hat / (torch.sqrt(v_hat) + self.lamb_epsilon)
                if name == "w":
                    update = update + self.weight_decay * w
                w_norm, u_norm = float(w.norm()), float(update.norm())
                trust = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
                self.tp[name] = w - lr * trust * update


train.TASKS = {"resnet": TorchVision, "bert": TorchLanguage}

if __name__ == "__main__":
    print(f"torch {torch.__version__} on {DEVICE}"
          + (f" ({torch.cuda.get_device_name()})" if DEVICE == "cuda" else ""),
          file=sys.stderr)
    sys.exit(train.main())
