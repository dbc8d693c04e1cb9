"""Numbers: downlink commands that carry a value (scaled to an integer of a set length)."""

from __future__ import annotations

from homeassistant.components.number import NumberMode, RestoreNumber
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
    """Add a number per number command of each device's type."""
    async_add_command_entities(entry, async_add_entities, Platform.NUMBER, CommandNumber)


class CommandNumber(CommandEntity, RestoreNumber):
    """Sends the value set; shows the last value sent."""

    _attr_mode = NumberMode.BOX
    _attr_native_value: float | None = None

    def __init__(
        self, coordinator: LoRaWANHubCoordinator, device: DeviceState, command: Command
    ) -> None:
        """Bound the value as the command does; a step of one raw unit."""
        super().__init__(coordinator, device, command)
        self._attr_native_min_value = command.minimum
        self._attr_native_max_value = command.maximum
        self._attr_native_step = 1 / command.multiplier if command.multiplier else 1.0

    async def async_added_to_hass(self) -> None:
        """Show the value last sent before a restart."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_number_data()) is not None:
            self._attr_native_value = last.native_value

    async def async_set_native_value(self, value: float) -> None:
        """Send the value."""
        try:
            payload = self.command.number_payload(value)
        except ValueError as err:
            raise self._invalid(str(err)) from err
        await self._send(payload)
        self._attr_native_value = value
        self.async_write_ha_state()
