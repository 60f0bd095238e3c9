#!/usr/bin/env python3
"""Per-run overhead of `gp2bm run` over a plain `docker run` loop, on the same engine.

K runs of a container that sleeps S seconds, first as K plain `docker run --rm` commands,
then as one `gp2bm run` of a K-run benchmark (cache drop off: it is not overhead but a
deliberate cost). Prints the total wall times, the overhead per run in seconds and the ratio.

    python benchmarks/overhead.py [-k 10] [-s 2]

Uses DOCKER_HOST when it answers; otherwise starts a private dockerd with
scripts/services.sh in a temporary folder (root) and stops it afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BASE_IMAGE = "gp2bm/smoke-base:bookworm"


def docker_cli() -> str:
    return "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"


def engine_answers(env) -> bool:
    if not env.get("DOCKER_HOST"):
        return False
    proc = subprocess.run([docker_cli(), "version"], env=env, capture_output=True)
    return proc.returncode == 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", "--runs", type=int, default=10)
    ap.add_argument("-s", "--sleep", type=float, default=2.0)
    ap.add_argument("--image", default=BASE_IMAGE, help="an image with /bin/sleep")
    args = ap.parse_args()

    env = dict(os.environ)
    services_dir = None
    if not engine_answers(env):
        services_dir = Path(tempfile.mkdtemp(prefix="gp2bm-overhead-"))
        subprocess.run(["bash", str(ROOT / "scripts/services.sh"), "start", str(services_dir)],
                       check=True, stdout=subprocess.DEVNULL)
        for line in (services_dir / "env").read_text().splitlines():
            k, _, v = line.partition("=")
            env[k] = v
    try:
        subprocess.run(["bash", str(ROOT / "scripts/build_base_image.sh"), args.image],
                       check=True, env=env, stdout=subprocess.DEVNULL)
        work = Path(tempfile.mkdtemp(prefix="gp2bm-overhead-work-"))
        manifest = {
            "benchmark": "resnet",
            "image": args.image,
            "command": ["sleep", f"{args.sleep:g}"],
            "seed": {"env": "SEED"},
            "gpus": "none",
            "network": "none",
        }
        (work / "sleep.yaml").write_text(yaml.safe_dump(manifest))
        suite = {
            "name": "overhead", "ruleset": "3.1.0", "nodes": 1,
            "checks": {"compliance": "off", "rcp": False},
            "benchmarks": {"resnet": {"manifest": "sleep.yaml", "runs": args.runs,
                                      "target": 0.759, "weight": 1}},
        }
        (work / "suite.yaml").write_text(yaml.safe_dump(suite))
        # warm both paths once (image in page cache, Python imports compiled)
        subprocess.run([docker_cli(), "run", "--rm", "--network", "none", args.image, "true"],
                       env=env, check=True)

        t0 = time.perf_counter()
        for _ in range(args.runs):
            subprocess.run([docker_cli(), "run", "--rm", "--network", "none", args.image,
                            "sleep", f"{args.sleep:g}"], env=env, check=True)
        plain = time.perf_counter() - t0

        gp2bm = [sys.executable, "-m", "gp2bm", "run", "resnet", "--suite",
                 str(work / "suite.yaml"), "--campaign", str(work / "campaign"),
                 "--runtime", "docker", "--no-cache-drop", "--allow-unpinned"]
        t0 = time.perf_counter()
        # exit 1 is expected: a sleeping container logs no successful run_stop
        proc = subprocess.run(gp2bm, env=env, capture_output=True, text=True)
        through = time.perf_counter() - t0
        done = len(list((work / "campaign").glob("*/results/*/resnet/result_*.txt")))
        if done != args.runs:
            print(proc.stderr[-2000:], file=sys.stderr)
            print(f"gp2bm finished {done} of {args.runs} runs", file=sys.stderr)
            return 1
        shutil.rmtree(work, ignore_errors=True)
    finally:
        if services_dir is not None:
            subprocess.run(["bash", str(ROOT / "scripts/services.sh"), "stop", str(services_dir)],
                           stdout=subprocess.DEVNULL)
            shutil.rmtree(services_dir, ignore_errors=True)

    per_run = (through - plain) / args.runs
    print(f"runs K={args.runs}, container sleeps S={args.sleep:g} s")
    print(f"plain docker run loop : {plain:8.2f} s  ({plain / args.runs:.3f} s/run)")
    print(f"gp2bm run             : {through:8.2f} s  ({through / args.runs:.3f} s/run)")
    print(f"overhead per run      : {per_run:+8.3f} s  (target <= 0.5 s)")
    print(f"ratio gp2bm / plain   : {through / plain:8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
