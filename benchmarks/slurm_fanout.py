#!/usr/bin/env python3
"""The smoke campaign run serially on one node versus fanned out on Slurm over K nodes.

The 15 runs of the smoke suite (5 resnet + 10 bert, as GP2BM) are made to last about T
seconds each with ``--sleep-per-epoch`` (resnet sleeps per epoch, bert per block, so both
last about as long), so that they wait rather than compute: this machine has 2 cores and
the K emulated nodes of scripts/slurm.sh share them. Then the same campaign twice, from
scratch, each to its valid score:

    serial   gp2bm run-all --runtime local
    slurm    gp2bm run-all --runtime local --slurm --nodes K   (K slurmd on this host)

Prints both wall times (submission, scheduling, the runs and the final scoring included),
the speed-up serial/slurm against K, and the same for the runs alone (first run start to
last run end, from the run records).

    python benchmarks/slurm_fanout.py [-k 5] [-t 30]

Needs root (it starts munged, slurmctld and K slurmd with scripts/slurm.sh in a temporary
folder, and stops them afterwards).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from campaign_helpers import write_suite  # noqa: E402

# Mean epochs (resnet) and evaluation blocks (bert) the smoke workload needs to converge,
# measured over 20 seeds (resnet 8-10 evaluations of 4 epochs, bert 5-6 blocks), plus the
# little compute time the runs take.
RESNET_EPOCHS = 40.0
BERT_BLOCKS = 5.05


def suite_with_sleeps(folder: Path, run_seconds: float) -> Path:
    suite = write_suite(folder)
    for bench, per in (("resnet", RESNET_EPOCHS), ("bert", BERT_BLOCKS)):
        path = folder / f"{bench}.yaml"
        manifest = yaml.safe_load(path.read_text())
        sleep = ["--sleep-per-epoch", f"{run_seconds / per:.4f}"]
        manifest["command"] += sleep
        manifest["local"]["command"] += sleep
        manifest["timeout_minutes"] = max(5, 4 * run_seconds / 60)
        path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return suite


def run_all(suite: Path, campaign: Path, env: dict, *extra: str) -> tuple[float, dict]:
    argv = [sys.executable, "-m", "gp2bm", "run-all", "--suite", str(suite), "--campaign",
            str(campaign), "--runtime", "local", "--system", "node1", "--skip-check",
            "--cache-drop-command", "true", "--json", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"run-all {' '.join(extra)} failed with exit code {proc.returncode}")
    return wall, json.loads(proc.stdout)


def runs_span(campaign: Path) -> tuple[float, float, set[str]]:
    """(first start to last end, sum of run seconds, nodes) from the run records."""
    starts, stops, total, nodes = [], [], 0.0, set()
    for path in (campaign / "records").glob("*/run_*.json"):
        rec = json.loads(path.read_text())
        starts.append(datetime.fromisoformat(rec["start"]))
        stops.append(datetime.fromisoformat(rec["stop"]))
        total += rec["seconds"]
        nodes.add(rec["node"])
    return (max(stops) - min(starts)).total_seconds(), total, nodes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", "--nodes", type=int, default=5, help="emulated Slurm nodes (K)")
    ap.add_argument("-t", "--run-seconds", type=float, default=30.0,
                    help="about how long each run lasts (T)")
    ap.add_argument("--keep", action="store_true", help="keep the campaigns and the cluster")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="gp2bm-fanout-"))
    cluster = work / "slurm"
    subprocess.run(["bash", str(ROOT / "scripts/slurm.sh"), "start", str(cluster),
                    str(args.nodes)], check=True, stdout=subprocess.DEVNULL)
    env = dict(__import__("os").environ)
    for line in (cluster / "env").read_text().splitlines():
        k, _, v = line.partition("=")
        env[k] = v
    try:
        suite = suite_with_sleeps(work / "suite", args.run_seconds)
        serial_wall, serial = run_all(suite, work / "serial", env)
        slurm_wall, slurm = run_all(suite, work / "slurm-campaign", env, "--slurm",
                                    "--nodes", str(args.nodes))
    finally:
        if not args.keep:
            subprocess.run(["bash", str(ROOT / "scripts/slurm.sh"), "stop", str(cluster)],
                           stdout=subprocess.DEVNULL)
    serial_span, serial_sum, _ = runs_span(work / "serial")
    slurm_span, slurm_sum, nodes = runs_span(work / "slurm-campaign")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)

    k = args.nodes
    speedup = serial_wall / slurm_wall
    print(f"smoke campaign: 15 runs of about {args.run_seconds:g} s; K={k} emulated nodes "
          f"(used: {', '.join(sorted(nodes))})")
    print(f"serial run-all        : {serial_wall:8.1f} s  (score {serial['score']:.3f})")
    print(f"run-all --slurm       : {slurm_wall:8.1f} s  (score {slurm['score']:.3f})")
    print(f"speed-up              : {speedup:8.2f}   = {speedup / k:.2f} x K "
          f"(target >= {0.9 * k:.2f} = 0.9 x K): {'met' if speedup >= 0.9 * k else 'NOT met'}")
    print(f"runs only (first start to last end): serial {serial_span:.1f} s, "
          f"slurm {slurm_span:.1f} s, speed-up {serial_span / slurm_span:.2f}")
    print(f"sum of run times      : serial {serial_sum:.1f} s, slurm {slurm_sum:.1f} s")
    if args.keep:
        print(f"kept: {work} (stop the cluster with scripts/slurm.sh stop {cluster})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
