"""Hostile text: ANSI escapes, NUL, bidi overrides and 10k-character strings in what a suite,
a result log or a checker gives gp2bm never reach the terminal or a report as themselves:
refused (a suite's title) or escaped and cut (names read from logs, checker messages)."""

from __future__ import annotations

import json

import pytest
from synth import RESNET_MINUTES, run_log_text, write_benchmark

from gp2bm.errors import InputError
from gp2bm.files.plaintext import hidden_characters, is_hidden, printable
from gp2bm.results.mlcommons import capture
from gp2bm.results.runlog import parse_run_log
from gp2bm.spec.suite import load_suite

ESC = "\x1b[2J\x1b[31m"  # clear the screen, then red
RTL = "\u202e"  # right-to-left override
ZWJ = "\u200d"
LONG = "A" * 10_000
EVIL = [ESC + "EVIL", f"good{RTL}lave", "nul\x00byte", f"zero{ZWJ}width", LONG, "line\u2028sep"]


def no_hidden(text: str) -> bool:
    return not any(is_hidden(ch) for ch in text if ch != "\n")


def test_printable_escapes_and_cuts():
    assert printable(ESC + "x") == "\\x1b[2J\\x1b[31mx"
    assert printable(f"a{RTL}b") == "a\\u202eb"
    assert printable("é ü 中文 🙂") == "é ü 中文 🙂"  # printable Unicode is kept
    assert printable(LONG, 40) == "A" * 40 + "..."
    assert hidden_characters(f"{ESC}{RTL}{ESC}") == ["U+001B", "U+202E"]


@pytest.mark.reliability("control-characters")
@pytest.mark.parametrize("title", EVIL, ids=["ansi", "rtl", "nul", "zwj", "10k", "u2028"])
def test_a_suite_title_with_hidden_characters_is_refused(cli, tmp_path, title):
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"name: x\ntitle: {json.dumps(title)}\nruleset: 3.1.0\nnodes: 1\nbenchmarks:\n"
        "  resnet: {runs: 5, target: 0.759, weight: 7.19}\n"
    )
    write_benchmark(tmp_path / "r", "resnet", RESNET_MINUTES)
    res = cli("score", tmp_path / "r", "--suite", suite)
    assert res.code == 2 and len(res.err.strip().splitlines()) == 1, res.err
    assert "title" in res.err and no_hidden(res.err) and len(res.err) < 500, res.err[:500]


@pytest.mark.reliability("control-characters")
@pytest.mark.parametrize("name", EVIL, ids=["ansi", "rtl", "nul", "zwj", "10k", "u2028"])
def test_a_benchmark_name_from_a_log_is_escaped(cli, tmp_path, name):
    folder = tmp_path / "other"
    folder.mkdir()
    record = {"key": "submission_benchmark", "value": name, "time_ms": 1}
    (folder / "result_0.txt").write_text(":::MLLOG " + json.dumps(record) + "\n")
    res = cli("score", folder)
    assert res.code == 2 and len(res.err.strip().splitlines()) == 1, res.err
    assert "is not part of suite" in res.err
    assert no_hidden(res.err) and len(res.err) < 500, res.err[:500]


@pytest.mark.reliability("control-characters")
def test_names_and_reasons_read_from_a_log_are_escaped(tmp_path):
    lines = run_log_text("resnet", 3, 30.0).splitlines()
    extra = [
        {"key": "submission_org", "value": ESC + "ACME" + LONG, "time_ms": 1},
        {"key": "submission_platform", "value": f"dgx{RTL}x", "time_ms": 1},
        {"key": "submission_benchmark", "value": "bert" + ESC, "time_ms": 1},
        {"key": "gp2bm_run_end", "value": {"status": "aborted", "reason": ESC + LONG},
         "time_ms": 1},
        {"key": ESC + "odd", "value": None, "time_ms": -1},
    ]
    path = tmp_path / "result_0.txt"
    path.write_text("\n".join(lines + [":::MLLOG " + json.dumps(e) for e in extra]) + "\n")
    run = parse_run_log(path)
    assert run.org is not None
    assert no_hidden(run.org) and run.org.startswith("\\x1b[2J") and len(run.org) < 300
    assert run.platform == "dgx\\u202ex"
    messages = [a.message for a in run.anomalies]
    assert any("differs" in m for m in messages) and any("aborted" in m for m in messages)
    assert any("not a time" in m for m in messages), messages
    for message in messages:
        assert no_hidden(message) and len(message) < 500, message[:500]


@pytest.mark.reliability("control-characters")
def test_checker_messages_are_escaped():
    short = capture.short(f"CHECK for 'key{ESC}' failed in line 3\nfailed test: {RTL}x > 1")
    assert no_hidden(short) and "\\x1b" in short


@pytest.mark.reliability("control-characters")
def test_a_yaml_key_with_hidden_characters_is_not_shown(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: x\nruleset: 3.1.0\nnodes: 1\nbenchmarks:\n"
        f"  \"res{RTL}net\\e[2J\": {{runs: 5, target: 0.759, weight: 7.19}}\n"
    )
    with pytest.raises(InputError) as err:
        load_suite(suite)
    assert no_hidden(str(err.value)) and "a key of" in str(err.value)


@pytest.mark.reliability("control-characters")
@pytest.mark.parametrize("option", ["--org", "--system"])
@pytest.mark.parametrize("name", EVIL, ids=["ansi", "rtl", "nul", "zwj", "10k", "u2028"])
def test_an_org_or_system_name_is_refused_escaped(cli, tmp_path, option, name):
    if "\x00" in name:
        name = name.replace("\x00", "\x01")  # an argv cannot hold NUL; another control can
    res = cli(
        "run-all", "--suite", "manifests/smoke.yaml", "--runtime", "local",
        "--campaign", tmp_path / "c", option, name, "--dry-run",
    )
    assert res.code == 2 and len(res.err.strip().splitlines()) == 1, res.err
    assert option in res.err and no_hidden(res.err) and len(res.err) < 300, res.err[:500]
    assert not (tmp_path / "c").exists()
