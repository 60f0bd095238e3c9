"""The atlas build (gp2bm/atlas/build.py, scripts/build_atlas.py) on real git repositories:
bare ``training_results_vX.Y`` repositories made here from the published logs of
../shared/fixtures/mlperf, read with git as the build reads MLCommons' own."""

from __future__ import annotations

import csv
import io
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MLPERF_FIXTURES, REPO
from test_published_scores import PUBLISHED

from gp2bm.atlas import load_atlas
from gp2bm.atlas.build import build_atlas
from gp2bm.atlas.mirror import find_repositories
from gp2bm.errors import InputError

ROUNDS = ("v1.1", "v2.0", "v2.1")
SUMMARY_HEADER = [
    "division",
    "submitter",
    "system",
    "accelerators_count",
    "bert",
    "resnet",
    "details_url",
]
TAMPERED = 1.5  # the factor applied to one official number of the summary written here


def _git(*args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        check=True,
        capture_output=True,
    )


def _summary(round_: str, submitter: str) -> str:
    """An MLCommons summary file for a submitter, with the README's official numbers; the
    v2.1 BERT number multiplied by TAMPERED, so that the build must list it."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(SUMMARY_HEADER)
    for folder, _, bench, official in PUBLISHED:
        if not folder.startswith(f"{round_}/{submitter}/"):
            continue
        if round_ == "v2.1" and bench == "bert":
            official *= TAMPERED
        system = folder.split("/")[3]
        url = f"https://github.com/mlcommons/training_results_{round_}/blob/main/{submitter}/systems/{system}.json"
        numbers = {"bert": "", "resnet": "", bench: repr(official)}
        writer.writerow(["closed", submitter, system, 8, numbers["bert"], numbers["resnet"], url])
    return buf.getvalue()


def _repository(mirror: Path, round_: str, work: Path) -> None:
    tree = work / round_
    shutil.copytree(MLPERF_FIXTURES / round_, tree)
    [submitter] = [p.name for p in tree.iterdir()]
    (tree / submitter / "summary.csv").write_text(_summary(round_, submitter))
    if round_ == "v2.0":  # a set without a system description, a log one folder too deep
        stray = tree / submitter / "results" / "nosystem" / "resnet"
        stray.mkdir(parents=True)
        first = next((tree / submitter / "results").glob("*/resnet/result_1.txt"))
        shutil.copy(first, stray / "result_1.txt")
        deeper = first.parent / "power"
        deeper.mkdir()
        shutil.copy(first, deeper / "result_1.txt")
    git_dir = mirror / f"training_results_{round_}.git"
    _git("init", "-q", "--bare", str(git_dir))
    _git("--git-dir", str(git_dir), "--work-tree", str(tree), "add", "-A")
    _git("--git-dir", str(git_dir), "--work-tree", str(tree), "commit", "-q", "-m", round_)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory) -> Path:
    if not MLPERF_FIXTURES.is_dir():
        pytest.skip(f"published MLPerf logs not available: {MLPERF_FIXTURES} is absent")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    top = tmp_path_factory.mktemp("atlas-mirror")
    (top / "mirror").mkdir()
    for round_ in ROUNDS:
        _repository(top / "mirror", round_, top / "work")
    return top / "mirror"


@pytest.fixture(scope="module")
def built(mirror):
    return build_atlas(mirror, workers=1)


def test_rows_are_the_shipped_rows_of_the_same_logs(built):
    assert [r.label for r in built.rows] == sorted(
        f"{f.split('/')[0]} {f.split('/')[1]} {f.split('/')[3]} {b}" for f, _, b, _ in PUBLISHED
    )
    shipped = {r.key: r for r in load_atlas().all}
    for row in built.rows:
        official = next(o for f, _, b, o in PUBLISHED if row.source in f and b == row.benchmark)
        assert math.isclose(row.minutes, official, rel_tol=1e-9)
        same = shipped[row.key]
        assert (row.minutes, row.runs, row.scaling_factor) == (
            same.minutes,
            same.runs,
            same.scaling_factor,
        )
        assert (row.accelerator, row.count, row.division, row.availability, row.framework) == (
            same.accelerator,
            same.count,
            same.division,
            same.availability,
            same.framework,
        )


def test_the_commit_of_each_round_is_recorded(built, mirror):
    repos = find_repositories(mirror)
    manifest = built.manifest()
    assert list(manifest["rounds"]) == list(ROUNDS)
    for round_ in ROUNDS:
        assert manifest["rounds"][round_]["commit"] == repos[round_].commit
        assert {r.commit for r in built.rows if r.round == round_} == {repos[round_].commit}
    assert manifest["absent_rounds"] == ["v0.7", "v1.0", "v3.0", "v3.1", "v4.0", "v4.1", "v5.0"]


def test_what_cannot_be_read_is_listed_with_why(built):
    unread = {f"{u.round}/{u.path}": u.why for u in built.unread}
    assert unread["v2.0/SUPERMICRO/systems/nosystem.json"] == "no system description"
    assert unread["v2.0/SUPERMICRO/results/nosystem/resnet"] == "its system description is unread"
    deeper = unread["v2.0/SUPERMICRO/results/SYS-420GP-TNAR_mxnet/resnet/power"]
    assert deeper.startswith("1 result log(s) in a sub-folder of a benchmark folder")
    assert len(unread) == 3


def test_official_numbers_are_compared_and_a_difference_listed(built):
    manifest = built.manifest()["official_summaries"]
    assert manifest["compared"] == len(PUBLISHED)
    assert manifest["agreeing"] == len(PUBLISHED) - 1
    [differs] = manifest["differing"]
    assert differs["set"] == "GIGABYTE/results/G492-ZD2_pytorch/bert"
    assert math.isclose(differs["official"], differs["gp2bm"] * TAMPERED, rel_tol=1e-9)
    assert "outside every published run" in differs["explanation"]


def test_the_same_input_gives_the_same_bytes_in_parallel_too(built, mirror):
    again = build_atlas(mirror, workers=2)
    assert again.text == built.text
    assert again.manifest() == built.manifest()


def test_the_script_writes_and_checks_byte_for_byte(mirror, tmp_path):
    script = [sys.executable, str(REPO / "scripts" / "build_atlas.py"), str(mirror)]
    out = tmp_path / "out"
    wrote = subprocess.run(
        [*script, "--out", str(out)], capture_output=True, text=True, timeout=300
    )
    assert wrote.returncode == 0, wrote.stderr
    assert "wall time" in wrote.stdout and "DIFFERS" in wrote.stdout
    check = subprocess.run(
        [*script, "--out", str(out), "--check"], capture_output=True, text=True, timeout=300
    )
    assert check.returncode == 0 and "byte-identical" in check.stdout, check.stdout
    data = out / "atlas.json"
    data.write_bytes(data.read_bytes().replace(b"SUPERMICRO", b"SUPERMICRo", 1))
    changed = subprocess.run(
        [*script, "--out", str(out), "--check"], capture_output=True, text=True, timeout=300
    )
    assert changed.returncode == 1 and "DIFFERENT" in changed.stdout


def test_a_mirror_without_repositories_is_one_line_of_bad_input(tmp_path):
    with pytest.raises(InputError, match="no training_results_vX.Y repository"):
        build_atlas(tmp_path)
    with pytest.raises(InputError, match="no such folder"):
        build_atlas(tmp_path / "absent")
