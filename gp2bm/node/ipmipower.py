"""Node power through IPMI over LAN (RMCP+, as ``ipmitool -I lanplus``), with the pure
Python ``python-ipmi`` library: one session opened for the whole run, one request a sample.

Two readings: DCMI's Get Power Reading (the data-centre extension most server BMCs speak;
its answer carries the BMC's own timestamp and whether the measurement is active), or, when
the settings name a sensor, that SDR sensor's reading converted by its record (a BMC's
"Total Power" or "PSU Input Power" sensor in watts).

Why python-ipmi rather than ``ipmitool dcmi power reading`` or pyghmi: ipmitool is a
process and a new RMCP+ session per sample (about 40 ms against a local BMC, and 10 s
where the BMC does not answer its cipher-suite probe), with text to parse; pyghmi runs its
own I/O thread and hides DCMI's timestamp; python-ipmi keeps one synchronous session
(about 0.1 ms a reading against OpenIPMI's simulator), decodes DCMI's answer with its
timestamp, and raises typed completion-code errors.
"""

from __future__ import annotations

from typing import Any

from gp2bm.errors import PowerSourceError
from gp2bm.node.powerreading import PowerReading
from gp2bm.spec.power import PowerSettings

DEFAULT_PORT = 623
BMC_ADDRESS = 0x20
CIPHER_SUITE = 3  # RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128: ipmitool's default
DCMI_SYSTEM_POWER = 1  # Get Power Reading mode: system power statistics
DCMI_ACTIVE = 0x40  # reading state bit 6: the power measurement is active


def host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":") if address.count(":") == 1 else (address, "", "")
    try:
        return host, int(port) if port else DEFAULT_PORT
    except ValueError:
        raise PowerSourceError(f"IPMI address '{address}': the port is not a number") from None


class IpmiPower:
    """A BMC's power over an RMCP+ session: DCMI's reading, or one SDR sensor's."""

    def __init__(self, settings: PowerSettings, password: str | None) -> None:
        import pyipmi  # heavy: only when sampling a BMC
        import pyipmi.interfaces  # heavy: only when sampling a BMC

        self._host, self._port = host_port(str(settings.address))
        self._sensor_name = settings.resource
        self._sensor: Any = None
        try:
            interface = pyipmi.interfaces.create_interface("rmcpplus", cipher_suite=CIPHER_SUITE)
            self._ipmi = pyipmi.create_connection(interface)
            self._ipmi.session.set_session_type_rmcp(self._host, port=self._port)
            self._ipmi.session.set_auth_type_user(settings.user or "", password or "")
            self._ipmi.target = pyipmi.Target(ipmb_address=BMC_ADDRESS)
            self._ipmi.open()
            interface.set_timeout(settings.timeout_s)
            if self._sensor_name:
                self._sensor = self._find_sensor(self._sensor_name)
        except PowerSourceError:
            self.close()
            raise
        except Exception as exc:  # noqa: BLE001 - socket, authentication, decoding errors
            self.close()
            raise PowerSourceError(f"IPMI {self._where}: {type(exc).__name__}: {exc}") from None
        try:
            self.read()  # a BMC without the reading is refused before the run
        except PowerSourceError:
            self.close()
            raise

    @property
    def _where(self) -> str:
        return f"{self._host}:{self._port}"

    @property
    def label(self) -> str:
        what = f"sensor '{self._sensor_name}'" if self._sensor_name else "DCMI power reading"
        return f"IPMI {self._where} {what}"

    def _find_sensor(self, name: str) -> Any:
        for record in self._ipmi.get_repository_sdr_list():
            found = getattr(record, "device_id_string", None)
            text = found.decode(errors="replace") if isinstance(found, bytes) else found
            if text == name and hasattr(record, "convert_sensor_raw_to_value"):
                return record
        raise PowerSourceError(f"IPMI {self._where}: no SDR sensor named '{name}'")

    def read(self) -> PowerReading:
        try:
            if self._sensor is not None:
                raw, _ = self._ipmi.get_sensor_reading(self._sensor.number, self._sensor.owner_lun)
                if raw is None:
                    raise PowerSourceError(f"IPMI {self._where}: sensor reading unavailable")
                return PowerReading(float(self._sensor.convert_sensor_raw_to_value(raw)))
            answer = self._ipmi.get_power_reading(DCMI_SYSTEM_POWER)
        except PowerSourceError:
            raise
        except Exception as exc:  # noqa: BLE001 - timeouts and completion codes alike
            raise PowerSourceError(f"IPMI {self._where}: {type(exc).__name__}: {exc}") from None
        if not answer.reading_state & DCMI_ACTIVE:
            raise PowerSourceError(f"IPMI {self._where}: the DCMI power measurement is not active")
        return PowerReading(float(answer.current_power), float(answer.timestamp) or None)

    def close(self) -> None:
        ipmi = getattr(self, "_ipmi", None)
        if ipmi is None:
            return
        try:
            ipmi.close()
        except Exception:  # noqa: BLE001, S110 - a session the BMC already dropped
            pass
