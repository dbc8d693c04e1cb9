"""Home Assistant's own entities: the baseline the pipeline is measured against."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from homeassistant.components.event import EventEntity
from homeassistant.components.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from homeassistant.config_entries import ConfigEntry, ConfigFlow
from homeassistant.const import EntityCategory, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.util.hass_dict import HassKey
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockModule,
    MockPlatform,
    mock_integration,
    mock_platform,
)

from .results import BenchError
from .uplinks import FIELDS

BASELINE_DOMAIN = "bench_baseline"
BASELINE_PLATFORMS = [Platform.EVENT, Platform.SENSOR]


class BaselineSensor(SensorEntity):
    """A plain Home Assistant sensor, pushed like an integration's sensor would be."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(
        self,
        device: str,
        key: str,
        name: str,
        *,
        device_class: SensorDeviceClass | None = None,
        unit: str | None = None,
        state_class: SensorStateClass | None = SensorStateClass.MEASUREMENT,
        precision: int | None = None,
        category: EntityCategory | None = None,
    ) -> None:
        """Describe the sensor ``key`` of ``device``."""
        self._attr_unique_id = f"{device}_{key}"
        self._attr_name = name
        self._attr_device_info = DeviceInfo(
            identifiers={(BASELINE_DOMAIN, device)}, name=f"Baseline {device}"
        )
        self._attr_device_class = device_class
        self._attr_native_unit_of_measurement = unit
        self._attr_state_class = state_class
        self._attr_suggested_display_precision = precision
        self._attr_entity_category = category

    @callback
    def push(self, value: StateType | datetime) -> None:
        """Set the native value and write the state."""
        self._attr_native_value = value
        self.async_write_ha_state()


class BaselineEvent(EventEntity):
    """A plain Home Assistant event entity."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    _attr_event_types = ["uplink"]

    def __init__(self, device: str, number: int = 0) -> None:
        """Describe event entity ``number`` of ``device``."""
        self._attr_unique_id = f"{device}_uplink_{number}"
        self._attr_name = f"Uplink {number}"
        self._attr_device_info = DeviceInfo(
            identifiers={(BASELINE_DOMAIN, device)}, name=f"Baseline {device}"
        )

    @callback
    def fire(self, attributes: dict[str, Any]) -> None:
        """Trigger the event and write the state."""
        self._trigger_event("uplink", attributes)
        self.async_write_ha_state()


@dataclass(slots=True)
class BaselineSetup:
    """What one baseline config entry creates, and the entities it created."""

    devices: int
    sensors_per_device: int = len(FIELDS)
    timestamps: int = 0
    """Timestamp sensors per device."""
    events: int = 0
    """Event entities per device."""
    sensors: list[list[BaselineSensor]] = field(default_factory=list)
    timestamp_sensors: list[BaselineSensor] = field(default_factory=list)
    event_entities: list[BaselineEvent] = field(default_factory=list)


BASELINE_DATA: HassKey[dict[str, BaselineSetup]] = HassKey(BASELINE_DOMAIN)


class BaselineFlow(ConfigFlow):
    """The baseline's config flow: Home Assistant needs one to set up an entry."""

    VERSION = 1


async def _baseline_setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    await hass.config_entries.async_forward_entry_setups(entry, BASELINE_PLATFORMS)
    return True


async def _baseline_unload_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    return await hass.config_entries.async_unload_platforms(entry, BASELINE_PLATFORMS)


async def _baseline_sensors(
    hass: HomeAssistant, entry: ConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    setup = hass.data[BASELINE_DATA][entry.entry_id]
    entities: list[BaselineSensor] = []
    for index in range(setup.devices):
        device = f"{entry.entry_id}-{index}"
        row = [
            BaselineSensor(
                device,
                definition.key,
                definition.name,
                device_class=definition.device_class,
                unit=definition.unit,
                precision=definition.precision,
            )
            for definition in FIELDS
        ]
        row.extend(
            BaselineSensor(device, f"extra_{extra}", f"Extra {extra}")
            for extra in range(setup.sensors_per_device - len(FIELDS))
        )
        setup.sensors.append(row)
        entities.extend(row)
        for number in range(setup.timestamps):
            last_seen = BaselineSensor(
                device,
                f"last_seen_{number}",
                f"Last seen {number}",
                device_class=SensorDeviceClass.TIMESTAMP,
                state_class=None,
                category=EntityCategory.DIAGNOSTIC,
            )
            setup.timestamp_sensors.append(last_seen)
            entities.append(last_seen)
    async_add_entities(entities)


async def _baseline_events(
    hass: HomeAssistant, entry: ConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    setup = hass.data[BASELINE_DATA][entry.entry_id]
    setup.event_entities.extend(
        BaselineEvent(f"{entry.entry_id}-{index}", number)
        for index in range(setup.devices)
        for number in range(setup.events)
    )
    async_add_entities(setup.event_entities)


def register_baseline(hass: HomeAssistant) -> None:
    """Make the baseline integration and its two platforms loadable."""
    hass.data[BASELINE_DATA] = {}
    mock_integration(
        hass,
        MockModule(
            BASELINE_DOMAIN,
            async_setup_entry=_baseline_setup_entry,
            async_unload_entry=_baseline_unload_entry,
        ),
    )
    mock_platform(hass, f"{BASELINE_DOMAIN}.config_flow")
    mock_platform(
        hass, f"{BASELINE_DOMAIN}.sensor", MockPlatform(async_setup_entry=_baseline_sensors)
    )
    mock_platform(
        hass, f"{BASELINE_DOMAIN}.event", MockPlatform(async_setup_entry=_baseline_events)
    )


async def add_baseline(hass: HomeAssistant, setup: BaselineSetup, title: str) -> MockConfigEntry:
    """Set up a baseline config entry and return it once its entities are added."""
    entry = MockConfigEntry(domain=BASELINE_DOMAIN, title=title, data={})
    hass.data[BASELINE_DATA][entry.entry_id] = setup
    entry.add_to_hass(hass)
    if not await hass.config_entries.async_setup(entry.entry_id):
        raise BenchError(f"baseline entry {title} did not set up")
    await hass.async_block_till_done()
    return entry
