#!/usr/bin/env python3
"""Wall time of `gp2bm score` and `gp2bm verify` against MLCommons' result summarizer, on
the same logs.

The logs are NVIDIA's published MLPerf Training v4.0 single-node ResNet-50 (5 runs, with its
scaling.json) and BERT (10 runs), laid out as a submission in a temporary folder:
``<org>/results/<system>/<benchmark>/result_N.txt`` and ``<org>/systems/<system>.json``.
MLCommons' summarizer is run as its README says, ``python -m
mlperf_logging.result_summarizer <org folder> training <ruleset>``; gp2bm as
``gp2bm score <org folder>/results --ruleset <ruleset> --json``, without a verdict cache.

For ``verify``, the same 15 logs are made into a gp2bm campaign once (campaign.json, a copy
of the GP2BM suite at ruleset 4.0.0 with RCP checks, one system: Eos with NVIDIA's
published MXNet system description, its empty fields written "N/A" and its status as
the 4.0.0 checker spells it; the local runtime,
whose implementation source is the published implementation folder of each benchmark),
packaged once with ``gp2bm package``, and that bundle is verified by its own suite file,
the published logs accepted as not run by gp2bm: ``gp2bm verify BUNDLE --json --suite
SUITE --accept not-run-by-gp2bm`` (re-parse, re-score, every MLCommons check, the
cross-checks and the package checker again).

Each command starts a fresh interpreter each time, alternately with the summarizer,
ROUNDS times; the medians are compared. gp2bm must give the summarizer's two numbers
(checked once, not timed); the bundle must verify.

    python benchmarks/score_speed.py [--rounds 5] [--fixtures ../shared/fixtures/nvidia-v4.0]

Prints the times and the ratios gp2bm / summarizer; exits 1 when a ratio is above --max.
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

import yaml

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


# ---------------------------------------------------------------------------- the bundle

SUITE = ROOT / "manifests" / "gp2rfp.yaml"
CAMPAIGN_SYSTEM = SYSTEMS["resnet"]
# A file of each published implementation folder: the local runtime's source is its folder.
ENTRY = {"resnet": "train_imagenet.py", "bert": "run_pretraining.py"}


def speed_suite(fixtures: Path, dest: Path) -> Path:
    """The GP2BM suite at the logs' ruleset, with a local-runtime manifest per benchmark."""
    dest.mkdir(parents=True)
    suite = yaml.safe_load(SUITE.read_text())
    suite["ruleset"] = RULESET
    for bench, spec in suite["benchmarks"].items():
        spec["manifest"] = f"{bench}.yaml"
        manifest = {
            "benchmark": bench,
            "image": f"nvidia/{bench}:v4.0",
            "implementation": {"name": f"nvidia-v4.0-{bench}", "source": "/workspace"},
            "command": ["true"],
            "seed": {"env": "SEED"},
            "local": {
                "command": [str(fixtures.resolve() / bench / "implementation" / ENTRY[bench])]
            },
        }
        (dest / f"{bench}.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    path = dest / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def speed_campaign(fixtures: Path, dest: Path) -> Path:
    """The 15 published logs as a gp2bm campaign of the speed suite (one system)."""
    suite = speed_suite(fixtures, dest / "suite")
    root = dest / "campaign"
    meta = {
        "org": ORG,
        "system": CAMPAIGN_SYSTEM,
        "suite": "gp2rfp",
        "suite_file": str(suite),
        "ruleset": RULESET,
        "runtime": "local",
        "created": "2024-05-01T00:00:00+00:00",
    }
    (root / ORG / "systems").mkdir(parents=True)
    (root / "campaign.json").write_text(json.dumps(meta, indent=2))
    for bench in SYSTEMS:
        folder = root / ORG / "results" / CAMPAIGN_SYSTEM / bench
        folder.mkdir(parents=True)
        for path in sorted((fixtures / bench / "results").glob("result_*.txt")):
            shutil.copyfile(path, folder / path.name)
    desc = json.loads((fixtures / "systems" / f"{CAMPAIGN_SYSTEM}.json").read_text())
    desc = {k: ("N/A" if v == "" else v) for k, v in desc.items()}
    desc["status"] = "Available on-premise"  # "onprem", as published, fails the 4.0.0 checker
    (root / ORG / "systems" / f"{CAMPAIGN_SYSTEM}.json").write_text(json.dumps(desc, indent=2))
    return root


def speed_bundle(fixtures: Path, dest: Path) -> Path:
    """``gp2bm package`` of the speed campaign, once; the bundle must verify."""
    root = speed_campaign(fixtures, dest)
    bundle = dest / "nvidia-v4.0.tar.gz"
    proc = subprocess.run([*GP2BM, "package", str(root), "-o", str(bundle), "--json"],
                          capture_output=True, text=True, cwd=dest)  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"gp2bm package failed: {proc.stderr[-2000:]}")
    return bundle


def verify_cmd(bundle: Path, suite: Path) -> list[str]:
    """verify by the bundle's own rules (the speed suite's ruleset is the logs'), the
    published logs accepted as not run by gp2bm (the reservation they carry)."""
    return [*GP2BM, "verify", str(bundle), "--json", "--suite", str(suite),
            "--accept", "not-run-by-gp2bm"]  # fmt: skip


# ---------------------------------------------------------------------------- timing


def race(rounds: int, fixtures: Path, tmp: Path, ours_cmd) -> tuple[list[float], list[float]]:
    """``rounds`` alternate runs of the summarizer and of ``ours_cmd(org)``: their times."""
    theirs, ours = [], []
    for _ in range(rounds):
        org = submission_tree(fixtures, tmp)
        seconds, proc = timed(summarizer_cmd(org), tmp)
        if proc.returncode != 0:
            raise SystemExit(f"summarizer failed: {proc.stderr[-2000:]}")
        theirs.append(seconds)
        cmd = ours_cmd(org)
        seconds, proc = timed(cmd, tmp)
        if proc.returncode not in (0, 1) or (cmd[3] == "verify" and proc.returncode):
            raise SystemExit(f"{' '.join(cmd[3:5])} failed: {(proc.stdout + proc.stderr)[-2000:]}")
        ours.append(seconds)
    return theirs, ours


def report(what: str, theirs: list[float], ours: list[float], most: float) -> bool:
    mlcommons, gp2bm = statistics.median(theirs), statistics.median(ours)
    ratio = gp2bm / mlcommons
    print(f"MLCommons result_summarizer: {mlcommons:.3f} s (median of {len(theirs)})")
    print(f"gp2bm {what + ':':<22}{gp2bm:.3f} s (median of {len(ours)})")
    print(f"ratio {what}: {ratio:.3f} (at most {most})")
    return ratio <= most


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fixtures", type=Path, default=FIXTURES)
    parser.add_argument("--max", type=float, default=0.5, help="largest acceptable ratio")
    parser.add_argument("--only", choices=("score", "verify"), help="time one command only")
    args = parser.parse_args()
    if not (args.fixtures / "resnet" / "results").is_dir():
        print(f"{args.fixtures}: NVIDIA v4.0 logs not found (--fixtures)", file=sys.stderr)
        return 2
    ok = True
    with tempfile.TemporaryDirectory(prefix="score-speed-") as tmp:
        tmp = Path(tmp)
        org = submission_tree(args.fixtures, tmp)
        for bench, (mine, official) in same_numbers(org).items():
            print(f"{bench}: gp2bm {mine!r} = summarizer {official!r} min")
        if args.only in (None, "score"):
            ok &= report("score", *race(args.rounds, args.fixtures, tmp, gp2bm_cmd), args.max)
        if args.only in (None, "verify"):
            bundle = speed_bundle(args.fixtures, tmp / "bundle")
            suite = tmp / "bundle" / "suite" / "suite.yaml"
            times = race(args.rounds, args.fixtures, tmp, lambda _org: verify_cmd(bundle, suite))
            ok &= report("verify", *times, args.max)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
