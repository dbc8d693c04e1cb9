"""The downlink path every sender shares: what it refuses before the network server sees it."""

from __future__ import annotations

from unittest.mock import patch

import pytest

from homeassistant.exceptions import ServiceValidationError
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lorawan_hub.downlink import async_send_downlink
from custom_components.lorawan_hub.lns.models import Downlink
from simulator.orion import OrionSimulator

DOOR = "70B3D57ED0000002"


@pytest.mark.parametrize("port", [0, 224])
async def test_ports_outside_the_application_range(
    loaded_orion_entry: MockConfigEntry, orion: OrionSimulator, port: int
) -> None:
    """Port 0 carries MAC commands, 224 and above are LoRaWAN's: refused, nothing sent."""
    with pytest.raises(ServiceValidationError) as refused:
        await async_send_downlink(
            loaded_orion_entry.runtime_data, Downlink(dev_eui=DOOR, f_port=port, payload=b"\x01")
        )
    assert refused.value.translation_key == "invalid_port"
    assert orion.downlinks == []


async def test_a_vendor_without_downlinks(
    loaded_orion_entry: MockConfigEntry, orion: OrionSimulator
) -> None:
    """A network server that sends no downlinks says so in words."""
    client = type(loaded_orion_entry.runtime_data.client)
    with (
        patch.object(client, "capabilities", frozenset()),
        pytest.raises(ServiceValidationError) as refused,
    ):
        await async_send_downlink(
            loaded_orion_entry.runtime_data, Downlink(dev_eui=DOOR, f_port=1, payload=b"\x01")
        )
    assert refused.value.translation_key == "action_not_supported"
    assert refused.value.translation_placeholders == {
        "vendor": "OrionM2M",
        "action": "send_downlink",
    }
