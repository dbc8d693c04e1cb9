"""What every path is fed: the five Cayenne LPP fields, their values per uplink, Orion frames."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
import json

from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.const import (
    LIGHT_LUX,
    PERCENTAGE,
    UnitOfElectricPotential,
    UnitOfPressure,
    UnitOfTemperature,
)

from custom_components.lorawan_hub.codecs.cayenne import encode_cayenne_lpp
from simulator.orion import OrionDevice, OrionSimulator, StoredUplink

PIPELINE_DEVICE = "70B3D57EBE000001"
LATENCY_DEVICE = "70B3D57EBE000002"
GATEWAY_ID = "0000B827EBFD64DE"
APP_KEY = "bench-app-key"
WARM_UP = 500
CHUNK = 100
"""Uplinks a path takes in one turn of a batch."""
FIRST_INDEX = 2
"""Uplinks 0 and 1 prepare the paths; the measurements start with uplink 2."""
VERIFY = 200
"""Uplinks of the untimed pass that counts every state write."""

type Reading = tuple[float, float, float, float, int]


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One of the five fields: its decoded key and what a sensor of it looks like."""

    key: str
    """Key of the decoded Cayenne LPP field (type name and channel)."""
    lpp_type: str
    channel: int
    name: str
    json_key: str
    """Key in the ``object`` of the MQTT message."""
    device_class: SensorDeviceClass
    unit: str
    precision: int


FIELDS = (
    FieldDef(
        "temperature_1",
        "temperature",
        1,
        "Temperature",
        "temperature",
        SensorDeviceClass.TEMPERATURE,
        UnitOfTemperature.CELSIUS,
        1,
    ),
    FieldDef(
        "humidity_2",
        "humidity",
        2,
        "Humidity",
        "humidity",
        SensorDeviceClass.HUMIDITY,
        PERCENTAGE,
        1,
    ),
    FieldDef(
        "barometric_pressure_3",
        "barometric_pressure",
        3,
        "Pressure",
        "pressure",
        SensorDeviceClass.ATMOSPHERIC_PRESSURE,
        UnitOfPressure.HPA,
        1,
    ),
    FieldDef(
        "voltage_4",
        "voltage",
        4,
        "Voltage",
        "voltage",
        SensorDeviceClass.VOLTAGE,
        UnitOfElectricPotential.VOLT,
        2,
    ),
    FieldDef(
        "illuminance_5",
        "illuminance",
        5,
        "Illuminance",
        "illuminance",
        SensorDeviceClass.ILLUMINANCE,
        LIGHT_LUX,
        0,
    ),
)


def reading(index: int) -> Reading:
    """Return the five values of uplink ``index``: each differs from the previous uplink's."""
    return (
        round(15 + (index % 200) / 10, 1),
        30 + (index % 100) / 2,
        round(950 + (index % 1000) / 10, 1),
        round(3 + (index % 100) / 100, 2),
        index % 10_000,
    )


def lpp_payload(values: Reading) -> bytes:
    """Encode a reading as the Cayenne LPP frame a device would send."""
    return encode_cayenne_lpp(
        (definition.channel, definition.lpp_type, value)
        for definition, value in zip(FIELDS, values, strict=True)
    )


def whole_second(moment: datetime) -> datetime:
    """Drop the microseconds: Orion's times have whole seconds."""
    return moment.replace(microsecond=0)


SPAN = timedelta(hours=1)
"""What the times of the throughput paths' uplinks span at most: from ten minutes ago they stay
well within the hour ahead that Orion takes for a time (a time further ahead is no time: the
uplink is received "now", older than those before it, and left out)."""


def uplink_times(total: int, now: datetime) -> list[datetime]:
    """
    Return the times of ``total`` uplinks: one second apart from ten minutes before ``now``.

    Closer together when that would span more than ``SPAN``: Orion's times, in whole seconds, then
    repeat a second, and the uplinks are told apart by their frame counters.
    """
    start = whole_second(now) - timedelta(minutes=10)
    step = min(timedelta(seconds=1), SPAN / total)
    return [start + step * index for index in range(total)]


def orion_frame(
    simulator: OrionSimulator, device: OrionDevice, f_cnt: int, moment: datetime, payload: bytes
) -> str:
    """Return a ``realtime_data`` frame as the simulator puts it on the WebSocket."""
    uplink = StoredUplink(
        id=1_000_000 + f_cnt,
        dev_eui=device.dev_eui,
        dev_addr=device.dev_addr,
        fcnt=f_cnt,
        time=moment,
        data_hex=payload.hex().upper(),
        rssi=-100 - f_cnt % 20,
        lsnr=round(6.2 - f_cnt % 10 / 10, 1),
        datr=5,
        freq=868.1,
        gateway_id=GATEWAY_ID,
    )
    # The simulator builds the frame it sends; it has no public way to build one without sending.
    return json.dumps(simulator._realtime_frame(uplink))  # noqa: SLF001 - no public builder
