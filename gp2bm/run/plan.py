"""A run, planned once: what starts it, with which environment, where, and where it writes.

``plan_run`` turns a benchmark's resolved launch (``BenchmarkSetup``), the run's place
(``RunPlacement``), the runtime and a seed into a ``RunPlan``: the spec the runtime starts,
its command line, its timeout and its files in the campaign. The real run executes that plan
(``run.execute``); ``--dry-run`` prints the plan of every missing run (``plan_campaign``),
with a placeholder for the seed each run draws when it starts. Both come from this one
function, so what the dry run shows is what runs; where the planning machine cannot know
something (a config file inside an image that is not here, the GPUs of the node, the nodes
of an allocation) the plan says so in its notes, and its command line shows a placeholder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from gp2bm.campaign.folder import Campaign, PlannedRun
from gp2bm.files.redact import redact_argv
from gp2bm.run.benchsetup import BenchmarkSetup, benchmark_setup, submission_env
from gp2bm.run.launch import RunLaunch
from gp2bm.run.placement import RunPlacement
from gp2bm.run.spanning import placement_for
from gp2bm.runtimes.base import LABEL_CAMPAIGN, LABEL_RUN, RunSpec, Runtime, run_spec
from gp2bm.spec.manifest import BenchmarkManifest

SEED_PLACEHOLDER = "<fresh seed>"


def container_name(campaign: Campaign, bench: str, n: int) -> str:
    return f"gp2bm-{campaign.ident}-{bench}-{n}"


@dataclass(frozen=True)
class RunPlan:
    """One run, planned: the spec its runtime starts and the command line that starts it
    (secrets not yet redacted), its timeout, and its files in the campaign."""

    benchmark: str
    index: int
    seed: int | str
    launch: RunLaunch
    spec: RunSpec
    argv: list[str]
    timeout: float | None
    result: Path  # result_N.txt, once the run has ended
    partial: Path  # the log while it runs
    record: Path  # its run record

    @property
    def shown(self) -> list[str]:
        """The command line as it may be shown and recorded: secrets redacted."""
        return redact_argv(self.argv)


def run_timeout(manifest: BenchmarkManifest, given: float | None) -> float | None:
    """The run's timeout in seconds: given, else the manifest's."""
    if given is None and manifest.timeout_minutes:
        return manifest.timeout_minutes * 60
    return given


def plan_run(
    campaign: Campaign,
    planned: PlannedRun,
    setup: BenchmarkSetup,
    runtime: Runtime,
    placement: RunPlacement,
    seed: int | str,
    name: str,
    timeout: float | None = None,
) -> RunPlan:
    """The plan of one run: its launch (the config's environment, the launcher, gp2bm's
    seed and submission variables), its spec and its command line where ``placement`` puts
    it. ``name`` names its container; ``timeout`` is the one given (else the manifest's)."""
    bench, n = planned.benchmark, planned.index
    setup = setup.placed(placement.place)
    launch = setup.launch(seed, submission_env(campaign))
    labels = {LABEL_CAMPAIGN: campaign.ident, LABEL_RUN: f"{bench}/{n}"}
    spec = run_spec(setup.manifest, launch, name, labels)
    layout = campaign.layout
    return RunPlan(
        benchmark=bench,
        index=n,
        seed=seed,
        launch=launch,
        spec=spec,
        argv=placement.render(runtime, spec, launch),
        timeout=run_timeout(setup.manifest, timeout),
        result=layout.result_path(bench, n),
        partial=layout.partial_path(bench, n),
        record=layout.record_path(bench, n),
    )


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
    # e.g. the processes per node taken from the config file (no GPU here), a config file
    # read from the image at run time, or one made for another GPU count
    notes: list[str] = field(default_factory=list)


def plan_campaign(
    campaign: Campaign,
    manifests: dict[str, BenchmarkManifest],
    runtime: Runtime,
    benchmarks: list[str] | None = None,
    timeout: float | None = None,
) -> CampaignPlan:
    """Each missing run and the command line that starts it (seed: a placeholder), planned
    as the runs are. Nothing is pulled or started, and no engine needs to answer."""
    planned = campaign.plan(benchmarks)
    out = CampaignPlan()
    runtime.use_images_dir(campaign.layout.images_dir)  # as the run tells it
    setups: dict[str, BenchmarkSetup] = {}
    for b in dict.fromkeys(p.benchmark for p in planned):
        if not runtime.uses_images:
            runtime.prepare(manifests[b])
        setups[b] = benchmark_setup(campaign, manifests[b], runtime, dry_run=True)
        out.notes += setups[b].notes
        if setups[b].spans:
            out.notes.append(
                f"{b}: each run spans {setups[b].nodes} node(s) of its Slurm allocation; its "
                "nodes, rank 0's address and srun's --mpi are the allocation's"
            )
    for p in planned:
        setup = setups[p.benchmark]
        name = container_name(campaign, p.benchmark, p.index)
        where = placement_for(campaign, setup, runtime, None)
        plan = plan_run(campaign, p, setup, runtime, where, SEED_PLACEHOLDER, name, timeout)
        out.rows.append(PlannedCommand(p.benchmark, p.index, str(plan.result), plan.shown))
    return out
