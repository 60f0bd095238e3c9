"""Secrets a workload printed into its result logs, found before a bundle leaves the node.

The manifests' secret values (a variable whose name says secret, a URL password, in the
environment and in the local runtime's environment) are searched for in every staged
result log (``files.redact.find_secrets``, in chunks). A log is evidence and is never
rewritten: what is found is said on stderr and in the bundle's README, by the variable's
name and line, never by its value, so that the vendor can decide before handing it in.
"""

from __future__ import annotations

from gp2bm.campaign.layout import CampaignLayout, is_result_log
from gp2bm.files.redact import find_secrets, secret_values
from gp2bm.spec.manifest import BenchmarkManifest


def manifest_secrets(manifest: BenchmarkManifest) -> dict[str, str]:
    """The secret values a benchmark's runs were given, by a name for each."""
    env = dict(manifest.environment)
    if manifest.local is not None:
        env.update(manifest.local.environment)
    return secret_values(env)


def secrets_in_logs(
    layout: CampaignLayout, manifests: dict[str, BenchmarkManifest]
) -> list[str]:
    """One line per result log that shows a secret of its benchmark's manifest: where, and
    whose value (never the value)."""
    found = []
    for bench, manifest in manifests.items():
        values = manifest_secrets(manifest)
        folder = layout.benchmark_dir(bench)
        if not values or not folder.is_dir():
            continue
        for log in sorted(p for p in folder.iterdir() if is_result_log(p.name)):
            rel = layout.relative(log)
            found += [f"{rel}: {hit}" for hit in find_secrets(log, values)]
    return found
