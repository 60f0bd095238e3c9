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

Names: a bundle's are valid UTF-8 and show as themselves (no control character, no bidi
mark: ``plaintext.hidden_characters``; SHA256SUMS is one name a line), and no two differ by
case only (one would replace the other on the evaluator's case-insensitive disk).
``package`` checks the source as it copies it (``name_problem``) and the whole staged tree
before the tar (``check_tree``: names, the member count and the sizes of ``BUNDLE``).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from gp2bm.campaign.layout import hashed_only, is_submitted_log
from gp2bm.errors import InputError, UnsafeMember
from gp2bm.files.plaintext import hidden_characters, printable
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


def name_problem(name: str) -> str | None:
    """Why a file or folder name (one component, as ``os`` gives it: undecodable bytes as
    surrogates) cannot be in a bundle, else None."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "its name is not valid UTF-8"
    hidden = hidden_characters(name)
    if hidden:
        return f"a control character ({', '.join(hidden)}) in its name"
    return None


def case_twin(rel: str, seen: dict[str, str]) -> str | None:
    """The name already in ``seen`` (folded name -> name) that ``rel`` differs from by case
    only, else None; ``rel`` is added."""
    other = seen.setdefault(rel.casefold(), rel)
    return other if other != rel else None


def _tree_refusal(bundle: Path, rel: str, why: str) -> InputError:
    return InputError(
        f"{bundle}: {printable(rel, 300)}: {why}; gp2bm verify refuses such a bundle: "
        "nothing was written"
    )


def size_problem(size: int, total: int) -> str | None:
    """Why a file of ``size`` bytes, bringing the bundle's files to ``total``, is refused."""
    if size > BUNDLE.member_bytes:
        return f"{size} bytes, more than the {BUNDLE.member_bytes // MIB} MiB a member may hold"
    if total > BUNDLE.total_bytes:
        return f"the files add up to more than {BUNDLE.total_bytes // MIB} MiB"
    return None


def check_tree(top: Path, bundle: Path) -> None:
    """Refuse (InputError, one line naming the file) a staged bundle that verify would not
    open: a name that is not UTF-8 or holds a control character, case-only twins, more
    members than ``BUNDLE`` allows, a file or a total over its sizes."""
    members, total = 1, 0  # the top folder is a member
    seen: dict[str, str] = {}
    for folder, dirs, files in os.walk(top):
        dirs.sort()
        for name in [*dirs, *sorted(files)]:
            path = Path(folder, name)
            rel = path.relative_to(top).as_posix()
            size = path.lstat().st_size if name in files else 0
            members, total = members + 1, total + size
            twin = case_twin(rel, seen)
            why = (
                name_problem(name)
                or (twin and f"differs from {printable(twin, 300)} by case only")
                or (members > BUNDLE.members and f"more than {BUNDLE.members} members")
                or size_problem(size, total)
            )
            if why:
                raise _tree_refusal(bundle, rel, why)


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
