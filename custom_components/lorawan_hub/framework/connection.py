"""
One LoRaWAN Hub entry as a connection of Home Assistant's LoRaWAN framework.

The framework (Home Assistant 2026.11 and later, on the ``lorawan-connection`` library) lists
the devices of every registered connection and lets device integrations decode them. This
connection is an adapter over what the entry already receives from its network server: it
never opens a second connection. The entry feeds it devices and events; it answers the
framework's subscriptions (inventory first, then live events) and sends the framework's
downlinks through the entry's own client, with the checks of the ``send_downlink`` action.

Free of Home Assistant imports: the library's own ``DeviceCollection`` can run over it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Iterable
import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
import logging
from typing import Final

from lorawan_connection import (
    AckEvent,
    AddedEvent,
    ConnectionUnavailable,
    DeviceDescriptor,
    DeviceEvent,
    Downlink,
    GatewayReception,
    JoinEvent,
    LocationEvent,
    RemovedEvent,
    StatusEvent,
    Unsubscribe,
    UpdatedEvent,
    UplinkEvent,
)

from ..lns.models import DeviceStatus, DownlinkState, DownlinkStatus, Location, Uplink
from ..lns.netemera import LAST_DOWNLINK

_LOGGER = logging.getLogger(__name__)

STACK: Final = "tts"
"""The catalog namespace of our devices' identities: the LoRaWAN Device Repository's vendor and
device ids, which The Things Stack uses too (``sensecap`` / ``sensecaps2101-temp-humid``)."""

type Brands = frozenset[tuple[str, int | str]]
type Listener = Callable[[DeviceEvent], None]
type SendDownlink = Callable[[Downlink], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Identity:
    """A device's model in the LoRaWAN Device Repository."""

    brand_id: str
    """The vendor's folder, e.g. ``sensecap``."""
    model_id: str
    """The device's file name without ``.yaml``, e.g. ``sensecaps2101-temp-humid``."""
    manufacturer: str = ""
    model: str = ""


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """What the entry knows about one device, for its descriptor."""

    dev_eui: str
    name: str
    application_id: str = ""
    profile_id: str = ""
    identity: Identity | None = None


def descriptor_of(network_id: str, facts: DeviceFacts) -> DeviceDescriptor:
    """Describe a device for the framework (its identity, when known, names its model)."""
    identity = facts.identity
    return DeviceDescriptor(
        network_id,
        facts.dev_eui,
        facts.name,
        facts.application_id,
        facts.profile_id,
        identity.model_id if identity else "",
        identity.brand_id if identity else None,
        identity.model if identity else "",
        identity.manufacturer if identity else "",
        stack=STACK,
    )


def uplink_event(descriptor: DeviceDescriptor, uplink: Uplink) -> UplinkEvent:
    """Return the framework's uplink: payload, port and one reception per gateway."""
    if uplink.gateways:
        receptions = tuple(
            GatewayReception(gateway.gateway_id, gateway.rssi, gateway.snr)
            for gateway in uplink.gateways
        )
    elif uplink.rssi is not None or uplink.snr is not None:
        # The server tells the best reception only, not by which gateway.
        receptions = (GatewayReception("", uplink.rssi, uplink.snr),)
    else:
        receptions = ()
    return UplinkEvent(
        descriptor=descriptor,
        received_at=uplink.received_at,
        data=uplink.payload,
        f_port=uplink.f_port if uplink.f_port is not None else 0,
        receptions=receptions,
    )


def status_event(descriptor: DeviceDescriptor, status: DeviceStatus, at: datetime) -> StatusEvent:
    """Return the framework's device status (battery, margin, external power)."""
    return StatusEvent(
        descriptor=descriptor,
        received_at=at,
        margin=status.margin or 0,
        external_power_source=bool(status.external_power),
        battery_level_unavailable=status.battery is None,
        battery_level=status.battery or 0.0,
    )


def ack_event(descriptor: DeviceDescriptor, status: DownlinkStatus) -> AckEvent | None:
    """Return the acknowledgement a downlink status means, if it is one."""
    if status.state is DownlinkState.ACKNOWLEDGED:
        acknowledged = True
    elif status.state in (DownlinkState.FAILED, DownlinkState.CANCELLED):
        acknowledged = False
    else:
        return None
    return AckEvent(
        descriptor=descriptor,
        received_at=status.at or datetime.now(UTC),
        queue_item_id=status.message_id,
        acknowledged=acknowledged,
    )


def join_event(descriptor: DeviceDescriptor, dev_addr: str, at: datetime) -> JoinEvent:
    """Return the framework's join."""
    return JoinEvent(descriptor=descriptor, received_at=at, dev_addr=dev_addr)


def location_event(descriptor: DeviceDescriptor, location: Location, at: datetime) -> LocationEvent:
    """Return the framework's device position."""
    return LocationEvent(
        descriptor=descriptor,
        received_at=at,
        latitude=location.latitude,
        longitude=location.longitude,
        altitude=location.altitude or 0.0,
    )


@dataclass(eq=False, slots=True)
class _Subscription:
    brands: Brands | None
    listener: Listener

    def wants(self, descriptor: DeviceDescriptor) -> bool:
        return self.brands is None or (descriptor.stack, descriptor.brand_id) in self.brands


class HubConnection:
    """
    The framework's ``Connection`` for one entry, fed by the entry.

    It lives while the entry's realtime connection is up: when that is lost, the framework is
    told (``on_disconnect``) and this object is done; the entry registers a new one when the
    connection is back (the framework keeps device integrations' devices meanwhile).
    """

    stack_type: Final = STACK

    def __init__(self, network_id: str, send_downlink: SendDownlink) -> None:
        """Serve the devices of ``network_id`` (the entry id); downlinks go to ``send_downlink``."""
        self.network_id = network_id
        self.devices: dict[str, DeviceDescriptor] = {}
        """By DevEUI in lower case, as the framework writes it."""
        self._send = send_downlink
        self._subscriptions: list[_Subscription] = []
        self._disconnect_listeners: list[Callable[[], None]] = []
        self.available = True

    # --- the framework's side -----------------------------------------------------------------

    async def async_subscribe(
        self, *, brands: Brands | None = None, listener: Listener
    ) -> Unsubscribe:
        """Deliver every matching device (``AddedEvent``), then their events as they come."""
        self._check_available()
        subscription = _Subscription(brands, listener)
        self._subscriptions.append(subscription)
        for descriptor in tuple(self.devices.values()):
            if subscription not in self._subscriptions:
                break
            if subscription.wants(descriptor):
                _call(listener, AddedEvent(descriptor=descriptor))

        def unsubscribe() -> None:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

        return unsubscribe

    def on_disconnect(self, listener: Callable[[], None]) -> Unsubscribe:
        """Call ``listener`` once when the entry's realtime connection is lost."""
        self._check_available()
        self._disconnect_listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._disconnect_listeners:
                self._disconnect_listeners.remove(listener)

        return unsubscribe

    async def async_send_downlink(self, downlink: Downlink) -> str:
        """
        Send a downlink through the entry's client; return the id its acknowledgement carries.

        Raises ``DownlinkError`` with the reason when the device is unknown, the connection is
        down, or the downlink is refused (port, size, or the network server's own refusal).
        """
        return await self._send(downlink)

    # --- the entry's side ---------------------------------------------------------------------

    def set_devices(self, descriptors: Iterable[DeviceDescriptor]) -> None:
        """Take the complete device list: new devices added, changed ones updated, gone removed."""
        listed = {descriptor.dev_eui: descriptor for descriptor in descriptors}
        for dev_eui in [dev_eui for dev_eui in self.devices if dev_eui not in listed]:
            self.remove_device(dev_eui)
        for descriptor in listed.values():
            self.set_device(descriptor)

    def set_device(self, descriptor: DeviceDescriptor) -> None:
        """Add a device, or update what changed about it."""
        previous = self.devices.get(descriptor.dev_eui)
        if previous == descriptor:
            return
        self.devices[descriptor.dev_eui] = descriptor
        if previous is None:
            self._deliver(AddedEvent(descriptor=descriptor), descriptor)
        else:
            self._deliver(UpdatedEvent(descriptor=descriptor), descriptor, previous)

    def remove_device(self, dev_eui: str) -> None:
        """Remove a device the network server no longer lists."""
        if (descriptor := self.devices.pop(dev_eui.lower(), None)) is not None:
            self._deliver(RemovedEvent(descriptor=descriptor), descriptor)

    def descriptor(self, dev_eui: str) -> DeviceDescriptor | None:
        """Return a device's descriptor, None for a device the framework does not know."""
        return self.devices.get(dev_eui.lower())

    def emit(self, event: DeviceEvent) -> None:
        """Deliver an event about a known device to the subscriptions that want it."""
        if (descriptor := self.devices.get(event.dev_eui)) is not None:
            self._deliver(event, descriptor)

    def disconnect(self) -> None:
        """Tell the framework the connection is lost (once); nothing is delivered afterwards."""
        if not self.available:
            return
        self.available = False
        self._subscriptions.clear()
        self.devices.clear()  # a lost connection is never used again: keep nothing of it
        listeners = tuple(self._disconnect_listeners)
        self._disconnect_listeners.clear()
        for listener in listeners:
            _call(listener)

    def _deliver(
        self,
        event: DeviceEvent,
        descriptor: DeviceDescriptor,
        previous: DeviceDescriptor | None = None,
    ) -> None:
        if not self.available:
            return
        for subscription in tuple(self._subscriptions):
            if subscription not in self._subscriptions:
                continue
            if subscription.wants(descriptor):
                _call(subscription.listener, event)
            elif previous is not None and subscription.wants(previous):
                # The device left the brands this subscriber follows.
                _call(subscription.listener, RemovedEvent(descriptor=previous))

    def _check_available(self) -> None:
        if not self.available:
            raise ConnectionUnavailable("the network server connection is lost")


def _call[*Args](listener: Callable[[*Args], None], *args: *Args) -> None:
    """Call a framework listener; one that fails is logged and stops nothing of ours."""
    try:
        listener(*args)
    except Exception:
        _LOGGER.exception("A LoRaWAN framework listener failed")


BUFFER: Final = 10_000
"""Events kept while no connection is registered (an outage, a catch-up before re-registering)."""

type Register = Callable[[HubConnection], None]


class FrameworkFeed:
    """
    What one entry tells the framework: devices and events, across outages.

    While the realtime connection is up, one ``HubConnection`` is registered with the framework.
    When it is lost, that connection tells the framework (``on_disconnect``) and events wait here
    (what a catch-up brings included); when it is back, a new connection is handed to
    ``register`` and, once registered, the waiting events follow, in order. Nothing reaches the
    framework twice: the entry feeds only uplinks it did not have before.
    """

    def __init__(self, network_id: str, send_downlink: SendDownlink, register: Register) -> None:
        """Feed the framework for the entry ``network_id``; ``register`` registers connections."""
        self.network_id = network_id
        self._send = send_downlink
        self._register = register
        self._devices: dict[str, DeviceDescriptor] = {}
        """DevEUI (lower case) → the device's descriptor, made once per change of its facts."""
        self.connection: HubConnection | None = None
        """The connection registered with the framework, None while there is none."""
        self._pending: HubConnection | None = None
        self._waiting: deque[DeviceEvent] = deque(maxlen=BUFFER)
        self.dropped = 0
        """Events that did not fit in the buffer during a long outage."""
        self._last_sent: dict[str, str] = {}
        """DevEUI (lower case) → the id returned for the last downlink sent to the device."""

    # --- devices ------------------------------------------------------------------------------

    def set_devices(self, devices: Iterable[DeviceFacts]) -> None:
        """Take the complete device list."""
        self._devices = {
            facts.dev_eui.lower(): descriptor_of(self.network_id, facts) for facts in devices
        }
        if (connection := self._current) is not None:
            connection.set_devices(self._descriptors())

    def set_device(self, facts: DeviceFacts) -> None:
        """Add or update one device."""
        descriptor = self._devices[facts.dev_eui.lower()] = descriptor_of(self.network_id, facts)
        if (connection := self._current) is not None:
            connection.set_device(descriptor)

    def remove_device(self, dev_eui: str) -> None:
        """Remove one device."""
        self._devices.pop(dev_eui.lower(), None)
        if (connection := self._current) is not None:
            connection.remove_device(dev_eui)

    @property
    def _current(self) -> HubConnection | None:
        """
        The connection the device list goes to: the registered one, or one being registered.

        A connection being registered already answers the framework's subscription: a device
        listed meanwhile (a reconnect lists them again) must be in it before the events that
        waited for the registration.
        """
        return self.connection or self._pending

    def _descriptors(self) -> list[DeviceDescriptor]:
        return list(self._devices.values())

    def _descriptor(self, dev_eui: str) -> DeviceDescriptor | None:
        return self._devices.get(dev_eui.lower())

    # --- events -------------------------------------------------------------------------------

    def uplink(self, uplink: Uplink) -> None:
        """Feed an uplink the entry delivered (live or caught up)."""
        if (descriptor := self._descriptor(uplink.dev_eui)) is not None:
            self._emit(uplink_event(descriptor, uplink))

    def joined(self, dev_eui: str, dev_addr: str, at: datetime) -> None:
        """Feed a join (with the session's DevAddr)."""
        if (descriptor := self._descriptor(dev_eui)) is not None:
            self._emit(join_event(descriptor, dev_addr, at))

    def device_status(self, status: DeviceStatus, at: datetime) -> None:
        """Feed a device's battery and margin."""
        if (descriptor := self._descriptor(status.dev_eui)) is not None:
            self._emit(status_event(descriptor, status, at))

    def downlink_status(self, status: DownlinkStatus) -> None:
        """
        Feed a downlink's acknowledgement (or its failure); other states mean nothing here.

        A vendor that acknowledges only "the last downlink" (``LAST_DOWNLINK``, Netemera) is
        taken to acknowledge the last one sent through the framework: its id is the one told.
        """
        if status.message_id == LAST_DOWNLINK and (
            sent := self._last_sent.get(status.dev_eui.lower())
        ):
            status = dataclasses.replace(status, message_id=sent)
        if (descriptor := self._descriptor(status.dev_eui)) is not None and (
            event := ack_event(descriptor, status)
        ) is not None:
            self._emit(event)

    def location(self, dev_eui: str, location: Location, at: datetime) -> None:
        """Feed a position the network server keeps for a device."""
        if (descriptor := self._descriptor(dev_eui)) is not None:
            self._emit(location_event(descriptor, location, at))

    def _emit(self, event: DeviceEvent) -> None:
        if (connection := self.connection) is not None:
            connection.emit(event)
            return
        if len(self._waiting) == self._waiting.maxlen:
            self.dropped += 1
        self._waiting.append(event)

    # --- the connection's life ----------------------------------------------------------------

    def connection_changed(self, connected: bool) -> None:
        """Follow the entry's realtime connection: a new framework connection when it is up."""
        if not connected:
            if (connection := self.connection or self._pending) is not None:
                self.connection = self._pending = None
                connection.disconnect()
            return
        if self.connection is not None or self._pending is not None:
            return
        connection = HubConnection(self.network_id, self._send_downlink)
        connection.set_devices(self._descriptors())
        self._pending = connection
        self._register(connection)

    async def _send_downlink(self, downlink: Downlink) -> str:
        """Send a framework's downlink; remember its id for an acknowledgement without one."""
        message_id = await self._send(downlink)
        self._last_sent[downlink.dev_eui.lower()] = message_id
        return message_id

    def registered(self, connection: HubConnection) -> None:
        """Take ``connection`` as registered, and give it the events that waited."""
        if connection is not self._pending:
            return  # lost again before its registration finished
        self._pending = None
        self.connection = connection
        while self._waiting and connection.available:
            connection.emit(self._waiting.popleft())

    def registration_failed(self, connection: HubConnection) -> None:
        """Forget a connection the framework refused; the next reconnect tries again."""
        if connection is self._pending:
            self._pending = None
            connection.disconnect()

    def close(self) -> None:
        """Stop: the framework is told the connection is gone, and nothing waits any more."""
        self.connection_changed(False)
        self._waiting.clear()
