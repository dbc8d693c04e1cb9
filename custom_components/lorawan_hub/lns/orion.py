"""
OrionM2M network server: the WebSocket API (``wss://.../ws/v2/?app_id=...&token=...``).

One WebSocket carries everything: requests (``*_req``) answered by ``*_resp`` frames, matched by
``operation_id`` where the server echoes it and in order otherwise (``orion_connection``), and
``realtime_data`` frames once ``consume_req`` subscribed the connection. What the frames mean is
in ``orion_messages``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import itertools
import json
import logging
from typing import Any, Final

import aiohttp
import orjson
from yarl import URL

from .base import Backoff, NetworkServer, Sink, ThrottledLog, reconnect_forever
from .errors import AuthError, CannotConnect, InvalidRequest, LnsError, ProtocolError, Unsupported
from .models import (
    Capability,
    Downlink,
    DownlinkMode,
    DownlinkResult,
    DownlinkState,
    DownlinkStatus,
    LoRaClass,
    ServerDevice,
    Uplink,
)
from .orion_connection import Connection
from .orion_messages import (
    CLASS_TO_ORION,
    ORION_TO_CLASS,
    TIME_FORMAT,
    device_from_entry,
    format_time,
    history_complete,
    location_from,
    raise_for_status,
    row_key,
    row_time,
    same_device,
    update_request,
    uplink_from_frame,
)
from .parse import as_dict, eui, opt_int, parse_time

__all__ = [
    "DEFAULT_URL",
    "TIME_FORMAT",
    "OrionClient",
    "device_from_entry",
    "format_time",
    "location_from",
    "raise_for_status",
    "uplink_from_frame",
]

_LOGGER = logging.getLogger(__name__)

DEFAULT_URL: Final = "wss://iot.orion-m2m.com/ws/v2/"

MAX_FRAME: Final = 32 * 1024 * 1024
"""Larger frames close the connection (a device list of 10,000 devices is about 5 MB)."""
HISTORY_PAGE: Final = 500
"""Stored uplinks asked for at once."""
HISTORY_MAX_LIMIT: Final = 20_000
"""
The largest ``limit`` asked for when more stored uplinks than a page share one second.

``limit`` is a uint32 without a documented maximum (3.15); 20,000 rows are about 9 MB, well
below ``MAX_FRAME``.
"""
HISTORY_MAX_AGE: Final = timedelta(days=7)
ACK_POLL_INTERVAL: Final = 60.0
ACK_GIVE_UP: Final = timedelta(days=1)
REALTIME_WINDOW: Final = 10.0
"""
Seconds after which a ``realTime`` downlink that did not go out never will.

A realTime downlink goes out in the receive window of the device's last uplink or is "marked as
Late and the sending will be canceled" (3.18, note); that window closes a second or two after the
uplink.
"""
LATE_REASON: Final = (
    "missed the device's receive window: the server marked it late and cancelled it"
)


@dataclass
class _PendingAck:
    dev_eui: str
    sent_at: datetime
    decide_at: float | None = None
    """For a realTime downlink: the loop time by which it went out or was cancelled."""


class OrionClient(NetworkServer):
    """A client of one OrionM2M application."""

    vendor = "orion"
    name = "OrionM2M"
    reports_port = False  # neither realtime data nor the history carries the port
    capabilities = frozenset(
        {
            Capability.DOWNLINK,
            Capability.DOWNLINK_ACK,
            Capability.MAX_DOWNLINK_SIZE,
            Capability.CLASS_CHANGE,
            Capability.LOCATION,
            Capability.BACKFILL,
        }
    )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        app_id: str,
        token: str,
        *,
        request_timeout: float = 15.0,
        ping_interval: float = 30.0,
        alive_timeout: int = 120,
        backoff: Backoff | None = None,
        ack_poll_interval: float = ACK_POLL_INTERVAL,
        realtime_window: float | None = None,
    ) -> None:
        """Prepare a client; nothing connects until ``validate``, ``list_devices`` or ``run``."""
        self._session = session
        self._url = URL(url)
        self._app_id = app_id
        self._token = token
        self._request_timeout = request_timeout
        self._ping_interval = ping_interval
        self._alive_timeout = alive_timeout
        self._backoff = backoff or Backoff()
        self._ack_poll_interval = ack_poll_interval
        self._realtime_window = realtime_window
        """Seconds a realTime downlink has to go out (``REALTIME_WINDOW`` when None)."""
        self._operation_ids = itertools.count(1)
        self._live: Connection | None = None
        self._sink: Sink | None = None
        self._pending_acks: dict[str, _PendingAck] = {}
        self._ack_check: asyncio.Task[None] | None = None
        self._ack_check_due = 0.0
        self._ack_check_again = False
        self._buffer: list[Uplink] | None = None
        self._unknown_commands: set[str] = set()
        """Optional commands the server answered ``invalid_command_req``: not asked again."""
        self._failed_optional: set[str] = set()
        self._log = ThrottledLog(_LOGGER)

    @property
    def host(self) -> str:
        """The server's host, safe to show (the URL carries the token once connected)."""
        return self._url.host or ""

    # --- connection ---------------------------------------------------------------------------

    async def _open(self) -> Connection:
        """Connect and read the ``connected`` greeting."""
        url = self._url.update_query(app_id=self._app_id, token=self._token)
        try:
            ws = await self._session.ws_connect(
                url,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
                max_msg_size=MAX_FRAME,
                autoping=True,
            )
        except aiohttp.WSServerHandshakeError as err:
            # The error's text holds the URL, and with it the token: report the status only.
            if err.status in (401, 403):
                raise AuthError(f"handshake refused with HTTP {err.status}") from None
            raise CannotConnect(f"handshake failed with HTTP {err.status}") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise CannotConnect(f"cannot reach {self.host}: {type(err).__name__}") from None
        conn = Connection(
            ws,
            host=self.host,
            request_timeout=self._request_timeout,
            operation_ids=self._operation_ids,
        )
        try:
            async with asyncio.timeout(self._request_timeout):
                greeting = await conn.receive_json()
            if greeting.get("cmd") != "connected":
                raise ProtocolError("the server did not greet with 'connected'")
            if greeting.get("status") != 1:
                raise_for_status({**greeting, "status": 2})
        except TimeoutError:
            await ws.close()
            raise CannotConnect(f"{self.host} did not answer the connection") from None
        except BaseException:
            await ws.close()
            raise
        return conn

    async def _optional(
        self, conn: Connection, request: dict[str, Any], *, operation_id: bool = True
    ) -> dict[str, Any] | None:
        """
        Send a request the connection does without; None when the server did not do it.

        Such commands came late to the document (coordinates in revision 09) or only tune the
        connection: a server that refuses one is told once in the log, and one that does not
        know it is not asked again. Only a lost connection ends the connection.
        """
        cmd = request["cmd"]
        if cmd in self._unknown_commands:
            return None
        try:
            return await conn.request(request, operation_id=operation_id)
        except LnsError as err:
            if conn.closed:
                raise CannotConnect(f"lost {self.host} during {cmd}") from None
            if err.key == "unknown_command":
                self._unknown_commands.add(cmd)
            log = _LOGGER.debug if cmd in self._failed_optional else _LOGGER.warning
            self._failed_optional.add(cmd)
            log("%s did not do %s (%s); carrying on without it", self.host, cmd, err.reason)
            return None

    async def _read(self, conn: Connection) -> None:
        """Dispatch every frame until the connection closes."""
        try:
            async for message in conn.ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    if message.type is aiohttp.WSMsgType.BINARY:
                        self._log.warning("binary", "Dropped a binary frame from %s", self.host)
                        continue
                    break
                self._dispatch(conn, message.data)
        finally:
            conn.fail_all()

    def _dispatch(self, conn: Connection, text: str) -> None:
        try:
            message = orjson.loads(text)
        except ValueError:
            # orjson refuses some JSON (integers beyond 64 bits, NaN): one such value must not
            # cost the frame, whose readers then drop the value alone.
            try:
                message = json.loads(text)
            except ValueError:
                self._log.warning("json", "Dropped a frame from %s that is not JSON", self.host)
                return
        if not isinstance(message, dict):
            self._log.warning("object", "Dropped a frame from %s that is not an object", self.host)
            return
        cmd = message.get("cmd")
        if cmd == "realtime_data":
            self._realtime(message)
        elif cmd == "die_connection_close":
            _LOGGER.debug("%s announced that it closes the connection", self.host)
            conn.closed = True
        elif not conn.answer(message):
            _LOGGER.debug("Ignored an unexpected %s frame from %s", cmd, self.host)

    def _realtime(self, message: dict[str, Any]) -> None:
        dropped: list[str] = []
        try:
            uplink = uplink_from_frame(
                message.get("devEui"),
                as_dict(message.get("data"), "data"),
                message.get("devAddr"),
                dropped=dropped,
                live=True,
            )
        except ProtocolError as err:
            self._log.warning("frame", "Dropped a malformed uplink from %s: %s", self.host, err)
            return
        if dropped:
            self._log.warning(
                "value",
                "Left out the bad %s of an uplink of %s from %s",
                ", ".join(dropped),
                uplink.dev_eui,
                self.host,
            )
        if self._buffer is not None:
            self._buffer.append(uplink)
            return
        self._backoff.proven()
        self._deliver(uplink)

    def _deliver(self, uplink: Uplink) -> None:
        if self._sink is None:
            return
        try:
            self._sink.uplink(uplink)
        except Exception:  # one uplink must never end the connection or the catch-up
            _LOGGER.exception("Error while handling an uplink of %s", uplink.dev_eui)
        if self._pending_acks and any(
            ack.dev_eui == uplink.dev_eui for ack in self._pending_acks.values()
        ):
            self._schedule_ack_check(0)

    @contextlib.asynccontextmanager
    async def _temporary(self) -> AsyncIterator[Connection]:
        """Open a connection for the duration of the block (set-up and validation)."""
        conn = await self._open()
        reader = asyncio.create_task(self._read(conn))
        try:
            yield conn
        finally:
            await conn.ws.close()
            await reader

    # --- NetworkServer ------------------------------------------------------------------------

    async def validate(self) -> None:
        """Connect once and ask for the device list, which needs the token's rights."""
        async with self._temporary() as conn:
            await conn.request({"cmd": "get_devices_req"})

    async def list_devices(self) -> list[ServerDevice]:
        """Return the devices the token can see (all the user's, or the application's)."""
        async with self._temporary() as conn:
            devices = self._devices(await conn.request({"cmd": "get_devices_req"}))
        if devices is None:
            raise ProtocolError(f"{self.host} answered get_devices_req without a device list")
        return devices

    def _devices(self, response: Mapping[str, Any]) -> list[ServerDevice] | None:
        """Return the listed devices; None when the answer holds no list (nothing is known)."""
        entries = response.get("deviceList")
        if entries is None and response.get("deviceCount") == 0:
            return []
        if not isinstance(entries, list):
            self._log.warning("device_list", "%s sent no device list", self.host)
            return None
        devices = []
        for entry in entries:
            dropped: list[str] = []
            try:
                device = device_from_entry(as_dict(entry, "device"), dropped)
            except ProtocolError as err:
                self._log.warning(
                    "device", "Skipped a malformed device from %s: %s", self.host, err
                )
                continue
            if dropped:
                self._log.warning(
                    "device_value",
                    "Left out the bad %s of device %s from %s",
                    ", ".join(dropped),
                    device.dev_eui,
                    self.host,
                )
            devices.append(device)
        return devices

    async def run(self, sink: Sink) -> None:
        """Stay subscribed to realtime data, reconnecting with backoff, until cancelled."""
        self._sink = sink
        try:
            await reconnect_forever(
                lambda: self._connect_and_run(sink),
                sink,
                self._backoff,
                _LOGGER,
                f"connection to {self.host}",
            )
        finally:
            self._sink = None
            if self._ack_check is not None:
                self._ack_check.cancel()
                self._ack_check = None

    async def _connect_and_run(self, sink: Sink) -> str:
        """Open one connection and run it until it is lost; say why."""
        conn = await self._open()
        # The delay starts again only once the connection brings data or lasts.
        self._backoff.opened()
        return await self._run_connection(conn, sink)

    async def _run_connection(self, conn: Connection, sink: Sink) -> str:
        """Run one connection until it is lost and say why; raise AuthError for a refused token."""
        reader = asyncio.create_task(self._read(conn), name="lorawan_hub orion reader")
        keepalive: asyncio.Task[None] | None = None
        reason = "connection closed"
        try:
            await self._optional(
                conn,
                {"cmd": "set_alive_timeout", "timeout": self._alive_timeout},
                operation_id=False,
            )
            self._buffer = []
            await conn.request({"cmd": "consume_req"}, operation_id=False)
            devices = self._devices(await conn.request({"cmd": "get_devices_req"}))
            self._live = conn
            sink.connection_changed(True, None)
            if devices is not None:
                sink.devices_listed(devices)
            await self._coordinates(conn, sink)
            await self._catch_up(conn, sink)
            self._flush_buffer()
            if self._pending_acks:
                self._schedule_ack_check(0)
            keepalive = asyncio.create_task(
                self._keepalive(conn), name="lorawan_hub orion keepalive"
            )
            await asyncio.wait((reader, keepalive), return_when=asyncio.FIRST_COMPLETED)
            if keepalive.done() and not keepalive.cancelled():
                keepalive.result()
        except AuthError:
            raise
        except LnsError as err:
            reason = err.reason or err.key
        finally:
            self._buffer = None
            self._live = None
            if keepalive is not None:
                keepalive.cancel()
            await conn.ws.close()
            await reader
            if keepalive is not None:
                with contextlib.suppress(asyncio.CancelledError, LnsError):
                    await keepalive
        return reason

    async def _keepalive(self, conn: Connection) -> None:
        """Ping at the interval; a ping without answer ends the connection, any answer will do."""
        while not conn.closed:
            await asyncio.sleep(self._ping_interval)
            try:
                await conn.request({"cmd": "ping_req"}, operation_id=False)
            except CannotConnect:
                raise
            except LnsError as err:  # a refusal is an answer: the connection is alive
                self._log.warning("ping", "%s refused ping_req: %s", self.host, err.reason)

    async def _coordinates(self, conn: Connection, sink: Sink) -> None:
        """Report the positions the server keeps for devices (3.21, since revision 09)."""
        response = await self._optional(conn, {"cmd": "get_device_coordinates_req"})
        entries = response.get("deviceList") if response is not None else None
        for entry in entries if isinstance(entries, list) else ():
            try:
                item = as_dict(entry, "device")
                location = location_from(item)
                if location is not None:
                    sink.device_location(eui(item.get("devEui"), "devEui"), location)
            except ProtocolError as err:
                self._log.warning("coordinates", "Skipped malformed coordinates: %s", err)

    async def _catch_up(self, conn: Connection, sink: Sink) -> None:
        """
        Fetch, oldest first, the uplinks received since the last one seen.

        Pages follow each other until one brings nothing new: a server may answer fewer rows
        than asked for. Times have whole seconds, so more uplinks than a page can share the
        last second of a page: that second is asked for again with a larger ``limit`` until it
        brings nothing new, rows already delivered left out.
        """
        since = sink.resume_from()
        if since is None:
            return
        now = datetime.now(UTC)
        since = max(since, now - HISTORY_MAX_AGE)
        until = now + timedelta(minutes=1)
        limit = HISTORY_PAGE
        seen: dict[bytes, datetime | None] = {}
        delivered = 0
        while True:
            try:
                rows = await self._history_page(conn, since, until, limit)
            except CannotConnect:
                raise
            except LnsError as err:
                # The token may lack the right, or the server refuses the query: live data
                # still flows, without what was missed.
                self._log.warning(
                    "history_refused",
                    "%s refused the stored uplinks (%s): uplinks received while disconnected "
                    "are missing",
                    self.host,
                    err.reason or err.key,
                )
                return
            newest = since
            fresh = []
            for row in rows:
                key = row_key(row)
                moment = row_time(row)
                if moment is not None and moment > newest:
                    newest = moment
                if key not in seen:
                    seen[key] = moment
                    fresh.append(row)
            if not fresh:
                break
            delivered += self._deliver_rows(fresh)
            if newest > since:
                since, limit = newest, HISTORY_PAGE
                seen = {key: when for key, when in seen.items() if when is None or when >= since}
            elif limit < HISTORY_MAX_LIMIT:
                limit = min(limit * 2, HISTORY_MAX_LIMIT)
            else:
                self._log.warning(
                    "history_second",
                    "More than %d stored uplinks in the second %s: the rest of it is skipped",
                    HISTORY_MAX_LIMIT,
                    format_time(since),
                )
                since, limit = since + timedelta(seconds=1), HISTORY_PAGE
        _LOGGER.debug("Caught up %d stored uplinks from %s", delivered, self.host)

    async def _history_page(
        self, conn: Connection, since: datetime, until: datetime, limit: int
    ) -> list[Any]:
        response = await conn.request(
            {
                "cmd": "get_data_req",
                "date_from": format_time(since),
                "date_to": format_time(until),
                "limit": limit,
                "descending": False,
            },
            final=history_complete,
        )
        rows = response.get("dataList")
        if rows is None:
            return []
        if not isinstance(rows, list):
            self._log.warning("history_list", "%s sent stored uplinks that are no list", self.host)
            return []
        return rows

    def _deliver_rows(self, rows: Sequence[Any]) -> int:
        """Deliver stored uplinks, oldest first; return how many."""
        uplinks = []
        for row in rows:
            dropped: list[str] = []
            try:
                item = as_dict(row, "row")
                uplink = uplink_from_frame(
                    item.get("devEui"), item, item.get("devAddr"), dropped=dropped
                )
            except ProtocolError as err:
                self._log.warning("history", "Dropped a malformed stored uplink: %s", err)
                continue
            if dropped:
                self._log.warning(
                    "history_value",
                    "Left out the bad %s of a stored uplink of %s",
                    ", ".join(dropped),
                    uplink.dev_eui,
                )
            uplinks.append(uplink)
        uplinks.sort(key=lambda uplink: (uplink.received_at, uplink.f_cnt or 0))
        for uplink in uplinks:
            self._deliver(uplink)
        return len(uplinks)

    def _flush_buffer(self) -> None:
        buffered, self._buffer = self._buffer or [], None
        if buffered:
            self._backoff.proven()
        for uplink in buffered:
            self._deliver(uplink)

    # --- downlinks ----------------------------------------------------------------------------

    def _connection(self) -> Connection:
        if self._live is None or self._live.closed:
            raise CannotConnect(f"not connected to {self.host}")
        return self._live

    async def max_downlink_size(self, dev_eui: str) -> int | None:
        """Return the largest payload at the device's data rate of its last uplink."""
        response = await self._connection().request({"cmd": "max_dl_data_req", "devEui": dev_eui})
        entries = response.get("devList")
        for entry in entries if isinstance(entries, list) else ():
            if same_device(entry, dev_eui):
                return opt_int(entry, "maxDataSize")
        return None

    async def send_downlink(self, downlink: Downlink) -> DownlinkResult:
        """Queue a downlink (``realTime`` for immediate: cancelled when it misses RX1)."""
        if downlink.confirmed:
            raise Unsupported("OrionM2M has no confirmed downlinks")
        if downlink.mode is DownlinkMode.REPLACE:
            raise Unsupported("OrionM2M cannot replace a device's downlink queue")
        request: dict[str, Any] = {
            "cmd": "downlink_data_req",
            "devEui": downlink.dev_eui,
            "fport": downlink.f_port,
            "data": downlink.payload.hex().upper(),
        }
        real_time = downlink.mode is DownlinkMode.IMMEDIATE
        if real_time:
            request["realTime"] = True
        if downlink.device_class is not None:
            request["lwClass"] = CLASS_TO_ORION[downlink.device_class]
        response = await self._connection().request(request)
        data_id = opt_int(response, "dataId")
        if data_id is None:
            raise ProtocolError("downlink_data_resp without dataId")
        try:
            queue_length = opt_int(response, "dataInQueue")
        except ProtocolError:
            queue_length = None  # the downlink is queued all the same
        message_id = str(data_id)
        pending = _PendingAck(downlink.dev_eui, datetime.now(UTC))
        delay = self._ack_poll_interval
        if real_time:
            window = REALTIME_WINDOW if self._realtime_window is None else self._realtime_window
            pending.decide_at = asyncio.get_running_loop().time() + window
            delay = min(delay, window)
        self._pending_acks[message_id] = pending
        self._schedule_ack_check(delay)
        return DownlinkResult(
            message_id=message_id, state=DownlinkState.QUEUED, queue_length=queue_length
        )

    async def downlink_sent_at(self, message_id: str) -> datetime | None:
        """
        Ask when a downlink went to the device (``downlink_ack_req``); None while it did not.

        An ``ack_time`` that is no time counts as none (logged).
        """
        data_id = int(message_id)
        # The document spells the field ``datald`` (3.19) where ``downlink_data_resp`` says
        # ``dataId`` (3.18): both spellings are sent.
        response = await self._connection().request(
            {"cmd": "downlink_ack_req", "datald": data_id, "dataId": data_id}
        )
        ack_time = response.get("ack_time")
        if ack_time in (None, ""):
            return None
        try:
            return parse_time(ack_time, "ack_time")
        except ProtocolError:
            self._log.warning(
                "ack_time",
                "Left out the bad ack_time of downlink %s from %s",
                message_id,
                self.host,
            )
            return None

    def _schedule_ack_check(self, delay: float) -> None:
        """Check the pending downlinks in ``delay`` seconds, unless a check comes sooner."""
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        if self._ack_check is not None and not self._ack_check.done():
            if self._ack_check_due <= due:
                # A check that already runs may have passed the downlink: one more after it.
                self._ack_check_again = self._ack_check_again or self._ack_check_due <= loop.time()
                return
            self._ack_check.cancel()
        self._ack_check_due = due
        self._ack_check = loop.create_task(
            self._check_acks(delay), name="lorawan_hub orion downlink acks"
        )

    def _next_ack_check(self) -> float:
        """Seconds until the next check: the poll interval, or a realTime downlink's decision."""
        now = asyncio.get_running_loop().time()
        delay = self._ack_poll_interval
        for pending in self._pending_acks.values():
            if pending.decide_at is not None:
                delay = min(delay, max(pending.decide_at - now, 0.0))
        return delay

    async def _check_acks(self, delay: float) -> None:
        """Report the pending downlinks that went out or never will; poll again while some wait."""
        await asyncio.sleep(delay)
        now = datetime.now(UTC)
        for message_id, pending in list(self._pending_acks.items()):
            try:
                sent_at = await self.downlink_sent_at(message_id)
            except InvalidRequest as err:
                self._pending_acks.pop(message_id, None)
                self._report(pending, message_id, DownlinkState.FAILED, None, err.reason)
                continue
            except CannotConnect as err:
                _LOGGER.debug("Cannot check downlink %s now: %s", message_id, err)
                break
            except LnsError as err:  # one downlink the server cannot answer for: the next
                _LOGGER.debug("Cannot check downlink %s: %s", message_id, err)
                continue
            if sent_at is not None:
                self._pending_acks.pop(message_id, None)
                self._report(pending, message_id, DownlinkState.SENT, sent_at, None)
            elif (
                pending.decide_at is not None
                and asyncio.get_running_loop().time() >= pending.decide_at
            ):
                self._pending_acks.pop(message_id, None)
                self._report(pending, message_id, DownlinkState.CANCELLED, None, LATE_REASON)
            elif now - pending.sent_at > ACK_GIVE_UP:
                self._pending_acks.pop(message_id, None)
                _LOGGER.debug(
                    "Stopped following downlink %s, queued since %s", message_id, pending.sent_at
                )
        self._ack_check = None
        again, self._ack_check_again = self._ack_check_again, False
        if self._pending_acks and self._live is not None:
            self._schedule_ack_check(0 if again else self._next_ack_check())

    def _report(
        self,
        pending: _PendingAck,
        message_id: str,
        state: DownlinkState,
        at: datetime | None,
        reason: str | None,
    ) -> None:
        if self._sink is not None:
            self._sink.downlink_status(
                DownlinkStatus(
                    dev_eui=pending.dev_eui,
                    message_id=message_id,
                    state=state,
                    at=at,
                    reason=reason,
                )
            )

    async def set_device_class(self, dev_eui: str, device_class: LoRaClass) -> None:
        """
        Change the class: read the device (3.7), write it back with ``node_class`` (3.9).

        The server's class for downlinks (``dev_lw_class_req``, 3.16) confirms the change.
        """
        conn = self._connection()
        response = await conn.request({"cmd": "get_devices_req", "devEui": dev_eui})
        entries = response.get("deviceList")
        record = next(
            (
                entry
                for entry in (entries if isinstance(entries, list) else ())
                if same_device(entry, dev_eui)
            ),
            None,
        )
        if record is None:
            raise InvalidRequest(f"{self.host} does not list {dev_eui}", key="unknown_device")
        await conn.request(update_request(record, dev_eui, CLASS_TO_ORION[device_class]))
        reported = await self.device_class(dev_eui)
        if reported is not None and reported is not device_class:
            raise ProtocolError(
                f"{self.host} accepted the class change but still reports class {reported}"
            )

    async def device_class(self, dev_eui: str) -> LoRaClass | None:
        """Return the device's class as the server holds it (``dev_lw_class_req``)."""
        response = await self._connection().request({"cmd": "dev_lw_class_req", "devEui": dev_eui})
        entries = response.get("deviceList")
        for entry in entries if isinstance(entries, list) else ():
            if same_device(entry, dev_eui):
                try:
                    value = opt_int(entry, "lwClass")
                except ProtocolError:
                    return None  # a class that is no number says nothing
                return ORION_TO_CLASS.get(value) if value is not None else None
        return None

    async def close(self) -> None:
        """Close the live connection; ``run`` reconnects unless it is cancelled too."""
        if self._ack_check is not None:
            self._ack_check.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ack_check
            self._ack_check = None
        if self._live is not None:
            await self._live.ws.close()
