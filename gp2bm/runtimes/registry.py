"""A tag resolved to its registry digest through the registry's own API, without a daemon.

``gp2bm pin`` asks the image's registry (the OCI distribution API, ``GET
/v2/NAME/manifests/TAG``) for the manifest a tag names, with the Accept headers of the OCI
and Docker manifests and indexes, and pins the digest of the bytes it received (sha256 of
the manifest as served; the ``Docker-Content-Digest`` header, where the registry sends it,
must agree). A registry that answers 401 with ``WWW-Authenticate: Bearer realm=...`` (Docker
Hub, NGC) is asked for a token: with the credentials ``docker login`` or ``podman login``
kept for it (``runtimes.credentials``), else anonymously; one that answers ``Basic`` is
asked again with those credentials. TLS always, except on loopback
(``localhost``, 127.0.0.0/8, ``::1``, as dockerd assumes) and the registries named by
``--insecure-registry`` or ``GP2BM_INSECURE_REGISTRIES`` (comma-separated host[:port]).

Every runtime that runs images pins through here (Docker, Podman, Apptainer, Enroot): the
digest is the registry's, whichever runtime pulls it later. Standard library only; why not
skopeo or a PyPI client is in docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from gp2bm.errors import InputError
from gp2bm.runtimes.credentials import Credentials, credentials_for

INSECURE_ENV = "GP2BM_INSECURE_REGISTRIES"
DOCKER_HUB = "registry-1.docker.io"
TIMEOUT_S = 30
MAX_MANIFEST_BYTES = 4 << 20  # the distribution spec's own limit for a manifest
MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
_AUTH_PARAM_RE = re.compile(r'(\w+)="([^"]*)"')
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")


def registry_of(image: str) -> str | None:
    """The registry host[:port] of an image reference, None for Docker Hub shorthand."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def is_plain_http(registry: str | None, insecure: tuple[str, ...] = ()) -> bool:
    """A registry reached without TLS: loopback (as dockerd assumes) or listed by the user
    (``insecure``, and GP2BM_INSECURE_REGISTRIES)."""
    if not registry:
        return False
    listed = {r.strip() for r in os.environ.get(INSECURE_ENV, "").split(",") if r.strip()}
    if registry in listed | set(insecure):
        return True
    host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Reference:
    """IMAGE[:TAG] split as a registry reads it."""

    registry: str | None  # None: Docker Hub
    repository: str  # as written (Docker Hub shorthand kept: what the manifest shows)
    tag: str

    @property
    def host(self) -> str:
        return self.registry or DOCKER_HUB

    @property
    def path(self) -> str:
        """The repository in the registry's API (Docker Hub's official images: library/)."""
        name = self.repository
        if self.registry is not None:
            name = name[len(self.registry) + 1 :]
        elif "/" not in name:
            name = f"library/{name}"
        return name


def parse_reference(image: str) -> Reference:
    """IMAGE[:TAG] (the tag defaults to latest); a reference with a digest is refused."""
    if "@" in image or not image or any(c.isspace() for c in image):
        raise InputError(f"'{image}' is not IMAGE[:TAG]")
    last = image.rsplit("/", 1)[-1]
    repo, tag = image, "latest"
    if ":" in last:
        tag = last.split(":", 1)[1]
        repo = image[: len(image) - len(tag) - 1]
    if not _TAG_RE.match(tag) or not repo or repo.endswith("/") or repo != repo.lower():
        raise InputError(f"'{image}' is not IMAGE[:TAG] (lower-case repository, valid tag)")
    return Reference(registry_of(repo), repo, tag)


def resolve_digest(image: str, insecure: tuple[str, ...] = ()) -> str:
    """``repo@sha256:...`` of IMAGE[:TAG], as its registry serves it now."""
    ref = parse_reference(image)
    scheme = "http" if is_plain_http(ref.registry, insecure) else "https"
    url = f"{scheme}://{ref.host}/v2/{ref.path}/manifests/{urllib.parse.quote(ref.tag)}"
    body, served = _get_manifest(url, ref, insecure)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    if served and served != digest:
        raise InputError(
            f"registry {ref.host}: {image}'s manifest hashes to {digest}, but the registry "
            f"says {served}"
        )
    return f"{ref.repository}@{digest}"


def _get_manifest(
    url: str, ref: Reference, insecure: tuple[str, ...] = ()
) -> tuple[bytes, str | None]:
    """The manifest's bytes and the digest the registry names for them (or None)."""
    headers = {"Accept": ", ".join(MANIFEST_TYPES)}
    try:
        return _fetch(url, headers)
    except urllib.error.HTTPError as exc:
        challenge = exc.headers.get("WWW-Authenticate", "") if exc.code == 401 else ""
        scheme = challenge.split(" ", 1)[0].lower()
        if scheme not in ("bearer", "basic"):
            raise _http_error(exc, ref) from None
    creds = credentials_for(ref.host)
    if scheme == "basic":
        if creds is None:
            raise InputError(
                f"registry {ref.host} asks for a login for {ref.repository}: log in with "
                f"docker login {ref.host} (or podman login), whose credentials gp2bm reads"
            )
        authorization = creds.basic()
    else:
        authorization = f"Bearer {_token(challenge, ref, creds, insecure)}"
    try:
        return _fetch(url, {**headers, "Authorization": authorization})
    except urllib.error.HTTPError as exc:
        raise _http_error(exc, ref, creds) from None


def _fetch(url: str, headers: dict[str, str]) -> tuple[bytes, str | None]:
    request = urllib.request.Request(url, headers=headers)
    host = urllib.parse.urlsplit(url).netloc
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            body = response.read(MAX_MANIFEST_BYTES + 1)
            served = response.headers.get("Docker-Content-Digest")
    except urllib.error.HTTPError:
        raise
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise InputError(f"cannot reach registry {host}: {reason}") from None
    if len(body) > MAX_MANIFEST_BYTES:
        raise InputError(f"registry {host}: a manifest of more than 4 MiB at {url}")
    return body, served


def _token(
    challenge: str, ref: Reference, creds: Credentials | None, insecure: tuple[str, ...] = ()
) -> str:
    """The bearer token the challenge's realm gives for pulling ``ref``, with the kept
    credentials (HTTP Basic to the token service) or without. Credentials go to a realm
    over TLS only (or one plain HTTP may reach: loopback, ``--insecure-registry``)."""
    params = dict(_AUTH_PARAM_RE.findall(challenge))
    realm = params.pop("realm", "")
    if not realm.startswith(("https://", "http://")):
        raise InputError(f"registry {ref.host}: an authentication challenge without a realm")
    params.setdefault("scope", f"repository:{ref.path}:pull")
    url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(params)
    headers = {"Accept": "application/json"}
    if creds is not None:
        service = urllib.parse.urlsplit(realm)
        if service.scheme != "https" and not is_plain_http(service.netloc, insecure):
            raise InputError(
                f"registry {ref.host}: its token service {realm} is plain HTTP: gp2bm sends "
                f"the credentials of {creds.source} over TLS only"
            )
        headers["Authorization"] = creds.basic()
    try:
        body, _ = _fetch(url, headers)
        data = json.loads(body)
    except urllib.error.HTTPError as exc:
        who = (
            f"the credentials of {creds.source}"
            if creds is not None
            else "an anonymous token (no login kept for it: docker login or podman login)"
        )
        raise InputError(
            f"registry {ref.host}: its token service {realm} refused {who} for {ref.path} "
            f"(HTTP {exc.code})"
        ) from None
    except ValueError:
        raise InputError(f"registry {ref.host}: its token service {realm} sent no JSON") from None
    token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise InputError(f"registry {ref.host}: its token service {realm} sent no token")
    return token


def _http_error(
    exc: urllib.error.HTTPError, ref: Reference, creds: Credentials | None = None
) -> InputError:
    """What the registry said, in one line naming the host (and whose login it refused)."""
    try:
        errors = json.loads(exc.read(65536)).get("errors") or []
        said = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors[:2])
    except (ValueError, AttributeError, OSError):
        said = ""
    what = {401: "refused access to", 403: "refused access to", 404: "has no"}
    verb = what.get(exc.code, f"answered HTTP {exc.code} for")
    login = f" with the credentials of {creds.source}" if creds and exc.code in (401, 403) else ""
    return InputError(
        f"registry {ref.host} {verb} {ref.repository}:{ref.tag}{login}"
        + (f" ({said})" if said else "")
    )
