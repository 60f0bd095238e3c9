"""Pinning images by digest (``gp2bm pin``) and pulling them by digest (``gp2bm pull``),
through a runtime that talks to image registries itself (the default one), asked by name;
and the one check that a campaign's images are pinned before its runs start.

A campaign's runs start only from images pinned by digest (``repo@sha256:...``), unless
``--allow-unpinned`` (recorded in every run record): ``require_pinned`` refuses the others
in one line that gives the ``gp2bm pin`` command of each, naming the suite when it is not
the default one (the pin goes into that suite's manifest).
"""

from __future__ import annotations

from pathlib import Path

from gp2bm.campaign.resolve import working_suite
from gp2bm.errors import InputError
from gp2bm.runtimes import DEFAULT, Runtime, able, get_runtime
from gp2bm.spec.manifest import (
    DIGEST_RE,
    BenchmarkManifest,
    pin_command,
    suite_manifests,
    write_image,
)
from gp2bm.spec.suite import DEFAULT_SUITE, Suite, load_suite


def unpinned(
    suite: Suite, manifests: dict[str, BenchmarkManifest], runtime: Runtime
) -> list[tuple[BenchmarkManifest, str]]:
    """Each manifest whose image a run would refuse (not pinned by digest, with a runtime
    that runs images), with its ``gp2bm pin`` command."""
    if not runtime.uses_images:
        return []
    named = None if suite.path is None or suite.path == DEFAULT_SUITE else suite.path
    return [
        (m, pin_command(bench, m.image, named)) for bench, m in manifests.items() if not m.pinned
    ]


def require_pinned(
    suite: Suite, manifests: dict[str, BenchmarkManifest], runtime: Runtime, allow: bool
) -> None:
    """Refuse (exit 2) runs of images not pinned by digest, with the exact pin commands;
    ``allow`` (--allow-unpinned) lets them run."""
    found = [] if allow else unpinned(suite, manifests, runtime)
    if found:
        first = found[0][0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise InputError(
            f"{first.path}: image '{first.image}' is not pinned by digest{more}; run `"
            + "`, `".join(pin for _, pin in found)
            + "` (or pass --allow-unpinned, which is recorded in every run record)"
        )


def registry_runtime(name: str, capability: str, doing: str) -> Runtime:
    """The runtime ``name``, refused in one line when it lacks ``capability``."""
    runtime = get_runtime(name)
    if not getattr(runtime, capability):
        raise InputError(
            f"the {name} runtime does not {doing}; runtimes that do: {', '.join(able(capability))}"
        )
    return runtime


def pin_image(suite_path: Path | None, benchmark: str, image: str, runtime: str = DEFAULT) -> dict:
    suite = load_suite(suite_path or working_suite())
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
    suite = load_suite(suite_path or working_suite())
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
