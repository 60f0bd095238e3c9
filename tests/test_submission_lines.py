"""The submission_* lines: written by gp2bm for ResNet (as NVIDIA's host script does),
left to BERT, never twice; checked with MLCommons' compliance checker on NVIDIA's logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gp2bm.errors import InputError
from gp2bm.results.mlcommons.compliance import check_compliance
from gp2bm.run.submission import (
    KEYS,
    key_counts,
    status_code,
    submission_info,
    submission_lines,
    writer_problem,
)

NVIDIA = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "nvidia-v4.0"
INFO = submission_info("resnet", "Acme", "X9000", "Available on-premise")


@pytest.fixture
def nvidia():
    if not (NVIDIA / "resnet" / "results").is_dir():
        pytest.skip(f"NVIDIA's v4.0 logs are not available: {NVIDIA} is absent")
    return NVIDIA


@pytest.mark.parametrize("text, code", [
    ("Available on-premise", "onprem"), ("Available cloud", "cloud"), ("Preview", "preview"),
    ("Research, Development, or Internal (RDI)", "research"), ("onprem", "onprem"),
    ("available", "onprem"),
])
def test_status_of_the_system_description(text, code):
    assert status_code(text, "systems/x.json") == code


def test_unknown_status_is_one_line():
    with pytest.raises(InputError, match="systems/x.json: status 'soon' is none of"):
        status_code("soon", "systems/x.json")


def test_values_as_mlperf_common_writes_them():
    assert INFO.values() == {
        "submission_benchmark": "resnet", "submission_org": "Acme",
        "submission_division": "closed", "submission_status": "onprem",
        "submission_platform": "1xX9000"}
    with pytest.raises(InputError, match="organisation is empty"):
        submission_info("bert", " ", "X9000", "Preview")


def test_lines_for_gp2bm_none_for_the_implementation():
    text = submission_lines("gp2bm", INFO, 1700000000000)
    records = [json.loads(line.split(b":::MLLOG ", 1)[1]) for line in text.splitlines()]
    assert [r["key"] for r in records] == list(KEYS)
    assert all(r["time_ms"] == 1700000000000 and r["event_type"] == "POINT_IN_TIME"
               for r in records)
    assert submission_lines("implementation", INFO, 1) == b""
    with pytest.raises(InputError):
        submission_lines("host", INFO, 1)


def implementation_output(log: Path) -> bytes:
    """A published log without the host's own lines (run.sub's `python -c`): what the
    implementation itself wrote."""
    keep = [line for line in log.read_bytes().splitlines(keepends=True)
            if b'"file": "<string>"' not in line]
    return b"".join(keep)


def cache_clear() -> bytes:
    return (b':::MLLOG {"namespace": "", "time_ms": 1, "event_type": "POINT_IN_TIME", '
            b'"key": "cache_clear", "value": true, "metadata": {"file": "gp2bm", "lineno": 0}}\n')


def test_resnet_needs_gp2bm_to_write_them(nvidia, tmp_path):
    output = implementation_output(nvidia / "resnet" / "results" / "result_0.txt")
    without = tmp_path / "without.txt"
    without.write_bytes(cache_clear() + output)
    result = check_compliance(without, "3.1.0")
    assert not result.passed
    assert any("submission_org" in m for m in result.messages)
    problem = writer_problem("implementation", without.read_bytes(), "nvidia_resnet.yaml")
    assert problem is not None
    assert "set submission_lines: gp2bm in nvidia_resnet.yaml" in problem

    with_lines = tmp_path / "with.txt"
    with_lines.write_bytes(cache_clear() + submission_lines("gp2bm", INFO, 1) + output)
    assert check_compliance(with_lines, "3.1.0").passed
    assert writer_problem("gp2bm", with_lines.read_bytes(), "m") is None


def test_bert_writes_them_itself_and_twice_fails(nvidia, tmp_path):
    output = implementation_output(nvidia / "bert" / "results" / "result_0.txt")
    assert key_counts(output) == dict.fromkeys(KEYS, 1)
    once = tmp_path / "once.txt"
    once.write_bytes(cache_clear() + submission_lines("implementation", INFO, 1) + output)
    assert check_compliance(once, "3.1.0").passed
    twice = tmp_path / "twice.txt"
    twice.write_bytes(cache_clear() + submission_lines("gp2bm", INFO, 1) + output)
    assert not check_compliance(twice, "3.1.0").passed
    problem = writer_problem("gp2bm", twice.read_bytes(), "nvidia_bert.yaml")
    assert problem is not None
    assert "written twice" in problem and "submission_lines: implementation" in problem


def test_key_counts_read_prefixed_lines():
    log = b"0: " + submission_lines("gp2bm", INFO, 1).replace(b"\n", b"\n0: ")
    assert key_counts(log) == dict.fromkeys(KEYS, 1)
