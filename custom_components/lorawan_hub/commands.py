"""
Downlink commands as entities: a button, a switch, a number or a select per command.

A command belongs to a device type (options); every device of that type gets its entities. Each
sends through the network server like ``send_downlink``, with the command's port, confirmation
and mode.
"""

from __future__ import annotations

from collections.abc import Callable

from homeassistant.const import Platform
from homeassistant.core import callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .command_types import (
    Command,
    parse_commands,
)
from .const import DOMAIN
from .coordinator import LoRaWANHubConfigEntry, LoRaWANHubCoordinator
from .device_state import DeviceState
from .device_types import CONF_DEVICE_TYPES, JS_PREFIX
from .downlink import async_send_downlink
from .entity import LoRaWANHubEntity, async_add_device_entities
from .lns.models import Downlink


def device_commands(coordinator: LoRaWANHubCoordinator, device: DeviceState) -> list[Command]:
    """Return the commands of the device's type (none when it uses no device type)."""
    if not device.codec.startswith(JS_PREFIX):
        return []
    types = coordinator.entry.options.get(CONF_DEVICE_TYPES, {})
    return parse_commands(types.get(device.codec.removeprefix(JS_PREFIX), {}))


@callback
def async_add_command_entities(
    entry: LoRaWANHubConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    platform: Platform,
    entity_class: Callable[[LoRaWANHubCoordinator, DeviceState, Command], Entity],
) -> None:
    """Add an entity per command of the platform's kind, for each device's type."""
    async_add_device_entities(
        entry,
        async_add_entities,
        platform,
        device_entities=lambda coordinator, device: [
            entity_class(coordinator, device, command)
            for command in device_commands(coordinator, device)
            if command.kind == platform.value
        ],
    )


class CommandEntity(LoRaWANHubEntity, RestoreEntity):
    """An entity that sends one command of the device's type."""

    def __init__(
        self, coordinator: LoRaWANHubCoordinator, device: DeviceState, command: Command
    ) -> None:
        """Send ``command`` to ``device``."""
        super().__init__(coordinator, device, f"command_{command.command_id}")
        self.command = command
        self._attr_name = command.name

    async def _send(self, payload: bytes) -> None:
        """Send the payload with the command's port, confirmation and mode."""
        downlink = Downlink(
            dev_eui=self.device.dev_eui,
            f_port=self.command.port,
            payload=payload,
            confirmed=self.command.confirmed,
            mode=self.command.mode,
        )
        await async_send_downlink(self.coordinator, downlink)

    @callback
    def _invalid(self, reason: str) -> ServiceValidationError:
        return ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="command_value_invalid",
            translation_placeholders={"command": self.command.name, "reason": reason},
        )
