"""An entry linked to the LoRaWAN framework, with a stand-in for its ``lorawan`` integration.

Home Assistant 2026.10, which the unit tests run, has no framework: a small stand-in module takes
the registrations the way ``homeassistant.components.lorawan`` does (on_disconnect, then a
subscription that replays the inventory). The end-to-end tests run the real one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any
from unittest.mock import patch

from lorawan_connection import (
    AckEvent,
    AddedEvent,
    DeviceEvent,
    Downlink,
    DownlinkError,
    EventType,
    UpdatedEvent,
    UplinkEvent,
)
import pytest

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lorawan_hub.framework import provider
from custom_components.lorawan_hub.framework.connection import HubConnection
from custom_components.lorawan_hub.framework.provider import FrameworkLink, async_link_framework
from custom_components.lorawan_hub.lns.models import (
    Capability,
    DeviceStatus,
    DownlinkState,
    DownlinkStatus,
    JoinInfo,
    Location,
    ServerDevice,
    Uplink,
)
from simulator.netemera import NetemeraSimulator
from simulator.orion import OrionSimulator
from tests.conftest import EventRecorder

DOOR = "70B3D57ED0000002"
NETEMERA_CLIMATE = "70B3D57ED0000101"
NETEMERA_DOOR = "70B3D57ED0000102"
LPP_22_5 = bytes.fromhex("016700E1")


class Framework(ModuleType):
    """Stands in for ``homeassistant.components.lorawan``: takes registrations, records events."""

    def __init__(self) -> None:
        """No connection yet."""
        super().__init__("lorawan")
        self.events: list[DeviceEvent] = []
        self.connections: list[HubConnection] = []
        self.unregistered = 0
        self.refuse: Exception | None = None

    async def async_register_connection(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        *,
        connection: HubConnection,
        configuration_url: str | None = None,
    ) -> Callable[[], None]:
        """Register like the framework: disconnect listener first, then the inventory."""
        if self.refuse is not None:
            raise self.refuse
        unsubscribe = connection.on_disconnect(lambda: None)
        await connection.async_subscribe(listener=self.events.append)
        self.connections.append(connection)

        def unregister() -> None:
            self.unregistered += 1
            unsubscribe()

        return unregister


async def link(hass: HomeAssistant, entry: MockConfigEntry) -> Framework:
    """Link a loaded entry's coordinator to a stand-in framework, connected."""
    module = Framework()
    coordinator = entry.runtime_data
    with (
        patch.object(provider, "async_framework_module", return_value=module),
        patch.object(provider, "async_setup_component", return_value=True),
    ):
        linked = await async_link_framework(hass, entry, coordinator, "https://lns.example/")
    assert isinstance(linked, FrameworkLink)
    coordinator.framework = linked
    linked.connection_changed(True)
    await hass.async_block_till_done()
    return module


@pytest.fixture
async def framework(hass: HomeAssistant, loaded_orion_entry: MockConfigEntry) -> Framework:
    """The entry's coordinator linked to a stand-in framework, connected."""
    return await link(hass, loaded_orion_entry)


async def test_devices_and_events_reach_the_framework(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    framework: Framework,
    uplinks: EventRecorder,
) -> None:
    """The inventory first, then uplinks with receptions, joins, statuses, acks, positions."""
    added = {event.dev_eui for event in framework.events if event.type is EventType.ADDED}
    assert DOOR.lower() in added
    coordinator = loaded_orion_entry.runtime_data
    await orion.emit_uplink(DOOR, LPP_22_5, rssi=-70, lsnr=9.5)
    await uplinks.wait(1)
    # A failed or repeated join report fires its event but is no join for the framework.
    coordinator.joined(JoinInfo(dev_eui=DOOR, status="JOIN_FAILURE_BAD_MIC", accepted=False))
    coordinator.joined(JoinInfo(dev_eui=DOOR, status="joined", dev_addr="260B0102"))
    coordinator.device_status(DeviceStatus(dev_eui=DOOR, battery=80.0, margin=5))
    coordinator.downlink_status(
        DownlinkStatus(dev_eui=DOOR, message_id="7", state=DownlinkState.ACKNOWLEDGED)
    )
    coordinator.device_location(DOOR, Location(52.0, 5.0))
    kinds = [event.type for event in framework.events if event.dev_eui == DOOR.lower()]
    assert kinds[-5:] == [
        EventType.UPLINK,
        EventType.JOIN,
        EventType.STATUS,
        EventType.ACK,
        EventType.LOCATION,
    ]
    uplink = next(event for event in framework.events if isinstance(event, UplinkEvent))
    assert uplink.data == LPP_22_5
    assert [(reception.rssi, reception.snr) for reception in uplink.receptions] == [(-70.0, 9.5)]
    # The device's name changes on the server: the framework hears of it.
    coordinator.devices_listed([ServerDevice(dev_eui=DOOR, name="Back door")])
    updated = framework.events[-1]
    assert updated.type is EventType.UPDATED
    assert updated.descriptor is not None
    assert updated.descriptor.name == "Back door"
    # A device the user removes goes from the framework too.
    coordinator.forget_device(DOOR)
    assert framework.events[-1].type is EventType.REMOVED


async def test_the_device_profile_is_in_the_descriptor(
    hass: HomeAssistant, netemera: NetemeraSimulator, netemera_entry: MockConfigEntry
) -> None:
    """The device profile the server assigns a device (Netemera's deviceProfileId) is told."""
    netemera.devices[NETEMERA_DOOR].profile_id = "profile-c"
    netemera_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(netemera_entry.entry_id)
    await hass.async_block_till_done()
    framework = await link(hass, netemera_entry)
    profiles = {
        event.dev_eui: event.descriptor.profile_id
        for event in framework.events
        if isinstance(event, AddedEvent)
    }
    assert profiles == {NETEMERA_CLIMATE.lower(): "profile-a", NETEMERA_DOOR.lower(): "profile-c"}
    # A profile changed on the server reaches the framework with the next device list.
    coordinator = netemera_entry.runtime_data
    coordinator.devices_listed(
        [ServerDevice(dev_eui=NETEMERA_DOOR, name="Office door", profile="profile-b")]
    )
    updated = framework.events[-1]
    assert isinstance(updated, UpdatedEvent)
    assert (updated.dev_eui, updated.descriptor.profile_id) == (NETEMERA_DOOR.lower(), "profile-b")
    assert await hass.config_entries.async_unload(netemera_entry.entry_id)


async def test_downlinks_of_device_integrations(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    framework: Framework,
) -> None:
    """A device integration's downlink goes through our checks to the server; refusals in words."""
    connection = framework.connections[-1]
    message_id = await connection.async_send_downlink(
        Downlink(dev_eui=DOOR.lower(), f_port=5, data=b"\x01\x02")
    )
    assert message_id
    assert orion.downlinks[-1].data_hex == "0102"
    with pytest.raises(DownlinkError, match="not a device of"):
        await connection.async_send_downlink(
            Downlink(dev_eui="0000000000000009", f_port=5, data=b"\x01")
        )
    with pytest.raises(DownlinkError, match="expiry"):
        await connection.async_send_downlink(
            Downlink(
                dev_eui=DOOR.lower(),
                f_port=5,
                data=b"\x01",
                expires_at=datetime.now(UTC) + timedelta(minutes=1),
            )
        )
    with pytest.raises(DownlinkError) as refused:
        await connection.async_send_downlink(
            Downlink(dev_eui=DOOR.lower(), f_port=5, data=b"\x00" * 300)
        )
    assert "300" in str(refused.value)
    # A confirmed downlink where no acknowledgement would ever come (the library waits for it).
    client = type(framework_client(hass))
    with (
        patch.object(client, "capabilities", frozenset({Capability.DOWNLINK})),
        pytest.raises(DownlinkError, match="does not report acknowledgements"),
    ):
        await connection.async_send_downlink(
            Downlink(dev_eui=DOOR.lower(), f_port=5, data=b"\x01", confirmed=True)
        )
    loaded_orion_entry.runtime_data.connection_changed(False, "test")
    with pytest.raises(DownlinkError, match="connection"):
        await framework_send(
            loaded_orion_entry, Downlink(dev_eui=DOOR.lower(), f_port=5, data=b"\x01")
        )


def framework_client(hass: HomeAssistant) -> Any:
    """Return the client of the (one) entry linked to the framework."""
    (entry,) = hass.config_entries.async_loaded_entries("lorawan_hub")
    return entry.runtime_data.client


async def framework_send(entry: MockConfigEntry, downlink: Downlink) -> str:
    """Send through the link directly (the connection itself is gone once disconnected)."""
    link: FrameworkLink = entry.runtime_data.framework
    return await link._send(downlink)


async def test_an_acknowledgement_of_the_last_downlink(
    hass: HomeAssistant, loaded_orion_entry: MockConfigEntry, framework: Framework
) -> None:
    """A vendor's acknowledgement of "the last downlink" names the id the framework was given."""
    connection = framework.connections[-1]
    sent = await connection.async_send_downlink(
        Downlink(dev_eui=DOOR.lower(), f_port=5, data=b"\x01")
    )
    loaded_orion_entry.runtime_data.downlink_status(
        DownlinkStatus(dev_eui=DOOR, message_id="last_downlink", state=DownlinkState.ACKNOWLEDGED)
    )
    ack = framework.events[-1]
    assert isinstance(ack, AckEvent)
    assert (ack.queue_item_id, ack.acknowledged) == (sent, True)


async def test_outage_and_unload(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    framework: Framework,
    uplinks: EventRecorder,
) -> None:
    """Lost: the connection is done; back: a new one; unload: the registration goes."""
    coordinator = loaded_orion_entry.runtime_data
    first = framework.connections[-1]
    coordinator.connection_changed(False, "test")
    assert not first.available
    assert first.devices == {}  # nothing of a lost connection is kept
    coordinator.connection_changed(True, None)
    await hass.async_block_till_done()
    assert len(framework.connections) == 2
    assert framework.unregistered == 1  # the lost one's registration is let go at once
    assert await hass.config_entries.async_unload(loaded_orion_entry.entry_id)
    assert framework.unregistered == 2


async def test_a_refused_registration(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    framework: Framework,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The framework refusing a connection is logged; the entry goes on."""
    coordinator = loaded_orion_entry.runtime_data
    framework.refuse = ValueError("A connection is already registered for this entry")
    coordinator.connection_changed(False, "test")
    coordinator.connection_changed(True, None)
    await hass.async_block_till_done()
    assert "did not take OrionM2M test-app" in caplog.text
    assert coordinator.connected


async def test_a_framework_that_cannot_be_set_up(
    hass: HomeAssistant, loaded_orion_entry: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    """A framework that fails to set up leaves the entry without it."""
    with (
        patch.object(provider, "async_framework_module", return_value=Framework()),
        patch.object(provider, "async_setup_component", return_value=False),
    ):
        link = await async_link_framework(
            hass, loaded_orion_entry, loaded_orion_entry.runtime_data, None
        )
    assert link is None
    assert "could not be set up" in caplog.text


async def test_only_application_data_reaches_the_framework(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    framework: Framework,
    uplinks: EventRecorder,
) -> None:
    """Port 0 (MAC commands) and payloads still encrypted stay ours: events, no framework uplink."""
    coordinator = loaded_orion_entry.runtime_data
    at = datetime.now(UTC)
    for index, (f_port, encrypted) in enumerate(((0, False), (5, True), (5, False))):
        coordinator.uplink(
            Uplink(
                dev_eui=DOOR,
                received_at=at + timedelta(seconds=index),
                f_port=f_port,
                f_cnt=index,
                payload=bytes([index]),
                encrypted=encrypted,
            )
        )
    await uplinks.wait(3)
    sent = [event for event in framework.events if isinstance(event, UplinkEvent)]
    assert [event.data for event in sent] == [b"\x02"]
