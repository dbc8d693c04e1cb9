"""
JavaScript payload codecs in the LoRaWAN Device Repository format, run in QuickJS.

A codec defines ``decodeUplink({bytes, fPort, recvTime})`` and optionally ``normalizeUplink``,
``encodeDownlink({data, fPort})`` and ``decodeDownlink({bytes, fPort})``. Each codec gets one
QuickJS context, compiled once and reused, with a CPU-time and a memory limit per call. QuickJS
must always run a context on the thread that made it, so every codec runs on one worker thread
of its own (never the event loop); a codec that hangs holds the others back only until its time
limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
import concurrent.futures
from datetime import datetime
import json
import threading
from typing import Any, Final

import quickjs

from .fields import flatten
from .result import DecodeError, DecodeResult

TIME_LIMIT: Final = 0.1
"""CPU seconds one call may take."""
MEMORY_LIMIT: Final = 16 * 1024 * 1024
"""Bytes a codec's context may allocate."""
STACK_LIMIT: Final = 256 * 1024
MAX_SOURCE: Final = 1024 * 1024
"""Characters of a codec's source."""
MAX_RESULT: Final = 256 * 1024
"""Characters of what one call may return (as JSON)."""
_THREAD_STACK: Final = 8 * 1024 * 1024

# Units of the fields normalizeUplink produces (the repository's normalized payload schema).
NORMALIZED_UNITS: Final[Mapping[str, str]] = {
    "air_temperature": "°C",
    "air_relative_humidity": "%",
    "air_pressure": "hPa",
    "air_co2": "ppm",
    "air_light_intensity": "lx",
    "wind_speed": "m/s",
    "wind_direction": "°",
    "soil_temperature": "°C",
    "soil_moisture": "%",
    "soil_depth": "cm",
    "soil_ec": "dS/m",
    "water_temperature": "°C",
    "battery": "V",
    "metering_water_total": "L",
    "metering_electricity_power": "W",
    "metering_electricity_current": "A",
    "metering_electricity_voltage": "V",
    "metering_electricity_energy": "kWh",
}


_CALLER: Final = (
    "function __lorawanHubCall(name, text) {"
    " return JSON.stringify(globalThis[name](JSON.parse(text))); }"
)
_LIMITS: Final = (
    ("interrupted", "it ran longer than {limit:g} s"),
    ("out of memory", "it used too much memory"),
    ("Maximum call stack size exceeded", "it recursed too deeply"),
)
"""QuickJS's messages when a limit stops a call, and what they mean."""


class CodecError(DecodeError):
    """A codec that did not compile, threw, ran out of time or memory, or reported errors."""


class JsCodec:
    """
    One codec and its QuickJS context.

    Every method except the constructor runs on the codec thread (``JsRunner``).
    """

    def __init__(
        self,
        source: str,
        *,
        time_limit: float = TIME_LIMIT,
        memory_limit: int = MEMORY_LIMIT,
    ) -> None:
        """Keep the source; it is compiled at the first call."""
        if len(source) > MAX_SOURCE:
            raise CodecError(f"the codec is longer than {MAX_SOURCE} characters")
        self.source = source
        self._time_limit = time_limit
        self._memory_limit = memory_limit
        self._context: quickjs.Context | None = None
        self._caller: Any = None
        self._functions: frozenset[str] = frozenset()

    def _ready(self) -> quickjs.Context:
        if self._context is not None:
            return self._context
        context = quickjs.Context()
        context.set_memory_limit(self._memory_limit)
        context.set_time_limit(self._time_limit)
        context.set_max_stack_size(STACK_LIMIT)
        try:
            context.eval(self.source)
            defined = context.eval(
                "JSON.stringify(['decodeUplink', 'normalizeUplink', 'encodeDownlink',"
                " 'decodeDownlink'].filter(function (n) { return typeof this[n] === 'function'; },"
                " globalThis))"
            )
        except quickjs.JSException as err:
            raise CodecError(f"the codec does not load: {_first_line(err)}") from None
        self._functions = frozenset(json.loads(defined))
        # One function that takes and returns JSON text: nothing is compiled per call.
        context.eval(_CALLER)
        self._caller = context.get("__lorawanHubCall")
        self._context = context
        return context

    def defines(self, name: str) -> bool:
        """Whether the codec defines the function ``name``."""
        self._ready()
        return name in self._functions

    def call(self, name: str, argument: Mapping[str, Any]) -> dict[str, Any]:
        """Call ``name(argument)`` and return its result object; errors it lists are raised."""
        self._ready()
        if name not in self._functions:
            raise CodecError(f"the codec has no {name} function")
        try:
            text = self._caller(name, json.dumps(argument))
        except quickjs.JSException as err:
            reason = _first_line(err)
            for marker, meaning in _LIMITS:
                if marker in reason:
                    # Its state may be half-changed: start again from the source next time.
                    self._context = None
                    reason = meaning.format(limit=self._time_limit)
                    break
            raise CodecError(f"{name} failed: {reason}") from None
        except quickjs.StackOverflow:
            self._context = None
            raise CodecError(f"{name} failed: it recursed too deeply") from None
        if not isinstance(text, str) or len(text) > MAX_RESULT:
            raise CodecError(f"{name} returned nothing usable")
        result = json.loads(text)
        if not isinstance(result, dict):
            raise CodecError(f"{name} did not return an object")
        errors = result.get("errors")
        if isinstance(errors, list) and errors:
            raise CodecError("; ".join(str(error) for error in errors))
        return result

    def decode_uplink(
        self, payload: bytes, f_port: int | None, received_at: datetime
    ) -> DecodeResult:
        """Decode (and normalize, when the codec can) one uplink into flat fields."""
        result = self.call(
            "decodeUplink",
            {"bytes": list(payload), "fPort": f_port, "recvTime": received_at.isoformat()},
        )
        data = result.get("data")
        if not isinstance(data, dict):
            raise CodecError("decodeUplink returned no data object")
        warnings = _strings(result.get("warnings"))
        units: dict[str, str] = {}
        if "normalizeUplink" in self._functions:
            normalized = self.call("normalizeUplink", {"data": data})
            data = normalized.get("data")
            if isinstance(data, list):
                data = data[0] if len(data) == 1 else {"measurement": data}
            if not isinstance(data, dict):
                raise CodecError("normalizeUplink returned no data object")
            warnings += _strings(normalized.get("warnings"))
            units = dict(NORMALIZED_UNITS)
        decoded = flatten(data)
        for key in decoded.fields:
            if key not in decoded.units and key in units:
                decoded.units[key] = units[key]
        decoded.warnings[:0] = warnings
        return decoded

    def encode_downlink(self, data: Mapping[str, Any], f_port: int | None) -> tuple[bytes, int]:
        """Encode an object into a payload and its port (the codec may choose the port)."""
        argument: dict[str, Any] = {"data": dict(data)}
        if f_port is not None:
            argument["fPort"] = f_port
        result = self.call("encodeDownlink", argument)
        raw = result.get("bytes")
        if not isinstance(raw, list) or not all(
            isinstance(byte, int) and not isinstance(byte, bool) and 0 <= byte <= 255
            for byte in raw
        ):
            raise CodecError("encodeDownlink returned no byte array")
        port = result.get("fPort", f_port)
        if not isinstance(port, int) or isinstance(port, bool):
            raise CodecError("encodeDownlink returned no port")
        return bytes(raw), port

    def decode_downlink(self, payload: bytes, f_port: int) -> dict[str, Any]:
        """Decode a downlink payload back into its object."""
        result = self.call("decodeDownlink", {"bytes": list(payload), "fPort": f_port})
        data = result.get("data")
        if not isinstance(data, dict):
            raise CodecError("decodeDownlink returned no data object")
        return data


def decode_batch(
    jobs: Sequence[tuple[JsCodec, bytes, int | None, datetime]],
) -> list[DecodeResult | CodecError]:
    """Decode several uplinks in one go on the codec thread (one hop for all of them)."""
    outcomes: list[DecodeResult | CodecError] = []
    for codec, payload, f_port, received_at in jobs:
        try:
            outcomes.append(codec.decode_uplink(payload, f_port, received_at))
        except CodecError as err:
            outcomes.append(err)
    return outcomes


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines() or ["unknown error"])[0][:200]


def _strings(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


class JsRunner:
    """The thread every codec runs on (QuickJS contexts may not change threads)."""

    def __init__(self) -> None:
        """Start the thread, with a stack deep enough for QuickJS's own limit."""
        previous = threading.stack_size()
        try:
            threading.stack_size(_THREAD_STACK)
            self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="lorawan_hub_codec"
            )
            self._pool.submit(lambda: None).result()
        finally:
            threading.stack_size(previous)

    async def run[T](self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` on the codec thread."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    async def async_close(self) -> None:
        """
        Stop the thread once what it runs is done.

        The last call is awaited first, so the thread is idle and its join returns at once.
        """
        await self.run(int)
        self._pool.shutdown(wait=True)
