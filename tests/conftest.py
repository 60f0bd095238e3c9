from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
MLPERF_FIXTURES = SHARED / "fixtures" / "mlperf"
RFP_WORKBOOK = SHARED / "fixtures" / "rfp" / "Benchmark_Results.xlsx"


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run gp2bm in-process, as the console script does; returns exit code and output."""
    from gp2bm.cli import main

    monkeypatch.setenv("COLUMNS", "200")

    def run(*args) -> CliResult:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def mlperf_fixtures() -> Path:
    if not MLPERF_FIXTURES.is_dir():
        pytest.skip(f"published MLPerf logs not available: {MLPERF_FIXTURES} is absent")
    return MLPERF_FIXTURES
