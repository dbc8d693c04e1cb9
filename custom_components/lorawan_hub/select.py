"""Selects: downlink commands with a payload per option."""

from __future__ import annotations

from homeassistant.components.select import SelectEntity
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .command_types import Command
from .commands import CommandEntity, async_add_command_entities
from .coordinator import LoRaWANHubConfigEntry, LoRaWANHubCoordinator
from .device_state import DeviceState

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: LoRaWANHubConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a select per select command of each device's type."""
    async_add_command_entities(entry, async_add_entities, Platform.SELECT, CommandSelect)


class CommandSelect(CommandEntity, SelectEntity):
    """Sends the payload of the option chosen; shows the last option sent."""

    _attr_current_option: str | None = None

    def __init__(
        self, coordinator: LoRaWANHubCoordinator, device: DeviceState, command: Command
    ) -> None:
        """Offer the command's options."""
        super().__init__(coordinator, device, command)
        self._attr_options = list(command.options)

    async def async_added_to_hass(self) -> None:
        """Show the option last sent before a restart."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_state()) is not None and last.state in self.options:
            self._attr_current_option = last.state

    async def async_select_option(self, option: str) -> None:
        """Send the option's payload."""
        await self._send(self.command.options[option])
        self._attr_current_option = option
        self.async_write_ha_state()
