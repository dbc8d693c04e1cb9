"""
LoRaWAN Hub decoding the devices of Home Assistant's own ChirpStack integration, for real.

Home Assistant 2026.11's ``chirpstack`` integration connects to the ChirpStack simulator over
gRPC and registers its connection with the LoRaWAN framework. LoRaWAN Hub's entry of LoRaWAN
connections offers to decode the device whose profile names a repository device (a Dragino
LHT65), decodes another with Cayenne LPP chosen in its options, sends downlinks through the
connection, and leaves the SenseCAP S2101 to ``sensecap_lorawan``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from simulator.chirpstack import (
    S2101_CATALOG_ID,
    S2101_NAME,
    SEEED_VENDOR_ID,
    SEEED_VENDOR_NAME,
    ChirpStackSimulator,
)

from .home_assistant import Api, HomeAssistantProcess, JSONObject
from .repository import keep_repository

API_KEY = "e2e-chirpstack-key"
LHT65 = "A84041000000006A"
OFFICE = "A840410000000C01"
S2101 = "2CF7F1C04430004B"
# The repository's LHT65 example (port 2): 28.29 °C, 88.6 %, 3.062 V.
LHT65_PAYLOAD = bytes([0xCB, 0xF6, 0x0B, 0x0D, 0x03, 0x76, 0x01, 0x0A, 0xDD, 0x7F, 0xFF])
# Cayenne LPP: temperature channel 1 = 22.5 °C.
LPP_22_5 = bytes.fromhex("016700E1")
# The repository's SenseCAP S2101 example (port 1): 21.4 °C, 31.4 %.
S2101_PAYLOAD = bytes.fromhex("01011098530000010210A87A0000AF51")
DRAGINO = 676
"""Dragino's LoRa Alliance vendor id, as ChirpStack's device catalog has it."""


@pytest.fixture
async def chirpstack() -> AsyncIterator[ChirpStackSimulator]:
    """A ChirpStack server with an LHT65, a Cayenne LPP device and a SenseCAP S2101."""
    simulator = ChirpStackSimulator(api_key=API_KEY)
    tenant = simulator.add_tenant("Farm")
    application = simulator.add_application(tenant.id, "Sensors")
    lht65 = simulator.add_device_profile(
        tenant.id,
        "LHT65",
        vendor_id=DRAGINO,
        vendor_name="Dragino Technology Co., Limited",
        model_name="LHT65 - Temperature & Humidity Sensor",
    )
    plain = simulator.add_device_profile(tenant.id, "Cayenne LPP")
    s2101 = simulator.add_device_profile(
        tenant.id,
        "S2101",
        vendor_id=SEEED_VENDOR_ID,
        vendor_name=SEEED_VENDOR_NAME,
        model_name=S2101_NAME,
        catalog_device_id=S2101_CATALOG_ID,
    )
    simulator.add_device(LHT65, application.id, lht65.id, name="Cold room")
    simulator.add_device(OFFICE, application.id, plain.id, name="Office")
    simulator.add_device(S2101, application.id, s2101.id, name="Greenhouse")
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


async def flows_in_progress(api: Api) -> list[JSONObject]:
    """Return the config flows in progress (discoveries included)."""
    async with api.websocket() as ws:
        flows: list[JSONObject] = await ws.call("config_entries/flow/progress")
    return flows


async def entity_of(api: Api, unique_id: str) -> str | None:
    """Return the entity id of one of LoRaWAN Hub's entities, None while there is none."""
    async with api.websocket() as ws:
        entities: list[dict[str, Any]] = await ws.call("config/entity_registry/list")
    return next(
        (
            entity["entity_id"]
            for entity in entities
            if entity["platform"] == "lorawan_hub" and entity["unique_id"] == unique_id
        ),
        None,
    )


async def state_of(api: Api, unique_id: str) -> JSONObject | None:
    """Return the state of one of LoRaWAN Hub's entities, None while there is none."""
    entity_id = await entity_of(api, unique_id)
    return None if entity_id is None else await api.state(entity_id)


async def device_id_of(api: Api, dev_eui: str) -> str | None:
    """Return the id of LoRaWAN Hub's device of a DevEUI, None while there is none."""
    async with api.websocket() as ws:
        devices: list[dict[str, Any]] = await ws.call("config/device_registry/list")
    return next(
        (device["id"] for device in devices if ["lorawan_hub", dev_eui] in device["identifiers"]),
        None,
    )


async def test_chirpstack_devices_decoded(
    api: Api,
    chirpstack: ChirpStackSimulator,
    home_assistant: HomeAssistantProcess,
    tmp_path: Path,
) -> None:
    """Offered, chosen, decoded with units; downlinks reach the queue; outages show."""
    await keep_repository(
        home_assistant.config, tmp_path, ["dragino", "sensecap"], discovered=[("dragino", "lht65")]
    )
    result = await api.config_flow(
        "lorawan_hub", {"user": {"vendor": "framework"}, "framework": {}}
    )
    assert result["type"] == "create_entry", result
    ours = result["result"]["entry_id"]
    result = await api.config_flow(
        "chirpstack",
        {
            "user": {"endpoint": chirpstack.endpoint, "api_key": API_KEY},
            "applications": {"application_ids": list(chirpstack.applications)},
        },
    )
    assert result["type"] == "create_entry", result
    provider = result["result"]["entry_id"]

    # The LHT65's profile names a repository device: LoRaWAN Hub is offered for it, once.
    async def offered() -> list[JSONObject] | None:
        flows = await flows_in_progress(api)
        ready = {flow["handler"] for flow in flows}
        return flows if {"lorawan_hub", "sensecap_lorawan"} <= ready else None

    flows = await api.wait_for(offered, "LoRaWAN Hub and SenseCAP offered", timeout=60)
    (offer,) = [flow for flow in flows if flow["handler"] == "lorawan_hub"]
    assert offer["step_id"] == "decode_device"
    assert offer["context"]["title_placeholders"] == {"name": "Cold room"}
    result = await api.post(f"/api/config/config_entries/flow/{offer['flow_id']}", {})
    assert result["type"] == "abort", result
    assert result["reason"] == "decoding_added"

    # Decoded from the entry's next start: the device is there, following its connection.
    async def following(dev_eui: str) -> bool:
        diagnostics = await api.get(f"/api/diagnostics/config_entry/{ours}")
        return bool(diagnostics["data"]["connected"] and dev_eui in diagnostics["data"]["devices"])

    await api.wait_for(lambda: following(LHT65), "the LHT65 decoded")

    # The Cayenne LPP device is chosen in the options, with its decoder.
    result = await api.options_flow(
        ours,
        {
            "init": {"next_step_id": "device"},
            "device": {"device": OFFICE},
            "device_options": {"codec": "cayenne_lpp"},
        },
    )
    assert result["type"] == "create_entry", result
    await api.wait_for(lambda: following(OFFICE), "the Cayenne LPP device decoded")
    await api.wait_for(lambda: following(LHT65), "the LHT65 followed again")
    await chirpstack.wait_for_streams(3)

    async def decoded(unique_id: str, value: float, unit: str) -> None:
        async def shown() -> JSONObject | None:
            state = await state_of(api, unique_id)
            return state if state and state["state"] not in ("unknown", "unavailable") else None

        state = await api.wait_for(shown, unique_id, timeout=60)
        assert float(state["state"]) == value
        assert state["attributes"]["unit_of_measurement"] == unit

    chirpstack.emit_uplink(LHT65, LHT65_PAYLOAD, f_port=2)
    chirpstack.emit_uplink(OFFICE, LPP_22_5, f_port=1)
    await decoded(f"{LHT65}_field_temp_c_sht", 28.29, "°C")
    await decoded(f"{LHT65}_field_hum_sht", 88.6, "%")
    await decoded(f"{LHT65}_field_bat_v", 3.062, "V")
    await decoded(f"{OFFICE}_field_temperature_1", 22.5, "°C")

    # A downlink reaches ChirpStack's queue as exactly those bytes, through the connection.
    device_id = await device_id_of(api, LHT65)
    await api.post(
        "/api/services/lorawan_hub/send_downlink",
        {"device_id": device_id, "f_port": 2, "payload_hex": "0102AB"},
    )
    await chirpstack.wait_for_downlinks(1)
    (downlink,) = chirpstack.downlinks
    assert (downlink.dev_eui.upper(), downlink.f_port, downlink.data) == (
        LHT65,
        2,
        bytes.fromhex("0102AB"),
    )

    # The S2101 is SenseCAP's: never offered to LoRaWAN Hub, decoded by SenseCAP alone.
    (sensecap,) = [flow for flow in flows if flow["handler"] == "sensecap_lorawan"]
    result = await api.post(f"/api/config/config_entries/flow/{sensecap['flow_id']}")
    result = await api.continue_flow(result, {"confirm": {}})
    assert result["type"] == "create_entry", result
    assert await device_id_of(api, S2101) is None
    assert not [flow for flow in await flows_in_progress(api) if flow["handler"] == "lorawan_hub"]

    # ChirpStack goes away: the devices are unavailable; back, available with their values.
    temperature = f"{LHT65}_field_temp_c_sht"
    await chirpstack.stop()

    async def unavailable() -> bool:
        state = await state_of(api, temperature)
        return state is not None and state["state"] == "unavailable"

    await api.wait_for(unavailable, "the LHT65 unavailable while ChirpStack is away", timeout=60)
    await chirpstack.start()

    async def available() -> bool:
        state = await state_of(api, temperature)
        return state is not None and bool(state["state"] == "28.29")

    await api.wait_for(available, "the LHT65 back with its value", timeout=120)
    for entry_id in (provider, ours):
        await api.delete(f"/api/config/config_entries/entry/{entry_id}")
