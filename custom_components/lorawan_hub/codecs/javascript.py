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
from typing import Any, Final, Self

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


FUNCTIONS: Final = ("decodeUplink", "normalizeUplink", "encodeDownlink", "decodeDownlink")
_CALLER: Final = (
    "function __lorawanHubCall(name, text) { var input = JSON.parse(text); switch (name) {"
    + "".join(f" case '{name}': return JSON.stringify({name}(input));" for name in FUNCTIONS)
    + " } }"
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
            # Functions declared with const or let too (they are not properties of globalThis).
            defined = context.eval(
                "JSON.stringify(["
                + ", ".join(f"typeof {name} === 'function' ? '{name}' : ''" for name in FUNCTIONS)
                + "])"
            )
            # One function that takes and returns JSON text: nothing is compiled per call.
            context.eval(_CALLER)
        except quickjs.JSException as err:
            raise CodecError(f"the codec does not load: {_first_line(err)}") from None
        except (ValueError, TypeError, UnicodeError) as err:
            raise CodecError(f"the codec does not load: {type(err).__name__}") from None
        self._functions = frozenset(json.loads(defined)) - {""}
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
            given = json.dumps(argument, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise CodecError(f"this cannot be given to the codec: {err}") from None
        try:
            text = self._caller(name, given)
        except quickjs.JSException as err:
            reason = _first_line(err)
            if isinstance(err, quickjs.StackOverflow):
                reason = _LIMITS[-1][0]
            for marker, meaning in _LIMITS:
                if marker in reason:
                    # Its state may be half-changed: start again from the source next time.
                    self._context = None
                    reason = meaning.format(limit=self._time_limit)
                    break
            raise CodecError(f"{name} failed: {reason}") from None
        if not isinstance(text, str) or len(text) > MAX_RESULT:
            raise CodecError(f"{name} returned nothing usable")
        try:
            result = json.loads(text)
        except ValueError, RecursionError:
            raise CodecError(f"{name} returned nothing usable") from None
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
        normalized = False
        if "normalizeUplink" in self._functions:
            try:
                data, more = self._normalize(data)
            except CodecError as err:
                # The decoded fields still count: kept, without the standard names.
                warnings.append(str(err))
            else:
                warnings += more
                normalized = True
        decoded = flatten(data)
        if normalized:
            for key in decoded.fields:
                if key in decoded.units:
                    continue
                # Several measurements are listed as measurement_<n>_<standard name>.
                standard = key.split("_", 2)[-1] if key.startswith("measurement_") else key
                if unit := NORMALIZED_UNITS.get(standard):
                    decoded.units[key] = unit
        decoded.warnings[:0] = warnings
        return decoded

    def _normalize(self, data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Return normalizeUplink's standard fields and its warnings."""
        normalized = self.call("normalizeUplink", {"data": data})
        result = normalized.get("data")
        if isinstance(result, list):
            result = result[0] if len(result) == 1 else {"measurement": result}
        if not isinstance(result, dict):
            raise CodecError("normalizeUplink returned no data object")
        return result, _strings(normalized.get("warnings"))

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
        except Exception as err:  # noqa: BLE001 - one codec's surprise is that uplink's alone
            outcomes.append(CodecError(f"the codec failed: {type(err).__name__}: {err}"))
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

    async def __aenter__(self) -> Self:
        """Use the thread for a block; it stops at the end."""
        return self

    async def __aexit__(self, *_exc: object) -> None:
        """Stop the thread."""
        await self.async_close()

    async def async_close(self) -> None:
        """
        Stop the thread once what it runs is done.

        The last call is awaited first, so the thread is idle and its join returns at once.
        """
        await self.run(int)
        self._pool.shutdown(wait=True)
