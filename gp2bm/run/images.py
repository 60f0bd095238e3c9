"""Pinning images (``gp2bm pin``) and pulling them by digest (``gp2bm pull``), for every
runtime that runs images; and the one check that a campaign's images are pinned before its
runs start.

A tag is pinned by its registry's digest, asked of the registry's own API
(``gp2bm.runtimes.registry``: no daemon, whichever runtime). An image no registry holds (built
here, or ``--local``) is pinned locally: by the image ID in the runtime's store (Docker,
Podman) or by its file's sha256 (Apptainer's SIF, Enroot's squashfs); its runs carry the
reservation ``pinned-locally`` in the trust ledger. ``pull`` pulls with the runtime's own
engine.

A campaign's runs start only from images pinned (``repo@sha256:...``, or locally), unless
``--allow-unpinned`` (recorded in every run record): ``require_pinned`` refuses the others
in one line that gives the ``gp2bm pin`` command of each, naming the suite when it is not
the default one (the pin goes into that suite's manifest).
"""

from __future__ import annotations

from pathlib import Path

from gp2bm.campaign.resolve import working_suite
from gp2bm.errors import InputError
from gp2bm.runtimes import DEFAULT, ImageInfo, Runtime, able, get_runtime
from gp2bm.runtimes.registry import resolve_digest
from gp2bm.spec.manifest import (
    PINNED_BY_DIGEST,
    PINNED_LOCALLY,
    BenchmarkManifest,
    local_pin,
    pin_command,
    registry_pin,
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
        (m, pin_command(bench, m.image, named)) for bench, m in manifests.items() if not m.fixed
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
            f"the {name} runtime does not {doing} ({runtime.no_pull_reason}); runtimes that "
            f"do: {', '.join(able(capability))}"
        )
    return runtime


def _bench_manifest(suite_path: Path | None, benchmark: str) -> BenchmarkManifest:
    suite = load_suite(suite_path or working_suite())
    if benchmark not in suite.benchmarks:
        raise InputError(f"benchmark '{benchmark}' is not in suite '{suite.name}'")
    return suite_manifests(suite)[benchmark]


def resolve_pin(
    rt: Runtime, image: str, local: bool, insecure: tuple[str, ...] = ()
) -> tuple[str, str]:
    """What IMAGE is pinned as, and how (PINNED_BY_DIGEST, PINNED_LOCALLY): a pin given as
    it is; ``local``, or an image only the runtime's local store holds (built here, a file):
    its image ID or file hash; else the tag's digest from its registry's own API."""
    if local_pin(image):
        return image, PINNED_LOCALLY
    if registry_pin(image) and not local:
        return image, PINNED_BY_DIGEST
    found = rt.local_image(image, asked=local)
    if found is not None:
        return found, PINNED_LOCALLY
    return resolve_digest(image, insecure), PINNED_BY_DIGEST


def pin_image(
    suite_path: Path | None,
    benchmark: str,
    image: str,
    runtime: str = DEFAULT,
    local: bool = False,
    insecure: tuple[str, ...] = (),
) -> dict:
    """Write IMAGE, pinned (``resolve_pin``), into the benchmark's manifest."""
    manifest = _bench_manifest(suite_path, benchmark)
    rt = get_runtime(runtime)
    if not rt.uses_images:
        raise InputError(f"the {runtime} runtime runs no image: there is nothing to pin")
    try:
        pinned, how = resolve_pin(rt, image, local, insecure)
    except InputError as exc:
        if local or type(rt).local_image is Runtime.local_image:
            raise
        other = "" if runtime == DEFAULT else f" --runtime {runtime}"
        again = pin_command(benchmark, image, suite_path)
        raise InputError(
            f"{exc}; an image built here, that no registry holds: `{again} --local{other}`"
        ) from None
    finally:
        rt.close()
    previous = write_image(manifest.path, pinned)
    return {
        "benchmark": benchmark,
        "manifest": str(manifest.path),
        "previous": previous,
        "pinned": pinned,
        "how": how,
        "runtime": runtime,
    }


def pull_images(
    suite_path: Path | None, benchmarks: list[str] | None, runtime: str = DEFAULT
) -> list[dict]:
    """Pull each benchmark's image by its digest with the runtime's own tool; an image
    pinned locally is not pulled (no registry holds it) and says so."""
    suite = load_suite(suite_path or working_suite())
    manifests = suite_manifests(suite)
    for b in benchmarks or []:
        if b not in manifests:
            raise InputError(f"benchmark '{b}' is not in suite '{suite.name}'")
    names = benchmarks or list(manifests)
    for name in names:
        m = manifests[name]
        if not m.fixed:
            raise InputError(
                f"{m.path}: image '{m.image}' is not pinned by digest; run `gp2bm pin {name} IMAGE`"
            )
    rt = registry_runtime(runtime, "pulls_by_digest", "pull images by digest")
    seen: dict[str, ImageInfo | None] = {}
    try:
        for name in names:
            m = manifests[name]
            if m.image not in seen:
                seen[m.image] = None if m.pinned_locally else rt.pull(m)
    finally:
        rt.close()
    return [_pulled(name, manifests[name], seen[manifests[name].image]) for name in names]


def _pulled(name: str, manifest: BenchmarkManifest, info: ImageInfo | None) -> dict:
    if info is None:
        return {"benchmark": name, "image": manifest.image, "id": manifest.digest,
                "repo_digests": [], "pulled": False, "how": PINNED_LOCALLY}  # fmt: skip
    return {"benchmark": name, "image": manifest.image, "id": info.id,
            "repo_digests": info.repo_digests, "pulled": True, "how": PINNED_BY_DIGEST}  # fmt: skip
