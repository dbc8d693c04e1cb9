"""
The pipeline of an entry that is a connection of Home Assistant's LoRaWAN framework.

From Home Assistant 2026.11 each network-server entry registers itself with the framework's
``lorawan`` integration (``framework/provider.py``): the coordinator tells its link of every
uplink, which the entry's ``HubConnection`` delivers to its subscribers. The benchmark's Home
Assistant (2026.10) has no framework, so a stand-in module takes the registration as
``homeassistant.components.lorawan`` does, and subscribes what an installation subscribes:

- the framework's own listener, as its ``RegisteredConnection``: disconnect listener first, then a
  subscription to every device; each event updates the device's latest observations (its
  ``DeviceState``) and sends the devices page's signal (no page is open here, as mostly);
- a device integration's generic ``lorawan_connection.DeviceCollection``: one ``Device`` per
  device, each event routed to it.

The path is fed as the ``pipeline`` path is (Orion ``realtime_data`` frames handed to the client's
frame handler), on an entry and a device of its own: a second simulator, since one Orion
application feeds every entry that follows it. The unlinked path is left as it was, and linked
minus unlinked is what being a framework connection costs per uplink.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import contextlib
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any
from unittest.mock import patch

from lorawan_connection import (
    Connection,
    Device,
    DeviceCollection,
    DeviceDescriptor,
    DeviceEvent,
    EventType,
    JoinEvent,
    StatusEvent,
    Unsubscribe,
    UplinkEvent,
)

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send

from custom_components.lorawan_hub.const import DOMAIN
from custom_components.lorawan_hub.framework import provider
from simulator.orion import OrionSimulator

from .harness import Hub, UplinkCounter, entity_id_of, start_hub
from .results import BenchError
from .uplinks import APP_KEY, FIELDS, Reading, lpp_payload, orion_frame

LINKED_DEVICE = "70B3D57EBE000004"
LINKED_APP = "bench-linked-app"
ENTRY_ID = "01KBENCHLINKED000000000000"
SIGNAL_DEVICES_CHANGED = "lorawan_devices_changed"
"""The framework's signal to its devices page, sent for every event it keeps."""


def linked_simulator() -> OrionSimulator:
    """Return the Orion simulator of the linked entry: its own application and device."""
    simulator = OrionSimulator(app_id=LINKED_APP, token=APP_KEY)
    simulator.add_device(LINKED_DEVICE, description="Bench linked climate", kind="sensor")
    return simulator


# --- the stand-in of the framework ----------------------------------------------------------------


@dataclass
class ObservedDevice:
    """A device's latest observations, kept as the framework's ``DeviceState`` keeps them."""

    descriptor: DeviceDescriptor
    uplink: UplinkEvent | None = None
    join: JoinEvent | None = None
    status: StatusEvent | None = None

    def receive(self, event: DeviceEvent) -> bool:
        """Take an event; False when it is older than what is known, or of no interest."""
        if event.type in (EventType.ADDED, EventType.UPDATED):
            if event.descriptor is not None:
                self.descriptor = event.descriptor
        elif isinstance(event, UplinkEvent):
            if self.uplink is not None and event.received_at < self.uplink.received_at:
                return False
            self.uplink = event
        elif isinstance(event, JoinEvent):
            if self.join is not None and event.received_at < self.join.received_at:
                return False
            self.join = event
        elif isinstance(event, StatusEvent):
            if self.status is not None and event.received_at < self.status.received_at:
                return False
            self.status = event
        else:
            return False
        return True


class FrameworkListener:
    """The framework's subscription to a registered connection (its ``RegisteredConnection``)."""

    def __init__(self, hass: HomeAssistant, connection: Connection) -> None:
        """Follow ``connection`` once set up."""
        self._hass = hass
        self.connection = connection
        self.devices: dict[str, ObservedDevice] = {}
        self.uplinks = 0
        """Uplinks taken (a count of the benchmark's; the framework keeps the last one only)."""
        self._active = False
        self._disconnected = False
        self._unsubscribes: list[Unsubscribe] = []

    async def async_setup(self) -> None:
        """Listen for the connection's loss, then subscribe to every device."""
        self._unsubscribes.append(self.connection.on_disconnect(self.unsubscribe))
        self._unsubscribes.append(
            await self.connection.async_subscribe(brands=None, listener=self._handle_event)
        )
        if self._disconnected:
            self.unsubscribe()
            raise BenchError("the linked connection was lost during its registration")
        self._active = True
        async_dispatcher_send(self._hass, SIGNAL_DEVICES_CHANGED)

    @callback
    def unsubscribe(self) -> None:
        """Forget the connection and its devices."""
        self._disconnected = True
        if self._active:
            self._active = False
            self.devices.clear()
            async_dispatcher_send(self._hass, SIGNAL_DEVICES_CHANGED)
        for unsubscribe in self._unsubscribes:
            unsubscribe()
        self._unsubscribes.clear()

    @callback
    def _handle_event(self, event: DeviceEvent) -> None:
        if self._disconnected:
            return
        if event.type == EventType.REMOVED:
            self.devices.pop(event.dev_eui, None)
        elif (state := self.devices.get(event.dev_eui)) is not None:
            if not state.receive(event):
                return
        elif event.type in (EventType.ADDED, EventType.UPDATED) and event.descriptor is not None:
            self.devices[event.dev_eui] = ObservedDevice(event.descriptor)
        else:
            return
        if event.type == EventType.UPLINK:
            self.uplinks += 1
        if self._active:
            async_dispatcher_send(self._hass, SIGNAL_DEVICES_CHANGED)


class CountingCollection(DeviceCollection[Device]):
    """A generic device collection that counts the uplinks its devices were given."""

    uplinks = 0

    def handle_event(self, event: DeviceEvent) -> None:
        """Route the event as the library does; count the uplinks that reached a device."""
        super().handle_event(event)
        if event.type == EventType.UPLINK and event.dev_eui in self.devices:
            self.uplinks += 1


class FrameworkStandIn(ModuleType):
    """Stands in for ``homeassistant.components.lorawan``: takes registrations, subscribes."""

    def __init__(self) -> None:
        """No connection yet."""
        super().__init__("lorawan")
        self.listeners: list[FrameworkListener] = []
        self.collections: list[CountingCollection] = []
        self.unregistered = 0

    async def async_register_connection(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        *,
        connection: Connection,
        configuration_url: str | None = None,
    ) -> Callable[[], None]:
        """Register like the framework, then a device integration's collection subscribes."""
        listener = FrameworkListener(hass, connection)
        await listener.async_setup()
        collection = CountingCollection(connection)
        await collection.async_setup()
        self.listeners.append(listener)
        self.collections.append(collection)

        def unregister() -> None:
            self.unregistered += 1
            collection.close()
            listener.unsubscribe()

        return unregister

    def delivered(self) -> tuple[int, int]:
        """Return the uplinks the framework's listener and the collection took."""
        if not self.listeners or not self.collections:
            return (0, 0)
        return (self.listeners[-1].uplinks, self.collections[-1].uplinks)

    def last_uplink(self, dev_eui: str) -> bytes | None:
        """Return the payload of the last uplink the framework keeps for a device."""
        if not self.listeners:
            return None
        state = self.listeners[-1].devices.get(dev_eui.lower())
        return state.uplink.data if state is not None and state.uplink is not None else None


# --- the path -------------------------------------------------------------------------------------


@dataclass(slots=True)
class LinkedPath:
    """The linked entry, set up and live, and the frames to feed it."""

    hub: Hub
    framework: FrameworkStandIn
    step: Callable[[int], None]
    """Hand frame ``index`` to the linked entry's client, as the ``pipeline`` path does."""
    counter: UplinkCounter
    sensors: list[str]

    def check_delivered(self, uplinks: int, values: Reading) -> None:
        """Raise unless both subscribers took ``uplinks`` uplinks, the last one of ``values``."""
        listener, collection = self.framework.delivered()
        if listener != uplinks or collection != uplinks:
            raise BenchError(
                f"linked entry: {uplinks} uplinks, the framework's listener took {listener} "
                f"and the device collection {collection}"
            )
        if self.framework.last_uplink(LINKED_DEVICE) != lpp_payload(values):
            raise BenchError("linked entry: the framework does not keep the last uplink")


async def prepare_linked(
    hass: HomeAssistant,
    simulator: OrionSimulator,
    stack: contextlib.ExitStack,
    readings: Sequence[Reading],
    moments: Sequence[datetime],
) -> LinkedPath:
    """
    Set up the linked entry on ``simulator`` (of ``linked_simulator``); emit uplink 0.

    ``stack`` keeps the stand-in framework in place until the benchmark's paths are measured; only
    the entry set up here is linked (the framework-consumer entry provides no connection).
    """
    framework = FrameworkStandIn()
    stack.enter_context(patch.object(provider, "async_framework_module", return_value=framework))
    stack.enter_context(patch.object(provider, "async_setup_component", return_value=True))
    counter = UplinkCounter(hass, [LINKED_DEVICE])
    hub = await start_hub(hass, simulator, ENTRY_ID, "Orion bench, linked")
    await hass.async_block_till_done()  # the registration runs in a background task
    link = hub.coordinator.framework
    if link is None or link.feed.connection is None or not framework.collections:
        raise BenchError("the linked entry did not register its connection")
    if LINKED_DEVICE.lower() not in framework.collections[-1].devices:
        raise BenchError("the device collection has no device of the linked entry")
    await simulator.emit_uplink(LINKED_DEVICE, lpp_payload(readings[0]), fcnt=0, time=moments[0])
    await counter.wait_for(1, limit=10)
    await hass.async_block_till_done()
    device = simulator.devices[LINKED_DEVICE]
    frames = [
        orion_frame(simulator, device, index, moments[index], lpp_payload(readings[index]))
        for index in range(len(readings))
    ]
    feed = hub.feed()

    def step(index: int) -> None:
        feed(frames[index])

    sensors = [entity_id_of(hass, DOMAIN, f"{LINKED_DEVICE}_field_{d.key}") for d in FIELDS]
    path = LinkedPath(hub, framework, step, counter, sensors)
    path.check_delivered(1, readings[0])
    return path
