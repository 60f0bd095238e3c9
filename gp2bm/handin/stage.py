"""Staging a campaign's evidence into the bundle folder: the submission tree, run records,
inventory and the manifests (secrets redacted).

Only what lies inside the campaign is staged: a result log, record, telemetry file,
inventory or system description that is a symbolic link (or lies under one) resolving
outside the campaign folder is refused with one line naming it, before the bundle is
written; a link to another file of the campaign is staged as that file's content.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import yaml

from gp2bm.campaign.layout import (
    CAMPAIGN_FILE,
    SCALING_FILE,
    BundleLayout,
    CampaignLayout,
    CampaignMeta,
    is_result_log,
    power_files,
)
from gp2bm.errors import InputError
from gp2bm.files.checksums import sha256_file
from gp2bm.files.redact import redact_document
from gp2bm.files.yamlfile import load_yaml
from gp2bm.handin.source import copy_file
from gp2bm.handin.vendorpaths import VendorPaths
from gp2bm.reports.view import ImageUse
from gp2bm.spec.suite import Suite


def inside(path: Path, root: Path) -> Path:
    """``path``, refused (InputError naming it) when it resolves outside ``root``."""
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(Path(root).resolve()):
        raise InputError(
            f"{path}: a symbolic link to {resolved}, outside the campaign {root}; a hand-in "
            "never carries a file from outside its campaign (put the file itself there)"
        )
    return path


def portable(path: str | None) -> str | None:
    """A path as a bundle may record it: an absolute one (of the vendor's machine) by its
    name only."""
    if path is None or not Path(path).is_absolute():
        return path
    return Path(path).name


def _safe_relative(name: str) -> bool:
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and ".." not in parts


def copy_manifest(src: Path, dest: Path, paths: VendorPaths | None = None) -> list[str]:
    """Copy a manifest with its secrets redacted (``redact_document``: secret environment
    values, secret options and URL passwords in command lines, anywhere in the document)
    and the vendor's folders named by role (``paths``); returns where it redacted (the file
    is then rewritten, without its comments)."""
    doc = load_yaml(src)  # as gp2bm read it (YAML 1.2 booleans: ``off`` stays a word)
    redacted, where = redact_document(doc)
    if paths is not None:
        redacted = paths.document(redacted)
    if redacted == doc:
        copy_file(src, dest)
        return []
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(redacted, sort_keys=False), encoding="utf-8")
    return where


def _copy_submission(src: CampaignLayout, dest: BundleLayout, suite: Suite) -> None:
    """The submission tree: result logs byte for byte, scaling.json, MLPerf's power logs of
    each result log, the system description."""
    for bench in suite.benchmarks:
        folder = src.benchmark_dir(bench)
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if (is_result_log(path.name) and path.is_file()) or path.name == SCALING_FILE:
                    copy_file(inside(path, src.root), dest.benchmark_dir(bench) / path.name)
                    _copy_power(src, dest, bench, path)
    if src.system_file.is_file() or src.system_file.is_symlink():
        copy_file(inside(src.system_file, src.root), dest.system_file)


def _copy_power(src: CampaignLayout, dest: BundleLayout, bench: str, log: Path) -> None:
    """A result log's power logs (``power/result_N/node_K.txt``, ``sw_K.txt``)."""
    if not is_result_log(log.name):
        return
    nodes, switches = power_files(src.benchmark_dir(bench), log.stem)
    for path in nodes + switches:
        rel = path.relative_to(src.benchmark_dir(bench))
        copy_file(inside(path, src.root), dest.benchmark_dir(bench) / rel)


def _copy_record(path: Path, dest: Path, paths: VendorPaths) -> None:
    """A run record (JSON) with the vendor's folders named by role (its command, its
    manifest); another file (telemetry, an attempt's log) byte for byte."""
    if path.suffix != ".json":
        copy_file(path, dest)
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        copy_file(path, dest)  # read strictly by verify, which names what is wrong
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(paths.document(data), indent=2, sort_keys=True) + "\n")


def _copy_records(
    src: CampaignLayout, dest: BundleLayout, notes: list[str], paths: VendorPaths
) -> None:
    """Run records and telemetry; a run still in progress (.partial) is left out."""
    records = src.records_root
    if not records.is_dir():
        return
    for path in sorted(records.rglob("*")):
        rel = path.relative_to(records)
        if not path.is_file() or path.name.startswith(".") or path.suffix == ".lock":
            continue
        if path.name.endswith(".partial"):
            notes.append(f"{src.relative(path)}: a run in progress, left out")
            continue
        _copy_record(inside(path, src.root), dest.records_root / rel, paths)


def _copy_top_files(src: CampaignLayout, dest: BundleLayout) -> None:
    """inventory.json, nvidia-smi output...: the campaign's own JSON and text files."""
    for path in sorted(src.root.iterdir()):
        if (
            path.is_file()
            and not path.name.startswith(".")
            and path.name != CAMPAIGN_FILE
            and path.suffix in (".json", ".txt")
        ):
            copy_file(inside(path, src.root), dest.root / path.name)


def _copy_manifests(
    dest: BundleLayout, suite: Suite, manifests: dict, notes: list[str], paths: VendorPaths
) -> dict[str, str]:
    """Each benchmark manifest under manifests/, secrets redacted; returns their paths."""
    manifest_files = {}
    for bench, manifest in manifests.items():
        rel = suite.benchmarks[bench].manifest
        name = rel if rel is not None and _safe_relative(rel) else manifest.path.name
        target = dest.files.manifests_dir / name
        manifest_files[bench] = dest.relative(target)
        redacted = copy_manifest(manifest.path, target, paths)
        if redacted:
            notes.append(
                f"{manifest_files[bench]}: secret values redacted ({', '.join(redacted)}); "
                "manifest_sha256 in images.json is the original file's"
            )
    return manifest_files


def stage_campaign(
    src: CampaignLayout,
    dest: BundleLayout,
    meta: CampaignMeta,
    suite: Suite,
    manifests: dict,
    notes: list[str],
    paths: VendorPaths,
) -> tuple[str, dict[str, str]]:
    """Copy the evidence: the submission tree (logs byte for byte, scaling.json, the system
    description), campaign.json pointing at the bundled suite, run records, the inventory
    and the manifests. Returns the bundled suite's path and each manifest's."""
    if suite.path is None:
        raise InputError(f"suite '{suite.name}' has no file to bundle")
    _copy_submission(src, dest, suite)
    suite_file = dest.files.manifests_dir / Path(suite.path).name
    suite_rel = dest.relative(suite_file)
    extra = dict(meta.extra, suite_file_original=portable(meta.suite_file))
    bundled = replace(meta, suite_file=suite_rel, extra=extra)
    dest.meta_file.write_text(json.dumps(bundled.to_dict(), indent=2, sort_keys=True) + "\n")
    _copy_records(src, dest, notes, paths)
    _copy_top_files(src, dest)
    copy_file(Path(suite.path), suite_file)
    return suite_rel, _copy_manifests(dest, suite, manifests, notes, paths)


def write_images(
    dest: BundleLayout, manifests: dict, manifest_files: dict, used: dict[str, list[ImageUse]]
) -> None:
    """manifests/images.json: per benchmark, the image the manifest names and those that ran."""
    images = {
        bench: {
            "manifest": manifest_files[bench],
            "manifest_sha256": sha256_file(m.path),
            "image": m.image,
            "pinned": m.pinned,
            "digest": m.digest,
            "implementation": m.implementation_name,
            "source_dir": m.source_dir,
            "upstream": m.upstream,
            "ran": [image.as_dict() for image in used.get(bench, [])],
        }
        for bench, m in manifests.items()
    }
    dest.files.images_file.write_text(json.dumps(images, indent=2) + "\n")
