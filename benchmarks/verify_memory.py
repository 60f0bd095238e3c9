#!/usr/bin/env python3
"""Peak memory and wall time of `gp2bm verify` on crafted bundles.

Each bundle is verified by a fresh `python -m gp2bm verify BUNDLE --json`; its process tree
(verify and its checker processes) is sampled every 20 ms with psutil: the peak of the sum
of their resident sets is printed with the wall time, the exit code and the first line of
what verify said. The aim (docs/RELIABILITY.md, row `verify-resource-bounds`): every bundle
stays under 512 MB and 60 s on a 2-core machine, or is refused in one line.

The bundles:

  nvidia-15-logs     NVIDIA's published v4.0 logs as a GP2BM campaign, packaged (valid)
  gzip-bomb-10g      10 MB of gzip: one member of 10 GiB of zeros
  member-2g          one 2 GiB member
  members-60k        60 000 empty members
  pax-header-64m     a 64 MiB pax header
  log-200m           a 200 MiB result log (under the member limit)
  logs-at-limit      the valid bundle with four logs padded with MLLOG lines to 7.9 MiB each
                     (the most MLCommons' checkers are given: 32 MiB of logs)
  telemetry-at-limit the valid bundle with four telemetry files of 15.9 MiB each

    python benchmarks/verify_memory.py [--only NAME] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import sys
import tarfile
import tempfile
import time
import zlib
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from score_speed import FIXTURES, GP2BM, speed_bundle  # noqa: E402

MIB = 1 << 20
LOG = "handin/NVIDIA/results/sys/bert/result_0.txt"
LIMIT_MB, LIMIT_S = 512, 60


def _gzip_member(path: Path, name: str, size: int, chunk: bytes = b"\0" * (16 * MIB)) -> Path:
    """A .tar.gz of one member of ``size`` bytes of zeros, streamed (never held whole)."""
    info = tarfile.TarInfo(name)
    info.size = size
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    with open(path, "wb") as out:
        out.write(packer.compress(info.tobuf(format=tarfile.PAX_FORMAT)))
        left = size
        while left:
            piece = chunk[: min(left, len(chunk))]
            out.write(packer.compress(piece))
            left -= len(piece)
        out.write(packer.compress(b"\0" * (512 - size % 512 if size % 512 else 0) + b"\0" * 1024))
        out.write(packer.flush())
    return path


def _members(path: Path, count: int) -> Path:
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for i in range(count):
            tar.addfile(tarfile.TarInfo(f"handin/m/{i}"), io.BytesIO(b""))
    return path


def _pax(path: Path, size: int) -> Path:
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(LOG)
        info.pax_headers = {"comment": "x" * size}
        tar.addfile(info, io.BytesIO(b""))
    return path


def _repack(valid: Path, dest: Path, grow) -> Path:
    """The valid bundle, extracted, changed by ``grow(top)``, SHA256SUMS made true, packed."""
    work = Path(tempfile.mkdtemp(prefix="verify-memory-", dir=dest.parent))
    with tarfile.open(valid) as tar:
        tar.extractall(work, filter="data")
    (top,) = list(work.iterdir())
    grow(top)
    lines = []
    for p in sorted(top.rglob("*")):
        if p.is_file() and p.name != "SHA256SUMS":
            digest = hashlib.sha256(p.read_bytes()).hexdigest()
            lines.append(f"{digest}  {p.relative_to(top).as_posix()}")
    (top / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    with tarfile.open(dest, "w:gz", compresslevel=1) as tar:
        tar.add(top, arcname=top.name)
    shutil.rmtree(work)
    return dest


def _pad_logs(top: Path) -> None:
    """Four BERT logs padded with MLLOG lines, the logs then 31.9 MiB in all."""
    line = b':::MLLOG {"namespace": "", "time_ms": 1, "event_type": "POINT_IN_TIME", '
    line += b'"key": "tracked_stats", "value": {"step": 1}, "metadata": {"lineno": 1}}\n'
    logs = sorted(top.glob("*/results/*/*/result_*.txt"))
    room = int(31.9 * MIB) - sum(log.stat().st_size for log in logs)
    for log in [p for p in logs if p.parent.name == "bert"][:4]:
        grow = min(room // 4, int(7.9 * MIB) - log.stat().st_size)
        with open(log, "ab") as fh:
            fh.write(line * (grow // len(line)))


def _telemetry(top: Path) -> None:
    header = "time_utc,elapsed_s," + ",".join(f"gpu{g}_power_w" for g in range(8)) + "\n"
    row = "2024-01-01T00:00:00Z,1.000," + ",".join("300.5" for _ in range(8)) + "\n"
    for n in range(4):
        path = top / "records" / "bert" / f"telemetry_{n}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + row * ((int(15.9 * MIB) - len(header)) // len(row)))


def bundles(folder: Path) -> dict[str, callable]:
    valid = folder / "valid" / "nvidia-v4.0.tar.gz"

    def make_valid() -> Path:
        if not valid.exists():
            return speed_bundle(FIXTURES, valid.parent)
        return valid

    return {
        "nvidia-15-logs": make_valid,
        "gzip-bomb-10g": lambda: _gzip_member(folder / "bomb.tar.gz", LOG, 10 << 30),
        "member-2g": lambda: _gzip_member(folder / "2g.tar.gz", LOG, 2 << 30),
        "members-60k": lambda: _members(folder / "many.tar.gz", 60_000),
        "pax-header-64m": lambda: _pax(folder / "pax.tar.gz", 64 * MIB),
        "log-200m": lambda: _gzip_member(folder / "log200.tar.gz", LOG, 200 * MIB),
        "logs-at-limit": lambda: _repack(make_valid(), folder / "logs.tar.gz", _pad_logs),
        "telemetry-at-limit": lambda: _repack(make_valid(), folder / "tele.tar.gz", _telemetry),
    }


def sampled(cmd: list[str]) -> tuple[float, float, int, str, str]:
    """Run ``cmd``: (peak MB of its process tree, seconds, exit code, stdout, stderr). Its
    output goes to files, not pipes: a long answer cannot stall it while it is sampled."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = psutil.Popen(cmd, stdout=out, stderr=err, text=True)
        peak = 0
        while proc.poll() is None:
            try:
                tree = [proc, *proc.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.02)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        return peak / MIB, seconds, proc.returncode, out.read(), err.read()


def measure(bundle: Path) -> tuple[float, float, int, str]:
    """(peak MB of verify's process tree, seconds, exit code, first line it said)."""
    mb, seconds, code, out, err = sampled([*GP2BM, "verify", str(bundle), "--json"])
    said = err.strip().splitlines()[:1] or [_verdict(out)]
    return mb, seconds, code, said[0]


def _verdict(out: str) -> str:
    try:
        data = json.loads(out)
    except ValueError:
        return out.strip()[:200]
    return (
        "verified"
        if data["ok"]
        else f"not verified: {(data['differences'] + data['problems'])[:1]}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="one bundle by name")
    parser.add_argument("--keep", type=Path, help="make the bundles here and keep them")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="verify-memory-"))
    folder.mkdir(parents=True, exist_ok=True)
    ok = True
    try:
        for name, make in bundles(folder).items():
            if args.only and name != args.only:
                continue
            bundle = make()
            mb, seconds, code, said = measure(bundle)
            within = mb < LIMIT_MB and seconds < LIMIT_S
            ok &= within
            size = bundle.stat().st_size / MIB
            verdict = "ok" if within else "OVER"
            print(f"{name:<19} {size:8.1f} MB bundle  peak {mb:6.0f} MB  {seconds:6.2f} s  "
                  f"exit {code}  {verdict}  {said[:110]}", flush=True)  # fmt: skip
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
