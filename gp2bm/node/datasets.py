"""The data sets an implementation needs, checked before the first run.

Each mount of a manifest may declare the files it must hold (names, or globs with the
count they must match, with an inline md5 or sha256) and the checksum lists the
implementation ships, in their own formats:

- ``md5sum`` / ``sha256sum``: ``<digest>  <file>`` lines (``md5sum -c`` input);
- ``chk``: BERT's per-shard lists, ``<file>\\t<md5>`` where the md5 is of the shard's HDF5
  ``input_ids`` rows (``input_preprocessing/hdf5_md5.py``), not of the file's bytes;
- ``articles-md5``: BERT's ``eval.md5``, one md5 per article of the evaluation text, in
  order (``seperate_test_set.py``).

A missing or wrong file is named with the preparation step of the implementation's README
(the mount's ``prepare``). What was verified is remembered by path, size and modification
time, so a second check reads nothing again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gp2bm.files.checksums import sha256_file
from gp2bm.files.findings import CheckItem, fail, ok, warn
from gp2bm.spec.manifest import ChecksumList, Mount, RequiredFile

CHUNK = 1 << 22
GLOB_CHARS = frozenset("*?[")
SHOWN = 3  # names shown in a one-line finding before "and N more"
# What each list format's digest is of; also the cache's key prefix.
ALGORITHMS = {
    "md5sum": "md5",
    "sha256sum": "sha256",
    "chk": "hdf5-md5",
    "articles-md5": "articles-md5",
}
HEX_LENGTH = {"md5": 32, "sha256": 64, "hdf5-md5": 32, "articles-md5": 32}

# Reads a file of the benchmark's image (the runtime runs `cat` in it).
ImageFileReader = Callable[[str], bytes]


def md5_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def hdf5_md5(path: Path) -> str:
    """The md5 BERT's hdf5_md5.py prints for a shard: of the list of its rows' md5s."""
    import h5py  # heavy: only BERT's .chk lists need it

    with h5py.File(path, "r") as f:
        ids = f["input_ids"]
        rows = [
            hashlib.md5(str(ids[i].tolist()).encode("utf-8"), usedforsecurity=False).hexdigest()
            for i in range(ids.shape[0])
        ]
    return hashlib.md5(str(rows).encode("utf-8"), usedforsecurity=False).hexdigest()


def article_md5s(path: Path) -> list[str]:
    """The md5 of each article of a text file written as ``article + "\\n\\n"``."""
    text = path.read_text(encoding="utf-8")
    articles = text.split("\n\n")
    if articles and articles[-1].strip() == "":
        articles.pop()
    return [
        hashlib.md5(a.rstrip().encode("utf-8"), usedforsecurity=False).hexdigest() for a in articles
    ]


def hdf5_available() -> bool:
    try:
        import h5py  # heavy: only BERT's .chk lists need it  # noqa: F401
    except ImportError:
        return False
    return True


DIGESTS: dict[str, Callable[[Path], str]] = {
    "md5": md5_file,
    "sha256": sha256_file,
    "hdf5-md5": hdf5_md5,
    # the digest of a text file's article list: the md5 of its md5s, one a line
    "articles-md5": lambda p: hashlib.md5(
        "\n".join(article_md5s(p)).encode(), usedforsecurity=False
    ).hexdigest(),
}


class VerifiedCache:
    """Digests already computed, keyed by algorithm and path, valid while the file's size
    and modification time are unchanged. A JSON file; losing it only costs time."""

    def __init__(self, path: Path | None = None):
        self.path = path
        self.entries: dict[str, list] = {}
        self.hits = 0
        self.changed = False
        if path is not None:
            try:
                data = json.loads(Path(path).read_text())
                self.entries = data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self.entries = {}

    def digest(self, algorithm: str, path: Path) -> str:
        st = path.stat()
        key = f"{algorithm}:{path.resolve()}"
        entry = self.entries.get(key)
        if isinstance(entry, list) and entry[1:] == [st.st_size, st.st_mtime_ns]:
            self.hits += 1
            return entry[0]
        value = DIGESTS[algorithm](path)
        self.entries[key] = [value, st.st_size, st.st_mtime_ns]
        self.changed = True
        return value

    def save(self) -> None:
        if self.path is None or not self.changed:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.entries, indent=1, sort_keys=True) + "\n")
            tmp.replace(self.path)
        except OSError:
            pass  # only a cache: the next check computes again


def parse_list(text: str, fmt: str, source: str) -> list[tuple[str, str]]:
    """(file name, expected digest) pairs of a checksum list; raises ValueError naming the
    line. ``articles-md5`` gives ("", digest) per article."""
    width = HEX_LENGTH[ALGORITHMS[fmt]]
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if fmt == "chk":
            name, _, digest = line.partition("\t")
        elif fmt == "articles-md5":
            name, digest = "", line.strip()
        else:
            digest, _, name = line.partition(" ")
            name = name[1:] if name[:1] in (" ", "*") else name
        digest = digest.strip().lower()
        if len(digest) != width or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"{source}: line {n} is not a {fmt} line")
        if fmt != "articles-md5" and not name.strip():
            raise ValueError(f"{source}: line {n} names no file")
        out.append((name.strip(), digest))
    return out


@dataclass
class Findings:
    """What one mount's check found: files missing, files with a wrong digest."""

    missing: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    verified: int = 0

    @property
    def clean(self) -> bool:
        return not self.missing and not self.wrong


def _shown(names: list[str]) -> str:
    more = len(names) - SHOWN
    return ", ".join(names[:SHOWN]) + (f" and {more} more" if more > 0 else "")


def _fix(mount: Mount, what: str) -> str:
    step = mount.prepare or f"make the {what} again as the implementation's README says"
    return f"{step} (into {mount.host})"


def check_required(host: Path, files: list[RequiredFile], cache: VerifiedCache) -> Findings:
    """The declared files: present (a glob matching its count) and their inline digests."""
    found = Findings()
    for rule in files:
        if GLOB_CHARS & set(rule.path):
            matches = sorted(p for p in host.glob(rule.path) if p.is_file())
            if rule.count is not None and len(matches) != rule.count:
                found.missing.append(f"{rule.path} ({len(matches)} of {rule.count} files)")
            elif not matches:
                found.missing.append(rule.path)
            continue
        path = host / rule.path
        if not path.is_file():
            found.missing.append(rule.path)
            continue
        for algorithm, expected in (("md5", rule.md5), ("sha256", rule.sha256)):
            if expected is None:
                continue
            if cache.digest(algorithm, path) == expected.lower():
                found.verified += 1
            else:
                found.wrong.append(f"{rule.path} ({algorithm})")
    return found


def check_listed(
    host: Path, entries: list[tuple[str, str]], fmt: str, cache: VerifiedCache, file: str | None
) -> Findings:
    """The files a checksum list names, under the mount's host folder, against it."""
    found = Findings()
    algorithm = ALGORITHMS[fmt]
    if fmt == "articles-md5":
        target = host / (file or "")
        if not file or not target.is_file():
            found.missing.append(file or "(the list's text file: set verify[].file)")
            return found
        md5s = article_md5s(target)
        expected_md5s = [d for _, d in entries]
        if md5s == expected_md5s:
            found.verified = len(expected_md5s)
        else:
            found.wrong.append(f"{file} ({len(md5s)} articles, {len(expected_md5s)} listed)")
        return found
    for name, expected in entries:
        path = host / name
        if not path.is_file():
            found.missing.append(name)
            continue
        try:
            actual = cache.digest(algorithm, path)
        except (OSError, KeyError) as exc:  # not HDF5, or no input_ids: not the listed shard
            found.wrong.append(f"{name} (unreadable as {algorithm}: {exc})")
            continue
        if actual == expected:
            found.verified += 1
        else:
            found.wrong.append(name)
    return found


def _report(name: str, mount: Mount, found: Findings, what: str, ok_detail: str) -> CheckItem:
    if found.clean:
        return ok(name, ok_detail)
    parts = []
    if found.missing:
        parts.append(f"missing: {_shown(found.missing)}")
    if found.wrong:
        parts.append(f"wrong checksum: {_shown(found.wrong)}")
    return fail(name, f"{mount.host}: {'; '.join(parts)}", _fix(mount, what))


def _read_list(spec: ChecksumList, read_image_file: ImageFileReader | None) -> str:
    if spec.location == "image":
        if read_image_file is None:
            raise OSError(f"{spec.listing} is in the image, and no runtime was given to read it")
        return read_image_file(spec.listing).decode("utf-8")
    return Path(spec.listing).read_text(encoding="utf-8")


def check_list(
    name: str,
    mount: Mount,
    spec: ChecksumList,
    cache: VerifiedCache,
    read_image_file: ImageFileReader | None = None,
) -> CheckItem:
    """One checksum list of a mount: its files present and matching."""
    label = f"{name} {Path(spec.listing).name}"
    if spec.location == "image" and read_image_file is None:
        return warn(
            label,
            f"not verified: {spec.listing} is in the image, which is not here yet",
            "gp2bm pull, then gp2bm check again",
        )
    if spec.format == "chk" and not hdf5_available():
        return warn(
            label,
            f"not verified: {spec.listing} lists md5s of HDF5 content (hdf5_md5.py)",
            "install h5py (pip install h5py) so that gp2bm check can verify them",
        )
    try:
        entries = parse_list(_read_list(spec, read_image_file), spec.format, spec.listing)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return fail(label, f"checksum list {spec.listing}: {why}", "fix verify[].list")
    found = check_listed(Path(mount.host), entries, spec.format, cache, spec.file)
    detail = f"{mount.host}: {found.verified} verified against {Path(spec.listing).name}"
    return _report(label, mount, found, mount.what or "data", detail)


def check_mount(
    bench: str,
    mount: Mount,
    cache: VerifiedCache,
    read_image_file: ImageFileReader | None = None,
) -> list[CheckItem]:
    """Every finding for one mount: the folder, its declared files, each checksum list."""
    what = mount.what or "data"
    name = f"{bench} {what}"
    host = Path(mount.host)
    if not host.is_dir() or not os.access(host, os.R_OK | os.X_OK):
        state = "is not a readable folder" if host.exists() else "does not exist"
        return [fail(name, f"{host} {state}", _fix(mount, what))]
    found = check_required(host, mount.files, cache)
    hashed = f", {found.verified} checksum(s) verified" if found.verified else ""
    detail = f"{host}: {len(mount.files)} declared file(s) present{hashed}"
    items = [_report(name, mount, found, what, detail)]
    for spec in mount.verify:
        items.append(check_list(name, mount, spec, cache, read_image_file))
    return items


def check_datasets(
    mounts_by_benchmark: dict[str, list[Mount]],
    cache_path: Path | None = None,
    read_image_file: dict[str, ImageFileReader] | None = None,
) -> list[CheckItem]:
    """The data check of ``gp2bm check``: every mount of every benchmark, one cache."""
    cache = VerifiedCache(cache_path)
    items: list[CheckItem] = []
    for bench, mounts in mounts_by_benchmark.items():
        reader = (read_image_file or {}).get(bench)
        for mount in mounts:
            items.extend(check_mount(bench, mount, cache, reader))
    cache.save()
    return items
