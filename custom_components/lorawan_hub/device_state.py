"""
What the integration knows about each LoRaWAN device, and what its entities listen to.

A ``DeviceState`` holds a device's values, entity specs, recent uplink keys (to drop replays) and
the entities listening to each of its keys; the coordinator fills it, the entities read it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Final

from homeassistant.const import Platform
from homeassistant.core import CALLBACK_TYPE, Context
from homeassistant.helpers.device_registry import DeviceInfo

from .codecs.decode import AUTO
from .codecs.metadata import EntityKind, infer_metadata, location_pairs
from .const import DEDUP_MEMORY, DEFAULT_OFFLINE_AFTER, DOMAIN, LOGGER
from .lns.base import ThrottledLog
from .lns.models import DeviceStatus, Location, ServerDevice, Uplink

type UplinkKey = tuple[int | None, datetime]
"""What tells two uplinks of a device apart: frame counter and reception time."""

# Listener keys beside the field keys (which never start with "_").
KEY_UPLINK = "_uplink"
KEY_ONLINE = "_online"
KEY_LOCATION = "_location"
KEY_STATUS = "_status"
KEY_INFO = "_info"
NETWORK_LOCATION = "network_location"
"""Entity key of the position the network server keeps for a device."""

_LOG = ThrottledLog(LOGGER)


def listener_failed(dev_eui: str, key: str) -> None:
    """Log (rate-limited, with the traceback) an entity that failed to take a device's update."""
    _LOG.exception(
        f"listener:{key}", "An entity of %s failed to show %s; the others are updated", dev_eui, key
    )


@dataclass(slots=True, frozen=True)
class FieldSpec:
    """What one decoded field (or a latitude/longitude pair) becomes: one entity."""

    key: str
    platform: Platform
    device_class: str | None = None
    unit: str | None = None
    state_class: str | None = None
    precision: int | None = None
    latitude_key: str | None = None
    longitude_key: str | None = None
    altitude_key: str | None = None

    @property
    def source_keys(self) -> tuple[str, ...]:
        """The decoded fields this entity shows."""
        if self.platform is not Platform.DEVICE_TRACKER:
            return (self.key,)
        return tuple(
            key for key in (self.latitude_key, self.longitude_key, self.altitude_key) if key
        )

    def as_dict(self) -> dict[str, Any]:
        """Serialise for storage, without defaults."""
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FieldSpec:
        """Read back what ``as_dict`` stored."""
        return cls(**{**data, "platform": Platform(data["platform"])})


@dataclass(slots=True, eq=False)
class DeviceState:
    """What the integration knows about one LoRaWAN device."""

    dev_eui: str
    device_id: str
    info: ServerDevice | None = None
    fields: dict[str, FieldSpec] = field(default_factory=dict)
    """Entity key → spec."""
    owners: dict[str, str] = field(default_factory=dict)
    """Decoded field key → the entity key that shows it."""
    values: dict[str, Any] = field(default_factory=dict)
    last_fields: dict[str, Any] = field(default_factory=dict)
    """The fields decoded from the last uplink."""
    last_uplink: Uplink | None = None
    context: Context | None = None
    """The context of the last uplink: the state changes it caused carry it."""
    last_seen: datetime | None = None
    online: bool | None = None
    location: Location | None = None
    status: DeviceStatus | None = None
    codec: str = AUTO
    offline_after: int = DEFAULT_OFFLINE_AFTER
    last_codec: str | None = None
    decode_error: str | None = None
    codec_issue: bool = False
    """A repair issue says that this device's codec fails."""
    claimed_by: str | None = None
    """The device integration that supports this device in the LoRaWAN framework, if one does."""
    reachable: bool = True
    """False while the device's own connection is lost (a client with several)."""
    unlisted_since: datetime | None = None
    """Since when the network server's device list lacks the device (None: it lists it)."""
    own_entities: bool = False
    """Keep our decoded-field entities even when a device integration supports the device."""
    f_port: int | None = None
    """The port to assume for uplinks whose network server does not report one."""
    recent: deque[UplinkKey] = field(default_factory=lambda: deque(maxlen=DEDUP_MEMORY))
    """The keys of the last uplinks delivered, oldest first."""
    recent_keys: set[UplinkKey] = field(default_factory=set)
    pending: set[UplinkKey] = field(default_factory=set)
    """Keys of uplinks taken but not delivered yet (waiting for their codec)."""
    forgotten_until: datetime | None = None
    """The newest time among the keys that left ``recent``: an uplink older than that is beyond
    what is remembered, so it cannot be told apart from a replay."""
    listeners: dict[str, list[CALLBACK_TYPE]] = field(default_factory=dict)
    """Key (a field's entity key or a ``KEY_*``) → the updates of the entities showing it."""

    device_info: DeviceInfo = field(init=False)
    """What links this device's entities to its registry device (one, shared by them)."""

    def __post_init__(self) -> None:
        """Describe the registry device once."""
        self.device_info = DeviceInfo(identifiers={(DOMAIN, self.dev_eui)})

    def notify(self, key: str) -> None:
        """Update the entities that show ``key``; one that fails does not stop the others."""
        for update in self.listeners.get(key, ()):
            try:
                update()
            except Exception:  # noqa: BLE001 - one entity never stops the uplink
                listener_failed(self.dev_eui, key)

    def is_duplicate(self, key: UplinkKey) -> bool:
        """Return True for an uplink already taken (delivered, or waiting for its codec)."""
        if key in self.recent_keys or key in self.pending:
            return True
        forgotten = self.forgotten_until
        # Strictly older: times may have a resolution of one second, and uplinks of the same
        # second as a forgotten one are told apart by their frame counter only while remembered.
        return forgotten is not None and key[1] < forgotten

    def remember(self, key: UplinkKey) -> None:
        """Remember a delivered uplink, so that a replay of it is dropped."""
        if key in self.recent_keys:
            return
        if len(self.recent) == DEDUP_MEMORY:
            oldest = self.recent[0]
            self.recent_keys.discard(oldest)
            if self.forgotten_until is None or oldest[1] > self.forgotten_until:
                self.forgotten_until = oldest[1]
        self.recent.append(key)
        self.recent_keys.add(key)

    @property
    def show_fields(self) -> bool:
        """Whether the decoded fields have entities of ours (not when another decodes it)."""
        return self.claimed_by is None or self.own_entities

    def is_online(self, now: datetime) -> bool:
        """Whether the device sent within its offline threshold."""
        if self.last_seen is None:
            return False
        return (now - self.last_seen).total_seconds() < self.offline_after * 60

    def add_spec(self, spec: FieldSpec) -> None:
        """Register an entity spec and the fields it shows."""
        self.fields[spec.key] = spec
        for key in spec.source_keys:
            self.owners[key] = spec.key


_PLATFORMS: Final = {
    EntityKind.SENSOR: Platform.SENSOR,
    EntityKind.BINARY_SENSOR: Platform.BINARY_SENSOR,
}


def new_field_specs(
    state: DeviceState, fields: Mapping[str, Any], units: Mapping[str, str]
) -> list[FieldSpec]:
    """Return the entity specs of the fields a device sends for the first time."""
    new_keys = [key for key in fields if key not in state.owners]
    specs: list[FieldSpec] = []
    paired: set[str] = set()
    for prefix, lat_key, lon_key, alt_key in location_pairs(new_keys):
        spec = FieldSpec(
            key=f"{prefix}_location" if prefix else "location",
            platform=Platform.DEVICE_TRACKER,
            latitude_key=lat_key,
            longitude_key=lon_key,
            altitude_key=alt_key,
        )
        specs.append(spec)
        paired.update(spec.source_keys)
    for key in new_keys:
        if key in paired:
            continue
        meta = infer_metadata(key, fields[key], units.get(key))
        specs.append(
            FieldSpec(
                key=key,
                platform=_PLATFORMS[meta.platform],
                device_class=meta.device_class,
                unit=meta.unit,
                state_class=meta.state_class,
                precision=meta.suggested_display_precision,
            )
        )
    return specs
