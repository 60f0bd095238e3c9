"""Registry credentials where Docker and Podman keep them, for ``gp2bm pin`` (which asks a
registry itself, without a daemon).

Looked up, in order: the auth file Podman and skopeo read (``$REGISTRY_AUTH_FILE``, else
``$XDG_RUNTIME_DIR/containers/auth.json``), then Docker's (``$DOCKER_CONFIG/config.json``,
else ``~/.docker/config.json``). In each, a registry's entry is found by its host
(``"registry.example.org:5000"`` or ``"https://registry.example.org/v1/"``; Docker Hub's
``"https://index.docker.io/v1/"`` for ``docker.io``): its ``auth`` (base64 of
``user:password``, as ``docker login`` writes it) or ``username`` and ``password``. A
credential helper the file names for the registry (``credHelpers``, else ``credsStore``)
is asked as Docker asks it: ``docker-credential-NAME get`` with the host on its input. A
helper that is named but fails is an error naming it, never a silent anonymous try. The
credentials are sent to the registry (HTTP Basic) or its token service only, never
printed, logged or written.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gp2bm.errors import InputError

HELPER_TIMEOUT_S = 20
DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io")
DOCKER_HUB_HOSTS = {"registry-1.docker.io", "index.docker.io", "docker.io"}


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    source: str  # the file or helper they came from, for messages

    def __repr__(self) -> str:  # never the password, wherever it is shown
        return f"Credentials({self.username!r}, from {self.source})"

    def basic(self) -> str:
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")


def auth_files() -> list[Path]:
    """The auth files looked in, in order (those that exist)."""
    env = os.environ
    out = []
    if env.get("REGISTRY_AUTH_FILE"):
        out.append(Path(env["REGISTRY_AUTH_FILE"]))
    elif env.get("XDG_RUNTIME_DIR"):
        out.append(Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    docker = Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else Path.home() / ".docker"
    out.append(docker / "config.json")
    return [p for p in out if p.is_file()]


def _host_of(key: str) -> str:
    """An auths key's host: ``https://host:5000/v1/`` -> ``host:5000``."""
    text = key.strip().lower()
    if "://" in text:
        text = text.split("://", 1)[1]
    return text.split("/", 1)[0]


def _keys_for(host: str) -> set[str]:
    host = host.lower()
    if host in DOCKER_HUB_HOSTS:
        return {_host_of(k) for k in DOCKER_HUB_KEYS} | DOCKER_HUB_HOSTS
    return {host}


def _from_entry(entry: object, where: str) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    if entry.get("auth"):
        bad = f"{where}: an auth entry that is not base64 of user:password"
        try:
            pair = base64.b64decode(str(entry["auth"]), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise InputError(bad) from None
        user, sep, password = pair.partition(":")
        if not sep:
            raise InputError(bad)
        return Credentials(user, password, where)
    if entry.get("username") and entry.get("password"):
        return Credentials(str(entry["username"]), str(entry["password"]), where)
    return None


def _from_helper(helper: str, host: str, where: str) -> Credentials:
    program = shutil.which(f"docker-credential-{helper}")
    name = f"docker-credential-{helper}"
    if program is None:
        raise InputError(
            f"{where}: names the credential helper {name} for {host}, which is not installed"
        )
    try:
        proc = subprocess.run(
            [program, "get"],
            input=host.encode(),
            capture_output=True,
            timeout=HELPER_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(f"{name} get {host}: {type(exc).__name__}") from None
    if proc.returncode != 0:
        raise InputError(f"{name} get {host}: exit {proc.returncode} (log in to {host} again)")
    try:
        data = json.loads(proc.stdout)
        return Credentials(str(data["Username"]), str(data["Secret"]), name)
    except (ValueError, KeyError, TypeError):
        raise InputError(f"{name} get {host}: not the helper protocol's JSON") from None


def credentials_for(host: str) -> Credentials | None:
    """The credentials kept for the registry at ``host`` (``host[:port]``), or None."""
    wanted = _keys_for(host)
    for path in auth_files():
        where = str(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"{where}: not a readable auth file ({type(exc).__name__})") from None
        if not isinstance(data, dict):
            raise InputError(f"{where}: not a JSON object")
        helpers = data.get("credHelpers") or {}
        for key, helper in helpers.items() if isinstance(helpers, dict) else ():
            if _host_of(key) in wanted:
                return _from_helper(str(helper), host, where)
        auths = data.get("auths") or {}
        for key, entry in auths.items() if isinstance(auths, dict) else ():
            if _host_of(key) in wanted:
                found = _from_entry(entry, where)
                if found is not None:
                    return found
                if data.get("credsStore"):  # `docker login` leaves an empty entry then
                    return _from_helper(str(data["credsStore"]), host, where)
    return None
