"""``gp2bm verify``: what gp2bm-bundle.json, the run records and the system description say,
against the logs, the tree and the inventory.

Each claim is recomputed where the bundle holds what it is made of (the score from the logs,
a run's seed and minutes from its log, the accelerator and processor counts of the system
description from the inventory, the bypass files, the source file counts), or else listed
as unverifiable (when the bundle was made, where the source came from, the image a run
used): never silently believed.
"""

from __future__ import annotations

from gp2bm.campaign.layout import BUNDLE_FILE, BundleFiles
from gp2bm.evaluation.verification import Verification, close, compare
from gp2bm.files.plaintext import printable
from gp2bm.handin.format import BUNDLE_FORMAT, RCP_BYPASS
from gp2bm.handin.package_check import PackageCheck
from gp2bm.handin.selfwheel import file_sha256, wheel_name
from gp2bm.reports.view import CampaignView

# gp2bm-bundle.json keys only the packager can know.
UNVERIFIABLE_META = ("created", "gp2bm_version", "campaign", "notes")
# System-description fields that are counts: compared with the inventory's as numbers.
COUNT_FIELDS = (
    "number_of_nodes",
    "accelerators_per_node",
    "host_processors_per_node",
    "host_processor_core_count",
    "host_processor_vcpu_count",
)
# Run-record keys compared with the run's log: (record attribute, log attribute).
RECORD_VS_LOG = (
    ("seed", "seed"),
    ("minutes", "minutes"),
    ("log_status", "status"),
    ("best_accuracy", "best_accuracy"),
)


def _differ(result: Verification, where: str, what: str, claimed, actual) -> None:
    if not close(claimed, actual):
        result.differences.append(f"{where}: {what}: claimed {claimed!r}, recomputed {actual!r}")


def _bypassed(view: CampaignView) -> list[str]:
    """The benchmarks whose result folder holds the package checker's RCP bypass file."""
    params = {bench: view.layout.params_file(bench) for bench in view.suite.benchmarks}
    return [
        bench
        for bench, path in params.items()
        if path.is_file() and path.read_bytes()[:64] == RCP_BYPASS.encode()
    ]


def _implementations(meta: dict, bundle: BundleFiles, result: Verification) -> None:
    for bench, info in (meta.get("implementations") or {}).items():
        where = f"{BUNDLE_FILE}: implementations.{bench}"
        if not isinstance(info, dict) or not isinstance(info.get("path"), str):
            result.differences.append(f"{where}: not an object with a path")
            continue
        folder = bundle.member(info["path"])
        if folder is None:
            result.differences.append(f"{where}: path {info['path']!r} leads out of the bundle")
            continue
        count = sum(1 for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0
        _differ(result, where, "files", info.get("files"), count)
        result.unverifiable.append(f"{where}.origin: {info.get('origin')}")


def _wheel(meta: dict, bundle: BundleFiles, result: Verification) -> None:
    """The wheel of the gp2bm that wrote the bundle: in the bundle, of the version the
    bundle names, its SHA-256 and size as gp2bm-bundle.json says. What it does is not
    verified (an evaluator verifies with a gp2bm of their own, or installs this one)."""
    info = meta.get("gp2bm_wheel")
    where = f"{BUNDLE_FILE}: gp2bm_wheel"
    if info is None:  # every bundle of this format carries it: left out is a finding
        result.differences.append(f"{where}: missing (a bundle of format {BUNDLE_FORMAT} "
                                  "carries the wheel of the gp2bm that wrote it)")  # fmt: skip
        return
    path = info.get("path") if isinstance(info, dict) else None
    member = bundle.member(path) if isinstance(path, str) else None
    if member is None or not member.is_file():
        result.differences.append(f"{where}: {printable(str(path), 80)!r} is not in the bundle")
        return
    expected = wheel_name(str(meta.get("gp2bm_version") or ""))
    if member.name != expected:
        named = printable(member.name, 80)
        result.differences.append(
            f"{where}: named {named!r}, expected {expected!r} (the version the bundle names)"
        )
    digest, size = file_sha256(member)
    _differ(result, where, "sha256", info.get("sha256"), digest)
    _differ(result, where, "bytes", info.get("bytes"), size)


def check_meta(meta: dict, view: CampaignView, check: PackageCheck, result: Verification) -> None:
    """gp2bm-bundle.json: every claim against the logs, the tree and the checker's verdict."""
    if meta.get("bundle_format") != BUNDLE_FORMAT:
        result.differences.append(
            f"{BUNDLE_FILE}: bundle_format {meta.get('bundle_format')!r}; this gp2bm verifies "
            f"format {BUNDLE_FORMAT} (package the campaign again with it)"
        )
    _differ(result, BUNDLE_FILE, "score", meta.get("score"), view.score.score)
    _differ(result, BUNDLE_FILE, "ruleset", meta.get("ruleset"), view.suite.ruleset)
    _differ(result, BUNDLE_FILE, "org", meta.get("org"), view.org)
    _differ(result, BUNDLE_FILE, "system", meta.get("system"), view.system)
    claimed = given if isinstance(given := meta.get("package_checker"), dict) else {}
    _differ(result, BUNDLE_FILE, "package_checker.passed", claimed.get("passed"), check.passed)
    if claimed.get("ran"):
        for key, actual in (("errors", check.errors), ("warnings", check.warnings)):
            _differ(result, BUNDLE_FILE, f"package_checker.{key}", claimed.get(key), actual)
        written = claimed.get("scaling_written_by_checker")
        _differ(result, BUNDLE_FILE, "package_checker.scaling", written, check.scaling)
    bypass = _bypassed(view)
    _differ(result, BUNDLE_FILE, "rcp_bypass", meta.get("rcp_bypass"), bypass)
    if bypass and view.suite.rcp:
        result.differences.append(
            f"{BUNDLE_FILE}: rcp_bypass {bypass}, yet the suite checks RCP (checks.rcp: true)"
        )
    bundle = BundleFiles(view.root)
    _implementations(meta, bundle, result)
    _wheel(meta, bundle, result)
    for rel in meta.get("reports") or []:
        member = bundle.member(rel) if isinstance(rel, str) else None
        if member is None or not member.is_file():
            result.differences.append(f"{BUNDLE_FILE}: reports: {rel!r} is not in the bundle")
    claimed_ledger = meta.get("ledger")
    result.differences += (
        [f"{BUNDLE_FILE}: ledger.{d}" for d in compare(claimed_ledger, view.ledger.as_dict(), "")]
        if isinstance(claimed_ledger, dict)
        else [f"{BUNDLE_FILE}: no trust ledger"]
    )
    known = {"bundle_format", "score", "ruleset", "org", "system", "package_checker"}
    known |= {"rcp_bypass", "implementations", "reports", "incomplete", "suite_file", "ledger"}
    known |= {"gp2bm_wheel"}
    said = [key for key in UNVERIFIABLE_META if meta.get(key)]
    if said:
        result.unverifiable.append(f"{BUNDLE_FILE}: {', '.join(said)} (the packager's word)")
    for key in meta:
        if key not in known and key not in UNVERIFIABLE_META:
            result.unverifiable.append(
                f"{BUNDLE_FILE}: {printable(key, 40)}: a key this gp2bm does not know"
            )


def check_records(view: CampaignView, result: Verification) -> None:
    """Each run record's numbers against its log (seed, minutes, the log's status, best
    accuracy): claims that recompute; the rest of a record is cross-checked with the log's
    own gp2bm lines (``provenance``)."""
    for bench, runs in view.runs.items():
        for run in runs:
            rec, log = run.record, run.score.log
            if rec is None or log is None or run.index is None:
                continue
            where = view.relative(view.layout.record_path(bench, run.index))
            if rec.benchmark != bench or rec.run != run.index:
                result.differences.append(
                    f"{where}: names {rec.benchmark} run {rec.run}, lies beside {bench} "
                    f"run {run.index}"
                )
            for ours, theirs in RECORD_VS_LOG:
                claimed = getattr(rec, ours)
                if claimed is not None:  # a key an older record lacks claims nothing
                    actual = getattr(log, theirs)
                    _differ(result, where, f"{ours} (the log's {theirs})", claimed, actual)
