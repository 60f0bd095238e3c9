"""SHA-256 of files, and ``sha256sum`` listings (read and written)."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 22
HEX = frozenset("0123456789abcdefABCDEF")


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file, read in chunks (data sets and SIF images are large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def parse_sha256sum(text: str) -> list[tuple[str, str]]:
    """(hex digest, file name) pairs of a ``sha256sum`` listing; raises ValueError."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, sep, name = line.partition(" ")
        if not sep or len(digest) != 64 or not set(digest) <= HEX:
            raise ValueError(f"line {n} is not '<sha256>  <file>'")
        name = name[1:] if name[:1] in (" ", "*") else name
        out.append((digest.lower(), name))
    return out


def sha256sum_text(top: Path, exclude: tuple[str, ...] = ()) -> tuple[str, int]:
    """A ``sha256sum`` listing of every regular file under ``top`` (sorted, relative,
    symbolic links left out), and how many files it lists."""
    lines = []
    for path in sorted(p for p in top.rglob("*") if p.is_file() and not p.is_symlink()):
        rel = path.relative_to(top).as_posix()
        if rel in exclude:
            continue
        lines.append(f"{sha256_file(path)}  {rel}\n")
    return "".join(lines), len(lines)
