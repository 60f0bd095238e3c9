#!/usr/bin/env python3
"""CPU cost of gp2bm's telemetry sampler: it must stay under 1 % of one core.

Runs the sampler exactly as a run does (host + every GPU NVML sees, 1 Hz, CSV written and
flushed each sample) for N seconds while the main thread sleeps, then prints the sampler
thread's CPU time (``time.thread_time`` inside the thread) and the whole process's CPU time
over the same span, each as a percentage of one core.

    python benchmarks/telemetry.py [--seconds 30] [--interval 1] [--fake-gpus 8] [--json]

On a machine without NVIDIA GPUs, ``--fake-gpus K`` samples the test suite's fake NVML node
(tests/fake_pynvml.py) to include the per-GPU work; on a GPU node leave it out to measure
the real NVML calls.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUDGET_PCT = 1.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--fake-gpus", type=int, default=0, metavar="K")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    if args.fake_gpus:
        sys.path.insert(0, str(ROOT / "tests"))
        from fake_pynvml import FakeNvml

        sys.modules["pynvml"] = FakeNvml(args.fake_gpus).module

    import psutil  # noqa: F401 - imported before the clock starts, as in a campaign

    from gp2bm.run.telemetry import TelemetrySampler

    with tempfile.TemporaryDirectory(prefix="gp2bm-telemetry-") as tmp:
        path = Path(tmp) / "telemetry_0.csv"
        cpu0, wall0 = time.process_time(), time.monotonic()
        sampler = TelemetrySampler(path, args.interval).start()
        time.sleep(args.seconds)
        summary = sampler.stop()
        process_cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        size = path.stat().st_size if path.exists() else 0

    result = {
        "seconds": round(wall, 3),
        "interval_s": args.interval,
        "samples": summary["samples"],
        "gpus": summary["gpus"],
        "gpu_source": "fake NVML" if args.fake_gpus else (summary["gpu_error"] or "NVML"),
        "sampler_cpu_s": summary["sampler_cpu_s"],
        "sampler_cpu_pct_of_one_core": round(100 * summary["sampler_cpu_s"] / wall, 4),
        "sampler_cpu_ms_per_sample": round(
            1000 * summary["sampler_cpu_s"] / max(summary["samples"], 1), 3
        ),
        "process_cpu_s": round(process_cpu, 6),
        "process_cpu_pct_of_one_core": round(100 * process_cpu / wall, 4),
        "csv_bytes": size,
        "budget_pct": BUDGET_PCT,
    }
    result["within_budget"] = result["sampler_cpu_pct_of_one_core"] < BUDGET_PCT
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"telemetry sampler, {result['gpus']} GPU(s) ({result['gpu_source']}), "
            f"every {args.interval:g} s for {result['seconds']:.1f} s: {result['samples']} samples"
        )
        print(
            f"  sampler thread CPU: {result['sampler_cpu_s'] * 1000:.1f} ms = "
            f"{result['sampler_cpu_pct_of_one_core']:.3f} % of one core "
            f"({result['sampler_cpu_ms_per_sample']:.2f} ms per sample)"
        )
        print(
            f"  whole process CPU:  {process_cpu * 1000:.1f} ms = "
            f"{result['process_cpu_pct_of_one_core']:.3f} % of one core"
        )
        print(
            f"  budget {BUDGET_PCT:g} % of one core: "
            + ("within" if result["within_budget"] else "EXCEEDED")
        )
    return 0 if result["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())
