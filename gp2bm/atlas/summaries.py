"""MLCommons' own numbers, where a round's repository has them: the summary files its
result summarizer wrote into some submitters' folders, which the build compares with
gp2bm's number for the same result set.

The files, in a submitter's folder (``<Submitter>/<file>``):

* ``summary.csv`` (v2.0 to v3.1) and ``summarizer.csv`` (v1.1): the summarizer's CSV, a
  column per benchmark holding the result in minutes, ``details_url`` naming the system
  description (``.../systems/<system>.json``), at full precision;
* ``summary.json`` (v5.0): the same table as a JSON list of objects;
* ``packager_and_summarizer.log`` (v1.0): the summarizer's table as it printed it, quoted
  CSV lines without a header, the result rounded to two decimals; its columns are those of
  the v1.1 ``summarizer.csv`` less ``availability`` (``LOG_COLUMNS``).

Other tables a submitter wrote by hand (``smc_mlperf_summary.csv``: seconds, rounded, per
accelerator count) are not MLCommons' and are not read.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gp2bm.atlas.mirror import TreeEntry
from gp2bm.atlas.sources import Unread
from gp2bm.atlas.table import BENCHMARKS, AtlasRow

CSV_FILES = ("summary.csv", "summarizer.csv")
JSON_FILES = ("summary.json",)
LOG_FILES = ("packager_and_summarizer.log",)
LOG_COLUMNS = (
    "division",
    "submitter",
    "system",
    "host_processor_model_name",
    "host_processors_count",
    "accelerator_model_name",
    "accelerators_count",
    "framework",
    "bert",
    "dlrm",
    "maskrcnn",
    "minigo",
    "resnet",
    "ssd",
    "rnnt",
    "unet3d",
    "details_url",
    "code_url",
)
FULL_PRECISION = 1e-9  # relative: the summarizer's float against gp2bm's
TWO_DECIMALS = 0.005 + 1e-9  # absolute: a number printed with two decimals


@dataclass(frozen=True)
class OfficialResult:
    round: str
    file: str  # the summary file's path in the repository
    submitter: str
    system: str
    benchmark: str
    minutes: float
    tolerance: float  # relative when FULL_PRECISION, else absolute
    count: int | None  # accelerators_count: the accelerators in all

    def agrees(self, minutes: float) -> bool:
        if self.tolerance == FULL_PRECISION:
            return math.isclose(minutes, self.minutes, rel_tol=FULL_PRECISION)
        return abs(minutes - self.minutes) <= self.tolerance


@dataclass(frozen=True)
class Comparison:
    official: OfficialResult
    row: AtlasRow | None
    matched: str = ""  # how the official number's set was found among the rows

    @property
    def agrees(self) -> bool:
        return (
            self.row is not None
            and self.row.minutes is not None
            and self.official.agrees(self.row.minutes)
        )

    @property
    def explanation(self) -> str:
        """Why gp2bm's number differs, where the set itself says (else empty)."""
        row = self.row
        if row is None or self.agrees or row.unscaled_minutes is None:
            return ""
        if row.scaling_factor != 1.0 and self.official.agrees(row.unscaled_minutes):
            return (
                "the official number is the unscaled mean: the summary file was written "
                f"before the review added scaling.json ({row.scaling_factor})"
            )
        times = [r.minutes * row.scaling_factor for r in row.runs if r.minutes is not None]
        if times and not min(times) <= self.official.minutes <= max(times):
            return (
                f"the official number lies outside every published run ({min(times):.4f} to "
                f"{max(times):.4f} min): the summary file was not made from these logs"
            )
        return ""

    def as_dict(self) -> dict:
        o = self.official
        return {
            "file": f"{o.round}/{o.file}",
            "set": f"{o.submitter}/results/{o.system}/{o.benchmark}",
            "official": o.minutes,
            "gp2bm": None if self.row is None else self.row.minutes,
            "row": None if self.row is None else self.row.source,
            "matched": self.matched,
            "explanation": self.explanation,
        }


def summary_files(entries: Iterable[TreeEntry]) -> list[TreeEntry]:
    """The summary files of a round's tree (in a submitter's folder)."""
    names = CSV_FILES + JSON_FILES + LOG_FILES
    return [e for e in entries if e.path.count("/") == 1 and e.path.split("/")[1] in names]


def _system(record: dict) -> str:
    url = str(record.get("details_url") or "")
    if url.endswith(".json") and "/systems/" in url:
        return url.rsplit("/", 1)[1][: -len(".json")]
    return str(record.get("system") or "")


def _results(round_: str, entry: TreeEntry, records: Iterable[dict], tolerance: float):
    folder = entry.path.split("/")[0]
    for record in records:
        for benchmark in BENCHMARKS:
            value = record.get(benchmark)
            if value in (None, ""):
                continue
            try:
                minutes = float(value)
            except (TypeError, ValueError):
                continue
            yield OfficialResult(
                round_,
                entry.path,
                str(record.get("submitter") or folder),
                _system(record),
                benchmark,
                minutes,
                tolerance,
                _int(record.get("accelerators_count")),
            )


def _int(value: object) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _log_records(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.startswith(('"closed"', '"open"'))]
    return [dict(zip(LOG_COLUMNS, values, strict=False)) for values in csv.reader(lines)]


def parse_summary(round_: str, entry: TreeEntry, data: bytes) -> list[OfficialResult]:
    """The ResNet and BERT results a summary file states (ValueError: unreadable)."""
    text = data.decode("utf-8-sig")
    name = entry.path.split("/")[1]
    if name in CSV_FILES:
        return list(_results(round_, entry, csv.DictReader(io.StringIO(text)), FULL_PRECISION))
    if name in JSON_FILES:
        doc = json.loads(text)
        records = [r for r in doc if isinstance(r, dict)] if isinstance(doc, list) else []
        return list(_results(round_, entry, records, FULL_PRECISION))
    return list(_results(round_, entry, _log_records(text), TWO_DECIMALS))


def official_results(
    round_: str, entries: Iterable[TreeEntry], read: Callable[[str], bytes | None]
) -> tuple[list[OfficialResult], list[Unread]]:
    """Every official ResNet and BERT number of a round's summary files; what cannot be read."""
    found: list[OfficialResult] = []
    unread: list[Unread] = []
    for entry in summary_files(entries):
        data = read(entry.blob)
        if data is None:
            unread.append(Unread(round_, entry.path, "summary file not in the store"))
            continue
        try:
            found.extend(parse_summary(round_, entry, data))
        except (UnicodeDecodeError, ValueError, csv.Error) as exc:
            unread.append(Unread(round_, entry.path, f"summary file unreadable ({exc})"))
    return found, unread


def compare(rows: Iterable[AtlasRow], officials: Iterable[OfficialResult]) -> list[Comparison]:
    """Each official number beside the atlas row of its set. Summary files name a set by
    its system description (``details_url``), which some rounds renamed after the summary
    was written (``G492-ID0`` for ``G492-ID0_mxnet``): the row is the one of that name,
    else the submitter's only set of that benchmark and accelerator count, else the one of
    those whose name shares the longest beginning with it (when one alone does)."""
    by_set: dict[tuple[str, str, str], list[AtlasRow]] = {}
    for row in rows:
        by_set.setdefault((row.round, row.submitter.casefold(), row.benchmark), []).append(row)
    found = []
    for o in officials:
        candidates = by_set.get((o.round, o.submitter.casefold(), o.benchmark), [])
        match, how = _match(o, candidates)
        found.append(Comparison(o, match, how))
    return found


def _match(o: OfficialResult, candidates: list[AtlasRow]) -> tuple[AtlasRow | None, str]:
    named = [r for r in candidates if r.system == o.system]
    if len(named) == 1:
        return named[0], "by name"
    counted = [r for r in candidates if o.count is not None and r.count == o.count]
    if len(counted) == 1:
        return counted[0], "the submitter's only set of this benchmark and accelerator count"
    shared = [
        len(os.path.commonprefix([r.system.casefold(), o.system.casefold()])) for r in counted
    ]
    best = max(shared, default=0)
    if best and shared.count(best) == 1:
        return counted[shared.index(best)], "by accelerator count and the longest common name"
    return None, ""
