"""Entities from uplinks: sensors, binary sensors, trackers, events and diagnostics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
import pytest
from syrupy.assertion import SnapshotAssertion

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    mock_restore_cache_with_extra_data,
)

from custom_components.lorawan_hub.codecs.cayenne import encode_cayenne_lpp
from custom_components.lorawan_hub.const import CONF_CODEC, CONF_DEVICES, DEDUP_MEMORY, DOMAIN
from custom_components.lorawan_hub.device_state import FieldSpec
from custom_components.lorawan_hub.sensor import FieldSensor
from simulator.orion import OrionSimulator

from .conftest import EventRecorder, entities_snapshot, state_of

CLIMATE = "70B3D57ED0000001"
DOOR = "70B3D57ED0000002"
TRACKER = "70B3D57ED0000003"
NOW = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)

CLIMATE_PAYLOAD = encode_cayenne_lpp(
    [
        (1, "temperature", 21.5),
        (2, "humidity", 48.5),
        (3, "barometric_pressure", 1013.2),
        (4, "voltage", 3.61),
        (5, "illuminance", 320),
    ]
)
DOOR_PAYLOAD = encode_cayenne_lpp([(1, "presence", True), (2, "digital_input", 1)])
TRACKER_PAYLOAD = encode_cayenne_lpp([(1, "gps", (43.2218, 76.8975, 812.5)), (2, "percentage", 87)])


async def send_all(orion: OrionSimulator, uplinks: EventRecorder, moment: datetime) -> None:
    """Send one uplink from each of the three devices and wait for them."""
    await orion.emit_uplink(CLIMATE, CLIMATE_PAYLOAD, time=moment)
    await orion.emit_uplink(DOOR, DOOR_PAYLOAD, time=moment)
    await orion.emit_uplink(TRACKER, TRACKER_PAYLOAD, time=moment)
    await uplinks.wait(3)


@pytest.mark.parametrize(
    "platform",
    [Platform.SENSOR, Platform.BINARY_SENSOR, Platform.DEVICE_TRACKER, Platform.EVENT],
)
async def test_entities(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    freezer: FrozenDateTimeFactory,
    orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
    platform: Platform,
) -> None:
    """Each platform's entities after one uplink per device (all entities enabled)."""
    freezer.move_to(NOW)
    with patch("custom_components.lorawan_hub.PLATFORMS", [platform]):
        orion_entry.add_to_hass(hass)
        await hass.config_entries.async_setup(orion_entry.entry_id)
        await orion.wait_for_consumers(1)
        for entry in er.async_entries_for_config_entry(entity_registry, orion_entry.entry_id):
            if entry.disabled_by is not None:
                entity_registry.async_update_entity(entry.entity_id, disabled_by=None)
        await hass.config_entries.async_reload(orion_entry.entry_id)
        await orion.wait_for_consumers(1)
        await send_all(orion, uplinks, NOW - timedelta(seconds=2))
        await hass.async_block_till_done()
        assert entities_snapshot(hass, entity_registry, orion_entry.entry_id) == snapshot


@pytest.mark.usefixtures("all_entities_enabled")
async def test_climate_values(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
) -> None:
    """Cayenne LPP fields become sensors with device class, unit and state class."""
    await send_all(orion, uplinks, datetime.now(UTC).replace(microsecond=0))
    await hass.async_block_till_done()
    temperature = hass.states.get("sensor.living_room_climate_temperature_1")
    assert temperature is not None
    assert temperature.state == "21.5"
    assert temperature.attributes["device_class"] == "temperature"
    assert temperature.attributes["unit_of_measurement"] == "°C"
    assert temperature.attributes["state_class"] == "measurement"
    assert state_of(hass, "sensor.living_room_climate_humidity_2") == "48.5"
    assert state_of(hass, "sensor.living_room_climate_barometric_pressure_3") == "1013.2"
    assert state_of(hass, "binary_sensor.front_door_presence_1") == STATE_ON
    tracker = hass.states.get("device_tracker.garden_tracker_gps_1_location")
    assert tracker is not None
    assert tracker.attributes["latitude"] == 43.2218
    assert tracker.attributes["longitude"] == 76.8975
    assert tracker.attributes["altitude"] == 812.5
    network = hass.states.get("device_tracker.garden_tracker_network_location")
    assert network is not None
    assert network.attributes["latitude"] == 43.2218
    assert state_of(hass, "binary_sensor.front_door_online") == STATE_ON
    event = uplinks.events[0].data
    assert event["dev_eui"] == CLIMATE
    assert event["decoded"]["temperature_1"] == 21.5
    assert event["payload_hex"] == CLIMATE_PAYLOAD.hex().upper()
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, CLIMATE), loaded_orion_entry.entry_id
    )
    assert device is not None
    assert event["device_id"] == device.id
    uplink_event = hass.states.get("event.living_room_climate_uplink")
    assert uplink_event is not None
    assert uplink_event.attributes["event_type"] == "uplink"
    assert uplink_event.attributes["f_cnt"] == 0
    assert uplink_event.attributes["decoded"]["illuminance_5"] == 320
    # One uplink, one context: its bus event and every state change it caused.
    context_id = uplinks.events[0].context.id
    assert uplink_event.context.id == context_id
    for entity_id in (
        "sensor.living_room_climate_temperature_1",
        "sensor.living_room_climate_illuminance_5",
    ):
        state = hass.states.get(entity_id)
        assert state is not None
        assert state.context.id == context_id


async def test_twenty_device_stream(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
) -> None:
    """Twenty devices, five uplinks each: every uplink processed once, last values shown."""
    devices = [f"70B3D57ED10000{index:02X}" for index in range(20)]
    for index, dev_eui in enumerate(devices):
        orion.add_device(dev_eui, description=f"Meter {index}")
    for round_ in range(5):
        for index, dev_eui in enumerate(devices):
            payload = encode_cayenne_lpp([(1, "temperature", 10 + index + round_ / 10)])
            await orion.emit_uplink(dev_eui, payload)
    events = await uplinks.wait(100)
    await hass.async_block_till_done()
    assert len({(event.data["dev_eui"], event.data["f_cnt"]) for event in events}) == 100
    for index in range(20):
        state = hass.states.get(f"sensor.lorawan_{devices[index].lower()}_temperature_1")
        assert state is not None
        assert float(state.state) == pytest.approx(10 + index + 0.4)


@pytest.mark.usefixtures("all_entities_enabled")
async def test_new_device_from_uplink(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
) -> None:
    """A device that appears later gets its device and entities at once."""
    orion.add_device("70B3D57ED00000FF", description="Late arrival")
    await orion.emit_uplink("70B3D57ED00000FF", CLIMATE_PAYLOAD)
    await uplinks.wait(1)
    await hass.async_block_till_done()
    state = hass.states.get("sensor.lorawan_70b3d57ed00000ff_temperature_1")
    assert state is not None
    assert state.state == "21.5"
    event = hass.states.get("event.lorawan_70b3d57ed00000ff_uplink")
    assert event is not None
    assert event.attributes["decoded"]["temperature_1"] == 21.5


async def test_malformed_frames_do_not_disturb(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
) -> None:
    """Bad frames are dropped; the following uplink still updates its entities."""
    for kind in ("json", "hex", "types", "missing", "binary"):
        orion.send_malformed(kind)
    await orion.emit_uplink(CLIMATE, CLIMATE_PAYLOAD)
    await uplinks.wait(1)
    await hass.async_block_till_done()
    assert len(uplinks.events) == 1
    assert state_of(hass, "sensor.living_room_climate_temperature_1") == "21.5"
    assert loaded_orion_entry.state is ConfigEntryState.LOADED


async def test_unavailable_while_disconnected(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
) -> None:
    """Values stay between uplinks and only a lost connection makes them unavailable."""
    await orion.emit_uplink(CLIMATE, CLIMATE_PAYLOAD)
    await uplinks.wait(1)
    await hass.async_block_till_done()
    entity_id = "sensor.living_room_climate_temperature_1"
    port = orion.port
    await orion.stop()
    await hass.async_block_till_done()
    assert not loaded_orion_entry.runtime_data.connected
    assert state_of(hass, entity_id) == STATE_UNAVAILABLE
    restarted = OrionSimulator(app_id=orion.app_id, token=orion.token, port=port)
    restarted.devices = orion.devices
    async with restarted:
        await restarted.wait_for_request("get_device_coordinates_req")
        await hass.async_block_till_done()
        assert state_of(hass, entity_id) == "21.5"


async def test_offline_after_threshold(
    hass: HomeAssistant,
    orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A device silent for longer than its threshold reports offline, and online again."""
    freezer.move_to(NOW)
    orion_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(orion_entry.entry_id)
    await orion.wait_for_request("get_device_coordinates_req")
    await orion.emit_uplink(DOOR, DOOR_PAYLOAD, time=NOW)
    await uplinks.wait(1)
    await hass.async_block_till_done()
    assert state_of(hass, "binary_sensor.front_door_online") == STATE_ON
    freezer.tick(timedelta(minutes=181))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert state_of(hass, "binary_sensor.front_door_online") == STATE_OFF
    assert state_of(hass, "binary_sensor.front_door_presence_1") == STATE_ON
    await orion.emit_uplink(DOOR, DOOR_PAYLOAD, time=NOW + timedelta(minutes=181))
    await uplinks.wait(2)
    await hass.async_block_till_done()
    assert state_of(hass, "binary_sensor.front_door_online") == STATE_ON


async def test_codec_option_raw(
    hass: HomeAssistant,
    orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
) -> None:
    """A device set to raw keeps its payload in events but gets no field entities."""
    orion_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        orion_entry, options={CONF_DEVICES: {CLIMATE: {CONF_CODEC: "raw"}}}
    )
    await hass.config_entries.async_setup(orion_entry.entry_id)
    await orion.wait_for_consumers(1)
    await orion.emit_uplink(CLIMATE, CLIMATE_PAYLOAD)
    await uplinks.wait(1)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.living_room_climate_temperature_1") is None
    assert uplinks.events[0].data["decoded"] == {}
    assert uplinks.events[0].data["payload_hex"] == CLIMATE_PAYLOAD.hex().upper()


async def test_values_survive_restart(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    hass_storage: dict[str, Any],
) -> None:
    """Known fields get their entities back at start-up, showing the last values."""
    stored = {
        "resume_from": None,
        "devices": {
            CLIMATE: {
                "fields": [
                    {
                        "key": "temperature_1",
                        "platform": "sensor",
                        "device_class": "temperature",
                        "unit": "°C",
                        "state_class": "measurement",
                    },
                    {"key": "presence_2", "platform": "binary_sensor", "device_class": "occupancy"},
                    {"key": "unix_time_3", "platform": "sensor", "device_class": "timestamp"},
                ],
                "last_seen": "2026-11-20T11:59:00+00:00",
                "recent": [[5, "2026-11-20T11:59:00+00:00"], [6, "garbage"]],
            },
            DOOR: {
                "fields": [
                    {"key": "network_location", "platform": "device_tracker"},
                    {
                        "key": "location",
                        "platform": "device_tracker",
                        "latitude_key": "latitude",
                        "longitude_key": "longitude",
                    },
                ],
            },
        },
    }
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State("sensor.living_room_climate_temperature_1", "19.5"),
                {"native_value": 19.5, "native_unit_of_measurement": "°C"},
            ),
            (
                State("sensor.front_door_last_seen", "2026-11-19T08:00:00+00:00"),
                {"native_value": "2026-11-19T08:00:00+00:00", "native_unit_of_measurement": None},
            ),
            (State("binary_sensor.living_room_climate_presence_2", STATE_ON), {}),
            (
                State("sensor.living_room_climate_unix_time_3", "2026-11-18T07:00:00+00:00"),
                {"native_value": "2026-11-18T07:00:00+00:00", "native_unit_of_measurement": None},
            ),
            (
                State(
                    "device_tracker.front_door_network_location",
                    "not_home",
                    {"latitude": 51.5, "longitude": -0.12, "altitude": 35.0},
                ),
                {},
            ),
        ],
    )
    key = f"{DOMAIN}.{orion_entry.entry_id}"
    hass_storage[key] = {"version": 1, "minor_version": 1, "key": key, "data": stored}
    orion_entry.add_to_hass(hass)
    for dev_eui, name in ((CLIMATE, "living_room_climate"), (DOOR, "front_door")):
        # Last seen is disabled by default; these users enabled it.
        entity_registry.async_get_or_create(
            "sensor",
            DOMAIN,
            f"{dev_eui}_last_seen",
            config_entry=orion_entry,
            suggested_object_id=f"{name}_last_seen",
        )
    await hass.config_entries.async_setup(orion_entry.entry_id)
    await orion.wait_for_request("get_device_coordinates_req")
    await hass.async_block_till_done()
    assert state_of(hass, "sensor.living_room_climate_temperature_1") == "19.5"
    assert state_of(hass, "binary_sensor.living_room_climate_presence_2") == STATE_ON
    assert state_of(hass, "sensor.living_room_climate_unix_time_3") == "2026-11-18T07:00:00+00:00"
    assert state_of(hass, "sensor.living_room_climate_last_seen") == "2026-11-20T11:59:00+00:00"
    assert state_of(hass, "sensor.front_door_last_seen") == "2026-11-19T08:00:00+00:00"
    tracker = hass.states.get("device_tracker.front_door_network_location")
    assert tracker is not None
    assert (tracker.attributes["latitude"], tracker.attributes["longitude"]) == (51.5, -0.12)
    assert tracker.attributes["altitude"] == 35.0
    assert state_of(hass, "device_tracker.front_door_location") == "unknown"


async def test_timestamp_and_codec_errors(
    hass: HomeAssistant,
    orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
) -> None:
    """A unix time field is a timestamp sensor; a payload the chosen codec rejects has no fields."""
    orion_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        orion_entry, options={CONF_DEVICES: {DOOR: {CONF_CODEC: "cayenne_lpp"}}}
    )
    await hass.config_entries.async_setup(orion_entry.entry_id)
    await orion.wait_for_request("get_device_coordinates_req")
    await orion.emit_uplink(CLIMATE, encode_cayenne_lpp([(1, "unix_time", 1_763_640_000)]))
    await orion.emit_uplink(DOOR, b"\xff\xff")
    await uplinks.wait(2)
    await hass.async_block_till_done()
    assert state_of(hass, "sensor.living_room_climate_unix_time_1") == "2025-11-20T12:00:00+00:00"
    state = orion_entry.runtime_data.devices[DOOR]
    assert state.decode_error
    assert uplinks.events[1].data["decoded"] == {}


async def test_field_value_conversion(
    hass: HomeAssistant, loaded_orion_entry: MockConfigEntry
) -> None:
    """Values of an unexpected type never reach the state machine as something invalid."""
    coordinator = loaded_orion_entry.runtime_data
    device = coordinator.devices[CLIMATE]
    numeric = FieldSensor(
        coordinator, device, FieldSpec(key="t", platform=Platform.SENSOR, unit="°C")
    )
    text = FieldSensor(coordinator, device, FieldSpec(key="s", platform=Platform.SENSOR))
    stamp = FieldSensor(
        coordinator, device, FieldSpec(key="u", platform=Platform.SENSOR, device_class="timestamp")
    )
    assert numeric._convert(True) == 1
    assert numeric._convert("21.5") is None
    assert numeric._convert(float("nan")) is None
    assert numeric._convert(21.5) == 21.5
    assert text._convert("open") == "open"
    assert text._convert(None) is None
    assert text._convert([1, 2]) == "[1, 2]"
    assert stamp._convert("soon") is None
    assert stamp._convert(0) == datetime(1970, 1, 1, tzinfo=UTC)


async def test_replays_beyond_memory(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
) -> None:
    """A long stream keeps a bounded memory of recent uplinks per device."""
    for _ in range(DEDUP_MEMORY + 6):
        await orion.emit_uplink(DOOR, DOOR_PAYLOAD)
    await uplinks.wait(DEDUP_MEMORY + 6)
    state = loaded_orion_entry.runtime_data.devices[DOOR]
    assert len(state.recent) == len(state.recent_keys) == DEDUP_MEMORY
