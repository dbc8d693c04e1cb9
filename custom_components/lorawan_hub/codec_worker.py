"""
The JavaScript codecs of one entry's device types, run on a codec thread of their own.

Uplinks of devices with a JavaScript device type wait here, in the order they came, and are
decoded in batches on the codec thread; each is then handed back to the coordinator, decoded or
(when its codec fails) raw. A codec that fails raises a repair naming the device and why; its
next good decode clears it. Nothing is lost: when the entry stops, what waits is decoded first
(bounded), and the rest is delivered raw.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
import contextlib
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, issue_registry as ir

from .codecs.decode import Decoded
from .codecs.javascript import CodecError, JsCodec, JsRunner, decode_batch
from .codecs.result import DecodeResult
from .const import DOMAIN, LOGGER
from .device_state import DeviceState
from .device_types import CONF_NAME, JS_PREFIX, async_load_codec
from .lns.base import ThrottledLog
from .lns.models import Uplink

type Deliver = Callable[[DeviceState, Uplink, Decoded], None]

JS_QUEUE = 10_000
"""Uplinks waiting for their JavaScript codec before new ones stay raw."""
JS_BATCH = 64
"""Uplinks decoded in one trip to the codec thread."""
JS_DRAIN = 5.0
"""Seconds an entry that stops gives its codecs to decode what came in."""
MAX_ISSUE_REASON = 500
"""Characters of a codec's error shown in a repair (a codec may return long error lists)."""
CODEC_ISSUE = "codec_"
"""Prefix of the repair issues about a failing codec: codec_<entry id>_<DevEUI>."""

_LOG = ThrottledLog(LOGGER)


@callback
def async_delete_codec_issues(hass: HomeAssistant, entry_id: str) -> None:
    """Remove the entry's repairs about failing codecs."""
    prefix = f"{CODEC_ISSUE}{entry_id}_"
    for domain, issue_id in list(ir.async_get(hass).issues):
        if domain == DOMAIN and issue_id.startswith(prefix):
            ir.async_delete_issue(hass, DOMAIN, issue_id)


def _drain[T](queue: asyncio.Queue[T]) -> list[T]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


class CodecWorker:
    """One entry's JavaScript codecs, their queue of uplinks and their repairs."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        device_types: Mapping[str, Mapping[str, Any]],
        deliver: Deliver,
    ) -> None:
        """Serve the entry's ``device_types``; decoded uplinks go to ``deliver``."""
        self.hass = hass
        self._entry_id = entry_id
        self._device_types = device_types
        self._deliver = deliver
        self.codecs: dict[str, JsCodec] = {}
        """Device type id → its JavaScript codec."""
        self.codec_errors: dict[str, str] = {}
        """Device type id → why its codec could not be loaded."""
        self._runner: JsRunner | None = None
        self._queue: asyncio.Queue[tuple[DeviceState, Uplink]] = asyncio.Queue(JS_QUEUE)
        self._task: asyncio.Task[None] | None = None
        self._pending: list[tuple[DeviceState, Uplink]] = []
        """The batch on the codec thread now."""

    async def async_load(self) -> None:
        """
        Prepare the device types' codecs; one that cannot load leaves its devices raw.

        The repairs of an earlier run go: the codecs may have changed, and any that still fails
        says so again with its next uplink.
        """
        async_delete_codec_issues(self.hass, self._entry_id)
        for type_id, definition in self._device_types.items():
            try:
                self.codecs[type_id] = await async_load_codec(self.hass, definition)
            except CodecError as err:
                self.codec_errors[type_id] = str(err)
                LOGGER.warning(
                    "The codec of device type %s cannot be loaded: %s",
                    definition.get(CONF_NAME, type_id),
                    err,
                )

    def start(self, create_task: Callable[[Any, str], asyncio.Task[None]]) -> None:
        """Start the codec thread and the task feeding it (when there are codecs)."""
        if self.codecs:
            self._runner = runner = JsRunner()
            self._task = create_task(self._decode_queued(runner), f"{DOMAIN} codecs")

    @callback
    def take(self, state: DeviceState, uplink: Uplink) -> str | None:
        """
        Queue an uplink for its device's codec; None once taken, else why it stays raw.

        An uplink that stays raw raises the device's repair.
        """
        type_id = state.codec.removeprefix(JS_PREFIX)
        if type_id not in self.codecs or self._task is None:
            reason = self.codec_errors.get(type_id, "its device type no longer exists")
        else:
            try:
                # Decoded off the event loop, in the order the uplinks came.
                self._queue.put_nowait((state, uplink))
            except asyncio.QueueFull:
                reason = "too many uplinks are waiting for their codec"
            else:
                return None
        self._guarded(self.codec_failed, state, reason)
        return reason

    async def _decode_queued(self, runner: JsRunner) -> None:
        """Decode queued uplinks with their device type's codec, in order, in batches."""
        queue = self._queue
        while True:
            batch = [await queue.get()]
            while len(batch) < JS_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            # Until the batch is delivered it is pending: an entry that stops meanwhile (or a
            # bug that ends this task) delivers it raw.
            self._pending = batch
            await self._decode_batch(runner, batch)
            self._pending = []
            for _ in batch:
                queue.task_done()

    async def _decode_batch(
        self, runner: JsRunner, batch: Sequence[tuple[DeviceState, Uplink]]
    ) -> None:
        """Decode and deliver one batch; whatever fails, every uplink of it is delivered."""
        try:
            outcomes = await runner.run(
                decode_batch,
                [
                    (
                        self.codecs[state.codec.removeprefix(JS_PREFIX)],
                        uplink.payload,
                        uplink.f_port,
                        uplink.received_at,
                    )
                    for state, uplink in batch
                ],
            )
        except Exception:  # noqa: BLE001 - the uplinks are delivered raw, never lost
            LOGGER.exception("The codec thread failed; %d uplinks stay raw", len(batch))
            self._deliver_raw(batch, "the codec thread failed")
            return
        for (state, uplink), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, CodecError):
                decoded = Decoded(DecodeResult({}), state.codec, str(outcome))
                self._guarded(self.codec_failed, state, str(outcome))
            else:
                decoded = Decoded(outcome, state.codec)
                self._guarded(self.codec_worked, state)
            try:
                self._deliver(state, uplink, decoded)
            except Exception:  # noqa: BLE001 - one uplink never stops the codecs
                _LOG.exception("deliver", "An uplink of %s could not be delivered", state.dev_eui)

    @staticmethod
    def _guarded(update: Callable[..., None], state: DeviceState, *args: Any) -> None:
        """Raise or clear a codec repair; a failure there is logged and loses nothing."""
        try:
            update(state, *args)
        except Exception:  # noqa: BLE001 - the uplink is delivered all the same
            _LOG.exception("repair", "The codec repair of %s could not be updated", state.dev_eui)

    @callback
    def _deliver_raw(self, uplinks: Sequence[tuple[DeviceState, Uplink]], reason: str) -> None:
        """Deliver uplinks undecoded (their payload is kept; their event fires)."""
        for state, uplink in uplinks:
            self._deliver(state, uplink, Decoded(DecodeResult({}), state.codec, reason))

    async def async_stop(self) -> None:
        """Decode what came in (bounded: a slow codec's rest stays raw), then stop the thread."""
        if self._task is not None:
            # What came in is decoded before the entry stops, so that no uplink is lost: it was
            # acknowledged, and its key remembered.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(JS_DRAIN):
                    await self._queue.join()
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            except Exception:  # noqa: BLE001 - logged; the entry stops all the same
                LOGGER.exception("The codec task had failed")
            self._task = None
            self._deliver_raw([*self._pending, *_drain(self._queue)], "the entry stopped first")
        try:
            if self._runner is not None:
                await self._runner.async_close()
        except Exception:  # noqa: BLE001 - logged; the entry stops all the same
            LOGGER.exception("The codec thread did not stop cleanly")
        self._runner = None

    async def async_encode_downlink(
        self, state: DeviceState, data: Mapping[str, Any], f_port: int
    ) -> tuple[bytes, int] | None:
        """
        Encode ``data`` with the device's codec; None when it has no encoder.

        Raises CodecError with the codec's own words when it refuses ``data``.
        """
        codec = self.codecs.get(state.codec.removeprefix(JS_PREFIX))
        runner = self._runner
        if not state.codec.startswith(JS_PREFIX) or codec is None or runner is None:
            return None
        if not await runner.run(codec.defines, "encodeDownlink"):
            return None
        return await runner.run(codec.encode_downlink, data, f_port)

    # --- repairs ------------------------------------------------------------------------------

    def _issue_id(self, state: DeviceState) -> str:
        return f"{CODEC_ISSUE}{self._entry_id}_{state.dev_eui}"

    @callback
    def codec_failed(self, state: DeviceState, reason: str) -> None:
        """Raise (or update) the repair issue naming the device and why its codec fails."""
        device = dr.async_get(self.hass).async_get(state.device_id)
        type_id = state.codec.removeprefix(JS_PREFIX)
        definition = self._device_types.get(type_id, {})
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self._issue_id(state),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="codec_failed",
            translation_placeholders={
                "device": (device.name_by_user or device.name or state.dev_eui)
                if device
                else state.dev_eui,
                "device_type": str(definition.get(CONF_NAME, type_id)),
                "reason": reason
                if len(reason) <= MAX_ISSUE_REASON
                else reason[: MAX_ISSUE_REASON - 1] + "…",
            },
        )
        state.codec_issue = True

    @callback
    def codec_worked(self, state: DeviceState) -> None:
        """Clear the device's repair, if it has one."""
        if state.codec_issue:
            ir.async_delete_issue(self.hass, DOMAIN, self._issue_id(state))
            state.codec_issue = False
