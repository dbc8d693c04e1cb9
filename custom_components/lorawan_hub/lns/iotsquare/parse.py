"""
Reading IoTSquare's pushes and answers: uplinks, joins, multicast results, devices.

The document spells some fields two ways (``fCnt`` and ``FCnt``): both are read. A malformed
value is dropped (logged at most once a minute per kind of value), never what holds it; without
its device a push is no push (ProtocolError).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
import functools
import logging
import re
from typing import Any, Final

from ..base import ThrottledLog
from ..errors import ProtocolError
from ..models import (
    DownlinkState,
    DownlinkStatus,
    Gateway,
    LoRaClass,
    MulticastKeys,
    ServerDevice,
    Uplink,
)
from ..parse import MAX_PAYLOAD, as_dict, as_int, eui, opt_bool, opt_float, opt_int, opt_str

_LOGGER = logging.getLogger(__name__)

CLASSES: Final = {"A": LoRaClass.A, "B": LoRaClass.B, "C": LoRaClass.C}
_SF: Final = re.compile(r"SF(\d+)", re.IGNORECASE)
_HEX: Final = re.compile(r"[0-9A-Fa-f]+")

_LOG: Final = ThrottledLog(_LOGGER)


def first_field(data: Mapping[str, Any], *names: str) -> Any:
    """Return the first of ``names`` present (the document spells some fields two ways)."""
    for name in names:
        if name in data:
            return data[name]
    return None


def _base64(value: object, what: str) -> bytes:
    if value is None or value == "":
        return b""
    if not isinstance(value, str) or len(value) > 4 * MAX_PAYLOAD:
        raise ProtocolError(f"{what} is not a base64 payload")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error, ValueError:
        raise ProtocolError(f"{what} is not valid base64") from None


def millis(value: object, what: str) -> datetime:
    """Return a time given in milliseconds since the epoch."""
    milliseconds = as_int(value, what)
    try:
        return datetime.fromtimestamp(milliseconds / 1000, UTC)
    except OverflowError, OSError, ValueError:
        raise ProtocolError(f"{what} is out of range") from None


def lenient[T](read: Callable[[], T], what: str = "value") -> T | None:
    """
    Return what ``read`` reads; None when the value is malformed (that value only is dropped).

    A malformed value is logged, at most once a minute for each kind of value.
    """
    try:
        return read()
    except ProtocolError as err:
        _LOG.warning(f"value:{what}", "Dropped a malformed %s from IoTSquare: %s", what, err)
        return None


def read_text(data: Mapping[str, Any], key: str) -> str | None:
    """Return an optional string field; a malformed one is dropped."""
    return lenient(functools.partial(opt_str, data, key), key)


def read_flag(data: Mapping[str, Any], key: str) -> bool | None:
    """Return an optional boolean field; a malformed one is dropped."""
    return lenient(functools.partial(opt_bool, data, key), key)


def read_number(data: Mapping[str, Any], key: str) -> int | None:
    """Return an optional integer field; a malformed one is dropped."""
    return lenient(functools.partial(opt_int, data, key), key)


def read_eui(value: object, what: str) -> str | None:
    """Return an EUI; None when malformed (logged)."""
    return lenient(functools.partial(eui, value, what), what)


def read_hex(data: Mapping[str, Any], key: str, digits: int) -> str | None:
    """Return a hex field of ``digits`` digits in upper case; None when absent or malformed."""
    value = read_text(data, key)
    if value is None:
        return None
    if len(value) != digits or _HEX.fullmatch(value) is None:
        _LOG.warning(f"value:{key}", "Dropped a malformed %s from IoTSquare", key)
        return None
    return value.upper()


def _gateways(fields: Mapping[str, Any]) -> tuple[Gateway, ...]:
    """Return the gateways that heard the uplink, best first; malformed entries are skipped."""
    listed = first_field(fields, "gws", "GatewayInfo")
    gateways = []
    for item in listed if isinstance(listed, list) else ():
        identifier = first_field(item, "id", "GwID", "gwID") if isinstance(item, Mapping) else None
        if isinstance(identifier, str) and identifier:
            gateways.append(
                Gateway(
                    identifier.upper(),
                    lenient(functools.partial(_rssi, item), "rssi"),
                    lenient(functools.partial(opt_float, item, "snr"), "snr"),
                )
            )
    if gateways:
        return tuple(gateways)
    best = first_field(fields, "gwid", "gwID", "GwID")
    if isinstance(best, str) and best:
        return (
            Gateway(
                best.upper(),
                lenient(lambda: _rssi(fields), "rssi"),
                lenient(lambda: opt_float(fields, "snr"), "snr"),
            ),
        )
    return ()


def _rssi(fields: Mapping[str, Any]) -> float | None:
    return opt_float(fields, "rssi") if "rssi" in fields else opt_float(fields, "Rssi")


def uplink_from_fields(
    dev_eui: str, fields: Mapping[str, Any], received_at: datetime, raw: Mapping[str, Any]
) -> Uplink:
    """
    Build an Uplink from a push's ``data`` or a ``latestDeviceUplink`` answer.

    A malformed field is left out (logged): the payload is then empty, the frame counter
    unknown; the uplink itself, its time and its radio data are kept.
    """
    f_cnt = first_field(fields, "fCnt", "FCnt")
    data_rate = lenient(lambda: opt_int({"dr": first_field(fields, "dr", "Dr")}, "dr"), "dr")
    device_class = first_field(fields, "class", "Class")
    sfbw = fields.get("sfbw")
    spreading = _SF.match(sfbw) if isinstance(sfbw, str) else None
    return Uplink(
        dev_eui=dev_eui,
        received_at=received_at,
        f_port=lenient(
            lambda: opt_int({"fPort": first_field(fields, "fPort", "FPort")}, "fPort"), "fPort"
        ),
        f_cnt=None if f_cnt is None else lenient(lambda: as_int(f_cnt, "fCnt"), "fCnt"),
        payload=lenient(lambda: _base64(first_field(fields, "data", "Data"), "data"), "payload")
        or b"",
        rssi=lenient(lambda: _rssi(fields), "rssi"),
        snr=lenient(lambda: opt_float(fields, "snr"), "snr"),
        data_rate=None if data_rate is None else f"DR{data_rate}",
        spreading_factor=int(spreading.group(1)) if spreading else None,
        frequency=lenient(
            lambda: opt_float({"freq": first_field(fields, "freq", "Freq")}, "freq"), "freq"
        ),
        gateways=_gateways(fields),
        confirmed=read_flag(fields, "confirmed"),
        device_class=CLASSES.get(device_class.upper()) if isinstance(device_class, str) else None,
        raw=raw,
    )


def uplink_from_push(envelope: Mapping[str, Any]) -> Uplink:
    """
    Build an Uplink from an ``/uplink`` push: ``{devEUI, appID, time, type, data}``.

    Without a device or an uplink object there is no uplink (ProtocolError); a malformed time
    is replaced by the time the push arrived.
    """
    dev_eui = eui(envelope.get("devEUI"), "devEUI")
    fields = as_dict(envelope.get("data"), "data")
    received = lenient(lambda: millis(envelope.get("time"), "time"), "time")
    return uplink_from_fields(dev_eui, fields, received or datetime.now(UTC), envelope)


_ACKNOWLEDGED: Final = ("successNum", "successNums", "successCount", "success", "ackNum")
_TOTAL: Final = ("total", "totalNum", "deviceNums", "deviceNum")
_OUTCOME_WORDS: Final = ("result", "status", "state")
_FAILURE_WORDS: Final = frozenset({"fail", "failed", "failure", "error", "timeout"})


def status_from_multicast_push(envelope: Mapping[str, Any]) -> DownlinkStatus:
    """
    Read a multicast downlink result pushed to ``<push link>/multicast``.

    The document says only that, for a group with the multicast extension, IoTSquare pushes
    "each data downlink result" there after one or more rounds of downlinks, with "the number of
    devices that responded successfully" (sections 6.1.4 and 6.2.2); it shows no body. So the
    plausible forms are taken: the uplink push's envelope (``{devEUI, appID, time, type, data}``)
    or a flat object; the group as ``mcEUI`` (or the envelope's ``devEUI``), the group's downlink
    counter as ``fCnt`` (what ``mcdownlink/create`` answered), and the outcome as a count of the
    devices that responded (with their total), a boolean ``success``, or a word (result, status,
    state). A result that tells none of these is reported as sent.
    """
    data = envelope.get("data")
    sources = [envelope] + ([data] if isinstance(data, Mapping) else [])

    def find(*names: str) -> Any:
        for name in names:
            for source in sources:
                if source.get(name) is not None:
                    return source[name]
        return None

    group = eui(find("mcEUI", "mcEui", "McEUI", "devEUI"), "mcEUI")
    f_cnt = lenient(lambda: opt_int({"fCnt": find("fCnt", "FCnt")}, "fCnt"), "fCnt")
    at = lenient(lambda: millis(find("time", "createtime"), "time"), "time")
    responded = next(
        (
            count
            for name in _ACKNOWLEDGED
            if isinstance(count := find(name), int) and not isinstance(count, bool)
        ),
        None,
    )
    total = next(
        (
            count
            for name in _TOTAL
            if isinstance(count := find(name), int) and not isinstance(count, bool)
        ),
        None,
    )
    state, reason = DownlinkState.SENT, None
    if responded is not None:
        state = DownlinkState.ACKNOWLEDGED if responded > 0 else DownlinkState.FAILED
        reason = (
            f"{responded} of {total} devices responded"
            if total is not None
            else f"{responded} devices responded"
        )
    elif isinstance(success := find("success"), bool):
        state = DownlinkState.SENT if success else DownlinkState.FAILED
    elif isinstance(word := find(*_OUTCOME_WORDS), str) and word:
        reason = word
        if word.lower() in _FAILURE_WORDS:
            state = DownlinkState.FAILED
    return DownlinkStatus(
        dev_eui="",
        message_id="" if f_cnt is None else str(f_cnt),
        state=state,
        at=at,
        reason=reason,
        group_id=group,
    )


def device_from_list(item: Mapping[str, Any]) -> ServerDevice:
    """
    Build a ServerDevice from a ``device/list`` entry (without its class: see device/status).

    Only a malformed DevEUI drops the device; another malformed field is left out.
    """
    product = read_text(item, "productType")
    address = read_hex(item, "devAddr", 8)
    return ServerDevice(
        dev_eui=eui(item.get("devEUI"), "devEUI"),
        name=read_text(item, "devName"),
        dev_addr=address,
        model=product if product and product != "lorawan" else None,
        manufacturer="RisingHF" if product in ("rhf3mr01", "rhf3m485") else None,
    )


def class_from_status(status: Mapping[str, Any]) -> LoRaClass:
    """Return the class a device was created for (``supportClassB`` / ``supportClassC``)."""
    if opt_bool(status, "supportClassC"):
        return LoRaClass.C
    if opt_bool(status, "supportClassB"):
        return LoRaClass.B
    return LoRaClass.A


def keys_from_status(status: Mapping[str, Any]) -> MulticastKeys | None:
    """Return a manually configured group's session as its status shows it, None if it does not."""
    address = read_hex(status, "mcAddr", 8)
    app_s_key = read_hex(status, "mcAppSKey", 32)
    nwk_s_key = read_hex(status, "mcNwkSKey", 32)
    if address is None or app_s_key is None or nwk_s_key is None:
        return None
    return MulticastKeys(address=address, app_s_key=app_s_key, nwk_s_key=nwk_s_key)
