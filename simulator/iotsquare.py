"""
An IoTSquare (RisingHF) network server on 127.0.0.1: the OpenAPI subset and the HTTP pusher.

The OpenAPI answers JSON with an outer ``code`` and ``msg`` (HTTP 200 even for error codes), and
takes the API token in the ``X-Access-Token`` header. Applications push to ``<pushURL>/uplink`` and
``<pushURL>/join`` with their custom headers, and to each of their further push links
(``pushUrls``, added in 3.4.18; ``multiple_push_links`` off is a server before it, whose
applications have the one link). Multicast groups belong to the account; a group takes class C
devices of its region and subnet. File transfers to a group advance one state every
``fuota_polls`` status calls. Answers have the shapes of the document's samples.

Fault knobs: answer an error code or an HTTP status once for a path, refuse the right token once.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import itertools
import json
import math
import random
import re
import secrets
import time
from typing import Any, Final

from aiohttp import ClientError, ClientTimeout, web

from .command import (
    PUSH_HEADER,
    PUSH_URL,
    Command,
    Option,
    demo_devices,
    generate_until,
    push_headers,
)
from .lpp import DemoPayloads, guess_kind
from .server import PushingServer

DEFAULT_TOKEN: Final = "demo-iotsquare-token-0123456789abcdef"
DEFAULT_APP_ID: Final = 89
APP_EUI: Final = "526973696e674846"
"""The application EUI IoTSquare shows for every device ("RisingHF")."""
MAX_PAGE: Final = 200
"""The most items a list answers at once."""
MAX_HEADERS: Final = 5
FRAG_SIZE: Final = 48
FUOTA_STATES: Final = {
    "Created": "SendFragSessSetup",
    "SendFragSessSetup": "EnqueueFragment",
    "EnqueueFragment": "Done",
    "Cleanup": "Done",
}
"""A file transfer's state → the state it advances to."""

CODES: Final[dict[int, str]] = {
    0: "ok",
    1001: "System Busy",
    1003: "No Token, Please log in again",
    1004: "Invalid Token, Please log in again",
    1006: "Empty Param",
    1007: "Param Error",
    1008: "Query Error",
    1009: "Network Busy",
    1010: "Permission Denied",
    1011: "Region Subnet Not Exist",
    1012: "Region Subnet Already Exist",
    1013: "Extend Proto Not Exist",
    1014: "Extend Proto Already Exist",
    1015: "Platform Conf Not Exist",
    1016: "Extend Proto Already Associate App",
    1017: "Region Subnet Not Support",
    1018: "Region Subnet Already Sync",
    2001: "Invalid Account",
    2002: "Account Not Exist",
    2003: "Account Already Exist",
    2004: "Account or Passwd Error",
    3001: "Application Not Exist",
    3002: "Application Already Exist",
    3003: "Application Batch Delete Error",
    4001: "Device Not Exist",
    4002: "Device Already Exist",
    4003: "Device Update Error",
    4004: "Device Duplicate DevAddr And NwkSKey",
    4005: "Device Count Exceeds Limit",
    4006: "Device Batch Delete Error",
    5001: "Gateway Not Exist",
    5002: "Gateway Already Exist",
    5003: "GatewayID Already Exist",
    5004: "GatewayName Already Exist",
    5005: "Gateway Count Exceeds Limit",
    5006: "Gateway Batch Delete Error",
    14001: "MCGroup Not Exist",
    14002: "MCGroup Already Exist",
    14003: "MCGroup Duplicate DevAddr And NwkSKey",
    14004: "MCGroup Device Count Exceeds Limit",
    14005: "MCGroup Name Already Exist",
    14006: "MCGroup GenAppKey Error",
    14007: "MCGroup Batch Delete Error",
    14008: "MCDevice Batch Bind Error",
    14009: "MCDevice Batch Unbind Error",
    14010: "MCDevice Already Bind Current Group",
    14011: "MCDevice Already Bind Other Group",
    14012: "MCDevice Incompatible With Group",
    14013: "MCDevice Not Exist",
    14014: "MCGroup Not Enable MCRemote",
    14015: "MCGateway Batch Bind Error",
    14016: "MCGateway Batch Unbind Error",
    14017: "MCGateway Already Bind Current Group",
    14018: "MCGateway Incompatible With Group",
    14019: "MCGateway Not Exist",
    14020: "MCDownlink Already Exist",
    14021: "MCDownlink Not Exist",
    14022: "MCGroup Create Error",
    14023: "MCGroup invalid create",
    16001: "Fuota Deployment Already Exist",
}
"""Response code → message (section 10.1 of the OpenAPI document)."""

_MESSAGES: Final = {"enMsg": "ok", "cnMsg": "ok"}
"""The English and Chinese messages the newer answers carry (device list, latest uplink)."""
_NAME = re.compile(r"[A-Za-z0-9_]{1,20}")
_GATEWAYS: Final = (("b827ebfffe9aae48", -97, -9.0), ("0016c001ff10a235", -109, -14.2))
_SFBW: Final = {dr: f"SF{12 - dr}BW125" for dr in range(6)} | {6: "SF7BW250"}

type Handler = Callable[[dict[str, Any]], dict[str, Any]]


def _now_ms() -> int:
    return int(time.time() * 1000)


def _hex(length: int) -> str:
    """Return random lower-case hex of ``length`` digits."""
    return secrets.token_hex(length // 2)


@dataclass
class IotSquareApp:
    """An application of the account: where and how its devices' data is pushed."""

    app_id: int
    name: str
    push_url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    push_urls: list[str] = field(default_factory=list)
    """The further push links (pushUrls, 3.4.18)."""
    enable_mqtt: bool = False
    createtime: int = field(default_factory=_now_ms)
    updatetime: int = field(default_factory=_now_ms)


@dataclass
class IotSquareDevice:
    """A device of an application (EUIs lower-case hex, as IoTSquare shows them)."""

    dev_eui: str
    app_id: int
    name: str
    region: str = "eu868"
    subnet: str = "ch_00-07"
    support_class_b: bool = False
    support_class_c: bool = False
    auth_type: str = "otaa"
    dev_addr: str = ""
    app_key: str = field(default_factory=lambda: _hex(32))
    kind: str = "sensor"
    f_cnt: int = 0
    f_port: int = 0
    last_seen: int = -1
    latest: dict[str, Any] | None = None
    """The latest uplink, as ``device/latestDeviceUplink`` answers it."""
    downlink_f_cnt: int = 0
    app_s_key: str = field(default_factory=lambda: _hex(32))
    nwk_s_key: str = field(default_factory=lambda: _hex(32))
    createtime: int = field(default_factory=_now_ms)

    @property
    def device_class(self) -> str:
        """The class the device works in: A, B or C."""
        return "B" if self.support_class_b else "C" if self.support_class_c else "A"


@dataclass
class McGroup:
    """A multicast group of the account (manually configured, or auto-configured)."""

    mc_eui: str
    name: str
    region: str
    subnet: str
    device_class: str = "C"
    enable_mc_remote: bool = False
    group_id: int = 256
    mc_addr: str = field(default_factory=lambda: _hex(8))
    mc_app_s_key: str = field(default_factory=lambda: _hex(32))
    mc_nwk_s_key: str = field(default_factory=lambda: _hex(32))
    gen_app_key: str = ""
    members: dict[str, int] = field(default_factory=dict)
    """Member DevEUI → when it was added (ms)."""
    f_cnt: int = 0
    createtime: int = field(default_factory=_now_ms)
    updatetime: int = field(default_factory=_now_ms)
    enable_mc_ext: bool = False
    time_slot_length: int = 0
    enable_mqtt: bool = False
    push_urls: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FuotaTask:
    """A file transfer to a multicast group."""

    fd_id: int
    mc_eui: str
    firmware_name: str
    payload: bytes
    redundancy_percent: float
    state: str = "Created"
    createtime: int = field(default_factory=_now_ms)
    updatetime: int = field(default_factory=_now_ms)
    polls: int = 0
    """Status calls answered in the current state."""
    aborted: int | None = None
    """Fragments the devices had received when the task was aborted (None: not aborted)."""

    @property
    def nb_frag(self) -> int:
        """The number of fragments."""
        return math.ceil(len(self.payload) / FRAG_SIZE)

    def status(self) -> dict[str, Any]:
        """Return the task as ``fuota/status`` answers it."""
        return self.summary() | {
            "nbFrag": self.nb_frag,
            "fragSize": FRAG_SIZE,
            "padding": self.nb_frag * FRAG_SIZE - len(self.payload),
            "redundancy": round(self.nb_frag * self.redundancy_percent),
            "descriptor": base64.b64encode(
                binascii.crc32(self.payload).to_bytes(4, "big")
            ).decode(),
        }

    def summary(self) -> dict[str, Any]:
        """Return the task as ``fuota/list`` answers it."""
        return {
            "fdID": self.fd_id,
            "firmwareName": self.firmware_name,
            "payloadSize": len(self.payload),
            "createtime": self.createtime,
            "updatetime": self.updatetime,
            "state": self.state,
            "nextStepTime": -1 if self.state == "Done" else self.updatetime + 60_000,
        }


class _ApiError(Exception):
    """An answer with a non-zero response code (and, for batches, per-item errors)."""

    def __init__(self, code: int, data: list[dict[str, Any]] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.data = data


def _error(code: int, **item: Any) -> dict[str, Any]:
    """Return one item of a batch answer's error list."""
    return {"code": code, "msg": CODES[code], **item}


def _required(params: Mapping[str, Any], name: str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        raise _ApiError(1006)
    return value


def _text(params: Mapping[str, Any], name: str) -> str:
    value = _required(params, name)
    if not isinstance(value, str):
        raise _ApiError(1007)
    return value


def _hex_text(params: Mapping[str, Any], name: str, digits: int) -> str:
    """Return a required hex string of ``digits`` digits, lower-cased."""
    value = _text(params, name).lower()
    if len(value) != digits or any(c not in "0123456789abcdef" for c in value):
        raise _ApiError(1007)
    return value


class _Query(dict[str, Any]):
    """A GET request's parameters: every value is a string."""


def _int(params: Mapping[str, Any], name: str, default: int | None = None) -> int:
    """Return an integer of a query string or a JSON body; ``default`` when absent."""
    value = params.get(name)
    if value is None or value == "":
        if default is None:
            raise _ApiError(1006)
        return default
    if isinstance(params, _Query):
        try:
            return int(value)
        except ValueError:
            raise _ApiError(1007) from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _ApiError(1007)
    return value


def _bool(params: Mapping[str, Any], name: str, default: bool) -> bool:
    value = params.get(name, default)
    if not isinstance(value, bool):
        raise _ApiError(1007)
    return value


def _payload(params: Mapping[str, Any], name: str) -> bytes:
    """Return a non-empty base64 payload."""
    if name not in params:
        raise _ApiError(1006)
    value = params[name]
    try:
        data = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except ValueError:
        data = b""
    if not data:
        raise _ApiError(1007)
    return data


def _port(params: Mapping[str, Any]) -> int:
    port = _int(params, "fPort")
    if not (1 <= port <= 199 or 201 <= port <= 223):
        raise _ApiError(1007)
    return port


def _headers(params: Mapping[str, Any]) -> dict[str, str] | None:
    """Return the push headers (at most five), or None when absent."""
    value = params.get("headers")
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or len(value) > MAX_HEADERS
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    ):
        raise _ApiError(1007)
    return dict(value)


def _link(value: Any, *, empty: bool = False) -> bool:
    """Whether ``value`` is a push link (http:// or https://), or empty where that is allowed."""
    return isinstance(value, str) and (
        value.startswith(("http://", "https://")) or (empty and value == "")
    )


def _page[T](params: Mapping[str, Any], items: list[T]) -> dict[str, Any]:
    """Return the page asked for: ``amount`` (all) and ``data``; 0/0 asks for the first 200."""
    number, size = _int(params, "pageNo", 1), _int(params, "pageSize", 10)
    if number == size == 0:
        return {"amount": len(items), "data": items[:MAX_PAGE]}
    if number < 1 or size < 1:
        raise _ApiError(1007)
    size = min(size, MAX_PAGE)
    return {"amount": len(items), "data": items[(number - 1) * size : number * size]}


class IotSquareSimulator(PushingServer):
    """The simulated server (OpenAPI under ``/openapi``) and its pusher."""

    def __init__(self, *, token: str = DEFAULT_TOKEN, port: int = 0) -> None:
        """Prepare a server for one account; ``start`` serves it."""
        app = web.Application()
        app.router.add_route("*", "/openapi/{path:.*}", self._dispatch)
        super().__init__(app, port=port, shutdown_timeout=0.5)
        self.token = token
        self.apps: dict[int, IotSquareApp] = {}
        self.devices: dict[str, IotSquareDevice] = {}
        self.groups: dict[str, McGroup] = {}
        self.fuota: dict[int, FuotaTask] = {}
        self.downlinks: list[tuple[str, int, bytes, bool, int]] = []
        """Accepted device downlinks: DevEUI, fPort, data, confirmed, fCnt."""
        self.group_downlinks: list[tuple[str, int, bytes, int]] = []
        """Accepted group downlinks: mcEUI, fPort, data, fCnt."""
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        """Authenticated requests: method, path (after ``/openapi/``), parameters or body."""
        self.app_updates: list[dict[str, Any]] = []
        self.fuota_aborts: list[tuple[str, int]] = []
        """Accepted ``fuota/abort`` calls: mcEUI, fdID."""
        self.push_results: list[int] = []
        """The HTTP status of every push made (-1: no connection)."""
        self.fail_next: dict[str, int] = {}
        """Path → the response code its next request answers (once)."""
        self.http_fail_next: dict[str, int] = {}
        """Path → the HTTP status its next request answers (once)."""
        self.reject_token_once = False
        """Answer the next request with the right token 1004."""
        self.fuota_polls = 2
        """Status calls a file transfer stays in each running state."""
        self.multiple_push_links = True
        """Applications have pushUrls (3.4.18); off: a server before it, with the one link."""
        self._routes: dict[tuple[str, str], Handler] = {
            ("GET", "app/list"): self._app_list,
            ("GET", "app/status"): self._app_status,
            ("POST", "app/update"): self._app_update,
            ("GET", "device/list"): self._device_list,
            ("GET", "device/status"): self._device_status,
            ("GET", "device/latestDeviceUplink"): self._latest_uplink,
            ("POST", "device/downlink/create"): self._downlink,
            ("POST", "devicedl/create"): self._downlink,
            ("GET", "mcgroup/list"): self._group_list,
            ("POST", "mcgroup/create"): self._group_create,
            ("POST", "mcgroup/delete"): self._group_delete,
            ("POST", "mcgroup/update"): self._group_update,
            ("GET", "mcgroup/status"): self._group_status,
            ("GET", "mcdevice/list"): self._member_list,
            ("POST", "mcdevice/create"): self._member_create,
            ("POST", "mcdevice/delete"): self._member_delete,
            ("POST", "mcdownlink/create"): self._group_downlink,
            ("POST", "fuota/create"): self._fuota_create,
            ("GET", "fuota/list"): self._fuota_list,
            ("GET", "fuota/status"): self._fuota_status,
            ("GET", "fuota/device/list"): self._fuota_devices,
            ("POST", "fuota/abort"): self._fuota_abort,
        }
        self._addresses = itertools.count(0x00CC8F13)
        self._fd_ids = itertools.count(1)
        self._payloads = DemoPayloads()

    @property
    def url(self) -> str:
        """The API base a client is configured with."""
        return f"{self.base_url}/openapi"

    def add_app(
        self,
        name: str,
        *,
        app_id: int | None = None,
        push_url: str = "",
        headers: Mapping[str, str] | None = None,
        push_urls: Sequence[str] = (),
    ) -> IotSquareApp:
        """Add an application (its id: the next free one from 89 unless given)."""
        if app_id is None:
            app_id = DEFAULT_APP_ID
            while app_id in self.apps:
                app_id += 1
        app = IotSquareApp(app_id, name, push_url, dict(headers or {}), list(push_urls))
        self.apps[app_id] = app
        return app

    def add_device(self, app_id: int, dev_eui: str, name: str, **fields: Any) -> IotSquareDevice:
        """Add a device to an application (what it simulates guessed from its name)."""
        if app_id not in self.apps:
            raise KeyError(f"no application {app_id}")
        device = IotSquareDevice(dev_eui.lower(), app_id, name, **fields)
        if device.kind == "sensor":
            device.kind = guess_kind(name)
        self.devices[device.dev_eui] = device
        return device

    def add_group(
        self,
        mc_eui: str,
        name: str,
        *,
        region: str = "eu868",
        subnet: str = "ch_00-07",
        **fields: Any,
    ) -> McGroup:
        """Add a manually configured class C multicast group."""
        group = McGroup(mc_eui.lower(), name, region, subnet, **fields)
        self.groups[group.mc_eui] = group
        return group

    # --------------------------------------------------------------- pushes

    def uplink_body(
        self,
        dev_eui: str,
        payload: bytes,
        *,
        f_port: int = 8,
        when_ms: int | None = None,
        **data_fields: Any,
    ) -> dict[str, Any]:
        """Build a device's next uplink push (its frame counter advances; ``latest`` follows)."""
        device = self.devices[dev_eui.lower()]
        when = _now_ms() if when_ms is None else when_ms
        device.f_cnt += 1
        gateway, rssi, snr = _GATEWAYS[0]
        data: dict[str, Any] = {
            "gwid": gateway,
            "rssi": rssi,
            "snr": snr,
            "freq": 868.1,
            "dr": 5,
            "adr": True,
            "class": device.device_class,
            "fCnt": device.f_cnt,
            "fPort": f_port,
            "confirmed": False,
            "data": base64.b64encode(payload).decode(),
            "gws": [{"id": i, "rssi": r, "snr": s} for i, r, s in _GATEWAYS],
        } | data_fields
        device.f_cnt, device.f_port, device.last_seen = data["fCnt"], data["fPort"], when
        device.latest = {
            "devEUI": device.dev_eui,
            "confirmed": data["confirmed"],
            "gwID": data["gwid"],
            "sfbw": _SFBW.get(data["dr"], ""),
            "rssi": data["rssi"],
            "snr": f"{data['snr']:.1f}",
            "freq": str(data["freq"]),
            "dr": data["dr"],
            "adr": data["adr"],
            "class": data["class"],
            "fCnt": data["fCnt"],
            "fPort": data["fPort"],
            "data": data["data"],
            "gws": data["gws"],
            "createtime": when,
        }
        return {
            "devEUI": device.dev_eui,
            "appID": device.app_id,
            "time": when,
            "type": "uplink",
            "data": data,
        }

    def join_body(self, dev_eui: str) -> dict[str, Any]:
        """Build a device's join push (a DevAddr is assigned when it has none)."""
        device = self.devices[dev_eui.lower()]
        if not device.dev_addr:
            device.dev_addr = f"{next(self._addresses):08x}"
        return {
            "devEUI": device.dev_eui,
            "appID": device.app_id,
            "time": _now_ms(),
            "type": "join",
            "data": {"devAddr": device.dev_addr},
        }

    def push_links(self, app: IotSquareApp) -> list[str]:
        """Return the links an application pushes to: its push link, then its further ones."""
        links = [app.push_url, *(app.push_urls if self.multiple_push_links else ())]
        return [link for link in dict.fromkeys(links) if link]

    async def push(
        self,
        kind: str,
        body: Any,
        *,
        app_id: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        """
        POST a body (JSON, or raw bytes) to ``<link>/<kind>`` of each push link of an application.

        The application is ``app_id``, else the body's ``appID``, else the first one. Its headers
        are sent unless ``headers`` replaces them. Returns the status of the last link's push
        (every status is in ``push_results``); a connection failure is status -1.
        """
        if app_id is None and isinstance(body, dict) and isinstance(body.get("appID"), int):
            app_id = body["appID"]
        app = self.apps.get(app_id) if app_id is not None else next(iter(self.apps.values()), None)
        links = self.push_links(app) if app is not None else []
        if app is None or not links or self._session is None:
            raise RuntimeError("no push URL")
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        status = -1
        for link in links:
            try:
                async with self._session.post(
                    f"{link.rstrip('/')}/{kind}",
                    data=data,
                    headers={
                        "Content-Type": "application/json",
                        **(app.headers if headers is None else headers),
                    },
                    timeout=ClientTimeout(total=10),
                ) as response:
                    status = response.status
            except ClientError, OSError, TimeoutError:
                status = -1
            self.push_results.append(status)
        self._notify()
        return status

    async def push_uplink(self, dev_eui: str, payload: bytes | None = None, **kwargs: Any) -> int:
        """Push a device's next uplink (a demo payload unless given)."""
        device = self.devices[dev_eui.lower()]
        if payload is None:
            payload = self._payloads.next_payload(device.dev_eui, device.kind, datetime.now(UTC))
        body = self.uplink_body(device.dev_eui, payload, **kwargs)
        return await self.push("uplink", body, app_id=device.app_id)

    async def push_join(self, dev_eui: str) -> int:
        """Push a device's join."""
        body = self.join_body(dev_eui)
        return await self.push("join", body, app_id=body["appID"])

    async def run_generator(self, interval: float, *, seed: int = 1) -> None:
        """Push realistic Cayenne LPP uplinks forever: each device about every ``interval`` s."""
        rng = random.Random(seed)
        payloads = DemoPayloads(seed)
        while True:
            devices = [
                device
                for device in self.devices.values()
                if device.app_id in self.apps and self.push_links(self.apps[device.app_id])
            ]
            if not devices:
                await asyncio.sleep(interval)
                continue
            for device in devices:
                payload = payloads.next_payload(device.dev_eui, device.kind, datetime.now(UTC))
                await self.push_uplink(device.dev_eui, payload)
                await asyncio.sleep(interval / len(devices) * rng.uniform(0.8, 1.2))

    # --------------------------------------------------------------- OpenAPI

    async def _dispatch(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        handler = self._routes.get((request.method, path))
        if handler is None:
            raise web.HTTPNotFound
        token = request.headers.get("X-Access-Token", "")
        if not token:
            return self._answer(1003)
        if token != self.token:
            return self._answer(1004)
        if self.reject_token_once:
            self.reject_token_once = False
            return self._answer(1004)
        params: dict[str, Any] = _Query(request.query)
        bad_body = False
        if request.method == "POST":
            try:
                body = await request.json()
            except ValueError:
                body = None
            bad_body = not isinstance(body, dict)
            params = body if isinstance(body, dict) else {}
        self.requests.append((request.method, path, params))
        self._notify()
        if path in self.http_fail_next:
            return web.Response(status=self.http_fail_next.pop(path), text="simulated failure")
        if path in self.fail_next:
            return self._answer(self.fail_next.pop(path))
        try:
            if bad_body:
                raise _ApiError(1007)
            return web.json_response({"code": 0, "msg": "ok"} | handler(params))
        except _ApiError as err:
            return self._answer(err.code, err.data)

    @staticmethod
    def _answer(code: int, data: list[dict[str, Any]] | None = None) -> web.Response:
        body: dict[str, Any] = {"code": code, "msg": CODES.get(code, "Unknown Error")}
        if data is not None:
            body["data"] = data
        return web.json_response(body)

    def _app(self, params: Mapping[str, Any]) -> IotSquareApp:
        app = self.apps.get(_int(params, "appID"))
        if app is None:
            raise _ApiError(3001)
        return app

    def _device(self, params: Mapping[str, Any], name: str) -> IotSquareDevice:
        device = self.devices.get(_text(params, name).lower())
        if device is None:
            raise _ApiError(4001)
        return device

    def _group(self, params: Mapping[str, Any]) -> McGroup:
        group = self.groups.get(_text(params, "mcEUI").lower())
        if group is None:
            raise _ApiError(14001)
        return group

    def _task(self, params: Mapping[str, Any]) -> FuotaTask:
        group = self._group(params)
        task = self.fuota.get(_int(params, "fdID"))
        if task is None or task.mc_eui != group.mc_eui:
            raise _ApiError(1007)
        return task

    # applications

    def _app_body(self, app: IotSquareApp, *, headers: bool = False) -> dict[str, Any]:
        """Return an application as app/list (App) or app/status (AppStatus) shows it."""
        body: dict[str, Any] = {
            "appID": app.app_id,
            "appName": app.name,
            "pushURL": app.push_url,
        }
        if self.multiple_push_links:
            body["pushUrls"] = list(app.push_urls)
        if headers:
            body["headers"] = dict(app.headers)
        return body | {
            "enableMQTT": app.enable_mqtt,
            "deviceNums": sum(d.app_id == app.app_id for d in self.devices.values()),
            "createtime": app.createtime,
            "updatetime": app.updatetime,
        }

    def _app_list(self, params: dict[str, Any]) -> dict[str, Any]:
        return _page(params, [self._app_body(app) for app in self.apps.values()])

    def _app_status(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"data": self._app_body(self._app(params), headers=True)}

    def _app_update(self, params: dict[str, Any]) -> dict[str, Any]:
        app = self._app(params)
        name = params.get("appName", app.name)
        if name != app.name and (not isinstance(name, str) or not _NAME.fullmatch(name)):
            raise _ApiError(1007)
        enable_mqtt = _bool(params, "enableMQTT", app.enable_mqtt)
        push_url = params.get("pushURL", app.push_url)
        if "pushURL" in params and not _link(push_url, empty=True):
            raise _ApiError(1007)
        push_urls = params.get("pushUrls", app.push_urls)
        if (
            self.multiple_push_links
            and "pushUrls" in params
            and (not isinstance(push_urls, list) or not all(_link(u) for u in push_urls))
        ):
            raise _ApiError(1007)
        headers = _headers(params)
        app.name, app.enable_mqtt, app.push_url = name, enable_mqtt, push_url
        if self.multiple_push_links:  # a server before 3.4.18 ignores pushUrls
            app.push_urls = list(push_urls)
        if headers is not None:
            app.headers = headers
        app.updatetime = _now_ms()
        self.app_updates.append(params)
        return {}

    # devices

    def _device_list(self, params: dict[str, Any]) -> dict[str, Any]:
        app = self._app(params)
        return _MESSAGES | _page(
            params,
            [
                {
                    "devEUI": device.dev_eui,
                    "devName": device.name,
                    "devAddr": device.dev_addr,
                    "region": device.region,
                    "subnet": device.subnet,
                    "fCnt": device.f_cnt,
                    "fPort": device.f_port,
                    "lastSeen": device.last_seen,
                    "status": 2,
                    "username": "demo",
                    "remarks": "",
                    "tags": [],
                    "productType": "lorawan",
                }
                for device in self.devices.values()
                if device.app_id == app.app_id
            ],
        )

    def _device_status(self, params: dict[str, Any]) -> dict[str, Any]:
        device = self._device(params, "devEUI")
        return {
            "data": {
                "devEUI": device.dev_eui,
                "appEUI": APP_EUI,
                "devName": device.name,
                "authType": device.auth_type,
                "region": device.region,
                "subnet": device.subnet,
                "devAddr": device.dev_addr,
                "appKey": device.app_key,
                "appSKey": device.app_s_key,
                "nwkSKey": device.nwk_s_key,
                "supportClassB": device.support_class_b,
                "supportClassC": device.support_class_c,
                "remarks": "",
                "productType": "lorawan",
                "createtime": device.createtime,
            }
        }

    def _latest_uplink(self, params: dict[str, Any]) -> dict[str, Any]:
        return _MESSAGES | {"data": self._device(params, "devEui").latest}

    def _downlink(self, params: dict[str, Any]) -> dict[str, Any]:
        device = self._device(params, "devEUI")
        port, data = _port(params), _payload(params, "data")
        confirmed = _bool(params, "confirmed", False)
        device.downlink_f_cnt += 1
        self.downlinks.append((device.dev_eui, port, data, confirmed, device.downlink_f_cnt))
        return {"fCnt": device.downlink_f_cnt}

    # multicast groups

    def _group_list(self, params: dict[str, Any]) -> dict[str, Any]:
        return _page(
            params,
            [
                {
                    "mcEUI": group.mc_eui,
                    "mcName": group.name,
                    "region": group.region,
                    "subnet": group.subnet,
                    "groupID": group.group_id,
                    "pushURL": next(iter(group.push_urls), ""),
                    "enableMQTT": group.enable_mqtt,
                    "deviceNums": len(group.members),
                    "createtime": group.createtime,
                }
                for group in self.groups.values()
            ],
        )

    def _group_options(self, params: Mapping[str, Any], group: McGroup) -> None:
        """Check, then apply, the options create and update share: name, MQTT, push, slots."""
        name = _text(params, "mcName") if "mcName" in params else group.name
        if not _NAME.fullmatch(name):
            raise _ApiError(1007)
        enable_mqtt = _bool(params, "enableMQTT", group.enable_mqtt)
        slot = _int(params, "timeSlotLength", group.time_slot_length)
        urls = params.get("pushURL", group.push_urls)
        urls = [urls] if isinstance(urls, str) else urls
        if (
            not 0 <= slot <= 15
            or not isinstance(urls, list)
            or not all(isinstance(url, str) for url in urls)
        ):
            raise _ApiError(1007)
        headers = _headers(params)
        if any(g.name == name and g is not group for g in self.groups.values()):
            raise _ApiError(14005)
        group.name, group.enable_mqtt, group.time_slot_length = name, enable_mqtt, slot
        group.push_urls = urls
        if headers is not None:
            group.headers = headers

    def _group_keys(self, params: Mapping[str, Any], group: McGroup) -> tuple[str, str, str]:
        """Check a manually configured group's address and keys (their pair must be unique)."""
        address = _hex_text(params, "mcAddr", 8)
        app_s_key = _hex_text(params, "mcAppSKey", 32)
        nwk_s_key = _hex_text(params, "mcNwkSKey", 32)
        if any(
            (g.mc_addr, g.mc_nwk_s_key) == (address, nwk_s_key) and g is not group
            for g in self.groups.values()
        ):
            raise _ApiError(14003)
        return address, app_s_key, nwk_s_key

    def _group_create(self, params: dict[str, Any]) -> dict[str, Any]:
        mc_eui = _hex_text(params, "mcEUI", 16)
        name = _text(params, "mcName")
        if not _NAME.fullmatch(name):
            raise _ApiError(1007)
        region = _text(params, "region")
        subnet = "auto" if _bool(params, "autoSubnet", False) else _text(params, "subnet")
        if params.get("class", "C") != "C":
            raise _ApiError(1007)
        group = McGroup(mc_eui, "", region, subnet)
        group.enable_mc_remote = _bool(params, "enableMCRemote", False)
        group.enable_mc_ext = _bool(params, "enableMCExt", False)
        if group.enable_mc_remote:
            group.gen_app_key = _hex_text(params, "genAppKey", 32)
            group.group_id = _int(params, "groupID")
            if not 0 <= group.group_id <= 3:
                raise _ApiError(1007)
        else:
            group.mc_addr, group.mc_app_s_key, group.mc_nwk_s_key = self._group_keys(params, group)
        if mc_eui in self.groups:
            raise _ApiError(14002)
        self._group_options(params | {"mcName": name}, group)
        self.groups[mc_eui] = group
        return {}

    def _group_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        euis = _required(params, "mcEUIs")
        if not isinstance(euis, list) or not all(isinstance(e, str) for e in euis):
            raise _ApiError(1007)
        errors = [_error(14001, mcEUI=e) for e in euis if e.lower() not in self.groups]
        for mc_eui in euis:
            self.groups.pop(mc_eui.lower(), None)
        if errors:
            raise _ApiError(14007, errors)
        return {}

    def _group_update(self, params: dict[str, Any]) -> dict[str, Any]:
        """
        Update a group.

        A manual group needs its address and keys, one with remote set-up its push link (both
        "required" in the table of 6.2.4, and in its samples).
        """
        group = self._group(params)
        keys = None
        if group.enable_mc_remote:
            _required(params, "pushURL")
        else:
            keys = self._group_keys(params, group)
        self._group_options(params, group)
        if keys is not None:
            group.mc_addr, group.mc_app_s_key, group.mc_nwk_s_key = keys
        group.updatetime = _now_ms()
        return {}

    def _group_status(self, params: dict[str, Any]) -> dict[str, Any]:
        """Show a group as the document's two samples do (6.2.5): remote set-up, or manual."""
        group = self._group(params)
        data: dict[str, Any] = {
            "mcEUI": group.mc_eui,
            "mcName": group.name,
            "region": group.region,
            "subnet": group.subnet,
            "class": group.device_class,
        }
        if group.enable_mc_remote:
            data |= {
                "pingSlotPeriod": 0,
                "enableMCRemote": True,
                "groupID": group.group_id,
                "genAppKey": group.gen_app_key,
                "enableMCExt": group.enable_mc_ext,
                "timeSlotLength": group.time_slot_length,
                "mcAddr": group.mc_addr,
                "mcAppSKey": group.mc_app_s_key,
                "mcNwkSKey": group.mc_nwk_s_key,
                "enableMQTT": group.enable_mqtt,
                "pushURL": next(iter(group.push_urls), ""),
                "headers": dict(group.headers),
            }
        else:
            data |= {
                "enableMCRemote": False,
                "groupID": group.group_id,
                "mcAddr": group.mc_addr,
                "mcAppSKey": group.mc_app_s_key,
                "mcNwkSKey": group.mc_nwk_s_key,
            }
        return {
            "data": data
            | {
                "deviceSetup": len(group.members),
                "deviceNums": len(group.members),
                "updatetime": group.updatetime,
                "createtime": group.createtime,
            }
        }

    # multicast group members

    def _member_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(params)
        return _page(
            params,
            [
                {
                    "devEUI": dev_eui,
                    "devName": self.devices[dev_eui].name if dev_eui in self.devices else "",
                    "joined": True,
                    "createtime": added,
                }
                for dev_eui, added in group.members.items()
            ],
        )

    @staticmethod
    def _dev_euis(params: Mapping[str, Any]) -> list[str]:
        euis = _required(params, "devEUIs")
        if not isinstance(euis, list) or not all(isinstance(e, str) for e in euis):
            raise _ApiError(1007)
        return euis

    def _bind_error(self, group: McGroup, dev_eui: str) -> int | None:
        """Return why a device cannot join the group (a response code), or None."""
        device = self.devices.get(dev_eui)
        if device is None:
            return 4001
        if dev_eui in group.members:
            return 14010
        if any(dev_eui in other.members for other in self.groups.values()):
            return 14011
        if device.device_class != group.device_class or device.region != group.region:
            return 14012
        if group.subnet not in ("auto", device.subnet):
            return 14012
        return None

    def _member_create(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(params)
        errors = []
        # A device listed twice is answered once (the sample of 7.2.2 lists 55e1032590dc5682
        # twice and refuses it once).
        for dev_eui in dict.fromkeys(self._dev_euis(params)):
            code = self._bind_error(group, dev_eui.lower())
            if code is None:
                group.members[dev_eui.lower()] = _now_ms()
            else:
                errors.append(_error(code, devEUI=dev_eui))
        if errors:
            raise _ApiError(14008, errors)
        return {}

    def _member_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(params)
        errors = [
            _error(14013, devEUI=dev_eui)
            for dev_eui in self._dev_euis(params)
            if group.members.pop(dev_eui.lower(), None) is None
        ]
        if errors:
            raise _ApiError(14009, errors)
        return {}

    def _group_downlink(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(params)
        port, data = _port(params), _payload(params, "data")
        group.f_cnt += 1
        self.group_downlinks.append((group.mc_eui, port, data, group.f_cnt))
        return {"fCnt": group.f_cnt}

    # file transfers

    def _fuota_create(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(params)
        name = _text(params, "firmwareName")
        redundancy = _required(params, "redundancyPercent")
        if (
            isinstance(redundancy, bool)
            or not isinstance(redundancy, int | float)
            or not 0.1 <= redundancy <= 1
        ):
            raise _ApiError(1007)
        payload = _payload(params, "payload")
        if any(t.mc_eui == group.mc_eui and t.state != "Done" for t in self.fuota.values()):
            raise _ApiError(16001)
        fd_id = next(self._fd_ids)
        self.fuota[fd_id] = FuotaTask(fd_id, group.mc_eui, name, payload, float(redundancy))
        return {}

    def _fuota_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(params)
        tasks = [t for t in self.fuota.values() if t.mc_eui == group.mc_eui]
        return _page(params, [t.summary() for t in reversed(tasks)])

    def _fuota_status(self, params: dict[str, Any]) -> dict[str, Any]:
        task = self._task(params)
        while task.state in FUOTA_STATES and task.polls >= self.fuota_polls:
            task.state, task.polls = FUOTA_STATES[task.state], 0
            task.updatetime = _now_ms()
        task.polls += 1
        return {"data": task.status()}

    def _progress(self, task: FuotaTask) -> tuple[str, int]:
        """Return a member's state and the fragments it received, as the task's state implies."""
        if task.aborted is not None:
            return ("FragSessDelAns" if task.state == "Cleanup" else "Done"), task.aborted
        if task.state == "Created":
            return "MC Joined", 0
        if task.state == "SendFragSessSetup":
            return "FragSessionSetupAns", 0
        if task.state == "EnqueueFragment":
            return "FragSessionSetupAns", task.nb_frag * task.polls // (self.fuota_polls + 1)
        return "Done", task.nb_frag

    def _fuota_devices(self, params: dict[str, Any]) -> dict[str, Any]:
        task = self._task(params)
        state, received = self._progress(task)
        members = self.groups[task.mc_eui].members
        return _page(
            params,
            [
                {
                    "devEUI": dev_eui,
                    "fdID": task.fd_id,
                    "nbFragReceived": received,
                    "nbFragMissing": task.nb_frag - received if state == "Done" else 0,
                    "createtime": task.createtime,
                    "updatetime": task.updatetime,
                    "state": state,
                    "error_message": "aborted" if task.aborted is not None else "",
                }
                for dev_eui in members
            ],
        )

    def _fuota_abort(self, params: dict[str, Any]) -> dict[str, Any]:
        task = self._task(params)
        if task.state not in ("Done", "Cleanup"):
            task.aborted = self._progress(task)[1]
            task.state, task.polls = "Cleanup", 0
            task.updatetime = _now_ms()
        self.fuota_aborts.append((task.mc_eui, task.fd_id))
        return {}


# ------------------------------------------------------------------ command line


async def run_demo(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
    """Serve an IoTSquare simulator pushing demo uplinks to ``--push-url`` until ``stop``."""
    simulator = IotSquareSimulator(token=args.token, port=args.port)
    app = simulator.add_app(
        "demo_app", push_url=args.push_url, headers=push_headers(args.push_header)
    )
    for dev_eui, dev_addr, demo in demo_devices(args.devices):
        simulator.add_device(
            app.app_id,
            dev_eui,
            demo.description,
            dev_addr=dev_addr.lower(),
            kind=demo.kind,
            support_class_c=demo.kind == "door",
        )
    async with simulator:
        print(
            f"IoTSquare simulator: API {simulator.url}, token {args.token}, application"
            f" {app.app_id} ({args.devices} devices, an uplink each every {args.interval:g} s"
            f" pushed to {args.push_url or 'nowhere yet: give --push-url'})",
            flush=True,
        )
        await generate_until(stop, simulator.run_generator(args.interval, seed=args.seed))


COMMAND = Command(
    name="iotsquare",
    help="IoTSquare / RisingHF network server (OpenAPI and HTTP push)",
    description="Serve a fake IoTSquare network server on 127.0.0.1 that pushes demo uplinks.",
    port=8769,
    run=run_demo,
    options=(Option("--token", DEFAULT_TOKEN, "the API token clients use"), PUSH_URL, PUSH_HEADER),
)
