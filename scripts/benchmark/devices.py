"""Entries of many devices their storage already knows: set-up time and memory per device."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
import contextlib
import cProfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import gc
import json
from pathlib import Path
import time
import tracemalloc
from typing import Any
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_platform, entity_registry as er

from custom_components.lorawan_hub.const import DEDUP_MEMORY, DOMAIN, STORAGE_VERSION
from custom_components.lorawan_hub.lns import orion as orion_module
from simulator.orion import OrionSimulator

from .baseline import BaselineSetup, add_baseline
from .harness import Hub, UplinkCounter, hub_entry, remove_entry, wait_live
from .profiling import summarize
from .results import SETUP_TARGET_DEVICES, BenchError, Results, progress
from .uplinks import APP_KEY, PIPELINE_DEVICE, lpp_payload, orion_frame, reading, whole_second

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The repository, whose prefix the memory report leaves out of file names."""


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
    # The simulator builds the records it answers with; it has no public way to build them alone.
    records = [
        simulator._device_record(device)  # noqa: SLF001 - no public builder
        for device in simulator.devices.values()
    ]
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
