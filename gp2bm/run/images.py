"""Pinning images by digest and pulling them by digest (Docker Engine)."""

from __future__ import annotations

from pathlib import Path

from gp2bm.errors import InputError
from gp2bm.runtimes.docker import docker_client, pull_by_digest
from gp2bm.spec.manifest import DIGEST_RE, suite_manifests, write_image
from gp2bm.spec.suite import DEFAULT_SUITE, load_suite


def split_repo(image: str) -> str:
    """The repository part of IMAGE[:TAG] or IMAGE@DIGEST."""
    if "@" in image:
        return image.split("@", 1)[0]
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        return image[: len(image) - len(last)] + last.split(":", 1)[0]
    return image


def resolve_digest(client, image: str) -> str:
    import docker

    try:
        data = client.images.get_registry_data(image)
    except docker.errors.APIError as exc:
        raise InputError(
            f"cannot resolve {image} in its registry: {exc.explanation or exc}"
        ) from None
    digest = data.id
    if not digest or not digest.startswith("sha256:"):
        raise InputError(f"the registry gave no sha256 digest for {image}")
    return f"{split_repo(image)}@{digest}"


def pin_image(suite_path: Path | None, benchmark: str, image: str, client=None) -> dict:
    suite = load_suite(suite_path or DEFAULT_SUITE)
    if benchmark not in suite.benchmarks:
        raise InputError(f"benchmark '{benchmark}' is not in suite '{suite.name}'")
    manifest = suite_manifests(suite)[benchmark]
    client = client or docker_client()
    pinned = image if DIGEST_RE.match(image) else resolve_digest(client, image)
    previous = write_image(manifest.path, pinned)
    return {
        "benchmark": benchmark,
        "manifest": str(manifest.path),
        "previous": previous,
        "pinned": pinned,
    }


def pull_images(suite_path: Path | None, benchmarks: list[str] | None, client=None) -> list[dict]:
    suite = load_suite(suite_path or DEFAULT_SUITE)
    manifests = suite_manifests(suite)
    for b in benchmarks or []:
        if b not in manifests:
            raise InputError(f"benchmark '{b}' is not in suite '{suite.name}'")
    client = client or docker_client()
    results = []
    seen = {}
    for name in benchmarks or list(manifests):
        m = manifests[name]
        if not m.pinned:
            raise InputError(
                f"{m.path}: image '{m.image}' is not pinned by digest; run `gp2bm pin {name} IMAGE`"
            )
        if m.image not in seen:
            seen[m.image] = pull_by_digest(client, m.image)
        info = seen[m.image]
        results.append(
            {"benchmark": name, "image": m.image, "id": info.id, "repo_digests": info.repo_digests}
        )
    return results
