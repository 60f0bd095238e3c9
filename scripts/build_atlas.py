#!/usr/bin/env python3
"""Build gp2bm's atlas of published MLPerf Training ResNet-50 and BERT results.

    scripts/build_atlas.py MIRROR_DIR [--out gp2bm/atlas] [--workers N] [--check]

MIRROR_DIR holds the results repositories of MLCommons, one per round, found by name:
``training_results_v0.7`` ... ``training_results_v5.0`` (a bare git folder, a clone, or
either under ``repo/``; an owner prefix such as ``mlcommons+`` is allowed). They are read
with git at the commit their HEAD names; nothing is checked out or copied. Writes
``atlas.json`` and ``manifest.json`` into --out; with --check, writes nothing and says
whether the files there are what this build gives, byte for byte (exit 1 when not).

Prints the build output: each round's commit and rows per benchmark, what could not be read
and why, the published accelerator spellings the table does not know, every official
number of MLCommons' summary files that differs from gp2bm's, the data's size and the wall
time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from gp2bm.atlas.build import Build, build_atlas
from gp2bm.atlas.table import ATLAS_FILE, BENCHMARKS, MANIFEST_FILE
from gp2bm.errors import Gp2bmError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "gp2bm" / "atlas"


def manifest_text(build: Build) -> str:
    return json.dumps(build.manifest(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def report(build: Build) -> list[str]:
    """The build output, one line each."""
    manifest = build.manifest()
    lines = [f"{'round':6} {'commit':40} " + " ".join(f"{b:>6}" for b in BENCHMARKS)]
    for name, entry in manifest["rounds"].items():
        counts = " ".join(f"{entry['rows'].get(b, 0):>6}" for b in BENCHMARKS)
        lines.append(f"{name:6} {entry['commit']:40} {counts}")
    totals = " ".join(f"{sum(r.benchmark == b for r in build.rows):>6}" for b in BENCHMARKS)
    lines.append(f"{'all':6} {'':40} {totals}   ({len(build.rows)} rows)")
    if build.absent_rounds:
        lines.append(f"rounds not in the mirror: {', '.join(build.absent_rounds)}")
    lines.append(f"not read ({len(build.unread)}):")
    lines += [f"  {u.round}/{u.path}: {u.why}" for u in build.unread]
    lines.append(f"notes ({len(build.notes)}):")
    lines += [f"  {u.round}/{u.path}: {u.why}" for u in build.notes]
    lines.append("published accelerator spellings the table does not know (kept cleaned):")
    lines += [
        f"  {spelling!r} -> {entry['name']!r} ({entry['rows']} rows)"
        for spelling, entry in build.unknown_accelerators.items()
    ]
    return lines + _official_lines(build)


def _official_lines(build: Build) -> list[str]:
    summary = build.manifest()["official_summaries"]
    lines = [
        f"official summary files: {len(summary['files'])}; numbers compared with gp2bm's: "
        f"{summary['compared']}, agreeing: {summary['agreeing']}, differing: "
        f"{len(summary['differing'])}"
    ]
    for d in summary["differing"]:
        why = d["explanation"] or "unexplained"
        lines.append(
            f"  DIFFERS {d['file']}: {d['set']} official {d['official']!r}, gp2bm "
            f"{d['gp2bm']!r} ({d['row']}, matched {d['matched']}): {why}"
        )
    for d in summary["not_in_atlas"]:
        lines.append(f"  no result set in the atlas for {d['file']}: {d['set']} {d['official']!r}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mirror", type=Path, metavar="MIRROR_DIR")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--workers", type=int, default=None, help="default: one per core")
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        if done % 100 == 0 or done == total:
            print(f"scored {done}/{total} result sets", file=sys.stderr)

    try:
        build = build_atlas(args.mirror, args.workers, progress)
    except Gp2bmError as exc:
        print(f"build_atlas: error: {exc}", file=sys.stderr)
        return exc.exit_code
    files = {ATLAS_FILE: build.text, MANIFEST_FILE: manifest_text(build)}
    print("\n".join(report(build)))
    data = files[ATLAS_FILE].encode("utf-8")
    print(
        f"data: {ATLAS_FILE} {len(data)} bytes ({len(data) / 2**10:.0f} KiB), sha256 "
        f"{build.manifest()['data']['sha256']}"
    )
    print(f"wall time: {time.monotonic() - started:.1f} s")
    if args.check:
        same = all(
            (args.out / name).is_file() and (args.out / name).read_bytes() == text.encode("utf-8")
            for name, text in files.items()
        )
        print(f"{args.out}: {'byte-identical' if same else 'DIFFERENT from this build'}")
        return 0 if same else 1
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
