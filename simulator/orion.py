"""
A fake OrionM2M network server: the WebSocket API v2 of OrionNetworkServer.

The server follows the vendor's document "OrionNetworkServer - Description of
WEBSOCKET API" (revision 12): every frame it sends has the shape of the
document's sample for it (the samples are fixtures under tests/fixtures/orion/).
A client connects to
``ws://127.0.0.1:<port>/ws/v2/?app_id=APP_ID&token=APP_KEY``, receives a
``connected`` message, then exchanges JSON requests and responses; after
``consume_req`` it also receives every uplink as ``realtime_data``.

Where the document is ambiguous the simulator makes these choices:

* ``connections_list`` answers with ``cmd`` ``connections_list`` (the schema's
  spelling; the document's sample carries a copy-paste error) and a
  ``connections`` list of ``{peer, uuid, consume}``.
* The simulated credentials are an application ("low") token: the management
  commands (create/delete application and device) answer ``Unauthorized access``.
* A field of the wrong JSON type is answered with ``invalid_req``; a value of
  the right type that the document's error codes cover gets that error code.
  ``invalid_req``, ``invalid_command_req`` and ``json_parse_error`` carry only
  ``cmd``, as the document shows them.
* Uplinks carry no port: neither ``realtime_data`` nor a ``get_data_resp`` row
  has one in the document. ``realtime_data`` names the gateway by its EUI in
  ``gatewayId`` (as the example does); a stored row has ``gatewayEui`` and the
  server's numeric ``gatewayId`` (uint32, as the schema says).
* ``get_devices_resp`` lists exactly the fields of the document's sample;
  ``lat``/``lon`` are strings (the schema) for every other device and numbers
  (the sample) for the rest. ``update_device_resp`` has the sample's fields
  (``down_queue`` too) and numbers.
* ``update_device_req``: the schema marks only ``operation_id``, ``devEui`` and
  ``devAddr`` optional while its example sends ``devEui``, ``application_eui``,
  ``app_key`` and ``region`` and is accepted. The least an update must carry is
  taken from the example: the device and ``application_eui`` and ``app_key``;
  without them it fails with error 2 ("Required field is not filled"). Fields
  left out keep their value.
* ``downlink_ack_resp`` and ``get_applications_resp`` carry no ``status``, as
  their samples (the schemas list one).
* Queries with an optional ``devEui`` filter (``get_devices_req``,
  ``dev_lw_class_req``, ``get_device_coordinates_req``) answer an empty list
  for an unknown device and error 3 for a malformed DevEUI.
* Class-A downlinks wait for the device's next uplink. A ``realTime`` class-A
  downlink goes out only when it arrives within ``rx1_window`` seconds of the
  device's last uplink, and is otherwise marked late and never sent. Class-B
  and class-C downlinks are sent at once.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Iterable
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
import hashlib
import json
import logging
import random
import re
import secrets
from typing import Any, ClassVar
import uuid

from aiohttp import WSCloseCode, WSMsgType, web

from .command import Command, Option, demo_devices, generate_until
from .lpp import DemoPayloads, guess_kind
from .server import SimulatorServer, StartStop

_LOGGER = logging.getLogger(__name__)

WS_PATH = "/ws/v2/"
DEFAULT_APP_ID = "demo-app"
DEFAULT_TOKEN = "demo-token"
DATA_RATES = (
    "FSK",
    "SF7BW250",
    "SF7BW125",
    "SF8BW125",
    "SF9BW125",
    "SF10BW125",
    "SF11BW125",
    "SF12BW125",
)
"""The values ``downlink_data_req`` accepts in ``dr``."""
BAND_MHZ = (863.0, 870.0)
"""The frequency range ``downlink_data_req`` accepts in ``freq``."""
TARIFFS = (
    {"code": "A1", "name": "Tariff 1", "description": ""},
    {"code": "A2", "name": "Tariff 2", "description": ""},
)
LORAWAN_OVERHEAD = 13
"""MHDR, FHDR without options, FPort and MIC: raw packet size minus payload."""
HUGE_FRAME_SIZE = 2 * 1024 * 1024

_HEX_BYTES = re.compile(r"(?:[0-9A-Fa-f]{2})*")

MALFORMED_KINDS = ("json", "hex", "types", "missing", "huge", "unknown_cmd", "binary")
REQUIRED_UPDATE_FIELDS = ("application_eui", "app_key")
"""What ``update_device_req`` must carry besides the device (see the module's notes)."""


def format_time(moment: datetime) -> str:
    """Format a moment the way the server sends it: UTC, ``+0000``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+0000")


def parse_time(text: str) -> datetime:
    """Parse a ``YYYY-MM-DD HH:MM:SS+HHMM`` date (any offset); ValueError if malformed."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S%z")


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _is_hex(text: str, length: int | None = None) -> bool:
    """Whether ``text`` is whole bytes of hex digits (``length`` characters if given)."""
    if length is not None and len(text) != length:
        return False
    return _HEX_BYTES.fullmatch(text) is not None


def _random_key() -> str:
    return secrets.token_hex(16).upper()


@dataclass
class OrionDevice:
    """
    A device registered in the simulated application.

    The field names follow the document's device record (``get_devices_resp``).
    """

    dev_eui: str
    dev_addr: str
    description: str = ""
    node_class: int = 1
    """LoRaWAN class: 1 A, 2 B, 3 C."""
    lat: float | None = None
    lon: float | None = None
    max_dl_size: int = 51
    """The largest downlink payload in bytes at the last uplink's data rate."""
    app_key: str = field(default_factory=_random_key)
    nwks_key: str = field(default_factory=_random_key)
    apps_key: str = field(default_factory=_random_key)
    kind: str = "sensor"
    """What the generator simulates: ``sensor``, ``door`` or ``tracker``."""
    coords_as_strings: bool = False
    """Send ``lat``/``lon`` as strings in ``get_devices_resp`` (both forms occur)."""
    rx_window: int = 1
    adr: bool = True
    adr_interval: int = 5
    adr_min: int | None = None
    adr_max: int | None = None
    adr_fix: bool | None = None
    duty_cycle: int = 0
    seq_up: int = 0
    """The next uplink frame counter."""
    seq_down: int = 0
    """How many downlinks were sent to the device."""
    seq_chk: int = 0
    region: int = 1
    activation: int = 0
    down_queue: int = 0
    tariff_code: str = "A1"


@dataclass
class StoredUplink:
    """An uplink kept in the server's database."""

    id: int
    dev_eui: str
    dev_addr: str
    fcnt: int
    time: datetime
    """When it was received: UTC, whole seconds."""
    data_hex: str
    rssi: int
    lsnr: float
    datr: int
    freq: float
    gateway_id: str
    """The EUI of the gateway that received it."""
    output_ack: bool = False
    """Whether a downlink was sent in its receive window."""
    output_ack_time: datetime | None = None


@dataclass
class StoredDownlink:
    """A downlink a client queued."""

    data_id: int
    dev_eui: str
    data_hex: str
    fport: int | None
    real_time: bool | None
    lw_class: int | None
    queued_at: datetime
    ack_time: datetime | None = None
    """When it was sent to the device; None while queued (or late)."""
    late: bool = False
    """A real-time downlink that missed the receive window: cancelled."""

    @property
    def pending(self) -> bool:
        """Whether the downlink still waits in the queue."""
        return self.ack_time is None and not self.late


class RequestError(Exception):
    """A request failed with one of the document's error codes."""

    def __init__(self, code: int) -> None:
        """Fail with ``code``."""
        super().__init__(f"error_code {code}")
        self.code = code


class InvalidRequestError(Exception):
    """A known command carried a field of the wrong type: ``invalid_req``."""


@dataclass(frozen=True, slots=True)
class _Close:
    """An instruction in a connection's outbox: close (or abort) the connection."""

    code: int = WSCloseCode.OK
    message: str = ""
    abort: bool = False


type _Frame = str | bytes | _Close


class _Connection:
    """One accepted WebSocket client."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.ws = ws
        self.request = request
        self.uuid = uuid.uuid4().hex
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.peer = f"tcp4:{peer[0]}:{peer[1]}" if peer else "tcp4:unknown"
        self.consuming = False
        self.alive_timeout: float | None = None
        self.ping_seq = 0
        self.outbox: asyncio.Queue[_Frame] = asyncio.Queue()
        self.finished = asyncio.Event()
        self.close_requested: asyncio.Future[_Close] = asyncio.get_running_loop().create_future()
        """Set by the writer when a queued close instruction is reached."""

    def send(self, frame: _Frame) -> None:
        """Queue a frame (text, binary or a close instruction) for the client."""
        try:
            self.outbox.put_nowait(frame)
        except asyncio.QueueShutDown:
            _LOGGER.debug("Dropped a frame for closed connection %s", self.uuid)

    def send_json(self, message: dict[str, Any]) -> None:
        """Queue a JSON message for the client."""
        self.send(json.dumps(message))

    def abort(self) -> None:
        """Drop the TCP connection without a WebSocket close frame."""
        if (transport := self.request.transport) is not None:
            transport.abort()


def _optional(request: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """
    Return ``request[key]`` (None when absent or null); InvalidRequestError when mistyped.

    ``bool`` is never accepted where ``int`` or ``float`` is expected.
    """
    value = request.get(key)
    if value is None:
        return None
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise InvalidRequestError(key)
    if not isinstance(value, kind):
        raise InvalidRequestError(key)
    return value


def _opt_str(request: dict[str, Any], key: str) -> str | None:
    value: str | None = _optional(request, key, str)
    return value


def _opt_int(request: dict[str, Any], key: str) -> int | None:
    value: int | None = _optional(request, key, int)
    return value


def _opt_bool(request: dict[str, Any], key: str) -> bool | None:
    value: bool | None = _optional(request, key, bool)
    return value


def _opt_number(request: dict[str, Any], key: str) -> float | None:
    value: float | None = _optional(request, key, (int, float))
    return None if value is None else float(value)


def _check_eui(dev_eui: str | None) -> None:
    """Error 3 (data filled in with an error) unless ``dev_eui`` is absent or 16 hex digits."""
    if dev_eui is not None and not _is_hex(dev_eui, 16):
        raise RequestError(3)


@dataclass(frozen=True, slots=True)
class _FieldRule:
    """How ``update_device_req`` checks one device field."""

    kind: type | tuple[type, ...]
    valid: Callable[[Any], bool] = lambda _value: True
    error_code: int = 3
    nullable: bool = False


def _in_range(low: float, high: float) -> Callable[[Any], bool]:
    return lambda value: low <= value <= high


_UPDATABLE_FIELDS: dict[str, _FieldRule] = {
    "description": _FieldRule(str),
    "app_key": _FieldRule(str, lambda value: _is_hex(value, 32)),
    "nwks_key": _FieldRule(str, lambda value: _is_hex(value, 32)),
    "apps_key": _FieldRule(str, lambda value: _is_hex(value, 32)),
    "node_class": _FieldRule(int, _in_range(1, 3)),
    "rx_window": _FieldRule(int, _in_range(1, 2)),
    "adr": _FieldRule(bool),
    "adr_interval": _FieldRule(int, _in_range(0, 255)),
    "adr_min": _FieldRule(int, _in_range(0, 7), nullable=True),
    "adr_max": _FieldRule(int, _in_range(0, 7), nullable=True),
    "adr_fix": _FieldRule(bool, nullable=True),
    "duty_cycle": _FieldRule(int, _in_range(0, 255)),
    "seq_up": _FieldRule(int, _in_range(0, 2**32 - 1)),
    "seq_down": _FieldRule(int, _in_range(0, 2**32 - 1)),
    "seq_chk": _FieldRule((bool, int), _in_range(0, 1)),
    "region": _FieldRule(int, _in_range(0, 255)),
    "activation": _FieldRule(int, _in_range(0, 1)),
    "down_queue": _FieldRule(int, _in_range(0, 255)),
    "lat": _FieldRule((int, float), _in_range(-90, 90), nullable=True),
    "lon": _FieldRule((int, float), _in_range(-180, 180), nullable=True),
    "tariff_code": _FieldRule(
        str, lambda value: any(t["code"] == value for t in TARIFFS), error_code=6
    ),
}


type _Reply = dict[str, Any] | None
"""A response body without ``cmd`` and ``operation_id``; None: no answer."""
type _Handler = Callable[[OrionSimulator, _Connection, dict[str, Any]], _Reply]


class OrionSimulator(StartStop):
    """
    A fake OrionM2M network server on 127.0.0.1.

    Public state for tests: ``devices``, ``history`` (every uplink),
    ``downlinks``, ``received`` (every request the clients sent, parsed, in
    order). Fault knobs: ``drop_after``, ``reject_token_once``,
    ``send_malformed``, ``duplicate_next``, ``die``, ``delay``,
    ``answer_pings``, ``disabled``, ``max_clients``, ``max_consumers``,
    ``unknown_commands`` (an older server: coordinates came in revision 09).
    """

    def __init__(
        self,
        *,
        app_id: str = DEFAULT_APP_ID,
        token: str = DEFAULT_TOKEN,
        port: int = 0,
        max_clients: int = 5,
        max_consumers: int = 1,
    ) -> None:
        """Prepare a simulator for one application (``app_id``, ``token``)."""
        self.app_id = app_id
        self.token = token
        self.app_eui = hashlib.sha256(app_id.encode()).hexdigest()[:16].upper()
        self.max_clients = max_clients
        self.max_consumers = max_consumers
        self.devices: dict[str, OrionDevice] = {}
        self.history: list[StoredUplink] = []
        self.downlinks: list[StoredDownlink] = []
        self.received: list[dict[str, Any]] = []
        self.delay = 0.0
        """Seconds to wait before answering each request."""
        self.answer_pings = True
        """When False, ``ping_req`` is ignored (to test keep-alive timeouts)."""
        self.disabled = False
        """When True the application is disabled: ``consume_req`` fails with error 3."""
        self.rx1_window = 1.0
        """Seconds after an uplink during which a real-time class-A downlink is sent."""
        self.alive_timeout_unit = 1.0
        """Seconds per unit of ``set_alive_timeout`` (lower it to test timeouts quickly)."""
        self.close_timeout = 2.0
        """Seconds to wait for a client's close frame after sending ours."""
        self.unknown_commands: set[str] = set()
        """Commands answered ``invalid_command_req``, as by a server that predates them."""
        self._gateway_ids: dict[str, int] = {}
        self._connections: list[_Connection] = []
        self._uplink_id = 0
        self._data_id = 0
        self._last_uplink_clock: dict[str, float] = {}
        self._drop_countdown: int | None = None
        self._reject_next = False
        self._duplicates = 0
        self._changed = asyncio.Condition()
        self._claimed: dict[str, int] = {}
        app = web.Application()
        app.router.add_get(WS_PATH, self._handle)
        app.router.add_get(WS_PATH.rstrip("/"), self._handle)
        self._server = SimulatorServer(app, port=port)

    # ----------------------------------------------------------------- lifecycle

    @property
    def port(self) -> int:
        """The TCP port the simulator listens on."""
        return self._server.port

    @property
    def url(self) -> str:
        """The WebSocket endpoint, without credentials."""
        return f"ws://{self._server.host}:{self.port}{WS_PATH}"

    async def start(self) -> None:
        """Start listening."""
        await self._server.start()

    async def stop(self) -> None:
        """Close every connection (close frame, 1001) and stop listening."""
        await self._close_all(_Close(WSCloseCode.GOING_AWAY, "server shutdown"))
        await self._server.stop()

    # ------------------------------------------------------------------- devices

    def add_device(
        self,
        dev_eui: str,
        *,
        description: str = "",
        node_class: int = 1,
        lat: float | None = None,
        lon: float | None = None,
        max_dl_size: int = 51,
        dev_addr: str | None = None,
        kind: str | None = None,
    ) -> OrionDevice:
        """
        Register a device; ``kind`` defaults to a guess from the description.

        Every other device reports its coordinates as strings in
        ``get_devices_resp``, as the real server does for some devices.
        """
        dev_eui = dev_eui.upper()
        if not _is_hex(dev_eui, 16):
            raise ValueError(f"{dev_eui!r} is not a DevEUI")
        device = OrionDevice(
            dev_eui=dev_eui,
            dev_addr=(dev_addr or dev_eui[-8:]).upper(),
            description=description,
            node_class=node_class,
            lat=lat,
            lon=lon,
            max_dl_size=max_dl_size,
            kind=kind or guess_kind(description),
            coords_as_strings=len(self.devices) % 2 == 1,
        )
        self.devices[dev_eui] = device
        return device

    def _find_device(self, dev_eui: str | None, dev_addr: str | None) -> OrionDevice | None:
        if dev_eui is not None:
            return self.devices.get(dev_eui.upper())
        if dev_addr is not None:
            return next((d for d in self.devices.values() if d.dev_addr == dev_addr.upper()), None)
        return None

    # ------------------------------------------------------------------- uplinks

    @property
    def consumer_count(self) -> int:
        """How many connections currently consume realtime data."""
        return sum(1 for conn in self._connections if conn.consuming)

    @property
    def client_count(self) -> int:
        """How many clients are connected."""
        return len(self._connections)

    def _consumers(self) -> list[_Connection]:
        return [conn for conn in self._connections if conn.consuming]

    async def emit_uplink(
        self,
        dev_eui: str,
        payload: bytes,
        *,
        fcnt: int | None = None,
        time: datetime | None = None,
        rssi: int = -100,
        lsnr: float = 6.2,
        datr: int = 5,
        freq: float = 868.1,
        gateway_id: str = "0000B827EBFD64DE",
    ) -> StoredUplink:
        """
        Receive an uplink from ``dev_eui``: store it and push it to every consumer.

        ``fcnt`` defaults to the device's next frame counter and ``time`` to now
        (a naive ``time`` is taken as UTC). Returns once the frames are handed
        to the consumers' connections. The device's oldest queued downlink is
        sent in the receive window that follows the uplink.
        """
        device = self.devices[dev_eui.upper()]
        if fcnt is None:
            fcnt = device.seq_up
        device.seq_up = fcnt + 1
        moment = time or _now()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC).replace(microsecond=0)
        self._uplink_id += 1
        uplink = StoredUplink(
            id=self._uplink_id,
            dev_eui=device.dev_eui,
            dev_addr=device.dev_addr,
            fcnt=fcnt,
            time=moment,
            data_hex=payload.hex().upper(),
            rssi=rssi,
            lsnr=lsnr,
            datr=datr,
            freq=freq,
            gateway_id=gateway_id,
        )
        self.history.append(uplink)
        self._last_uplink_clock[device.dev_eui] = asyncio.get_running_loop().time()
        frame = json.dumps(self._realtime_frame(uplink))
        copies = 1
        if self._duplicates:
            self._duplicates -= 1
            copies = 2
        consumers = self._consumers()
        for conn in consumers:
            for _ in range(copies):
                conn.send(frame)
        # Every class opens receive windows after an uplink; class B and C
        # downlinks never wait, so whatever is queued follows the class-A rule.
        queued = next(
            (d for d in self.downlinks if d.dev_eui == device.dev_eui and d.pending), None
        )
        if queued is not None:
            self._mark_sent(queued)
            uplink.output_ack = True
            uplink.output_ack_time = queued.ack_time
        await asyncio.gather(*(conn.outbox.join() for conn in consumers))
        return uplink

    @staticmethod
    def _uplink_fields(uplink: StoredUplink) -> dict[str, Any]:
        """Return the uplink record as ``realtime_data`` and ``get_data_resp`` carry it."""
        return {
            "adr": True,
            "fcnt": uplink.fcnt,
            "ack": False,
            "time": format_time(uplink.time),
            "datr": uplink.datr,
            "mtype": 2,
            "fopts": "",
            "lsnr": uplink.lsnr,
            "gatewayId": uplink.gateway_id,
            "gateway_available": [],
            "rssi": uplink.rssi,
            "freq": uplink.freq,
            "data": uplink.data_hex,
            "id": uplink.id,
            "size": LORAWAN_OVERHEAD + len(uplink.data_hex) // 2,
        }

    def gateway_number(self, gateway_eui: str) -> int:
        """Return the server's numeric id of a gateway (``gatewayId`` of a stored row)."""
        return self._gateway_ids.setdefault(gateway_eui, len(self._gateway_ids) + 1)

    def _realtime_frame(self, uplink: StoredUplink) -> dict[str, Any]:
        return {
            "cmd": "realtime_data",
            "devEui": uplink.dev_eui,
            "devAddr": uplink.dev_addr,
            "status": 1,
            "data": self._uplink_fields(uplink),
        }

    async def run_generator(self, interval: float, *, jitter: float = 0.2, seed: int = 1) -> None:
        """
        Emit realistic uplinks forever: each device about every ``interval`` seconds.

        Devices take turns, spread evenly over the interval; each pause varies
        by up to ``jitter`` (a fraction). Payloads are Cayenne LPP (see
        ``DemoPayloads``) and the sequence is the same for the same ``seed``.
        """
        rng = random.Random(seed)
        payloads = DemoPayloads(seed)
        while True:
            devices = list(self.devices.values())
            if not devices:
                await asyncio.sleep(interval)
                continue
            for device in devices:
                payload = payloads.next_payload(
                    device.dev_eui, device.kind, _now(), home=_home(device)
                )
                await self.emit_uplink(
                    device.dev_eui,
                    payload,
                    rssi=round(rng.gauss(-95, 8)),
                    lsnr=round(rng.gauss(7, 2), 1),
                    datr=rng.choice((3, 4, 5, 5, 5)),
                    freq=rng.choice((868.1, 868.3, 868.5)),
                )
                pause = interval / len(devices) * (1 + rng.uniform(-jitter, jitter))
                await asyncio.sleep(max(pause, 0.0))

    # ----------------------------------------------------------------- downlinks

    def _mark_sent(self, downlink: StoredDownlink) -> None:
        downlink.ack_time = _now()
        self.devices[downlink.dev_eui].seq_down += 1

    def ack_downlink(self, data_id: int) -> None:
        """Mark a queued downlink as sent now (KeyError for an unknown id)."""
        for downlink in self.downlinks:
            if downlink.data_id == data_id:
                self._mark_sent(downlink)
                return
        raise KeyError(data_id)

    # ------------------------------------------------------------- synchronising

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for_consumers(self, n: int = 1) -> None:
        """Wait until at least ``n`` connections consume realtime data."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.consumer_count >= n)

    async def wait_for_clients(self, n: int) -> None:
        """Wait until exactly ``n`` clients are connected (to see them come or go)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.client_count == n)

    async def wait_for_request(self, cmd: str) -> dict[str, Any]:
        """
        Wait for a request with ``cmd`` and return it.

        Successive calls for the same ``cmd`` return successive requests, in
        order, whether they arrived before the call or after it.
        """
        async with self._changed:
            index = self._claimed.get(cmd, 0)

            def matching() -> list[dict[str, Any]]:
                return [r for r in self.received if r.get("cmd") == cmd]

            await self._changed.wait_for(lambda: len(matching()) > index)
            self._claimed[cmd] = index + 1
            return matching()[index]

    # ---------------------------------------------------------------- fault knobs

    def drop_after(self, frames: int) -> None:
        """
        Abort a connection (no close frame) once ``frames`` more frames were sent.

        The count runs over every accepted connection; the connection that
        receives the last of them is dropped, and the knob is spent. With 0,
        every connection is dropped at once.
        """
        if frames <= 0:
            self._drop_countdown = None
            for conn in self._connections:
                conn.send(_Close(abort=True))
        else:
            self._drop_countdown = frames

    def reject_token_once(self) -> None:
        """Make the next connection attempt fail with an auth error."""
        self._reject_next = True

    def duplicate_next(self, count: int = 1) -> None:
        """Send each of the next ``count`` uplinks twice to the consumers."""
        self._duplicates += count

    def send_malformed(self, kind: str) -> None:
        """
        Send every consumer one bad frame of ``kind`` (see ``MALFORMED_KINDS``).

        ``json``: not JSON; ``hex``: ``realtime_data`` whose payload is ``ZZ``;
        ``types``: ``realtime_data`` with fields of the wrong types;
        ``missing``: ``realtime_data`` without ``data``; ``huge``: a 2 MB text
        frame; ``unknown_cmd``: an undocumented command; ``binary``: a binary frame.
        """
        device = next(iter(self.devices.values()), None)
        dev_eui = device.dev_eui if device else "0000000000000000"
        dev_addr = device.dev_addr if device else "00000000"
        base: dict[str, Any] = {
            "cmd": "realtime_data",
            "devEui": dev_eui,
            "devAddr": dev_addr,
            "status": 1,
        }
        sample = StoredUplink(
            id=self._uplink_id + 1,
            dev_eui=dev_eui,
            dev_addr=dev_addr,
            fcnt=0,
            time=_now(),
            data_hex="",
            rssi=-100,
            lsnr=6.2,
            datr=5,
            freq=868.1,
            gateway_id="0000B827EBFD64DE",
        )
        frame: str | bytes
        match kind:
            case "json":
                frame = '{"cmd": "realtime_data", "devEui": '
            case "hex":
                frame = json.dumps(base | {"data": self._uplink_fields(sample) | {"data": "ZZ"}})
            case "types":
                wrong = {
                    "fcnt": "abc",
                    "rssi": {},
                    "lsnr": "good",
                    "time": 1518872782,
                    "freq": [868.1],
                    "datr": "SF7",
                    "id": "x",
                    "size": None,
                    "adr": "yes",
                    "data": 1234,
                }
                frame = json.dumps(base | {"data": self._uplink_fields(sample) | wrong})
            case "missing":
                frame = json.dumps(base)
            case "huge":
                padding = "00" * (HUGE_FRAME_SIZE // 2)
                frame = json.dumps(base | {"data": self._uplink_fields(sample) | {"data": padding}})
            case "unknown_cmd":
                frame = json.dumps({"cmd": "something_new"})
            case "binary":
                frame = b"\x00\x01\x02\xff"
            case _:
                raise ValueError(f"unknown malformed frame kind {kind!r}")
        for conn in self._consumers():
            conn.send(frame)

    async def die(self) -> None:
        """
        Send ``die_connection_close`` to every client and close the connections.

        Returns once every connection is closed: when its client has answered
        the close frame, or after ``close_timeout``.
        """
        message = json.dumps({"cmd": "die_connection_close"})
        for conn in self._connections:
            conn.send(message)
        await self._close_all(_Close(WSCloseCode.OK, "die"))

    async def _close_all(self, close: _Close) -> None:
        """
        Queue ``close`` on every connection and wait until they are all closed.

        A connection whose frames cannot be delivered within ``close_timeout``
        (its client does not read) is aborted.
        """
        connections = list(self._connections)
        for conn in connections:
            conn.send(close)
        waiters = {asyncio.create_task(conn.finished.wait()) for conn in connections}
        if not waiters:
            return
        _done, pending = await asyncio.wait(waiters, timeout=self.close_timeout)
        for conn in connections:
            if not conn.finished.is_set():
                conn.abort()
        await asyncio.gather(*pending)

    # ---------------------------------------------------------------- connection

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Accept a WebSocket client: authenticate, then serve its requests."""
        ws = web.WebSocketResponse(timeout=self.close_timeout)
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="WebSocket upgrade expected\n")
        await ws.prepare(request)
        refusal: dict[str, Any] | None = None
        if (
            self._reject_next
            or request.query.get("app_id") != self.app_id
            or request.query.get("token") != self.token
        ):
            self._reject_next = False
            refusal = {"cmd": "connected", "status": 2, "error_code": 1}
        elif len(self._connections) >= self.max_clients:
            refusal = {"cmd": "connected", "status": 2, "error_code": 2}
        if refusal is not None:
            await ws.send_json(refusal)
            await ws.close(code=WSCloseCode.POLICY_VIOLATION)
            return ws

        conn = _Connection(ws, request)
        self._connections.append(conn)
        writer = asyncio.create_task(self._write_loop(conn), name=f"orion-writer-{conn.uuid}")
        reader = asyncio.create_task(self._read_loop(conn), name=f"orion-reader-{conn.uuid}")
        conn.send_json(
            {
                "cmd": "connected",
                "status": 1,
                "clients_count": len(self._connections),
                "consumer_count": self.consumer_count,
            }
        )
        await self._notify()
        close: _Close | None = None
        try:
            waiters: set[asyncio.Future[Any]] = {reader, conn.close_requested}
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            if conn.close_requested.done():
                # Stop reading first: a close started while receive() waits
                # would drop the connection without waiting for the client's answer.
                close = conn.close_requested.result()
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
            else:
                close = reader.result()
        finally:
            reader.cancel()
            self._connections.remove(conn)
            conn.consuming = False
            # Frames still queued can no longer be delivered: drop them.
            conn.outbox.shutdown(immediate=True)
            close = close or _Close()
            try:
                async with asyncio.timeout(self.close_timeout):
                    await ws.close(code=close.code, message=close.message.encode())
            except TimeoutError:
                # The client reads nothing (the close frame is stuck behind
                # unread data) or does not answer: drop the connection.
                conn.abort()
            # With the transport closed, a writer waiting to send wakes up and ends.
            await asyncio.gather(writer, return_exceptions=True)
            conn.finished.set()
            await self._notify()
        return ws

    async def _read_loop(self, conn: _Connection) -> _Close | None:
        """Serve the client's requests until it goes away (None) or stays silent too long."""
        while True:
            try:
                message = await conn.ws.receive(timeout=conn.alive_timeout)
            except TimeoutError:
                return _Close(WSCloseCode.GOING_AWAY, "alive timeout")
            if message.type is WSMsgType.TEXT:
                await self._serve(conn, message.data)
            elif message.type is WSMsgType.BINARY:
                conn.send_json({"cmd": "json_parse_error"})
            else:
                return None

    async def _write_loop(self, conn: _Connection) -> None:
        """Send the connection's queued frames in order, applying ``drop_after``."""
        try:
            while True:
                frame = await conn.outbox.get()
                try:
                    if isinstance(frame, _Close):
                        if frame.abort:
                            conn.abort()
                        else:
                            conn.close_requested.set_result(frame)
                        return
                    if isinstance(frame, str):
                        await conn.ws.send_str(frame)
                    else:
                        await conn.ws.send_bytes(frame)
                    if self._drop_countdown is not None:
                        self._drop_countdown -= 1
                        if self._drop_countdown == 0:
                            self._drop_countdown = None
                            conn.abort()
                            return
                finally:
                    conn.outbox.task_done()
        except asyncio.QueueShutDown:
            return
        except (ConnectionError, RuntimeError) as err:
            _LOGGER.debug("Connection %s lost while sending: %s", conn.uuid, err)
        finally:
            conn.outbox.shutdown(immediate=True)

    async def _serve(self, conn: _Connection, text: str) -> None:
        """Parse one request, answer it and wake whoever waits for it."""
        try:
            request = json.loads(text)
        except ValueError:
            conn.send_json({"cmd": "json_parse_error"})
            return
        if not isinstance(request, dict):
            conn.send_json({"cmd": "invalid_command_req"})
            return
        self.received.append(request)
        await self._notify()
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        reply = self._dispatch(conn, request)
        if reply is not None:
            conn.send_json(reply)
        await self._notify()

    def _dispatch(self, conn: _Connection, request: dict[str, Any]) -> dict[str, Any] | None:
        """Answer one parsed request (None: no answer)."""
        cmd = request.get("cmd")
        handler = self._HANDLERS.get(cmd) if isinstance(cmd, str) else None
        echo: dict[str, Any] = {}
        if "operation_id" in request:
            echo["operation_id"] = request["operation_id"]
        if handler is None or cmd in self.unknown_commands:
            return {"cmd": "invalid_command_req"}
        response_cmd, method = handler
        try:
            _opt_str(request, "operation_id")
            body = method(self, conn, request)
        except InvalidRequestError:
            return {"cmd": "invalid_req"}
        except RequestError as err:
            return {"cmd": response_cmd, **echo, "status": 2, "error_code": err.code}
        if body is None:
            return None
        return {"cmd": response_cmd, **echo, **body}

    # ------------------------------------------------------------------ commands

    def _cmd_connections_list(self, _conn: _Connection, _request: dict[str, Any]) -> _Reply:
        return {
            "status": 1,
            "connections": [
                {"peer": c.peer, "uuid": c.uuid, "consume": c.consuming} for c in self._connections
            ],
        }

    def _cmd_connection_kill(self, _conn: _Connection, request: dict[str, Any]) -> _Reply:
        wanted = _opt_str(request, "uuid")
        if wanted is None:
            raise InvalidRequestError("uuid")
        target = next((c for c in self._connections if c.uuid == wanted), None)
        if target is None:
            raise RequestError(1)
        # Closed after this answer is queued, so a client may kill its own connection.
        asyncio.get_running_loop().call_soon(target.send, _Close(WSCloseCode.OK, "killed"))
        return {"status": 1}

    def _cmd_get_applications(self, _conn: _Connection, request: dict[str, Any]) -> _Reply:
        app_eui = _opt_str(request, "appEui")
        if app_eui is not None and app_eui.upper() != self.app_eui:
            raise RequestError(2)
        return {
            "applicationCount": 1,
            "applicationList": [{"appEui": self.app_eui, "tokens": [self.token]}],
        }

    def _cmd_unauthorized(self, _conn: _Connection, _request: dict[str, Any]) -> _Reply:
        raise RequestError(1)

    def _cmd_get_tariffs(self, _conn: _Connection, _request: dict[str, Any]) -> _Reply:
        return {"status": 1, "tariffs": [dict(t) for t in TARIFFS]}

    def _device_record(self, device: OrionDevice, *, numbers: bool = False) -> dict[str, Any]:
        """Return the device as ``get_devices_resp`` lists it (``numbers``: lat/lon as floats)."""
        lat: float | str | None = device.lat
        lon: float | str | None = device.lon
        if device.coords_as_strings and not numbers:
            lat = None if device.lat is None else str(device.lat)
            lon = None if device.lon is None else str(device.lon)
        return {
            "devEui": device.dev_eui,
            "devAddr": device.dev_addr,
            "application_eui": self.app_eui,
            "description": device.description,
            "app_key": device.app_key,
            "nwks_key": device.nwks_key,
            "apps_key": device.apps_key,
            "node_class": device.node_class,
            "rx_window": device.rx_window,
            "adr": device.adr,
            "adr_interval": device.adr_interval,
            "adr_min": device.adr_min,
            "adr_max": device.adr_max,
            "adr_fix": device.adr_fix,
            "duty_cycle": device.duty_cycle,
            "seq_up": device.seq_up,
            "seq_down": device.seq_down,
            "seq_chk": device.seq_chk,
            "region": device.region,
            "activation": device.activation,
            "lat": lat,
            "lon": lon,
        }

    def _filtered_devices(self, request: dict[str, Any]) -> list[OrionDevice]:
        """Every device, or the one ``devEui`` names (none if unknown)."""
        dev_eui = _opt_str(request, "devEui")
        _check_eui(dev_eui)
        if dev_eui is None:
            return list(self.devices.values())
        device = self.devices.get(dev_eui.upper())
        return [] if device is None else [device]

    def _cmd_get_devices(self, _conn: _Connection, request: dict[str, Any]) -> _Reply:
        devices = self._filtered_devices(request)
        return {
            "status": 1,
            "deviceCount": len(devices),
            "deviceList": [self._device_record(d) for d in devices],
        }

    def _cmd_update_device(self, _conn: _Connection, request: dict[str, Any]) -> _Reply:
        dev_eui = _opt_str(request, "devEui")
        dev_addr = _opt_str(request, "devAddr")
        application_eui = _opt_str(request, "application_eui")
        changes: dict[str, Any] = {}
        for name, rule in _UPDATABLE_FIELDS.items():
            if name not in request:
                continue
            value = request[name]
            if value is None:
                if not rule.nullable:
                    raise InvalidRequestError(name)
            else:
                _optional(request, name, rule.kind)
            changes[name] = value
        if dev_eui is None and dev_addr is None:
            raise RequestError(2)
        if any(request.get(name) in (None, "") for name in REQUIRED_UPDATE_FIELDS):
            raise RequestError(2)
        device = self._find_device(dev_eui, dev_addr)
        if device is None:
            raise RequestError(9)
        for name, value in changes.items():
            rule = _UPDATABLE_FIELDS[name]
            if value is not None and not rule.valid(value):
                raise RequestError(rule.error_code)
        if application_eui is not None and application_eui.upper() != self.app_eui:
            raise RequestError(5)
        if dev_eui is not None and dev_addr is not None:
            # The device is named by its DevEUI, so devAddr is a new address.
            if not _is_hex(dev_addr, 8):
                raise RequestError(3)
            if any(
                d.dev_addr == dev_addr.upper() and d is not device for d in self.devices.values()
            ):
                raise RequestError(4)
            changes["dev_addr"] = dev_addr.upper()
        for name, value in changes.items():
            if name in ("lat", "lon") and value is not None:
                setattr(device, name, float(value))
            elif name == "seq_chk":
                setattr(device, name, int(value))
            else:
                setattr(device, name, value)
        record = self._device_record(device, numbers=True)
        record["down_queue"] = device.down_queue
        record["lat"], record["lon"] = record.pop("lat"), record.pop("lon")
        return {"status": 1, **record}

    def _cmd_consume(self, conn: _Connection, _request: dict[str, Any]) -> _Reply:
        if self.disabled:
            raise RequestError(3)
        if conn.consuming:
            raise RequestError(2)
        if self.consumer_count >= self.max_consumers:
            raise RequestError(1)
        conn.consuming = True
        return {"status": 1, "consumer_count": self.consumer_count}

    def _cmd_unconsume(self, conn: _Connection, request: dict[str, Any]) -> _Reply:
        _opt_bool(request, "unbind")
        if not conn.consuming:
            raise RequestError(1)
        conn.consuming = False
        return {"status": 1}

    def _cmd_ping(self, conn: _Connection, _request: dict[str, Any]) -> _Reply:
        if not self.answer_pings:
            return None
        seq = conn.ping_seq
        conn.ping_seq = (seq + 1) % 65536
        return {"seq": seq}

    def _cmd_set_alive_timeout(self, conn: _Connection, request: dict[str, Any]) -> _Reply:
        timeout = _opt_int(request, "timeout")
        if timeout is None or not 0 <= timeout <= 65535:
            raise InvalidRequestError("timeout")
        conn.alive_timeout = timeout * self.alive_timeout_unit if timeout else None
        return {"timeout": timeout}

    def _select[T](
        self,
        request: dict[str, Any],
        records: Iterable[T],
        when: Callable[[T], datetime],
        device_of: Callable[[T], str],
    ) -> list[T]:
        """Apply the database query fields of ``get_data_req``/``get_downlink_data_req``."""
        dev_eui = _opt_str(request, "devEui")
        dev_addr = _opt_str(request, "devAddr")
        app_id = _opt_str(request, "appld") or _opt_str(request, "appId")
        date_from = _opt_str(request, "date_from")
        date_to = _opt_str(request, "date_to")
        limit = _opt_int(request, "limit")
        descending = _opt_bool(request, "descending")
        if limit is not None and limit < 0:
            raise InvalidRequestError("limit")
        try:
            start = None if date_from is None else parse_time(date_from)
            end = None if date_to is None else parse_time(date_to)
        except ValueError:
            raise RequestError(1) from None
        if start is not None and end is not None and start > end:
            raise RequestError(3)
        if app_id is not None and app_id != self.app_id:
            raise RequestError(2)
        wanted: set[str] | None = None
        if dev_eui is not None or dev_addr is not None:
            device = self._find_device(dev_eui, dev_addr)
            wanted = set() if device is None else {device.dev_eui}
        chosen = [
            r
            for r in records
            if (wanted is None or device_of(r) in wanted)
            and (start is None or when(r) >= start)
            and (end is None or when(r) <= end)
        ]
        chosen.sort(key=when)  # stable: records of the same second keep their order
        if descending:
            chosen.reverse()
        return chosen[: 10 if limit is None else limit]

    def _cmd_get_data(self, _conn: _Connection, request: dict[str, Any]) -> _Reply:
        uplinks = self._select(request, self.history, lambda u: u.time, lambda u: u.dev_eui)
        data_list = [
            {
                "devEui": u.dev_eui,
                "devAddr": u.dev_addr,
                "gatewayEui": u.gateway_id,
                **self._uplink_fields(u),
                "gatewayId": self.gateway_number(u.gateway_id),
                "output_ack": u.output_ack,
                "output_ack_time": None
                if u.output_ack_time is None
                else format_time(u.output_ack_time),
            }
            for u in uplinks
        ]
        return {"status": 1, "dataCount": len(data_list), "dataList": data_list}

    def _cmd_get_downlink_data(self, _conn: _Connection, request: dict[str, Any]) -> _Reply:
        downlinks = self._select(
            request, self.downlinks, lambda d: d.queued_at, lambda d: d.dev_eui
        )
        data_list = [
            {
                "devEui": d.dev_eui,
                "devAddr": self.devices[d.dev_eui].dev_addr,
                "time": format_time(d.queued_at),
                "data": d.data_hex,
                "downlink_ack": d.ack_time is not None,
                "downlink_ack_time": None if d.ack_time is None else format_time(d.ack_time),
            }
            for d in downlinks
        ]
        return {"status": 1, "dataCount": len(data_list), "dataList": data_list}

    def _cmd_dev_lw_class(self, _conn: _Connection, request: dict[str, Any]) -> _Reply:
        devices = self._filtered_devices(request)
        return {
            "status": 1,
            "deviceCount": len(devices),
            "deviceList": [
                {"devEui": d.dev_eui, "devAddr": d.dev_addr, "lwClass": d.node_class}
                for d in devices
            ],
        }

    def _cmd_max_dl_data(self, _conn: _Connection, request: dict[str, Any]) -> _Reply:
        dev_eui = _opt_str(request, "devEui")
        dev_addr = _opt_str(request, "devAddr")
        if dev_eui is None and dev_addr is None:
            devices = list(self.devices.values())
        else:
            device = self._find_device(dev_eui, dev_addr)
            if device is None:
                raise RequestError(1)
            devices = [device]
        return {
            "status": 1,
            "devCount": len(devices),
            "devList": [
                {"devEui": d.dev_eui, "devAddr": d.dev_addr, "maxDataSize": d.max_dl_size}
                for d in devices
            ],
        }

    def _cmd_downlink_data(self, _conn: _Connection, request: dict[str, Any]) -> _Reply:
        dev_eui = _opt_str(request, "devEui")
        dev_addr = _opt_str(request, "devAddr")
        _opt_str(request, "gatewayEui")
        data_rate = _opt_str(request, "dr")
        real_time = _opt_bool(request, "realTime")
        lw_class = _opt_int(request, "lwClass")
        fport = _opt_int(request, "fport")
        data = _opt_str(request, "data")
        if data is None:
            raise InvalidRequestError("data")
        if lw_class is not None and not 1 <= lw_class <= 3:
            raise InvalidRequestError("lwClass")
        if fport is not None and not 0 <= fport <= 255:
            raise InvalidRequestError("fport")
        device = self._find_device(dev_eui, dev_addr)
        if device is None:
            raise RequestError(1)
        if not _is_hex(data):
            raise RequestError(3)
        if len(data) // 2 > device.max_dl_size:
            raise RequestError(4)
        if data_rate is not None and data_rate not in DATA_RATES:
            raise RequestError(5)
        freq = request.get("freq")
        if freq is not None:
            if isinstance(freq, bool) or not isinstance(freq, int | float):
                raise RequestError(6)
            if not BAND_MHZ[0] <= freq <= BAND_MHZ[1]:
                raise RequestError(7)
        self._data_id += 1
        downlink = StoredDownlink(
            data_id=self._data_id,
            dev_eui=device.dev_eui,
            data_hex=data.upper(),
            fport=fport,
            real_time=real_time,
            lw_class=lw_class,
            queued_at=_now(),
        )
        self.downlinks.append(downlink)
        if (lw_class or device.node_class) != 1:
            self._mark_sent(downlink)
        elif real_time:
            last = self._last_uplink_clock.get(device.dev_eui)
            now = asyncio.get_running_loop().time()
            if last is not None and now - last <= self.rx1_window:
                self._mark_sent(downlink)
            else:
                downlink.late = True
        in_queue = sum(1 for d in self.downlinks if d.dev_eui == device.dev_eui and d.pending)
        return {
            "status": 1,
            "dataId": downlink.data_id,
            "dataInQueue": in_queue,
            "devEui": device.dev_eui,
            "devAddr": device.dev_addr,
        }

    def _cmd_downlink_ack(self, _conn: _Connection, request: dict[str, Any]) -> _Reply:
        data_id = _opt_int(request, "datald")
        if data_id is None:
            data_id = _opt_int(request, "dataId")
        if data_id is None:
            raise RequestError(1)
        downlink = next((d for d in self.downlinks if d.data_id == data_id), None)
        if downlink is None:
            raise RequestError(2)
        return {
            "ack_time": None if downlink.ack_time is None else format_time(downlink.ack_time),
            "datald": data_id,
        }

    def _cmd_get_device_coordinates(self, _conn: _Connection, request: dict[str, Any]) -> _Reply:
        devices = self._filtered_devices(request)
        return {
            "status": 1,
            "deviceCount": len(devices),
            "deviceList": [{"lat": d.lat, "lon": d.lon, "devEui": d.dev_eui} for d in devices],
        }

    def _cmd_set_device_coordinates(self, _conn: _Connection, request: dict[str, Any]) -> _Reply:
        dev_eui = _opt_str(request, "devEui")
        lat = _opt_number(request, "lat")
        lon = _opt_number(request, "lon")
        if dev_eui is None or lat is None or lon is None:
            raise RequestError(2)
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise RequestError(3)
        device = self.devices.get(dev_eui.upper())
        if device is None:
            raise RequestError(8)
        device.lat, device.lon = lat, lon
        return {"status": 1, "devEui": device.dev_eui, "lat": lat, "lon": lon}

    _HANDLERS: ClassVar[dict[str, tuple[str, _Handler]]] = {
        "connections_list": ("connections_list", _cmd_connections_list),
        "connection_kill": ("connection_kill_resp", _cmd_connection_kill),
        "get_applications_req": ("get_applications_resp", _cmd_get_applications),
        "get_tariffs_req": ("get_tariffs_resp", _cmd_get_tariffs),
        "get_devices_req": ("get_devices_resp", _cmd_get_devices),
        "update_device_req": ("update_device_resp", _cmd_update_device),
        "consume_req": ("consume_resp", _cmd_consume),
        "unconsume_req": ("unconsume_resp", _cmd_unconsume),
        "ping_req": ("ping_resp", _cmd_ping),
        "set_alive_timeout": ("set_alive_timeout_resp", _cmd_set_alive_timeout),
        "get_data_req": ("get_data_resp", _cmd_get_data),
        "dev_lw_class_req": ("dev_lw_class_resp", _cmd_dev_lw_class),
        "max_dl_data_req": ("max_dl_data_resp", _cmd_max_dl_data),
        "downlink_data_req": ("downlink_data_resp", _cmd_downlink_data),
        "downlink_ack_req": ("downlink_ack_resp", _cmd_downlink_ack),
        "get_downlink_data_req": ("get_downlink_data_resp", _cmd_get_downlink_data),
        "get_device_coordinates_req": ("get_device_coordinates_resp", _cmd_get_device_coordinates),
        "set_device_coordinates_req": ("set_device_coordinates_resp", _cmd_set_device_coordinates),
        "create_application_req": ("create_application_resp", _cmd_unauthorized),
        "delete_application_req": ("delete_application_resp", _cmd_unauthorized),
        "create_device_req": ("create_device_resp", _cmd_unauthorized),
        "delete_device_req": ("delete_device_resp", _cmd_unauthorized),
        "delete_device": ("delete_device_resp", _cmd_unauthorized),
    }
    """Each command: the response's ``cmd`` and the method answering it."""


def _home(device: OrionDevice) -> tuple[float, float] | None:
    if device.lat is None or device.lon is None:
        return None
    return (device.lat, device.lon)


# ------------------------------------------------------------------ command line


def add_demo_devices(simulator: OrionSimulator, count: int) -> None:
    """Register ``count`` demo devices with the simulator."""
    for dev_eui, dev_addr, demo in demo_devices(count):
        simulator.add_device(
            dev_eui,
            dev_addr=dev_addr,
            description=demo.description,
            kind=demo.kind,
            lat=demo.lat,
            lon=demo.lon,
        )


async def run_demo(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
    """Serve an OrionM2M simulator with demo devices until ``stop`` is set (or forever)."""
    simulator = OrionSimulator(app_id=args.app_id, token=args.token, port=args.port)
    add_demo_devices(simulator, args.devices)
    async with simulator:
        print(
            f"OrionM2M simulator: {simulator.url}?app_id={args.app_id}&token={args.token}"
            f" ({args.devices} devices, an uplink each every {args.interval:g} s)",
            flush=True,
        )
        await generate_until(stop, simulator.run_generator(args.interval, seed=args.seed))


COMMAND = Command(
    name="orion",
    help="OrionM2M network server (WebSocket API v2)",
    description="Serve a fake OrionM2M network server on 127.0.0.1 with demo devices.",
    port=8765,
    run=run_demo,
    options=(
        Option("--app-id", DEFAULT_APP_ID, "the application id clients use"),
        Option("--token", DEFAULT_TOKEN, "the token clients use"),
    ),
)
