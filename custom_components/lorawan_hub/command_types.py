"""
The commands of a device type: what they are, as the options keep them, and their checks.

A command is a named downlink (a button, a switch, a number or a select entity: its kind is
that entity's platform), with its port, confirmation, mode and payloads. The options flow builds
them (``command_from_input``); ``commands.py`` makes their entities.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import math
from typing import Any, Final

from homeassistant.const import Platform

from .device_types import CONF_NAME
from .lns.models import DownlinkMode

CONF_COMMANDS: Final = "commands"
"""Device type key: its commands, id → definition."""
CONF_KIND: Final = "kind"
CONF_PORT: Final = "port"
CONF_CONFIRMED: Final = "confirmed"
CONF_MODE: Final = "mode"
CONF_PAYLOAD: Final = "payload"
"""Button: its payload; number: the bytes before the value (hex)."""
CONF_PAYLOAD_ON: Final = "payload_on"
CONF_PAYLOAD_OFF: Final = "payload_off"
CONF_LENGTH: Final = "length"
CONF_BIG_ENDIAN: Final = "big_endian"
CONF_MULTIPLIER: Final = "multiplier"
CONF_MINIMUM: Final = "minimum"
CONF_MAXIMUM: Final = "maximum"
CONF_OPTIONS: Final = "options"
"""Select: option → payload (hex)."""

# A command's kind is the platform of its entity.
BUTTON: Final = Platform.BUTTON.value
SWITCH: Final = Platform.SWITCH.value
NUMBER: Final = Platform.NUMBER.value
SELECT: Final = Platform.SELECT.value
KINDS: Final = (BUTTON, SWITCH, NUMBER, SELECT)


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """One named downlink command of a device type."""

    command_id: str
    name: str
    kind: str
    port: int
    confirmed: bool = False
    mode: DownlinkMode = DownlinkMode.QUEUE
    payload: bytes = b""
    payload_on: bytes = b""
    payload_off: bytes = b""
    length: int = 1
    big_endian: bool = True
    multiplier: float = 1.0
    minimum: float = 0.0
    maximum: float = 255.0
    options: Mapping[str, bytes] = field(default_factory=dict)

    @classmethod
    def from_options(cls, command_id: str, data: Mapping[str, Any]) -> Command:
        """Read a command as the options store it (hex payloads); ValueError when malformed."""
        return cls(
            command_id=command_id,
            name=str(data[CONF_NAME]),
            kind=str(data[CONF_KIND]),
            port=int(data[CONF_PORT]),
            confirmed=bool(data.get(CONF_CONFIRMED, False)),
            mode=DownlinkMode(data.get(CONF_MODE, DownlinkMode.QUEUE)),
            payload=bytes.fromhex(data.get(CONF_PAYLOAD, "")),
            payload_on=bytes.fromhex(data.get(CONF_PAYLOAD_ON, "")),
            payload_off=bytes.fromhex(data.get(CONF_PAYLOAD_OFF, "")),
            length=int(data.get(CONF_LENGTH, 1)),
            big_endian=bool(data.get(CONF_BIG_ENDIAN, True)),
            multiplier=float(data.get(CONF_MULTIPLIER, 1.0)),
            minimum=float(data.get(CONF_MINIMUM, 0.0)),
            maximum=float(data.get(CONF_MAXIMUM, 255.0)),
            options={
                str(label): bytes.fromhex(str(hex_payload))
                for label, hex_payload in dict(data.get(CONF_OPTIONS, {})).items()
            },
        )

    def number_payload(self, value: float) -> bytes:
        """Return the prefix, then ``value`` times the multiplier as an integer of ``length``."""
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"{value} is outside {self.minimum:g} to {self.maximum:g}")
        raw = round(value * self.multiplier)
        try:
            encoded = raw.to_bytes(
                self.length, "big" if self.big_endian else "little", signed=self.minimum < 0
            )
        except OverflowError:
            raise ValueError(f"{value} does not fit in {self.length} bytes") from None
        return self.payload + encoded


def parse_commands(definition: Mapping[str, Any]) -> list[Command]:
    """Return a device type's commands; a malformed one is skipped."""
    commands = []
    for command_id, data in dict(definition.get(CONF_COMMANDS, {})).items():
        try:
            commands.append(Command.from_options(command_id, data))
        except KeyError, TypeError, ValueError:
            continue
    return commands


def _number_fits(data: Mapping[str, Any]) -> bool:
    """Whether a number command's range, scaled, fits its length (signed below zero)."""
    low, high, multiplier = data[CONF_MINIMUM], data[CONF_MAXIMUM], data[CONF_MULTIPLIER]
    if not all(math.isfinite(value) for value in (low, high, multiplier)):
        return False
    if multiplier <= 0 or low >= high:
        return False
    bits = 8 * data[CONF_LENGTH]
    lowest, highest = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if low < 0 else (0, 2**bits - 1)
    return bool(lowest <= round(low * multiplier) and round(high * multiplier) <= highest)


def command_from_input(user_input: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Return a command as the options keep it, or the form's errors."""
    kind = user_input[CONF_KIND]
    data: dict[str, Any] = {
        CONF_NAME: user_input[CONF_NAME].strip(),
        CONF_KIND: kind,
        CONF_PORT: int(user_input[CONF_PORT]),
        CONF_CONFIRMED: user_input[CONF_CONFIRMED],
        CONF_MODE: user_input[CONF_MODE],
    }
    errors: dict[str, str] = {}
    if not data[CONF_NAME]:
        errors[CONF_NAME] = "name_required"
    wanted = {
        BUTTON: (CONF_PAYLOAD,),
        SWITCH: (CONF_PAYLOAD_ON, CONF_PAYLOAD_OFF),
        NUMBER: (CONF_PAYLOAD,),
        SELECT: (),
    }[kind]
    for key in wanted:
        text = "".join((user_input.get(key) or "").split())
        try:
            bytes.fromhex(text)
        except ValueError:
            errors[key] = "invalid_hex"
        data[key] = text.upper()
    if kind == SWITCH and not (data[CONF_PAYLOAD_ON] and data[CONF_PAYLOAD_OFF]):
        errors.setdefault(CONF_PAYLOAD_ON, "switch_payloads")
    if kind == NUMBER:
        data |= {
            CONF_LENGTH: int(user_input.get(CONF_LENGTH, 1)),
            CONF_BIG_ENDIAN: user_input.get(CONF_BIG_ENDIAN, True),
            CONF_MULTIPLIER: float(user_input.get(CONF_MULTIPLIER, 1)),
            CONF_MINIMUM: float(user_input.get(CONF_MINIMUM, 0)),
            CONF_MAXIMUM: float(user_input.get(CONF_MAXIMUM, 255)),
        }
        if not _number_fits(data):
            errors[CONF_MAXIMUM] = "number_range"
    if kind == SELECT:
        options: dict[str, str] = {}
        for line in (user_input.get(CONF_OPTIONS) or "").splitlines():
            if not line.strip():
                continue
            label, separator, text = line.partition("=")
            text = "".join(text.split())
            try:
                bytes.fromhex(text)
            except ValueError:
                separator = ""
            if not separator or not label.strip() or label.strip() in options:
                errors[CONF_OPTIONS] = "select_options"
                break
            options[label.strip()] = text.upper()
        if not options:
            errors.setdefault(CONF_OPTIONS, "select_options")
        data[CONF_OPTIONS] = options
    return data, errors
