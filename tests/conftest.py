from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

pytest_plugins = ["reliability_plugin"]

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


@pytest.fixture(scope="session")
def docker_services(tmp_path_factory):
    """A private dockerd and a local registry for the whole test session (tests/services.py)."""
    from services import ServicesUnavailable, start_services, stop_services, unavailable_reason

    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    try:
        services = start_services(tmp_path_factory.mktemp("docker-services"))
    except ServicesUnavailable as exc:
        pytest.skip(str(exc))
    yield services
    stop_services(services)


@pytest.fixture
def smoke_image(docker_services):
    """The smoke benchmark image, built (from cache when possible) in the test daemon."""
    from services import ServicesUnavailable, ensure_smoke_image

    try:
        return ensure_smoke_image(docker_services)
    except ServicesUnavailable as exc:
        pytest.skip(str(exc))
