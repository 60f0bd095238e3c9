"""gp2bm inventory, check: the node described (inventory, MLPerf system description) and
checked before a campaign (pre-flight). Wiring only: the work is ``gp2bm.node``'s, the
inventory's lines are ``gp2bm.reports.node_text``'s."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Annotated

import typer

from gp2bm.campaign.folder import Campaign
from gp2bm.campaign.layout import CampaignLayout, default_campaign_root
from gp2bm.campaign.resolve import campaign_suite, resolve_suite
from gp2bm.cli.app import app, err, out
from gp2bm.cli.options import CampaignOpt, JsonOpt, RuntimeOpt, SuiteOpt
from gp2bm.errors import InputError
from gp2bm.files.findings import FAIL, WARN, CheckItem, blocking
from gp2bm.node import description
from gp2bm.node.description import NodeRecord
from gp2bm.node.fingerprint import node_name
from gp2bm.node.nodestep import node_step
from gp2bm.node.preflight import CHECKSUM_CACHE, Preflight, run_checks
from gp2bm.node.systemdesc import default_system_yaml, mlperf_check, problems
from gp2bm.reports.node_text import description_lines, inventory_table, preflight_table
from gp2bm.run.loop import require_pinned
from gp2bm.run.telemetry import sample_until_signalled
from gp2bm.runtimes import DEFAULT, Runtime, get_runtime
from gp2bm.spec.manifest import suite_manifests
from gp2bm.spec.suite import load_suite

OutOpt = Annotated[
    Path | None,
    typer.Option("--out", help="Write inventory.json (and nvidia-smi's raw text) here."),
]
CheckOpt = Annotated[
    bool,
    typer.Option(
        "--check",
        help="Refuse placeholders and empty fields of the system description (exit 1), "
        "and run MLCommons' system-description checker.",
    ),
]
SystemYamlOpt = Annotated[
    Path | None,
    typer.Option(
        "--system-yaml",
        help="The vendor's MLPerf system fields (default: system.yaml beside the suite).",
    ),
]
InventoryCampaignOpt = Annotated[
    Path | None,
    typer.Option(
        "--campaign",
        help="Write inventory.json and <org>/systems/<system>.json into this campaign.",
    ),
]


def _warn(message: str) -> None:
    err.print(f"gp2bm: warning: {message}", markup=False, highlight=False, soft_wrap=True)


def record_node_once(campaign: Campaign, manifests: dict) -> list[Path]:
    """At a campaign's first start: its inventory and system description (warnings on
    stderr)."""
    return description.record_node_once(campaign, manifests, _warn)


# ---------------------------------------------------------------------------- inventory


def _load(suite_path: Path | None, campaign: Path | None):
    if campaign is None:
        the_suite, meta = resolve_suite(suite_path), None
    else:
        meta, the_suite = campaign_suite(campaign, suite_path)
    return the_suite, suite_manifests(the_suite), meta


def _write(record: NodeRecord, out_dir: Path | None, campaign: Path | None, meta) -> list[Path]:
    written: list[Path] = []
    for folder, write in (
        (out_dir, lambda: description.write_node_folder(record, out_dir)),
        (
            campaign,
            lambda: description.write_node_record(record, CampaignLayout.of(campaign, meta)),
        ),
    ):
        if folder is None:
            continue
        try:
            written += write()
        except OSError as exc:
            raise InputError(f"{folder}: cannot write there: {exc.strerror or exc}") from None
    return written


@app.command()
def inventory(
    suite: SuiteOpt = None,
    as_json: JsonOpt = False,
    out_dir: OutOpt = None,
    check: CheckOpt = False,
    system_yaml: SystemYamlOpt = None,
    campaign: InventoryCampaignOpt = None,
):
    """Describe this node: CPU, memory, NUMA, OS, container engines, GPUs (NVML), InfiniBand
    and the storage of the datasets; build its MLPerf system description."""
    the_suite, manifests, meta = _load(suite, campaign)
    yaml_path = system_yaml or default_system_yaml(the_suite.path)
    record = description.describe_node(the_suite, manifests, yaml_path)
    found = problems(record.description.fields)
    verdict = mlperf_check(record.description.fields, the_suite.ruleset) if check else None
    written = _write(record, out_dir, campaign, meta)
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
    if check and (found or not verdict.passed):
        raise typer.Exit(1)


# ---------------------------------------------------------------------------- pre-flight


def preflight_or_stop(p: Preflight) -> None:
    """run-all's gate: print the table to stderr when anything warns or fails (a check
    skipped on purpose, a GPU check of a suite without GPUs, is no news); exit 1 when
    anything blocks."""
    items = run_checks(p)
    stops = blocking(items)
    if any(i.status in (WARN, FAIL) for i in items):
        err.print(preflight_table(items))
    if stops:
        err.print(
            f"gp2bm: pre-flight: {len(stops)} blocking failure(s): "
            + ", ".join(i.name for i in stops)
            + " (fix them, or pass --skip-check)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)


def campaign_preflight(
    campaign: Campaign, manifests: dict, runtime: Runtime, options, no_gpu: bool
) -> None:
    """The pre-flight of run-all / run, after the input checks that exit 2 (unpinned)."""
    require_pinned(manifests, runtime, options.allow_unpinned, campaign.suite.path)
    preflight_or_stop(
        Preflight(
            suite=campaign.suite,
            manifests=manifests,
            runtime=runtime,
            no_gpu=no_gpu,
            campaign_root=campaign.root,
            cache_drop=options.cache_drop,
            cache_drop_command=options.cache_drop_command,
            allow_cache_drop_failure=options.allow_cache_drop_failure,
            allow_unpinned=options.allow_unpinned,
            checksum_cache=campaign.layout.cache_file(CHECKSUM_CACHE),
        )
    )


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
    no_gpu: Annotated[
        bool, typer.Option("--no-gpu", help="Do not require GPUs (suites that need none).")
    ] = False,
    campaign: CampaignOpt = None,
    cache_drop_command: Annotated[
        str | None,
        typer.Option(
            "--cache-drop-command",
            metavar="COMMAND",
            help="The command run-all will use to drop the page cache, if any.",
        ),
    ] = None,
    allow_unpinned: Annotated[
        bool, typer.Option("--allow-unpinned", help="Unpinned images only warn.")
    ] = False,
    allow_cache_drop_failure: Annotated[
        bool,
        typer.Option(
            "--allow-cache-drop-failure", help="A cache drop that cannot work only warns."
        ),
    ] = False,
    as_json: JsonOpt = False,
):
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
    campaign: Annotated[Path, typer.Option("--campaign", help="The shared campaign folder.")],
    suite: Annotated[Path, typer.Option("--suite", help="The campaign's suite manifest.")],
    benchmark: Annotated[str, typer.Option("--benchmark", help="The run's benchmark.")],
    runtime: RuntimeOpt = DEFAULT,
    cache_drop: Annotated[bool, typer.Option("--cache-drop/--no-cache-drop")] = True,
    cache_drop_command: Annotated[str | None, typer.Option("--cache-drop-command")] = None,
    allow_cache_drop_failure: Annotated[bool, typer.Option("--allow-cache-drop-failure")] = False,
    allow_unpinned: Annotated[bool, typer.Option("--allow-unpinned")] = False,
):
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
def node_telemetry_command(
    out_files: Annotated[
        list[str], typer.Option("--out", help="NODE=CSV: where each node's samples go.")
    ],
    interval: Annotated[float, typer.Option("--interval", help="Seconds between samples.")] = 1.0,
):
    """Sample this node's telemetry until SIGUSR1 (srun forwards it); one JSON line."""
    paths = dict(item.partition("=")[::2] for item in out_files)
    name = node_name()
    if not paths.get(name):
        raise InputError(f"node-telemetry: no --out for node {name} ({', '.join(paths)})")
    summary = sample_until_signalled(Path(paths[name]), interval)
    print(json.dumps({"node": name, "telemetry": summary}), flush=True)
