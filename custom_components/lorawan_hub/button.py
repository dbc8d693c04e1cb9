"""Buttons: downlink commands with a fixed payload."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .commands import BUTTON, CommandEntity, device_commands
from .coordinator import LoRaWANHubConfigEntry
from .entity import async_add_device_entities

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: LoRaWANHubConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a button per button command of each device's type."""
    async_add_device_entities(
        entry,
        async_add_entities,
        Platform.BUTTON,
        device_entities=lambda coordinator, device: [
            CommandButton(coordinator, device, command)
            for command in device_commands(coordinator, device)
            if command.kind == BUTTON
        ],
    )


class CommandButton(CommandEntity, ButtonEntity):
    """Sends the command's payload when pressed."""

    async def async_press(self) -> None:
        """Send the payload."""
        await self._send(self.command.payload)
