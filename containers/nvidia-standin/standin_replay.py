"""What the training stand-ins share: the published run they replay, and the checks.

A stand-in takes the place of a framework's training entry point, which needs GPUs and a
data set that cannot exist here. It checks what NVIDIA's launch chain hands it (arguments
from the config file, the rank environment of the launcher, the seed gp2bm drew, the data
mounts) against the published run of the same configuration, and on rank 0 replays the
events of that run's log with time compressed: one minute of the published run lasts
STANDIN_TIME_SCALE-th of it (default 60: a minute becomes a second).

A refusal is one line on stderr starting with the entry point's name, and exit status 1,
as a real training script that cannot start.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

PUBLISHED = Path(os.environ.get("STANDIN_PUBLISHED", "/opt/standin/published"))
# The host's own MLLOG lines in a published log (`python -c` from run.sub): the
# submission and cache_clear lines, which belong to the launcher, not the implementation.
HOST_FILE = "<string>"


class Refusal(Exception):
    """The launch chain handed the stand-in something the published run did not have."""


def refuse(entry: str, message: str) -> None:
    print(f"{entry}: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def parse_options(argv: list[str]) -> dict[str, str]:
    """``--name value`` / ``--name=value`` / ``--flag`` as a dict (flags map to "")."""
    out: dict[str, str] = {}
    i = 0
    while i < len(argv):
        token = argv[i]
        if not token.startswith("--"):
            raise Refusal(f"unexpected argument {token!r}")
        name, sep, value = token[2:].partition("=")
        if not sep:
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            if nxt is not None and not nxt.startswith("--"):
                value, i = nxt, i + 1
        out[name.replace("-", "_")] = value
        i += 1
    return out


def published_logs(benchmark: str) -> list[Path]:
    logs = sorted((PUBLISHED / benchmark).glob("result_*.txt"))
    if not logs:
        raise Refusal(f"no published log under {PUBLISHED / benchmark}")
    return logs


def pick_log(benchmark: str, seed: int) -> Path:
    """The published run to replay: STANDIN_REPLAY (an index) or the seed's choice."""
    logs = published_logs(benchmark)
    chosen = os.environ.get("STANDIN_REPLAY")
    return logs[int(chosen) % len(logs)] if chosen else logs[seed % len(logs)]


def read_log(path: Path) -> tuple[list[dict], dict]:
    """The MLLOG records of a published log and its first SYSJSON (the system)."""
    records, system = [], {}
    for line in path.read_text().splitlines():
        if ":::MLLOG " in line:
            records.append(json.loads(line.split(":::MLLOG ", 1)[1]))
        elif line.startswith(":::SYSJSON ") and not system:
            system = json.loads(line[len(":::SYSJSON ") :])
    return records, system


def first_value(records: list[dict], key: str):
    for rec in records:
        if rec["key"] == key:
            return rec["value"]
    raise Refusal(f"the published log has no {key}")


def published_world_size(system: dict) -> int:
    return int(system["accelerators_per_node"]) * int(system["number_of_nodes"])


def expect(option: str, got: str | None, want, why: str) -> None:
    """An argument must equal the published run's value (numbers compared as numbers)."""
    if got is None:
        raise Refusal(f"no --{option}; the published run had {want} ({why})")
    try:
        same = float(got) == float(want)
    except (TypeError, ValueError):
        same = str(got) == str(want)
    if not same:
        raise Refusal(f"--{option} {got}, but the published run had {want} ({why})")


def seed_from_launch(options: dict[str, str]) -> int:
    """The seed on the command line must be the one gp2bm drew (its SEED variable)."""
    drawn = os.environ.get("SEED")
    given = options.get("seed")
    if drawn is None:
        raise Refusal(f"no SEED in the environment (the script passed --seed {given})")
    if given != drawn:
        raise Refusal(f"--seed {given}, but the launch drew SEED={drawn}")
    return int(drawn)


def time_scale() -> float:
    return float(os.environ.get("STANDIN_TIME_SCALE", "60"))


# A run's evaluation curve depends on its seed; a replay's would not (two runs that pick
# the same published log would have the same curve: copies, to gp2bm verify). Each
# evaluation before the last is lowered by this many units of the seed's share (at most
# about 1e-4): below the target it was, below it stays; the last, that reached it, is kept.
CURVE_UNIT = 1e-10
CURVE_SHARES = 999_983


def seeded_curve(records: list[dict], seed: int | None) -> dict[int, float]:
    """The eval_accuracy values of this seed's run, by record position (all but the last)."""
    evals = [i for i, rec in enumerate(records) if rec["key"] == "eval_accuracy"]
    if seed is None or len(evals) < 2:
        return {}
    lower = (int(seed) % CURVE_SHARES + 1) * CURVE_UNIT
    return {i: float(records[i]["value"]) - lower for i in evals[:-1]}


def replay(
    records: list[dict],
    logger,
    substitute: dict,
    skip=lambda rec: False,
    instead: dict | None = None,
) -> None:
    """Emit the records through mlperf_logging's logger at their compressed times.

    ``substitute`` replaces the value of a key (the seed gp2bm drew; its evaluations then
    follow ``seeded_curve``); ``skip`` leaves out records that are not the implementation's;
    ``instead`` maps a key to a call made at its time in place of the record (the
    implementation's own submission-lines helper).
    """
    kept = [rec for rec in records if not skip(rec)]
    if not kept:
        return
    curve = seeded_curve(kept, substitute.get("seed"))
    scale, first = time_scale(), kept[0]["time_ms"]
    start = time.time() * 1000
    for at, rec in enumerate(kept):
        due = start + (rec["time_ms"] - first) / scale
        pause = (due - time.time() * 1000) / 1000
        if pause > 0:
            time.sleep(pause)
        if rec["key"] in (instead or {}):
            instead[rec["key"]]()
            continue
        metadata = {k: v for k, v in rec["metadata"].items() if k not in ("file", "lineno")}
        emit = {
            "INTERVAL_START": logger.start,
            "INTERVAL_END": logger.end,
        }.get(rec["event_type"], logger.event)
        value = curve.get(at, substitute.get(rec["key"], rec["value"]))
        emit(key=rec["key"], value=value, metadata=metadata or None, time_ms=int(due))


def from_host(rec: dict) -> bool:
    return rec["metadata"].get("file") == HOST_FILE
