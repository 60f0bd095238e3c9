"""What a bundle from a stranger may hold, so that ``gp2bm verify`` stays within bounded
memory and time (the aim: under 512 MB and 60 s on a 2-core machine, measured by
``benchmarks/verify_memory.py``), or refuses it in one line.

The archive itself (``BUNDLE``): checked header by header while it is read, before any
member is inflated (a 10 MB gzip bomb whose one member inflates to 10 GB is refused at its
header). Then, on the extracted files: MLCommons' checkers hold a whole log in memory and
take about a second per megabyte (a 173 MB log took 193 s and 1.5 GB), so result logs are
bounded in size, in total and in number; the files verify reads whole (JSON, YAML, CSV,
HTML, the README, telemetry) are bounded each and in total; a workbook's parts are bounded
by their declared inflated size (openpyxl would inflate them). The implementation source
and the checker output are only hashed, in chunks: the archive's limits bound them.
Published result logs are at most 0.2 MB; a GP2BM campaign has 15. A hand-in's log may hold
8 MiB, its logs 32 MiB together (the checkers then take about 35 s): less than scoring
checks (64 MiB a log, ``runlog.MAX_CHECKED_LOG_BYTES``), so that any bundle verifies within
the bounds above. ``package`` refuses what verify would, naming the log: the two cannot
disagree on a bundle.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from gp2bm.campaign.layout import hashed_only, is_submitted_log
from gp2bm.errors import UnsafeMember
from gp2bm.files.safetar import MIB, Limits

BUNDLE = Limits(members=50_000, member_bytes=256 * MIB, total_bytes=1024 * MIB)
# What MLCommons' checkers are given in a hand-in (``package`` applies these same limits to
# what it stages, before the tar): a campaign that packages verifies.
LOG_BYTES = 8 * MIB
LOGS_BYTES = 32 * MIB
LOGS = 200
READ_BYTES = 16 * MIB
READ_TOTAL = 64 * MIB
WORKBOOK_INFLATED = 64 * MIB
def _refuse(bundle: Path, rel: str, size: int, what: str, limit: int) -> UnsafeMember:
    return UnsafeMember(
        f"{bundle}: {rel}: {size} bytes; {what} may hold at most {limit // MIB} MiB, refused"
    )


def check_sizes(top: Path, bundle: Path) -> None:
    """Refuse (UnsafeMember, one line) a bundle whose logs or read files exceed the limits."""
    logs = logs_total = read_total = 0
    for path in sorted(top.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        rel = path.relative_to(top)
        size = path.stat().st_size
        if is_submitted_log(rel):
            logs += 1
            logs_total += size
            if size > LOG_BYTES:
                raise _refuse(bundle, rel.as_posix(), size, "a result log", LOG_BYTES)
            if logs_total > LOGS_BYTES:
                raise _refuse(bundle, rel.as_posix(), logs_total, "the result logs", LOGS_BYTES)
            if logs > LOGS:
                raise UnsafeMember(f"{bundle}: more than {LOGS} result logs, refused")
        elif not hashed_only(top, rel) and path.suffix != ".xlsx":
            read_total += size
            if size > READ_BYTES:
                raise _refuse(bundle, rel.as_posix(), size, "a file verify reads", READ_BYTES)
            if read_total > READ_TOTAL:
                raise _refuse(
                    bundle, rel.as_posix(), read_total, "the files verify reads", READ_TOTAL
                )


def check_workbook(path: Path, bundle: Path, rel: str) -> None:
    """Refuse a workbook whose parts declare more than WORKBOOK_INFLATED bytes inflated (a
    zip bomb in an .xlsx); a file that is not a zip is left for the reader to name."""
    try:
        with zipfile.ZipFile(path) as zf:
            inflated = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return
    if inflated > WORKBOOK_INFLATED:
        raise _refuse(bundle, rel, inflated, "a workbook (inflated)", WORKBOOK_INFLATED)
