"""The pre-flight's look at how each benchmark will be launched, before any run.

Only manifests that use a real MLPerf launch's fields get these items (the smoke suite's
table is unchanged): the container options the runtime must honour (a runtime that cannot is
a blocking failure naming the option and the manifest), the vendor's config file sourced as
the runs will source it, a config made for another GPU count (a warning: the run trains
another configuration), and the launcher's executable in the image.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

from gp2bm.errors import InputError
from gp2bm.files.findings import CheckItem, fail, ok, warn
from gp2bm.launchers import get_launcher, gpu_count_problem, launch_plan, visible_gpus
from gp2bm.runtimes.base import Runtime, image_here
from gp2bm.spec.configenv import ConfigEnvironment, resolve_manifest_config
from gp2bm.spec.container import ContainerOptions, container_options
from gp2bm.spec.manifest import BenchmarkManifest

DOCS = "docs/NVIDIA.md"


def _asks_for_options(o: ContainerOptions) -> bool:
    return bool(o.security_opt or o.cap_add or o.init or o.uts or o.devices)


def options_items(runtime: Runtime, bench: str, m: BenchmarkManifest) -> list[CheckItem]:
    options = container_options(m)
    if not _asks_for_options(options):
        return []
    name = f"{bench} container options"
    try:
        runtime.check_options(options, str(m.path))
    except InputError as exc:
        return [fail(name, str(exc), f"remove it from the manifest, or see {DOCS}")]
    shown = ", ".join(options.relaxed() + (["init"] if options.init else []))
    return [ok(name, f"{runtime.name} honours {shown}")]


def config_items(
    runtime: Runtime, bench: str, m: BenchmarkManifest
) -> tuple[list[CheckItem], ConfigEnvironment | None]:
    """The config file sourced as a run sources it; its environment for the GPU check."""
    if m.config is None:
        return [], None
    name = f"{bench} config"
    if m.config.location == "image" and not image_here(runtime, m.image):
        return [
            warn(
                name,
                f"{m.config.file} not read: image {m.image} is not here yet",
                "gp2bm pull, then gp2bm check again",
            )
        ], None
    try:
        config = resolve_manifest_config(m, runtime)
    except InputError as exc:
        return [fail(name, str(exc), f"fix the config file, or config: in {m.path}")], None
    assert config is not None  # None only for a manifest without config, returned above
    return [ok(name, f"{len(config.exported)} variables from {config.source}")], config


def processes_items(
    bench: str, m: BenchmarkManifest, config: ConfigEnvironment | None, node_gpus: int | None
) -> list[CheckItem]:
    """How many processes the launcher starts, and whether the config was made for it."""
    name = f"{bench} processes"
    given = m.launcher.processes_per_node
    if given is None and node_gpus is None:
        return [warn(name, f"{m.launcher.name}: one per GPU; GPUs not counted (--no-gpu)")]
    count = given or visible_gpus(m.gpus, node_gpus or 0)
    try:
        plan = launch_plan(count, None, where=str(m.path))
    except InputError as exc:
        return [fail(name, str(exc), "set launcher.processes_per_node, or run on the GPU node")]
    source = "launcher.processes_per_node" if given else "the GPUs of this node"
    items = [ok(name, f"{m.launcher.name}: {plan.processes_per_node} per node ({source})")]
    if config is not None:
        env = {**config.exported, **m.environment}
        problem = gpu_count_problem(env, plan, config.source)
        if problem:
            items.append(warn(f"{bench} GPUs per node", problem, f"see {DOCS}, Another node"))
    return items


def executable_items(runtime: Runtime, bench: str, m: BenchmarkManifest) -> list[CheckItem]:
    """The launcher's executable (mpirun, python) where the run will look for it."""
    needs = get_launcher(m.launcher.name).needs
    if needs is None:
        return []
    name = f"{bench} launcher"
    fix = f"use an image with {needs} (the implementation's own), or another launcher"
    if not runtime.uses_images:
        found = shutil.which(needs)
        if found is None:
            return [warn(name, f"{needs} not found on this host", fix)]
        return [ok(name, f"{m.launcher.name}: {found}")]
    if not image_here(runtime, m.image):
        detail = f"{needs} not looked for: image {m.image} is not here yet"
        return [warn(name, detail, "gp2bm pull")]
    try:
        argv = ["sh", "-c", 'command -v "$1"', "sh", needs]
        code, out, _ = runtime.run_in_image(m.image, argv, None)
    except InputError as exc:
        return [warn(name, f"{needs} not looked for: {exc}", fix)]
    if code != 0:
        return [warn(name, f"{needs} not found in {m.image}", fix)]
    return [ok(name, f"{m.launcher.name}: {out.decode(errors='replace').strip()} in {m.image}")]


def launch_items(
    runtime: Runtime, manifests: dict[str, BenchmarkManifest], node_gpus: Callable[[], int | None]
) -> list[CheckItem]:
    """Every launch item of every benchmark (``node_gpus``: the node's GPU count, None
    when not counted)."""
    items: list[CheckItem] = []
    for bench, m in manifests.items():
        items += options_items(runtime, bench, m)
        found, config = config_items(runtime, bench, m)
        items += found
        if m.launcher.name != "none":
            items += processes_items(bench, m, config, node_gpus())
            items += executable_items(runtime, bench, m)
    return items
