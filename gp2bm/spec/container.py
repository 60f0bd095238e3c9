"""The container options a real MLPerf launch uses, and how each runtime expresses them.

NVIDIA's and Dell's run_with_docker.sh start the container with
``--init --net=host --uts=host --ipc=host --security-opt=seccomp=unconfined`` (Dell's other
script ``--cap-add=sys_nice``): ``bindpcie`` runs ``numactl --membind``, whose
``set_mempolicy`` Docker's default seccomp profile refuses ("set_mempolicy: Operation not
permitted"), and ``--init`` reaps the ranks mpirun and torchrun leave behind.

Each runtime's translation is a pure function of these options: the flags of its command
line (and, for Docker's SDK, its keyword arguments). A runtime that cannot honour an option
refuses it with one line naming the option and the manifest; one that honours it by default
(Enroot shares the host's namespaces and applies no seccomp filter) renders nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from gp2bm.errors import InputError
from gp2bm.spec.manifest import BenchmarkManifest

# Options that weaken the container's isolation: shown in reports like `privileged`.
RELAXING_SECURITY = ("seccomp=unconfined", "apparmor=unconfined", "label=disable")
# Paths whose mount into (or over) a container reaches the host's system itself.
SYSTEM_PATHS = (
    "/",
    "/proc",
    "/sys",
    "/dev",
    "/etc",
    "/boot",
    "/run",
    "/var/run",
    "/root",
    "/usr",
    "/lib",
    "/bin",
    "/sbin",
    "/var/lib/docker",
)


def _system_path(path: str) -> bool:
    clean = "/" + path.strip("/") if path.strip("/") else "/"
    return clean in SYSTEM_PATHS or clean.endswith(".sock")


def mount_relaxations(manifest: BenchmarkManifest) -> tuple[str, ...]:
    """What the manifest's mounts weaken: a writable host mount, a mount of a host system
    path (``/``, ``/proc``, the engine's socket ...), a mount over a system path of the
    container."""
    out = []
    for m in manifest.mounts:
        if not m.readonly:
            out.append(f"writable mount {m.host}:{m.container}")
        if _system_path(m.host):
            out.append(f"host system path mounted: {m.host}")
        if _system_path(m.container):
            out.append(f"mount over the container's {m.container}")
    return tuple(out)


@dataclass(frozen=True)
class ContainerOptions:
    security_opt: tuple[str, ...] = ()
    cap_add: tuple[str, ...] = ()
    init: bool = False
    uts: str | None = None
    devices: tuple[str, ...] = ()
    ipc: str | None = None
    network: str = "none"
    privileged: bool = False
    mounts: tuple[str, ...] = ()  # what the mounts weaken (mount_relaxations)

    def relaxed(self) -> list[str]:
        """What weakens isolation, as reports show it (e.g. 'seccomp=unconfined')."""
        out = ["privileged"] if self.privileged else []
        out += [s for s in self.security_opt if s in RELAXING_SECURITY]
        out += [f"cap_add={c}" for c in self.cap_add]
        out += [f"device={d.split(':', 1)[0]}" for d in self.devices]
        out += [
            f"{ns}=host"
            for ns, v in (("network", self.network), ("ipc", self.ipc), ("uts", self.uts))
            if v == "host"
        ]
        return out + list(self.mounts)

    def as_record(self) -> dict:
        return {
            "security_opt": list(self.security_opt),
            "cap_add": list(self.cap_add),
            "init": self.init,
            "uts": self.uts,
            "devices": list(self.devices),
            "ipc": self.ipc,
            "network": self.network,
            "privileged": self.privileged,
        }


def container_options(manifest: BenchmarkManifest) -> ContainerOptions:
    return ContainerOptions(
        security_opt=tuple(manifest.security_opt),
        cap_add=tuple(c.upper().removeprefix("CAP_") for c in manifest.cap_add),
        init=manifest.init,
        uts=manifest.uts,
        devices=tuple(manifest.devices),
        ipc=manifest.ipc,
        network=manifest.network,
        privileged=manifest.privileged,
        mounts=mount_relaxations(manifest),
    )


def _device(spec: str) -> tuple[str, str, str]:
    """/dev/x[:/dev/y][:rwm] as (host, container, permissions)."""
    parts = spec.split(":")
    host = parts[0]
    target = parts[1] if len(parts) > 1 and parts[1].startswith("/") else host
    perms = parts[-1] if len(parts) > 1 and not parts[-1].startswith("/") else "rwm"
    return host, target, perms


def docker_flags(o: ContainerOptions) -> list[str]:
    """Docker's and Podman's ``run`` flags (network, ipc and privileged are rendered by
    the runtime already)."""
    argv: list[str] = []
    for s in o.security_opt:
        argv += ["--security-opt", s]
    for c in o.cap_add:
        argv += ["--cap-add", c]
    if o.init:
        argv.append("--init")
    if o.uts:
        argv += ["--uts", o.uts]
    for d in o.devices:
        host, target, perms = _device(d)
        argv += ["--device", f"{host}:{target}:{perms}"]
    return argv


def docker_kwargs(o: ContainerOptions) -> dict:
    """The same options as keyword arguments of the Docker SDK's ``containers.run``."""
    kwargs: dict = {}
    if o.security_opt:
        kwargs["security_opt"] = list(o.security_opt)
    if o.cap_add:
        kwargs["cap_add"] = list(o.cap_add)
    if o.init:
        kwargs["init"] = True
    if o.uts:
        kwargs["uts_mode"] = o.uts
    if o.devices:
        kwargs["devices"] = [":".join(_device(d)) for d in o.devices]
    return kwargs


def _refuse(runtime: str, option: str, why: str, where: str) -> InputError:
    return InputError(f"{where}: the {runtime} runtime cannot honour {option}: {why}")


def apptainer_flags(o: ContainerOptions, where: str) -> list[str]:
    """Apptainer applies no seccomp filter unless told to, shares the host's UTS and network
    namespaces, and runs a shim init with ``--pid``: those options need no flag. Added
    capabilities are ``--add-caps`` (root, or granted by ``apptainer capability add``);
    devices are bound in (the runtime uses ``--contain``, which gives a minimal /dev)."""
    argv: list[str] = []
    for s in o.security_opt:
        if s != "seccomp=unconfined":
            raise _refuse("apptainer", f"security_opt {s}", "it has no such option", where)
    if o.cap_add:
        argv += ["--add-caps", ",".join(o.cap_add)]
    for d in o.devices:
        host, target, _ = _device(d)
        argv += ["--bind", f"{host}:{target}"]
    return argv


def enroot_flags(o: ContainerOptions, where: str) -> list[str]:
    """Enroot (through Pyxis) runs unprivileged in a user namespace that shares the host's
    PID, UTS, IPC and network namespaces and applies no seccomp filter: seccomp=unconfined,
    init and the host namespaces are its defaults. It cannot add capabilities. Devices
    become container mounts (``--container-mounts`` entries, returned here)."""
    for s in o.security_opt:
        if s != "seccomp=unconfined":
            raise _refuse("enroot", f"security_opt {s}", "Pyxis has no such option", where)
    if o.cap_add:
        raise _refuse(
            "enroot",
            f"cap_add {', '.join(o.cap_add)}",
            "it runs unprivileged; it applies no seccomp filter, so numactl needs none",
            where,
        )
    return [f"{_device(d)[0]}:{_device(d)[1]}" for d in o.devices]
