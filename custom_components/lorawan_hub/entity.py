"""Base entity of LoRaWAN Hub: one LoRaWAN device, updated by the coordinator's push."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from homeassistant.const import Platform
from homeassistant.core import callback
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import LoRaWANHubConfigEntry, LoRaWANHubCoordinator
from .device_state import NETWORK_LOCATION, DeviceState, FieldSpec


def humanize(key: str) -> str:
    """Turn a field key into an entity name: ``air_temperature`` → ``Air temperature``."""
    text = key.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


class LoRaWANHubEntity(Entity):
    """An entity of one LoRaWAN device, available while the network server is connected."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    _listen: tuple[str, ...] = ()
    """Coordinator keys whose change updates this entity."""

    def __init__(self, coordinator: LoRaWANHubCoordinator, device: DeviceState, key: str) -> None:
        """Attach to ``device``; ``key`` makes the unique ID with the DevEUI."""
        self.coordinator = coordinator
        self.device = device
        self._attr_unique_id = f"{device.dev_eui}_{key}"
        self._attr_device_info = device.device_info

    @property
    def available(self) -> bool:
        """Values stay shown between uplinks; only a lost server connection hides them."""
        return self.coordinator.connected and self.device.reachable

    async def async_added_to_hass(self) -> None:
        """Subscribe to the coordinator."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.coordinator.async_subscribe(
                self.device, self._listen, self._handle_update, self.async_write_ha_state
            )
        )

    @callback
    def _handle_update(self) -> None:
        if (context := self.device.context) is not None:
            # Every state change one uplink causes shares that uplink's context.
            self.async_set_context(context)
        self._update_from_device()
        self.async_write_ha_state()

    def _update_from_device(self) -> None:
        """Copy what this entity shows from the device state."""


type FieldEntityFactory = Callable[[LoRaWANHubCoordinator, DeviceState, FieldSpec], Entity]
type DeviceEntitiesFactory = Callable[[LoRaWANHubCoordinator, DeviceState], Iterable[Entity]]


@callback
def async_add_device_entities(
    entry: LoRaWANHubConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    platform: Platform,
    *,
    field_entity: FieldEntityFactory | None = None,
    device_entities: DeviceEntitiesFactory | None = None,
) -> None:
    """Add a platform's entities for every device, and as devices and fields appear.

    ``device_entities`` makes the entities every device has; ``field_entity`` the entity of one
    decoded field whose spec belongs to ``platform``.
    """
    coordinator = entry.runtime_data

    @callback
    def new_entities(device: DeviceState, specs: Sequence[FieldSpec] | None) -> None:
        entities: list[Entity] = []
        if specs is None:
            specs = list(device.fields.values())
            if device_entities is not None:
                entities.extend(device_entities(coordinator, device))
        if field_entity is not None:
            # The server's position of a device is no decoded value: shown also when a device
            # integration decodes the device.
            entities.extend(
                field_entity(coordinator, device, spec)
                for spec in specs
                if spec.platform is platform
                and (device.show_fields or spec.key == NETWORK_LOCATION)
            )
        if entities:
            async_add_entities(entities)

    coordinator.async_add_platform(new_entities)
