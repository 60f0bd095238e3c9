"""Benchmark manifests: how one benchmark implementation is run (image, command, mounts...)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import gp2bm
from gp2bm.errors import InputError
from gp2bm.files.yamlfile import load_validated
from gp2bm.spec.suite import Suite

# The installed gp2bm package: manifests inside it are gp2bm's own copy, never rewritten.
PACKAGE_DIR = Path(gp2bm.__file__).resolve().parent

DIGEST_RE = re.compile(r"^(?P<repo>[^@\s]+)@(?P<digest>sha256:[0-9a-f]{64})$")
# Pinned locally (``gp2bm pin --local``): no registry holds the image, its content is named
# where it is. A Docker or Podman image ID (both engines run ``sha256:ID`` as it is), or
# an image file (Apptainer's SIF, Enroot's squashfs) by its absolute path and its sha256.
IMAGE_ID_RE = re.compile(r"^(?P<digest>sha256:[0-9a-f]{64})$")
FILE_PIN_RE = re.compile(r"^(?P<file>/[^@\s]+)@(?P<digest>sha256:[0-9a-f]{64})$")
PINNED_LOCALLY = "pinned locally"
PINNED_BY_DIGEST = "pinned by digest"


def local_pin(image: str) -> re.Match[str] | None:
    """The match of a locally pinned image (an image ID, or a file with its sha256)."""
    return IMAGE_ID_RE.match(image) or FILE_PIN_RE.match(image)


def registry_pin(image: str) -> re.Match[str] | None:
    """The match of ``repo@sha256:...`` (a registry's digest), None for anything else."""
    return None if FILE_PIN_RE.match(image) else DIGEST_RE.match(image)


@dataclass(frozen=True)
class RequiredFile:
    """A file a mount must hold (relative to its host folder); a glob needs ``count`` matches."""

    path: str
    count: int | None = None
    md5: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class ChecksumList:
    """A checksum list as an implementation ships it (format: md5sum, sha256sum, chk,
    articles-md5), on the host (path resolved beside the manifest) or in the image."""

    listing: str
    format: str
    location: str = "host"
    file: str | None = None


@dataclass(frozen=True)
class Mount:
    host: str
    container: str
    readonly: bool = True
    what: str = ""
    checksums: str | None = None
    files: list[RequiredFile] = field(default_factory=list)
    verify: list[ChecksumList] = field(default_factory=list)
    prepare: str = ""


@dataclass(frozen=True)
class ConfigFile:
    """The vendor's config file whose exported variables become the run's environment.

    ``location`` "host": ``file`` is an absolute host path (resolved beside the manifest);
    "image": a path inside the image, relative ones to the manifest's workdir.
    """

    file: str
    location: str = "image"


@dataclass(frozen=True)
class LauncherSpec:
    """One process per GPU: the launcher's name; processes per node (None: the node's GPUs)."""

    name: str = "none"
    processes_per_node: int | None = None


@dataclass(frozen=True)
class LocalCommand:
    command: list[str]
    workdir: str | None = None
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchmarkManifest:
    benchmark: str
    image: str
    command: list[str]
    path: Path
    description: str = ""
    implementation_name: str = "default"
    framework: str = ""
    source_dir: str | None = None
    upstream: str | None = None
    workdir: str | None = None
    user: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    seed_env: str | None = "SEED"
    seed_arg: str | None = None
    mounts: list[Mount] = field(default_factory=list)
    shm_size: str | None = None
    ulimits: dict[str, tuple[int, int]] = field(default_factory=dict)
    gpus: str | int = "all"
    ipc: str | None = None
    network: str = "none"
    privileged: bool = False
    timeout_minutes: float | None = None
    local: LocalCommand | None = None
    config: ConfigFile | None = None
    launcher: LauncherSpec = field(default_factory=LauncherSpec)
    security_opt: list[str] = field(default_factory=list)
    cap_add: list[str] = field(default_factory=list)
    init: bool = False
    uts: str | None = None
    devices: list[str] = field(default_factory=list)
    submission_lines: str = "implementation"

    @property
    def pinned(self) -> bool:
        """Pinned by a registry's digest (``repo@sha256:...``)."""
        return registry_pin(self.image) is not None

    @property
    def pinned_locally(self) -> bool:
        """Pinned by its local image ID or its file's sha256 (no registry holds it)."""
        return local_pin(self.image) is not None

    @property
    def fixed(self) -> bool:
        """Pinned by content, either way: what a run may start from without
        ``--allow-unpinned``."""
        return self.pinned or self.pinned_locally

    @property
    def repository(self) -> str:
        m = registry_pin(self.image)
        return m.group("repo") if m else self.image

    @property
    def digest(self) -> str | None:
        """The sha256 the image is pinned by (a registry's, an image ID, a file's)."""
        m = registry_pin(self.image) or local_pin(self.image)
        return m.group("digest") if m else None

    @property
    def image_file(self) -> str | None:
        """The image file of a file pinned locally (a SIF, a squashfs), else None."""
        m = FILE_PIN_RE.match(self.image)
        return m.group("file") if m else None

    @property
    def launch_image(self) -> str:
        """What the runtime is given to start: the file of a file pin, else the image."""
        return self.image_file or self.image


def _env(d: dict | None) -> dict[str, str]:
    out = {}
    for k, v in (d or {}).items():
        out[k] = ("1" if v else "0") if isinstance(v, bool) else str(v)
    return out


# The largest shared memory a container may ask for: no node has more memory than this.
MAX_SHM_BYTES = 16 << 40
SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def _shm_size(value: object, path: Path) -> str | None:
    """``shm_size`` as Docker reads it (a number of bytes, or k/m/g/t), refused past
    ``MAX_SHM_BYTES`` in one line naming the file."""
    if value is None:
        return None
    text = str(value)
    digits, unit = text.rstrip("bkmgtBKMGT"), text[len(text.rstrip("bkmgtBKMGT")) :]
    size = int(digits) * SIZE_UNITS[unit.lower()[-1:] if unit else ""]
    if size > MAX_SHM_BYTES or size < 1:
        raise InputError(
            f"{path}: at shm_size: {text} is {size} bytes, not within 1 byte and 16 TiB "
            "(no node has more memory); give the size the implementation asks for, e.g. 1g"
        )
    return text


def load_manifest(path: Path | str) -> BenchmarkManifest:
    path = Path(path)
    doc = load_validated(path, "benchmark")
    impl = doc.get("implementation", {})
    seed = doc.get("seed", {"env": "SEED"})
    ulimits = {}
    for name, v in doc.get("ulimits", {}).items():
        ulimits[name] = (v, v) if isinstance(v, int) else (v["soft"], v["hard"])
    local = doc.get("local")
    return BenchmarkManifest(
        benchmark=doc["benchmark"],
        image=doc["image"],
        command=list(doc["command"]),
        path=path,
        description=doc.get("description", ""),
        implementation_name=impl.get("name", "default"),
        framework=impl.get("framework", ""),
        source_dir=impl.get("source"),
        upstream=impl.get("upstream"),
        workdir=doc.get("workdir"),
        user=doc.get("user"),
        environment=_env(doc.get("environment")),
        seed_env=seed.get("env"),
        seed_arg=seed.get("arg"),
        mounts=[_mount(m, path) for m in doc.get("mounts", [])],
        shm_size=_shm_size(doc.get("shm_size"), path),
        ulimits=ulimits,
        gpus=doc.get("gpus", "all"),
        ipc=doc.get("ipc"),
        network=doc.get("network", "none"),
        privileged=doc.get("privileged", False),
        timeout_minutes=doc.get("timeout_minutes"),
        local=None
        if local is None
        else LocalCommand(
            command=list(local["command"]),
            workdir=local.get("workdir"),
            environment=_env(local.get("environment")),
        ),
        **_launch_fields(doc, path),
    )


def _beside(path: Path, name: str) -> str:
    """A host path as written, relative ones resolved beside the manifest."""
    p = Path(name)
    return str(p if p.is_absolute() else (path.parent / p).resolve())


def _mount(m: dict, path: Path) -> Mount:
    files = [
        RequiredFile(path=f)
        if isinstance(f, str)
        else RequiredFile(
            path=f["path"], count=f.get("count"), md5=f.get("md5"), sha256=f.get("sha256")
        )
        for f in m.get("files", [])
    ]
    verify = [
        ChecksumList(
            listing=v["list"] if v.get("in", "host") == "image" else _beside(path, v["list"]),
            format=v["format"],
            location=v.get("in", "host"),
            file=v.get("file"),
        )
        for v in m.get("verify", [])
    ]
    return Mount(
        host=m["host"],
        container=m["container"],
        readonly=m.get("readonly", True),
        what=m.get("what", ""),
        checksums=m.get("checksums"),
        files=files,
        verify=verify,
        prepare=m.get("prepare", ""),
    )


def _launch_fields(doc: dict, path: Path) -> dict:
    """The fields a real MLPerf launch needs: config file, launcher, container options."""
    config = doc.get("config")
    if config is not None:
        where = config.get("in", "image")
        file = config["file"] if where == "image" else _beside(path, config["file"])
        config = ConfigFile(file=file, location=where)
    launcher = doc.get("launcher", "none")
    if isinstance(launcher, str):
        launcher = {"name": launcher}
    return dict(
        config=config,
        launcher=LauncherSpec(launcher["name"], launcher.get("processes_per_node")),
        security_opt=list(doc.get("security_opt", [])),
        cap_add=list(doc.get("cap_add", [])),
        init=doc.get("init", False),
        uts=doc.get("uts"),
        devices=list(doc.get("devices", [])),
        submission_lines=doc.get("submission_lines", "implementation"),
    )


def suite_manifests(suite: Suite) -> dict[str, BenchmarkManifest]:
    """The benchmark manifest of each benchmark of a suite, resolved beside the suite file."""
    base = suite.path.parent if suite.path else Path.cwd()
    out = {}
    for name, spec in suite.benchmarks.items():
        if not spec.manifest:
            raise InputError(f"{suite.path}: at benchmarks.{name}: no 'manifest' to run it with")
        manifest = load_manifest(base / spec.manifest)
        if manifest.benchmark != name:
            raise InputError(
                f"{manifest.path}: at benchmark: '{manifest.benchmark}' but the suite "
                f"lists it as '{name}'"
            )
        out[name] = manifest
    return out


IMAGE_LINE_RE = re.compile(r"^(image:[ \t]*)(\S.*?)([ \t]+#.*)?$", re.MULTILINE)


def require_writable(path: Path) -> None:
    """Refuse a manifest that lies inside the installed gp2bm package (a ``pip install .``
    carries the default suites there): the vendor edits a copy, in a folder of their own.

    In an editable install the default suites are the repository's ``manifests/``, outside
    the package, and are edited in place.
    """
    resolved = Path(path).resolve()
    if resolved.is_relative_to(PACKAGE_DIR):
        raise InputError(
            f"{path}: this manifest is part of the installed gp2bm package; copy the suite's "
            f"manifests ({resolved.parent}/*.yaml) to a working folder and pass "
            "--suite FOLDER/<suite>.yaml"
        )


def write_image(path: Path, new_image: str) -> str:
    """Replace the top-level ``image:`` value in a manifest, keeping comments and layout.

    Returns the previous value. The file is rewritten atomically and re-validated.
    """
    require_writable(path)
    text = path.read_text(encoding="utf-8")
    matches = list(IMAGE_LINE_RE.finditer(text))
    if len(matches) != 1:
        raise InputError(f"{path}: expected exactly one top-level 'image:' line")
    m = matches[0]
    old = m.group(2).strip().strip("'\"")
    new_text = text[: m.start(2)] + new_image + text[m.end(2) :]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new_text, encoding="utf-8")
    try:
        load_manifest(tmp)
    except InputError:
        tmp.unlink()
        raise
    tmp.replace(path)
    return old


def pin_command(bench: str, image: str, suite: Path | None = None) -> str:
    """The command that pins ``bench``'s image, naming the suite when it is not the default
    (``gp2bm pin`` would otherwise pin the default suite's manifest)."""
    where = f" --suite {shlex.quote(str(suite))}" if suite is not None else ""
    return f"gp2bm pin {bench} {shlex.quote(image)}{where}"
