"""The NVML boundary: every call gp2bm makes into NVIDIA's driver (``pynvml``) lives here.

Two uses: describing the GPUs once (inventory, pre-flight, the MLPerf system description)
and sampling them every second while a run goes on (telemetry). Both are tolerant, like
pyperf's metadata collectors: a query the GPU does not support leaves that one fact empty
(with the NVML error kept beside it) instead of failing the description. ``pynvml`` is
imported when first used, not at module import, so that tests can put a fake module in
``sys.modules`` and the rest of gp2bm works on machines without the NVIDIA driver.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from gp2bm.errors import GpuUnavailable

# Clock event ("throttle") reason bits of the NVML ABI (nvml.h, nvmlClocksEventReason*).
# Idle, application clocks, sync boost and display clocks are not throttling.
CLOCK_EVENT_REASONS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clocks",
}
THROTTLING = frozenset(
    {
        "sw_power_cap",
        "hw_slowdown",
        "sw_thermal_slowdown",
        "hw_thermal_slowdown",
        "hw_power_brake_slowdown",
    }
)


def reason_names(mask: int) -> list[str]:
    return [name for bit, name in CLOCK_EVENT_REASONS.items() if mask & bit]


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _nvml():
    try:
        import pynvml  # heavy: loads the NVIDIA driver's library; tests fake it in sys.modules
    except ImportError as exc:  # nvidia-ml-py is a dependency; a broken install lands here
        raise GpuUnavailable(f"pynvml cannot be imported: {exc}") from None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        raise GpuUnavailable(f"NVML: {exc}") from None
    except OSError as exc:
        raise GpuUnavailable(f"NVML: {exc}") from None
    return pynvml


def _shutdown(nv) -> None:
    try:
        nv.nvmlShutdown()
    except nv.NVMLError:
        pass


@dataclass
class GpuInfo:
    index: int
    name: str | None = None
    uuid: str | None = None
    pci_bus_id: str | None = None
    serial: str | None = None
    vbios: str | None = None
    memory_total_bytes: int | None = None
    power_limit_w: float | None = None
    enforced_power_limit_w: float | None = None
    max_sm_clock_mhz: int | None = None
    max_memory_clock_mhz: int | None = None
    pcie_generation_max: int | None = None
    pcie_width_max: int | None = None
    pcie_generation_current: int | None = None
    pcie_width_current: int | None = None
    nvlink_links_active: int | None = None
    nvlink_version: int | None = None
    mig_mode: str | None = None
    ecc_mode: str | None = None
    persistence_mode: str | None = None
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class GpuReport:
    """What NVML says about this node's GPUs; ``error`` says why there is nothing."""

    gpus: list[GpuInfo] = field(default_factory=list)
    driver_version: str | None = None
    cuda_driver_version: str | None = None
    nvml_version: str | None = None
    error: str | None = None

    @property
    def count(self) -> int:
        return len(self.gpus)

    @property
    def found(self) -> bool:
        return bool(self.gpus)

    def status(self) -> str:
        if self.gpus:
            return f"{self.count} GPU(s) found"
        return f"no GPU found ({self.error})" if self.error else "no GPU found"

    def as_dict(self) -> dict:
        data = asdict(self)
        data["count"] = self.count
        data["status"] = self.status()
        return data


def _mode(value) -> str | None:
    # NVML modes come back as [current, pending]; 1 is NVML_FEATURE_ENABLED.
    current, pending = value
    text = "enabled" if current == 1 else "disabled"
    if pending != current:
        text += f" (pending {'enabled' if pending == 1 else 'disabled'})"
    return text


def _cuda_version(value: int) -> str:
    return f"{value // 1000}.{(value % 1000) // 10}"


def _describe_one(nv, index: int) -> GpuInfo:
    info = GpuInfo(index=index)
    handle = nv.nvmlDeviceGetHandleByIndex(index)

    def fill(name, call, convert=lambda v: v):
        try:
            setattr(info, name, convert(call()))
        except nv.NVMLError as exc:
            info.errors[name] = str(exc)

    fill("name", lambda: nv.nvmlDeviceGetName(handle), _text)
    fill("uuid", lambda: nv.nvmlDeviceGetUUID(handle), _text)
    fill("pci_bus_id", lambda: nv.nvmlDeviceGetPciInfo(handle).busId, _text)
    fill("serial", lambda: nv.nvmlDeviceGetSerial(handle), _text)
    fill("vbios", lambda: nv.nvmlDeviceGetVbiosVersion(handle), _text)
    fill("memory_total_bytes", lambda: nv.nvmlDeviceGetMemoryInfo(handle).total, int)
    fill("power_limit_w", lambda: nv.nvmlDeviceGetPowerManagementLimit(handle) / 1000)
    fill("enforced_power_limit_w", lambda: nv.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000)
    fill("max_sm_clock_mhz", lambda: nv.nvmlDeviceGetMaxClockInfo(handle, nv.NVML_CLOCK_SM))
    fill("max_memory_clock_mhz", lambda: nv.nvmlDeviceGetMaxClockInfo(handle, nv.NVML_CLOCK_MEM))
    fill("pcie_generation_max", lambda: nv.nvmlDeviceGetMaxPcieLinkGeneration(handle))
    fill("pcie_width_max", lambda: nv.nvmlDeviceGetMaxPcieLinkWidth(handle))
    fill("pcie_generation_current", lambda: nv.nvmlDeviceGetCurrPcieLinkGeneration(handle))
    fill("pcie_width_current", lambda: nv.nvmlDeviceGetCurrPcieLinkWidth(handle))
    fill("mig_mode", lambda: nv.nvmlDeviceGetMigMode(handle), _mode)
    fill("ecc_mode", lambda: nv.nvmlDeviceGetEccMode(handle), _mode)
    fill(
        "persistence_mode",
        lambda: nv.nvmlDeviceGetPersistenceMode(handle),
        lambda v: "enabled" if v == 1 else "disabled",
    )

    # NVLink: links that do not exist answer NotSupported/InvalidArgument; count the ones up.
    active, version, last_error = 0, None, None
    for link in range(getattr(nv, "NVML_NVLINK_MAX_LINKS", 18)):
        try:
            if nv.nvmlDeviceGetNvLinkState(handle, link) == 1:
                active += 1
                if version is None:
                    version = nv.nvmlDeviceGetNvLinkVersion(handle, link)
        except nv.NVMLError as exc:
            last_error = str(exc)
    info.nvlink_links_active = active
    info.nvlink_version = version
    if active == 0 and last_error:
        info.errors["nvlink"] = last_error
    return info


def describe_gpus() -> GpuReport:
    """The node's GPUs as NVML reports them. Never raises: failures land in ``error``."""
    try:
        nv = _nvml()
    except GpuUnavailable as exc:
        return GpuReport(error=str(exc))
    report = GpuReport()
    try:
        for attr, call in (
            ("driver_version", lambda: _text(nv.nvmlSystemGetDriverVersion())),
            ("cuda_driver_version", lambda: _cuda_version(nv.nvmlSystemGetCudaDriverVersion())),
            ("nvml_version", lambda: _text(nv.nvmlSystemGetNVMLVersion())),
        ):
            try:
                setattr(report, attr, call())
            except nv.NVMLError:
                pass
        try:
            count = nv.nvmlDeviceGetCount()
        except nv.NVMLError as exc:
            report.error = f"NVML: {exc}"
            return report
        for index in range(count):
            try:
                report.gpus.append(_describe_one(nv, index))
            except nv.NVMLError as exc:  # the handle itself (e.g. a GPU fallen off the bus)
                report.gpus.append(GpuInfo(index=index, errors={"handle": str(exc)}))
        if not count:
            report.error = "NVML reports 0 devices"
    finally:
        _shutdown(nv)
    return report


class GpuMonitor:
    """Open NVML once and read every GPU's live state; what telemetry samples each second
    (the keys of each GPU's sample are the telemetry CSV's GPU columns, run.telemetry)."""

    def __init__(self):
        self._nv = _nvml()
        nv = self._nv
        try:
            self._handles = [
                nv.nvmlDeviceGetHandleByIndex(i) for i in range(nv.nvmlDeviceGetCount())
            ]
        except nv.NVMLError as exc:
            _shutdown(nv)
            raise GpuUnavailable(f"NVML: {exc}") from None
        if not self._handles:
            _shutdown(nv)
            raise GpuUnavailable("NVML reports 0 devices")
        # renamed in NVML 12.2; older bindings only have the "throttle" name
        reasons = getattr(nv, "nvmlDeviceGetCurrentClocksEventReasons", None)
        if reasons is None:
            reasons = nv.nvmlDeviceGetCurrentClocksThrottleReasons
        self._reasons: Callable[[object], int] = reasons
        # Queries a GPU does not support are not asked again every second.
        self._unsupported: set[tuple[int, str]] = set()

    @property
    def count(self) -> int:
        return len(self._handles)

    def _read(self, i: int, name: str, call):
        if (i, name) in self._unsupported:
            return None
        nv = self._nv
        try:
            return call()
        except nv.NVMLError as exc:
            if isinstance(exc, getattr(nv, "NVMLError_NotSupported", ())):
                self._unsupported.add((i, name))
            return None

    def sample(self) -> list[dict]:
        nv = self._nv
        out = []
        for i, h in enumerate(self._handles):
            util = self._read(i, "util", lambda h=h: nv.nvmlDeviceGetUtilizationRates(h))
            power = self._read(i, "power", lambda h=h: nv.nvmlDeviceGetPowerUsage(h))
            energy = self._read(i, "energy", lambda h=h: nv.nvmlDeviceGetTotalEnergyConsumption(h))
            memory = self._read(i, "memory", lambda h=h: nv.nvmlDeviceGetMemoryInfo(h))
            reasons = self._read(i, "reasons", lambda h=h: self._reasons(h))
            out.append(
                {
                    "power_w": None if power is None else power / 1000,
                    "energy_j": None if energy is None else energy / 1000,
                    "sm_util_pct": None if util is None else util.gpu,
                    "mem_util_pct": None if util is None else util.memory,
                    "temp_c": self._read(
                        i,
                        "temp",
                        lambda h=h: nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU),
                    ),
                    "sm_clock_mhz": self._read(
                        i, "sm_clock", lambda h=h: nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM)
                    ),
                    "mem_clock_mhz": self._read(
                        i, "mem_clock", lambda h=h: nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_MEM)
                    ),
                    "mem_used_bytes": None if memory is None else memory.used,
                    "clock_event_reasons": reasons,
                }
            )
        return out

    def close(self) -> None:
        if self._nv is not None:
            _shutdown(self._nv)
            self._nv = None
