"""The hand-in bundle: a campaign as an MLPerf submission package that anyone can verify.

``gp2bm package`` stages, then writes one ``.tar.gz`` whose single top folder holds:

    <org>/results/<system>/<bench>/result_N.txt    the logs, byte for byte
    <org>/systems/<system>.json                     the MLPerf system description
    <org>/benchmarks/<bench>/implementations/<impl>/   the source that ran: copied out of
                                                    the exact image (by image id) or, for
                                                    the local runtime, the script's folder
    changes/                                        diffs against the named upstream, the
                                                    vendor's description of changes
    manifests/                                      suite and benchmark manifests, images.json
    records/, inventory.json, campaign.json         run records, telemetry, hardware
    reports/                                        results.csv, results.xlsx, report.html
    checks/                                         MLCommons' package checker output
    gp2bm-claims.json                               what `gp2bm score --json` says
    gp2bm-bundle.json                               how the bundle was made
    README.md, SHA256SUMS

The bundle reads as a campaign itself (same layout), so the reports, the claims and
``gp2bm verify`` all compute from the bundled logs, never from the original folder.
MLCommons' package checker runs on a scratch copy of the submission tree: it rewrites
``scaling.json`` in the result folders, which must not change what was handed in.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gp2bm import __version__
from gp2bm.campaign.folder import Campaign
from gp2bm.campaign.resolve import campaign_suite
from gp2bm.errors import Gp2bmError, InputError, InvalidError
from gp2bm.handin.archive import write_sums, write_tar
from gp2bm.handin.layout import BUNDLE_FILE, BUNDLE_FORMAT, CLAIMS_FILE, README_FILE, REPORTS
from gp2bm.handin.package_check import PackageCheck, check_package, rcp_bypass, system_problems
from gp2bm.handin.readme import render_readme
from gp2bm.handin.source import stage_source, write_changes
from gp2bm.handin.stage import stage_campaign, write_images
from gp2bm.reports.view import claims, images_used, load_campaign
from gp2bm.spec.manifest import suite_manifests


@dataclass
class PackageOptions:
    allow_incomplete: bool = False
    template: Path | None = None
    changes: str | None = None
    proposed: dict[str, str] = field(default_factory=dict)
    test: dict[str, str] = field(default_factory=dict)
    upstreams: dict[str, Path] = field(default_factory=dict)


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


# ---------------------------------------------------------------------------- checks






# ---------------------------------------------------------------------------- copying




















# ---------------------------------------------------------------------------- writing








# ---------------------------------------------------------------------------- package














def build_bundle(
    root: Path,
    output: Path,
    suite_path: Path | None = None,
    options: PackageOptions | None = None,
) -> PackageResult:
    from gp2bm.reports.csv_report import write_csv
    from gp2bm.reports.html_report import write_html
    from gp2bm.reports.xlsx_report import write_xlsx

    options = options or PackageOptions()
    root = Path(root)
    meta, suite = campaign_suite(root, suite_path)
    manifests = suite_manifests(suite)
    for bench, path in options.upstreams.items():
        if bench not in suite.benchmarks:
            raise InputError(f"--upstream {bench}: not a benchmark of suite '{suite.name}'")
        if not Path(path).is_dir():
            raise InputError(f"--upstream {bench}={path}: no such folder")
    org, system = meta["org"], meta["system"]
    results = root / org / "results" / system
    if not results.is_dir():
        raise InputError(f"{root}: no results yet ({results} is absent)")
    sys_json = root / org / "systems" / f"{system}.json"
    incomplete: list[str] = []
    for text, short in system_problems(sys_json, root):
        if not options.allow_incomplete:
            raise InvalidError(f"{text}, or pass --allow-incomplete")
        incomplete.append(short)
    output = Path(output)
    top = output.name.removesuffix(".gz").removesuffix(".tgz").removesuffix(".tar")
    if not top or top.startswith("."):
        raise InputError(f"{output}: give the bundle a name, e.g. -o handin.tar.gz")
    output.parent.mkdir(parents=True, exist_ok=True)  # a bad output path fails before the work
    if not os.access(output.parent, os.W_OK):
        raise InputError(f"{output.parent}: not writable")

    campaign = Campaign.open(root, suite, create=False)
    notes: list[str] = []
    with campaign.lock(), tempfile.TemporaryDirectory(prefix="gp2bm-package-") as tmp:
        staging = Path(tmp) / "stage"
        dest = staging / top
        dest.mkdir(parents=True)
        suite_rel, manifest_files = stage_campaign(root, dest, meta, suite, manifests, notes)
        # one scoring of the bundled logs: for the claims, the reports and images_used
        view = load_campaign(dest, dest / suite_rel)
        used = images_used(view)
        write_images(dest, manifests, manifest_files, used)

        implementations = {}
        for bench, manifest in manifests.items():
            rel = f"{org}/benchmarks/{bench}/implementations/{manifest.implementation_name}"
            ran = used.get(bench, [])
            runtime = ran[0]["runtime"] if ran else meta.get("runtime", "docker")
            try:
                origin, count = stage_source(
                    bench, manifest, ran, runtime, dest / rel, Path(tmp) / f"image-{bench}", notes
                )
            except Gp2bmError as exc:
                if not options.allow_incomplete:
                    raise
                incomplete.append(f"{bench}: implementation source missing: {exc}")
                origin, count = f"missing: {exc}", 0
            diff = write_changes(
                bench, manifest, options.upstreams.get(bench), dest / rel, rel, dest / "changes"
            )
            implementations[bench] = {"path": rel, "origin": origin, "files": count, "diff": diff}
        if options.changes is not None:
            (dest / "changes" / "DESCRIPTION.txt").write_text(options.changes + "\n")

        bypass = rcp_bypass(suite, dest / org / "results" / system)
        if sys_json.is_file():
            check = check_package(dest / org, suite.ruleset, Path(tmp) / "checker")
        else:
            check = PackageCheck(False, False, reason="no system description")
        for where, factor in check.scaling.items():
            scored = view.score.benchmarks.get(where.rsplit("/", 1)[-1])
            if scored is None:
                continue
            bench, used_factor = scored.benchmark, scored.scaling_factor
            if abs(factor - used_factor) > 1e-9 * factor:
                notes.append(
                    f"{bench}: MLCommons' package checker would write scaling.json with factor "
                    f"{factor:.6g} (RCP normalisation); the claims use {used_factor:g}"
                )
        (dest / "checks").mkdir()
        (dest / "checks" / "package_checker.log").write_text(
            check.log or f"not run: {check.reason}\n"
        )

        # the claims and the reports, all computed from the bundled logs
        (dest / CLAIMS_FILE).write_text(json.dumps(claims(view), indent=2) + "\n")
        write_csv(view, dest / "reports" / REPORTS["csv"])
        write_xlsx(view, dest / "reports" / REPORTS["xlsx"])
        write_html(view, dest / "reports" / REPORTS["html"])
        reports = [f"reports/{name}" for name in REPORTS.values()]
        if options.template is not None:
            from gp2bm.reports.rfp_workbook import fill_rfp_workbook

            name = Path(options.template).name
            fill_rfp_workbook(
                view,
                options.template,
                dest / "reports" / name,
                options.changes,
                options.proposed,
                options.test,
            )
            reports.append(f"reports/{name}")

        problems = []
        if not view.score.valid:
            problems.append("the campaign has no valid score")
        if check.ran and not check.passed:
            problems.append("MLCommons' package checker failed: " + "; ".join(check.errors[:3]))
        bundle_meta = {
            "bundle_format": BUNDLE_FORMAT,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "gp2bm_version": __version__,
            "campaign": str(root.resolve()),
            "suite_file": suite_rel,
            "org": org,
            "system": system,
            "ruleset": suite.ruleset,
            "score": view.score.score,
            "package_checker": check.as_dict(),
            "rcp_bypass": bypass,
            "implementations": implementations,
            "reports": reports,
            "incomplete": incomplete,
            "notes": notes,
        }
        (dest / BUNDLE_FILE).write_text(json.dumps(bundle_meta, indent=2) + "\n")
        present = {p.name for p in dest.iterdir()}
        (dest / README_FILE).write_text(render_readme(view, bundle_meta, check, bypass, present))
        files = write_sums(dest)
        write_tar(staging, top, output)
    return PackageResult(
        output=output,
        top=top,
        files=files,
        score=view.score.score,
        valid=view.score.valid,
        package_check=check,
        rcp_bypass=bypass,
        incomplete=incomplete,
        problems=problems,
    )
