#!/usr/bin/env bash
# The proof of gp2bm's GPU path on a machine with an NVIDIA GPU, PyTorch and no network,
# in under 10 minutes:
#   1. `gp2bm inventory` with real NVML, compared field by field with `nvidia-smi -q -x`;
#   2. the telemetry sampler's cost with real NVML (benchmarks/telemetry.py, % of a core);
#   3. the GPU smoke suite (manifests/gpu-smoke.yaml: PyTorch on one GPU, MLLOG through
#      mlperf_logging.mllog) through `run-all` with the local runtime and the torchrun
#      launcher, NVML's GPU power sampled as the power source (GPU only, informative);
#      then `score`, `package`, `verify`;
#   4. NVML's GPU energy over each run's timed window (the run records' power).
# On a machine without a GPU (or without PyTorch) it says what it skipped and why, and
# exits 0: tests/test_gpu_proof.py runs that mode.
#
#   benchmarks/gpu_proof.sh [OUT]     (OUT: where the campaign and the outputs go)
#
# PYTHON: the Python that has gp2bm and PyTorch (default: .venv/bin/python); `python` on
# PATH is that one, for torchrun.
set -u
cd "$(dirname "$0")/.."
OUT=${1:-${OUT:-results/gpu-proof}}
PYTHON=${PYTHON:-.venv/bin/python}
GP2BM=("$PYTHON" -m gp2bm)
mkdir -p "$OUT"
export PATH="$(cd "$(dirname "$PYTHON")" && pwd):$PATH"
status=0

skip() { echo "SKIPPED: $*"; }
step() { echo; echo "=== $*"; }

step "where"
if ! command -v nvidia-smi >/dev/null 2>&1; then
    skip "inventory, telemetry, GPU smoke campaign, GPU energy: no nvidia-smi on PATH (no NVIDIA driver: no GPU here)"
    exit 0
fi
if ! nvidia-smi -L >"$OUT/nvidia-smi-L.txt" 2>&1; then
    skip "every GPU step: nvidia-smi finds no GPU ($(head -1 "$OUT/nvidia-smi-L.txt"))"
    exit 0
fi
cat "$OUT/nvidia-smi-L.txt"
if ! "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    TORCH_MISSING="PyTorch with CUDA is not importable by $PYTHON"
fi

step "1. inventory (real NVML) against nvidia-smi -q"
"${GP2BM[@]}" inventory --json >"$OUT/inventory.json" || status=1
nvidia-smi -q -x >"$OUT/nvidia-smi-q.xml" || status=1
"$PYTHON" benchmarks/gpu_inventory_check.py "$OUT/inventory.json" "$OUT/nvidia-smi-q.xml" || status=1

step "2. telemetry cost with real NVML (20 s)"
"$PYTHON" benchmarks/telemetry.py --seconds 20 || status=1

step "3. GPU smoke suite: run-all (local runtime, torchrun), score, package, verify"
if [ -n "${TORCH_MISSING:-}" ]; then
    skip "the GPU smoke campaign and the GPU energy: $TORCH_MISSING"
    exit $status
fi
CAMPAIGN="$OUT/campaign"
timeout 420 "${GP2BM[@]}" run-all --suite manifests/gpu-smoke.yaml --runtime local \
    --campaign "$CAMPAIGN" --allow-cache-drop-failure --power-source nvml \
    --power-interval 0.5 || status=1
"${GP2BM[@]}" score "$CAMPAIGN" --json >"$OUT/score.json" || status=1
"${GP2BM[@]}" score "$CAMPAIGN" || status=1
"${GP2BM[@]}" package "$CAMPAIGN" --output "$OUT/bundle.tar.gz" --allow-incomplete || status=1
"${GP2BM[@]}" verify "$OUT/bundle.tar.gz" || status=1

step "4. NVML GPU energy over each run's timed window (GPU only, informative)"
"$PYTHON" - "$CAMPAIGN" <<'EOF' || status=1
import json, sys
from pathlib import Path
for path in sorted(Path(sys.argv[1], "records").glob("*/run_*.json")):
    r = json.loads(path.read_text())
    p = r.get("power") or {}
    t = r.get("telemetry") or {}
    j = p.get("gpu_only_joules")
    print(f"{r['benchmark']} run {r['run']}: {r['status']}, {r.get('minutes') or 0:.4f} min, "
          f"GPU energy {'-' if j is None else f'{j:.1f} J'} over the timed window, "
          f"peak GPU power {t.get('peak_gpu_power_w')} W, GPUs {t.get('gpus')}, "
          f"sampler {t.get('sampler_cpu_pct_of_one_core')} % of a core; "
          f"findings: {len(p.get('findings') or [])}")
EOF
echo
echo "gpu_proof: exit $status"
exit $status
