"""gp2bm inventory, check: the node described (inventory, MLPerf system description) and
checked before a campaign (pre-flight); node-step and node-telemetry (hidden): what every
node of a run across nodes does. Wiring only: the work is ``gp2bm.node``'s, the
inventory's lines are ``gp2bm.reports.node_text``'s."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import typer

from gp2bm.campaign.layout import CampaignLayout, default_campaign_root
from gp2bm.campaign.resolve import campaign_suite, resolve_suite
from gp2bm.cli.app import app, err, out
from gp2bm.cli.options import (
    CacheCmdOpt,
    CacheDropOpt,
    CacheFailOpt,
    CampaignOpt,
    CheckCacheCmdOpt,
    CheckCacheFailOpt,
    CheckUnpinnedOpt,
    DescriptionCheckOpt,
    IntervalOpt,
    InventoryCampaignOpt,
    JsonOpt,
    NoGpuOpt,
    OutOpt,
    RuntimeOpt,
    SharedCampaignOpt,
    StepBenchmarkOpt,
    SuiteFileOpt,
    SuiteOpt,
    SystemYamlOpt,
    TelemetryOutOpt,
    UnpinnedOpt,
)
from gp2bm.errors import InputError
from gp2bm.files.findings import CheckItem, blocking
from gp2bm.node import description
from gp2bm.node.fingerprint import node_name
from gp2bm.node.nodestep import node_step
from gp2bm.node.preflight import Preflight, run_checks
from gp2bm.node.systemdesc import default_system_yaml, mlperf_check, problems
from gp2bm.reports.node_text import description_lines, inventory_table, preflight_table
from gp2bm.run.telemetry import sample_until_signalled
from gp2bm.runtimes import DEFAULT, get_runtime
from gp2bm.spec.manifest import suite_manifests
from gp2bm.spec.suite import Suite, load_suite

# ---------------------------------------------------------------------------- inventory


def _campaign_of(
    suite_path: Path | None, campaign: Path | None
) -> tuple[Suite, CampaignLayout | None]:
    if campaign is None:
        return resolve_suite(suite_path), None
    meta, the_suite = campaign_suite(campaign, suite_path)
    return the_suite, CampaignLayout.of(campaign, meta)


@app.command()
def inventory(
    suite: SuiteOpt = None,
    as_json: JsonOpt = False,
    out_dir: OutOpt = None,
    check: DescriptionCheckOpt = False,
    system_yaml: SystemYamlOpt = None,
    campaign: InventoryCampaignOpt = None,
) -> None:
    """Describe this node: CPU, memory, NUMA, OS, container engines, GPUs (NVML), InfiniBand
    and the storage of the datasets; build its MLPerf system description."""
    the_suite, layout = _campaign_of(suite, campaign)
    yaml_path = system_yaml or default_system_yaml(the_suite.path)
    record = description.describe_node(the_suite, suite_manifests(the_suite), yaml_path)
    found = problems(record.description.fields)
    verdict = mlperf_check(record.description.fields, the_suite.ruleset) if check else None
    written = description.write_described(record, out_dir, layout)
    if as_json:
        summary = description.description_summary(
            record, yaml_path, the_suite.ruleset, found, verdict
        )
        document = {
            **record.inventory,
            "system_description": summary,
            "written": [str(p) for p in written],
        }
        print(json.dumps(document, indent=2))
    else:
        out.print(inventory_table(record.inventory))
        for line in description_lines(record, found, verdict, yaml_path):
            out.print(line, highlight=False, markup=False)
        for p in written:
            err.print(f"wrote {p}", highlight=False)
    if verdict is not None and (found or not verdict.passed):
        raise typer.Exit(1)


# ---------------------------------------------------------------------------- pre-flight


def _print_checks(suite_name: str, runtime: str, items: list[CheckItem], as_json: bool) -> None:
    stops = blocking(items)
    if as_json:
        document = {
            "suite": suite_name,
            "runtime": runtime,
            "ok": not stops,
            "checks": [i.as_dict() for i in items],
        }
        print(json.dumps(document, indent=2))
    elif stops:
        out.print(preflight_table(items))
        out.print(
            f"[bold red]{len(stops)} blocking failure(s)[/]: " + ", ".join(i.name for i in stops)
        )
    else:
        out.print(preflight_table(items))
        out.print("[green]ready[/]: nothing blocks the campaign")


@app.command("check")
def check_node(
    suite: SuiteOpt = None,
    runtime: RuntimeOpt = DEFAULT,
    no_gpu: NoGpuOpt = False,
    campaign: CampaignOpt = None,
    cache_drop_command: CheckCacheCmdOpt = None,
    allow_unpinned: CheckUnpinnedOpt = False,
    allow_cache_drop_failure: CheckCacheFailOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Pre-flight: can this node run the suite? GPUs, driver, container engine, GPU runtime,
    images, each benchmark's launch (container options, config file, processes per node,
    launcher), data sets (declared files, checksum lists, remembered once verified), disk,
    cache drop. Exit 1 when anything blocks."""
    the_suite = resolve_suite(suite, campaign)
    items = run_checks(
        Preflight(
            suite=the_suite,
            manifests=suite_manifests(the_suite),
            runtime=get_runtime(runtime),  # an unknown runtime is a usage error
            no_gpu=no_gpu,
            campaign_root=campaign or default_campaign_root(the_suite.name),
            cache_drop_command=shlex.split(cache_drop_command) if cache_drop_command else None,
            allow_unpinned=allow_unpinned,
            allow_cache_drop_failure=allow_cache_drop_failure,
        )
    )
    _print_checks(the_suite.name, runtime, items, as_json)
    raise typer.Exit(1 if blocking(items) else 0)


# ---------------------------------------------------------------------------- every node
# What a run across nodes runs on each node of its allocation (one srun task per node):
# hidden, like run-task; each prints one JSON line naming its node.


@app.command("node-step", hidden=True)
def node_step_command(
    campaign: SharedCampaignOpt,
    suite: SuiteFileOpt,
    benchmark: StepBenchmarkOpt,
    runtime: RuntimeOpt = DEFAULT,
    cache_drop: CacheDropOpt = True,
    cache_drop_command: CacheCmdOpt = None,
    allow_cache_drop_failure: CacheFailOpt = False,
    allow_unpinned: UnpinnedOpt = False,
) -> None:
    """This node, just before a run across nodes: fingerprint, checks, inventory (once per
    campaign), cache drop; one JSON line."""
    the_suite = load_suite(suite)
    manifests = suite_manifests(the_suite)
    if benchmark not in manifests:
        raise InputError(f"benchmark '{benchmark}' is not in suite '{the_suite.name}'")
    command = shlex.split(cache_drop_command) if cache_drop_command else None
    p = Preflight(
        suite=the_suite,
        manifests={benchmark: manifests[benchmark]},
        runtime=get_runtime(runtime),
        campaign_root=campaign,
        cache_drop=cache_drop,
        cache_drop_command=command,
        allow_cache_drop_failure=allow_cache_drop_failure,
        allow_unpinned=allow_unpinned,
    )
    print(json.dumps(node_step(p, cache_drop, command)), flush=True)


@app.command("node-telemetry", hidden=True)
def node_telemetry_command(out_files: TelemetryOutOpt, interval: IntervalOpt = 1.0) -> None:
    """Sample this node's telemetry until SIGUSR1 (srun forwards it); one JSON line."""
    paths = dict(item.partition("=")[::2] for item in out_files)
    name = node_name()
    if not paths.get(name):
        raise InputError(f"node-telemetry: no --out for node {name} ({', '.join(paths)})")
    summary = sample_until_signalled(Path(paths[name]), interval)
    print(json.dumps({"node": name, "telemetry": summary}), flush=True)
