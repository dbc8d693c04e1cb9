"""The MQTT baseline: Home Assistant's ``mqtt`` integration, discovered sensors, templates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
import json
import time
from unittest.mock import MagicMock

from paho.mqtt.client import MQTTMessage

from homeassistant.components.mqtt.client import MQTT
from homeassistant.components.mqtt.models import DATA_MQTT
from homeassistant.components.sensor import SensorStateClass
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockMqttReasonCode,
    async_fire_mqtt_message,
)

from .harness import entity_id_of
from .results import BenchError
from .uplinks import FIELDS, GATEWAY_ID, Reading, lpp_payload

MQTT_DEVICE = "70b3d57ebe000003"
MQTT_STATE_TOPIC = f"application/bench/device/{MQTT_DEVICE}/event/up"


def chirpstack_message(index: int, values: Reading, moment: datetime) -> bytes:
    """Return the uplink as ChirpStack v4 publishes it: metadata and the decoded ``object``."""
    payload = lpp_payload(values)
    body = {
        "deduplicationId": f"1c0b7c0e-2b7a-4d6e-9f3e-{index:012x}",
        "time": moment.isoformat(),
        "deviceInfo": {
            "tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
            "tenantName": "ChirpStack",
            "applicationId": "bench",
            "applicationName": "Benchmark",
            "deviceProfileId": "cdc6f5f5-26a8-4d2d-a7e4-4c31a7da4c5a",
            "deviceProfileName": "Cayenne LPP climate",
            "deviceName": "mqtt-climate",
            "devEui": MQTT_DEVICE,
            "deviceClassEnabled": "CLASS_A",
            "tags": {},
        },
        "devAddr": "e0be0003",
        "adr": True,
        "dr": 5,
        "fCnt": index,
        "fPort": 1,
        "confirmed": False,
        "data": payload.hex(),
        "object": {
            definition.json_key: value for definition, value in zip(FIELDS, values, strict=True)
        },
        "rxInfo": [
            {
                "gatewayId": GATEWAY_ID.lower(),
                "uplinkId": 40_000 + index,
                "rssi": -100 - index % 20,
                "snr": round(6.2 - index % 10 / 10, 1),
                "channel": 0,
                "context": "AAAAAA==",
                "crcStatus": "CRC_OK",
            }
        ],
        "txInfo": {
            "frequency": 868_100_000,
            "modulation": {
                "lora": {"bandwidth": 125_000, "spreadingFactor": 7, "codeRate": "CR_4_5"}
            },
        },
    }
    return json.dumps(body).encode()


async def setup_mqtt(hass: HomeAssistant, paho: MagicMock) -> tuple[MockConfigEntry, MQTT]:
    """Set up the ``mqtt`` entry, connected to no broker, as the ``mqtt_mock`` fixture does."""
    entry = MockConfigEntry(
        domain="mqtt",
        title="MQTT",
        data={"broker": "mock-broker", "protocol": "5"},
        options={"birth_message": {}},
        version=1,
        minor_version=2,
    )
    entry.add_to_hass(hass)
    if not await hass.config_entries.async_setup(entry.entry_id):
        raise BenchError("the mqtt entry did not set up")
    await hass.async_block_till_done()
    client = hass.data[DATA_MQTT].client
    client.connected = True
    paho.on_connect(paho, None, 0, MockMqttReasonCode())
    await hass.async_block_till_done()
    return entry, client


async def discover_mqtt_sensors(hass: HomeAssistant) -> list[str]:
    """Create the five sensors by MQTT discovery; return their entity IDs."""
    device = {"identifiers": [MQTT_DEVICE], "name": "MQTT climate", "manufacturer": "Bench"}
    for definition in FIELDS:
        config = {
            "name": definition.name,
            "unique_id": f"bench_mqtt_{definition.json_key}",
            "state_topic": MQTT_STATE_TOPIC,
            "value_template": f"{{{{ value_json.object.{definition.json_key} }}}}",
            "device_class": definition.device_class.value,
            "unit_of_measurement": definition.unit,
            "state_class": SensorStateClass.MEASUREMENT.value,
            "suggested_display_precision": definition.precision,
            "device": device,
        }
        async_fire_mqtt_message(
            hass, f"homeassistant/sensor/bench_{definition.json_key}/config", json.dumps(config)
        )
    await hass.async_block_till_done()
    return [entity_id_of(hass, "mqtt", f"bench_mqtt_{d.json_key}") for d in FIELDS]


def lean_mqtt_publisher(paho: MagicMock) -> Callable[[bytes], None]:
    """
    Return a function delivering a message on the state topic as paho's reader does.

    It builds one ``MQTTMessage`` and calls the ``on_message`` callback the MQTT client gave paho;
    the test helper ``async_fire_mqtt_message`` does the same plus a ``Mock`` per call.
    """
    on_message = paho.on_message
    topic = MQTT_STATE_TOPIC.encode()

    def publish(payload: bytes) -> None:
        message = MQTTMessage(topic=topic)
        message.payload = payload
        message.qos = 0
        message.retain = False
        message.timestamp = time.monotonic()
        message.properties = None
        on_message(paho, None, message)

    return publish


@dataclass(frozen=True, slots=True)
class MqttPath:
    """MQTT with its five discovered sensors, ready to be fed uplink ``index`` as one message."""

    sensors: list[str]
    step: Callable[[int], None]
    """Deliver the message as paho's reader does."""
    helper_step: Callable[[int], None]
    """Deliver the message with the test helper ``async_fire_mqtt_message``."""


async def prepare_mqtt(
    hass: HomeAssistant, paho: MagicMock, readings: Sequence[Reading], moments: Sequence[datetime]
) -> MqttPath:
    """Set up the ``mqtt`` entry and its sensors; build the message of every uplink."""
    await setup_mqtt(hass, paho)
    sensors = await discover_mqtt_sensors(hass)
    messages = [
        chirpstack_message(index, readings[index], moments[index]) for index in range(len(readings))
    ]
    lean = lean_mqtt_publisher(paho)

    def mqtt(index: int) -> None:
        lean(messages[index])

    def mqtt_helper(index: int) -> None:
        async_fire_mqtt_message(hass, MQTT_STATE_TOPIC, messages[index])

    return MqttPath(sensors=sensors, step=mqtt, helper_step=mqtt_helper)
