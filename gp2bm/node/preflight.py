"""The pre-flight check: can this node run the campaign, before hours are spent on it?

Each check is a small function that looks at one thing (GPUs and driver, data, disk, cache
drop) and returns CheckItems: pass, warn or fail, with the fix for each failure. A failure
that would stop or spoil the campaign is blocking. What depends on the runtime (its engine
or binary, the GPU runtime, the images) is the runtime's own ``checks``. Like
mlperf-sysinfo's ``check``: count what actually answers, never what was requested.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gp2bm.campaign.layout import CampaignFiles
from gp2bm.errors import InputError
from gp2bm.files.checksums import parse_sha256sum, sha256_file
from gp2bm.files.findings import CheckItem, fail, ok, skipped, warn
from gp2bm.files.units import human_bytes
from gp2bm.node.cachedrop import DROP_CACHES
from gp2bm.node.datasets import ImageFileReader, VerifiedCache, check_mount
from gp2bm.node.gpus import describe_gpus
from gp2bm.node.inventory import probe_cpu, probe_gpus, probe_memory
from gp2bm.node.launchcheck import launch_items
from gp2bm.node.measured import contradictions
from gp2bm.node.systemdesc import (
    default_system_yaml,
    detected_fields,
    is_placeholder,
    load_vendor_fields,
)
from gp2bm.runtimes import DEFAULT, CheckContext, Runtime, get_runtime
from gp2bm.runtimes.base import image_here
from gp2bm.runtimes.span import spanning_problem, spans
from gp2bm.spec.manifest import BenchmarkManifest, Mount
from gp2bm.spec.suite import Suite

MIN_FREE_BYTES = 1 << 30  # logs, records and telemetry of a whole campaign fit in far less
LOW_FREE_BYTES = 10 << 30
CHECKSUM_CACHE = "checksums_verified.json"
DATASET_CACHE = "datasets_verified.json"


@dataclass
class Preflight:
    """What the campaign is about to do, as the checks need it."""

    suite: Suite
    manifests: dict[str, BenchmarkManifest]
    # the runtime the campaign uses, with its own settings
    runtime: Runtime = field(default_factory=lambda: get_runtime(DEFAULT))
    no_gpu: bool = False
    campaign_root: Path | None = None
    cache_drop: bool = True
    cache_drop_command: list[str] | None = None
    allow_cache_drop_failure: bool = False
    allow_unpinned: bool = False
    # verified checksums are remembered here (by size and mtime) so a resume does not
    # re-read hundreds of GB; None: verify every time
    checksum_cache: Path | None = None
    # what the data set check (declared files, checksum lists) verified; None: beside the
    # campaign (records/datasets_verified.json), or nowhere without a campaign folder
    datasets_cache: Path | None = None
    _gpu_report: object = field(default=None, repr=False)

    # ------------------------------------------------------------------ what is needed
    def gpus_needed(self) -> int:
        """GPUs one node must have: 0 when every manifest says ``gpus: none``."""
        need = 0
        for m in self.manifests.values():
            if m.gpus == "none":
                continue
            need = max(need, 1 if m.gpus == "all" else int(m.gpus))
        return need

    def gpu_report(self):
        if self._gpu_report is None:
            self._gpu_report = describe_gpus()
        return self._gpu_report

    def dataset_cache(self) -> Path | None:
        if self.datasets_cache is not None:
            return self.datasets_cache
        if self.campaign_root is None:
            return None
        return CampaignFiles(Path(self.campaign_root)).cache_file(DATASET_CACHE)

    def runtime_context(self) -> CheckContext:
        """What the runtime's own checks are told of the campaign."""
        return CheckContext(
            manifests=self.manifests,
            gpus=0 if self.no_gpu else self.gpus_needed(),
            allow_unpinned=self.allow_unpinned,
            images_dir=None
            if self.campaign_root is None
            else CampaignFiles(Path(self.campaign_root)).images_dir,
            suite_path=self.suite.path,
        )


# ---------------------------------------------------------------------------- checks

DRIVER_FIX = (
    "install the NVIDIA data-center driver (535 or newer) so that `nvidia-smi` lists the "
    "GPUs, or run on the GPU node; for a suite whose manifests need no GPU pass --no-gpu"
)


def _gpus_skipped(p: Preflight) -> CheckItem | None:
    """The GPU check when it is not made: skipped, with why; None when it is made."""
    if p.no_gpu:
        return skipped(
            "GPUs",
            "GPUs and NVIDIA driver not checked (--no-gpu)",
            "leave out --no-gpu on the GPU node to have them checked",
        )
    if p.gpus_needed() == 0:
        return skipped(
            "GPUs",
            "GPUs and NVIDIA driver not checked: every manifest says gpus: none",
            "nothing to do: no manifest asks for a GPU",
        )
    return None


def check_gpus(p: Preflight) -> list[CheckItem]:
    not_made = _gpus_skipped(p)
    if not_made is not None:
        return [not_made]
    need = p.gpus_needed()
    report = p.gpu_report()
    items = []
    if report.driver_version:
        items.append(
            ok(
                "NVIDIA driver",
                f"driver {report.driver_version}, CUDA {report.cuda_driver_version}",
            )
        )
    else:
        items.append(fail("NVIDIA driver", f"not reachable: {report.error}", DRIVER_FIX))
    if not report.found:
        items.append(
            fail(
                "GPUs",
                f"no GPU found ({report.error}); the manifests need {_need_text(p)}",
                DRIVER_FIX,
            )
        )
        return items
    broken = [g.index for g in report.gpus if "handle" in g.errors]
    usable = report.count - len(broken)
    if usable < need:
        items.append(
            fail(
                "GPUs",
                f"{usable} usable GPU(s), the manifests need {need}"
                + (f" (GPU {broken} not answering)" if broken else ""),
                "check `nvidia-smi`: reseat or reset the missing GPUs, or lower `gpus:` in "
                "the manifests",
            )
        )
    else:
        names = ", ".join(dict.fromkeys(g.name or "?" for g in report.gpus))
        items.append(ok("GPUs", f"{report.count}x {names} ({_need_text(p)} needed)"))
    mig = [g.index for g in report.gpus if (g.mig_mode or "").startswith("enabled")]
    if mig:
        items.append(
            warn(
                "MIG mode",
                f"MIG is enabled on GPU(s) {mig}: MLPerf runs use whole GPUs",
                "nvidia-smi -mig 0 (as root), then reset the GPUs",
            )
        )
    return items


def _need_text(p: Preflight) -> str:
    kinds = sorted({str(m.gpus) for m in p.manifests.values() if m.gpus != "none"})
    return " / ".join(f"gpus: {k}" for k in kinds) or "no GPU"


def check_nodes(p: Preflight) -> list[CheckItem]:
    """A suite of several nodes (or an srun launcher): the runtime and launchers can span
    them; the nodes themselves are checked by each run, on every node of its allocation."""
    if p.suite.nodes == 1 and not any(spans(m) for m in p.manifests.values()):
        return []
    problem = spanning_problem(p.suite.nodes, p.manifests, p.runtime)
    if problem:
        return [fail("nodes", problem, "see docs/NVIDIA.md, Several nodes")]
    return [
        ok(
            "nodes",
            f"{p.suite.nodes} node(s) per run with {p.runtime.name} and srun; each run checks "
            "every node of its allocation (GPUs, runtime, cache drop, data) before it starts",
        )
    ]


def node_checks(p: Preflight) -> list[CheckItem]:
    """What one node of a run across nodes checks of itself before the run (each run,
    every node): GPUs, the runtime, the cache drop, the data folders."""
    items: list[CheckItem] = []
    for check in (check_gpus, check_runtime, check_cache_drop, check_data_folders):
        try:
            items += check(p)
        except Exception as exc:  # noqa: BLE001 - a broken check must not hide the others
            items.append(fail(check.__name__.removeprefix("check_"), f"could not check: {exc}", ""))
    return items


def check_data_folders(p: Preflight) -> list[CheckItem]:
    """Each mount's folder is there and readable on this node (its contents are verified
    once per campaign, by the pre-flight of the node that starts it)."""
    items = []
    for bench, m in p.manifests.items():
        for mount in m.mounts:
            host, what = Path(mount.host), mount.what or "data"
            if not host.exists() or not os.access(host, os.R_OK):
                items.append(
                    fail(
                        f"{bench} {what}",
                        f"{host} is missing or unreadable",
                        f"make {host} readable on this node",
                    )
                )
            else:
                items.append(ok(f"{bench} {what}", f"{host} present"))
    return items


def check_runtime(p: Preflight) -> list[CheckItem]:
    """The runtime's own checks: engine or binary, GPU runtime, images."""
    return p.runtime.checks(p.runtime_context())


def check_launch(p: Preflight) -> list[CheckItem]:
    """Container options, config file, processes per GPU, the launcher's executable."""
    return launch_items(p.runtime, p.manifests, lambda: None if p.no_gpu else p.gpu_report().count)


def check_data(p: Preflight) -> list[CheckItem]:
    """Each mount: its declared files and checksum lists (``files``, ``verify``: the data
    set check, with its cache), its ``checksums`` list, or at least its folder."""
    items = []
    cache = _load_cache(p.checksum_cache)
    verified = VerifiedCache(p.dataset_cache())
    for bench, m in p.manifests.items():
        reader = _image_reader(p.runtime, m)
        for mount in m.mounts:
            declared = bool(mount.files or mount.verify)
            if declared:
                items += check_mount(bench, mount, verified, reader)
            if mount.checksums or not declared:
                items += _mount_presence(bench, m, mount, cache, declared)
    verified.save()
    if p.checksum_cache is not None and cache:
        try:
            p.checksum_cache.parent.mkdir(parents=True, exist_ok=True)
            p.checksum_cache.write_text(json.dumps(cache, indent=1, sort_keys=True) + "\n")
        except OSError:
            pass  # only a cache
    return items


def _mount_presence(
    bench: str, m: BenchmarkManifest, mount: Mount, cache: dict, declared: bool
) -> list[CheckItem]:
    """The folder is there and readable, and matches its ``checksums`` list if any."""
    what = mount.what or "data"
    name = f"{bench} {what}"
    host = Path(mount.host)
    if not host.exists():
        if declared:
            return []  # the data set check named it already, with its preparation step
        return [
            fail(
                name,
                f"{host} does not exist",
                f"put the {what} at {host}, or edit mounts[].host in {m.path}",
            )
        ]
    if not os.access(host, os.R_OK):
        return [] if declared else [fail(name, f"{host} is not readable", f"chmod/chown {host}")]
    if not mount.checksums:
        return [ok(name, f"{host} present")]
    listing = Path(mount.checksums)
    if not listing.is_absolute():
        listing = Path(m.path).parent / listing
    return [_verify_checksums(name, host, listing, cache)]


def _image_reader(runtime: Runtime, m: BenchmarkManifest) -> ImageFileReader | None:
    """Reads a checksum list that lives in the benchmark's image (``cat`` in a throw-away
    container); None when the image is not here yet (the list is then not verified)."""
    if not any(v.location == "image" for mount in m.mounts for v in mount.verify):
        return None
    if not image_here(runtime, m.image):
        return None

    def read(path: str) -> bytes:
        code, out, err = runtime.run_in_image(m.image, ["cat", path], None)
        if code != 0:
            why = err.decode(errors="replace").strip().splitlines()
            raise OSError(f"cat {path} in {m.image}: " + (why[-1] if why else f"exit {code}"))
        return out

    return read


def _load_cache(path: Path | None) -> dict:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _verify_checksums(name: str, host: Path, listing: Path, cache: dict) -> CheckItem:
    fix_list = f"regenerate it: (cd {host} && find . -type f -exec sha256sum {{}} +) > {listing}"
    try:
        entries = parse_sha256sum(listing.read_text(encoding="utf-8"))
    except OSError as exc:
        return fail(name, f"checksum list {listing}: {exc.strerror}", fix_list)
    except (ValueError, UnicodeDecodeError) as exc:
        return fail(name, f"checksum list {listing}: {exc}", fix_list)
    bad, missing, cached = [], [], 0
    for digest, rel in entries:
        path = host / rel  # relative names are relative to the mount's host folder
        try:
            st = path.stat()
        except OSError:
            missing.append(rel)
            continue
        key = str(path.resolve())
        stamp = [digest, st.st_size, st.st_mtime_ns]
        if cache.get(key) == stamp:
            cached += 1
            continue
        if sha256_file(path) == digest:
            cache[key] = stamp
        else:
            bad.append(rel)
    if missing or bad:
        shown = ", ".join((missing + bad)[:3]) + (" ..." if len(missing) + len(bad) > 3 else "")
        return fail(
            name,
            f"{host}: {len(missing)} file(s) missing, {len(bad)} with a wrong sha256 ({shown})",
            f"copy the {name.split(' ', 1)[-1]} again from its source into {host}",
        )
    note = f", {cached} unchanged since last verified" if cached else ""
    return ok(name, f"{host}: {len(entries)} file(s) match {listing.name}{note}")


def check_disk(p: Preflight) -> list[CheckItem]:
    if p.campaign_root is None:
        return []
    root = Path(p.campaign_root).absolute()
    where = root
    while not where.exists() and where != where.parent:
        where = where.parent
    free = shutil.disk_usage(where).free
    if not os.access(where, os.W_OK):
        return [
            fail("campaign disk", f"{where} is not writable", "use a writable --campaign folder")
        ]
    detail = f"{human_bytes(free)} free at {where}"
    if free < MIN_FREE_BYTES:
        return [
            fail(
                "campaign disk",
                detail,
                f"free at least {human_bytes(MIN_FREE_BYTES)} or choose another --campaign",
            )
        ]
    if free < LOW_FREE_BYTES:
        return [warn("campaign disk", detail, "logs and telemetry of a long campaign need room")]
    return [ok("campaign disk", detail)]


def check_cache_drop(p: Preflight) -> list[CheckItem]:
    name = "cache drop"
    if not p.cache_drop:
        return [
            warn(
                name,
                "disabled (--no-cache-drop): runs start with a warm page cache",
                "leave out --no-cache-drop to start each run with a cold page cache",
            )
        ]
    make = warn if p.allow_cache_drop_failure else fail
    if p.cache_drop_command:
        exe = p.cache_drop_command[0]
        found = shutil.which(exe)
        if found is None:
            return [
                make(name, f"command {exe} not found", "give an executable --cache-drop-command")
            ]
        return [ok(name, f"command {' '.join(p.cache_drop_command)} ({found})")]
    try:
        # Opening for writing checks the permission; only a write would drop the cache.
        with open(DROP_CACHES, "w"):
            pass
    except OSError as exc:
        return [
            make(
                name,
                f"cannot write {DROP_CACHES}: {exc.strerror}",
                "run as root, or pass --cache-drop-command 'sudo /usr/local/sbin/drop-caches' "
                "(a sudoers rule for that one command)",
            )
        ]
    return [ok(name, f"{DROP_CACHES} writable")]


def _measured_here(nodes: int) -> dict[str, str]:
    """The system fields this node answers (CPU, memory, GPUs), as init and run-all detect
    them; a probe that cannot answer leaves its fields out."""
    found: dict = {}
    for key, probe in (("cpu", probe_cpu), ("memory", probe_memory), ("gpus", probe_gpus)):
        try:
            found[key] = probe()
        except Exception as exc:  # noqa: BLE001 - a probe that cannot answer says nothing
            found[key] = {"error": str(exc)}
    return detected_fields(found, nodes)


def check_system_yaml(p: Preflight) -> list[CheckItem]:
    """The values typed into system.yaml against what this node reports: a typed value the
    node contradicts would be a finding of the evaluator's verify."""
    path = default_system_yaml(p.suite.path)
    if path is None:
        return []
    try:
        vendor = load_vendor_fields(path)
    except InputError as exc:  # said again where the description is built; no run stops
        return [warn("system.yaml", f"not read: {exc}", "fix the file (YAML of MLPerf fields)")]
    typed = {k: v for k, v in vendor.items() if not is_placeholder(v)}
    measured = _measured_here(p.suite.nodes)
    wrong = contradictions(typed, measured)
    if not wrong:
        return [ok("system.yaml", f"{path.name}: no typed value contradicts this node")]
    said = "; ".join(f"{k}: typed {typed[k]!r}, this node reports {measured[k]!r}" for k in wrong)
    return [
        fail(
            "system.yaml",
            f"{path}: {said}",
            "delete the line to let gp2bm detect it at every campaign, or run on the node "
            "the value describes",
        )
    ]


CHECKS: tuple[Callable[[Preflight], list[CheckItem]], ...] = (
    check_gpus,
    check_system_yaml,
    check_nodes,
    check_runtime,
    check_launch,
    check_data,
    check_disk,
    check_cache_drop,
)


def run_checks(p: Preflight) -> list[CheckItem]:
    """Every check; one that crashes reports that it could not look, the others go on."""
    items: list[CheckItem] = []
    for check in CHECKS:
        try:
            items += check(p)
        except Exception as exc:  # noqa: BLE001 - a broken check must not hide the others
            items.append(
                fail(
                    check.__name__.removeprefix("check_"),
                    f"could not check: {type(exc).__name__}: {exc}",
                    "fix what the error names; run-all --skip-check goes on without the pre-flight",
                )
            )
    return items
