"""Switches: downlink commands with an on and an off payload."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity
from homeassistant.const import STATE_OFF, STATE_ON, Platform
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
    """Add a switch per switch command of each device's type."""
    async_add_command_entities(entry, async_add_entities, Platform.SWITCH, CommandSwitch)


class CommandSwitch(CommandEntity, SwitchEntity):
    """Sends the on or off payload; shows what was last sent (the device does not say)."""

    _attr_assumed_state = True
    _attr_is_on: bool | None = None

    async def async_added_to_hass(self) -> None:
        """Show what was last sent before a restart."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_state()) is not None:
            self._attr_is_on = {STATE_ON: True, STATE_OFF: False}.get(last.state)

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Send the on payload."""
        await self._send(self.command.payload_on)
        self._attr_is_on = True
        self.async_write_ha_state()

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Send the off payload."""
        await self._send(self.command.payload_off)
        self._attr_is_on = False
        self.async_write_ha_state()
