"""
Decoding for the devices of every LoRaWAN connection of Home Assistant (2026.11 and later).

Home Assistant's own ChirpStack and The Things Network integrations (and any other provider)
register connections with its LoRaWAN framework; a device becomes entities there only if a
device integration was written for its model. This entry type decodes the others: the devices
the user chose (one confirmation each, offered by discovery, or picked in the options) get the
same decoding and entities as those of our own network servers.

It is a network server of its own kind for the rest of the integration (``FrameworkClient``):
the coordinator, codecs, entities, events, actions and command entities work unchanged. Its
devices come from the framework's connections; downlinks go back through them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
import math
from types import ModuleType
from typing import Any, Final

from lorawan_connection import (
    AckEvent,
    Connection,
    ConnectionUnavailable,
    DeviceDescriptor,
    DeviceEvent,
    Downlink as FrameworkDownlink,
    DownlinkError,
    EventType,
    JoinEvent,
    LocationEvent,
    StatusEvent,
    UplinkEvent,
)

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.importlib import async_import_module
from homeassistant.setup import async_setup_component

from ..const import DOMAIN
from ..lns.base import NetworkServer, Sink
from ..lns.errors import CannotConnect, InvalidRequest, Unsupported
from ..lns.models import (
    Capability,
    DeviceStatus,
    Downlink,
    DownlinkMode,
    DownlinkResult,
    DownlinkState,
    DownlinkStatus,
    Gateway,
    JoinInfo,
    Location,
    ServerDevice,
    Uplink,
)

VENDOR: Final = "framework"


@dataclass(frozen=True, slots=True)
class FrameworkDevice:
    """A device of one of the framework's connections."""

    network_id: str
    descriptor: DeviceDescriptor

    @property
    def dev_eui(self) -> str:
        """Return the DevEUI as the rest of the integration writes it (upper case)."""
        return self.descriptor.dev_eui.upper()


async def async_registry(hass: HomeAssistant) -> Any | None:
    """
    Return the framework's connection registry (setting the framework up), None without it.

    The registry is the framework's own: it has no public way to follow every connection.
    """
    try:
        module: ModuleType = await async_import_module(
            hass, "homeassistant.components.lorawan.connection"
        )
    except ImportError:
        return None
    if not await async_setup_component(hass, "lorawan", {}):
        return None
    return hass.data.get(module.DATA_REGISTRY)


def _integrations_of(integrations: Mapping[str, Any], descriptor: DeviceDescriptor) -> list[str]:
    """Return the device integrations whose manifest matchers name the device's brand."""
    brand = (descriptor.stack, descriptor.brand_id)
    return [
        domain
        for domain, matchers in integrations.items()
        if brand in {tuple(matcher) for matcher in matchers}
    ]


def claimed(hass: HomeAssistant, domain: str, device: FrameworkDevice) -> bool:
    """Whether a device integration made the device its own (the framework's identifier)."""
    descriptor = device.descriptor
    identifier = (domain, f"{descriptor.network_id}:{descriptor.dev_eui}")
    return bool(dr.async_get(hass).async_get_devices(identifiers={identifier}))


def left_to_a_device_integration(
    hass: HomeAssistant, integrations: Mapping[str, Any], device: FrameworkDevice
) -> bool:
    """
    Whether a device integration takes the device (it is then never offered for decoding).

    ``integrations`` are the framework's manifest matchers, domain → ``(stack, brand_id)``
    pairs. A matching integration takes the device while it is not set up (the framework
    offers it for the device) and when it made the device its own; one that is set up and left
    the device out (another model of the brand) does not.
    """
    return any(
        not hass.config_entries.async_loaded_entries(domain) or claimed(hass, domain, device)
        for domain in _integrations_of(integrations, device.descriptor)
    )


def is_ours(hass: HomeAssistant, network_id: str) -> bool:
    """Whether a connection is one of our own entries (whose devices we decode already)."""
    entry = hass.config_entries.async_get_entry(network_id)
    return entry is not None and entry.domain == DOMAIN


def server_device(device: FrameworkDevice) -> ServerDevice:
    """Describe a framework device as a network server lists one."""
    descriptor = device.descriptor
    return ServerDevice(
        dev_eui=device.dev_eui,
        name=descriptor.name or None,
        manufacturer=descriptor.manufacturer or None,
        model=descriptor.model or descriptor.model_id or None,
        profile=descriptor.profile_id or None,
    )


def uplink_of(event: UplinkEvent) -> Uplink:
    """Return the uplink a framework uplink event is (the frame counter is not told)."""
    gateways = tuple(
        Gateway(reception.gateway_id, reception.rssi, reception.snr)
        for reception in sorted(
            event.receptions,
            # The strongest first; one without an RSSI last.
            key=lambda reception: -reception.rssi if reception.rssi is not None else math.inf,
        )
    )
    return Uplink(
        dev_eui=event.dev_eui.upper(),
        received_at=event.received_at,
        f_port=event.f_port,
        f_cnt=None,
        payload=event.data,
        rssi=gateways[0].rssi if gateways else None,
        snr=gateways[0].snr if gateways else None,
        gateways=gateways,
    )


class FrameworkClient(NetworkServer):
    """The devices the user chose, on the framework's connections, as one network server."""

    vendor = VENDOR
    name = "LoRaWAN connections"
    capabilities = frozenset(
        {
            Capability.DOWNLINK,
            Capability.DOWNLINK_ACK,
            Capability.DEVICE_STATUS,
            Capability.LOCATION,
        }
    )
    unsupported_reasons = dict.fromkeys(
        (
            Capability.CLASS_CHANGE,
            Capability.CLEAR_QUEUE,
            Capability.MULTICAST,
            Capability.MULTICAST_GROUPS,
            Capability.FUOTA,
        ),
        "connection_cannot",
    )

    def __init__(
        self,
        hass: HomeAssistant,
        decoded: Mapping[str, str],
        offer: Callable[[FrameworkDevice], None] | None = None,
    ) -> None:
        """
        Decode ``decoded`` (DevEUI → network id) from the framework's connections.

        ``offer`` is told of every other device a connection adds (to offer its decoding).
        """
        self.hass = hass
        self._offer = offer
        self.decoded = {dev_eui.upper(): network_id for dev_eui, network_id in decoded.items()}
        self._sink: Sink | None = None
        self._registry: Any | None = None
        self._subscriptions: dict[str, Callable[[], None]] = {}
        self._connections: dict[str, Connection] = {}
        self._devices: dict[str, FrameworkDevice] = {}
        self._unlisten: Callable[[], None] | None = None

    # --- the framework's connections ----------------------------------------------------------

    async def _async_registry(self) -> Any:
        if self._registry is None:
            self._registry = await async_registry(self.hass)
        if self._registry is None:
            raise CannotConnect("this Home Assistant has no LoRaWAN framework (2026.11 or later)")
        return self._registry

    async def validate(self) -> None:
        """Check that the framework is there."""
        await self._async_registry()

    async def list_devices(self) -> list[ServerDevice]:
        """Return the chosen devices: as their connections list them (see ``_listing``)."""
        await self._async_registry()
        return self._listing()

    def _listing(self, gone: str | None = None) -> list[ServerDevice]:
        """
        Return the chosen devices that are not known to be gone.

        A device is gone when its connection is there and does not list it (or, ``gone``, has
        just removed it), or when the entry of its connection's integration was deleted. The
        devices of a connection that is away are listed as last known: they are unreachable,
        not removed. A device the server stops listing is removed once it
        stays silent (the coordinator's stale devices).
        """
        registry: Any = self._registry  # set: the listing follows list_devices or run
        inventories = {
            network_id: {
                state.descriptor.dev_eui.upper(): state.descriptor
                for state in tuple(registered.devices.values())
            }
            for network_id, registered in tuple(registry.connections.items())
            if not is_ours(self.hass, network_id)
        }
        listed = []
        for dev_eui, network_id in self.decoded.items():
            inventory = inventories.get(network_id)
            if inventory is None:
                if self.hass.config_entries.async_get_entry(network_id) is None:
                    continue  # its integration's entry was deleted: the device went with it
                known = self._devices.get(dev_eui)
                listed.append(server_device(known) if known else ServerDevice(dev_eui=dev_eui))
            elif dev_eui != gone and (descriptor := inventory.get(dev_eui)) is not None:
                device = self._devices[dev_eui] = FrameworkDevice(network_id, descriptor)
                listed.append(server_device(device))
        return listed

    def undecoded_devices(self) -> list[FrameworkDevice]:
        """Return the devices of the connections it does not decode, to choose from.

        Not those a device integration made its own.
        """
        registry = self._registry
        if registry is None:
            return []
        integrations = getattr(registry, "integrations", None) or {}
        found = []
        for network_id, registered in tuple(registry.connections.items()):
            if is_ours(self.hass, network_id):
                continue
            for state in tuple(registered.devices.values()):
                device = FrameworkDevice(network_id, state.descriptor)
                if self.decoded.get(device.dev_eui) == network_id or any(
                    claimed(self.hass, domain, device)
                    for domain in _integrations_of(integrations, state.descriptor)
                ):
                    continue
                found.append(device)
        return found

    async def run(self, sink: Sink) -> None:
        """Follow every connection, those registered later included, until cancelled."""
        registry = await self._async_registry()
        self._sink = sink
        listeners = registry.connection_change_listeners
        listeners.append(self._connection_changed)

        def unlisten() -> None:
            # The framework clears its listeners when Home Assistant stops, maybe before this.
            if self._connection_changed in listeners:
                listeners.remove(self._connection_changed)

        self._unlisten = unlisten
        try:
            for network_id, registered in tuple(registry.connections.items()):
                await self._async_follow(network_id, registered.connection)
            # A connection that is not there (its integration not set up yet, failing, or gone)
            # has its devices unavailable until it comes.
            for network_id in set(self.decoded.values()) - set(registry.connections):
                self._reachable(network_id, reachable=False)
            sink.connection_changed(True, None)
            await asyncio.Event().wait()  # until cancelled
        finally:
            self._stop_following()

    @callback
    def _connection_changed(self, change: tuple[str, Connection | None]) -> None:
        network_id, connection = change
        if connection is None:
            self._forget(network_id)
        else:
            self.hass.async_create_task(self._async_follow(network_id, connection))

    async def _async_follow(self, network_id: str, connection: Connection) -> None:
        """Subscribe to one connection: its devices first, then their events."""
        if is_ours(self.hass, network_id) or network_id in self._subscriptions:
            return
        sink = self._sink
        if sink is None:  # stopped meanwhile
            return
        self._connections[network_id] = connection
        try:
            self._subscriptions[network_id] = await connection.async_subscribe(
                listener=lambda event: self._event(network_id, sink, event)
            )
        except ConnectionUnavailable:
            self._connections.pop(network_id, None)
            return
        self._reachable(network_id, reachable=True)
        # Devices removed while the connection was away are missing from its inventory.
        sink.devices_listed(self._listing())

    @callback
    def _forget(self, network_id: str) -> None:
        """Let a connection that went go: its devices are unreachable until it is back."""
        if (unsubscribe := self._subscriptions.pop(network_id, None)) is not None:
            unsubscribe()
        self._connections.pop(network_id, None)
        self._reachable(network_id, reachable=False)

    def _reachable(self, network_id: str, *, reachable: bool) -> None:
        if (sink := self._sink) is not None:
            dev_euis = [
                dev_eui for dev_eui, network in self.decoded.items() if network == network_id
            ]
            if dev_euis:
                sink.devices_reachable(dev_euis, reachable)

    def _stop_following(self) -> None:
        self._sink = None
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        for network_id in list(self._subscriptions):
            self._forget(network_id)

    @callback
    def _event(self, network_id: str, sink: Sink, event: DeviceEvent) -> None:
        """Hand the events of the chosen devices to the sink."""
        dev_eui = event.dev_eui.upper()
        if self.decoded.get(dev_eui) != network_id:
            if self._offer is not None and event.type is EventType.ADDED and event.descriptor:
                device = FrameworkDevice(network_id, event.descriptor)
                integrations = getattr(self._registry, "integrations", None) or {}
                if not left_to_a_device_integration(self.hass, integrations, device):
                    self._offer(device)
            return
        if event.type in (EventType.ADDED, EventType.UPDATED) and event.descriptor is not None:
            device = FrameworkDevice(network_id, event.descriptor)
            self._devices[dev_eui] = device
            sink.device_updated(server_device(device))
        elif event.type is EventType.REMOVED:
            sink.devices_listed(self._listing(gone=dev_eui))
        elif isinstance(event, UplinkEvent):
            sink.uplink(uplink_of(event))
        elif isinstance(event, JoinEvent):
            sink.joined(JoinInfo(dev_eui=dev_eui, status="joined", dev_addr=event.dev_addr))
        elif isinstance(event, StatusEvent):
            sink.device_status(
                DeviceStatus(
                    dev_eui=dev_eui,
                    battery=None if event.battery_level_unavailable else event.battery_level,
                    external_power=event.external_power_source,
                    margin=event.margin,
                )
            )
        elif isinstance(event, AckEvent):
            sink.downlink_status(
                DownlinkStatus(
                    dev_eui=dev_eui,
                    message_id=event.queue_item_id,
                    state=DownlinkState.ACKNOWLEDGED
                    if event.acknowledged
                    else DownlinkState.FAILED,
                    at=event.received_at,
                )
            )
        elif isinstance(event, LocationEvent):
            sink.device_location(dev_eui, Location(event.latitude, event.longitude, event.altitude))

    # --- downlinks ----------------------------------------------------------------------------

    async def send_downlink(self, downlink: Downlink) -> DownlinkResult:
        """Queue a downlink through the device's connection; its id comes back with the ack."""
        if downlink.mode is not DownlinkMode.QUEUE:
            raise Unsupported("a LoRaWAN connection of Home Assistant only queues downlinks")
        if downlink.device_class is not None:
            raise Unsupported("a LoRaWAN connection sends in the device's own class")
        network_id = self.decoded.get(downlink.dev_eui)
        connection = self._connections.get(network_id or "")
        if connection is None:
            raise CannotConnect("the device's LoRaWAN connection is not there now")
        try:
            message_id = await connection.async_send_downlink(
                FrameworkDownlink(
                    dev_eui=downlink.dev_eui.lower(),
                    f_port=downlink.f_port,
                    data=downlink.payload,
                    confirmed=downlink.confirmed,
                )
            )
        except DownlinkError as err:
            raise InvalidRequest(str(err) or "the connection refused the downlink") from None
        return DownlinkResult(message_id=message_id, state=DownlinkState.QUEUED)

    async def close(self) -> None:
        """Stop following the connections."""
        self._stop_following()
