"""IoTSquare in Home Assistant: pushes into the entry's own path, actions, diagnostics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.lorawan_hub.const import DOMAIN
from custom_components.lorawan_hub.lns.models import LoRaClass, Uplink
from custom_components.lorawan_hub.push import MAX_PUSH
from simulator.iotsquare import IotSquareSimulator
from tests.conftest import (
    IOTSQUARE_ENTRY_ID as ENTRY_ID,
    EventRecorder,
    load_iotsquare,
    state_of,
)

METER = "90B96DADCE96A06A"
LAMP = "55E1032590DC5682"


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
