"""Text from a bundle never reaches the evaluator's terminal as itself: member names,
gp2bm-bundle.json keys and values, log lines and the checkers' messages about them carry
random bytes (ESC, NUL, every C0 control, rich markup) into a real smoke campaign's bundle
and campaign; ``verify`` and ``package`` (run as the console script runs, so that every
process they fork writes where theirs does) print them escaped and cut, never obeyed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_report_campaign import ORG, copy_campaign
from test_verdict import resum

from gp2bm.files import safetar
from gp2bm.handin.bundle import build_bundle

pytestmark = pytest.mark.slow

SLOW_FUZZ = settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
C0 = [chr(c) for c in range(0x20)] + ["\x7f", "\x9b", "\u202e"]
MARKUP = ["[bold red]", "[/]", ":x:", "[link=http://x]", "\x1b[2J\x1b[H", "\x1b]0;t\x07"]
# a text with every kind of hostile piece; a file name may hold anything but NUL and "/"
hostile = st.lists(
    st.one_of(st.sampled_from(C0), st.sampled_from(MARKUP), st.text("abc=\\'\" ", max_size=4)),
    min_size=1,
    max_size=12,
).map("".join)
file_name = hostile.map(lambda t: "x" + t.replace("\x00", "").replace("/", "") + ".txt")


def gp2bm(*args: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "gp2bm", *map(str, args)],
        capture_output=True,
        timeout=300,
        check=False,
        env={**os.environ, "COLUMNS": "200", "GP2BM_DEBUG": ""},
    )


def leaked(output: bytes) -> list[str]:
    """The bytes below 0x20 (newline and tab aside) in ``output``, ESC among them."""
    return sorted({f"0x{b:02x}" for b in output if b < 0x20 and b not in (0x0A, 0x09)})


def assert_clean(proc: subprocess.CompletedProcess[bytes], *codes: int) -> str:
    text = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    assert proc.returncode in codes, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert leaked(proc.stdout) == [] and leaked(proc.stderr) == [], text[-3000:]
    return text


@pytest.fixture(scope="module")
def extracted(campaign, tmp_path_factory) -> Path:
    """The honest bundle of the smoke campaign, extracted once: its top folder."""
    base = tmp_path_factory.mktemp("text-bundle")
    result = build_bundle(campaign, base / "handin.tar.gz")
    safetar.extract(result.output, base / "x")
    (top,) = (base / "x").iterdir()
    return top


def first_log(top: Path) -> Path:
    return sorted((top / ORG / "results").glob("*/resnet/result_*.txt"))[0]


def forge(top: Path, text: str, name: str) -> None:
    """``text`` everywhere a forger can put it into an extracted bundle."""
    log = first_log(top)
    record = {"key": "submission_platform" + text, "value": text, "time_ms": 1}
    with log.open("a", encoding="utf-8", errors="surrogateescape") as f:
        f.write(text + "\n:::MLLOG " + json.dumps(record, ensure_ascii=False) + "\n")
    (log.parent / name).write_text(text)
    claims = top / "gp2bm-bundle.json"
    data = json.loads(claims.read_text())
    data[text] = text
    data["org"] = text
    claims.write_text(json.dumps(data, ensure_ascii=False))
    resum(top)


def tar_of(top: Path, out: Path) -> Path:
    with tarfile.open(out, "w:gz") as tar:
        tar.add(top, arcname=top.name)
    return out


@pytest.mark.reliability("bundle-text-escaped")
@SLOW_FUZZ
@given(text=hostile, name=file_name)
def test_no_control_byte_from_a_bundle_reaches_verifys_output(extracted, suite, text, name):
    with tempfile.TemporaryDirectory() as tmp:
        top = Path(tmp) / extracted.name
        shutil.copytree(extracted, top)
        forge(top, text, name)
        bundle = tar_of(top, Path(tmp) / "forged.tar.gz")
        for target in (bundle, top):
            shown = assert_clean(gp2bm("verify", target, "--suite", suite), 1)
            assert "gp2bm-bundle.json: org: claimed" in shown, shown[-2000:]  # it was shown
            assert_clean(gp2bm("verify", target, "--suite", suite, "--json"), 1)


@pytest.mark.reliability("bundle-text-escaped")
@SLOW_FUZZ
@given(text=hostile, name=file_name)
def test_no_control_byte_from_a_campaign_reaches_packages_output(campaign, text, name):
    with tempfile.TemporaryDirectory() as tmp:
        root = copy_campaign(campaign, Path(tmp) / "campaign")
        log = sorted((root / ORG / "results").glob("*/bert/result_*.txt"))[0]
        with log.open("a", encoding="utf-8") as f:
            f.write(text + "\n")
        (log.parent / name).write_text(text)
        out = Path(tmp) / "out.tar.gz"
        assert_clean(gp2bm("package", root, "--output", out), 0, 1, 2)


@pytest.mark.reliability("bundle-text-escaped")
def test_markup_and_escapes_in_a_member_name_are_shown_as_written(extracted, suite, tmp_path):
    top = tmp_path / extracted.name
    shutil.copytree(extracted, top)
    name = "x[bold red]VERIFIED:x:\x1b[2J.txt"
    (first_log(top).parent / name).write_text("x")  # not in SHA256SUMS: named as unlisted
    proc = gp2bm("verify", tar_of(top, tmp_path / "b.tar.gz"), "--suite", suite)
    text = assert_clean(proc, 1)
    assert "x[bold red]VERIFIED:x:\\x1b[2J.txt" in text, text[-2000:]
    assert "❌" not in text
