"""gp2bm inventory, check: the node described (inventory, MLPerf system description) and
checked before a campaign (pre-flight)."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gp2bm.campaign.resolve import campaign_suite, resolve_suite
from gp2bm.cli.app import app, err, out
from gp2bm.cli.options import JsonOpt, SuiteOpt
from gp2bm.errors import InputError
from gp2bm.spec.manifest import suite_manifests

STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red"}


@dataclass
class NodeRecord:
    """The inventory and the system description built from it, with what they need."""

    inventory: dict
    description: object  # systemdesc.SystemDescription


def describe_node(suite, manifests: dict, system_yaml: Path | None) -> NodeRecord:
    from gp2bm.node.inventory import collect, data_paths_of, default_probes
    from gp2bm.node.systemdesc import build, load_vendor_fields

    vendor = load_vendor_fields(system_yaml) if system_yaml else {}
    inventory = collect(default_probes(data_paths_of(manifests)))
    return NodeRecord(inventory, build(inventory, vendor, suite.nodes, system_yaml))


def write_node_record(
    record: NodeRecord, root: Path, org: str, system: str, replace: bool = True
) -> list[Path]:
    """``<root>/inventory.json`` (+ nvidia-smi text) and ``<root>/<org>/systems/<system>.json``
    (kept when it exists and ``replace`` is false: the vendor may have written it already)."""
    from gp2bm.files.jsonfile import write_json_atomic
    from gp2bm.node.inventory import write_inventory
    from gp2bm.node.systemdesc import system_json_path

    written = write_inventory(record.inventory, root)
    path = system_json_path(root, org, system)
    if replace or not path.exists():
        write_json_atomic(path, record.description.fields)
        written.append(path)
    return written


def record_node_once(campaign, manifests: dict) -> list[Path]:
    """At a campaign's first start: its inventory and system description, never rewritten.

    The vendor's system.yaml is optional here, and a broken one is reported, not fatal:
    `gp2bm inventory --campaign DIR` rewrites the description once it is fixed.
    """
    from gp2bm.node.systemdesc import default_system_yaml

    if (campaign.root / "inventory.json").exists():
        return []
    system_yaml = default_system_yaml(campaign.suite.path)
    try:
        record = describe_node(campaign.suite, manifests, system_yaml)
    except InputError as exc:
        err.print(
            f"gp2bm: warning: {exc}; the system description keeps placeholders",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        record = describe_node(campaign.suite, manifests, None)
    return write_node_record(record, campaign.root, campaign.org, campaign.system, replace=False)


# ---------------------------------------------------------------------------- inventory


def _load(suite_path: Path | None, campaign: Path | None):
    if campaign is None:
        the_suite, meta = resolve_suite(suite_path), None
    else:
        meta, the_suite = campaign_suite(campaign, suite_path)
    return the_suite, suite_manifests(the_suite), meta


@app.command()
def inventory(
    suite: SuiteOpt = None,
    as_json: JsonOpt = False,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Write inventory.json (and nvidia-smi's raw text) here."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Refuse placeholders and empty fields of the system description (exit 1), "
            "and run MLCommons' system-description checker.",
        ),
    ] = False,
    system_yaml: Annotated[
        Path | None,
        typer.Option(
            "--system-yaml",
            help="The vendor's MLPerf system fields (default: system.yaml beside the suite).",
        ),
    ] = None,
    campaign: Annotated[
        Path | None,
        typer.Option(
            "--campaign",
            help="Write inventory.json and <org>/systems/<system>.json into this campaign.",
        ),
    ] = None,
):
    """Describe this node: CPU, memory, NUMA, OS, container engines, GPUs (NVML), InfiniBand
    and the storage of the datasets; build its MLPerf system description."""
    from gp2bm.node.systemdesc import default_system_yaml, mlperf_check, problems

    the_suite, manifests, meta = _load(suite, campaign)
    yaml_path = system_yaml or default_system_yaml(the_suite.path)
    record = describe_node(the_suite, manifests, yaml_path)
    desc = record.description
    found = problems(desc.fields)
    verdict = mlperf_check(desc.fields, the_suite.ruleset) if check else None

    written: list[Path] = []
    for folder, write in (
        (out_dir, lambda: _write_out(record, out_dir)),
        (campaign, lambda: write_node_record(record, campaign, meta["org"], meta["system"])),
    ):
        if folder is None:
            continue
        try:
            written += write()
        except OSError as exc:
            raise InputError(f"{folder}: cannot write there: {exc.strerror or exc}") from None

    summary = {
        "system_yaml": str(yaml_path) if yaml_path else None,
        "ruleset": the_suite.ruleset,
        "fields": desc.fields,
        "sources": desc.sources,
        "problems": [{"field": p.field, "problem": p.problem} for p in found],
    }
    if verdict is not None:
        summary["mlperf_logging"] = {"passed": verdict.passed, "messages": list(verdict.messages)}
    if as_json:
        print(
            json.dumps(
                {
                    **record.inventory,
                    "system_description": summary,
                    "written": [str(p) for p in written],
                },
                indent=2,
            )
        )
    else:
        _print_inventory(record.inventory, desc, found, verdict, yaml_path)
        for p in written:
            err.print(f"wrote {p}", highlight=False)
    if check and (found or not verdict.passed):
        raise typer.Exit(1)


def _write_out(record: NodeRecord, folder: Path) -> list[Path]:
    from gp2bm.files.jsonfile import write_json_atomic
    from gp2bm.node.inventory import write_inventory

    written = write_inventory(record.inventory, folder)
    write_json_atomic(folder / "system.json", record.description.fields)
    return written + [folder / "system.json"]


def _print_inventory(inv: dict, desc, found, verdict, yaml_path) -> None:
    from gp2bm.node.inventory import summary_rows

    table = Table(title="node inventory", show_lines=False, title_justify="left")
    table.add_column("part", style="bold")
    table.add_column("what")
    for part, line in summary_rows(inv):
        table.add_row(part, line)
    out.print(table)
    counts: dict[str, int] = {}
    for src in desc.sources.values():
        counts[src] = counts.get(src, 0) + 1
    source = str(yaml_path) if yaml_path else "no system.yaml"
    out.print(
        f"MLPerf system description: {counts.get('detected', 0)} field(s) detected, "
        f"{counts.get('system.yaml', 0)} from {source}, {counts.get('placeholder', 0)} to fill in",
        highlight=False,
    )
    for p in found:
        out.print(f"  {p}", highlight=False, markup=False)
    if verdict is not None:
        if verdict.passed and not found:
            out.print("check: pass (no placeholder left; mlperf-logging's checker passes)")
        else:
            out.print(
                f"check: FAIL ({len(found)} field(s) to fill in"
                + ("" if verdict.passed else f"; mlperf-logging: {verdict.summary()}")
                + ")",
                highlight=False,
                markup=False,
            )


# ---------------------------------------------------------------------------- pre-flight


def run_preflight(p) -> list:
    from gp2bm.node.preflight import run_checks

    return run_checks(p)


def preflight_table(items) -> Table:
    table = Table(title="pre-flight", title_justify="left")
    for name in ("check", "status", "detail", "fix"):
        table.add_column(name, overflow="fold")
    for i in items:
        style = STATUS_STYLE.get(i.status, "")
        table.add_row(i.name, f"[{style}]{i.status}[/]", i.detail, i.fix)
    return table


def preflight_or_stop(p) -> None:
    """run-all's gate: print the table to stderr when anything is not a pass; exit 1 when
    anything blocks."""
    from gp2bm.node.checks import PASS, blocking

    items = run_preflight(p)
    stops = blocking(items)
    if any(i.status != PASS for i in items):
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


def campaign_preflight(campaign, manifests: dict, runtime, options, no_gpu: bool) -> None:
    """The pre-flight of run-all / run, after the input checks that exit 2 (unpinned)."""
    from gp2bm.node.preflight import CHECKSUM_CACHE, Preflight
    from gp2bm.run.runner import require_pinned

    require_pinned(manifests, runtime, options.allow_unpinned)
    preflight_or_stop(
        Preflight(
            suite=campaign.suite,
            manifests=manifests,
            runtime=runtime.name,
            no_gpu=no_gpu,
            campaign_root=campaign.root,
            cache_drop=options.cache_drop,
            cache_drop_command=options.cache_drop_command,
            allow_cache_drop_failure=options.allow_cache_drop_failure,
            allow_unpinned=options.allow_unpinned,
            docker_host=getattr(runtime, "docker_host", None),
            checksum_cache=campaign.root / "records" / CHECKSUM_CACHE,
        )
    )


@app.command("check")
def check_node(
    suite: SuiteOpt = None,
    runtime: Annotated[
        str, typer.Option("--runtime", help="Runtime the campaign will use: docker or local.")
    ] = "docker",
    no_gpu: Annotated[
        bool, typer.Option("--no-gpu", help="Do not require GPUs (suites that need none).")
    ] = False,
    campaign: Annotated[
        Path | None,
        typer.Option("--campaign", help="Campaign folder (default: results/<suite name>)."),
    ] = None,
    cache_drop_command: Annotated[
        str | None,
        typer.Option(help="The command run-all will use to drop the page cache, if any."),
    ] = None,
    allow_unpinned: Annotated[
        bool, typer.Option("--allow-unpinned", help="Unpinned images only warn.")
    ] = False,
    allow_cache_drop_failure: Annotated[
        bool, typer.Option(help="A cache drop that cannot work only warns.")
    ] = False,
    as_json: JsonOpt = False,
):
    """Pre-flight: can this node run the suite? GPUs, driver, container engine, GPU runtime,
    images, datasets (and checksums), disk, cache drop. Exit 1 when anything blocks."""
    from gp2bm.campaign.folder import default_campaign_root
    from gp2bm.node.checks import blocking
    from gp2bm.node.preflight import Preflight
    from gp2bm.runtimes import get_runtime
    from gp2bm.spec.manifest import suite_manifests
    from gp2bm.spec.suite import DEFAULT_SUITE, load_suite

    the_suite = load_suite(suite or DEFAULT_SUITE)
    manifests = suite_manifests(the_suite)
    get_runtime(runtime)  # an unknown runtime is a usage error
    root = campaign or default_campaign_root(the_suite)
    p = Preflight(
        suite=the_suite,
        manifests=manifests,
        runtime=runtime,
        no_gpu=no_gpu,
        campaign_root=root,
        cache_drop_command=shlex.split(cache_drop_command) if cache_drop_command else None,
        allow_unpinned=allow_unpinned,
        allow_cache_drop_failure=allow_cache_drop_failure,
    )
    items = run_preflight(p)
    stops = blocking(items)
    if as_json:
        print(
            json.dumps(
                {
                    "suite": the_suite.name,
                    "runtime": runtime,
                    "ok": not stops,
                    "checks": [i.as_dict() for i in items],
                },
                indent=2,
            )
        )
    else:
        out.print(preflight_table(items))
        if stops:
            out.print(
                f"[bold red]{len(stops)} blocking failure(s)[/]: "
                + ", ".join(i.name for i in stops)
            )
        else:
            out.print("[green]ready[/]: nothing blocks the campaign")
    raise typer.Exit(1 if stops else 0)
