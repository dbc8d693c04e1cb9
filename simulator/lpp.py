"""
A minimal Cayenne LPP encoder, and realistic demo payloads built with it.

A Cayenne LPP payload is a sequence of items ``channel, type, data``; the data
of every type has a fixed size and resolution and is big-endian.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
import math
import random
from typing import Self

DIGITAL_INPUT = 0
ILLUMINANCE = 101
PRESENCE = 102
TEMPERATURE = 103
HUMIDITY = 104
BAROMETER = 115
VOLTAGE = 116
PERCENTAGE = 120
CONCENTRATION = 125
GPS = 136


def _scaled(value: float, resolution: float, size: int, *, signed: bool, name: str) -> bytes:
    """Encode ``value`` in units of ``resolution`` on ``size`` big-endian bytes."""
    raw = round(value / resolution)
    try:
        return raw.to_bytes(size, "big", signed=signed)
    except OverflowError:
        raise ValueError(f"{name} {value} does not fit the Cayenne LPP field") from None


class LppPayload:
    """
    Build a Cayenne LPP payload item by item.

    Every ``add_*`` method returns the payload itself, so calls can be chained:
    ``LppPayload().add_temperature(1, 21.5).add_humidity(2, 45).to_bytes()``.
    """

    def __init__(self) -> None:
        """Start an empty payload."""
        self._buffer = bytearray()

    def _add(self, channel: int, lpp_type: int, data: bytes) -> Self:
        if not 0 <= channel <= 255:
            raise ValueError(f"channel {channel} is not a byte")
        self._buffer += bytes((channel, lpp_type)) + data
        return self

    def add_digital_input(self, channel: int, value: int) -> Self:
        """Add a digital input (type 0): one unsigned byte."""
        return self._add(channel, DIGITAL_INPUT, _scaled(value, 1, 1, signed=False, name="input"))

    def add_illuminance(self, channel: int, lux: float) -> Self:
        """Add an illuminance (type 101): 1 lx, two unsigned bytes."""
        return self._add(channel, ILLUMINANCE, _scaled(lux, 1, 2, signed=False, name="illuminance"))

    def add_presence(self, channel: int, present: bool) -> Self:
        """Add a presence (type 102): one byte, 1 when present."""
        return self._add(channel, PRESENCE, bytes((1 if present else 0,)))

    def add_temperature(self, channel: int, celsius: float) -> Self:
        """Add a temperature (type 103): 0.1 °C, two signed bytes."""
        return self._add(
            channel, TEMPERATURE, _scaled(celsius, 0.1, 2, signed=True, name="temperature")
        )

    def add_humidity(self, channel: int, percent: float) -> Self:
        """Add a relative humidity (type 104): 0.5 %, one unsigned byte."""
        return self._add(channel, HUMIDITY, _scaled(percent, 0.5, 1, signed=False, name="humidity"))

    def add_barometric_pressure(self, channel: int, hpa: float) -> Self:
        """Add a barometric pressure (type 115): 0.1 hPa, two unsigned bytes."""
        return self._add(channel, BAROMETER, _scaled(hpa, 0.1, 2, signed=False, name="pressure"))

    def add_voltage(self, channel: int, volts: float) -> Self:
        """Add a voltage (type 116): 0.01 V, two unsigned bytes."""
        return self._add(channel, VOLTAGE, _scaled(volts, 0.01, 2, signed=False, name="voltage"))

    def add_percentage(self, channel: int, percent: float) -> Self:
        """Add a percentage (type 120): 1 %, one unsigned byte."""
        return self._add(
            channel, PERCENTAGE, _scaled(percent, 1, 1, signed=False, name="percentage")
        )

    def add_concentration(self, channel: int, ppm: float) -> Self:
        """Add a concentration (type 125): 1 ppm, two unsigned bytes."""
        return self._add(
            channel, CONCENTRATION, _scaled(ppm, 1, 2, signed=False, name="concentration")
        )

    def add_gps(self, channel: int, latitude: float, longitude: float, altitude: float) -> Self:
        """
        Add a GPS position (type 136).

        Latitude and longitude in 0.0001° and altitude in 0.01 m, each on three
        signed bytes.
        """
        data = (
            _scaled(latitude, 0.0001, 3, signed=True, name="latitude")
            + _scaled(longitude, 0.0001, 3, signed=True, name="longitude")
            + _scaled(altitude, 0.01, 3, signed=True, name="altitude")
        )
        return self._add(channel, GPS, data)

    def to_bytes(self) -> bytes:
        """Return the encoded payload."""
        return bytes(self._buffer)

    def __len__(self) -> int:
        """Return the payload's size in bytes."""
        return len(self._buffer)


DEFAULT_HOME = (52.0907, 5.1214)
"""Where trackers without coordinates of their own wander (latitude, longitude)."""
KINDS = ("sensor", "door", "tracker")


def guess_kind(description: str) -> str:
    """Guess what a device simulates from its description: sensor, door or tracker."""
    text = description.lower()
    if any(word in text for word in ("door", "window", "contact")):
        return "door"
    if any(word in text for word in ("tracker", "gps")):
        return "tracker"
    return "sensor"


@dataclass
class _DeviceState:
    """The readings of one simulated device, carried from one uplink to the next."""

    temperature: float
    humidity: float
    pressure: float
    co2: float
    voltage: float
    door_open: bool = False
    present: bool = False
    latitude: float = 0.0
    longitude: float = 0.0
    altitude: float = 12.0


class DemoPayloads:
    """
    Realistic, slowly changing Cayenne LPP payloads for demo devices.

    * ``sensor``: temperature (ch 1) drifting around 21 °C with the time of
      day, humidity (ch 2) near 45 %, pressure (ch 3) near 1013 hPa,
      day-like illuminance (ch 4), CO2 (ch 5) and a slowly falling battery
      voltage (ch 6) from about 3.6 V.
    * ``door``: door contact as a digital input (ch 1), presence (ch 2) and
      battery percentage (ch 3), the first two toggling now and then.
    * ``tracker``: a GPS position (ch 1) wandering near a fixed point and the
      battery voltage (ch 2).

    The same seed gives the same sequence for the same calls.
    """

    def __init__(self, seed: int = 1) -> None:
        """Start every device's readings from ``seed``."""
        self._rng = random.Random(seed)
        self._states: dict[str, _DeviceState] = {}

    def _state(self, key: str, home: tuple[float, float]) -> _DeviceState:
        state = self._states.get(key)
        if state is None:
            rng = self._rng
            state = _DeviceState(
                temperature=21 + rng.uniform(-1.5, 1.5),
                humidity=45 + rng.uniform(-5, 5),
                pressure=1013 + rng.uniform(-4, 4),
                co2=600 + rng.uniform(-100, 100),
                voltage=3.6 + rng.uniform(-0.05, 0.05),
                door_open=rng.random() < 0.5,
                latitude=home[0] + rng.gauss(0, 0.001),
                longitude=home[1] + rng.gauss(0, 0.001),
            )
            self._states[key] = state
        return state

    def next_payload(
        self, key: str, kind: str, when: datetime, *, home: tuple[float, float] | None = None
    ) -> bytes:
        """Return the next payload of device ``key`` simulating ``kind`` at ``when``."""
        if kind not in KINDS:
            raise ValueError(f"unknown device kind {kind!r}")
        home = home or DEFAULT_HOME
        state = self._state(key, home)
        rng = self._rng
        state.voltage = max(2.9, state.voltage - rng.uniform(0, 0.002))
        hour = when.hour + when.minute / 60
        if kind == "door":
            if rng.random() < 0.25:
                state.door_open = not state.door_open
            if rng.random() < 0.3:
                state.present = not state.present
            battery = min(100.0, max(0.0, (state.voltage - 2.9) / 0.7 * 100))
            return (
                LppPayload()
                .add_digital_input(1, int(state.door_open))
                .add_presence(2, state.present)
                .add_percentage(3, battery)
                .to_bytes()
            )
        if kind == "tracker":
            state.latitude += 0.2 * (home[0] - state.latitude) + rng.gauss(0, 0.0005)
            state.longitude += 0.2 * (home[1] - state.longitude) + rng.gauss(0, 0.0005)
            state.altitude += 0.2 * (12 - state.altitude) + rng.gauss(0, 0.5)
            return (
                LppPayload()
                .add_gps(1, state.latitude, state.longitude, state.altitude)
                .add_voltage(2, state.voltage)
                .to_bytes()
            )
        target = 21 + 1.5 * math.sin(2 * math.pi * (hour - 9) / 24)
        state.temperature += 0.15 * (target - state.temperature) + rng.gauss(0, 0.1)
        state.humidity = min(
            100.0, max(0.0, state.humidity + 0.1 * (45 - state.humidity) + rng.gauss(0, 0.8))
        )
        state.pressure += 0.05 * (1013 - state.pressure) + rng.gauss(0, 0.3)
        state.co2 = min(5000.0, max(400.0, state.co2 + 0.1 * (600 - state.co2) + rng.gauss(0, 20)))
        daylight = max(0.0, math.sin(math.pi * (hour - 6) / 12))
        lux = daylight * 900 * (0.8 + 0.4 * rng.random())
        return (
            LppPayload()
            .add_temperature(1, state.temperature)
            .add_humidity(2, state.humidity)
            .add_barometric_pressure(3, state.pressure)
            .add_illuminance(4, lux)
            .add_concentration(5, state.co2)
            .add_voltage(6, state.voltage)
            .to_bytes()
        )
