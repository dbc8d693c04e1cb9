"""The Netemera config flow: credentials, the application picker, reauth and reconfigure."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

import pytest

from homeassistant.config_entries import SOURCE_USER, ConfigFlowResult
from homeassistant.const import CONF_CLIENT_ID, CONF_CLIENT_SECRET, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lorawan_hub.const import (
    CONF_APP_ID,
    CONF_AUTH_URL,
    CONF_VENDOR,
    DOMAIN,
)
from custom_components.lorawan_hub.lns.netemera import DEFAULT_API_URL, DEFAULT_TOKEN_URL
from custom_components.lorawan_hub.vendors.netemera import netemera_unique_id
from simulator.netemera import NetemeraSimulator
from tests.conftest import NETEMERA_APP


def credentials(netemera: NetemeraSimulator, **change: str) -> dict[str, str]:
    """The first step's input for the simulator."""
    return {
        CONF_URL: netemera.api_url + "/",
        CONF_AUTH_URL: netemera.token_url,
        CONF_CLIENT_ID: f" {netemera.client_id} ",
        CONF_CLIENT_SECRET: netemera.client_secret,
    } | change


def fields(result: ConfigFlowResult) -> dict[Any, Any]:
    """Return the form's schema fields."""
    schema = result["data_schema"]
    assert schema is not None
    return dict(schema.schema)


async def start(hass: HomeAssistant) -> str:
    """Open the flow, pick Netemera and return the flow id at the credentials form."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_VENDOR: "netemera"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "netemera"
    schema = {str(key): key.default() if callable(key.default) else None for key in fields(result)}
    assert schema[CONF_URL] == DEFAULT_API_URL
    assert schema[CONF_AUTH_URL] == DEFAULT_TOKEN_URL
    return str(result["flow_id"])


async def test_user_flow(hass: HomeAssistant, netemera: NetemeraSimulator) -> None:
    """Valid credentials list the applications; the one picked becomes the entry."""
    netemera.add_application("b-app", "Another site")
    flow_id = await start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, credentials(netemera))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "netemera_application"
    options = fields(result)[CONF_APP_ID].config["options"]
    assert options == [
        {"value": "b-app", "label": "Another site (b-app)"},
        {"value": NETEMERA_APP, "label": f"Building 7 ({NETEMERA_APP})"},
    ]
    with patch("custom_components.lorawan_hub.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {CONF_APP_ID: NETEMERA_APP}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Netemera Building 7"
    assert result["data"] == {
        CONF_VENDOR: "netemera",
        CONF_URL: netemera.api_url,
        CONF_AUTH_URL: netemera.token_url,
        CONF_CLIENT_ID: netemera.client_id,
        CONF_CLIENT_SECRET: netemera.client_secret,
        CONF_APP_ID: NETEMERA_APP,
    }
    assert result["result"].unique_id == f"127.0.0.1:{netemera.port}/api/v4/{NETEMERA_APP}"


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({CONF_CLIENT_SECRET: "wrong"}, {"base": "invalid_auth"}),
        ({CONF_URL: "ftp://example.com/api"}, {CONF_URL: "invalid_http_url"}),
        ({CONF_AUTH_URL: "not a url"}, {CONF_AUTH_URL: "invalid_http_url"}),
        ({CONF_URL: "http://[::1"}, {CONF_URL: "invalid_http_url"}),
    ],
)
async def test_user_flow_errors(
    hass: HomeAssistant,
    netemera: NetemeraSimulator,
    change: dict[str, str],
    errors: dict[str, str],
) -> None:
    """Refused credentials and malformed addresses keep the form, with a translated error."""
    flow_id = await start(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, credentials(netemera, **change)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    # The secret is never offered back in the form.
    suggested = {str(key): (key.description or {}).get("suggested_value") for key in fields(result)}
    assert suggested[CONF_CLIENT_SECRET] is None
    result = await hass.config_entries.flow.async_configure(flow_id, credentials(netemera))
    assert result["step_id"] == "netemera_application"


async def test_user_flow_cannot_connect(hass: HomeAssistant, netemera: NetemeraSimulator) -> None:
    """An authorization server that does not answer: cannot_connect."""
    flow_id = await start(hass)
    await netemera.stop()
    result = await hass.config_entries.flow.async_configure(flow_id, credentials(netemera))
    assert result["errors"] == {"base": "cannot_connect"}


async def test_user_flow_unexpected_error(hass: HomeAssistant, netemera: NetemeraSimulator) -> None:
    """A bug shows ``unknown`` instead of breaking the flow."""
    flow_id = await start(hass)
    with patch(
        "custom_components.lorawan_hub.lns.netemera.NetemeraClient.list_applications",
        side_effect=RuntimeError("bug"),
    ):
        result = await hass.config_entries.flow.async_configure(flow_id, credentials(netemera))
    assert result["errors"] == {"base": "unknown"}


async def test_no_applications(hass: HomeAssistant, netemera: NetemeraSimulator) -> None:
    """Credentials that see no application cannot make an entry."""
    netemera.applications.clear()
    flow_id = await start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, credentials(netemera))
    assert result["errors"] == {"base": "no_applications"}


async def test_application_gone_before_confirming(
    hass: HomeAssistant, netemera: NetemeraSimulator
) -> None:
    """An application deleted between the two steps: the picker shows the error."""
    flow_id = await start(hass)
    await hass.config_entries.flow.async_configure(flow_id, credentials(netemera))
    del netemera.applications[NETEMERA_APP]
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_APP_ID: NETEMERA_APP})
    assert result["step_id"] == "netemera_application"
    assert result["errors"] == {"base": "cannot_connect"}


async def test_already_configured(
    hass: HomeAssistant, netemera: NetemeraSimulator, netemera_entry: MockConfigEntry
) -> None:
    """The same application of the same API is added once."""
    netemera_entry.add_to_hass(hass)
    flow_id = await start(hass)
    await hass.config_entries.flow.async_configure(flow_id, credentials(netemera))
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_APP_ID: NETEMERA_APP})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reauth(
    hass: HomeAssistant, netemera: NetemeraSimulator, netemera_entry: MockConfigEntry
) -> None:
    """Reauthentication asks for the client again and reloads the entry with it."""
    netemera_entry.add_to_hass(hass)
    netemera.client_secret = "rotated"
    result = await netemera_entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert placeholders["title"] == "Netemera Building 7"
    assert placeholders["account"] == NETEMERA_APP
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_ID: netemera.client_id, CONF_CLIENT_SECRET: "old"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    with patch("custom_components.lorawan_hub.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_CLIENT_ID: netemera.client_id, CONF_CLIENT_SECRET: "rotated"}
        )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert netemera_entry.data[CONF_CLIENT_SECRET] == "rotated"


async def test_reconfigure(
    hass: HomeAssistant, netemera: NetemeraSimulator, netemera_entry: MockConfigEntry
) -> None:
    """The addresses and client change; an empty secret keeps the stored one."""
    netemera_entry.add_to_hass(hass)
    result = await netemera_entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure_netemera"
    form: dict[str, Any] = {
        CONF_URL: netemera.api_url + "/",
        CONF_AUTH_URL: netemera.token_url + " ",
        CONF_CLIENT_ID: netemera.client_id,
        CONF_CLIENT_SECRET: "",
    }
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form | {CONF_AUTH_URL: "mailto:x"}
    )
    assert result["errors"] == {CONF_AUTH_URL: "invalid_http_url"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form | {CONF_CLIENT_SECRET: "wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    with patch("custom_components.lorawan_hub.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], form)
    assert result["reason"] == "reconfigure_successful"
    assert netemera_entry.data[CONF_CLIENT_SECRET] == netemera.client_secret
    assert netemera_entry.data[CONF_AUTH_URL] == netemera.token_url


async def test_reconfigure_to_another_api(
    hass: HomeAssistant, netemera: NetemeraSimulator, netemera_entry: MockConfigEntry
) -> None:
    """Another API is another application: the flow refuses to move the entry."""
    netemera_entry.add_to_hass(hass)
    result = await netemera_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_URL: "https://network.netemera.com/api/v4",
            CONF_AUTH_URL: netemera.token_url,
            CONF_CLIENT_ID: netemera.client_id,
        },
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unique_id_mismatch"


def test_unique_id() -> None:
    """Host (lower case, with an explicit port) and API path identify the application."""
    assert (
        netemera_unique_id(
            {CONF_URL: "https://EU868.lorawan.netemera.com/api/v4/", CONF_APP_ID: "a1"}
        )
        == "eu868.lorawan.netemera.com/api/v4/a1"
    )
    assert (
        netemera_unique_id({CONF_URL: "http://10.0.0.2:8080/api/v4", CONF_APP_ID: "a1"})
        == "10.0.0.2:8080/api/v4/a1"
    )
