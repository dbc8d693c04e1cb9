"""SenRa in Home Assistant: notifications into the webhook, actions, refusals, reauth."""

from __future__ import annotations

from pathlib import Path
from unittest.mock import patch

import pytest

from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import CONF_API_KEY, CONF_URL, CONF_WEBHOOK_ID
from homeassistant.core import HomeAssistant
from homeassistant.core_config import async_process_ha_core_config
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.lorawan_hub.const import (
    CONF_APP_EUI,
    CONF_PUSH_SECRET,
    CONF_VENDOR,
    DOMAIN,
)
from custom_components.lorawan_hub.vendors.senra import senra_unique_id
from simulator.senra import SenraSimulator
from tests.conftest import EventRecorder, state_of

from .conftest import METER

ENTRY_ID = "01KASENRATESTENTRY00000000"


@pytest.fixture
async def loaded(
    hass: HomeAssistant, senra: SenraSimulator, hass_client_no_auth: ClientSessionGenerator
) -> MockConfigEntry:
    """A SenRa entry, set up, with the simulator pushing to its webhook."""
    # The test server takes the routes registered before it starts: the integration's first.
    assert await async_setup_component(hass, DOMAIN, {})
    http = await hass_client_no_auth()
    await async_process_ha_core_config(
        hass, {"external_url": f"http://127.0.0.1:{http.server.port}"}
    )
    data = {
        CONF_VENDOR: "senra",
        CONF_URL: senra.url,
        CONF_API_KEY: senra.api_key,
        CONF_APP_EUI: senra.app_eui,
        CONF_WEBHOOK_ID: "senra-hook",
        CONF_PUSH_SECRET: "p4ss",
    }
    entry = MockConfigEntry(
        domain=DOMAIN,
        entry_id=ENTRY_ID,
        title=f"SenRa {senra.app_eui}",
        unique_id=senra_unique_id(data),
        data=data,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    senra.notify_to(
        f"http://127.0.0.1:{http.server.port}/api/webhook/senra-hook",
        {"Authorization": "Bearer p4ss"},
    )
    return entry


async def test_notifications_and_actions(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    senra: SenraSimulator,
    uplinks: EventRecorder,
    downlink_statuses: EventRecorder,
) -> None:
    """Single, batched, legacy and replayed notifications; then a downlink and its ack."""
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, METER), ENTRY_ID)
    assert device is not None
    assert device.name == "Basement meter"
    first = senra.notification(METER, b"\x01\x67\x00\xe6")
    assert await senra.push(first) == 200
    assert await senra.push([senra.notification(METER, b"\x01\x67\x00\xeb")]) == 200
    assert await senra.push(senra.legacy(senra.notification(METER, b"\x01\x67\x00\xf0"))) == 200
    assert await senra.push(first) == 200  # a replay
    assert await senra.push(b"{not json") == 400
    assert await senra.push(first, headers={"Authorization": "Bearer wrong"}) == 401
    events = await uplinks.wait(3)
    await hass.async_block_till_done()
    assert [event.data["f_cnt"] for event in events] == [1, 2, 3]
    assert state_of(hass, "sensor.basement_meter_temperature_1") == "24.0"
    # The replay was dropped before it reached the coordinator.
    assert loaded.runtime_data.duplicates == 0

    response = await hass.services.async_call(
        DOMAIN,
        "send_downlink",
        {"device_id": device.id, "f_port": 2, "payload_hex": "0a"},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    message_id = int(str(response["message_id"]))
    assert await senra.push(senra.notification(METER, b"\x00", ackDnMsgId=message_id)) == 200
    statuses = await downlink_statuses.wait(1)
    assert statuses[0].data["status"] == "acknowledged"
    assert statuses[0].data["message_id"] == str(message_id)

    await hass.services.async_call(
        DOMAIN, "clear_downlink_queue", {"device_id": device.id}, blocking=True
    )
    assert senra.devices[METER].queue == []
    senra.task_polls = 0  # the task is done at the first look
    await hass.services.async_call(
        DOMAIN, "set_device_class", {"device_id": device.id, "device_class": "C"}, blocking=True
    )
    assert senra.devices[METER].dev_class == "C"
    assert state_of(hass, "sensor.basement_meter_lorawan_class") == "c"
    # The device's payload limit from the last uplink with RF data is enforced.
    with pytest.raises(ServiceValidationError) as raised:
        await hass.services.async_call(
            DOMAIN,
            "send_downlink",
            {"device_id": device.id, "f_port": 2, "payload_hex": "00" * 60},
            blocking=True,
        )
    assert raised.value.translation_key == "payload_too_large"

    with pytest.raises(ServiceValidationError) as raised:
        await hass.services.async_call(
            DOMAIN,
            "create_multicast_group",
            {"config_entry_id": ENTRY_ID, "name": "meters"},
            blocking=True,
            return_response=True,
        )
    assert raised.value.translation_key == "multicast_name_unsupported"
    group = await hass.services.async_call(
        DOMAIN,
        "create_multicast_group",
        {"config_entry_id": ENTRY_ID, "tags": ["meters"]},
        blocking=True,
        return_response=True,
    )
    assert group is not None
    assert "keys" not in group
    members = {"config_entry_id": ENTRY_ID, "group_id": group["group_id"]}
    await hass.services.async_call(
        DOMAIN, "add_to_multicast_group", {**members, "device_id": [device.id]}, blocking=True
    )
    await hass.services.async_call(
        DOMAIN, "send_multicast", {**members, "f_port": 9, "payload_hex": "ff"}, blocking=True
    )
    assert senra.group_downlinks == [(group["group_id"], b"\xff", 9)]
    status = await hass.services.async_call(
        DOMAIN, "multicast_group_status", members, blocking=True, return_response=True
    )
    assert status is not None
    assert status["devices"] == [{"dev_eui": METER, "device_id": device.id, "state": "Initialized"}]
    await hass.services.async_call(
        DOMAIN,
        "send_multicast",
        {
            "config_entry_id": ENTRY_ID,
            "group_id": senra.devices[METER].dev_addr,
            "f_port": 3,
            "payload_hex": "aa",
            "gateway_ids": ["00-80-00-00-a0-00-12-34"],
        },
        blocking=True,
    )
    assert senra.station_downlinks[-1][3] == ["00800000A0001234"]
    with pytest.raises(ServiceValidationError) as raised:
        await hass.services.async_call(
            DOMAIN, "rename_multicast_group", {**members, "name": "pumps"}, blocking=True
        )
    assert raised.value.translation_key == "not_supported"
    await hass.services.async_call(DOMAIN, "delete_multicast_group", members, blocking=True)
    assert senra.groups == {}


async def test_fuota_actions(
    hass: HomeAssistant, loaded: MockConfigEntry, senra: SenraSimulator, tmp_path: Path
) -> None:
    """The firmware is read under the configuration directory only; the job is followed."""
    hass.config.config_dir = str(tmp_path)
    (tmp_path / "firmware").mkdir()
    (tmp_path / "firmware" / "meter.bin").write_bytes(b"\x01\x02" * 500)
    (tmp_path.parent / "outside.bin").write_bytes(b"x")
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, METER), ENTRY_ID)
    assert device is not None
    base = {"config_entry_id": ENTRY_ID, "device_id": [device.id]}
    started = await hass.services.async_call(
        DOMAIN,
        "start_fuota",
        {**base, "firmware": "firmware/meter.bin", "redundancy": 0.25},
        blocking=True,
        return_response=True,
    )
    assert started is not None
    job_id = str(started["job_id"])
    assert senra.fuota[job_id]["firmware"] == b"\x01\x02" * 500
    assert senra.fuota[job_id]["redundancy"] == 0.25
    status = await hass.services.async_call(
        DOMAIN,
        "fuota_status",
        {"config_entry_id": ENTRY_ID, "job_id": job_id},
        blocking=True,
        return_response=True,
    )
    assert status == {"job_id": job_id, "state": "Pending", "percent_done": 0, "result": None}
    await hass.services.async_call(
        DOMAIN, "cancel_fuota", {"config_entry_id": ENTRY_ID, "job_id": job_id}, blocking=True
    )
    assert senra.fuota[job_id]["state"] == "Cancelled"
    (tmp_path / ".storage").mkdir()
    (tmp_path / ".storage" / "core.config_entries").write_text("{}")
    (tmp_path / "link.bin").symlink_to(tmp_path.parent / "outside.bin")
    for firmware, key in (
        ("../outside.bin", "firmware_outside_config"),
        (str(tmp_path.parent / "outside.bin"), "firmware_outside_config"),
        ("link.bin", "firmware_outside_config"),
        (".storage/core.config_entries", "firmware_outside_config"),
        ("firmware/missing.bin", "firmware_not_found"),
    ):
        with pytest.raises(ServiceValidationError) as raised:
            await hass.services.async_call(
                DOMAIN, "start_fuota", {**base, "firmware": firmware}, blocking=True
            )
        assert raised.value.translation_key == key
    with (
        patch("custom_components.lorawan_hub.services.MAX_FIRMWARE", 10),
        pytest.raises(ServiceValidationError) as raised,
    ):
        await hass.services.async_call(
            DOMAIN, "start_fuota", {**base, "firmware": "firmware/meter.bin"}, blocking=True
        )
    assert raised.value.translation_key == "firmware_too_large"


async def test_command_payload_checked_against_the_device_maximum(
    hass: HomeAssistant, loaded: MockConfigEntry, senra: SenraSimulator
) -> None:
    """A command entity refuses a payload the device cannot receive now, like the action."""
    command = {"name": "Blink", "kind": "button", "port": 3, "payload": "00" * 60}
    hass.config_entries.async_update_entry(
        loaded,
        options={
            "device_types": {
                "meter": {
                    "name": "Meter",
                    "source": "paste",
                    "code": "function decodeUplink(i) { return {data: {n: i.bytes.length}}; }",
                    "commands": {"blink": command},
                }
            },
            "devices": {METER: {"codec": "js:meter"}},
        },
    )
    assert await hass.config_entries.async_reload(loaded.entry_id)
    await hass.async_block_till_done()
    assert await senra.push(senra.notification(METER, b"\x01")) == 200  # maxPayload 53
    await senra.wait_for(lambda: bool(senra.push_results))
    with pytest.raises(ServiceValidationError) as raised:
        await hass.services.async_call(
            "button", "press", {"entity_id": "button.basement_meter_blink"}, blocking=True
        )
    assert raised.value.translation_key == "payload_too_large"
    assert senra.downlinks == []


async def test_a_push_not_delivered_is_sent_again(
    hass: HomeAssistant, loaded: MockConfigEntry, senra: SenraSimulator, uplinks: EventRecorder
) -> None:
    """An uplink the entry could not take is answered 503; the server's retry delivers it."""
    notification = senra.notification(METER, b"\x01\x67\x00\xe6")
    with patch.object(loaded.runtime_data, "uplink", side_effect=RuntimeError("full")):
        assert await senra.push([notification]) == 503
    assert await senra.push([notification]) == 200
    events = await uplinks.wait(1)
    assert [event.data["f_cnt"] for event in events] == [notification["seqno"]]
    assert await senra.push([notification]) == 200  # now a replay
    await hass.async_block_till_done()
    assert len(uplinks.events) == 1


async def test_multicast_group_of_devices_and_per_downlink_class(
    hass: HomeAssistant, loaded: MockConfigEntry, senra: SenraSimulator
) -> None:
    """
    A class B group of chosen devices; a downlink of a chosen class.

    The group has its ping slot periodicity, and the devices that joined come back. A
    downlink's class reaches sendmsg as the document's "class".
    """
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, METER), ENTRY_ID)
    assert device is not None
    group = await hass.services.async_call(
        DOMAIN,
        "create_multicast_group",
        {
            "config_entry_id": ENTRY_ID,
            "device_id": [device.id],
            "device_class": "B",
            "ping_slot_periodicity": 5,
        },
        blocking=True,
        return_response=True,
    )
    assert group == {
        "group_id": "BBBBBB01",
        "name": None,
        "device_class": "B",
        "devices": [{"dev_eui": METER, "device_id": device.id}],
    }
    query = senra.last_query("mcast/setup")
    assert (query["devEuis"], query["devClass"], query["periodicity"], query["type"]) == (
        METER,
        "B",
        "5",
        "APP",
    )

    for chosen in ("B", None):
        await hass.services.async_call(
            DOMAIN,
            "send_downlink",
            {"device_id": device.id, "f_port": 2, "payload_hex": "0a"}
            | ({"device_class": chosen} if chosen else {}),
            blocking=True,
        )
    assert [sent.params.get("class") for sent in senra.downlinks] == ["B", None]


async def test_a_revoked_key_asks_for_a_new_one(
    hass: HomeAssistant, loaded: MockConfigEntry, senra: SenraSimulator
) -> None:
    """
    A key refused everywhere leads to reauthentication.

    A 403 on an action with a key that may not do this one thing is that action's refusal only.
    """
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, METER), ENTRY_ID)
    assert device is not None
    call = {"device_id": device.id, "f_port": 2, "payload_hex": "0a"}
    senra.refused = {"/rest/integration/device/sendmsg"}
    with pytest.raises(HomeAssistantError) as raised:
        await hass.services.async_call(DOMAIN, "send_downlink", call, blocking=True)
    assert raised.value.translation_key == "vendor_refused"
    await hass.async_block_till_done()
    assert list(loaded.async_get_active_flows(hass, {SOURCE_REAUTH})) == []
    senra.refused = set()
    senra.api_key = "AK2:revoked0123456789revoked0123456789revo"
    with pytest.raises(HomeAssistantError) as raised:
        await hass.services.async_call(DOMAIN, "send_downlink", call, blocking=True)
    assert raised.value.translation_key == "vendor_auth_failed"
    await hass.async_block_till_done()
    assert [
        flow["context"]["source"] for flow in loaded.async_get_active_flows(hass, {SOURCE_REAUTH})
    ] == [SOURCE_REAUTH]
