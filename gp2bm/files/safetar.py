"""Opening tar archives that come from elsewhere (a hand-in bundle, a container's files).

Nothing in an archive is trusted: every member is checked before anything is written, and
files are written by gp2bm itself, not by ``tarfile.extractall``. Refused, naming the
member: absolute paths, ``..`` components, hard links, device files and FIFOs, symbolic
links that point outside the archive (or that another member's path goes through), and a
name that appears twice (a later member would silently replace what was checked earlier).
A file that is not a readable tar archive is an input error (exit 2); an archive holding a
refused member is an invalid one (exit 1).

An archive from a stranger can also be made to exhaust memory, disk or time: a gzip bomb
whose one member inflates to 10 GB, millions of members, a tar header (pax or GNU long
name) of gigabytes. With ``Limits``, each header is checked as it is read, before the data
behind it is inflated: a member larger than ``member_bytes``, members adding up to more
than ``total_bytes``, more than ``members`` members, a header block larger than
``header_bytes``: refused, naming the member and the limit. Member data is copied in 1 MiB
chunks, never held whole.
"""

from __future__ import annotations

import lzma
import os
import posixpath
import shutil
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from gp2bm.errors import InputError, UnsafeMember

FILE, DIR, SYMLINK = "file", "dir", "symlink"
MIB = 1 << 20
# The zero blocks that may pad an archive after its end (GNU tar pads to 10 KiB records;
# ``--blocking-factor`` up to a few hundred KiB).
END_PADDING = 1 * MIB
# Header blocks that tarfile reads whole into memory (pax headers, GNU long names).
LONG_HEADER_TYPES = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)


@dataclass(frozen=True)
class Limits:
    """What an archive may hold; more is refused before it is inflated."""

    members: int = 50_000
    member_bytes: int = 256 * MIB
    total_bytes: int = 1024 * MIB
    header_bytes: int = 1 * MIB

    def describe(self) -> str:
        return (
            f"at most {self.members} members, {self.member_bytes // MIB} MiB a member, "
            f"{self.total_bytes // MIB} MiB in all"
        )


class _BoundedInfo(tarfile.TarInfo):
    """A tar header that refuses to read a pax or GNU long-name block larger than
    ``header_bytes`` (tarfile reads those whole into memory)."""

    header_bytes = Limits.header_bytes
    archive = "archive"

    def _proc_member(self, tarfile_):
        if self.type in LONG_HEADER_TYPES and self.size > self.header_bytes:
            raise UnsafeMember(
                f"{self.archive}: a tar header block of {self.size} bytes (more than "
                f"{self.header_bytes // MIB} MiB) refused"
            )
        # _proc_member is tarfile's private hook for reading a member's header: not in typeshed
        return super()._proc_member(tarfile_)  # type: ignore[misc]


@dataclass(frozen=True)
class Member:
    """One checked member: its normalised relative name, kind, and the tar entry."""

    name: str
    kind: str
    info: tarfile.TarInfo


def _reason(exc: BaseException) -> str:
    """One line: tarfile lists every compression it tried, one per line."""
    text = str(exc).strip()
    if not text or "\n" in text:
        return "no tar, gzip, bzip2 or xz header"
    return text


def _normalise(raw: str, archive: str) -> str | None:
    """The member's relative POSIX name, or None for the archive's own root ("./")."""
    if not raw or "\0" in raw:
        raise UnsafeMember(f"{archive}: member {raw!r}: empty name or NUL byte refused")
    if raw.startswith("/"):
        raise UnsafeMember(f"{archive}: member '{raw}': absolute path refused")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeMember(f"{archive}: member '{raw}': '..' in the path refused")
    return "/".join(parts) or None


def _kind(info: tarfile.TarInfo, archive: str) -> str:
    if info.isreg():
        return FILE
    if info.isdir():
        return DIR
    if info.issym():
        return SYMLINK
    if info.islnk():
        what = "hard link"
    elif info.ischr() or info.isblk():
        what = "device file"
    elif info.isfifo():
        what = "FIFO"
    else:
        what = f"member of type {info.type!r}"
    raise UnsafeMember(f"{archive}: member '{info.name}': {what} refused")


def _headers(tar: tarfile.TarFile, archive: str, limits: Limits | None):
    """The archive's members, one header at a time; with ``limits``, each header checked
    before the data behind it is read (or inflated) to reach the next one."""
    count = total = 0
    while True:
        try:
            info = tar.next()
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise InputError(f"{archive}: unreadable tar archive ({_reason(exc)})") from None
        if info is None:
            _check_end(tar, archive)
            return
        count += 1
        if limits is not None:
            if count > limits.members:
                raise UnsafeMember(f"{archive}: more than {limits.members} members refused")
            size = info.size if info.isreg() else 0
            if size > limits.member_bytes:
                raise UnsafeMember(
                    f"{archive}: member '{info.name}': {size} bytes, more than the "
                    f"{limits.member_bytes // MIB} MiB a member may hold, refused"
                )
            total += size
            if total > limits.total_bytes:
                raise UnsafeMember(
                    f"{archive}: member '{info.name}': the members add up to more than "
                    f"{limits.total_bytes // MIB} MiB, refused"
                )
        yield info


def _check_end(tar: tarfile.TarFile, archive: str) -> None:
    """Nothing after the archive's end but the zero blocks that pad it: GNU tar's
    ``--ignore-zeros`` (``tar -i``) reads on past them, so a second archive appended there
    would show other files (another README) to whoever extracts it so; and nothing after
    the end of the compressed stream (gzip itself reads on into a second stream)."""
    padding = 0
    assert tar.fileobj is not None  # an archive opened for reading has its file
    try:
        # the end block tarfile just read was zeros: read on from there (seeking back in a
        # gzip stream would inflate it again from its start)
        if tar.fileobj.tell() != tar.offset + tarfile.BLOCKSIZE:
            tar.fileobj.seek(tar.offset)
        while chunk := tar.fileobj.read(64 * 1024):
            padding += len(chunk)
            if chunk.count(0) != len(chunk) or padding > END_PADDING:
                raise UnsafeMember(
                    f"{archive}: data after the end of the tar archive (another archive "
                    "appended, which `tar -i` would read) refused"
                )
    except (OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise UnsafeMember(
            f"{archive}: bytes after the end of its compressed stream ({_reason(exc)}) refused"
        ) from None


def check_members(
    tar: tarfile.TarFile,
    archive: str,
    skipped: list[str] | None = None,
    limits: Limits | None = None,
) -> list[Member]:
    """Every member of the archive, checked; raises UnsafeMember naming the first bad one.

    With a ``skipped`` list, links and special files that would be refused are left out
    and described there instead (for copying a source folder out of an image, where an
    absolute link to a system library is normal); bad names are still refused. With
    ``limits``, sizes and counts are checked header by header.
    """
    seen: dict[str, str] = {}
    members = []
    for info in _headers(tar, archive, limits):
        name = _normalise(info.name, archive)
        try:
            kind = _kind(info, archive)
            if kind == SYMLINK and name is not None:
                _check_link(info, name, archive)
        except UnsafeMember as exc:
            if skipped is None:
                raise
            skipped.append(str(exc).split(": ", 1)[-1])
            continue
        if name is None:
            if kind != DIR:
                raise UnsafeMember(f"{archive}: member '{info.name}': not a folder")
            continue
        if name in seen:
            raise UnsafeMember(f"{archive}: member '{info.name}': duplicate name refused")
        parts = name.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if seen.get(parent) == SYMLINK:
                raise UnsafeMember(
                    f"{archive}: member '{info.name}': path through the link '{parent}' refused"
                )
            if seen.get(parent) == FILE:
                raise UnsafeMember(
                    f"{archive}: member '{info.name}': '{parent}' is a file, not a folder"
                )
        seen[name] = kind
        members.append(Member(name, kind, info))
    return members


def _check_link(info: tarfile.TarInfo, name: str, archive: str) -> None:
    target = info.linkname
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target or "/"))
    if not target or target.startswith("/") or resolved == ".." or resolved.startswith("../"):
        raise UnsafeMember(
            f"{archive}: member '{info.name}': link to '{target}' outside the archive refused"
        )


def _bounded_info(limit: int, archive_name: str) -> type[tarfile.TarInfo]:
    """A tar header class refusing blocks larger than ``limit``, naming ``archive_name``."""

    class BoundedInfo(_BoundedInfo):
        header_bytes = limit
        archive = archive_name

    return BoundedInfo


def open_archive(path: Path, limits: Limits | None = None) -> tarfile.TarFile:
    """Open a (possibly compressed) tar archive; InputError if it is not one. With
    ``limits``, a header block larger than ``limits.header_bytes`` is refused."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if not path.is_file():
        raise InputError(f"{path}: not a file (expected a .tar.gz bundle)")
    info_class: type[tarfile.TarInfo] = tarfile.TarInfo
    if limits is not None:
        info_class = _bounded_info(limits.header_bytes, str(path))
    try:
        return tarfile.open(path, "r:*", tarinfo=info_class)
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: not a tar archive ({_reason(exc)})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def extract_members(
    tar: tarfile.TarFile,
    members: list[Member],
    dest: Path,
    archive: str,
    max_bytes: int | None = None,
) -> None:
    """Write checked members under ``dest`` (which should be empty)."""
    total = 0
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for m in members:
        target = dest.joinpath(*m.name.split("/"))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if m.kind == DIR:
                target.mkdir(exist_ok=True)
            elif m.kind == SYMLINK:
                os.symlink(m.info.linkname, target)
            else:
                total += m.info.size
                if max_bytes is not None and total > max_bytes:
                    raise UnsafeMember(
                        f"{archive}: member '{m.info.name}': archive larger than "
                        f"{max_bytes} bytes refused"
                    )
                src = tar.extractfile(m.info)
                assert src is not None  # a regular file's member: tarfile gives its reader
                # "x": never write through something already there (a link, a file)
                with src, open(target, "xb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
                os.chmod(target, 0o755 if m.info.mode & 0o111 else 0o644)
        except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
            raise UnsafeMember(
                f"{archive}: member '{m.info.name}': clashes with another member ({exc.strerror})"
            ) from None
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise InputError(f"{archive}: unreadable tar archive ({_reason(exc)})") from None


def extract(
    path: Path, dest: Path, max_bytes: int | None = None, limits: Limits | None = None
) -> list[Member]:
    """Check every member of the archive at ``path``, then extract it under ``dest``.
    ``limits``: what the archive may hold (sizes, count, headers), checked before inflating."""
    with open_archive(path, limits) as tar:
        members = check_members(tar, str(path), limits=limits)
        extract_members(tar, members, dest, str(path), max_bytes)
    return members


def extract_stream(
    chunks, dest: Path, what: str, scratch: Path, skipped: list[str] | None = None
) -> list[Member]:
    """Extract a tar archive given as an iterable of byte chunks (e.g. Docker's get_archive)."""
    scratch.parent.mkdir(parents=True, exist_ok=True)
    with open(scratch, "wb") as fh:
        for chunk in chunks:
            fh.write(chunk)
    try:
        with tarfile.open(scratch, "r:*") as tar:
            members = check_members(tar, what, skipped)
            extract_members(tar, members, dest, what)
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise InputError(f"{what}: not a tar archive ({_reason(exc)})") from None
    finally:
        scratch.unlink(missing_ok=True)
    return members
