"""Our OrionM2M entry as a connection of Home Assistant's LoRaWAN framework (2026.11), for real."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from simulator.orion import OrionSimulator

from .home_assistant import Api, HomeAssistantProcess, JSONObject
from .repository import keep_repository

CLIMATE = "70B3D57ED0000001"
S2101 = "2CF7F1C04430004B"
# Cayenne LPP: temperature channel 1 = 22.5 °C.
LPP_22_5 = bytes.fromhex("016700E1")
# The LoRaWAN Device Repository's SenseCAP S2101 example: 21.4 °C, 31.4 % (port 1).
S2101_PAYLOAD = bytes.fromhex("01011098530000010210A87A0000AF51")


@pytest.fixture
async def orion() -> AsyncIterator[OrionSimulator]:
    """An Orion network server with a climate sensor and a SenseCAP S2101."""
    simulator = OrionSimulator(app_id="framework-app", token="framework-token")
    simulator.add_device(CLIMATE, description="Living room climate")
    simulator.add_device(S2101, description="Greenhouse")
    async with simulator:
        yield simulator


@pytest.fixture
async def entry(api: Api, orion: OrionSimulator) -> AsyncIterator[JSONObject]:
    """An Orion entry added through the config flow, removed at the end."""
    result = await api.config_flow(
        "lorawan_hub",
        {
            "user": {"vendor": "orion"},
            "orion": {"url": orion.url, "app_id": orion.app_id, "token": orion.token},
        },
    )
    assert result["type"] == "create_entry", result
    created: JSONObject = result["result"]
    await orion.wait_for_consumers(1)
    yield created
    await api.delete(f"/api/config/config_entries/entry/{created['entry_id']}")


async def framework_devices(api: Api) -> dict[str, JSONObject]:
    """Return the LoRaWAN devices page's devices, by DevEUI in upper case."""
    async with api.websocket() as ws:
        listed = await ws.call("lorawan/devices/list")
    return {device["dev_eui"].upper(): device for device in listed["devices"]}


async def test_devices_and_uplinks_on_the_lorawan_devices_page(
    api: Api, orion: OrionSimulator, entry: JSONObject
) -> None:
    """Our devices are listed with the entry as connection; live and caught-up uplinks show."""
    entry_id = entry["entry_id"]

    async def listed() -> dict[str, JSONObject] | None:
        devices = await framework_devices(api)
        return devices if {CLIMATE, S2101} <= set(devices) else None

    devices = await api.wait_for(listed, "our devices on the LoRaWAN devices page")
    climate = devices[CLIMATE]
    assert climate["connection"]["entry_id"] == entry_id
    assert climate["connection"]["domain"] == "lorawan_hub"
    assert climate["name"] == "Living room climate"
    assert climate["support"] == "missing_identity"
    assert climate["last_uplink"] is None

    # A live uplink: its time and its reception.
    sent = await orion.emit_uplink(
        CLIMATE, LPP_22_5, time=datetime.now(UTC) - timedelta(seconds=10), rssi=-71, lsnr=8.5
    )

    async def uplink_shown() -> JSONObject | None:
        device = (await framework_devices(api)).get(CLIMATE)
        return device if device and device["last_uplink"] else None

    climate = await api.wait_for(uplink_shown, "the uplink on the devices page")
    assert datetime.fromisoformat(climate["last_uplink"]) == sent.time
    assert climate["receptions"] == [{"gateway_id": sent.gateway_id, "rssi": -71.0, "snr": 8.5}]

    # An outage: an uplink sent meanwhile arrives with the catch-up, after the connection.
    await orion.stop()

    async def connection_gone() -> bool:
        async with api.websocket() as ws:
            listed_now = await ws.call("lorawan/devices/list")
        return all(item["entry_id"] != entry_id for item in listed_now["connections"])

    await api.wait_for(connection_gone, "the connection withdrawn while the server is away")
    missed = await orion.emit_uplink(CLIMATE, LPP_22_5, rssi=-90, lsnr=2.0)
    await orion.start()

    async def caught_up() -> JSONObject | None:
        device = (await framework_devices(api)).get(CLIMATE)
        if (
            device
            and device["last_uplink"]
            and (datetime.fromisoformat(device["last_uplink"]) == missed.time)
        ):
            return device
        return None

    climate = await api.wait_for(caught_up, "the missed uplink after the catch-up", timeout=60)
    assert climate["receptions"] == [{"gateway_id": missed.gateway_id, "rssi": -90.0, "snr": 2.0}]


async def test_a_sensecap_device_is_left_to_sensecap(
    api: Api,
    orion: OrionSimulator,
    entry: JSONObject,
    home_assistant: HomeAssistantProcess,
    tmp_path: Path,
) -> None:
    """With its repository identity, an S2101 is offered to SenseCAP, which decodes it alone."""
    entry_id = entry["entry_id"]
    await keep_repository(home_assistant.config, tmp_path, ["sensecap"])
    result = await api.options_flow(
        entry_id,
        {
            "init": {"next_step_id": "device"},
            "device": {"device": S2101},
            "device_options": {"codec": "auto", "f_port": 1, "identity": "choose"},
            "identity_vendor": {"vendor_id": "sensecap"},
            "identity_device": {"model_id": "sensecaps2101-temp-humid"},
        },
    )
    assert result["type"] == "create_entry", result

    async def offered() -> JSONObject | None:
        async with api.websocket() as ws:
            flows = await ws.call("config_entries/flow/progress")
        return next(
            (
                flow
                for flow in flows
                if flow["handler"] == "sensecap_lorawan"
                and flow["context"]["source"] == "integration_discovery"
            ),
            None,
        )

    flow = await api.wait_for(offered, "Home Assistant offering SenseCAP", timeout=60)
    result = await api.post(f"/api/config/config_entries/flow/{flow['flow_id']}")
    result = await api.continue_flow(result, {"confirm": {}})
    assert result["type"] == "create_entry", result
    await orion.wait_for_consumers(1)

    async def sensecap_temperature() -> str | None:
        async with api.websocket() as ws:
            entities: list[dict[str, Any]] = await ws.call("config/entity_registry/list")
        for entity in entities:
            if entity["platform"] == "sensecap_lorawan" and entity["entity_id"].endswith(
                "temperature"
            ):
                state = await api.state(entity["entity_id"])
                if state and state["state"] not in ("unknown", "unavailable"):
                    return str(state["state"])
        return None

    await orion.emit_uplink(S2101, S2101_PAYLOAD)
    temperature = await api.wait_for(sensecap_temperature, "SenseCAP's temperature", timeout=60)
    assert float(temperature) == 21.4

    devices = await framework_devices(api)
    assert devices[S2101]["support"] == "supported"
    # Our own decoded sensors of that device are gone; its diagnostics stay.
    async with api.websocket() as ws:
        entities = await ws.call("config/entity_registry/list")
    ours = [
        entity["unique_id"]
        for entity in entities
        if entity["platform"] == "lorawan_hub" and entity["unique_id"].startswith(S2101)
    ]
    assert ours, "the device keeps our diagnostics"
    assert not [unique_id for unique_id in ours if "_field_" in unique_id]
