"""An event entity per device, firing on every uplink."""

from __future__ import annotations

from typing import cast

from homeassistant.components.event import EventEntity
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import LoRaWANHubConfigEntry, LoRaWANHubCoordinator
from .device_state import KEY_UPLINK, DeviceState
from .entity import LoRaWANHubEntity, async_add_device_entities
from .lns.models import Uplink

PARALLEL_UPDATES = 0
EVENT_TYPE_UPLINK = "uplink"


async def async_setup_entry(
    hass: HomeAssistant,
    entry: LoRaWANHubConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add an uplink event entity for every device, now and as devices appear."""
    async_add_device_entities(
        entry,
        async_add_entities,
        Platform.EVENT,
        device_entities=lambda coordinator, device: [UplinkEvent(coordinator, device)],
    )


class UplinkEvent(LoRaWANHubEntity, EventEntity):
    """Fires ``uplink`` with the port, counter, payload and decoded fields of each uplink."""

    _attr_event_types = [EVENT_TYPE_UPLINK]
    _attr_translation_key = "uplink"
    # It changes with every uplink and records the decoded payload each time; automations can use
    # the lorawan_hub_uplink event instead, so it is enabled only where someone wants it.
    _attr_entity_registry_enabled_default = False
    _listen = (KEY_UPLINK,)

    def __init__(self, coordinator: LoRaWANHubCoordinator, device: DeviceState) -> None:
        """Follow ``device``'s uplinks."""
        super().__init__(coordinator, device, "uplink")

    def _update_from_device(self) -> None:
        # The coordinator notifies KEY_UPLINK only after it stored the uplink.
        uplink = cast("Uplink", self.device.last_uplink)
        self._trigger_event(
            EVENT_TYPE_UPLINK,
            {
                "f_port": uplink.f_port,
                "f_cnt": uplink.f_cnt,
                "payload_hex": uplink.payload.hex().upper(),
                "decoded": self.device.last_fields,
            },
        )
