"""Result logs from elsewhere as a gp2bm campaign (``gp2bm import SOURCE --campaign C``).

SOURCE is a folder (or one log): NVIDIA's launch scripts write one log per run named
``DATESTAMP_N.log``; an MLPerf submission tree holds ``<org>/results/<system>/<bench>/
result_N.txt``. Every such file under SOURCE is read; its benchmark is what its own
``submission_benchmark`` line says (not where it lay), and only the suite's benchmarks are
taken. Each benchmark's logs, in their order (the datestamp, then N; or N), become
``result_0.txt``, ``result_1.txt``, ... of the campaign, byte for byte, and each gets an
import record (``records/<bench>/imported_N.json``: the file's name, not its path, its
SHA-256, its seed, run_start and run_stop and the run's status, as the log says them),
never a run record: gp2bm did not run them, and the trust ledger says so (the reservation
``not-run-by-gp2bm``, which verify names). A system description under SOURCE
(``systems/<system>.json``) is copied when its system is the one imported; else the
campaign has none until ``gp2bm inventory --campaign C`` writes one.

Nothing recorded is overwritten: a campaign that already holds results of a benchmark is
refused. Then ``score``, ``report`` and ``package`` read the campaign as any other.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gp2bm import __version__
from gp2bm.campaign.folder import check_name
from gp2bm.campaign.layout import CAMPAIGN_FILE, CampaignLayout, CampaignMeta
from gp2bm.errors import InputError
from gp2bm.files.jsonfile import read_json, write_json_atomic
from gp2bm.files.plaintext import printable
from gp2bm.results.runlog import Record, iter_records
from gp2bm.spec.suite import Suite

IMPORT_SCHEMA = "gp2bm.import/1"
NVIDIA_LOG = re.compile(r"^(\d+)_(\d+)\.log$")
RESULT_LOG = re.compile(r"^result_(\d+)\.txt$")
# How many records of a log are read for what it says of itself (its submission lines come
# first; a log that names no benchmark by then is not a result log).
HEAD_RECORDS = 200
KEYS = ("submission_benchmark", "submission_org", "submission_platform", "seed")


@dataclass(frozen=True)
class SourceLog:
    path: Path
    order: tuple[int, ...]
    said: dict[str, object]  # what its first records say: KEYS, run_start, run_stop, status


@dataclass
class Imported:
    campaign: Path
    org: str
    system: str
    runs: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    system_description: str | None = None

    def as_dict(self) -> dict:
        return {
            "campaign": str(self.campaign),
            "org": self.org,
            "system": self.system,
            "runs": dict(self.runs),
            "system_description": self.system_description,
            "notes": list(self.notes),
        }


def _order(name: str) -> tuple[int, ...] | None:
    nvidia = NVIDIA_LOG.match(name)
    if nvidia:
        return int(nvidia.group(1)), int(nvidia.group(2))
    result = RESULT_LOG.match(name)
    return (int(result.group(1)),) if result else None


def _said(path: Path) -> dict[str, object]:
    """What a log says of itself: its submission lines and seed (first records), its
    run_start, run_stop and run_stop's status."""
    said: dict[str, object] = {}
    for n, rec in enumerate(iter_records(path)):
        if not isinstance(rec, Record):
            continue
        if n < HEAD_RECORDS and rec.key in KEYS and rec.key not in said:
            said[rec.key] = rec.value
        if rec.key == "run_start" and "run_start" not in said:
            said["run_start"] = rec.time_ms
        if rec.key == "run_stop":
            said["run_stop"] = rec.time_ms
            said["status"] = rec.metadata.get("status")
    return said


def source_logs(source: Path) -> list[SourceLog]:
    """Every result log under ``source`` (or ``source`` itself), with what it says."""
    source = Path(source)
    if not source.exists():
        raise InputError(f"{source}: no such file or folder")
    paths = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    found = []
    for path in paths:
        order = _order(path.name)
        if order is None or path.is_symlink():
            continue
        found.append(SourceLog(path, order, _said(path)))
    if not found:
        raise InputError(
            f"{source}: no result log (DATESTAMP_N.log as NVIDIA's scripts write them, or "
            "result_N.txt of an MLPerf submission tree)"
        )
    return found


def _by_benchmark(logs: list[SourceLog], suite: Suite, notes: list[str]) -> dict:
    grouped: dict[str, list[SourceLog]] = {}
    for log in logs:
        bench = str(log.said.get("submission_benchmark") or "")
        if bench not in suite.benchmarks:
            notes.append(
                f"{log.path.name}: benchmark {printable(bench or 'not named', 40)!s}: not in "
                f"suite {suite.name}, left out"
            )
            continue
        grouped.setdefault(bench, []).append(log)
    if not grouped:
        raise InputError(f"no log of the suite's benchmarks ({', '.join(suite.benchmarks)})")
    return {b: sorted(logs, key=lambda x: (x.order, x.path.name)) for b, logs in grouped.items()}


def _name(given: str | None, said: object, what: str, fallback: str) -> str:
    if given:
        check_name(what, given)
        return given
    text = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(said or "")).strip("_.-")[:64]
    return text or fallback


def _copy(src: Path, dest: Path) -> str:
    """Copy byte for byte (atomically); the SHA-256 of what was copied."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    shutil.copyfile(src, partial)
    digest = hashlib.sha256(partial.read_bytes()).hexdigest()
    partial.replace(dest)
    return digest


def _system_description(source: Path, system: str) -> Path | None:
    """The system description of ``system`` in a submission tree under ``source``: an
    organisation's folder's system file (``CampaignLayout.system_file``)."""
    if not source.is_dir():
        return None
    for path in sorted(source.rglob(f"{system}.json")):
        if len(path.parents) < 3 or not path.is_file():
            continue
        org_dir = path.parents[1]
        if CampaignLayout(org_dir.parent, org_dir.name, system).system_file == path:
            return path
    return None


SAID = ("seed", "run_start", "run_stop", "status")


def _write_runs(layout: CampaignLayout, suite: Suite, grouped: dict, imported: Imported) -> None:
    """Each benchmark's logs as result_0.txt, ... with an import record each."""
    for bench, logs in grouped.items():
        for n, log in enumerate(logs):
            digest = _copy(log.path, layout.result_path(bench, n))
            record = {
                "schema": IMPORT_SCHEMA,
                "benchmark": bench,
                "run": n,
                "source_file": log.path.name,
                "sha256": digest,
                **{k: log.said.get(k) for k in SAID},
            }
            write_json_atomic(layout.records_dir(bench) / f"imported_{n}.json", record)
        imported.runs[bench] = len(logs)
        wanted = suite.benchmarks[bench].runs
        if len(logs) != wanted:
            imported.notes.append(
                f"{bench}: {len(logs)} logs imported, the suite asks for {wanted}"
            )


def import_logs(
    source: Path, root: Path, suite: Suite, org: str | None = None, system: str | None = None
) -> Imported:
    """Make the campaign at ``root`` of ``suite`` from the result logs under ``source``."""
    source, root = Path(source), Path(root)
    notes: list[str] = []
    grouped = _by_benchmark(source_logs(source), suite, notes)
    first = next(iter(grouped.values()))[0].said
    org = _name(org, first.get("submission_org"), "org", "imported")
    system = _name(system, first.get("submission_platform"), "system", "imported")
    if (root / CAMPAIGN_FILE).exists() or (root.is_dir() and any(root.iterdir())):
        raise InputError(f"{root}: not empty; import into a new --campaign folder")
    layout = CampaignLayout(root, org, system)
    imported = Imported(root, org, system, notes=notes)
    _write_runs(layout, suite, grouped, imported)
    desc = _system_description(source, system)
    if desc is not None:
        read_json(desc)  # a readable document, or one line naming it
        _copy(desc, layout.system_file)
        imported.system_description = desc.name
    else:
        notes.append(
            f"no systems/{system}.json under {source.name}: write one with gp2bm inventory "
            f"--campaign {root}"
        )
    CampaignMeta(
        org=org,
        system=system,
        suite=suite.name,
        suite_file=str(suite.path) if suite.path else None,
        ruleset=suite.ruleset,
        runtime=None,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        gp2bm_version=__version__,
        extra={"imported": {"schema": IMPORT_SCHEMA, "source": source.name, "runs": imported.runs}},
    ).write(layout)
    return imported
