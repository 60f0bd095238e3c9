"""What is resolved once per benchmark, before its first run: the config file's exported
environment, the GPUs the launcher starts one process for, and the values of the
``submission_*`` lines when gp2bm writes them.

Sourcing a config file inside the image is a container start, so it is done once per
campaign, not once per run; and whatever would make every run of the benchmark fail (a config
file that does not source, a launcher with no GPU to count, a system description whose status
is still a placeholder while gp2bm must write it into the log) stops the campaign before a
single run starts, with one line naming the file and the fix.

A dry run resolves the same way on a planning machine, where the images, the GPUs and the
container engine may be absent: a config file inside an image that is not here is read from
the image at run time (said in a note), and processes per node that only the node's GPUs
would give are shown as such (``GPUS_AT_RUN_TIME``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from gp2bm.campaign.folder import Campaign
from gp2bm.errors import Gp2bmError, InputError
from gp2bm.files.jsonfile import read_json_or_empty
from gp2bm.launchers import config_gpu_count, visible_gpus
from gp2bm.node.gpus import describe_gpus
from gp2bm.node.systemdesc import (
    default_system_yaml,
    is_placeholder,
    load_vendor_fields,
)
from gp2bm.run.launch import Placement, RunLaunch, plan_launch
from gp2bm.run.submission import SubmissionInfo, submission_info, submission_lines
from gp2bm.runtimes.base import Runtime, image_here
from gp2bm.runtimes.span import spanning_problem, spans
from gp2bm.spec.configenv import ConfigEnvironment, resolve_manifest_config
from gp2bm.spec.manifest import BenchmarkManifest

# What a dry run shows for the processes per node that only the node's GPUs would give.
GPUS_AT_RUN_TIME = "<the node's GPUs>"
# What gp2bm tells every run about its submission (mlperf_common's variable names).
SUBMISSION_ORG = "MLPERF_SUBMISSION_ORG"
SUBMISSION_PLATFORM = "MLPERF_SUBMISSION_PLATFORM"


@dataclass(frozen=True)
class BenchmarkSetup:
    """One benchmark's launch, resolved: every run of it is planned from this."""

    manifest: BenchmarkManifest
    config: ConfigEnvironment | None = None
    node_gpus: int | None = None
    gpus_from: str = "the node"  # where node_gpus comes from, for the dry run's note
    submission: SubmissionInfo | None = None  # None: the implementation writes them
    nodes: int = 1
    notes: list[str] = field(default_factory=list)
    # where a run across nodes (launcher srun) runs; None: not known yet (placeholders)
    place: Placement | None = None
    # a dry run's stand-in for processes per node no source here gives (GPUS_AT_RUN_TIME)
    count_text: str | None = None

    @property
    def spans(self) -> bool:
        """Whether its runs start their tasks on every node of an allocation (srun)."""
        return spans(self.manifest)

    def launch(self, seed: int | str, extra_env: dict[str, str]) -> RunLaunch:
        return plan_launch(
            self.manifest,
            seed,
            self.node_gpus,
            self.config,
            extra_env,
            nodes=self.nodes,
            place=self.place,
            count_text=self.count_text,
        )

    def placed(self, place: Placement | None) -> BenchmarkSetup:
        """The same setup, its runs placed there (a run across nodes: its allocation)."""
        return replace(self, place=place) if place is not None else self

    def header(self, time_ms: int) -> bytes:
        """The submission lines gp2bm writes before the run (nothing when the
        implementation writes its own)."""
        if self.submission is None:
            return b""
        return submission_lines(self.manifest.submission_lines, self.submission, time_ms)


def submission_env(campaign: Campaign) -> dict[str, str]:
    """What every run is told about its submission (MLPerf's own variable names)."""
    return {SUBMISSION_ORG: campaign.org, SUBMISSION_PLATFORM: campaign.system}


def node_gpu_count(manifest: BenchmarkManifest) -> int | None:
    """The GPUs a run of the manifest sees on this node (NVML), None when none."""
    if manifest.launcher.name == "none" or manifest.launcher.processes_per_node:
        return None  # not asked: the launcher needs no count of the node's GPUs
    return visible_gpus(manifest.gpus, describe_gpus().count)


def system_status(campaign: Campaign) -> tuple[str, str]:
    """The status of the campaign's system description, and the file it was read from:
    the description written into the campaign (what is handed in), else system.yaml."""
    path = campaign.layout.system_file
    described = read_json_or_empty(path)
    if described:
        return str(described.get("status", "")), str(path)
    yaml_path = default_system_yaml(campaign.suite.path)
    if yaml_path is not None:
        return load_vendor_fields(yaml_path).get("status", ""), str(yaml_path)
    return "", f"{path} (not written yet)"


def _submission(campaign: Campaign, manifest: BenchmarkManifest) -> SubmissionInfo | None:
    if manifest.submission_lines != "gp2bm":
        return None
    status, source = system_status(campaign)
    if not status.strip() or is_placeholder(status):
        raise InputError(
            f"{source}: status is '{status}': the {manifest.benchmark} submission lines need it "
            f"({manifest.path} says submission_lines: gp2bm); fill in status in system.yaml, "
            f"then `gp2bm inventory --campaign {campaign.root}`"
        )
    return submission_info(
        manifest.benchmark,
        campaign.org,
        campaign.system,
        status,
        campaign.suite.nodes,
        source=source,
    )


def _config(
    manifest: BenchmarkManifest, runtime: Runtime, dry_run: bool, notes: list[str]
) -> ConfigEnvironment | None:
    """The manifest's config file, sourced; in a dry run, one inside an image that cannot
    be read here (not pulled, no engine) is read from the image at run time instead."""
    config = manifest.config
    if not dry_run or config is None or config.location != "image":
        return resolve_manifest_config(manifest, runtime)
    why = "the image is not here"
    if image_here(runtime, manifest.image):
        try:
            return resolve_manifest_config(manifest, runtime)
        except Gp2bmError as exc:
            why = f"not read here: {exc}"
    deferred = ConfigEnvironment.read_at_run_time(manifest)
    notes.append(
        f"{manifest.benchmark}: {deferred.source}: read from the image at run time ({why}; "
        "its variables are not shown)"
    )
    return deferred


def benchmark_setup(
    campaign: Campaign,
    manifest: BenchmarkManifest,
    runtime: Runtime,
    dry_run: bool = False,
) -> BenchmarkSetup:
    """Resolve one benchmark's launch; the runtime has prepared its image already.

    A dry run writes no log (no submission lines) and may plan on a machine without GPUs:
    the launcher then starts as many processes as the config file's DGXNGPU says.
    """
    problem = spanning_problem(campaign.suite.nodes, {manifest.benchmark: manifest}, runtime)
    if problem:
        raise InputError(problem)
    notes: list[str] = []
    config = _config(manifest, runtime, dry_run, notes)
    gpus, gpus_from, count_text = node_gpu_count(manifest), "the node", None
    counted = manifest.launcher.name == "none" or manifest.launcher.processes_per_node
    if dry_run and gpus is None and not counted:
        fallback = config_gpu_count(config.exported if config else {})
        if fallback is not None and config is not None:
            gpus, gpus_from = fallback, f"{config.source} (DGXNGPU)"
            notes.append(
                f"{manifest.benchmark}: no GPU on this machine; processes per node from "
                f"{gpus_from}: {fallback}"
            )
        else:
            count_text, gpus_from = GPUS_AT_RUN_TIME, "the node's GPUs, counted at run time"
            notes.append(
                f"{manifest.benchmark}: no GPU on this machine: processes per node are "
                f"{gpus_from} (shown as {GPUS_AT_RUN_TIME})"
            )
    setup = BenchmarkSetup(
        manifest=manifest,
        config=config,
        node_gpus=gpus,
        gpus_from=gpus_from,
        submission=None if dry_run else _submission(campaign, manifest),
        nodes=campaign.suite.nodes,
        notes=notes,
        count_text=count_text,
    )
    trial = setup.launch("0", submission_env(campaign))  # raises what every run would
    runtime.check_options(trial.options, str(manifest.path))
    return replace(setup, notes=notes + trial.problems)
