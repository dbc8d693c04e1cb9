"""The options flow every entry has (settings, a device's codec and threshold), on an Orion entry.

Each vendor's own config flow (user, reauth, reconfigure) is tested under tests/vendors/<vendor>/.
"""

from __future__ import annotations

from homeassistant.const import CONF_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lorawan_hub.const import (
    CONF_APP_ID,
    CONF_CODEC,
    CONF_DEVICES,
    CONF_F_PORT,
    CONF_OFFLINE_AFTER,
    CONF_VENDOR,
    DEFAULT_F_PORT,
    DOMAIN,
)
from simulator.orion import OrionSimulator

DOOR = "70B3D57ED0000002"


async def test_options_defaults(hass: HomeAssistant, loaded_orion_entry: MockConfigEntry) -> None:
    """The default offline threshold is stored and the entry reloads with it."""
    result = await hass.config_entries.options.async_init(loaded_orion_entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "settings"}
    )
    assert result["step_id"] == "settings"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_OFFLINE_AFTER: 30}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert loaded_orion_entry.options == {CONF_OFFLINE_AFTER: 30}
    await hass.async_block_till_done()
    assert loaded_orion_entry.runtime_data.devices[DOOR].offline_after == 30


async def test_options_device(hass: HomeAssistant, loaded_orion_entry: MockConfigEntry) -> None:
    """A device's codec and threshold are stored under its DevEUI."""
    result = await hass.config_entries.options.async_init(loaded_orion_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "device"}
    )
    assert result["step_id"] == "device"
    schema = result["data_schema"]
    assert schema is not None
    labels = [option["label"] for option in schema.schema["device"].config["options"]]
    assert labels == ["Front door", "Garden tracker", "Living room climate"]
    result = await hass.config_entries.options.async_configure(result["flow_id"], {"device": DOOR})
    assert result["step_id"] == "device_options"
    assert result["description_placeholders"] == {"dev_eui": DOOR, "identity": "-"}
    schema = result["data_schema"]
    assert schema is not None
    # OrionM2M does not report ports: each device has one of its own, 1 unless set.
    assert [key.default() for key in schema.schema if key == CONF_F_PORT] == [DEFAULT_F_PORT]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_CODEC: "raw", CONF_OFFLINE_AFTER: 15, CONF_F_PORT: 7}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert loaded_orion_entry.options == {
        CONF_DEVICES: {DOOR: {CONF_CODEC: "raw", CONF_OFFLINE_AFTER: 15, CONF_F_PORT: 7}}
    }
    await hass.async_block_till_done()
    state = loaded_orion_entry.runtime_data.devices[DOOR]
    assert (state.codec, state.offline_after, state.f_port) == ("raw", 15, 7)
    result = await hass.config_entries.options.async_init(loaded_orion_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "device"}
    )
    result = await hass.config_entries.options.async_configure(result["flow_id"], {"device": DOOR})
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_CODEC: "auto", CONF_F_PORT: 1}
    )
    assert loaded_orion_entry.options == {
        CONF_DEVICES: {DOOR: {CONF_CODEC: "auto", CONF_F_PORT: 1}}
    }


async def test_options_without_devices(hass: HomeAssistant, orion: OrionSimulator) -> None:
    """With no devices yet, the device step says so."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        data={CONF_VENDOR: "orion", CONF_URL: orion.url, CONF_APP_ID: "x", CONF_TOKEN: "y"},
    )
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "device"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_devices"
