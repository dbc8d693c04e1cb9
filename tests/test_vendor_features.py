"""How the integration drives the features Orion lacks: multicast, queues, device status.

No simulator speaks these yet, so a recording network server stands in for the vendor: it
implements the NetworkServer interface in memory and records what the actions ask of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from unittest.mock import patch

import pytest

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lorawan_hub.const import CONF_VENDOR, DOMAIN
from custom_components.lorawan_hub.lns.base import NetworkServer, Sink
from custom_components.lorawan_hub.lns.errors import AuthError, InputError, InvalidRequest
from custom_components.lorawan_hub.lns.models import (
    Capability,
    DeviceStatus,
    DownlinkResult,
    LoRaClass,
    MulticastGroup,
    MulticastKeys,
    MulticastSetup,
    ServerDevice,
)

from .conftest import state_of

DEVICES = ["70B3D57ED0000001", "70B3D57ED0000002"]
GENERATED = MulticastKeys(address="01ABCDEF", app_s_key="A" * 32, nwk_s_key="B" * 32)


class RecordingServer(NetworkServer):
    """A network server with every feature, kept in memory."""

    vendor = "recording"
    name = "Recording"
    capabilities = frozenset(Capability)

    def __init__(self) -> None:
        """Start with two devices and no calls."""
        self.calls: list[tuple[str, Any]] = []
        self.sink: Sink | None = None
        self.fail_with: Exception | None = None
        self._stop = asyncio.Event()

    def _record(self, name: str, *args: Any) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.calls.append((name, args))

    async def validate(self) -> None:
        """Accept."""

    async def list_devices(self) -> list[ServerDevice]:
        """List the two devices."""
        return [ServerDevice(dev_eui=eui, name=f"Valve {i}") for i, eui in enumerate(DEVICES)]

    async def run(self, sink: Sink) -> None:
        """Report connected and wait."""
        self.sink = sink
        sink.connection_changed(True, None)
        await self._stop.wait()

    async def close(self) -> None:
        """Stop."""
        self._stop.set()

    async def clear_downlink_queue(self, dev_eui: str) -> None:
        """Record."""
        self._record("clear_downlink_queue", dev_eui)

    async def request_device_status(self, dev_eui: str) -> None:
        """Record."""
        self._record("request_device_status", dev_eui)

    async def create_multicast_group(self, setup: MulticastSetup) -> MulticastGroup:
        """Record and return a group with the members and the session (generated if not given)."""
        self._record("create_multicast_group", setup.name, setup.device_class)
        return MulticastGroup(
            group_id="group-1",
            name=setup.name,
            device_class=setup.device_class,
            dev_euis=setup.dev_euis,
            keys=setup.keys or GENERATED,
        )

    async def delete_multicast_group(self, group_id: str) -> None:
        """Record."""
        self._record("delete_multicast_group", group_id)

    async def add_to_multicast_group(self, group_id: str, dev_euis: Sequence[str]) -> None:
        """Record."""
        self._record("add_to_multicast_group", group_id, list(dev_euis))

    async def remove_from_multicast_group(self, group_id: str, dev_euis: Sequence[str]) -> None:
        """Record."""
        self._record("remove_from_multicast_group", group_id, list(dev_euis))

    async def send_multicast(
        self, group_id: str, f_port: int, payload: bytes, gateways: Sequence[str] = ()
    ) -> DownlinkResult:
        """Record and answer queued."""
        self._record("send_multicast", group_id, f_port, payload, list(gateways))
        return DownlinkResult(message_id="m-1", f_cnt=17)


@pytest.fixture
async def server(hass: HomeAssistant, orion_entry: MockConfigEntry) -> RecordingServer:
    """The entry, set up against the recording server."""
    recording = RecordingServer()
    with patch("custom_components.lorawan_hub.create_client", return_value=recording):
        orion_entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(orion_entry.entry_id)
        await hass.async_block_till_done()
    return recording


def device_ids(hass: HomeAssistant, entry: MockConfigEntry) -> list[str]:
    """Return the registry ids of the two devices."""
    registry = dr.async_get(hass)
    result = []
    for eui in DEVICES:
        device = registry.async_get_device_by_identifier((DOMAIN, eui), entry.entry_id)
        assert device is not None
        result.append(device.id)
    return result


async def test_multicast_actions(
    hass: HomeAssistant, orion_entry: MockConfigEntry, server: RecordingServer
) -> None:
    """Group actions reach the vendor with DevEUIs; responses carry ids."""
    entry_id = orion_entry.entry_id
    created = await hass.services.async_call(
        DOMAIN,
        "create_multicast_group",
        {"config_entry_id": entry_id, "name": "valves"},
        blocking=True,
        return_response=True,
    )
    assert created == {
        "group_id": "group-1",
        "name": "valves",
        "device_class": "C",
        "devices": [],
        "keys": {"address": "01ABCDEF", "app_s_key": "A" * 32, "nwk_s_key": "B" * 32},
    }
    members = device_ids(hass, orion_entry)
    created = await hass.services.async_call(
        DOMAIN,
        "create_multicast_group",
        {
            "config_entry_id": entry_id,
            "name": "lamps",
            "device_id": members,
            "address": "0a0b0c0d",
            "app_s_key": "1" * 32,
            "nwk_s_key": "2" * 32,
        },
        blocking=True,
        return_response=True,
    )
    assert created is not None
    assert created["devices"] == [
        {"dev_eui": dev_eui, "device_id": device_id}
        for dev_eui, device_id in zip(DEVICES, members, strict=True)
    ]
    assert created["keys"] == {"address": "0A0B0C0D", "app_s_key": "1" * 32, "nwk_s_key": "2" * 32}
    for keys, error in (
        ({"address": "0a0b0c0d"}, "multicast_keys_incomplete"),
        (
            {"address": "0a0b0c0", "app_s_key": "1" * 32, "nwk_s_key": "2" * 32},
            "invalid_multicast_key",
        ),
        (
            {"address": "0a0b0c0d", "app_s_key": "x" * 32, "nwk_s_key": "2" * 32},
            "invalid_multicast_key",
        ),
    ):
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN,
                "create_multicast_group",
                {"config_entry_id": entry_id, "name": "lamps", **keys},
                blocking=True,
                return_response=True,
            )
        assert err.value.translation_key == error
    server.calls.clear()
    await hass.services.async_call(
        DOMAIN,
        "create_multicast_group",
        {"config_entry_id": entry_id, "name": "valves"},
        blocking=True,
        return_response=True,
    )
    for service in ("add_to_multicast_group", "remove_from_multicast_group"):
        await hass.services.async_call(
            DOMAIN,
            service,
            {"config_entry_id": entry_id, "group_id": "group-1", "device_id": members},
            blocking=True,
        )
    sent = await hass.services.async_call(
        DOMAIN,
        "send_multicast",
        {"config_entry_id": entry_id, "group_id": "group-1", "f_port": 5, "payload_hex": "0A"},
        blocking=True,
        return_response=True,
    )
    assert sent == {"message_id": "m-1", "state": "queued", "f_cnt": 17, "queue_length": None}
    await hass.services.async_call(
        DOMAIN,
        "delete_multicast_group",
        {"config_entry_id": entry_id, "group_id": "group-1"},
        blocking=True,
    )
    assert server.calls == [
        ("create_multicast_group", ("valves", LoRaClass.C)),
        ("add_to_multicast_group", ("group-1", DEVICES)),
        ("remove_from_multicast_group", ("group-1", DEVICES)),
        ("send_multicast", ("group-1", 5, b"\x0a", [])),
        ("delete_multicast_group", ("group-1",)),
    ]


async def test_members_of_another_entry(
    hass: HomeAssistant, orion_entry: MockConfigEntry, server: RecordingServer
) -> None:
    """A group member must belong to the same network server."""
    other = MockConfigEntry(
        domain=DOMAIN, entry_id="01KAOTHERENTRY0000000000000", data={CONF_VENDOR: "orion"}
    )
    other.add_to_hass(hass)
    with patch("custom_components.lorawan_hub.create_client", return_value=RecordingServer()):
        assert await hass.config_entries.async_setup(other.entry_id)
        await hass.async_block_till_done()
    stranger = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, DEVICES[0]), other.entry_id
    )
    assert stranger is not None
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN,
            "add_to_multicast_group",
            {"config_entry_id": orion_entry.entry_id, "group_id": "g", "device_id": [stranger.id]},
            blocking=True,
        )
    assert caught.value.translation_key == "device_of_other_entry"


async def test_device_requests(
    hass: HomeAssistant, orion_entry: MockConfigEntry, server: RecordingServer
) -> None:
    """Queue clearing and status requests target the device's DevEUI."""
    target = device_ids(hass, orion_entry)[1]
    for service in ("clear_downlink_queue", "request_device_status"):
        await hass.services.async_call(DOMAIN, service, {"device_id": target}, blocking=True)
    assert server.calls == [
        ("clear_downlink_queue", (DEVICES[1],)),
        ("request_device_status", (DEVICES[1],)),
    ]


async def test_device_status_battery(
    hass: HomeAssistant, orion_entry: MockConfigEntry, server: RecordingServer
) -> None:
    """A vendor's DevStatus becomes the battery sensor; an unknown device gets created."""
    assert server.sink is not None
    server.sink.device_status(DeviceStatus(dev_eui=DEVICES[0], battery=83.5, margin=12))
    server.sink.device_status(DeviceStatus(dev_eui="70B3D57ED00000EE", battery=10))
    await hass.async_block_till_done()
    assert state_of(hass, "sensor.valve_0_battery") == "83.5"
    assert state_of(hass, "sensor.lorawan_70b3d57ed00000ee_battery") == "10"


async def refused_clearing(
    hass: HomeAssistant, orion_entry: MockConfigEntry, server: RecordingServer, error: Exception
) -> HomeAssistantError:
    """Return what clearing a device's queue raises when the vendor raises ``error``."""
    server.fail_with = error
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            DOMAIN,
            "clear_downlink_queue",
            {"device_id": device_ids(hass, orion_entry)[0]},
            blocking=True,
        )
    return caught.value


@pytest.mark.parametrize(
    ("error", "key", "reauth"),
    [
        (AuthError("token revoked"), "vendor_auth_failed", True),
        (InvalidRequest("queue locked"), "vendor_refused", False),
    ],
)
async def test_vendor_failures(
    hass: HomeAssistant,
    orion_entry: MockConfigEntry,
    server: RecordingServer,
    error: Exception,
    key: str,
    reauth: bool,
) -> None:
    """A refusal is a translated error with the reason; refused credentials start reauth."""
    caught = await refused_clearing(hass, orion_entry, server, error)
    assert caught.translation_key == key
    assert caught.translation_placeholders == {"vendor": "Recording", "reason": str(error)}
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert bool(flows) is reauth


@pytest.mark.parametrize(
    ("error", "validation", "key", "placeholders"),
    [
        (
            InputError("port 200 is reserved", key="port_reserved", details={"port": "200"}),
            True,
            "port_reserved",
            {"vendor": "Recording", "reason": "port 200 is reserved", "port": "200"},
        ),
        # The same key on a refusal that is not the user's input: the vendor refused.
        (
            InvalidRequest("port 200 is reserved", key="port_reserved", details={"port": "200"}),
            False,
            "vendor_refused",
            {"vendor": "Recording", "reason": "port 200 is reserved"},
        ),
    ],
)
async def test_input_errors_are_known_by_type(
    hass: HomeAssistant,
    orion_entry: MockConfigEntry,
    server: RecordingServer,
    error: InvalidRequest,
    validation: bool,
    key: str,
    placeholders: dict[str, str],
) -> None:
    """An InputError is the user's input, shown with its own message and details."""
    caught = await refused_clearing(hass, orion_entry, server, error)
    assert isinstance(caught, ServiceValidationError) is validation
    assert caught.translation_key == key
    assert caught.translation_placeholders == placeholders
