"""Verifying a hand-in bundle from its raw logs, trusting nothing it says about itself.

1. The archive is opened with safetar, within ``limits.BUNDLE`` (unsafe members, gzip bombs,
   too many or too large members refused in one line, before anything is inflated), into a
   scratch folder named after this process (``scratch``).
2. The sizes of what verify reads are bounded (``limits``): logs, JSON, reports.
3. SHA256SUMS: every listed file has its digest, every file is listed, no link is there.
4. Every log is parsed again; each benchmark's result and the score are recomputed, with
   MLCommons' compliance, seed and RCP checks run again, by the reference rules (the
   evaluator's ``--suite``, else gp2bm's own suite: ``reference``; the bundled suite's
   rules that differ are findings), in parallel across the cores; no verdict from before
   this run is used.
5. MLCommons' package checker runs again on the tree, handed the verdicts step 4 computed
   for the same bytes (``verdicts``): each log is checked once.
6. Every claim is compared with the recomputation: ``gp2bm-claims.json``, every report
   (``reportcheck``: CSV, HTML page, README; and, in the side process, gp2bm's workbook
   and a filled RFP workbook),
   ``gp2bm-bundle.json``, the run records and the system description (``claimcheck``).
   What only the vendor can know is listed as unverifiable.
7. Every log gp2bm ran is cross-checked (``evidence``: its provenance, its timeline,
   copies, the numbering and the attempts, the hardware), and the trust ledger's
   reservations are named, each accepted only by name (``--accept``).

The bundle passes only when nothing differs or contradicts, every reservation is accepted,
the score is valid and the package checker passes (``docs/VERIFY.md``).
"""

from __future__ import annotations

import os
import stat
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

from gp2bm.campaign.layout import (
    BUNDLE_FILE,
    CLAIMS_FILE,
    SUMS_FILE,
    BundleFiles,
    CampaignLayout,
    is_org_tree,
)
from gp2bm.campaign.trust import RESERVATIONS
from gp2bm.errors import Gp2bmError, InputError, UnsafeMember
from gp2bm.evaluation import claimcheck, evidence, plausible, reportcheck
from gp2bm.evaluation.checkerside import CheckerSide
from gp2bm.evaluation.reference import (
    Reference,
    reference_suite,
    rule_differences,
    scoring_suite,
)
from gp2bm.evaluation.verification import Verification, compare
from gp2bm.files import safetar
from gp2bm.files.checksums import sha256_file
from gp2bm.files.jsonfile import read_json
from gp2bm.files.plaintext import printable
from gp2bm.files.regular import open_regular
from gp2bm.handin.limits import BUNDLE, check_sizes
from gp2bm.handin.scratch import check_stopped, scratch
from gp2bm.handin.verdicts import RunVerdicts
from gp2bm.reports.claims import claims
from gp2bm.reports.official import official_summary, score_interval_summary
from gp2bm.reports.view import CampaignView, load_campaign
from gp2bm.results import rules
from gp2bm.results.checkpool import RCP, CheckPlan, PendingChecks
from gp2bm.results.resultset import find_benchmark_folders, result_files, scoring_options
from gp2bm.results.scoring import RcpMode
from gp2bm.results.verdictcache import folder_digest
from gp2bm.spec.suite import ComplianceMode, Suite, load_suite

__all__ = ["Verification", "check_reservation_names", "compare", "verify_bundle", "verify_tree"]


def refuse_links(folder: Path) -> None:
    """An extracted bundle holds plain files and folders only, as ``safetar`` extracts
    them: a symbolic link or a special file in it is refused before anything is read
    (``UnsafeMember``, exit 1), so no file outside the folder is read, nor quoted."""
    for where, dirs, files in os.walk(folder, followlinks=False):
        for name in sorted(dirs + files):
            path = Path(where) / name
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise UnsafeMember(
                    f"{printable(path, 300)}: a symbolic link, which a bundle never holds "
                    "(verify reads nothing through it; verify the .tar.gz as it was handed in)"
                )
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise UnsafeMember(f"{printable(path, 300)}: not a plain file or folder")


def top_folder(root: Path) -> Path:
    if BundleFiles(root).sums_file.is_file():
        return root
    entries = list(root.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and BundleFiles(entries[0]).sums_file.is_file():
        return entries[0]
    return root


def _listing_problem(name: str, listed: dict[str, str]) -> str | None:
    """What is wrong with a name of SHA256SUMS (the bundle's README has the evaluator run
    ``sha256sum -c`` on it, which checks every line: a name listed twice with another digest
    fails there, so it fails here), or None."""
    shown = printable(name, 200)
    if name.startswith("/") or ".." in name.split("/"):
        return f"names '{shown}' outside the bundle"
    if name == SUMS_FILE:
        return f"lists {SUMS_FILE} itself, which cannot hold its own digest"
    if name in listed:
        return f"lists '{shown}' a second time (`sha256sum -c` checks both lines)"
    return None


def check_sums(top: Path, result: Verification) -> None:
    sums = BundleFiles(top).sums_file
    if not sums.is_file():
        result.differences.append(f"{SUMS_FILE}: missing")
        return
    listed: dict[str, str] = {}
    for n, line in enumerate(sums.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name:
            result.differences.append(f"{SUMS_FILE}: line {n} is not '<sha256>  <path>'")
            continue
        problem = _listing_problem(name, listed)
        if problem:
            result.differences.append(f"{SUMS_FILE}: line {n} {problem}")
            continue
        listed[name] = digest.lower()
    present = {}
    for path in sorted(top.rglob("*")):
        rel = path.relative_to(top).as_posix()
        if path.is_symlink():
            result.differences.append(f"{rel}: a link, which the bundle never holds")
        elif path.is_file() and rel != SUMS_FILE:
            present[rel] = path
    for name, digest in listed.items():
        if name not in present:
            result.differences.append(f"{name}: listed in {SUMS_FILE} but missing")
        elif sha256_file(present[name]) != digest:
            result.differences.append(f"{name}: SHA-256 differs from {SUMS_FILE}")
    for name in present:
        if name not in listed:
            result.differences.append(f"{name}: not listed in {SUMS_FILE}")
    result.checked["files"] = len(present)


def _org_trees(top: Path, result: Verification) -> None:
    """One organisation's tree, the campaign's: another folder holding ``results`` or
    ``systems`` would be read by MLCommons' package checker on a whole-submission run, and
    by nobody here."""
    try:
        org = CampaignLayout.read(top).org_dir.name
    except Gp2bmError:
        return  # campaign.json's own problems are said where it is read
    for folder in sorted(p for p in top.iterdir() if p.is_dir() and p.name != org):
        if is_org_tree(folder):
            result.differences.append(
                f"{printable(folder.name, 100)}/: a second organisation's tree beside "
                f"'{printable(org, 100)}' (campaign.json's org), which a bundle never holds"
            )


def check_names(top: Path, result: Verification) -> None:
    """Names a bundle never holds: a hidden file or folder in the submission tree
    (MLCommons' checker skips it, a reader of the tree may not), two names that differ only
    in case (one overwrites the other on a case-insensitive file system), a second
    organisation's tree."""
    seen: dict[str, str] = {}
    for path in sorted(top.rglob("*")):
        rel = path.relative_to(top).as_posix()
        shown = printable(rel, 300)
        twin = seen.setdefault(rel.casefold(), rel)
        if twin != rel:
            result.differences.append(
                f"{shown}: differs from '{printable(twin, 300)}' only in case (one would "
                "replace the other on a case-insensitive file system)"
            )
        parts = rel.split("/")
        if (
            len(parts) > 1
            and parts[1] in ("results", "systems")
            and any(p.startswith(".") for p in parts[2:])
        ):
            result.differences.append(f"{shown}: a hidden name in the submission tree")
    _org_trees(top, result)


def _load_json(top: Path, path: Path, result: Verification) -> dict | None:
    name = path.relative_to(top).as_posix()
    if not path.is_file():
        result.differences.append(f"{name}: missing")
        return None
    try:
        return read_json(path)
    except InputError as exc:
        result.differences.append(f"{name}: {str(exc).split(': ', 1)[-1]}")
        return None


def _bundled_suite(top: Path, meta: dict | None, result: Verification) -> Path | None:
    name = (meta or {}).get("suite_file")
    path = BundleFiles(top).member(name) if isinstance(name, str) else None
    if path is None:
        result.differences.append(f"{BUNDLE_FILE}: no usable suite_file")
        return None
    if not path.is_file():
        result.differences.append(f"{name}: the bundle's suite file is missing")
        return None
    return path


def _manifests_inside(top: Path, bundled: Suite, result: Verification) -> Suite:
    """The bundled suite with every manifest it names that would lie outside the bundle
    (absolute, through ``..`` or a link) left out, each a difference: verify never opens a
    file of the evaluator's machine that a bundle names."""
    base = Path(bundled.path).parent if bundled.path else top
    benchmarks = dict(bundled.benchmarks)
    for name, spec in bundled.benchmarks.items():
        if spec.manifest is None:
            continue
        where = (base / spec.manifest).resolve()
        if not where.is_relative_to(top.resolve()):
            result.differences.append(
                f"the bundle's suite: benchmarks.{name}.manifest {printable(spec.manifest, 200)!r}"
                " lies outside the bundle: not read"
            )
            benchmarks[name] = replace(spec, manifest=None)
    return replace(bundled, benchmarks=benchmarks)


def _validity(view: CampaignView, result: Verification) -> None:
    if not view.score.valid:
        result.problems.append("the logs give no valid score")
        for name, b in view.score.benchmarks.items():
            result.problems += [f"{name}: {p}" for p in b.problems]
        result.problems += [f"{name}: no results" for name in view.score.missing]


@dataclass(frozen=True)
class Suites:
    """The suites of a verification: the bundle's own, the reference, and the one its logs
    are scored by (the bundle's names under the reference's rules)."""

    bundled: Path
    reference: Reference
    scoring: Suite


def _suites(
    top: Path, meta: dict | None, suite_path: Path | None, result: Verification
) -> Suites | None:
    """The reference rules (the evaluator's, else gp2bm's own), compared with the bundle's;
    None when the bundle names no suite it holds."""
    bundled_path = _bundled_suite(top, meta, result)
    bundled = None
    if bundled_path is not None:
        try:
            bundled = load_suite(bundled_path)
        except Gp2bmError as exc:
            result.differences.append(f"the bundle's suite: {exc}")
    reference = reference_suite(suite_path, bundled)  # the evaluator's file: bad input is 2
    result.reference = reference.as_dict()
    if bundled_path is None or bundled is None:
        return None
    bundled = _manifests_inside(top, bundled, result)
    result.differences += rule_differences(bundled, reference.suite)
    return Suites(bundled_path, reference, scoring_suite(bundled, reference.suite))


def _check_logs(top: Path, suite: Suite, verdicts: RunVerdicts, side: CheckerSide) -> None:
    """Every log's compliance verdict and seed records, and every folder's RCP verdict, kept
    in ``verdicts`` for the scoring and the package checker. The RCP checks are the side
    process's first job; the logs are checked here and by the side, which takes them from
    the first while this process takes them from the last (by checker processes when there
    is no side). What cannot be planned here (a bad suite, no logs) is left for the scoring
    to say."""
    try:
        layout = CampaignLayout.read(top)
        options = scoring_options(suite, None, None, None, campaign=True)
        rules.require_ruleset(options.ruleset)
        folders = find_benchmark_folders(layout.results_dir, layout)
    except Gp2bmError:
        return
    checking = options.compliance != ComplianceMode.OFF
    files = {folder: tuple(result_files(folder)) for folder in folders}
    rcp = side.rcp(list(files), options.ruleset) if options.rcp != RcpMode.OFF else None
    plan = CheckPlan(options.ruleset, files, checking, checking, rcp=False)
    helper = side.helper  # it shares the log checks once the RCP checks are done
    with PendingChecks(plan, verdicts, 1 if helper else None, helper=helper) as pending:
        pending.verdicts()
    if rcp is None:
        return
    digests = pending.digests  # each log's SHA-256, taken once for its verdicts
    for logs, verdict in zip(files.values(), rcp(), strict=True):
        digest = folder_digest([(log.name, digests[log]) for log in logs])
        verdicts.store(RCP, options.ruleset, digest, verdict.to_dict())


def _recompute(
    top: Path, suites: Suites, side: CheckerSide, result: Verification
) -> tuple[CampaignView, RunVerdicts] | None:
    """The bundle read as a campaign and scored from its logs, every check run again (and
    kept for the package checker); None when the logs cannot be read."""
    verdicts = RunVerdicts()  # no cache: nothing from before this run is trusted
    _check_logs(top, suites.scoring, verdicts, side)
    check_stopped()
    try:
        view = load_campaign(
            top, suites.bundled, cache=verdicts, suite=suites.scoring, known_format=False
        )
    except Gp2bmError as exc:
        result.differences.append(f"cannot recompute from the logs: {exc}")
        return None
    result.score = view.score.score
    result.score_interval = score_interval_summary(view.score)
    result.benchmarks = {n: official_summary(b) for n, b in view.score.benchmarks.items()}
    result.checked["runs"] = sum(len(b.runs) for b in view.score.benchmarks.values())
    result.checked["benchmarks"] = list(view.score.benchmarks)
    return view, verdicts


def _check_claims(top: Path, view: CampaignView, meta: dict | None, result: Verification) -> None:
    """gp2bm-claims.json and every report but the workbooks against what the logs give."""
    recomputed = claims(view)
    claimed = _load_json(top, BundleFiles(top).claims_file, result)
    if claimed is not None:
        result.differences += [f"{CLAIMS_FILE}: {d}" for d in compare(claimed, recomputed)]
    reportcheck.check_csv(view, recomputed, result)
    reportcheck.check_html(view, recomputed, result, meta)
    reportcheck.check_readme(view, meta, result)


def verify_tree(
    top: Path,
    bundle: Path,
    suite_path: Path | None = None,
    side: CheckerSide | None = None,
    accept: frozenset[str] = frozenset(),
    template: Path | None = None,
) -> Verification:
    """Verify an extracted bundle folder: sums, claims and reports against the logs, by the
    reference rules, the cross-checks and the ledger. ``side``: the process that runs
    MLCommons' package checker (made here when not given); ``accept``: the reservations the
    evaluator accepts by name; ``template``: the RFP's workbook as the evaluator holds it,
    which the bundled template must be (``reportcheck.check_template``)."""
    if side is None:
        with CheckerSide() as side:
            return verify_tree(top, bundle, suite_path, side, accept, template)
    result = Verification(bundle=bundle, accepted=sorted(accept))
    check_sizes(top, bundle)
    check_sums(top, result)
    check_names(top, result)
    meta = _load_json(top, BundleFiles(top).bundle_file, result)
    suites = _suites(top, meta, suite_path, result)
    recomputed = None if suites is None else _recompute(top, suites, side, result)
    check_stopped()
    if recomputed is None:
        return result
    view, verdicts = recomputed
    result.view = view
    # the side ended (``closing``) before the scratch folder its package checker writes
    # into is removed: else a file it writes meanwhile keeps the folder there
    with scratch("check") as tmp, closing(side):
        # the side: the package checker (it reads, never writes, the tree), then the
        # workbooks (openpyxl is imported there), while the other claims are checked here
        package_checked = side.package(view.layout.org_dir, view.score.ruleset, tmp, verdicts)
        workbooks_checked = side.workbooks(view, bundle)
        _check_claims(top, view, meta, result)
        result.add(workbooks_checked())
        _validity(view, result)
        check_stopped()
        check = package_checked()
    result.checked["package_checker"] = "pass" if check.passed else "FAIL"
    if not check.passed:
        result.problems.append(
            "MLCommons' package checker fails: " + ("; ".join(check.errors[:5]) or "see its log")
        )
    if meta is not None:
        claimcheck.check_meta(meta, view, check, result)
    claimcheck.check_records(view, result)
    evidence.cross_check(view, result)
    evidence.reserve(view, result)
    plausible.judge(view, result)
    if template is not None:
        reportcheck.check_template(view, template, result)
    for item in (meta or {}).get("incomplete") or []:
        result.problems.append(f"incomplete: {item}")
    return result


def check_reservation_names(accept: frozenset[str]) -> None:
    """Refuse (InputError) an ``--accept`` name that is no reservation of the ledger."""
    unknown = sorted(set(accept) - set(RESERVATIONS))
    if unknown:
        raise InputError(
            f"--accept {unknown[0]}: no such reservation (known: {', '.join(RESERVATIONS)})"
        )


def check_template_file(template: Path | None) -> None:
    """Refuse (InputError) a --template that is not a readable regular file."""
    if template is None:
        return
    try:
        with open_regular(Path(template), "the RFP's workbook") as fh:
            fh.read(1)
    except FileNotFoundError:
        raise InputError(f"--template {template}: file not found") from None
    except OSError as exc:
        raise InputError(f"--template {template}: cannot read: {exc.strerror or exc}") from None


def verify_bundle(
    bundle: Path,
    suite_path: Path | None = None,
    accept: frozenset[str] = frozenset(),
    template: Path | None = None,
) -> Verification:
    """Verify a .tar.gz bundle (extracted safely into a scratch folder) or a folder;
    ``accept``: the reservations (``results.ledger.RESERVATIONS``) the evaluator accepts;
    ``template``: the RFP's own workbook, to hold the bundled template to."""
    check_reservation_names(accept)
    check_template_file(template)
    bundle = Path(bundle)
    if bundle.is_dir():
        refuse_links(bundle)
        return verify_tree(top_folder(bundle), bundle, suite_path, accept=accept, template=template)
    with scratch("verify") as tmp:
        safetar.extract(bundle, tmp / "bundle", limits=BUNDLE)
        # the side process forked as the command started (``early``), else now; ended
        # before the folder it reads is removed
        with CheckerSide() as side:
            return verify_tree(
                top_folder(tmp / "bundle"), bundle, suite_path, side, accept, template
            )
