#!/usr/bin/env python3
"""The smoke workload with a fault on chosen runs: what the tests of a campaign's
projection start in place of containers/smoke/train.py (a manifest's local command).

Each start takes the first word of the plan file that ``$SMOKE_PLAN`` names and writes the
rest back (the runs of a campaign start one after the other), then runs train.py with its
own arguments: ``ok`` as they are; ``no-converge`` with ``--max-epochs 1``, too few for the
smoke model to reach its target with any seed (its best after one epoch stays near 0.69,
the target is 0.759), so the run ends with run_stop status ``aborted``: it did not converge.
An empty plan is ``ok``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

TRAIN = Path(__file__).resolve().parent.parent / "containers" / "smoke" / "train.py"
STEPS = {"ok": [], "no-converge": ["--max-epochs", "1"]}


def main() -> None:
    plan = Path(os.environ["SMOKE_PLAN"])
    words = plan.read_text().split()
    step = words[0] if words else "ok"
    if step not in STEPS:
        sys.exit(f"{plan}: unknown step {step!r} (known: {', '.join(STEPS)})")
    plan.write_text(" ".join(words[1:]))
    os.execv(sys.executable, [sys.executable, str(TRAIN), *sys.argv[1:], *STEPS[step]])


if __name__ == "__main__":
    main()
