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

import contextlib
import difflib
import io
import json
import logging
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gp2bm import __version__
from gp2bm.campaign.folder import CAMPAIGN_FILE, Campaign
from gp2bm.campaign.resolve import campaign_suite
from gp2bm.errors import Gp2bmError, InputError, InvalidError
from gp2bm.files.checksums import sha256_file, sha256sum_text
from gp2bm.files.jsonfile import read_json
from gp2bm.reports.view import CampaignView, claims, images_used, load_campaign
from gp2bm.results import rules
from gp2bm.results.resultset import RESULT_RE
from gp2bm.spec.manifest import BenchmarkManifest, suite_manifests
from gp2bm.spec.suite import Suite

CLAIMS_FILE = "gp2bm-claims.json"
BUNDLE_FILE = "gp2bm-bundle.json"
SUMS_FILE = "SHA256SUMS"
README_FILE = "README.md"
BUNDLE_FORMAT = 1
PARAMS_FILE = "package_checker_params"
# The package checker compares each line with readlines() output, newline included: only a
# last line without a newline ever matches. So the file holds exactly this, no newline.
RCP_BYPASS = "rcp-bypass"
REPORTS = {"csv": "results.csv", "xlsx": "results.xlsx", "html": "report.html"}
# The local runtime's source is the folder of the script it ran; a bigger folder than this
# is not one benchmark's source (a script in /usr/bin, a home folder).
MAX_LOCAL_FILES = 5000
SKIP_NAMES = {"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache"}


@dataclass
class PackageCheck:
    """The verdict of MLCommons' package checker and what it logged."""

    ran: bool
    passed: bool
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    log: str = ""
    scaling: dict[str, float] = field(default_factory=dict)
    reason: str = ""

    def as_dict(self) -> dict:
        return {
            "ran": self.ran,
            "passed": self.passed,
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "scaling_written_by_checker": dict(self.scaling),
            "reason": self.reason,
        }


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


def check_package(org_dir: Path, ruleset: str, scratch: Path) -> PackageCheck:
    """MLCommons' package checker (as a library) on a copy of ``org_dir``.

    ``check_training_package`` returns nothing and prints; its verdict is in what it logs:
    an ERROR record, or no closing "FOUND NO ERRORS" line, is a failure.
    """
    from mlperf_logging.compliance_checker import mlp_compliance
    from mlperf_logging.package_checker import package_checker

    copy = scratch / org_dir.name
    shutil.copytree(org_dir, copy)
    crashed = None
    mlp_compliance.enqueued_configs.clear()
    sink = io.StringIO()
    try:
        with (
            rules.captured_logging() as records,
            contextlib.redirect_stdout(sink),
            contextlib.redirect_stderr(sink),
        ):
            try:
                package_checker.check_training_package(
                    str(copy),
                    "training",
                    ruleset,
                    False,  # quiet
                    False,  # werror
                    False,  # rcp_bypass: only where a folder's package_checker_params says
                    False,  # rcp_bert_train_samples
                    False,  # seed_checker_bypass
                    os.devnull,
                )
            except Exception as exc:  # its code reads files the bundle may lack
                crashed = f"package checker crashed: {type(exc).__name__}: {exc}"
    finally:
        mlp_compliance.enqueued_configs.clear()
    lines = []
    errors, warnings = [], []
    for rec in records:
        text = rec.getMessage().replace(str(scratch) + "/", "")
        lines.append(f"{rec.levelname} - {text}")
        if rec.levelno >= logging.ERROR:
            errors.append(" ".join(text.split())[:300])
        elif rec.levelno == logging.WARNING:
            warnings.append(" ".join(text.split())[:300])
    if crashed:
        errors.append(crashed)
        lines.append(f"ERROR - {crashed}")
    finished = any("FOUND NO ERRORS" in ln for ln in lines)
    scaling = {}
    results = copy / "results"
    if results.is_dir():
        for path in sorted(results.glob("*/*/scaling.json")):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                factor = json.loads(path.read_text())["scaling_factor"]
                scaling[f"{path.parent.parent.name}/{path.parent.name}"] = float(factor)
    return PackageCheck(
        ran=True,
        passed=finished and not errors,
        errors=errors,
        warnings=warnings,
        log="\n".join(lines) + "\n",
        scaling=scaling,
    )


def system_problems(path: Path, root: Path) -> list[tuple[str, str]]:
    """What keeps the system description from a valid hand-in: (message, short form).

    Placeholders pass MLCommons' checker (it only asks that each field exist), and a
    division other than "closed" makes its package checker skip the seed and RCP checks:
    both are refused here.
    """
    from gp2bm.node.systemdesc import problems

    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    fix = "fill in system.yaml beside the suite, then `gp2bm inventory --campaign DIR`"
    if not path.is_file():
        return [
            (
                f"{path}: no MLPerf system description; MLCommons' package checker needs it "
                f"({fix})",
                f"no system description ({rel})",
            )
        ]
    try:
        desc = read_json(path)
    except InputError as exc:
        return [(str(exc), f"system description unreadable ({rel})")]
    found = problems(desc)
    out = []
    if found:
        names = ", ".join(p.field for p in found)
        out.append(
            (
                f"{path}: {len(found)} field(s) still a placeholder or empty ({names}); {fix}",
                f"system description {rel}: not filled in: {names}",
            )
        )
    division = desc.get("division")
    if not any(p.field == "division" for p in found) and division != "closed":
        out.append(
            (
                f"{path}: division is {division!r}, not 'closed': the MLPerf Training closed "
                "division is what the RFP asks for (and MLCommons' checker skips the seed and "
                "RCP checks otherwise)",
                f"system description {rel}: division {division!r}, not 'closed'",
            )
        )
    return out


# ---------------------------------------------------------------------------- copying


def _copy_manifest(src: Path, dest: Path) -> list[str]:
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
        _copy_file(src, dest)
        return []
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return names


def _copy_file(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    if os.access(src, os.X_OK):
        os.chmod(dest, 0o755)


def copy_tree(
    src: Path, dest: Path, notes: list[str], what: str, max_files: int | None = None
) -> int:
    """Copy a source folder as plain files: links to files inside are copied as the file,
    other links are left out and listed in ``notes``; caches and VCS folders are skipped.
    More than ``max_files`` files is an input error (not a source folder)."""
    src = Path(src)
    root = src.resolve()
    count = 0
    for folder, dirs, files in os.walk(src):
        here = Path(folder)
        keep = []
        for d in sorted(dirs):
            if d in SKIP_NAMES:
                continue
            if (here / d).is_symlink():
                notes.append(f"{what}: link {(here / d).relative_to(src)} to a folder left out")
                continue
            keep.append(d)
        dirs[:] = keep
        for name in sorted(files):
            path = here / name
            rel = path.relative_to(src)
            if name.endswith((".pyc", ".pyo")):
                continue
            if path.is_symlink():
                target = path.resolve()
                if not target.is_file() or not target.is_relative_to(root):
                    notes.append(f"{what}: link {rel} -> {os.readlink(path)} left out")
                    continue
            elif not path.is_file():
                notes.append(f"{what}: {rel} is not a regular file, left out")
                continue
            count += 1
            if max_files is not None and count > max_files:
                raise InputError(
                    f"{what}: {src} holds more than {max_files} files; that is not the "
                    "folder of one benchmark's source"
                )
            _copy_file(path, dest / rel)
    return count


def local_source_dir(manifest: BenchmarkManifest) -> Path | None:
    """The folder of the script the local runtime runs (e.g. containers/smoke/)."""
    import sys

    from gp2bm.runtimes.local import expand

    if manifest.local is None:
        return None
    base = Path(manifest.path).resolve().parent
    if manifest.local.workdir:
        base = Path(expand(manifest.local.workdir, manifest))
    for arg in manifest.local.command:
        text = expand(arg, manifest)
        if text == sys.executable or text.startswith("-"):
            continue
        path = Path(text) if Path(text).is_absolute() else base / text
        if path.is_file():
            return path.resolve().parent
    return None


def image_source(
    runtime: str,
    image: str,
    source_dir: str,
    dest: Path,
    scratch: Path,
    notes: list[str],
    what: str,
) -> int:
    """Copy ``source_dir`` out of ``image`` (an image id) without starting a container,
    through the Engine API of the runtime that ran it (Docker, or Podman's compatible one)."""
    import docker

    from gp2bm.runtimes import get_runtime
    from gp2bm.runtimes.docker import DockerRuntime

    engine = get_runtime(runtime)
    if not isinstance(engine, DockerRuntime):
        raise InputError(
            f"{what}: copying the source out of a {runtime} image is not supported; "
            "add it to the bundle by hand"
        )
    client = engine.client
    container = None
    try:
        try:
            container = client.containers.create(
                image, command=["true"], labels={"io.gp2bm.package": "source"}
            )
        except docker.errors.ImageNotFound:
            raise InputError(
                f"{what}: image {image} is not in the Docker Engine (run `gp2bm pull`)"
            ) from None
        except docker.errors.APIError as exc:
            raise InputError(f"{what}: cannot create a container of {image}: {exc}") from None
        try:
            chunks, _stat = container.get_archive(source_dir)
        except docker.errors.NotFound:
            raise InputError(f"{what}: image {image} has no {source_dir}") from None
        unpacked = scratch / "unpacked"
        skipped: list[str] = []
        from gp2bm.files.safetar import extract_stream

        extract_stream(chunks, unpacked, f"{image}:{source_dir}", scratch / "source.tar", skipped)
        notes += [f"{what}: {s}" for s in skipped]
        inner = unpacked / Path(source_dir.rstrip("/")).name
        return copy_tree(inner if inner.is_dir() else unpacked, dest, notes, what)
    finally:
        if container is not None:
            with contextlib.suppress(Exception):
                container.remove(force=True)
        client.close()


def _is_text(data: bytes) -> bool:
    if b"\0" in data[:8192]:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _files(folder: Path) -> dict[str, Path]:
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part in SKIP_NAMES for part in rel.parts) or not path.is_file():
            continue
        if path.name.endswith((".pyc", ".pyo")):
            continue
        out[rel.as_posix()] = path
    return out


def tree_diff(upstream: Path, implementation: Path) -> str:
    """A unified diff (``patch -p1`` applies it to the upstream) of two source folders."""
    old, new = _files(upstream), _files(implementation)
    chunks = []
    for rel in sorted(set(old) | set(new)):
        a = old[rel].read_bytes() if rel in old else b""
        b = new[rel].read_bytes() if rel in new else b""
        if rel in old and rel in new and a == b:
            continue
        if not (_is_text(a) and _is_text(b)):
            chunks.append(f"Binary files a/{rel} and b/{rel} differ\n")
            continue
        lines = difflib.unified_diff(
            a.decode("utf-8").splitlines(keepends=True),
            b.decode("utf-8").splitlines(keepends=True),
            f"a/{rel}" if rel in old else "/dev/null",
            f"b/{rel}" if rel in new else "/dev/null",
        )
        for line in lines:
            if not line.endswith("\n"):
                line += "\n\\ No newline at end of file\n"
            chunks.append(line)
    return "".join(chunks)


def _upstream_path(manifest: BenchmarkManifest, given: Path | None) -> tuple[Path | None, str]:
    """A local folder to diff against, or None and why not."""
    if given is not None:
        return given, f"--upstream {given}"
    ref = manifest.upstream
    if not ref:
        return None, "the manifest names no upstream"
    if ref.startswith("file://"):
        ref = ref[len("file://") :]
    elif "://" in ref:
        return None, f"upstream {ref} is remote; gp2bm works offline"
    path = Path(ref)
    if not path.is_absolute():
        path = Path(manifest.path).resolve().parent / path
    if not path.is_dir():
        return None, f"upstream folder {path} not found"
    return path, f"upstream {manifest.upstream}"


# ---------------------------------------------------------------------------- writing


def write_sums(top: Path) -> int:
    text, count = sha256sum_text(top, exclude=(SUMS_FILE,))
    (top / SUMS_FILE).write_text(text, encoding="utf-8")
    return count


def write_tar(staging: Path, top: str, output: Path) -> None:
    """A gzip tar of ``staging/top``: sorted members, no owner names, plain modes."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        if info.isdir():
            info.mode = 0o755
        else:
            info.mode = 0o755 if info.mode & 0o100 else 0o644
        return info

    try:
        with tarfile.open(tmp, "w:gz", format=tarfile.PAX_FORMAT) as tar:
            root = staging / top
            tar.add(root, arcname=top, recursive=False, filter=clean)
            for path in sorted(root.rglob("*")):
                arcname = f"{top}/{path.relative_to(root).as_posix()}"
                tar.add(path, arcname=arcname, recursive=False, filter=clean)
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)


def _readme(
    view: CampaignView, meta: dict, check: PackageCheck, bypass: list[str], present: set[str]
) -> str:
    score = view.score
    suite = score.suite
    lines = [
        f"# MLPerf Training hand-in: {suite.title or suite.name}",
        "",
        f"Submitter **{view.org}**, system **{view.system}**, {suite.nodes} node(s), MLPerf "
        f"Training ruleset {score.ruleset}; bundle made {meta['created']} by gp2bm "
        f"{__version__}.",
        "",
        "## Result",
        "",
        "| benchmark | result (minutes) | result (seconds) | valid | runs |",
        "|---|---|---|---|---|",
    ]
    for name in suite.benchmarks:
        b = score.benchmarks.get(name)
        if b is None:
            lines.append(f"| {name} | - | - | no results | 0 |")
            continue
        m = "-" if b.minutes is None else f"{b.minutes:.6f}"
        s = "-" if b.minutes is None else f"{b.minutes * 60:.3f}"
        lines.append(f"| {name} | {m} | {s} | {'yes' if b.valid else 'NO'} | {len(b.runs)} |")
    shown = (
        "none (not every benchmark has a valid result)"
        if score.score is None
        else (f"**{score.score:.6f}**")
    )
    lines += [
        "",
        f"Score ({suite.formula_text()}, each term weight / olympic-mean minutes): {shown}.",
        "",
        "## What is here",
        "",
        "| path | what |",
        "|---|---|",
        f"| `{view.org}/results/{view.system}/<benchmark>/result_N.txt` | the MLPerf result "
        "logs, byte for byte as the runs wrote them |",
        f"| `{view.org}/systems/{view.system}.json` | the MLPerf system description |",
        f"| `{view.org}/benchmarks/<benchmark>/implementations/<name>/` | the implementation "
        "source that ran (see below) |",
        "| `changes/` | diffs against the upstream implementation, the description of changes |",
        "| `manifests/` | the suite and benchmark manifests; `images.json`: images and digests |",
    ]
    if "records" in present:
        lines.append(
            "| `records/` | one record per run (seed, image id, cache drop, start, stop, exit "
            "code), its telemetry when sampled, interrupted attempts |"
        )
    if "inventory.json" in present:
        lines.append("| `inventory.json` | the hardware and software inventory of the node |")
    reports = ", ".join(f"`{Path(r).name}`" for r in meta["reports"])
    lines += [
        f"| `reports/` | {reports} (the HTML page works offline) |",
        "| `checks/` | MLCommons' package checker output on this tree |",
        f"| `{CLAIMS_FILE}` | what `gp2bm score --json` computes from these logs |",
        f"| `{BUNDLE_FILE}` | how this bundle was made |",
        f"| `{SUMS_FILE}` | SHA-256 of every other file |",
        "",
        "## Implementation source",
        "",
    ]
    for bench, info in meta["implementations"].items():
        lines.append(f"- **{bench}** ({info['path']}): {info['origin']}")
    lines += [
        "",
        "## How to verify",
        "",
        "1. `sha256sum -c SHA256SUMS` in this folder: nothing was changed after packaging.",
        "2. `gp2bm verify BUNDLE.tar.gz` re-checks the sums, re-parses every log, recomputes "
        "each benchmark's result and the score from the raw logs, re-runs MLCommons' "
        "compliance, seed and RCP checks and its package checker, and compares everything "
        "with what this bundle and its reports claim. Add `--suite FILE` with your own copy of "
        "the RFP's suite to score against it rather than the bundled one.",
        f"3. With MLCommons' tools alone: `python3 -m mlperf_logging.package_checker {view.org} "
        f"training {score.ruleset}` (on a copy: it rewrites `scaling.json` files).",
        "",
        "Result arithmetic: a run's time is (run_stop - run_start) / 60000 minutes; the "
        "olympic mean drops the fastest and the slowest run (a failed run takes the place of "
        "the slowest); seconds = 60 x minutes.",
        "",
        f"MLCommons' package checker on this tree: **{'passed' if check.passed else 'FAILED'}**"
        + ("" if check.ran else f" (not run: {check.reason})")
        + ".",
    ]
    for e in check.errors[:20]:
        lines.append(f"- {e}")
    if bypass:
        lines += [
            "",
            "## RCP bypass",
            "",
            f"The suite `{suite.name}` turns the reference-convergence-point (RCP) check off "
            "(`checks.rcp: false`): its workloads are not the reference models, so their "
            "convergence cannot match MLCommons' RCPs. For the benchmarks below, whose RCP "
            f"check fails, the result folder holds a `{PARAMS_FILE}` file with the line "
            f"`{RCP_BYPASS}`: the package checker's documented per-benchmark bypass (the same "
            "as its `--rcp-bypass` option, limited to that folder). In an MLPerf submission "
            "a bypassed RCP is reviewed by the submission committee.",
            "",
        ]
        lines += [f"- {b}" for b in bypass]
    if meta["incomplete"]:
        lines += ["", "## Incomplete", ""]
        lines += [f"- {x}" for x in meta["incomplete"]]
    if meta["notes"]:
        lines += ["", "## Notes", ""]
        lines += [f"- {x}" for x in meta["notes"]]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- package


def _safe_relative(name: str) -> bool:
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and ".." not in parts


def _stage_campaign(
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
                    _copy_file(path, dest / org / "results" / system / bench / path.name)
    sys_json = root / org / "systems" / f"{system}.json"
    if sys_json.is_file():
        _copy_file(sys_json, dest / org / "systems" / sys_json.name)

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
            _copy_file(path, dest / "records" / rel)
    for path in sorted(root.iterdir()):  # inventory.json, nvidia-smi output...
        if (
            path.is_file()
            and not path.name.startswith(".")
            and path.name != CAMPAIGN_FILE
            and path.suffix in (".json", ".txt")
        ):
            _copy_file(path, dest / path.name)

    _copy_file(Path(suite.path), dest / suite_rel)
    manifest_files = {}
    for bench, manifest in manifests.items():
        rel = suite.benchmarks[bench].manifest
        manifest_files[bench] = f"manifests/{rel if _safe_relative(rel) else manifest.path.name}"
        redacted = _copy_manifest(manifest.path, dest / manifest_files[bench])
        if redacted:
            notes.append(
                f"{manifest_files[bench]}: secret values redacted ({', '.join(redacted)}); "
                "manifest_sha256 in images.json is the original file's"
            )
    return suite_rel, manifest_files


def _write_images(dest: Path, manifests: dict, manifest_files: dict, used: dict) -> None:
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


def _stage_source(
    bench: str,
    manifest: BenchmarkManifest,
    ran: list[dict],
    runtime: str,
    target: Path,
    scratch: Path,
    notes: list[str],
) -> tuple[str, int]:
    """Copy one benchmark's implementation source; return where it came from and how many
    files. Raises Gp2bmError when it cannot be had."""
    what = f"{bench} source"
    if runtime == "local":
        folder = local_source_dir(manifest)
        if folder is None:
            raise InputError(f"{manifest.path}: cannot tell which folder the local command runs")
        count = copy_tree(folder, target, notes, what, MAX_LOCAL_FILES)
        return (
            f"the local runtime ran `{folder}` as a plain process; copied from that folder "
            "when the bundle was made",
            count,
        )
    ids = [i["image_id"] for i in ran if i["image_id"]]
    image = ids[0] if ids else manifest.image
    if len(set(ids)) > 1:
        notes.append(f"{bench}: runs used {len(set(ids))} images; source of {image}")
    if not manifest.source_dir:
        raise InputError(
            f"{manifest.path}: no implementation.source (where the source lives in the image)"
        )
    count = image_source(runtime, image, manifest.source_dir, target, scratch, notes, what)
    return (
        f"copied out of image {image} ({manifest.source_dir}), the image the runs used, "
        "without starting it",
        count,
    )


def _write_changes(
    bench: str,
    manifest: BenchmarkManifest,
    upstream_given: Path | None,
    impl: Path,
    rel: str,
    changes: Path,
) -> str:
    """changes/<bench>.diff against the upstream, or a note saying why there is none."""
    changes.mkdir(exist_ok=True)
    upstream, why = _upstream_path(manifest, upstream_given)
    if upstream is not None and impl.is_dir():
        (changes / f"{bench}.diff").write_text(tree_diff(upstream, impl), encoding="utf-8")
        return f"changes/{bench}.diff ({why})"
    text = f"{bench}: no diff against an upstream: {why}.\n"
    if manifest.upstream and "://" in manifest.upstream:
        text += (
            f"To make it where the network is reachable: fetch {manifest.upstream} and run "
            f"`diff -ruN UPSTREAM {rel}`, or give a local copy to "
            f"`gp2bm package --upstream {bench}=FOLDER`.\n"
        )
    (changes / f"{bench}.upstream.txt").write_text(text, encoding="utf-8")
    return f"none ({why})"


def rcp_bypass(suite: Suite, results: Path) -> list[str]:
    """Where the suite turns RCP off and a benchmark's RCP check fails, the package checker's
    per-folder bypass file; returns those benchmarks."""
    bypass = []
    if suite.rcp:
        return bypass
    for bench in suite.benchmarks:
        folder = results / bench
        if folder.is_dir() and not rules.check_rcp(folder, suite.ruleset).passed:
            (folder / PARAMS_FILE).write_text(RCP_BYPASS)
            bypass.append(bench)
    return bypass


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
        suite_rel, manifest_files = _stage_campaign(root, dest, meta, suite, manifests, notes)
        # one scoring of the bundled logs: for the claims, the reports and images_used
        view = load_campaign(dest, dest / suite_rel)
        used = images_used(view)
        _write_images(dest, manifests, manifest_files, used)

        implementations = {}
        for bench, manifest in manifests.items():
            rel = f"{org}/benchmarks/{bench}/implementations/{manifest.implementation_name}"
            ran = used.get(bench, [])
            runtime = ran[0]["runtime"] if ran else meta.get("runtime", "docker")
            try:
                origin, count = _stage_source(
                    bench, manifest, ran, runtime, dest / rel, Path(tmp) / f"image-{bench}", notes
                )
            except Gp2bmError as exc:
                if not options.allow_incomplete:
                    raise
                incomplete.append(f"{bench}: implementation source missing: {exc}")
                origin, count = f"missing: {exc}", 0
            diff = _write_changes(
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
        (dest / README_FILE).write_text(_readme(view, bundle_meta, check, bypass, present))
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
