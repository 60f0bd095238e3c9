"""Apptainer: each benchmark's image as one SIF file, built once per campaign.

``prepare`` builds ``<campaign>/images/<bench>.sif`` from ``docker://repo@sha256:...`` (the
pinned OCI image; ``--no-https`` for a plain-HTTP registry on loopback or listed in
GP2BM_INSECURE_REGISTRIES) under a file lock, so that the array tasks of a campaign on a
shared file system build it once between them. The SIF's own sha256 is the digest of what
ran: it goes into every run record as the image id, beside the OCI digest it was built from.
A side file ``<bench>.sif.json`` keeps the source, the sha256 and the file's size, mtime and
inode, so a later gp2bm re-hashes the SIF only when the file changed (as make and git do).
Benchmarks that run the same image share one SIF (a hard link), built once. A SIF pinned
locally (``gp2bm pin resnet FILE.sif``: ``image: FILE.sif@sha256:...``) is run as it is,
never rebuilt, and refused when its sha256 is no longer the pinned one.

A run is ``apptainer run`` (the image's entrypoint with the manifest's arguments, as
``docker run``) with ``--containall`` (own /tmp, /dev, PID and IPC namespaces, no home, no
host environment), the run's environment as APPTAINERENV_* variables (never split on commas,
unlike ``--env``), ``--bind`` for the data sets, ``--pwd`` for the working directory and
``--nv`` for NVIDIA GPUs. A manifest asking for the host's IPC (``ipc: host``: NCCL and data
loaders share memory) gets ``--contain --cleanenv --pid`` instead. Network, shm size, ulimits
and the user are the host's: Apptainer runs as the calling user in the host's network.

A run across the nodes of a Slurm allocation (launcher ``srun``) is the same command
after srun's words, one task per process on every node, each through ``taskenv.py``, which
hands the task's Slurm variables and rank to the container (``--cleanenv`` would drop
them); the SIF, on the campaign's shared folder, is started once on every node before
(``ready_command``). ``taskenv.py`` hands each task's Slurm variables, and its PyTorch rank
(slurm2pytorch's mapping), to the container as ``APPTAINERENV_*``.

The pre-flight checks the ``apptainer`` binary, what ``--nv`` takes from the host (the
driver's libnvidia-ml and nvidia-smi) and each image's pin and SIF. The implementation
source is read out of the SIF that ran (found by its sha256 among the campaign's images):
``apptainer exec SIF tar -C DIR -c .``, whose archive is checked by gp2bm.files.safetar
before anything is written.
"""

from __future__ import annotations

import ctypes.util
import errno
import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from gp2bm.errors import InputError
from gp2bm.files.checksums import sha256_file
from gp2bm.files.command import run_short
from gp2bm.files.findings import CheckItem, fail, ok
from gp2bm.files.jsonfile import write_json_atomic
from gp2bm.files.safetar import extract_stream
from gp2bm.runtimes.base import (
    ENGINE_CHECK,
    GPU_CHECK,
    CheckContext,
    Execution,
    ImageInfo,
    RunSpec,
    Runtime,
    SourceExport,
    Span,
    check_file_pin,
    file_pin,
    image_checks,
    register,
    require_source_dir,
)
from gp2bm.runtimes.process import start_process
from gp2bm.runtimes.registry import is_plain_http, registry_of
from gp2bm.spec.container import ContainerOptions, apptainer_flags
from gp2bm.spec.manifest import BenchmarkManifest

ENV_PREFIX = "APPTAINERENV_"
# Variables of the calling environment that would reach the container despite --cleanenv.
LEAKING_PREFIXES = ("APPTAINERENV_", "SINGULARITYENV_")
BUILD_TIMEOUT_S = 3600
VERSION_TIMEOUT_S = 30
EXPORT_TIMEOUT_S = 600
PROBE_TIMEOUT_S = 600  # a first `exec docker://IMAGE` converts the image
TASKENV = Path(__file__).with_name("taskenv.py")
NOT_FOUND_FIX = "install Apptainer, or set GP2BM_APPTAINER to its path"


def build_command(binary: str, sif: Path, source: str) -> list[str]:
    """``apptainer build`` of a SIF from ``docker://IMAGE`` (pure: tested without apptainer)."""
    argv = [binary, "build"]
    if source.startswith("docker://") and is_plain_http(registry_of(source[len("docker://") :])):
        argv.append("--no-https")
    return argv + [str(sif), source]


def export_command(binary: str, sif: Path, source_dir: str) -> list[str]:
    """A tar archive of ``source_dir`` in the SIF, on standard output (pure: tested as is)."""
    return [binary, "exec", "--containall", str(sif), "tar", "-C", source_dir, "-cf", "-", "."]


def probe_command(binary: str, image: str, argv: list[str], workdir: str | None) -> list[str]:
    """``argv`` in a contained throw-away instance of ``image`` (pure: tested as is)."""
    pwd = ["--pwd", workdir] if workdir else []
    return [binary, "exec", "--containall", *pwd, image, *argv]


def _stat_key(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _check_bind_path(path: str) -> str:
    # --bind splits on ',' (several binds) and ':' (source:destination:options).
    if "," in path or ":" in path:
        raise InputError(f"apptainer cannot bind-mount a path with ',' or ':': {path!r}")
    return path


def taskenv_argv(span: Span, prefix: str) -> list[str]:
    """The per-task step on every node that hands Slurm's task variables, under ``prefix``,
    to the command after it (``taskenv.py``: standard library only, run by path)."""
    mapped = [f"{name}={source}" for name, source in span.rank_map]
    return [sys.executable, "-I", str(TASKENV), prefix, *mapped, "--"]


@register
class ApptainerRuntime(Runtime):
    name = "apptainer"
    spans_nodes = True
    no_pull_reason = "it builds each campaign's SIF from the pinned digest when the campaign starts"

    def __init__(self, *, apptainer: str | None = None, image_dir: str | os.PathLike | None = None):
        self.binary = apptainer or os.environ.get("GP2BM_APPTAINER") or "apptainer"
        self.image_dir = Path(image_dir) if image_dir else None
        self.sifs: dict[str, Path] = {}  # benchmark -> its prepared SIF
        self.sif_of_image: dict[str, Path] = {}  # image reference -> its prepared SIF

    def use_images_dir(self, folder: Path) -> None:
        self.image_dir = Path(folder)

    # ----------------------------------------------------------------- rendering
    def local_image(self, image: str, asked: bool) -> str | None:
        """A SIF file, pinned by its path and its sha256 (no registry holds it)."""
        return file_pin(image, asked, "SIF")

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
        argv += apptainer_flags(spec.options, spec.manifest or spec.benchmark)
        sif = Path(spec.image) if spec.image.startswith("/") else self.sif_path(spec.benchmark)
        return argv + [str(sif) if sif else f"docker://{spec.image}", *spec.command]

    def check_options(self, options: ContainerOptions, where: str) -> None:
        apptainer_flags(options, where)

    def render(self, spec: RunSpec) -> list[str]:
        env = self._env(spec)
        prefix = ["env", *[f"{k}={v}" for k, v in env.items()]] if env else []
        return prefix + self._argv(spec)

    # ----------------------------------------------------------------- across nodes
    def _span_argv(self, spec: RunSpec, span: Span) -> list[str]:
        return [*span.launch, *taskenv_argv(span, ENV_PREFIX), *self._argv(spec)]

    def render_span(self, spec: RunSpec, span: Span) -> list[str]:
        env = self._env(spec)
        prefix = ["env", *[f"{k}={v}" for k, v in env.items()]] if env else []
        return prefix + self._span_argv(spec, span)

    def ready_command(self, manifest: BenchmarkManifest, span: Span) -> list[str]:
        """The campaign's SIF started once on every node (after ``prepare`` built it)."""
        sif = manifest.image_file or self.sif_path(manifest.benchmark)
        image = str(sif) if sif else f"docker://{manifest.image}"
        return [*span.each_node, self.binary, "exec", "--containall", image, "true"]

    # ----------------------------------------------------------------- the SIF
    def prepare(self, manifest: BenchmarkManifest) -> ImageInfo:
        if manifest.image_file:  # pinned locally: the SIF itself, checked against its pin
            digest = check_file_pin(manifest)
            self.sifs[manifest.benchmark] = Path(manifest.image_file)
            self.sif_of_image[manifest.image] = Path(manifest.image_file)
            return ImageInfo(reference=manifest.image, id=digest)
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
        self.sif_of_image[manifest.image] = sif
        return ImageInfo(
            reference=manifest.image,
            id=f"sha256:{meta['sha256']}",
            repo_digests=[manifest.image] if manifest.pinned else [],
        )

    def _reuse(self, sif: Path, source: str) -> dict | None:
        """Another benchmark's SIF of the same image, hard-linked instead of built again."""
        for meta_path in sorted(sif.parent.glob("*.sif.json")):  # the campaign's image_dir
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
            proc = run_short(argv, BUILD_TIMEOUT_S)
        except FileNotFoundError:
            raise InputError(f"apptainer: '{self.binary}' not found ({NOT_FOUND_FIX})") from None
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
        write_json_atomic(path, meta)

    # ----------------------------------------------------------------- running
    def start(
        self, spec: RunSpec, sink: BinaryIO, on_line: Callable[[bytes], None] | None = None
    ) -> Execution:
        return self._start(self._argv(spec), spec, sink, on_line)

    def start_span(
        self, spec: RunSpec, span: Span, sink: BinaryIO, on_line: Callable[[bytes], None] | None
    ) -> Execution:
        # srun passes its environment to every task: the APPTAINERENV_* reach each node
        return self._start(self._span_argv(spec, span), spec, sink, on_line)

    def _start(
        self,
        argv: list[str],
        spec: RunSpec,
        sink: BinaryIO,
        on_line: Callable[[bytes], None] | None,
    ) -> Execution:
        env = {k: v for k, v in os.environ.items() if not k.startswith(LEAKING_PREFIXES)}
        env.update(self._env(spec))
        try:
            return start_process(argv, env, sink, on_line)
        except OSError as exc:
            if exc.errno == errno.ENOENT and argv[0] != self.binary:
                raise InputError(
                    f"'{argv[0]}' not found: a run across nodes starts its tasks with srun, "
                    "inside a Slurm allocation"
                ) from None
            if exc.errno == errno.ENOENT:
                raise InputError(
                    f"apptainer: '{self.binary}' not found ({NOT_FOUND_FIX})"
                ) from None
            raise InputError(f"cannot start {argv[0]}: {exc.strerror}") from None

    def run_in_image(
        self, image: str, argv: list[str], workdir: str | None
    ) -> tuple[int, bytes, bytes]:
        """``apptainer exec --containall`` of the campaign's SIF of the image (once
        prepared), else of ``docker://IMAGE`` (Apptainer converts it on the fly)."""
        sif = self.sif_of_image.get(image)
        command = probe_command(
            self.binary, str(sif) if sif else f"docker://{image}", argv, workdir
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(LEAKING_PREFIXES)}
        try:
            proc = run_short(command, PROBE_TIMEOUT_S, env=env, text=False)
        except FileNotFoundError:
            raise InputError(f"apptainer: '{self.binary}' not found ({NOT_FOUND_FIX})") from None
        except subprocess.TimeoutExpired:
            raise InputError(f"{image}: {argv[0]} did not end in {PROBE_TIMEOUT_S} s") from None
        return proc.returncode, proc.stdout, proc.stderr

    def cleanup(self, labels: dict[str, str], busy=None) -> list[str]:
        # No daemon: a run is a child process that dies with gp2bm (PR_SET_PDEATHSIG).
        return []

    # ----------------------------------------------------------------- pre-flight
    def checks(self, context: CheckContext) -> list[CheckItem]:
        items = [self._check_binary()]
        if context.gpus:
            items.append(check_nv())
        folder = self.image_dir or context.images_dir
        return items + image_checks(context, lambda b, m: self._check_sif(folder, b, m))

    def _check_binary(self) -> CheckItem:
        found = shutil.which(self.binary)
        if found is None:
            return fail(ENGINE_CHECK, f"apptainer: '{self.binary}' not found", NOT_FOUND_FIX)
        try:
            proc = run_short([found, "--version"], VERSION_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return fail(ENGINE_CHECK, f"{found} --version: {exc}", NOT_FOUND_FIX)
        lines = (proc.stdout or proc.stderr).strip().splitlines()
        if proc.returncode != 0 or not lines:
            return fail(
                ENGINE_CHECK,
                f"{found} --version failed (exit {proc.returncode})"
                + (f": {lines[-1]}" if lines else ""),
                NOT_FOUND_FIX,
            )
        return ok(ENGINE_CHECK, f"{lines[0]} ({found})")

    def _check_sif(self, folder: Path | None, bench: str, m: BenchmarkManifest) -> CheckItem:
        name = f"{bench} image"
        if m.image_file:
            try:
                check_file_pin(m)
            except InputError as exc:
                return fail(name, str(exc), f"pin the SIF again: `gp2bm pin {bench} SIF`")
            return ok(name, f"SIF {m.image_file} pinned locally, unchanged")
        sif = folder / f"{bench}.sif" if folder else None
        if sif and sif.exists():
            meta = self._read_meta(sif.with_name(sif.name + ".json"))
            if meta.get("source") == f"docker://{m.image}":
                return ok(name, f"{m.image}: SIF {sif} built")
        return ok(
            name,
            f"{m.image}: its SIF is built when the campaign starts (apptainer build from "
            "the registry)",
        )

    # ----------------------------------------------------------------- source
    def export_source(
        self, manifest: BenchmarkManifest, image: str, scratch: Path, notes: list[str], what: str
    ) -> SourceExport:
        """Read out of the SIF that ran: ``apptainer exec SIF tar``, checked by safetar."""
        source_dir = require_source_dir(manifest)
        sif = self._sif_that_ran(manifest, image, what)
        argv = export_command(self.binary, sif, source_dir)
        scratch.mkdir(parents=True, exist_ok=True)
        unpacked = scratch / "unpacked"
        skipped: list[str] = []
        with open(scratch / "tar.err", "w+b") as err:
            try:
                proc = subprocess.Popen(
                    argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL
                )
            except OSError as exc:
                raise InputError(f"{what}: cannot start {self.binary}: {exc.strerror}") from None
            with proc:
                chunks = _tar_stream(proc, err, f"{what}: {sif}: tar of {source_dir}")
                extract_stream(
                    chunks, unpacked, f"{sif}:{source_dir}", scratch / "source.tar", skipped
                )
        notes += [f"{what}: {s}" for s in skipped]
        return SourceExport(
            folder=unpacked,
            origin=f"copied out of the SIF {sif.name} (image {image}, {source_dir}) that the runs "
            "used, with `apptainer exec ... tar`",
        )

    def _sif_that_ran(self, manifest: BenchmarkManifest, image: str, what: str) -> Path:
        """The campaign's SIF whose sha256 is the recorded image id (or, with no id
        recorded, the benchmark's SIF of the manifest's image), unchanged since hashed."""
        if manifest.image_file and image == check_file_pin(manifest):
            return Path(manifest.image_file)  # pinned locally: the SIF itself
        if self.image_dir is None:
            raise InputError(f"{what}: no campaign folder given to find the SIF images in")
        own = self.image_dir / f"{manifest.benchmark}.sif.json"  # the benchmark's, first
        for meta_path in sorted(self.image_dir.glob("*.sif.json"), key=lambda p: (p != own, p)):
            sif = meta_path.with_name(meta_path.name[: -len(".json")])
            meta = self._read_meta(meta_path)
            if not sif.exists() or meta.get("stat") != _stat_key(sif):
                continue
            if image == f"sha256:{meta.get('sha256')}" or (
                sif.name == f"{manifest.benchmark}.sif"
                and meta.get("source") == f"docker://{image}"
            ):
                return sif
        raise InputError(f"{what}: no SIF of image {image} in {self.image_dir}")


def _tar_stream(proc: subprocess.Popen[bytes], err: BinaryIO, what: str) -> Iterator[bytes]:
    """The archive on ``proc``'s output; at its end, an InputError if the command failed."""
    out = proc.stdout
    assert out is not None  # started with stdout=PIPE
    yield from iter(lambda: out.read(1 << 16), b"")
    try:
        code = proc.wait(timeout=EXPORT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise InputError(f"{what}: did not finish in {EXPORT_TIMEOUT_S} s") from None
    if code != 0:
        err.seek(0)
        tail = err.read().decode("utf-8", "replace").strip().splitlines()
        raise InputError(f"{what} failed (exit {code})" + (f": {tail[-1]}" if tail else ""))


def check_nv() -> CheckItem:
    """What ``apptainer run --nv`` binds from the host: the driver's NVML library, nvidia-smi."""
    lib = ctypes.util.find_library("nvidia-ml")
    smi = shutil.which("nvidia-smi")
    if lib and smi:
        return ok(GPU_CHECK, f"--nv finds {lib} and {smi} on the host")
    missing = [what for what, found in (("libnvidia-ml", lib), ("nvidia-smi", smi)) if not found]
    return fail(
        GPU_CHECK,
        f"--nv cannot give the GPUs to the container: no {' and no '.join(missing)} on the host",
        "install the NVIDIA driver's user-space part (libnvidia-ml, nvidia-smi) on this node; "
        "`apptainer run --nv` binds them from the host",
    )
