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


# The real smoke campaign (made once per session: test_report_campaign.smoke_campaign), the
# suite file it ran and gp2bm's honest bundle of it, for the modules that verify bundles of
# it (a module that needs another campaign defines its own ``campaign``).
@pytest.fixture(scope="module")
def campaign(tmp_path_factory) -> Path:
    from test_report_campaign import smoke_campaign

    return smoke_campaign(tmp_path_factory)


@pytest.fixture(scope="module")
def suite(campaign) -> Path:
    """The suite file the smoke campaign ran (tests/campaign_helpers.write_suite)."""
    return campaign.parent / "suite" / "suite.yaml"


@pytest.fixture(scope="module")
def honest(campaign, tmp_path_factory) -> Path:
    """gp2bm's bundle of the smoke campaign, untouched."""
    from gp2bm.handin.bundle import build_bundle

    bundle = build_bundle(campaign, tmp_path_factory.mktemp("honest") / "handin.tar.gz").output
    assert bundle.is_file()
    return bundle
