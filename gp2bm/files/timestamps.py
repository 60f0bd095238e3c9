"""Wall-clock timestamps as gp2bm records them: UTC, ISO 8601, milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
