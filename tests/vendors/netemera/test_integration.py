"""Netemera in Home Assistant: set-up, the resumed uplink stream, actions, reauth, diagnostics."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import CONF_CLIENT_SECRET
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.lorawan_hub.const import (
    DOMAIN,
)
from simulator.netemera import NetemeraSimulator
from tests.conftest import (
    NETEMERA_APP as APP,
    NETEMERA_ENTRY_ID as ENTRY_ID,
    EventRecorder,
    state_of,
)

CLIMATE = "70B3D57ED0000101"
DOOR = "70B3D57ED0000102"
LPP_TEMPERATURE = b"\x01\x67\x00\xe6"


async def load(hass: HomeAssistant, entry: MockConfigEntry, netemera: NetemeraSimulator) -> None:
    """Set the entry up and wait for its stream."""
    if entry.entry_id not in {e.entry_id for e in hass.config_entries.async_entries(DOMAIN)}:
        entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    async with asyncio.timeout(10):
        await netemera.wait_for_streams(1)


@pytest.fixture
async def loaded(
    hass: HomeAssistant, netemera_entry: MockConfigEntry, netemera: NetemeraSimulator
) -> MockConfigEntry:
    """The entry, set up and following the stream."""
    await load(hass, netemera_entry, netemera)
    return netemera_entry


def device_id(hass: HomeAssistant, dev_eui: str) -> str:
    """Return a device's registry id."""
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, dev_eui), ENTRY_ID)
    assert device is not None
    return device.id


async def test_devices_and_live_values(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    netemera: NetemeraSimulator,
    uplinks: EventRecorder,
) -> None:
    """The application's devices appear with their names; an uplink becomes sensor states."""
    registry = dr.async_get(hass)
    climate = registry.async_get_device_by_identifier((DOMAIN, CLIMATE), ENTRY_ID)
    assert climate is not None
    assert climate.name == "Office climate"
    assert loaded.runtime_data.devices[CLIMATE].info.dev_addr == "260B0101"
    assert state_of(hass, "sensor.office_climate_device_address") == "260B0101"
    assert hass.states.get("sensor.office_door_device_address") is None
    netemera.publish(CLIMATE, LPP_TEMPERATURE)
    events = await uplinks.wait(1)
    await hass.async_block_till_done()
    assert events[0].data["rssi"] == -80.0
    assert state_of(hass, "sensor.office_climate_temperature_1") == "23.0"
    assert loaded.runtime_data.connected


async def test_thousand_uplinks_through_drops_and_a_restart(
    hass: HomeAssistant,
    netemera_entry: MockConfigEntry,
    netemera: NetemeraSimulator,
    uplinks: EventRecorder,
    hass_storage: dict[str, Any],
) -> None:
    """
    1,000 uplinks, the stream dropped three times and Home Assistant restarted once.

    Exactly 1,000 distinct uplinks are processed, in order per device, and the server sends
    each of them once: every reconnect resumed right after the last event processed.
    """
    devices = [f"70B3D57ED0001{index:03X}" for index in range(10)]
    for dev_eui in devices:
        netemera.add_device(dev_eui, APP)
    netemera.chunk_size = 97  # events cut across TCP writes
    await load(hass, netemera_entry, netemera)
    published = 0

    def publish(count: int) -> None:
        nonlocal published
        for _ in range(count):
            netemera.publish(devices[published % len(devices)], LPP_TEMPERATURE)
            published += 1

    async def dropped_and_back(after: int) -> None:
        async with asyncio.timeout(30):
            await netemera.wait_for_sent(after)
        netemera.drop_streams()
        async with asyncio.timeout(10):
            await netemera.wait_for_streams(0)
            await netemera.wait_for_streams(1)

    publish(250)
    await dropped_and_back(120)
    publish(150)
    await dropped_and_back(330)
    await uplinks.wait(400, timeout=30)
    # Restart: the entry stops (writing its state), uplinks keep coming, it starts again.
    assert await hass.config_entries.async_unload(netemera_entry.entry_id)
    await hass.async_block_till_done()
    stored = hass_storage[f"{DOMAIN}.{ENTRY_ID}"]["data"]["stream_position"]
    publish(300)
    await load(hass, netemera_entry, netemera)
    assert netemera.stream_requests[-1] == stored
    publish(300)
    await dropped_and_back(850)
    await uplinks.wait(1000, timeout=60)
    await hass.async_block_till_done()

    assert published == 1000
    assert len(uplinks.events) == 1000
    seen = [(event.data["dev_eui"], event.data["f_cnt"]) for event in uplinks.events]
    assert len(set(seen)) == 1000
    for dev_eui in devices:
        counters = [f_cnt for eui, f_cnt in seen if eui == dev_eui]
        assert counters == list(range(100)), dev_eui
    assert netemera.events_sent == 1000
    assert len(netemera.stream_requests) == 5
    assert netemera.stream_requests[0] is None
    assert all(netemera.stream_requests[1:])
    assert netemera_entry.runtime_data.duplicates == 0


async def test_send_downlink(
    hass: HomeAssistant, loaded: MockConfigEntry, netemera: NetemeraSimulator
) -> None:
    """``send_downlink`` queues the payload; modes Netemera lacks are refused clearly."""
    response = await hass.services.async_call(
        DOMAIN,
        "send_downlink",
        {
            "device_id": device_id(hass, DOOR),
            "f_port": 5,
            "payload_hex": "0a0b",
            "confirmed": True,
        },
        blocking=True,
        return_response=True,
    )
    assert response == {"message_id": None, "state": "queued", "f_cnt": None, "queue_length": None}
    assert netemera.downlinks[0].payload == b"\x0a\x0b"
    assert netemera.downlinks[0].confirmed is True
    with pytest.raises(ServiceValidationError) as raised:
        await hass.services.async_call(
            DOMAIN,
            "send_downlink",
            {
                "device_id": device_id(hass, DOOR),
                "f_port": 5,
                "payload_hex": "01",
                "mode": "replace",
            },
            blocking=True,
        )
    assert raised.value.translation_key == "not_supported"


async def test_set_device_class(
    hass: HomeAssistant, loaded: MockConfigEntry, netemera: NetemeraSimulator
) -> None:
    """A class change moves the device to the matching profile, or says which one to create."""
    await hass.services.async_call(
        DOMAIN,
        "set_device_class",
        {"device_id": device_id(hass, DOOR), "device_class": "C"},
        blocking=True,
    )
    assert netemera.devices[DOOR].profile_id == "profile-c"
    assert loaded.runtime_data.devices[DOOR].info.device_class == "C"
    with pytest.raises(HomeAssistantError) as raised:
        await hass.services.async_call(
            DOMAIN,
            "set_device_class",
            {"device_id": device_id(hass, DOOR), "device_class": "B"},
            blocking=True,
        )
    assert raised.value.translation_key == "class_profile_missing"
    assert raised.value.translation_placeholders == {
        "vendor": "Netemera",
        "reason": "no device profile like 'Sensor class C' supports class B only",
        "profile": "Sensor class C",
        "device_class": "B",
    }
    assert 'copy of device profile "Sensor class C"' in str(raised.value)


async def test_refused_credentials_start_reauth(
    hass: HomeAssistant, loaded: MockConfigEntry, netemera: NetemeraSimulator
) -> None:
    """Credentials revoked while streaming: the stream stops and a reauth flow starts."""
    netemera.reject_credentials = True
    netemera.expire_tokens()
    # The connection task ends with the error.
    task = loaded.runtime_data._task
    assert task is not None
    async with asyncio.timeout(10):
        await task
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flows[0]["context"]["source"] == SOURCE_REAUTH
    assert not loaded.runtime_data.connected


async def test_setup_with_refused_credentials(
    hass: HomeAssistant, netemera_entry: MockConfigEntry, netemera: NetemeraSimulator
) -> None:
    """Credentials refused at start: the entry needs reauthentication."""
    netemera.reject_credentials = True
    netemera_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(netemera_entry.entry_id)
    assert netemera_entry.state is ConfigEntryState.SETUP_ERROR
    assert any(
        flow["context"]["source"] == SOURCE_REAUTH
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    )


async def test_diagnostics_redact_the_secret(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    netemera: NetemeraSimulator,
    uplinks: EventRecorder,
    hass_client: ClientSessionGenerator,
) -> None:
    """The client secret, tokens and device keys never reach diagnostics."""
    netemera.publish(CLIMATE, LPP_TEMPERATURE)
    await uplinks.wait(1)
    diagnostics: dict[str, Any] = await get_diagnostics_for_config_entry(hass, hass_client, loaded)
    text = str(diagnostics)
    assert netemera.client_secret not in text
    assert netemera.devices[CLIMATE].app_key not in text
    assert diagnostics["entry"]["data"][CONF_CLIENT_SECRET] == "**REDACTED**"
    assert diagnostics["vendor"] == "Netemera"


async def test_acknowledgement_fires_a_downlink_status(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    netemera: NetemeraSimulator,
    uplinks: EventRecorder,
    downlink_statuses: EventRecorder,
) -> None:
    """An uplink with ``ack`` fires ``lorawan_hub_downlink_status`` acknowledged, once."""
    netemera.publish(DOOR, b"\x01", extra={"ack": True})
    netemera.publish(DOOR, b"\x02", extra={"ack": False})
    await uplinks.wait(2)
    events = await downlink_statuses.wait(1)
    await hass.async_block_till_done()
    assert len(events) == 1
    assert events[0].data == {
        "dev_eui": DOOR,
        "device_id": device_id(hass, DOOR),
        "message_id": "last_downlink",
        "status": "acknowledged",
        "reason": None,
        "at": uplinks.events[0].data["received_at"],
    }


async def test_restart_after_the_server_forgot_the_position(
    hass: HomeAssistant,
    netemera_entry: MockConfigEntry,
    netemera: NetemeraSimulator,
    uplinks: EventRecorder,
    hass_storage: dict[str, Any],
) -> None:
    """
    A restart finds the stored event id refused: the uplinks received meanwhile still arrive.

    The stream resumes from the last uplink's time (inclusive); the one uplink sent again is
    dropped as a duplicate.
    """
    await load(hass, netemera_entry, netemera)
    for _ in range(3):
        netemera.publish(CLIMATE, LPP_TEMPERATURE)
    await uplinks.wait(3)
    assert await hass.config_entries.async_unload(netemera_entry.entry_id)
    await hass.async_block_till_done()
    for _ in range(2):
        netemera.publish(DOOR, b"\x01\x66\x01")
    netemera.expire_event_ids()
    await load(hass, netemera_entry, netemera)
    await uplinks.wait(5)
    await hass.async_block_till_done()
    assert [(event.data["dev_eui"], event.data["f_cnt"]) for event in uplinks.events] == [
        (CLIMATE, 0),
        (CLIMATE, 1),
        (CLIMATE, 2),
        (DOOR, 0),
        (DOOR, 1),
    ]
    assert netemera.stream_queries[-1].startswith("filter[since]=")
    assert netemera_entry.runtime_data.duplicates == 1


async def test_downlink_refused_as_invalid_starts_no_reauth(
    hass: HomeAssistant, loaded: MockConfigEntry, netemera: NetemeraSimulator
) -> None:
    """The document's "401 Bad Request" to a downlink is a refused request, not a reauth."""
    netemera.fail_next(401, 401, method="POST")
    with pytest.raises(HomeAssistantError) as raised:
        await hass.services.async_call(
            DOMAIN,
            "send_downlink",
            {"device_id": device_id(hass, DOOR), "f_port": 5, "payload_hex": "01"},
            blocking=True,
        )
    await hass.async_block_till_done()
    assert raised.value.translation_key == "vendor_refused"
    assert "HTTP 401" in str(raised.value)
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert loaded.state is ConfigEntryState.LOADED
