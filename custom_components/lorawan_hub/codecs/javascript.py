"""
JavaScript payload codecs in the LoRaWAN Device Repository format, run in QuickJS.

A codec defines ``decodeUplink({bytes, fPort, recvTime})`` and optionally ``normalizeUplink``,
``encodeDownlink({data, fPort})`` and ``decodeDownlink({bytes, fPort})``; codecs of The Things
Network's version 2 define ``Decoder(bytes, port)`` and ``Encoder(object, port)`` instead, the
fallback when the others are missing (as in The Things Stack).

Each routine (uplink decoder, downlink encoder, downlink decoder) runs from its own source in its
own QuickJS context, so a later file can never replace another routine's functions. The source is
compiled once, as the body of a function; every call runs that function anew, so the codec's
top-level variables and functions are fresh for each call, like the fresh context The Things
Stack gives every call, and globals a call creates are removed after it. State never passes from
one uplink, or one device, to the next. A call's time limit is the codec thread's own CPU time
(``limits``); a context that hit a limit is rebuilt.

QuickJS must always run a context on the thread that made it, so every codec runs on one worker
thread of its own (``JsRunner``, never the event loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
import concurrent.futures
import contextlib
from datetime import datetime
import json
import logging
import re
import threading
from typing import Any, Final, Literal, Self

import quickjs

from . import limits
from .fields import flatten
from .normalized import NORMALIZED_UNITS, merge_normalized
from .result import DecodeError, DecodeResult

_LOGGER = logging.getLogger(__name__)

TIME_LIMIT: Final = 0.1
"""Seconds of the codec thread's CPU time one call may take."""
MEMORY_LIMIT: Final = 16 * 1024 * 1024
"""Bytes a routine's context may allocate."""
STACK_LIMIT: Final = 256 * 1024
MAX_SOURCE: Final = 1024 * 1024
"""Characters of a codec's source."""
MAX_RESULT: Final = 256 * 1024
"""Characters of what one call may return (as JSON)."""
MAX_LOG_LINES: Final = 20
MAX_LOG_LINE: Final = 500
_THREAD_STACK: Final = 8 * 1024 * 1024

type Routine = Literal["uplinkDecoder", "downlinkEncoder", "downlinkDecoder"]
UPLINK_DECODER: Final = "uplinkDecoder"
DOWNLINK_ENCODER: Final = "downlinkEncoder"
DOWNLINK_DECODER: Final = "downlinkDecoder"
ROUTINES: Final[tuple[Routine, ...]] = (UPLINK_DECODER, DOWNLINK_ENCODER, DOWNLINK_DECODER)

FUNCTIONS: Final[Mapping[Routine, tuple[str, ...]]] = {
    UPLINK_DECODER: ("decodeUplink", "normalizeUplink", "Decoder"),
    DOWNLINK_ENCODER: ("encodeDownlink", "Encoder"),
    DOWNLINK_DECODER: ("decodeDownlink",),
}
"""The functions each routine looks for, in the order its entry point receives them."""
_ROUTINE_OF: Final[Mapping[str, Routine]] = {
    name: routine for routine, names in FUNCTIONS.items() for name in names
}
_FALLBACKS: Final = {"decodeUplink": "Decoder", "encodeDownlink": "Encoder"}

# What each routine does with the codec's functions (f, in FUNCTIONS' order) and the input, as
# The Things Stack does: decodeUplink then normalizeUplink (only without errors), else Decoder.
_ENTRY: Final[Mapping[Routine, str]] = {
    UPLINK_DECODER: """function (f, input) {
  var argument = {bytes: input.bytes, fPort: input.fPort};
  if (input.recvTime) { argument.recvTime = new Date(input.recvTime); }
  var decode = f[0], normalize = f[1], v2 = f[2];
  if (typeof decode === 'function') {
    var decoded = decode(argument);
    var out = {decoded: decoded};
    if (input.normalize && typeof normalize === 'function' && decoded && decoded.data
        && !(decoded.errors && decoded.errors.length)) {
      try { out.normalized = normalize({data: decoded.data}); }
      catch (err) { out.normalizeError = String(err); }
    }
    return out;
  }
  if (typeof v2 === 'function') { return {decoded: {data: v2(input.bytes, input.fPort)}}; }
  throw new Error('the codec has no decodeUplink function');
}""",
    DOWNLINK_ENCODER: """function (f, input) {
  var encode = f[0], v2 = f[1];
  if (typeof encode === 'function') { return encode({data: input.data, fPort: input.fPort}); }
  if (typeof v2 === 'function') { return {bytes: v2(input.data, input.fPort), fPort: input.fPort}; }
  throw new Error('the codec has no encodeDownlink function');
}""",
    DOWNLINK_DECODER: """function (f, input) {
  var decode = f[0];
  if (typeof decode === 'function') { return decode({bytes: input.bytes, fPort: input.fPort}); }
  throw new Error('the codec has no decodeDownlink function');
}""",
}
_PROBE: Final = "function (f) { return f.map(function (x) { return typeof x === 'function'; }); }"

# The runtime of a routine's context: a console whose lines are kept for the debug log, and the
# call that runs the codec's function anew, then removes the globals it left.
_RUNTIME: Final = """(function (g) {
  var logs = [];
  function text(value) {
    if (typeof value === 'string') { return value; }
    try { return JSON.stringify(value); } catch (err) { return String(value); }
  }
  function logger(level) {
    return function () {
      if (logs.length >= MAX_LINES) { return; }
      var parts = [];
      for (var i = 0; i < arguments.length; i++) { parts.push(text(arguments[i])); }
      logs.push((level + ': ' + parts.join(' ')).slice(0, MAX_LENGTH));
    };
  }
  var console = {log: logger('log'), info: logger('info'), warn: logger('warn'),
                 error: logger('error'), debug: logger('debug'), trace: logger('trace')};
  Object.defineProperty(g, 'console', {value: console, writable: true, configurable: true});
  var pristine = null;
  var count = 0;
  var dirty = false;
  function remember() {
    var names = Object.getOwnPropertyNames(g);
    pristine = Object.create(null);
    for (var i = 0; i < names.length; i++) { pristine[names[i]] = true; }
    count = names.length;
  }
  function clean() {
    for (var key in g) { if (!pristine[key]) { delete g[key]; } }
    var now = Object.getOwnPropertyNames(g);
    if (now.length !== count) {
      for (var j = 0; j < now.length; j++) { if (!pristine[now[j]]) { delete g[now[j]]; } }
      if (Object.getOwnPropertyNames(g).length !== count) { dirty = true; }
    }
    g.console = console;
  }
  Object.defineProperty(g, '__lorawanHubCall', {value: function (entry, text) {
    if (dirty) { return '"reset"'; }
    if (pristine === null) { remember(); }
    logs.length = 0;
    var result;
    try {
      result = entry(g.__lorawanHubFactory.call(g), JSON.parse(text));
    } finally {
      clean();
    }
    return JSON.stringify({r: result, l: logs.length ? logs : undefined, d: dirty || undefined});
  }});
})(globalThis);
""".replace("MAX_LINES", str(MAX_LOG_LINES)).replace("MAX_LENGTH", str(MAX_LOG_LINE))

_GLOBAL_ACCESS: Final = re.compile(r"\b(?:this|globalThis|window|self|global|eval|Function)\b")
"""Words by which a codec may reach its top-level declarations as properties of the global."""
_IDENTIFIER: Final = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_LIMITS: Final = (
    ("interrupted", "it ran longer than {limit:g} s"),
    ("out of memory", "it used too much memory"),
    ("Maximum call stack size exceeded", "it recursed too deeply"),
)
"""QuickJS's messages when a limit stops a call, and what they mean."""


class CodecError(DecodeError):
    """A codec that did not compile, threw, ran out of time or memory, or reported errors."""


def factory(source: str, routine: Routine, declared: Sequence[str] = ()) -> str:
    """
    Return the script defining a routine's factory: the source as the body of a function.

    The function returns the routine's functions; before that it makes the names the source
    declares at its top level (``declared``) properties of the global object again, as they are
    in a script, aliasing this run's bindings.
    """
    names = ", ".join(
        f"typeof {name} === 'undefined' ? undefined : {name}" for name in FUNCTIONS[routine]
    )
    aliases = "".join(
        f"Object.defineProperty(this, '{name}', {{get: function () {{ return {name}; }}, "
        f"set: function (v) {{ {name} = v; }}, configurable: true, enumerable: true}});"
        for name in declared
    )
    # The source first in the body, so that its "use strict" stays a directive.
    return (
        "Object.defineProperty(globalThis, '__lorawanHubFactory', {value: function () {\n"
        f"{source}\n;{aliases}return [{names}];\n}}}});"
    )


def runtime_scripts(routine: Routine) -> tuple[str, str]:
    """Return the runtime every routine's context evaluates first, and the routine's entry."""
    return _RUNTIME, f"({_ENTRY[routine]})"


def declared_globals(source: str, limit: float = TIME_LIMIT) -> list[str]:
    """
    Return the names a source declares at its top level, when it may use them as globals.

    In a script, top-level ``var`` and ``function`` names are properties of the global object
    (``this.parse(...)`` in a sloppy function). They are found by running the source once in a
    scratch context (declared globals are the ones that cannot be deleted), and each call then
    makes them properties of the global again, aliasing that call's fresh bindings.
    """
    if _GLOBAL_ACCESS.search(source) is None:
        return []
    scratch = quickjs.Context()
    scratch.set_memory_limit(MEMORY_LIMIT)
    scratch.set_max_stack_size(STACK_LIMIT)
    scratch.set_time_limit(limit)
    before = set(json.loads(scratch.eval("JSON.stringify(Object.getOwnPropertyNames(this))")))
    # Declarations exist from the start: a failing top level is the calls' concern.
    with contextlib.suppress(quickjs.JSException):
        scratch.eval(source)
    found = json.loads(
        scratch.eval(
            "JSON.stringify(Object.getOwnPropertyNames(this).filter(function (n) {"
            " var d = Object.getOwnPropertyDescriptor(this, n);"
            " return d && !d.configurable; }, this))"
        )
    )
    return sorted(name for name in found if name not in before and _IDENTIFIER.fullmatch(name))


class _Context:
    """One routine's QuickJS context, made and used on the codec thread only."""

    def __init__(self, source: str, routine: Routine, limit: float, memory: int) -> None:
        context = quickjs.Context()
        context.set_memory_limit(memory)
        context.set_max_stack_size(STACK_LIMIT)
        self.watchdog = limits.current()
        self.runtime = None
        if self.watchdog is not None and limits.RUNTIMES is not None:
            self.runtime = limits.RUNTIMES.runtime(context)
        if self.runtime is None:
            # The binding's own limit (the process's CPU time): outside a JsRunner only.
            context.set_time_limit(limit)
        self._limit = limit
        self.context = context
        self._run(_RUNTIME)
        self._run(factory(source, routine, self._declared(source)))
        self._call = context.get("__lorawanHubCall")
        self.entry = context.eval(f"({_ENTRY[routine]})")
        self.probe = context.eval(f"({_PROBE})")

    def _declared(self, source: str) -> list[str]:
        return declared_globals(source, self._limit)

    def _run(self, code: str) -> object:
        try:
            return self.context.eval(code)
        except quickjs.JSException as err:
            raise CodecError(f"the codec does not load: {_first_line(err)}") from None
        except (ValueError, TypeError, UnicodeError) as err:
            raise CodecError(f"the codec does not load: {type(err).__name__}") from None

    def call(self, entry: object, text: str) -> str:
        """Run the routine once: a fresh run of the codec's function, limited in time."""
        watchdog = self.watchdog if self.runtime is not None else None
        if watchdog is not None and self.runtime is not None:
            watchdog.begin(self.runtime, self._limit)
        try:
            result = self._call(entry, text)
        finally:
            if watchdog is not None:
                watchdog.end()
        return str(result) if result is not None else ""


class JsCodec:
    """
    One codec: its sources, and a QuickJS context per routine made at the routine's first use.

    ``source`` is one script for every routine (a pasted codec or a ``.js`` file), or a mapping
    of routine (``uplinkDecoder``, ``downlinkEncoder``, ``downlinkDecoder``) to its own source
    (the repository's files). Every method except the constructor runs on the codec thread.
    """

    def __init__(
        self,
        source: str | Mapping[Routine, str] | Mapping[str, str],
        *,
        time_limit: float = TIME_LIMIT,
        memory_limit: int = MEMORY_LIMIT,
    ) -> None:
        """Keep the sources; each routine is compiled at its first call."""
        if isinstance(source, str):
            sources: dict[Routine, str] = dict.fromkeys(ROUTINES, source)
        else:
            given: Mapping[Any, str] = source
            sources = {routine: given[routine] for routine in ROUTINES if routine in given}
        if sum(len(text) for text in set(sources.values())) > MAX_SOURCE:
            raise CodecError(f"the codec is longer than {MAX_SOURCE} characters")
        self.sources = sources
        self._time_limit = time_limit
        self._memory_limit = memory_limit
        self._contexts: dict[Routine, _Context] = {}
        self._defined: dict[Routine, frozenset[str]] = {}

    @property
    def source(self) -> str:
        """Return the uplink decoder's source (the first routine's where there is none)."""
        return self.sources.get(UPLINK_DECODER) or next(iter(self.sources.values()), "")

    def _context(self, routine: Routine) -> _Context:
        context = self._contexts.get(routine)
        if context is None:
            source = self.sources.get(routine)
            if source is None:
                raise CodecError(f"the codec has no {routine}")
            context = _Context(source, routine, self._time_limit, self._memory_limit)
            if routine not in self._defined:
                found = self._run(routine, context, context.probe, {})
                self._defined[routine] = frozenset(
                    name for name, present in zip(FUNCTIONS[routine], found, strict=True) if present
                )
            self._contexts[routine] = context
        return context

    def defines(self, name: str) -> bool:
        """
        Whether the codec can run ``name``.

        ``decodeUplink`` and ``encodeDownlink`` count as defined where their version 2 fallbacks
        (``Decoder``, ``Encoder``) are.
        """
        routine = _ROUTINE_OF.get(name)
        if routine is None or routine not in self.sources:
            return False
        self._context(routine)
        defined = self._defined[routine]
        return name in defined or _FALLBACKS.get(name) in defined

    def invoke(self, routine: Routine, argument: Mapping[str, Any]) -> dict[str, Any]:
        """
        Run a routine and return its result object as The Things Stack's wrapper builds it.

        ``uplinkDecoder`` returns ``{"decoded": ..., "normalized": ...}`` (``normalized`` only
        when ``argument["normalize"]`` is true); the others return the codec's own result. Errors
        the codec lists are left in the result; a codec that throws, or stops at a limit, raises.
        """
        context = self._context(routine)
        result = self._run(routine, context, context.entry, argument)
        if not isinstance(result, dict):
            raise CodecError(f"{routine} did not return an object")
        return result

    def _run(
        self, routine: Routine, context: _Context, entry: object, argument: Mapping[str, Any]
    ) -> Any:
        try:
            given = json.dumps(argument, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise CodecError(f"this cannot be given to the codec: {err}") from None
        try:
            text = context.call(entry, given)
        except quickjs.JSException as err:
            reason = _first_line(err)
            if isinstance(err, quickjs.StackOverflow):
                reason = _LIMITS[-1][0]
            for marker, meaning in _LIMITS:
                if marker in reason:
                    # Its state may be half-changed: start again from the source next time.
                    self._contexts.pop(routine, None)
                    reason = meaning.format(limit=self._time_limit)
                    break
            raise CodecError(f"the codec failed: {reason}") from None
        if text == '"reset"':
            # A global the codec made cannot be removed: a new context, and the call again.
            self._contexts.pop(routine, None)
            fresh = self._context(routine)
            return self._run(
                routine, fresh, fresh.entry if entry is context.entry else fresh.probe, argument
            )
        if len(text) > MAX_RESULT:
            raise CodecError("the codec returned nothing usable")
        try:
            envelope = json.loads(text)
        except ValueError, RecursionError:
            raise CodecError("the codec returned nothing usable") from None
        for line in envelope.get("l") or ():
            _LOGGER.debug("Codec console: %s", line)
        if envelope.get("d"):
            self._contexts.pop(routine, None)
        if "r" not in envelope:
            raise CodecError("the codec returned nothing usable")
        return envelope["r"]

    def decode_uplink(
        self, payload: bytes, f_port: int | None, received_at: datetime
    ) -> DecodeResult:
        """Decode (and normalize, when the codec can) one uplink into flat fields."""
        result = self.invoke(
            UPLINK_DECODER,
            {
                "bytes": list(payload),
                "fPort": f_port,
                "recvTime": received_at.isoformat(),
                "normalize": True,
            },
        )
        decoded = _object(result.get("decoded"), "decodeUplink")
        _raise_errors(decoded)
        data = decoded.get("data")
        if not isinstance(data, dict):
            raise CodecError("decodeUplink returned no data object")
        fields = flatten(data)
        fields.warnings[:0] = _strings(decoded.get("warnings"))
        if "normalizeError" in result:
            fields.warnings.append(f"normalizeUplink failed: {result['normalizeError']}")
        elif "normalized" in result:
            try:
                normalized, warnings = _normalized(result["normalized"])
            except CodecError as err:
                # The decoded fields still count: kept, without the standard names.
                fields.warnings.append(str(err))
            else:
                fields = merge_normalized(fields, normalized)
                fields.warnings += warnings
        return fields

    def encode_downlink(self, data: Mapping[str, Any], f_port: int | None) -> tuple[bytes, int]:
        """Encode an object into a payload and its port (the codec may choose the port)."""
        argument: dict[str, Any] = {"data": dict(data)}
        if f_port is not None:
            argument["fPort"] = f_port
        result = self.invoke(DOWNLINK_ENCODER, argument)
        _raise_errors(result)
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


def _object(value: object, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CodecError(f"{name} did not return an object")
    return value


def _raise_errors(result: Mapping[str, Any]) -> None:
    errors = result.get("errors")
    if isinstance(errors, list) and errors:
        raise CodecError("; ".join(str(error) for error in errors))


def _normalized(value: object) -> tuple[DecodeResult, list[str]]:
    """Return normalizeUplink's standard fields (with their units) and its warnings."""
    normalized = _object(value, "normalizeUplink")
    errors = normalized.get("errors")
    if isinstance(errors, list) and errors:
        raise CodecError("normalizeUplink failed: " + "; ".join(str(error) for error in errors))
    data = normalized.get("data")
    if isinstance(data, list):
        data = data[0] if len(data) == 1 else {"measurement": data}
    if not isinstance(data, dict):
        raise CodecError("normalizeUplink returned no data object")
    result = flatten(data)
    for key in result.fields:
        # Several measurements are listed as measurement_<n>_<standard name>.
        standard = key.split("_", 2)[-1] if key.startswith("measurement_") else key
        if key not in result.units and (unit := NORMALIZED_UNITS.get(standard)):
            result.units[key] = unit
    return result, _strings(normalized.get("warnings"))


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
        """Start the thread, with a stack deep enough for QuickJS's own limit, and its watchdog."""
        self._watchdog: limits.Watchdog | None = None
        previous = threading.stack_size()
        try:
            threading.stack_size(_THREAD_STACK)
            self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="lorawan_hub_codec"
            )
            self._pool.submit(self._install).result()
        finally:
            threading.stack_size(previous)

    def _install(self) -> None:
        self._watchdog = limits.install(threading.get_ident())

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
        Stop the thread once what it runs is done, and its watchdog.

        The last call is awaited first, so the thread is idle and its join returns at once.
        """
        await self.run(int)
        self._pool.shutdown(wait=True)
        if self._watchdog is not None:
            self._watchdog.stop()
