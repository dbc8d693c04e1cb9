"""
The LoRaWAN Device Repository's normalized payload (what a codec's ``normalizeUplink`` returns).

Its standard fields carry the units of the repository's normalized payload schema; they are
shown beside the fields the codec decoded, which keep what normalization leaves out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from .result import DecodeResult

NORMALIZED_UNITS: Final[Mapping[str, str]] = {
    "air_temperature": "°C",
    "air_relative_humidity": "%",
    "air_pressure": "hPa",
    "air_co2": "ppm",
    "air_light_intensity": "lx",
    "wind_speed": "m/s",
    "wind_direction": "°",
    "soil_temperature": "°C",
    "soil_moisture": "%",
    "soil_depth": "cm",
    "soil_ec": "dS/m",
    "soil_n": "ppm",
    "soil_p": "ppm",
    "soil_k": "ppm",
    "water_temperature": "°C",
    "battery": "V",
    "metering_water_total": "L",
    "metering_electricity_power": "W",
    "metering_electricity_current": "A",
    "metering_electricity_voltage": "V",
    "metering_electricity_energy": "kWh",
}
"""Units of the standard fields (the repository's normalized payload schema)."""


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _covers(word: str, value: object, other: str, other_value: object) -> bool:
    """
    Whether a normalized field (last word ``other``) covers a decoded one (last word ``word``).

    Both are of one kind, and their words are equal, or one starts the other (with 3+ letters,
    or with fewer when the values are equal: ``t`` and ``temperature``).
    """
    if _kind(value) != _kind(other_value):
        return False
    shorter, longer = sorted((word, other), key=len)
    if shorter == longer:
        return True
    return longer.startswith(shorter) and (len(shorter) >= 3 or value == other_value)


def merge_normalized(decoded: DecodeResult, normalized: DecodeResult) -> DecodeResult:
    """
    Return the normalized fields, and the decoded fields that normalization does not cover.

    A decoded field is covered by a normalized one of the same kind (number, text, ...) whose
    name ends in the same word (``temp`` and ``air_temperature``, ``speed`` and ``wind_speed``);
    the wind sensor's ``direction: "N"`` stays beside the normalized ``wind_direction: 0``.
    """
    covering = [(key.rsplit("_", 1)[-1], value) for key, value in normalized.fields.items()]
    for key, value in decoded.fields.items():
        word = key.rsplit("_", 1)[-1]
        if any(_covers(word, value, other, other_value) for other, other_value in covering):
            continue
        final = key if key not in normalized.fields else f"{key}_decoded"
        normalized.fields[final] = value
        if unit := decoded.units.get(key):
            normalized.units[final] = unit
    normalized.warnings[:0] = decoded.warnings
    return normalized
