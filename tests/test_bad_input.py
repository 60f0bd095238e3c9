"""Bad input: one line naming the file and the problem, exit code 2, no traceback."""

from __future__ import annotations

import pytest
import yaml
from campaign_helpers import write_suite
from synth import RESNET_MINUTES, write_benchmark


def one_line_error(res, *needles):
    assert res.code == 2, (res.code, res.out, res.err)
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    assert "Traceback" not in res.err
    for n in needles:
        assert str(n) in lines[0], lines[0]
    return lines[0]


def test_missing_folder(cli, tmp_path):
    one_line_error(cli("score", tmp_path / "nope"), tmp_path / "nope", "no such folder")


def test_empty_folder(cli, tmp_path):
    one_line_error(cli("score", tmp_path), tmp_path, "no result_*.txt")


def test_file_instead_of_folder(cli, tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("hi")
    one_line_error(cli("score", f), f, "not a folder")


@pytest.mark.reliability("bad-input")
def test_binary_result_file(cli, tmp_path):
    folder = tmp_path / "resnet"
    write_benchmark(folder, "resnet", RESNET_MINUTES)
    (folder / "result_2.txt").write_bytes(bytes(range(256)) * 64)
    one_line_error(cli("score", folder), folder / "result_2.txt", "binary")


def test_unknown_ruleset(cli, tmp_path):
    write_benchmark(tmp_path / "resnet", "resnet", RESNET_MINUTES)
    one_line_error(cli("score", tmp_path, "--ruleset", "9.9.9"), "unknown ruleset '9.9.9'")


def test_ruleset_without_the_benchmark(cli, tmp_path):
    write_benchmark(tmp_path / "resnet", "resnet", RESNET_MINUTES)
    one_line_error(cli("score", tmp_path, "--ruleset", "6.1.0"), "6.1.0", "resnet")


@pytest.mark.reliability("bad-input")
@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("name: x\nruleset: [3.1.0\n", "YAML error"),
        ("name: x\n\tbad: tab\n", "YAML error"),
        ("- just\n- a list\n", "at (top level)"),
        (
            "name: x\nruleset: 3.1.0\nnodes: 1\nbenchmarks:\n  resnet: {runs: five, target: 0.759,"
            " weight: 7.19}\n",
            "at benchmarks.resnet.runs",
        ),
        ("name: x\nruleset: 3.1.0\nnodes: 1\nbenchmarks: {}\nsurprise: 1\n", "surprise"),
        ("a: &a [1]\nb: *a\n", "aliases"),
    ],
)
def test_malformed_suite(cli, tmp_path, text, needle):
    suite = tmp_path / "suite.yaml"
    suite.write_text(text)
    write_benchmark(tmp_path / "r", "resnet", RESNET_MINUTES)
    one_line_error(cli("score", tmp_path / "r", "--suite", suite), suite, needle)


@pytest.mark.reliability("bad-input")
def test_missing_suite(cli, tmp_path):
    one_line_error(
        cli("score", tmp_path, "--suite", tmp_path / "none.yaml"), "none.yaml", "file not found"
    )


@pytest.mark.reliability("bad-input")
def test_bad_scaling_json(cli, tmp_path):
    folder = tmp_path / "resnet"
    write_benchmark(folder, "resnet", RESNET_MINUTES)
    (folder / "scaling.json").write_text("{not json")
    one_line_error(cli("score", folder), folder / "scaling.json", "scaling_factor")


def test_bad_compliance_mode(cli, tmp_path):
    res = cli("score", tmp_path, "--compliance", "lenient")
    assert res.code == 2 and "Traceback" not in res.err


def test_unknown_compliance_mode_in_a_suite_file(cli, tmp_path):
    suite = write_suite(tmp_path / "suite")
    doc = yaml.safe_load(suite.read_text())
    doc["checks"]["compliance"] = "lenient"
    suite.write_text(yaml.safe_dump(doc, sort_keys=False))
    line = one_line_error(cli("score", tmp_path, "--suite", suite), suite, "checks.compliance")
    assert line.endswith('must be one of "strict", "report", "off"')


def test_two_result_sets_for_one_benchmark(cli, tmp_path):
    write_benchmark(tmp_path / "a/resnet", "resnet", RESNET_MINUTES)
    write_benchmark(tmp_path / "b/resnet", "resnet", RESNET_MINUTES)
    one_line_error(cli("score", tmp_path), "two result sets for 'resnet'")


def test_benchmark_not_in_suite(cli, tmp_path):
    folder = tmp_path / "ssd"
    folder.mkdir()
    (folder / "result_0.txt").write_text(
        ':::MLLOG {"key": "submission_benchmark", "value": "ssd", "time_ms": 1}\n'
    )
    one_line_error(cli("score", folder), "'ssd' is not part of suite 'gp2rfp'")


def test_console_script_exit_code(tmp_path):
    """The installed console script itself (not only main()) exits 2 with one line."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "gp2bm", "score", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no such folder" in proc.stderr
