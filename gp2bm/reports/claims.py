"""What the reports of a campaign claim: ``gp2bm score --json``'s object, with every path
relative to the campaign, so that a bundle's claims hold wherever it is extracted and
``gp2bm verify`` can compare them with its own recomputation."""

from __future__ import annotations

from pathlib import Path

from gp2bm.reports.view import CampaignView


def claims(view: CampaignView) -> dict:
    """The score's JSON object, folders and checker messages relative to the campaign."""
    data = view.score.as_dict()
    if data.get("campaign") is not None:  # the bundle itself, wherever it is extracted
        data["campaign"] = view.relative(Path(data["campaign"]))
    for bench in data["benchmarks"].values():
        bench["folder"] = view.relative(Path(bench["folder"]))
    prefixes = sorted({f"{view.root}/", f"{view.root.resolve()}/"}, key=len, reverse=True)
    return _strip_prefixes(data, prefixes)


def _strip_prefixes(data, prefixes: list[str]):
    """Checker messages name files by absolute path; keep them relative to the campaign."""
    if isinstance(data, dict):
        return {k: _strip_prefixes(v, prefixes) for k, v in data.items()}
    if isinstance(data, list):
        return [_strip_prefixes(v, prefixes) for v in data]
    if isinstance(data, str):
        for prefix in prefixes:
            data = data.replace(prefix, "")
    return data
