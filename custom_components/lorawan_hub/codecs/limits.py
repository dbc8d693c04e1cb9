"""
The time limit of a codec call: the codec thread's own CPU time, never the process's.

The ``quickjs`` binding's own limit (``Context.set_time_limit``) compares C's ``clock()``, the CPU
time of the whole process: with one other busy thread a codec gets half its budget, and Home
Assistant has many threads. Here a watchdog thread, one per codec thread, reads the codec
thread's CPU clock (``pthread_getcpuclockid``) while a call runs and, once the budget is spent,
installs an interrupt handler on that call's QuickJS runtime (``JS_SetInterruptHandler``,
reached through ``ctypes``): QuickJS stops the call at its next check, as it does for the
binding's own limit. The codec thread itself never waits for anything while it runs JavaScript.

Where the binding's runtime cannot be reached (another binding build, or a platform whose
extension does not export the symbol), codecs fall back to the binding's own limit.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
import logging
import threading
import time
from typing import Any, Final

import _quickjs

_LOGGER = logging.getLogger(__name__)

_EXPECTED_SIZE: Final = object.__basicsize__ + 8 * ctypes.sizeof(ctypes.c_void_p)
"""Size of the binding's Context object (runtime, context, limits, GIL state, callables)."""

_HANDLER: Final = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


def _stop(_runtime: int | None, _opaque: int | None) -> int:
    """Tell QuickJS to stop the running call (its next interrupt check throws)."""
    return 1


_STOP: Final = _HANDLER(_stop)


class _Runtimes:
    """The binding's QuickJS runtimes, reached through ``ctypes``."""

    def __init__(self, library: str) -> None:
        """Find the two QuickJS functions in the binding's extension; ``OSError`` if absent."""
        try:
            handle = ctypes.CDLL(library)
            self._set_handler: Any = handle.JS_SetInterruptHandler
            self._opaque: Any = handle.JS_GetRuntimeOpaque
        except AttributeError as err:
            raise OSError(str(err)) from None
        self._set_handler.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
        self._set_handler.restype = None
        self._opaque.argtypes = (ctypes.c_void_p,)
        self._opaque.restype = ctypes.c_void_p
        self._stop = ctypes.cast(_STOP, ctypes.c_void_p).value

    def runtime(self, context: object) -> int | None:
        """
        Return the ``JSRuntime *`` of a ``quickjs.Context``, None when its layout is not known.

        The binding keeps the runtime right after the object header and makes the Context the
        runtime's opaque pointer: both are checked before the pointer is used.
        """
        if type(context).__basicsize__ != _EXPECTED_SIZE:
            return None
        runtime = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
        if not runtime or self._opaque(runtime) != id(context):
            return None
        return int(runtime)

    def interrupt(self, runtime: int) -> None:
        """Make the runtime's running call stop at its next interrupt check."""
        self._set_handler(runtime, self._stop, None)

    def clear(self, runtime: int) -> None:
        """Remove the interrupt handler."""
        self._set_handler(runtime, None, None)


def _load() -> _Runtimes | None:
    try:
        return _Runtimes(_quickjs.__file__)
    except OSError as err:
        _LOGGER.warning(
            "Codec time limits count the process's CPU time here (QuickJS runtimes cannot be "
            "reached: %s)",
            err,
        )
        return None


RUNTIMES: Final = _load()


def _cpu_clock(thread_id: int) -> int | None:
    try:
        return time.pthread_getcpuclockid(thread_id)
    except AttributeError, OSError:  # not on every platform: wall time there
        return None


@dataclass(slots=True)
class _Call:
    runtime: int
    started: float
    budget: float
    interrupted: bool = False


class Watchdog:
    """
    Stops a call on one codec thread once it has used its budget of that thread's CPU time.

    ``begin`` and ``end`` run on the codec thread around each call; the watchdog's own thread
    sleeps while no call runs, and otherwise until the earliest moment the running call could
    have spent its budget (a thread's CPU time never grows faster than wall time).
    """

    def __init__(self, thread_id: int, runtimes: _Runtimes) -> None:
        """Watch the thread ``thread_id`` (its CPU clock; wall time where there is none)."""
        self._runtimes = runtimes
        clock = _cpu_clock(thread_id)
        self.clock = clock
        self._now = time.monotonic if clock is None else lambda: time.clock_gettime(clock)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._call: _Call | None = None
        self._idle = False
        self._stopped = False
        self._thread = threading.Thread(
            target=self._run, name="lorawan_hub_codec_watchdog", daemon=True
        )
        self._thread.start()

    def begin(self, runtime: int, budget: float) -> None:
        """Start watching a call on ``runtime`` that may use ``budget`` seconds."""
        call = _Call(runtime, self._now(), budget)
        with self._lock:
            self._call = call
            if self._idle:
                self._idle = False
                self._wake.set()

    def end(self) -> bool:
        """End the call; return whether the watchdog stopped it."""
        with self._lock:
            call, self._call = self._call, None
        if call is None:
            return False
        if call.interrupted:
            self._runtimes.clear(call.runtime)
        return call.interrupted

    def stop(self) -> None:
        """Stop the watchdog's thread (no call may be running)."""
        with self._lock:
            self._stopped = True
            self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._stopped:
                    return
                call = self._call
                self._wake.clear()
                if call is None or call.interrupted:
                    self._idle = True
            if call is None or call.interrupted:
                self._wake.wait()
                continue
            remaining = call.budget - (self._now() - call.started)
            if remaining > 0:
                self._wake.wait(remaining)
                continue
            with self._lock:
                if self._call is call:
                    call.interrupted = True
                    self._runtimes.interrupt(call.runtime)


_local = threading.local()


def install(thread_id: int) -> Watchdog | None:
    """Give the calling (codec) thread its watchdog; None where runtimes cannot be reached."""
    if RUNTIMES is None:
        return None
    watchdog = Watchdog(thread_id, RUNTIMES)
    _local.watchdog = watchdog
    return watchdog


def current() -> Watchdog | None:
    """Return the watchdog of the calling thread, if it has one."""
    watchdog: Watchdog | None = getattr(_local, "watchdog", None)
    return watchdog
