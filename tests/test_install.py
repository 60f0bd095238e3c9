"""gp2bm as a user installs it: ``pip install .`` (not editable) into a fresh virtual
environment, then run from a folder outside the repository, where only the installed package
can supply the default suite.

The fast tests check the packaging metadata and that an editable install reads (and ``pin``
writes) the repository's manifests/; the slow one builds and installs the package for real
(its dependencies come from the package index, through pip's cache).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from gp2bm.errors import InputError
from gp2bm.runtimes import DEFAULT
from gp2bm.spec.manifest import PACKAGE_DIR, require_writable
from gp2bm.spec.suite import DEFAULT_SUITE, MANIFEST_DIR, SUITES_PACKAGE

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO.parent / "shared" / "fixtures" / "mlperf"
# What `pip install .` needs from the tree (pyproject.toml names nothing else).
BUILD_INPUTS = ("pyproject.toml", "README.md", "gp2bm", "manifests")
INSTALL_TIMEOUT_S = 240
COMMAND_TIMEOUT_S = 120
DIGEST_IMAGE = "registry.example/resnet@sha256:" + "0" * 64
# v2.1 GIGABYTE, as published (tests/test_published_scores.py)
RESNET_MIN, BERT_MIN = 27.688279645909645, 16.54875599448207


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------- packaging


def test_every_package_is_listed_in_pyproject():
    """The packages are listed (the suites package is mapped, so find cannot be used): a new
    package under gp2bm/ must be listed too, or a non-editable install lacks it."""
    listed = set(pyproject()["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "gp2bm").rglob("__init__.py")
    }
    assert on_disk | {SUITES_PACKAGE} == listed


def test_suites_package_is_the_manifests_folder():
    setuptools = pyproject()["tool"]["setuptools"]
    assert setuptools["package-dir"] == {SUITES_PACKAGE: "manifests"}
    assert pyproject()["tool"]["setuptools"]["package-data"][SUITES_PACKAGE] == ["*.yaml"]
    assert (REPO / "manifests" / "__init__.py").is_file()
    # the SPDX form: the table form warns on every build with setuptools >= 77
    assert pyproject()["project"]["license"] == "Apache-2.0"


def test_editable_install_reads_the_repository_manifests():
    """In this (editable) install the default suites are the repository's own files, so that
    `gp2bm pin` edits what git tracks."""
    assert MANIFEST_DIR == REPO / "manifests"
    assert DEFAULT_SUITE == REPO / "manifests" / "gp2rfp.yaml"
    require_writable(REPO / "manifests" / "resnet.yaml")  # no error: outside the package


def test_a_manifest_inside_the_package_is_not_rewritten():
    inside = PACKAGE_DIR / "spec" / "suites" / "resnet.yaml"
    with pytest.raises(InputError) as caught:
        require_writable(inside)
    message = str(caught.value)
    assert message.startswith(f"{inside}: this manifest is part of the installed gp2bm package")
    assert "copy the suite's manifests" in message and "--suite FOLDER/" in message


# ---------------------------------------------------------------------------- pip install .


def _run(argv: list, cwd: Path, timeout: float = COMMAND_TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with gp2bm installed from a copy of the tree; returns its bin/ folder."""
    top = tmp_path_factory.mktemp("install")
    source = top / "source"
    for name in BUILD_INPUTS:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(path, source / name)
    venv = top / "venv"
    made = _run([sys.executable, "-m", "venv", venv], cwd=top)
    assert made.returncode == 0, made.stderr
    pip = [venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check"]
    done = _run([*pip, "install", "-v", source], cwd=top, timeout=INSTALL_TIMEOUT_S)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # a cold build warns about nothing in gp2bm's own packaging metadata
    assert "SetuptoolsDeprecationWarning" not in done.stdout + done.stderr
    return venv / "bin"


@pytest.fixture
def outside(tmp_path) -> Path:
    """A working folder with no gp2bm source in it or above it."""
    assert not tmp_path.resolve().is_relative_to(REPO)
    return tmp_path


def installed_suites(installed: Path, cwd: Path) -> Path:
    """The default suites' folder as the installed gp2bm finds it."""
    code = "from gp2bm.spec.suite import MANIFEST_DIR; print(MANIFEST_DIR)"
    where = _run([installed / "python", "-c", code], cwd=cwd)
    assert where.returncode == 0, where.stderr
    return Path(where.stdout.strip())


@pytest.mark.slow
def test_installed_package_has_its_own_default_suite(installed, outside):
    folder = installed_suites(installed, outside)
    assert "site-packages" in folder.parts and folder.name == "suites"
    assert sorted(p.name for p in folder.glob("*.yaml")) == sorted(
        p.name for p in (REPO / "manifests").glob("*.yaml")
    )


@pytest.mark.slow
def test_installed_gp2bm_scores_published_logs_with_the_default_suite(installed, outside):
    if not FIXTURES.is_dir():
        pytest.skip(f"published MLPerf logs not available: {FIXTURES} is absent")
    logs = FIXTURES / "v2.1" / "GIGABYTE" / "results"
    res = _run(
        [
            installed / "gp2bm",
            "score",
            logs,
            "--ruleset",
            "2.1.0",
            "--compliance",
            "report",
            "--json",
        ],
        cwd=outside,
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["suite"] == "gp2rfp"
    assert math.isclose(data["score"], 7.19 / RESNET_MIN + 9.05 / BERT_MIN, rel_tol=1e-9)


@pytest.mark.slow
def test_installed_gp2bm_plans_the_default_suite(installed, outside):
    res = _run([installed / "gp2bm", "run-all", "--dry-run"], cwd=outside)
    assert res.returncode == 0, res.stderr
    first, *rest = res.stdout.splitlines()
    assert first == f"campaign results/gp2rfp: 15 run(s) to do with {DEFAULT}"
    planned = [line for line in rest if line.startswith("# ")]
    assert [line.split()[1] for line in planned] == ["resnet"] * 5 + ["bert"] * 10
    assert not (outside / "results").exists()  # a dry run writes nothing


@pytest.mark.slow
def test_installed_gp2bm_refuses_to_pin_its_own_manifests(installed, outside):
    res = _run([installed / "gp2bm", "pin", "resnet", DIGEST_IMAGE], cwd=outside)
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr
    assert "is part of the installed gp2bm package" in lines[0]
    assert "copy the suite's manifests" in lines[0]


@pytest.mark.slow
def test_installed_smoke_suite_is_a_one_line_error(installed, outside):
    """The smoke workload (containers/smoke/) lives in the source tree only: the installed
    smoke suite, run with the local runtime, stops at once in one line."""
    smoke = installed_suites(installed, outside) / "smoke.yaml"
    res = _run(
        [
            installed / "gp2bm",
            "run-all",
            "--suite",
            smoke,
            "--runtime",
            "local",
            "--skip-check",
            "--allow-cache-drop-failure",
            "--campaign",
            outside / "camp",
        ],
        cwd=outside,
    )
    assert res.returncode == 2, (res.stdout[-2000:], res.stderr[-2000:])
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr
    assert "train.py" in lines[0]
    assert "started" not in res.stdout + res.stderr  # no run was started
