"""One run's launch as data: the wrapped command, the environment, the container options.

What NVIDIA's run_with_docker.sh does by hand, from the manifest: the config file's
exported variables (``gp2bm.spec.configenv``), then the manifest's ``environment``, then
gp2bm's own (the fresh seed, the submission organisation and platform) win in that order;
the command is wrapped by the launcher (``gp2bm.launchers``) for one process per GPU; the
container options come from the manifest (``gp2bm.spec.container``). All of it is recorded
in the run record, secrets redacted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gp2bm.files.redact import redact_env
from gp2bm.launchers import LaunchPlan, get_launcher, gpu_count_problem, launch_plan
from gp2bm.spec.configenv import ConfigEnvironment, merge_environment, overridden_names
from gp2bm.spec.container import ContainerOptions, container_options
from gp2bm.spec.manifest import BenchmarkManifest


@dataclass(frozen=True)
class RunLaunch:
    command: list[str]
    environment: dict[str, str]
    launcher: str
    plan: LaunchPlan
    options: ContainerOptions
    config: str | None = None
    config_exported: dict[str, str] = field(default_factory=dict)
    overridden: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def as_record(self) -> dict:
        """The run record's part: what was resolved, secrets redacted."""
        return {
            "launcher": self.launcher,
            "processes_per_node": self.plan.processes_per_node,
            "nodes": self.plan.nodes,
            "command": list(self.command),
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


def plan_launch(
    manifest: BenchmarkManifest,
    seed: int | str,
    node_gpus: int | None,
    config: ConfigEnvironment | None = None,
    extra_env: dict[str, str] | None = None,
    nodes: int = 1,
    node_rank: int = 0,
) -> RunLaunch:
    """The launch of one run; ``config`` is the resolved config file (None: no config)."""
    if manifest.config is not None and config is None:
        raise ValueError(f"{manifest.path}: its config file must be resolved first")
    if manifest.launcher.name == "none":
        plan = LaunchPlan(processes_per_node=1, nodes=nodes, node_rank=node_rank)
    else:
        plan = launch_plan(
            manifest.launcher.processes_per_node, node_gpus, nodes, node_rank, str(manifest.path)
        )
    exported = config.exported if config else {}
    env = merge_environment(exported, manifest.environment)
    env.update(gp2bm_environment(manifest, seed, extra_env or {}))
    command = list(manifest.command)
    if manifest.seed_arg:
        command += [manifest.seed_arg, str(seed)]
    launcher = get_launcher(manifest.launcher.name)
    problems = []
    if config is not None:
        problem = gpu_count_problem(env, plan, config.source)
        if problem and manifest.launcher.name != "none":
            problems.append(problem)
    return RunLaunch(
        command=launcher.wrap(command, plan),
        environment=env,
        launcher=launcher.name,
        plan=plan,
        options=container_options(manifest),
        config=config.source if config else None,
        config_exported=dict(exported),
        overridden=overridden_names(exported, manifest.environment),
        problems=problems,
    )
