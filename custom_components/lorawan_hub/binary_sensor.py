"""Binary sensors: decoded true/false fields, and whether each device is still reporting."""

from __future__ import annotations

from homeassistant.components.binary_sensor import BinarySensorDeviceClass, BinarySensorEntity
from homeassistant.const import STATE_OFF, STATE_ON, EntityCategory, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .coordinator import LoRaWANHubConfigEntry, LoRaWANHubCoordinator
from .device_state import KEY_ONLINE, KEY_STATUS, DeviceState, FieldSpec
from .entity import LoRaWANHubEntity, async_add_device_entities, humanize
from .lns.models import Capability

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: LoRaWANHubConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add binary sensors for every device, and for new devices and fields as they appear."""
    status = Capability.DEVICE_STATUS in entry.runtime_data.client.capabilities

    def device_entities(
        coordinator: LoRaWANHubCoordinator, device: DeviceState
    ) -> list[BinarySensorEntity]:
        entities: list[BinarySensorEntity] = [OnlineBinarySensor(coordinator, device)]
        if status:
            entities.append(ExternalPowerBinarySensor(coordinator, device))
        return entities

    async_add_device_entities(
        entry,
        async_add_entities,
        Platform.BINARY_SENSOR,
        field_entity=FieldBinarySensor,
        device_entities=device_entities,
    )


class FieldBinarySensor(LoRaWANHubEntity, BinarySensorEntity, RestoreEntity):
    """One decoded true/false field."""

    def __init__(
        self, coordinator: LoRaWANHubCoordinator, device: DeviceState, spec: FieldSpec
    ) -> None:
        """Create the binary sensor described by ``spec``."""
        super().__init__(coordinator, device, f"field_{spec.key}")
        self._key = spec.key
        self._listen = (spec.key,)
        self._attr_name = humanize(spec.key)
        self._attr_device_class = (
            BinarySensorDeviceClass(spec.device_class) if spec.device_class else None
        )

    async def async_added_to_hass(self) -> None:
        """Show the value from before a restart until the first uplink carries this field.

        The coordinator creates a new field's entity before it stores the field's first value,
        so the uplink that made the field appear also updates the new entity.
        """
        await super().async_added_to_hass()
        if (last := await self.async_get_last_state()) and last.state in (STATE_ON, STATE_OFF):
            self._attr_is_on = last.state == STATE_ON

    def _update_from_device(self) -> None:
        value = self.device.values.get(self._key)
        self._attr_is_on = value if isinstance(value, bool) else None


class OnlineBinarySensor(LoRaWANHubEntity, BinarySensorEntity):
    """On while the device's last uplink is more recent than its offline threshold."""

    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _attr_translation_key = "online"
    _listen = (KEY_ONLINE,)

    def __init__(self, coordinator: LoRaWANHubCoordinator, device: DeviceState) -> None:
        """Follow ``device``'s reports."""
        super().__init__(coordinator, device, "online")
        self._update_from_device()

    def _update_from_device(self) -> None:
        self._attr_is_on = bool(self.device.online)


class ExternalPowerBinarySensor(LoRaWANHubEntity, BinarySensorEntity, RestoreEntity):
    """On when the device reported running on external power (LoRaWAN DevStatusAns)."""

    _attr_device_class = BinarySensorDeviceClass.PLUG
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _attr_translation_key = "external_power"
    _listen = (KEY_STATUS,)

    def __init__(self, coordinator: LoRaWANHubCoordinator, device: DeviceState) -> None:
        """Follow ``device``'s status reports."""
        super().__init__(coordinator, device, "external_power")
        self._update_from_device()

    async def async_added_to_hass(self) -> None:
        """Show the last report from before a restart until a new one comes."""
        await super().async_added_to_hass()
        last = await self.async_get_last_state() if self._attr_is_on is None else None
        if last is not None and last.state in (STATE_ON, STATE_OFF):
            self._attr_is_on = last.state == STATE_ON

    def _update_from_device(self) -> None:
        status = self.device.status
        self._attr_is_on = status.external_power if status else None
