"""Pinning images by digest (``gp2bm pin``) and pulling them by digest (``gp2bm pull``),
through a runtime that talks to image registries itself (the default one), asked by name."""

from __future__ import annotations

from pathlib import Path

from gp2bm.errors import InputError
from gp2bm.runtimes import DEFAULT, Runtime, able, get_runtime
from gp2bm.spec.manifest import DIGEST_RE, suite_manifests, write_image
from gp2bm.spec.suite import DEFAULT_SUITE, load_suite


def registry_runtime(name: str, capability: str, doing: str) -> Runtime:
    """The runtime ``name``, refused in one line when it lacks ``capability``."""
    runtime = get_runtime(name)
    if not getattr(runtime, capability):
        raise InputError(
            f"the {name} runtime does not {doing}; runtimes that do: {', '.join(able(capability))}"
        )
    return runtime


def pin_image(suite_path: Path | None, benchmark: str, image: str, runtime: str = DEFAULT) -> dict:
    suite = load_suite(suite_path or DEFAULT_SUITE)
    if benchmark not in suite.benchmarks:
        raise InputError(f"benchmark '{benchmark}' is not in suite '{suite.name}'")
    manifest = suite_manifests(suite)[benchmark]
    if DIGEST_RE.match(image):
        pinned = image
    else:
        rt = registry_runtime(runtime, "resolves_tags", "resolve a tag to its digest")
        try:
            pinned = rt.resolve_digest(image)
        finally:
            rt.close()
    previous = write_image(manifest.path, pinned)
    return {
        "benchmark": benchmark,
        "manifest": str(manifest.path),
        "previous": previous,
        "pinned": pinned,
    }


def pull_images(
    suite_path: Path | None, benchmarks: list[str] | None, runtime: str = DEFAULT
) -> list[dict]:
    suite = load_suite(suite_path or DEFAULT_SUITE)
    manifests = suite_manifests(suite)
    for b in benchmarks or []:
        if b not in manifests:
            raise InputError(f"benchmark '{b}' is not in suite '{suite.name}'")
    names = benchmarks or list(manifests)
    for name in names:
        m = manifests[name]
        if not m.pinned:
            raise InputError(
                f"{m.path}: image '{m.image}' is not pinned by digest; run `gp2bm pin {name} IMAGE`"
            )
    rt = registry_runtime(runtime, "pulls_by_digest", "pull images by digest")
    seen = {}
    try:
        for name in names:
            m = manifests[name]
            if m.image not in seen:
                seen[m.image] = rt.pull(m)
    finally:
        rt.close()
    return [
        {
            "benchmark": name,
            "image": manifests[name].image,
            "id": seen[manifests[name].image].id,
            "repo_digests": seen[manifests[name].image].repo_digests,
        }
        for name in names
    ]
