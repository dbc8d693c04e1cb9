"""
The framework path: a device on one of Home Assistant's LoRaWAN connections, decoded by the hub.

The benchmark's Home Assistant has no LoRaWAN framework (2026.11), so the connection registry is
the stand-in of ``simulator/lorawan_registry.py`` and the connection the library's own
``MockConnection``: each uplink is a ``lorawan_connection.UplinkEvent`` emitted on it, as a
ChirpStack or The Things Stack connection emits one once it has read it from its stream. What
is timed is what happens from there: the hub's framework client turns the event into an uplink,
the coordinator decodes it (Cayenne LPP, found by itself) and writes the device's entities, as
for the Orion path beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
import contextlib
from dataclasses import dataclass
from datetime import datetime
from unittest.mock import patch

from lorawan_connection import DeviceDescriptor, GatewayReception, UplinkEvent
from lorawan_connection.mock import MockConnection

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lorawan_hub.const import CONF_DECODED, CONF_VENDOR, DOMAIN
from custom_components.lorawan_hub.coordinator import LoRaWANHubCoordinator
from custom_components.lorawan_hub.framework import consumer
from simulator.lorawan_registry import Registry

from .harness import UplinkCounter, entity_id_of
from .results import BenchError
from .uplinks import FIELDS, GATEWAY_ID, Reading, lpp_payload

FRAMEWORK_DEVICE = "70B3D57EBE000003"
NETWORK_ID = "01KBENCHCHIRPSTACK00000000"
"""The connection's network id: the entry id of the (absent) provider integration's entry."""
ENTRY_ID = "01KBENCHFRAMEWORK000000000"


@dataclass(slots=True)
class FrameworkPath:
    """The framework entry, set up, and the uplinks to emit on its connection."""

    entry: MockConfigEntry
    connection: MockConnection
    events: list[UplinkEvent]
    sensors: list[str]
    counter: UplinkCounter

    def step(self, index: int) -> None:
        """Emit uplink ``index`` on the connection."""
        self.connection.emit(self.events[index])


def uplink_events(
    descriptor: DeviceDescriptor, readings: Sequence[Reading], moments: Sequence[datetime]
) -> list[UplinkEvent]:
    """Return the uplink events of the readings, as a connection reads them from its server."""
    return [
        UplinkEvent(
            descriptor=descriptor,
            received_at=moment,
            data=lpp_payload(values),
            f_port=1,
            receptions=(GatewayReception(GATEWAY_ID, -100.0 - index % 20, 6.2 - index % 10 / 10),),
        )
        for index, (values, moment) in enumerate(zip(readings, moments, strict=True))
    ]


async def prepare_framework(
    hass: HomeAssistant,
    stack: contextlib.ExitStack,
    readings: Sequence[Reading],
    moments: Sequence[datetime],
) -> FrameworkPath:
    """
    Register the connection, set up the framework entry, and emit uplink 0 (creating entities).

    ``stack`` keeps the stand-in registry in place until the benchmark ends.
    """
    descriptor = DeviceDescriptor(
        NETWORK_ID,
        FRAMEWORK_DEVICE.lower(),
        "Bench framework climate",
        "bench-application",
        "bench-profile",
        "",
        None,
        stack="chirpstack",
    )
    connection = MockConnection([descriptor], stack_type="chirpstack")
    registry = Registry()
    registry.register(NETWORK_ID, connection)
    stack.enter_context(patch.object(consumer, "async_registry", return_value=registry))
    entry = MockConfigEntry(
        domain=DOMAIN,
        entry_id=ENTRY_ID,
        title="LoRaWAN connections",
        unique_id="framework",
        data={CONF_VENDOR: "framework"},
        options={CONF_DECODED: {FRAMEWORK_DEVICE: NETWORK_ID}},
    )
    entry.add_to_hass(hass)
    if not await hass.config_entries.async_setup(entry.entry_id):
        raise BenchError("the framework entry did not set up")
    await hass.async_block_till_done()
    coordinator = entry.runtime_data
    if not isinstance(coordinator, LoRaWANHubCoordinator) or not coordinator.connected:
        raise BenchError("the framework entry is not following the connection")
    counter = UplinkCounter(hass, [FRAMEWORK_DEVICE])
    path = FrameworkPath(
        entry, connection, uplink_events(descriptor, readings, moments), [], counter
    )
    path.step(0)
    await counter.wait_for(1, limit=10)
    await hass.async_block_till_done()
    path.sensors = [entity_id_of(hass, DOMAIN, f"{FRAMEWORK_DEVICE}_field_{d.key}") for d in FIELDS]
    return path
