"""
Benchmark of LoRaWAN Hub beside Home Assistant's own costs, in one process and one Home Assistant.

Run it with ``scripts/bench`` (``--help`` lists the options). It measures, with the same Cayenne LPP
uplinks of five fields (temperature, humidity, pressure, voltage, illuminance, every value changing
on every uplink):

1. entity writes: five plain ``SensorEntity`` of a config entry, µs per "set five native values and
   write their states" (and, for reference, the same entities the pipeline writes per uplink plus
   a bus event);
2. the LoRaWAN Hub pipeline: ``realtime_data`` frames, as text, handed to the running Orion client's
   frame handler: JSON → Uplink → dedup → Cayenne decode → entity writes → bus event;
3. MQTT with templates: Home Assistant's ``mqtt`` integration (paho's network client mocked, as the
   test harness does) with five discovered sensors using ``value_template``, fed one JSON message
   per uplink;
4. socket → state latency with the Orion simulator pushing 200 uplinks/s over its WebSocket;
5. set-up of 1,000 and 10,000 devices whose fields the integration's storage already knows;
6. catch-up of 1,000 uplinks stored by the server while the entry was unloaded;
7. memory per device (tracemalloc) beyond Home Assistant's own cost for the same entities.

Throughput figures are medians over ``--runs`` batches of ``--uplinks`` items after a warm-up, in
wall-clock time and in CPU time of the event loop's thread; within a batch the paths take turns
every ``CHUNK`` uplinks, so that load from elsewhere on the machine touches them alike.
``--profile`` adds a cProfile breakdown of the pipeline (beside the same entity writes) and of a
set-up. Home Assistant runs as the test harness builds it (``async_test_home_assistant``), with
storage in a temporary directory and nothing listening on the network but the simulators on
127.0.0.1.
"""

# The benchmark drives the Orion client's frame handler and the MQTT client's message callback
# directly (the code paths a WebSocket frame or a broker message takes), so it reaches private
# members on purpose.
# ruff: noqa: SLF001

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Iterable, Iterator, Sequence
import contextlib
import cProfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import gc
import importlib
import importlib.metadata
import itertools
import json
import logging
import os
from pathlib import Path
import platform
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import tracemalloc
from types import CodeType
from typing import Any
from unittest.mock import MagicMock, Mock, patch

from aiohttp.resolver import ThreadedResolver
import orjson
from paho.mqtt.client import MQTTMessage

from homeassistant import loader, runner
from homeassistant.components.event import EventEntity
from homeassistant.components.mqtt.client import MQTT
from homeassistant.components.mqtt.models import DATA_MQTT
from homeassistant.components.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from homeassistant.config_entries import ConfigEntry, ConfigEntryState, ConfigFlow
from homeassistant.const import (
    CONF_TOKEN,
    CONF_URL,
    EVENT_STATE_CHANGED,
    LIGHT_LUX,
    PERCENTAGE,
    EntityCategory,
    Platform,
    UnitOfElectricPotential,
    UnitOfPressure,
    UnitOfTemperature,
    __version__ as ha_version,
)
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import (
    device_registry as dr,
    entity_platform,
    entity_registry as er,
    frame,
    translation,
)
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.util.hass_dict import HassKey
from homeassistant.util.ulid import ulid_now
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockModule,
    MockMqttReasonCode,
    MockPlatform,
    async_fire_mqtt_message,
    async_test_home_assistant,
    mock_config_flow,
    mock_integration,
    mock_platform,
)

# custom_components/ and simulator/ live at the repository root, which Home Assistant's loader
# also needs on the path to find the integration.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from custom_components.lorawan_hub.codecs.cayenne import decode_cayenne_lpp, encode_cayenne_lpp
from custom_components.lorawan_hub.codecs.decode import AUTO, decode
from custom_components.lorawan_hub.codecs.javascript import JsCodec, JsRunner
from custom_components.lorawan_hub.const import (
    CONF_APP_ID,
    CONF_CODEC,
    CONF_DEVICES,
    CONF_VENDOR,
    DEDUP_MEMORY,
    DOMAIN,
    EVENT_UPLINK,
    STORAGE_VERSION,
)
from custom_components.lorawan_hub.coordinator import LoRaWANHubCoordinator
from custom_components.lorawan_hub.device_types import (
    CONF_CODE,
    CONF_DEVICE_TYPES,
    CONF_NAME,
    CONF_SOURCE,
)
from custom_components.lorawan_hub.lns import orion as orion_module
from custom_components.lorawan_hub.lns.orion import OrionClient, uplink_from_frame
from custom_components.lorawan_hub.lns.parse import as_dict
from custom_components.lorawan_hub.vendors.orion import orion_unique_id
from simulator.orion import OrionDevice, OrionSimulator, StoredUplink

REPO_ROOT = Path(__file__).resolve().parent.parent
# scripts/repository_codecs.py, beside this file (on the path of a script run as a file).
repository_codecs: Any = importlib.import_module("repository_codecs")

# --- targets (DESIGN.md, "Quality bar" → Performance) ----------------------------------------

PIPELINE_RATIO_TARGET = 1.5
"""Pipeline ÷ entity writes, the issue's target."""
PIPELINE_RATIO_STRETCH = 1.2
"""Pipeline ÷ entity writes, DESIGN's target."""
MQTT_RATIO_TARGET = 3.0
"""MQTT + templates ÷ pipeline, at least."""
MQTT_RATIO_STRETCH = 4.0
LATENCY_P99_TARGET_MS = 5.0
SETUP_TARGET_S = 10.0
SETUP_TARGET_DEVICES = 10_000
CATCH_UP_TARGET_S = 2.0
CATCH_UP_UPLINKS = 1_000
MEMORY_TARGET_KB = 10.0

# --- what every path is fed -------------------------------------------------------------------

PIPELINE_DEVICE = "70B3D57EBE000001"
LATENCY_DEVICE = "70B3D57EBE000002"
MQTT_DEVICE = "70b3d57ebe000003"
MQTT_STATE_TOPIC = f"application/bench/device/{MQTT_DEVICE}/event/up"
GATEWAY_ID = "0000B827EBFD64DE"
APP_KEY = "bench-app-key"
WARM_UP = 500
CHUNK = 100
"""Uplinks a path takes in one turn of a batch."""
FIRST_INDEX = 2
"""Uplinks 0 and 1 prepare the paths; the measurements start with uplink 2."""
"""Uplinks a path takes in one turn of a batch."""
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
    return json.dumps(simulator._realtime_frame(uplink))


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


# --- results ----------------------------------------------------------------------------------


class BenchError(Exception):
    """A measurement could not be made or its result is wrong."""


@dataclass(slots=True)
class Series:
    """The per-batch results of one throughput measurement, in µs per item."""

    runs: list[float] = field(default_factory=list)
    """Wall-clock time."""
    cpu_runs: list[float] = field(default_factory=list)
    """CPU time of the event loop's thread: what is left when the machine is shared."""

    @property
    def median(self) -> float:
        """Median over the batches."""
        return statistics.median(self.runs)

    @property
    def cpu_median(self) -> float:
        """Median over the batches of the CPU time."""
        return statistics.median(self.cpu_runs)

    def span(self) -> str:
        """Return the lowest and highest batch."""
        return f"{min(self.runs):.1f}-{max(self.runs):.1f}"


@dataclass(slots=True)
class Results:
    """Everything measured, for the table and ``--json``."""

    machine: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    throughput: dict[str, Series] = field(default_factory=dict)
    latency: dict[str, float] = field(default_factory=dict)
    setup: list[dict[str, Any]] = field(default_factory=list)
    setup_skipped: str | None = None
    catch_up: list[float] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] | None = None
    javascript: dict[str, Any] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def progress(message: str) -> None:
    """Say what runs now (stderr, so that stdout holds only the report)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def machine_info() -> dict[str, Any]:
    """Describe the machine and the software measured."""
    cpu = platform.processor() or platform.machine()
    memory = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    gil = "free-threaded" if sysconfig.get_config_var("Py_GIL_DISABLED") else "with GIL"
    virtual = ""
    with contextlib.suppress(OSError):
        if "hypervisor" in Path("/proc/cpuinfo").read_text():
            virtual = " (virtual machine)"
    return {
        "cpu": f"{cpu}{virtual}",
        "cpus": os.cpu_count(),
        "memory": memory,
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()} ({gil})",
        "home_assistant": ha_version,
        "phcc": importlib.metadata.version("pytest-homeassistant-custom-component"),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "ulid": ulid_cost(),
    }


def ulid_cost() -> str:
    """Say which ULID implementation Home Assistant uses here: every state write makes one."""
    start = time.perf_counter_ns()
    for _ in range(20_000):
        ulid_now()
    each = (time.perf_counter_ns() - start) / 20_000 / 1000
    compiled = "_py_" not in ulid_now.__module__
    kind = "C extension" if compiled else "pure-Python fallback"
    return f"ulid_transform {kind}, {each:.2f} µs per ULID"


# --- Home Assistant's own entities: the baseline ----------------------------------------------

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


# --- the integration --------------------------------------------------------------------------


@dataclass(slots=True)
class Hub:
    """A loaded LoRaWAN Hub entry and its live connection."""

    entry: ConfigEntry
    coordinator: LoRaWANHubCoordinator
    client: OrionClient

    def feed(self) -> Callable[[str], None]:
        """Return a function handing one WebSocket text frame to the client, as its reader does."""
        conn = self.client._live
        if conn is None:
            raise BenchError("the Orion client is not connected")
        dispatch = self.client._dispatch

        def feed(text: str) -> None:
            dispatch(conn, text)

        return feed


def hub_entry(simulator: OrionSimulator, entry_id: str, title: str) -> MockConfigEntry:
    """Return a config entry of the integration for the simulator's application."""
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id=entry_id,
        title=title,
        unique_id=orion_unique_id({CONF_URL: simulator.url, CONF_APP_ID: simulator.app_id}),
        data={
            CONF_VENDOR: "orion",
            CONF_URL: simulator.url,
            CONF_APP_ID: simulator.app_id,
            CONF_TOKEN: simulator.token,
        },
    )


async def wait_live(entry: ConfigEntry, limit: float = 60) -> Hub:
    """Wait (``limit`` s at most) until the client is subscribed, caught up and live."""
    async with asyncio.timeout(limit):
        while True:
            coordinator = getattr(entry, "runtime_data", None)
            if (
                entry.state is ConfigEntryState.LOADED
                and isinstance(coordinator, LoRaWANHubCoordinator)
                and isinstance(coordinator.client, OrionClient)
                and coordinator.connected
                and coordinator.client._live is not None
                and coordinator.client._buffer is None
            ):
                return Hub(entry, coordinator, coordinator.client)
            await asyncio.sleep(0.005)


async def start_hub(
    hass: HomeAssistant, simulator: OrionSimulator, entry_id: str, title: str
) -> Hub:
    """Add and set up an entry for the simulator; return it once live."""
    entry = hub_entry(simulator, entry_id, title)
    entry.add_to_hass(hass)
    if not await hass.config_entries.async_setup(entry.entry_id):
        raise BenchError(f"{title} did not set up")
    await hass.async_block_till_done()
    return await wait_live(entry)


class UplinkCounter:
    """Counts ``lorawan_hub_uplink`` events of some devices and waits for a number of them."""

    def __init__(self, hass: HomeAssistant, devices: Iterable[str]) -> None:
        """Start listening."""
        self.count = 0
        self._devices = frozenset(devices)
        self._target: int | None = None
        self._reached = asyncio.Event()
        self.remove = hass.bus.async_listen(EVENT_UPLINK, self._on_uplink)

    @callback
    def _on_uplink(self, event: Event) -> None:
        if event.data["dev_eui"] in self._devices:
            self.count += 1
            if self._target is not None and self.count >= self._target:
                self._reached.set()

    async def wait_for(self, target: int, limit: float) -> None:
        """Wait (``limit`` s at most) until ``target`` uplinks were counted."""
        self._target = target
        if self.count >= target:
            return
        self._reached.clear()
        async with asyncio.timeout(limit):
            await self._reached.wait()


async def remove_entry(hass: HomeAssistant, entry_id: str) -> None:
    """
    Remove a config entry with its devices and entities, leaving no trace in the registries.

    Home Assistant remembers removed entities and devices (to restore them if they come back)
    and writes them with the registries; forgetting them keeps one measurement's leftovers out of
    the next one's registry writes, as on a fresh installation.
    """
    await hass.config_entries.async_remove(entry_id)
    await hass.async_block_till_done()
    er.async_get(hass).deleted_entities.clear()
    dr.async_get(hass)._deleted_devices.clear()


def entity_id_of(hass: HomeAssistant, platform_domain: str, unique_id: str) -> str:
    """Return the entity ID registered for ``unique_id``."""
    entity_id = er.async_get(hass).async_get_entity_id("sensor", platform_domain, unique_id)
    if entity_id is None:
        raise BenchError(f"no sensor of {platform_domain} with unique ID {unique_id}")
    return entity_id


def check_states(hass: HomeAssistant, entity_ids: Sequence[str], values: Reading) -> None:
    """Raise unless each entity shows its value of ``values``."""
    for entity_id, value in zip(entity_ids, values, strict=True):
        state = hass.states.get(entity_id)
        if state is None:
            raise BenchError(f"{entity_id} has no state")
        try:
            shown = float(state.state)
        except ValueError:
            raise BenchError(f"{entity_id} is {state.state!r}, expected {value}") from None
        if abs(shown - value) > 1e-9:
            raise BenchError(f"{entity_id} is {state.state}, expected {value}")


class StateWriteCounter:
    """Counts the state writes of some entities and remembers which were written."""

    def __init__(self, hass: HomeAssistant, entity_ids: Iterable[str]) -> None:
        """Start listening."""
        self.count = 0
        self.entity_ids: list[str] = []
        """The entities written, in order, each once."""
        self._watched = frozenset(entity_ids)
        self.remove = hass.bus.async_listen(EVENT_STATE_CHANGED, self._on_change)

    @callback
    def _on_change(self, event: Event[EventStateChangedData]) -> None:
        entity_id = event.data["entity_id"]
        if entity_id in self._watched:
            self.count += 1
            if entity_id not in self.entity_ids:
                self.entity_ids.append(entity_id)


# --- MQTT without a broker ----------------------------------------------------------------------


@contextlib.contextmanager
def paho_without_network(hass: HomeAssistant) -> Iterator[MagicMock]:
    """Replace paho's network client the way the test harness's ``mqtt_client_mock`` does."""
    message_ids = itertools.count(1)

    class PublishInfo:
        def __init__(self, mid: int) -> None:
            self.mid = mid
            self.rc = 0

    with patch("homeassistant.components.mqtt.client.AsyncMQTTClient") as client_class:
        paho = client_class.return_value

        def connect(*_args: Any, **_kwargs: Any) -> int:
            paho.reconnect()
            hass.loop.call_soon_threadsafe(paho.on_connect, paho, None, 0, MockMqttReasonCode())
            paho.on_socket_open(paho, None, Mock(fileno=Mock(return_value=-1)))
            paho.on_socket_register_write(paho, None, Mock(fileno=Mock(return_value=-1)))
            return 0

        def subscribe(*_args: Any, **_kwargs: Any) -> tuple[int, int]:
            mid = next(message_ids)
            hass.loop.call_soon(paho.on_subscribe, Mock(), 0, mid, [MockMqttReasonCode()], None)
            return (0, mid)

        def unsubscribe(*_args: Any, **_kwargs: Any) -> tuple[int, int]:
            mid = next(message_ids)
            hass.loop.call_soon(paho.on_unsubscribe, Mock(), 0, mid, [MockMqttReasonCode()], None)
            return (0, mid)

        def publish(*_args: Any, **_kwargs: Any) -> PublishInfo:
            mid = next(message_ids)
            hass.loop.call_soon(paho.on_publish, Mock(), 0, mid, MockMqttReasonCode(), None)
            return PublishInfo(mid)

        paho.connect.side_effect = connect
        paho.subscribe.side_effect = subscribe
        paho.unsubscribe.side_effect = unsubscribe
        paho.publish.side_effect = publish
        paho.loop_read.return_value = 0
        yield paho


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


def lean_mqtt_publisher(client: MQTT, paho: MagicMock) -> Callable[[bytes], None]:
    """
    Return a function delivering a message on the state topic as paho's reader does.

    It builds one ``MQTTMessage`` and calls the MQTT client's ``on_message`` callback; the test
    helper ``async_fire_mqtt_message`` does the same plus a ``Mock`` per call.
    """
    on_message = client._async_mqtt_on_message
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


# --- throughput: entity writes, pipeline, MQTT --------------------------------------------------


async def timed(hass: HomeAssistant, step: Callable[[int], None], indices: range) -> float:
    """Run ``step`` for each index and let Home Assistant finish; return µs per index."""
    gc.collect()
    wall, _ = await timed_ns(hass, step, indices)
    return wall / 1000 / len(indices)


async def timed_ns(
    hass: HomeAssistant, step: Callable[[int], None], indices: range
) -> tuple[int, int]:
    """Run ``step`` for each index and let Home Assistant finish; return wall and CPU ns."""
    cpu = time.thread_time_ns()
    start = time.perf_counter_ns()
    for index in indices:
        step(index)
    await hass.async_block_till_done()
    return time.perf_counter_ns() - start, time.thread_time_ns() - cpu


@dataclass(slots=True)
class Paths:
    """The throughput paths, set up and ready to be fed uplink ``index``."""

    steps: dict[str, Callable[[int], None]]
    pipeline_feed: Callable[[str], None]
    pipeline_frames: list[str]
    hub: Hub
    hub_sensors: list[str]
    baseline_sensors: list[str]
    mqtt_sensors: list[str]
    counter: UplinkCounter


async def prepare_paths(
    hass: HomeAssistant,
    simulator: OrionSimulator,
    paho: MagicMock,
    total: int,
    results: Results,
) -> Paths:
    """
    Set up the hub entry, the baseline entries and MQTT; feed each uplinks 0 and 1.

    Uplink 0 reaches the hub over the WebSocket and creates its field entities; uplink 1 shows
    which states one uplink writes, and the second baseline writes the same kinds of entities.
    """
    readings = [reading(index) for index in range(total)]
    start = whole_second(datetime.now(UTC)) - timedelta(minutes=10)
    moments = [start + timedelta(seconds=index) for index in range(total)]

    # 1. The pipeline.
    counter = UplinkCounter(hass, [PIPELINE_DEVICE, LATENCY_DEVICE])
    hub = await start_hub(hass, simulator, "01KBENCHPIPELINE0000000000", "Orion bench")
    device = simulator.devices[PIPELINE_DEVICE]
    await simulator.emit_uplink(PIPELINE_DEVICE, lpp_payload(readings[0]), fcnt=0, time=moments[0])
    await counter.wait_for(1, limit=10)
    await hass.async_block_till_done()
    frames = [
        orion_frame(simulator, device, index, moments[index], lpp_payload(readings[index]))
        for index in range(total)
    ]
    feed = hub.feed()

    def pipeline(index: int) -> None:
        feed(frames[index])

    hub_sensors = [entity_id_of(hass, DOMAIN, f"{PIPELINE_DEVICE}_field_{d.key}") for d in FIELDS]
    device_entities = [
        item.entity_id
        for item in er.async_entries_for_device(
            er.async_get(hass), hub.coordinator.devices[PIPELINE_DEVICE].device_id
        )
    ]
    writes = StateWriteCounter(hass, device_entities)
    pipeline(1)
    await hass.async_block_till_done()
    writes.remove()
    written = writes.entity_ids
    events = sum(1 for entity_id in written if entity_id.startswith("event."))
    timestamps = sum(
        1
        for entity_id in written
        if (state := hass.states.get(entity_id)) is not None
        and state.attributes.get("device_class") == SensorDeviceClass.TIMESTAMP
    )
    others = len(written) - len(FIELDS) - events - timestamps
    results.parameters["pipeline_writes_per_uplink"] = written

    # 2. Home Assistant's entity writes: the five sensors, and the same entities as the pipeline.
    five = BaselineSetup(devices=1)
    await add_baseline(hass, five, "Baseline: five sensors")
    five_sensors = five.sensors[0]
    same = BaselineSetup(
        devices=1, sensors_per_device=len(FIELDS) + others, timestamps=timestamps, events=events
    )
    await add_baseline(hass, same, "Baseline: what the pipeline writes")
    same_sensors = same.sensors[0]
    same_timestamps = same.timestamp_sensors
    same_events = same.event_entities
    bus = hass.bus

    def write_five(index: int) -> None:
        for sensor, value in zip(five_sensors, readings[index], strict=True):
            sensor.push(value)

    def write_same(index: int) -> None:
        values = readings[index]
        for position, sensor in enumerate(same_sensors):
            sensor.push(values[position] if position < len(values) else index)
        for sensor in same_timestamps:
            sensor.push(moments[index])
        decoded = {definition.key: value for definition, value in zip(FIELDS, values, strict=True)}
        for entity in same_events:
            entity.fire({"f_port": 1, "f_cnt": index, "payload_hex": "", "decoded": decoded})
        bus.async_fire(
            "bench_baseline_uplink",
            {"f_cnt": index, "decoded": decoded, "received_at": moments[index].isoformat()},
        )

    same_fired = 0

    @callback
    def count_same(_event: Event) -> None:
        nonlocal same_fired
        same_fired += 1

    bus.async_listen("bench_baseline_uplink", count_same)

    # 3. MQTT with discovery and templates.
    _, client = await setup_mqtt(hass, paho)
    mqtt_sensors = await discover_mqtt_sensors(hass)
    messages = [
        chirpstack_message(index, readings[index], moments[index]) for index in range(total)
    ]
    lean = lean_mqtt_publisher(client, paho)

    def mqtt(index: int) -> None:
        lean(messages[index])

    def mqtt_helper(index: int) -> None:
        async_fire_mqtt_message(hass, MQTT_STATE_TOPIC, messages[index])

    for index in (0, 1):
        write_five(index)
        write_same(index)
        mqtt(index)
    await hass.async_block_till_done()
    baseline_ids = [sensor.entity_id for sensor in five_sensors]
    for entity_ids in (hub_sensors, mqtt_sensors, baseline_ids):
        check_states(hass, entity_ids, readings[1])
    if same_fired != 2:
        raise BenchError("the baseline of the pipeline's entities did not fire its bus event")
    return Paths(
        steps={
            "entity_writes": write_five,
            "pipeline": pipeline,
            "mqtt": mqtt,
            "entity_writes_same": write_same,
            "mqtt_test_helper": mqtt_helper,
        },
        pipeline_feed=feed,
        pipeline_frames=frames,
        hub=hub,
        hub_sensors=hub_sensors,
        baseline_sensors=baseline_ids,
        mqtt_sensors=mqtt_sensors,
        counter=counter,
    )


async def measure_throughput(
    hass: HomeAssistant, paths: Paths, runs: int, uplinks: int, results: Results
) -> int:
    """
    Warm up, then run the batches; return the next unused uplink index.

    A batch feeds each path the same ``uplinks`` uplinks in chunks of ``CHUNK``, the paths taking
    turns chunk by chunk (in rotating order), so that a burst of load from elsewhere on the
    machine falls on all paths alike. Each chunk ends when Home Assistant has nothing left to do.
    """
    warm = range(FIRST_INDEX, FIRST_INDEX + WARM_UP)
    progress("warm-up")
    for step in paths.steps.values():
        await timed(hass, step, warm)
    next_index = warm.stop
    names = list(paths.steps)
    for run in range(runs):
        indices = range(next_index, next_index + uplinks)
        spent = dict.fromkeys(names, 0)
        spent_cpu = dict.fromkeys(names, 0)
        gc.collect()
        for turn, first in enumerate(range(indices.start, indices.stop, CHUNK)):
            chunk = range(first, min(first + CHUNK, indices.stop))
            shift = turn % len(names)
            for name in names[shift:] + names[:shift]:
                wall, cpu = await timed_ns(hass, paths.steps[name], chunk)
                spent[name] += wall
                spent_cpu[name] += cpu
        for name in names:
            series = results.throughput.setdefault(name, Series())
            series.runs.append(spent[name] / 1000 / len(indices))
            series.cpu_runs.append(spent_cpu[name] / 1000 / len(indices))
        progress(
            f"batch {run + 1}/{runs}: "
            + ", ".join(
                f"{name} {series.runs[-1]:.1f} µs" for name, series in results.throughput.items()
            )
        )
        next_index = indices.stop
    return next_index


async def verify_paths(hass: HomeAssistant, paths: Paths, first: int, results: Results) -> int:
    """Check every uplink went through and every state was written; return the next index."""
    expected = first  # uplinks 0 .. first-1 went through the pipeline
    if paths.counter.count != expected:
        raise BenchError(f"{paths.counter.count} lorawan_hub_uplink events for {expected} uplinks")
    if paths.hub.coordinator.duplicates:
        raise BenchError(f"{paths.hub.coordinator.duplicates} uplinks taken for duplicates")
    last = reading(first - 1)
    check_states(hass, paths.hub_sensors, last)
    check_states(hass, paths.baseline_sensors, last)
    check_states(hass, paths.mqtt_sensors, last)
    indices = range(first, first + VERIFY)
    for name, entity_ids in (
        ("pipeline", paths.hub_sensors),
        ("mqtt", paths.mqtt_sensors),
        ("entity_writes", paths.baseline_sensors),
    ):
        writes = StateWriteCounter(hass, entity_ids)
        await timed(hass, paths.steps[name], indices)
        writes.remove()
        if writes.count != len(FIELDS) * len(indices):
            raise BenchError(
                f"{name}: {writes.count} state writes for {len(indices)} uplinks of 5 fields"
            )
    check_states(hass, paths.hub_sensors, reading(indices.stop - 1))
    if paths.counter.count != indices.stop:
        raise BenchError("the pipeline lost uplinks in the verification pass")
    results.checks.append(
        f"pipeline: {indices.stop} uplinks → {paths.counter.count} lorawan_hub_uplink events, "
        "0 duplicates, last values shown"
    )
    results.checks.append(
        f"every path wrote 5 states per uplink ({VERIFY} uplinks counted by state_changed); "
        "last values equal in the three paths"
    )
    return indices.stop


# --- profile of the pipeline -------------------------------------------------------------------


def origin_of(code: CodeType | str) -> tuple[str, str]:
    """Return who a profiled function belongs to and a short name for it."""
    if isinstance(code, str):
        return "built-in (C)", code
    path = code.co_filename
    name = f"{code.co_name} ({Path(path).name}:{code.co_firstlineno})"
    if "custom_components/lorawan_hub" in path:
        short = path.split("custom_components/lorawan_hub/", 1)[1]
        return "LoRaWAN Hub", f"{code.co_qualname} ({short}:{code.co_firstlineno})"
    if "/homeassistant/" in path:
        short = path.split("/homeassistant/", 1)[1]
        return "Home Assistant", f"{code.co_qualname} ({short}:{code.co_firstlineno})"
    if "/site-packages/" in path:
        return "other packages", name
    return "Python stdlib", name


def summarize(profiler: cProfile.Profile, units: int) -> dict[str, Any]:
    """Return a profile's self and inclusive time per unit (uplink, or one set-up), in µs."""
    per_origin: dict[str, float] = {}
    functions: list[dict[str, Any]] = []
    for entry in profiler.getstats():
        origin, name = origin_of(entry.code)
        own = entry.inlinetime * 1e6 / units
        per_origin[origin] = per_origin.get(origin, 0.0) + own
        functions.append(
            {
                "origin": origin,
                "function": name,
                "calls": entry.callcount / units,
                "self_us": own,
                "total_us": entry.totaltime * 1e6 / units,
            }
        )
    return {
        "units": units,
        "self_us_by_origin": dict(sorted(per_origin.items(), key=lambda item: -item[1])),
        "functions": sorted(functions, key=lambda item: -item["self_us"]),
    }


def profile_step(step: Callable[[int], None], indices: range) -> dict[str, Any]:
    """Profile a throughput path over ``indices``."""
    profiler = cProfile.Profile()
    gc.collect()
    start = time.perf_counter_ns()
    profiler.enable()
    for index in indices:
        step(index)
    profiler.disable()
    summary = summarize(profiler, len(indices))
    summary["wall_us_profiled"] = (time.perf_counter_ns() - start) / 1000 / len(indices)
    return summary


def stage_costs(frames: Sequence[str], repeats: int = 3) -> dict[str, float]:
    """
    Time, without a profiler, the pipeline's stages that come before the coordinator.

    Each stage runs on its own over all frames: ``orjson.loads`` (as the client parses frames),
    ``uplink_from_frame`` and the Cayenne LPP decode; the rest of the pipeline (coordinator,
    entity writes, events) is the pipeline's time minus these. CPU time of this thread, best of
    ``repeats``.
    """
    best = dict.fromkeys(("orjson_loads", "uplink_from_frame", "decode"), float("inf"))
    for _ in range(repeats):
        gc.collect()
        start = time.thread_time_ns()
        messages = [orjson.loads(text) for text in frames]
        parsed = time.thread_time_ns()
        uplinks = [
            uplink_from_frame(
                message.get("devEui"),
                as_dict(message.get("data"), "data"),
                message.get("devAddr"),
            )
            for message in messages
        ]
        built = time.thread_time_ns()
        for uplink in uplinks:
            decode(uplink.payload, uplink.decoded, AUTO)
        decoded = time.thread_time_ns()
        count = len(frames) * 1000
        for name, value in (
            ("orjson_loads", (parsed - start) / count),
            ("uplink_from_frame", (built - parsed) / count),
            ("decode", (decoded - built) / count),
        ):
            best[name] = min(best[name], value)
    return best


def profile_paths(paths: Paths, indices: range) -> dict[str, Any]:
    """Profile the pipeline and the same-entity writes, and time the pipeline's early stages."""
    return {
        "stages_us": stage_costs([paths.pipeline_frames[index] for index in indices]),
        "pipeline": profile_step(paths.steps["pipeline"], indices),
        "entity_writes_same": profile_step(paths.steps["entity_writes_same"], indices),
    }


# --- latency ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


async def measure_latency(
    hass: HomeAssistant,
    simulator: OrionSimulator,
    client: OrionClient,
    *,
    rate: float,
    seconds: float,
    results: Results,
) -> None:
    """
    Emit ``rate`` uplinks/s over the WebSocket; time each from emission to its state written.

    Each uplink's time splits in two at the moment the client's frame handler receives the frame:
    the wait (simulator, socket, aiohttp, event loop) and the work (the pipeline). The process's
    CPU time over each uplink's span and the garbage collections tell a busy process from one
    the machine did not run.
    """
    count = round(rate * seconds)
    payloads = [lpp_payload(reading(index)) for index in range(count + 1)]
    sent: dict[int, tuple[float, float]] = {}
    written: dict[int, tuple[float, float]] = {}
    arrivals: list[tuple[float, str]] = []
    done = asyncio.Event()
    temperature = entity_id_of(hass, DOMAIN, f"{LATENCY_DEVICE}_field_{FIELDS[0].key}")

    @callback
    def on_uplink(event: Event) -> None:
        if event.data["dev_eui"] == LATENCY_DEVICE and event.data["f_cnt"] in sent:
            written[event.data["f_cnt"]] = (time.perf_counter(), time.process_time())
            if len(written) == count:
                done.set()

    dispatch = client._dispatch

    def timed_dispatch(conn: Any, text: str) -> None:
        arrivals.append((time.perf_counter(), text))
        dispatch(conn, text)

    collections: list[tuple[float, float, int]] = []
    collecting = 0.0

    def on_gc(phase: str, info: dict[str, int]) -> None:
        nonlocal collecting
        if phase == "start":
            collecting = time.perf_counter()
        else:
            collections.append((collecting, time.perf_counter(), info["generation"]))

    remove = hass.bus.async_listen(EVENT_UPLINK, on_uplink)
    gc.callbacks.append(on_gc)
    try:
        with patch.object(client, "_dispatch", timed_dispatch):
            loop = asyncio.get_running_loop()
            begin = loop.time() + 0.05
            started = time.perf_counter()
            for n in range(1, count + 1):
                delay = begin + (n - 1) / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent[n] = (time.perf_counter(), time.process_time())
                await simulator.emit_uplink(LATENCY_DEVICE, payloads[n], fcnt=n)
            async with asyncio.timeout(30):
                await done.wait()
            elapsed = time.perf_counter() - started
    finally:
        gc.callbacks.remove(on_gc)
        remove()
    state = hass.states.get(temperature)
    if state is None or abs(float(state.state) - reading(count)[0]) > 1e-9:
        raise BenchError(f"latency device shows {state.state if state else None}")
    arrived: dict[int, float] = {}
    for moment, text in arrivals:
        frame = json.loads(text)
        if frame.get("cmd") == "realtime_data" and frame.get("devEui") == LATENCY_DEVICE:
            arrived[frame["data"]["fcnt"]] = moment
    total = {n: (written[n][0] - sent[n][0]) * 1000 for n in written}
    wait = [(arrived[n] - sent[n][0]) * 1000 for n in written]
    work = [(written[n][0] - arrived[n]) * 1000 for n in written]
    slow = percentile(list(total.values()), 0.99)
    slowest = [n for n, value in total.items() if value >= slow]
    cpu_share = [(written[n][1] - sent[n][1]) / (written[n][0] - sent[n][0]) for n in slowest]
    during_gc = [
        n
        for n in slowest
        if any(begin < written[n][0] and end > sent[n][0] for begin, end, _ in collections)
    ]
    pauses = [(end - begin) * 1000 for begin, end, _ in collections]
    milliseconds = list(total.values())
    results.latency = {
        "uplinks": count,
        "rate_target": rate,
        "rate_achieved": count / elapsed,
        "p50_ms": percentile(milliseconds, 0.50),
        "p90_ms": percentile(milliseconds, 0.90),
        "p99_ms": slow,
        "max_ms": max(milliseconds),
        "mean_ms": statistics.fmean(milliseconds),
        "wait_p50_ms": percentile(wait, 0.50),
        "wait_p99_ms": percentile(wait, 0.99),
        "work_p50_ms": percentile(work, 0.50),
        "work_p99_ms": percentile(work, 0.99),
        "work_max_ms": max(work),
        "slowest_1pct": len(slowest),
        "slowest_1pct_cpu_share": statistics.fmean(cpu_share),
        "slowest_1pct_during_gc": len(during_gc),
        "gc_collections": len(collections),
        "gc_full_collections": sum(1 for *_, generation in collections if generation == 2),
        "gc_pause_max_ms": max(pauses, default=0.0),
    }


# --- storage-seeded entries: set-up, catch-up, memory -------------------------------------------


def seed_store(
    config_dir: Path,
    entry_id: str,
    dev_euis: Iterable[str],
    fields: list[dict[str, Any]],
    *,
    last_seen: datetime,
    recent: int = 0,
) -> None:
    """Write the integration's storage as a previous run left it: fields known per device."""
    devices = {
        dev_eui: {
            "fields": fields,
            "last_seen": last_seen.isoformat(),
            "recent": [
                [f_cnt, (last_seen - timedelta(seconds=recent - f_cnt)).isoformat()]
                for f_cnt in range(recent)
            ],
        }
        for dev_eui in dev_euis
    }
    document = {
        "version": STORAGE_VERSION,
        "minor_version": 1,
        "key": f"{DOMAIN}.{entry_id}",
        "data": {"resume_from": last_seen.isoformat(), "devices": devices},
    }
    path = config_dir / ".storage" / f"{DOMAIN}.{entry_id}"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(document))


def many_devices(simulator: OrionSimulator, count: int, prefix: str) -> list[str]:
    """Add ``count`` devices to the simulator; return their DevEUIs."""
    dev_euis = [f"{prefix}{index:0{16 - len(prefix)}X}" for index in range(count)]
    for index, dev_eui in enumerate(dev_euis):
        simulator.add_device(dev_eui, description=f"Meter {index}", kind="sensor")
    return dev_euis


async def wait_entities(
    hass: HomeAssistant, entry_id: str, registered: int, enabled: int, limit: float
) -> tuple[int, int]:
    """Wait until the entry has ``registered`` registry entries and ``enabled`` states."""
    registry = er.async_get(hass)
    async with asyncio.timeout(limit):
        while True:
            await hass.async_block_till_done()
            entries = er.async_entries_for_config_entry(registry, entry_id)
            with_state = sum(1 for item in entries if hass.states.get(item.entity_id) is not None)
            if len(entries) >= registered and with_state >= enabled:
                return len(entries), with_state
            await asyncio.sleep(0.01)


@dataclass(frozen=True, slots=True)
class DeviceShape:
    """The entities one device of five fields has, as the pipeline's device got them."""

    fields: list[dict[str, Any]]
    """The field specs, in the storage format."""
    registered: int
    enabled: int


def device_shape(hass: HomeAssistant, hub: Hub) -> DeviceShape:
    """Read the pipeline device's field specs and entity counts."""
    state = hub.coordinator.devices[PIPELINE_DEVICE]
    entries = er.async_entries_for_device(
        er.async_get(hass), state.device_id, include_disabled_entities=True
    )
    return DeviceShape(
        fields=[spec.as_dict() for spec in state.fields.values()],
        registered=len(entries),
        enabled=sum(1 for item in entries if item.disabled_by is None),
    )


async def measure_setup(
    hass: HomeAssistant,
    config_dir: Path,
    shape: DeviceShape,
    counts: Sequence[int],
    results: Results,
    *,
    profile: bool = False,
) -> None:
    """
    Time set-up of entries whose storage knows ``count`` devices of five fields.

    The first set-up creates the devices and registry entries; the second (after an unload) finds
    them, as after a restart of Home Assistant. When set-up cannot succeed as it is, the reasons
    are recorded and it is timed again with the limits in the way lifted. Home Assistant's own
    set-up of as many devices of plain sensors is timed beside the smallest count. With
    ``profile`` the smallest count's restart runs once more under cProfile.
    """
    for count in counts:
        progress(f"set-up of {count:,} devices")
        simulator = OrionSimulator(app_id=f"bench-setup-{count}", token=APP_KEY)
        dev_euis = many_devices(simulator, count, "70B3D57E5E")
        async with simulator:
            record: dict[str, Any] = {
                "devices": count,
                "entities": count * shape.registered,
                "enabled_entities": count * shape.enabled,
                "blockers": setup_blockers(simulator, count * shape.enabled),
            }
            failure = await time_setup(
                hass,
                config_dir,
                simulator,
                dev_euis=dev_euis,
                shape=shape,
                record=record,
                results=results,
                profile=profile,
            )
            if failure is not None:
                record["failure"] = failure
                progress(f"  {failure}; timing it again with the limits lifted")
                failure = await time_setup(
                    hass,
                    config_dir,
                    simulator,
                    dev_euis=dev_euis,
                    shape=shape,
                    record=record,
                    results=results,
                    lift_limits=True,
                )
                if failure is not None:
                    raise BenchError(f"{count} devices: {failure}")
                record["limits_lifted"] = True
        if count == counts[0]:
            record.update(await time_baseline_setup(hass, count, shape.enabled))
        results.setup.append(record)
        projected = record["first_s"] * SETUP_TARGET_DEVICES / count
        if count < SETUP_TARGET_DEVICES and projected > 240:
            results.setup_skipped = (
                f"10,000 devices skipped: {count:,} took {record['first_s']:.1f} s "
                f"(≈ {projected:.0f} s projected)"
            )
            return


LIFTED_FRAME_LIMIT = 64 * 1024 * 1024


def setup_blockers(simulator: OrionSimulator, enabled: int) -> list[str]:
    """Say which limits keep an entry of the simulator's devices from setting up completely."""
    blockers = []
    size = device_list_size(simulator)
    if size > orion_module.MAX_FRAME:
        blockers.append(
            f"the device list is a {size / 1024 / 1024:.1f} MiB frame; the Orion client refuses "
            f"frames above {orion_module.MAX_FRAME / 1024 / 1024:g} MiB (MAX_FRAME)"
        )
    cap = entity_platform.MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY
    if enabled > cap:
        blockers.append(
            f"Home Assistant adds at most {cap:,} enabled entities per config entry "
            f"(MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY); {enabled:,} are needed"
        )
    return blockers


async def time_setup(
    hass: HomeAssistant,
    config_dir: Path,
    simulator: OrionSimulator,
    *,
    dev_euis: Sequence[str],
    shape: DeviceShape,
    record: dict[str, Any],
    results: Results,
    profile: bool = False,
    lift_limits: bool = False,
) -> str | None:
    """Time the first and the restart set-up into ``record``; return why set-up failed, if so."""
    count = len(dev_euis)
    entry_id = f"01KBENCHSETUP{count:013d}{'L' if lift_limits else 'S'}"
    entry = hub_entry(simulator, entry_id, f"Orion {count}")
    seed_store(
        config_dir,
        entry.entry_id,
        dev_euis,
        shape.fields,
        last_seen=whole_second(datetime.now(UTC)) - timedelta(minutes=1),
    )
    entry.add_to_hass(hass)
    registered = count * shape.registered
    enabled = count * shape.enabled
    with contextlib.ExitStack() as limits:
        if lift_limits:
            # Only for the measurement: let the client take any device list and Home Assistant
            # add every entity of the entry.
            limits.enter_context(patch.object(orion_module, "MAX_FRAME", LIFTED_FRAME_LIMIT))
            limits.enter_context(
                patch.object(entity_platform, "MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY", 10**9)
            )
        try:
            for phase in ("first", "restart"):
                gc.collect()
                start = time.perf_counter()
                if not await hass.config_entries.async_setup(entry.entry_id):
                    return (
                        f"set-up failed after {time.perf_counter() - start:.1f} s "
                        f"({entry.state.value}: {entry.reason})"
                    )
                if enabled > entity_platform.MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY:
                    return "set up with entities missing"
                got = await wait_entities(hass, entry.entry_id, registered, enabled, 900)
                record[f"{phase}_s"] = time.perf_counter() - start
                progress(f"  {phase} set-up: {record[f'{phase}_s']:.2f} s, {got[0]:,} entities")
                await wait_live(entry, limit=120)
                await hass.config_entries.async_unload(entry.entry_id)
                await hass.async_block_till_done()
            if profile and results.profile is not None and "setup" not in results.profile:
                progress(f"  profiling a restart set-up of {count:,} devices")
                profiler = cProfile.Profile()
                gc.collect()
                start = time.perf_counter()
                profiler.enable()
                await hass.config_entries.async_setup(entry.entry_id)
                await wait_entities(hass, entry.entry_id, registered, enabled, 900)
                profiler.disable()
                summary = summarize(profiler, 1)
                summary["devices"] = count
                summary["wall_s_profiled"] = time.perf_counter() - start
                results.profile["setup"] = summary
                await wait_live(entry, limit=120)
        finally:
            await remove_entry(hass, entry.entry_id)
    return None


def device_list_size(simulator: OrionSimulator) -> int:
    """Return the size of the simulator's ``get_devices_resp`` frame."""
    records = [simulator._device_record(device) for device in simulator.devices.values()]
    return len(json.dumps({"cmd": "get_devices_resp", "status": 1, "deviceList": records}))


async def time_baseline_setup(hass: HomeAssistant, devices: int, per_device: int) -> dict[str, Any]:
    """Time Home Assistant's own set-up of as many devices of plain sensors (first, restart)."""
    progress(f"  Home Assistant's own: {devices:,} devices of {per_device} plain sensors")
    setup = BaselineSetup(devices=devices, sensors_per_device=per_device)
    gc.collect()
    start = time.perf_counter()
    entry = await add_baseline(hass, setup, f"Baseline: {devices} devices")
    timings: dict[str, Any] = {"ha_plain_sensors": devices * per_device}
    timings["ha_first_s"] = time.perf_counter() - start
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    setup.sensors.clear()
    gc.collect()
    start = time.perf_counter()
    if not await hass.config_entries.async_setup(entry.entry_id):
        raise BenchError("baseline set-up failed")
    await hass.async_block_till_done()
    timings["ha_restart_s"] = time.perf_counter() - start
    await remove_entry(hass, entry.entry_id)
    progress(f"  first {timings['ha_first_s']:.2f} s, restart {timings['ha_restart_s']:.2f} s")
    return timings


async def measure_catch_up(
    hass: HomeAssistant, runs: int, results: Results, devices: int = 10
) -> None:
    """Time set-up until 1,000 uplinks stored while the entry was unloaded are processed."""
    simulator = OrionSimulator(app_id="bench-catch-up", token=APP_KEY)
    dev_euis = many_devices(simulator, devices, "70B3D57ECA")
    counter = UplinkCounter(hass, dev_euis)
    base = whole_second(datetime.now(UTC)) - timedelta(seconds=(runs + 1) * CATCH_UP_UPLINKS)
    async with simulator:
        hub = await start_hub(hass, simulator, "01KBENCHCATCHUP00000000000", "Orion catch-up")
        for dev_eui in dev_euis:
            await simulator.emit_uplink(dev_eui, lpp_payload(reading(0)), time=base)
        await counter.wait_for(devices, limit=10)
        entry_id = hub.entry.entry_id
        for run in range(runs):
            await hass.config_entries.async_unload(entry_id)
            await hass.async_block_till_done()
            for k in range(CATCH_UP_UPLINKS):
                index = run * CATCH_UP_UPLINKS + k + 1
                await simulator.emit_uplink(
                    dev_euis[k % devices],
                    lpp_payload(reading(index)),
                    time=base + timedelta(seconds=index),
                )
            counter.count = 0
            gc.collect()
            start = time.perf_counter()
            if not await hass.config_entries.async_setup(entry_id):
                raise BenchError("catch-up entry did not set up")
            await counter.wait_for(CATCH_UP_UPLINKS, limit=60)
            elapsed = time.perf_counter() - start
            await wait_live(hub.entry)
            await hass.async_block_till_done()
            if counter.count != CATCH_UP_UPLINKS:
                raise BenchError(f"catch-up processed {counter.count} uplinks, not 1,000")
            results.catch_up.append(elapsed)
            progress(f"catch-up {run + 1}/{runs}: {elapsed:.3f} s")
        await remove_entry(hass, entry_id)
    counter.remove()
    results.checks.append(
        f"catch-up: {CATCH_UP_UPLINKS} stored uplinks → {CATCH_UP_UPLINKS} events per run"
    )


def traced_by_origin(snapshot: tracemalloc.Snapshot) -> dict[str, int]:
    """Sum a snapshot's live allocations by who allocated them."""
    totals: dict[str, int] = {}
    for stat in snapshot.statistics("filename"):
        path = stat.traceback[0].filename
        if "custom_components/lorawan_hub" in path:
            origin = "LoRaWAN Hub"
        elif "/simulator/" in path:
            origin = "simulator"
        elif "/homeassistant/" in path:
            origin = "Home Assistant"
        elif "/site-packages/" in path:
            origin = "other packages"
        else:
            origin = "Python stdlib"
        totals[origin] = totals.get(origin, 0) + stat.size
    return totals


async def measure_memory(
    hass: HomeAssistant, config_dir: Path, shape: DeviceShape, count: int, results: Results
) -> None:
    """Compare live memory of ``count`` devices of ours with as many devices of plain sensors."""
    progress(f"memory: {count:,} devices of LoRaWAN Hub (tracemalloc)")
    simulator = OrionSimulator(app_id="bench-memory", token=APP_KEY)
    dev_euis = many_devices(simulator, count, "70B3D57EEE")
    last_seen = whole_second(datetime.now(UTC)) - timedelta(minutes=1)
    frames = [
        orion_frame(
            simulator,
            simulator.devices[dev_eui],
            DEDUP_MEMORY + 1,
            last_seen + timedelta(seconds=30),
            lpp_payload(reading(index)),
        )
        for index, dev_eui in enumerate(dev_euis)
    ]
    async with simulator:
        entry = hub_entry(simulator, "01KBENCHMEMORY000000000000", "Orion memory")
        seed_store(
            config_dir,
            entry.entry_id,
            dev_euis,
            shape.fields,
            last_seen=last_seen,
            recent=DEDUP_MEMORY,
        )
        counter = UplinkCounter(hass, dev_euis)
        gc.collect()
        tracemalloc.start()
        entry.add_to_hass(hass)
        if not await hass.config_entries.async_setup(entry.entry_id):
            raise BenchError("memory entry did not set up")
        await wait_entities(
            hass, entry.entry_id, count * shape.registered, count * shape.enabled, 600
        )
        hub = await wait_live(entry, limit=120)
        feed = hub.feed()
        for text in frames:
            feed(text)
        await hass.async_block_till_done()
        if counter.count != count:
            raise BenchError(f"memory: {counter.count} uplinks processed of {count}")
        gc.collect()
        ours = tracemalloc.get_traced_memory()[0]
        ours_snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        counter.remove()
        await remove_entry(hass, entry.entry_id)

    progress(f"memory: {count:,} devices of {shape.enabled} plain sensors (tracemalloc)")
    gc.collect()
    tracemalloc.start()
    baseline = BaselineSetup(devices=count, sensors_per_device=shape.enabled)
    baseline_entry = await add_baseline(hass, baseline, "Baseline: memory")
    for index, row in enumerate(baseline.sensors):
        values: list[float] = list(reading(index))
        for position, sensor in enumerate(row):
            sensor.push(values[position % len(values)])
    await hass.async_block_till_done()
    gc.collect()
    theirs = tracemalloc.get_traced_memory()[0]
    theirs_snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    ours_by_origin = traced_by_origin(ours_snapshot)
    theirs_by_origin = traced_by_origin(theirs_snapshot)
    lines = [
        (str(stat.traceback[0]).removeprefix(str(REPO_ROOT) + "/"), stat.size_diff)
        for stat in ours_snapshot.compare_to(theirs_snapshot, "lineno")[:12]
    ]
    del ours_snapshot, theirs_snapshot
    await remove_entry(hass, baseline_entry.entry_id)
    origins = sorted(set(ours_by_origin) | set(theirs_by_origin))
    results.memory = {
        "devices": count,
        "ours_kb_per_device": ours / count / 1024,
        "ha_kb_per_device": theirs / count / 1024,
        "beyond_ha_kb_per_device": (ours - theirs) / count / 1024,
        "ha_entities_per_device": shape.enabled,
        "our_entities_per_device": {"registered": shape.registered, "enabled": shape.enabled},
        "difference_by_origin_kb_per_device": {
            origin: (ours_by_origin.get(origin, 0) - theirs_by_origin.get(origin, 0)) / count / 1024
            for origin in origins
        },
        "largest_differences_by_line": [
            {"line": line, "kb_per_device": size / count / 1024} for line, size in lines
        ],
    }


# --- the run ------------------------------------------------------------------------------------


class PlainResolver(ThreadedResolver):
    """The system's resolver, closed the way Home Assistant closes its zeroconf-aware one."""

    async def real_close(self) -> None:
        """Close the resolver."""
        await self.close()


async def run_benchmark(args: argparse.Namespace, results: Results) -> None:
    """Start Home Assistant, measure everything, tear everything down."""
    with contextlib.ExitStack() as stack:
        config_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        # As the test harness does: HTTP binds no port, paho opens no socket, and host names are
        # resolved without zeroconf (the simulators listen on 127.0.0.1 anyway).
        stack.enter_context(
            patch(
                "homeassistant.helpers.aiohttp_client._async_make_resolver",
                return_value=PlainResolver(),
            )
        )
        # No configuration.yaml: MQTT reads it for YAML-configured entities (none here).
        stack.enter_context(patch("homeassistant.config.load_yaml_config_file", return_value={}))
        stack.enter_context(patch("homeassistant.components.http.HomeAssistantHTTP.async_bind"))
        stack.enter_context(patch("homeassistant.components.http.HomeAssistantHTTP.start"))
        stack.enter_context(mock_config_flow(BASELINE_DOMAIN, BaselineFlow))
        async with async_test_home_assistant(config_dir=str(config_dir)) as hass:
            paho = stack.enter_context(paho_without_network(hass))
            frame.async_setup(hass)
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)  # load custom_components/ from the repo
            await translation.async_load_integrations(hass, {"homeassistant"})
            register_baseline(hass)
            try:
                await measure_all(hass, config_dir, paho, args, results)
            finally:
                await shutdown(hass, results)


async def measure_all(
    hass: HomeAssistant,
    config_dir: Path,
    paho: MagicMock,
    args: argparse.Namespace,
    results: Results,
) -> None:
    """Run the measurements in order, the heavy set-ups last."""
    simulator = OrionSimulator(app_id="bench-app", token=APP_KEY)
    simulator.add_device(PIPELINE_DEVICE, description="Bench climate", kind="sensor")
    simulator.add_device(LATENCY_DEVICE, description="Bench latency", kind="sensor")
    async with simulator:
        total = FIRST_INDEX + WARM_UP + args.runs * args.uplinks + VERIFY + args.uplinks
        progress("setting up the entity-write baseline, the hub entry and MQTT")
        paths = await prepare_paths(hass, simulator, paho, total, results)
        next_index = await measure_throughput(hass, paths, args.runs, args.uplinks, results)
        next_index = await verify_paths(hass, paths, next_index, results)
        if args.profile:
            progress("profiling the pipeline")
            results.profile = profile_paths(paths, range(next_index, next_index + args.uplinks))
            await hass.async_block_till_done()
        shape = device_shape(hass, paths.hub)

        progress(f"latency: {args.rate:g} uplinks/s for {args.latency_seconds:g} s")
        await simulator.emit_uplink(LATENCY_DEVICE, lpp_payload(reading(0)), fcnt=0)
        await paths.counter.wait_for(paths.counter.count + 1, limit=10)
        await hass.async_block_till_done()
        await measure_latency(
            hass,
            simulator,
            paths.hub.client,
            rate=args.rate,
            seconds=args.latency_seconds,
            results=results,
        )
        paths.counter.remove()
        await remove_entry(hass, paths.hub.entry.entry_id)

        progress("JavaScript codec: decode cost and the pipeline with it")
        await measure_javascript(hass, simulator, args.runs, args.uplinks, results)
        progress("Device Repository codecs: QuickJS beside node")
        await measure_repository_codecs(args.runs, results)

    progress("catch-up")
    await measure_catch_up(hass, args.catch_up_runs, results)
    if args.memory_devices:
        await measure_memory(hass, config_dir, shape, args.memory_devices, results)
    counts = [count for count in (1_000, SETUP_TARGET_DEVICES) if count <= args.devices]
    if counts:
        await measure_setup(hass, config_dir, shape, counts, results, profile=args.profile)


# A typical device codec: a loop over the bytes, a field per reading, scaled integers. It decodes
# the same Cayenne LPP frames into the same five fields as the built-in decoder.
BENCH_CODEC = """
function decodeUplink(input) {
  var bytes = input.bytes;
  var data = {};
  var names = {101: "illuminance", 103: "temperature", 104: "humidity",
               115: "barometric_pressure", 116: "voltage"};
  var i = 0;
  while (i < bytes.length) {
    var channel = bytes[i];
    var type = bytes[i + 1];
    var value;
    if (type === 104) {
      value = bytes[i + 2] / 2;
      i += 3;
    } else {
      var raw = (bytes[i + 2] << 8) | bytes[i + 3];
      i += 4;
      if (type === 103) {
        value = (raw & 0x8000 ? raw - 0x10000 : raw) / 10;
      } else if (type === 115) {
        value = raw / 10;
      } else if (type === 116) {
        value = raw / 100;
      } else if (type === 101) {
        value = raw;
      } else {
        return { errors: ["unknown type " + type] };
      }
    }
    data[names[type] + "_" + channel] = value;
  }
  return { data: data };
}
"""
JS_DEVICE_TYPE = "bench"
JS_RATIO_TARGET = 2.0
JS_DECODE_ROUNDS = 2000


async def measure_javascript(
    hass: HomeAssistant, simulator: OrionSimulator, runs: int, uplinks: int, results: Results
) -> None:
    """
    Measure a JavaScript codec: its decode cost beside Cayenne LPP's, and the whole pipeline.

    The pipeline entry decodes the bench device's uplinks with ``BENCH_CODEC`` (a device type);
    each chunk of uplinks is timed until its last uplink event fired, since the codec runs on
    its own thread.
    """
    payloads = [lpp_payload(reading(index)) for index in range(JS_DECODE_ROUNDS)]
    moment = datetime.now(UTC)
    codec = JsCodec(BENCH_CODEC)
    async with JsRunner() as runner:
        decoded = await runner.run(codec.decode_uplink, payloads[1], 1, moment)
        expected = decode_cayenne_lpp(payloads[1]).fields
        if decoded.fields != expected:
            raise BenchError(f"the bench codec decodes {decoded.fields}, not {expected}")

        def decode_all() -> float:
            start = time.perf_counter_ns()
            for payload in payloads:
                codec.decode_uplink(payload, 1, moment)
            return (time.perf_counter_ns() - start) / 1000 / len(payloads)

        js_cost = statistics.median([await runner.run(decode_all) for _ in range(3)])
    lpp_runs = []
    for _ in range(3):
        start = time.perf_counter_ns()
        for payload in payloads:
            decode_cayenne_lpp(payload)
        lpp_runs.append((time.perf_counter_ns() - start) / 1000 / len(payloads))
    results.javascript["decode_us"] = js_cost
    results.javascript["cayenne_decode_us"] = statistics.median(lpp_runs)

    entry = hub_entry(simulator, "01KBENCHJAVASCRIPT00000000", "Orion bench (JavaScript)")
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry,
        options={
            CONF_DEVICE_TYPES: {
                JS_DEVICE_TYPE: {CONF_NAME: "Bench", CONF_SOURCE: "paste", CONF_CODE: BENCH_CODEC}
            },
            CONF_DEVICES: {PIPELINE_DEVICE: {CONF_CODEC: f"js:{JS_DEVICE_TYPE}"}},
        },
    )
    counter = UplinkCounter(hass, [PIPELINE_DEVICE])
    try:
        if not await hass.config_entries.async_setup(entry.entry_id):
            raise BenchError("the JavaScript bench entry did not set up")
        await hass.async_block_till_done()
        hub = await wait_live(entry)
        device = simulator.devices[PIPELINE_DEVICE]
        total = WARM_UP + runs * uplinks
        first_moment = whole_second(datetime.now(UTC)) - timedelta(hours=2)
        frames = [
            orion_frame(
                simulator,
                device,
                index,
                first_moment + timedelta(seconds=index),
                lpp_payload(reading(index)),
            )
            for index in range(total)
        ]
        feed = hub.feed()

        async def chunked(indices: range) -> float:
            elapsed = 0
            for first in range(indices.start, indices.stop, CHUNK):
                chunk = range(first, min(first + CHUNK, indices.stop))
                began = time.perf_counter_ns()
                for index in chunk:
                    feed(frames[index])
                await counter.wait_for(chunk.stop, limit=60)
                await hass.async_block_till_done()
                elapsed += time.perf_counter_ns() - began
            return elapsed / 1000 / len(indices)

        await chunked(range(WARM_UP))
        series = Series()
        for run in range(runs):
            gc.collect()
            first = WARM_UP + run * uplinks
            series.runs.append(await chunked(range(first, first + uplinks)))
        results.javascript["pipeline_runs"] = series.runs
        results.javascript["pipeline_us"] = series.median
        state = hub.coordinator.devices[PIPELINE_DEVICE]
        if (
            state.decode_error
            or state.last_fields != decode_cayenne_lpp(lpp_payload(reading(total - 1))).fields
        ):
            raise BenchError(f"the JavaScript pipeline decoded {state.last_fields}")
    finally:
        counter.remove()
        await remove_entry(hass, entry.entry_id)


async def shutdown(hass: HomeAssistant, results: Results) -> None:
    """Unload every entry, stop Home Assistant and report tasks left behind."""
    loaded = [
        entry.entry_id
        for entry in hass.config_entries.async_entries()
        if entry.state is ConfigEntryState.LOADED
    ]
    for entry_id in loaded:
        await hass.config_entries.async_unload(entry_id)
    await hass.async_block_till_done()
    await hass.async_stop(force=True)
    current = asyncio.current_task()
    lingering = [task for task in asyncio.all_tasks() if task is not current]
    for task in lingering:
        results.errors.append(f"task left running after shutdown: {task.get_name()}")
        task.cancel()
    if lingering:
        await asyncio.gather(*lingering, return_exceptions=True)


# --- report -------------------------------------------------------------------------------------


THROUGHPUT_PATHS = frozenset(
    {"entity_writes", "entity_writes_same", "pipeline", "mqtt", "mqtt_test_helper"}
)


def complete(results: Results) -> bool:
    """Whether every throughput path has its batches."""
    return results.throughput.keys() >= THROUGHPUT_PATHS and all(
        series.runs for series in results.throughput.values()
    )


def verdict(ok: bool, stretch: bool | None = None) -> str:
    """PASS/MISS, and whether the stretch target is met too."""
    text = "PASS" if ok else "MISS"
    if stretch is not None:
        text += " (stretch met)" if stretch else " (stretch missed)"
    return text


async def measure_repository_codecs(runs: int, results: Results) -> None:
    """
    Mean µs per codec call over the Device Repository's examples, beside node (same scripts).

    See ``scripts/repository_codecs.py``; without the snapshot or node the row says why.
    """
    try:
        results.javascript["repository"] = await asyncio.to_thread(
            repository_codecs.measure, max(runs, 2)
        )
    except (RuntimeError, OSError, subprocess.SubprocessError) as err:
        results.errors.append(f"Device Repository codecs: {err}")


def report_rows(results: Results) -> list[tuple[str, str, str, str]]:
    """Return the rows of the table: measurement, result, target, verdict."""
    rows: list[tuple[str, str, str, str]] = []
    throughput = results.throughput
    if complete(results):
        writes = throughput["entity_writes"]
        pipeline = throughput["pipeline"]
        mqtt = throughput["mqtt"]
        rows.append(
            (
                "Entity writes: 5 HA sensors",
                f"{writes.median:.1f} µs/uplink (batches {writes.span()})",
                "reference 60-90 µs",
                "info",
            )
        )
        seven = throughput["entity_writes_same"]
        rows.append(
            (
                (
                    f"  same {len(results.parameters['pipeline_writes_per_uplink'])} entities "
                    "+ bus event"
                ),
                f"{seven.median:.1f} µs/uplink (batches {seven.span()})",
                "what the pipeline writes",
                "info",
            )
        )
        ratio = pipeline.median / writes.median
        rows.append(
            (
                "LoRaWAN Hub pipeline",
                (
                    f"{pipeline.median:.1f} µs/uplink = {ratio:.2f}x entity writes "
                    f"({pipeline.median / seven.median:.2f}x the same-entity writes)"
                ),
                f"≤ {PIPELINE_RATIO_TARGET}x (stretch ≤ {PIPELINE_RATIO_STRETCH}x)",
                verdict(ratio <= PIPELINE_RATIO_TARGET, ratio <= PIPELINE_RATIO_STRETCH),
            )
        )
        mqtt_ratio = mqtt.median / pipeline.median
        rows.append(
            (
                "MQTT + templates",
                f"{mqtt.median:.1f} µs/message = {mqtt_ratio:.2f}x pipeline",
                f"≥ {MQTT_RATIO_TARGET:g}x (stretch ≥ {MQTT_RATIO_STRETCH:g}x)",
                verdict(mqtt_ratio >= MQTT_RATIO_TARGET, mqtt_ratio >= MQTT_RATIO_STRETCH),
            )
        )
        helper = throughput["mqtt_test_helper"]
        rows.append(
            (
                "  via async_fire_mqtt_message",
                f"{helper.median:.1f} µs/message = {helper.median / pipeline.median:.2f}x pipeline",
                "(test helper: + a Mock per message)",
                "info",
            )
        )
    if results.javascript:
        javascript = results.javascript
        rows.append(
            (
                "JavaScript codec decode (5 fields)",
                (
                    f"{javascript['decode_us']:.1f} µs/uplink = "
                    f"{javascript['decode_us'] / javascript['cayenne_decode_us']:.1f}x Cayenne LPP "
                    f"({javascript['cayenne_decode_us']:.1f} µs)"
                ),
                "info (on the codec thread)",
                "info",
            )
        )
        if repository := javascript.get("repository"):
            rows.append(
                (
                    f"Device Repository codec call ({repository['examples']:,} examples)",
                    (
                        f"{repository['quickjs_us']:.1f} µs = {repository['ratio']:.2f}x node "
                        f"({repository['node_us']:.1f} µs, same isolation; with a new context "
                        f"per call {repository['node_fresh_context_us']:.0f} µs)"
                    ),
                    f"≤ {repository['target']:g}x node",
                    verdict(repository["ratio"] <= repository["target"]),
                )
            )
        if "entity_writes" in throughput and "pipeline_us" in javascript:
            js_ratio = javascript["pipeline_us"] / throughput["entity_writes"].median
            rows.append(
                (
                    "Pipeline with a JavaScript codec",
                    f"{javascript['pipeline_us']:.1f} µs/uplink = {js_ratio:.2f}x entity writes",
                    f"≤ {JS_RATIO_TARGET:g}x",
                    verdict(js_ratio <= JS_RATIO_TARGET),
                )
            )
    if results.latency:
        latency = results.latency
        rows.append(
            (
                f"Socket → state @ {latency['rate_target']:g}/s",
                (
                    f"p50 {latency['p50_ms']:.2f} ms, p99 {latency['p99_ms']:.2f} ms, "
                    f"max {latency['max_ms']:.2f} ms ({latency['uplinks']} uplinks, "
                    f"{latency['rate_achieved']:.0f}/s)"
                ),
                f"p99 ≤ {LATENCY_P99_TARGET_MS:g} ms",
                verdict(latency["p99_ms"] <= LATENCY_P99_TARGET_MS),
            )
        )
    for setup in results.setup:
        judged = setup["devices"] >= SETUP_TARGET_DEVICES
        target = f"≤ {SETUP_TARGET_S:g} s for 10,000" if judged else "info"
        if failure := setup.get("failure"):
            rows.append(
                (
                    f"{setup['devices']:,} devices, as they are",
                    f"{failure.split(' (', 1)[0]} (why: below the table)",
                    target,
                    "MISS",
                )
            )
        raised = " (limits lifted)" if setup.get("limits_lifted") else ""
        for phase, label in (("first_s", "first set-up"), ("restart_s", "restart")):
            if phase not in setup:
                continue
            rows.append(
                (
                    f"{setup['devices']:,} devices, {label}{raised}",
                    (
                        f"{setup[phase]:.2f} s, {setup['entities']:,} entities "
                        f"({setup['enabled_entities']:,} enabled)"
                    ),
                    target,
                    verdict(setup[phase] <= SETUP_TARGET_S) if judged else "info",
                )
            )
        if "ha_first_s" in setup:
            rows.append(
                (
                    f"  HA alone, {setup['devices']:,} devices",
                    (
                        f"first {setup['ha_first_s']:.2f} s, restart "
                        f"{setup['ha_restart_s']:.2f} s, {setup['ha_plain_sensors']:,} "
                        "plain sensors"
                    ),
                    "HA's own cost",
                    "info",
                )
            )
    if results.setup_skipped:
        rows.append(("10,000 devices", results.setup_skipped, "≤ 10 s", "not measured"))
    if results.catch_up:
        median = statistics.median(results.catch_up)
        rows.append(
            (
                "Catch-up of 1,000 stored uplinks",
                f"{median:.3f} s (runs {min(results.catch_up):.3f}-{max(results.catch_up):.3f})",
                f"≤ {CATCH_UP_TARGET_S:g} s",
                verdict(median <= CATCH_UP_TARGET_S),
            )
        )
    if results.memory:
        memory = results.memory
        rows.append(
            (
                "Memory per device beyond HA",
                (
                    f"{memory['beyond_ha_kb_per_device']:.1f} KB "
                    f"(ours {memory['ours_kb_per_device']:.1f} KB, HA's "
                    f"{memory['ha_entities_per_device']} sensors "
                    f"{memory['ha_kb_per_device']:.1f} KB)"
                ),
                f"≤ {MEMORY_TARGET_KB:g} KB",
                verdict(memory["beyond_ha_kb_per_device"] <= MEMORY_TARGET_KB),
            )
        )
    return rows


def print_report(results: Results) -> None:
    """Print the machine, the table and the details."""
    machine = results.machine
    print("LoRaWAN Hub benchmark")
    print(f"  machine: {machine['cpu']}, {machine['cpus']} CPUs, {machine['memory']} RAM")
    print(f"  system:  {machine['os']}, {machine['python']}")
    print(f"  Home Assistant {machine['home_assistant']} (phcc {machine['phcc']})")
    print(
        f"  load average (1, 5, 15 min) at start: {machine['load_average']}, at the end: "
        f"{machine.get('load_average_end')} (other processes share the machine when it is > 1)"
    )
    print(f"  {machine['ulid']} (one per state write and per event)")
    parameters = results.parameters
    print(
        f"  {parameters['runs']} batches x {parameters['uplinks']} uplinks after "
        f"{WARM_UP} warm-up, 5 Cayenne LPP fields per uplink; medians"
    )
    if written := parameters.get("pipeline_writes_per_uplink"):
        print(f"  states one uplink writes in the pipeline: {', '.join(written)}")
    print()
    rows = report_rows(results)
    headers = ("Measurement", "Result", "Target", "Verdict")
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(4)]
    line = "  ".join("-" * width for width in widths)
    print("  ".join(header.ljust(width) for header, width in zip(headers, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    print()
    for setup in results.setup:
        if failure := setup.get("failure"):
            print(f"{setup['devices']:,} devices in one entry: {failure}.")
            for blocker in setup["blockers"]:
                print(f"  - {blocker}")
            if setup.get("limits_lifted"):
                print(
                    "  The set-up times marked '(limits lifted)' ran with both limits raised "
                    "in this process, to show what the set-up itself costs."
                )
            print()
    if complete(results):
        print("Per batch (µs per uplink):")
        for name, series in results.throughput.items():
            print(f"  {name:18} " + "  ".join(f"{value:7.1f}" for value in series.runs))
        pipeline = results.throughput["pipeline"].runs
        writes = results.throughput["entity_writes"].runs
        mqtt = results.throughput["mqtt"].runs
        ratios = [p / w for p, w in zip(pipeline, writes, strict=True)]
        mqtt_ratios = [m / p for m, p in zip(mqtt, pipeline, strict=True)]
        print(f"  {'pipeline/writes':18} " + "  ".join(f"{value:7.2f}" for value in ratios))
        print(f"  {'mqtt/pipeline':18} " + "  ".join(f"{value:7.2f}" for value in mqtt_ratios))
        print("Per batch, CPU time of the event loop's thread (µs per uplink):")
        for name, series in results.throughput.items():
            print(f"  {name:18} " + "  ".join(f"{value:7.1f}" for value in series.cpu_runs))
        throughput = results.throughput
        pipeline_cpu = throughput["pipeline"].cpu_median
        print(
            f"  medians: pipeline {pipeline_cpu:.1f} = "
            f"{pipeline_cpu / throughput['entity_writes'].cpu_median:.2f}x entity writes, "
            f"{pipeline_cpu / throughput['entity_writes_same'].cpu_median:.2f}x the same-entity "
            f"writes; MQTT {throughput['mqtt'].cpu_median / pipeline_cpu:.2f}x pipeline"
        )
        print()
    if results.latency:
        latency = results.latency
        print(
            f"Latency ({latency['uplinks']} uplinks): mean {latency['mean_ms']:.2f} ms, "
            f"p90 {latency['p90_ms']:.2f} ms. Split where the client's frame handler gets the "
            f"frame: wait (simulator → socket → aiohttp → loop) p50 {latency['wait_p50_ms']:.2f} "
            f"/ p99 {latency['wait_p99_ms']:.2f} ms; work (pipeline) p50 "
            f"{latency['work_p50_ms']:.2f} / p99 {latency['work_p99_ms']:.2f} / max "
            f"{latency['work_max_ms']:.2f} ms."
        )
        print(
            f"  The slowest 1 % ({latency['slowest_1pct']} uplinks): the process had the CPU "
            f"{latency['slowest_1pct_cpu_share']:.0%} of their span; "
            f"{latency['slowest_1pct_during_gc']} overlapped a garbage collection "
            f"({latency['gc_collections']} collections, {latency['gc_full_collections']} full, "
            f"longest {latency['gc_pause_max_ms']:.1f} ms)."
        )
        print()
    if results.memory:
        memory = results.memory
        print(
            f"Memory ({memory['devices']:,} devices; ours: "
            f"{memory['our_entities_per_device']['registered']} registry entries, "
            f"{memory['our_entities_per_device']['enabled']} enabled, per device), "
            "difference by allocating code, KB/device:"
        )
        for origin, value in memory["difference_by_origin_kb_per_device"].items():
            print(f"  {origin:16} {value:7.2f}")
        print("  largest differences by allocating line (ours minus HA's), KB/device:")
        for item in memory["largest_differences_by_line"]:
            print(f"    {item['kb_per_device']:6.2f}  {item['line']}")
        print()
    if results.profile:
        print_profile(results.profile, results)
    if results.checks:
        print("Checks:")
        for check in results.checks:
            print(f"  ✓ {check}")
    for error in results.errors:
        print(f"ERROR: {error}")


def print_profile(profile: dict[str, Any], results: Results) -> None:
    """Print where the pipeline's time goes, per uplink, beside Home Assistant's own writes."""
    pipeline = profile["pipeline"]
    writes = profile["entity_writes_same"]
    stages = profile["stages_us"]
    median = results.throughput["pipeline"].cpu_median if complete(results) else 0.0
    print("Pipeline stages without profiler (CPU µs/uplink, best of 3):")
    for name, value in stages.items():
        print(f"  {name:28} {value:7.1f}")
    rest = median - sum(stages.values())
    print(
        f"  {'coordinator, writes, events':28} {rest:7.1f}  (the pipeline's CPU-time median "
        "minus the above)"
    )
    if complete(results):
        print(
            f"  {'for comparison: same-entity writes':28} "
            f"{results.throughput['entity_writes_same'].cpu_median:7.1f}"
        )
    print()
    print(
        f"cProfile, {pipeline['units']} uplinks: pipeline {pipeline['wall_us_profiled']:.1f} "
        f"µs/uplink, same-entity writes {writes['wall_us_profiled']:.1f} µs/uplink with the "
        "profiler on (it inflates every call: compare shares, not absolute values)."
    )
    print("  self time by origin, µs/uplink:       pipeline  same-entity writes")
    for origin in pipeline["self_us_by_origin"]:
        print(
            f"    {origin:34} {pipeline['self_us_by_origin'][origin]:8.1f}  "
            f"{writes['self_us_by_origin'].get(origin, 0.0):8.1f}"
        )
    baseline_self = {item["function"]: item["self_us"] for item in writes["functions"]}
    print(
        "  top functions by self time, µs/uplink "
        "(self, inclusive, calls; self in the same-entity writes):"
    )
    for item in pipeline["functions"][:30]:
        print(
            f"    {item['self_us']:6.1f} {item['total_us']:7.1f} {item['calls']:5.1f}  "
            f"({baseline_self.get(item['function'], 0.0):5.1f})  "
            f"[{item['origin']}] {item['function']}"
        )
    ours = [item for item in pipeline["functions"] if item["origin"] == "LoRaWAN Hub"]
    print("  LoRaWAN Hub functions by inclusive time, µs/uplink (inclusive, self):")
    for item in sorted(ours, key=lambda item: -item["total_us"])[:16]:
        print(f"    {item['total_us']:7.1f} {item['self_us']:6.1f}  {item['function']}")
    print()
    if setup := profile.get("setup"):
        seconds = {origin: value / 1e6 for origin, value in setup["self_us_by_origin"].items()}
        print(
            f"cProfile of the restart set-up of {setup['devices']:,} devices "
            f"({setup['wall_s_profiled']:.2f} s with the profiler on); self time by origin: "
            + ", ".join(f"{origin} {value:.2f} s" for origin, value in seconds.items())
        )
        print("  top functions by self time, s (self, inclusive, calls):")
        for item in setup["functions"][:25]:
            print(
                f"    {item['self_us'] / 1e6:6.3f} {item['total_us'] / 1e6:7.3f} "
                f"{item['calls']:8.0f}  [{item['origin']}] {item['function']}"
            )
        ours = [item for item in setup["functions"] if item["origin"] == "LoRaWAN Hub"]
        print("  LoRaWAN Hub functions by inclusive time, s (inclusive, self, calls):")
        for item in sorted(ours, key=lambda item: -item["total_us"])[:12]:
            print(
                f"    {item['total_us'] / 1e6:7.3f} {item['self_us'] / 1e6:6.3f} "
                f"{item['calls']:8.0f}  {item['function']}"
            )
        print()


def results_json(results: Results) -> dict[str, Any]:
    """Everything measured, for ``--json``."""
    return {
        "machine": results.machine,
        "parameters": results.parameters,
        "throughput_us": {
            name: {
                "median": series.median,
                "runs": series.runs,
                "cpu_median": series.cpu_median,
                "cpu_runs": series.cpu_runs,
            }
            for name, series in results.throughput.items()
        },
        "ratios": (
            {
                "pipeline_over_entity_writes": results.throughput["pipeline"].median
                / results.throughput["entity_writes"].median,
                "mqtt_over_pipeline": results.throughput["mqtt"].median
                / results.throughput["pipeline"].median,
            }
            if complete(results)
            else {}
        ),
        "javascript_us": results.javascript,
        "latency": results.latency,
        "setup": results.setup,
        "setup_skipped": results.setup_skipped,
        "catch_up_s": results.catch_up,
        "memory": results.memory,
        "profile": results.profile,
        "table": [
            dict(zip(("measurement", "result", "target", "verdict"), row, strict=True))
            for row in report_rows(results)
        ],
        "checks": results.checks,
        "errors": results.errors,
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="timed batches per path (5)")
    parser.add_argument("--uplinks", type=int, default=2000, help="uplinks per batch (2000)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON")
    parser.add_argument(
        "--rate", type=float, default=200.0, help="uplinks/s of the latency test (200)"
    )
    parser.add_argument(
        "--latency-seconds", type=float, default=10.0, help="length of the latency test (10)"
    )
    parser.add_argument(
        "--catch-up-runs", type=int, default=3, help="repetitions of the catch-up (3)"
    )
    parser.add_argument(
        "--memory-devices", type=int, default=1000, help="devices of the memory test (1000; 0 off)"
    )
    parser.add_argument(
        "--devices",
        type=int,
        default=SETUP_TARGET_DEVICES,
        help="largest set-up test: 1000 or 10000 (10000; 0 off)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="also profile the pipeline with cProfile"
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.uplinks < 1 or args.catch_up_runs < 1:
        parser.error("--runs, --uplinks and --catch-up-runs must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the report; 1 when a measurement failed."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Loading an integration from custom_components/ always warns that it is not Home Assistant's.
    logging.getLogger("homeassistant.loader").setLevel(logging.ERROR)
    # The HTTP component, a dependency of MQTT, warns when zlib_ng and isal are not installed.
    logging.getLogger("aiohttp_fast_zlib").setLevel(logging.ERROR)
    results = Results(
        machine=machine_info(),
        parameters={
            "runs": args.runs,
            "uplinks": args.uplinks,
            "warm_up": WARM_UP,
            "latency_rate": args.rate,
            "latency_seconds": args.latency_seconds,
            "catch_up_runs": args.catch_up_runs,
            "memory_devices": args.memory_devices,
            "max_devices": args.devices,
        },
    )

    def loop_factory() -> asyncio.AbstractEventLoop:
        loop = runner.create_event_loop()

        def on_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            results.errors.append(f"unhandled in the event loop: {context.get('message')}")
            loop.default_exception_handler(context)

        loop.set_exception_handler(on_exception)
        return loop

    started = time.perf_counter()
    try:
        asyncio.run(run_benchmark(args, results), loop_factory=loop_factory)
    except BenchError as err:
        results.errors.append(str(err))
    finally:
        results.machine["load_average_end"] = [round(value, 2) for value in os.getloadavg()]
        print_report(results)
        print(f"\nTotal time: {time.perf_counter() - started:.0f} s")
        if args.json:
            args.json.write_text(json.dumps(results_json(results), indent=2, default=str) + "\n")
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
