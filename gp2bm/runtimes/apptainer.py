"""Apptainer: each benchmark's image as one SIF file, built once per campaign.

``prepare`` builds ``<campaign>/images/<bench>.sif`` from ``docker://repo@sha256:...`` (the
pinned OCI image; ``--no-https`` for a plain-HTTP registry on loopback or listed in
GP2BM_INSECURE_REGISTRIES) under a file lock, so that the array tasks of a campaign on a
shared file system build it once between them. The SIF's own sha256 is the digest of what
ran: it goes into every run record as the image id, beside the OCI digest it was built from.
A side file ``<bench>.sif.json`` keeps the source, the sha256 and the file's size, mtime and
inode, so a later gp2bm re-hashes the SIF only when the file changed (as make and git do).
Benchmarks that run the same image share one SIF (a hard link), built once.

A run is ``apptainer run`` (the image's entrypoint with the manifest's arguments, as
``docker run``) with ``--containall`` (own /tmp, /dev, PID and IPC namespaces, no home, no
host environment), the run's environment as APPTAINERENV_* variables (never split on commas,
unlike ``--env``), ``--bind`` for the data sets, ``--pwd`` for the working directory and
``--nv`` for NVIDIA GPUs. A manifest asking for the host's IPC (``ipc: host``: NCCL and data
loaders share memory) gets ``--contain --cleanenv --pid`` instead. Network, shm size, ulimits
and the user are the host's: Apptainer runs as the calling user in the host's network.
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from gp2bm.errors import InputError
from gp2bm.files.checksums import sha256_file
from gp2bm.runtimes.base import Execution, ImageInfo, RunSpec, Runtime, register
from gp2bm.runtimes.process import start_process
from gp2bm.spec.manifest import BenchmarkManifest

ENV_PREFIX = "APPTAINERENV_"
# Variables of the calling environment that would reach the container despite --cleanenv.
LEAKING_PREFIXES = ("APPTAINERENV_", "SINGULARITYENV_")
INSECURE_ENV = "GP2BM_INSECURE_REGISTRIES"
BUILD_TIMEOUT_S = 3600


def registry_of(image: str) -> str | None:
    """The registry host[:port] of an image reference, None for Docker Hub shorthand."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def is_plain_http(registry: str | None) -> bool:
    """A registry reached without TLS: loopback (as dockerd assumes) or listed by the user."""
    if not registry:
        return False
    listed = {r.strip() for r in os.environ.get(INSECURE_ENV, "").split(",") if r.strip()}
    if registry in listed:
        return True
    host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_command(binary: str, sif: Path, source: str) -> list[str]:
    """``apptainer build`` of a SIF from ``docker://IMAGE`` (pure: tested without apptainer)."""
    argv = [binary, "build"]
    if source.startswith("docker://") and is_plain_http(registry_of(source[len("docker://") :])):
        argv.append("--no-https")
    return argv + [str(sif), source]


def _stat_key(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _check_bind_path(path: str) -> str:
    # --bind splits on ',' (several binds) and ':' (source:destination:options).
    if "," in path or ":" in path:
        raise InputError(f"apptainer cannot bind-mount a path with ',' or ':': {path!r}")
    return path


@register
class ApptainerRuntime(Runtime):
    name = "apptainer"

    def __init__(
        self, apptainer: str | None = None, image_dir: str | os.PathLike | None = None
    ):
        self.binary = apptainer or os.environ.get("GP2BM_APPTAINER") or "apptainer"
        self.image_dir = Path(image_dir) if image_dir else None
        self.sifs: dict[str, Path] = {}  # benchmark -> its prepared SIF

    def use_campaign(self, root: Path) -> None:
        self.image_dir = Path(root) / "images"

    # ----------------------------------------------------------------- rendering
    def sif_path(self, benchmark: str) -> Path | None:
        if benchmark in self.sifs:
            return self.sifs[benchmark]
        return self.image_dir / f"{benchmark}.sif" if self.image_dir else None

    def _env(self, spec: RunSpec) -> dict[str, str]:
        env = dict(spec.env)
        if spec.gpus not in ("none", None, "all"):
            env.setdefault("CUDA_VISIBLE_DEVICES", ",".join(str(g) for g in range(int(spec.gpus))))
        return {f"{ENV_PREFIX}{k}": v for k, v in sorted(env.items())}

    def _argv(self, spec: RunSpec) -> list[str]:
        argv = [self.binary, "run"]
        if spec.ipc == "host":
            argv += ["--contain", "--cleanenv", "--pid"]
        else:
            argv += ["--containall"]
        if spec.gpus not in ("none", None):
            argv += ["--nv"]
        for m in spec.mounts:
            mode = "ro" if m.readonly else "rw"
            argv += ["--bind", f"{_check_bind_path(m.host)}:{_check_bind_path(m.container)}:{mode}"]
        if spec.workdir:
            argv += ["--pwd", spec.workdir]
        sif = self.sif_path(spec.benchmark)
        return argv + [str(sif) if sif else f"docker://{spec.image}", *spec.command]

    def render(self, spec: RunSpec) -> list[str]:
        env = self._env(spec)
        prefix = ["env", *[f"{k}={v}" for k, v in env.items()]] if env else []
        return prefix + self._argv(spec)

    # ----------------------------------------------------------------- the SIF
    def prepare(self, manifest: BenchmarkManifest) -> ImageInfo:
        if self.image_dir is None:
            raise InputError("apptainer: no campaign folder to keep the SIF images in")
        self.image_dir.mkdir(parents=True, exist_ok=True)
        sif = self.image_dir / f"{manifest.benchmark}.sif"
        meta_path = sif.with_name(sif.name + ".json")
        source = f"docker://{manifest.image}"
        fd = os.open(self.image_dir / f".{manifest.benchmark}.sif.lock", os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # a build by another task: wait for it
            meta = self._read_meta(meta_path)
            if sif.exists() and meta.get("source") == source:
                if meta.get("stat") != _stat_key(sif) or not meta.get("sha256"):
                    meta.update(sha256=sha256_file(sif), stat=_stat_key(sif))
                    self._write_meta(meta_path, meta)
            else:
                meta = self._reuse(sif, source) or self._build(sif, source)
                self._write_meta(meta_path, meta)
        finally:
            os.close(fd)
        self.sifs[manifest.benchmark] = sif
        return ImageInfo(
            reference=manifest.image,
            id=f"sha256:{meta['sha256']}",
            repo_digests=[manifest.image] if manifest.pinned else [],
        )

    def _reuse(self, sif: Path, source: str) -> dict | None:
        """Another benchmark's SIF of the same image, hard-linked instead of built again."""
        for meta_path in sorted(self.image_dir.glob("*.sif.json")):
            other = meta_path.with_name(meta_path.name[: -len(".json")])
            meta = self._read_meta(meta_path)
            if other == sif or meta.get("source") != source or not other.exists():
                continue
            if meta.get("stat") != _stat_key(other):
                continue  # changed since it was hashed: build afresh
            tmp = sif.with_name(f".{sif.stem}.{os.getpid()}.link.sif")
            tmp.unlink(missing_ok=True)
            try:
                os.link(other, tmp)
            except OSError:
                return None  # a file system without hard links: build it
            os.replace(tmp, sif)
            return {**meta, "stat": _stat_key(sif), "same_as": other.name}
        return None

    def _build(self, sif: Path, source: str) -> dict:
        tmp = sif.with_name(f".{sif.stem}.{os.getpid()}.building.sif")
        argv = build_command(self.binary, tmp, source)
        try:
            proc = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT_S,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except FileNotFoundError:
            raise InputError(
                f"apptainer: '{self.binary}' not found (install Apptainer, or set "
                "GP2BM_APPTAINER to its path)"
            ) from None
        except subprocess.TimeoutExpired:
            tmp.unlink(missing_ok=True)
            raise InputError(
                f"apptainer build of {source} took more than {BUILD_TIMEOUT_S} s"
            ) from None
        if proc.returncode != 0 or not tmp.exists():
            tmp.unlink(missing_ok=True)
            tail = (proc.stderr or proc.stdout).strip().splitlines()
            raise InputError(
                f"apptainer build of {source} failed (exit {proc.returncode})"
                + (f": {tail[-1]}" if tail else "")
            )
        os.replace(tmp, sif)
        return {
            "source": source,
            "sha256": sha256_file(sif),
            "stat": _stat_key(sif),
            "build_command": argv[:-2] + [str(sif), source],
        }

    @staticmethod
    def _read_meta(path: Path) -> dict:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _write_meta(path: Path, meta: dict) -> None:
        from gp2bm.files.jsonfile import write_json_atomic

        write_json_atomic(path, meta)

    # ----------------------------------------------------------------- running
    def start(
        self, spec: RunSpec, sink: BinaryIO, on_line: Callable[[bytes], None] | None = None
    ) -> Execution:
        argv = self._argv(spec)
        env = {k: v for k, v in os.environ.items() if not k.startswith(LEAKING_PREFIXES)}
        env.update(self._env(spec))
        try:
            return start_process(argv, env, sink, on_line)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                raise InputError(
                    f"apptainer: '{self.binary}' not found (install Apptainer, or set "
                    "GP2BM_APPTAINER to its path)"
                ) from None
            raise InputError(f"cannot start {self.binary}: {exc.strerror}") from None

    def cleanup(self, labels: dict[str, str], busy=None) -> list[str]:
        # No daemon: a run is a child process that dies with gp2bm (PR_SET_PDEATHSIG).
        return []
