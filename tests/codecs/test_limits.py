"""The codec time limit's watchdog and its ways around a binding it cannot reach."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from custom_components.lorawan_hub.codecs import limits


class FakeRuntimes:
    """Records what the watchdog asks of QuickJS runtimes."""

    def __init__(self) -> None:
        """Nothing asked yet."""
        self.interrupted = threading.Event()
        self.cleared: list[int] = []

    def interrupt(self, runtime: int) -> None:
        """A call on ``runtime`` is to stop."""
        self.interrupted.set()

    def clear(self, runtime: int) -> None:
        """The handler of ``runtime`` goes."""
        self.cleared.append(runtime)


def test_watchdog_stops_a_call_over_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """A call past its budget is interrupted once; the end of the call clears the handler."""
    monkeypatch.delattr(time, "pthread_getcpuclockid")
    fake = FakeRuntimes()
    watchdog = limits.Watchdog(threading.get_ident(), fake)  # type: ignore[arg-type]
    try:
        assert watchdog.clock is None  # wall time where there is no thread CPU clock
        assert not watchdog.end()
        watchdog.begin(7, 0.01)
        assert fake.interrupted.wait(10)
        assert watchdog.end()
        assert fake.cleared == [7]
        # A call that ends in time is not interrupted, and the next one is watched again.
        fake.interrupted.clear()
        watchdog.begin(8, 60)
        assert not watchdog.end()
        watchdog.begin(9, 0.01)
        assert fake.interrupted.wait(10)
        assert watchdog.end()
    finally:
        watchdog.stop()
    assert fake.cleared == [7, 9]


def test_thread_cpu_clock() -> None:
    """On Linux the watchdog reads the codec thread's own CPU clock."""
    fake = FakeRuntimes()
    watchdog = limits.Watchdog(threading.get_ident(), fake)  # type: ignore[arg-type]
    try:
        assert watchdog.clock == time.pthread_getcpuclockid(threading.get_ident())
    finally:
        watchdog.stop()


def test_runtimes_that_cannot_be_reached(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Without QuickJS's symbols the binding's own limit stays (and a warning says so)."""
    with pytest.raises(OSError, match="JS_SetInterruptHandler"):
        limits._Runtimes("libc.so.6")

    def missing(_library: str) -> limits._Runtimes:
        raise OSError("no symbol")

    monkeypatch.setattr(limits, "_Runtimes", missing)
    with caplog.at_level(logging.WARNING):
        assert limits._load() is None
    assert "count the process's CPU time" in caplog.text
    monkeypatch.setattr(limits, "RUNTIMES", None)
    assert limits.install(threading.get_ident()) is None


def test_runtime_of_other_objects() -> None:
    """Only the binding's Context is read."""
    assert limits.RUNTIMES is not None
    assert limits.RUNTIMES.runtime(object()) is None
