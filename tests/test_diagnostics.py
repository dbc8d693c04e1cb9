"""Diagnostics, with every secret redacted."""

from __future__ import annotations

import json
from typing import Any

from syrupy.assertion import SnapshotAssertion

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
    get_diagnostics_for_device,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.lorawan_hub.const import DOMAIN
from custom_components.lorawan_hub.diagnostics import _device_type
from simulator.orion import OrionSimulator, parse_time

from .conftest import EventRecorder

CLIMATE = "70B3D57ED0000001"
MOMENT = "2026-11-20 11:59:00+0000"


async def test_entry_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    loaded_orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
    snapshot: SnapshotAssertion,
) -> None:
    """The entry's diagnostics show devices and raw uplinks but no token or key."""
    await orion.emit_uplink(CLIMATE, bytes.fromhex("016700E1"), time=parse_time(MOMENT))
    await uplinks.wait(1)
    diagnostics: dict[str, Any] = await get_diagnostics_for_config_entry(
        hass, hass_client, loaded_orion_entry
    )
    text = json.dumps(diagnostics)
    assert orion.token not in text
    for device in orion.devices.values():
        for secret in (device.app_key, device.nwks_key, device.apps_key):
            assert secret not in text
    assert diagnostics["entry"]["data"]["token"] == "**REDACTED**"
    climate = diagnostics["devices"][CLIMATE]
    assert climate["last_uplink"]["payload_hex"] == "016700E1"
    assert climate["last_uplink"]["raw"]["data"] == "016700E1"
    assert diagnostics["entry"]["data"]["url"] == orion.url
    diagnostics["entry"]["data"]["url"] = "ws://127.0.0.1:<port>/ws/v2/"
    assert diagnostics == snapshot


async def test_device_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    loaded_orion_entry: MockConfigEntry,
) -> None:
    """A device's diagnostics show its state; the hub device shows the connection."""
    registry = dr.async_get(hass)
    device = registry.async_get_device_by_identifier((DOMAIN, CLIMATE), loaded_orion_entry.entry_id)
    hub = registry.async_get_device_by_identifier(
        (DOMAIN, loaded_orion_entry.entry_id), loaded_orion_entry.entry_id
    )
    assert device is not None
    assert hub is not None
    result: dict[str, Any] = await get_diagnostics_for_device(
        hass, hass_client, loaded_orion_entry, device
    )
    assert result["dev_eui"] == CLIMATE
    assert result["info"]["name"] == "Living room climate"
    assert await get_diagnostics_for_device(hass, hass_client, loaded_orion_entry, hub) == {
        "connected": True,
        "vendor": "OrionM2M",
    }


async def test_positions_are_redacted(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    loaded_orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
) -> None:
    """Decoded positions and the server's positions are personal data: redacted."""
    hass.config_entries.async_update_entry(
        loaded_orion_entry, options={"devices": {CLIMATE: {"identity": {"brand_id": "x"}}}}
    )
    await hass.async_block_till_done()
    await orion.wait_for_consumers(1)
    # Cayenne LPP: GPS 42.3519, -87.9094, 10 m on channel 1; 22.5 °C.
    await orion.emit_uplink(CLIMATE, bytes.fromhex("018806765ff2960a0003e8016700E1"))
    await uplinks.wait(1)
    diagnostics: dict[str, Any] = await get_diagnostics_for_config_entry(
        hass, hass_client, loaded_orion_entry
    )
    values = diagnostics["devices"][CLIMATE]["values"]
    assert values["temperature_1"] == 22.5
    for key in ("gps_1_latitude", "gps_1_longitude", "gps_1_altitude"):
        assert values[key] == "**REDACTED**"
    text = json.dumps(diagnostics)
    assert "42.3519" not in text
    assert "43.2218" not in text  # the garden tracker's position, kept by the server
    assert diagnostics["entry"]["options"] == ["devices"]


async def test_diagnostics_of_an_entry_not_loaded(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    loaded_orion_entry: MockConfigEntry,
) -> None:
    """Unloaded (or reloading), the entry describes itself, and nothing that is not running."""
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, CLIMATE), loaded_orion_entry.entry_id
    )
    assert device is not None
    assert await hass.config_entries.async_unload(loaded_orion_entry.entry_id)
    diagnostics: dict[str, Any] = await get_diagnostics_for_config_entry(
        hass, hass_client, loaded_orion_entry
    )
    assert diagnostics["entry"]["state"] == "not_loaded"
    assert diagnostics["entry"]["data"]["token"] == "**REDACTED**"
    assert (diagnostics["connected"], diagnostics["devices"]) == (False, {})
    assert await get_diagnostics_for_device(hass, hass_client, loaded_orion_entry, device) == {
        "connected": False,
        "entry_state": "not_loaded",
    }


def test_where_a_codec_comes_from() -> None:
    """A repository model with its choice; of a codec of the user's own, only its kind."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        options={
            "device_types": {
                "mine": {"name": "Mine", "source": "paste", "code": "function decodeUplink() {}"},
                "lht65": {
                    "name": "LHT65",
                    "source": "repository",
                    "vendor_id": "dragino",
                    "model": "lht65",
                    "firmware": "1.9.1",
                    "band": "",
                    "chosen": "the codec all its profiles share",
                },
            }
        },
    )
    assert _device_type(entry, "js:mine") == {"source": "paste"}
    assert _device_type(entry, "js:lht65") == {
        "source": "repository",
        "vendor_id": "dragino",
        "model": "lht65",
        "firmware": "1.9.1",
        "chosen": "the codec all its profiles share",
    }
    assert _device_type(entry, "js:gone") is None
    assert _device_type(entry, "cayenne_lpp") is None
