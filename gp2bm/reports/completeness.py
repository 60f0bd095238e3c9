"""What a hand-in still lacks, said the same way by every report.

A placeholder must never reach an evaluator silently: the system description's
``<FILL IN>`` fields, a missing system description, and (in the RFP's workbook) a
description of changes that was not given are listed here; the HTML page, both workbooks
and the bundle's README put them in an "incomplete" banner at the top, and ``gp2bm report``
warns on stderr with what to do next.
"""

from __future__ import annotations

from gp2bm.node.systemdesc import is_placeholder, problems
from gp2bm.reports.view import CampaignView

BANNER_TITLE = "INCOMPLETE"
FIX_SYSTEM = (
    "fill in system.yaml beside the suite, then `gp2bm inventory --suite SUITE --campaign "
    "CAMPAIGN` writes the system description again"
)


def system_gaps(view: CampaignView) -> list[str]:
    """The system description's gaps: absent, or its fields still a placeholder or empty."""
    if view.system_desc is None:
        return [f"no MLPerf system description ({view.relative(view.system_desc_path)})"]
    found = problems({str(k): v for k, v in view.system_desc.items()})
    if not found:
        return []
    names = ", ".join(p.field for p in found)
    return [f"system description: {len(found)} field(s) not filled in ({names})"]


def incomplete(view: CampaignView) -> list[str]:
    """What every report of this campaign lacks before it can be handed in."""
    return system_gaps(view)


def placeholder_answers(values: dict[str, object]) -> list[str]:
    """The answers (key -> value) that still hold a placeholder, named by key."""
    return [key for key, value in values.items() if is_placeholder(str(value))]


def banner_text(items: list[str]) -> str:
    """One line for a banner: what is missing, and that the reader must not trust it yet."""
    return f"{BANNER_TITLE}: " + "; ".join(items) + ". Complete these before handing in."
