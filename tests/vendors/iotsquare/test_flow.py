"""IoTSquare's config flow: the token, the application, and the push set up with consent."""

from __future__ import annotations

import json
from typing import Any
from unittest.mock import patch

import pytest

from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_RECONFIGURE
from homeassistant.const import CONF_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.core_config import async_process_ha_core_config
from homeassistant.data_entry_flow import FlowResultType

from custom_components.lorawan_hub.const import CONF_APP_ID, CONF_PUSH_ID, CONF_PUSH_SECRET, DOMAIN
from custom_components.lorawan_hub.lns.iotsquare import PUSH_MQTT_WAS_ON
from custom_components.lorawan_hub.vendors.iotsquare import (
    CONF_CONFIGURE_PUSH,
    CONF_REPLACE_HEADER,
    CONF_REPLACE_PUSH_URL,
    CONF_TURN_OFF_MQTT,
)
from simulator.iotsquare import IotSquareSimulator
from tests.conftest import start_vendor_flow

SETUP = "custom_components.lorawan_hub.async_setup_entry"


@pytest.mark.usefixtures("no_unload")
async def test_flow_configures_the_push(hass: HomeAssistant, iotsquare: IotSquareSimulator) -> None:
    """Token checked, application picked, push URL and header set with the user's consent."""
    await async_process_ha_core_config(hass, {"external_url": "https://ha.example.com"})
    flow_id = await start_vendor_flow(hass, "iotsquare")
    form = {CONF_URL: iotsquare.url + "/", CONF_TOKEN: "wrong"}
    result = await hass.config_entries.flow.async_configure(flow_id, form)
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {**form, CONF_URL: "cloud.iotsquare.xyz"}
    )
    assert result["errors"] == {CONF_URL: "invalid_http_url"}
    form[CONF_TOKEN] = iotsquare.token
    result = await hass.config_entries.flow.async_configure(flow_id, form)
    assert result["step_id"] == "iotsquare_application"
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_APP_ID: "89"})
    assert result["step_id"] == "iotsquare_push"
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert placeholders["url"].startswith("https://ha.example.com/api/lorawan_hub/push/")
    iotsquare.fail_next["app/update"] = 1010
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_CONFIGURE_PUSH: True})
    assert result["errors"] == {"base": "forbidden"}
    # The token refused meanwhile: back to the step that takes one.
    iotsquare.reject_token_once = True
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_CONFIGURE_PUSH: True})
    assert (result["step_id"], result["errors"]) == ("iotsquare", {"base": "invalid_auth"})
    result = await hass.config_entries.flow.async_configure(flow_id, form)
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_APP_ID: "89"})
    assert result["step_id"] == "iotsquare_push"
    with patch(SETUP, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {CONF_CONFIGURE_PUSH: True}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    data = result["data"]
    assert result["title"] == "IoTSquare garden"
    assert data[CONF_APP_ID] == 89
    assert iotsquare.apps[89].push_url == f"{placeholders['url']}"
    assert placeholders["url"].endswith(data[CONF_PUSH_ID])
    assert iotsquare.apps[89].headers == {"Authorization": f"Bearer {data[CONF_PUSH_SECRET]}"}
    assert placeholders["value"] == f"Bearer {data[CONF_PUSH_SECRET]}"

    # The same application again is refused; reauth and reconfigure take a new token.
    flow_id = await start_vendor_flow(hass, "iotsquare")
    result = await hass.config_entries.flow.async_configure(flow_id, form)
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_APP_ID: "89"})
    assert result["reason"] == "already_configured"
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_REAUTH, "entry_id": entry.entry_id}, data=entry.data
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: "still-wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    with patch(SETUP, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_TOKEN: f" {iotsquare.token} "}
        )
    assert result["reason"] == "reauth_successful"
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    assert result["step_id"] == "reconfigure_iotsquare"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_URL: "x"})
    assert result["errors"] == {CONF_URL: "invalid_http_url"}
    await iotsquare.stop()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: iotsquare.url}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    await iotsquare.start()
    with patch(SETUP, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_URL: iotsquare.url, CONF_TOKEN: iotsquare.token}
        )
    assert result["reason"] == "reconfigure_successful"


@pytest.mark.usefixtures("no_unload")
async def test_flow_without_consent_or_applications(
    hass: HomeAssistant, iotsquare: IotSquareSimulator
) -> None:
    """The user may paste the URL themselves; an account without applications is refused."""
    flow_id = await start_vendor_flow(hass, "iotsquare")
    form = {CONF_URL: iotsquare.url, CONF_TOKEN: iotsquare.token}
    result = await hass.config_entries.flow.async_configure(flow_id, form)
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_APP_ID: "90"})
    # No address on the internet: what to paste, with the address left to fill in.
    assert result["step_id"] == "iotsquare_push_manual"
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert placeholders["url"].startswith("https://HOME-ASSISTANT-ADDRESS/api/lorawan_hub/push/")
    with patch(SETUP, return_value=True):
        result = await hass.config_entries.flow.async_configure(flow_id, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "IoTSquare empty"
    assert placeholders["url"].endswith(result["data"][CONF_PUSH_ID])
    # With an address, the user may still decline to let the flow change the application.
    await async_process_ha_core_config(hass, {"external_url": "https://ha.example.com"})
    flow_id = await start_vendor_flow(hass, "iotsquare")
    result = await hass.config_entries.flow.async_configure(flow_id, form)
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_APP_ID: "89"})
    with patch(SETUP, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {CONF_CONFIGURE_PUSH: False}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "IoTSquare garden"
    assert iotsquare.app_updates == []
    iotsquare.apps.clear()
    flow_id = await start_vendor_flow(hass, "iotsquare")
    result = await hass.config_entries.flow.async_configure(flow_id, form)
    assert result["errors"] == {"base": "no_applications"}


USER_LINK = "https://user.example/api/iotsquare"


async def _to_push_step(hass: HomeAssistant, iotsquare: IotSquareSimulator, app_id: str) -> Any:
    """Open the flow with an address on the internet, up to the push step of ``app_id``."""
    await async_process_ha_core_config(hass, {"external_url": "https://ha.example.com"})
    flow_id = await start_vendor_flow(hass, "iotsquare")
    form = {CONF_URL: iotsquare.url, CONF_TOKEN: iotsquare.token}
    await hass.config_entries.flow.async_configure(flow_id, form)
    return await hass.config_entries.flow.async_configure(flow_id, {CONF_APP_ID: app_id})


@pytest.mark.usefixtures("no_unload")
async def test_flow_keeps_the_applications_push(
    hass: HomeAssistant, iotsquare: IotSquareSimulator
) -> None:
    """The step shows what the application has; the link and header go beside the user's."""
    app = iotsquare.apps[89]
    app.push_url, app.push_urls = USER_LINK, [USER_LINK]
    app.headers = {"userID": "2333", "x-access-token": "6666"}
    result = await _to_push_step(hass, iotsquare, "89")
    assert result["step_id"] == "iotsquare_push"
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert (placeholders["push_url"], placeholders["push_urls"], placeholders["headers"]) == (
        USER_LINK,
        USER_LINK,
        "userID, x-access-token",
    )
    assert "6666" not in json.dumps(placeholders)
    with patch(SETUP, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_CONFIGURE_PUSH: True}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    data = result["data"]
    assert data[PUSH_MQTT_WAS_ON] is False
    assert (app.push_url, app.push_urls) == (USER_LINK, [USER_LINK, placeholders["url"]])
    assert app.headers == {
        "userID": "2333",
        "x-access-token": "6666",
        "Authorization": f"Bearer {data[CONF_PUSH_SECRET]}",
    }


@pytest.mark.usefixtures("no_unload")
async def test_flow_asks_before_replacing(
    hass: HomeAssistant, iotsquare: IotSquareSimulator
) -> None:
    """One push link of the user's and MQTT on: replaced only with every box ticked."""
    iotsquare.multiple_push_links = False
    app = iotsquare.apps[89]
    app.push_url, app.enable_mqtt, app.headers = USER_LINK, True, {"userID": "2333"}
    result = await _to_push_step(hass, iotsquare, "89")
    assert result["step_id"] == "iotsquare_push_replace"
    assert set(result["data_schema"].schema) == {CONF_REPLACE_PUSH_URL, CONF_TURN_OFF_MQTT}
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert (placeholders["push_url"], placeholders["push_urls"]) == (USER_LINK, "-")
    # Not every change agreed: the application stays as it is, the entry is created.
    with patch(SETUP, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_REPLACE_PUSH_URL: True, CONF_TURN_OFF_MQTT: False}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert PUSH_MQTT_WAS_ON not in result["data"]
    assert iotsquare.app_updates == []
    assert (app.push_url, app.enable_mqtt) == (USER_LINK, True)
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    await hass.config_entries.async_remove(entry.entry_id)
    # Everything agreed: replaced, and the entry knows MQTT was on.
    result = await _to_push_step(hass, iotsquare, "89")
    with patch(SETUP, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_REPLACE_PUSH_URL: True, CONF_TURN_OFF_MQTT: True}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][PUSH_MQTT_WAS_ON] is True
    assert app.push_url.startswith("https://ha.example.com/api/lorawan_hub/push/")
    assert app.enable_mqtt is False
    assert set(app.headers) == {"userID", "Authorization"}


@pytest.mark.usefixtures("no_unload")
async def test_flow_when_the_application_changes_meanwhile(
    hass: HomeAssistant, iotsquare: IotSquareSimulator
) -> None:
    """A header of the user's appearing before the submit is asked about; no room is said."""
    result = await _to_push_step(hass, iotsquare, "89")
    assert result["step_id"] == "iotsquare_push"
    app = iotsquare.apps[89]
    app.headers = {"Authorization": "Basic dXNlcg=="}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CONFIGURE_PUSH: True}
    )
    assert result["step_id"] == "iotsquare_push_replace"
    schema, placeholders = result["data_schema"], result["description_placeholders"]
    assert schema is not None
    assert placeholders is not None
    assert set(schema.schema) == {CONF_REPLACE_HEADER}
    assert placeholders["headers"] == "Authorization"
    app.headers = {f"h{n}": "v" for n in range(5)}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_REPLACE_HEADER: True}
    )
    assert (result["step_id"], result["errors"]) == (
        "iotsquare_push_replace",
        {"base": "push_headers_full"},
    )
    # Home Assistant lost its address meanwhile: what to enter by hand.
    hass.config.external_url = None
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_REPLACE_HEADER: True}
    )
    assert result["step_id"] == "iotsquare_push_manual"
    assert iotsquare.app_updates == []


@pytest.mark.usefixtures("no_unload")
async def test_flow_push_step_errors(hass: HomeAssistant, iotsquare: IotSquareSimulator) -> None:
    """Unreadable settings, five headers, a token refused: said at the push step."""
    iotsquare.fail_next["app/status"] = 1001
    result = await _to_push_step(hass, iotsquare, "89")
    assert (result["step_id"], result["errors"]) == ("iotsquare_push", {"base": "cannot_connect"})
    assert result["description_placeholders"]["push_url"] == "-"
    hass.config_entries.flow.async_abort(result["flow_id"])
    iotsquare.apps[89].headers = {f"h{n}": "v" for n in range(5)}
    result = await _to_push_step(hass, iotsquare, "89")
    assert (result["step_id"], result["errors"]) == (
        "iotsquare_push",
        {"base": "push_headers_full"},
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CONFIGURE_PUSH: True}
    )
    assert result["errors"] == {"base": "push_headers_full"}
    hass.config_entries.flow.async_abort(result["flow_id"])
    iotsquare.apps[89].headers = {}
    result = await _to_push_step(hass, iotsquare, "89")
    iotsquare.fail_next["app/update"] = 1007
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CONFIGURE_PUSH: True}
    )
    assert (result["step_id"], result["errors"]) == ("iotsquare_push", {"base": "cannot_connect"})
    hass.config_entries.flow.async_abort(result["flow_id"])
    iotsquare.fail_next["app/status"] = 1004
    result = await _to_push_step(hass, iotsquare, "89")
    assert (result["step_id"], result["errors"]) == ("iotsquare", {"base": "invalid_auth"})
    hass.config_entries.flow.async_abort(result["flow_id"])
    with patch(SETUP, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            (await _to_push_step(hass, iotsquare, "89"))["flow_id"], {CONF_CONFIGURE_PUSH: False}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert iotsquare.app_updates == []
