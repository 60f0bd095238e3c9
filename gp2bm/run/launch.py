"""One run's launch as data: the wrapped command, the environment, the container options.

What NVIDIA's run_with_docker.sh does by hand, from the manifest: the config file's
exported variables (``gp2bm.spec.configenv``), then the manifest's ``environment``, then
gp2bm's own (the fresh seed, the submission organisation and platform) win in that order;
the command is wrapped by the launcher (``gp2bm.launchers``) for one process per GPU; the
container options come from the manifest (``gp2bm.spec.container``). All of it is recorded
in the run record, secrets redacted.

A launcher that starts the runtime's command on every node of an allocation (srun) does not
wrap the command: its words (``outer``) go before the runtime's own command line, and what
it puts into every process's environment (``MASTER_ADDR`` ...) comes first, below the
config's and the manifest's. Where such a run runs is its ``Placement``: the allocation's
nodes, rank 0's address and port, Slurm's MPI plugin.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from gp2bm.errors import InputError
from gp2bm.files.redact import redact_argv, redact_env
from gp2bm.launchers import LaunchPlan, get_launcher, gpu_count_problem, launch_plan
from gp2bm.launchers.srun import FIRST_NODE_PLACEHOLDER
from gp2bm.spec.configenv import ConfigEnvironment, merge_environment, overridden_names
from gp2bm.spec.container import ContainerOptions, container_options
from gp2bm.spec.manifest import BenchmarkManifest


@dataclass(frozen=True)
class Placement:
    """Where a run across nodes runs (until an allocation is known: placeholders)."""

    hosts: tuple[str, ...] = ()  # rank 0's node first
    master_addr: str = FIRST_NODE_PLACEHOLDER
    master_port: int | None = None
    mpi: str | None = None


@dataclass(frozen=True)
class RunLaunch:
    command: list[str]
    environment: dict[str, str]
    launcher: str
    plan: LaunchPlan
    options: ContainerOptions
    config: str | None = None
    # the launcher's words before the command (``launcher.wrap([], plan)``)
    prefix: list[str] = field(default_factory=list)
    config_exported: dict[str, str] = field(default_factory=dict)
    overridden: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    # the launcher's words before the runtime's own command on every node (srun), if any
    outer: list[str] = field(default_factory=list)

    def as_record(self) -> dict:
        """The run record's part: what was resolved, secrets redacted."""
        spanning = {"srun": list(self.outer), "hosts": list(self.plan.hosts), "mpi": self.plan.mpi}
        return {**self._resolved(), **(spanning if self.outer else {})}

    def _resolved(self) -> dict:
        return {
            "launcher": self.launcher,
            "processes_per_node": self.plan.processes_per_node,
            "nodes": self.plan.nodes,
            "command": redact_argv(list(self.command)),
            "config": self.config,
            "config_overridden": sorted(self.overridden),
            "environment": redact_env(self.environment),
            "container_options": self.options.as_record(),
            "relaxed": self.options.relaxed(),
            "problems": list(self.problems),
        }


def gp2bm_environment(manifest: BenchmarkManifest, seed: int | str, extra: dict) -> dict:
    """gp2bm's own variables: the drawn seed and whatever the campaign adds (the
    submission organisation and platform mlperf_common reads)."""
    env = dict(extra)
    if manifest.seed_env:
        env[manifest.seed_env] = str(seed)
    return env


def _plan(
    manifest: BenchmarkManifest,
    node_gpus: int | None,
    nodes: int,
    node_rank: int,
    place: Placement | None,
    count_text: str | None = None,
) -> LaunchPlan:
    """The processes of the run: one (launcher none), else one per GPU of each node (shown
    as ``count_text`` where the node's GPUs are not known here)."""
    name = manifest.launcher.name
    if nodes > 1 and not get_launcher(name).spans_nodes:
        raise InputError(
            f"{manifest.path}: launcher {name} starts the processes of one node, but the suite "
            f"runs each run on {nodes} nodes: use launcher: srun (NVIDIA's run.sub)"
        )
    if name == "none":
        return LaunchPlan(processes_per_node=1, nodes=nodes, node_rank=node_rank)
    given = manifest.launcher.processes_per_node
    if given is None and node_gpus is None and count_text is not None:
        plan = LaunchPlan(0, nodes=nodes, node_rank=node_rank, count_text=count_text)
    else:
        plan = launch_plan(given, node_gpus, nodes, node_rank, str(manifest.path))
    if not get_launcher(name).spans_nodes:
        return plan
    place = place or Placement()
    return replace(
        plan,
        hosts=place.hosts,
        master_addr=place.master_addr,
        master_port=place.master_port,
        mpi=place.mpi,
    )


def plan_launch(
    manifest: BenchmarkManifest,
    seed: int | str,
    node_gpus: int | None,
    config: ConfigEnvironment | None = None,
    extra_env: dict[str, str] | None = None,
    nodes: int = 1,
    node_rank: int = 0,
    place: Placement | None = None,
    count_text: str | None = None,
) -> RunLaunch:
    """The launch of one run; ``config`` is the resolved config file (None: no config).
    ``count_text``: what the command line shows for the processes per node when neither the
    manifest, the node nor the config file says it here (a dry run)."""
    if manifest.config is not None and config is None:
        raise ValueError(f"{manifest.path}: its config file must be resolved first")
    plan = _plan(manifest, node_gpus, nodes, node_rank, place, count_text)
    launcher = get_launcher(manifest.launcher.name)
    exported = config.exported if config else {}
    env = {**launcher.run_environment(plan), **merge_environment(exported, manifest.environment)}
    env.update(gp2bm_environment(manifest, seed, extra_env or {}))
    command = list(manifest.command)
    if manifest.seed_arg:
        command += [manifest.seed_arg, str(seed)]
    problems = []
    if config is not None and plan.count_text is None:
        problem = gpu_count_problem(env, plan, config.source)
        if problem and manifest.launcher.name != "none":
            problems.append(problem)
    inside = not launcher.outside
    return RunLaunch(
        command=launcher.wrap(command, plan) if inside else command,
        environment=env,
        launcher=launcher.name,
        plan=plan,
        options=container_options(manifest),
        config=config.source if config else None,
        prefix=launcher.wrap([], plan) if inside else [],
        config_exported=dict(exported),
        overridden=overridden_names(exported, manifest.environment),
        problems=problems,
        outer=[] if inside else launcher.wrap([], plan),
    )
