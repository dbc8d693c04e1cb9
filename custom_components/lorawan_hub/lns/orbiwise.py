"""
OrbiWise OrbiWAN: the REST API, with pushes over a WebSocket, MQTT (host mode) or REST push.

Whatever the transport, pushes are objects named by their topic (``{"payloads_ul": {...}}``).
The server keeps every uplink in a temporary store until the application deletes it: on every
(re)connect the client drains that store (``GET /rest/nodes/{eui}/payloads/ul``), delivers what
it finds and deletes each payload only once it was delivered. Live uplinks are deleted from the
store once delivered too, so that the store only ever holds what was missed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
import contextlib
from dataclasses import dataclass
from enum import StrEnum
import itertools
import logging
import secrets
from typing import Any, Final

import aiohttp
import orjson
from yarl import URL

from .base import (
    Backoff,
    NetworkServer,
    Sink,
    ThrottledLog,
    check_multicast_setup,
    no_gateways,
)
from .errors import (
    AuthError,
    CannotConnect,
    Forbidden,
    InvalidRequest,
    LnsError,
    ProtocolError,
    Unsupported,
)
from .models import (
    Alarm,
    Capability,
    DeviceInfo,
    DeviceStatus,
    Downlink,
    DownlinkMode,
    DownlinkResult,
    DownlinkState,
    DownlinkStatus,
    Gateway,
    JoinInfo,
    Location,
    LoRaClass,
    MulticastGroup,
    MulticastKeys,
    MulticastSetup,
    Uplink,
)
from .oauth2 import TokenSource
from .parse import (
    MAX_PAYLOAD,
    as_dict,
    eui,
    hex_id,
    opt_bool,
    opt_float,
    opt_int,
    opt_str,
    parse_time,
)

_LOGGER = logging.getLogger(__name__)

TOKEN_CLIENT_ID: Final = "lorawan-hub"  # noqa: S105 - a client name, not a secret
"""The ``client_id`` of the password grant (the server does not register clients)."""
PAGE_SIZE: Final = 500
MAX_PAGES: Final = 1000
DRAIN_CONCURRENCY: Final = 4
DELIVERED_MEMORY: Final = 4096
"""Payload ids remembered to deliver an uplink pushed twice (early and complete) once."""
SUBSCRIPTION: Final = "payloads_ul,payloads_dl,multicast,nodeinfo,status,joininfo,location,alarm"
"""Every push but ``payloads_ul_early`` and ``join`` (the raw join procedure)."""
TOPICS: Final = tuple(SUBSCRIPTION.split(","))
"""What MQTT subscribes to (answers to downlinks, errors too, come on these topics)."""


class AuthMode(StrEnum):
    """How requests authenticate."""

    OAUTH2 = "oauth2"
    BASIC = "basic"


class Transport(StrEnum):
    """How the server pushes to us."""

    WEBSOCKET = "websocket"
    MQTT = "mqtt"
    REST_PUSH = "rest_push"


_CLASS_TO_ORBIWISE: Final = {LoRaClass.A: 0, LoRaClass.B: 1, LoRaClass.C: 2}
_ORBIWISE_TO_CLASS: Final = {value: key for key, value in _CLASS_TO_ORBIWISE.items()}
_MODES: Final = {
    DownlinkMode.QUEUE: "enqueue_on_busy",
    DownlinkMode.REPLACE: "replace_on_busy",
    DownlinkMode.IMMEDIATE: "fail_on_busy",
}
# transmissionStatus → (state, reason)
_TRANSMISSION: Final[dict[int, tuple[DownlinkState, str | None]]] = {
    0: (DownlinkState.QUEUED, None),
    1: (DownlinkState.SENT, None),
    2: (DownlinkState.ACKNOWLEDGED, None),
    3: (DownlinkState.FAILED, "not acknowledged by the device"),
    4: (DownlinkState.FAILED, "rejected by the network (frame counter or size)"),
    5: (DownlinkState.CANCELLED, None),
}
# Documented statuses of the API: what each means for a request.
_STATUS_REASONS: Final = {
    400: "the request is not valid",
    404: "unknown device, group or packet",
    406: "a parameter is not acceptable",
    409: "the device's downlink queue is busy or full",
    410: "the page expired",
    413: "the query is too big",
}


def payload_bytes(value: object, data_format: str, what: str) -> bytes:
    """Decode a payload given in base64 (the default) or hex."""
    if value is None or value == "":
        return b""
    if not isinstance(value, str) or len(value) > 4 * MAX_PAYLOAD:
        raise ProtocolError(f"{what} is not a payload")
    try:
        if data_format == "hex":
            return bytes.fromhex(value)
        return base64.b64decode(value, validate=True)
    except ValueError, binascii.Error:
        raise ProtocolError(f"{what} is not valid {data_format}") from None


def location_of(data: Mapping[str, Any]) -> Location | None:
    """Return ``latitude``/``longitude`` (and ``altitude``) when present and not both zero."""
    lat = opt_float(data, "latitude")
    lon = opt_float(data, "longitude")
    if lat is None or lon is None or (lat == 0 and lon == 0):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ProtocolError("coordinates out of range")
    return Location(lat, lon, opt_float(data, "altitude"))


def uplink_from_payload(data: Mapping[str, Any], data_format: str = "base64") -> Uplink:
    """
    Build an Uplink from a ``payloads_ul`` push or a stored payload.

    Raises ProtocolError when a field is missing or of the wrong type.
    """
    gateways = []
    info = data.get("gtw_info")
    if info is not None:
        if not isinstance(info, list):
            raise ProtocolError("gtw_info is not a list")
        for item in info:
            gateway = as_dict(item, "gtw_info item")
            gateways.append(
                Gateway(
                    hex_id(gateway.get("gtw_id"), "gtw_id"),
                    opt_float(gateway, "rssi"),
                    opt_float(gateway, "snr"),
                )
            )
    gateways.sort(key=lambda gateway: -gateway.rssi if gateway.rssi is not None else float("inf"))
    decoded = data.get("decoded")
    if decoded is not None and not isinstance(decoded, dict):
        raise ProtocolError("decoded is not an object")
    decrypted = opt_bool(data, "decrypted")
    data_rate = opt_str(data, "dr_used")
    spreading_factor = opt_int(data, "sf_used")
    frequency = opt_float(data, "freq")
    if frequency is not None and frequency > 1e5:
        frequency /= 1e6  # given in Hz
    return Uplink(
        dev_eui=eui(data.get("DevEUI"), "DevEUI"),
        received_at=parse_time(data.get("timestamp"), "timestamp"),
        f_port=opt_int(data, "port"),
        f_cnt=opt_int(data, "fcnt"),
        payload=payload_bytes(data.get("dataFrame"), data_format, "dataFrame"),
        decoded=decoded,
        rssi=opt_float(data, "rssi"),
        snr=opt_float(data, "snr"),
        data_rate=data_rate,
        spreading_factor=spreading_factor,
        frequency=frequency,
        gateways=tuple(gateways),
        location=location_of(data),
        confirmed=opt_bool(data, "confirmed"),
        encrypted=decrypted is False,
        raw=data,
    )


def device_from_node(node: Mapping[str, Any]) -> DeviceInfo:
    """Build a DeviceInfo from a ``/rest/nodes`` entry or a ``nodeinfo`` push, keys left behind."""
    device_class = opt_int(node, "device_class")
    if device_class is None:
        device_class = opt_int(node, "lora_device_class")
    return DeviceInfo(
        dev_eui=eui(node.get("DevEUI"), "DevEUI"),
        name=opt_str(node, "comment"),
        app_eui=opt_str(node, "appeui"),
        device_class=_ORBIWISE_TO_CLASS.get(device_class) if device_class is not None else None,
        location=location_of(node),
        downlink_f_cnt=opt_int(node, "dl_fcnt"),
    )


def status_from_push(data: Mapping[str, Any]) -> DeviceStatus | None:
    """Build a DeviceStatus from a ``status`` push; None while no result is ready."""
    ready = opt_int(data, "req_status")
    if ready is not None and ready != 3:
        return None
    battery = opt_int(data, "battery_status")
    percent: float | None = None
    if battery is not None and 1 <= battery <= 254:
        # LoRaWAN DevStatusAns: 1 is the minimum, 254 the maximum.
        percent = round((battery - 1) / 253 * 100, 1)
    return DeviceStatus(
        dev_eui=eui(data.get("DevEUI"), "DevEUI"),
        battery=percent,
        external_power=None if battery is None or battery == 255 else battery == 0,
        margin=opt_int(data, "margin_status"),
    )


def downlink_status(data: Mapping[str, Any], group: bool = False) -> DownlinkStatus:
    """Build a DownlinkStatus from a ``payloads_dl`` or ``multicast`` push."""
    code = opt_int(data, "transmissionStatus")
    state, reason = _TRANSMISSION.get(code if code is not None else -1, (None, None))
    if state is None:
        raise ProtocolError(f"unknown transmissionStatus {code}")
    message_id = opt_int(data, "id")
    if message_id is None:
        raise ProtocolError("a downlink status without id")
    return DownlinkStatus(
        dev_eui="" if group else eui(data.get("DevEUI"), "DevEUI"),
        message_id=str(message_id),
        state=state,
        reason=reason,
        group_id=opt_str(data, "groupid") if group else None,
    )


def result_from_answer(data: Mapping[str, Any]) -> DownlinkResult:
    """Build the result of a downlink or multicast from the server's answer."""
    message_id = opt_int(data, "id")
    code = opt_int(data, "transmissionStatus")
    state = _TRANSMISSION.get(code if code is not None else 0, (DownlinkState.QUEUED, None))[0]
    return DownlinkResult(
        message_id=None if message_id is None else str(message_id),
        state=state,
        f_cnt=opt_int(data, "fcnt"),
    )


@dataclass(slots=True, frozen=True)
class PushTarget:
    """Where the server pushes in REST push mode, and the header it must send."""

    url: str
    """The complete URL of the push receiver (``https://host[:port]/path``)."""
    authorization: str
    """The ``Authorization`` header the receiver checks."""


@dataclass(slots=True, frozen=True)
class MqttSettings:
    """The server's MQTT broker (host mode)."""

    host: str
    port: int
    tls: bool


class OrbiWiseClient(NetworkServer):
    """A client of one OrbiWAN account (or one application of it)."""

    vendor = "orbiwise"
    name = "OrbiWise OrbiWAN"
    capabilities = frozenset(
        {
            Capability.DOWNLINK,
            Capability.DOWNLINK_ACK,
            Capability.CLASS_CHANGE,
            Capability.DEVICE_STATUS,
            Capability.MULTICAST,
            Capability.MULTICAST_GROUPS,
            Capability.LOCATION,
            Capability.BACKFILL,
            Capability.DOWNLINK_COUNTER,
        }
    )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        username: str,
        password: str,
        auth_mode: AuthMode = AuthMode.OAUTH2,
        application: str | None = None,
        transport: Transport = Transport.WEBSOCKET,
        push_target: PushTarget | None = None,
        mqtt: MqttSettings | None = None,
        request_timeout: float = 15.0,
        heartbeat: float = 30.0,
        backoff: Backoff | None = None,
    ) -> None:
        """Prepare a client; nothing connects until a method is called."""
        parsed = URL(url.strip())
        self._base = parsed.with_path(parsed.path.rstrip("/"), keep_query=False)
        self._session = session
        self._username = username
        self._password = password
        self._auth_mode = auth_mode
        self._application = application or None
        self.transport = transport
        self._push_target = push_target
        self.mqtt_settings = mqtt
        self.request_timeout = request_timeout
        self._request_timeout = request_timeout
        self._heartbeat = heartbeat
        self._backoff = backoff or Backoff()
        self._tokens = TokenSource(
            session,
            str(self._url("rest/oauth2/token")),
            {
                "grant_type": "password",
                "client_id": TOKEN_CLIENT_ID,
                "username": username,
                "password": password,
            },
            timeout=request_timeout,
        )
        credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._basic = f"Basic {credentials}"
        self._log = ThrottledLog(_LOGGER)
        self._sink: Sink | None = None
        self._buffer: list[tuple[str, Mapping[str, Any]]] | None = None
        self._tags = itertools.count(1)
        self._tag_prefix = f"lorawan-hub-{secrets.token_hex(4)}"
        self._pending: dict[str, asyncio.Future[Mapping[str, Any]]] = {}
        self._send: Callable[[Mapping[str, Any]], Awaitable[None]] | None = None
        self._deletions: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        self._deleter: asyncio.Task[None] | None = None
        self._devices: set[str] = set()
        self._delivered: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._undeleted: set[tuple[str, int]] = set()
        self._streamed = False
        self._push_started = False
        self.live = asyncio.Event()
        """Set once a connection has drained the store and delivers pushes as they come."""
        self.mqtt_client: Any = None
        """The paho client while MQTT is connected (tests reach the broker through it)."""

    @property
    def host(self) -> str:
        """The server's host, safe to show."""
        return self._base.host or ""

    @property
    def username(self) -> str:
        """The account's user name (also the MQTT user)."""
        return self._username

    @property
    def password(self) -> str:
        """The account's password (for the MQTT connection only)."""
        return self._password

    @property
    def account_id(self) -> str:
        """The first part of every MQTT topic: the user name the broker knows."""
        return self._username

    @property
    def topics(self) -> tuple[str, ...]:
        """The pushes MQTT subscribes to."""
        return TOPICS

    # --- REST ---------------------------------------------------------------------------------

    def _url(self, path: str) -> URL:
        return self._base.with_path(f"{self._base.path.rstrip('/')}/{path}", encoded=False)

    async def _authorization(self) -> str:
        if self._auth_mode is AuthMode.BASIC:
            return self._basic
        return f"Bearer {await self._tokens.token()}"

    async def _renewed_authorization(self, refused: str) -> str:
        if self._auth_mode is AuthMode.BASIC:
            raise AuthError(f"{self.host} refused the user name or password", code=401)
        return f"Bearer {await self._tokens.renew(refused.removeprefix('Bearer '))}"

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        body: str | None = None,
    ) -> Any:
        """Send one API request; None for an empty answer (204). 401 renews the token once."""
        authorization = await self._authorization()
        renewed = False
        url = self._url(path)
        headers = {"Accept": "application/json, application/problem+json"}
        data: bytes | None = None
        if json is not None:
            headers["Content-Type"] = "application/json"
            data = orjson.dumps(json)
        elif body is not None:
            headers["Content-Type"] = "text/plain"
            data = body.encode()
        while True:
            headers["Authorization"] = authorization
            try:
                async with self._session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self._request_timeout),
                    allow_redirects=False,
                ) as response:
                    status = response.status
                    if status == 401 and not renewed:
                        renewed = True
                        authorization = await self._renewed_authorization(authorization)
                        continue
                    text = await response.read()
            except (aiohttp.ClientError, TimeoutError, OSError) as err:
                raise CannotConnect(f"cannot reach {self.host}: {type(err).__name__}") from None
            self._raise_for_status(status, text)
            if status == 204 or not text.strip():
                return None
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                raise ProtocolError(f"/{path}: the answer is not JSON") from None

    def _raise_for_status(self, status: int, text: bytes) -> None:
        if 200 <= status < 300:
            return
        detail = _problem(text)
        if status == 401:
            raise AuthError(f"{self.host} refused the credentials", code=status)
        if status == 403:
            raise Forbidden(detail or "the account lacks the right for this", code=status)
        if status in _STATUS_REASONS:
            raise InvalidRequest(detail or _STATUS_REASONS[status], code=status)
        if 400 <= status < 500:
            raise InvalidRequest(detail or f"HTTP {status}", code=status)
        suffix = f": {detail}" if detail else ""
        raise CannotConnect(f"{self.host} answered HTTP {status}{suffix}", code=status)

    async def _pages(self, path: str, params: Mapping[str, str]) -> list[Mapping[str, Any]]:
        """Read every page of a list (``paged_results`` answers, or a plain array)."""
        query = {**params, "paged_results": "true", "limit": str(PAGE_SIZE)}
        items: list[Mapping[str, Any]] = []
        for _ in range(MAX_PAGES):
            document = await self._request("GET", path, params=query)
            if document is None:
                return items
            if isinstance(document, list):
                return items + [as_dict(item, path) for item in document]
            page = as_dict(document, path)
            results = page.get("results")
            if not isinstance(results, list):
                raise ProtocolError(f"/{path}: no results")
            items.extend(as_dict(item, path) for item in results)
            state = page.get("next_page_state")
            if not isinstance(state, str) or not state or not results:
                return items
            query = {**query, "page_state": state}
        raise ProtocolError(f"/{path}: more than {MAX_PAGES} pages")

    async def validate(self) -> None:
        """Authenticate and read the device list's first page."""
        await self._request("GET", "rest/nodes", params=self._scope({"limit": "1"}))

    def _scope(self, params: Mapping[str, str]) -> dict[str, str]:
        return {**params, "application": self._application} if self._application else {**params}

    async def list_devices(self) -> list[DeviceInfo]:
        """Return every device of the account (or application)."""
        devices = []
        for node in await self._pages("rest/nodes", self._scope({})):
            try:
                devices.append(device_from_node(node))
            except ProtocolError as err:
                self._log.warning(
                    "node", "%s listed a device it cannot describe: %s", self.host, err
                )
        self._devices = {device.dev_eui for device in devices}
        return devices

    # --- realtime -----------------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        """Receive pushes until cancelled, reconnecting with backoff and draining each time."""
        self._sink = sink
        self._deleter = asyncio.create_task(self._delete_delivered(), name="orbiwise deleter")
        try:
            while True:
                try:
                    reason = await self._connection(sink)
                except AuthError:
                    raise
                except LnsError as err:
                    reason = err.reason or err.key
                except Exception:  # a bug must not end the connection for good: retry
                    _LOGGER.exception("Unexpected error in the connection to %s", self.host)
                    reason = "unexpected error"
                self.live.clear()
                sink.connection_changed(False, reason)
                delay = self._backoff.next_delay()
                _LOGGER.debug("Connection to %s: %s; retry in %.1f s", self.host, reason, delay)
                await asyncio.sleep(delay)
        finally:
            self._sink = None
            self._deleter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._deleter
            self._deleter = None

    async def _connection(self, sink: Sink) -> str:
        if self.transport is Transport.WEBSOCKET:
            return await self._websocket(sink)
        if self.transport is Transport.MQTT:
            from .orbiwise_mqtt import run_mqtt  # noqa: PLC0415 - paho only when MQTT is used

            reason: str = await run_mqtt(self, sink)
            return reason
        return await self._rest_push(sink)

    async def connected(self, sink: Sink) -> None:
        """Catch up after a (re)connect: list the devices again, drain, then go live."""
        self.live.clear()
        self._buffer = []
        try:
            if self._streamed:
                sink.devices_listed(await self.list_devices())
            self._streamed = True
            sink.connection_changed(True, None)
            await self._drain(sink)
        finally:
            buffered, self._buffer = self._buffer, None
        for topic, data in buffered:
            self.dispatch(topic, data)
        # Deletions that failed while the server was unreachable: try them again.
        for key in self._undeleted:
            self._deletions.put_nowait(key)
        self._undeleted.clear()
        self._backoff.reset()
        self.live.set()

    async def _websocket(self, sink: Sink) -> str:
        url = self._url("websocket/connect").with_query(push_subscription=SUBSCRIPTION)
        ws = await self._open_websocket(url)

        async def send(message: Mapping[str, Any]) -> None:
            await ws.send_bytes(orjson.dumps(message))

        self._send = send
        try:
            reader = asyncio.create_task(self._read_websocket(ws), name="orbiwise websocket")
            try:
                await self.connected(sink)
                return await reader
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
        finally:
            self._send = None
            self._fail_pending(CannotConnect("the connection closed"))
            await ws.close()

    async def _open_websocket(self, url: URL) -> aiohttp.ClientWebSocketResponse:
        authorization = await self._authorization()
        renewed = False
        while True:
            try:
                return await self._session.ws_connect(
                    url,
                    headers={"Authorization": authorization},
                    heartbeat=self._heartbeat,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
                )
            except aiohttp.WSServerHandshakeError as err:
                if err.status == 401 and not renewed:
                    renewed = True
                    authorization = await self._renewed_authorization(authorization)
                    continue
                if err.status in (401, 403):
                    raise AuthError(f"WebSocket refused with HTTP {err.status}") from None
                raise CannotConnect(f"WebSocket refused with HTTP {err.status}") from None
            except (aiohttp.ClientError, TimeoutError, OSError) as err:
                raise CannotConnect(f"cannot reach {self.host}: {type(err).__name__}") from None

    async def _read_websocket(self, ws: aiohttp.ClientWebSocketResponse) -> str:
        async for message in ws:
            if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                self.receive(message.data)
            elif message.type is aiohttp.WSMsgType.ERROR:
                return f"WebSocket error: {type(ws.exception()).__name__}"
        return "the server closed the WebSocket"

    async def _rest_push(self, sink: Sink) -> str:
        target = self._push_target
        if target is None:
            raise InvalidRequest("REST push needs the address of Home Assistant")
        url = URL(target.url)
        # ${skip_topic} drops the standard /rest/callback/<topic> path; the topic goes in the query.
        path = f"${{skip_topic}}{url.raw_path}?topic=${{topic}}"
        await self._request(
            "PUT",
            f"rest/pushmode/start/{self._application}"
            if self._application
            else "rest/pushmode/start",
            json={
                "host": f"{url.scheme}://{url.host}",
                "port": url.port,
                "path_prefix": path,
                "auth_string": target.authorization,
                "retry_policy": 0,
                "data_format": "base64",
                "push_subscription": SUBSCRIPTION,
            },
        )
        self._push_started = True
        await self.connected(sink)
        # Pushes arrive through the receiver (``dispatch``): wait here until cancelled.
        forever: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        return await forever

    async def stop_push(self) -> None:
        """Tell the server to stop pushing (REST push mode), if it was started."""
        if not self._push_started:
            return
        self._push_started = False
        path = "rest/pushmode/stop" + (f"/{self._application}" if self._application else "")
        try:
            await self._request("PUT", path)
        except LnsError as err:
            _LOGGER.warning("Could not stop the pushes of %s: %s", self.host, err.reason)

    # --- what the server pushes ---------------------------------------------------------------

    def receive(self, raw: str | bytes) -> None:
        """Handle one pushed message (``{"<topic>": {...}}``) from any transport."""
        try:
            message = as_dict(orjson.loads(raw), "message")
        except orjson.JSONDecodeError, ProtocolError:
            self._log.warning("json", "Dropped a message from %s that is not JSON", self.host)
            return
        for topic, data in message.items():
            if isinstance(data, Mapping):
                self.dispatch(topic, data)
            else:
                self._log.warning("shape", "Dropped a %s push that is not an object", topic)

    def dispatch(self, topic: str, data: Mapping[str, Any]) -> bool:
        """
        Deliver one push to the sink; a malformed push is logged and dropped.

        Returns False when nothing is running to take it (the server should keep it).
        """
        sink = self._sink
        if sink is None:
            return False
        try:
            self._dispatch(sink, topic, data)
        except ProtocolError as err:
            self._log.warning(
                topic, "Dropped a malformed %s push from %s: %s", topic, self.host, err
            )
        return True

    async def accept_push(self, topic: str, body: Any, limit: float) -> bool:
        """
        Take a REST push; True once it was handed over (the receiver may then answer 200).

        An uplink pushed while the store is being drained waits for the drain, so that it is
        never acknowledged (and deleted by the server) before it was delivered.
        """
        if self._sink is None or not isinstance(body, Mapping):
            return False
        if topic in ("payloads_ul", "payloads_ul_early") and not self.live.is_set():
            try:
                async with asyncio.timeout(limit):
                    await self.live.wait()
            except TimeoutError:
                return False
        return self.dispatch(topic, body)

    def _in_scope(self, data: Mapping[str, Any]) -> bool:
        """Whether a push concerns the application's devices (always without an application)."""
        if not self._application or "DevEUI" not in data:
            return True
        try:
            return eui(data["DevEUI"], "DevEUI") in self._devices
        except ProtocolError:
            return True  # let the handler report it

    def _dispatch(self, sink: Sink, topic: str, data: Mapping[str, Any]) -> None:
        tag = data.get("tag")
        if tag is None and not self._in_scope(data):
            return  # another application's device: the account pushes them all
        if topic in ("payloads_ul", "payloads_ul_early"):
            if self._buffer is not None:
                self._buffer.append((topic, data))
                return
            self._deliver(sink, uplink_from_payload(data), opt_int(data, "id"))
        elif topic == "error":
            future = self._pending.pop(str(tag), None)
            if future is not None and not future.done():
                future.set_exception(push_error(data))
        elif topic in ("payloads_dl", "multicast"):
            future = self._pending.pop(str(tag), None) if tag is not None else None
            if future is not None:
                if not future.done():
                    future.set_result(data)
                return
            sink.downlink_status(downlink_status(data, group=topic == "multicast"))
        elif topic == "nodeinfo":
            sink.device_updated(device_from_node(data))
        elif topic == "status":
            if (status := status_from_push(data)) is not None:
                sink.device_status(status)
        elif topic == "location":
            if (location := location_of(data)) is not None:
                sink.device_location(eui(data.get("DevEUI"), "DevEUI"), location)
        elif topic == "joininfo":
            sink.joined(
                JoinInfo(
                    dev_eui=eui(data.get("DevEUI"), "DevEUI"),
                    status=opt_str(data, "join_status") or "unknown",
                    app_eui=opt_str(data, "appeui"),
                )
            )
        elif topic == "alarm":
            dev_eui = data.get("DevEUI")
            sink.alarm(
                Alarm(
                    code=opt_str(data, "alarm_code") or "unknown",
                    severity=opt_str(data, "severity") or "warning",
                    text=opt_str(data, "alarm_text"),
                    dev_eui=eui(dev_eui, "DevEUI") if dev_eui else None,
                    gateway_id=opt_str(data, "gtw_id"),
                    at=parse_time(data["timestamp"], "timestamp")
                    if data.get("timestamp")
                    else None,
                )
            )
        # Other topics (join, future ones) are not used.

    def _deliver(
        self, sink: Sink, uplink: Uplink, payload_id: int | None, *, stored: bool = False
    ) -> None:
        """Deliver an uplink once, then have it deleted from the server's store."""
        key = (uplink.dev_eui, payload_id) if payload_id is not None else None
        if key is not None and key in self._delivered:
            # A re-sent push, or a stored copy of an uplink delivered live: delivered once.
            if stored:
                self._deletions.put_nowait(key)
            return
        if uplink.location is not None:
            sink.device_location(uplink.dev_eui, uplink.location)
        sink.uplink(uplink)
        if key is not None:
            self._delivered[key] = None
            if len(self._delivered) > DELIVERED_MEMORY:
                self._delivered.popitem(last=False)
            if stored or self.transport is not Transport.REST_PUSH:
                # A REST push answered 200 is deleted by the server itself.
                self._deletions.put_nowait(key)

    async def _delete_delivered(self) -> None:
        """Delete delivered uplinks from the server's store, one at a time, in the background."""
        while True:
            dev_eui, payload_id = await self._deletions.get()
            try:
                await self._request("DELETE", f"rest/nodes/{dev_eui}/payloads/ul/{payload_id}")
            except InvalidRequest:
                pass  # already gone: pushed payloads may never be stored
            except LnsError as err:
                self._undeleted.add((dev_eui, payload_id))
                self._log.warning(
                    "delete", "Cannot delete a delivered uplink yet (retried): %s", err.reason
                )

    async def _drain(self, sink: Sink) -> None:
        """Deliver every stored uplink, oldest first per device, then delete it."""
        semaphore = asyncio.Semaphore(DRAIN_CONCURRENCY)

        async def drain(dev_eui: str) -> None:
            try:
                async with semaphore:
                    stored = await self._pages(
                        f"rest/nodes/{dev_eui}/payloads/ul", {"data_format": "base64"}
                    )
            except AuthError:
                raise
            except LnsError as err:
                # One device's store must not hold back the others (nor the live pushes).
                self._log.warning("drain", "Cannot read the stored uplinks of %s: %s", dev_eui, err)
                return
            # Oldest first (sorting on the server may need page states: sort here).
            stored.sort(key=lambda item: str(item.get("timestamp", "")))
            for item in stored:
                payload_id = opt_int(item, "id")
                try:
                    uplink = uplink_from_payload({"DevEUI": dev_eui, **item})
                except ProtocolError as err:
                    self._log.warning("stored", "Dropped a malformed stored uplink: %s", err)
                    if payload_id is not None:
                        self._deletions.put_nowait((dev_eui, payload_id))
                    continue
                self._deliver(sink, uplink, payload_id, stored=True)

        await asyncio.gather(*(drain(dev_eui) for dev_eui in sorted(self._devices)))

    # --- requests over the push channel -------------------------------------------------------

    async def _over_channel(self, topic: str, body: dict[str, Any]) -> Mapping[str, Any]:
        """Send a downlink or multicast over the WebSocket or MQTT and wait for its answer."""
        send = self._send
        if send is None:
            raise CannotConnect(f"not connected to {self.host}")
        tag = f"{self._tag_prefix}-{next(self._tags)}"
        future: asyncio.Future[Mapping[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[tag] = future
        try:
            await send({topic: {**body, "tag": tag}})
            async with asyncio.timeout(self._request_timeout):
                return await future
        except TimeoutError:
            raise CannotConnect(f"{self.host} did not answer the {topic}") from None
        except (aiohttp.ClientError, ConnectionError) as err:
            raise CannotConnect(
                f"the connection to {self.host} closed: {type(err).__name__}"
            ) from None
        finally:
            self._pending.pop(tag, None)

    def _fail_pending(self, error: LnsError) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)

    def set_sender(self, send: Callable[[Mapping[str, Any]], Awaitable[None]] | None) -> None:
        """Use ``send`` for downlinks over the push channel (None: the channel is down)."""
        self._send = send
        if send is None:
            self._fail_pending(CannotConnect("the connection closed"))

    # --- actions ------------------------------------------------------------------------------

    async def send_downlink(self, downlink: Downlink) -> DownlinkResult:
        """Send a downlink over the push channel (REST when pushes come by REST)."""
        if downlink.device_class is not None:
            raise Unsupported("OrbiWAN sends downlinks in the device's own class")
        mode = _MODES[downlink.mode]
        if self.transport is Transport.REST_PUSH:
            answer = await self._request(
                "POST",
                f"rest/nodes/{downlink.dev_eui}/payloads/dl",
                params={
                    "port": str(downlink.f_port),
                    "confirmed": "true" if downlink.confirmed else "false",
                    "mode": mode,
                    "data_format": "hex",
                },
                body=downlink.payload.hex(),
            )
        else:
            answer = await self._over_channel(
                "payloads_dl",
                {
                    "DevEUI": downlink.dev_eui,
                    "confirmed": downlink.confirmed,
                    "data": downlink.payload.hex(),
                    "data_format": "hex",
                    "port": downlink.f_port,
                    "mode": mode,
                },
            )
        return result_from_answer(as_dict(answer, "downlink answer"))

    async def set_device_class(self, dev_eui: str, device_class: LoRaClass) -> None:
        """Change the device's class (``lora_device_class``)."""
        await self._request(
            "PUT",
            f"rest/nodes/{dev_eui}",
            json={"lora_device_class": _CLASS_TO_ORBIWISE[device_class]},
        )

    async def request_device_status(self, dev_eui: str) -> None:
        """Ask for a DevStatusReq on the device's next uplink; the answer is pushed."""
        await self._request("PUT", f"rest/nodes/{dev_eui}/status")

    async def list_multicast_groups(self) -> list[MulticastGroup]:
        """Return the account's groups."""
        document = await self._request("GET", "rest/groups")
        groups = []
        for item in document or []:
            group = as_dict(item, "group")
            group_id = opt_str(group, "groupid")
            if group_id is not None:
                groups.append(MulticastGroup(group_id=group_id, name=opt_str(group, "title")))
        return groups

    async def create_multicast_group(self, setup: MulticastSetup) -> MulticastGroup:
        """Create a group named ``setup.name`` (its id is the name), then add its members."""
        check_multicast_setup(self.name, setup, names=True)
        name = setup.name or ""
        device_class = setup.device_class
        if device_class is LoRaClass.A:
            raise InvalidRequest("a multicast group is class B or C", key="invalid_request")
        # A group multicasts once it has session keys and an address (the devices receive them
        # with the LoRaWAN remote multicast setup).
        keys = setup.keys or MulticastKeys.generate()
        await self._request(
            "POST",
            "rest/groups",
            json={
                "groupid": name,
                "title": name,
                "comment": f"Class {device_class} multicast group",
                "devaddr": int(keys.address, 16),
                "nwkskey": keys.nwk_s_key,
                "appskey": keys.app_s_key,
                "fcnt": 0,
            },
        )
        await self.add_to_multicast_group(name, setup.dev_euis)
        return MulticastGroup(
            group_id=name,
            name=name,
            device_class=device_class,
            dev_euis=setup.dev_euis,
            keys=keys,
        )

    async def delete_multicast_group(self, group_id: str) -> None:
        """Delete a group (its devices stay)."""
        await self._request("DELETE", f"rest/groups/{group_id}")

    async def add_to_multicast_group(self, group_id: str, dev_euis: Sequence[str]) -> None:
        """Add devices to a group, keeping their other groups."""
        for dev_eui in dev_euis:
            await self._request("PUT", f"rest/nodes/{dev_eui}", json={"groups": f"+{group_id}"})

    async def remove_from_multicast_group(self, group_id: str, dev_euis: Sequence[str]) -> None:
        """Remove devices from a group, keeping their other groups."""
        for dev_eui in dev_euis:
            await self._request("PUT", f"rest/nodes/{dev_eui}", json={"groups": f"-{group_id}"})

    async def send_multicast(
        self, group_id: str, f_port: int, payload: bytes, gateways: Sequence[str] = ()
    ) -> DownlinkResult:
        """Send a downlink to every device of a group (REST, or MQTT which answers with the id)."""
        no_gateways(self.name, gateways)
        if self.transport is not Transport.MQTT:
            answer = await self._request(
                "POST",
                f"rest/multicast/{group_id}",
                params={"port": str(f_port), "data_format": "hex"},
                body=payload.hex(),
            )
        else:
            answer = await self._over_channel(
                "multicast",
                {"groupid": group_id, "data": payload.hex(), "data_format": "hex", "port": f_port},
            )
        return result_from_answer(as_dict(answer, "multicast answer"))

    async def close(self) -> None:
        """Stop REST pushes; the connections close with ``run``'s cancellation."""
        await self.stop_push()


def _problem(text: bytes) -> str | None:
    """Return the explanation of an error answer (RFC 7807 JSON or plain text), shortened."""
    if not text:
        return None
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        explanation = text.decode(errors="replace").strip()
    else:
        if not isinstance(document, dict):
            return None
        explanation = str(document.get("detail") or document.get("title") or "")
    return explanation[:200] or None


def push_error(data: Mapping[str, Any]) -> LnsError:
    """Return the error an ``error`` answer on the push channel stands for."""
    status = opt_int(data, "status_code")
    reason = opt_str(data, "error_msg") or (
        _STATUS_REASONS.get(status, "refused") if status else "refused"
    )
    if status == 401:
        return AuthError(reason, code=status)
    if status == 403:
        return Forbidden(reason, code=status)
    if status is not None and status >= 500:
        return CannotConnect(reason, code=status)
    return InvalidRequest(reason, code=status)
