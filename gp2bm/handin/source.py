"""The implementation source that ran, copied into the bundle, and its diff against the
upstream implementation.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import shutil
from pathlib import Path

from gp2bm.errors import InputError
from gp2bm.spec.manifest import BenchmarkManifest

# The local runtime's source is the folder of the script it ran; a bigger folder than this
# is not one benchmark's source (a script in /usr/bin, a home folder).
MAX_LOCAL_FILES = 5000


SKIP_NAMES = {"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache"}


def copy_file(src: Path, dest: Path) -> None:
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
            copy_file(path, dest / rel)
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


def stage_source(
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
