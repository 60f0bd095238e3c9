"""gp2bm's seam to MLCommons' mlperf-logging (gp2bm/results/mlcommons): importing it changes
nothing of the library, ``install`` applies the speed-ups once and only to the pinned
release (another one is left as it is, said once, and still gives the same verdicts), and a
real ``score`` and ``verify`` import the library from nowhere else."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import MLPERF_FIXTURES, REPO
from synth import RESNET_MINUTES, write_benchmark
from test_report_campaign import ORG, synthetic_campaign

from gp2bm.handin.bundle import build_bundle
from gp2bm.handin.package_check import check_package
from gp2bm.results.mlcommons import version
from gp2bm.results.resultset import score_paths
from gp2bm.spec.suite import DEFAULT_SUITE, load_suite

TESTS = Path(__file__).resolve().parent
OTHER_RELEASE = "4.0.0"

# The library's state, as a fresh interpreter sees it: what gp2bm's speed-ups would change.
STATE = """
import json, sys, types
from mlperf_logging.compliance_checker import mlp_compliance, mlp_parser

def state():
    parsers = [
        m for m in vars(mlp_parser).values()
        if isinstance(m, types.ModuleType) and m.__package__ == mlp_parser.__name__
    ]
    rcp = sys.modules.get("mlperf_logging.rcp_checker.rcp_checker")
    return {
        "yaml": type(mlp_compliance.yaml).__name__,
        "strip": sorted({m.strip_and_dedup.__qualname__ for m in parsers}),
        "parsers": len(parsers),
        "rcp_scipy": None if rcp is None else type(rcp.scipy).__name__,
        "ids": [id(mlp_compliance.yaml)] + [id(m.strip_and_dedup) for m in parsers],
    }
"""
LIBRARY_AS_IT_IS = {"yaml": "module", "strip": ["strip_and_dedup"]}
LINEAR = "linear_strip_and_dedup.<locals>.strip_and_dedup"

# Every module that reaches the library, imported; then install, twice.
IMPORT_THEN_INSTALL = (
    STATE
    + """
import importlib, pkgutil
import gp2bm.results.mlcommons as adapter
for info in pkgutil.walk_packages(adapter.__path__, adapter.__name__ + "."):
    importlib.import_module(info.name)
for name in ("results.rules", "results.checkpool", "results.scoring", "results.resultset",
             "handin.package_check", "evaluation.checkerside", "evaluation.early",
             "node.systemdesc"):
    importlib.import_module("gp2bm." + name)
imported = state()
imported["installed"] = adapter.installed()
first = adapter.install()
from gp2bm.results.mlcommons import rcp
rcp.checker_module()
after = state()
second = adapter.install()
again = state()
print(json.dumps({
    "imported": imported, "first": first, "after": after, "second": second, "again": again,
    "wrapped": type(mlp_compliance.yaml.yaml).__name__,
}))
"""
)

# The library reported as another release: install twice, then gp2bm's checks on it.
ANOTHER_RELEASE = (
    f"""
import importlib.metadata as metadata
real = metadata.version
metadata.version = lambda name: "{OTHER_RELEASE}" if name == "mlperf-logging" else real(name)
"""
    + STATE
    + """
from pathlib import Path
from gp2bm.handin.package_check import check_package
from gp2bm.results import mlcommons
from gp2bm.results.mlcommons import compliance, rcp
from gp2bm.results.resultset import score_paths
from gp2bm.spec.suite import DEFAULT_SUITE, load_suite
results, org, scratch = (Path(p) for p in sys.argv[1:4])
applied = [mlcommons.install(), mlcommons.install()]
log = sorted((results / "resnet").glob("result_*.txt"))[0]
out = {
    "applied": applied,
    "compliance": compliance.check_compliance(log, "3.1.0").to_dict(),
    "rcp": rcp.check_rcp(results / "resnet", "3.1.0").to_dict(),
    "score": score_paths([results], load_suite(DEFAULT_SUITE), workers=2).as_dict(),
    "package": check_package(org, "3.1.0", scratch).as_dict(),
    "state": state(),
}
print(json.dumps(out, default=str))
"""
)


def python(code: str, *args: object, timeout: float = 300) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter (tests/ importable), run to its end."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(REPO)])}
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )


def test_the_pinned_version_is_pyprojects():
    pins = [
        d
        for d in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
        if d.replace(" ", "").startswith("mlperf-logging")
    ]
    assert pins == [f"mlperf-logging=={version.PINNED}"]
    assert version.installed_version() == version.PINNED  # this environment, as pinned


def test_importing_patches_nothing_install_patches_once():
    proc = python(IMPORT_THEN_INSTALL)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # the pinned release: nothing to say
    data = json.loads(proc.stdout)
    imported = data["imported"]
    assert {k: imported[k] for k in LIBRARY_AS_IT_IS} == LIBRARY_AS_IT_IS
    assert imported["rcp_scipy"] is None and imported["installed"] is False
    assert imported["parsers"] >= 10
    assert data["first"] is True and data["second"] is True
    after = data["after"]
    assert after["yaml"] == "RuleFiles" and after["strip"] == [LINEAR]
    assert after["rcp_scipy"] == "_StandIn"
    assert data["again"] == after  # the same objects: nothing wrapped twice
    assert data["wrapped"] == "module"  # RuleFiles around PyYAML itself


@pytest.fixture(scope="module")
def campaign(tmp_path_factory) -> Path:
    return synthetic_campaign(tmp_path_factory.mktemp("mlcommons"))


def _digests(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_another_release_is_left_alone_said_once_and_checks_the_same(campaign, tmp_path):
    results = tmp_path / "results"
    write_benchmark(results / "resnet", "resnet", RESNET_MINUTES)
    org = campaign / ORG
    before = _digests(org)
    proc = python(ANOTHER_RELEASE, results, org, tmp_path / "scratch")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [version.mismatch_line(OTHER_RELEASE)]
    assert OTHER_RELEASE in proc.stderr and version.PINNED in proc.stderr
    data = json.loads(proc.stdout)
    assert data["applied"] == [False, False]
    state = data["state"]
    assert {k: state[k] for k in LIBRARY_AS_IT_IS} == LIBRARY_AS_IT_IS
    assert state["rcp_scipy"] == "module"  # the RCP checker imported as the library does
    # the same verdicts as with the speed-ups (this process has them)
    from gp2bm.results.mlcommons import compliance, rcp

    log = sorted((results / "resnet").glob("result_*.txt"))[0]
    assert data["compliance"] == compliance.check_compliance(log, "3.1.0").to_dict()
    assert data["compliance"]["passed"]
    assert data["rcp"] == rcp.check_rcp(results / "resnet", "3.1.0").to_dict()
    expected = score_paths([results], load_suite(DEFAULT_SUITE), workers=1).as_dict()
    assert json.loads(json.dumps(expected, default=str)) == data["score"]
    package = check_package(org, "3.1.0", tmp_path / "scratch-pinned").as_dict()
    assert data["package"] == package and package["passed"]
    assert _digests(org) == before  # the tree is evidence: neither run wrote into it


# A bootstrap that records, for each import of a module of the library (``import``
# statements, through builtins.__import__, and importlib.import_module calls), the module
# that asked, in every process (forked ones too), then runs ``python -m gp2bm``.
HOOK = r"""
import builtins, importlib, importlib.util, json, os, runpy, sys
OUT = sys.argv.pop(1)
LIBRARY = "mlperf_logging"
seen = set()

def record(importer, name):
    if (name == LIBRARY or name.startswith(LIBRARY + ".")) and (importer, name) not in seen:
        seen.add((importer, name))
        line = json.dumps([os.getpid(), importer, name]) + "\n"
        fd = os.open(OUT, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

real_import = builtins.__import__

def hooked_import(name, globals=None, locals=None, fromlist=(), level=0):
    where = globals or {}
    absolute = name
    if level:
        absolute = importlib.util.resolve_name("." * level + name, where.get("__package__"))
    record(where.get("__name__", "?"), absolute)
    return real_import(name, globals, locals, fromlist, level)

real_import_module = importlib.import_module

def hooked_import_module(name, package=None):
    absolute = importlib.util.resolve_name(name, package) if name.startswith(".") else name
    record(sys._getframe(1).f_globals.get("__name__", "?"), absolute)
    return real_import_module(name, package)

builtins.__import__ = hooked_import
importlib.import_module = hooked_import_module
sys.argv[0] = "gp2bm"
runpy.run_module("gp2bm", run_name="__main__", alter_sys=True)
"""
ADAPTER = "gp2bm.results.mlcommons"


def watched(tmp_path: Path, *args: object) -> tuple[subprocess.CompletedProcess, list]:
    """``python -m gp2bm ARGS`` under the import hook: its result and the imports seen."""
    out = tmp_path / "imports.jsonl"
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-c", HOOK, str(out), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    lines = out.read_text().splitlines() if out.exists() else []
    return proc, [json.loads(line) for line in lines]


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def assert_only_the_adapter_imports(seen: list) -> None:
    importers = {importer for _, importer, _ in seen}
    strangers = sorted(
        f"{importer} imports {name}"
        for _, importer, name in seen
        if not (_within(importer, "mlperf_logging") or _within(importer, ADAPTER))
    )
    assert not strangers, strangers
    # the hook saw both the adapter's imports and the library's own
    assert any(_within(i, ADAPTER) for i in importers), importers
    assert any(_within(i, "mlperf_logging") for i in importers), importers


def test_score_imports_the_library_only_through_the_adapter(tmp_path):
    logs = MLPERF_FIXTURES / "v2.1" / "GIGABYTE" / "results"
    if not logs.is_dir():
        pytest.skip(f"published MLPerf logs not available: {logs} is absent")
    proc, seen = watched(
        tmp_path, "score", logs, "--ruleset", "2.1.0", "--compliance", "report", "--rcp", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    score = json.loads(proc.stdout)["score"]
    assert math.isclose(score, 7.19 / 27.688279645909645 + 9.05 / 16.54875599448207, rel_tol=1e-9)
    assert_only_the_adapter_imports(seen)
    names = {name for _, _, name in seen}
    assert "mlperf_logging.rcp_checker.rcp_checker" in names  # the RCP checks ran too


@pytest.mark.slow
def test_verify_imports_the_library_only_through_the_adapter(campaign, tmp_path):
    bundle = build_bundle(campaign, tmp_path / "handin.tar.gz")
    assert bundle.valid and bundle.package_check.passed, bundle.problems
    proc, seen = watched(tmp_path, "verify", bundle.output, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["ok"] and data["checked"]["package_checker"] == "pass"
    assert_only_the_adapter_imports(seen)
    assert len({pid for pid, _, _ in seen}) >= 2  # the forked side process was watched too
    names = {name for _, _, name in seen}
    assert any(_within(n, "mlperf_logging.package_checker") for n in names), names
