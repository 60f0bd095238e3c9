"""gp2bm verify: a bundle is recomputed from its raw logs; any change is found and named."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from test_report_campaign import ORG, SYSTEM, synthetic_campaign

from gp2bm.files import safetar
from gp2bm.handin.bundle import build_bundle

LOG = f"{ORG}/results/{SYSTEM}/bert/result_3.txt"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("verify")
    root = synthetic_campaign(base)
    result = build_bundle(root, base / "handin.tar.gz")
    assert result.valid and result.package_check.passed, result.problems
    return result.output


def _unpack(bundle: Path, dest: Path) -> Path:
    safetar.extract(bundle, dest)
    return dest / "handin"


def _pack(top: Path, out: Path) -> Path:
    with tarfile.open(out, "w:gz") as tar:
        tar.add(top, arcname=top.name)
    return out


def _resum(top: Path, name: str) -> None:
    """Update SHA256SUMS for one file, as a careful forger would."""
    digest = hashlib.sha256((top / name).read_bytes()).hexdigest()
    lines = [
        f"{digest}  {name}" if line.endswith(f"  {name}") else line
        for line in (top / "SHA256SUMS").read_text().splitlines()
    ]
    (top / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def test_untouched_bundle_verifies(cli, bundle):
    res = cli("verify", bundle, "--json")
    assert res.code == 0, res.out + res.err
    data = res.json()
    assert data["ok"] and data["differences"] == [] and data["problems"] == []
    assert data["checked"]["runs"] == 15 and data["checked"]["package_checker"] == "pass"
    claims = json.loads(
        tarfile.open(bundle).extractfile("handin/gp2bm-claims.json").read().decode()
    )
    assert data["score"] == claims["score"]
    # each interval and the score's, recomputed: the same runs give the claimed ones
    assert data["score_interval"] == claims["score_interval"]
    assert data["score_interval"]["low"] < data["score"] < data["score_interval"]["high"]
    for name, b in data["benchmarks"].items():
        assert b["interval"] == claims["benchmarks"][name]["interval"]
        assert b["stated_variance"] == claims["benchmarks"][name]["stated_variance"]
    text = cli("verify", bundle).out
    assert "95 % interval" in text and "verified: score " in text


@pytest.mark.reliability("tampered-bundle")
def test_one_changed_byte_in_a_log_is_named(cli, bundle, tmp_path):
    top = _unpack(bundle, tmp_path)
    path = top / LOG
    data = bytearray(path.read_bytes())
    stop = data.index(b'"run_stop"')
    digit = data.rindex(b'"time_ms": ', 0, stop) + len(b'"time_ms": ') + 8
    data[digit] = ord("0") if data[digit] != ord("0") else ord("1")
    path.write_bytes(bytes(data))
    res = cli("verify", _pack(top, tmp_path / "t.tar.gz"))
    assert res.code == 1
    assert f"{LOG}: SHA-256 differs from SHA256SUMS" in res.out
    assert "runs[result_3.txt].minutes" in res.out  # recomputed from the changed log
    assert LOG in res.err and res.err.count("\n") == 1


@pytest.mark.reliability("tampered-bundle")
def test_forged_sums_and_claims_are_recomputed_from_the_logs(cli, bundle, tmp_path):
    top = _unpack(bundle, tmp_path)
    # a changed log and a better score, SHA256SUMS updated to match: the sums pass, the
    # claims do not, because the score is recomputed from the logs
    path = top / LOG
    text = path.read_text()
    path.write_text(text.replace('"status": "success"', '"status": "success" '))
    claims = json.loads((top / "gp2bm-claims.json").read_text())
    claims["score"] *= 1.10
    (top / "gp2bm-claims.json").write_text(json.dumps(claims))
    _resum(top, LOG)
    _resum(top, "gp2bm-claims.json")
    res = cli("verify", _pack(top, tmp_path / "t.tar.gz"))
    assert res.code == 1
    assert "gp2bm-claims.json: score: claimed" in res.out
    assert "SHA-256 differs" not in res.out


@pytest.mark.reliability("tampered-bundle")
def test_missing_and_unlisted_files(cli, bundle, tmp_path):
    top = _unpack(bundle, tmp_path)
    (top / "reports" / "results.csv").unlink()
    (top / "extra.txt").write_text("added later\n")
    res = cli("verify", _pack(top, tmp_path / "t.tar.gz"))
    assert res.code == 1
    assert "reports/results.csv: listed in SHA256SUMS but missing" in res.out
    assert "extra.txt: not listed in SHA256SUMS" in res.out


@pytest.mark.reliability("tampered-bundle")
def test_reports_are_checked_against_the_logs(cli, bundle, tmp_path):
    top = _unpack(bundle, tmp_path)
    csv_path = top / "reports" / "results.csv"
    lines = csv_path.read_text().splitlines()
    lines[-1] = lines[-1].replace(",yes,", ",yes,9", 1)  # a bigger score in the CSV
    csv_path.write_text("\r\n".join(lines) + "\r\n")
    _resum(top, "reports/results.csv")
    res = cli("verify", _pack(top, tmp_path / "t.tar.gz"))
    assert res.code == 1 and "reports/results.csv: score: claimed 9" in res.out


def test_verify_an_extracted_folder_and_an_own_suite(cli, bundle, tmp_path):
    top = _unpack(bundle, tmp_path)
    assert cli("verify", top).code == 0
    suite = tmp_path / "mine.yaml"
    text = (top / "manifests" / "suite.yaml").read_text().replace("weight: 9.05", "weight: 9.5")
    suite.write_text(text)
    res = cli("verify", top, "--suite", suite)
    assert res.code == 1
    assert "rule bert.weight: the bundle's suite says 9.05, the reference 9.5" in res.out


def _tar(path: Path, members: list[tuple[str, bytes | None, str | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data, link in members:
            info = tarfile.TarInfo(name)
            if link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.reliability("tar-slip")
@pytest.mark.parametrize(
    "member, link, why",
    [
        ("handin/../../outside.txt", None, "'..' in the path refused"),
        ("/tmp/absolute.txt", None, "absolute path refused"),
        ("handin/escape", "../../etc", "outside the archive refused"),
    ],
)
def test_unsafe_bundles_are_refused(cli, tmp_path, member, link, why):
    path = _tar(tmp_path / "evil.tar.gz", [("handin/SHA256SUMS", b"", None), (member, b"x", link)])
    res = cli("verify", path)
    assert res.code == 1
    assert f"member '{member}'" in res.err and why in res.err
    assert res.err.count("\n") == 1
    assert not (tmp_path.parent / "outside.txt").exists()


def test_not_a_bundle(cli, tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"\x1f\x8b not really gzip" * 20)
    res = cli("verify", junk)
    assert res.code == 2 and "junk.tar.gz: not a tar archive" in res.err
    assert res.err.count("\n") == 1
    res = cli("verify", tmp_path / "absent.tar.gz")
    assert res.code == 2 and "absent.tar.gz: file not found" in res.err
    empty = _tar(tmp_path / "empty.tar.gz", [("notes.txt", b"hello", None)])
    res = cli("verify", empty)
    assert res.code == 1 and "SHA256SUMS: missing" in res.out


@pytest.mark.reliability("truncated-bundle")
def test_truncated_bundle_is_unreadable(cli, bundle, tmp_path):
    cut = tmp_path / "cut.tar.gz"
    data = bundle.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    res = cli("verify", cut)
    assert res.code == 2 and "cut.tar.gz" in res.err and "Traceback" not in res.err
