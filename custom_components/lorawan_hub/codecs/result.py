"""The common result of every payload codec."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class DecodeError(Exception):
    """A payload that the codec cannot decode (truncated, unknown type, ...)."""


@dataclass(slots=True)
class DecodeResult:
    """
    Flat fields decoded from one uplink.

    ``fields`` maps a snake_case key to a scalar (``int``, ``float``, ``bool``, ``str`` or
    ``None``). ``units`` optionally gives the unit of a key as the codec stated it, and
    ``warnings`` lists anything the codec noticed without failing.
    """

    fields: dict[str, Any]
    units: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
