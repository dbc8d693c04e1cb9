"""JavaScript codecs: a device codec's decode cost, the pipeline with it, repository codecs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
import gc
import statistics
import subprocess
import time

from homeassistant.core import HomeAssistant

from custom_components.lorawan_hub.codecs.cayenne import decode_cayenne_lpp
from custom_components.lorawan_hub.codecs.javascript import JsCodec, JsRunner
from custom_components.lorawan_hub.const import CONF_CODEC, CONF_DEVICES
from custom_components.lorawan_hub.device_types import (
    CONF_CODE,
    CONF_DEVICE_TYPES,
    CONF_NAME,
    CONF_SOURCE,
)
from simulator.orion import OrionSimulator

from . import repository_codecs
from .harness import UplinkCounter, hub_entry, remove_entry, wait_live
from .results import BenchError, Results, Series
from .uplinks import (
    CHUNK,
    PIPELINE_DEVICE,
    WARM_UP,
    lpp_payload,
    orion_frame,
    reading,
    whole_second,
)

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
