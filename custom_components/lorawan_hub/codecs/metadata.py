"""
Infer Home Assistant entity metadata from a flat field key, its value and an optional unit.

A small matcher over two tables, with no Home Assistant import: the rules of ``field_rules``
(what a key's words name) and the units of ``units``. Device classes, state classes and units
are the plain strings Home Assistant uses.

A key is split into snake_case tokens (``water_temperature_c`` -> ``water``, ``temperature``,
``c``); pure numbers (channels, list indexes) are ignored. A unit may come from the codec (it wins),
from a unit suffix token at the end of the key, or from the default unit of the matched rule.
Rules match when all tokens of one of their names are present; the most specific name wins,
then the higher priority, then the name found furthest right (``battery_temperature`` is a
temperature).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
import re
from typing import Final

from .field_rules import BINARY_RULES, EXCLUDED_TOKENS, SENSOR_RULES, BinaryRule, SensorRule
from .fields import snake_case
from .units import (
    DEGREE,
    MEASUREMENT,
    MEASUREMENT_ANGLE,
    RULE_ONLY_SUFFIXES,
    SUFFIX_UNITS,
    UNIT_DEVICE_CLASSES,
    UNIT_PRECISION,
    UNIT_SPELLINGS,
    WEAK_SUFFIXES,
)


class EntityKind(StrEnum):
    """The kind of entity a field becomes (the Home Assistant platform of that name)."""

    SENSOR = "sensor"
    BINARY_SENSOR = "binary_sensor"


@dataclass(frozen=True, slots=True)
class FieldMeta:
    """The entity metadata inferred for one field."""

    platform: EntityKind
    device_class: str | None = None
    unit: str | None = None
    state_class: str | None = None
    suggested_display_precision: int | None = None


# Units written the way Home Assistant writes them are kept as they are; other spellings are
# looked up, without case and spaces, in UNIT_SPELLINGS.
_CANONICAL_UNITS: Final = frozenset(
    {
        unit
        for rule in SENSOR_RULES
        for unit in (*rule.units, rule.default_unit, *rule.unit_aliases.values())
        if unit is not None
    }
    | set(UNIT_DEVICE_CLASSES)
    | set(SUFFIX_UNITS.values())
)


def normalize_unit(unit: str | None) -> str | None:
    """Return ``unit`` spelt the way Home Assistant spells it; unknown units come back stripped."""
    if unit is None:
        return None
    text = unit.strip()
    if not text:
        return None
    if text in _CANONICAL_UNITS:
        return text
    return UNIT_SPELLINGS.get(text.lower().replace(" ", ""), text)


@dataclass(frozen=True, slots=True)
class _Compiled[RuleT]:
    """A rule with each of its names split into a token set."""

    rule: RuleT
    names: tuple[frozenset[str], ...]


def _compile[RuleT: (SensorRule, BinaryRule)](
    rules: tuple[RuleT, ...],
) -> tuple[_Compiled[RuleT], ...]:
    """Split the names of ``rules`` into token sets."""
    return tuple(
        _Compiled(rule, tuple(frozenset(name.split("_")) for name in rule.names)) for rule in rules
    )


_SENSOR_COMPILED: Final = _compile(SENSOR_RULES)
_BINARY_COMPILED: Final = _compile(BINARY_RULES)
_KNOWN_TOKENS: Final = frozenset(
    token
    for compiled in (*_SENSOR_COMPILED, *_BINARY_COMPILED)
    for name in compiled.names
    for token in name
) | frozenset(SUFFIX_UNITS)
_WORD_AND_NUMBER = re.compile(r"([a-z]+)\d+")


def key_tokens(key: str) -> list[str]:
    """
    Split a key into the tokens the rules match.

    Pure numbers are left out; a word glued to a number (``temperature1``) is read as the word
    unless the whole token is known (``co2``, ``pm10``).
    """
    tokens: list[str] = []
    for part in snake_case(key).split("_"):
        if not part or part.isdigit():
            continue
        match = None if part in _KNOWN_TOKENS else _WORD_AND_NUMBER.fullmatch(part)
        tokens.append(match.group(1) if match and match.group(1) in _KNOWN_TOKENS else part)
    return tokens


def _best[RuleT: (SensorRule, BinaryRule)](
    compiled_rules: tuple[_Compiled[RuleT], ...], tokens: list[str]
) -> tuple[RuleT, frozenset[str]] | None:
    """Return the best rule matching ``tokens`` and the token set of its matching name."""
    positions = {token: index for index, token in enumerate(tokens)}
    best: tuple[RuleT, frozenset[str]] | None = None
    best_rank: tuple[int, int, int] = (0, 0, -1)
    for compiled in compiled_rules:
        for name in compiled.names:
            if name.issubset(positions):
                rank = (len(name), compiled.rule.priority, max(positions[t] for t in name))
                if rank > best_rank:
                    best, best_rank = (compiled.rule, name), rank
    return best


def _binary_meta(tokens: list[str]) -> FieldMeta:
    """Return the metadata of a boolean field."""
    match = _best(_BINARY_COMPILED, tokens)
    return FieldMeta(EntityKind.BINARY_SENSOR, match[0].device_class if match else None)


def _sensor_rule(tokens: list[str]) -> tuple[SensorRule | None, bool]:
    """
    Return the numeric rule for ``tokens`` and whether the key is excluded from the rules.

    A key is excluded when a token beside the matched name says the field is about the quantity
    rather than the quantity itself (``pressure_sensor_id``, ``temperature_alarm``), or names an
    identifier, code or status (``error_code``).
    """
    match = _best(_SENSOR_COMPILED, tokens)
    rule, name = match if match is not None else (None, frozenset[str]())
    if EXCLUDED_TOKENS.intersection(tokens).difference(name):
        return None, True
    return rule, False


def _rule_meta(rule: SensorRule, unit: str | None, value: object) -> FieldMeta:
    """Return the metadata a numeric rule gives for ``unit`` (already resolved, maybe None)."""
    if unit is None:
        unit = rule.default_unit
        if (
            rule.millivolts_above is not None
            and isinstance(value, int | float)
            and abs(value) > rule.millivolts_above
        ):
            unit = "mV"
    unit = rule.unit_aliases.get(unit, unit) if unit is not None else None
    device_class = rule.units.get(unit)
    state_class = rule.state_class
    if state_class == MEASUREMENT_ANGLE and unit != DEGREE:
        state_class = MEASUREMENT
    if rule.precision is not None and (unit == rule.default_unit or rule.default_unit is None):
        precision: int | None = rule.precision
    else:
        precision = UNIT_PRECISION.get(unit) if unit is not None else None
    return FieldMeta(EntityKind.SENSOR, device_class, unit, state_class, precision)


def _unit_meta(unit: str | None) -> FieldMeta:
    """Return the metadata of a numeric field that only its unit describes."""
    if unit is None:
        return FieldMeta(EntityKind.SENSOR, state_class=MEASUREMENT)
    device_class, state_class = UNIT_DEVICE_CLASSES.get(unit, (None, MEASUREMENT))
    return FieldMeta(EntityKind.SENSOR, device_class, unit, state_class, UNIT_PRECISION.get(unit))


def infer_metadata(key: str, value: object, unit: str | None = None) -> FieldMeta:
    """
    Infer the entity metadata of the field ``key`` holding ``value``.

    A bool gives a binary sensor, a string a plain sensor, a number a sensor described by the
    rules. ``None`` is read like a number when the key or unit says what it is, else like a
    string, and so is a unitless number whose key names an identifier, status or alarm.
    ``unit`` (as a codec states it) wins over a unit suffix in the key, which wins over the
    rule's default unit. A unit Home Assistant does not allow for the device class keeps the
    unit and drops the device class.
    """
    tokens = key_tokens(key)
    if isinstance(value, bool):
        return _binary_meta(tokens)
    if not (value is None or isinstance(value, int | float)):
        return FieldMeta(EntityKind.SENSOR)
    suffix: str | None = None
    if tokens and tokens[-1] in SUFFIX_UNITS and (len(tokens) > 1 or len(tokens[-1]) > 2):
        suffix = tokens.pop()
    rule, excluded = _sensor_rule(tokens)
    suffix_unit = SUFFIX_UNITS[suffix] if suffix is not None else None
    if suffix is not None and rule is not None:
        aliased = rule.unit_aliases.get(suffix_unit or "", suffix_unit)
        if aliased not in rule.units and suffix in WEAK_SUFFIXES:
            suffix_unit = None
    elif suffix in RULE_ONLY_SUFFIXES:
        suffix_unit = None
    resolved = normalize_unit(unit) or suffix_unit
    if rule is not None:
        return _rule_meta(rule, resolved, value)
    if resolved is None and (value is None or excluded):
        return FieldMeta(EntityKind.SENSOR)
    return _unit_meta(resolved)


_LOCATION_WORDS: Final = (
    ("latitude", ("longitude",)),
    ("lat", ("lon", "lng")),
)
_ALTITUDE_WORDS: Final = ("altitude", "alt", "elevation")


def location_pairs(keys: Iterable[str]) -> list[tuple[str, str, str, str | None]]:
    """
    Find latitude/longitude pairs among flat keys.

    Returns ``(prefix, latitude_key, longitude_key, altitude_key or None)`` for every
    ``<p>latitude``/``<p>longitude`` or ``<p>lat``/``<p>lon`` (or ``lng``) pair, with or without
    ``_`` before the word: ``gps_4_latitude`` and ``gps_4_longitude`` (and ``gps_4_altitude``)
    give prefix ``gps_4``; ``latitude`` and ``longitude`` give prefix ``""``.
    """
    key_list = list(keys)
    present = set(key_list)
    pairs: list[tuple[str, str, str, str | None]] = []
    used: set[str] = set()
    for key in key_list:
        for lat_word, lon_words in _LOCATION_WORDS:
            if not key.endswith(lat_word) or key in used:
                continue
            stem = key[: -len(lat_word)]
            lon_key = next(
                (stem + word for word in lon_words if stem + word in present - used), None
            )
            if lon_key is None:
                continue
            alt_key = next(
                (stem + word for word in _ALTITUDE_WORDS if stem + word in present), None
            )
            used.update((key, lon_key))
            pairs.append((stem.rstrip("_"), key, lon_key, alt_key))
    return pairs
