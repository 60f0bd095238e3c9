"""Writing the bundle: SHA256SUMS and a reproducible gzip tar."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

from gp2bm.campaign.layout import SUMS_FILE, BundleLayout
from gp2bm.files.checksums import sha256sum_text


def write_sums(bundle: BundleLayout) -> int:
    """SHA256SUMS of every file of the bundle; returns how many it lists."""
    text, count = sha256sum_text(bundle.root, exclude=(SUMS_FILE,))
    bundle.files.sums_file.write_text(text, encoding="utf-8")
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
