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
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
import contextlib
import dataclasses
from dataclasses import dataclass
from enum import StrEnum
import hashlib
import itertools
import logging
import re
import secrets
import time
from typing import Any, Final
from urllib.parse import quote

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
    InputError,
    InvalidRequest,
    LnsError,
    ProtocolError,
    Unsupported,
)
from .http import Credentials, JsonApi, Refusal, StatusTable
from .models import (
    Alarm,
    Capability,
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
    ServerDevice,
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
DETAIL_CONCURRENCY: Final = 4
"""Devices whose name or status are read at the same time."""
REFRESH_INTERVAL: Final = 15.0
"""Seconds between two readings of the device list prompted by a push about an unlisted device."""
FOREIGN_MEMORY: Final = 300.0
"""Seconds a device found outside the application is ignored without reading the list again."""
MAX_HELD: Final = 1000
"""Pushes about unlisted devices kept while the device list is read again."""
DELIVERED_MEMORY: Final = 4096
"""Payload ids remembered to deliver an uplink pushed twice (early and complete) once."""
SUBSCRIPTION: Final = "payloads_ul,payloads_dl,multicast,nodeinfo,status,joininfo,location,alarm"
"""Every push but ``payloads_ul_early`` and ``join`` (the raw join procedure)."""
TOPICS: Final = tuple(SUBSCRIPTION.split(","))
"""What MQTT subscribes to (answers to downlinks, errors too, come on these topics)."""
UPLINK_TOPICS: Final = frozenset({"payloads_ul", "payloads_ul_early"})
ERROR_KEYS: Final = frozenset({"orbiwise_busy", "orbiwise_queue_full"})
"""Refusals with a message of their own (``translations/en.json`` exceptions)."""
_EUI_LIKE: Final = re.compile(r"[0-9A-Fa-f]{16}")


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


def _problem(text: bytes) -> str | None:
    """Return the explanation of an error answer (RFC 7807 JSON or plain text), shortened."""
    if not text:
        return None
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        explanation = text.decode(errors="replace").strip()
    else:
        if isinstance(document, str):  # a plain-text error written in quotes
            explanation = document
        elif isinstance(document, dict):
            explanation = str(document.get("detail") or document.get("title") or "")
        else:
            return None
    return explanation[:200] or None


ERRORS: Final = StatusTable(
    statuses={
        401: Refusal(AuthError, "{host} refused the credentials"),
        403: Refusal(Forbidden, "the account lacks the right for this", explanation="instead"),
        **{
            status: Refusal(InvalidRequest, reason, explanation="instead")
            for status, reason in _STATUS_REASONS.items()
        },
    },
    client_error=Refusal(InvalidRequest, "HTTP {status}", explanation="instead"),
    server_error=Refusal(CannotConnect, "{host} answered HTTP {status}", explanation="after"),
    explain=_problem,
)
"""The API's statuses; errors explain themselves in RFC 7807 JSON or plain text."""


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


_VALUES: Final = ThrottledLog(_LOGGER)
"""Reports the values dropped from pushes (one line per kind of value and minute)."""


def _optional[T](
    read: Callable[[Mapping[str, Any], str], T | None],
    data: Mapping[str, Any],
    key: str,
    what: str,
) -> T | None:
    """Read an optional field; a bad value is dropped (and reported), never the message."""
    try:
        return read(data, key)
    except ProtocolError as err:
        _VALUES.warning(f"{what}:{key}", "Dropped a bad value of a %s: %s", what, err)
        return None


def _optional_eui(data: Mapping[str, Any], key: str, what: str) -> str | None:
    """Read an optional EUI (absent, empty or bad: None)."""
    value = _optional(opt_str, data, key, what)
    if value is None:
        return None
    try:
        return eui(value.strip(), key)
    except ProtocolError as err:
        _VALUES.warning(f"{what}:{key}", "Dropped a bad value of a %s: %s", what, err)
        return None


def location_of(data: Mapping[str, Any], what: str = "message") -> Location | None:
    """
    Return ``latitude``/``longitude`` (and ``altitude``) when present and not both zero.

    Coordinates that cannot be a position are dropped (and reported), never the message.
    """
    lat = _optional(opt_float, data, "latitude", what)
    lon = _optional(opt_float, data, "longitude", what)
    if lat is None or lon is None or (lat == 0 and lon == 0):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        _VALUES.warning(f"{what}:location", "Dropped the coordinates of a %s: out of range", what)
        return None
    return Location(lat, lon, _optional(opt_float, data, "altitude", what))


def _gateways(data: Mapping[str, Any]) -> tuple[Gateway, ...]:
    """Return the gateways of ``gtw_info``, best first; a bad entry is dropped, not the uplink."""
    info = data.get("gtw_info")
    if info is None:
        return ()
    if not isinstance(info, list):
        _VALUES.warning("uplink:gtw_info", "Dropped the gtw_info of an uplink: not a list")
        return ()
    gateways = []
    for item in info:
        try:
            gateway = as_dict(item, "gtw_info item")
            gateway_id = hex_id(gateway.get("gtw_id"), "gtw_id")
        except ProtocolError as err:
            _VALUES.warning("uplink:gtw_id", "Dropped a gateway of an uplink: %s", err)
            continue
        gateways.append(
            Gateway(
                gateway_id,
                _optional(opt_float, gateway, "rssi", "gateway"),
                _optional(opt_float, gateway, "snr", "gateway"),
            )
        )
    gateways.sort(key=lambda gateway: -gateway.rssi if gateway.rssi is not None else float("inf"))
    return tuple(gateways)


def _dev_addr(data: Mapping[str, Any], what: str) -> str | None:
    """Return ``devaddr`` (a hex string, or its decimal value as a number) as 8 hex digits."""
    value = data.get("devaddr")
    if value is None or value == "":
        return None
    try:
        address = hex_id(value, "devaddr", 8)
    except ProtocolError as err:
        _VALUES.warning(f"{what}:devaddr", "Dropped a bad value of a %s: %s", what, err)
        return None
    if len(address) != 8:
        _VALUES.warning(f"{what}:devaddr", "Dropped a bad value of a %s: devaddr", what)
        return None
    return address


def uplink_from_payload(data: Mapping[str, Any], data_format: str = "base64") -> Uplink:
    """
    Build an Uplink from a ``payloads_ul`` push or a stored payload.

    Raises ProtocolError when ``DevEUI``, ``timestamp`` or ``dataFrame`` cannot be read: without
    them there is no uplink. Any other field with a bad value is dropped, with a warning.
    """
    what = "uplink"
    decoded = data.get("decoded")
    if decoded is not None and not isinstance(decoded, dict):
        _VALUES.warning("uplink:decoded", "Dropped the decoded object of an uplink: not an object")
        decoded = None
    decrypted = _optional(opt_bool, data, "decrypted", what)
    frequency = _optional(opt_float, data, "freq", what)
    if frequency is not None and frequency > 1e5:
        frequency /= 1e6  # given in Hz
    if frequency is not None and frequency <= 0:
        _VALUES.warning("uplink:freq", "Dropped a bad value of an uplink: freq %s", frequency)
        frequency = None
    return Uplink(
        dev_eui=eui(data.get("DevEUI"), "DevEUI"),
        received_at=parse_time(data.get("timestamp"), "timestamp"),
        f_port=_optional(opt_int, data, "port", what),
        f_cnt=_optional(opt_int, data, "fcnt", what),
        payload=payload_bytes(data.get("dataFrame"), data_format, "dataFrame"),
        decoded=decoded,
        rssi=_optional(opt_float, data, "rssi", what),
        snr=_optional(opt_float, data, "snr", what),
        data_rate=_optional(opt_str, data, "dr_used", what),
        spreading_factor=_optional(opt_int, data, "sf_used", what),
        frequency=frequency,
        gateways=_gateways(data),
        location=location_of(data, what),
        confirmed=_optional(opt_bool, data, "confirmed", what),
        dev_addr=_dev_addr(data, what),
        encrypted=decrypted is False,
        raw=data,
    )


def payload_id(data: Mapping[str, Any]) -> int | None:
    """Return the ``id`` of a pushed or stored uplink (needed to delete it); bad: None."""
    return _optional(opt_int, data, "id", "uplink")


def _device_class(data: Mapping[str, Any], what: str) -> LoRaClass | None:
    """Return ``device_class`` (device info) or ``lora_device_class`` (registration)."""
    for key in ("device_class", "lora_device_class"):
        value = _optional(opt_int, data, key, what)
        if value is not None:
            return _ORBIWISE_TO_CLASS.get(value)
    return None


def device_from_node(node: Mapping[str, Any]) -> ServerDevice:
    """
    Build a ServerDevice from a device info object, a complete registration or ``nodeinfo``.

    The name is the registration's ``comment``, which only the complete registration
    (``?all=true``) carries. Keys are left behind.
    """
    what = "device"
    comment = _optional(opt_str, node, "comment", what)
    return ServerDevice(
        dev_eui=eui(node.get("DevEUI"), "DevEUI"),
        name=(comment.strip() or None) if comment is not None else None,
        app_eui=_optional_eui(node, "appeui", what),
        device_class=_device_class(node, what),
        location=location_of(node, what),
        downlink_f_cnt=_optional(opt_int, node, "dl_fcnt", what),
    )


def status_from_push(data: Mapping[str, Any]) -> DeviceStatus | None:
    """Build a DeviceStatus from a ``status`` push or the status read back; None until ready."""
    what = "device status"
    ready = _optional(opt_int, data, "req_status", what)
    if ready is not None and ready != 3:
        return None
    battery = _optional(opt_int, data, "battery_status", what)
    if battery is not None and not 0 <= battery <= 255:
        _VALUES.warning("status:battery", "Dropped a battery status out of range: %s", battery)
        battery = None
    percent: float | None = None
    if battery is not None and 1 <= battery <= 254:
        # LoRaWAN DevStatusAns: 1 is the minimum, 254 the maximum.
        percent = round((battery - 1) / 253 * 100, 1)
    return DeviceStatus(
        dev_eui=eui(data.get("DevEUI"), "DevEUI"),
        battery=percent,
        external_power=None if battery is None or battery == 255 else battery == 0,
        margin=_optional(opt_int, data, "margin_status", what),
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
        group_id=_optional(opt_str, data, "groupid", "multicast status") if group else None,
    )


def result_from_answer(data: Mapping[str, Any]) -> DownlinkResult:
    """Build the result of a downlink or multicast from the server's answer."""
    what = "downlink answer"
    message_id = _optional(opt_int, data, "id", what)
    code = _optional(opt_int, data, "transmissionStatus", what)
    state = _TRANSMISSION.get(code if code is not None else 0, (DownlinkState.QUEUED, None))[0]
    return DownlinkResult(
        message_id=None if message_id is None else str(message_id),
        state=state,
        f_cnt=_optional(opt_int, data, "fcnt", what),
    )


def alarm_from_push(data: Mapping[str, Any]) -> Alarm:
    """Build an Alarm from an ``alarm`` push; a bad optional value is dropped, not the alarm."""
    what = "alarm"
    at = None
    if data.get("timestamp") not in (None, ""):
        try:
            at = parse_time(data["timestamp"], "timestamp")
        except ProtocolError as err:
            _VALUES.warning("alarm:timestamp", "Dropped a bad value of an alarm: %s", err)
    return Alarm(
        code=_optional(opt_str, data, "alarm_code", what) or "unknown",
        severity=_optional(opt_str, data, "severity", what) or "warning",
        text=_optional(opt_str, data, "alarm_text", what),
        dev_eui=_optional_eui(data, "DevEUI", what),
        gateway_id=_optional(opt_str, data, "gtw_id", what),
        at=at,
    )


def join_from_push(data: Mapping[str, Any]) -> JoinInfo:
    """Build a JoinInfo from a ``joininfo`` push."""
    what = "joininfo"
    return JoinInfo(
        dev_eui=eui(data.get("DevEUI"), "DevEUI"),
        status=_optional(opt_str, data, "join_status", what) or "unknown",
        app_eui=_optional_eui(data, "appeui", what),
    )


@dataclass(slots=True, frozen=True)
class PushConfiguration:
    """
    The push configuration of an account or application (``pushmode/status``), no secrets.

    OrbiWAN keeps one per account and per application sub-account: REST push (``http(s)://``)
    or MQTT client mode (``mqtt(s)://``) share it.
    """

    enabled: bool
    host: str
    port: int | None
    path_prefix: str

    @property
    def target(self) -> str:
        """Where it pushes, safe to show: scheme, host and port (no path, no credentials)."""
        url = URL(self.host)
        host = url.host if url.absolute and url.host else self.host.split("//")[-1].split("/")[0]
        host = host.rpartition("@")[2]
        scheme = f"{url.scheme}://" if url.scheme else ""
        port = f":{self.port}" if self.port else ""
        return f"{scheme}{host}{port}"

    @property
    def fingerprint(self) -> str:
        """A digest of where it pushes (host, port, path), to recognise it later."""
        text = orjson.dumps([self.host, self.port, self.path_prefix])
        return hashlib.sha256(text).hexdigest()[:32]


def push_configuration(status: Mapping[str, Any]) -> PushConfiguration | None:
    """Read ``pushmode/status``; None when nothing is configured (no host)."""
    what = "push configuration"
    host = (_optional(opt_str, status, "host", what) or "").strip()
    if not host:
        return None
    return PushConfiguration(
        enabled=bool(_optional(opt_bool, status, "enabled", what)),
        host=host,
        port=_optional(opt_int, status, "port", what),
        path_prefix=_optional(opt_str, status, "path_prefix", what) or "",
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
    error_keys = ERROR_KEYS

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
        replaces: str | None = None,
        mqtt: MqttSettings | None = None,
        request_timeout: float = 15.0,
        heartbeat: float = 30.0,
        backoff: Backoff | None = None,
    ) -> None:
        """
        Prepare a client; nothing connects until a method is called.

        ``replaces`` is the fingerprint of a push configuration set up elsewhere that the user
        agreed to replace (REST push): any other one is left alone.
        """
        self._session = session
        self._api = JsonApi(
            session,
            URL(url.strip()),
            errors=ERRORS,
            timeout=request_timeout,
            authorize=self._authorize,
            renew=self._renew,
            accept="application/json, application/problem+json",
            encoded=True,
        )
        self._username = username
        self._password = password
        self._auth_mode = auth_mode
        self._application = application or None
        self.transport = transport
        self._push_target = push_target
        self._replaces = replaces
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
        self._sending = asyncio.Lock()
        """One downlink or multicast at a time: the server does not take them in parallel."""
        self._deletions: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        self._deleter: asyncio.Task[None] | None = None
        self._devices: set[str] = set()
        self._names: dict[str, str | None] = {}
        """DevEUI → the device's name (its ``comment``), once read."""
        self._delivered: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._undeleted: set[tuple[str, int]] = set()
        self._streamed = False
        self._push_started: PushConfiguration | None = None
        """The push configuration this client set up (REST push), until stopped."""
        self._held: list[tuple[str, Mapping[str, Any]]] = []
        """Pushes about devices not listed yet, waiting for the device list to be read again."""
        self._foreign: dict[str, float] = {}
        """DevEUI → when a fresh device list showed it outside the application."""
        self._refresh_task: asyncio.Task[None] | None = None
        self._last_refresh = -REFRESH_INTERVAL
        self._tasks: set[asyncio.Task[None]] = set()
        """Background reads (device statuses) of the running connection."""
        self.live = asyncio.Event()
        """Set once a connection has drained the store and delivers pushes as they come."""
        self.mqtt_client: Any = None
        """The paho client while MQTT is connected (tests reach the broker through it)."""

    @property
    def host(self) -> str:
        """The server's host, safe to show."""
        return self._api.host

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
        """Return the URL of ``path``, whose segments are already quoted (see ``_segment``)."""
        return self._api.url(path)

    async def _authorize(self) -> Credentials:
        if self._auth_mode is AuthMode.BASIC:
            return Credentials({"Authorization": self._basic})
        return await self._tokens.credentials()

    async def _renew(self, refused: Credentials) -> Credentials:
        if self._auth_mode is AuthMode.BASIC:
            raise AuthError(f"{self.host} refused the user name or password", code=401)
        return await self._tokens.renewed(refused)

    async def _pages(self, path: str, params: Mapping[str, str]) -> list[Mapping[str, Any]]:
        """
        Read every page of a list (``paged_results`` answers, or a plain array).

        An entry that is not an object is dropped (and reported), never the list.
        """
        query = {**params, "paged_results": "true", "limit": str(PAGE_SIZE)}
        items: list[Mapping[str, Any]] = []
        for _ in range(MAX_PAGES):
            document = await self._api.request("GET", path, params=query)
            if document is None:
                return items
            if isinstance(document, list):
                return items + self._objects(document, path)
            page = as_dict(document, path)
            results = page.get("results")
            if not isinstance(results, list):
                raise ProtocolError(f"/{path}: no results")
            items.extend(self._objects(results, path))
            state = page.get("next_page_state")
            if not isinstance(state, str) or not state or not results:
                return items
            query = {**query, "page_state": state}
        raise ProtocolError(f"/{path}: more than {MAX_PAGES} pages")

    def _objects(self, values: list[Any], path: str) -> list[Mapping[str, Any]]:
        objects = [value for value in values if isinstance(value, Mapping)]
        if len(objects) != len(values):
            self._log.warning(
                "list",
                "Dropped %d entries of /%s that are not objects",
                len(values) - len(objects),
                path,
            )
        return objects

    async def validate(self) -> None:
        """Authenticate and read the device list's first page."""
        await self._api.request("GET", "rest/nodes", params=self._scope({"limit": "1"}))

    def _scope(self, params: Mapping[str, str]) -> dict[str, str]:
        return {**params, "application": self._application} if self._application else {**params}

    async def list_devices(self) -> list[ServerDevice]:
        """
        Return every device of the account (or application), with its name.

        The documented device info objects carry no name: it is the registration's
        ``comment``, read once per device with ``?all=true`` (documented for one device).
        """
        nodes: dict[str, Mapping[str, Any]] = {}
        for node in await self._pages("rest/nodes", self._scope({})):
            try:
                dev_eui = eui(node.get("DevEUI"), "DevEUI")
            except ProtocolError as err:
                self._log.warning(
                    "node", "%s listed a device it cannot describe: %s", self.host, err
                )
                continue
            nodes[dev_eui] = node
            if "comment" in node:  # a server that lists the whole registration
                self._names[dev_eui] = device_from_node(node).name
        missing = [dev_eui for dev_eui in nodes if dev_eui not in self._names]
        registrations: dict[str, Mapping[str, Any]] = {}
        semaphore = asyncio.Semaphore(DETAIL_CONCURRENCY)

        async def registration(dev_eui: str) -> None:
            async with semaphore:
                try:
                    answer = await self._api.request(
                        "GET", f"rest/nodes/{_segment(dev_eui)}", params={"all": "true"}
                    )
                    registrations[dev_eui] = as_dict(answer, "device registration")
                except LnsError as err:
                    self._log.warning(
                        "registration", "Cannot read the name of %s yet: %s", dev_eui, err
                    )

        await asyncio.gather(*(registration(dev_eui) for dev_eui in missing))
        devices = []
        for dev_eui, node in nodes.items():
            device = device_from_node(node)
            if (complete := registrations.get(dev_eui)) is not None:
                full = device_from_node({**complete, "DevEUI": dev_eui})
                self._names[dev_eui] = full.name
                device = dataclasses.replace(
                    device,
                    app_eui=device.app_eui or full.app_eui,
                    device_class=device.device_class or full.device_class,
                    location=device.location or full.location,
                    downlink_f_cnt=_first(device.downlink_f_cnt, full.downlink_f_cnt),
                )
            devices.append(dataclasses.replace(device, name=self._names.get(dev_eui)))
        self._devices = set(nodes)
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
            tasks = [self._deleter, self._refresh_task, *self._tasks]
            self._deleter = self._refresh_task = None
            self._tasks.clear()
            self._held.clear()
            for task in tasks:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

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
        self._backoff.opened()
        self._buffer = []
        try:
            if self._streamed:
                sink.devices_listed(await self.list_devices())
            self._streamed = True
            sink.connection_changed(True, None)
            await self._drain(sink, sorted(self._devices))
        finally:
            buffered, self._buffer = self._buffer, None
        for topic, data in buffered:
            self.dispatch(topic, data)
        # Deletions that failed while the server was unreachable: try them again.
        for key in self._undeleted:
            self._deletions.put_nowait(key)
        self._undeleted.clear()
        self.live.set()
        # Status pushes are not stored: read each device's last status (in the background).
        self._background(self._read_statuses(sink, sorted(self._devices)))

    def _background(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine, name="orbiwise statuses")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read_statuses(self, sink: Sink, dev_euis: Sequence[str]) -> None:
        """Read the last DevStatusAns of each device (``GET …/status``) and report it."""
        semaphore = asyncio.Semaphore(DETAIL_CONCURRENCY)

        async def read(dev_eui: str) -> None:
            async with semaphore:
                try:
                    answer = await self._api.request(
                        "GET", f"rest/nodes/{_segment(dev_eui)}/status"
                    )
                    status = status_from_push(
                        {**as_dict(answer, "device status"), "DevEUI": dev_eui}
                    )
                except LnsError as err:
                    self._log.warning(
                        "status", "Cannot read the status of %s: %s", dev_eui, err.reason or err.key
                    )
                    return
            if status is not None:
                sink.device_status(status)

        await asyncio.gather(*(read(dev_eui) for dev_eui in dev_euis))

    async def _websocket(self, sink: Sink) -> str:
        url = self._url("websocket/connect").with_query(push_subscription=SUBSCRIPTION)
        ws = await self._open_websocket(url)

        async def send(message: Mapping[str, Any]) -> None:
            # The document's messages are JSON text: text frames (binary ones are read too).
            await ws.send_str(orjson.dumps(message).decode())

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
        credentials = await self._authorize()
        renewed = False
        while True:
            try:
                return await self._session.ws_connect(
                    url,
                    headers=credentials.headers,
                    heartbeat=self._heartbeat,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
                )
            except aiohttp.WSServerHandshakeError as err:
                if err.status == 401 and not renewed:
                    renewed = True
                    credentials = await self._renew(credentials)
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

    # --- REST push ----------------------------------------------------------------------------

    def _pushmode(self, action: str) -> str:
        """Return the path of ``pushmode/<action>``, for the application when there is one."""
        suffix = f"/{_segment(self._application)}" if self._application else ""
        return f"rest/pushmode/{action}{suffix}"

    def _our_push(self) -> tuple[PushConfiguration, PushTarget]:
        """Return the push configuration this client sets up, and the receiver it pushes to."""
        target = self._push_target
        if target is None:
            raise InvalidRequest("REST push needs the address of Home Assistant")
        url = URL(target.url)
        # ${skip_topic} drops the standard /rest/callback/<topic> path; the topic goes in the query.
        ours = PushConfiguration(
            enabled=True,
            host=f"{url.scheme}://{url.host}",
            port=url.port,
            path_prefix=f"${{skip_topic}}{url.raw_path}?topic=${{topic}}",
        )
        return ours, target

    def _is_ours(self, current: PushConfiguration) -> bool:
        ours, _target = self._our_push()
        return (current.host, current.port, current.path_prefix) == (
            ours.host,
            ours.port,
            ours.path_prefix,
        )

    async def push_configuration(self) -> PushConfiguration | None:
        """Return the account's (or application's) push configuration, None when there is none."""
        return push_configuration(
            as_dict(
                await self._api.request("GET", self._pushmode("status")) or {}, "pushmode status"
            )
        )

    async def foreign_push(self) -> PushConfiguration | None:
        """Return the push configuration set up elsewhere that REST push would replace, if any."""
        current = await self.push_configuration()
        if current is None or self._is_ours(current):
            return None
        return current

    async def _rest_push(self, sink: Sink) -> str:
        ours, target = self._our_push()
        # One push configuration per account (or application), shared with MQTT client mode:
        # never replace one set up elsewhere unless the user agreed to replace that one.
        current = await self.push_configuration()
        if (
            current is not None
            and not self._is_ours(current)
            and current.fingerprint != self._replaces
        ):
            raise InvalidRequest(
                f"the account already pushes to {current.target}, set up elsewhere; "
                "Home Assistant leaves it alone (use the WebSocket or MQTT instead)",
                key="orbiwise_push_taken",
            )
        await self._api.request(
            "PUT",
            self._pushmode("start"),
            json={
                "host": ours.host,
                "port": ours.port,
                "path_prefix": ours.path_prefix,
                "auth_string": target.authorization,
                "retry_policy": 0,
                "data_format": "base64",
                "push_subscription": SUBSCRIPTION,
            },
        )
        self._push_started = ours
        await self.connected(sink)
        # Pushes arrive through the receiver (``dispatch``): wait here until cancelled.
        forever: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        return await forever

    async def stop_push(self) -> None:
        """
        Stop the REST pushes this client started, if they are still as it set them.

        A configuration changed elsewhere since (another application, MQTT client mode) is left
        alone: only what this client set up is undone.
        """
        if self._push_started is None:
            return
        self._push_started = None
        try:
            current = await self.push_configuration()
            if current is None or not current.enabled or not self._is_ours(current):
                _LOGGER.info(
                    "The push configuration of %s changed elsewhere: left as it is", self.host
                )
                return
            await self._api.request("PUT", self._pushmode("stop"))
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

        Returns False when nothing is running to take it, or for an uplink that was not
        delivered (malformed, or not the application's): the server should keep it.
        """
        sink = self._sink
        if sink is None:
            return False
        self._backoff.proven()
        try:
            return self._dispatch(sink, topic, data)
        except ProtocolError as err:
            self._log.warning(
                topic, "Dropped a malformed %s push from %s: %s", topic, self.host, err
            )
        return topic not in UPLINK_TOPICS

    async def accept_push(self, topic: str, body: Any, limit: float) -> bool:
        """
        Take a REST push; True once it was handed over (the receiver may then answer 200).

        An uplink pushed while the store is being drained waits for the drain, so that it is
        never acknowledged (and deleted by the server) before it was delivered. A push about a
        device missing from an application's list waits for the list to be read again.
        """
        if self._sink is None or not isinstance(body, Mapping):
            return False
        try:
            async with asyncio.timeout(limit):
                if topic in UPLINK_TOPICS:
                    await self.live.wait()
                if self._application and (dev_eui := self._unknown(body)) is not None:
                    if not self._foreign_recently(dev_eui):
                        await asyncio.shield(self._refreshed())
                    if dev_eui not in self._devices:
                        return False  # not the application's: the server keeps it
        except TimeoutError:
            return False
        return self.dispatch(topic, body)

    def _unknown(self, data: Mapping[str, Any]) -> str | None:
        """Return the DevEUI of a push about a device the last list did not have (else None)."""
        value = data.get("DevEUI")
        if value is None:
            return None
        try:
            dev_eui = eui(value, "DevEUI")
        except ProtocolError:
            return None  # the handler reports it
        return None if dev_eui in self._devices else dev_eui

    def _foreign_recently(self, dev_eui: str) -> bool:
        """Whether a recent device list showed this device outside the application."""
        seen = self._foreign.get(dev_eui)
        if seen is None:
            return False
        if time.monotonic() - seen < FOREIGN_MEMORY:
            return True
        del self._foreign[dev_eui]
        return False

    def _dispatch(self, sink: Sink, topic: str, data: Mapping[str, Any]) -> bool:
        tag = data.get("tag")
        answer = self._pending.get(str(tag)) if tag is not None else None
        if answer is None and (dev_eui := self._unknown(data)) is not None:
            if not self._application:
                self._schedule_refresh()  # deliver now; the fresh list brings its name
            elif self._foreign_recently(dev_eui):
                return False  # another application's device: the account pushes them all
            else:
                # Perhaps added to the application since the list was read: ask again first.
                self._hold(topic, data)
                return False
        if topic in UPLINK_TOPICS:
            if self._buffer is not None:
                self._buffer.append((topic, data))
                return True
            self._deliver(sink, uplink_from_payload(data), payload_id(data))
        elif topic == "error":
            future = self._pending.pop(str(tag), None) if tag is not None else None
            if tag is None and len(self._pending) == 1:
                # An error without a tag (a request the server could not read) answers the one
                # request waiting: requests go one at a time.
                ((_tag, future),) = self._pending.items()
                self._pending.clear()
            if future is not None and not future.done():
                future.set_exception(push_error(data))
        elif topic in ("payloads_dl", "multicast"):
            future = self._pending.pop(str(tag), None) if tag is not None else None
            if future is not None:
                if not future.done():
                    future.set_result(data)
                return True
            sink.downlink_status(downlink_status(data, group=topic == "multicast"))
        elif topic == "nodeinfo":
            sink.device_updated(device_from_node(data))
        elif topic == "status":
            if (status := status_from_push(data)) is not None:
                sink.device_status(status)
        elif topic == "location":
            if (location := location_of(data, "location")) is not None:
                sink.device_location(eui(data.get("DevEUI"), "DevEUI"), location)
        elif topic == "joininfo":
            sink.joined(join_from_push(data))
        elif topic == "alarm":
            sink.alarm(alarm_from_push(data))
        # Other topics (join, future ones) are not used.
        return True

    def _hold(self, topic: str, data: Mapping[str, Any]) -> None:
        """Keep a push until the device list was read again."""
        if len(self._held) >= MAX_HELD:
            self._held.pop(0)
            self._log.warning(
                "held",
                "Too many pushes about unlisted devices: dropped the oldest "
                "(an uplink stays in the server's store)",
            )
        self._held.append((topic, data))
        self._schedule_refresh()

    def _schedule_refresh(self) -> asyncio.Task[None]:
        """Have the device list read again (or join the reading already on its way)."""
        task = self._refresh_task
        if task is None or task.done():
            task = self._refresh_task = asyncio.get_running_loop().create_task(
                self._refresh(), name="orbiwise device list"
            )
        return task

    async def _refreshed(self) -> None:
        """Wait for the device list to be read again (at most once per REFRESH_INTERVAL)."""
        await self._schedule_refresh()

    async def _refresh(self) -> None:
        """Read the device list again; deliver the held pushes its devices now cover."""
        while True:
            loop = asyncio.get_running_loop()
            wait = self._last_refresh + REFRESH_INTERVAL - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_refresh = loop.time()
            before = set(self._devices)
            try:
                devices = await self.list_devices()
            except LnsError as err:
                self._log.warning(
                    "refresh", "Cannot read the device list of %s again: %s", self.host, err
                )
                if not self._held:
                    return
                continue  # the held pushes wait for the next attempt
            break
        sink = self._sink
        if sink is None:
            return
        sink.devices_listed(devices)
        held, self._held = self._held, []
        now = time.monotonic()
        for _topic, data in held:
            if (dev_eui := self._unknown(data)) is not None:
                self._foreign[dev_eui] = now
        new = sorted(self._devices - before)
        if new and self.live.is_set():
            # Uplinks they sent before the list knew them are in the server's store.
            await self._drain(sink, new)
            self._background(self._read_statuses(sink, new))
        for topic, data in held:
            self.dispatch(topic, data)

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
                await self._api.request(
                    "DELETE", f"rest/nodes/{_segment(dev_eui)}/payloads/ul/{payload_id}"
                )
            except InvalidRequest:
                pass  # already gone: pushed payloads may never be stored
            except LnsError as err:
                self._undeleted.add((dev_eui, payload_id))
                self._log.warning(
                    "delete", "Cannot delete a delivered uplink yet (retried): %s", err.reason
                )

    async def _drain(self, sink: Sink, dev_euis: Sequence[str]) -> None:
        """
        Deliver every stored uplink of these devices, oldest first per device, then delete it.

        A stored record that cannot be read is skipped (and left in the server's store); one
        whose ``id`` cannot be read is delivered but stays stored (it cannot be deleted).
        """
        semaphore = asyncio.Semaphore(DRAIN_CONCURRENCY)

        async def drain(dev_eui: str) -> None:
            try:
                async with semaphore:
                    stored = await self._pages(
                        f"rest/nodes/{_segment(dev_eui)}/payloads/ul",
                        {"data_format": "base64", "locations": "true"},
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
                try:
                    # The stored objects have no DevEUI: it is the device whose store this is.
                    uplink = uplink_from_payload({**item, "DevEUI": dev_eui})
                except ProtocolError as err:
                    self._log.warning(
                        "stored",
                        "Skipped a stored uplink of %s that cannot be read (left stored): %s",
                        dev_eui,
                        err,
                    )
                    continue
                self._deliver(sink, uplink, payload_id(item), stored=True)

        await asyncio.gather(*(drain(dev_eui) for dev_eui in dev_euis))

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
        """
        Send a downlink over the push channel (REST when pushes come by REST).

        ``immediate`` is OrbiWAN's ``fail_on_busy``: OrbiWAN sends every downlink at the
        device's next opportunity and cannot send at once; ``fail_on_busy`` sends it only when
        nothing else is waiting (never behind out-of-date downlinks) and is refused otherwise.
        """
        if downlink.device_class is not None:
            raise Unsupported("OrbiWAN sends downlinks in the device's own class")
        mode = _MODES[downlink.mode]
        # "It is important to wait for the POST to complete before making a new POST":
        # one downlink (or multicast) at a time, whatever the channel.
        async with self._sending:
            try:
                if self.transport is Transport.REST_PUSH:
                    answer = await self._api.request(
                        "POST",
                        f"rest/nodes/{_segment(downlink.dev_eui)}/payloads/dl",
                        params={
                            "port": str(downlink.f_port),
                            "confirmed": "true" if downlink.confirmed else "false",
                            "mode": mode,
                            "data_format": "hex",
                        },
                        text=downlink.payload.hex(),
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
            except InvalidRequest as err:
                raise _busy(err, downlink.mode) from None
        return result_from_answer(as_dict(answer, "downlink answer"))

    async def set_device_class(self, dev_eui: str, device_class: LoRaClass) -> None:
        """Change the device's class (``lora_device_class``)."""
        await self._api.request(
            "PUT",
            f"rest/nodes/{_segment(dev_eui)}",
            json={"lora_device_class": _CLASS_TO_ORBIWISE[device_class]},
        )

    async def request_device_status(self, dev_eui: str) -> None:
        """Ask for a DevStatusReq on the device's next uplink; the answer is pushed."""
        await self._api.request("PUT", f"rest/nodes/{_segment(dev_eui)}/status")

    async def create_multicast_group(self, setup: MulticastSetup) -> MulticastGroup:
        """
        Create a group named ``setup.name`` (its id is the name), then add its members.

        The group object is the document's (``POST /rest/groups``): ``groupid`` and ``title``,
        the session (``devaddr`` as the number the document shows, ``nwkskey`` and ``appskey``
        in hex, ``fcnt``) and, for class B, ``ping_slot_periodicity``. Members that cannot be
        added are reported; the group is returned with those that were.
        """
        check_multicast_setup(self.name, setup, names=True, ping_slots=True)
        name = setup.name or ""
        _check_group_name(name)
        device_class = setup.device_class
        if device_class is LoRaClass.A:
            raise InvalidRequest("a multicast group is class B or C", key="invalid_request")
        # A group multicasts once it has session keys and an address (the devices receive them
        # with the LoRaWAN remote multicast setup).
        keys = setup.keys or MulticastKeys.generate()
        group: dict[str, Any] = {
            "groupid": name,
            "title": name,
            "comment": f"Class {device_class} multicast group",
            "nwkskey": keys.nwk_s_key,
            "appskey": keys.app_s_key,
            "devaddr": int(keys.address, 16),
            "fcnt": 0,
        }
        if setup.ping_slot_periodicity is not None:
            group["ping_slot_periodicity"] = setup.ping_slot_periodicity
        if self._application:
            # Otherwise the application could not reach the group it created.
            group["applications"] = self._application
        await self._api.request("POST", "rest/groups", json=group)
        added: list[str] = []
        states: dict[str, str] = {}
        for dev_eui in setup.dev_euis:
            try:
                await self._api.request(
                    "PUT", f"rest/nodes/{_segment(dev_eui)}", json={"groups": f"+{name}"}
                )
            except LnsError as err:
                states[dev_eui] = err.reason or err.key  # the reason it was not added
                _LOGGER.warning(
                    "%s was not added to the multicast group %s: %s",
                    dev_eui,
                    name,
                    err.reason or err.key,
                )
            else:
                added.append(dev_eui)
                states[dev_eui] = "added"
        return MulticastGroup(
            group_id=name,
            name=name,
            device_class=device_class,
            dev_euis=tuple(added),
            states=states,
            keys=keys,
        )

    async def delete_multicast_group(self, group_id: str) -> None:
        """Delete a group (its devices stay)."""
        await self._api.request("DELETE", f"rest/groups/{_segment(group_id)}")

    async def add_to_multicast_group(self, group_id: str, dev_euis: Sequence[str]) -> None:
        """Add devices to a group, keeping their other groups."""
        _check_group_reference(group_id)
        for dev_eui in dev_euis:
            await self._api.request(
                "PUT", f"rest/nodes/{_segment(dev_eui)}", json={"groups": f"+{group_id}"}
            )

    async def remove_from_multicast_group(self, group_id: str, dev_euis: Sequence[str]) -> None:
        """Remove devices from a group, keeping their other groups."""
        _check_group_reference(group_id)
        for dev_eui in dev_euis:
            await self._api.request(
                "PUT", f"rest/nodes/{_segment(dev_eui)}", json={"groups": f"-{group_id}"}
            )

    async def send_multicast(
        self, group_id: str, f_port: int, payload: bytes, gateways: Sequence[str] = ()
    ) -> DownlinkResult:
        """Send a downlink to every device of a group (REST, or MQTT which answers with the id)."""
        no_gateways(self.name, gateways)
        path = f"rest/multicast/{_segment(group_id)}"
        async with self._sending:
            try:
                if self.transport is not Transport.MQTT:
                    answer = await self._api.request(
                        "POST",
                        path,
                        params={"port": str(f_port), "data_format": "hex"},
                        text=payload.hex(),
                    )
                else:
                    # The answer to a multicast comes back on MQTT only (the document's note).
                    answer = await self._over_channel(
                        "multicast",
                        {
                            "groupid": group_id,
                            "data": payload.hex(),
                            "data_format": "hex",
                            "port": f_port,
                        },
                    )
            except InvalidRequest as err:
                raise _busy(err, DownlinkMode.QUEUE) from None
        return result_from_answer(as_dict(answer, "multicast answer"))

    async def close(self) -> None:
        """Stop the REST pushes this client started; the connections close with ``run``'s end."""
        await self.stop_push()


def _first(*values: int | None) -> int | None:
    return next((value for value in values if value is not None), None)


def _segment(value: str) -> str:
    """Quote one path segment; ``.`` and ``..`` would name another resource."""
    if value in ("", ".", ".."):
        raise InputError(
            f"{value!r} is not an OrbiWAN identifier",
            key="orbiwise_group_invalid",
            details={"name": value},
        )
    return quote(value, safe="")


def _check_group_reference(group_id: str) -> None:
    """Refuse a group id a device's ``groups`` field cannot hold (a list, with +/- changes)."""
    if not group_id or "," in group_id or group_id[0] in "+-" or group_id != group_id.strip():
        raise InputError(
            f"{group_id!r} is not an OrbiWAN group id",
            key="orbiwise_group_invalid",
            details={"name": group_id},
        )


def _check_group_name(name: str) -> None:
    """
    Refuse a group id that would be read as something else.

    A device's ``groups`` is a comma-separated list changed with ``+``/``-`` prefixes, group ids
    go in URL paths, and ``PUT /rest/nodes/{groupid}`` takes a DevEUI or a group id alike.
    """
    _check_group_reference(name)
    if "/" in name or name in (".", "..") or _EUI_LIKE.fullmatch(name.replace("-", "")):
        raise InputError(
            f"{name!r} is not an OrbiWAN group id",
            key="orbiwise_group_invalid",
            details={"name": name},
        )


def _busy(err: InvalidRequest, mode: DownlinkMode) -> InvalidRequest:
    """Name a 409 (the device's downlink queue is busy or full) for the mode used."""
    if err.code != 409:
        return err
    if mode is DownlinkMode.IMMEDIATE:
        return InvalidRequest(
            "other downlinks are waiting (immediate is fail_on_busy)",
            key="orbiwise_busy",
            code=409,
        )
    return InvalidRequest(
        err.reason or "the downlink queue is full", key="orbiwise_queue_full", code=409
    )


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
