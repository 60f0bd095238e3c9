"""One campaign, read once for every report: the score, run records, inventory, telemetry.

The reports (CSV, XLSX, the RFP workbook, HTML) and the hand-in bundle all render the same
plain ``CampaignView``; they never read the campaign folder themselves. Optional parts (run
records, inventory, system description, telemetry) may be absent: each is read by a small
tolerant function that leaves its part empty rather than failing the report, and says why
in ``notes``. A hand-in bundle has the same layout, so a bundle reads as a campaign too.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gp2bm import __version__
from gp2bm.campaign.resolve import campaign_suite
from gp2bm.errors import InputError
from gp2bm.results.resultset import RESULT_RE, score_paths
from gp2bm.results.scoring import BenchmarkScore, RunScore, SuiteScore
from gp2bm.spec.manifest import BenchmarkManifest, suite_manifests
from gp2bm.spec.suite import Suite

RUN_RE = re.compile(r"run_(\d+)\.json")
TIME_COLUMNS = (
    "elapsed_s",
    "elapsed",
    "time_s",
    "seconds",
    "t",
    "time",
    "timestamp",
    "unix_time",
    "time_ms",
)
GROUP_COLUMNS = ("gpu", "gpu_index", "device", "index")
WIDE_GPU_RE = re.compile(r"gpu(\d+)_(\w+)")


@dataclass
class Series:
    """One sampled quantity: seconds since the run's first sample, and its values."""

    seconds: list[float]
    values: list[float | None]


@dataclass
class Telemetry:
    """The samples of one run: one Series per column (per GPU when rows name a GPU)."""

    path: Path
    series: dict[str, Series]

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for name, s in self.series.items():
            nums = [v for v in s.values if v is not None]
            if nums:
                out[name] = {"min": min(nums), "mean": sum(nums) / len(nums), "max": max(nums)}
        return out

    def metrics(self) -> list[str]:
        """The column names, without the per-GPU suffix, in file order."""
        return list(dict.fromkeys(name.split(" [", 1)[0] for name in self.series))


@dataclass
class RunView:
    benchmark: str
    index: int | None
    score: RunScore
    record: dict | None = None
    telemetry: Telemetry | None = None


@dataclass
class CampaignView:
    root: Path
    meta: dict
    suite: Suite
    score: SuiteScore
    org: str
    system: str
    runs: dict[str, list[RunView]]
    attempts: dict[str, list[dict]] = field(default_factory=dict)
    inventory: dict | None = None
    system_desc: dict | None = None
    system_desc_path: Path | None = None
    manifests: dict[str, BenchmarkManifest] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    generated: str = ""
    gp2bm_version: str = __version__

    @property
    def results_dir(self) -> Path:
        return self.root / self.org / "results" / self.system

    def benchmark(self, name: str) -> BenchmarkScore | None:
        return self.score.benchmarks.get(name)

    def relative(self, path: Path) -> str:
        try:
            return str(Path(path).resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)


def _optional_json(path: Path, notes: list[str]) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        notes.append(f"{path.name}: unreadable, left out ({exc})")
        return None
    if not isinstance(data, dict):
        notes.append(f"{path.name}: not a JSON object, left out")
        return None
    return data


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _timestamp(text: str) -> float | None:
    value = _number(text)
    if value is not None:
        return value
    try:
        stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def read_telemetry(path: Path) -> Telemetry | None:
    """A telemetry CSV: a header row, then one sample a row (gp2bm's telemetry.py writes
    ``elapsed_s``, host columns and ``gpu<i>_<quantity>`` columns) or one row per GPU and
    sample (a ``gpu`` column).

    The time column is the first of TIME_COLUMNS present (numbers or ISO times), else the
    row number (1 Hz). Each GPU's quantity is its own series, named "<quantity> [gpu i]".
    Columns that hold no number are left out. None when nothing numeric is there.
    """
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    if len(rows) < 2:
        return None
    header = [h.strip() for h in rows[0]]
    body = [r + [""] * (len(header) - len(r)) for r in rows[1:] if any(c.strip() for c in r)]
    lowered = [h.lower() for h in header]
    time_col = next((lowered.index(n) for n in TIME_COLUMNS if n in lowered), None)
    group_col = next((lowered.index(n) for n in GROUP_COLUMNS if n in lowered), None)
    stamps: list[float | None] = []
    if time_col is not None:
        stamps = [_timestamp(r[time_col]) for r in body]
        if any(s is None for s in stamps):
            time_col = None
        elif lowered[time_col].endswith("_ms"):
            stamps = [s / 1000 for s in stamps]
    if time_col is None:
        groups = [r[group_col].strip() if group_col is not None else "" for r in body]
        per_group: dict[str, int] = {}
        stamps = []
        for g in groups:  # the n-th row of each GPU is second n
            stamps.append(float(per_group.get(g, 0)))
            per_group[g] = per_group.get(g, 0) + 1
    first = min(s for s in stamps if s is not None)
    series: dict[str, Series] = {}
    for i, name in enumerate(header):
        if i in (time_col, group_col) or not name:
            continue
        values = [_number(r[i]) for r in body]
        if all(v is None for v in values):
            continue
        wide = WIDE_GPU_RE.fullmatch(name)  # gp2bm's telemetry: gpu<i>_<quantity> columns
        for row, value, stamp in zip(body, values, stamps, strict=True):
            if wide:
                key = f"{wide.group(2)} [gpu {wide.group(1)}]"
            elif group_col is not None:
                key = f"{name} [gpu {row[group_col].strip()}]"
            else:
                key = name
            s = series.setdefault(key, Series([], []))
            s.seconds.append(stamp - first)
            s.values.append(value)
    if not series:
        return None
    return Telemetry(path=path, series=series)


def _records(root: Path, bench: str, notes: list[str]) -> tuple[dict[int, dict], list[dict]]:
    folder = root / "records" / bench
    records: dict[int, dict] = {}
    attempts: list[dict] = []
    if not folder.is_dir():
        return records, attempts
    for path in sorted(folder.iterdir()):
        m = RUN_RE.fullmatch(path.name)
        if m:
            data = _optional_json(path, notes)
            if data is not None:
                records[int(m.group(1))] = data
    attempt_dir = folder / "attempts"
    if attempt_dir.is_dir():
        for path in sorted(attempt_dir.glob("run_*.json")):
            data = _optional_json(path, notes)
            if data is not None:
                attempts.append({"file": path.name, **data})
    return records, attempts


def _run_index(run: RunScore) -> int | None:
    m = RESULT_RE.fullmatch(run.file)
    return int(m.group(1)) if m else None


def load_campaign(
    root: Path,
    suite_path: Path | None = None,
    score: SuiteScore | None = None,
) -> CampaignView:
    """Read a campaign (or an extracted hand-in bundle) into a CampaignView."""
    root = Path(root)
    meta, suite = campaign_suite(root, suite_path)
    org, system = meta["org"], meta["system"]
    results = root / org / "results" / system
    if score is None:
        if not results.is_dir():
            raise InputError(f"{root}: no results yet ({results} is absent)")
        score = score_paths([results], suite)
    notes: list[str] = []
    runs: dict[str, list[RunView]] = {}
    attempts: dict[str, list[dict]] = {}
    for name, bench in score.benchmarks.items():
        records, attempts[name] = _records(root, name, notes)
        views = []
        for run in bench.runs:
            n = _run_index(run)
            tele_path = root / "records" / name / f"telemetry_{n}.csv"
            telemetry = read_telemetry(tele_path) if tele_path.is_file() else None
            views.append(RunView(name, n, run, records.get(n), telemetry))
        runs[name] = views
    sys_path = root / org / "systems" / f"{system}.json"
    try:
        manifests = suite_manifests(suite)
    except InputError as exc:  # the reports do without; the bundle asks for them itself
        manifests = {}
        notes.append(f"benchmark manifests not read: {exc}")
    return CampaignView(
        root=root,
        meta=meta,
        suite=suite,
        score=score,
        org=org,
        system=system,
        runs=runs,
        attempts=attempts,
        inventory=_optional_json(root / "inventory.json", notes),
        system_desc=_optional_json(sys_path, notes),
        system_desc_path=sys_path,
        manifests=manifests,
        notes=notes,
        generated=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def flatten(data, prefix: str = "") -> list[tuple[str, object]]:
    """Nested dicts and lists as (dotted key, scalar) pairs, for tables."""
    out: list[tuple[str, object]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            out += flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(data, list) and any(isinstance(v, (dict, list)) for v in data):
        for i, value in enumerate(data):
            out += flatten(value, f"{prefix}[{i}]")
    elif isinstance(data, list):
        out.append((prefix, ", ".join(str(v) for v in data)))
    else:
        out.append((prefix, data))
    return out


def images_used(view: CampaignView) -> dict[str, list[dict]]:
    """Per benchmark, the distinct images its runs used (from the run records), with counts."""
    out: dict[str, list[dict]] = {}
    for bench, runs in view.runs.items():
        seen: dict[tuple, dict] = {}
        for run in runs:
            rec = run.record or {}
            key = (rec.get("image"), rec.get("image_id"), rec.get("runtime"))
            if key == (None, None, None):
                continue
            entry = seen.setdefault(
                key,
                {
                    "image": rec.get("image"),
                    "image_id": rec.get("image_id"),
                    "repo_digests": list(rec.get("image_repo_digests") or []),
                    "runtime": rec.get("runtime"),
                    "runs": 0,
                },
            )
            entry["runs"] += 1
        out[bench] = list(seen.values())
    return out


def software(view: CampaignView) -> list[tuple[str, str]]:
    """(name, version) of the software stack, from the system description, the inventory,
    the images that ran and gp2bm itself; what is unknown is simply not listed."""
    from importlib.metadata import PackageNotFoundError, version

    found: list[tuple[str, str]] = []
    desc = view.system_desc or {}
    for key in ("framework", "operating_system"):
        if isinstance(desc.get(key), str) and desc[key].strip():
            found.append((key, desc[key].strip()))
    stack = desc.get("other_software_stack")
    if isinstance(stack, dict):
        found += [(str(k), str(v)) for k, v in stack.items() if str(v).strip()]
    elif isinstance(stack, str) and stack.strip():
        found.append(("other_software_stack", stack.strip()))
    used = images_used(view)
    # the host's Python ran the benchmarks only when they ran as local processes
    local = any(img["runtime"] == "local" for imgs in used.values() for img in imgs)
    for key, value in flatten(view.inventory or {}):
        last = key.rsplit(".", 1)[-1]
        if "version" in last.lower() and isinstance(value, (str, int, float)) and value != "":
            found.append((key, str(value)))
        elif last == "python" and isinstance(value, str) and local:
            found.append((key, value))
    for bench, images in used.items():
        for img in images:
            if img["runtime"] == "local":
                found.append((f"{bench} implementation", "local process (no image)"))
            else:
                ident = img["image_id"] or "id not recorded"
                found.append((f"{bench} image", f"{img['image']} (id {ident})"))
    found.append(("gp2bm", view.gp2bm_version))
    try:
        found.append(("mlperf-logging", version("mlperf-logging")))
    except PackageNotFoundError:
        pass
    return list(dict.fromkeys(found))


def claims(view: CampaignView) -> dict:
    """What the reports claim: ``gp2bm score --json``'s object, with paths relative to the
    campaign (so that a bundle's claims hold wherever it is extracted)."""
    data = view.score.as_dict()
    for bench in data["benchmarks"].values():
        bench["folder"] = view.relative(Path(bench["folder"]))
    prefixes = sorted({f"{view.root}/", f"{view.root.resolve()}/"}, key=len, reverse=True)
    return _strip_prefixes(data, prefixes)


def _strip_prefixes(data, prefixes: list[str]):
    """Checker messages name files by absolute path; keep them relative to the campaign."""
    if isinstance(data, dict):
        return {k: _strip_prefixes(v, prefixes) for k, v in data.items()}
    if isinstance(data, list):
        return [_strip_prefixes(v, prefixes) for v in data]
    if isinstance(data, str):
        for prefix in prefixes:
            data = data.replace(prefix, "")
    return data
