"""Real protocol servers for the node power sources, on loopback, started and stopped by the
tests: a Redfish service (sushy-tools' ``sushy-static``, which serves a Redfish mockup
folder, re-reading each resource's file at every request) and an IPMI BMC (OpenIPMI's
``ipmi_sim``, RMCP+ on a UDP port, with a power sensor that polls a file).

Each server's power reading comes from a file the test's ``Load`` rewrites every few tens
of milliseconds (a deterministic waveform), so the readings change during a run as a real
node's do. ``faketime`` (Debian's libfaketime) runs a server with its clock shifted: a BMC
whose clock is off.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
SUSHY_STATIC = BIN / "sushy-static"
IPMI_SIM = shutil.which("ipmi_sim")
FAKETIME = shutil.which("faketime")
IPMI_USER, IPMI_PASSWORD = "admin", "gp2bm-test"
SENSOR = "Node Power"
WATTS_PER_RAW = 10  # the sensor's SDR: watts = raw x 10


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def waveform(t: float) -> float:
    """A node's power in watts at t seconds: 600 W plus a slow swing (training's steps)."""
    return round(600 + 150 * math.sin(t * 2.1) + 40 * math.sin(t * 7.3), 1)


@dataclass
class Load:
    """Rewrites the power a server reports, every ``period`` seconds, until stopped."""

    write: Callable[[float], None]
    period: float = 0.03
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Load:
        t0 = time.monotonic()

        def loop() -> None:
            while not self._stop.is_set():
                self.write(waveform(time.monotonic() - t0))
                self._stop.wait(self.period)

        self.write(waveform(0.0))
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _wait_tcp(port: int, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _shifted(command: list[str], clock_offset_s: float) -> list[str]:
    if not clock_offset_s:
        return command
    if FAKETIME is None:
        pytest.skip("faketime is not installed (make test-deps installs Debian's faketime)")
    return [FAKETIME, "-f", f"{clock_offset_s:+g}s", *command]


# ---------------------------------------------------------------------------- Redfish


def _doc(folder: Path, uri: str, doc: dict) -> Path:
    path = folder / uri.removeprefix("/redfish/v1").strip("/") / "index.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def write_mockup(folder: Path) -> dict[str, Path]:
    """A Redfish mockup: a service root, one chassis with its Power resource, and a rack
    PDU with one outlet (the files whose readings the Load rewrites, by name)."""
    _doc(folder, "/redfish/v1", {
        "@odata.id": "/redfish/v1", "@odata.type": "#ServiceRoot.v1_11_0.ServiceRoot",
        "Id": "RootService", "Name": "gp2bm test BMC", "RedfishVersion": "1.15.0",
        "Chassis": {"@odata.id": "/redfish/v1/Chassis"},
        "PowerEquipment": {"@odata.id": "/redfish/v1/PowerEquipment"},
        "Links": {"Sessions": {"@odata.id": "/redfish/v1/SessionService/Sessions"}},
    })
    _doc(folder, "/redfish/v1/SessionService/Sessions", {
        "@odata.type": "#SessionCollection.SessionCollection", "Members": [],
    })
    _doc(folder, "/redfish/v1/Chassis", {
        "@odata.type": "#ChassisCollection.ChassisCollection",
        "Members": [{"@odata.id": "/redfish/v1/Chassis/Node0"}], "Members@odata.count": 1,
    })
    _doc(folder, "/redfish/v1/Chassis/Node0", {
        "@odata.id": "/redfish/v1/Chassis/Node0", "@odata.type": "#Chassis.v1_21_0.Chassis",
        "Id": "Node0", "ChassisType": "RackMount",
        "Power": {"@odata.id": "/redfish/v1/Chassis/Node0/Power"},
    })
    power = _doc(folder, "/redfish/v1/Chassis/Node0/Power", {})
    outlet = _doc(folder, "/redfish/v1/PowerEquipment/RackPDUs/1/Outlets/A1", {})
    return {"power": power, "outlet": outlet}


def _power_doc(watts: float) -> str:
    return json.dumps({
        "@odata.id": "/redfish/v1/Chassis/Node0/Power", "@odata.type": "#Power.v1_7_1.Power",
        "Id": "Power", "PowerControl": [{"MemberId": "0", "PowerConsumedWatts": watts}],
    })


def _outlet_doc(watts: float) -> str:
    return json.dumps({
        "@odata.id": "/redfish/v1/PowerEquipment/RackPDUs/1/Outlets/A1",
        "@odata.type": "#Outlet.v1_4_0.Outlet", "Id": "A1",
        "PowerWatts": {"DataSourceUri": "", "Reading": watts},
    })


@dataclass
class RedfishServer:
    url: str
    proc: subprocess.Popen
    load: Load

    OUTLET = "/redfish/v1/PowerEquipment/RackPDUs/1/Outlets/A1"

    def stop(self) -> None:
        """Stop answering (the process ends; the port refuses from now on)."""
        _stop(self.proc)

    def close(self) -> None:
        self.load.stop()
        self.stop()


def start_redfish(folder: Path, clock_offset_s: float = 0.0) -> RedfishServer:
    if not SUSHY_STATIC.exists():
        pytest.skip("sushy-tools is not installed (the dev extra: pip install -e '.[dev]')")
    files = write_mockup(folder / "mockup")

    def write(watts: float) -> None:
        _replace(files["power"], _power_doc(watts))
        _replace(files["outlet"], _outlet_doc(round(watts * 0.97, 1)))

    load = Load(write).start()
    port = free_port()
    command = [str(SUSHY_STATIC), "-i", "127.0.0.1", "-p", str(port), "-m", str(folder / "mockup")]
    log = open(folder / "sushy-static.log", "wb")  # noqa: SIM115 - kept open by the server
    proc = subprocess.Popen(_shifted(command, clock_offset_s), stdout=log, stderr=log)
    try:
        _wait_tcp(port, proc, "sushy-static")
    except RuntimeError:
        load.stop()
        _stop(proc)
        raise
    return RedfishServer(f"http://127.0.0.1:{port}", proc, load)


# ---------------------------------------------------------------------------- IPMI


def _sensor_sdr() -> str:
    """A full sensor record (IPMI 2.0, 43.1): a threshold power sensor in watts, raw x 10."""
    name = SENSOR.encode()
    body = [
        0x20, 0x00, 0x10,  # owner: the BMC, LUN 0, sensor 0x10
        0x15, 0x01,  # entity: power unit, instance 1
        0x67, 0x68,  # initialisation, capabilities
        0x08, 0x01,  # sensor type: power supply; event/reading type: threshold
        0, 0, 0, 0, 0, 0,  # event masks
        0x00, 0x06, 0x00,  # units: unsigned, watts, no modifier
        0x00,  # linear
        WATTS_PER_RAW, 0x00, 0, 0x00, 0x00, 0x00,  # M = 10, B = 0, accuracy, exponents 0
        0x00, 0, 0, 0, 255, 0,  # flags, nominal, normal max/min, sensor max/min
        0, 0, 0, 0, 0, 0, 0, 0,  # thresholds, hysteresis
        0, 0, 0,  # reserved, OEM
        0xC0 | len(name), *name,
    ]
    record = [0x01, 0x00, 0x51, 0x01, len(body), *body]
    return " ".join(f"0x{b:02x}" for b in record)


@dataclass
class IpmiServer:
    address: str
    proc: subprocess.Popen
    load: Load

    def stop(self) -> None:
        _stop(self.proc)

    def close(self) -> None:
        self.load.stop()
        self.stop()


def start_ipmi(folder: Path, clock_offset_s: float = 0.0) -> IpmiServer:
    if IPMI_SIM is None:
        pytest.skip("OpenIPMI's ipmi_sim is not installed (make test-deps: Debian's openipmi)")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "state").mkdir(exist_ok=True)
    value = folder / "power"
    load = Load(lambda watts: _replace(value, f"{round(watts)}\n")).start()
    port = free_port(socket.SOCK_DGRAM)
    (folder / "lan.conf").write_text(
        'name "gp2bmbmc"\nset_working_mc 0x20\n  startlan 1\n'
        f"    addr 127.0.0.1 {port}\n    priv_limit admin\n"
        "    allowed_auths_admin none md5\n    guid a123456789abcdefa123456789abcdef\n"
        "  endlan\n"
        f'  user 2 true "{IPMI_USER}" "{IPMI_PASSWORD}" admin 10 none md5\n'
    )
    (folder / "bmc.emu").write_text(
        "mc_setbmc 0x20\n"
        "mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\n"
        f"main_sdr_add 0x20 {_sensor_sdr()}\n"
        f'sensor_add 0x20 0 0x10 0x08 0x01 poll 100 file "{value}" div={WATTS_PER_RAW}\n'
        "mc_enable 0x20\n"
    )
    command = [IPMI_SIM, "-c", str(folder / "lan.conf"), "-f", str(folder / "bmc.emu"),
               "-s", str(folder / "state"), "-n"]
    log = open(folder / "ipmi_sim.log", "wb")  # noqa: SIM115 - kept open by the server
    proc = subprocess.Popen(_shifted(command, clock_offset_s), stdout=log, stderr=log)
    time.sleep(0.5)
    if proc.poll() is not None:
        load.stop()
        raise RuntimeError(f"ipmi_sim exited with {proc.returncode}")
    return IpmiServer(f"127.0.0.1:{port}", proc, load)
