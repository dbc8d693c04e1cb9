"""
Throughput: the LoRaWAN Hub pipeline beside Home Assistant's entity writes and MQTT.

The pipeline runs twice: on an entry of its own, and on an entry linked to (a stand-in of) Home
Assistant's LoRaWAN framework (``linked``).
"""

from __future__ import annotations

from collections.abc import Callable
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
import gc
from unittest.mock import MagicMock

from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er

from custom_components.lorawan_hub.const import DOMAIN
from simulator.orion import OrionSimulator

from .baseline import BaselineSetup, add_baseline
from .framework import FrameworkPath, prepare_framework
from .harness import (
    Hub,
    StateWriteCounter,
    UplinkCounter,
    check_states,
    entity_id_of,
    start_hub,
    timed,
    timed_ns,
)
from .linked import LinkedPath, prepare_linked
from .mqtt import prepare_mqtt
from .results import BenchError, Results, Series, progress
from .uplinks import (
    CHUNK,
    FIELDS,
    FIRST_INDEX,
    LATENCY_DEVICE,
    PIPELINE_DEVICE,
    VERIFY,
    WARM_UP,
    lpp_payload,
    orion_frame,
    reading,
    uplink_times,
)


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
    framework: FrameworkPath
    linked: LinkedPath


async def prepare_paths(
    hass: HomeAssistant,
    simulator: OrionSimulator,
    paho: MagicMock,
    total: int,
    results: Results,
    *,
    linked_simulator: OrionSimulator,
    stack: contextlib.ExitStack,
) -> Paths:
    """
    Set up the hub entries, the baseline entries and MQTT; feed each uplinks 0 and 1.

    The linked entry (``linked``) follows ``linked_simulator``, of ``linked.linked_simulator``.

    Uplink 0 reaches the hub over the WebSocket and creates its field entities; uplink 1 shows
    which states one uplink writes, and the second baseline writes the same kinds of entities.
    """
    readings = [reading(index) for index in range(total)]
    moments = uplink_times(total, datetime.now(UTC))

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

    # The pipeline again, its entry a connection of (a stand-in of) the LoRaWAN framework.
    linked = await prepare_linked(hass, linked_simulator, stack, readings, moments)

    # The same device on one of Home Assistant's LoRaWAN connections (the framework's path).
    framework = await prepare_framework(hass, stack, readings, moments)

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
    mqtt_path = await prepare_mqtt(hass, paho, readings, moments)
    mqtt = mqtt_path.step
    mqtt_sensors = mqtt_path.sensors

    for index in (0, 1):
        write_five(index)
        write_same(index)
        mqtt(index)
    framework.step(1)
    linked.step(1)
    await hass.async_block_till_done()
    baseline_ids = [sensor.entity_id for sensor in five_sensors]
    for entity_ids in (hub_sensors, mqtt_sensors, baseline_ids, framework.sensors, linked.sensors):
        check_states(hass, entity_ids, readings[1])
    linked.check_delivered(2, readings[1])
    if same_fired != 2:
        raise BenchError("the baseline of the pipeline's entities did not fire its bus event")
    return Paths(
        steps={
            "entity_writes": write_five,
            "pipeline": pipeline,
            "pipeline_linked": linked.step,
            "framework": framework.step,
            "mqtt": mqtt,
            "entity_writes_same": write_same,
            "mqtt_test_helper": mqtt_path.helper_step,
        },
        pipeline_feed=feed,
        pipeline_frames=frames,
        hub=hub,
        hub_sensors=hub_sensors,
        baseline_sensors=baseline_ids,
        mqtt_sensors=mqtt_sensors,
        counter=counter,
        framework=framework,
        linked=linked,
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
    if paths.framework.counter.count != expected:
        raise BenchError(
            f"{paths.framework.counter.count} framework uplink events for {expected} uplinks"
        )
    linked = paths.linked
    if linked.counter.count != expected:
        raise BenchError(
            f"{linked.counter.count} linked-entry uplink events for {expected} uplinks"
        )
    for hub in (paths.hub, linked.hub):
        if hub.coordinator.duplicates:
            raise BenchError(
                f"{hub.entry.title}: {hub.coordinator.duplicates} uplinks taken for duplicates"
            )
    last = reading(first - 1)
    linked.check_delivered(expected, last)
    check_states(hass, paths.hub_sensors, last)
    check_states(hass, linked.sensors, last)
    check_states(hass, paths.framework.sensors, last)
    check_states(hass, paths.baseline_sensors, last)
    check_states(hass, paths.mqtt_sensors, last)
    indices = range(first, first + VERIFY)
    for name, entity_ids in (
        ("pipeline", paths.hub_sensors),
        ("pipeline_linked", linked.sensors),
        ("framework", paths.framework.sensors),
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
    check_states(hass, linked.sensors, reading(indices.stop - 1))
    counts = (paths.counter.count, linked.counter.count, paths.framework.counter.count)
    if any(count != indices.stop for count in counts):
        raise BenchError("the pipeline lost uplinks in the verification pass")
    linked.check_delivered(indices.stop, reading(indices.stop - 1))
    results.checks.append(
        f"pipeline, linked pipeline and framework path: {indices.stop} uplinks each → "
        f"{counts[0]}, {counts[1]} and {counts[2]} lorawan_hub_uplink events, 0 duplicates, last "
        "values shown"
    )
    listener, collection = linked.framework.delivered()
    results.checks.append(
        f"linked pipeline: the framework's listener took {listener} uplinks (keeping the last) "
        f"and the device collection {collection}, of {indices.stop}"
    )
    results.checks.append(
        f"every path wrote 5 states per uplink ({VERIFY} uplinks counted by state_changed); "
        "last values equal in the five paths"
    )
    return indices.stop
