"""The implementation source that ran, copied into the bundle, and its diff against the
upstream implementation.

Where the source is read from is the runtime's own part (``Runtime.export_source``: out of
the image through the engine, out of the SIF, the folder of a local script); this module
copies it as plain files and writes the diff.
"""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

from gp2bm.errors import InputError
from gp2bm.files.plaintext import printable
from gp2bm.handin.sourcescan import SourceScan
from gp2bm.runtimes import get_runtime
from gp2bm.spec.manifest import BenchmarkManifest

SKIP_NAMES = {"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache"}


def copy_file(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    if os.access(src, os.X_OK):
        os.chmod(dest, 0o755)


def _kept_folders(
    here: Path, src: Path, dirs: list[str], notes: list[str], scan: SourceScan
) -> list[str]:
    """The sub-folders of ``here`` to copy: caches, VCS folders and links left out, each
    name checked (``SourceScan.check_name``)."""
    keep = []
    for d in sorted(dirs):
        if d in SKIP_NAMES:
            continue
        rel = (here / d).relative_to(src)
        if (here / d).is_symlink():
            notes.append(f"{scan.what}: link {printable(rel)} to a folder left out")
            continue
        scan.check_name(rel.as_posix(), d)
        keep.append(d)
    return keep


def copy_tree(
    src: Path,
    dest: Path,
    notes: list[str],
    what: str,
    max_files: int | None = None,
    scan: SourceScan | None = None,
) -> int:
    """Copy a source folder as plain files: links to files inside are copied as the file,
    other links are left out and listed in ``notes``; caches and VCS folders are skipped.
    Every file is looked at first (``scan``: secrets, names and sizes, ``sourcescan``).
    More than ``max_files`` files is an input error (not a source folder)."""
    src = Path(src)
    scan = scan or SourceScan(what)
    root = src.resolve()
    count = 0
    for folder, dirs, files in os.walk(src):
        here = Path(folder)
        dirs[:] = _kept_folders(here, src, dirs, notes, scan)
        for name in sorted(files):
            path = here / name
            rel = path.relative_to(src)
            if name.endswith((".pyc", ".pyo")):
                continue
            if path.is_symlink():
                target = path.resolve()
                if not target.is_file() or not target.is_relative_to(root):
                    link = printable(os.readlink(path))
                    notes.append(f"{what}: link {printable(rel)} -> {link} left out")
                    continue
            elif not path.is_file():
                notes.append(f"{what}: {printable(rel)} is not a regular file, left out")
                continue
            count += 1
            if max_files is not None and count > max_files:
                raise InputError(
                    f"{what}: {src} holds more than {max_files} files; that is not the "
                    "folder of one benchmark's source"
                )
            scan.check_file(rel.as_posix(), path)
            copy_file(path, dest / rel)
    return count


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


def stage_source(
    bench: str,
    manifest: BenchmarkManifest,
    ran: list[dict],
    runtime: str,
    target: Path,
    scratch: Path,
    notes: list[str],
    images_dir: Path | None = None,
    scan: SourceScan | None = None,
) -> tuple[str, int]:
    """Copy one benchmark's implementation source, as the runtime that ran it exports it;
    return where it came from and how many files. ``images_dir``: where the campaign kept
    the runtime's per-campaign images (apptainer's SIFs); ``scan``: what each file is
    checked by (``sourcescan``). Raises Gp2bmError when it cannot be had, RefusedSource
    for a file it must not carry."""
    what = f"{bench} source"
    scan = scan or SourceScan(what)
    ids = [i["image_id"] for i in ran if i["image_id"]]
    image = ids[0] if ids else manifest.image
    if len(set(ids)) > 1:
        notes.append(f"{bench}: runs used {len(set(ids))} images; source of {image}")
    rt = get_runtime(runtime)
    if images_dir is not None:
        rt.use_images_dir(images_dir)
    try:
        export = rt.export_source(manifest, image, scratch, notes, what)
        count = copy_tree(export.folder, target, notes, what, export.max_files, scan)
    finally:
        rt.close()
    return export.origin, count


def write_changes(
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
