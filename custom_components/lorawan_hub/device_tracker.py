"""Device trackers: a decoded latitude/longitude pair, or the position the server keeps."""

from __future__ import annotations

from typing import Any

from homeassistant.components.device_tracker import TrackerEntity
from homeassistant.const import ATTR_LATITUDE, ATTR_LONGITUDE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .coordinator import LoRaWANHubConfigEntry, LoRaWANHubCoordinator
from .device_state import KEY_LOCATION, DeviceState, FieldSpec
from .entity import LoRaWANHubEntity, async_add_device_entities, humanize

PARALLEL_UPDATES = 0
ATTR_ALTITUDE = "altitude"


async def async_setup_entry(
    hass: HomeAssistant,
    entry: LoRaWANHubConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a tracker for every position a device reports or the server keeps."""
    async_add_device_entities(
        entry, async_add_entities, Platform.DEVICE_TRACKER, field_entity=LocationTracker
    )


class LocationTracker(LoRaWANHubEntity, TrackerEntity, RestoreEntity):
    """A device's position: decoded from its uplinks, or kept by the network server."""

    def __init__(
        self, coordinator: LoRaWANHubCoordinator, device: DeviceState, spec: FieldSpec
    ) -> None:
        """Follow the position ``spec`` describes."""
        super().__init__(coordinator, device, f"tracker_{spec.key}")
        self._spec = spec
        if spec.latitude_key is None:
            self._attr_translation_key = "network_location"
            self._listen = (KEY_LOCATION,)
        else:
            self._attr_name = humanize(spec.key)
            self._listen = (spec.key,)

    async def async_added_to_hass(self) -> None:
        """Show the current position, or the one from before a restart."""
        await super().async_added_to_hass()
        self._update_from_device()
        if self._attr_latitude is None and (last := await self.async_get_last_state()):
            latitude = last.attributes.get(ATTR_LATITUDE)
            longitude = last.attributes.get(ATTR_LONGITUDE)
            if isinstance(latitude, float) and isinstance(longitude, float):
                self._attr_latitude = latitude
                self._attr_longitude = longitude
                altitude = last.attributes.get(ATTR_ALTITUDE)
                self._attr_extra_state_attributes = {ATTR_ALTITUDE: altitude} if altitude else {}

    def _update_from_device(self) -> None:
        spec = self._spec
        latitude: Any
        longitude: Any
        altitude: Any
        if spec.latitude_key is None:
            location = self.device.location
            if location is None:
                return
            latitude, longitude, altitude = location.latitude, location.longitude, location.altitude
        else:
            values = self.device.values
            latitude = values.get(spec.latitude_key)
            longitude = values.get(spec.longitude_key or "")
            altitude = values.get(spec.altitude_key) if spec.altitude_key else None
        if not (_is_coordinate(latitude, 90) and _is_coordinate(longitude, 180)):
            return
        self._attr_latitude = float(latitude)
        self._attr_longitude = float(longitude)
        self._attr_extra_state_attributes = (
            {ATTR_ALTITUDE: altitude} if isinstance(altitude, int | float) else {}
        )


def _is_coordinate(value: Any, limit: float) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and -limit <= value <= limit
    )
