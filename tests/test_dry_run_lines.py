"""The dry run's lines are meant to be pasted into a shell: pasted, each runs exactly the
argument list gp2bm would run (a tab, a newline, ESC, quotes and ``$`` in an environment
value; a host path holding ``,source=/etc`` in Docker's and Podman's ``--mount``, a CSV
record); and the manifest values that reach those lines are validated first (environment
names, ``shm_size``, ulimit names, users), each in one line naming the file."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest
import yaml
from campaign_helpers import write_suite

from gp2bm.files.shellline import shell_line

HOSTILE_ENV = {
    "TABBED": "a\tb",
    "NEWLINE": "x\ny",
    "ESCAPE": "\x1b[2J",
    "QUOTES": "it's \"$HOME\" `id` $(id) \\n",
    "UNICODE": "é\u202e\u00a0",
}


def suite_with(tmp_path: Path, **manifest_changes) -> Path:
    suite = write_suite(tmp_path / "suite", runs={"resnet": 1}, env=HOSTILE_ENV)
    path = suite.parent / "resnet.yaml"
    doc = yaml.safe_load(path.read_text())
    doc.update(manifest_changes)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return suite


def fake_engine(tmp_path: Path, name: str) -> Path:
    """A ``docker``/``podman`` on PATH that writes the argument list it was given."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    engine = bin_dir / name
    engine.write_text(
        "#!/usr/bin/env python3\nimport json, sys\n"
        f"open({str(tmp_path / 'argv.json')!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
    )
    engine.chmod(0o755)
    return bin_dir


@pytest.mark.reliability("dry-run-paste")
@pytest.mark.parametrize("runtime", ["docker", "podman"])
def test_a_pasted_dry_run_line_runs_exactly_the_argv(cli, tmp_path, runtime):
    data = tmp_path / "data,source=" / "etc,target=\"x"  # the folder of a careless vendor
    data.mkdir(parents=True)
    mounts = [{"host": str(data), "container": "/data", "readonly": True}]
    suite = suite_with(tmp_path, mounts=mounts)
    args = ["run-all", "--dry-run", "--runtime", runtime, "--suite", suite,
            "--campaign", tmp_path / "c", "--system", "node1"]  # fmt: skip
    res = cli(*args, "--json")
    assert res.code == 0, res.err
    (row,) = json.loads(res.out)["plan"]
    argv = row["command"]
    text = cli(*args)
    assert text.code == 0, text.err
    line = next(x for x in text.out.splitlines() if x.startswith(argv[0] + " "))
    assert line == shell_line(argv) and "\t" not in line and "\x1b" not in line
    bin_dir = fake_engine(tmp_path, Path(argv[0]).name)
    subprocess.run(["bash", "-c", line], env={"PATH": f"{bin_dir}:/usr/bin:/bin",
                   "LANG": "C.UTF-8"}, check=True, timeout=60)  # fmt: skip
    assert json.loads((tmp_path / "argv.json").read_text()) == argv[1:]
    for name, value in HOSTILE_ENV.items():
        assert f"{name}={value}" in argv
    (mount,) = [argv[i + 1] for i, a in enumerate(argv) if a == "--mount"]
    (fields,) = list(csv.reader([mount]))  # as Docker reads it: one CSV record
    assert fields == ["type=bind", f"source={data}", "target=/data", "ro"], mount


def refused(cli, tmp_path: Path, *words: str, **changes) -> str:
    suite = suite_with(tmp_path, **changes)
    res = cli("run-all", "--dry-run", "--runtime", "docker", "--suite", suite,
              "--campaign", tmp_path / "c", "--system", "node1")  # fmt: skip
    assert res.code == 2, res.out + res.err
    (line,) = res.err.strip().splitlines()
    assert "resnet.yaml" in line and all(w in line for w in words), line
    return line


@pytest.mark.reliability("dry-run-paste")
@pytest.mark.parametrize(
    "change",
    [
        {"environment": {"A=B": "x"}},
        {"environment": {"": "x"}},
        {"environment": {"A B": "x"}},
        {"environment": {"NUL": "a\x00b"}},
        {"local": {"command": ["true"], "environment": {"X=Y": "1"}}},
    ],
    ids=["equals", "empty", "space", "nul-value", "local-equals"],
)
def test_environment_names_and_values_are_validated(cli, tmp_path, change):
    refused(cli, tmp_path, "environment", **change)


@pytest.mark.reliability("dry-run-paste")
@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"shm_size": "1" + "0" * 27 + "g"}, "shm_size"),
        ({"shm_size": "17t"}, "16 TiB"),
        ({"shm_size": 10**27}, "shm_size"),
        ({"shm_size": "0"}, "shm_size"),
        ({"ulimits": {"nofilez": 1024}}, "ulimits"),
        ({"ulimits": {"--privileged": 1}}, "ulimits"),
        ({"user": "root --privileged"}, "user"),
        ({"user": "a:b:c"}, "user"),
    ],
    ids=["shm-27-digits", "shm-17t", "shm-int", "shm-zero", "ulimit-typo", "ulimit-option",
         "user-option", "user-colons"],  # fmt: skip
)
def test_manifest_values_are_validated_with_one_line_naming_the_file(
    cli, tmp_path, change, word
):
    refused(cli, tmp_path, word, **change)


@pytest.mark.reliability("dry-run-paste")
def test_sound_values_are_kept(cli, tmp_path):
    suite = suite_with(tmp_path, shm_size="1g", ulimits={"memlock": -1, "stack": 67108864},
                       user="1000:1000")  # fmt: skip
    res = cli("run-all", "--dry-run", "--runtime", "docker", "--suite", suite,
              "--campaign", tmp_path / "c", "--system", "node1", "--json")  # fmt: skip
    assert res.code == 0, res.err
    argv = json.loads(res.out)["plan"][0]["command"]
    assert "--shm-size" in argv and "1g" in argv and "1000:1000" in argv
    assert "memlock=-1:-1" in argv and "stack=67108864:67108864" in argv
