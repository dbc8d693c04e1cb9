"""
What the frames of the OrionM2M WebSocket API mean: uplinks, devices, errors, updates, history.

Section numbers refer to the vendor's document "OrionNetworkServer - Description of WEBSOCKET
API" (revision 12).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
import math
import time
from typing import Any, Final

import orjson

from .errors import AuthError, CannotConnect, InvalidRequest, LimitReached, LnsError, ProtocolError
from .models import Gateway, Location, LoRaClass, ServerDevice, Uplink
from .parse import eui, hex_id, hex_payload, opt_float, opt_int, opt_str, parse_time

TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S%z"
"""The API's date format: ``YYYY-MM-DD HH:MM:SS+HHMM``."""

CLASS_TO_ORION: Final = {LoRaClass.A: 1, LoRaClass.B: 2, LoRaClass.C: 3}
ORION_TO_CLASS: Final = {value: key for key, value in CLASS_TO_ORION.items()}
_ACTIVATION: Final = {0: "OTAA", 1: "ABP"}
MAX_AHEAD: Final = 3600.0
"""
Seconds an uplink's time may be ahead of this clock; a later one is no time.

Believed, it would become the resume point, and every later catch-up would start after what it
has to fetch.
"""
_CONFIRMED_UP: Final = 4
"""LoRaWAN MType of a confirmed data uplink."""
_PORT_KEYS: Final = ("fport", "fPort", "port")
"""
Where a server may put an uplink's FPort.

Neither ``realtime_data`` (3.11) nor a ``get_data_resp`` row (3.15) has a port in the document; the
downlink request (3.18) names it ``fport``. Without one the uplink's port stays unknown (None).
"""

# Every documented error code, per command: (error type, stable key, the document's reason).
_UNAUTHORIZED = (AuthError, "invalid_auth", "Unauthorized access")
_REQUIRED = (InvalidRequest, "invalid_request", "Required field is not filled")
_BAD_DATA = (InvalidRequest, "invalid_request", "Data is filled in with an error")
_ERRORS: Final[dict[str, dict[int, tuple[type[LnsError], str, str]]]] = {
    "connected": {
        1: (AuthError, "invalid_auth", "Auth error"),
        2: (LimitReached, "client_limit", "Clients count limit reached"),
    },
    "consume_resp": {
        1: (LimitReached, "consumer_limit", "Consumer limit reached"),
        2: (LimitReached, "already_consumed", "Already consumed"),
        3: (CannotConnect, "application_disabled", "Disabled application"),
    },
    "get_devices_resp": {1: _UNAUTHORIZED, 2: _REQUIRED, 3: _BAD_DATA},
    "update_device_resp": {
        1: _UNAUTHORIZED,
        2: _REQUIRED,
        3: _BAD_DATA,
        4: (InvalidRequest, "invalid_request", "Uniq failed"),
        5: (InvalidRequest, "invalid_request", "Application does not exists"),
        6: (InvalidRequest, "invalid_request", "Tariff does not exists"),
        7: (InvalidRequest, "invalid_request", "Tariff can be changed no more than once a day"),
        8: (CannotConnect, "server_error", "Unexpected error"),
        9: (InvalidRequest, "unknown_device", "Node does not exists"),
    },
    "get_data_resp": {
        1: (InvalidRequest, "invalid_request", "Date parse error"),
        2: (AuthError, "invalid_auth", "Unauthorized request"),
        3: (InvalidRequest, "invalid_request", "Invalid date range"),
    },
    "dev_lw_class_resp": {1: _UNAUTHORIZED, 2: _REQUIRED, 3: _BAD_DATA},
    "max_dl_data_resp": {
        1: (InvalidRequest, "unknown_device", "Device not found"),
        2: _UNAUTHORIZED,
    },
    "downlink_data_resp": {
        1: (InvalidRequest, "unknown_device", "Device not found"),
        2: _UNAUTHORIZED,
        3: (InvalidRequest, "invalid_payload", "Not HEX in data"),
        4: (InvalidRequest, "payload_too_large", "Payload max size exceed for current SF"),
        5: (InvalidRequest, "invalid_request", "Impossible datarate value"),
        6: (InvalidRequest, "invalid_request", "Frequency must be float"),
        7: (InvalidRequest, "invalid_request", "Frequency not in band range"),
    },
    "downlink_ack_resp": {
        1: (InvalidRequest, "invalid_request", "dataId is required"),
        2: (InvalidRequest, "unknown_device", "Device not found"),
    },
    "get_device_coordinates_resp": {1: _UNAUTHORIZED, 2: _REQUIRED, 3: _BAD_DATA},
}

UPDATE_FIELDS: Final = (
    "devEui",
    "devAddr",
    "application_eui",
    "description",
    "app_key",
    "nwks_key",
    "apps_key",
    "node_class",
    "rx_window",
    "adr",
    "adr_interval",
    "adr_min",
    "adr_max",
    "adr_fix",
    "duty_cycle",
    "seq_up",
    "seq_down",
    "seq_chk",
    "region",
    "activation",
    "down_queue",
    "lat",
    "lon",
)
"""The fields of ``update_device_req`` (3.9), in the document's order."""


def format_time(value: datetime) -> str:
    """Return a time in the API's format."""
    return value.astimezone(UTC).strftime(TIME_FORMAT)


def raise_for_status(message: Mapping[str, Any]) -> None:
    """Raise the documented error for a response whose ``status`` is 2 (ERROR)."""
    if message.get("status") != 2:
        return
    cmd = str(message.get("cmd"))
    code = message.get("error_code")
    known = _ERRORS.get(cmd, {})
    if isinstance(code, int) and code in known:
        error_type, key, reason = known[code]
        raise error_type(reason, key=key, code=code)
    raise InvalidRequest(
        f"{cmd} failed with error code {code}", code=code if isinstance(code, int) else None
    )


def _lenient[T](
    read: Callable[[Mapping[str, Any], str], T | None],
    data: Mapping[str, Any],
    key: str,
    dropped: list[str],
) -> T | None:
    """Return ``read(data, key)``, or None with ``key`` added to ``dropped`` when it is bad."""
    try:
        return read(data, key)
    except ProtocolError:
        dropped.append(key)
        return None


def _counter(data: Mapping[str, Any], key: str) -> int | None:
    """Return a uint32 frame counter."""
    value = opt_int(data, key)
    if value is not None and not 0 <= value < 2**32:
        raise ProtocolError(f"{key} is out of range")
    return value


def _data_rate(data: Mapping[str, Any], key: str) -> int | None:
    """Return a LoRaWAN data rate index (the document: 0-7)."""
    value = opt_int(data, key)
    if value is not None and not 0 <= value <= 15:
        raise ProtocolError(f"{key} is out of range")
    return value


def _port(data: Mapping[str, Any], _key: str = "fport") -> int | None:
    """Return the FPort a server sent in one of ``_PORT_KEYS``, None when it sent none."""
    for key in _PORT_KEYS:
        if key in data:
            value = opt_int(data, key)
            if value is not None and not 0 <= value <= 255:
                raise ProtocolError(f"{key} is out of range")
            return value
    return None


def _gateway_id(data: Mapping[str, Any], _key: str = "gateway") -> str | None:
    """
    Return the gateway's identity: its EUI where the server gives one.

    A ``get_data_resp`` row (3.15) carries ``gatewayEui`` beside a numeric ``gatewayId`` (the
    schema's uint32); ``realtime_data`` (3.11) documents ``gatewayId`` as uint32 but its example
    carries the gateway's EUI there. Both readings are accepted: a hex string is an EUI, a number
    is the server's own id (kept as the number, never dressed up as an EUI).
    """
    value = data.get("gatewayEui")
    key = "gatewayEui"
    if value is None or value == "":
        value = data.get("gatewayId")
        key = "gatewayId"
        if value is None or value == "":
            return None
        if type(value) is int:
            if value < 0:
                raise ProtocolError(f"{key} is negative")
            return str(value)
    return hex_id(value, key)


def uplink_from_frame(
    dev_eui: object,
    data: Mapping[str, Any],
    dev_addr: object,
    *,
    dropped: list[str] | None = None,
    live: bool = False,
) -> Uplink:
    """
    Build an Uplink from a ``realtime_data`` ``data`` object or a ``get_data_resp`` row.

    Raises ProtocolError when the device or the payload is missing or malformed, or the time
    (which places a stored uplink) of a stored one; a time more than ``MAX_AHEAD`` ahead is no
    time. Any other bad value is left out, and its key added to ``dropped``; a live uplink
    without a readable time was received now.
    """
    device = eui(dev_eui, "devEui")
    payload = hex_payload(data.get("data"), "data")
    try:
        received_at = parse_time(data.get("time"), "time")
        if received_at.timestamp() > time.time() + MAX_AHEAD:
            raise ProtocolError("time is in the future")
    except ProtocolError:
        if not live:
            raise
        received_at = datetime.now(UTC)
        if dropped is not None:
            dropped.append("time")
    try:
        snr = opt_float(data, "lsnr")
        rssi = opt_float(data, "rssi")
        frequency = opt_float(data, "freq")
        data_rate = _data_rate(data, "datr")
        mtype = opt_int(data, "mtype")
        f_cnt = _counter(data, "fcnt")
        f_port = _port(data)
        gateway = _gateway_id(data)
    except ProtocolError:
        # Rare: read each value on its own, so that one bad value loses only itself.
        bad: list[str] = dropped if dropped is not None else []
        snr = _lenient(opt_float, data, "lsnr", bad)
        rssi = _lenient(opt_float, data, "rssi", bad)
        frequency = _lenient(opt_float, data, "freq", bad)
        data_rate = _lenient(_data_rate, data, "datr", bad)
        mtype = _lenient(opt_int, data, "mtype", bad)
        f_cnt = _lenient(_counter, data, "fcnt", bad)
        f_port = _lenient(_port, data, "fport", bad)
        gateway = _lenient(_gateway_id, data, "gateway", bad)
    return Uplink(
        dev_eui=device,
        received_at=received_at,
        f_port=f_port,
        f_cnt=f_cnt,
        payload=payload,
        rssi=rssi,
        snr=snr,
        data_rate=None if data_rate is None else f"DR{data_rate}",
        # Orion's regions (EU, KZ, RU, BY...) are all 868 MHz plans: DR0..DR5 = SF12..SF7.
        spreading_factor=12 - data_rate if data_rate is not None and data_rate <= 5 else None,
        frequency=frequency,
        gateways=() if gateway is None else (Gateway(gateway, rssi, snr),),
        confirmed=None if mtype is None else mtype == _CONFIRMED_UP,
        # ``ack`` is ADRACKReq ("ADR ack required", 3.11), not a downlink acknowledgement: it
        # stays in ``raw`` only.
        dev_addr=dev_addr if isinstance(dev_addr, str) and dev_addr else None,
        raw=data,
    )


def _coordinate(data: Mapping[str, Any], key: str, limit: float) -> float | None:
    value = opt_float(data, key)
    if value is not None and not -limit <= value <= limit:
        raise ProtocolError(f"{key} is out of range")
    return value


def location_from(entry: Mapping[str, Any], dropped: list[str] | None = None) -> Location | None:
    """
    Return the position in ``lat``/``lon``, None when unset (or 0, 0).

    ``get_devices_resp`` (3.7) documents them as strings, its sample and the other commands as
    numbers: both are read. A value that is no coordinate leaves the position out, its key added
    to ``dropped`` (ProtocolError without ``dropped``).
    """
    bad: list[str] = []
    lat = _lenient(lambda data, key: _coordinate(data, key, 90), entry, "lat", bad)
    lon = _lenient(lambda data, key: _coordinate(data, key, 180), entry, "lon", bad)
    if bad:
        if dropped is None:
            raise ProtocolError(f"{' and '.join(bad)} not a coordinate")
        dropped.extend(bad)
        return None
    if lat is None or lon is None or (lat == 0 and lon == 0):
        return None
    return Location(lat, lon)


def device_from_entry(entry: Mapping[str, Any], dropped: list[str] | None = None) -> ServerDevice:
    """
    Build a ServerDevice from a ``get_devices_resp`` entry, leaving every key behind.

    Raises ProtocolError without a valid ``devEui``; any other bad value is left out and its key
    added to ``dropped``.
    """
    dev_eui = eui(entry.get("devEui"), "devEui")
    bad: list[str] = dropped if dropped is not None else []
    node_class = _lenient(opt_int, entry, "node_class", bad)
    activation = _lenient(opt_int, entry, "activation", bad)
    return ServerDevice(
        dev_eui=dev_eui,
        name=_lenient(opt_str, entry, "description", bad),
        dev_addr=_lenient(opt_str, entry, "devAddr", bad),
        app_eui=_lenient(opt_str, entry, "application_eui", bad),
        device_class=ORION_TO_CLASS.get(node_class) if node_class is not None else None,
        activation=_ACTIVATION.get(activation) if activation is not None else None,
        location=location_from(entry, bad),
    )


def same_device(entry: object, dev_eui: str) -> bool:
    """Whether a list entry (``deviceList``, ``devList``) is about ``dev_eui``."""
    if not isinstance(entry, Mapping):
        return False
    try:
        return eui(entry.get("devEui"), "devEui") == dev_eui
    except ProtocolError:
        return False


def update_request(record: Mapping[str, Any], dev_eui: str, node_class: int) -> dict[str, Any]:
    """
    Return the ``update_device_req`` that writes ``record`` back with another ``node_class``.

    The document (3.9) marks only ``operation_id``, ``devEui`` and ``devAddr`` optional, and error
    2 is "Required field is not filled"; its example sends part of a record. Sending the whole
    record, as read a moment before with ``get_devices_req``, satisfies both readings and never
    resets a field the server would default. The frame counters are written back as read: only an
    uplink between the read and the write could make them older.
    """
    request: dict[str, Any] = {"cmd": "update_device_req"}
    for key in UPDATE_FIELDS:
        if key in record:
            request[key] = record[key]
    request["devEui"] = dev_eui
    if not request.get("devAddr"):
        request.pop("devAddr", None)  # optional; an unjoined device has none to write back
    for key in ("lat", "lon"):
        # Strings in get_devices_resp (3.7), floats in update_device_req (3.9). A value that is
        # no number goes back as the server gave it rather than being cleared.
        value = request.get(key)
        if isinstance(value, str):
            if value.strip() == "":
                request[key] = None
            else:
                try:
                    number = float(value)
                except ValueError:
                    continue
                if math.isfinite(number):
                    request[key] = number
    request["node_class"] = node_class
    return request


def history_complete(message: Mapping[str, Any]) -> bool:
    """
    Whether a ``get_data_resp`` is the result, rather than an acknowledgement before it.

    The document's statuses are "1 - Accepted; 2 - ERROR; 3 - SUCCESS" (3.15) while its sample
    carries the rows with status 1: a status 1 without ``dataList`` (nor ``dataCount`` 0) is
    taken as "accepted, the result follows".
    """
    return message.get("status") != 1 or "dataList" in message or message.get("dataCount") == 0


def row_key(row: object) -> bytes:
    """Identify a stored uplink across pages (``id`` alone is not trusted to be unique)."""
    if not isinstance(row, Mapping):
        return orjson.dumps(row)
    return orjson.dumps(
        [row.get("devEui"), row.get("time"), row.get("fcnt"), row.get("id"), row.get("data")]
    )


def row_time(row: object) -> datetime | None:
    """Return when a stored uplink was received; None when the row does not say."""
    if not isinstance(row, Mapping):
        return None
    try:
        return parse_time(row.get("time"), "time")
    except ProtocolError:
        return None
