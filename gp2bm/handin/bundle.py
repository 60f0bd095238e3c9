"""The hand-in bundle: a campaign as an MLPerf submission package that anyone can verify.

``gp2bm package`` stages, then writes one ``.tar.gz`` whose single top folder holds:

    <org>/results/<system>/<bench>/result_N.txt    the logs, byte for byte
    <org>/systems/<system>.json                     the MLPerf system description
    <org>/benchmarks/<bench>/implementations/<impl>/   the source that ran: copied out of
                                                    the exact image (by image id) or, for
                                                    the local runtime, the script's folder
    changes/                                        diffs against the named upstream, the
                                                    vendor's description of changes
    tool/gp2bm-VERSION-py3-none-any.whl             the gp2bm that wrote the bundle
    manifests/                                      suite and benchmark manifests, images.json
    records/, inventory.json, campaign.json         run records, telemetry, hardware
    reports/                                        results.csv, results.xlsx, report.html;
                                                    the filled RFP workbook and, under
                                                    template/, the template it was filled
                                                    from (verify fills it again)
    checks/                                         MLCommons' package checker output
    gp2bm-claims.json                               what `gp2bm score --json` says
    gp2bm-bundle.json                               how the bundle was made
    README.md, SHA256SUMS

The bundle reads as a campaign itself (same layout), so the reports, the claims and
``gp2bm verify`` all compute from the bundled logs, never from the original folder. Only
what lies inside the campaign goes in: a file of the campaign that is a symbolic link to
something outside it is refused, naming it (``stage``). MLCommons' package checker runs on
the staged tree, handed the verdicts the scoring computed for the same bytes
(``verdicts``); the ``scaling.json`` it writes stays in its scratch copies of the logs.

``build_bundle`` is the orchestration: check the inputs; then, with the campaign locked and
in a scratch folder named after this process (``scratch``: a killed package leaves it for
the next one to remove), stage the evidence, score the staged copy (through the verdict
cache), stage the sources, run the package checker, write the claims and reports,
gp2bm-bundle.json, the README, the sums and the tar. ``handin.package`` turns the command
line into these options.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gp2bm import __version__
from gp2bm.campaign.folder import Campaign
from gp2bm.campaign.layout import TOOL, BundleLayout, CampaignLayout, CampaignMeta
from gp2bm.campaign.resolve import campaign_suite
from gp2bm.errors import Gp2bmError, InputError, InvalidError, RefusedSource, UnsafeMember
from gp2bm.files.atomic import write_bytes_atomic
from gp2bm.files.plaintext import printable
from gp2bm.handin.archive import write_sums, write_tar
from gp2bm.handin.format import BUNDLE_FORMAT
from gp2bm.handin.limits import check_sizes, check_tree
from gp2bm.handin.package_check import (
    PackageCheck,
    check_package,
    load_checker,
    rcp_bypass,
    system_problems,
)
from gp2bm.handin.readme import render_readme
from gp2bm.handin.scratch import check_stopped, scratch, sweep_partial_bundles
from gp2bm.handin.secrets import manifest_secrets, secrets_in_logs
from gp2bm.handin.selfwheel import write_wheel
from gp2bm.handin.source import stage_source, write_changes
from gp2bm.handin.sourcescan import SourceScan
from gp2bm.handin.stage import stage_campaign, write_images
from gp2bm.handin.vendorpaths import VendorPaths
from gp2bm.handin.verdicts import RunVerdicts
from gp2bm.reports.claims import claims
from gp2bm.reports.completeness import incomplete
from gp2bm.reports.official import official_summary
from gp2bm.reports.rfp_workbook import FilledCell, RfpAnswers
from gp2bm.reports.view import CampaignView, ImageUse, images_used, load_campaign
from gp2bm.reports.writer import ReportTargets, write_reports
from gp2bm.results.checkpool import Progress
from gp2bm.results.verdictcache import VerdictCache, default_cache_dir
from gp2bm.runtimes import DEFAULT
from gp2bm.spec.manifest import BenchmarkManifest, suite_manifests
from gp2bm.spec.suite import Suite


@dataclass
class PackageOptions:
    allow_incomplete: bool = False
    template: Path | None = None
    changes: str | None = None
    proposed: dict[str, str] = field(default_factory=dict)
    test: dict[str, str] = field(default_factory=dict)
    upstreams: dict[str, Path] = field(default_factory=dict)
    # source files shipped though they hold a secret, relative to the implementation folder
    allow_files: list[str] = field(default_factory=list)


@dataclass
class PackageResult:
    output: Path
    top: str
    files: int
    score: float | None
    valid: bool
    package_check: PackageCheck
    rcp_bypass: list[str]
    incomplete: list[str]
    problems: list[str]
    benchmarks: dict[str, dict] = field(default_factory=dict)  # official_summary of each
    secrets_in_logs: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "bundle": str(self.output),
            "files": self.files,
            "score": self.score,
            "valid": self.valid,
            "benchmarks": self.benchmarks,
            "package_checker": self.package_check.as_dict(),
            "rcp_bypass": self.rcp_bypass,
            "incomplete": self.incomplete,
            "problems": self.problems,
            "secrets_in_logs": self.secrets_in_logs,
        }

    def failure(self, allow_incomplete: bool) -> InvalidError | None:
        """The error to exit with: the bundle is written, yet not a valid hand-in."""
        if self.problems and not allow_incomplete:
            return InvalidError(f"{self.output}: written, but {self.problems[0]}")
        return None


@dataclass
class _Bundle:
    """A bundle being made: its checked inputs, its folder, what is learnt on the way."""

    source: CampaignLayout
    output: Path
    top: str
    meta: CampaignMeta
    suite: Suite
    manifests: dict[str, BenchmarkManifest]
    options: PackageOptions
    incomplete: list[str]
    notes: list[str] = field(default_factory=list)
    scratch: Path | None = None  # set while the campaign is locked
    verdicts: RunVerdicts = field(default_factory=RunVerdicts)
    progress: Progress | None = None
    secrets: list[str] = field(default_factory=list)  # secrets the staged logs show

    def step(self, name: str, number: int) -> None:
        """Tell the progress display which of the STEPS has begun."""
        if self.progress is not None:
            self.progress(name, number - 1, STEPS)

    @property
    def work(self) -> Path:
        """The temporary folder the bundle is staged in."""
        if self.scratch is None:
            raise RuntimeError("a bundle is staged only while its campaign is locked")
        return self.scratch

    @property
    def root(self) -> Path:
        return self.source.root

    @property
    def paths(self) -> VendorPaths:
        """The vendor's folders, named by role in what the bundle carries."""
        manifests = [m.path for m in self.manifests.values()]
        return VendorPaths.of(self.root, self.suite.path, manifests)

    @property
    def staging(self) -> Path:
        return self.work / "stage"

    @property
    def dest(self) -> BundleLayout:
        """The bundle's folder while it is staged."""
        return BundleLayout.of_campaign(self.source, self.staging / self.top)


# The steps of a bundle, as the progress display counts them.
STEPS = 5

# ---------------------------------------------------------------------------- inputs


def _check_upstreams(suite: Suite, upstreams: dict[str, Path]) -> None:
    for bench, path in upstreams.items():
        if bench not in suite.benchmarks:
            raise InputError(f"--upstream {bench}: not a benchmark of suite '{suite.name}'")
        if not Path(path).is_dir():
            raise InputError(f"--upstream {bench}={path}: no such folder")


def _bundle_top(output: Path) -> str:
    """The bundle's single top folder, named after the file; a bad output path fails here,
    before the work."""
    top = output.name.removesuffix(".gz").removesuffix(".tgz").removesuffix(".tar")
    if not top or top.startswith("."):
        raise InputError(f"{output}: give the bundle a name, e.g. -o handin.tar.gz")
    output.parent.mkdir(parents=True, exist_ok=True)
    if not os.access(output.parent, os.W_OK):
        raise InputError(f"{output.parent}: not writable")
    return top


def _check_inputs(
    root: Path, output: Path, suite_path: Path | None, options: PackageOptions
) -> _Bundle:
    """Everything that can be wrong with the campaign or the options, before any work."""
    meta, suite = campaign_suite(root, suite_path)
    source = CampaignLayout.of(root, meta)
    manifests = suite_manifests(suite)
    _check_upstreams(suite, options.upstreams)
    if not source.results_dir.is_dir():
        raise InputError(f"{root}: no results yet ({source.results_dir} is absent)")
    incomplete: list[str] = []
    for text, short in system_problems(source.system_file, root):
        if not options.allow_incomplete:
            raise InvalidError(f"{text}, or pass --allow-incomplete")
        incomplete.append(short)
    top = _bundle_top(output)
    return _Bundle(source, output, top, meta, suite, manifests, options, incomplete)


# ---------------------------------------------------------------------------- staging


def _stage_evidence(bundle: _Bundle) -> tuple[str, CampaignView, dict[str, list[ImageUse]]]:
    """Copy the evidence, then score the copy once: the claims, the reports and the images
    that ran all come from the bundled logs. Returns the bundled suite's path too."""
    dest = bundle.dest
    suite_rel, manifest_files = stage_campaign(
        bundle.source,
        dest,
        bundle.meta,
        bundle.suite,
        bundle.manifests,
        bundle.notes,
        bundle.paths,
    )
    bundle.secrets = secrets_in_logs(dest, bundle.manifests)
    bundle.notes += [f"{s} (the log is kept as it is: it is the evidence)" for s in bundle.secrets]
    load_checker()  # before the checker processes fork: they share its imports
    view = load_campaign(
        dest.root, dest.root / suite_rel, cache=bundle.verdicts, progress=bundle.progress
    )
    used = images_used(view)
    write_images(bundle.dest, bundle.manifests, manifest_files, used)
    return suite_rel, view, used


def _stage_one_source(bundle: _Bundle, bench: str, ran: list[ImageUse], allowed: set[str]) -> dict:
    """One benchmark's implementation source and its diff: where it came from, how many
    files. A file it must not carry is refused (``sourcescan``), --allow-incomplete or not;
    the --allow-file paths it holds are taken from ``allowed``."""
    manifest = bundle.manifests[bench]
    scan = SourceScan(
        f"{bench} source", manifest_secrets(manifest), frozenset(bundle.options.allow_files)
    )
    runtime = (ran[0].runtime if ran else None) or bundle.meta.runtime or DEFAULT
    folder = bundle.dest.implementation_dir(bench, manifest.implementation_name)
    rel = bundle.dest.relative(folder)
    try:
        origin, count = stage_source(
            bench,
            manifest,
            [image.as_dict() for image in ran],
            runtime,
            folder,
            bundle.work / f"image-{bench}",
            bundle.notes,
            images_dir=bundle.source.images_dir,  # a runtime's per-campaign images
            scan=scan,
        )
    except RefusedSource:
        raise
    except Gp2bmError as exc:
        if not bundle.options.allow_incomplete:
            raise
        bundle.incomplete.append(f"{bench}: implementation source missing: {exc}")
        origin, count = f"missing: {exc}", 0
    bundle.notes += scan.shipped
    allowed -= scan.seen
    upstream = bundle.options.upstreams.get(bench)
    diff = write_changes(bench, manifest, upstream, folder, rel, bundle.dest.files.changes_dir)
    return {"path": rel, "origin": origin, "files": count, "diff": diff}


def _stage_sources(bundle: _Bundle, used: dict[str, list[ImageUse]]) -> dict[str, dict]:
    """Every benchmark's source, its diff, and the vendor's description of changes."""
    implementations = {}
    unmatched = set(bundle.options.allow_files)
    for bench in bundle.manifests:
        implementations[bench] = _stage_one_source(bundle, bench, used.get(bench, []), unmatched)
    if unmatched:
        raise InputError(
            f"--allow-file {printable(sorted(unmatched)[0], 300)}: no such file in the "
            "implementation source of any benchmark (give its path relative to the "
            "implementation folder)"
        )
    if bundle.options.changes is not None:
        bundle.dest.files.description_of_changes.write_text(bundle.options.changes + "\n")
    return implementations


# ---------------------------------------------------------------------------- checking


def _scaling_notes(check: PackageCheck, view: CampaignView) -> list[str]:
    """Where the package checker would scale a result otherwise than the claims do."""
    notes = []
    for where, factor in check.scaling.items():
        scored = view.score.benchmarks.get(where.rsplit("/", 1)[-1])
        if scored is None:
            continue
        bench, used_factor = scored.benchmark, scored.scaling_factor
        if used_factor is None or abs(factor - used_factor) > 1e-9 * factor:
            used = "none" if used_factor is None else f"{used_factor:g}"
            notes.append(
                f"{bench}: MLCommons' package checker would write scaling.json with factor "
                f"{factor:.6g} (RCP normalisation); the claims use {used}"
            )
    return notes


def _run_package_checker(bundle: _Bundle, view: CampaignView) -> tuple[PackageCheck, list[str]]:
    """MLCommons' package checker on the staged tree (after the suite's RCP bypass files);
    its log goes to checks/. Returns its verdict and the bypassed benchmarks."""
    dest = bundle.dest
    bypass = rcp_bypass(bundle.suite, dest)
    if bundle.source.system_file.is_file():
        check = check_package(
            dest.org_dir, bundle.suite.ruleset, bundle.work / "checker", bundle.verdicts
        )
    else:
        check = PackageCheck(False, False, reason="no system description")
    bundle.notes += _scaling_notes(check, view)
    dest.files.checks_dir.mkdir()
    dest.files.checker_log.write_text(check.log or f"not run: {check.reason}\n")
    return check, bypass


def _problems(view: CampaignView, check: PackageCheck) -> list[str]:
    problems = []
    if not view.score.valid:
        problems.append("the campaign has no valid score")
    if check.ran and not check.passed:
        problems.append("MLCommons' package checker failed: " + "; ".join(check.errors[:3]))
    return problems


# ---------------------------------------------------------------------------- writing


def _workbook_complete(
    bundle: _Bundle, view: CampaignView, rfp: Path | None, filled: list[FilledCell]
) -> None:
    """A filled RFP workbook that lacks an answer (a blank description of changes, a
    placeholder) is refused, unless --allow-incomplete: then the bundle says so."""
    known = incomplete(view)  # the campaign's own gaps, said already
    gaps = [g for cell in filled for g in cell.gaps if g not in known]
    if rfp is None or not gaps:
        return
    if not bundle.options.allow_incomplete:
        raise InvalidError(
            f"{rfp.name}: the filled RFP workbook is incomplete: {'; '.join(gaps)}; or pass "
            "--allow-incomplete"
        )
    bundle.incomplete += [f"RFP workbook {rfp.name}: {g}" for g in gaps]


def _write_claims_and_reports(bundle: _Bundle, view: CampaignView) -> list[str]:
    """The claims and the reports, all computed from the bundled logs; returns the reports'
    paths in the bundle."""
    dest = bundle.dest
    dest.files.claims_file.write_text(json.dumps(claims(view), indent=2) + "\n")
    targets = ReportTargets(
        csv=dest.report_file("csv"), xlsx=dest.report_file("xlsx"), html=dest.report_file("html")
    )
    options = bundle.options
    if options.template is not None:
        targets.rfp = dest.reports_dir / Path(options.template).name
        targets.answers = RfpAnswers(
            options.template, options.changes, options.proposed, options.test
        )
    _, filled = write_reports(view, targets)
    _workbook_complete(bundle, view, targets.rfp, filled)
    written = [targets.csv, targets.xlsx, targets.html, targets.rfp]
    if options.template is not None:
        kept = dest.rfp_template(Path(options.template).name)
        kept.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(kept, Path(options.template).read_bytes())  # verify fills it again
        written.append(kept)
    return [dest.relative(path) for path in written if path is not None]


def _bundle_meta(bundle: _Bundle, suite_rel: str, view: CampaignView, **parts) -> dict:
    """gp2bm-bundle.json: how the bundle was made. ``parts``: package_checker, rcp_bypass,
    implementations, reports and the wheel of the gp2bm that wrote it."""
    return {
        "bundle_format": BUNDLE_FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "gp2bm_version": __version__,
        # the campaign folder's name: no path of the vendor's machine
        "campaign": bundle.root.resolve().name,
        "suite_file": suite_rel,
        "org": bundle.source.org,
        "system": bundle.source.system,
        "ruleset": bundle.suite.ruleset,
        "score": view.score.score,
        "package_checker": parts["package_checker"],
        "rcp_bypass": parts["rcp_bypass"],
        "implementations": bundle.paths.document(parts["implementations"]),
        "reports": parts["reports"],
        "gp2bm_wheel": {"path": f"{TOOL}/{parts['wheel'].name}", **parts["wheel"].as_dict()},
        "ledger": view.ledger.as_dict(),
        # what gp2bm says names the vendor's folders by role; the checker's words about the
        # logs are kept as verify recomputes them (they quote the logs, which travel as they are)
        "incomplete": bundle.paths.document(bundle.incomplete),
        "notes": bundle.paths.document(bundle.notes),
    }


# ---------------------------------------------------------------------------- package


def _within_verify_limits(bundle: _Bundle) -> None:
    """Refuse to write a bundle that ``gp2bm verify`` would refuse (a name it refuses, too
    many members or bytes, a log past the size MLCommons' checkers are run on, too many
    logs or files too large to read)."""
    check_tree(bundle.dest.root, bundle.output)
    try:
        check_sizes(bundle.dest.root, bundle.output)
    except UnsafeMember as exc:
        raise InvalidError(
            f"{exc} (gp2bm verify refuses a bundle past its limits: nothing was written)"
        ) from None


def _make(bundle: _Bundle) -> PackageResult:
    """Stage, score, check and write the bundle in its temporary folder; then tar it."""
    bundle.dest.root.mkdir(parents=True)
    bundle.step("copying and scoring the logs", 1)
    suite_rel, view, used = _stage_evidence(bundle)
    check_stopped()
    bundle.step("copying the implementation source", 2)
    implementations = _stage_sources(bundle, used)
    bundle.step("MLCommons' package checker", 3)
    check, bypass = _run_package_checker(bundle, view)
    check_stopped()
    bundle.step("writing the reports", 4)
    reports = _write_claims_and_reports(bundle, view)
    wheel = write_wheel(bundle.dest.files.tool_dir)
    meta = _bundle_meta(
        bundle,
        suite_rel,
        view,
        package_checker=check.as_dict(),
        rcp_bypass=bypass,
        implementations=implementations,
        reports=reports,
        wheel=wheel,
    )
    dest = bundle.dest
    dest.files.bundle_file.write_text(json.dumps(meta, indent=2) + "\n")
    present = {p.name for p in dest.root.iterdir()}
    dest.files.readme_file.write_text(render_readme(view, meta, check, bypass, present))
    bundle.step("SHA256SUMS and the archive", 5)
    _within_verify_limits(bundle)
    files = write_sums(dest)
    check_stopped()
    write_tar(bundle.staging, bundle.top, bundle.output)
    bundle.step("done", STEPS + 1)
    return PackageResult(
        output=bundle.output,
        top=bundle.top,
        files=files,
        score=view.score.score,
        valid=view.score.valid,
        package_check=check,
        rcp_bypass=bypass,
        incomplete=bundle.incomplete,
        problems=_problems(view, check),
        benchmarks={n: official_summary(b) for n, b in view.score.benchmarks.items()},
        secrets_in_logs=bundle.secrets,
    )


def build_bundle(
    root: Path,
    output: Path,
    suite_path: Path | None = None,
    options: PackageOptions | None = None,
    progress: Progress | None = None,
) -> PackageResult:
    """Write the hand-in bundle of the campaign at ``root`` to ``output`` (a .tar.gz).
    ``progress``: told of each step, and of the scoring's parsing and checks."""
    bundle = _check_inputs(Path(root), Path(output), suite_path, options or PackageOptions())
    bundle.verdicts = RunVerdicts(VerdictCache(default_cache_dir()))
    bundle.progress = progress
    campaign = Campaign.open(bundle.root, bundle.suite, create=False)
    sweep_partial_bundles(bundle.output.parent)
    with campaign.lock(), scratch("package") as tmp:
        bundle.scratch = tmp
        return _make(bundle)
