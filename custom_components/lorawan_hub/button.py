"""Buttons: downlink commands with a fixed payload."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .commands import CommandEntity, async_add_command_entities
from .coordinator import LoRaWANHubConfigEntry

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: LoRaWANHubConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a button per button command of each device's type."""
    async_add_command_entities(entry, async_add_entities, Platform.BUTTON, CommandButton)


class CommandButton(CommandEntity, ButtonEntity):
    """Sends the command's payload when pressed."""

    async def async_press(self) -> None:
        """Send the payload."""
        await self._send(self.command.payload)
