"""The vendor-neutral data model every network-server client speaks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
import functools
import re
import secrets
from typing import Any


class Capability(StrEnum):
    """What a network server can do beyond delivering uplinks."""

    DOWNLINK = "downlink"
    DOWNLINK_ACK = "downlink_ack"
    MAX_DOWNLINK_SIZE = "max_downlink_size"
    CLASS_CHANGE = "class_change"
    CLEAR_QUEUE = "clear_queue"
    MULTICAST = "multicast"
    MULTICAST_GROUPS = "multicast_groups"
    FUOTA = "fuota"
    DEVICE_STATUS = "device_status"
    LOCATION = "location"
    BACKFILL = "backfill"
    DOWNLINK_COUNTER = "downlink_counter"


class LoRaClass(StrEnum):
    """LoRaWAN device class."""

    A = "A"
    B = "B"
    C = "C"


class DownlinkMode(StrEnum):
    """How a downlink joins the device's queue."""

    QUEUE = "queue"
    REPLACE = "replace"
    IMMEDIATE = "immediate"


class DownlinkState(StrEnum):
    """Where a downlink is in its life."""

    QUEUED = "queued"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(slots=True, frozen=True)
class Gateway:
    """One gateway that received an uplink."""

    gateway_id: str
    rssi: float | None = None
    snr: float | None = None


@dataclass(slots=True, frozen=True)
class Location:
    """A geographic position."""

    latitude: float
    longitude: float
    altitude: float | None = None


@dataclass(slots=True, kw_only=True)
class Uplink:
    """One uplink frame, as received from any network server."""

    dev_eui: str
    """16 upper-case hex digits."""
    received_at: datetime
    """When the network server received it (UTC)."""
    f_port: int | None
    f_cnt: int | None
    payload: bytes
    decoded: dict[str, Any] | None = None
    """What the network server decoded itself, when it does."""
    rssi: float | None = None
    snr: float | None = None
    data_rate: str | None = None
    """As the vendor names it: ``DR4``, ``SF7BW125``..."""
    spreading_factor: int | None = None
    frequency: float | None = None
    """MHz."""
    gateways: tuple[Gateway, ...] = ()
    location: Location | None = None
    confirmed: bool | None = None
    ack: bool | None = None
    device_class: LoRaClass | None = None
    dev_addr: str | None = None
    encrypted: bool = False
    """The payload is still LoRaWAN-encrypted (the server lacks the keys): not decodable."""
    raw: Mapping[str, Any] = field(default_factory=dict)
    """The vendor's own message, for diagnostics."""


@dataclass(slots=True, kw_only=True)
class ServerDevice:
    """A device as the network server lists it. Never carries keys."""

    dev_eui: str
    name: str | None = None
    dev_addr: str | None = None
    app_eui: str | None = None
    device_class: LoRaClass | None = None
    model: str | None = None
    manufacturer: str | None = None
    activation: str | None = None
    location: Location | None = None
    max_downlink_size: int | None = None
    downlink_f_cnt: int | None = None
    """The last downlink frame counter the server used."""
    profile: str | None = None
    """The device profile the server assigns the device (its id), where the vendor has them."""


@dataclass(slots=True, kw_only=True)
class Downlink:
    """A downlink to send to one device."""

    dev_eui: str
    f_port: int
    payload: bytes
    confirmed: bool = False
    mode: DownlinkMode = DownlinkMode.QUEUE
    device_class: LoRaClass | None = None


@dataclass(slots=True, kw_only=True)
class DownlinkResult:
    """What the network server answered to a downlink."""

    message_id: str | None
    state: DownlinkState = DownlinkState.QUEUED
    f_cnt: int | None = None
    queue_length: int | None = None


@dataclass(slots=True, kw_only=True)
class DownlinkStatus:
    """A change in a downlink's state, reported after it was accepted."""

    dev_eui: str
    """The device; empty for a multicast downlink."""
    message_id: str
    state: DownlinkState
    at: datetime | None = None
    reason: str | None = None
    group_id: str | None = None
    """The multicast group of a multicast downlink."""


@dataclass(slots=True, frozen=True, kw_only=True)
class MulticastKeys:
    """A multicast session: what every member device must be given to receive the group."""

    address: str
    """McAddr, 8 upper-case hex digits."""
    app_s_key: str
    """McAppSKey, 32 upper-case hex digits."""
    nwk_s_key: str
    """McNwkSKey, 32 upper-case hex digits."""

    @classmethod
    def generate(cls) -> MulticastKeys:
        """Return a random session (keys from the operating system's secure generator)."""
        return cls(
            address=secrets.token_hex(4).upper(),
            app_s_key=secrets.token_hex(16).upper(),
            nwk_s_key=secrets.token_hex(16).upper(),
        )


@dataclass(slots=True, kw_only=True)
class MulticastSetup:
    """A multicast group to create, with its first members."""

    name: str | None = None
    """Where the vendor names groups."""
    device_class: LoRaClass = LoRaClass.C
    dev_euis: tuple[str, ...] = ()
    """The devices to make members."""
    tags: tuple[str, ...] = ()
    """Device tags whose devices become members, where the vendor has tags (instead of dev_euis)."""
    keys: MulticastKeys | None = None
    """The session the user gave; None: the vendor or we generate one (returned in the group)."""
    ping_slot_periodicity: int | None = None
    """Class B: a ping slot every 2**n seconds (0-7)."""


@dataclass(slots=True, kw_only=True)
class MulticastGroup:
    """A multicast group on the network server."""

    group_id: str
    name: str | None = None
    device_class: LoRaClass | None = None
    dev_euis: tuple[str, ...] = ()
    states: Mapping[str, str] = field(default_factory=dict)
    """Each member's multicast set-up, as the vendor names it, where the vendor tells."""
    keys: MulticastKeys | None = None
    """The group's session, when the group was just created (the devices need it)."""


@dataclass(slots=True, kw_only=True)
class DeviceStatus:
    """Device health as the network server reports it (LoRaWAN DevStatus)."""

    dev_eui: str
    battery: float | None = None
    """Percent, None when unknown."""
    external_power: bool | None = None
    margin: int | None = None
    """Demodulation margin, dB."""


@dataclass(slots=True, kw_only=True)
class FuotaRequest:
    """A firmware update over the air for a set of devices (LoRaWAN fragmented data blocks)."""

    dev_euis: tuple[str, ...]
    firmware: bytes
    device_class: LoRaClass = LoRaClass.C
    start_delay: int = 120
    """Seconds for the server to set up the multicast sessions first."""
    redundancy: float = 1.0
    """Extra fragments for forward error correction: 1.0 is 100 %."""
    group_id: str | None = None
    """The multicast group to send to, for a vendor that sends firmware to a group."""


@dataclass(slots=True, kw_only=True)
class FuotaStatus:
    """Where a firmware update is."""

    job_id: str
    state: str
    percent_done: int | None = None
    result: str | None = None


@dataclass(slots=True, kw_only=True)
class Alarm:
    """A problem the network server reports (a device without ADR, a gateway down...)."""

    code: str
    severity: str
    text: str | None = None
    dev_eui: str | None = None
    gateway_id: str | None = None
    at: datetime | None = None


@dataclass(slots=True, kw_only=True)
class JoinInfo:
    """A device's join attempt and its outcome, as the network server reports it."""

    dev_eui: str
    status: str
    """The vendor's outcome, e.g. ``JOIN_ACCEPTED``."""
    app_eui: str | None = None
    dev_addr: str | None = None
    """The session's device address, where the vendor tells it with the join."""
    accepted: bool = True
    """Whether the device got a new session (a failed or repeated report is not a join)."""


_EUI = re.compile(r"[0-9A-F]{16}")


@functools.lru_cache(maxsize=4096)
def normalize_eui(value: str) -> str:
    """Return an EUI-64 as 16 upper-case hex digits, accepting separators.

    Raises ValueError when the value is not an EUI-64.
    """
    cleaned = value.replace(":", "").replace("-", "").replace(" ", "").upper()
    if _EUI.fullmatch(cleaned) is None:
        raise ValueError(f"not an EUI-64: {value!r}")
    return cleaned
