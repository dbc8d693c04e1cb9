"""
Reading OrbiWAN's pushes and answers.

Whatever the transport, pushes are objects named by their topic (``{"payloads_ul": {...}}``).
Each reader takes what the document shows; a bad optional value is dropped with a rate-limited
warning, never the message. Without its device (or, for an uplink, its time and frame) a message
cannot be read: ProtocolError.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
import hashlib
import logging
from typing import Any, Final

import orjson
from yarl import URL

from ..base import ThrottledLog
from ..errors import AuthError, CannotConnect, Forbidden, InvalidRequest, LnsError, ProtocolError
from ..models import (
    Alarm,
    DeviceStatus,
    DownlinkResult,
    DownlinkState,
    DownlinkStatus,
    Gateway,
    JoinInfo,
    Location,
    LoRaClass,
    ServerDevice,
    Uplink,
)
from ..parse import (
    MAX_PAYLOAD,
    as_dict,
    eui,
    hex_id,
    opt_bool,
    opt_float,
    opt_int,
    opt_str,
    parse_time,
)

_LOGGER = logging.getLogger(__name__)

SUBSCRIPTION: Final = "payloads_ul,payloads_dl,multicast,nodeinfo,status,joininfo,location,alarm"
"""Every push but ``payloads_ul_early`` and ``join`` (the raw join procedure)."""
TOPICS: Final = tuple(SUBSCRIPTION.split(","))
"""What MQTT subscribes to (answers to downlinks, errors too, come on these topics)."""
UPLINK_TOPICS: Final = frozenset({"payloads_ul", "payloads_ul_early"})
CLASS_TO_ORBIWISE: Final = {LoRaClass.A: 0, LoRaClass.B: 1, LoRaClass.C: 2}
_ORBIWISE_TO_CLASS: Final = {value: key for key, value in CLASS_TO_ORBIWISE.items()}
# transmissionStatus → (state, reason)
_TRANSMISSION: Final[dict[int, tuple[DownlinkState, str | None]]] = {
    0: (DownlinkState.QUEUED, None),
    1: (DownlinkState.SENT, None),
    2: (DownlinkState.ACKNOWLEDGED, None),
    3: (DownlinkState.FAILED, "not acknowledged by the device"),
    4: (DownlinkState.FAILED, "rejected by the network (frame counter or size)"),
    5: (DownlinkState.CANCELLED, None),
}
# Documented statuses of the API: what each means for a request.
STATUS_REASONS: Final = {
    400: "the request is not valid",
    404: "unknown device, group or packet",
    406: "a parameter is not acceptable",
    409: "the device's downlink queue is busy or full",
    410: "the page expired",
    413: "the query is too big",
}


def payload_bytes(value: object, data_format: str, what: str) -> bytes:
    """Decode a payload given in base64 (the default) or hex."""
    if value is None or value == "":
        return b""
    if not isinstance(value, str) or len(value) > 4 * MAX_PAYLOAD:
        raise ProtocolError(f"{what} is not a payload")
    try:
        if data_format == "hex":
            return bytes.fromhex(value)
        return base64.b64decode(value, validate=True)
    except ValueError, binascii.Error:
        raise ProtocolError(f"{what} is not valid {data_format}") from None


_VALUES: Final = ThrottledLog(_LOGGER)
"""Reports the values dropped from pushes (one line per kind of value and minute)."""


def _optional[T](
    read: Callable[[Mapping[str, Any], str], T | None],
    data: Mapping[str, Any],
    key: str,
    what: str,
) -> T | None:
    """Read an optional field; a bad value is dropped (and reported), never the message."""
    try:
        return read(data, key)
    except ProtocolError as err:
        _VALUES.warning(f"{what}:{key}", "Dropped a bad value of a %s: %s", what, err)
        return None


def _optional_eui(data: Mapping[str, Any], key: str, what: str) -> str | None:
    """Read an optional EUI (absent, empty or bad: None)."""
    value = _optional(opt_str, data, key, what)
    if value is None:
        return None
    try:
        return eui(value.strip(), key)
    except ProtocolError as err:
        _VALUES.warning(f"{what}:{key}", "Dropped a bad value of a %s: %s", what, err)
        return None


def location_of(data: Mapping[str, Any], what: str = "message") -> Location | None:
    """
    Return ``latitude``/``longitude`` (and ``altitude``) when present and not both zero.

    Coordinates that cannot be a position are dropped (and reported), never the message.
    """
    lat = _optional(opt_float, data, "latitude", what)
    lon = _optional(opt_float, data, "longitude", what)
    if lat is None or lon is None or (lat == 0 and lon == 0):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        _VALUES.warning(f"{what}:location", "Dropped the coordinates of a %s: out of range", what)
        return None
    return Location(lat, lon, _optional(opt_float, data, "altitude", what))


def _gateways(data: Mapping[str, Any]) -> tuple[Gateway, ...]:
    """Return the gateways of ``gtw_info``, best first; a bad entry is dropped, not the uplink."""
    info = data.get("gtw_info")
    if info is None:
        return ()
    if not isinstance(info, list):
        _VALUES.warning("uplink:gtw_info", "Dropped the gtw_info of an uplink: not a list")
        return ()
    gateways = []
    for item in info:
        try:
            gateway = as_dict(item, "gtw_info item")
            gateway_id = hex_id(gateway.get("gtw_id"), "gtw_id")
        except ProtocolError as err:
            _VALUES.warning("uplink:gtw_id", "Dropped a gateway of an uplink: %s", err)
            continue
        gateways.append(
            Gateway(
                gateway_id,
                _optional(opt_float, gateway, "rssi", "gateway"),
                _optional(opt_float, gateway, "snr", "gateway"),
            )
        )
    gateways.sort(key=lambda gateway: -gateway.rssi if gateway.rssi is not None else float("inf"))
    return tuple(gateways)


def _dev_addr(data: Mapping[str, Any], what: str) -> str | None:
    """Return ``devaddr`` (a hex string, or its decimal value as a number) as 8 hex digits."""
    value = data.get("devaddr")
    if value is None or value == "":
        return None
    try:
        address = hex_id(value, "devaddr", 8)
    except ProtocolError as err:
        _VALUES.warning(f"{what}:devaddr", "Dropped a bad value of a %s: %s", what, err)
        return None
    if len(address) != 8:
        _VALUES.warning(f"{what}:devaddr", "Dropped a bad value of a %s: devaddr", what)
        return None
    return address


def uplink_from_payload(data: Mapping[str, Any], data_format: str = "base64") -> Uplink:
    """
    Build an Uplink from a ``payloads_ul`` push or a stored payload.

    Raises ProtocolError when ``DevEUI``, ``timestamp`` or ``dataFrame`` cannot be read: without
    them there is no uplink. Any other field with a bad value is dropped, with a warning.
    """
    what = "uplink"
    decoded = data.get("decoded")
    if decoded is not None and not isinstance(decoded, dict):
        _VALUES.warning("uplink:decoded", "Dropped the decoded object of an uplink: not an object")
        decoded = None
    decrypted = _optional(opt_bool, data, "decrypted", what)
    frequency = _optional(opt_float, data, "freq", what)
    if frequency is not None and frequency > 1e5:
        frequency /= 1e6  # given in Hz
    if frequency is not None and frequency <= 0:
        _VALUES.warning("uplink:freq", "Dropped a bad value of an uplink: freq %s", frequency)
        frequency = None
    return Uplink(
        dev_eui=eui(data.get("DevEUI"), "DevEUI"),
        received_at=parse_time(data.get("timestamp"), "timestamp"),
        f_port=_optional(opt_int, data, "port", what),
        f_cnt=_optional(opt_int, data, "fcnt", what),
        payload=payload_bytes(data.get("dataFrame"), data_format, "dataFrame"),
        decoded=decoded,
        rssi=_optional(opt_float, data, "rssi", what),
        snr=_optional(opt_float, data, "snr", what),
        data_rate=_optional(opt_str, data, "dr_used", what),
        spreading_factor=_optional(opt_int, data, "sf_used", what),
        frequency=frequency,
        gateways=_gateways(data),
        location=location_of(data, what),
        confirmed=_optional(opt_bool, data, "confirmed", what),
        dev_addr=_dev_addr(data, what),
        encrypted=decrypted is False,
        raw=data,
    )


def payload_id(data: Mapping[str, Any]) -> int | None:
    """Return the ``id`` of a pushed or stored uplink (needed to delete it); bad: None."""
    return _optional(opt_int, data, "id", "uplink")


def _device_class(data: Mapping[str, Any], what: str) -> LoRaClass | None:
    """Return ``device_class`` (device info) or ``lora_device_class`` (registration)."""
    for key in ("device_class", "lora_device_class"):
        value = _optional(opt_int, data, key, what)
        if value is not None:
            return _ORBIWISE_TO_CLASS.get(value)
    return None


def device_from_node(node: Mapping[str, Any]) -> ServerDevice:
    """
    Build a ServerDevice from a device info object, a complete registration or ``nodeinfo``.

    The name is the registration's ``comment`` and the profile its ``device_profile_uuid``,
    which only the complete registration (``?all=true``) carries; an empty one is none (the
    document's sample, 001:342). Keys are left behind.
    """
    what = "device"
    comment = _optional(opt_str, node, "comment", what)
    profile = _optional(opt_str, node, "device_profile_uuid", what)
    return ServerDevice(
        dev_eui=eui(node.get("DevEUI"), "DevEUI"),
        name=(comment.strip() or None) if comment is not None else None,
        app_eui=_optional_eui(node, "appeui", what),
        device_class=_device_class(node, what),
        location=location_of(node, what),
        downlink_f_cnt=_optional(opt_int, node, "dl_fcnt", what),
        profile=(profile.strip() or None) if profile is not None else None,
    )


def status_from_push(data: Mapping[str, Any]) -> DeviceStatus | None:
    """Build a DeviceStatus from a ``status`` push or the status read back; None until ready."""
    what = "device status"
    ready = _optional(opt_int, data, "req_status", what)
    if ready is not None and ready != 3:
        return None
    battery = _optional(opt_int, data, "battery_status", what)
    if battery is not None and not 0 <= battery <= 255:
        _VALUES.warning("status:battery", "Dropped a battery status out of range: %s", battery)
        battery = None
    percent: float | None = None
    if battery is not None and 1 <= battery <= 254:
        # LoRaWAN DevStatusAns: 1 is the minimum, 254 the maximum.
        percent = round((battery - 1) / 253 * 100, 1)
    return DeviceStatus(
        dev_eui=eui(data.get("DevEUI"), "DevEUI"),
        battery=percent,
        external_power=None if battery is None or battery == 255 else battery == 0,
        margin=_optional(opt_int, data, "margin_status", what),
    )


def downlink_status(data: Mapping[str, Any], group: bool = False) -> DownlinkStatus:
    """Build a DownlinkStatus from a ``payloads_dl`` or ``multicast`` push."""
    code = opt_int(data, "transmissionStatus")
    state, reason = _TRANSMISSION.get(code if code is not None else -1, (None, None))
    if state is None:
        raise ProtocolError(f"unknown transmissionStatus {code}")
    message_id = opt_int(data, "id")
    if message_id is None:
        raise ProtocolError("a downlink status without id")
    return DownlinkStatus(
        dev_eui="" if group else eui(data.get("DevEUI"), "DevEUI"),
        message_id=str(message_id),
        state=state,
        reason=reason,
        group_id=_optional(opt_str, data, "groupid", "multicast status") if group else None,
    )


def result_from_answer(data: Mapping[str, Any]) -> DownlinkResult:
    """Build the result of a downlink or multicast from the server's answer."""
    what = "downlink answer"
    message_id = _optional(opt_int, data, "id", what)
    code = _optional(opt_int, data, "transmissionStatus", what)
    state = _TRANSMISSION.get(code if code is not None else 0, (DownlinkState.QUEUED, None))[0]
    return DownlinkResult(
        message_id=None if message_id is None else str(message_id),
        state=state,
        f_cnt=_optional(opt_int, data, "fcnt", what),
    )


def alarm_from_push(data: Mapping[str, Any]) -> Alarm:
    """Build an Alarm from an ``alarm`` push; a bad optional value is dropped, not the alarm."""
    what = "alarm"
    at = None
    if data.get("timestamp") not in (None, ""):
        try:
            at = parse_time(data["timestamp"], "timestamp")
        except ProtocolError as err:
            _VALUES.warning("alarm:timestamp", "Dropped a bad value of an alarm: %s", err)
    return Alarm(
        code=_optional(opt_str, data, "alarm_code", what) or "unknown",
        severity=_optional(opt_str, data, "severity", what) or "warning",
        text=_optional(opt_str, data, "alarm_text", what),
        dev_eui=_optional_eui(data, "DevEUI", what),
        gateway_id=_optional(opt_str, data, "gtw_id", what),
        at=at,
    )


def join_from_push(data: Mapping[str, Any]) -> JoinInfo:
    """Build a JoinInfo from a ``joininfo`` push."""
    what = "joininfo"
    status = _optional(opt_str, data, "join_status", what) or "unknown"
    return JoinInfo(
        dev_eui=eui(data.get("DevEUI"), "DevEUI"),
        status=status,
        app_eui=_optional_eui(data, "appeui", what),
        # JOIN_ACCEPTED starts the session; JOIN_COMPLETE confirms it later (001: join_status).
        accepted=status == "JOIN_ACCEPTED",
    )


@dataclass(slots=True, frozen=True)
class PushConfiguration:
    """
    The push configuration of an account or application (``pushmode/status``), no secrets.

    OrbiWAN keeps one per account and per application sub-account: REST push (``http(s)://``)
    or MQTT client mode (``mqtt(s)://``) share it.
    """

    enabled: bool
    host: str
    port: int | None
    path_prefix: str

    @property
    def target(self) -> str:
        """Where it pushes, safe to show: scheme, host and port (no path, no credentials)."""
        url = URL(self.host)
        host = url.host if url.absolute and url.host else self.host.split("//")[-1].split("/")[0]
        host = host.rpartition("@")[2]
        scheme = f"{url.scheme}://" if url.scheme else ""
        port = f":{self.port}" if self.port else ""
        return f"{scheme}{host}{port}"

    @property
    def fingerprint(self) -> str:
        """A digest of where it pushes (host, port, path), to recognise it later."""
        text = orjson.dumps([self.host, self.port, self.path_prefix])
        return hashlib.sha256(text).hexdigest()[:32]


def push_configuration(status: Mapping[str, Any]) -> PushConfiguration | None:
    """Read ``pushmode/status``; None when nothing is configured (no host)."""
    what = "push configuration"
    host = (_optional(opt_str, status, "host", what) or "").strip()
    if not host:
        return None
    return PushConfiguration(
        enabled=bool(_optional(opt_bool, status, "enabled", what)),
        host=host,
        port=_optional(opt_int, status, "port", what),
        path_prefix=_optional(opt_str, status, "path_prefix", what) or "",
    )


def push_error(data: Mapping[str, Any]) -> LnsError:
    """Return the error an ``error`` answer on the push channel stands for."""
    status = opt_int(data, "status_code")
    reason = opt_str(data, "error_msg") or (
        STATUS_REASONS.get(status, "refused") if status else "refused"
    )
    if status == 401:
        return AuthError(reason, code=status)
    if status == 403:
        return Forbidden(reason, code=status)
    if status is not None and status >= 500:
        return CannotConnect(reason, code=status)
    return InvalidRequest(reason, code=status)
