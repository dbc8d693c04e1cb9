"""
OrionM2M network server: the WebSocket API (``wss://.../ws/v2/?app_id=...&token=...``).

One WebSocket carries everything: requests (``*_req``) answered by ``*_resp`` frames, matched by
``operation_id`` where the server echoes it and in order otherwise, and ``realtime_data`` frames
once ``consume_req`` subscribed the connection.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Mapping
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import itertools
import json
import logging
from typing import Any, Final

import aiohttp
import orjson
from yarl import URL

from .base import Backoff, NetworkServer, Sink, ThrottledLog
from .errors import (
    AuthError,
    CannotConnect,
    InvalidRequest,
    LimitReached,
    LnsError,
    ProtocolError,
    Unsupported,
)
from .models import (
    Capability,
    DeviceInfo,
    Downlink,
    DownlinkMode,
    DownlinkResult,
    DownlinkState,
    DownlinkStatus,
    Gateway,
    Location,
    LoRaClass,
    Uplink,
)
from .parse import (
    as_dict,
    eui,
    hex_id,
    hex_payload,
    opt_bool,
    opt_float,
    opt_int,
    opt_str,
    parse_time,
)

_LOGGER = logging.getLogger(__name__)

DEFAULT_URL: Final = "wss://iot.orion-m2m.com/ws/v2/"
TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S%z"
"""The API's date format: ``YYYY-MM-DD HH:MM:SS+HHMM``."""

MAX_FRAME: Final = 32 * 1024 * 1024
"""Larger frames close the connection (a device list of 10,000 devices is about 5 MB)."""
HISTORY_PAGE: Final = 500
HISTORY_MAX_AGE: Final = timedelta(days=7)
ACK_POLL_INTERVAL: Final = 60.0
ACK_GIVE_UP: Final = timedelta(days=1)

_CLASS_TO_ORION: Final = {LoRaClass.A: 1, LoRaClass.B: 2, LoRaClass.C: 3}
_ORION_TO_CLASS: Final = {value: key for key, value in _CLASS_TO_ORION.items()}
_ACTIVATION: Final = {0: "OTAA", 1: "ABP"}
_CONFIRMED_UP: Final = 4
"""LoRaWAN MType of a confirmed data uplink."""

# Every documented error code, per command: (error type, stable key, the document's reason).
_UNAUTHORIZED = (AuthError, "invalid_auth", "Unauthorized access")
_REQUIRED = (InvalidRequest, "invalid_request", "Required field is not filled")
_BAD_DATA = (InvalidRequest, "invalid_request", "Data is filled in with an error")
_ERRORS: Final[dict[str, dict[int, tuple[type[LnsError], str, str]]]] = {
    "connected": {
        1: (AuthError, "invalid_auth", "Auth error"),
        2: (LimitReached, "client_limit", "Clients count limit reached"),
    },
    "consume_resp": {
        1: (LimitReached, "consumer_limit", "Consumer limit reached"),
        2: (LimitReached, "already_consumed", "Already consumed"),
        3: (CannotConnect, "application_disabled", "Disabled application"),
    },
    "get_devices_resp": {1: _UNAUTHORIZED, 2: _REQUIRED, 3: _BAD_DATA},
    "update_device_resp": {
        1: _UNAUTHORIZED,
        2: _REQUIRED,
        3: _BAD_DATA,
        4: (InvalidRequest, "invalid_request", "Uniq failed"),
        5: (InvalidRequest, "invalid_request", "Application does not exists"),
        6: (InvalidRequest, "invalid_request", "Tariff does not exists"),
        7: (InvalidRequest, "invalid_request", "Tariff can be changed no more than once a day"),
        8: (CannotConnect, "server_error", "Unexpected error"),
        9: (InvalidRequest, "unknown_device", "Node does not exists"),
    },
    "get_data_resp": {
        1: (InvalidRequest, "invalid_request", "Date parse error"),
        2: (AuthError, "invalid_auth", "Unauthorized request"),
        3: (InvalidRequest, "invalid_request", "Invalid date range"),
    },
    "dev_lw_class_resp": {1: _UNAUTHORIZED, 2: _REQUIRED, 3: _BAD_DATA},
    "max_dl_data_resp": {
        1: (InvalidRequest, "unknown_device", "Device not found"),
        2: _UNAUTHORIZED,
    },
    "downlink_data_resp": {
        1: (InvalidRequest, "unknown_device", "Device not found"),
        2: _UNAUTHORIZED,
        3: (InvalidRequest, "invalid_payload", "Not HEX in data"),
        4: (InvalidRequest, "payload_too_large", "Payload max size exceed for current SF"),
        5: (InvalidRequest, "invalid_request", "Impossible datarate value"),
        6: (InvalidRequest, "invalid_request", "Frequency must be float"),
        7: (InvalidRequest, "invalid_request", "Frequency not in band range"),
    },
    "downlink_ack_resp": {
        1: (InvalidRequest, "invalid_request", "dataId is required"),
        2: (InvalidRequest, "unknown_device", "Device not found"),
    },
    "get_device_coordinates_resp": {1: _UNAUTHORIZED, 2: _REQUIRED, 3: _BAD_DATA},
}


def format_time(value: datetime) -> str:
    """Return a time in the API's format."""
    return value.astimezone(UTC).strftime(TIME_FORMAT)


def raise_for_status(message: Mapping[str, Any]) -> None:
    """Raise the documented error for a response whose ``status`` is 2 (ERROR)."""
    if message.get("status") != 2:
        return
    cmd = str(message.get("cmd"))
    code = message.get("error_code")
    known = _ERRORS.get(cmd, {})
    if isinstance(code, int) and code in known:
        error_type, key, reason = known[code]
        raise error_type(reason, key=key, code=code)
    raise InvalidRequest(
        f"{cmd} failed with error code {code}", code=code if isinstance(code, int) else None
    )


def uplink_from_frame(dev_eui: object, data: Mapping[str, Any], dev_addr: object) -> Uplink:
    """
    Build an Uplink from a ``realtime_data`` ``data`` object or a ``get_data_resp`` row.

    Raises ProtocolError when a field is missing or of the wrong type.
    """
    device = eui(dev_eui, "devEui")
    payload = hex_payload(data.get("data"), "data")
    received_at = parse_time(data.get("time"), "time")
    snr = opt_float(data, "lsnr")
    rssi = opt_float(data, "rssi")
    gateway = data.get("gatewayId")
    gateways: tuple[Gateway, ...] = ()
    if gateway is not None and gateway != "":
        gateways = (Gateway(hex_id(gateway, "gatewayId"), rssi, snr),)
    data_rate = opt_int(data, "datr")
    mtype = opt_int(data, "mtype")
    return Uplink(
        dev_eui=device,
        received_at=received_at,
        f_port=opt_int(data, "fport"),
        f_cnt=opt_int(data, "fcnt"),
        payload=payload,
        rssi=rssi,
        snr=snr,
        data_rate=None if data_rate is None else f"DR{data_rate}",
        # Orion's regions (EU, KZ, RU, BY...) are all 868 MHz plans: DR0..DR5 = SF12..SF7.
        spreading_factor=12 - data_rate if data_rate is not None and 0 <= data_rate <= 5 else None,
        frequency=opt_float(data, "freq"),
        gateways=gateways,
        confirmed=None if mtype is None else mtype == _CONFIRMED_UP,
        ack=opt_bool(data, "ack"),
        dev_addr=dev_addr if isinstance(dev_addr, str) and dev_addr else None,
        raw=data,
    )


def device_from_entry(entry: Mapping[str, Any]) -> DeviceInfo:
    """Build a DeviceInfo from a ``get_devices_resp`` entry, leaving every key behind."""
    node_class = opt_int(entry, "node_class")
    activation = opt_int(entry, "activation")
    return DeviceInfo(
        dev_eui=eui(entry.get("devEui"), "devEui"),
        name=opt_str(entry, "description"),
        dev_addr=opt_str(entry, "devAddr"),
        app_eui=opt_str(entry, "application_eui"),
        device_class=_ORION_TO_CLASS.get(node_class) if node_class is not None else None,
        activation=_ACTIVATION.get(activation) if activation is not None else None,
        location=location_from(entry),
    )


def location_from(entry: Mapping[str, Any]) -> Location | None:
    """Return the position in ``lat``/``lon`` (numbers or strings), None when unset."""
    lat = opt_float(entry, "lat")
    lon = opt_float(entry, "lon")
    if lat is None or lon is None or (lat == 0 and lon == 0):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ProtocolError("coordinates out of range")
    return Location(lat, lon)


def _response_cmd(cmd: str) -> str:
    return (cmd.removesuffix("_req")) + "_resp"


@dataclass
class _PendingAck:
    dev_eui: str
    sent_at: datetime


@dataclass
class _Connection:
    """One open WebSocket and the requests waiting for an answer on it."""

    ws: aiohttp.ClientWebSocketResponse
    by_operation: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    by_cmd: dict[str, deque[asyncio.Future[dict[str, Any]]]] = field(default_factory=dict)
    order: deque[asyncio.Future[dict[str, Any]]] = field(default_factory=deque)
    closed: bool = False


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
        self._operation_ids = itertools.count(1)
        self._live: _Connection | None = None
        self._sink: Sink | None = None
        self._pending_acks: dict[str, _PendingAck] = {}
        self._ack_check: asyncio.Task[None] | None = None
        self._buffer: list[Uplink] | None = None
        self._log = ThrottledLog(_LOGGER)

    @property
    def host(self) -> str:
        """The server's host, safe to show (the URL carries the token once connected)."""
        return self._url.host or ""

    # --- connection ---------------------------------------------------------------------------

    async def _open(self) -> _Connection:
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
        conn = _Connection(ws)
        try:
            async with asyncio.timeout(self._request_timeout):
                greeting = await self._receive_json(ws)
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

    async def _receive_json(self, ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
        message = await ws.receive()
        if message.type is not aiohttp.WSMsgType.TEXT:
            raise CannotConnect(f"{self.host} closed the connection")
        try:
            decoded = orjson.loads(message.data)
        except orjson.JSONDecodeError:
            raise ProtocolError(f"{self.host} sent a frame that is not JSON") from None
        return dict(as_dict(decoded, "frame"))

    async def _request(
        self, conn: _Connection, request: dict[str, Any], *, operation_id: bool = True
    ) -> dict[str, Any]:
        """Send a request and return its response; raise the documented error for status 2."""
        if conn.closed:
            raise CannotConnect(f"the connection to {self.host} is closed")
        cmd = request["cmd"]
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        op_id = None
        if operation_id:
            op_id = f"lh{next(self._operation_ids)}"
            request = {**request, "operation_id": op_id}
            conn.by_operation[op_id] = future
        conn.by_cmd.setdefault(_response_cmd(cmd), deque()).append(future)
        conn.order.append(future)
        try:
            await conn.ws.send_str(json.dumps(request))
            async with asyncio.timeout(self._request_timeout):
                response = await future
        except TimeoutError:
            raise CannotConnect(f"{self.host} did not answer {cmd}") from None
        except (aiohttp.ClientError, ConnectionError) as err:
            raise CannotConnect(f"lost {self.host} during {cmd}: {type(err).__name__}") from None
        finally:
            if op_id is not None:
                conn.by_operation.pop(op_id, None)
            with contextlib.suppress(ValueError):
                conn.by_cmd[_response_cmd(cmd)].remove(future)
            with contextlib.suppress(ValueError):
                conn.order.remove(future)
        raise_for_status(response)
        return response

    def _resolve(self, conn: _Connection, message: dict[str, Any]) -> bool:
        """Hand a response to the request waiting for it; False when none is."""
        op_id = message.get("operation_id")
        future = conn.by_operation.get(op_id) if isinstance(op_id, str) else None
        if future is None:
            waiting = conn.by_cmd.get(str(message.get("cmd")))
            future = next((item for item in waiting or () if not item.done()), None)
        if future is None or future.done():
            return False
        future.set_result(message)
        return True

    def _fail_oldest(self, conn: _Connection, error: LnsError) -> None:
        """Fail the oldest waiting request: the server refused a frame without saying which."""
        for future in conn.order:
            if not future.done():
                future.set_exception(error)
                return

    def _fail_all(self, conn: _Connection) -> None:
        conn.closed = True
        for future in conn.order:
            if not future.done():
                future.set_exception(CannotConnect(f"lost the connection to {self.host}"))

    async def _read(self, conn: _Connection) -> None:
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
            self._fail_all(conn)

    def _dispatch(self, conn: _Connection, text: str) -> None:
        try:
            message = orjson.loads(text)
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
        elif cmd in ("json_parse_error", "invalid_req", "invalid_command_req"):
            self._fail_oldest(conn, ProtocolError(f"the server answered {cmd}"))
        elif not self._resolve(conn, message):
            _LOGGER.debug("Ignored an unexpected %s frame from %s", cmd, self.host)

    def _realtime(self, message: dict[str, Any]) -> None:
        try:
            uplink = uplink_from_frame(
                message.get("devEui"), as_dict(message.get("data"), "data"), message.get("devAddr")
            )
        except ProtocolError as err:
            self._log.warning("frame", "Dropped a malformed uplink from %s: %s", self.host, err)
            return
        if self._buffer is not None:
            self._buffer.append(uplink)
            return
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
    async def _temporary(self) -> AsyncIterator[_Connection]:
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
            await self._request(conn, {"cmd": "get_devices_req"})

    async def list_devices(self) -> list[DeviceInfo]:
        """Return the devices the token can see (all the user's, or the application's)."""
        async with self._temporary() as conn:
            return self._devices(await self._request(conn, {"cmd": "get_devices_req"}))

    def _devices(self, response: Mapping[str, Any]) -> list[DeviceInfo]:
        devices = []
        for entry in response.get("deviceList") or ():
            try:
                devices.append(device_from_entry(as_dict(entry, "device")))
            except ProtocolError as err:
                self._log.warning(
                    "device", "Skipped a malformed device from %s: %s", self.host, err
                )
        return devices

    async def run(self, sink: Sink) -> None:
        """Stay subscribed to realtime data, reconnecting with backoff, until cancelled."""
        self._sink = sink
        try:
            while True:
                try:
                    conn = await self._open()
                    reason = await self._run_connection(conn, sink)
                except AuthError:
                    raise
                except LnsError as err:
                    reason = err.reason or err.key
                except Exception:  # a bug must not end the connection for good: retry
                    _LOGGER.exception("Unexpected error in the connection to %s", self.host)
                    reason = "unexpected error"
                sink.connection_changed(False, reason)
                delay = self._backoff.next_delay()
                _LOGGER.debug("Connection to %s: %s; retry in %.1f s", self.host, reason, delay)
                await asyncio.sleep(delay)
        finally:
            self._sink = None
            if self._ack_check is not None:
                self._ack_check.cancel()
                self._ack_check = None

    async def _run_connection(self, conn: _Connection, sink: Sink) -> str:
        """Run one connection until it is lost and say why; raise AuthError for a refused token."""
        reader = asyncio.create_task(self._read(conn), name="lorawan_hub orion reader")
        keepalive: asyncio.Task[None] | None = None
        reason = "connection closed"
        try:
            await self._request(
                conn,
                {"cmd": "set_alive_timeout", "timeout": self._alive_timeout},
                operation_id=False,
            )
            self._buffer = []
            await self._request(conn, {"cmd": "consume_req"}, operation_id=False)
            devices = self._devices(await self._request(conn, {"cmd": "get_devices_req"}))
            self._live = conn
            self._backoff.reset()
            sink.connection_changed(True, None)
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

    async def _keepalive(self, conn: _Connection) -> None:
        """Ping at the interval; a ping without answer ends the connection."""
        while not conn.closed:
            await asyncio.sleep(self._ping_interval)
            await self._request(conn, {"cmd": "ping_req"}, operation_id=False)

    async def _coordinates(self, conn: _Connection, sink: Sink) -> None:
        """Report the positions the server keeps for devices."""
        response = await self._request(conn, {"cmd": "get_device_coordinates_req"})
        for entry in response.get("deviceList") or ():
            try:
                item = as_dict(entry, "device")
                location = location_from(item)
                if location is not None:
                    sink.device_location(eui(item.get("devEui"), "devEui"), location)
            except ProtocolError as err:
                self._log.warning("coordinates", "Skipped malformed coordinates: %s", err)

    async def _catch_up(self, conn: _Connection, sink: Sink) -> None:
        """Fetch, oldest first, the uplinks received since the last one seen."""
        since = sink.resume_from()
        if since is None:
            return
        now = datetime.now(UTC)
        since = max(since, now - HISTORY_MAX_AGE)
        until = now + timedelta(minutes=1)
        fetched = 0
        while True:
            response = await self._request(
                conn,
                {
                    "cmd": "get_data_req",
                    "date_from": format_time(since),
                    "date_to": format_time(until),
                    "limit": HISTORY_PAGE,
                    "descending": False,
                },
            )
            rows = response.get("dataList") or []
            uplinks = []
            for row in rows:
                try:
                    item = as_dict(row, "row")
                    uplinks.append(uplink_from_frame(item.get("devEui"), item, item.get("devAddr")))
                except ProtocolError as err:
                    self._log.warning("history", "Dropped a malformed stored uplink: %s", err)
            uplinks.sort(key=lambda uplink: (uplink.received_at, uplink.f_cnt or 0))
            for uplink in uplinks:
                self._deliver(uplink)
            fetched += len(rows)
            if len(rows) < HISTORY_PAGE or not uplinks:
                break
            newest = uplinks[-1].received_at
            if newest <= since:
                # A whole page shares one second: step past it rather than loop forever.
                self._log.warning("history", "More than %d uplinks in one second", HISTORY_PAGE)
                newest = since + timedelta(seconds=1)
            since = newest
        _LOGGER.debug("Caught up %d stored uplinks from %s", fetched, self.host)

    def _flush_buffer(self) -> None:
        buffered, self._buffer = self._buffer or [], None
        for uplink in buffered:
            self._deliver(uplink)

    # --- downlinks ----------------------------------------------------------------------------

    def _connection(self) -> _Connection:
        if self._live is None or self._live.closed:
            raise CannotConnect(f"not connected to {self.host}")
        return self._live

    async def max_downlink_size(self, dev_eui: str) -> int | None:
        """Return the largest payload at the device's data rate of its last uplink."""
        response = await self._request(
            self._connection(), {"cmd": "max_dl_data_req", "devEui": dev_eui}
        )
        for entry in response.get("devList") or ():
            if isinstance(entry, Mapping) and str(entry.get("devEui", "")).upper() == dev_eui:
                return opt_int(entry, "maxDataSize")
        return None

    async def send_downlink(self, downlink: Downlink) -> DownlinkResult:
        """Queue a downlink (``realTime`` for immediate: dropped when it misses RX1)."""
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
        if downlink.mode is DownlinkMode.IMMEDIATE:
            request["realTime"] = True
        if downlink.device_class is not None:
            request["lwClass"] = _CLASS_TO_ORION[downlink.device_class]
        response = await self._request(self._connection(), request)
        data_id = opt_int(response, "dataId")
        if data_id is None:
            raise ProtocolError("downlink_data_resp without dataId")
        message_id = str(data_id)
        self._pending_acks[message_id] = _PendingAck(downlink.dev_eui, datetime.now(UTC))
        self._schedule_ack_check(self._ack_poll_interval)
        return DownlinkResult(
            message_id=message_id,
            state=DownlinkState.QUEUED,
            queue_length=opt_int(response, "dataInQueue"),
        )

    async def downlink_sent_at(self, message_id: str) -> datetime | None:
        """Ask when a downlink went to the device (``downlink_ack_req``); None while queued."""
        data_id = int(message_id)
        response = await self._request(
            self._connection(),
            # The document spells the field ``datald``; send both spellings.
            {"cmd": "downlink_ack_req", "datald": data_id, "dataId": data_id},
        )
        ack_time = response.get("ack_time")
        return None if ack_time in (None, "") else parse_time(ack_time, "ack_time")

    def _schedule_ack_check(self, delay: float) -> None:
        if self._ack_check is not None and not self._ack_check.done():
            if delay > 0:
                return
            self._ack_check.cancel()
        self._ack_check = asyncio.get_running_loop().create_task(
            self._check_acks(delay), name="lorawan_hub orion downlink acks"
        )

    async def _check_acks(self, delay: float) -> None:
        """Report the pending downlinks that went out; poll again while some are pending."""
        await asyncio.sleep(delay)
        now = datetime.now(UTC)
        for message_id, pending in list(self._pending_acks.items()):
            try:
                sent_at = await self.downlink_sent_at(message_id)
            except InvalidRequest as err:
                self._pending_acks.pop(message_id, None)
                self._report(pending, message_id, DownlinkState.FAILED, None, err.reason)
                continue
            except LnsError as err:
                _LOGGER.debug("Cannot check downlink %s now: %s", message_id, err)
                break
            if sent_at is not None:
                self._pending_acks.pop(message_id, None)
                self._report(pending, message_id, DownlinkState.SENT, sent_at, None)
            elif now - pending.sent_at > ACK_GIVE_UP:
                self._pending_acks.pop(message_id, None)
                _LOGGER.debug(
                    "Stopped following downlink %s, queued since %s", message_id, pending.sent_at
                )
        if self._pending_acks and self._live is not None:
            self._ack_check = None
            self._schedule_ack_check(self._ack_poll_interval)

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
        """Change the class with ``update_device_req`` (``node_class`` 1/2/3)."""
        await self._request(
            self._connection(),
            {
                "cmd": "update_device_req",
                "devEui": dev_eui,
                "node_class": _CLASS_TO_ORION[device_class],
            },
        )

    async def device_class(self, dev_eui: str) -> LoRaClass | None:
        """Return the device's class as the server holds it (``dev_lw_class_req``)."""
        response = await self._request(
            self._connection(), {"cmd": "dev_lw_class_req", "devEui": dev_eui}
        )
        for entry in response.get("deviceList") or ():
            if isinstance(entry, Mapping) and str(entry.get("devEui", "")).upper() == dev_eui:
                value = opt_int(entry, "lwClass")
                return _ORION_TO_CLASS.get(value) if value is not None else None
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
