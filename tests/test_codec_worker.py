"""The codec worker when things go wrong: nothing it was given is lost, nothing stops it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from unittest.mock import patch

import pytest

from homeassistant.core import HomeAssistant

from custom_components.lorawan_hub import codec_worker
from custom_components.lorawan_hub.codec_worker import CodecWorker
from custom_components.lorawan_hub.codecs.decode import Decoded
from custom_components.lorawan_hub.codecs.javascript import JsRunner
from custom_components.lorawan_hub.device_state import DeviceState
from custom_components.lorawan_hub.device_types import CONF_CODE, CONF_NAME, CONF_SOURCE
from custom_components.lorawan_hub.lns.models import Uplink

CODEC = "function decodeUplink(input) { return { data: { first: input.bytes[0] } }; }"
TYPES = {"echo": {CONF_NAME: "Echo", CONF_SOURCE: "paste", CONF_CODE: CODEC}}
METER = "70B3D57ED0000001"


def uplink(f_cnt: int) -> Uplink:
    """Return an uplink of the meter."""
    return Uplink(
        dev_eui=METER,
        received_at=datetime(2026, 12, 1, 12, f_cnt, tzinfo=UTC),
        f_port=1,
        f_cnt=f_cnt,
        payload=bytes([f_cnt]),
    )


class Delivered:
    """Records what the worker hands back; can be made to fail once."""

    def __init__(self) -> None:
        """Nothing yet."""
        self.items: list[tuple[int | None, Decoded]] = []
        self.fail_next = False
        self.changed = asyncio.Event()

    def __call__(self, state: DeviceState, uplink: Uplink, decoded: Decoded) -> None:
        """Take a decoded (or raw) uplink."""
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("a broken delivery")
        self.items.append((uplink.f_cnt, decoded))
        self.changed.set()

    async def wait(self, count: int) -> None:
        """Wait until ``count`` uplinks came back."""
        async with asyncio.timeout(10):
            while len(self.items) < count:
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
def delivered() -> Delivered:
    """What the worker delivers."""
    return Delivered()


@pytest.fixture
async def worker(hass: HomeAssistant, delivered: Delivered) -> AsyncIterator[CodecWorker]:
    """A worker with the echo codec, started."""
    codecs = CodecWorker(hass, "entry", TYPES, delivered)
    await codecs.async_load()
    codecs.start(hass.async_create_background_task)
    yield codecs
    await codecs.async_stop()


def meter() -> DeviceState:
    """Return the meter's state, decoded by the echo codec."""
    return DeviceState(dev_eui=METER, device_id="meter", codec="js:echo")


def blocked_runner(release: asyncio.Event) -> Callable[..., Any]:
    """Return a ``JsRunner.run`` that waits for ``release`` before running anything."""
    original = JsRunner.run

    async def run(self: JsRunner, function: Callable[..., Any], *args: Any) -> Any:
        if function is not int:  # the close waits for nothing
            await release.wait()
        return await original(self, function, *args)

    return run


async def test_a_failing_codec_thread_leaves_the_uplinks_raw(
    worker: CodecWorker, delivered: Delivered, caplog: pytest.LogCaptureFixture
) -> None:
    """The thread failing: the batch is delivered raw, and the next uplinks decode again."""
    state = meter()
    with patch.object(JsRunner, "run", side_effect=RuntimeError("thread gone")):
        assert worker.take(state, uplink(1)) is None
        await delivered.wait(1)
    assert delivered.items[0][1].error == "the codec thread failed"
    assert "The codec thread failed; 1 uplinks stay raw" in caplog.text
    assert worker.take(state, uplink(2)) is None
    await delivered.wait(2)
    assert delivered.items[1][1].result.fields == {"first": 2}


async def test_a_full_queue_leaves_the_uplink_raw(
    hass: HomeAssistant, delivered: Delivered, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Too many uplinks waiting: the next one stays raw, with the reason in a repair."""
    monkeypatch.setattr(codec_worker, "JS_QUEUE", 1)
    release = asyncio.Event()
    with patch.object(JsRunner, "run", blocked_runner(release)):
        codecs = CodecWorker(hass, "entry", TYPES, delivered)
        await codecs.async_load()
        codecs.start(hass.async_create_background_task)
        state = meter()
        assert codecs.take(state, uplink(1)) is None  # on the thread, blocked
        await asyncio.sleep(0)
        assert codecs.take(state, uplink(2)) is None  # waits in the queue
        assert codecs.take(state, uplink(3)) == "too many uplinks are waiting for their codec"
        assert state.codec_issue
        release.set()
        await delivered.wait(2)
        await codecs.async_stop()
    assert [f_cnt for f_cnt, _ in delivered.items] == [1, 2]


async def test_what_waits_at_stop_is_delivered_raw(
    hass: HomeAssistant, delivered: Delivered, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A codec still busy when the entry stops: what waits is delivered raw, never lost."""
    monkeypatch.setattr(codec_worker, "JS_DRAIN", 0.05)
    release = asyncio.Event()
    with patch.object(JsRunner, "run", blocked_runner(release)):
        codecs = CodecWorker(hass, "entry", TYPES, delivered)
        await codecs.async_load()
        codecs.start(hass.async_create_background_task)
        state = meter()
        assert codecs.take(state, uplink(1)) is None
        await asyncio.sleep(0.01)  # on the thread; the next two wait in the queue
        for f_cnt in (2, 3):
            assert codecs.take(state, uplink(f_cnt)) is None
        await codecs.async_stop()
    assert {f_cnt for f_cnt, _ in delivered.items} == {1, 2, 3}
    assert {decoded.error for _, decoded in delivered.items} == {"the entry stopped first"}


async def test_a_repair_that_cannot_be_raised_loses_nothing(
    worker: CodecWorker, delivered: Delivered, caplog: pytest.LogCaptureFixture
) -> None:
    """The issue registry failing: the uplink is delivered all the same."""
    with patch(
        "homeassistant.helpers.issue_registry.async_delete_issue", side_effect=RuntimeError("no")
    ):
        state = meter()
        state.codec_issue = True
        assert worker.take(state, uplink(1)) is None
        await delivered.wait(1)
    assert delivered.items[0][1].result.fields == {"first": 1}
    assert "The codec repair of 70B3D57ED0000001 could not be updated" in caplog.text


async def test_a_delivery_that_fails_stops_nothing(
    worker: CodecWorker, delivered: Delivered, caplog: pytest.LogCaptureFixture
) -> None:
    """One uplink that cannot be delivered is logged; the next ones are decoded."""
    delivered.fail_next = True
    assert worker.take(meter(), uplink(1)) is None
    assert worker.take(meter(), uplink(2)) is None
    await delivered.wait(1)
    assert [f_cnt for f_cnt, _ in delivered.items] == [2]
    assert "An uplink of 70B3D57ED0000001 could not be delivered" in caplog.text


async def test_a_task_or_thread_that_fails_does_not_stop_the_stop(
    hass: HomeAssistant, delivered: Delivered, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug that ends the task, a thread that does not close: the batch still comes back."""
    codecs = CodecWorker(hass, "entry", TYPES, delivered)
    await codecs.async_load()
    codecs.start(hass.async_create_background_task)
    with patch.object(JsRunner, "run", return_value=[]):  # an answer for no uplink: a bug
        assert codecs.take(meter(), uplink(1)) is None
        await asyncio.sleep(0.05)
    runner = codecs._runner
    assert runner is not None
    with patch.object(JsRunner, "async_close", side_effect=RuntimeError("stuck")):
        await codecs.async_stop()
    await runner.async_close()  # the thread the failed close left
    assert "The codec task had failed" in caplog.text
    assert "The codec thread did not stop cleanly" in caplog.text
    assert [(f_cnt, decoded.error) for f_cnt, decoded in delivered.items] == [
        (1, "the entry stopped first")
    ]
