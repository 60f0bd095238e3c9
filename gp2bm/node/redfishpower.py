"""Node power through Redfish (DMTF's ``redfish`` client library): a BMC's chassis power,
or a PDU outlet's.

The resource read is the one the settings name, else the first chassis of the service
that has ``EnvironmentMetrics`` (Redfish 2020.4 on) or ``Power`` (the older, still common
resource). Its reading, by the resource's ``@odata.type``:

* ``Power``: ``PowerControl[0].PowerConsumedWatts`` (the chassis's whole consumption);
* ``EnvironmentMetrics``, ``Outlet`` (a PDU's outlet), ``Circuit``: ``PowerWatts.Reading``;
* ``Sensor``: ``Reading``, whose ``ReadingUnits`` must be watts.

The source's clock is the answer's HTTP ``Date`` header (whole seconds). A user name logs
in with HTTP basic authentication (no session is left open on the BMC when gp2bm stops).
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any

from gp2bm.errors import PowerSourceError
from gp2bm.node.powerreading import PowerReading
from gp2bm.spec.power import PowerSettings

CHASSIS = "/redfish/v1/Chassis"


def _reading(doc: dict[str, Any], uri: str) -> float:
    """The watts a Redfish power resource reports."""
    kind = str(doc.get("@odata.type", ""))
    value: Any = None
    if kind.startswith("#Power."):
        controls = doc.get("PowerControl") or [{}]
        value = controls[0].get("PowerConsumedWatts") if isinstance(controls, list) else None
    elif kind.startswith("#Sensor."):
        if doc.get("ReadingUnits") not in (None, "W"):
            raise PowerSourceError(f"{uri}: a sensor in {doc.get('ReadingUnits')}, not watts")
        value = doc.get("Reading")
    elif isinstance(doc.get("PowerWatts"), dict):  # EnvironmentMetrics, Outlet, Circuit
        value = doc["PowerWatts"].get("Reading")
    else:
        raise PowerSourceError(f"{uri}: {kind or 'a resource'} has no power reading gp2bm knows")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PowerSourceError(f"{uri}: no power reading (the BMC gives {value!r})")
    return float(value)


def _why(exc: Exception) -> str:
    """The library's exception in words (its retries-exhausted error has none of its own)."""
    text = str(exc).strip() or "no answer (connection refused or timed out)"
    return f"{type(exc).__name__}: {text}"


def _date(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError):
        return None


class RedfishPower:
    """One Redfish resource's power reading."""

    def __init__(self, settings: PowerSettings, password: str | None) -> None:
        import redfish  # heavy: 0.13 s to import (requests, jsonpath); only when sampling

        self._address = str(settings.address).rstrip("/")
        try:
            self._client = redfish.redfish_client(
                base_url=self._address,
                username=settings.user,
                password=password,
                timeout=settings.timeout_s,
                max_retry=1,
            )
            if settings.user:
                self._client.login(auth=redfish.AuthMethod.BASIC)
        except Exception as exc:  # noqa: BLE001 - the library raises many kinds
            raise PowerSourceError(f"Redfish {self._address}: {_why(exc)}") from None
        self._uri = settings.resource or self._discover()
        self.read()  # a resource without a reading is refused before the run

    @property
    def label(self) -> str:
        return f"Redfish {self._address}{self._uri}"

    def _get(self, uri: str) -> tuple[dict[str, Any], float | None]:
        try:
            answer = self._client.get(uri)
        except Exception as exc:  # noqa: BLE001 - connection refused, timeout, retries
            raise PowerSourceError(f"Redfish {uri}: {_why(exc)}") from None
        if answer.status != 200:
            raise PowerSourceError(f"Redfish {uri}: HTTP {answer.status}")
        doc = answer.dict
        if not isinstance(doc, dict):
            raise PowerSourceError(f"Redfish {uri}: the answer is not a JSON object")
        return doc, _date(answer.getheader("Date"))

    def _discover(self) -> str:
        """The first chassis's EnvironmentMetrics, else its Power."""
        chassis, _ = self._get(CHASSIS)
        for member in chassis.get("Members") or []:
            uri = member.get("@odata.id") if isinstance(member, dict) else None
            if not isinstance(uri, str):
                continue
            doc, _ = self._get(uri)
            for name in ("EnvironmentMetrics", "Power"):
                link = doc.get(name)
                if isinstance(link, dict) and isinstance(link.get("@odata.id"), str):
                    return str(link["@odata.id"])
        raise PowerSourceError(f"Redfish {self._address}: no chassis has a power resource")

    def read(self) -> PowerReading:
        doc, when = self._get(self._uri)
        return PowerReading(_reading(doc, self._uri), when)

    def close(self) -> None:
        return None

