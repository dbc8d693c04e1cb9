"""Set-up, unload, outages, reauthentication and device removal."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.lorawan_hub.const import DOMAIN
from simulator.orion import OrionSimulator

from .conftest import EventRecorder, state_of

CLIMATE = "70B3D57ED0000001"
DOOR = "70B3D57ED0000002"
LPP_TEMPERATURE = bytes.fromhex("016700E1")  # channel 1: 22.5 °C


async def test_setup_and_unload(
    hass: HomeAssistant, loaded_orion_entry: MockConfigEntry, orion: OrionSimulator
) -> None:
    """The entry connects, creates the hub and its devices, and disconnects on unload."""
    assert loaded_orion_entry.state is ConfigEntryState.LOADED
    registry = dr.async_get(hass)
    hub = registry.async_get_device_by_identifier(
        (DOMAIN, loaded_orion_entry.entry_id), loaded_orion_entry.entry_id
    )
    assert hub is not None
    assert hub.entry_type is dr.DeviceEntryType.SERVICE
    door = registry.async_get_device_by_identifier((DOMAIN, DOOR), loaded_orion_entry.entry_id)
    assert door is not None
    assert door.name == "Front door"
    assert door.via_device_id == hub.id
    assert await hass.config_entries.async_unload(loaded_orion_entry.entry_id)
    await hass.async_block_till_done()
    assert loaded_orion_entry.state is ConfigEntryState.NOT_LOADED
    await orion.wait_for_clients(0)


async def test_setup_retries_when_unreachable(
    hass: HomeAssistant, orion_entry: MockConfigEntry, orion: OrionSimulator
) -> None:
    """An unreachable server makes Home Assistant retry the set-up later."""
    await orion.stop()
    orion_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(orion_entry.entry_id)
    assert orion_entry.state is ConfigEntryState.SETUP_RETRY
    assert "127.0.0.1" in (orion_entry.reason or "")


async def test_setup_auth_failure_starts_reauth(
    hass: HomeAssistant, orion_entry: MockConfigEntry, orion: OrionSimulator
) -> None:
    """A refused token at set-up asks the user to reauthenticate."""
    orion.reject_token_once()
    orion_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(orion_entry.entry_id)
    assert orion_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


async def test_token_refused_while_running_starts_reauth(
    hass: HomeAssistant, loaded_orion_entry: MockConfigEntry, orion: OrionSimulator
) -> None:
    """A token revoked while connected leads to reauthentication after the reconnect."""
    orion.reject_token_once()
    orion.drop_after(0)
    task = loaded_orion_entry.runtime_data._task
    assert task is not None
    async with asyncio.timeout(10):
        await task
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert state_of(hass, "binary_sensor.front_door_online") == STATE_UNAVAILABLE


async def test_outage_is_logged_once_and_caught_up(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A lost connection makes entities unavailable, logs once, and loses no uplink."""
    await orion.emit_uplink(CLIMATE, LPP_TEMPERATURE)
    await uplinks.wait(1)
    orion.drop_after(0)
    for _ in range(3):
        await orion.emit_uplink(CLIMATE, LPP_TEMPERATURE)
    await uplinks.wait(4)
    await hass.async_block_till_done()
    assert caplog.text.count("Connection to OrionM2M test-app lost") == 1
    assert caplog.text.count("Connection to OrionM2M test-app is back") == 1
    assert [event.data["f_cnt"] for event in uplinks.events] == [0, 1, 2, 3]
    assert state_of(hass, "sensor.living_room_climate_temperature_1") == "22.5"


async def test_restart_resumes_without_duplicates(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
) -> None:
    """Uplinks sent while Home Assistant was stopped arrive after it starts, each once."""
    for _ in range(2):
        await orion.emit_uplink(CLIMATE, LPP_TEMPERATURE)
    await uplinks.wait(2)
    assert await hass.config_entries.async_unload(loaded_orion_entry.entry_id)
    await hass.async_block_till_done()
    await orion.wait_for_clients(0)
    for temperature in (b"\x00\xe6", b"\x00\xeb"):
        await orion.emit_uplink(CLIMATE, b"\x01\x67" + temperature)
    assert await hass.config_entries.async_setup(loaded_orion_entry.entry_id)
    await uplinks.wait(4)
    await orion.wait_for_request("get_data_req")
    await hass.async_block_till_done()
    assert [event.data["f_cnt"] for event in uplinks.events] == [0, 1, 2, 3]
    assert state_of(hass, "sensor.living_room_climate_temperature_1") == "23.5"


async def test_remove_devices(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """A device the server still lists stays; one it no longer lists can be removed."""
    assert await async_setup_component(hass, "config", {})
    registry = dr.async_get(hass)
    stranger = "00000000000000AA"
    orion.add_device(stranger, description="Visitor")
    await orion.emit_uplink(stranger, LPP_TEMPERATURE)
    await uplinks.wait(1)
    del orion.devices[stranger]
    client = await hass_ws_client(hass)

    async def remove(identifier: str) -> bool:
        device = registry.async_get_device_by_identifier(
            (DOMAIN, identifier), loaded_orion_entry.entry_id
        )
        assert device is not None
        await client.send_json_auto_id(
            {
                "type": "config/device_registry/remove_config_entry",
                "config_entry_id": loaded_orion_entry.entry_id,
                "device_id": device.id,
            }
        )
        response = await client.receive_json()
        return bool(response["success"])

    registry.async_get_or_create(
        config_entry_id=loaded_orion_entry.entry_id,
        identifiers={("other_domain", "x"), (DOMAIN, "00000000000000BB")},
    )
    assert await remove("00000000000000BB")
    assert not await remove(DOOR)
    assert not await remove(loaded_orion_entry.entry_id)
    assert await remove(stranger)
    assert (
        registry.async_get_device_by_identifier((DOMAIN, stranger), loaded_orion_entry.entry_id)
        is None
    )
    assert stranger not in loaded_orion_entry.runtime_data.devices
    # Unloaded (the server down, say), any device but the hub can go.
    assert await hass.config_entries.async_unload(loaded_orion_entry.entry_id)
    assert not await remove(loaded_orion_entry.entry_id)
    assert await remove(DOOR)


async def test_stale_uplink_from_history_is_ignored(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
) -> None:
    """The same uplink delivered twice (live and replayed) is processed once."""
    moment = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    orion.duplicate_next()
    await orion.emit_uplink(DOOR, b"\x01\x66\x01", time=moment)
    await orion.emit_uplink(DOOR, b"\x01\x66\x00")
    await uplinks.wait(2)
    await hass.async_block_till_done()
    assert len(uplinks.events) == 2
    assert loaded_orion_entry.runtime_data.duplicates == 1


async def test_vendor_not_available(hass: HomeAssistant, orion: OrionSimulator) -> None:
    """An entry for a vendor this version cannot serve fails clearly, without retrying."""
    entry = MockConfigEntry(domain=DOMAIN, data={"vendor": "lorawan-server-of-the-future"})
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
