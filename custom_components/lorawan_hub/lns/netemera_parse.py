"""
Reading the Netemera API v4's documents and frames.

Uplink packets, JSON:API resources, device profiles and activations. Each reader takes what the
document shows and leaves out, with a word to a ``Dropped`` callback, any value it cannot read:
one bad value costs that value, never the uplink or the list around it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
import re
from typing import Any, Final

from .errors import ProtocolError
from .models import Gateway, LoRaClass, Uplink
from .parse import as_dict, eui, hex_payload, opt_bool, opt_float, opt_int, opt_str, parse_time

MAX_EVENT_ID: Final = 256
# An event id goes back to the server in the Last-Event-ID header: visible ASCII only.
_SENDABLE_ID: Final = re.compile(r"[\x21-\x7e]+")
_DEV_ADDR: Final = re.compile(r"[0-9A-Fa-f]{1,8}")

# What a profile's class flags must be for a device to run in each class.
_CLASS_FLAGS: Final = {
    LoRaClass.A: (False, False),
    LoRaClass.B: (True, False),
    LoRaClass.C: (False, True),
}
# Attributes that do not make two profiles different devices: the identity, the name, the class
# flags being changed and the parameters that only apply to a class.
_CLASS_ATTRIBUTES: Final = frozenset(
    {
        "_id",
        "deviceProfileId",
        "name",
        "supportsClassB",
        "classBTimeout",
        "pingSlotPeriod",
        "pingSlotFrequency",
        "supportsClassC",
        "classCTimeout",
    }
)

type Dropped = Callable[[str], None]
"""Told, in words, about each value left out of what is read (for a rate-limited warning)."""


def _ignore(reason: str) -> None:
    """Drop a value silently."""


def path_eui(dev_eui: str) -> str:
    """Return an EUI as the document writes it in paths (``70b3d5ca40000031``): lower case."""
    return dev_eui.lower()


def _ranged[T: (int, float)](
    read: Callable[[Mapping[str, Any], str], T | None],
    data: Mapping[str, Any],
    key: str,
    bounds: tuple[T, T],
    dropped: Dropped,
) -> T | None:
    """Return ``data[key]`` when readable and within ``bounds``; else None, telling why."""
    try:
        value = read(data, key)
    except ProtocolError as err:
        dropped(err.reason)
        return None
    if value is not None and not bounds[0] <= value <= bounds[1]:
        dropped(f"{key} {value} is out of range")
        return None
    return value


def _flag(data: Mapping[str, Any], key: str, dropped: Dropped = _ignore) -> bool | None:
    """Return a boolean field (absent: None); a value that is no boolean is dropped."""
    try:
        return opt_bool(data, key)
    except ProtocolError as err:
        dropped(err.reason)
        return None


def text(data: Mapping[str, Any], key: str, dropped: Dropped = _ignore) -> str | None:
    """Return a string field (absent or empty: None); a value that is no string is dropped."""
    try:
        return opt_str(data, key)
    except ProtocolError as err:
        dropped(err.reason)
        return None


def _gateways(info: object, dropped: Dropped) -> list[Gateway]:
    """Return the gateways of ``gwInfo``, strongest first; a bad entry drops only itself."""
    if info is None:
        return []
    if not isinstance(info, list):
        dropped("gwInfo is not a list")
        return []
    gateways: list[Gateway] = []
    for item in info:
        if not isinstance(item, Mapping):
            dropped("a gwInfo item is not an object")
            continue
        gateway_id = text(item, "id", dropped)
        if gateway_id is None:
            dropped("a gwInfo item has no id")
            continue
        gateways.append(
            Gateway(
                gateway_id.upper(),
                _ranged(opt_float, item, "rssi", (-250.0, 50.0), dropped),
                _ranged(opt_float, item, "snr", (-50.0, 50.0), dropped),
            )
        )
    # Documented as sorted by RSSI, strongest first: make sure of it.
    gateways.sort(key=lambda gateway: -gateway.rssi if gateway.rssi is not None else float("inf"))
    return gateways


def uplink_from_packet(packet: Mapping[str, Any], dropped: Dropped = _ignore) -> Uplink:
    """
    Build an Uplink from an Uplink Packet object of the stream.

    Raises ProtocolError when the packet is no uplink: without a valid ``devEui`` or
    ``recvTime``, or with a payload that is not hex (the uplink's content). Any other bad value
    is left out and named to ``dropped``: it never costs the uplink.
    """
    dev_eui = eui(packet.get("devEui"), "devEui")
    received_at = parse_time(packet.get("recvTime"), "recvTime")
    payload = hex_payload(packet.get("frmPayload"), "frmPayload")
    gateways = _gateways(packet.get("gwInfo"), dropped)
    best = gateways[0] if gateways else None
    data_rate = _ranged(opt_int, packet, "dataRate", (0, 15), dropped)
    frequency = _ranged(opt_float, packet, "ulFreq", (100.0, 3000.0), dropped)
    spreading_factor = None
    if data_rate is not None and 0 <= data_rate <= 5 and frequency and 863 <= frequency <= 870:
        # EU868: DR0..DR5 = SF12..SF7 at 125 kHz.
        spreading_factor = 12 - data_rate
    return Uplink(
        dev_eui=dev_eui,
        received_at=received_at,
        f_port=_ranged(opt_int, packet, "fPort", (0, 255), dropped),
        f_cnt=_ranged(opt_int, packet, "fCntUp", (0, 0xFFFFFFFF), dropped),
        payload=payload,
        rssi=best.rssi if best else None,
        snr=best.snr if best else None,
        data_rate=None if data_rate is None else f"DR{data_rate}",
        spreading_factor=spreading_factor,
        frequency=frequency,
        gateways=tuple(gateways),
        ack=_flag(packet, "ack", dropped),
        raw=packet,
    )


@dataclass(slots=True, frozen=True)
class Application:
    """An application the credentials can see."""

    application_id: str
    name: str | None


def application_from(item: Mapping[str, Any], dropped: Dropped = _ignore) -> Application | None:
    """Return the Application of a resource's attributes; None without an id."""
    application_id = text(item, "applicationId", dropped) or text(item, "_id", dropped)
    if application_id is None:
        return None
    return Application(application_id, text(item, "name", dropped))


def resources(
    document: object, kind: str, dropped: Dropped | None = None
) -> list[Mapping[str, Any]]:
    """
    Return the attributes of every resource of a JSON:API document (one or a list).

    The resource's ``id`` is kept as ``_id``. A document that is not one raises ProtocolError;
    in a list, an item that is no resource is left out (and named to ``dropped``), unless no
    ``dropped`` is given: then it raises too.
    """
    data = as_dict(document, kind).get("data")
    if data is None:
        return []
    listed = isinstance(data, list)
    result: list[Mapping[str, Any]] = []
    for item in data if listed else [data]:
        try:
            resource = as_dict(item, kind)
            found = resource.get("attributes")
            attributes = dict(as_dict({} if found is None else found, f"{kind} attributes"))
        except ProtocolError as err:
            if not listed or dropped is None:
                raise
            dropped(err.reason)
            continue
        if "id" in resource:
            attributes.setdefault("_id", resource["id"])
        result.append(attributes)
    return result


def resource(document: object, kind: str) -> Mapping[str, Any]:
    """Return the attributes of the one resource of a JSON:API document."""
    found = resources(document, kind)
    if not found:
        raise ProtocolError(f"the answer holds no {kind}")
    return found[0]


def profile_id(profile: Mapping[str, Any]) -> str | None:
    """Return a device profile's id (its attribute, else the resource id)."""
    return text(profile, "deviceProfileId") or text(profile, "_id")


def profile_class(profile: Mapping[str, Any]) -> LoRaClass | None:
    """
    Return the class a device with this profile runs in: C or B where supported, else A.

    None when a class flag is there but is no boolean: the class is unknown, not A.
    """
    class_b, class_c = _profile_flags(profile)
    if class_c is None:
        return None
    if class_c:
        return LoRaClass.C
    if class_b is None:
        return None
    return LoRaClass.B if class_b else LoRaClass.A


def _profile_flags(profile: Mapping[str, Any]) -> tuple[bool | None, bool | None]:
    """Return (supportsClassB, supportsClassC); absent is False, a value of another type None."""
    flags: list[bool | None] = []
    for key in ("supportsClassB", "supportsClassC"):
        try:
            flags.append(bool(opt_bool(profile, key)))
        except ProtocolError:
            flags.append(None)
    return flags[0], flags[1]


def profile_like(
    current: Mapping[str, Any], profiles: Sequence[Mapping[str, Any]], wanted: LoRaClass
) -> Mapping[str, Any] | None:
    """Return the profile identical to ``current`` except for its class support, or None."""
    flags = _CLASS_FLAGS[wanted]
    same = {key: value for key, value in current.items() if key not in _CLASS_ATTRIBUTES}
    candidates = [
        profile
        for profile in profiles
        if _profile_flags(profile) == flags
        and profile_id(profile) is not None
        and {key: value for key, value in profile.items() if key not in _CLASS_ATTRIBUTES} == same
    ]
    # Several copies: the one named most like the current profile, else the first by id.
    name = text(current, "name") or ""
    candidates.sort(
        key=lambda profile: (
            not (text(profile, "name") or "").startswith(name),
            str(profile_id(profile)),
        )
    )
    return candidates[0] if candidates else None


def dev_addr(value: object) -> str | None:
    """
    Return a DevAddr as 8 upper-case hex digits; None when it is not one.

    The document's activation sample writes ``"devAddr": "0000000"`` (seven digits): shorter
    hex is read as the number it is, zero-padded.
    """
    if not isinstance(value, str) or _DEV_ADDR.fullmatch(value) is None:
        return None
    return value.upper().rjust(8, "0")


def sendable_id(value: str) -> bool:
    """Whether an event id can be sent back in a Last-Event-ID header."""
    return len(value) <= MAX_EVENT_ID and _SENDABLE_ID.fullmatch(value) is not None
