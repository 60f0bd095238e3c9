"""The bundle carries the exact gp2bm that wrote it: a wheel made from the running gp2bm's
own files, the same bytes every time, named and hashed in gp2bm-bundle.json and the README;
installed on its own, it verifies the bundle as the gp2bm here does. A wheel swapped for
another (its hash in SHA256SUMS made to match) is a finding."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from test_report_campaign import synthetic_campaign
from test_verify import _pack, _resum, _unpack

from gp2bm import __version__
from gp2bm.handin.bundle import build_bundle
from gp2bm.handin.selfwheel import file_sha256, wheel_bytes, wheel_name

WHEEL = f"tool/{wheel_name()}"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    result = build_bundle(synthetic_campaign(base), base / "handin.tar.gz")
    assert result.valid and result.package_check.passed, result.problems
    return result.output


def test_the_wheel_is_the_same_bytes_every_time_and_holds_every_module():
    first, second = wheel_bytes(), wheel_bytes()
    assert first == second
    names = zipfile.ZipFile(__import__("io").BytesIO(first)).namelist()
    assert "gp2bm/cli/app.py" in names and "gp2bm/atlas/atlas.json" in names
    assert f"gp2bm-{__version__}.dist-info/RECORD" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_bundle_names_and_hashes_its_wheel(bundle, tmp_path):
    top = _unpack(bundle, tmp_path)
    meta = json.loads((top / "gp2bm-bundle.json").read_text())
    digest, size = file_sha256(top / WHEEL)
    assert meta["gp2bm_wheel"] == {"path": WHEEL, "file": wheel_name(), "sha256": digest,
                                   "bytes": size}  # fmt: skip
    readme = (top / "README.md").read_text()
    assert f"pip install {WHEEL}" in readme and digest in readme
    assert f"  {WHEEL}" in (top / "SHA256SUMS").read_text()


@pytest.mark.slow
def test_the_bundled_wheel_installed_alone_verifies_the_bundle(cli, bundle, tmp_path):
    top = _unpack(bundle, tmp_path / "x")
    target = tmp_path / "installed"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
                          "--quiet", "--target", str(target), str(top / WHEEL)],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert pip.returncode == 0, pip.stderr[-2000:]
    # the installed gp2bm first on the path, its requirements from this environment; run
    # outside the checkout so that the checkout's gp2bm is not the one imported
    env = {**os.environ, "PYTHONPATH": str(target), "GP2BM_DEBUG": ""}
    where = subprocess.run([sys.executable, "-c", "import gp2bm; print(gp2bm.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=env)  # fmt: skip
    assert where.stdout.strip().startswith(str(target)), where.stdout + where.stderr
    theirs = subprocess.run([sys.executable, "-m", "gp2bm", "verify", str(bundle), "--json"],
                            capture_output=True, text=True, cwd=tmp_path, env=env,
                            timeout=300)  # fmt: skip
    ours = cli("verify", bundle, "--json")
    assert theirs.returncode == ours.code == 0, theirs.stderr[-2000:]
    mine, installed = ours.json(), json.loads(theirs.stdout)
    assert installed["ok"] and installed["score"] == mine["score"]
    assert installed["findings"] == mine["findings"]


def test_a_swapped_wheel_is_a_finding(cli, bundle, tmp_path):
    top = _unpack(bundle, tmp_path)
    (top / WHEEL).write_bytes((top / WHEEL).read_bytes() + b"\0")
    _resum(top, WHEEL)
    res = cli("verify", _pack(top, tmp_path / "t.tar.gz"))
    assert res.code == 1
    assert "gp2bm-bundle.json: gp2bm_wheel: sha256: claimed" in res.out
    assert "gp2bm-bundle.json: gp2bm_wheel: bytes: claimed" in res.out


def test_a_bundle_without_its_wheel_entry_is_a_finding(cli, bundle, tmp_path):
    top = _unpack(bundle, tmp_path)
    meta = json.loads((top / "gp2bm-bundle.json").read_text())
    del meta["gp2bm_wheel"]
    (top / "gp2bm-bundle.json").write_text(json.dumps(meta, indent=2) + "\n")
    _resum(top, "gp2bm-bundle.json")
    res = cli("verify", _pack(top, tmp_path / "t.tar.gz"))
    assert res.code == 1 and "gp2bm_wheel: missing" in res.out
