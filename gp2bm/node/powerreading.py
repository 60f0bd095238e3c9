"""What a node power source gives (``PowerReading``) and what every source is
(``PowerSource``): read on demand, closed at the end. The sources are ``redfishpower``,
``ipmipower`` and NVML's in ``power``, which opens the one a campaign's settings name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class PowerReading:
    watts: float
    source_time: float | None = None  # the source's clock (seconds since the epoch), if told


class PowerSource(Protocol):
    """One node's power, read on demand."""

    @property
    def label(self) -> str:
        """What is read, where (the record's and the reports' words)."""

    def read(self) -> PowerReading:
        """The power now; PowerSourceError when the source does not give it."""

    def close(self) -> None:
        """Let go of the source (a session, NVML)."""
