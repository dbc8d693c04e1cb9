"""Where the time goes: cProfile summaries and the pipeline's early stages timed alone."""

from __future__ import annotations

from collections.abc import Callable, Sequence
import cProfile
import gc
from pathlib import Path
import time
from types import CodeType
from typing import Any

import orjson

from custom_components.lorawan_hub.codecs.decode import AUTO, decode
from custom_components.lorawan_hub.lns.orion import uplink_from_frame
from custom_components.lorawan_hub.lns.parse import as_dict

from .pipeline import Paths


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
