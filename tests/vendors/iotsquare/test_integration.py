"""IoTSquare in Home Assistant: pushes into the entry's own path, actions, and the config flow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest

from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    ConfigEntryState,
)
from homeassistant.const import CONF_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.core_config import async_process_ha_core_config
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.lorawan_hub.const import (
    CONF_APP_ID,
    CONF_PUSH_ID,
    CONF_PUSH_SECRET,
    DOMAIN,
)
from custom_components.lorawan_hub.lns.iotsquare import PUSH_MQTT_WAS_ON
from custom_components.lorawan_hub.lns.models import LoRaClass, Uplink
from custom_components.lorawan_hub.push import MAX_PUSH
from custom_components.lorawan_hub.vendors.iotsquare import (
    CONF_CONFIGURE_PUSH,
    CONF_REPLACE_HEADER,
    CONF_REPLACE_PUSH_URL,
    CONF_TURN_OFF_MQTT,
)
from simulator.iotsquare import IotSquareSimulator
from tests.conftest import (
    IOTSQUARE_ENTRY_ID as ENTRY_ID,
    EventRecorder,
    load_iotsquare,
    start_vendor_flow,
    state_of,
)

METER = "90B96DADCE96A06A"
LAMP = "55E1032590DC5682"
SETUP = "custom_components.lorawan_hub.async_setup_entry"


@pytest.fixture
async def loaded(
    hass: HomeAssistant,
    iotsquare: IotSquareSimulator,
    hass_client_no_auth: ClientSessionGenerator,
) -> MockConfigEntry:
    """An IoTSquare entry, set up, with the simulator pushing to its path."""
    return await load_iotsquare(hass, iotsquare, hass_client_no_auth)


async def test_pushes_and_actions(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    iotsquare: IotSquareSimulator,
    uplinks: EventRecorder,
) -> None:
    """Uplink and join pushes become entities and events; downlinks answer their counter."""
    registry = dr.async_get(hass)
    meter = registry.async_get_device_by_identifier((DOMAIN, METER), ENTRY_ID)
    lamp = registry.async_get_device_by_identifier((DOMAIN, LAMP), ENTRY_ID)
    assert meter is not None
    assert lamp is not None
    assert meter.name == "Basement meter"
    assert await iotsquare.push_uplink(METER, b"\x01\x67\x00\xe6") == 200
    body = iotsquare.uplink_body(METER, b"\x01\x67\x00\xeb")
    assert await iotsquare.push("uplink", body) == 200
    assert await iotsquare.push("uplink", body) == 200  # a replay
    assert await iotsquare.push("uplink", b"{not json") == 400
    assert await iotsquare.push("uplink", body, headers={"Authorization": "Bearer no"}) == 401
    assert await iotsquare.push("gwstat", {"gwid": "b827ebfffe9aae48"}) == 200
    assert await iotsquare.push("firmware", body) == 404
    joins = EventRecorder(hass, "lorawan_hub_join")
    assert await iotsquare.push_join(LAMP) == 200
    events = await uplinks.wait(2)
    assert [event.data["f_cnt"] for event in events] == [1, 2]
    assert state_of(hass, "sensor.basement_meter_temperature_1") == "23.5"
    assert (await joins.wait(1))[0].data["dev_eui"] == LAMP
    info = loaded.runtime_data.devices[LAMP].info
    assert info is not None
    assert info.device_class is LoRaClass.C
    assert info.dev_addr == iotsquare.devices[LAMP.lower()].dev_addr.upper()

    response = await hass.services.async_call(
        DOMAIN,
        "send_downlink",
        {"device_id": lamp.id, "f_port": 8, "payload_base64": "IzM=", "confirmed": True},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert response["f_cnt"] == 1
    assert iotsquare.downlinks == [(LAMP.lower(), 8, b"\x23\x33", True, 1)]
    for data, key in (
        ({"f_port": 200, "payload_hex": "01"}, "port_reserved"),
        ({"f_port": 8, "payload_hex": "01", "mode": "replace"}, "not_supported"),
    ):
        with pytest.raises(ServiceValidationError) as invalid:
            await hass.services.async_call(
                DOMAIN, "send_downlink", {"device_id": lamp.id, **data}, blocking=True
            )
        assert invalid.value.translation_key == key
    with pytest.raises(ServiceValidationError) as invalid:
        await hass.services.async_call(
            DOMAIN, "set_device_class", {"device_id": lamp.id, "device_class": "A"}, blocking=True
        )
    assert invalid.value.translation_key == "class_change_recreate"
    iotsquare.fail_next["device/downlink/create"] = 4005
    with pytest.raises(HomeAssistantError) as refused:
        await hass.services.async_call(
            DOMAIN,
            "send_downlink",
            {"device_id": lamp.id, "f_port": 8, "payload_hex": "01"},
            blocking=True,
        )
    assert refused.value.translation_key == "iotsquare_4005"


async def test_push_refusals(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    iotsquare: IotSquareSimulator,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Unknown paths, oversized bodies and pushes to an entry that is not running."""
    client = await hass_client_no_auth()
    headers = {"Authorization": "Bearer p4ss"}
    path = "/api/lorawan_hub/push/push-id-0123/uplink"
    response = await client.post("/api/lorawan_hub/push/other-id/uplink", json={}, headers=headers)
    assert response.status == 404
    response = await client.post(path, data=b"[" + b" " * MAX_PUSH + b"]", headers=headers)
    assert response.status == 413
    response = await client.post(
        path, data=b"{}", headers={**headers, "Content-Length": str(MAX_PUSH + 1)}
    )
    assert response.status == 413
    await hass.config_entries.async_unload(loaded.entry_id)
    assert loaded.state is ConfigEntryState.NOT_LOADED
    assert await iotsquare.push_uplink(METER, b"\x01\x67\x00\xe6") == 503


async def test_multicast_and_fuota_actions(
    hass: HomeAssistant, loaded: MockConfigEntry, iotsquare: IotSquareSimulator, tmp_path: Path
) -> None:
    """A group is created, filled (refusals named), sent to, updated over the air, deleted."""
    lamp = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, LAMP), ENTRY_ID)
    meter = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, METER), ENTRY_ID)
    assert lamp is not None
    assert meter is not None
    group = await hass.services.async_call(
        DOMAIN,
        "create_multicast_group",
        {"config_entry_id": ENTRY_ID, "name": "lamps"},
        blocking=True,
        return_response=True,
    )
    assert group is not None
    members = {"config_entry_id": ENTRY_ID, "group_id": group["group_id"]}
    await hass.services.async_call(
        DOMAIN, "rename_multicast_group", {**members, "name": "street_lamps"}, blocking=True
    )
    assert iotsquare.groups[str(group["group_id"]).lower()].name == "street_lamps"
    await hass.services.async_call(
        DOMAIN, "add_to_multicast_group", {**members, "device_id": [lamp.id]}, blocking=True
    )
    with pytest.raises(HomeAssistantError) as refused:
        await hass.services.async_call(
            DOMAIN, "add_to_multicast_group", {**members, "device_id": [meter.id]}, blocking=True
        )
    assert refused.value.translation_key == "iotsquare_14008"
    assert refused.value.translation_placeholders is not None
    assert METER in refused.value.translation_placeholders["reason"]
    sent = await hass.services.async_call(
        DOMAIN,
        "send_multicast",
        {**members, "f_port": 9, "payload_hex": "ff"},
        blocking=True,
        return_response=True,
    )
    assert sent is not None
    assert sent["f_cnt"] == 1
    for gateways, key in (
        (["00800000A0001234"], "multicast_gateways_unsupported"),
        (["gateway-1"], "invalid_gateway_id"),
    ):
        with pytest.raises(ServiceValidationError) as invalid:
            await hass.services.async_call(
                DOMAIN,
                "send_multicast",
                {**members, "f_port": 9, "payload_hex": "ff", "gateway_ids": gateways},
                blocking=True,
            )
        assert invalid.value.translation_key == key
    status = await hass.services.async_call(
        DOMAIN, "multicast_group_status", members, blocking=True, return_response=True
    )
    assert status == {
        "group_id": group["group_id"],
        "name": "street_lamps",
        "device_class": "C",
        "devices": [{"dev_eui": LAMP, "device_id": lamp.id, "state": "joined"}],
    }

    hass.config.config_dir = str(tmp_path)
    (tmp_path / "lamp.bin").write_bytes(b"\x01\x02" * 300)
    started = await hass.services.async_call(
        DOMAIN,
        "start_fuota",
        {**members, "firmware": "lamp.bin", "redundancy": 0.5},
        blocking=True,
        return_response=True,
    )
    assert started is not None
    job = {"config_entry_id": ENTRY_ID, "job_id": started["job_id"]}
    status = await hass.services.async_call(
        DOMAIN, "fuota_status", job, blocking=True, return_response=True
    )
    assert status is not None
    assert status["job_id"] == started["job_id"]
    await hass.services.async_call(DOMAIN, "cancel_fuota", job, blocking=True)
    with pytest.raises(ServiceValidationError) as invalid:
        await hass.services.async_call(
            DOMAIN,
            "start_fuota",
            {"config_entry_id": ENTRY_ID, "device_id": [lamp.id], "firmware": "lamp.bin"},
            blocking=True,
        )
    assert invalid.value.translation_key == "fuota_group_required"
    await hass.services.async_call(
        DOMAIN, "remove_from_multicast_group", {**members, "device_id": [lamp.id]}, blocking=True
    )
    await hass.services.async_call(DOMAIN, "delete_multicast_group", members, blocking=True)
    assert iotsquare.groups == {}


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


@pytest.fixture
async def diagnostics_ready(hass: HomeAssistant) -> None:
    """Diagnostics set up before the test server starts (it takes no routes afterwards)."""
    assert await async_setup_component(hass, "diagnostics", {})


async def test_diagnostics_hide_secrets(
    hass: HomeAssistant,
    diagnostics_ready: None,
    loaded: MockConfigEntry,
    iotsquare: IotSquareSimulator,
    uplinks: EventRecorder,
    hass_client: ClientSessionGenerator,
) -> None:
    """The token, the push path and its secret never reach the diagnostics."""
    assert await iotsquare.push_uplink(METER, b"\x01\x67\x00\xe6") == 200
    await uplinks.wait(1)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, loaded)
    text = json.dumps(diagnostics)
    assert "Basement meter" in text
    for secret in (iotsquare.token, "push-id-0123", "p4ss"):
        assert secret not in text


async def test_a_push_the_coordinator_failed_comes_again(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    iotsquare: IotSquareSimulator,
    uplinks: EventRecorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A push whose hand-over raised is answered 503; IoTSquare's retry is delivered."""
    coordinator = loaded.runtime_data
    deliver = coordinator.uplink
    failures = [RuntimeError("the coordinator failed")]

    def failing_once(uplink: Uplink) -> None:
        if failures:
            raise failures.pop()
        deliver(uplink)

    monkeypatch.setattr(coordinator, "uplink", failing_once)
    body = iotsquare.uplink_body(METER, b"\x01\x67\x00\xe6")
    assert await iotsquare.push("uplink", body) == 503
    assert await iotsquare.push("uplink", body) == 200
    events = await uplinks.wait(1)
    assert events[0].data["f_cnt"] == body["data"]["fCnt"]


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


async def test_group_creation_reports_keys_and_refusals(
    hass: HomeAssistant, loaded: MockConfigEntry, iotsquare: IotSquareSimulator
) -> None:
    """The action answers the session given and names each device IoTSquare refused."""
    registry = dr.async_get(hass)
    lamp = registry.async_get_device_by_identifier((DOMAIN, LAMP), ENTRY_ID)
    meter = registry.async_get_device_by_identifier((DOMAIN, METER), ENTRY_ID)
    assert lamp is not None
    assert meter is not None
    keys = {
        "address": "45C325CE",
        "app_s_key": "A1EF710BB888C7F0D1A296A442203FB8",
        "nwk_s_key": "868D85D136E7006619C6910AAF3E488E",
    }
    group = await hass.services.async_call(
        DOMAIN,
        "create_multicast_group",
        {"config_entry_id": ENTRY_ID, "name": "lamps", "device_id": [lamp.id, meter.id], **keys},
        blocking=True,
        return_response=True,
    )
    assert group is not None
    assert group["keys"] == keys
    assert group["devices"] == [{"dev_eui": LAMP, "device_id": lamp.id}]
    assert group["refused"] == [
        {
            "dev_eui": METER,
            "device_id": meter.id,
            "reason": "refused: MCDevice Incompatible With Group",
        }
    ]
    stored = iotsquare.groups[str(group["group_id"]).lower()]
    assert (stored.mc_addr, list(stored.members)) == ("45c325ce", [LAMP.lower()])


async def test_fuota_options_refused_in_words(
    hass: HomeAssistant, loaded: MockConfigEntry, iotsquare: IotSquareSimulator, tmp_path: Path
) -> None:
    """A start delay or a class fuota/create cannot take is refused, with its message."""
    iotsquare.add_group("778327e60a028072", "lamps")
    hass.config.config_dir = str(tmp_path)
    (tmp_path / "lamp.bin").write_bytes(b"\x01\x02")
    job = {"config_entry_id": ENTRY_ID, "group_id": "778327E60A028072", "firmware": "lamp.bin"}
    for extra, key in (
        ({"start_delay": 60}, "fuota_start_delay_unsupported"),
        ({"device_class": "B"}, "fuota_class_c_only"),
    ):
        with pytest.raises(ServiceValidationError) as invalid:
            await hass.services.async_call(DOMAIN, "start_fuota", job | extra, blocking=True)
        assert invalid.value.translation_key == key
    assert iotsquare.fuota == {}
    started = await hass.services.async_call(
        DOMAIN, "start_fuota", job, blocking=True, return_response=True
    )
    assert started is not None
    assert str(started["job_id"]).startswith("778327E60A028072/")


async def test_multicast_results_are_downlink_statuses(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    iotsquare: IotSquareSimulator,
    downlink_statuses: EventRecorder,
) -> None:
    """A result pushed to /multicast fires the downlink-status event of the group."""
    body = {"mcEUI": "778327e60a028072", "fCnt": 3, "successNum": 9, "total": 10, "time": 5000}
    assert await iotsquare.push("multicast", body) == 200
    event = (await downlink_statuses.wait(1))[0]
    assert event.data == {
        "dev_eui": "",
        "device_id": None,
        "message_id": "3",
        "status": "acknowledged",
        "reason": "9 of 10 devices responded",
        "at": "1970-01-01T00:00:05+00:00",
        "group_id": "778327E60A028072",
    }


async def test_removing_the_entry_takes_its_push_off(
    hass: HomeAssistant,
    iotsquare: IotSquareSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Removal takes the entry's link and header off the application, and nothing else."""
    entry = await load_iotsquare(hass, iotsquare, hass_client_no_auth)
    app = iotsquare.apps[89]
    app.headers = {"Authorization": "Bearer p4ss", "X-Mine": "keep"}
    app.push_urls = ["https://example.org/mine"]
    assert await hass.config_entries.async_remove(entry.entry_id)
    assert (app.push_url, app.headers, app.push_urls) == (
        "",
        {"X-Mine": "keep"},
        ["https://example.org/mine"],
    )
    # A server that cannot be reached at removal: said in the log, the entry goes all the same.
    entry = await load_iotsquare(hass, iotsquare, hass_client_no_auth)
    iotsquare.http_fail_next = {"app/status": 503}
    assert await hass.config_entries.async_remove(entry.entry_id)
    assert "Could not undo the push set-up of IoTSquare garden" in caplog.text
    assert "p4ss" not in caplog.text
