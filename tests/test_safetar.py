"""Extracting archives from elsewhere: every unsafe member is refused, by name."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from gp2bm.errors import InputError, InvalidError
from gp2bm.files import safetar


def make_tar(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for m in members:
            if isinstance(m, tuple):
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                info.mode = 0o755 if m[0].endswith(".sh") else 0o644
                tar.addfile(info, io.BytesIO(m[1]))
            else:
                tar.addfile(m)
    return path


def special(name: str, kind: bytes, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


def test_normal_archive_extracts(tmp_path):
    path = make_tar(
        tmp_path / "ok.tar.gz",
        [
            special("./", tarfile.DIRTYPE),
            special("top", tarfile.DIRTYPE),
            ("top/a.txt", b"alpha"),
            ("top/sub/run.sh", b"#!/bin/sh\n"),
            special("top/link", tarfile.SYMTYPE, "sub/run.sh"),
            special("top/sub/up", tarfile.SYMTYPE, "../a.txt"),
        ],
    )
    dest = tmp_path / "out"
    members = safetar.extract(path, dest)
    assert [m.name for m in members] == [
        "top",
        "top/a.txt",
        "top/sub/run.sh",
        "top/link",
        "top/sub/up",
    ]
    assert (dest / "top" / "a.txt").read_bytes() == b"alpha"
    assert os.access(dest / "top" / "sub" / "run.sh", os.X_OK)
    assert not os.access(dest / "top" / "a.txt", os.X_OK)
    assert os.readlink(dest / "top" / "link") == "sub/run.sh"
    assert (dest / "top" / "sub" / "up").read_bytes() == b"alpha"


@pytest.mark.reliability("tar-slip")
@pytest.mark.parametrize(
    "member, message",
    [
        (("/etc/passwd", b"x"), "member '/etc/passwd': absolute path refused"),
        (("top/../../x", b"x"), "member 'top/../../x': '..' in the path refused"),
        (("../x", b"x"), "member '../x': '..' in the path refused"),
        (special("top/l", tarfile.SYMTYPE, "/etc"), "member 'top/l': link to '/etc' outside"),
        (special("top/l", tarfile.SYMTYPE, "../../e"), "member 'top/l': link to '../../e' outs"),
        (special("l", tarfile.SYMTYPE, ".."), "member 'l': link to '..' outside"),
        (special("top/h", tarfile.LNKTYPE, "top/a"), "member 'top/h': hard link refused"),
        (special("top/c", tarfile.CHRTYPE), "member 'top/c': device file refused"),
        (special("top/b", tarfile.BLKTYPE), "member 'top/b': device file refused"),
        (special("top/f", tarfile.FIFOTYPE), "member 'top/f': FIFO refused"),
    ],
)
def test_unsafe_members_are_refused(tmp_path, member, message):
    path = make_tar(tmp_path / "bad.tar.gz", [("top/a", b"a"), member])
    dest = tmp_path / "out"
    with pytest.raises(InvalidError) as info:
        safetar.extract(path, dest)
    assert message in str(info.value)
    assert str(path) in str(info.value)
    assert not dest.exists()  # nothing is written before every member is checked
    assert not (tmp_path / "x").exists()


@pytest.mark.reliability("tar-slip")
def test_duplicate_names_are_refused(tmp_path):
    path = make_tar(tmp_path / "dup.tar.gz", [("top/a", b"checked"), ("top//./a", b"swapped")])
    with pytest.raises(InvalidError, match="member 'top//./a': duplicate name refused"):
        safetar.extract(path, tmp_path / "out")


@pytest.mark.reliability("tar-slip")
def test_paths_through_links_are_refused(tmp_path):
    path = make_tar(
        tmp_path / "through.tar.gz",
        [special("top/l", tarfile.SYMTYPE, "sub"), ("top/sub/a", b"a"), ("top/l/b", b"b")],
    )
    with pytest.raises(InvalidError, match="member 'top/l/b': path through the link 'top/l'"):
        safetar.extract(path, tmp_path / "out")


@pytest.mark.reliability("tar-slip")
def test_file_used_as_folder_is_refused(tmp_path):
    path = make_tar(tmp_path / "clash.tar.gz", [("top/a", b"a"), ("top/a/b", b"b")])
    with pytest.raises(InvalidError, match="'top/a' is a file, not a folder"):
        safetar.extract(path, tmp_path / "out")


def test_lenient_listing_skips_links_but_not_bad_names(tmp_path):
    path = make_tar(
        tmp_path / "src.tar.gz",
        [("src/a.py", b"a"), special("src/lib", tarfile.SYMTYPE, "/usr/lib")],
    )
    skipped: list[str] = []
    with tarfile.open(path) as tar:
        members = safetar.check_members(tar, "image", skipped)
    assert [m.name for m in members] == ["src/a.py"]
    assert skipped == ["member 'src/lib': link to '/usr/lib' outside the archive refused"]
    bad = make_tar(tmp_path / "bad.tar.gz", [("../a.py", b"a")])
    with tarfile.open(bad) as tar, pytest.raises(InvalidError):
        safetar.check_members(tar, "image", [])


@pytest.mark.reliability("truncated-bundle")
def test_unreadable_archives_are_input_errors(tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"nothing like a tar" * 30)
    with pytest.raises(InputError, match="not a tar archive") as info:
        safetar.extract(junk, tmp_path / "out")
    assert "\n" not in str(info.value)
    with pytest.raises(InputError, match="file not found"):
        safetar.extract(tmp_path / "absent.tgz", tmp_path / "out")
    with pytest.raises(InputError, match="not a file"):
        safetar.extract(tmp_path, tmp_path / "out")
    good = make_tar(tmp_path / "good.tar.gz", [(f"top/{i}", os.urandom(4096)) for i in range(50)])
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match="cut.tar.gz"):
        safetar.extract(cut, tmp_path / "out2")


@pytest.mark.reliability("tar-bomb")
def test_size_limit(tmp_path):
    path = make_tar(tmp_path / "big.tar.gz", [("top/a", b"a" * 1000), ("top/b", b"b" * 1000)])
    with pytest.raises(InvalidError, match="member 'top/b': archive larger than 1500 bytes"):
        safetar.extract(path, tmp_path / "out", max_bytes=1500)
