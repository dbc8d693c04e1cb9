"""
The push coordinator of one config entry: one network-server connection.

An uplink travels: the vendor client (``lns/``) → ``LoRaWANHubCoordinator.uplink`` (deduplicate,
decode, remember the values) → the listeners of the fields it carries (``sensor.py`` and the other
platforms), which write their state.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
import contextlib
import dataclasses
from dataclasses import asdict, dataclass, field
from datetime import datetime
import functools
from typing import Any

from homeassistant.components import persistent_notification
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import CALLBACK_TYPE, Context, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.device_registry import DeviceInfo as HaDeviceInfo
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .codecs.decode import AUTO, RAW, Decoded, decode
from .codecs.javascript import CodecError, JsCodec, JsRunner, decode_batch
from .codecs.metadata import Platform as FieldPlatform, infer_metadata, location_pairs
from .codecs.result import DecodeResult
from .const import (
    CONF_CODEC,
    CONF_DEVICES,
    CONF_F_PORT,
    CONF_OFFLINE_AFTER,
    DEDUP_MEMORY,
    DEFAULT_F_PORT,
    DEFAULT_OFFLINE_AFTER,
    DOMAIN,
    EVENT_DOWNLINK_STATUS,
    EVENT_JOIN,
    EVENT_UPLINK,
    LOGGER,
    ONLINE_CHECK_INTERVAL,
    STORAGE_SAVE_DELAY,
    STORAGE_VERSION,
)
from .device_types import CONF_DEVICE_TYPES, CONF_NAME, JS_PREFIX, async_load_codec
from .lns.base import NetworkServer, ThrottledLog
from .lns.errors import AuthError
from .lns.models import (
    Alarm,
    DeviceInfo,
    DeviceStatus,
    DownlinkStatus,
    JoinInfo,
    Location,
    Uplink,
)

type LoRaWANHubConfigEntry = ConfigEntry[LoRaWANHubCoordinator]
type NewEntitiesCallback = Callable[[DeviceState, Sequence[FieldSpec] | None], None]
type UplinkKey = tuple[int | None, datetime]
"""What tells two uplinks of a device apart: frame counter and reception time."""

_LOG = ThrottledLog(LOGGER)
MAX_ISSUE_REASON = 500
"""Characters of a codec's error shown in a repair (a codec may return long error lists)."""


def listener_failed(dev_eui: str, key: str) -> None:
    """Log (rate-limited, with the traceback) an entity that failed to take a device's update."""
    _LOG.exception(
        f"listener:{key}", "An entity of %s failed to show %s; the others are updated", dev_eui, key
    )


# Listener keys beside the field keys (which never start with "_").
KEY_UPLINK = "_uplink"
KEY_ONLINE = "_online"
KEY_LOCATION = "_location"
KEY_STATUS = "_status"
KEY_INFO = "_info"
NETWORK_LOCATION = "network_location"
"""Entity key of the position the network server keeps for a device."""

_PLATFORMS = {
    FieldPlatform.SENSOR: Platform.SENSOR,
    FieldPlatform.BINARY_SENSOR: Platform.BINARY_SENSOR,
}

JS_QUEUE = 10_000
"""Uplinks waiting for their JavaScript codec before new ones stay raw."""
JS_BATCH = 64
"""Uplinks decoded in one trip to the codec thread."""
JS_DRAIN = 5.0
"""Seconds an entry that stops gives its codecs to decode what came in."""


CODEC_ISSUE = "codec_"
"""Prefix of the repair issues about a failing codec: codec_<entry id>_<DevEUI>."""


@callback
def async_delete_codec_issues(hass: HomeAssistant, entry_id: str) -> None:
    """Remove the entry's repairs about failing codecs."""
    prefix = f"{CODEC_ISSUE}{entry_id}_"
    for domain, issue_id in list(ir.async_get(hass).issues):
        if domain == DOMAIN and issue_id.startswith(prefix):
            ir.async_delete_issue(hass, DOMAIN, issue_id)


async def _stopped(task: asyncio.Task[None], name: str) -> None:
    """Cancel a background task and wait for it; how it ended is logged, never raised."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    except Exception:  # noqa: BLE001 - logged; the entry stops all the same
        LOGGER.exception("The %s task had failed", name)


def _drain[T](queue: asyncio.Queue[T]) -> list[T]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


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
    info: DeviceInfo | None = None
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

    device_info: HaDeviceInfo = field(init=False)
    """What links this device's entities to its registry device (one, shared by them)."""

    def __post_init__(self) -> None:
        """Describe the registry device once."""
        self.device_info = HaDeviceInfo(identifiers={(DOMAIN, self.dev_eui)})

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

    def add_spec(self, spec: FieldSpec) -> None:
        """Register an entity spec and the fields it shows."""
        self.fields[spec.key] = spec
        for key in spec.source_keys:
            self.owners[key] = spec.key


class LoRaWANHubCoordinator:
    """Receives everything one network server pushes and hands it to the entities."""

    def __init__(
        self, hass: HomeAssistant, entry: LoRaWANHubConfigEntry, client: NetworkServer
    ) -> None:
        """Prepare; ``async_setup`` loads what was stored and lists the devices."""
        self.hass = hass
        self.entry = entry
        self.client = client
        self.devices: dict[str, DeviceState] = {}
        self.server_devices: set[str] = set()
        """DevEUIs in the server's last device list."""
        self.connected = False
        self.connection_error: str | None = None
        self.duplicates = 0
        self._reported: bool | None = None
        self._resume_from: datetime | None = None
        self._stream_position: str | None = None
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}", private=True
        )
        self._save_pending = False
        self._availability_listeners: set[CALLBACK_TYPE] = set()
        self._platform_callbacks: list[NewEntitiesCallback] = []
        self._task: asyncio.Task[None] | None = None
        self._hub_device_id: str | None = None
        self.codecs: dict[str, JsCodec] = {}
        """Device type id → its JavaScript codec."""
        self.codec_errors: dict[str, str] = {}
        """Device type id → why its codec could not be loaded."""
        self._js: JsRunner | None = None
        self._js_queue: asyncio.Queue[tuple[DeviceState, Uplink]] = asyncio.Queue(JS_QUEUE)
        self._js_task: asyncio.Task[None] | None = None
        self._js_pending: list[tuple[DeviceState, Uplink]] = []
        """The batch on the codec thread now."""

    # --- set-up and shut-down -----------------------------------------------------------------

    async def async_setup(self) -> None:
        """Load the stored state, then list the server's devices (may raise ``lns`` errors)."""
        hub = dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.entry.entry_id,
            identifiers={(DOMAIN, self.entry.entry_id)},
            name=self.entry.title,
            manufacturer=self.client.name,
            model="LoRaWAN network server",
            entry_type=dr.DeviceEntryType.SERVICE,
        )
        self._hub_device_id = hub.id
        stored = await self._store.async_load() or {}
        self._restore(stored)
        await self._load_codecs()
        devices = await self.client.list_devices()
        self.devices_listed(devices)
        self.entry.async_on_unload(
            async_track_time_interval(self.hass, self._check_online, ONLINE_CHECK_INTERVAL)
        )

    async def _load_codecs(self) -> None:
        """
        Prepare the device types' codecs; one that cannot load leaves its devices raw.

        The repairs of an earlier run go: the codecs may have changed, and any that still fails
        says so again with its next uplink.
        """
        async_delete_codec_issues(self.hass, self.entry.entry_id)
        types: Mapping[str, Mapping[str, Any]] = self.entry.options.get(CONF_DEVICE_TYPES, {})
        for type_id, definition in types.items():
            try:
                self.codecs[type_id] = await async_load_codec(self.hass, definition)
            except CodecError as err:
                self.codec_errors[type_id] = str(err)
                LOGGER.warning(
                    "The codec of device type %s cannot be loaded: %s",
                    definition.get(CONF_NAME, type_id),
                    err,
                )

    @callback
    def start(self) -> None:
        """Start the realtime connection (and the codec worker) in background tasks."""
        if self.codecs:
            self._js = runner = JsRunner()
            self._js_task = self.entry.async_create_background_task(
                self.hass, self._decode_with_codecs(runner), f"{DOMAIN} codecs"
            )
        self._task = self.entry.async_create_background_task(
            self.hass, self._run(), f"{DOMAIN} {self.client.vendor} connection"
        )

    async def _run(self) -> None:
        try:
            await self.client.run(self)
        except AuthError as err:
            self.connection_changed(False, err.reason or err.key)
            self.entry.async_start_reauth(self.hass)

    async def async_shutdown(self) -> None:
        """
        Stop the connection, finish decoding what came in, and write the state now.

        Nothing that went wrong before (a connection or codec task that failed) stops this: the
        state is saved whatever happens.
        """
        if self._task is not None:
            await _stopped(self._task, "connection")
            self._task = None
        if self._js_task is not None:
            # What came in is decoded before the entry stops (bounded: a slow codec's rest stays
            # raw), so that no uplink is lost: it was acknowledged, and its key remembered.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(JS_DRAIN):
                    await self._js_queue.join()
            await _stopped(self._js_task, "codec")
            self._js_task = None
            self._deliver_raw(
                [*self._js_pending, *_drain(self._js_queue)], "the entry stopped first"
            )
        try:
            if self._js is not None:
                await self._js.async_close()
        except Exception:  # noqa: BLE001 - logged; the state is saved all the same
            LOGGER.exception("The codec thread of %s did not stop cleanly", self.entry.title)
        self._js = None
        try:
            await self.client.close()
        except Exception:  # noqa: BLE001 - logged; the state is saved all the same
            LOGGER.exception("The connection to %s did not close cleanly", self.entry.title)
        if self._save_pending:
            await self._store.async_save(self._data_to_save())

    def _restore(self, stored: Mapping[str, Any]) -> None:
        if resume := stored.get("resume_from"):
            self._resume_from = dt_util.parse_datetime(resume)
        self._stream_position = stored.get("stream_position")
        for dev_eui, data in (stored.get("devices") or {}).items():
            state = self._ensure_device(dev_eui, None, announce=False)
            try:
                self._restore_device(state, data)
            except Exception:  # noqa: BLE001 - one bad stored device never stops the entry
                LOGGER.exception("The stored state of %s could not be read in full", dev_eui)
            state.online = self._is_online(state, dt_util.utcnow())

    @staticmethod
    def _restore_device(state: DeviceState, data: Mapping[str, Any]) -> None:
        for spec in data.get("fields", ()):
            try:
                state.add_spec(FieldSpec.from_dict(spec))
            except TypeError, ValueError, KeyError:
                LOGGER.warning("Dropped a stored entity of %s that cannot be read", state.dev_eui)
        if last_seen := data.get("last_seen"):
            state.last_seen = dt_util.parse_datetime(last_seen)
        if forgotten := data.get("forgotten_until"):
            state.forgotten_until = dt_util.parse_datetime(forgotten)
        for f_cnt, received_at in data.get("recent", ()):
            if (when := dt_util.parse_datetime(received_at)) is not None:
                state.remember((f_cnt, when))

    @callback
    def _data_to_save(self) -> dict[str, Any]:
        self._save_pending = False
        return {
            "resume_from": self._resume_from.isoformat() if self._resume_from else None,
            "stream_position": self._stream_position,
            "devices": {
                state.dev_eui: {
                    "fields": [spec.as_dict() for spec in state.fields.values()],
                    "last_seen": state.last_seen.isoformat() if state.last_seen else None,
                    "recent": [[f_cnt, when.isoformat()] for f_cnt, when in state.recent],
                    "forgotten_until": state.forgotten_until.isoformat()
                    if state.forgotten_until
                    else None,
                }
                for state in self.devices.values()
            },
        }

    @callback
    def _schedule_save(self) -> None:
        if not self._save_pending:
            self._save_pending = True
            self._store.async_delay_save(self._data_to_save, STORAGE_SAVE_DELAY)

    def _apply_device_options(self, state: DeviceState) -> None:
        options = self.entry.options
        device_options = options.get(CONF_DEVICES, {}).get(state.dev_eui, {})
        state.codec = device_options.get(CONF_CODEC, AUTO)
        state.f_port = (
            None if self.client.reports_port else device_options.get(CONF_F_PORT, DEFAULT_F_PORT)
        )
        state.offline_after = device_options.get(
            CONF_OFFLINE_AFTER, options.get(CONF_OFFLINE_AFTER, DEFAULT_OFFLINE_AFTER)
        )

    # --- entities -----------------------------------------------------------------------------

    @callback
    def async_add_platform(self, new_entities: NewEntitiesCallback) -> None:
        """Register a platform's entity factory and give it every device known so far."""
        self._platform_callbacks.append(new_entities)
        for state in self.devices.values():
            try:
                new_entities(state, None)
            except Exception:  # noqa: BLE001 - one device's entities stop no other
                _LOG.exception("entities", "Entities of %s could not be added", state.dev_eui)

    @callback
    def async_subscribe(
        self,
        device: DeviceState,
        keys: tuple[str, ...],
        update: CALLBACK_TYPE,
        write: CALLBACK_TYPE,
    ) -> CALLBACK_TYPE:
        """Subscribe an entity; returns the remover.

        ``update`` is called when one of ``keys`` of the device changes, ``write`` when the
        connection goes up or down.
        """
        for key in keys:
            device.listeners.setdefault(key, []).append(update)
        self._availability_listeners.add(write)
        # A partial, not a closure: one of these per entity, thousands of entities.
        return functools.partial(self._unsubscribe, device, keys, update, write)

    @callback
    def _unsubscribe(
        self,
        device: DeviceState,
        keys: tuple[str, ...],
        update: CALLBACK_TYPE,
        write: CALLBACK_TYPE,
    ) -> None:
        for key in keys:
            device.listeners[key].remove(update)
        self._availability_listeners.discard(write)

    @callback
    def _announce(self, state: DeviceState, specs: Sequence[FieldSpec] | None) -> None:
        """Have every platform add the entities of a new device (None) or of new fields."""
        for new_entities in self._platform_callbacks:
            try:
                new_entities(state, specs)
            except Exception:  # noqa: BLE001 - one entity that cannot be made stops no other
                _LOG.exception("entities", "Entities of %s could not be added", state.dev_eui)

    # --- devices ------------------------------------------------------------------------------

    def _ensure_device(
        self, dev_eui: str, info: DeviceInfo | None, *, announce: bool = True
    ) -> DeviceState:
        state = self.devices.get(dev_eui)
        registry = dr.async_get(self.hass)
        name = (info.name if info else None) or None
        if state is None:
            device = registry.async_get_or_create(
                config_entry_id=self.entry.entry_id,
                identifiers={(DOMAIN, dev_eui)},
                name=name or f"LoRaWAN {dev_eui}",
                manufacturer=info.manufacturer if info else None,
                model=info.model if info else None,
                serial_number=dev_eui,
                via_device_id=self._hub_device_id,
            )
            state = DeviceState(dev_eui=dev_eui, device_id=device.id, info=info)
            self._apply_device_options(state)
            self.devices[dev_eui] = state
            if announce:
                self._announce(state, None)
            return state
        if info is not None:
            state.info = info
            entry = registry.async_get(state.device_id)
            if entry is not None and name and entry.name != name:
                registry.async_update_device(entry.id, name=name)
        return state

    def _add_fields(
        self, state: DeviceState, fields: Mapping[str, Any], units: Mapping[str, str]
    ) -> None:
        """Create the entities of fields seen for the first time."""
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
        for spec in specs:
            state.add_spec(spec)
        self._announce(state, specs)

    # --- Sink: what the client pushes ---------------------------------------------------------

    @callback
    def connection_changed(self, connected: bool, reason: str | None) -> None:
        """Log a transition once and update every entity's availability."""
        if connected == self._reported:
            return
        name = self.entry.title
        if connected:
            if self._reported is False:
                LOGGER.info("Connection to %s is back", name)
            else:
                LOGGER.debug("Connected to %s", name)
        else:
            LOGGER.warning("Connection to %s lost: %s", name, reason or "unknown reason")
        self._reported = connected
        self.connected = connected
        self.connection_error = None if connected else reason
        for write in list(self._availability_listeners):
            try:
                write()
            except Exception:  # noqa: BLE001 - one entity never stops the connection
                listener_failed("the server", "availability")

    @callback
    def devices_listed(self, devices: Sequence[DeviceInfo]) -> None:
        """Create or update a device for each device the server lists."""
        self.server_devices = {device.dev_eui for device in devices}
        for device in devices:
            self._ensure_device(device.dev_eui, device)
            if device.location is not None:
                self.device_location(device.dev_eui, device.location)

    @callback
    def uplink(self, uplink: Uplink) -> None:
        """
        Process one uplink: deduplicate, decode, update entities, fire events.

        Its key is remembered once it is delivered (or waits for its codec): an uplink whose
        delivery failed is taken again when the server sends it again.
        """
        dev_eui = uplink.dev_eui
        state = self.devices.get(dev_eui) or self._ensure_device(dev_eui, None)
        key = (uplink.f_cnt, uplink.received_at)
        if state.is_duplicate(key):
            self.duplicates += 1
            return
        if uplink.f_port is None:
            uplink.f_port = state.f_port
        if uplink.f_port == 0 or uplink.encrypted:
            # Port 0 carries MAC commands only, and an encrypted payload means nothing to a
            # decoder: both stay raw.
            self._deliver(state, uplink, Decoded(DecodeResult({}), RAW))
            return
        if state.codec.startswith(JS_PREFIX):
            type_id = state.codec.removeprefix(JS_PREFIX)
            if type_id not in self.codecs or self._js_task is None:
                reason = self.codec_errors.get(type_id, "its device type no longer exists")
            else:
                try:
                    # Decoded off the event loop, in the order the uplinks came.
                    self._js_queue.put_nowait((state, uplink))
                except asyncio.QueueFull:
                    reason = "too many uplinks are waiting for their codec"
                else:
                    state.pending.add(key)
                    return
            self._codec_failed(state, reason)
            self._deliver(state, uplink, Decoded(DecodeResult({}), state.codec, reason))
            return
        self._deliver(
            state, uplink, decode(uplink.payload, uplink.decoded, state.codec, uplink.f_port)
        )

    async def _decode_with_codecs(self, runner: JsRunner) -> None:
        """Decode queued uplinks with their device type's codec, in order, in batches."""
        queue = self._js_queue
        while True:
            batch = [await queue.get()]
            while len(batch) < JS_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            self._js_pending = batch
            try:
                await self._decode_batch(runner, batch)
            finally:
                self._js_pending = []
                for _ in batch:
                    queue.task_done()

    async def _decode_batch(
        self, runner: JsRunner, batch: Sequence[tuple[DeviceState, Uplink]]
    ) -> None:
        """Decode and deliver one batch; whatever fails, every uplink of it is delivered."""
        try:
            outcomes = await runner.run(
                decode_batch,
                [
                    (
                        self.codecs[state.codec.removeprefix(JS_PREFIX)],
                        uplink.payload,
                        uplink.f_port,
                        uplink.received_at,
                    )
                    for state, uplink in batch
                ],
            )
        except Exception:  # noqa: BLE001 - the uplinks are delivered raw, never lost
            LOGGER.exception("The codec thread failed; %d uplinks stay raw", len(batch))
            self._deliver_raw(batch, "the codec thread failed")
            return
        for (state, uplink), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, CodecError):
                decoded = Decoded(DecodeResult({}), state.codec, str(outcome))
                self._guarded(self._codec_failed, state, str(outcome))
            else:
                decoded = Decoded(outcome, state.codec)
                self._guarded(self._codec_worked, state)
            self._deliver(state, uplink, decoded)

    @staticmethod
    def _guarded(update: Callable[..., None], state: DeviceState, *args: Any) -> None:
        """Raise or clear a codec repair; a failure there is logged and loses nothing."""
        try:
            update(state, *args)
        except Exception:  # noqa: BLE001 - the uplink is delivered all the same
            _LOG.exception("repair", "The codec repair of %s could not be updated", state.dev_eui)

    @callback
    def _deliver_raw(self, uplinks: Sequence[tuple[DeviceState, Uplink]], reason: str) -> None:
        """Deliver uplinks undecoded (their payload is kept; their event fires)."""
        for state, uplink in uplinks:
            self._deliver(state, uplink, Decoded(DecodeResult({}), state.codec, reason))

    async def async_encode_downlink(
        self, state: DeviceState, data: Mapping[str, Any], f_port: int
    ) -> tuple[bytes, int] | None:
        """
        Encode ``data`` with the device's codec; None when it has no encoder.

        Raises CodecError with the codec's own words when it refuses ``data``.
        """
        codec = self.codecs.get(state.codec.removeprefix(JS_PREFIX))
        runner = self._js
        if not state.codec.startswith(JS_PREFIX) or codec is None or runner is None:
            return None
        if not await runner.run(codec.defines, "encodeDownlink"):
            return None
        return await runner.run(codec.encode_downlink, data, f_port)

    def _codec_issue_id(self, state: DeviceState) -> str:
        return f"{CODEC_ISSUE}{self.entry.entry_id}_{state.dev_eui}"

    @callback
    def _codec_failed(self, state: DeviceState, reason: str) -> None:
        """Raise (or update) the repair issue naming the device and why its codec fails."""
        device = dr.async_get(self.hass).async_get(state.device_id)
        type_id = state.codec.removeprefix(JS_PREFIX)
        definition = self.entry.options.get(CONF_DEVICE_TYPES, {}).get(type_id, {})
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self._codec_issue_id(state),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="codec_failed",
            translation_placeholders={
                "device": (device.name_by_user or device.name or state.dev_eui)
                if device
                else state.dev_eui,
                "device_type": str(definition.get(CONF_NAME, type_id)),
                "reason": reason
                if len(reason) <= MAX_ISSUE_REASON
                else reason[: MAX_ISSUE_REASON - 1] + "…",
            },
        )
        state.codec_issue = True

    @callback
    def _codec_worked(self, state: DeviceState) -> None:
        if state.codec_issue:
            ir.async_delete_issue(self.hass, DOMAIN, self._codec_issue_id(state))
            state.codec_issue = False

    @callback
    def _deliver(self, state: DeviceState, uplink: Uplink, decoded: Decoded) -> None:
        """
        Update the device's entities with a decoded uplink and fire its events.

        Never raises: an entity that fails is logged and the others are updated. The uplink's key
        is remembered once it was delivered in full, so that a replay is dropped.
        """
        key = (uplink.f_cnt, uplink.received_at)
        state.pending.discard(key)
        try:
            self._show(state, uplink, decoded)
        except Exception:  # noqa: BLE001 - one uplink never stops the connection or the codecs
            _LOG.exception("deliver", "An uplink of %s could not be processed", state.dev_eui)
            return
        state.remember(key)
        self._schedule_save()

    @callback
    def _show(self, state: DeviceState, uplink: Uplink, decoded: Decoded) -> None:
        dev_eui = state.dev_eui
        fields = decoded.result.fields
        if decoded.result.warnings:
            LOGGER.debug("Decoder warnings for %s: %s", dev_eui, decoded.result.warnings)
        if decoded.error:
            LOGGER.debug("Uplink of %s not decoded: %s", dev_eui, decoded.error)
        received_at = uplink.received_at
        # An uplink older than one already shown (a late copy from a catch-up or a server's
        # store) fires its event but never replaces the newer values.
        late = state.last_seen is not None and received_at < state.last_seen
        state.context = context = Context()
        if not late:
            self._show_values(state, uplink, decoded)
        if self._resume_from is None or received_at > self._resume_from:
            self._resume_from = received_at
        data = {
            "dev_eui": dev_eui,
            "device_id": state.device_id,
            "f_port": uplink.f_port,
            "f_cnt": uplink.f_cnt,
            "decoded": fields,
            "payload_hex": uplink.payload.hex().upper(),
            "rssi": uplink.rssi,
            "snr": uplink.snr,
            "received_at": received_at.isoformat(),
        }
        if uplink.encrypted:
            data["encrypted"] = True
        if late:
            data["late"] = True
        self.hass.bus.async_fire(EVENT_UPLINK, data, context=context)

    @callback
    def _show_values(self, state: DeviceState, uplink: Uplink, decoded: Decoded) -> None:
        """Make the uplink the device's newest: its values, diagnostics and last seen."""
        fields = decoded.result.fields
        state.last_codec = decoded.codec
        state.decode_error = decoded.error
        owners = state.owners
        if not fields.keys() <= owners.keys():
            self._add_fields(state, fields, decoded.result.units)
        state.values.update(fields)
        state.last_fields = fields
        state.last_uplink = uplink
        state.last_seen = uplink.received_at
        listeners = state.listeners
        # A tracker shows two or three fields: update each entity once.
        for owner in {owners[key] for key in fields if key in owners}:
            for update in listeners.get(owner, ()):
                try:
                    update()
                except Exception:  # noqa: BLE001 - one entity never stops the uplink
                    listener_failed(state.dev_eui, owner)
        state.notify(KEY_UPLINK)
        if state.online is not True:
            state.online = self._is_online(state, dt_util.utcnow())
            state.notify(KEY_ONLINE)

    @callback
    def downlink_status(self, status: DownlinkStatus) -> None:
        """Fire the downlink-status event."""
        state = self.devices.get(status.dev_eui)
        data = {
            "dev_eui": status.dev_eui,
            "device_id": state.device_id if state else None,
            "message_id": status.message_id,
            "status": status.state.value,
            "reason": status.reason,
            "at": status.at.isoformat() if status.at else None,
        }
        if status.group_id is not None:
            data["group_id"] = status.group_id
        self.hass.bus.async_fire(EVENT_DOWNLINK_STATUS, data)

    @callback
    def device_updated(self, info: DeviceInfo) -> None:
        """Merge news about one device (class, downlink counter...) into what is known."""
        state = self.devices.get(info.dev_eui) or self._ensure_device(info.dev_eui, None)
        known = state.info
        if known is None:
            state.info = info
        else:
            changes = {
                name: value
                for name in DeviceInfo.__dataclass_fields__
                if (value := getattr(info, name)) is not None
            }
            state.info = dataclasses.replace(known, **changes)
        if info.location is not None:
            self.device_location(info.dev_eui, info.location)
        state.notify(KEY_INFO)

    @callback
    def alarm(self, alarm: Alarm) -> None:
        """Show an alarm of the network server as a notification (one per alarm and source)."""
        source = alarm.dev_eui or alarm.gateway_id or "account"
        device = self.devices.get(alarm.dev_eui) if alarm.dev_eui else None
        name = self.entry.title
        if device is not None and device.info is not None and device.info.name:
            name = f"{device.info.name} ({alarm.dev_eui})"
        elif alarm.dev_eui:
            name = alarm.dev_eui
        LOGGER.warning("%s reports %s for %s: %s", self.client.name, alarm.code, source, alarm.text)
        persistent_notification.async_create(
            self.hass,
            f"{alarm.text or alarm.code}\n\n{self.client.name} alarm `{alarm.code}` "
            f"({alarm.severity}) for {name}.",
            title=f"LoRaWAN alarm: {name}",
            notification_id=f"{DOMAIN}_{self.entry.entry_id}_{alarm.code}_{source}".lower(),
        )

    @callback
    def joined(self, join: JoinInfo) -> None:
        """Fire the join event."""
        state = self.devices.get(join.dev_eui) or self._ensure_device(join.dev_eui, None)
        self.hass.bus.async_fire(
            EVENT_JOIN,
            {
                "dev_eui": join.dev_eui,
                "device_id": state.device_id,
                "status": join.status,
                "app_eui": join.app_eui,
            },
        )

    @callback
    def device_status(self, status: DeviceStatus) -> None:
        """Remember a device's battery and margin."""
        state = self.devices.get(status.dev_eui) or self._ensure_device(status.dev_eui, None)
        state.status = status
        state.notify(KEY_STATUS)

    @callback
    def device_location(self, dev_eui: str, location: Location) -> None:
        """Remember the position the server keeps for a device."""
        state = self.devices.get(dev_eui) or self._ensure_device(dev_eui, None)
        if state.location == location:
            return
        state.location = location
        if NETWORK_LOCATION not in state.fields:
            spec = FieldSpec(key=NETWORK_LOCATION, platform=Platform.DEVICE_TRACKER)
            state.add_spec(spec)
            self._announce(state, [spec])
            self._schedule_save()
        state.notify(KEY_LOCATION)

    @callback
    def recent_uplinks(self, dev_eui: str) -> Collection[tuple[int | None, datetime]]:
        """Return the frame counter and time of the device's recent uplinks."""
        state = self.devices.get(dev_eui)
        return tuple(state.recent) if state else ()

    @callback
    def resume_from(self) -> datetime | None:
        """When the newest uplink seen was received."""
        return self._resume_from

    @callback
    def stream_position(self) -> str | None:
        """Return the stream position stored after the last event processed."""
        return self._stream_position

    @callback
    def set_stream_position(self, position: str) -> None:
        """Store the stream position with the uplinks processed up to it."""
        if position != self._stream_position:
            self._stream_position = position
            self._schedule_save()

    # --- online tracking ----------------------------------------------------------------------

    @staticmethod
    def _is_online(state: DeviceState, now: datetime) -> bool:
        if state.last_seen is None:
            return False
        return (now - state.last_seen).total_seconds() < state.offline_after * 60

    @callback
    def _check_online(self, now: datetime) -> None:
        for state in self.devices.values():
            online = self._is_online(state, now)
            if online != state.online:
                state.online = online
                state.notify(KEY_ONLINE)

    @callback
    def forget_device(self, dev_eui: str) -> None:
        """Drop a device removed by the user (it comes back if it sends again)."""
        if (state := self.devices.pop(dev_eui, None)) is not None:
            self._codec_worked(state)
        self._schedule_save()
