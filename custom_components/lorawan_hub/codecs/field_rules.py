"""
The rules that name a field's quantity from the words of its key (see ``metadata``).

A rule lists the key names it matches and, for a number, the units it accepts with the device class
each gives; for a boolean, the binary sensor device class. Plain strings: nothing here imports
Home Assistant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from .units import (
    CELSIUS,
    CUBIC_METERS,
    DEGREE,
    DEGREES_PER_SECOND,
    FAHRENHEIT,
    G_FORCE,
    KELVIN,
    MEASUREMENT,
    MEASUREMENT_ANGLE,
    MICROGRAMS_PER_M3,
    MICROSIEMENS_PER_CM,
    MILLIGRAMS_PER_M3,
    PERCENT,
    TOTAL,
    TOTAL_INCREASING,
    UV_INDEX,
    WATTS_PER_M2,
)

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
"""The numeric rules: extend them freely (names must stay unique)."""

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
