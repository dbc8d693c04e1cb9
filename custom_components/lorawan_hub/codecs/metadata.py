"""
Infer Home Assistant entity metadata from a flat field key, its value and an optional unit.

Everything here is data plus a small matcher, with no Home Assistant import: device classes,
state classes and units are the plain strings Home Assistant uses.

A key is split into snake_case tokens (``water_temperature_c`` -> ``water``, ``temperature``,
``c``); pure numbers (channels, list indexes) are ignored. A unit may come from the codec (it wins),
from a unit suffix token at the end of the key, or from the default unit of the matched rule.
Rules match when all tokens of one of their names are present; the most specific name wins,
then the higher priority, then the name found furthest right (``battery_temperature`` is a
temperature).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
import re
from types import MappingProxyType
from typing import Final

from .fields import snake_case


class Platform(StrEnum):
    """The entity platform of a field."""

    SENSOR = "sensor"
    BINARY_SENSOR = "binary_sensor"


@dataclass(frozen=True, slots=True)
class FieldMeta:
    """The entity metadata inferred for one field."""

    platform: Platform
    device_class: str | None = None
    unit: str | None = None
    state_class: str | None = None
    suggested_display_precision: int | None = None


MEASUREMENT: Final = "measurement"
MEASUREMENT_ANGLE: Final = "measurement_angle"
TOTAL: Final = "total"
TOTAL_INCREASING: Final = "total_increasing"

# Unit strings exactly as Home Assistant spells them (micro is U+03BC).
CELSIUS: Final = "°C"
FAHRENHEIT: Final = "°F"
KELVIN: Final = "K"
PERCENT: Final = "%"
DEGREE: Final = "°"
MICROGRAMS_PER_M3: Final = "μg/m³"
MILLIGRAMS_PER_M3: Final = "mg/m³"
CUBIC_METERS: Final = "m³"
MICROSIEMENS_PER_CM: Final = "μS/cm"
WATTS_PER_M2: Final = "W/m²"
UV_INDEX: Final = "UV index"
G_FORCE: Final = "G"
DEGREES_PER_SECOND: Final = "°/s"

type UnitClasses = Mapping[str | None, str | None]


def _units(device_class: str | None, *units: str | None) -> dict[str | None, str | None]:
    """Map each of ``units`` to ``device_class``."""
    return dict.fromkeys(units, device_class)


_TEMPERATURE_UNITS = (CELSIUS, FAHRENHEIT, KELVIN)
_VOLTAGE_UNITS = ("V", "mV", "kV", "μV")
_CURRENT_UNITS = ("A", "mA", "μA")
_POWER_UNITS = ("W", "kW", "mW", "MW")
_ENERGY_UNITS = ("kWh", "Wh", "MWh", "mWh", "J", "kJ", "MJ")
_PRESSURE_UNITS = ("hPa", "Pa", "kPa", "bar", "mbar", "cbar", "psi", "mmHg", "inHg", "atm")
_DISTANCE_UNITS = ("mm", "cm", "m", "km", "in", "ft", "yd", "mi")
_FREQUENCY_UNITS = ("Hz", "kHz", "MHz", "GHz", "mHz")
_SPEED_UNITS = ("m/s", "km/h", "mph", "kn", "ft/s", "mm/s", "m/min")
_DURATION_UNITS = ("s", "ms", "min", "h", "d", "μs")
_VOLUME_UNITS = ("L", CUBIC_METERS, "mL", "gal", "ft³")
_METER_VOLUME_UNITS = ("L", CUBIC_METERS, "gal", "ft³")
_GAS_UNITS = (CUBIC_METERS, "L", "ft³")
_WEIGHT_UNITS = ("kg", "g", "mg", "lb", "oz")
_FLOW_UNITS = ("L/min", "L/h", "L/s", "m³/h", "m³/min", "m³/s", "mL/s", "gal/min")
_PARTS = ("ppm", "ppb")
_CONCENTRATION = (*_PARTS, MICROGRAMS_PER_M3, MILLIGRAMS_PER_M3, PERCENT)


@dataclass(frozen=True, slots=True)
class SensorRule:
    """
    How to read a numeric field whose key holds one of ``names``.

    ``units`` maps every unit the rule knows to the device class it gives (``None``: no class);
    a unit outside it is kept but gives no device class. ``default_unit`` is used when neither
    the codec nor the key states a unit. ``millivolts_above`` reads a unitless value above it
    as millivolts (a battery reporting 3300 means 3.3 V). ``unit_aliases`` rewrites a unit
    the key suffix suggests (``accel_g`` means G-force, not grams).
    """

    names: tuple[str, ...]
    units: UnitClasses
    default_unit: str | None = None
    state_class: str | None = MEASUREMENT
    priority: int = 2
    precision: int | None = None
    millivolts_above: float | None = None
    unit_aliases: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BinaryRule:
    """The binary sensor device class of a boolean field whose key holds one of ``names``."""

    names: tuple[str, ...]
    device_class: str | None
    priority: int = 2


SENSOR_RULES: tuple[SensorRule, ...] = (
    # Climate
    SensorRule(
        (
            "temperature",
            "temp",
            "dew_point",
            "dewpoint",
            "heat_index",
            "feels_like",
            "wind_chill",
            "celsius",
        ),
        _units("temperature", *_TEMPERATURE_UNITS),
        CELSIUS,
        precision=1,
    ),
    SensorRule(
        ("color_temperature", "colour_temperature", "cct"),
        _units(None, KELVIN),
        KELVIN,
        precision=0,
    ),
    SensorRule(
        ("humidity", "relative_humidity", "rh", "hum", "humi"),
        _units("humidity", PERCENT),
        PERCENT,
        precision=1,
    ),
    SensorRule(
        ("absolute_humidity",),
        _units("absolute_humidity", "g/m³", MILLIGRAMS_PER_M3),
        "g/m³",
        precision=1,
    ),
    SensorRule(
        ("pressure", "water_pressure", "pipe_pressure", "tyre_pressure", "tire_pressure"),
        _units("pressure", *_PRESSURE_UNITS),
        "hPa",
    ),
    SensorRule(
        (
            "barometric_pressure",
            "air_pressure",
            "atmospheric_pressure",
            "baro",
            "barometer",
            "barometric",
            "baro_pressure",
        ),
        _units("atmospheric_pressure", *_PRESSURE_UNITS),
        "hPa",
    ),
    SensorRule(
        (
            "illuminance",
            "lux",
            "light",
            "luminosity",
            "light_level",
            "light_intensity",
            "ambient_light",
            "luminance",
        ),
        _units("illuminance", "lx"),
        "lx",
        precision=0,
    ),
    SensorRule(
        ("irradiance", "solar_radiation", "solar_irradiance", "global_radiation"),
        _units("irradiance", WATTS_PER_M2),
        WATTS_PER_M2,
        precision=0,
    ),
    SensorRule(("uv", "uv_index", "uvi"), _units(None, UV_INDEX), UV_INDEX, precision=1),
    # Air quality
    SensorRule(
        ("co2", "carbon_dioxide", "eco2"), _units("carbon_dioxide", "ppm"), "ppm", precision=0
    ),
    SensorRule(
        ("co", "carbon_monoxide"),
        _units("carbon_monoxide", *_PARTS, MILLIGRAMS_PER_M3, MICROGRAMS_PER_M3),
        "ppm",
        precision=0,
    ),
    SensorRule(
        ("tvoc", "voc", "volatile_organic_compounds"),
        {
            "ppb": "volatile_organic_compounds_parts",
            "ppm": "volatile_organic_compounds_parts",
            MICROGRAMS_PER_M3: "volatile_organic_compounds",
            MILLIGRAMS_PER_M3: "volatile_organic_compounds",
        },
        "ppb",
        precision=0,
    ),
    SensorRule(("voc_index", "nox_index", "tvoc_index"), _units(None, None), precision=0),
    SensorRule(
        ("aqi", "iaq", "air_quality", "air_quality_index"), _units("aqi", None), precision=0
    ),
    SensorRule(("pm1",), _units("pm1", MICROGRAMS_PER_M3), MICROGRAMS_PER_M3, precision=0),
    SensorRule(("pm25", "pm2"), _units("pm25", MICROGRAMS_PER_M3), MICROGRAMS_PER_M3, precision=0),
    SensorRule(("pm4",), _units("pm4", MICROGRAMS_PER_M3), MICROGRAMS_PER_M3, precision=0),
    SensorRule(("pm10",), _units("pm10", MICROGRAMS_PER_M3), MICROGRAMS_PER_M3, precision=0),
    SensorRule(("no2", "nitrogen_dioxide"), _units("nitrogen_dioxide", *_PARTS, MICROGRAMS_PER_M3)),
    SensorRule(("nitrogen_monoxide",), _units("nitrogen_monoxide", "ppb", MICROGRAMS_PER_M3)),
    SensorRule(("o3", "ozone"), _units("ozone", *_PARTS, MICROGRAMS_PER_M3)),
    SensorRule(
        ("so2", "sulphur_dioxide", "sulfur_dioxide"),
        _units("sulphur_dioxide", "ppb", MICROGRAMS_PER_M3),
    ),
    SensorRule(("radon",), _units("radon", "Bq/m³", "pCi/L"), "Bq/m³", precision=0),
    SensorRule(("concentration",), _units(None, *_CONCENTRATION), "ppm"),
    # Electricity
    SensorRule(
        ("battery", "bat", "batt", "battery_level", "battery_percentage", "soc", "state_of_charge"),
        {PERCENT: "battery", "V": "voltage", "mV": "voltage"},
        PERCENT,
        precision=0,
        millivolts_above=100,
    ),
    SensorRule(
        (
            "battery_voltage",
            "vbat",
            "vbatt",
            "batv",
            "bat_voltage",
            "batt_voltage",
            "battery_volt",
            "battery_volts",
            "vdd",
            "vcc",
            "supply_voltage",
        ),
        _units("voltage", "V", "mV"),
        "V",
        millivolts_above=100,
    ),
    SensorRule(
        ("voltage", "volt", "volts"),
        _units("voltage", *_VOLTAGE_UNITS),
        "V",
    ),
    SensorRule(("current", "amps", "amperage"), _units("current", *_CURRENT_UNITS), "A"),
    SensorRule(("power", "active_power"), _units("power", *_POWER_UNITS), "W"),
    SensorRule(("apparent_power",), _units("apparent_power", "VA", "kVA"), "VA", precision=0),
    SensorRule(("reactive_power",), _units("reactive_power", "var", "kvar"), "var", precision=0),
    SensorRule(("power_factor", "cos_phi"), _units("power_factor", None, PERCENT), precision=2),
    SensorRule(
        ("energy", "active_energy", "energy_total", "energy_consumption"),
        _units("energy", *_ENERGY_UNITS),
        "kWh",
        TOTAL_INCREASING,
    ),
    SensorRule(("frequency", "freq"), _units("frequency", *_FREQUENCY_UNITS), "Hz"),
    SensorRule(("resistance", "gas_resistance"), _units(None, "Ω", "kΩ", "MΩ")),
    # Radio
    SensorRule(
        ("rssi", "signal_strength", "signal"),
        _units("signal_strength", "dBm", "dB"),
        "dBm",
        precision=0,
    ),
    SensorRule(("snr", "lsnr"), _units(None, "dB"), "dB", precision=1),
    # Distance, position and motion
    SensorRule(
        ("distance", "dist", "depth", "height", "snow_depth", "thickness", "length"),
        _units("distance", *_DISTANCE_UNITS),
    ),
    SensorRule(("range", "level"), _units("distance", *_DISTANCE_UNITS), priority=1),
    SensorRule(
        ("altitude", "alt", "elevation"), _units("distance", *_DISTANCE_UNITS), "m", precision=1
    ),
    SensorRule(("latitude", "lat"), _units(None, DEGREE), DEGREE, None, precision=6),
    SensorRule(("longitude", "lon", "lng"), _units(None, DEGREE), DEGREE, None, precision=6),
    SensorRule(("speed", "velocity"), _units("speed", *_SPEED_UNITS), "m/s", precision=1),
    SensorRule(
        ("wind_speed", "wind_gust", "gust", "wind_velocity", "gust_speed"),
        _units("wind_speed", *_SPEED_UNITS),
        "m/s",
        precision=1,
    ),
    SensorRule(
        ("direction", "heading", "bearing", "course", "azimuth"),
        _units(None, DEGREE),
        DEGREE,
        MEASUREMENT_ANGLE,
        precision=0,
    ),
    SensorRule(
        ("wind_direction", "wind_dir", "wind_heading", "wind_bearing"),
        _units("wind_direction", DEGREE),
        DEGREE,
        MEASUREMENT_ANGLE,
        precision=0,
    ),
    SensorRule(
        ("angle", "tilt", "inclination", "pitch", "roll", "tilt_angle"),
        _units(None, DEGREE),
        DEGREE,
        precision=1,
    ),
    SensorRule(
        ("accelerometer", "acceleration", "accel"),
        _units(None, G_FORCE, "m/s²", "mG"),
        G_FORCE,
        unit_aliases={"g": G_FORCE, "mg": "mG"},
    ),
    SensorRule(
        ("gyrometer", "gyroscope", "gyro", "angular_velocity", "angular_rate"),
        _units(None, DEGREES_PER_SECOND, "rad/s"),
        DEGREES_PER_SECOND,
    ),
    SensorRule(("colour", "color", "rgb"), _units(None, None)),
    # Weather and soil
    SensorRule(
        ("rain", "rainfall", "precipitation", "rain_gauge"),
        _units("precipitation", "mm", "cm", "in"),
        "mm",
        precision=1,
    ),
    SensorRule(
        (
            "rain_total",
            "rain_counter",
            "rain_cumulative",
            "rain_accumulated",
            "precipitation_total",
            "rainfall_total",
        ),
        _units("precipitation", "mm", "cm", "in"),
        "mm",
        TOTAL_INCREASING,
        precision=1,
    ),
    SensorRule(
        (
            "rain_rate",
            "rain_intensity",
            "rainfall_rate",
            "precipitation_rate",
            "precipitation_intensity",
        ),
        _units("precipitation_intensity", "mm/h", "in/h", "mm/d", "in/d"),
        "mm/h",
        precision=1,
    ),
    SensorRule(
        ("moisture", "soil_moisture", "soil_humidity", "vwc", "soil_water"),
        _units("moisture", PERCENT),
        PERCENT,
        precision=1,
    ),
    SensorRule(
        ("conductivity", "ec", "soil_conductivity", "electrical_conductivity", "soil_ec"),
        _units("conductivity", MICROSIEMENS_PER_CM, "mS/cm", "S/cm"),
        MICROSIEMENS_PER_CM,
        precision=0,
    ),
    SensorRule(("ph", "ph_value", "soil_ph"), _units("ph", None), precision=2),
    SensorRule(
        ("sound", "noise", "sound_level", "noise_level", "sound_pressure", "spl", "laeq"),
        _units("sound_pressure", "dB", "dBA"),
        "dB",
        precision=1,
    ),
    # Water, gas and other meters
    SensorRule(("water",), _units("water", *_METER_VOLUME_UNITS), state_class=TOTAL, priority=1),
    SensorRule(
        (
            "water_meter",
            "water_index",
            "water_counter",
            "water_total",
            "water_consumption",
            "water_volume",
            "water_usage",
        ),
        _units("water", *_METER_VOLUME_UNITS),
        state_class=TOTAL_INCREASING,
    ),
    SensorRule(("volume",), _units("volume_storage", *_VOLUME_UNITS)),
    SensorRule(
        ("volume_meter", "volume_index", "volume_counter", "volume_total"),
        _units("volume", *_VOLUME_UNITS),
        state_class=TOTAL_INCREASING,
    ),
    SensorRule(("gas",), _units("gas", *_GAS_UNITS), state_class=TOTAL_INCREASING, priority=1),
    SensorRule(
        ("gas_meter", "gas_index", "gas_counter", "gas_total", "gas_consumption", "gas_volume"),
        _units("gas", *_GAS_UNITS),
        state_class=TOTAL_INCREASING,
    ),
    SensorRule(
        ("flow", "flow_rate", "water_flow", "gas_flow"),
        _units("volume_flow_rate", *_FLOW_UNITS),
    ),
    SensorRule(("weight", "mass"), _units("weight", *_WEIGHT_UNITS), "kg"),
    # Time
    SensorRule(
        ("duration", "elapsed", "elapsed_time", "on_time"),
        _units("duration", *_DURATION_UNITS),
        "s",
    ),
    SensorRule(
        ("uptime", "runtime", "operating_time", "run_time"),
        _units("duration", *_DURATION_UNITS),
        "s",
        TOTAL_INCREASING,
    ),
    SensorRule(
        ("interval", "period", "delay", "timeout", "report_interval"),
        _units("duration", *_DURATION_UNITS),
        priority=1,
    ),
    SensorRule(
        ("timestamp", "unix_time", "unix", "epoch", "unixtime"),
        _units("timestamp", None),
        state_class=None,
    ),
    # Generic values
    SensorRule(("percentage", "percent", "pct"), _units(None, PERCENT), PERCENT),
    SensorRule(
        ("count", "counter", "counts", "cnt", "fcnt", "pulse", "pulses", "pulse_count"),
        _units(None, None),
        state_class=TOTAL_INCREASING,
        priority=1,
    ),
    SensorRule(
        ("people", "people_count", "person_count", "persons", "occupancy", "visitors"),
        _units(None, None),
        precision=0,
    ),
    SensorRule(
        (
            "analog_input",
            "analog_output",
            "digital_input",
            "digital_output",
            "generic_sensor",
            "analog",
            "adc",
        ),
        {},
    ),
)
"""The numeric rules: the product of this module, extend it freely (names must stay unique)."""

BINARY_RULES: tuple[BinaryRule, ...] = (
    BinaryRule(("door", "contact", "door_open", "door_contact"), "door"),
    BinaryRule(("open", "opened", "opening"), "door", priority=1),
    BinaryRule(("window", "window_open"), "window"),
    BinaryRule(("garage_door", "garage"), "garage_door"),
    BinaryRule(("motion", "pir", "motion_detected"), "motion"),
    BinaryRule(("moving", "movement", "in_motion"), "moving"),
    BinaryRule(("presence", "occupancy", "occupied", "present"), "occupancy"),
    BinaryRule(("leak", "water_leak", "flood", "leakage", "leak_detected", "wet"), "moisture"),
    BinaryRule(("water", "moisture"), "moisture", priority=1),
    BinaryRule(("smoke",), "smoke"),
    BinaryRule(("tamper", "tampered", "tamper_alarm"), "tamper"),
    BinaryRule(("vibration", "shock"), "vibration"),
    BinaryRule(("battery_low", "bat_low", "batt_low"), "battery"),
    BinaryRule(("charging", "battery_charging"), "battery_charging"),
    BinaryRule(("alarm", "alert", "fault", "error", "problem", "failure"), "problem", priority=1),
    BinaryRule(("co", "carbon_monoxide"), "carbon_monoxide"),
    BinaryRule(("gas", "gas_detected"), "gas"),
    BinaryRule(("heat", "overheat"), "heat"),
    BinaryRule(("cold", "frost", "freeze"), "cold"),
    BinaryRule(("light", "light_detected"), "light"),
    BinaryRule(("sound", "noise"), "sound"),
    BinaryRule(("plug", "plugged"), "plug"),
    BinaryRule(("power", "power_on", "powered", "mains"), "power"),
    BinaryRule(("running", "run"), "running"),
    BinaryRule(("connected", "online", "connectivity"), "connectivity"),
)
"""The boolean rules; a boolean key matching none gives a binary sensor without device class."""

SUFFIX_UNITS: Mapping[str, str] = MappingProxyType(
    {
        "c": CELSIUS,
        "celsius": CELSIUS,
        "degc": CELSIUS,
        "f": FAHRENHEIT,
        "fahrenheit": FAHRENHEIT,
        "degf": FAHRENHEIT,
        "kelvin": KELVIN,
        "mv": "mV",
        "v": "V",
        "ma": "mA",
        "a": "A",
        "mm": "mm",
        "cm": "cm",
        "m": "m",
        "km": "km",
        "hpa": "hPa",
        "pa": "Pa",
        "kpa": "kPa",
        "mbar": "mbar",
        "bar": "bar",
        "kwh": "kWh",
        "wh": "Wh",
        "w": "W",
        "kw": "kW",
        "lux": "lx",
        "lx": "lx",
        "ppm": "ppm",
        "ppb": "ppb",
        "pct": PERCENT,
        "percent": PERCENT,
        "db": "dB",
        "dba": "dBA",
        "dbm": "dBm",
        "s": "s",
        "sec": "s",
        "ms": "ms",
        "min": "min",
        "h": "h",
        "l": "L",
        "m3": CUBIC_METERS,
        "kg": "kg",
        "g": "g",
        "hz": "Hz",
        "khz": "kHz",
        "mhz": "MHz",
        "ugm3": MICROGRAMS_PER_M3,
        "uscm": MICROSIEMENS_PER_CM,
        "mps": "m/s",
        "kmh": "km/h",
        "deg": DEGREE,
    }
)
"""Unit suffix tokens at the end of a key and the unit each one states."""

# Short suffixes that may just as well be a word ("phase_a", "temperature_min"): they are ignored
# when the key names a quantity that cannot be in that unit.
_WEAK_SUFFIXES: Final = frozenset({"a", "c", "f", "g", "h", "l", "m", "s", "v", "w", "ms", "min"})
# Suffixes never read as a unit unless a matching rule accepts them ("value_min" is a minimum).
_RULE_ONLY_SUFFIXES: Final = frozenset({"min"})
# Tokens naming something about a quantity rather than the quantity itself.
EXCLUDED_TOKENS: Final = frozenset(
    {
        "id",
        "alarm",
        "alert",
        "status",
        "state",
        "flag",
        "flags",
        "error",
        "err",
        "fault",
        "mode",
        "type",
        "version",
        "ver",
        "enable",
        "enabled",
        "event",
        "config",
        "cfg",
        "code",
        "mask",
        "bits",
        "setting",
    }
)

UNIT_DEVICE_CLASSES: Mapping[str, tuple[str | None, str | None]] = MappingProxyType(
    {
        CELSIUS: ("temperature", MEASUREMENT),
        FAHRENHEIT: ("temperature", MEASUREMENT),
        "V": ("voltage", MEASUREMENT),
        "mV": ("voltage", MEASUREMENT),
        "A": ("current", MEASUREMENT),
        "mA": ("current", MEASUREMENT),
        "W": ("power", MEASUREMENT),
        "kW": ("power", MEASUREMENT),
        "Wh": ("energy", TOTAL_INCREASING),
        "kWh": ("energy", TOTAL_INCREASING),
        "MWh": ("energy", TOTAL_INCREASING),
        "hPa": ("pressure", MEASUREMENT),
        "Pa": ("pressure", MEASUREMENT),
        "kPa": ("pressure", MEASUREMENT),
        "bar": ("pressure", MEASUREMENT),
        "mbar": ("pressure", MEASUREMENT),
        "psi": ("pressure", MEASUREMENT),
        "lx": ("illuminance", MEASUREMENT),
        "dBm": ("signal_strength", MEASUREMENT),
        "dBA": ("sound_pressure", MEASUREMENT),
        "Hz": ("frequency", MEASUREMENT),
        "kHz": ("frequency", MEASUREMENT),
        "MHz": ("frequency", MEASUREMENT),
        "mm": ("distance", MEASUREMENT),
        "cm": ("distance", MEASUREMENT),
        "m": ("distance", MEASUREMENT),
        "km": ("distance", MEASUREMENT),
        "kg": ("weight", MEASUREMENT),
        "g": ("weight", MEASUREMENT),
        "s": ("duration", MEASUREMENT),
        "ms": ("duration", MEASUREMENT),
        "min": ("duration", MEASUREMENT),
        "h": ("duration", MEASUREMENT),
        "d": ("duration", MEASUREMENT),
        "m/s": ("speed", MEASUREMENT),
        "km/h": ("speed", MEASUREMENT),
        "mph": ("speed", MEASUREMENT),
        "mm/h": ("precipitation_intensity", MEASUREMENT),
        MICROSIEMENS_PER_CM: ("conductivity", MEASUREMENT),
        "mS/cm": ("conductivity", MEASUREMENT),
        WATTS_PER_M2: ("irradiance", MEASUREMENT),
        "Bq/m³": ("radon", MEASUREMENT),
        "VA": ("apparent_power", MEASUREMENT),
        "var": ("reactive_power", MEASUREMENT),
        "L/min": ("volume_flow_rate", MEASUREMENT),
        "m³/h": ("volume_flow_rate", MEASUREMENT),
    }
)
"""Device class and state class of a unit that names its quantity, for keys no rule knows."""

UNIT_PRECISION: Mapping[str, int] = MappingProxyType(
    {
        CELSIUS: 1,
        FAHRENHEIT: 1,
        KELVIN: 1,
        "V": 2,
        "mV": 0,
        "A": 3,
        "mA": 0,
        "W": 0,
        "kW": 2,
        "Wh": 0,
        "kWh": 3,
        "hPa": 1,
        "Pa": 0,
        "kPa": 2,
        "bar": 3,
        "mbar": 1,
        "lx": 0,
        "ppm": 0,
        "ppb": 0,
        MICROGRAMS_PER_M3: 0,
        "mm": 0,
        "cm": 1,
        "m": 2,
        "km": 3,
        "dBm": 0,
        "dB": 1,
        "dBA": 1,
        "Hz": 0,
        "m/s": 1,
        "km/h": 1,
        "mm/h": 1,
        "kg": 2,
        "g": 0,
        MICROSIEMENS_PER_CM: 0,
        WATTS_PER_M2: 0,
    }
)
"""Display precision by unit, where the rule sets none."""

# Units written the way Home Assistant writes them are kept as they are; other spellings are
# looked up, without case and spaces, in _UNIT_SPELLINGS.
_CANONICAL_UNITS: Final = frozenset(
    {
        unit
        for rule in SENSOR_RULES
        for unit in (*rule.units, rule.default_unit, *rule.unit_aliases.values())
        if unit is not None
    }
    | set(UNIT_DEVICE_CLASSES)
    | set(SUFFIX_UNITS.values())
)
_UNIT_SPELLINGS: Mapping[str, str] = MappingProxyType(
    {
        **dict.fromkeys(("c", "°c", "degc", "celsius", "℃", "oc", "deg_c"), CELSIUS),
        **dict.fromkeys(("f", "°f", "degf", "fahrenheit", "℉"), FAHRENHEIT),
        **dict.fromkeys(("k", "kelvin"), KELVIN),
        **dict.fromkeys(("%", "%rh", "rh", "percent", "pct", "perc"), PERCENT),
        **dict.fromkeys(("v", "volt", "volts"), "V"),
        **dict.fromkeys(("mv", "millivolt", "millivolts"), "mV"),
        **dict.fromkeys(("a", "amp", "amps", "ampere"), "A"),
        "ma": "mA",
        **dict.fromkeys(("w", "watt", "watts"), "W"),
        "kw": "kW",
        "wh": "Wh",
        "kwh": "kWh",
        "hpa": "hPa",
        "pa": "Pa",
        "kpa": "kPa",
        "mbar": "mbar",
        "bar": "bar",
        "mmhg": "mmHg",
        "inhg": "inHg",
        **dict.fromkeys(("lux", "lx"), "lx"),
        "ppm": "ppm",
        "ppb": "ppb",
        **dict.fromkeys(
            ("ug/m3", "ug/m³", "µg/m3", "µg/m³", "μg/m3", "ugm3", "ug/m^3"), MICROGRAMS_PER_M3
        ),
        **dict.fromkeys(("mg/m3", "mg/m^3"), MILLIGRAMS_PER_M3),
        **dict.fromkeys(("g/m3", "g/m^3"), "g/m³"),
        **dict.fromkeys(("m3", "m^3", "cbm", "cubic_meters"), CUBIC_METERS),
        **dict.fromkeys(("l", "liter", "litre", "liters", "litres", "ltr"), "L"),
        "ml": "mL",
        **dict.fromkeys(("m", "meter", "metre", "meters", "metres"), "m"),
        "mm": "mm",
        "cm": "cm",
        "km": "km",
        "hz": "Hz",
        "khz": "kHz",
        "mhz": "MHz",
        "db": "dB",
        **dict.fromkeys(("dba", "db(a)", "dba_"), "dBA"),
        "dbm": "dBm",
        **dict.fromkeys(("m/s", "mps", "ms-1", "m/sec"), "m/s"),
        **dict.fromkeys(("km/h", "kmh", "kph"), "km/h"),
        **dict.fromkeys(("kn", "kt", "knots"), "kn"),
        **dict.fromkeys(("°", "deg", "degree", "degrees"), DEGREE),
        **dict.fromkeys(("mm/h", "mm/hr"), "mm/h"),
        **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), "s"),
        **dict.fromkeys(("min", "mins", "minute", "minutes"), "min"),
        **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "h"),
        **dict.fromkeys(("d", "day", "days"), "d"),
        "ms": "ms",
        "kg": "kg",
        "g": "g",
        **dict.fromkeys(("us/cm", "µs/cm", "μs/cm", "uscm"), MICROSIEMENS_PER_CM),
        "ms/cm": "mS/cm",
        **dict.fromkeys(("w/m2", "w/m²", "w/m^2"), WATTS_PER_M2),
        **dict.fromkeys(("°/s", "deg/s", "dps"), DEGREES_PER_SECOND),
        **dict.fromkeys(("bq/m3", "bq/m³"), "Bq/m³"),
        **dict.fromkeys(("uv index", "uvindex", "uvi", "uv"), UV_INDEX),
        **dict.fromkeys(("ohm", "ohms"), "Ω"),
        **dict.fromkeys(("kohm", "kohms"), "kΩ"),
    }
)


def normalize_unit(unit: str | None) -> str | None:
    """Return ``unit`` spelt the way Home Assistant spells it; unknown units come back stripped."""
    if unit is None:
        return None
    text = unit.strip()
    if not text:
        return None
    if text in _CANONICAL_UNITS:
        return text
    return _UNIT_SPELLINGS.get(text.lower().replace(" ", ""), text)


@dataclass(frozen=True, slots=True)
class _Compiled[RuleT]:
    """A rule with each of its names split into a token set."""

    rule: RuleT
    names: tuple[frozenset[str], ...]


def _compile[RuleT: (SensorRule, BinaryRule)](
    rules: tuple[RuleT, ...],
) -> tuple[_Compiled[RuleT], ...]:
    """Split the names of ``rules`` into token sets."""
    return tuple(
        _Compiled(rule, tuple(frozenset(name.split("_")) for name in rule.names)) for rule in rules
    )


_SENSOR_COMPILED: Final = _compile(SENSOR_RULES)
_BINARY_COMPILED: Final = _compile(BINARY_RULES)
_KNOWN_TOKENS: Final = frozenset(
    token
    for compiled in (*_SENSOR_COMPILED, *_BINARY_COMPILED)
    for name in compiled.names
    for token in name
) | frozenset(SUFFIX_UNITS)
_WORD_AND_NUMBER = re.compile(r"([a-z]+)\d+")


def key_tokens(key: str) -> list[str]:
    """
    Split a key into the tokens the rules match.

    Pure numbers are left out; a word glued to a number (``temperature1``) is read as the word
    unless the whole token is known (``co2``, ``pm10``).
    """
    tokens: list[str] = []
    for part in snake_case(key).split("_"):
        if not part or part.isdigit():
            continue
        match = None if part in _KNOWN_TOKENS else _WORD_AND_NUMBER.fullmatch(part)
        tokens.append(match.group(1) if match and match.group(1) in _KNOWN_TOKENS else part)
    return tokens


def _best[RuleT: (SensorRule, BinaryRule)](
    compiled_rules: tuple[_Compiled[RuleT], ...], tokens: list[str]
) -> tuple[RuleT, frozenset[str]] | None:
    """Return the best rule matching ``tokens`` and the token set of its matching name."""
    positions = {token: index for index, token in enumerate(tokens)}
    best: tuple[RuleT, frozenset[str]] | None = None
    best_rank: tuple[int, int, int] = (0, 0, -1)
    for compiled in compiled_rules:
        for name in compiled.names:
            if name.issubset(positions):
                rank = (len(name), compiled.rule.priority, max(positions[t] for t in name))
                if rank > best_rank:
                    best, best_rank = (compiled.rule, name), rank
    return best


def _binary_meta(tokens: list[str]) -> FieldMeta:
    """Return the metadata of a boolean field."""
    match = _best(_BINARY_COMPILED, tokens)
    return FieldMeta(Platform.BINARY_SENSOR, match[0].device_class if match else None)


def _sensor_rule(tokens: list[str]) -> tuple[SensorRule | None, bool]:
    """
    Return the numeric rule for ``tokens`` and whether the key is excluded from the rules.

    A key is excluded when a token beside the matched name says the field is about the quantity
    rather than the quantity itself (``pressure_sensor_id``, ``temperature_alarm``), or names an
    identifier, code or status (``error_code``).
    """
    match = _best(_SENSOR_COMPILED, tokens)
    rule, name = match if match is not None else (None, frozenset[str]())
    if EXCLUDED_TOKENS.intersection(tokens).difference(name):
        return None, True
    return rule, False


def _rule_meta(rule: SensorRule, unit: str | None, value: object) -> FieldMeta:
    """Return the metadata a numeric rule gives for ``unit`` (already resolved, maybe None)."""
    if unit is None:
        unit = rule.default_unit
        if (
            rule.millivolts_above is not None
            and isinstance(value, int | float)
            and abs(value) > rule.millivolts_above
        ):
            unit = "mV"
    unit = rule.unit_aliases.get(unit, unit) if unit is not None else None
    device_class = rule.units.get(unit)
    state_class = rule.state_class
    if state_class == MEASUREMENT_ANGLE and unit != DEGREE:
        state_class = MEASUREMENT
    if rule.precision is not None and (unit == rule.default_unit or rule.default_unit is None):
        precision: int | None = rule.precision
    else:
        precision = UNIT_PRECISION.get(unit) if unit is not None else None
    return FieldMeta(Platform.SENSOR, device_class, unit, state_class, precision)


def _unit_meta(unit: str | None) -> FieldMeta:
    """Return the metadata of a numeric field that only its unit describes."""
    if unit is None:
        return FieldMeta(Platform.SENSOR, state_class=MEASUREMENT)
    device_class, state_class = UNIT_DEVICE_CLASSES.get(unit, (None, MEASUREMENT))
    return FieldMeta(Platform.SENSOR, device_class, unit, state_class, UNIT_PRECISION.get(unit))


def infer_metadata(key: str, value: object, unit: str | None = None) -> FieldMeta:
    """
    Infer the entity metadata of the field ``key`` holding ``value``.

    A bool gives a binary sensor, a string a plain sensor, a number a sensor described by the
    rules. ``None`` is read like a number when the key or unit says what it is, else like a
    string, and so is a unitless number whose key names an identifier, status or alarm.
    ``unit`` (as a codec states it) wins over a unit suffix in the key, which wins over the
    rule's default unit. A unit Home Assistant does not allow for the device class keeps the
    unit and drops the device class.
    """
    tokens = key_tokens(key)
    if isinstance(value, bool):
        return _binary_meta(tokens)
    if not (value is None or isinstance(value, int | float)):
        return FieldMeta(Platform.SENSOR)
    suffix: str | None = None
    if tokens and tokens[-1] in SUFFIX_UNITS and (len(tokens) > 1 or len(tokens[-1]) > 2):
        suffix = tokens.pop()
    rule, excluded = _sensor_rule(tokens)
    suffix_unit = SUFFIX_UNITS[suffix] if suffix is not None else None
    if suffix is not None and rule is not None:
        aliased = rule.unit_aliases.get(suffix_unit or "", suffix_unit)
        if aliased not in rule.units and suffix in _WEAK_SUFFIXES:
            suffix_unit = None
    elif suffix in _RULE_ONLY_SUFFIXES:
        suffix_unit = None
    resolved = normalize_unit(unit) or suffix_unit
    if rule is not None:
        return _rule_meta(rule, resolved, value)
    if resolved is None and (value is None or excluded):
        return FieldMeta(Platform.SENSOR)
    return _unit_meta(resolved)


def sensor_combinations() -> Iterator[tuple[str | None, str | None, str | None]]:
    """Yield every ``(device_class, unit, state_class)`` the tables can give a numeric field."""
    for rule in SENSOR_RULES:
        for unit, device_class in rule.units.items():
            yield device_class, unit, rule.state_class
    for unit, (device_class, state_class) in UNIT_DEVICE_CLASSES.items():
        yield device_class, unit, state_class


_LOCATION_WORDS: Final = (
    ("latitude", ("longitude",)),
    ("lat", ("lon", "lng")),
)
_ALTITUDE_WORDS: Final = ("altitude", "alt", "elevation")


def location_pairs(keys: Iterable[str]) -> list[tuple[str, str, str, str | None]]:
    """
    Find latitude/longitude pairs among flat keys.

    Returns ``(prefix, latitude_key, longitude_key, altitude_key or None)`` for every
    ``<p>latitude``/``<p>longitude`` or ``<p>lat``/``<p>lon`` (or ``lng``) pair, with or without
    ``_`` before the word: ``gps_4_latitude`` and ``gps_4_longitude`` (and ``gps_4_altitude``)
    give prefix ``gps_4``; ``latitude`` and ``longitude`` give prefix ``""``.
    """
    key_list = list(keys)
    present = set(key_list)
    pairs: list[tuple[str, str, str, str | None]] = []
    used: set[str] = set()
    for key in key_list:
        for lat_word, lon_words in _LOCATION_WORDS:
            if not key.endswith(lat_word) or key in used:
                continue
            stem = key[: -len(lat_word)]
            lon_key = next(
                (stem + word for word in lon_words if stem + word in present - used), None
            )
            if lon_key is None:
                continue
            alt_key = next(
                (stem + word for word in _ALTITUDE_WORDS if stem + word in present), None
            )
            used.update((key, lon_key))
            pairs.append((stem.rstrip("_"), key, lon_key, alt_key))
    return pairs
