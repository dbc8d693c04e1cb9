"""An OrionM2M entry in the current Home Assistant release, end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from simulator.orion import OrionSimulator

from .home_assistant import Api, JSONObject

CLIMATE = "70B3D57ED0000001"
# Cayenne LPP: temperature channel 1 = 22.5 °C.
LPP_22_5 = bytes.fromhex("016700E1")


@pytest.fixture
async def orion() -> AsyncIterator[OrionSimulator]:
    """An Orion network server with one device."""
    simulator = OrionSimulator(app_id="e2e-app", token="e2e-token")
    simulator.add_device(CLIMATE, description="Living room climate")
    async with simulator:
        yield simulator


@pytest.fixture
async def orion_entry(api: Api, orion: OrionSimulator) -> AsyncIterator[JSONObject]:
    """An Orion entry added through the config flow, removed at the end."""
    result = await api.config_flow(
        "lorawan_hub",
        {
            "user": {"vendor": "orion"},
            "orion": {"url": orion.url, "app_id": orion.app_id, "token": orion.token},
        },
    )
    assert result["type"] == "create_entry", result
    entry: JSONObject = result["result"]
    await orion.wait_for_consumers(1)
    yield entry
    await api.delete(f"/api/config/config_entries/entry/{entry['entry_id']}")


async def test_uplink_becomes_a_sensor_state(
    api: Api, orion: OrionSimulator, orion_entry: JSONObject
) -> None:
    """A live uplink decoded as Cayenne LPP shows as a temperature sensor."""
    config = await api.get("/api/config")
    assert config["version"].startswith("2026.11."), "the current release runs"
    await orion.emit_uplink(CLIMATE, LPP_22_5)

    async def temperature() -> JSONObject | None:
        state = await api.state("sensor.living_room_climate_temperature_1")
        return state if state and state["state"] == "22.5" else None

    state = await api.wait_for(temperature, "the temperature sensor")
    assert state["attributes"]["unit_of_measurement"] == "°C"
    async with api.websocket() as ws:
        devices = await ws.call("config/device_registry/list")
    assert any(["lorawan_hub", CLIMATE] in device["identifiers"] for device in devices), (
        "the LoRaWAN device is in the device registry"
    )
