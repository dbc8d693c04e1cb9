"""SenRa's config flow: the key and application EUI, then the notification target to set up."""

from __future__ import annotations

from unittest.mock import patch

import pytest

from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_RECONFIGURE
from homeassistant.const import CONF_API_KEY, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.core_config import async_process_ha_core_config
from homeassistant.data_entry_flow import FlowResultType

from custom_components.lorawan_hub.const import CONF_APP_EUI, CONF_PUSH_SECRET, DOMAIN
from simulator.senra import SenraSimulator
from tests.conftest import start_vendor_flow

SETUP = "custom_components.lorawan_hub.async_setup_entry"


@pytest.mark.usefixtures("no_unload")
async def test_flow(hass: HomeAssistant, senra: SenraSimulator) -> None:
    """Key and EUI checked, then the notification target to set up, shown with its secret."""
    flow_id = await start_vendor_flow(hass, "senra")
    form = {CONF_URL: senra.url + "/", CONF_API_KEY: "AK2:wrong", CONF_APP_EUI: "70-b3"}
    result = await hass.config_entries.flow.async_configure(flow_id, form)
    assert result["errors"] == {CONF_APP_EUI: "invalid_eui"}
    form[CONF_APP_EUI] = senra.app_eui.lower()
    result = await hass.config_entries.flow.async_configure(flow_id, form)
    assert result["errors"] == {"base": "invalid_auth"}
    form[CONF_API_KEY] = senra.api_key
    result = await hass.config_entries.flow.async_configure(
        flow_id, {**form, CONF_URL: "api.senraco.io"}
    )
    assert result["errors"] == {CONF_URL: "invalid_http_url"}
    result = await hass.config_entries.flow.async_configure(flow_id, form)
    assert result["step_id"] == "senra_push"
    assert result["errors"] == {"base": "no_external_url"}
    await async_process_ha_core_config(hass, {"external_url": "https://ha.example.com"})
    result = await hass.config_entries.flow.async_configure(flow_id, {})
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert placeholders["url"].startswith("https://ha.example.com/api/webhook/")
    assert placeholders["header"] == "Authorization"
    with patch(SETUP, return_value=True):
        result = await hass.config_entries.flow.async_configure(flow_id, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_APP_EUI] == senra.app_eui
    assert placeholders["value"] == f"Bearer {result['data'][CONF_PUSH_SECRET]}"
    # The same application again is refused; reauth and reconfigure take a new key.
    flow_id = await start_vendor_flow(hass, "senra")
    result = await hass.config_entries.flow.async_configure(flow_id, form)
    assert result["reason"] == "already_configured"
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_REAUTH, "entry_id": entry.entry_id}, data=entry.data
    )
    with patch(SETUP, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_API_KEY: f" {senra.api_key} "}
        )
    assert result["reason"] == "reauth_successful"
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    assert result["step_id"] == "reconfigure_senra"
    await senra.stop()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: senra.url}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    await senra.start()
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_URL: "x"})
    assert result["errors"] == {CONF_URL: "invalid_http_url"}
    with patch(SETUP, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_URL: senra.url, CONF_API_KEY: senra.api_key}
        )
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_API_KEY] == senra.api_key
