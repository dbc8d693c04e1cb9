"""The command line: ``scripts/bench`` runs ``python -m scripts.benchmark`` with its options."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
import contextlib
import json
import logging
import os
from pathlib import Path
import sys
import time
from typing import Any
from unittest.mock import MagicMock

from homeassistant import runner
from homeassistant.core import HomeAssistant

from simulator.orion import OrionSimulator

from . import __doc__ as overview
from .catchup import measure_catch_up
from .devices import DeviceShape, device_shape, measure_memory, measure_setup
from .harness import home_assistant, remove_entry
from .javascript import measure_javascript, measure_repository_codecs
from .latency import measure_latency
from .linked import linked_simulator
from .pipeline import measure_throughput, prepare_paths, verify_paths
from .profiling import profile_paths
from .report import print_report, results_json
from .results import SETUP_TARGET_DEVICES, BenchError, Results, machine_info, progress
from .uplinks import (
    APP_KEY,
    FIRST_INDEX,
    LATENCY_DEVICE,
    PIPELINE_DEVICE,
    VERIFY,
    WARM_UP,
    lpp_payload,
    reading,
)


async def run_benchmark(args: argparse.Namespace, results: Results) -> None:
    """Start Home Assistant, measure everything, tear everything down."""
    async with home_assistant(results) as instance:
        await measure_all(instance.hass, instance.config_dir, instance.paho, args, results)


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
        async with linked_simulator() as linked:
            with contextlib.ExitStack() as stack:
                shape = await measure_paths(
                    hass, simulator, paho, args, results, linked_simulator=linked, stack=stack
                )
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


async def measure_paths(
    hass: HomeAssistant,
    simulator: OrionSimulator,
    paho: MagicMock,
    args: argparse.Namespace,
    results: Results,
    *,
    linked_simulator: OrionSimulator,
    stack: contextlib.ExitStack,
) -> DeviceShape:
    """Throughput and latency of the uplink paths; return the pipeline device's shape."""
    total = FIRST_INDEX + WARM_UP + args.runs * args.uplinks + VERIFY + args.uplinks
    progress("setting up the entity-write baseline, the hub entries and MQTT")
    paths = await prepare_paths(
        hass, simulator, paho, total, results, linked_simulator=linked_simulator, stack=stack
    )
    next_index = await measure_throughput(hass, paths, args.runs, args.uplinks, results)
    next_index = await verify_paths(hass, paths, next_index, results)
    if args.profile:
        progress("profiling the pipeline")
        results.profile = profile_paths(paths, range(next_index, next_index + args.uplinks))
        await hass.async_block_till_done()
    shape = device_shape(hass, paths.hub)
    paths.framework.counter.remove()
    await remove_entry(hass, paths.framework.entry.entry_id)
    paths.linked.counter.remove()
    await remove_entry(hass, paths.linked.hub.entry.entry_id)
    if paths.linked.framework.unregistered != 1:
        raise BenchError("removing the linked entry did not unregister its connection")

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
    return shape


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        prog="scripts/bench", description=overview.split("\n\n", 1)[0] if overview else None
    )
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
