"""A stand-in for NVIDIA's ``pynvml`` module: a DGX-H100-like node (8x H100-SXM5-80GB).

Only the calls gp2bm makes are provided, with the same names, argument order, units and
error classes as nvidia-ml-py; the values are those such a node reports (driver 535.129.03,
CUDA 12.2, 18 NVLink 4 links per GPU, ECC on, MIG off, PCIe gen 5 x16, 700 W limit).
Put it where gp2bm imports it with ``install(monkeypatch)``.
"""

from __future__ import annotations

import time
import types
from dataclasses import dataclass

NVML_SUCCESS = 0
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_LIBRARY_NOT_FOUND = 12

BUS_IDS = [
    "00000000:18:00.0",
    "00000000:2A:00.0",
    "00000000:3A:00.0",
    "00000000:5D:00.0",
    "00000000:9A:00.0",
    "00000000:AB:00.0",
    "00000000:BA:00.0",
    "00000000:DB:00.0",
]
H100_NAME = "NVIDIA H100 80GB HBM3"
H100_MEMORY = 85520809984  # 81559 MiB, as nvidia-smi shows for an H100-SXM5-80GB
NVLINKS = 18


class NVMLError(Exception):
    _messages = {
        NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
        NVML_ERROR_NOT_SUPPORTED: "Not Supported",
        NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    }

    def __init__(self, value: int):
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return self._messages.get(self.value, f"Unknown Error {self.value}")


class NVMLError_InvalidArgument(NVMLError):  # noqa: N801 - pynvml's own names
    def __init__(self):
        super().__init__(NVML_ERROR_INVALID_ARGUMENT)


class NVMLError_NotSupported(NVMLError):  # noqa: N801
    def __init__(self):
        super().__init__(NVML_ERROR_NOT_SUPPORTED)


class NVMLError_LibraryNotFound(NVMLError):  # noqa: N801
    def __init__(self):
        super().__init__(NVML_ERROR_LIBRARY_NOT_FOUND)


@dataclass
class _Memory:
    total: int
    free: int
    used: int


@dataclass
class _Util:
    gpu: int
    memory: int


@dataclass
class _Pci:
    busId: str  # noqa: N815 - pynvml's field name


class FakeNvml:
    """The node's state. ``module`` is what goes into ``sys.modules['pynvml']``."""

    def __init__(
        self,
        count: int = 8,
        *,
        library_missing: bool = False,
        throttle: int = 0,
        power_w: float = 650.0,
        temp_c: int = 61,
        name: str = H100_NAME,
    ):
        self.count = count
        self.library_missing = library_missing
        self.throttle = throttle
        self.power_w = power_w
        self.temp_c = temp_c
        self.name = name
        self.inits = 0
        self.calls = 0
        self._t0 = time.monotonic()
        self.module = self._build()

    # the energy counter grows with the (constant) power draw, as the real one does
    def _energy_mj(self, index: int) -> int:
        seconds = time.monotonic() - self._t0
        return int(1_000_000_000 + index * 1000 + (self.power_w + index) * seconds * 1000)

    def _build(self) -> types.ModuleType:
        m = types.ModuleType("pynvml")
        m.__file__ = __file__
        fake = self
        m.NVMLError = NVMLError
        m.NVMLError_NotSupported = NVMLError_NotSupported
        m.NVMLError_InvalidArgument = NVMLError_InvalidArgument
        m.NVMLError_LibraryNotFound = NVMLError_LibraryNotFound
        m.NVML_CLOCK_GRAPHICS, m.NVML_CLOCK_SM, m.NVML_CLOCK_MEM = 0, 1, 2
        m.NVML_TEMPERATURE_GPU = 0
        m.NVML_FEATURE_DISABLED, m.NVML_FEATURE_ENABLED = 0, 1
        m.NVML_NVLINK_MAX_LINKS = 18

        def handle(h):
            fake.calls += 1
            if not isinstance(h, int) or not 0 <= h < fake.count:
                raise NVMLError_InvalidArgument()
            return h

        def nvmlInit():  # noqa: N802
            if fake.library_missing:
                raise NVMLError_LibraryNotFound()
            fake.inits += 1

        def nvmlShutdown():  # noqa: N802
            fake.inits -= 1

        def nvmlDeviceGetHandleByIndex(i):  # noqa: N802
            return handle(i)

        def nvmlDeviceGetNvLinkState(h, link):  # noqa: N802
            handle(h)
            if link >= NVLINKS:
                raise NVMLError_NotSupported()
            return 1

        def nvmlDeviceGetNvLinkVersion(h, link):  # noqa: N802
            handle(h)
            if link >= NVLINKS:
                raise NVMLError_NotSupported()
            return 4

        def nvmlDeviceGetMaxClockInfo(h, kind):  # noqa: N802
            handle(h)
            return {0: 1980, 1: 1980, 2: 2619}[kind]

        def nvmlDeviceGetClockInfo(h, kind):  # noqa: N802
            handle(h)
            return {0: 1755, 1: 1755, 2: 2619}[kind]

        def nvmlDeviceGetTemperature(h, sensor):  # noqa: N802
            return fake.temp_c + handle(h)

        def nvmlDeviceGetCurrentClocksEventReasons(h):  # noqa: N802
            handle(h)
            return fake.throttle

        def fixed(value):
            def call(h):
                handle(h)
                return value

            return call

        def nvmlDeviceGetSerial(h):  # noqa: N802
            return f"16542230{handle(h):05d}"

        calls = {
            "nvmlInit": nvmlInit,
            "nvmlShutdown": nvmlShutdown,
            "nvmlSystemGetDriverVersion": lambda: "535.129.03",
            "nvmlSystemGetCudaDriverVersion": lambda: 12020,
            "nvmlSystemGetNVMLVersion": lambda: "12.535.129.03",
            "nvmlDeviceGetCount": lambda: fake.count,
            "nvmlDeviceGetHandleByIndex": nvmlDeviceGetHandleByIndex,
            "nvmlDeviceGetName": fixed(fake.name),
            "nvmlDeviceGetUUID": lambda h: f"GPU-5c9a1f0e-7d3b-4c1a-9e2f-00000000000{handle(h)}",
            "nvmlDeviceGetPciInfo": lambda h: _Pci(BUS_IDS[handle(h) % len(BUS_IDS)]),
            "nvmlDeviceGetSerial": nvmlDeviceGetSerial,
            "nvmlDeviceGetVbiosVersion": fixed("96.00.74.00.0D"),
            "nvmlDeviceGetMemoryInfo": fixed(
                _Memory(H100_MEMORY, H100_MEMORY - 70_000_000_000, 70_000_000_000)
            ),
            "nvmlDeviceGetPowerManagementLimit": fixed(700_000),
            "nvmlDeviceGetEnforcedPowerLimit": fixed(700_000),
            "nvmlDeviceGetMaxClockInfo": nvmlDeviceGetMaxClockInfo,
            "nvmlDeviceGetClockInfo": nvmlDeviceGetClockInfo,
            "nvmlDeviceGetMaxPcieLinkGeneration": fixed(5),
            "nvmlDeviceGetMaxPcieLinkWidth": fixed(16),
            "nvmlDeviceGetCurrPcieLinkGeneration": fixed(5),
            "nvmlDeviceGetCurrPcieLinkWidth": fixed(16),
            "nvmlDeviceGetNvLinkState": nvmlDeviceGetNvLinkState,
            "nvmlDeviceGetNvLinkVersion": nvmlDeviceGetNvLinkVersion,
            "nvmlDeviceGetMigMode": fixed([0, 0]),
            "nvmlDeviceGetEccMode": fixed([1, 1]),
            "nvmlDeviceGetPersistenceMode": fixed(1),
            "nvmlDeviceGetPowerUsage": lambda h: int((fake.power_w + handle(h)) * 1000),
            "nvmlDeviceGetTotalEnergyConsumption": lambda h: fake._energy_mj(handle(h)),
            "nvmlDeviceGetUtilizationRates": fixed(_Util(97, 41)),
            "nvmlDeviceGetTemperature": nvmlDeviceGetTemperature,
            "nvmlDeviceGetCurrentClocksEventReasons": nvmlDeviceGetCurrentClocksEventReasons,
        }
        for name, call in calls.items():
            setattr(m, name, call)
        return m


def install(monkeypatch, **options) -> FakeNvml:
    """Make ``import pynvml`` return a fake node for the rest of the test."""
    fake = FakeNvml(**options)
    monkeypatch.setitem(__import__("sys").modules, "pynvml", fake.module)
    return fake
