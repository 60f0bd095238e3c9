"""The README's first-hour journey, run as written: the commands are read from the README's
blocks (never copied here), the vendor's then the evaluator's, run by bash in an empty
folder, and must all succeed, with `verify` passing on the bundle at the end of each (the
evaluator's by a renamed copy of the suite file alone, in a folder without manifests), no
DeprecationWarning on the way, nothing written into the repository, and no absolute path of
the vendor's folder in the bundle."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import RFP_WORKBOOK

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
MARKER = "<!-- journey -->"
EVALUATOR_MARKER = "<!-- journey-evaluator -->"
BUNDLE = "results/smoke-Acme-X9000.tar.gz"

pytestmark = pytest.mark.slow


def journey_commands(marker: str = MARKER) -> str:
    """The fenced block right after one of the README's journey markers, as it stands."""
    text = README.read_text(encoding="utf-8")
    assert text.count(marker) == 1, f"README.md: one {marker} line expected"
    after = text.split(marker, 1)[1]
    match = re.match(r"\s*```sh\n(.*?)\n```", after, re.DOTALL)
    assert match, f"README.md: no ```sh block right after {marker}"
    return match.group(1)


def _manifests_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((REPO / "manifests").rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def _written_at_root() -> list[str]:
    """What the journey could leave in the repository's own folder (bundles, campaigns)."""
    return sorted(
        p.name for p in REPO.iterdir() if p.name.endswith(".tar.gz") or p.name == "results"
    )


def _bundle_texts(bundle: Path):
    with tarfile.open(bundle) as tar:
        for member in tar.getmembers():
            if member.isfile():
                yield member.name, tar.extractfile(member).read()


def test_readme_journey_runs_as_written(tmp_path):
    # The evaluator's block starts where the vendor's ends (the vendor's folder).
    script = journey_commands() + "\n" + journey_commands(EVALUATOR_MARKER)
    work = tmp_path / "vendor"
    work.mkdir()
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env["COLUMNS"] = "100"
    env["PYTHONWARNINGS"] = "default::DeprecationWarning"  # `make demo` must print none
    env.pop("RFP_TEMPLATE", None)
    if RFP_WORKBOOK.is_file():
        env["RFP_TEMPLATE"] = str(RFP_WORKBOOK)
    before = (_manifests_digest(), _written_at_root())
    res = subprocess.run(
        ["bash", "-e", "-u", "-o", "pipefail", "-x", "-c", script],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    tail = (res.stdout[-4000:], res.stderr[-4000:])
    assert res.returncode == 0, f"a journey command failed (bash -x shows which): {tail}"
    # Each long command names the next one; verify ends the journey.
    for line in (
        "next: gp2bm report",
        "next: gp2bm package",
        "next: gp2bm verify",
        "done:",
    ):
        assert line in res.stderr, f"no '{line}' line: {tail}"
    assert res.stdout.count("verified: score") == 2, tail
    evaluator = tmp_path / "gp2bm-evaluator"
    assert "rules: your suite file rfp-rules.yaml" in res.stdout, tail
    assert not (evaluator / "manifests").exists()
    assert (evaluator / "smoke-Acme-X9000" / "SHA256SUMS").is_file()
    assert "DeprecationWarning" not in res.stderr, tail
    assert (_manifests_digest(), _written_at_root()) == before
    bundle = work / BUNDLE
    assert bundle.is_file()
    if RFP_WORKBOOK.is_file():
        assert (work / "results/smoke/reports/Benchmark_Results.xlsx").is_file()
        # the answers given once to report: package fills the workbook into the bundle
        names = [name for name, _ in _bundle_texts(bundle)]
        assert any(n.endswith("/reports/Benchmark_Results.xlsx") for n in names), names
        changes = [n for n in names if n.endswith("/changes/DESCRIPTION.txt")]
        assert changes, names
    leaks = [name for name, data in _bundle_texts(bundle) if str(work).encode() in data]
    assert not leaks, f"the bundle records the vendor's folder {work}: {leaks}"
