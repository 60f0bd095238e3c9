"""The environment a vendor's config file exports, as NVIDIA's launch computes it.

NVIDIA's run_with_docker.sh runs ``env -i bash -c ". ./config_<SYSTEM>.sh && compgen -e"``
and passes every exported variable into the container. gp2bm does the same with one clean
``bash`` that sources the file and dumps ``env -0`` (NUL-separated, so values may hold
newlines): the config sees no variable of the caller, and derived values (``DGXSYSTEM``
from the file's own name, ``WALLTIME`` from ``NEXP`` unset, files it sources beside itself)
come out as NVIDIA's launch gets them. Variables ``environment`` sets in the manifest win.

The file may live on the host (``resolve_host_config``) or in the image
(``resolve_image_config``, through a runtime that can run ``bash`` in the image).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from gp2bm.errors import InputError
from gp2bm.spec.manifest import BenchmarkManifest

# bash's own bookkeeping, not the config's: NVIDIA's launch drops PWD and SHLVL the same way.
SHELL_VARIABLES = frozenset({"PWD", "OLDPWD", "SHLVL", "_"})
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Sourcing is a few milliseconds; a config that hangs (reads stdin, waits on a mount) is a
# broken config, not a slow one.
TIMEOUT_S = 60
_SCRIPT = 'source "$1" && env -0'


def dump_argv(config: str) -> list[str]:
    """The command that prints what ``config`` exports: a clean bash, NUL-separated.

    The path is an argument of the script (``$1``), never spliced into it.
    """
    return ["env", "-i", "bash", "-c", _SCRIPT, "gp2bm-config", config]


def parse_env_dump(data: bytes, source: str) -> dict[str, str]:
    """NAME=VALUE records separated by NUL, less bash's own variables and exported
    functions (``BASH_FUNC_name%%``), which are no environment of the run."""
    env: dict[str, str] = {}
    for record in data.split(b"\0"):
        if not record:
            continue
        name, sep, value = record.partition(b"=")
        try:
            key, text = name.decode(), value.decode()
        except UnicodeDecodeError:
            raise InputError(f"{source}: exports a variable that is not UTF-8 text") from None
        if not sep:
            raise InputError(f"{source}: unexpected output of env -0: {key[:60]!r}")
        if key in SHELL_VARIABLES or not NAME_RE.match(key):
            continue
        env[key] = text
    return env


@dataclass(frozen=True)
class ConfigEnvironment:
    """What a config file exported, and the run's environment once the manifest's win.

    ``at_run_time``: the file lives in an image that is not on this machine (a dry run on a
    planning machine): what it exports is read from the image when the run starts, and is
    not known here (``exported`` is empty).
    """

    source: str
    exported: dict[str, str]
    overridden: dict[str, str] = field(default_factory=dict)
    at_run_time: bool = False

    @classmethod
    def read_at_run_time(cls, manifest: BenchmarkManifest) -> ConfigEnvironment:
        """The config of ``manifest``'s image, to be read when the run starts."""
        if manifest.config is None:
            raise ValueError(f"{manifest.path}: no config file")
        return cls(f"{manifest.image}:{manifest.config.file}", {}, at_run_time=True)

    def merged(self, manifest_env: Mapping[str, str]) -> dict[str, str]:
        return merge_environment(self.exported, manifest_env)


def merge_environment(exported: Mapping[str, str], manifest_env: Mapping[str, str]) -> dict:
    """The config's variables, then the manifest's ``environment`` on top (explicit wins)."""
    return {**exported, **manifest_env}


def overridden_names(exported: Mapping[str, str], manifest_env: Mapping[str, str]) -> dict:
    """Config values the manifest replaces (name: config's value), for the run record."""
    return {k: v for k, v in exported.items() if k in manifest_env and manifest_env[k] != v}


def _failure(source: str, code: int, stderr: bytes) -> InputError:
    lines = stderr.decode(errors="replace").strip().splitlines()
    why = lines[-1] if lines else "no message"
    return InputError(f"{source}: sourcing it in a clean bash failed (exit {code}): {why}")


def resolve_host_config(path: str | Path, timeout: float = TIMEOUT_S) -> ConfigEnvironment:
    """Source a config file of the host in a clean bash (in its own folder, as NVIDIA's
    ``./config_<SYSTEM>.sh``) and return what it exports."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: config file not found")
    try:
        proc = subprocess.run(
            dump_argv(str(path.resolve())),
            cwd=path.resolve().parent,
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError:
        raise InputError(f"{path}: bash (or env) is not installed on this host") from None
    except subprocess.TimeoutExpired:
        raise InputError(f"{path}: sourcing it did not finish in {timeout:g} s") from None
    if proc.returncode != 0:
        raise _failure(str(path), proc.returncode, proc.stderr)
    return ConfigEnvironment(str(path), parse_env_dump(proc.stdout, str(path)))


class ImageCommandRunner(Protocol):
    """What a runtime implements so that gp2bm can read a config file inside an image.

    ``run_in_image(image, argv, workdir)`` runs ``argv`` in a throw-away container of
    ``image`` (no network, no GPU, no mounts, the image's own user) with ``workdir`` as the
    working directory, and returns its exit code, stdout and stderr.
    """

    def run_in_image(
        self, image: str, argv: list[str], workdir: str | None
    ) -> tuple[int, bytes, bytes]: ...


def resolve_image_config(
    runner: ImageCommandRunner, image: str, config: str, workdir: str | None
) -> ConfigEnvironment:
    """Source a config file that lives in the image, in a clean bash of the image."""
    source = f"{image}:{config}"
    if not config.startswith("/") and not workdir:
        raise InputError(f"{source}: a relative config path needs the manifest's workdir")
    code, out, err = runner.run_in_image(image, dump_argv(config), workdir)
    if code != 0:
        raise _failure(source, code, err)
    return ConfigEnvironment(source, parse_env_dump(out, source))


def resolve_manifest_config(
    manifest: BenchmarkManifest, runner: ImageCommandRunner
) -> ConfigEnvironment | None:
    """The manifest's config file sourced where it lives (the host, or its image through
    ``runner``); None when the manifest has none."""
    config = manifest.config
    if config is None:
        return None
    if config.location == "host":
        return resolve_host_config(config.file)
    return resolve_image_config(runner, manifest.image, config.file, manifest.workdir)
