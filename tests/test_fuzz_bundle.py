"""Hostile bundles: the bundle reader (safe extraction + verify) never crashes or hangs.

Random archives with random member names (absolute, `..`, duplicates), links in and out,
devices, and random contents where gp2bm expects SHA256SUMS, its claims and the logs:
each gives a verdict or gp2bm's one-line error, nothing else.
"""

from __future__ import annotations

import io
import tarfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gp2bm.errors import Gp2bmError
from gp2bm.evaluation.verify import verify_bundle

FUZZ = settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

KNOWN = ["SHA256SUMS", "gp2bm-claims.json", "gp2bm-bundle.json", "suite.yaml",
         "org/results/sys/resnet/result_0.txt", "org/systems/sys.json", "README.md"]
names = st.one_of(
    st.sampled_from(KNOWN),
    st.sampled_from(["../evil", "/etc/evil", "a/../../b", "./x", "a//b", "", ".", "a/./b"]),
    st.text(alphabet="ab/._-\\", min_size=1, max_size=12),
).map(lambda n: "bundle/" + n if n and not n.startswith(("/", "..")) else n)
contents = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([b"{}", b"[]", b"null", b'{"score": 1}', b"deadbeef  bundle/x\n",
                     b":::MLLOG {\"key\": \"run_start\", \"time_ms\": 1}\n"]),
)
member = st.tuples(
    st.sampled_from(["file", "file", "file", "dir", "symlink", "hardlink", "chr", "fifo"]),
    names,
    contents,
    st.sampled_from(["../../etc/passwd", "/etc/passwd", "x", "bundle/SHA256SUMS", ""]),
)


def make_tar(members) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for kind, name, data, target in members:
            info = tarfile.TarInfo(name or "x")
            if kind == "file":
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {
                "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
                "chr": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE,
            }[kind]
            info.linkname = target
            tar.addfile(info)
    return buf.getvalue()


def check(path):
    try:
        verify_bundle(path)
    except Gp2bmError as exc:
        assert "\n" not in str(exc).strip(), str(exc)


@pytest.mark.slow
@pytest.mark.reliability("bundle-fuzz")
@FUZZ
@given(st.lists(member, max_size=8))
def test_random_archives(tmp_path, members):
    path = tmp_path / "bundle.tar.gz"
    path.write_bytes(make_tar(members))
    check(path)


@pytest.mark.reliability("bundle-fuzz")
@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes(tmp_path, data):
    path = tmp_path / "bundle.tar.gz"
    path.write_bytes(data)
    check(path)
