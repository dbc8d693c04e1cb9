"""Socket → state latency with the Orion simulator pushing uplinks at a steady rate."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import gc
import json
import statistics
import time
from typing import Any
from unittest.mock import patch

from homeassistant.core import Event, HomeAssistant, callback

from custom_components.lorawan_hub.const import DOMAIN, EVENT_UPLINK
from custom_components.lorawan_hub.lns.orion import OrionClient
from simulator.orion import OrionSimulator

from .harness import entity_id_of, frame_handler
from .results import BenchError, Results
from .uplinks import FIELDS, LATENCY_DEVICE, lpp_payload, reading


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

    dispatch = frame_handler(client)

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
