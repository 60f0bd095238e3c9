#!/usr/bin/env python3
"""Wall time and peak memory of `gp2bm compare` of 10 demo-sized bundles, against 10
`gp2bm verify` calls one after the other, on the same machine.

The bundle is the first hour's (README): the smoke suite copied by ``gp2bm init``, its
``system.yaml`` filled as the README's ``sed`` does, 15 runs with the local runtime
(``--cache-drop-command true`` stands in for root's cache drop, so that the bundle carries
no reservation), packaged by ``gp2bm package``. Ten copies of it, each under its own name,
are the ten bundles an evaluator received (verify's work does not depend on the vendor's
name). Both sides are held to the suite file the campaign ran (``--suite``).

Each round times, alternately: ``gp2bm verify BUNDLE --suite S --json`` for each of the ten
(a fresh interpreter each, as an evaluator runs them), then ``gp2bm compare BUNDLE...
--suite S --json`` once; ROUNDS rounds, medians compared. The peak memory is the largest
sum of the resident sets of the command's process tree (sampled every 20 ms). Every
verify must exit 0 and compare must rank all ten.

    python benchmarks/compare_speed.py [--rounds 3] [--bundles 10] [--max 0.6]

Prints the times, the ratio compare / sequential verify and the peak memory; exits 1 when
the ratio is above --max.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from verify_memory import GP2BM, sampled  # noqa: E402

# What the README's first hour writes into manifests/system.yaml (its sed), in order.
SYSTEM_YAML = [
    (r"(?m)^submitter: .*", 'submitter: "Acme"'),
    (r"(?m)^status: .*", 'status: "Available on-premise"'),
    (r"(?m)^system_name: .*", 'system_name: "Acme X9000 (smoke)"'),
    (r'(?m)^accelerators_per_node: "<FILL IN>"', 'accelerators_per_node: "0"'),
    (r'"<FILL IN>"', '"N/A"'),
]


def gp2bm(*args: str, cwd: Path) -> None:
    proc = subprocess.run([*GP2BM, *args], capture_output=True, text=True, cwd=cwd)
    if proc.returncode != 0:
        raise SystemExit(f"gp2bm {args[0]} failed: {proc.stderr[-2000:]}")


def demo_bundle(folder: Path) -> tuple[Path, Path]:
    """The first hour's bundle (see the module) and the suite file it ran."""
    gp2bm("init", str(folder), "--suite", "smoke", cwd=folder)
    system = folder / "manifests" / "system.yaml"
    text = system.read_text()
    for pattern, line in SYSTEM_YAML:
        text = re.sub(pattern, line, text)
    system.write_text(text)
    suite = folder / "manifests" / "smoke.yaml"
    run = ["--runtime", "local", "--org", "Acme", "--system", "X9000", "--campaign"]
    gp2bm("run-all", "--suite", str(suite), *run, "results/smoke", "--cache-drop-command", "true",
          cwd=folder)
    gp2bm("package", "results/smoke", "-o", "handin.tar.gz", cwd=folder)
    return folder / "handin.tar.gz", suite


def copies(bundle: Path, count: int) -> list[Path]:
    out = []
    for n in range(count):
        out.append(bundle.with_name(f"vendor{n:02d}.tar.gz"))
        shutil.copyfile(bundle, out[-1])
    return out


def sequential(bundles: list[Path], suite: Path) -> tuple[float, float]:
    """Seconds of verifying each bundle in turn, and the largest peak of any of them."""
    seconds, peak = 0.0, 0.0
    for bundle in bundles:
        mb, took, code, _, err = sampled([*GP2BM, "verify", str(bundle), "--suite", str(suite),
                                          "--json"])  # fmt: skip
        if code != 0:
            raise SystemExit(f"gp2bm verify {bundle.name} exit {code}: {err[-2000:]}")
        seconds += took
        peak = max(peak, mb)
    return seconds, peak


def compared(bundles: list[Path], suite: Path) -> tuple[float, float]:
    mb, took, code, out, err = sampled([*GP2BM, "compare", *map(str, bundles), "--suite",
                                        str(suite), "--json"])  # fmt: skip
    ranked = json.loads(out)["ranking"] if code == 0 else []
    if code != 0 or len(ranked) != len(bundles):
        raise SystemExit(f"gp2bm compare exit {code}: {err[-2000:]}")
    return took, mb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bundles", type=int, default=10)
    parser.add_argument("--max", type=float, default=0.6, help="largest acceptable ratio")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="compare-speed-") as tmp:
        bundle, suite = demo_bundle(Path(tmp))
        size = bundle.stat().st_size
        bundles = copies(bundle, args.bundles)
        one_by_one, together, peaks, peak_one = [], [], [], 0.0
        for _ in range(args.rounds):
            seconds, peak = sequential(bundles, suite)
            one_by_one.append(seconds)
            peak_one = max(peak_one, peak)
            seconds, peak = compared(bundles, suite)
            together.append(seconds)
            peaks.append(peak)
    serial, parallel = statistics.median(one_by_one), statistics.median(together)
    ratio = parallel / serial
    n = args.bundles
    print(f"{n} bundles of {size / 1024:.0f} KiB each, {cores} core(s)")
    print(f"gp2bm verify, {n} calls one after the other: {serial:.2f} s (median of "
          f"{args.rounds}); peak {peak_one:.0f} MB (the largest call)")  # fmt: skip
    print(f"gp2bm compare of the {n}:                  {parallel:.2f} s (median of "
          f"{args.rounds}); peak {max(peaks):.0f} MB (its process tree)")  # fmt: skip
    print(f"ratio compare / sequential verify: {ratio:.3f} (at most {args.max})")
    return 0 if ratio <= args.max else 1


if __name__ == "__main__":
    sys.exit(main())
