"""Wall-clock timestamps as gp2bm records them: UTC, ISO 8601, milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def moment(text: object) -> datetime | None:
    """An ISO 8601 time with its zone (a record's ``start``, a report's stamp), else None:
    a time without a zone is no moment to compare."""
    try:
        when = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None
