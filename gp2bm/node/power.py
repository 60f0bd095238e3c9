"""Node power sources behind one small interface: a BMC through Redfish (``redfishpower``)
or IPMI (``ipmipower``), a PDU outlet through Redfish, and NVML's GPU power (GPU only,
informative: not node power).

A source is opened once (``open_power_source``) and read once a sample (``read``): the
watts, and the source's own clock when it tells it (the HTTP ``Date`` of a Redfish answer,
DCMI's timestamp), so that a BMC whose clock differs from the host's is seen. Opening or
reading raises ``PowerSourceError`` with the reason; the sampler (``run.power``) turns it
into a finding of the run and never into a failed run.
"""

from __future__ import annotations

import os

from gp2bm.errors import GpuUnavailable, PowerSourceError
from gp2bm.node import ipmipower, redfishpower
from gp2bm.node.gpus import GpuMonitor
from gp2bm.node.powerreading import PowerReading, PowerSource
from gp2bm.spec.power import IPMI, NVML, REDFISH, PowerSettings


class NvmlPower:
    """The sum of every GPU's power as NVML reports it: GPU only, informative."""

    def __init__(self) -> None:
        try:
            self._monitor = GpuMonitor()
        except GpuUnavailable as exc:
            raise PowerSourceError(f"NVML: {exc}") from None

    @property
    def label(self) -> str:
        return f"NVML, {self._monitor.count} GPU(s): GPU only, informative"

    def read(self) -> PowerReading:
        watts = [g.get("power_w") for g in self._monitor.sample()]
        if not watts or any(w is None for w in watts):
            raise PowerSourceError("NVML gave no power reading for every GPU")
        return PowerReading(float(sum(w for w in watts if w is not None)))

    def close(self) -> None:
        self._monitor.close()


def password(settings: PowerSettings) -> str | None:
    """The password, from the environment variable the settings name (never stored)."""
    if not settings.password_env:
        return None
    value = os.environ.get(settings.password_env)
    if value is None:
        raise PowerSourceError(f"the environment variable {settings.password_env} is not set")
    return value


def open_power_source(settings: PowerSettings) -> PowerSource:
    """The source the settings name, opened; PowerSourceError saying why it cannot be."""
    if settings.source == REDFISH:
        return redfishpower.RedfishPower(settings, password(settings))
    if settings.source == IPMI:
        return ipmipower.IpmiPower(settings, password(settings))
    if settings.source == NVML:
        return NvmlPower()
    raise PowerSourceError(f"unknown power source '{settings.source}'")
