"""One campaign, read once for every report: the score, run records, inventory, telemetry.

The reports (CSV, XLSX, the RFP workbook, HTML) and the hand-in bundle all render the same
plain ``CampaignView``; they never read the campaign folder themselves, and nothing here
renders. Optional parts (run records, inventory, system description, telemetry) may be
absent: each is read by a small tolerant function that leaves its part empty rather than
failing the report, and says why in ``notes``. A hand-in bundle has the same layout, so a
bundle reads as a campaign too.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from gp2bm import __version__
from gp2bm.campaign.layout import CampaignLayout, CampaignMeta, OnLayout, run_number
from gp2bm.campaign.record import RunRecord, check_format
from gp2bm.campaign.resolve import campaign_suite
from gp2bm.errors import InputError
from gp2bm.reports.telemetry import Telemetry, TelemetrySummary, read_telemetry
from gp2bm.results.checkpool import Progress
from gp2bm.results.ledger import Ledger, campaign_ledger
from gp2bm.results.resultset import score_paths
from gp2bm.results.scoring import RunScore, SuiteScore
from gp2bm.results.verdictcache import VerdictStore
from gp2bm.spec.manifest import BenchmarkManifest, suite_manifests
from gp2bm.spec.suite import Suite

# The runtime that runs a benchmark as a plain process of the host: it has no image.
LOCAL_RUNTIME = "local"


@dataclass
class RunView:
    benchmark: str
    index: int | None
    score: RunScore
    record: RunRecord | None = None
    telemetry: Telemetry | TelemetrySummary | None = None


@dataclass
class Attempt:
    """An interrupted attempt at a run: its record, kept in records/<bench>/attempts/."""

    file: str
    record: RunRecord


@dataclass
class ImageUse:
    """One image (or the local runtime) that runs of a benchmark used, from their records."""

    image: str | None
    image_id: str | None
    repo_digests: list[str]
    runtime: str | None
    runs: int = 0

    @property
    def local(self) -> bool:
        return self.runtime == LOCAL_RUNTIME

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class CampaignView(OnLayout):
    layout: CampaignLayout
    meta: CampaignMeta
    suite: Suite
    score: SuiteScore
    runs: dict[str, list[RunView]]
    attempts: dict[str, list[Attempt]] = field(default_factory=dict)
    inventory: dict | None = None
    system_desc: dict | None = None
    manifests: dict[str, BenchmarkManifest] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)  # the trust ledger of its runs
    generated: str = ""
    gp2bm_version: str = __version__

    @property
    def system_desc_path(self) -> Path:
        return self.layout.system_file

    def relative(self, path: Path) -> str:
        return self.layout.relative(path)


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


def _records(
    layout: CampaignLayout, bench: str, notes: list[str], known_format: bool = True
) -> tuple[dict[int, RunRecord], list[Attempt]]:
    """A benchmark's run records by run number, and the records of interrupted attempts;
    ``known_format``: a record of a format this gp2bm does not know is refused."""
    records: dict[int, RunRecord] = {}
    attempts: list[Attempt] = []
    for n, path in layout.record_files(bench).items():
        data = _optional_json(path, notes)
        if data is not None:
            if known_format:
                check_format(data, layout.relative(path))
            records[n] = RunRecord.from_dict(data)
    for path in layout.attempt_records(bench):
        data = _optional_json(path, notes)
        if data is not None:
            if known_format:
                check_format(data, layout.relative(path))
            attempts.append(Attempt(path.name, RunRecord.from_dict(data)))
    return records, attempts


def _run_index(run: RunScore) -> int | None:
    return run_number(run.file)


def _run_views(
    layout: CampaignLayout, score: SuiteScore, notes: list[str], known_format: bool = True
) -> tuple[dict[str, list[RunView]], dict[str, list[Attempt]]]:
    """Each scored run with its record and telemetry; the attempts of each benchmark."""
    runs: dict[str, list[RunView]] = {}
    attempts: dict[str, list[Attempt]] = {}
    for name, bench in score.benchmarks.items():
        records, attempts[name] = _records(layout, name, notes, known_format)
        views = []
        for run in bench.runs:
            n = _run_index(run)
            telemetry = None
            if n is not None and layout.telemetry_path(name, n).is_file():
                telemetry = read_telemetry(layout.telemetry_path(name, n))
            views.append(
                RunView(name, n, run, records.get(n) if n is not None else None, telemetry)
            )
        runs[name] = views
    return runs, attempts


def _manifests(suite: Suite, notes: list[str]) -> dict[str, BenchmarkManifest]:
    try:
        return suite_manifests(suite)
    except InputError as exc:  # the reports do without; the bundle asks for them itself
        notes.append(f"benchmark manifests not read: {exc}")
        return {}


def load_campaign(
    root: Path,
    suite_path: Path | None = None,
    score: SuiteScore | None = None,
    *,
    cache: VerdictStore | None = None,
    progress: Progress | None = None,
    suite: Suite | None = None,
    known_format: bool = True,
) -> CampaignView:
    """Read a campaign (or an extracted hand-in bundle) into a CampaignView. ``cache``: the
    checkers' verdicts of unchanged logs (``report``, ``package``; never ``verify``);
    ``progress``: told how the scoring goes; ``suite``: the suite to score by, when not
    ``suite_path``'s as it stands (verify: the bundle's names under the reference rules;
    its benchmark manifests are still read beside ``suite_path``); ``known_format``: a run
    record of a format this gp2bm does not know is refused in one line (verify reads the
    records strictly itself, each problem a finding: ``campaign.record.read_strict``)."""
    meta, loaded = campaign_suite(root, suite_path)
    if suite is None:
        suite = loaded
    layout = CampaignLayout.of(root, meta)
    if score is None:
        if not layout.results_dir.is_dir():
            raise InputError(f"{root}: no results yet ({layout.results_dir} is absent)")
        score = score_paths([layout.results_dir], suite, cache=cache, progress=progress)
    notes: list[str] = []
    runs, attempts = _run_views(layout, score, notes, known_format)
    manifests = _manifests(suite, notes)
    ran = {
        f"{bench}/{run.index}": run.score.log is not None and run.score.log.trace is not None
        for bench, views in runs.items()
        for run in views
        if run.index is not None
    }
    return CampaignView(
        layout=layout,
        meta=meta,
        suite=suite,
        score=score,
        runs=runs,
        attempts=attempts,
        inventory=_optional_json(layout.inventory_file, notes),
        system_desc=_optional_json(layout.system_file, notes),
        manifests=manifests,
        notes=notes,
        ledger=campaign_ledger(layout, suite, ran),
        generated=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def images_used(view: CampaignView) -> dict[str, list[ImageUse]]:
    """Per benchmark, the distinct images its runs used (from the run records), with counts."""
    out: dict[str, list[ImageUse]] = {}
    for bench, runs in view.runs.items():
        seen: dict[tuple, ImageUse] = {}
        for run in runs:
            rec = run.record
            if rec is None:
                continue
            # an empty name in a record is a name it does not know
            key = (rec.image or None, rec.image_id, rec.runtime or None)
            if key == (None, None, None):
                continue
            if key not in seen:
                seen[key] = ImageUse(*key[:2], list(rec.image_repo_digests), key[2])
            seen[key].runs += 1
        out[bench] = list(seen.values())
    return out


def submission_fixes(view: CampaignView, bench: str) -> dict[str, str]:
    """Per result log of ``bench``, the manifest fix its run record names for missing or
    doubled submission lines (``submission_problem``): what explains its compliance failure."""
    return {
        run.score.file: run.record.submission_problem
        for run in view.runs.get(bench, [])
        if run.record is not None and run.record.submission_problem
    }


def summarized(view: CampaignView) -> CampaignView:
    """``view`` with each run's telemetry reduced to its summary (``TelemetrySummary``), all
    the workbooks read of it: a copy to hand to another process without the samples, which
    can reach hundreds of megabytes in memory."""

    def small(run: RunView) -> RunView:
        tele = run.telemetry
        if isinstance(tele, Telemetry):
            tele = TelemetrySummary(tele.path, tele.summary())
        return replace(run, telemetry=tele)

    runs = {bench: [small(run) for run in runs] for bench, runs in view.runs.items()}
    return replace(view, runs=runs)
