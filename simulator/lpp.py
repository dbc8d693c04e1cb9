"""Realistic demo payloads, Cayenne LPP encoded by the integration's own codec."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
import math
import random

from custom_components.lorawan_hub.codecs.cayenne import encode_cayenne_lpp

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
            return encode_cayenne_lpp(
                [
                    (1, "digital_input", int(state.door_open)),
                    (2, "presence", state.present),
                    (3, "percentage", battery),
                ]
            )
        if kind == "tracker":
            state.latitude += 0.2 * (home[0] - state.latitude) + rng.gauss(0, 0.0005)
            state.longitude += 0.2 * (home[1] - state.longitude) + rng.gauss(0, 0.0005)
            state.altitude += 0.2 * (12 - state.altitude) + rng.gauss(0, 0.5)
            return encode_cayenne_lpp(
                [
                    (1, "gps", (state.latitude, state.longitude, state.altitude)),
                    (2, "voltage", state.voltage),
                ]
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
        return encode_cayenne_lpp(
            [
                (1, "temperature", state.temperature),
                (2, "humidity", state.humidity),
                (3, "barometric_pressure", state.pressure),
                (4, "illuminance", lux),
                (5, "concentration", state.co2),
                (6, "voltage", state.voltage),
            ]
        )
