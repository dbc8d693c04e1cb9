"""
Cayenne Low Power Payload (LPP): decoder and encoder.

A frame is a sequence of items, each ``channel`` (1 byte), ``type`` (1 byte) and the type's data,
big-endian. Every item becomes one field per value, keyed ``<type_name>_<channel>`` (multi-value
types add a component suffix, e.g. ``accelerometer_3_x`` or ``gps_4_latitude``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
import math
from types import MappingProxyType
from typing import Any, Final, Literal

from .result import DecodeError, DecodeResult

type LppValue = float | int | bool | tuple[float, ...]
type LppKind = Literal["int", "float", "bool"]


@dataclass(frozen=True, slots=True)
class LppComponent:
    """
    One value inside a Cayenne LPP item.

    The wire holds ``raw``, an integer of ``size`` bytes; the value is ``raw / divisor``, rounded
    to ``decimals`` places (the resolution of the type).
    """

    suffix: str
    size: int
    signed: bool = False
    divisor: int = 1
    decimals: int = 0
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class LppType:
    """A Cayenne LPP data type: its type byte, field name and the values it carries."""

    type_id: int
    name: str
    components: tuple[LppComponent, ...]
    kind: LppKind = "float"

    @property
    def size(self) -> int:
        """Return the number of data bytes of one item of this type."""
        return sum(component.size for component in self.components)


def _single(
    size: int,
    *,
    signed: bool = False,
    divisor: int = 1,
    decimals: int = 0,
    unit: str | None = None,
) -> tuple[LppComponent, ...]:
    """Return the component tuple of a single-valued type."""
    return (LppComponent("", size, signed, divisor, decimals, unit),)


def _triple(
    suffixes: tuple[str, str, str],
    size: int,
    *,
    signed: bool,
    divisor: int = 1,
    decimals: int = 0,
    unit: str | None = None,
) -> tuple[LppComponent, ...]:
    """Return the component tuple of a type carrying three alike values."""
    return tuple(LppComponent(s, size, signed, divisor, decimals, unit) for s in suffixes)


LPP_TYPES: tuple[LppType, ...] = (
    LppType(0, "digital_input", _single(1), "int"),
    LppType(1, "digital_output", _single(1), "int"),
    LppType(2, "analog_input", _single(2, signed=True, divisor=100, decimals=2)),
    LppType(3, "analog_output", _single(2, signed=True, divisor=100, decimals=2)),
    LppType(100, "generic_sensor", _single(4), "int"),
    LppType(101, "illuminance", _single(2, unit="lx"), "int"),
    LppType(102, "presence", _single(1), "bool"),
    LppType(103, "temperature", _single(2, signed=True, divisor=10, decimals=1, unit="°C")),
    LppType(104, "humidity", _single(1, divisor=2, decimals=1, unit="%")),
    LppType(
        113,
        "accelerometer",
        _triple(("x", "y", "z"), 2, signed=True, divisor=1000, decimals=3, unit="G"),
    ),
    LppType(115, "barometric_pressure", _single(2, divisor=10, decimals=1, unit="hPa")),
    LppType(116, "voltage", _single(2, divisor=100, decimals=2, unit="V")),
    LppType(117, "current", _single(2, divisor=1000, decimals=3, unit="A")),
    LppType(118, "frequency", _single(4, unit="Hz"), "int"),
    LppType(120, "percentage", _single(1, unit="%"), "int"),
    LppType(121, "altitude", _single(2, signed=True, unit="m"), "int"),
    LppType(125, "concentration", _single(2, unit="ppm"), "int"),
    LppType(128, "power", _single(2, unit="W"), "int"),
    LppType(130, "distance", _single(4, divisor=1000, decimals=3, unit="m")),
    LppType(131, "energy", _single(4, divisor=1000, decimals=3, unit="kWh")),
    LppType(132, "direction", _single(2, unit="°"), "int"),
    LppType(133, "unix_time", _single(4), "int"),
    LppType(
        134,
        "gyrometer",
        _triple(("x", "y", "z"), 2, signed=True, divisor=100, decimals=2, unit="°/s"),
    ),
    LppType(135, "colour", _triple(("red", "green", "blue"), 1, signed=False), "int"),
    LppType(
        136,
        "gps",
        (
            LppComponent("latitude", 3, signed=True, divisor=10000, decimals=4, unit="°"),
            LppComponent("longitude", 3, signed=True, divisor=10000, decimals=4, unit="°"),
            LppComponent("altitude", 3, signed=True, divisor=100, decimals=2, unit="m"),
        ),
    ),
    LppType(142, "switch", _single(1), "bool"),
)
"""Every Cayenne LPP type this codec knows, in type-byte order."""

LPP_TYPES_BY_ID: Mapping[int, LppType] = MappingProxyType({t.type_id: t for t in LPP_TYPES})
LPP_TYPES_BY_NAME: Mapping[str, LppType] = MappingProxyType({t.name: t for t in LPP_TYPES})


type _Part = tuple[int, int, bool, int, int, LppKind, str | None]
"""One value of a compiled type: offset in the item's data, size, signed, divisor, decimals,
kind, unit."""


def _compile(lpp: LppType) -> tuple[int, tuple[_Part, ...]]:
    parts = []
    offset = 0
    for component in lpp.components:
        parts.append(
            (
                offset,
                component.size,
                component.signed,
                component.divisor,
                component.decimals,
                lpp.kind,
                component.unit,
            )
        )
        offset += component.size
    return offset, tuple(parts)


_COMPILED: dict[int, tuple[int, tuple[_Part, ...]]] = {t.type_id: _compile(t) for t in LPP_TYPES}
_KEYS: dict[int, tuple[str, ...]] = {}
"""Field keys per ``type_id << 8 | channel``, made on first use."""


def _field_keys(type_id: int, channel: int) -> tuple[str, ...]:
    """Return the field keys of an item: ``<type_name>_<channel>[_<component>]``."""
    cache_key = type_id << 8 | channel
    keys = _KEYS.get(cache_key)
    if keys is None:
        lpp = LPP_TYPES_BY_ID[type_id]
        base = f"{lpp.name}_{channel}"
        keys = tuple(
            f"{base}_{component.suffix}" if component.suffix else base
            for component in lpp.components
        )
        _KEYS[cache_key] = keys
    return keys


def decode_cayenne_lpp(payload: bytes | bytearray | memoryview) -> DecodeResult:
    """
    Decode a Cayenne LPP frame.

    Raises ``DecodeError`` for an empty payload, an unknown type or a truncated item; no other
    exception is raised for any byte string.
    """
    data = bytes(payload)
    length = len(data)
    if not length:
        raise DecodeError("empty Cayenne LPP payload")
    fields: dict[str, Any] = {}
    units: dict[str, str] = {}
    warnings: list[str] = []
    offset = 0
    from_bytes = int.from_bytes
    while offset < length:
        channel = data[offset]
        if offset + 2 > length:
            raise DecodeError(
                f"truncated Cayenne LPP item at offset {offset}: channel {channel} has no type byte"
            )
        type_id = data[offset + 1]
        compiled = _COMPILED.get(type_id)
        if compiled is None:
            raise DecodeError(
                f"unknown Cayenne LPP type {type_id} (channel {channel}) at offset {offset}"
            )
        size, parts = compiled
        start = offset + 2
        end = start + size
        if end > length:
            name = LPP_TYPES_BY_ID[type_id].name
            raise DecodeError(
                f"truncated Cayenne LPP {name} item (type {type_id}, channel {channel}) "
                f"at offset {offset}: needs {size} data bytes, {length - start} left"
            )
        keys = _field_keys(type_id, channel)
        if keys[0] in fields:
            warnings.append(
                f"duplicate {LPP_TYPES_BY_ID[type_id].name} item on channel {channel} "
                f"at offset {offset}; the later value is kept"
            )
        for key, (position, width, signed, divisor, decimals, kind, unit) in zip(
            keys, parts, strict=True
        ):
            first = start + position
            raw = from_bytes(data[first : first + width], "big", signed=signed)
            if kind == "float":
                fields[key] = round(raw / divisor, decimals)
            elif kind == "int":
                fields[key] = raw
            else:
                fields[key] = raw != 0
            if unit is not None:
                units[key] = unit
        offset = end
    return DecodeResult(fields=fields, units=units, warnings=warnings)


def _encode_component(lpp: LppType, component: LppComponent, channel: int, value: object) -> bytes:
    """Encode one value of an item; raise ``ValueError`` if it does not fit the type."""
    if not isinstance(value, int | float):
        raise TypeError(
            f"{lpp.name} on channel {channel}: value {value!r} is not a number or a bool"
        )
    if not math.isfinite(value):
        raise ValueError(f"{lpp.name} on channel {channel}: value {value!r} is not finite")
    raw = round(value * component.divisor)
    bits = 8 * component.size
    low, high = (
        (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if component.signed else (0, (1 << bits) - 1)
    )
    if not low <= raw <= high:
        raise ValueError(
            f"{lpp.name} on channel {channel}: value {value!r} is out of range "
            f"[{low / component.divisor}, {high / component.divisor}]"
        )
    return raw.to_bytes(component.size, "big", signed=component.signed)


def encode_cayenne_lpp(items: Iterable[tuple[int, str, LppValue]]) -> bytes:
    """
    Encode ``(channel, type name, value)`` items into a Cayenne LPP frame.

    Single-valued types take a number (``presence`` and ``switch`` also a bool); multi-value types
    (accelerometer, gyrometer, colour, gps) take a tuple of three numbers. Values are rounded to
    the type's resolution. Raises ``ValueError`` for an unknown type, a channel outside 0..255 or
    a value that does not fit, and ``TypeError`` for a value that is not a number.
    """
    out = bytearray()
    for channel, type_name, value in items:
        lpp = LPP_TYPES_BY_NAME.get(type_name)
        if lpp is None:
            raise ValueError(f"unknown Cayenne LPP type name {type_name!r}")
        if isinstance(channel, bool) or not isinstance(channel, int) or not 0 <= channel <= 255:
            raise ValueError(f"{type_name}: channel {channel!r} is not in 0..255")
        values: tuple[object, ...] = value if isinstance(value, tuple) else (value,)
        if len(values) != len(lpp.components):
            raise ValueError(
                f"{type_name} on channel {channel} takes {len(lpp.components)} value(s), "
                f"got {value!r}"
            )
        out += bytes((channel, lpp.type_id))
        for component, component_value in zip(lpp.components, values, strict=True):
            out += _encode_component(lpp, component, channel, component_value)
    return bytes(out)


MAX_CHANNEL: Final = 64
"""Cayenne LPP 2.0: data channels are 0 to 64."""
_GENERIC: Final = frozenset({0, 1, 2, 3})
"""Types any bytes are a plausible value of (digital and analog I/O)."""
_PRESENCE: Final = 102
_LOW_PORTS: Final = range(1, 10)
"""Ports where generic LPP firmware sends (LPP 2.0 puts dynamic sensor frames on port 1)."""
_PLAUSIBLE: Final[Mapping[int, tuple[float, float]]] = MappingProxyType(
    {
        104: (0, 100),  # humidity, %
        113: (-16, 16),  # acceleration per axis, G (the largest common sensor range)
        115: (300, 1100),  # barometric pressure, hPa
        120: (0, 100),  # percentage
        132: (0, 359),  # direction, °
        142: (0, 1),  # switch
    }
)
"""Ranges outside of which a value is no measurement of its type."""


def _item_evidence(type_id: int, values: list[Any]) -> bool:
    """Whether an item's values are plausible for its type."""
    if type_id == 136:
        latitude, longitude = float(values[0]), float(values[1])
        return abs(latitude) <= 90 and abs(longitude) <= 180
    bounds = _PLAUSIBLE.get(type_id)
    return bounds is None or all(bounds[0] <= float(value) <= bounds[1] for value in values)


def decode_plausible_cayenne_lpp(
    payload: bytes | bytearray | memoryview, f_port: int | None = None
) -> DecodeResult:
    """
    Decode a payload only when it is plausibly Cayenne LPP (the ``auto`` choice).

    Many payloads of other formats happen to parse as LPP items (3.5 % of the Device
    Repository's uplink examples do), and would create entities from nothing. Beyond parsing,
    a frame must show it: channels within 0-64 (LPP 2.0), every value plausible for its type
    (humidity and percentages 0-100, pressure 300-1100 hPa, GPS on the globe, acceleration
    within ±16 G, direction below 360°, a switch 0 or 1), no all-zero padding item, and at
    least one item of a physical quantity, or a presence of 0 or 1 (frames of only digital or
    analog I/O items are any bytes). On ports 10 and above, where vendors' own formats live, it
    takes two such items. Raises ``DecodeError`` otherwise.
    """
    data = bytes(payload)
    result = decode_cayenne_lpp(data)
    offset = 0
    physical = 0
    while offset < len(data):
        channel, type_id = data[offset], data[offset + 1]
        size, _parts = _COMPILED[type_id]
        item = data[offset + 2 : offset + 2 + size]
        keys = _field_keys(type_id, channel)
        values = [result.fields[key] for key in keys if key in result.fields]
        if channel > MAX_CHANNEL:
            raise DecodeError(f"channel {channel} is beyond Cayenne LPP's 0-{MAX_CHANNEL}")
        if channel == 0 and type_id == 0 and not any(item):
            raise DecodeError(f"an all-zero item at offset {offset} (padding)")
        if not _item_evidence(type_id, values):
            raise DecodeError(f"{LPP_TYPES_BY_ID[type_id].name} {values} is implausible")
        # A presence is evidence when it is a presence (0 or 1); peers' frames also carry 50.
        physical += type_id not in _GENERIC and (type_id != _PRESENCE or item[0] <= 1)
        offset += 2 + size
    needed = 1 if f_port is None or f_port in _LOW_PORTS else 2
    if physical < needed:
        raise DecodeError("too little evidence of Cayenne LPP")
    return result
