"""Tests of entity metadata inference and of its tables against Home Assistant's rules."""

from __future__ import annotations

from collections.abc import Iterator
import random

import pytest

from homeassistant.components.binary_sensor import BinarySensorDeviceClass
from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.components.sensor.const import (
    DEVICE_CLASS_STATE_CLASSES,
    DEVICE_CLASS_UNITS,
    STATE_CLASS_UNITS,
)

from custom_components.lorawan_hub.codecs.field_rules import BINARY_RULES, SENSOR_RULES
from custom_components.lorawan_hub.codecs.metadata import (
    EntityKind,
    FieldMeta,
    infer_metadata,
    key_tokens,
    location_pairs,
    normalize_unit,
)
from custom_components.lorawan_hub.codecs.units import (
    MEASUREMENT_ANGLE,
    SUFFIX_UNITS,
    UNIT_DEVICE_CLASSES,
)

M = "measurement"
TI = "total_increasing"
ANGLE = "measurement_angle"
UG = "μg/m³"


def sensor(
    device_class: str | None = None,
    unit: str | None = None,
    state_class: str | None = M,
    precision: int | None = None,
) -> FieldMeta:
    return FieldMeta(EntityKind.SENSOR, device_class, unit, state_class, precision)


def binary(device_class: str | None) -> FieldMeta:
    return FieldMeta(EntityKind.BINARY_SENSOR, device_class)


PLAIN = FieldMeta(EntityKind.SENSOR)

TABLE: list[tuple[str, object, str | None, FieldMeta]] = [
    # Temperature
    ("temperature", 21.5, None, sensor("temperature", "°C", M, 1)),
    ("air_temperature", 21.5, None, sensor("temperature", "°C", M, 1)),
    ("temperature_1", 21.5, "°C", sensor("temperature", "°C", M, 1)),
    ("water_temperature_c", 12.0, None, sensor("temperature", "°C", M, 1)),
    ("temperature_f", 70.0, None, sensor("temperature", "°F", M, 1)),
    ("temp", 70, "F", sensor("temperature", "°F", M, 1)),
    ("temperature", 293.1, "K", sensor("temperature", "K", M, 1)),
    ("temperature", 20, "degC", sensor("temperature", "°C", M, 1)),
    ("temperature1", 20, None, sensor("temperature", "°C", M, 1)),
    ("battery_temperature", 30, None, sensor("temperature", "°C", M, 1)),
    ("dew_point", 5.0, None, sensor("temperature", "°C", M, 1)),
    ("temperature_min", 3, None, sensor("temperature", "°C", M, 1)),
    ("temperature", 3, "%", sensor(None, "%")),
    ("AirTemp", 21, None, sensor("temperature", "°C", M, 1)),
    ("color_temperature", 2700, None, sensor(None, "K", M, 0)),
    # Humidity and moisture
    ("humidity", 40, None, sensor("humidity", "%", M, 1)),
    ("relative_humidity_2", 40, None, sensor("humidity", "%", M, 1)),
    ("relativeHumidity", 40, None, sensor("humidity", "%", M, 1)),
    ("rh", 40, "%RH", sensor("humidity", "%", M, 1)),
    ("absolute_humidity", 8.1, None, sensor("absolute_humidity", "g/m³", M, 1)),
    ("soil_moisture", 30, None, sensor("moisture", "%", M, 1)),
    ("soil_humidity", 30, None, sensor("moisture", "%", M, 1)),
    # Battery and electricity
    ("battery", 87, None, sensor("battery", "%", M, 0)),
    ("battery_level", 87, None, sensor("battery", "%", M, 0)),
    ("bat", 87, None, sensor("battery", "%", M, 0)),
    ("battery", 3300, None, sensor("voltage", "mV", M, 0)),
    ("battery", 3.3, "V", sensor("voltage", "V", M, 2)),
    ("battery_voltage", 3.61, None, sensor("voltage", "V", M, 2)),
    ("batteryVoltage", 3.61, None, sensor("voltage", "V", M, 2)),
    ("battery_voltage", 3610, None, sensor("voltage", "mV", M, 0)),
    ("vbat", 3.6, None, sensor("voltage", "V", M, 2)),
    ("bat_v", 3.6, None, sensor("voltage", "V", M, 2)),
    ("battery_mv", 3600, None, sensor("voltage", "mV", M, 0)),
    ("voltage", 230.1, None, sensor("voltage", "V", M, 2)),
    ("supply_voltage_mv", 3300, None, sensor("voltage", "mV", M, 0)),
    ("voltage_a", 230, None, sensor("voltage", "V", M, 2)),
    ("vdd", 3600, None, sensor("voltage", "mV", M, 0)),
    ("voltage", 230, None, sensor("voltage", "V", M, 2)),
    ("current", 1.5, None, sensor("current", "A", M, 3)),
    ("current_ma", 15, None, sensor("current", "mA", M, 0)),
    ("power", 100, None, sensor("power", "W", M, 0)),
    ("power_kw", 1.5, None, sensor("power", "kW", M, 2)),
    ("energy", 12.3, None, sensor("energy", "kWh", TI, 3)),
    ("energy_wh", 1200, None, sensor("energy", "Wh", TI, 0)),
    ("consumption", 5, "kWh", sensor("energy", "kWh", TI, 3)),
    ("power_factor", 0.95, None, sensor("power_factor", None, M, 2)),
    # Pressure
    ("pressure", 1013.2, None, sensor("pressure", "hPa", M, 1)),
    ("barometric_pressure_7", 1013.2, "hPa", sensor("atmospheric_pressure", "hPa", M, 1)),
    ("air_pressure", 101320, "Pa", sensor("atmospheric_pressure", "Pa", M, 0)),
    ("water_pressure_bar", 2.5, None, sensor("pressure", "bar", M, 3)),
    ("pressure", 1013, "mbar", sensor("pressure", "mbar", M, 1)),
    ("pressure_kpa", 101.3, None, sensor("pressure", "kPa", M, 2)),
    # Light
    ("illuminance", 300, None, sensor("illuminance", "lx", M, 0)),
    ("lux", 300, None, sensor("illuminance", "lx", M, 0)),
    ("light_level", 300, None, sensor("illuminance", "lx", M, 0)),
    ("luminosity", 300, "lux", sensor("illuminance", "lx", M, 0)),
    ("irradiance", 800, None, sensor("irradiance", "W/m²", M, 0)),
    ("solar_radiation", 800, "W/m2", sensor("irradiance", "W/m²", M, 0)),
    ("uv_index", 3, None, sensor(None, "UV index", M, 1)),
    # Air quality
    ("co2", 415, None, sensor("carbon_dioxide", "ppm", M, 0)),
    ("CO2", 415, None, sensor("carbon_dioxide", "ppm", M, 0)),
    ("co2_ppm", 415, None, sensor("carbon_dioxide", "ppm", M, 0)),
    ("co", 2, None, sensor("carbon_monoxide", "ppm", M, 0)),
    ("tvoc", 120, None, sensor("volatile_organic_compounds_parts", "ppb", M, 0)),
    ("tvoc", 120, "ug/m3", sensor("volatile_organic_compounds", UG, M, 0)),
    ("voc_index", 100, None, sensor(None, None, M, 0)),
    ("iaq", 50, None, sensor("aqi", None, M, 0)),
    ("pm2_5", 7, None, sensor("pm25", UG, M, 0)),
    ("pm2.5", 7, None, sensor("pm25", UG, M, 0)),
    ("pm25", 7, "ug/m3", sensor("pm25", UG, M, 0)),
    ("pm1_0", 3, None, sensor("pm1", UG, M, 0)),
    ("pm4", 9, None, sensor("pm4", UG, M, 0)),
    ("pm10", 9, "µg/m³", sensor("pm10", UG, M, 0)),
    ("no2", 20, "ppb", sensor("nitrogen_dioxide", "ppb", M, 0)),
    ("o3", 20, None, sensor()),
    ("radon", 40, None, sensor("radon", "Bq/m³", M, 0)),
    ("concentration_13", 400, "ppm", sensor(None, "ppm", M, 0)),
    ("concentration", 5, None, sensor(None, "ppm", M, 0)),
    ("gas_concentration", 5, "%", sensor(None, "%")),
    # Distance and position
    ("distance", 1200, "mm", sensor("distance", "mm", M, 0)),
    ("distance_cm", 120, None, sensor("distance", "cm", M, 1)),
    ("distance", 12, None, sensor()),
    ("level_mm", 350, None, sensor("distance", "mm", M, 0)),
    ("water_level", 1.2, "m", sensor("distance", "m", M, 2)),
    ("tank_level_pct", 50, None, sensor(None, "%")),
    ("altitude", 120, None, sensor("distance", "m", M, 1)),
    ("gps_4_altitude", 120.5, "m", sensor("distance", "m", M, 1)),
    ("gps_1_latitude", 42.3519, "°", sensor(None, "°", None, 6)),
    ("longitude", 2.35, None, sensor(None, "°", None, 6)),
    ("lat", 48.85, None, sensor(None, "°", None, 6)),
    ("lng", 2.35, None, sensor(None, "°", None, 6)),
    # Radio
    ("frequency", 50, None, sensor("frequency", "Hz", M, 0)),
    ("freq", 868.1, "MHz", sensor("frequency", "MHz")),
    ("rssi", -80, None, sensor("signal_strength", "dBm", M, 0)),
    ("snr", 7.5, None, sensor(None, "dB", M, 1)),
    # Motion and direction
    ("speed", 3.2, None, sensor("speed", "m/s", M, 1)),
    ("speed_kmh", 12, None, sensor("speed", "km/h", M, 1)),
    ("wind_speed", 3.2, None, sensor("wind_speed", "m/s", M, 1)),
    ("wind_gust", 20, "km/h", sensor("wind_speed", "km/h", M, 1)),
    ("wind_direction", 270, None, sensor("wind_direction", "°", ANGLE, 0)),
    ("heading", 90, None, sensor(None, "°", ANGLE, 0)),
    ("direction_17", 270, "°", sensor(None, "°", ANGLE, 0)),
    ("direction", 1.2, "rad", sensor(None, "rad")),
    ("tilt", 12.5, None, sensor(None, "°", M, 1)),
    ("accelerometer_6_x", 1.234, "G", sensor(None, "G")),
    ("accel_g", 0.98, None, sensor(None, "G")),
    ("gyrometer_19_z", 1.0, "°/s", sensor(None, "°/s")),
    ("colour_20_red", 255, None, sensor()),
    # Weather
    ("rain", 1.2, None, sensor("precipitation", "mm", M, 1)),
    ("rain_total", 120.2, None, sensor("precipitation", "mm", TI, 1)),
    ("rain_rate", 2.0, None, sensor("precipitation_intensity", "mm/h", M, 1)),
    ("noise", 45, None, sensor("sound_pressure", "dB", M, 1)),
    ("sound_level", 45, "dBA", sensor("sound_pressure", "dBA", M, 1)),
    # Meters
    ("water", 12, "L", sensor("water", "L", "total")),
    ("water_meter", 12.3, "m3", sensor("water", "m³", TI)),
    ("water_index_l", 1200, None, sensor("water", "L", TI)),
    ("volume", 200, "L", sensor("volume_storage", "L")),
    ("volume_counter_m3", 12, None, sensor("volume", "m³", TI)),
    ("gas_meter", 1.2, "m³", sensor("gas", "m³", TI)),
    ("gas", 5, None, sensor(None, None, TI)),
    ("gas_resistance", 12000, None, sensor()),
    ("flow_rate", 12, "L/min", sensor("volume_flow_rate", "L/min")),
    ("weight", 12.5, None, sensor("weight", "kg", M, 2)),
    ("weight_g", 500, None, sensor("weight", "g", M, 0)),
    ("counter", 123, None, sensor(None, None, TI)),
    ("pulse_count", 10, None, sensor(None, None, TI)),
    ("people_count", 3, None, sensor(None, None, M, 0)),
    # Soil and water quality
    ("conductivity", 500, None, sensor("conductivity", "μS/cm", M, 0)),
    ("soil_ec", 500, "uS/cm", sensor("conductivity", "μS/cm", M, 0)),
    ("ph", 6.5, None, sensor("ph", None, M, 2)),
    ("pH", 6.5, None, sensor("ph", None, M, 2)),
    # Time
    ("duration", 30, None, sensor("duration", "s")),
    ("uptime_h", 5, None, sensor("duration", "h", TI)),
    ("report_interval_min", 10, None, sensor("duration", "min")),
    ("sleep_s", 60, None, sensor("duration", "s")),
    ("unix_time_18", 1600000000, None, sensor("timestamp", None, None)),
    ("timestamp", 1600000000, None, sensor("timestamp", None, None)),
    # Generic and Cayenne values
    ("percentage", 50, None, sensor(None, "%")),
    ("percentage_11", 50, "%", sensor(None, "%")),
    ("analog_input_3", 1.23, None, sensor()),
    ("digital_input_1", 1, None, sensor()),
    ("generic_sensor_5", 7, None, sensor()),
    ("foo", 5, None, sensor()),
    ("foo_v", 5, None, sensor("voltage", "V", M, 2)),
    ("value_min", 3, None, sensor()),
    ("probe", 21.5, "°C", sensor("temperature", "°C", M, 1)),
    ("probe", 21.5, "furlongs", sensor(None, "furlongs")),
    # Identifiers, codes and text
    ("pressure_sensor_id", 3, None, PLAIN),
    ("pressure_sensor_id", "abc", None, PLAIN),
    ("temperature_status", 1, None, PLAIN),
    ("error_code", 5, None, PLAIN),
    ("firmware", "1.2.3", None, PLAIN),
    ("temperature", "hot", None, PLAIN),
    ("payload", b"\x01", None, PLAIN),
    # Unknown values
    ("temperature", None, None, sensor("temperature", "°C", M, 1)),
    ("mystery", None, None, PLAIN),
    ("mystery", None, "V", sensor("voltage", "V", M, 2)),
    # Binary sensors
    ("door", True, None, binary("door")),
    ("contact", False, None, binary("door")),
    ("door_open", True, None, binary("door")),
    ("opened", True, None, binary("door")),
    ("window_open", True, None, binary("window")),
    ("garage_door", True, None, binary("garage_door")),
    ("motion", True, None, binary("motion")),
    ("pir", True, None, binary("motion")),
    ("presence_7", True, None, binary("occupancy")),
    ("occupied", False, None, binary("occupancy")),
    ("water_leak", True, None, binary("moisture")),
    ("leak", True, None, binary("moisture")),
    ("flood", True, None, binary("moisture")),
    ("smoke", True, None, binary("smoke")),
    ("smoke_alarm", True, None, binary("smoke")),
    ("tamper", True, None, binary("tamper")),
    ("vibration", True, None, binary("vibration")),
    ("battery_low", True, None, binary("battery")),
    ("low_battery", True, None, binary("battery")),
    ("lowBatteryAlarm", True, None, binary("battery")),
    ("moving", True, None, binary("moving")),
    ("movement", True, None, binary("moving")),
    ("alarm", True, None, binary("problem")),
    ("temperature_alarm", True, None, binary("problem")),
    ("co_alarm", True, None, binary("carbon_monoxide")),
    ("co2_alarm", True, None, binary("problem")),
    ("light", True, None, binary("light")),
    ("charging", True, None, binary("battery_charging")),
    ("online", True, None, binary("connectivity")),
    ("switch_21", True, None, binary(None)),
    ("button", False, None, binary(None)),
]


@pytest.mark.parametrize(
    ("key", "value", "unit", "expected"),
    TABLE,
    ids=[f"{key}-{value!r}-{unit}" for key, value, unit, _ in TABLE],
)
def test_infer_metadata(key: str, value: object, unit: str | None, expected: FieldMeta) -> None:
    assert infer_metadata(key, value, unit) == expected


def test_table_is_broad() -> None:
    assert len({key for key, _, _, _ in TABLE}) >= 60
    assert len(SENSOR_RULES) >= 60
    assert len(BINARY_RULES) >= 20


def sensor_combinations() -> Iterator[tuple[str | None, str | None, str | None]]:
    """Yield every ``(device_class, unit, state_class)`` the tables can give a numeric field."""
    for rule in SENSOR_RULES:
        for unit, device_class in rule.units.items():
            yield device_class, unit, rule.state_class
    for unit, (device_class, state_class) in UNIT_DEVICE_CLASSES.items():
        yield device_class, unit, state_class


def _assert_valid(meta: FieldMeta) -> None:
    """Fail unless Home Assistant accepts this metadata without a warning."""
    if meta.platform is EntityKind.BINARY_SENSOR:
        assert meta.unit is None
        assert meta.state_class is None
        if meta.device_class is not None:
            BinarySensorDeviceClass(meta.device_class)
        return
    state_class = SensorStateClass(meta.state_class) if meta.state_class else None
    if state_class is not None and (units := STATE_CLASS_UNITS.get(state_class)) is not None:
        assert meta.unit in units, meta
    if meta.device_class is None:
        return
    device_class = SensorDeviceClass(meta.device_class)
    allowed_units = DEVICE_CLASS_UNITS.get(device_class, {None})
    assert meta.unit in allowed_units, meta
    allowed_states = DEVICE_CLASS_STATE_CLASSES.get(device_class, set())
    assert state_class is None or state_class in allowed_states, meta


def test_every_table_combination_is_valid_in_home_assistant() -> None:
    combinations = set(sensor_combinations())
    assert len(combinations) > 150
    for device_class, unit, state_class in combinations:
        _assert_valid(FieldMeta(EntityKind.SENSOR, device_class, unit, state_class))
    emitted_classes = {device_class for device_class, _, _ in combinations if device_class}
    assert len(emitted_classes) >= 45


def test_every_rule_name_and_unit_gives_valid_metadata() -> None:
    checked = 0
    for rule in SENSOR_RULES:
        candidate_units = {*rule.units, rule.default_unit, None, "bogus", *SUFFIX_UNITS.values()}
        for name in rule.names:
            for unit in candidate_units:
                for value in (1.5, 5000, None):
                    meta = infer_metadata(name, value, unit)
                    _assert_valid(meta)
                    checked += 1
            default = infer_metadata(name, 1.5)
            assert default.platform is EntityKind.SENSOR
            assert default.state_class == rule.state_class
    assert checked > 5000


def test_every_binary_rule_gives_a_valid_device_class() -> None:
    for rule in BINARY_RULES:
        for name in rule.names:
            meta = infer_metadata(name, True)
            assert meta == binary(rule.device_class), name
            _assert_valid(meta)


def test_table_rows_are_valid() -> None:
    for _, _, _, expected in TABLE:
        _assert_valid(expected)


def test_random_keys_always_give_valid_metadata() -> None:
    rng = random.Random(11)  # noqa: S311
    words = sorted(
        {word for rule in SENSOR_RULES for name in rule.names for word in name.split("_")}
        | {word for rule in BINARY_RULES for name in rule.names for word in name.split("_")}
        | set(SUFFIX_UNITS)
        | {"1", "2", "air", "water", "id", "max", "x", "min", "alarm"}
    )
    units = [None, None, None, *UNIT_DEVICE_CLASSES, "C", "%RH", "ug/m3", "degrees", "weird"]
    for _ in range(4000):
        key = "_".join(rng.choice(words) for _ in range(rng.randint(1, 4)))
        value = rng.choice([1, -2.5, 4000, None, True, "text"])
        _assert_valid(infer_metadata(key, value, rng.choice(units)))


def test_rule_names_are_unique() -> None:
    for rules in (SENSOR_RULES, BINARY_RULES):
        seen: dict[frozenset[str], tuple[str, ...]] = {}
        for rule in rules:
            for name in rule.names:
                tokens = frozenset(name.split("_"))
                assert tokens not in seen, (name, seen.get(tokens))
                seen[tokens] = rule.names


def test_rule_default_units_are_known_to_the_rule() -> None:
    for rule in SENSOR_RULES:
        if rule.default_unit is not None:
            assert rule.default_unit in rule.units, rule.names


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("°C", "°C"),
        ("C", "°C"),
        ("degC", "°C"),
        ("celsius", "°C"),
        ("℃", "°C"),
        ("F", "°F"),
        ("%RH", "%"),
        ("% RH", "%"),
        ("ug/m3", UG),
        ("µg/m³", UG),
        ("μg/m³", UG),
        ("m3", "m³"),
        ("mbar", "mbar"),
        ("hpa", "hPa"),
        ("HPA", "hPa"),
        ("lux", "lx"),
        ("mv", "mV"),
        ("MWh", "MWh"),
        ("mHz", "mHz"),
        ("mhz", "MHz"),
        ("kmh", "km/h"),
        ("uS/cm", "μS/cm"),
        ("µS/cm", "μS/cm"),
        ("W/m2", "W/m²"),
        ("G", "G"),
        ("deg", "°"),
        ("seconds", "s"),
        (" V ", "V"),
        ("furlongs", "furlongs"),
    ],
)
def test_normalize_unit(unit: str | None, expected: str | None) -> None:
    assert normalize_unit(unit) == expected


@pytest.mark.parametrize(
    ("key", "tokens"),
    [
        ("temperature_1", ["temperature"]),
        ("temperature1", ["temperature"]),
        ("pm2_5", ["pm2"]),
        ("pm10", ["pm10"]),
        ("co2", ["co2"]),
        ("ch1_temp", ["ch1", "temp"]),
        ("gps_4_latitude", ["gps", "latitude"]),
        ("relativeHumidity", ["relative", "humidity"]),
        ("", []),
    ],
)
def test_key_tokens(key: str, tokens: list[str]) -> None:
    assert key_tokens(key) == tokens


def test_rule_priority_prefers_the_quantity_over_modifiers() -> None:
    assert infer_metadata("co2_level", 400).device_class == "carbon_dioxide"
    assert infer_metadata("current_temperature", 20).device_class == "temperature"
    assert infer_metadata("water_level_mm", 20).device_class == "distance"
    assert infer_metadata("wind_speed_kmh", 20) == sensor("wind_speed", "km/h", M, 1)


def test_state_class_angle_needs_degrees() -> None:
    assert MEASUREMENT_ANGLE in {state_class for _, _, state_class in sensor_combinations()}
    assert infer_metadata("wind_direction", 1.0, "rad") == sensor(None, "rad")


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (
            ["gps_4_latitude", "gps_4_longitude", "gps_4_altitude", "temperature_1"],
            [("gps_4", "gps_4_latitude", "gps_4_longitude", "gps_4_altitude")],
        ),
        (["latitude", "longitude"], [("", "latitude", "longitude", None)]),
        (["longitude", "latitude"], [("", "latitude", "longitude", None)]),
        (["lat", "lon", "alt"], [("", "lat", "lon", "alt")]),
        (["lat", "lng"], [("", "lat", "lng", None)]),
        (["lat", "lon", "lng"], [("", "lat", "lon", None)]),
        (["gpslat", "gpslng"], [("gps", "gpslat", "gpslng", None)]),
        (
            ["location_latitude", "location_longitude", "location_elevation"],
            [("location", "location_latitude", "location_longitude", "location_elevation")],
        ),
        (
            ["gps_1_latitude", "gps_2_latitude", "gps_2_longitude", "gps_1_longitude"],
            [
                ("gps_1", "gps_1_latitude", "gps_1_longitude", None),
                ("gps_2", "gps_2_latitude", "gps_2_longitude", None),
            ],
        ),
        (
            ["latitude", "longitude", "lat", "lon"],
            [("", "latitude", "longitude", None), ("", "lat", "lon", None)],
        ),
        (["latitude"], []),
        (["lat", "longitude"], []),
        (["plat", "temperature"], []),
        ([], []),
    ],
)
def test_location_pairs(keys: list[str], expected: list[tuple[str, str, str, str | None]]) -> None:
    assert location_pairs(keys) == expected


def test_location_pairs_takes_any_iterable() -> None:
    keys = iter(["gps_1_latitude", "gps_1_longitude"])
    assert location_pairs(keys) == [("gps_1", "gps_1_latitude", "gps_1_longitude", None)]
    assert location_pairs({"lat": 1, "lon": 2}) == [("", "lat", "lon", None)]
