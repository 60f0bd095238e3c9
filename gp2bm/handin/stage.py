"""Staging a campaign's evidence into the bundle folder: the submission tree, run records,
inventory and the manifests (secrets redacted).
"""

from __future__ import annotations

import json
from pathlib import Path

from gp2bm.campaign.folder import CAMPAIGN_FILE
from gp2bm.files.checksums import sha256_file
from gp2bm.handin.source import copy_file
from gp2bm.results.resultset import RESULT_RE
from gp2bm.spec.suite import Suite


def _safe_relative(name: str) -> bool:
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and ".." not in parts


def copy_manifest(src: Path, dest: Path) -> list[str]:
    """Copy a manifest, its secret environment values (HF_TOKEN=...) redacted; returns the
    names redacted (the file is then rewritten, without its comments)."""
    import yaml

    from gp2bm.files.redact import redact_env

    doc = yaml.safe_load(src.read_text(encoding="utf-8"))
    names = []
    envs = [doc.get("environment"), (doc.get("local") or {}).get("environment")]
    for env in envs:
        if isinstance(env, dict):
            redacted = redact_env({str(k): v for k, v in env.items()})
            names += [k for k in env if redacted[str(k)] != env[k]]
            env.update(redacted)
    if not names:
        copy_file(src, dest)
        return []
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return names


def stage_campaign(
    root: Path, dest: Path, meta: dict, suite: Suite, manifests: dict, notes: list[str]
) -> tuple[str, dict[str, str]]:
    """Copy the evidence: the submission tree (logs byte for byte, scaling.json, the system
    description), campaign.json pointing at the bundled suite, run records, the inventory
    and the manifests. Returns the bundled suite's path and each manifest's."""
    org, system = meta["org"], meta["system"]
    results = root / org / "results" / system
    for bench in suite.benchmarks:
        folder = results / bench
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if RESULT_RE.fullmatch(path.name) or path.name == "scaling.json":
                    copy_file(path, dest / org / "results" / system / bench / path.name)
    sys_json = root / org / "systems" / f"{system}.json"
    if sys_json.is_file():
        copy_file(sys_json, dest / org / "systems" / sys_json.name)

    suite_rel = f"manifests/{Path(suite.path).name}"
    bundled_meta = dict(meta, suite_file=suite_rel, suite_file_original=meta.get("suite_file"))
    (dest / CAMPAIGN_FILE).write_text(json.dumps(bundled_meta, indent=2, sort_keys=True) + "\n")
    records = root / "records"
    if records.is_dir():
        for path in sorted(records.rglob("*")):
            rel = path.relative_to(records)
            if not path.is_file() or path.name.startswith(".") or path.suffix == ".lock":
                continue
            if path.name.endswith(".partial"):
                notes.append(f"records/{rel}: a run in progress, left out")
                continue
            copy_file(path, dest / "records" / rel)
    for path in sorted(root.iterdir()):  # inventory.json, nvidia-smi output...
        if (
            path.is_file()
            and not path.name.startswith(".")
            and path.name != CAMPAIGN_FILE
            and path.suffix in (".json", ".txt")
        ):
            copy_file(path, dest / path.name)

    copy_file(Path(suite.path), dest / suite_rel)
    manifest_files = {}
    for bench, manifest in manifests.items():
        rel = suite.benchmarks[bench].manifest
        manifest_files[bench] = f"manifests/{rel if _safe_relative(rel) else manifest.path.name}"
        redacted = copy_manifest(manifest.path, dest / manifest_files[bench])
        if redacted:
            notes.append(
                f"{manifest_files[bench]}: secret values redacted ({', '.join(redacted)}); "
                "manifest_sha256 in images.json is the original file's"
            )
    return suite_rel, manifest_files


def write_images(dest: Path, manifests: dict, manifest_files: dict, used: dict) -> None:
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
            "ran": used.get(bench, []),
        }
        for bench, m in manifests.items()
    }
    (dest / "manifests" / "images.json").write_text(json.dumps(images, indent=2) + "\n")
