"""OrbiWise OrbiWAN in Home Assistant: entities, pushes, actions and REST push via the webhook."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import logging
from typing import Any

import pytest

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    CONF_PASSWORD,
    CONF_URL,
    CONF_USERNAME,
    CONF_WEBHOOK_ID,
    EVENT_HOMEASSISTANT_STOP,
)
from homeassistant.core import HomeAssistant
from homeassistant.core_config import async_process_ha_core_config
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.lorawan_hub.const import (
    CONF_AUTH_MODE,
    CONF_PUSH_SECRET,
    CONF_TRANSPORT,
    CONF_VENDOR,
    DOMAIN,
    EVENT_ALARM,
    EVENT_JOIN,
)
from custom_components.lorawan_hub.lns.orbiwise import OrbiWiseClient
from custom_components.lorawan_hub.vendors.orbiwise import orbiwise_unique_id
from simulator.orbiwise import OrbiWiseSimulator
from tests.conftest import EventRecorder, state_of

CLIMATE = "70B3D57ED0000201"
DOOR = "70B3D57ED0000202"
ENTRY_ID = "01KAORBIWISETESTENTRY00000"
LPP_TEMPERATURE = b"\x01\x67\x00\xe6"


@pytest.fixture
async def orbiwise() -> AsyncIterator[OrbiWiseSimulator]:
    """An OrbiWAN server with two devices."""
    simulator = OrbiWiseSimulator()
    simulator.add_node(CLIMATE, comment="Lab climate")
    simulator.add_node(DOOR, comment="Lab door", device_class=2)
    async with simulator:
        yield simulator


def entry_for(orbiwise: OrbiWiseSimulator, **data: Any) -> MockConfigEntry:
    """A config entry of the simulated account."""
    entry_data = {
        CONF_VENDOR: "orbiwise",
        CONF_URL: orbiwise.url,
        CONF_USERNAME: orbiwise.username,
        CONF_PASSWORD: orbiwise.password,
        CONF_AUTH_MODE: "oauth2",
        CONF_TRANSPORT: "websocket",
        **data,
    }
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id=ENTRY_ID,
        title=f"OrbiWAN {orbiwise.username}",
        unique_id=orbiwise_unique_id(entry_data),
        data=entry_data,
    )


async def live(entry: MockConfigEntry, orbiwise: OrbiWiseSimulator) -> OrbiWiseClient:
    """Wait until the entry's client drained the store and takes pushes."""
    client = entry.runtime_data.client
    assert isinstance(client, OrbiWiseClient)
    async with asyncio.timeout(10):
        await client.live.wait()
        if entry.data[CONF_TRANSPORT] == "websocket":
            # The server registers a WebSocket for pushes just after the handshake.
            await orbiwise.wait_for(lambda: orbiwise.websocket_count == 1)
    return client


@pytest.fixture
async def loaded(hass: HomeAssistant, orbiwise: OrbiWiseSimulator) -> MockConfigEntry:
    """The entry, set up over the WebSocket and live."""
    entry = entry_for(orbiwise)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await live(entry, orbiwise)
    return entry


def device_id(hass: HomeAssistant, dev_eui: str) -> str:
    """Return a device's registry id."""
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, dev_eui), ENTRY_ID)
    assert device is not None
    return device.id


async def test_devices_values_and_class(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    orbiwise: OrbiWiseSimulator,
    uplinks: EventRecorder,
) -> None:
    """Devices with their names and class; server-decoded fields become sensors directly."""
    assert state_of(hass, "sensor.lab_door_lorawan_class") == "c"
    orbiwise.publish(CLIMATE, LPP_TEMPERATURE, decoded={"temperature": 19.5, "humidity": 25})
    await uplinks.wait(1)
    await hass.async_block_till_done()
    assert state_of(hass, "sensor.lab_climate_temperature") == "19.5"
    assert state_of(hass, "sensor.lab_climate_humidity") == "25"
    assert hass.states.get("sensor.lab_climate_temperature_1") is None


async def test_encrypted_uplink_stays_raw(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    orbiwise: OrbiWiseSimulator,
    uplinks: EventRecorder,
) -> None:
    """An uplink the server could not decrypt is kept raw and said so, never decoded."""
    orbiwise.publish(CLIMATE, LPP_TEMPERATURE, decrypted=False)
    events = await uplinks.wait(1)
    assert events[0].data["encrypted"] is True
    assert events[0].data["decoded"] == {}
    assert events[0].data["payload_hex"] == "0167 00E6".replace(" ", "")


async def test_status_nodeinfo_alarm_and_join(
    hass: HomeAssistant, loaded: MockConfigEntry, orbiwise: OrbiWiseSimulator
) -> None:
    """Battery from a status push, a class from nodeinfo, an alarm repair, a join event."""
    joins = EventRecorder(hass, EVENT_JOIN)
    alarms = EventRecorder(hass, EVENT_ALARM)
    orbiwise.push_status(CLIMATE, battery=254, margin=9)
    orbiwise.nodes[CLIMATE].device_class = 1
    orbiwise.push_nodeinfo(CLIMATE)
    orbiwise.push_alarm(CLIMATE, "UPLINK_WITHOUT_ADR", "An uplink without ADR was dropped.")
    orbiwise.push_joininfo(DOOR)
    await joins.wait(1)
    await hass.async_block_till_done()
    assert state_of(hass, "sensor.lab_climate_battery") == "100.0"
    assert state_of(hass, "binary_sensor.lab_climate_external_power") == "off"
    assert state_of(hass, "sensor.lab_climate_lorawan_class") == "b"
    assert joins.events[0].data["status"] == "JOIN_ACCEPTED"
    assert joins.events[0].data["device_id"] == device_id(hass, DOOR)
    # The alarm is a repair in words, and an event for automations.
    (issue,) = [
        issue for (domain, _), issue in ir.async_get(hass).issues.items() if domain == DOMAIN
    ]
    assert issue.translation_key == "server_alarm"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["source"] == f"Lab climate ({CLIMATE})"
    assert issue.translation_placeholders["text"] == "An uplink without ADR was dropped."
    assert alarms.events[0].data["code"] == "UPLINK_WITHOUT_ADR"
    assert alarms.events[0].data["device_id"] == device_id(hass, CLIMATE)
    assert issue.severity is ir.IssueSeverity.WARNING
    # Syslog's "alert" is an error; "info" is news (its event only, no repair).
    orbiwise.push_alarm(CLIMATE, "GATEWAY_DOWN", "The gateway is down.", severity="alert")
    orbiwise.push_alarm(CLIMATE, "NEW_FIRMWARE", "A firmware is available.", severity="info")
    await alarms.wait(3)
    issues = {
        issue.translation_placeholders["code"]: issue.severity
        for (domain, _), issue in ir.async_get(hass).issues.items()
        if domain == DOMAIN and issue.translation_placeholders
    }
    assert issues == {
        "UPLINK_WITHOUT_ADR": ir.IssueSeverity.WARNING,
        "GATEWAY_DOWN": ir.IssueSeverity.ERROR,
    }
    # Removing the entry removes its alarms' repairs.
    assert await hass.config_entries.async_remove(loaded.entry_id)
    assert not [domain for domain, _ in ir.async_get(hass).issues if domain == DOMAIN]


async def test_actions(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    orbiwise: OrbiWiseSimulator,
    downlink_statuses: EventRecorder,
) -> None:
    """Downlink (with its delivery), class change, status request and multicast groups."""
    response = await hass.services.async_call(
        DOMAIN,
        "send_downlink",
        {"device_id": device_id(hass, DOOR), "f_port": 3, "payload_hex": "aa", "mode": "replace"},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert response["message_id"] == str(orbiwise.downlinks[0].id)
    assert orbiwise.downlinks[0].mode == "replace_on_busy"
    orbiwise.advance_downlink(orbiwise.downlinks[0].id, 3)
    events = await downlink_statuses.wait(1)
    assert events[0].data["status"] == "failed"
    assert events[0].data["reason"] == "not acknowledged by the device"

    await hass.services.async_call(
        DOMAIN,
        "set_device_class",
        {"device_id": device_id(hass, CLIMATE), "device_class": "C"},
        blocking=True,
    )
    assert orbiwise.nodes[CLIMATE].device_class == 2
    assert state_of(hass, "sensor.lab_climate_lorawan_class") == "c"
    await hass.services.async_call(
        DOMAIN, "request_device_status", {"device_id": device_id(hass, CLIMATE)}, blocking=True
    )
    assert orbiwise.nodes[CLIMATE].req_status == 1  # update requested

    group = await hass.services.async_call(
        DOMAIN,
        "create_multicast_group",
        {"config_entry_id": ENTRY_ID, "name": "valves"},
        blocking=True,
        return_response=True,
    )
    assert group is not None
    assert (group["group_id"], group["name"], group["devices"]) == ("valves", "valves", [])
    keys = group["keys"]
    assert isinstance(keys, dict)
    assert set(keys) == {"address", "app_s_key", "nwk_s_key"}
    members = {"config_entry_id": ENTRY_ID, "group_id": "valves"}
    await hass.services.async_call(
        DOMAIN,
        "add_to_multicast_group",
        {**members, "device_id": [device_id(hass, CLIMATE), device_id(hass, DOOR)]},
        blocking=True,
    )
    assert orbiwise.nodes[DOOR].groups == {"valves"}
    sent = await hass.services.async_call(
        DOMAIN,
        "send_multicast",
        {**members, "f_port": 7, "payload_hex": "01"},
        blocking=True,
        return_response=True,
    )
    assert sent is not None
    assert sent["message_id"] == str(orbiwise.downlinks[-1].id)
    orbiwise.advance_downlink(orbiwise.downlinks[-1].id, 1)
    events = await downlink_statuses.wait(2)
    assert events[1].data["group_id"] == "valves"
    await hass.services.async_call(
        DOMAIN,
        "remove_from_multicast_group",
        {**members, "device_id": [device_id(hass, DOOR)]},
        blocking=True,
    )
    assert orbiwise.nodes[DOOR].groups == set()
    await hass.services.async_call(DOMAIN, "delete_multicast_group", members, blocking=True)
    assert orbiwise.groups == {}


async def test_rest_push_through_the_webhook(
    hass: HomeAssistant,
    orbiwise: OrbiWiseSimulator,
    uplinks: EventRecorder,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """REST push into Home Assistant's webhook, with the secret; stopped on unload."""
    # The test server takes the routes registered before it starts: the integration's first.
    assert await async_setup_component(hass, DOMAIN, {})
    http = await hass_client_no_auth()
    await async_process_ha_core_config(
        hass, {"external_url": f"http://127.0.0.1:{http.server.port}"}
    )
    entry = entry_for(
        orbiwise,
        **{CONF_TRANSPORT: "rest_push", CONF_WEBHOOK_ID: "hook-1", CONF_PUSH_SECRET: "s3cret"},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await live(entry, orbiwise)
    assert orbiwise.push_mode is not None
    assert orbiwise.push_mode.auth_string == "Bearer s3cret"
    orbiwise.publish(CLIMATE, LPP_TEMPERATURE)
    await uplinks.wait(1)
    async with asyncio.timeout(10):
        await orbiwise.wait_for(lambda: ("payloads_ul", 200) in orbiwise.pushed)
    assert orbiwise.stored[CLIMATE] == {}

    # Without the secret, or with a body that is not a push, nothing is taken.
    response = await http.post("/api/webhook/hook-1?topic=payloads_ul", json={})
    assert response.status == 401
    headers = {"Authorization": "Bearer s3cret"}
    response = await http.post("/api/webhook/hook-1?topic=payloads_ul", data=b"[", headers=headers)
    assert response.status == 400
    response = await http.post(
        "/api/webhook/hook-1?topic=payloads_ul", data=b"x" * 300_000, headers=headers
    )
    assert response.status == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(30):
            yield b"x" * 10_000

    response = await http.post(
        "/api/webhook/hook-1?topic=payloads_ul", data=chunks(), headers=headers
    )
    assert response.status == 413

    # Stopping, the receiver no longer takes pushes: the server keeps them for the catch-up.
    await entry.runtime_data.async_shutdown()
    assert orbiwise.push_mode is not None
    assert orbiwise.push_mode.enabled is False
    response = await http.post(
        "/api/webhook/hook-1?topic=payloads_ul", json={"DevEUI": CLIMATE}, headers=headers
    )
    assert response.status == 503
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert len(uplinks.events) == 1


async def test_rest_push_without_an_address(
    hass: HomeAssistant,
    orbiwise: OrbiWiseSimulator,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """
    Without an internet address for Home Assistant, the entry waits for one.

    Meanwhile its webhook answers 503, so that the server keeps what it pushes (Home Assistant
    answers 200 for a webhook nobody registered, and the server would delete the uplink).
    """
    # The test server takes the routes registered before it starts: the integration's first.
    assert await async_setup_component(hass, DOMAIN, {})
    http = await hass_client_no_auth()
    entry = entry_for(
        orbiwise, **{CONF_TRANSPORT: "rest_push", CONF_WEBHOOK_ID: "h", CONF_PUSH_SECRET: "s"}
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert "no address on the internet" in entry.reason
    response = await http.post(
        "/api/webhook/h?topic=payloads_ul",
        json={"DevEUI": CLIMATE},
        headers={"Authorization": "Bearer s"},
    )
    assert response.status == 503
    assert await hass.config_entries.async_remove(entry.entry_id)
    response = await http.post("/api/webhook/h?topic=payloads_ul", json={})
    assert response.status == 200  # nobody listens any more (Home Assistant's answer)


async def test_external_power_survives_a_restart(
    hass: HomeAssistant, loaded: MockConfigEntry, orbiwise: OrbiWiseSimulator
) -> None:
    """The last power report stays shown after a reload, until a new report."""
    changes = EventRecorder(hass, "state_changed")
    orbiwise.push_status(CLIMATE, battery=0, margin=3)
    await changes.wait(1)
    assert state_of(hass, "binary_sensor.lab_climate_external_power") == "on"
    assert await hass.config_entries.async_reload(loaded.entry_id)
    await live(loaded, orbiwise)
    await hass.async_block_till_done()
    assert state_of(hass, "binary_sensor.lab_climate_external_power") == "on"


async def test_refusals_in_words(
    hass: HomeAssistant, loaded: MockConfigEntry, orbiwise: OrbiWiseSimulator
) -> None:
    """An immediate downlink behind others, and a group id OrbiWAN would misread."""
    door = device_id(hass, DOOR)
    downlink = {"device_id": door, "f_port": 3, "payload_hex": "aa"}
    await hass.services.async_call(DOMAIN, "send_downlink", downlink, blocking=True)
    with pytest.raises(HomeAssistantError) as busy:
        await hass.services.async_call(
            DOMAIN, "send_downlink", {**downlink, "mode": "immediate"}, blocking=True
        )
    assert busy.value.translation_key == "orbiwise_busy"
    assert "fail_on_busy" in str(busy.value)
    with pytest.raises(ServiceValidationError) as invalid:
        await hass.services.async_call(
            DOMAIN,
            "create_multicast_group",
            {"config_entry_id": ENTRY_ID, "name": "a,b"},
            blocking=True,
            return_response=True,
        )
    assert invalid.value.translation_key == "orbiwise_group_invalid"
    assert "a,b cannot be an OrbiWAN group id" in str(invalid.value)


async def test_class_b_group_from_home_assistant(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    orbiwise: OrbiWiseSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A class B group with its ping slot periodicity; the session is in the response only."""
    caplog.set_level(logging.DEBUG)
    group = await hass.services.async_call(
        DOMAIN,
        "create_multicast_group",
        {
            "config_entry_id": ENTRY_ID,
            "name": "lamps",
            "device_class": "B",
            "ping_slot_periodicity": 5,
            "device_id": [device_id(hass, CLIMATE)],
        },
        blocking=True,
        return_response=True,
    )
    assert group is not None
    assert group["device_class"] == "B"
    assert group["devices"] == [{"dev_eui": CLIMATE, "device_id": device_id(hass, CLIMATE)}]
    assert orbiwise.groups["lamps"]["ping_slot_periodicity"] == 5
    keys = group["keys"]
    assert isinstance(keys, dict)
    assert orbiwise.groups["lamps"]["nwkskey"] == keys["nwk_s_key"]
    assert orbiwise.groups["lamps"]["appskey"] == keys["app_s_key"]
    for key in (keys["nwk_s_key"], keys["app_s_key"]):
        assert isinstance(key, str)
        assert key.lower() not in caplog.text.lower()


async def test_status_known_at_start_up(hass: HomeAssistant, orbiwise: OrbiWiseSimulator) -> None:
    """A device's last status is shown from the start, without waiting for a push."""
    orbiwise.push_status(CLIMATE, battery=0, margin=3)  # before Home Assistant connects
    changes = EventRecorder(hass, "state_changed")
    entry = entry_for(orbiwise)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await live(entry, orbiwise)
    async with asyncio.timeout(10):
        while state_of(hass, "binary_sensor.lab_climate_external_power") != "on":
            await changes.wait(len(changes.events) + 1)


async def test_home_assistant_stop_leaves_a_push_set_up_since(
    hass: HomeAssistant, orbiwise: OrbiWiseSimulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """At Home Assistant's stop, a push configuration someone else set since is left running."""
    assert await async_setup_component(hass, DOMAIN, {})
    http = await hass_client_no_auth()
    await async_process_ha_core_config(
        hass, {"external_url": f"http://127.0.0.1:{http.server.port}"}
    )
    entry = entry_for(
        orbiwise,
        **{CONF_TRANSPORT: "rest_push", CONF_WEBHOOK_ID: "hook-2", CONF_PUSH_SECRET: "s"},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await live(entry, orbiwise)
    theirs = orbiwise.set_push_mode("mqtts://broker.example.net", 8883)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert theirs.enabled is True
    assert ("PUT", "/rest/pushmode/stop") not in orbiwise.requests
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert theirs.enabled is True
