"""Actions: downlinks and class changes on Orion, and clear refusals for what it lacks."""

from __future__ import annotations

from typing import Any

import pytest

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lorawan_hub.const import DOMAIN
from custom_components.lorawan_hub.lns import orion as orion_module
from simulator.orion import OrionSimulator

from .conftest import EventRecorder

DOOR = "70B3D57ED0000002"
CLIMATE = "70B3D57ED0000001"


def device_id(hass: HomeAssistant, entry: MockConfigEntry, identifier: str) -> str:
    """Return the registry id of a device of the entry."""
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, identifier), entry.entry_id)
    assert device is not None
    return device.id


async def test_send_downlink(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    downlink_statuses: EventRecorder,
) -> None:
    """A hex payload is queued and the response carries the message id; delivery is reported."""
    response = await hass.services.async_call(
        DOMAIN,
        "send_downlink",
        {
            "device_id": device_id(hass, loaded_orion_entry, DOOR),
            "f_port": 10,
            "payload_hex": "01 ff",
        },
        blocking=True,
        return_response=True,
    )
    assert response == {
        "message_id": str(orion.downlinks[0].data_id),
        "state": "queued",
        "f_cnt": None,
        "queue_length": 1,
    }
    assert orion.downlinks[0].data_hex == "01FF"
    assert orion.downlinks[0].fport == 10
    await orion.emit_uplink(DOOR, b"\x01\x66\x00")
    events = await downlink_statuses.wait(1)
    assert events[0].data["status"] == "sent"
    assert events[0].data["message_id"] == response["message_id"]
    assert events[0].data["device_id"] == device_id(hass, loaded_orion_entry, DOOR)


async def test_send_downlink_base64_immediate(
    hass: HomeAssistant, loaded_orion_entry: MockConfigEntry, orion: OrionSimulator
) -> None:
    """Base64 payloads and the immediate mode (Orion's realTime) are supported."""
    await hass.services.async_call(
        DOMAIN,
        "send_downlink",
        {
            "device_id": device_id(hass, loaded_orion_entry, DOOR),
            "f_port": 2,
            "payload_base64": "AQI=",
            "mode": "immediate",
        },
        blocking=True,
    )
    request = await orion.wait_for_request("downlink_data_req")
    assert request["data"] == "0102"
    assert request["realTime"] is True


async def test_send_downlink_immediate_late_is_cancelled(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    downlink_statuses: EventRecorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An immediate downlink that misses the receive window is reported cancelled, with why."""
    monkeypatch.setattr(orion_module, "REALTIME_WINDOW", 0.05)
    response = await hass.services.async_call(
        DOMAIN,
        "send_downlink",
        {
            "device_id": device_id(hass, loaded_orion_entry, DOOR),
            "f_port": 2,
            "payload_hex": "01",
            "mode": "immediate",
        },
        blocking=True,
        return_response=True,
    )
    assert response is not None
    events = await downlink_statuses.wait(1)
    assert events[0].data["message_id"] == response["message_id"]
    assert events[0].data["status"] == "cancelled"
    assert "late" in events[0].data["reason"]
    assert events[0].data["device_id"] == device_id(hass, loaded_orion_entry, DOOR)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"f_port": 1}, "payload_required"),
        ({"f_port": 1, "payload_hex": "01", "payload_base64": "AQ=="}, "payload_required"),
        ({"f_port": 0, "payload_hex": "01"}, "invalid_port"),
        ({"f_port": 224, "payload_hex": "01"}, "invalid_port"),
        ({"f_port": 1, "payload_hex": "0g"}, "invalid_hex"),
        ({"f_port": 1, "payload_base64": "A%=="}, "invalid_base64"),
        ({"f_port": 1, "data": {"valve": "open"}}, "no_encoder"),
        ({"f_port": 1, "payload_hex": "00" * 52}, "payload_too_large"),
        ({"f_port": 1, "payload_hex": "01", "confirmed": True}, "not_supported"),
        ({"f_port": 1, "payload_hex": "01", "mode": "replace"}, "not_supported"),
    ],
)
async def test_send_downlink_invalid(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    data: dict[str, Any],
    key: str,
) -> None:
    """Bad input is a translated validation error and nothing reaches the server."""
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN,
            "send_downlink",
            {"device_id": device_id(hass, loaded_orion_entry, DOOR), **data},
            blocking=True,
        )
    assert caught.value.translation_key == key
    assert not orion.downlinks


async def test_send_downlink_vendor_refusal(
    hass: HomeAssistant, loaded_orion_entry: MockConfigEntry, orion: OrionSimulator
) -> None:
    """A refusal by the server is a translated error carrying the server's reason."""
    target = device_id(hass, loaded_orion_entry, DOOR)
    del orion.devices[DOOR]
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            DOMAIN,
            "send_downlink",
            {"device_id": target, "f_port": 1, "payload_hex": "01"},
            blocking=True,
        )
    assert caught.value.translation_key == "vendor_refused"
    assert caught.value.translation_placeholders == {
        "vendor": "OrionM2M",
        "reason": "Device not found",
    }


async def test_send_downlink_while_disconnected(
    hass: HomeAssistant, loaded_orion_entry: MockConfigEntry, orion: OrionSimulator
) -> None:
    """Without the connection, the action fails with 'unavailable' instead of hanging."""
    target = device_id(hass, loaded_orion_entry, DOOR)
    await orion.stop()
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            DOMAIN,
            "send_downlink",
            {"device_id": target, "f_port": 1, "payload_hex": "01"},
            blocking=True,
        )
    assert caught.value.translation_key == "vendor_unavailable"


async def test_set_device_class(
    hass: HomeAssistant, loaded_orion_entry: MockConfigEntry, orion: OrionSimulator
) -> None:
    """The class change reaches the server as node_class."""
    await hass.services.async_call(
        DOMAIN,
        "set_device_class",
        {"device_id": device_id(hass, loaded_orion_entry, DOOR), "device_class": "C"},
        blocking=True,
    )
    assert orion.devices[DOOR].node_class == 3
    info = loaded_orion_entry.runtime_data.devices[DOOR].info
    assert info is not None
    assert info.device_class == "C"


@pytest.mark.parametrize(
    ("service", "data"),
    [
        ("clear_downlink_queue", {}),
        ("request_device_status", {}),
    ],
)
async def test_device_actions_not_supported(
    hass: HomeAssistant, loaded_orion_entry: MockConfigEntry, service: str, data: dict[str, Any]
) -> None:
    """Actions Orion lacks answer 'not supported by OrionM2M'."""
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN,
            service,
            {"device_id": device_id(hass, loaded_orion_entry, DOOR), **data},
            blocking=True,
        )
    assert caught.value.translation_key == "action_not_supported"
    assert caught.value.translation_placeholders == {"vendor": "OrionM2M", "action": service}


@pytest.mark.parametrize(
    ("service", "data"),
    [
        ("send_multicast", {"group_id": "g1", "f_port": 1, "payload_hex": "01"}),
        ("create_multicast_group", {"name": "valves"}),
        ("delete_multicast_group", {"group_id": "g1"}),
        ("add_to_multicast_group", {"group_id": "g1", "device_id": []}),
        ("remove_from_multicast_group", {"group_id": "g1", "device_id": []}),
    ],
)
async def test_multicast_not_supported(
    hass: HomeAssistant, loaded_orion_entry: MockConfigEntry, service: str, data: dict[str, Any]
) -> None:
    """Orion has no multicast: every multicast action says so."""
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN, service, {"config_entry_id": loaded_orion_entry.entry_id, **data}, blocking=True
        )
    assert caught.value.translation_key == "action_not_supported"


async def test_unknown_targets(hass: HomeAssistant, loaded_orion_entry: MockConfigEntry) -> None:
    """Unknown devices, the hub device and unknown entries are refused clearly."""
    calls: list[tuple[str, dict[str, Any], str]] = [
        ("set_device_class", {"device_id": "nope", "device_class": "A"}, "device_not_found"),
        (
            "set_device_class",
            {
                "device_id": device_id(hass, loaded_orion_entry, loaded_orion_entry.entry_id),
                "device_class": "A",
            },
            "not_a_lorawan_device",
        ),
        ("delete_multicast_group", {"config_entry_id": "nope", "group_id": "g"}, "entry_not_found"),
    ]
    for service, data, key in calls:
        with pytest.raises(ServiceValidationError) as caught:
            await hass.services.async_call(DOMAIN, service, data, blocking=True)
        assert caught.value.translation_key == key


async def test_entry_not_loaded(hass: HomeAssistant, loaded_orion_entry: MockConfigEntry) -> None:
    """A device of an unloaded entry cannot be targeted."""
    target = device_id(hass, loaded_orion_entry, DOOR)
    assert await hass.config_entries.async_unload(loaded_orion_entry.entry_id)
    assert loaded_orion_entry.state is ConfigEntryState.NOT_LOADED
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN, "set_device_class", {"device_id": target, "device_class": "A"}, blocking=True
        )
    assert caught.value.translation_key == "entry_not_loaded"
