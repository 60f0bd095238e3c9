"""The exact gp2bm that wrote a bundle, carried in it as a wheel an evaluator can install.

The wheel is made from the running gp2bm's own package folder (every file but compiled
bytecode), whichever way gp2bm was installed (a wheel, an editable checkout): its metadata
names gp2bm's version and the requirements its distribution declares, its entry point the
``gp2bm`` command. It is reproducible: files in sorted order, each with a fixed time and
mode, so that the same gp2bm gives the same bytes and the same SHA-256 in every bundle.
``gp2bm-bundle.json`` names the file and its hash; the bundle README says how to install it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import gp2bm
from gp2bm import __version__

TAG = "py3-none-any"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip member can say
SKIPPED = ("__pycache__",)


@dataclass(frozen=True)
class Wheel:
    name: str  # gp2bm-VERSION-py3-none-any.whl
    sha256: str
    size: int

    def as_dict(self) -> dict:
        return {"file": self.name, "sha256": self.sha256, "bytes": self.size}


def wheel_name(version: str = __version__) -> str:
    """The wheel's file name (PEP 427) for a gp2bm version."""
    return f"gp2bm-{version}-{TAG}.whl"


def _package_files() -> list[tuple[str, bytes]]:
    root = Path(gp2bm.__file__).resolve().parent
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root.parent)
        if path.is_symlink() or not path.is_file() or set(rel.parts) & set(SKIPPED):
            continue
        if path.suffix in (".pyc", ".pyo"):
            continue
        found.append((rel.as_posix(), path.read_bytes()))
    return found


def _requirements() -> list[str]:
    try:
        return list(metadata.requires("gp2bm") or [])
    except metadata.PackageNotFoundError:
        return []


def _dist_info(version: str) -> list[tuple[str, bytes]]:
    info = f"gp2bm-{version}.dist-info"
    lines = ["Metadata-Version: 2.1", "Name: gp2bm", f"Version: {version}",
             "Summary: The GP2BM MLPerf benchmark of an RFP: run, check, score, hand in, "
             "verify", "Requires-Python: >=3.11"]  # fmt: skip
    lines += [f"Requires-Dist: {req}" for req in _requirements()]
    wheel = f"Wheel-Version: 1.0\nGenerator: gp2bm {version}\nRoot-Is-Purelib: true\nTag: {TAG}\n"
    return [
        (f"{info}/METADATA", ("\n".join(lines) + "\n").encode()),
        (f"{info}/WHEEL", wheel.encode()),
        (f"{info}/entry_points.txt", b"[console_scripts]\ngp2bm = gp2bm.cli:main\n"),
    ]


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def wheel_bytes(version: str = __version__) -> bytes:
    """The wheel of the running gp2bm, the same bytes for the same files."""
    members = _package_files() + _dist_info(version)
    record_name = f"gp2bm-{version}.dist-info/RECORD"
    record = "\n".join([*(_record_line(n, d) for n, d in members), f"{record_name},,"]) + "\n"
    members.append((record_name, record.encode()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            member = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            member.external_attr = 0o644 << 16
            member.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(member, data)
    return buf.getvalue()


def file_sha256(path: Path) -> tuple[str, int]:
    """The SHA-256 and size of a file, read in chunks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def write_wheel(folder: Path) -> Wheel:
    """The wheel of the running gp2bm written into ``folder`` (made where missing)."""
    data = wheel_bytes()
    folder.mkdir(parents=True, exist_ok=True)
    name = wheel_name()
    (folder / name).write_bytes(data)
    return Wheel(name, hashlib.sha256(data).hexdigest(), len(data))
