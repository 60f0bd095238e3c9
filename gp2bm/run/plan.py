"""How each planned run is launched (its container's name and environment), and what
``--dry-run`` shows: each missing run and the command line that would start it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from gp2bm.campaign.folder import Campaign
from gp2bm.files.redact import redact_argv
from gp2bm.runtimes.base import Runtime, run_spec
from gp2bm.spec.manifest import BenchmarkManifest

SEED_PLACEHOLDER = "<fresh seed>"


def container_name(campaign: Campaign, bench: str, n: int) -> str:
    return f"gp2bm-{campaign.ident}-{bench}-{n}"


def submission_env(campaign: Campaign) -> dict[str, str]:
    """What every run is told about its submission (MLPerf's own variable names)."""
    return {"MLPERF_SUBMISSION_ORG": campaign.org, "MLPERF_SUBMISSION_PLATFORM": campaign.system}


@dataclass(frozen=True)
class PlannedCommand:
    benchmark: str
    run: int
    result: str  # the result log it will write
    command: list[str]  # secrets redacted

    def as_dict(self) -> dict:
        return asdict(self)


def plan_commands(
    campaign: Campaign,
    manifests: dict[str, BenchmarkManifest],
    runtime: Runtime,
    benchmarks: list[str] | None = None,
) -> list[PlannedCommand]:
    """Each missing run and the command line that would start it (seed: a placeholder)."""
    plan = campaign.plan(benchmarks)
    if not runtime.uses_images:
        for b in dict.fromkeys(p.benchmark for p in plan):
            runtime.prepare(manifests[b])
    env = submission_env(campaign)
    rows = []
    for p in plan:
        name = container_name(campaign, p.benchmark, p.index)
        spec = run_spec(manifests[p.benchmark], name, SEED_PLACEHOLDER, env, {})
        result = str(campaign.result_path(p.benchmark, p.index))
        rows.append(PlannedCommand(p.benchmark, p.index, result, redact_argv(runtime.render(spec))))
    return rows
