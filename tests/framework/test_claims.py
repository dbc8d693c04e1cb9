"""No device twice: a device a device integration decodes keeps only our non-decoded entities."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lorawan_hub.codecs.cayenne import encode_cayenne_lpp
from custom_components.lorawan_hub.const import (
    CONF_CODEC,
    CONF_F_PORT,
    CONF_OWN_ENTITIES,
)
from custom_components.lorawan_hub.framework.provider import async_framework_module, identity_of
from simulator.orion import OrionSimulator
from tests.conftest import EventRecorder, state_of

DOOR = "70B3D57ED0000002"
TRACKER = "70B3D57ED0000003"
LPP_22_5 = bytes.fromhex("016700E1")
TEMPERATURE = "sensor.front_door_temperature_1"


def claim(hass: HomeAssistant, entry_id: str, dev_eui: str) -> dr.DeviceEntry:
    """Make a device integration's device for one of our devices, as the framework names it."""
    other = MockConfigEntry(domain="sensecap_lorawan", title="SenseCAP")
    other.add_to_hass(hass)
    return dr.async_get(hass).async_get_or_create(
        config_entry_id=other.entry_id,
        identifiers={("sensecap_lorawan", f"{entry_id}:{dev_eui.lower()}")},
        name="SenseCAP S2101",
    )


async def test_decoded_entities_leave_for_the_integration_that_decodes(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
) -> None:
    """Our decoded sensors go while another integration supports the device, and come back."""
    registry = er.async_get(hass)
    await orion.emit_uplink(DOOR, LPP_22_5)
    await uplinks.wait(1)
    assert state_of(hass, TEMPERATURE) == "22.5"
    other = claim(hass, loaded_orion_entry.entry_id, DOOR)
    await hass.async_block_till_done()
    assert registry.async_get(TEMPERATURE) is None
    assert hass.states.get(TEMPERATURE) is None
    coordinator = loaded_orion_entry.runtime_data
    assert coordinator.devices[DOOR].claimed_by == "sensecap_lorawan"
    # New uplinks do not bring them back; the device's other entities stay.
    await orion.emit_uplink(DOOR, LPP_22_5)
    await uplinks.wait(2)
    await hass.async_block_till_done()
    assert hass.states.get(TEMPERATURE) is None
    assert hass.states.get("binary_sensor.front_door_online") is not None
    # The other integration lets the device go: ours come back with their value.
    dr.async_get(hass).async_remove_device(other.id)
    await hass.async_block_till_done()
    assert state_of(hass, TEMPERATURE) == "22.5"


async def test_keeping_our_entities_by_option(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
) -> None:
    """The device's options can keep our decoded entities beside the other integration's."""
    claim(hass, loaded_orion_entry.entry_id, DOOR)
    await hass.async_block_till_done()
    result = await hass.config_entries.options.async_init(loaded_orion_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "device"}
    )
    result = await hass.config_entries.options.async_configure(result["flow_id"], {"device": DOOR})
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_CODEC: "auto", CONF_F_PORT: 1, CONF_OWN_ENTITIES: True},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    await orion.wait_for_consumers(1)
    await orion.emit_uplink(DOOR, LPP_22_5)
    await uplinks.wait(1)
    await hass.async_block_till_done()
    assert state_of(hass, TEMPERATURE) == "22.5"


def test_identity_from_a_repository_device_type() -> None:
    """A device type from the repository names its device's identity."""
    options = {
        "device_types": {
            "s2101": {"source": "repository", "vendor_id": "SenseCAP", "model": "sensecaps2101"}
        }
    }
    identity = identity_of(options, {CONF_CODEC: "js:s2101"})
    assert identity is not None
    assert (identity.brand_id, identity.model_id) == ("sensecap", "sensecaps2101")
    assert identity_of(options, {CONF_CODEC: "auto"}) is None
    assert identity_of({"device_types": {"p": {"source": "paste"}}}, {CONF_CODEC: "js:p"}) is None


async def test_no_framework_on_this_release(
    hass: HomeAssistant, loaded_orion_entry: MockConfigEntry
) -> None:
    """Home Assistant 2026.10 has no LoRaWAN framework: the entry works without it."""
    assert await async_framework_module(hass) is None
    assert loaded_orion_entry.runtime_data.framework is None


async def test_a_claimed_tracker_keeps_the_servers_position(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
) -> None:
    """The payload's position is a decoded value and goes; the server's position of it stays."""
    registry = er.async_get(hass)
    payload = encode_cayenne_lpp([(1, "gps", (52.09, 5.12, 10.0))])
    await orion.emit_uplink(TRACKER, payload)
    await uplinks.wait(1)
    await hass.async_block_till_done()
    unique_ids = {
        item.unique_id
        for item in registry.entities.values()
        if item.platform == "lorawan_hub" and item.domain == "device_tracker"
    }
    decoded = f"{TRACKER}_tracker_gps_1_location"
    assert {decoded, f"{TRACKER}_tracker_network_location"} <= unique_ids
    claim(hass, loaded_orion_entry.entry_id, TRACKER)
    await hass.async_block_till_done()
    left = {
        item.unique_id
        for item in registry.entities.values()
        if item.platform == "lorawan_hub" and item.domain == "device_tracker"
    }
    assert decoded not in left
    assert f"{TRACKER}_tracker_network_location" in left
    # A restart while claimed: the server's position is there again, the payload's is not.
    assert await hass.config_entries.async_reload(loaded_orion_entry.entry_id)
    await hass.async_block_till_done()
    network = registry.async_get_entity_id(
        "device_tracker", "lorawan_hub", f"{TRACKER}_tracker_network_location"
    )
    assert network is not None
    assert hass.states.get(network) is not None
    assert registry.async_get_entity_id("device_tracker", "lorawan_hub", decoded) is None
