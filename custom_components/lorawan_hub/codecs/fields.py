"""Flatten a decoded (nested) payload object into flat snake_case fields."""

from __future__ import annotations

from collections.abc import Mapping
import functools
import math
import re
from typing import Any, Final
import unicodedata

from .result import DecodeResult

MAX_STRING_LENGTH: Final = 255
MAX_DEPTH: Final = 32
_LISTED_DROPPED: Final = 10

_ACRONYM_BEFORE_WORD = re.compile(r"([A-Z]+)([A-Z][a-z])")
# A lower-case letter or digit followed by a capital starts a new word, unless the lower-case
# part is a single letter opening the name ("pH", "eCO2", "tVOC" stay one word).
_LOWER_BEFORE_UPPER = re.compile(r"(?<=[A-Za-z0-9][a-z0-9])(?=[A-Z])")
_NOT_ALLOWED = re.compile(r"[^a-z0-9_]")
_REPEATED_UNDERSCORE = re.compile(r"_{2,}")


@functools.lru_cache(maxsize=4096)
def snake_case(name: str) -> str:
    """
    Return ``name`` as a snake_case key made of ``[a-z0-9_]``.

    camelCase words are split (``relativeHumidity`` -> ``relative_humidity``), acronyms kept
    together (``CO2`` -> ``co2``), accents removed, every other character replaced by ``_``
    (``pm2.5`` -> ``pm2_5``), repeated ``_`` collapsed and leading/trailing ``_`` stripped.
    The result may be empty.
    """
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    split = _LOWER_BEFORE_UPPER.sub("_", _ACRONYM_BEFORE_WORD.sub(r"\1_\2", plain))
    cleaned = _NOT_ALLOWED.sub("_", split.lower())
    return _REPEATED_UNDERSCORE.sub("_", cleaned).strip("_")


def _join(prefix: str, name: str) -> str:
    """Join a parent key and a child name with ``_``, skipping empty parts."""
    if not name:
        return prefix
    if not prefix:
        return name
    return f"{prefix}_{name}"


def _is_unit_value(value: Mapping[Any, Any]) -> bool:
    """Return whether ``value`` is exactly ``{"value": <scalar>, "unit": <str>}``."""
    return (
        len(value) == 2
        and "value" in value
        and isinstance(value.get("unit"), str)
        and not isinstance(value["value"], Mapping | list | tuple)
    )


class _Flattener:
    """Collect flat fields, units and warnings while walking a nested object."""

    def __init__(self, max_fields: int) -> None:
        """Start an empty result allowing at most ``max_fields`` fields."""
        self._max_fields = max_fields
        self._result = DecodeResult(fields={})
        self._dropped: list[str] = []

    def walk(self, key: str, value: object, depth: int) -> None:
        """Add ``value`` under ``key``, descending into mappings and lists."""
        if isinstance(value, Mapping | list | tuple) and depth >= MAX_DEPTH:
            self._result.warnings.append(
                f"{key or 'value'!r} is nested deeper than {MAX_DEPTH} levels; kept as text"
            )
            self._add(key, str(value))
            return
        if isinstance(value, Mapping):
            if _is_unit_value(value):
                self._add(key, value["value"], value["unit"].strip())
                return
            for sub_key, sub_value in value.items():
                self.walk(_join(key, snake_case(str(sub_key))), sub_value, depth + 1)
            return
        if isinstance(value, list | tuple):
            for index, item in enumerate(value):
                self.walk(_join(key, str(index)), item, depth + 1)
            return
        self._add(key, value)

    def _scalar(self, key: str, value: object) -> tuple[bool, Any]:
        """Return ``(keep, value)``: ``value`` turned into a storable scalar."""
        if value is None or isinstance(value, bool | int):
            return True, value
        if isinstance(value, float):
            if math.isfinite(value):
                return True, value
            self._result.warnings.append(f"{key!r} dropped: {value} is not a finite number")
            return False, None
        if isinstance(value, bytes | bytearray):
            text = bytes(value).hex()
        else:
            text = value if isinstance(value, str) else str(value)
        if not text.isascii():
            # A lone surrogate (a codec's broken string) cannot be stored or sent as JSON.
            text = text.encode("utf-8", "replace").decode("utf-8")
        if len(text) > MAX_STRING_LENGTH:
            self._result.warnings.append(
                f"{key!r} truncated from {len(text)} to {MAX_STRING_LENGTH} characters"
            )
            text = text[:MAX_STRING_LENGTH]
        return True, text

    def _add(self, key: str, value: object, unit: str | None = None) -> None:
        """Store one scalar, resolving key collisions and the field limit."""
        key = key or "value"
        keep, scalar = self._scalar(key, value)
        if not keep:
            return
        fields = self._result.fields
        final = key
        if final in fields:
            suffix = 2
            while f"{key}_{suffix}" in fields:
                suffix += 1
            final = f"{key}_{suffix}"
            self._result.warnings.append(
                f"{key!r} occurs more than once after normalisation; "
                f"the later value is stored as {final!r}"
            )
        if len(fields) >= self._max_fields:
            self._dropped.append(final)
            return
        fields[final] = scalar
        if unit:
            self._result.units[final] = unit

    def finish(self) -> DecodeResult:
        """Return the result, with a warning listing any field dropped by the limit."""
        if self._dropped:
            listed = ", ".join(self._dropped[:_LISTED_DROPPED])
            more = ", ..." if len(self._dropped) > _LISTED_DROPPED else ""
            self._result.warnings.append(
                f"{len(self._dropped)} field(s) beyond the limit of {self._max_fields} "
                f"dropped: {listed}{more}"
            )
        return self._result


def flatten(data: Mapping[str, Any], *, max_fields: int = 100) -> DecodeResult:
    """
    Turn a decoded nested object into flat snake_case fields.

    Nested mappings join their keys with ``_``; list items are numbered (``<key>_0``, ...).
    ``{"value": v, "unit": u}`` becomes one field ``v`` with unit ``u``. Scalars are kept,
    non-finite floats dropped, strings cut at 255 characters, anything else turned to text.
    Colliding keys get a ``_2``, ``_3``... suffix. Fields beyond ``max_fields`` are dropped;
    every such change is reported in ``warnings``. Never raises for JSON-like input.
    """
    flattener = _Flattener(max_fields)
    flattener.walk("", data, 0)
    return flattener.finish()
