"""How a campaign measures node power, as data: the source (a BMC through Redfish or IPMI,
a PDU outlet through Redfish, or NVML's GPU power), how often it is read, and what MLPerf's
power files say beside the readings (the AC/DC conversion efficiency, the interconnect's
estimated power).

MLPerf Training's power rules (training_policies ``power_measurement.adoc``): node-level
power at the PSUs (DC; an AC reading with the PSUs' documented conversion efficiency) or at
the node's PDU outlet, at least one reading a second, evenly over the timed window, at
least 60 of them; an interconnect's power is measured or estimated. NVML's GPU power is not
node power: a campaign may record it, labelled "GPU only, informative", and it never goes
into the submission tree.

The settings are chosen per campaign (``power.json`` in the campaign folder, written when
run-all is given ``--power-source``) and recorded in every run record; the suite may give
the conversion efficiency, the measurement type and the interconnect estimate (its
``power:`` section), the command line overrides them. A password is never stored: only the
name of the environment variable that holds it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from gp2bm.errors import InputError

REDFISH = "redfish"
IPMI = "ipmi"
NVML = "nvml"
SOURCES = (REDFISH, IPMI, NVML)
# Sources that read the whole node (their readings are MLPerf's node power).
NODE_LEVEL = frozenset({REDFISH, IPMI})
GPU_ONLY_LABEL = "GPU only, informative"
DEFAULT_PASSWORD_ENV = "GP2BM_POWER_PASSWORD"
# MLPerf: at least one reading a second, and at least this many over the measured loop.
MAX_INTERVAL_S = 1.0
MIN_SAMPLES = 60
MEASUREMENTS = ("AC", "DC")


@dataclass(frozen=True)
class SuitePower:
    """A suite's ``power:`` section."""

    conversion_eff: float | None = None
    measurement: str | None = None
    interconnect_power_w: float | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> SuitePower:
        doc = doc or {}
        return cls(
            conversion_eff=_number(doc.get("conversion_eff")),
            measurement=doc.get("measurement"),
            interconnect_power_w=_number(doc.get("interconnect_power_w")),
        )


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class PowerSettings:
    """Where a campaign reads node power and how it writes it down.

    ``address``: a Redfish service's base URL (``https://bmc``), or an IPMI BMC's
    ``host[:port]``. ``resource``: for Redfish, the URI of the resource to read (a
    chassis's ``Power`` or ``EnvironmentMetrics``, a PDU's ``Outlet``, a ``Sensor``; none:
    the first chassis that has one); for IPMI, the name of an SDR power sensor (none: DCMI's
    Get Power Reading).
    """

    source: str
    address: str | None = None
    user: str | None = None
    password_env: str | None = None
    resource: str | None = None
    interval_s: float = 1.0
    timeout_s: float = 2.0
    conversion_eff: float | None = None
    measurement: str | None = None  # AC or DC; None: the suite's, else DC
    interconnect_power_w: float | None = None

    @property
    def measured(self) -> str:
        return self.measurement or "DC"

    @property
    def node_level(self) -> bool:
        return self.source in NODE_LEVEL

    @property
    def label(self) -> str:
        """What the readings are, in a few words (the reports' and the record's)."""
        if self.source == NVML:
            return f"NVML GPU power ({GPU_ONLY_LABEL})"
        what = self.resource or ("DCMI power reading" if self.source == IPMI else "discovered")
        return f"{self.source} {self.address} ({what}), {self.measured}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> PowerSettings:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        try:
            settings = cls(**known)
        except TypeError as exc:
            raise InputError(f"{where}: not a power setting ({exc})") from None
        settings.check(where)
        return settings

    def with_suite(self, suite: SuitePower) -> PowerSettings:
        """The suite's conversion efficiency, measurement and interconnect estimate, where
        the command line gave none."""
        return replace(
            self,
            conversion_eff=self.conversion_eff
            if self.conversion_eff is not None
            else suite.conversion_eff,
            measurement=self.measurement or suite.measurement,
            interconnect_power_w=self.interconnect_power_w
            if self.interconnect_power_w is not None
            else suite.interconnect_power_w,
        )

    def check(self, where: str) -> None:
        """InputError naming ``where`` for settings no source can work with."""
        if self.source not in SOURCES:
            raise InputError(f"{where}: power source '{self.source}' is not one of {SOURCES}")
        if self.source in NODE_LEVEL and not self.address:
            raise InputError(f"{where}: power source {self.source} needs an address")
        if not (math.isfinite(self.interval_s) and 0.05 <= self.interval_s <= 60):
            raise InputError(f"{where}: power interval {self.interval_s} s is not 0.05..60")
        if not (math.isfinite(self.timeout_s) and 0.1 <= self.timeout_s <= 60):
            raise InputError(f"{where}: power timeout {self.timeout_s} s is not 0.1..60")
        eff = self.conversion_eff
        if eff is not None and not (math.isfinite(eff) and 0 < eff <= 1):
            raise InputError(f"{where}: conversion efficiency {eff} is not in (0, 1]")
        if self.measurement is not None and self.measurement not in MEASUREMENTS:
            raise InputError(f"{where}: measurement '{self.measurement}' is not AC or DC")
        est = self.interconnect_power_w
        if est is not None and not (math.isfinite(est) and est >= 0):
            raise InputError(f"{where}: interconnect power {est} W is not a number >= 0")
