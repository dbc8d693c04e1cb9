"""
Strict, forgiving readers for values that arrive in vendor JSON.

Each reader accepts every plausible form a vendor sends (a number as a string, a hex identifier as a
number...) and raises ProtocolError for anything else, so that one bad frame is dropped, never
turned into a crash or a wrong value.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
import math
import re
from typing import Any

from .errors import ProtocolError
from .models import normalize_eui

_HEX = re.compile(r"[0-9A-F]+")


def as_dict(value: object, what: str) -> Mapping[str, Any]:
    """Return ``value`` as a JSON object."""
    if not isinstance(value, Mapping):
        raise ProtocolError(f"{what} is not an object")
    return value


def as_int(value: object, what: str) -> int:
    """Return an integer given as a number or a decimal string."""
    if type(value) is int:
        return value
    if isinstance(value, bool):
        raise ProtocolError(f"{what} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ProtocolError(f"{what} is not an integer")


def as_float(value: object, what: str) -> float:
    """Return a finite number given as a number or a decimal string."""
    if type(value) is float and math.isfinite(value):
        return value
    if isinstance(value, bool):
        raise ProtocolError(f"{what} is not a number")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ProtocolError(f"{what} is not a number") from None
    else:
        raise ProtocolError(f"{what} is not a number")
    if not math.isfinite(number):
        raise ProtocolError(f"{what} is not finite")
    return number


def opt_int(data: Mapping[str, Any], key: str) -> int | None:
    """Return ``data[key]`` as an integer, None when absent or null."""
    value = data.get(key)
    if type(value) is int:
        return value
    return None if value is None or value == "" else as_int(value, key)


def opt_float(data: Mapping[str, Any], key: str) -> float | None:
    """Return ``data[key]`` as a number, None when absent or null."""
    value = data.get(key)
    if type(value) is float and math.isfinite(value):
        return value
    return None if value is None or value == "" else as_float(value, key)


def opt_bool(data: Mapping[str, Any], key: str) -> bool | None:
    """Return ``data[key]`` as a boolean (true/false, 1/0), None when absent or null."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise ProtocolError(f"{key} is not a boolean")


def opt_str(data: Mapping[str, Any], key: str) -> str | None:
    """Return ``data[key]`` as a string, None when absent, null or empty."""
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    raise ProtocolError(f"{key} is not a string")


def eui(value: object, what: str) -> str:
    """Return an EUI-64 as 16 upper-case hex digits."""
    if not isinstance(value, str):
        raise ProtocolError(f"{what} is not an EUI")
    try:
        return normalize_eui(value)
    except ValueError:
        raise ProtocolError(f"{what} is not an EUI") from None


def hex_id(value: object, what: str, width: int = 16) -> str:
    """Return an identifier sent as a hex string or as a number, as upper-case hex."""
    if isinstance(value, bool):
        raise ProtocolError(f"{what} is not an identifier")
    if isinstance(value, int):
        if value < 0:
            raise ProtocolError(f"{what} is negative")
        return f"{value:0{width}X}"
    if isinstance(value, str):
        cleaned = value.replace(":", "").replace("-", "").upper()
        if _HEX.fullmatch(cleaned) is not None:
            return cleaned
    raise ProtocolError(f"{what} is not an identifier")


MAX_PAYLOAD = 255
"""No LoRaWAN frame carries more (the largest FRMPayload is 242 bytes)."""


def hex_payload(value: object, what: str) -> bytes:
    """Return a LoRaWAN payload sent as a hex string (empty string: empty payload)."""
    if value is None:
        return b""
    if not isinstance(value, str):
        raise ProtocolError(f"{what} is not a hex string")
    if len(value) > 2 * MAX_PAYLOAD:
        raise ProtocolError(f"{what} is longer than a LoRaWAN payload")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ProtocolError(f"{what} is not valid hex") from None


def parse_time(value: object, what: str) -> datetime:
    """Return an aware UTC time from ``YYYY-MM-DD HH:MM:SS+HHMM`` or ISO 8601 text."""
    if not isinstance(value, str):
        raise ProtocolError(f"{what} is not a time")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ProtocolError(f"{what} is not a time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ProtocolError(f"{what} is out of range") from None
