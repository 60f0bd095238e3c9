"""Hostile files where gp2bm expects a suite, a manifest, a JSON record or a result log: each
gives one line naming the file and the problem (exit 2), never a hang, never an internal
error, and never the content of the file it read."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from synth import RESNET_MINUTES, run_log_text, write_benchmark

from gp2bm.errors import InputError
from gp2bm.files.jsonfile import read_json
from gp2bm.files.yamlfile import MAX_DEPTH
from gp2bm.results.runlog import parse_run_log
from gp2bm.spec.suite import MIN_RUNS, load_suite

HASH = "$y$j9T$Zq0SECRETHASH1234567890$abcdefSECRETHASH"
SHADOW = f"root:{HASH}:19700:0:99999:7:::\ndaemon:*:19700:0:99999:7:::\nalice:{HASH}:1:0:9:7:::\n"
# gp2bm must answer well within this; a hang is what the old code did
BOUND_S = 60


def one_line(res, *needles) -> str:
    assert res.code == 2, (res.code, res.out, res.err)
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.err, res.err
    for needle in needles:
        assert str(needle) in lines[0], lines[0]
    return lines[0]


def gp2bm(*args, timeout: float = BOUND_S) -> subprocess.CompletedProcess:
    """gp2bm as a process, so that a hang fails the test instead of blocking it."""
    return subprocess.run(
        [sys.executable, "-m", "gp2bm", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# ------------------------------------------------------------ no content in an error message
SECRET_FILES = {
    "shadow": SHADOW,
    "one-line": f"root:{HASH}\n",
    "a value": f"name: x\nruleset: 3.1.0\nnodes: {HASH}\nbenchmarks: {{}}\n",
    "nested": f"name: x\nruleset: 3.1.0\nnodes: 1\nbenchmarks: {{resnet: {{runs: [{HASH}]}}}}\n",
    "a tag": f"name: !{HASH} x\n",
    "a key": f"name: x\nruleset: 3.1.0\nnodes: 1\nbenchmarks: {{}}\n{HASH}: 1\n",
    "a flow error": f"[{HASH}, {{\n",
    "a bad escape": f'name: "{HASH}\\q"\n',
}


@pytest.mark.reliability("error-no-content")
@pytest.mark.parametrize("kind", sorted(SECRET_FILES))
def test_a_suite_path_at_a_secret_file_prints_none_of_it(cli, tmp_path, kind):
    secret = tmp_path / "shadow"
    secret.write_text(SECRET_FILES[kind])
    write_benchmark(tmp_path / "r", "resnet", RESNET_MINUTES)
    line = one_line(cli("score", tmp_path / "r", "--suite", secret), secret)
    assert "SECRET" not in line and "19700" not in line, line


@pytest.mark.reliability("error-no-content")
def test_a_manifest_path_at_a_secret_file_prints_none_of_it(cli, tmp_path):
    secret = tmp_path / "etc" / "shadow"
    secret.parent.mkdir()
    secret.write_text(SHADOW)
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: x\nruleset: 3.1.0\nnodes: 1\nbenchmarks:\n"
        f"  resnet: {{manifest: {secret}, runs: 5, target: 0.759, weight: 7.19}}\n"
    )
    res = cli("run-all", "--suite", suite, "--campaign", tmp_path / "c", "--runtime", "local",
              "--system", "n1", "--dry-run")
    line = one_line(res, secret)
    assert "SECRET" not in line and "19700" not in line, line


@pytest.mark.reliability("error-no-content")
def test_json_errors_print_none_of_the_file(tmp_path):
    path = tmp_path / "campaign.json"
    for text in (SHADOW, json.dumps([HASH]), '{"a": "' + HASH + '"' + ", " + HASH + "}"):
        path.write_text(text)
        with pytest.raises(InputError) as err:
            read_json(path)
        assert "SECRET" not in str(err.value) and str(path) in str(err.value)


# ------------------------------------------------------------ non-regular files
def _special(kind: str, path: Path, tmp_path: Path):
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "link to a fifo":
        os.mkfifo(tmp_path / "pipe")
        path.symlink_to(tmp_path / "pipe")
    elif kind == "link to /dev/zero":
        path.symlink_to("/dev/zero")
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        return server
    return None


SPECIAL = ["fifo", "link to a fifo", "link to /dev/zero", "socket"]


@pytest.mark.reliability("non-regular-file")
@pytest.mark.parametrize("kind", SPECIAL)
def test_a_result_log_that_is_not_a_file_never_hangs_score(tmp_path, kind):
    folder = tmp_path / "resnet"
    write_benchmark(folder, "resnet", RESNET_MINUTES)
    held = _special(kind, folder / "result_5.txt", tmp_path)
    try:
        proc = gp2bm("score", folder)
    finally:
        if held is not None:
            held.close()
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip()
    assert "\n" not in line and "result_5.txt" in line and "expected a result log" in line


@pytest.mark.reliability("non-regular-file")
@pytest.mark.parametrize("kind", SPECIAL)
def test_a_suite_that_is_not_a_file_never_hangs(tmp_path, kind):
    write_benchmark(tmp_path / "r", "resnet", RESNET_MINUTES)
    suite = tmp_path / "suite.yaml"
    held = _special(kind, suite, tmp_path)
    try:
        proc = gp2bm("score", tmp_path / "r", "--suite", suite)
    finally:
        if held is not None:
            held.close()
    assert proc.returncode == 2, proc.stderr
    assert "\n" not in proc.stderr.strip() and "suite.yaml: is a" in proc.stderr


# ------------------------------------------------------------ YAML shape
@pytest.mark.reliability("suite-arithmetic")
def test_a_duplicate_key_is_refused_naming_it_and_its_line(cli, tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: x\nruleset: 3.1.0\nnodes: 1\nbenchmarks:\n"
        "  resnet: {runs: 5, target: 0.759, weight: 7.19}\n"
        "  resnet: {runs: 5, target: 0.759, weight: 99}\n"
    )
    write_benchmark(tmp_path / "r", "resnet", RESNET_MINUTES)
    one_line(cli("score", tmp_path / "r", "--suite", suite), suite, "line 6",
             "duplicate key 'resnet'")


@pytest.mark.reliability("suite-arithmetic")
@pytest.mark.parametrize("opening", ["[", "{a: ", "- "])
def test_100k_deep_nesting_is_one_line(cli, tmp_path, opening):
    suite = tmp_path / "suite.yaml"
    if opening == "- ":
        text = "".join("  " * i + "-\n" for i in range(700))  # block style: 700 deep
    else:
        closing = "]" if opening == "[" else "}"
        text = "a: " + opening * 100_000 + "1" + closing * 100_000 + "\n"
    suite.write_text(text)
    write_benchmark(tmp_path / "r", "resnet", RESNET_MINUTES)
    one_line(cli("score", tmp_path / "r", "--suite", suite), suite, f"deeper than {MAX_DEPTH}")


# ------------------------------------------------------------ the suite's arithmetic
def _suite(tmp_path: Path, resnet: str, bert: str, formula: str = "7.19/R + 9.05/B") -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(
        f"name: x\nruleset: 3.1.0\nnodes: 1\nscore: {{formula: '{formula}'}}\nbenchmarks:\n"
        f"  resnet: {{runs: 5, target: 0.759, weight: 7.19, symbol: R, {resnet}}}\n"
        f"  bert: {{runs: 10, target: 0.72, weight: 9.05, symbol: B, {bert}}}\n"
    )
    return path


@pytest.mark.reliability("suite-arithmetic")
@pytest.mark.parametrize(
    ("formula", "good"),
    [
        ("7.19/R + 9.05/B", True),
        ("9.05/B+7.190/R", True),
        ("100/R + 1/B", False),
        ("7.19/R", False),
        ("7.19/R + 9.05/B + 1/X", False),
        ("7.19/R + 7.19/R + 9.05/B", False),
        ("7.19*R + 9.05/B", False),
        ("R + B", False),
    ],
)
def test_the_formula_must_match_the_weights(tmp_path, formula, good):
    path = _suite(tmp_path, "", "", formula)
    if good:
        assert load_suite(path).formula == formula
        return
    with pytest.raises(InputError) as err:
        load_suite(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and "score.formula" in message
    assert "7.19/R + 9.05/B" in message  # what gp2bm computes


@pytest.mark.reliability("suite-arithmetic")
@pytest.mark.parametrize(
    ("resnet", "needle"),
    [
        ("weight: .nan", "weight is nan"),
        ("weight: .inf", "weight is inf"),
        ("weight: -.inf", "weight"),
        ("target: .nan", "target is nan"),
        ("target: .inf", "target is inf"),
        ("weight: -7.19", "weight"),
        ("weight: 0", "weight"),
        ("target: 0", "target"),
        ("target: -0.5", "target"),
        ("weight: 1" + "0" * 400, "too large"),
        ("runs: 1", f"at least {MIN_RUNS} runs"),
        ("runs: 2", f"at least {MIN_RUNS} runs"),
        ("max_failed_runs: 2", "max_failed_runs"),
        ("runs: 100000", "runs"),
        ("symbol: 'R B'", "symbol"),
    ],
)
def test_numbers_that_cannot_give_a_score_are_refused(cli, tmp_path, resnet, needle):
    # a key given twice in a flow mapping is refused too: replace instead of adding
    key = resnet.split(":")[0]
    base = {"runs": "runs: 5", "weight": "weight: 7.19", "target": "target: 0.759",
            "symbol": "symbol: R"}
    path = tmp_path / "suite.yaml"
    fields = ", ".join(resnet if k == key else v for k, v in base.items())
    if key not in base:
        fields += ", " + resnet
    path.write_text(
        "name: x\nruleset: 3.1.0\nnodes: 1\nbenchmarks:\n"
        f"  resnet: {{{fields}}}\n  bert: {{runs: 10, target: 0.72, weight: 9.05, symbol: B}}\n"
    )
    write_benchmark(tmp_path / "r", "resnet", RESNET_MINUTES)
    one_line(cli("score", tmp_path / "r", "--suite", path), path, needle)


@pytest.mark.reliability("suite-arithmetic")
def test_a_trial_suite_may_ask_for_fewer_runs(tmp_path):
    path = tmp_path / "suite.yaml"
    path.write_text(
        "name: x\nruleset: 3.1.0\nnodes: 1\ntrial: true\nbenchmarks:\n"
        "  resnet: {runs: 1, target: 0.759, weight: 7.19}\n"
    )
    suite = load_suite(path)
    assert suite.trial and suite.benchmarks["resnet"].runs == 1


# ------------------------------------------------------------ absurd numbers in a log
@pytest.mark.reliability("absurd-numbers")
def test_absurd_numbers_in_a_log_are_anomalies(cli, tmp_path):
    folder = tmp_path / "resnet"
    write_benchmark(folder, "resnet", RESNET_MINUTES)
    good = run_log_text("resnet", 7, 30.0).splitlines()
    huge = "9" * 400
    absurd = []
    for line in good:
        if '"key": "run_stop"' in line:
            head, payload = line.split(":::MLLOG ", 1)
            obj = json.loads(payload)
            line = head + ":::MLLOG " + json.dumps(obj).replace(
                f'"time_ms": {obj["time_ms"]}', f'"time_ms": {huge}')
        absurd.append(line)
    absurd.append(':::MLLOG {"key": "seed", "value": ' + huge + ', "time_ms": 1}')
    absurd.append(':::MLLOG {"key": "eval_accuracy", "value": ' + huge + ', "time_ms": 2}')
    absurd.append(':::MLLOG {"key": "global_batch_size", "value": -' + huge + ', "time_ms": 3}')
    absurd.append(':::MLLOG {"key": "run_start", "value": null, "time_ms": 1e308}')
    path = folder / "result_5.txt"
    path.write_text("\n".join(absurd) + "\n")
    run = parse_run_log(path, target=0.759)
    kinds = [a.kind for a in run.anomalies]
    assert kinds.count("absurd_time") == 2 and "absurd_number" in kinds, kinds
    assert run.stop_ms is None and run.minutes is None
    res = cli("score", folder, "--json", "--compliance", "off")
    assert res.code in (0, 1), res.err  # a verdict, never an internal error (exit 3)
    runs = {r["file"]: r for r in res.json()["benchmarks"]["resnet"]["runs"]}
    assert runs["result_5.txt"]["role"] == "failed"
    assert any("time_ms" in why for why in runs["result_5.txt"]["reasons"])
