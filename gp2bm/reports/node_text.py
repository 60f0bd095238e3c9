"""The node inventory, its MLPerf system description and the pre-flight as terminal lines
(``gp2bm inventory``, ``gp2bm check``).

The inventory itself is a plain dict (``gp2bm.node.inventory``); here each part becomes one
human line, and the JSON keeps every detail.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from gp2bm.files.findings import CheckItem, CheckStatus
from gp2bm.files.units import human_bytes
from gp2bm.node.systemdesc import FieldProblem
from gp2bm.reports.humanize import readable_error
from gp2bm.results.rules import CheckResult

if TYPE_CHECKING:  # for the annotations only: the pages need not load the node's probes
    from gp2bm.node.description import NodeRecord


def summary_rows(inv: dict) -> list[tuple[str, str]]:
    """(part, one line) for the human table; the JSON carries every detail."""
    rows: list[tuple[str, str]] = []
    for name, render in PART_LINES:
        data = inv.get(name)
        if not isinstance(data, dict):
            continue
        if set(data) == {"error"}:
            rows.append((name, f"probe failed: {data['error']}"))
            continue
        try:
            rows.append((name, render(data)))
        except (KeyError, TypeError, ValueError) as exc:
            rows.append((name, f"(cannot summarise: {exc})"))
    return rows


def _host_line(d: dict) -> str:
    return f"{d['hostname']} (gp2bm {d['gp2bm_version']}, Python {d['python']})"


def _os_line(d: dict) -> str:
    return f"{d['name']}, kernel {d['kernel']}, {d['machine']}"


def _memory_line(d: dict) -> str:
    return f"{human_bytes(d['total_bytes'])} (swap {human_bytes(d['swap_bytes'])})"


def _numa_line(d: dict) -> str:
    return f"{d['count']} node(s): " + "; ".join(
        f"node{n['node']} cpus {n.get('cpus', '?')} {human_bytes(n.get('memory_bytes'))}"
        for n in d["nodes"]
    )


def _nvidia_smi_line(d: dict) -> str:
    return "raw -q and topo -m output kept" if d.get("present") else d.get("error", "")


def _cpu_line(d: dict) -> str:
    text = f"{d.get('model_name') or '?'}: {d.get('sockets') or '?'} socket(s) x "
    text += f"{d.get('cores_per_socket') or '?'} cores x {d.get('threads_per_core') or '?'} "
    text += f"threads = {d.get('logical_cpus')} logical CPUs"
    if d.get("max_mhz"):
        text += f", max {d['max_mhz']:.0f} MHz"
    return text


def _gpu_line(d: dict) -> str:
    if not d.get("gpus"):
        return d.get("status") or "no GPU found"
    names: dict[str, int] = {}
    for g in d["gpus"]:
        names[g.get("name") or "?"] = names.get(g.get("name") or "?", 0) + 1
    g = d["gpus"][0]
    text = ", ".join(f"{n}x {name}" for name, n in names.items())
    text += f" | {human_bytes(g.get('memory_total_bytes'))} each"
    text += f" | driver {d.get('driver_version')} (CUDA {d.get('cuda_driver_version')})"
    if g.get("power_limit_w"):
        text += f" | {g['power_limit_w']:.0f} W limit"
    if g.get("max_sm_clock_mhz"):
        text += f" | SM {g['max_sm_clock_mhz']} MHz"
    if g.get("pcie_generation_max"):
        text += f" | PCIe gen {g['pcie_generation_max']} x{g.get('pcie_width_max')}"
    text += f" | NVLink {g.get('nvlink_links_active') or 0} link(s)"
    text += f" | MIG {g.get('mig_mode')} | ECC {g.get('ecc_mode')}"
    return text


def _engines_line(d: dict) -> str:
    parts = []
    docker = d.get("docker", {})
    if docker.get("reachable"):
        runtimes = ",".join(docker.get("runtimes") or [])
        parts.append(f"Docker Engine {docker.get('version')} (runtimes {runtimes})")
    else:
        parts.append(f"Docker Engine not reachable ({readable_error(docker.get('error'))})")
    for name in ("podman", "apptainer", "singularity", "nvidia_container_toolkit"):
        entry = d.get(name, {})
        if entry.get("present"):
            parts.append(entry.get("version") or name)
    absent = [n for n in ("podman", "apptainer") if not d.get(n, {}).get("present")]
    if absent:
        parts.append(f"not on PATH: {', '.join(absent)}")
    return "; ".join(parts)


def _ib_line(d: dict) -> str:
    if not d.get("devices"):
        return "no InfiniBand device" + (f" ({d['note']})" if d.get("note") else "")
    return "; ".join(
        f"{dev['name']} "
        + ", ".join(f"port {p['port']} {p.get('rate')} {p.get('state')}" for p in dev["ports"])
        for dev in d["devices"]
    )


def _storage_line(d: dict) -> str:
    if not d.get("paths"):
        return "no dataset paths in the suite's manifests"
    lines = []
    for p in d["paths"]:
        if "error" in p:
            lines.append(f"{p['benchmark']} {p['path']}: {p['error']}")
            continue
        state = "present" if p["exists"] else "MISSING"
        lines.append(
            f"{p['benchmark']} {p['path']}: {state}, {p.get('fstype')} on {p.get('mountpoint')}, "
            f"{human_bytes(p.get('free_bytes'))} free"
        )
    return "\n".join(lines)


# The inventory's parts in the order the table shows them, each with its line.
PART_LINES: tuple[tuple[str, Callable[[dict], str]], ...] = (
    ("host", _host_line),
    ("os", _os_line),
    ("cpu", _cpu_line),
    ("memory", _memory_line),
    ("numa", _numa_line),
    ("gpus", _gpu_line),
    ("nvidia_smi", _nvidia_smi_line),
    ("engines", _engines_line),
    ("infiniband", _ib_line),
    ("storage", _storage_line),
)


# How each status of a check reads on a terminal: a skipped check is never shown as a pass.
STATUS_STYLE = {
    CheckStatus.PASS: "green",
    CheckStatus.SKIPPED: "cyan",
    CheckStatus.WARN: "yellow",
    CheckStatus.FAIL: "bold red",
}


def preflight_table(items: list[CheckItem]) -> Table:
    """The pre-flight, one check a row: its status, what was found, and (for anything but a
    pass) why and what to do."""
    table = Table(title="pre-flight", title_justify="left")
    for name in ("check", "status", "detail", "why / what to do"):
        table.add_column(name, overflow="fold")
    for i in items:
        status = Text(i.status, style=STATUS_STYLE.get(i.status, "bold"))
        table.add_row(Text(i.name), status, Text(i.detail), Text(i.why))
    return table


def inventory_table(inv: dict) -> Table:
    table = Table(title="node inventory", show_lines=False, title_justify="left")
    table.add_column("part", style="bold")
    table.add_column("what")
    for part, line in summary_rows(inv):
        table.add_row(part, line)
    return table


def description_lines(
    record: NodeRecord,
    found: list[FieldProblem],
    verdict: CheckResult | None,
    yaml_path: Path | None,
) -> list[str]:
    """Where the system description's fields came from, what is left to fill in, and the
    verdict of ``--check`` when it was asked for."""
    counts: dict[str, int] = {}
    for src in record.description.sources.values():
        counts[src] = counts.get(src, 0) + 1
    source = str(yaml_path) if yaml_path else "no system.yaml"
    lines = [
        f"MLPerf system description: {counts.get('detected', 0)} field(s) detected, "
        f"{counts.get('system.yaml', 0)} from {source}, {counts.get('placeholder', 0)} to fill in"
    ]
    lines += [f"  {p}" for p in found]
    if verdict is None:
        return lines
    if verdict.passed and not found:
        lines.append("check: pass (no placeholder left; mlperf-logging's checker passes)")
    else:
        lines.append(
            f"check: FAIL ({len(found)} field(s) to fill in"
            + ("" if verdict.passed else f"; mlperf-logging: {verdict.summary()}")
            + ")"
        )
    return lines
