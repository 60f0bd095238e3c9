#!/usr/bin/env python3
"""How well ``gp2bm expect`` predicts the published results: every closed-division ResNet
and BERT result of the atlas predicted from the others, leave one submission out (the
result and every publication of the same runs left out), by expect's own rule
(gp2bm.atlas.expectation.RULE), as of the result's own round, for the results whose
accelerator and count have at least two other results (gp2bm.atlas.accuracy).

    python benchmarks/atlas_accuracy.py [--atlas PATH] [--worst 10] [--max-median 0.05]

Prints, per benchmark, how many results were predicted and the median and 90th-percentile
absolute error (relative to the published result), how many were predicted from the same
count on the same nodes, on other nodes, or scaled from another count, and the worst
predictions. Exits 1 when a benchmark's median error is above --max-median.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from gp2bm.atlas import load_atlas
from gp2bm.atlas.accuracy import leave_one_out
from gp2bm.atlas.table import BENCHMARKS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--atlas", type=Path, default=None, help="default: the shipped one")
    parser.add_argument("--worst", type=int, default=10, help="show the N worst predictions")
    parser.add_argument("--max-median", type=float, default=0.05)
    args = parser.parse_args(argv)
    atlas = load_atlas(args.atlas)
    started = time.monotonic()
    worst_median = 0.0
    for benchmark in BENCHMARKS:
        accuracy = leave_one_out(atlas, benchmark)
        if accuracy.median is None or accuracy.p90 is None:
            print(f"{benchmark}: no result could be predicted")
            continue
        bases = Counter(p.expected.basis for p in accuracy.predictions)
        print(
            f"{benchmark}: {len(accuracy.predictions)} results predicted; median absolute "
            f"error {100 * accuracy.median:.2f} %, 90th percentile {100 * accuracy.p90:.2f} % "
            f"({', '.join(f'{n} {basis}' for basis, n in sorted(bases.items()))})"
        )
        worst_median = max(worst_median, accuracy.median)
        ranked = sorted(accuracy.predictions, key=lambda p: -p.error)[: args.worst]
        for p in ranked:
            r = p.row
            print(
                f"  {100 * p.error:6.1f} %  {r.round} {r.submitter}/{r.system}: "
                f"{r.count}x {r.accelerator} on {r.nodes} node(s), published "
                f"{r.minutes:.2f} min, predicted {p.expected.minutes:.2f} ({p.expected.basis})"
            )
    print(f"({time.monotonic() - started:.1f} s)")
    return 0 if worst_median <= args.max_median else 1


if __name__ == "__main__":
    sys.exit(main())
