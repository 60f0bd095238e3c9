"""The MLLOG parser: tolerant of real-world noise, strict about what changes the time."""

from __future__ import annotations

import json

import pytest
from synth import run_log_text

from gp2bm.errors import InputError
from gp2bm.results.runlog import parse_run_log


def rec(key, t, value=None, **md):
    return ":::MLLOG " + json.dumps(
        {
            "namespace": "",
            "time_ms": t,
            "event_type": "POINT_IN_TIME",
            "key": key,
            "value": value,
            "metadata": md,
        }
    )


def write(tmp_path, lines, name="result_0.txt", end="\n"):
    p = tmp_path / name
    p.write_text("\n".join(lines) + end)
    return p


def test_fields(tmp_path):
    p = tmp_path / "result_0.txt"
    p.write_text(run_log_text("bert", 1234, 20.0, index=2))
    run = parse_run_log(p, target=0.72)
    assert run.benchmark == "bert" and run.seed == 1234 and run.global_batch_size == 448
    assert run.status == "success" and run.org == "gp2bm-test" and run.division == "closed"
    assert run.minutes == pytest.approx(20.0, rel=1e-9)
    assert run.cache_clears == 1
    assert len(run.evals) == 10 and run.evals[-1].accuracy >= 0.72
    assert run.evals[-1].epoch_num == 2483712
    assert run.anomalies == []


def test_the_first_init_start_is_kept(tmp_path):
    lines = [
        rec("init_start", 1000),
        rec("init_start", 1500),
        rec("init_stop", 61000),
        rec("run_start", 62000),
        rec("submission_benchmark", 62001, "bert"),
        rec("run_stop", 122000, status="success"),
    ]
    run = parse_run_log(write(tmp_path, lines))
    assert run.init_start_ms == 1000 and run.start_ms == 62000
    assert parse_run_log(write(tmp_path, lines[2:], "result_1.txt")).init_start_ms is None


def test_noise_and_prefixes(tmp_path):
    p = write(
        tmp_path,
        [
            "+ docker exec ...",
            "[1,0]<stdout>:::MLLOG " + rec("submission_benchmark", 1, "resnet")[9:],
            "random text :::MLLOG " + rec("run_start", 1000)[9:],
            "Epoch 1 loss 2.3",
            "0: :::MLLOG " + rec("run_stop", 61000, status="success")[9:],
            rec("tracked_stats", 62000, {"x": 1}),
        ],
    )
    run = parse_run_log(p)
    assert run.benchmark == "resnet" and run.minutes == 1.0 and run.records == 4
    assert run.errors == []


@pytest.mark.reliability("garbled-log")
def test_garbled_and_truncated_lines(tmp_path):
    p = write(
        tmp_path,
        [
            rec("submission_benchmark", 1, "resnet"),
            rec("run_start", 1000),
            ':::MLLOG {"key": "eval_accuracy", "time_ms": ',
            ":::MLLOG [1, 2, 3]",
            ":::MLLOG \xff\xfe not json",
            rec("run_stop", 61000, status="success")[:40],
        ],
        end="",
    )
    run = parse_run_log(p)
    kinds = [a.kind for a in run.anomalies]
    assert kinds.count("garbled_line") == 3
    assert "truncated" in kinds and "missing_run_stop" in kinds
    assert run.minutes is None


@pytest.mark.reliability("duplicate-run-start")
def test_duplicate_run_start_keeps_first(tmp_path):
    p = write(
        tmp_path,
        [
            rec("submission_benchmark", 1, "resnet"),
            rec("run_start", 1000),
            rec("run_start", 31000),
            rec("run_stop", 61000, status="success"),
        ],
    )
    run = parse_run_log(p)
    assert run.minutes == 1.0
    assert [a.kind for a in run.errors] == ["duplicate_run_start"]
    assert run.errors[0].lineno == 3


@pytest.mark.reliability("clock-step-synthetic")
def test_time_going_backwards(tmp_path):
    """Time going back inside the timed part is only noted (accepted logs do it); only a
    negative time to train is an error."""
    p = write(
        tmp_path,
        [
            rec("submission_benchmark", 1, "resnet"),
            rec("run_start", 100_000),
            rec("eval_accuracy", 40_000, 0.5, epoch_num=1),
            rec("run_stop", 90_000, status="success"),
        ],
    )
    run = parse_run_log(p)
    assert "clock_backwards" in [a.kind for a in run.warnings]
    assert [a.kind for a in run.errors] == ["negative_duration"]
    assert "60000 ms at 'eval_accuracy'" in str(run.warnings[0])


def test_eval_lines_out_of_order_are_only_noted(tmp_path):
    p = tmp_path / "result_0.txt"
    p.write_text(run_log_text("resnet", 1, 30.0, late_evals=True))
    run = parse_run_log(p, target=0.759)
    assert run.errors == []
    assert run.minutes == pytest.approx(30.0, rel=1e-12)
    assert {a.kind for a in run.warnings} == {"clock_backwards"}


def test_run_stop_stamped_before_the_last_eval(tmp_path):
    p = tmp_path / "result_0.txt"
    p.write_text(run_log_text("bert", 1, 20.0, stop_before_last_eval_ms=5000))
    run = parse_run_log(p, target=0.72)
    assert run.errors == []
    assert run.minutes == pytest.approx(20.0, rel=1e-12)
    assert [a.kind for a in run.warnings] == ["clock_backwards"]
    assert "'run_stop'" in run.warnings[0].message


def test_target_never_reached(tmp_path):
    p = tmp_path / "result_0.txt"
    p.write_text(run_log_text("resnet", 1, 30.0, reach_target=False))
    run = parse_run_log(p, target=0.759)
    assert [a.kind for a in run.errors] == ["target_not_reached"]
    assert parse_run_log(p).errors == []  # no target given, nothing to compare


@pytest.mark.reliability("garbled-log")
def test_nul_bytes_and_invalid_utf8_survive(tmp_path):
    p = tmp_path / "result_0.txt"
    good = run_log_text("resnet", 1, 30.0)
    p.write_bytes(b"\x00\x01garbage\xff\n" + good.encode() + b"\x00\x00\n")
    run = parse_run_log(p)
    assert run.minutes == pytest.approx(30.0)


def test_binary_file_is_input_error(tmp_path):
    p = tmp_path / "result_0.txt"
    p.write_bytes(bytes(range(256)) * 100)
    with pytest.raises(InputError, match="binary file"):
        parse_run_log(p)


@pytest.mark.reliability("garbled-log")
def test_long_line_is_skipped(tmp_path):
    p = tmp_path / "result_0.txt"
    good = run_log_text("resnet", 1, 30.0)
    p.write_text("x" * (3 << 20) + "\n" + good)
    run = parse_run_log(p)
    assert [a.kind for a in run.anomalies] == ["long_line"]
    assert run.minutes == pytest.approx(30.0)


@pytest.mark.reliability("garbled-log")
def test_100mb_line_is_skipped(tmp_path):
    p = tmp_path / "result_0.txt"
    good = run_log_text("resnet", 1, 30.0)
    with open(p, "wb") as fh:
        fh.write(b":::MLLOG ")
        chunk = b"x" * (1 << 20)
        for _ in range(100):
            fh.write(chunk)
        fh.write(b"\n" + good.encode())
    run = parse_run_log(p)
    # read all the same; over MAX_CHECKED_LOG_BYTES (64 MiB), the run fails unchecked
    assert [a.kind for a in run.anomalies] == ["long_line", "log_too_large"]
    assert run.minutes == pytest.approx(30.0)


def test_no_records(tmp_path):
    p = write(tmp_path, ["just text", "more text"])
    run = parse_run_log(p)
    assert [a.kind for a in run.errors] == ["no_records"]
