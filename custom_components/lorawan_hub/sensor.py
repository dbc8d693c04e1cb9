"""Sensors: decoded numeric and text fields, and per-device radio diagnostics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
import math
from typing import Any

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    SIGNAL_STRENGTH_DECIBELS,
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
    Platform,
    UnitOfFrequency,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .const import LOGGER
from .coordinator import LoRaWANHubConfigEntry, LoRaWANHubCoordinator
from .device_state import KEY_INFO, KEY_STATUS, KEY_UPLINK, DeviceState, FieldSpec
from .entity import LoRaWANHubEntity, async_add_device_entities, humanize
from .lns.base import ThrottledLog
from .lns.models import Capability, LoRaClass

PARALLEL_UPDATES = 0

type SensorValue = StateType | date | datetime | Decimal
_MISSING: Any = object()
_LOG = ThrottledLog(LOGGER)

# Epochs in seconds, milliseconds, microseconds or nanoseconds: codecs return all four. Each unit
# is told by its size (1e11 s is the year 5138; 1e11 ms is 1973), then the instant must fall
# between 1970 and 2200 to be shown.
_EPOCH_UNITS = ((1e17, 1e9), (1e14, 1e6), (1e11, 1e3))
_LATEST_TIMESTAMP = 7_258_118_400
"""2200-01-01T00:00:00Z."""


def epoch_to_datetime(value: float) -> datetime | None:
    """Return the instant an epoch number means, or None for one out of range."""
    seconds = float(value)
    for threshold, divisor in _EPOCH_UNITS:
        if abs(seconds) >= threshold:
            seconds /= divisor
            break
    if not 0 <= seconds < _LATEST_TIMESTAMP:  # also False for NaN
        return None
    return dt_util.utc_from_timestamp(seconds)


@dataclass(frozen=True, kw_only=True)
class DiagnosticSensorDescription(SensorEntityDescription):
    """A per-device diagnostic sensor read from the device state."""

    value_fn: Callable[[DeviceState], SensorValue]
    listen: str = KEY_UPLINK
    capability: Capability | None = None


def _last(state: DeviceState, attribute: str) -> Any:
    return getattr(state.last_uplink, attribute) if state.last_uplink else None


DIAGNOSTIC_SENSORS: tuple[DiagnosticSensorDescription, ...] = (
    DiagnosticSensorDescription(
        key="rssi",
        translation_key="rssi",
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda state: _last(state, "rssi"),
    ),
    DiagnosticSensorDescription(
        key="snr",
        translation_key="snr",
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda state: _last(state, "snr"),
    ),
    DiagnosticSensorDescription(
        key="frame_counter",
        translation_key="frame_counter",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda state: _last(state, "f_cnt"),
    ),
    DiagnosticSensorDescription(
        key="data_rate",
        translation_key="data_rate",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda state: _last(state, "data_rate"),
    ),
    DiagnosticSensorDescription(
        key="frequency",
        translation_key="frequency",
        device_class=SensorDeviceClass.FREQUENCY,
        native_unit_of_measurement=UnitOfFrequency.MEGAHERTZ,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda state: _last(state, "frequency"),
    ),
    DiagnosticSensorDescription(
        key="gateway_count",
        translation_key="gateway_count",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda state: len(state.last_uplink.gateways) if state.last_uplink else None,
    ),
    DiagnosticSensorDescription(
        key="last_seen",
        translation_key="last_seen",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        # Changes with every uplink, and the uplink event entity's state shows the same time.
        entity_registry_enabled_default=False,
        value_fn=lambda state: state.last_seen,
    ),
    DiagnosticSensorDescription(
        key="battery",
        translation_key="battery",
        device_class=SensorDeviceClass.BATTERY,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        listen=KEY_STATUS,
        capability=Capability.DEVICE_STATUS,
        value_fn=lambda state: state.status.battery if state.status else None,
    ),
    DiagnosticSensorDescription(
        key="link_margin",
        translation_key="link_margin",
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        listen=KEY_STATUS,
        capability=Capability.DEVICE_STATUS,
        value_fn=lambda state: state.status.margin if state.status else None,
    ),
    DiagnosticSensorDescription(
        key="lorawan_class",
        translation_key="lorawan_class",
        device_class=SensorDeviceClass.ENUM,
        options=[device_class.value.lower() for device_class in LoRaClass],
        entity_category=EntityCategory.DIAGNOSTIC,
        listen=KEY_INFO,
        capability=Capability.CLASS_CHANGE,
        value_fn=lambda state: (
            state.info.device_class.value.lower()
            if state.info and state.info.device_class
            else None
        ),
    ),
    DiagnosticSensorDescription(
        key="downlink_frame_counter",
        translation_key="downlink_frame_counter",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        listen=KEY_INFO,
        capability=Capability.DOWNLINK_COUNTER,
        value_fn=lambda state: state.info.downlink_f_cnt if state.info else None,
    ),
)


DEVICE_ADDRESS = DiagnosticSensorDescription(
    key="device_address",
    translation_key="device_address",
    entity_category=EntityCategory.DIAGNOSTIC,
    listen=KEY_INFO,
    value_fn=lambda state: state.info.dev_addr if state.info else None,
)
"""The DevAddr, for devices the network server lists with one (activated)."""


async def async_setup_entry(
    hass: HomeAssistant,
    entry: LoRaWANHubConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add sensors for every device, and for new devices and fields as they appear."""
    capabilities = entry.runtime_data.client.capabilities
    diagnostics = [
        description
        for description in DIAGNOSTIC_SENSORS
        if description.capability is None or description.capability in capabilities
    ]
    async_add_device_entities(
        entry,
        async_add_entities,
        Platform.SENSOR,
        field_entity=FieldSensor,
        device_entities=lambda coordinator, device: [
            DiagnosticSensor(coordinator, device, description)
            for description in (
                (*diagnostics, DEVICE_ADDRESS)
                if device.info is not None and device.info.dev_addr
                else diagnostics
            )
        ],
    )


async def _restored_value(sensor: RestoreSensor) -> SensorValue:
    """Return the value a sensor had before a restart; timestamps come back as text."""
    if (last := await sensor.async_get_last_sensor_data()) is None:
        return None
    value = last.native_value
    if sensor.device_class is SensorDeviceClass.TIMESTAMP and isinstance(value, str):
        return dt_util.parse_datetime(value)
    return value


class DiagnosticSensor(LoRaWANHubEntity, RestoreSensor):
    """Radio and health details of a device's last uplink."""

    entity_description: DiagnosticSensorDescription

    def __init__(
        self,
        coordinator: LoRaWANHubCoordinator,
        device: DeviceState,
        description: DiagnosticSensorDescription,
    ) -> None:
        """Describe one diagnostic of ``device``."""
        super().__init__(coordinator, device, description.key)
        self.entity_description = description
        self._listen = (description.listen,)

    async def async_added_to_hass(self) -> None:
        """Show the current value, or the one from before a restart."""
        await super().async_added_to_hass()
        self._update_from_device()
        if self._attr_native_value is None:
            self._attr_native_value = await _restored_value(self)

    def _update_from_device(self) -> None:
        self._attr_native_value = self.entity_description.value_fn(self.device)


class FieldSensor(LoRaWANHubEntity, RestoreSensor):
    """One decoded field of a device's uplinks."""

    def __init__(
        self, coordinator: LoRaWANHubCoordinator, device: DeviceState, spec: FieldSpec
    ) -> None:
        """Create the sensor described by ``spec``."""
        super().__init__(coordinator, device, f"field_{spec.key}")
        self._key = spec.key
        self._listen = (spec.key,)
        self._attr_name = humanize(spec.key)
        self._attr_device_class = (
            SensorDeviceClass(spec.device_class) if spec.device_class else None
        )
        self._attr_native_unit_of_measurement = spec.unit
        self._attr_state_class = SensorStateClass(spec.state_class) if spec.state_class else None
        self._attr_suggested_display_precision = spec.precision
        self._numeric = bool(spec.device_class or spec.unit or spec.state_class)
        self._timestamp = self._attr_device_class is SensorDeviceClass.TIMESTAMP
        self._restored: SensorValue = None

    async def async_added_to_hass(self) -> None:
        """Show the value from before a restart until the first uplink carries this field.

        The coordinator creates a new field's entity before it stores the field's first value,
        so the uplink that made the field appear also updates the new entity.
        """
        await super().async_added_to_hass()
        self._restored = await _restored_value(self)

    @property
    def native_value(self) -> SensorValue:
        """Return the field from the device's uplinks, else the value from before a restart."""
        value = self.device.values.get(self._key, _MISSING)
        return self._restored if value is _MISSING else self._convert(value)

    def _convert(self, value: Any) -> SensorValue:
        kind = type(value)
        if kind is float or kind is int:
            # The common case first: a number from the decoder.
            if self._timestamp:
                if (instant := epoch_to_datetime(value)) is None:
                    _LOG.warning(
                        f"timestamp:{self.device.dev_eui}:{self._key}",
                        "Dropped %s of %s: %s is not a time between 1970 and 2200",
                        self._key,
                        self.device.dev_eui,
                        value,
                    )
                return instant
            return value if kind is int or math.isfinite(value) else None
        if self._timestamp:
            return None
        if kind is bool:
            return int(value)
        if self._numeric:
            return None
        if value is None:
            return None
        return value if kind is str else str(value)
