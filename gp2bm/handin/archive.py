"""Writing the bundle: SHA256SUMS and a reproducible gzip tar."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

from gp2bm.files.checksums import sha256sum_text
from gp2bm.handin.layout import SUMS_FILE


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
