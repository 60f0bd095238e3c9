#!/usr/bin/env python3
"""Wall time of `gp2bm score` against MLCommons' result summarizer, on the same logs.

The logs are NVIDIA's published MLPerf Training v4.0 single-node ResNet-50 (5 runs, with its
scaling.json) and BERT (10 runs), laid out as a submission in a temporary folder:
``<org>/results/<system>/<benchmark>/result_N.txt`` and ``<org>/systems/<system>.json``.
MLCommons' summarizer is run as its README says, ``python -m
mlperf_logging.result_summarizer <org folder> training <ruleset>``; gp2bm as
``gp2bm score <org folder>/results --ruleset <ruleset> --json``, without a verdict cache.
Both start a fresh interpreter each time, alternately, ROUNDS times; the medians are
compared. Both must give the same two numbers (checked once, not timed).

    python benchmarks/score_speed.py [--rounds 5] [--fixtures ../shared/fixtures/nvidia-v4.0]

Prints both times and the ratio gp2bm / summarizer; exits 1 when the ratio is above --max.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT.parent / "shared" / "fixtures" / "nvidia-v4.0"
ORG = "NVIDIA"
SYSTEMS = {"resnet": "eos_ngc24.04_mxnet", "bert": "eos_ngc23.04_pytorch"}
RULESET = "4.0.0"
GP2BM = [sys.executable, "-m", "gp2bm"]
SUMMARIZE = (
    "import json, sys\n"
    "from mlperf_logging.result_summarizer import result_summarizer as rs\n"
    "summary = rs.summarize_results(sys.argv[1], 'training', sys.argv[2])[0]\n"
    "print(json.dumps({b: float(summary[b].dropna().iloc[0]) for b in sys.argv[3:]}))\n"
)


def submission_tree(fixtures: Path, dest: Path) -> Path:
    """The published logs as one organisation's submission (a fresh copy: the summarizer
    rewrites scaling.json)."""
    org = dest / ORG
    if org.exists():
        shutil.rmtree(org)
    for bench, system in SYSTEMS.items():
        folder = org / "results" / system / bench
        folder.mkdir(parents=True)
        for path in sorted((fixtures / bench / "results").iterdir()):
            shutil.copyfile(path, folder / path.name)  # contents only: the fixture is read-only
        (org / "systems").mkdir(exist_ok=True)
        shutil.copyfile(fixtures / "systems" / f"{system}.json", org / "systems" / f"{system}.json")
    return org


def timed(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    # the summarizer writes summary.json into its working folder: keep it out of the repo
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    return time.perf_counter() - start, proc


def summarizer_cmd(org: Path) -> list[str]:
    return [sys.executable, "-m", "mlperf_logging.result_summarizer", str(org), "training", RULESET]


def gp2bm_cmd(org: Path) -> list[str]:
    return [*GP2BM, "score", str(org / "results"), "--ruleset", RULESET, "--json"]


def same_numbers(org: Path) -> dict[str, tuple[float, float]]:
    """Each benchmark's number from both tools (they must agree)."""
    proc = subprocess.run(
        [sys.executable, "-c", SUMMARIZE, str(org), RULESET, *SYSTEMS],
        capture_output=True,
        text=True,
        check=True,
    )
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    ours = json.loads(subprocess.run(gp2bm_cmd(org), capture_output=True, text=True).stdout)
    numbers = {b: (ours["benchmarks"][b]["minutes"], theirs[b]) for b in SYSTEMS}
    for bench, (mine, official) in numbers.items():
        if mine is None or not math.isclose(mine, official, rel_tol=1e-9):
            raise SystemExit(f"{bench}: gp2bm gives {mine}, the summarizer {official}")
    return numbers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fixtures", type=Path, default=FIXTURES)
    parser.add_argument("--max", type=float, default=0.5, help="largest acceptable ratio")
    args = parser.parse_args()
    if not (args.fixtures / "resnet" / "results").is_dir():
        print(f"{args.fixtures}: NVIDIA v4.0 logs not found (--fixtures)", file=sys.stderr)
        return 2
    theirs, ours = [], []
    with tempfile.TemporaryDirectory(prefix="score-speed-") as tmp:
        org = submission_tree(args.fixtures, Path(tmp))
        for bench, (mine, official) in same_numbers(org).items():
            print(f"{bench}: gp2bm {mine!r} = summarizer {official!r} min")
        for _ in range(args.rounds):
            org = submission_tree(args.fixtures, Path(tmp))
            seconds, proc = timed(summarizer_cmd(org), Path(tmp))
            if proc.returncode != 0:
                print(proc.stderr[-2000:], file=sys.stderr)
                return 2
            theirs.append(seconds)
            seconds, proc = timed(gp2bm_cmd(org), Path(tmp))
            if proc.returncode not in (0, 1):
                print(proc.stderr[-2000:], file=sys.stderr)
                return 2
            ours.append(seconds)
    mlcommons, gp2bm = statistics.median(theirs), statistics.median(ours)
    ratio = gp2bm / mlcommons
    print(f"MLCommons result_summarizer: {mlcommons:.3f} s (median of {args.rounds})")
    print(f"gp2bm score:                 {gp2bm:.3f} s (median of {args.rounds})")
    print(f"ratio: {ratio:.3f} (at most {args.max})")
    return 0 if ratio <= args.max else 1


if __name__ == "__main__":
    sys.exit(main())
