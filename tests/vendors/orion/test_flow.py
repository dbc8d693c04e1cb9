"""OrionM2M's config flow: user, reauth, reconfigure, and its unique id."""

from __future__ import annotations

from unittest.mock import patch

import pytest

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lorawan_hub.const import CONF_APP_ID, CONF_VENDOR, DOMAIN
from custom_components.lorawan_hub.lns.orion import DEFAULT_URL
from custom_components.lorawan_hub.vendors.orion import orion_unique_id
from simulator.orion import OrionSimulator


async def start_orion_step(hass: HomeAssistant) -> str:
    """Open the flow, pick Orion, and return the flow id at the Orion form."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_VENDOR: "orion"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "orion"
    return str(result["flow_id"])


async def test_user_flow(hass: HomeAssistant, orion: OrionSimulator) -> None:
    """Picking Orion and entering working credentials creates the entry."""
    flow_id = await start_orion_step(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: orion.url, CONF_APP_ID: " test-app ", CONF_TOKEN: "test-token"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "OrionM2M test-app"
    assert result["data"] == {
        CONF_VENDOR: "orion",
        CONF_URL: orion.url,
        CONF_APP_ID: "test-app",
        CONF_TOKEN: "test-token",
    }
    assert result["result"].unique_id == f"127.0.0.1:{orion.port}/test-app"


async def test_default_url(hass: HomeAssistant) -> None:
    """The Orion form proposes the documented server address."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_VENDOR: "orion"}
    )
    schema = result["data_schema"]
    assert schema is not None
    assert schema({CONF_APP_ID: "a", CONF_TOKEN: "b"})[CONF_URL] == DEFAULT_URL


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({CONF_TOKEN: "wrong"}, {"base": "invalid_auth"}),
        ({CONF_URL: "http://127.0.0.1/ws"}, {CONF_URL: "invalid_url"}),
        ({CONF_URL: "not a url"}, {CONF_URL: "invalid_url"}),
        ({CONF_URL: "ws://[::1"}, {CONF_URL: "invalid_url"}),
    ],
)
async def test_user_flow_errors(
    hass: HomeAssistant, orion: OrionSimulator, change: dict[str, str], error: dict[str, str]
) -> None:
    """A refused or malformed input shows its error, and the flow recovers."""
    flow_id = await start_orion_step(hass)
    good = {CONF_URL: orion.url, CONF_APP_ID: "test-app", CONF_TOKEN: "test-token"}
    result = await hass.config_entries.flow.async_configure(flow_id, {**good, **change})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == error
    result = await hass.config_entries.flow.async_configure(flow_id, good)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_flow_client_limit(hass: HomeAssistant, orion: OrionSimulator) -> None:
    """The server's client limit (error_code 2) has its own message."""
    orion.max_clients = 0
    flow_id = await start_orion_step(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: orion.url, CONF_APP_ID: "test-app", CONF_TOKEN: "test-token"}
    )
    assert result["errors"] == {"base": "client_limit"}


async def test_user_flow_cannot_connect(hass: HomeAssistant, orion: OrionSimulator) -> None:
    """An unreachable server is cannot_connect."""
    url = orion.url
    await orion.stop()
    flow_id = await start_orion_step(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: url, CONF_APP_ID: "test-app", CONF_TOKEN: "test-token"}
    )
    assert result["errors"] == {"base": "cannot_connect"}


async def test_user_flow_unexpected_error(hass: HomeAssistant, orion: OrionSimulator) -> None:
    """A bug while validating shows 'unknown' instead of breaking the flow."""
    flow_id = await start_orion_step(hass)
    with patch(
        "custom_components.lorawan_hub.lns.orion.OrionClient.validate",
        side_effect=RuntimeError("boom"),
    ):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {CONF_URL: orion.url, CONF_APP_ID: "test-app", CONF_TOKEN: "test-token"}
        )
    assert result["errors"] == {"base": "unknown"}


async def test_already_configured(
    hass: HomeAssistant, orion: OrionSimulator, orion_entry: MockConfigEntry
) -> None:
    """The same application on the same server cannot be added twice."""
    orion_entry.add_to_hass(hass)
    flow_id = await start_orion_step(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: orion.url, CONF_APP_ID: "test-app", CONF_TOKEN: "test-token"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reauth(
    hass: HomeAssistant, orion: OrionSimulator, loaded_orion_entry: MockConfigEntry
) -> None:
    """A new token is checked, stored, and the entry reloaded."""
    orion.token = "rotated-token"
    result = await loaded_orion_entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: "still-wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: "rotated-token"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert loaded_orion_entry.data[CONF_TOKEN] == "rotated-token"
    await hass.async_block_till_done()
    await orion.wait_for_consumers(1)


async def test_reconfigure(
    hass: HomeAssistant, orion: OrionSimulator, loaded_orion_entry: MockConfigEntry
) -> None:
    """The address can change for the same application; an empty token keeps the old one."""
    result = await loaded_orion_entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure_orion"
    new_url = orion.url.rstrip("/")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: "ftp://nowhere", CONF_APP_ID: "test-app"}
    )
    assert result["errors"] == {CONF_URL: "invalid_url"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: new_url, CONF_APP_ID: "test-app", CONF_TOKEN: "bad"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: new_url, CONF_APP_ID: "test-app"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert loaded_orion_entry.data[CONF_URL] == new_url
    assert loaded_orion_entry.data[CONF_TOKEN] == "test-token"
    await hass.async_block_till_done()
    await orion.wait_for_consumers(1)


async def test_reconfigure_other_application(
    hass: HomeAssistant, orion: OrionSimulator, loaded_orion_entry: MockConfigEntry
) -> None:
    """Reconfiguring to another application is refused: that is a new entry."""
    result = await loaded_orion_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: orion.url, CONF_APP_ID: "other-app"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unique_id_mismatch"


def test_unique_id() -> None:
    """The unique id is the server's authority and the application id."""
    assert orion_unique_id({CONF_URL: DEFAULT_URL, CONF_APP_ID: "app"}) == "iot.orion-m2m.com/app"
    assert (
        orion_unique_id({CONF_URL: "wss://IOT.example:9443/ws/v2/", CONF_APP_ID: "app"})
        == "iot.example:9443/app"
    )
