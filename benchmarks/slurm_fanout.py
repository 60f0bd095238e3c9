#!/usr/bin/env python3
"""A 15-run smoke campaign one run at a time versus fanned out on Slurm over K nodes.

The 15 runs of the smoke suite (5 resnet + 10 bert, as GP2BM) are made to last about T
seconds each with ``--sleep-per-epoch`` (resnet sleeps per epoch, bert per block, so both
last about as long), so that they wait rather than compute: this machine has 2 cores and
the K emulated nodes of scripts/slurm.sh share them. Then the same campaign twice, from
scratch, each to its valid score:

  runs of one node (``-n 1``, the local runtime):
    serial   gp2bm run-all --runtime local                       (one run after the other)
    fan-out  gp2bm run-all --runtime local --slurm --nodes K     (K runs at a time)
  runs of N nodes (``-n N``, N x R ranks, Apptainer: the smoke image built and pushed to a
  private registry, as the tests do):
    serial   gp2bm run-all --runtime apptainer --slurm --nodes N (one N-node run at a time)
    fan-out  gp2bm run-all --runtime apptainer --slurm --nodes K (K // N runs at a time)

Prints both wall times (submission, scheduling, the runs and the final scoring included),
the speed-up serial / fan-out against the ideal one (K, or K // N), and the same for the runs
alone (first run start to last run end, from the run records).

    python benchmarks/slurm_fanout.py [-k 5] [-t 30]
    python benchmarks/slurm_fanout.py -k 4 -n 2 -r 1 [-t 30]

Needs root (it starts munged, slurmctld and K slurmd with scripts/slurm.sh in a temporary
folder, and for N > 1 a private dockerd and registry, and stops them afterwards).
"""

from __future__ import annotations

import argparse
import json
import os
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
from multinode_helpers import write_multinode_suite  # noqa: E402

# Mean epochs (resnet) and evaluation blocks (bert) the smoke workload needs to converge,
# measured over 20 seeds (resnet 8-10 evaluations of 4 epochs, bert 5-6 blocks), plus the
# little compute time the runs take.
RESNET_EPOCHS = 40.0
BERT_BLOCKS = 5.05
RUNS = {"resnet": 5, "bert": 10}


def sleeps(run_seconds: float, bench: str) -> list[str]:
    per = RESNET_EPOCHS if bench == "resnet" else BERT_BLOCKS
    return ["--sleep-per-epoch", f"{run_seconds / per:.4f}"]


def suite_with_sleeps(folder: Path, run_seconds: float) -> Path:
    suite = write_suite(folder)
    for bench in RUNS:
        path = folder / f"{bench}.yaml"
        manifest = yaml.safe_load(path.read_text())
        manifest["command"] += sleeps(run_seconds, bench)
        manifest["local"]["command"] += sleeps(run_seconds, bench)
        manifest["timeout_minutes"] = max(5, 4 * run_seconds / 60)
        path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return suite


def multinode_suite(folder: Path, run_seconds: float, nodes: int, ranks: int, image: str):
    """The smoke suite across ``nodes`` nodes of ``ranks`` ranks, its image pinned."""
    suite = write_multinode_suite(folder, nodes, ranks, dict(RUNS), image=image)
    for bench in RUNS:
        path = folder / f"{bench}.yaml"
        manifest = yaml.safe_load(path.read_text())
        manifest["command"] += sleeps(run_seconds, bench)
        manifest["timeout_minutes"] = max(5, 4 * run_seconds / 60)
        path.write_text(yaml.safe_dump(manifest, sort_keys=False))
        pin = [sys.executable, "-m", "gp2bm", "pin", bench, image, "--suite", str(suite)]
        subprocess.run(pin, check=True, capture_output=True, cwd=ROOT)
    return suite


def run_all(suite: Path, campaign: Path, env: dict, runtime: str, *extra: str):
    argv = [
        sys.executable,
        "-m",
        "gp2bm",
        "run-all",
        "--suite",
        str(suite),
        "--campaign",
        str(campaign),
        "--runtime",
        runtime,
        "--system",
        "node1",
        "--skip-check",
        "--cache-drop-command",
        "true",
        "--json",
        *extra,
    ]
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
        nodes.update(rec.get("nodes") or [rec["node"]])
    return (max(stops) - min(starts)).total_seconds(), total, nodes


def apptainer_image(work: Path, env: dict) -> str:
    """The smoke image in a private registry, and Apptainer's settings in ``env``."""
    from services import ensure_smoke_image, install_apptainer, start_services

    services = start_services(work / "services")
    tag = ensure_smoke_image(services)
    client = services.client()
    repo = f"{services.registry}/gp2bm/smoke"
    client.images.get(tag).tag(repo, tag="fanout")
    for event in client.images.push(repo, tag="fanout", stream=True, decode=True):
        if "error" in event:
            raise SystemExit(f"push failed: {event['error']}")
    client.close()
    (work / "apptainer-tmp").mkdir()
    env.update(
        services.env(),
        GP2BM_APPTAINER=install_apptainer(),
        APPTAINER_CACHEDIR=str(work / "apptainer-cache"),
        APPTAINER_TMPDIR=str(work / "apptainer-tmp"),
    )
    return f"{repo}:fanout"


def campaigns(args, work: Path, env: dict) -> tuple[float, dict, float, dict, int]:
    """Run both campaigns; their wall times, results, and the ideal speed-up."""
    k, n = args.nodes, args.run_nodes
    if n == 1:
        suite = suite_with_sleeps(work / "suite", args.run_seconds)
        serial = run_all(suite, work / "serial", env, "local")
        fanned = run_all(suite, work / "fanned", env, "local", "--slurm", "--nodes", str(k))
        return (*serial, *fanned, k)
    os.environ.update(env)  # gp2bm pin reaches the private registry
    image = apptainer_image(work, env)
    os.environ.update(env)
    suite = multinode_suite(work / "suite", args.run_seconds, n, args.ranks, image)
    serial = run_all(suite, work / "serial", env, "apptainer", "--slurm", "--nodes", str(n))
    fanned = run_all(suite, work / "fanned", env, "apptainer", "--slurm", "--nodes", str(k))
    return (*serial, *fanned, k // n)


def report(args, work: Path, serial_wall, serial, fanned_wall, fanned, ideal) -> None:
    serial_span, serial_sum, _ = runs_span(work / "serial")
    fanned_span, fanned_sum, nodes = runs_span(work / "fanned")
    speedup = serial_wall / fanned_wall
    what = "one node" if args.run_nodes == 1 else f"{args.run_nodes} nodes x {args.ranks} rank(s)"
    print(
        f"smoke campaign: 15 runs of about {args.run_seconds:g} s, each on {what}; "
        f"K={args.nodes} emulated nodes (used: {', '.join(sorted(nodes))}) on {os.cpu_count()} "
        "cores"
    )
    print(f"one run at a time      : {serial_wall:8.1f} s  (score {serial['score']:.3f})")
    print(f"fanned out over K nodes: {fanned_wall:8.1f} s  (score {fanned['score']:.3f})")
    print(
        f"speed-up               : {speedup:8.2f}   = {speedup / ideal:.2f} x the ideal "
        f"{ideal} (goal >= {0.9 * ideal:.2f}): {'met' if speedup >= 0.9 * ideal else 'NOT met'}"
    )
    print(
        f"runs only (first start to last end): serial {serial_span:.1f} s, "
        f"fanned {fanned_span:.1f} s, speed-up {serial_span / fanned_span:.2f}"
    )
    print(f"sum of run times       : serial {serial_sum:.1f} s, fanned {fanned_sum:.1f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", "--nodes", type=int, default=5, help="emulated Slurm nodes (K)")
    ap.add_argument("-n", "--run-nodes", type=int, default=1, help="nodes of each run (N)")
    ap.add_argument("-r", "--ranks", type=int, default=1, help="ranks per node (N > 1)")
    ap.add_argument(
        "-t", "--run-seconds", type=float, default=30.0, help="about how long each run lasts (T)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the campaigns and the cluster")
    args = ap.parse_args()
    if args.nodes < args.run_nodes:
        raise SystemExit("-k must be at least -n")

    work = Path(tempfile.mkdtemp(prefix="gp2bm-fanout-"))
    cluster = work / "slurm"
    subprocess.run(
        ["bash", str(ROOT / "scripts/slurm.sh"), "start", str(cluster), str(args.nodes)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    env = dict(os.environ)
    for line in (cluster / "env").read_text().splitlines():
        key, _, value = line.partition("=")
        env[key] = value
    try:
        results = campaigns(args, work, env)
    finally:
        if not args.keep:
            subprocess.run(
                ["bash", str(ROOT / "scripts/slurm.sh"), "stop", str(cluster)],
                stdout=subprocess.DEVNULL,
            )
            if (work / "services").exists():
                subprocess.run(
                    ["bash", str(ROOT / "scripts/services.sh"), "stop", str(work / "services")],
                    stdout=subprocess.DEVNULL,
                )
    report(args, work, *results)
    if args.keep:
        print(f"kept: {work} (stop the cluster with scripts/slurm.sh stop {cluster})")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
