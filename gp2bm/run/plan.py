"""How each planned run is launched (its container's name), and what ``--dry-run`` shows:
each missing run and the command line that would start it, planned exactly as the runs
will be (the config file's environment, the launcher, the container options)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from gp2bm.campaign.folder import Campaign
from gp2bm.files.redact import redact_argv
from gp2bm.launchers.srun import SLURM_TO_PYTORCH
from gp2bm.run.benchsetup import BenchmarkSetup, benchmark_setup, submission_env
from gp2bm.run.launch import RunLaunch
from gp2bm.runtimes.base import RunSpec, Runtime, run_spec
from gp2bm.runtimes.span import Span
from gp2bm.spec.manifest import BenchmarkManifest

SEED_PLACEHOLDER = "<fresh seed>"


def container_name(campaign: Campaign, bench: str, n: int) -> str:
    return f"gp2bm-{campaign.ident}-{bench}-{n}"


@dataclass(frozen=True)
class PlannedCommand:
    benchmark: str
    run: int
    result: str  # the result log it will write
    command: list[str]  # secrets redacted

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class CampaignPlan:
    """What a dry run shows: the runs, and what the planning machine had to assume."""

    rows: list[PlannedCommand] = field(default_factory=list)
    # e.g. the processes per node taken from the config file (no GPU here), or a config
    # file made for another GPU count
    notes: list[str] = field(default_factory=list)


def plan_commands(
    campaign: Campaign,
    manifests: dict[str, BenchmarkManifest],
    runtime: Runtime,
    benchmarks: list[str] | None = None,
) -> CampaignPlan:
    """Each missing run and the command line that would start it (seed: a placeholder).

    Nothing is pulled: a config file inside an image needs the image here (gp2bm pull).
    """
    plan = campaign.plan(benchmarks)
    out = CampaignPlan()
    setups = {}
    for b in dict.fromkeys(p.benchmark for p in plan):
        if not runtime.uses_images:
            runtime.prepare(manifests[b])
        setups[b] = benchmark_setup(campaign, manifests[b], runtime, dry_run=True)
        out.notes += setups[b].notes
        if setups[b].spans:
            out.notes.append(
                f"{b}: each run spans {setups[b].nodes} node(s) of its Slurm allocation; its "
                "nodes, rank 0's address and srun's --mpi are the allocation's"
            )
    env = submission_env(campaign)
    for p in plan:
        name = container_name(campaign, p.benchmark, p.index)
        launch = setups[p.benchmark].launch(SEED_PLACEHOLDER, env)
        spec = run_spec(manifests[p.benchmark], name, SEED_PLACEHOLDER, {}, {}, launch=launch)
        result = str(campaign.layout.result_path(p.benchmark, p.index))
        argv = redact_argv(_render(campaign, runtime, setups[p.benchmark], spec, launch))
        out.rows.append(PlannedCommand(p.benchmark, p.index, result, argv))
    return out


def _render(
    campaign: Campaign, runtime: Runtime, setup: BenchmarkSetup, spec: RunSpec, launch: RunLaunch
) -> list[str]:
    """The run's command line; across nodes, with srun's words before the runtime's."""
    if not setup.spans:
        return runtime.render(spec)
    span = Span(
        launch=tuple(launch.outer),
        each_node=(),
        nodes=launch.plan.hosts,
        rank_map=SLURM_TO_PYTORCH,
        name=f"gp2bm-{campaign.ident}-{setup.manifest.benchmark}",
    )
    return runtime.render_span(spec, span)
