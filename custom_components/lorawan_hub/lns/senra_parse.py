"""
Reading SenRa's notifications and answers: uplinks, the device export, tasks, groups.

A notification comes in the current format or the legacy one (``EUI``, ``PDU``...): both are
read. Without its device or its payload there is no uplink (ProtocolError); any other wrong
value is left out with a rate-limited warning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
import csv
from dataclasses import dataclass
from datetime import UTC, datetime
import io
import logging
from typing import Any, Final

from yarl import URL

from .base import ThrottledLog
from .errors import InvalidRequest, ProtocolError
from .models import FuotaStatus, Gateway, Location, LoRaClass, MulticastGroup, ServerDevice, Uplink
from .parse import (
    eui,
    hex_id,
    hex_payload,
    opt_bool,
    opt_float,
    opt_int,
    opt_str,
    parse_time,
)

_LOGGER = logging.getLogger(__name__)

# The legacy notification format's field names.
_LEGACY: Final = {
    "EUI": "devEui",
    "PDU": "pdu",
    "FREQ": "freq",
    "GW": "gwEui",
    "TXTime": "txtime",
    "RSSI": "rssi",
    "SeqNo": "seqno",
    "Port": "port",
    "SNR": "snr",
    "DataRate": "datarate",
}
_CLASSES: Final = {"A": LoRaClass.A, "B": LoRaClass.B, "C": LoRaClass.C}
# csvExport headers (as shown, lower case without spaces) → field.
_COLUMNS: Final = {
    "deveui": "devEui",
    "tags": "tags",
    "metadata": "metadata",
    "state": "state",
    "devtype": "devType",
    "devicetype": "devType",
    "devaddr": "devAddr",
    "deviceaddress": "devAddr",
    "lat": "lat",
    "latitude": "lat",
    "lng": "lng",
    "longitude": "lng",
    "profid": "profId",
    "profileid": "profId",
}
EXPORT_FIELDS: Final = "devEui,tags,metadata,state,devType,devAddr,lat,lng,profId"
"""The export's fields we read (003:648-650); ``profId`` is the device profile (003:287)."""


_VALUES: Final = ThrottledLog(_LOGGER)
"""Warnings about one wrong value from the server (the rest of its message is used)."""


def _ignored(key: str, reason: str) -> None:
    _VALUES.warning(key, "Ignored a wrong %s from the server: %s", key, reason)


def _optional[T](
    read: Callable[[Mapping[str, Any], str], T | None], data: Mapping[str, Any], key: str
) -> T | None:
    """Return an optional value, or None (with a rate-limited warning) when it is wrong."""
    try:
        return read(data, key)
    except ProtocolError as err:
        _ignored(key, str(err))
        return None


def _ranged(data: Mapping[str, Any], key: str, low: int, high: int) -> int | None:
    """Return an optional integer within ``low``..``high``, or None when absent or wrong."""
    value = _optional(opt_int, data, key)
    if value is not None and not low <= value <= high:
        _ignored(key, f"{value} is out of range")
        return None
    return value


def _measured(data: Mapping[str, Any], key: str, low: float, high: float) -> float | None:
    """Return an optional measurement within ``low``..``high``, or None when absent or wrong."""
    value = _optional(opt_float, data, key)
    if value is not None and not low <= value <= high:
        _ignored(key, f"{value} is out of range")
        return None
    return value


def _opt_hex_id(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None or value == "" else hex_id(value, key)


def _opt_id(data: Mapping[str, Any], key: str) -> str | None:
    """Return a message id (documented as a number; a string id is kept as it is)."""
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ProtocolError(f"{key} is not a message id")


def _opt_eui(data: Mapping[str, Any], key: str) -> str | None:
    value = opt_str(data, key)
    return None if value is None else eui(value, key)


def _opt_class(data: Mapping[str, Any], key: str) -> LoRaClass | None:
    # The notification table says "A", "B", "C"; the device-update API says CLASS_A...
    # (003:49 and 003:579): both are read.
    value = opt_str(data, key)
    if value is None:
        return None
    found = _CLASSES.get(value.strip().upper().removeprefix("CLASS_"))
    if found is None:
        raise ProtocolError(f"{key} is not a LoRaWAN class")
    return found


def _location(
    data: Mapping[str, Any], lat_key: str, lng_key: str, *, warn: bool = False
) -> Location | None:
    """Return an optional position; a missing, zero or invalid one is no position."""
    try:
        lat = opt_float(data, lat_key)
        lng = opt_float(data, lng_key)
    except ProtocolError as err:
        if warn:
            _ignored(f"{lat_key}/{lng_key}", str(err))
        return None
    if lat is None or lng is None or (lat == 0 and lng == 0):
        return None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        if warn:
            _ignored(f"{lat_key}/{lng_key}", "out of range")
        return None
    return Location(lat, lng)


def notification_fields(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return a notification with the legacy format's field names replaced by the current ones."""
    if "devEui" in data or "EUI" not in data:
        return data
    return {_LEGACY.get(key, key): value for key, value in data.items()}


def _server_time(fields: Mapping[str, Any]) -> datetime | None:
    """Return when the network server received the uplink, None when the time is wrong."""
    try:
        return parse_time(fields.get("txtime"), "txtime")
    except ProtocolError as err:
        _ignored("txtime", str(err))
        return None


def _uplink(fields: Mapping[str, Any], raw: Mapping[str, Any]) -> tuple[Uplink, datetime | None]:
    """Return the uplink of a notification and the server's time of it (None when wrong)."""
    # The device and the payload are the uplink: without them there is nothing to deliver.
    dev_eui = eui(fields.get("devEui"), "devEui")
    payload = hex_payload(fields.get("pdu"), "pdu")
    # Every other field is dropped alone when it is wrong (003:25: keep parsing).
    server_time = _server_time(fields)
    rssi = _measured(fields, "rssi", -200, 50)
    snr = _measured(fields, "snr", -50, 50)
    gateway = _optional(_opt_hex_id, fields, "gwEui")
    data_rate = _ranged(fields, "datarate", 0, 15)
    uplink = Uplink(
        dev_eui=dev_eui,
        # A wrong time is no reason to lose the uplink: it is placed at its arrival.
        received_at=server_time or datetime.now(UTC),
        f_port=_ranged(fields, "port", 0, 255),
        f_cnt=_ranged(fields, "seqno", 0, 2**32 - 1),
        payload=payload,
        rssi=rssi,
        snr=snr,
        data_rate=None if data_rate is None else f"DR{data_rate}",
        # MHz (003:41); LoRaWAN's bands lie between 137 and 1020 MHz.
        frequency=_measured(fields, "freq", 100, 1100),
        gateways=(Gateway(gateway, rssi, snr),) if gateway else (),
        location=_location(fields, "estLat", "estLng", warn=True),
        ack=_optional(opt_bool, fields, "ack"),
        device_class=_optional(_opt_class, fields, "devClass"),
        raw=raw,
    )
    return uplink, server_time


def uplink_from_notification(data: Mapping[str, Any]) -> Uplink:
    """
    Build an Uplink from one notification (current or legacy format; unknown fields ignored).

    Raises ProtocolError when the device or the payload is missing or wrong; any other wrong
    field is left out (with a rate-limited warning).
    """
    return _uplink(notification_fields(data), data)[0]


@dataclass(slots=True, frozen=True)
class Notification:
    """What one notification brings, read before anything of it is delivered."""

    uplink: Uplink
    key: tuple[str, int | None, int | None, datetime] | None
    """What identifies it among the server's retries; None when it cannot be told."""
    max_payload: int | None
    position: Location | None
    acknowledged: str | None


def task_request_id(answer: Mapping[str, Any], what: str) -> str:
    """Return the task id (``reqId``) of a device task's ``statusUrl`` answer."""
    status_url = opt_str(answer, "statusUrl")
    if status_url is None:
        raise ProtocolError(f"{what} answered without statusUrl")
    try:
        request_id = URL(status_url).query.get("reqId")
    except ValueError:
        request_id = None
    if not request_id:
        raise ProtocolError(f"{what} answered a statusUrl without reqId")
    return request_id


def task_outcome(task: Mapping[str, Any]) -> None:
    """Raise InvalidRequest when a finished task failed or reports errors (with its messages)."""
    result = task.get("result")
    result = result if isinstance(result, Mapping) else {}
    stats = result.get("stats")
    errors = _optional(opt_int, stats, "errors") if isinstance(stats, Mapping) else None
    if task.get("state") == "DONE_FAIL" or errors:
        messages = result.get("msgs")
        detail = "; ".join(str(m) for m in messages) if isinstance(messages, list) else ""
        status = result.get("status")
        raise InvalidRequest(
            detail or (status if isinstance(status, str) and status else "the task failed")
        )


def message_id(answer: Mapping[str, Any], what: str) -> str | None:
    """
    Return the ``msgId`` of a successful downlink answer.

    The answer is a success (HTTP 200): a missing or strange id is no reason to report a
    failure of a downlink that is queued. It is None then (with a warning).
    """
    try:
        found = _opt_id(answer, "msgId")
    except ProtocolError:
        found = None
    if found is None:
        _LOGGER.warning("%s answered success without a message id", what)
    return found


def devices_from_csv(text: str, fields: Sequence[str] = ()) -> list[ServerDevice]:
    """
    Read a ``csvExport`` answer: a header row, then one device per row (quoted as CSV).

    Columns are known by their header; a header the document does not show is known by its
    position when the header has one column per requested field, in their order (as in the
    document's sample, 003:654-661).
    """
    rows = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header = next(rows, None)
    if header is None:
        return []
    columns = [_COLUMNS.get(name.strip().lower().replace(" ", "")) for name in header]
    if len(fields) == len(header):
        columns = [
            column or _COLUMNS.get(field.lower())
            for column, field in zip(columns, fields, strict=True)
        ]
    if "devEui" not in columns:
        raise ProtocolError("the device export has no Dev EUI column")
    devices = []
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        values = {
            column: cell.strip()
            for column, cell in zip(columns, row, strict=False)
            if column and cell.strip()
        }
        try:
            dev_eui = eui(values.get("devEui"), "Dev EUI")
        except ProtocolError:
            _LOGGER.warning("The device export has a row without a valid Dev EUI: skipped")
            continue
        devices.append(
            ServerDevice(
                dev_eui=dev_eui,
                name=values.get("metadata"),
                model=values.get("devType"),
                dev_addr=values.get("devAddr", "").upper() or None,
                activation=values.get("state"),
                location=_location(values, "lat", "lng"),
                profile=values.get("profId"),
            )
        )
    return devices


def read_notification(data: Mapping[str, Any], app_eui: str) -> Notification | None:
    """Read one notification; None when it is not ``app_eui``'s (or is a gateway's copy)."""
    fields = notification_fields(data)
    uplink, server_time = _uplink(fields, data)
    sent_to = _optional(_opt_eui, fields, "appEui")
    if sent_to is not None and sent_to != app_eui:
        return None  # another application's uplink
    if _optional(opt_bool, fields, "dup"):
        return None  # a copy heard by another gateway: the first was forwarded already
    # Legacy notifications have no joinId and a rejoin starts seqno again: the server's
    # time of the uplink tells a new uplink from a replay (as the coordinator does). A
    # notification without a valid time cannot be told from its retries: no key.
    key = (
        None
        if server_time is None
        else (uplink.dev_eui, _optional(opt_int, fields, "joinId"), uplink.f_cnt, server_time)
    )
    acknowledged = _optional(_opt_id, fields, "ackDnMsgId")
    return Notification(
        uplink=uplink,
        key=key,
        max_payload=_ranged(fields, "maxPayload", 0, 255),
        position=uplink.location or _location(fields, "cfgLat", "cfgLng", warn=True),
        acknowledged=acknowledged,
    )


_LEAVING: Final = frozenset({"FAILED", "CLOSING"})
"""Member states of a device that is not (or no longer) in the group's session."""


def joining(state: str) -> bool:
    """Whether a member in this state is (or is getting) in the group's session."""
    return state.upper() not in _LEAVING


def group_states(answer: Mapping[str, Any]) -> dict[str, str]:
    """Return each DevEUI a group answer lists, with its state ("Initializing", "Failed"...)."""
    devices = answer.get("devs")
    states: dict[str, str] = {}
    for item in devices if isinstance(devices, list) else []:
        if not isinstance(item, Mapping):
            continue
        try:
            dev_eui = eui(item.get("devEui"), "devEui")
        except ProtocolError:
            continue
        state = item.get("state")
        states[dev_eui] = state if isinstance(state, str) and state else "unknown"
    return states


def group_class(answer: Mapping[str, Any]) -> LoRaClass | None:
    """Return a group answer's class ("CLASS_C"; "C" read too)."""
    return _optional(_opt_class, answer, "devClass")


def split_tags(tags: Sequence[str]) -> list[str]:
    """Return the tags as SenRa has them: a tag with a comma is several (tags are a list)."""
    return [part.strip() for tag in tags for part in tag.split(",") if part.strip()]


def group_from_status(answer: Mapping[str, Any], group_id: str) -> MulticastGroup:
    """Return the group an ``mcast/status`` answer shows, with each member's state."""
    states = group_states(answer)
    address = _optional(opt_str, answer, "mcAddr")
    return MulticastGroup(
        group_id=(address or group_id).upper(),
        device_class=group_class(answer),
        dev_euis=tuple(states),
        states=states,
    )


def fuota_status_from(status: Mapping[str, Any], job_id: str) -> FuotaStatus:
    """Return where a firmware update is (``mcastStatus``); a wrong value is left out."""
    return FuotaStatus(
        job_id=_optional(opt_str, status, "jobId") or job_id,
        state=_optional(opt_str, status, "state") or "unknown",
        percent_done=_ranged(status, "pctDone", 0, 100),
        result=_optional(opt_str, status, "result"),
    )
