"""Catch-up: uplinks the server stored while the entry was unloaded, processed at set-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import gc
import time

from homeassistant.core import HomeAssistant

from simulator.orion import OrionSimulator

from .devices import many_devices
from .harness import UplinkCounter, remove_entry, start_hub, wait_live
from .results import CATCH_UP_UPLINKS, BenchError, Results, progress
from .uplinks import APP_KEY, lpp_payload, reading, whole_second


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
