"""
The coordinator of one config entry: what its network server delivers, made into entities.

An uplink travels: the vendor client (``lns/``) → ``LoRaWANHubCoordinator.uplink`` (drop replays,
decode, or queue for a JavaScript codec on the codec thread) → ``_deliver`` (the device's values,
its entities' updates, the ``lorawan_hub_uplink`` event, the framework feed). The device state
lives in ``device_state.py``, the store in ``store.py``, the codec thread in ``codec_worker.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import Context, HomeAssistant, callback
from homeassistant.helpers import (
    device_registry as dr,
)
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from .alarms import raise_alarm
from .codec_worker import CodecWorker
from .codecs.decode import AUTO, RAW, Decoded, decode
from .codecs.result import DecodeResult
from .const import (
    CONF_CODEC,
    CONF_DEVICES,
    CONF_F_PORT,
    CONF_OFFLINE_AFTER,
    CONF_OWN_ENTITIES,
    DEFAULT_F_PORT,
    DEFAULT_OFFLINE_AFTER,
    DOMAIN,
    EVENT_DOWNLINK_STATUS,
    EVENT_JOIN,
    EVENT_UPLINK,
    LOGGER,
    ONLINE_CHECK_INTERVAL,
    STALE_AFTER,
)
from .device_state import (
    KEY_INFO,
    KEY_LOCATION,
    KEY_ONLINE,
    KEY_STATUS,
    KEY_UPLINK,
    NETWORK_LOCATION,
    DeviceState,
    FieldSpec,
    listener_failed,
    new_field_specs,
)
from .device_types import CONF_DEVICE_TYPES, JS_PREFIX
from .entity_listeners import EntityListeners, NewEntitiesCallback
from .framework.claims import claims_of, follow_claims, update_claims
from .lns.base import NetworkServer, ThrottledLog
from .lns.errors import AuthError
from .lns.models import (
    Alarm,
    DeviceStatus,
    DownlinkStatus,
    JoinInfo,
    Location,
    ServerDevice,
    Uplink,
)
from .store import EntryStore, device_data, parse_time, restore_device

if TYPE_CHECKING:
    from .framework.provider import FrameworkLink

type LoRaWANHubConfigEntry = ConfigEntry[LoRaWANHubCoordinator]

_LOG = ThrottledLog(LOGGER)


async def _stopped(task: asyncio.Task[None], name: str) -> None:
    """Cancel a background task and wait for it; how it ended is logged, never raised."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    except Exception:  # noqa: BLE001 - logged; the entry stops all the same
        LOGGER.exception("The %s task had failed", name)


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
        self._store = EntryStore(hass, entry.entry_id, self._data_to_save)
        self.entities = EntityListeners()
        self.announce = self.entities.announce
        self.async_subscribe = self.entities.subscribe
        self._task: asyncio.Task[None] | None = None
        self._hub_device_id: str | None = None
        self.framework: FrameworkLink | None = None
        """The link to Home Assistant's LoRaWAN framework, on a release that has it."""
        self.codec_worker = CodecWorker(
            hass, entry.entry_id, entry.options.get(CONF_DEVICE_TYPES, {}), self._deliver
        )

    @callback
    def async_add_platform(self, new_entities: NewEntitiesCallback) -> None:
        """Register a platform's entity factory; it gets every device known so far."""
        self.entities.add_platform(new_entities, self.devices.values())

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
        self._restore(await self._store.async_load())
        await self.codec_worker.async_load()
        devices = await self.client.list_devices()
        self.devices_listed(devices)
        self.update_claims()
        self.entry.async_on_unload(
            async_track_time_interval(self.hass, self._check_online, ONLINE_CHECK_INTERVAL)
        )
        self.entry.async_on_unload(follow_claims(self))

    @callback
    def start(self) -> None:
        """Start the realtime connection (and the codec worker) in background tasks."""
        self.codec_worker.start(
            lambda coroutine, name: self.entry.async_create_background_task(
                self.hass, coroutine, name
            )
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
        await self.codec_worker.async_stop()
        if self.framework is not None:
            self.framework.stop()
        try:
            await self.client.close()
        except Exception:  # noqa: BLE001 - logged; the state is saved all the same
            LOGGER.exception("The connection to %s did not close cleanly", self.entry.title)
        await self._store.async_save_pending()

    def _restore(self, stored: Mapping[str, Any]) -> None:
        self._resume_from = parse_time(stored.get("resume_from"))
        self._stream_position = stored.get("stream_position")
        for dev_eui, data in (stored.get("devices") or {}).items():
            state = self._ensure_device(dev_eui, None, announce=False)
            try:
                restore_device(state, data)
            except Exception:  # noqa: BLE001 - one bad stored device never stops the entry
                LOGGER.exception("The stored state of %s could not be read in full", dev_eui)
            state.online = state.is_online(dt_util.utcnow())

    @callback
    def _data_to_save(self) -> dict[str, Any]:
        return {
            "resume_from": self._resume_from.isoformat() if self._resume_from else None,
            "stream_position": self._stream_position,
            "devices": {state.dev_eui: device_data(state) for state in self.devices.values()},
        }

    @callback
    def _schedule_save(self) -> None:
        self._store.schedule_save()

    def _apply_device_options(self, state: DeviceState) -> None:
        options = self.entry.options
        device_options = options.get(CONF_DEVICES, {}).get(state.dev_eui, {})
        state.codec = device_options.get(CONF_CODEC, AUTO)
        state.f_port = (
            None if self.client.reports_port else device_options.get(CONF_F_PORT, DEFAULT_F_PORT)
        )
        state.own_entities = bool(device_options.get(CONF_OWN_ENTITIES, False))
        state.offline_after = device_options.get(
            CONF_OFFLINE_AFTER, options.get(CONF_OFFLINE_AFTER, DEFAULT_OFFLINE_AFTER)
        )

    # --- devices ------------------------------------------------------------------------------

    def _ensure_device(
        self, dev_eui: str, info: ServerDevice | None, *, announce: bool = True
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
                self.announce(state, None)
            self._tell_framework("device", state)
            return state
        if info is not None:
            state.info = info
            entry = registry.async_get(state.device_id)
            if entry is not None and name and entry.name != name:
                registry.async_update_device(entry.id, name=name)
            self._tell_framework("device", state)
        return state

    @callback
    def _tell_framework(self, what: str, *args: Any) -> None:
        """Tell the LoRaWAN framework (where it exists); it never stops the entry."""
        if (framework := self.framework) is not None:
            try:
                getattr(framework, what)(*args)
            except Exception:  # noqa: BLE001 - the framework never stops the entry
                _LOG.exception(f"framework:{what}", "The LoRaWAN framework was not told %s", what)

    def _add_fields(
        self, state: DeviceState, fields: Mapping[str, Any], units: Mapping[str, str]
    ) -> None:
        """Create the entities of fields seen for the first time."""
        specs = new_field_specs(state, fields, units)
        for spec in specs:
            state.add_spec(spec)
        self.announce(state, specs)

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
        self.entities.write_availability()
        self._tell_framework("connection_changed", connected)

    @callback
    def devices_reachable(self, dev_euis: Collection[str], reachable: bool) -> None:
        """Show some devices unavailable while their own connection is lost (or back)."""
        changed = False
        for dev_eui in dev_euis:
            if (state := self.devices.get(dev_eui)) is not None and state.reachable != reachable:
                state.reachable = reachable
                changed = True
        if changed:
            self.entities.write_availability()

    @callback
    def devices_listed(self, devices: Sequence[ServerDevice]) -> None:
        """
        Create or update a device for each device the server lists.

        A device the list lacks is removed once it has been missing, and silent, for
        ``STALE_AFTER`` (a list that misses a device by accident does not remove it).
        """
        self.server_devices = {device.dev_eui for device in devices}
        for device in devices:
            self._ensure_device(device.dev_eui, device).unlisted_since = None
            if device.location is not None:
                self.device_location(device.dev_eui, device.location)
        now = dt_util.utcnow()
        for state in self.devices.values():
            if state.dev_eui not in self.server_devices and state.unlisted_since is None:
                state.unlisted_since = now
                self._schedule_save()
        self._remove_stale(now)

    @callback
    def _remove_stale(self, now: datetime) -> None:
        """Remove the devices the server stopped listing and that stayed silent since."""
        registry = dr.async_get(self.hass)
        for state in list(self.devices.values()):
            since = state.unlisted_since
            if since is None or now - since < STALE_AFTER:
                continue
            if state.last_seen is not None and state.last_seen >= since:
                state.unlisted_since = None  # it sends: not gone, whatever the list says
                continue
            LOGGER.info(
                "%s no longer lists %s: its device is removed", self.entry.title, state.dev_eui
            )
            self.forget_device(state.dev_eui)
            registry.async_remove_device(state.device_id)

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
            if (reason := self.codec_worker.take(state, uplink)) is None:
                state.pending.add(key)
                return
            self._deliver(state, uplink, Decoded(DecodeResult({}), state.codec, reason))
            return
        self._deliver(
            state, uplink, decode(uplink.payload, uplink.decoded, state.codec, uplink.f_port)
        )

    async def async_encode_downlink(
        self, state: DeviceState, data: Mapping[str, Any], f_port: int
    ) -> tuple[bytes, int] | None:
        """Encode ``data`` with the device's codec; None when it has none (see CodecWorker)."""
        return await self.codec_worker.async_encode_downlink(state, data, f_port)

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
        if uplink.f_port != 0 and not uplink.encrypted:
            # The framework's uplinks are application data in plain text (port 0 carries MAC
            # commands; an encrypted payload would be read as nonsense by a device integration).
            self._tell_framework("uplink", uplink)

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
            state.online = state.is_online(dt_util.utcnow())
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
        if state is not None:
            self._tell_framework("downlink_status", status)

    @callback
    def device_updated(self, info: ServerDevice) -> None:
        """Merge news about one device (class, downlink counter...) into what is known."""
        state = self.devices.get(info.dev_eui) or self._ensure_device(info.dev_eui, None)
        known = state.info
        if known is None:
            state.info = info
        else:
            changes = {
                name: value
                for name in ServerDevice.__dataclass_fields__
                if (value := getattr(info, name)) is not None
            }
            state.info = dataclasses.replace(known, **changes)
        if info.location is not None:
            self.device_location(info.dev_eui, info.location)
        state.notify(KEY_INFO)
        self._tell_framework("device", state)

    @callback
    def alarm(self, alarm: Alarm) -> None:
        """Make a network server's alarm a repair and an event (see ``alarms``)."""
        state = self.devices.get(alarm.dev_eui) if alarm.dev_eui else None
        device = dr.async_get(self.hass).async_get(state.device_id) if state else None
        raise_alarm(self.hass, self.entry, self.client.name, alarm, device)

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
        if join.accepted:
            dev_addr = join.dev_addr or (state.info.dev_addr if state.info else None)
            self._tell_framework("joined", join.dev_eui, dev_addr)

    @callback
    def device_status(self, status: DeviceStatus) -> None:
        """Remember a device's battery and margin."""
        state = self.devices.get(status.dev_eui) or self._ensure_device(status.dev_eui, None)
        state.status = status
        state.notify(KEY_STATUS)
        self._tell_framework("device_status", status)

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
            self.announce(state, [spec])
            self._schedule_save()
        state.notify(KEY_LOCATION)
        self._tell_framework("location", dev_eui, location)

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

    # --- devices a device integration supports ------------------------------------------------

    @callback
    def update_claims(self) -> None:
        """Leave decoded values to the device integrations that support devices (``claims``)."""
        update_claims(self, claims_of(self))

    # --- online tracking ----------------------------------------------------------------------

    @callback
    def _check_online(self, now: datetime) -> None:
        for state in self.devices.values():
            online = state.is_online(now)
            if online != state.online:
                state.online = online
                state.notify(KEY_ONLINE)
        self._remove_stale(now)

    @callback
    def forget_device(self, dev_eui: str) -> None:
        """Drop a device removed by the user (it comes back if it sends again)."""
        if (state := self.devices.pop(dev_eui, None)) is not None:
            self.codec_worker.codec_worked(state)
            self._tell_framework("removed", dev_eui)
        self._schedule_save()
