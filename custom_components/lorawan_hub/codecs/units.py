"""
Units as Home Assistant spells them, and what a unit says about a field.

Their other spellings, the key suffixes that state a unit, and the device class, state class and
display precision a unit implies on its own. Plain strings: nothing here imports Home Assistant.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

# State classes as Home Assistant spells them.
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
WEAK_SUFFIXES: Final = frozenset({"a", "c", "f", "g", "h", "l", "m", "s", "v", "w", "ms", "min"})
# Suffixes never read as a unit unless a matching rule accepts them ("value_min" is a minimum).
RULE_ONLY_SUFFIXES: Final = frozenset({"min"})

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

UNIT_SPELLINGS: Mapping[str, str] = MappingProxyType(
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
