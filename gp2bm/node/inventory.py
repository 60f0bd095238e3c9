"""What this node is: CPU, memory, NUMA, OS, container engines, GPUs, InfiniBand, storage.

Each probe is a small function that returns one part of the inventory. ``collect`` runs them
one by one; a probe that fails records its error in its own part and the others go on (the
pyperf way: metadata collection never fails a run). The result is a plain dict, written as
``inventory.json`` into every campaign so that the results explain themselves years later.
Probes only: the terminal lines that summarise an inventory are ``reports/node_text.py``'s.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

from gp2bm import __version__
from gp2bm.errors import InputError
from gp2bm.files.command import run_short
from gp2bm.files.jsonfile import write_json_atomic
from gp2bm.files.timestamps import now_iso
from gp2bm.node.gpus import describe_gpus
from gp2bm.runtimes.docker import docker_client

SCHEMA = "gp2bm.inventory/1"
COMMAND_TIMEOUT_S = 60
INFINIBAND = Path("/sys/class/infiniband")
NUMA_NODES = Path("/sys/devices/system/node")
BLOCK = Path("/sys/class/block")
NVIDIA_SMI_FILES = {"query": "nvidia-smi-q.txt", "topology": "nvidia-smi-topo-m.txt"}


@dataclass(frozen=True)
class DataPath:
    """A host path a benchmark reads (dataset, checkpoint), from a manifest's mounts."""

    benchmark: str
    path: str
    what: str = ""


def run_command(argv: list[str], timeout: float = COMMAND_TIMEOUT_S) -> str:
    """stdout of a command; raises RuntimeError with the reason when it cannot be had."""
    try:
        proc = run_short(argv, timeout)
    except FileNotFoundError:
        raise RuntimeError(f"{argv[0]}: not on PATH") from None
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{' '.join(argv)}: no answer within {timeout:g} s") from None
    except OSError as exc:
        raise RuntimeError(f"{argv[0]}: {exc.strerror}") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()
        raise RuntimeError(
            f"{' '.join(argv)}: exit code {proc.returncode}" + (f": {tail[-1]}" if tail else "")
        )
    return proc.stdout


# ---------------------------------------------------------------------------- probes


def probe_host() -> dict:
    return {
        "hostname": socket.gethostname(),
        "fqdn": socket.getfqdn(),
        "python": sys.version.split()[0],
        "gp2bm_version": __version__,
    }


def _lscpu_fields(entries: Iterable[dict], into: dict[str, str]) -> dict[str, str]:
    # util-linux < 2.38 gives a flat list; newer versions nest entries under "children".
    for entry in entries:
        name = str(entry.get("field", "")).rstrip(":").strip()
        if name and name not in into and entry.get("data") is not None:
            into[name] = str(entry["data"])
        _lscpu_fields(entry.get("children") or [], into)
    return into


def _int(text: str | None) -> int | None:
    try:
        return int(str(text).split()[0])
    except (TypeError, ValueError, IndexError):
        return None


def _float(text: str | None) -> float | None:
    try:
        return float(str(text).split()[0].replace(",", "."))
    except (TypeError, ValueError, IndexError):
        return None


def probe_cpu() -> dict:
    out: dict = {
        "logical_cpus": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
    }
    try:
        fields = _lscpu_fields(json.loads(run_command(["lscpu", "-J"]))["lscpu"], {})
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        out["lscpu_error"] = str(exc)
        fields = {}
    cpuinfo = _proc_cpuinfo()
    sockets = _int(fields.get("Socket(s)")) or cpuinfo.get("sockets")
    cores_per_socket = _int(fields.get("Core(s) per socket"))
    if cores_per_socket is None and sockets and out["physical_cores"]:
        cores_per_socket = out["physical_cores"] // sockets
    out.update(
        {
            "model_name": fields.get("Model name") or cpuinfo.get("model_name"),
            "vendor": fields.get("Vendor ID") or cpuinfo.get("vendor"),
            "architecture": fields.get("Architecture") or platform.machine(),
            "sockets": sockets,
            "cores_per_socket": cores_per_socket,
            "threads_per_core": _int(fields.get("Thread(s) per core")),
            "max_mhz": _float(fields.get("CPU max MHz")),
            "min_mhz": _float(fields.get("CPU min MHz")),
            "numa_nodes": _int(fields.get("NUMA node(s)")),
            "hypervisor": fields.get("Hypervisor vendor"),
            "caches": {
                name.removesuffix(" cache"): fields[name]
                for name in ("L1d cache", "L1i cache", "L2 cache", "L3 cache")
                if name in fields
            },
        }
    )
    try:
        freq = psutil.cpu_freq()
    except (OSError, NotImplementedError):
        freq = None
    if freq:
        out["current_mhz"] = round(float(freq.current), 1)
        if out["max_mhz"] is None and freq.max:
            out["max_mhz"] = float(freq.max)
    return out


def _proc_cpuinfo(path: Path = Path("/proc/cpuinfo")) -> dict:
    out: dict = {}
    physical = set()
    try:
        for line in path.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "model name":
                out.setdefault("model_name", value)
            elif key == "vendor_id":
                out.setdefault("vendor", value)
            elif key == "physical id":
                physical.add(value)
    except OSError:
        return out
    if physical:
        out["sockets"] = len(physical)
    return out


def probe_memory() -> dict:
    vm = psutil.virtual_memory()
    swap = psutil.swap_memory()
    out: dict[str, int | str] = {
        "total_bytes": vm.total,
        "available_bytes": vm.available,
        "swap_bytes": swap.total,
    }
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("Hugepagesize:") or line.startswith("HugePages_Total:"):
                key, _, value = line.partition(":")
                out[key.lower()] = value.strip()
    except OSError:
        pass
    return out


def probe_numa(root: Path = NUMA_NODES) -> dict:
    nodes = []
    for node in sorted(root.glob("node[0-9]*"), key=lambda p: int(p.name[4:])):
        entry: dict = {"node": int(node.name[4:])}
        try:
            entry["cpus"] = (node / "cpulist").read_text().strip()
        except OSError:
            pass
        try:
            for line in (node / "meminfo").read_text().splitlines():
                if "MemTotal:" in line:
                    entry["memory_bytes"] = int(line.split()[-2]) * 1024
        except (OSError, ValueError, IndexError):
            pass
        nodes.append(entry)
    return {"count": len(nodes), "nodes": nodes}


def probe_os() -> dict:
    try:
        release = platform.freedesktop_os_release()
    except OSError:
        release = {}
    return {
        "name": release.get("PRETTY_NAME") or platform.system(),
        "id": release.get("ID"),
        "version_id": release.get("VERSION_ID"),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "libc": " ".join(platform.libc_ver()).strip() or None,
    }


def _version_line(argv: list[str]) -> dict:
    try:
        text = run_command(argv, timeout=20).strip()
    except RuntimeError as exc:
        return {"present": False, "error": str(exc)}
    return {"present": True, "version": text.splitlines()[0] if text else ""}


def probe_engines() -> dict:
    out: dict = {"docker": _docker_engine()}
    for name, argv in (
        ("docker_cli", ["docker", "--version"]),
        ("podman", ["podman", "--version"]),
        ("apptainer", ["apptainer", "--version"]),
        ("singularity", ["singularity", "--version"]),
        ("nvidia_container_toolkit", ["nvidia-ctk", "--version"]),
    ):
        if shutil.which(argv[0]):
            out[name] = _version_line(argv)
        else:
            out[name] = {"present": False, "error": f"{argv[0]}: not on PATH"}
    return out


def _docker_engine() -> dict:
    try:
        client = docker_client(timeout=15)
    except InputError as exc:
        return {"reachable": False, "error": str(exc)}
    try:
        version = client.version()
        info = client.info()
    except Exception as exc:  # noqa: BLE001 - any failure of the daemon is a fact to report
        return {"reachable": False, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        client.close()
    return {
        "reachable": True,
        "host": client.api.base_url,
        "version": version.get("Version"),
        "api_version": version.get("ApiVersion"),
        "os": version.get("Os"),
        "arch": version.get("Arch"),
        "runtimes": sorted((info.get("Runtimes") or {}).keys()),
        "default_runtime": info.get("DefaultRuntime"),
        "cdi_spec_dirs": info.get("CDISpecDirs") or [],
        "storage_driver": info.get("Driver"),
        "cgroup_version": info.get("CgroupVersion"),
        "docker_root_dir": info.get("DockerRootDir"),
    }


def probe_gpus() -> dict:
    return describe_gpus().as_dict()


def probe_nvidia_smi() -> dict:
    """The raw text of ``nvidia-smi -q`` and ``topo -m``, kept as NVIDIA prints it."""
    if not shutil.which("nvidia-smi"):
        return {"present": False, "error": "nvidia-smi: not on PATH"}
    out: dict = {"present": True}
    for key, argv in (("query", ["nvidia-smi", "-q"]), ("topology", ["nvidia-smi", "topo", "-m"])):
        try:
            out[key] = run_command(argv)
        except RuntimeError as exc:
            out[f"{key}_error"] = str(exc)
    return out


def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return None


def probe_infiniband(root: Path = INFINIBAND) -> dict:
    if not root.is_dir():
        return {"count": 0, "devices": [], "note": f"{root} is absent"}
    devices = []
    for dev in sorted(root.iterdir()):
        ports: list[dict[str, str | None]] = []
        entry = {
            "name": dev.name,
            "hca_type": _read(dev / "hca_type"),
            "firmware": _read(dev / "fw_ver"),
            "board_id": _read(dev / "board_id"),
            "ports": ports,
        }
        for port in sorted((dev / "ports").glob("*"), key=lambda p: p.name):
            ports.append(
                {
                    "port": port.name,
                    "state": _read(port / "state"),
                    "rate": _read(port / "rate"),
                    "link_layer": _read(port / "link_layer"),
                }
            )
        devices.append(entry)
    return {"count": len(devices), "devices": devices}


def _existing_ancestor(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _block_kind(device: str) -> str | None:
    """nvme / ssd / hdd for a local block device, from /sys; None when not a local disk."""
    if not device.startswith("/dev/"):
        return None
    node = BLOCK / Path(os.path.realpath(device)).name
    if not node.exists():
        return None
    if (node / "partition").exists():
        node = node.resolve().parent
    if node.name.startswith("nvme"):
        return "nvme"
    rotational = _read(node / "queue" / "rotational")
    return {"0": "ssd", "1": "hdd"}.get(rotational or "")


def filesystem_of(path: str | os.PathLike) -> dict:
    """Filesystem type, device and free space of the filesystem holding ``path``."""
    target = Path(path)
    existing = _existing_ancestor(target.absolute())
    real = os.path.realpath(existing)
    best = None
    for part in psutil.disk_partitions(all=True):
        mp = part.mountpoint
        if (real == mp or real.startswith(mp.rstrip("/") + "/")) and (
            best is None or len(mp) > len(best.mountpoint)
        ):
            best = part
    usage = shutil.disk_usage(existing)
    return {
        "path": str(target),
        "exists": target.exists(),
        "measured_at": str(existing),
        "mountpoint": best.mountpoint if best else None,
        "fstype": best.fstype if best else None,
        "device": best.device if best else None,
        "device_kind": _block_kind(best.device) if best else None,
        "total_bytes": usage.total,
        "free_bytes": usage.free,
    }


def probe_storage(paths: Iterable[DataPath]) -> dict:
    entries = []
    for p in paths:
        entry = {"benchmark": p.benchmark, "what": p.what}
        try:
            entry.update(filesystem_of(p.path))
        except OSError as exc:
            entry.update(path=p.path, error=f"{p.path}: {exc.strerror or exc}")
        entries.append(entry)
    return {"paths": entries}


# ---------------------------------------------------------------------------- collecting

Probe = Callable[[], dict]


def default_probes(data_paths: Iterable[DataPath] = ()) -> dict[str, Probe]:
    paths = list(data_paths)
    return {
        "host": probe_host,
        "os": probe_os,
        "cpu": probe_cpu,
        "memory": probe_memory,
        "numa": probe_numa,
        "gpus": probe_gpus,
        "nvidia_smi": probe_nvidia_smi,
        "engines": probe_engines,
        "infiniband": probe_infiniband,
        "storage": lambda: probe_storage(paths),
    }


def collect(probes: dict[str, Probe] | None = None) -> dict:
    """Run every probe; one that raises leaves ``{"error": ...}`` in its part, nothing more."""
    inventory: dict = {"schema": SCHEMA, "collected": now_iso()}
    for name, probe in (probes if probes is not None else default_probes()).items():
        try:
            inventory[name] = probe()
        except Exception as exc:  # noqa: BLE001 - a failed probe must not fail the inventory
            inventory[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return inventory


def data_paths_of(manifests: dict) -> list[DataPath]:
    """The host side of every mount of the suite's benchmark manifests."""
    return [
        DataPath(bench, m.host, m.what)
        for bench, manifest in manifests.items()
        for m in manifest.mounts
    ]


def write_inventory(inventory: dict, path: Path) -> list[Path]:
    """The inventory at ``path`` (a campaign's inventory.json, one node's, or a folder of the
    user's), and nvidia-smi's own text beside it when there is any."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    written = [path]
    write_json_atomic(written[0], inventory)
    smi = inventory.get("nvidia_smi") or {}
    for key, filename in NVIDIA_SMI_FILES.items():
        if isinstance(smi.get(key), str):
            (folder / filename).write_text(smi[key], encoding="utf-8")
            written.append(folder / filename)
    return written
