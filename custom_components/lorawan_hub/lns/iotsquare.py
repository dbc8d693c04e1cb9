"""
IoTSquare (RisingHF) network server: uplinks pushed over HTTP, the OpenAPI for the rest.

IoTSquare POSTs each uplink to ``<push URL>/uplink`` and each join to ``<push URL>/join`` with the
custom headers configured on the application. Every OpenAPI call carries the API token in the
``X-Access-Token`` header and answers ``{"code": ..., "msg": ...}``; a code other than 0 is one of
the documented response codes, each mapped to an error of its own.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
import functools
import logging
import re
import secrets
import time
from typing import Any, Final

import aiohttp
import orjson
from yarl import URL

from .base import (
    NetworkServer,
    Sink,
    ThrottledLog,
    check_multicast_setup,
    http_request,
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
    Capability,
    DeviceInfo,
    Downlink,
    DownlinkMode,
    DownlinkResult,
    DownlinkState,
    FuotaRequest,
    FuotaStatus,
    Gateway,
    JoinInfo,
    LoRaClass,
    MulticastGroup,
    MulticastKeys,
    MulticastSetup,
    Uplink,
)
from .parse import MAX_PAYLOAD, as_dict, as_int, eui, opt_bool, opt_float, opt_int, opt_str

_LOGGER = logging.getLogger(__name__)

DEFAULT_URL: Final = "https://cloud.iotsquare.xyz/openapi"
PAGE_SIZE: Final = 100
"""Items asked for per page (0/0 would return at most 200 and nothing beyond)."""
MAX_PAGES: Final = 1000
STATUS_REQUESTS: Final = 8
"""Device status requests in flight at once while listing devices."""
SEEN_MEMORY: Final = 4096
"""Pushed uplinks remembered (device, frame counter, time) to drop replays."""
PUSH_KINDS: Final = frozenset({"uplink", "join", "status", "gwstat", "gwconnection", "multicast"})
"""The sub-paths IoTSquare appends to the push URL."""
MAX_PUSH_HEADERS: Final = 5
SEED_SLACK: Final = timedelta(minutes=10)
"""How far apart the server's and the push's time of one uplink may be."""

# The documented response codes (appendix 10.1) and their messages.
RESPONSE_CODES: Final[Mapping[int, str]] = {
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
_AUTH_CODES: Final = frozenset({1003, 1004})
_BUSY_CODES: Final = frozenset({1001, 1009})
ERROR_KEYS: Final = frozenset(f"iotsquare_{code}" for code in RESPONSE_CODES) - {
    f"iotsquare_{code}" for code in _AUTH_CODES
}
"""The translation keys of the response codes (a refused token starts reauthentication)."""

_CLASSES: Final = {"A": LoRaClass.A, "B": LoRaClass.B, "C": LoRaClass.C}
_SF: Final = re.compile(r"SF(\d+)", re.IGNORECASE)
_GROUP_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,19}")
_RESERVED_PORT: Final = 200
MIN_REDUNDANCY: Final = 0.1


def code_error(code: int, message: str | None, reason: str | None = None) -> LnsError:
    """Return the error for a response code other than 0 (``reason`` adds per-item details)."""
    known = RESPONSE_CODES.get(code)
    text = reason or message or known or f"code {code}"
    if code in _AUTH_CODES:
        return AuthError(text, code=code)
    if known is None:
        return InvalidRequest(text, code=code)
    key = f"iotsquare_{code}"
    if code in _BUSY_CODES:
        return CannotConnect(text, key=key, code=code)
    if code == 1010:
        return Forbidden(text, key=key, code=code)
    return InvalidRequest(text, key=key, code=code)


def item_errors(document: Mapping[str, Any], id_key: str) -> str | None:
    """Return a batch answer's per-item errors (``EUI: message; ...``), None when it lists none."""
    items = document.get("data")
    if not isinstance(items, list):
        return None
    parts = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        identifier = str(item.get(id_key) or "?").upper()
        code = item.get("code")
        message = RESPONSE_CODES.get(code) if isinstance(code, int) else None
        parts.append(f"{identifier}: {message or item.get('msg') or code}")
    return "; ".join(parts) or None


def _field(data: Mapping[str, Any], *names: str) -> Any:
    """Return the first of ``names`` present (the document spells some fields two ways)."""
    for name in names:
        if name in data:
            return data[name]
    return None


def _base64(value: object, what: str) -> bytes:
    if value is None or value == "":
        return b""
    if not isinstance(value, str) or len(value) > 4 * MAX_PAYLOAD:
        raise ProtocolError(f"{what} is not a base64 payload")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error, ValueError:
        raise ProtocolError(f"{what} is not valid base64") from None


def _millis(value: object, what: str) -> datetime:
    milliseconds = as_int(value, what)
    try:
        return datetime.fromtimestamp(milliseconds / 1000, UTC)
    except OverflowError, OSError, ValueError:
        raise ProtocolError(f"{what} is out of range") from None


def _lenient[T](read: Callable[[], T]) -> T | None:
    """Return what ``read`` reads, None when the value is malformed (an optional field)."""
    try:
        return read()
    except ProtocolError:
        return None


def _gateways(fields: Mapping[str, Any]) -> tuple[Gateway, ...]:
    """Return the gateways that heard the uplink, best first; malformed entries are skipped."""
    listed = _field(fields, "gws", "GatewayInfo")
    gateways = []
    for item in listed if isinstance(listed, list) else ():
        identifier = _field(item, "id", "GwID", "gwID") if isinstance(item, Mapping) else None
        if isinstance(identifier, str) and identifier:
            gateways.append(
                Gateway(
                    identifier.upper(),
                    _lenient(functools.partial(_rssi, item)),
                    _lenient(functools.partial(opt_float, item, "snr")),
                )
            )
    if gateways:
        return tuple(gateways)
    best = _field(fields, "gwid", "gwID", "GwID")
    if isinstance(best, str) and best:
        return (
            Gateway(
                best.upper(),
                _lenient(lambda: _rssi(fields)),
                _lenient(lambda: opt_float(fields, "snr")),
            ),
        )
    return ()


def _rssi(fields: Mapping[str, Any]) -> float | None:
    return opt_float(fields, "rssi") if "rssi" in fields else opt_float(fields, "Rssi")


def uplink_from_fields(
    dev_eui: str, fields: Mapping[str, Any], received_at: datetime, raw: Mapping[str, Any]
) -> Uplink:
    """
    Build an Uplink from a push's ``data`` or a ``latestDeviceUplink`` answer.

    Raises ProtocolError when the payload or the frame counter is malformed; any other field
    that is malformed is left out (the uplink itself is kept).
    """
    f_cnt = _field(fields, "fCnt", "FCnt")
    data_rate = _lenient(lambda: opt_int({"dr": _field(fields, "dr", "Dr")}, "dr"))
    device_class = _field(fields, "class", "Class")
    sfbw = fields.get("sfbw")
    spreading = _SF.match(sfbw) if isinstance(sfbw, str) else None
    return Uplink(
        dev_eui=dev_eui,
        received_at=received_at,
        f_port=_lenient(lambda: opt_int({"fPort": _field(fields, "fPort", "FPort")}, "fPort")),
        f_cnt=None if f_cnt is None else as_int(f_cnt, "fCnt"),
        payload=_base64(_field(fields, "data", "Data"), "data"),
        rssi=_lenient(lambda: _rssi(fields)),
        snr=_lenient(lambda: opt_float(fields, "snr")),
        data_rate=None if data_rate is None else f"DR{data_rate}",
        spreading_factor=int(spreading.group(1)) if spreading else None,
        frequency=_lenient(lambda: opt_float({"freq": _field(fields, "freq", "Freq")}, "freq")),
        gateways=_gateways(fields),
        confirmed=_lenient(lambda: opt_bool(fields, "confirmed")),
        device_class=_CLASSES.get(device_class.upper()) if isinstance(device_class, str) else None,
        raw=raw,
    )


def uplink_from_push(envelope: Mapping[str, Any]) -> Uplink:
    """Build an Uplink from an ``/uplink`` push: ``{devEUI, appID, time, type, data}``."""
    return uplink_from_fields(
        eui(envelope.get("devEUI"), "devEUI"),
        as_dict(envelope.get("data"), "data"),
        _millis(envelope.get("time"), "time"),
        envelope,
    )


def device_from_list(item: Mapping[str, Any]) -> DeviceInfo:
    """Build a DeviceInfo from a ``device/list`` entry (without its class: see device/status)."""
    product = opt_str(item, "productType")
    return DeviceInfo(
        dev_eui=eui(item.get("devEUI"), "devEUI"),
        name=opt_str(item, "devName"),
        dev_addr=(opt_str(item, "devAddr") or "").upper() or None,
        model=product if product and product != "lorawan" else None,
        manufacturer="RisingHF" if product in ("rhf3mr01", "rhf3m485") else None,
    )


def class_from_status(status: Mapping[str, Any]) -> LoRaClass:
    """Return the class a device was created for (``supportClassB`` / ``supportClassC``)."""
    if opt_bool(status, "supportClassC"):
        return LoRaClass.C
    if opt_bool(status, "supportClassB"):
        return LoRaClass.B
    return LoRaClass.A


def _check_group_name(name: str) -> None:
    if _GROUP_NAME.fullmatch(name) is None:
        raise InvalidRequest(
            "a group name has letters, digits and underscores, at most 20",
            key="group_name_invalid",
            details={"name": name},
        )


def _job(job_id: str) -> tuple[str, int]:
    """Split a firmware update's id, ``<multicast group EUI>/<task id>``."""
    group, _, task = job_id.partition("/")
    try:
        return eui(group, "group").lower(), int(task)
    except ProtocolError, ValueError:
        raise InvalidRequest(
            f"{job_id} is not an IoTSquare firmware update id",
            key="invalid_job_id",
            details={"job_id": job_id},
        ) from None


class IotSquareClient(NetworkServer):
    """A client of one IoTSquare application: pushes in, OpenAPI out."""

    vendor = "iotsquare"
    name = "IoTSquare"
    capabilities = frozenset(
        {
            Capability.DOWNLINK,
            Capability.DOWNLINK_COUNTER,
            Capability.MULTICAST,
            Capability.MULTICAST_GROUPS,
            Capability.FUOTA,
        }
    )
    unsupported_reasons = {Capability.CLASS_CHANGE: "class_change_recreate"}
    error_keys = ERROR_KEYS

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        token: str,
        app_id: int | None = None,
        *,
        request_timeout: float = 15.0,
    ) -> None:
        """Prepare a client; without ``app_id`` it can only list the applications."""
        parsed = URL(url.strip())
        self._base = parsed.with_path(parsed.path.rstrip("/"), keep_query=False)
        self._session = session
        self._token = token
        self.app_id = app_id
        self._request_timeout = request_timeout
        self._sink: Sink | None = None
        self._seen: OrderedDict[tuple[str, int | None, int], None] = OrderedDict()
        self._pushed: set[str] = set()
        self._listed: list[str] = []
        self._regions: dict[str, str] = {}
        self._log = ThrottledLog(_LOGGER)

    @property
    def host(self) -> str:
        """The API's host, safe to show."""
        return self._base.host or ""

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        batch_key: str | None = None,
    ) -> Mapping[str, Any]:
        """
        Send one OpenAPI request; return the answer when its code is 0.

        ``batch_key`` names the identifier of a batch answer's per-item errors.
        """
        status, body = await http_request(
            self._session,
            method,
            self._base.with_path(f"{self._base.path}/{path}", encoded=False),
            headers={"X-Access-Token": self._token},
            request_timeout=self._request_timeout,
            params={key: str(value) for key, value in (params or {}).items()},
            json=json,
        )
        if status == 401:
            raise AuthError(f"{self.host} refused the API token", code=status)
        if status == 403:
            raise Forbidden(f"{self.host} refused the request", code=status)
        if status == 404:
            raise InvalidRequest(f"{self.host} has no {path}", key="not_found", code=status)
        if status >= 500 or status == 429:
            raise CannotConnect(f"{self.host} answered HTTP {status}", code=status)
        if not 200 <= status < 300:
            raise InvalidRequest(f"HTTP {status}", code=status)
        try:
            document = as_dict(orjson.loads(body), path)
        except orjson.JSONDecodeError:
            raise ProtocolError(f"{path}: the answer is not JSON") from None
        code = document.get("code")
        if code == 0:
            return document
        if not isinstance(code, int) or isinstance(code, bool):
            raise ProtocolError(f"{path}: the answer has no response code")
        message = document.get("msg")
        details = item_errors(document, batch_key) if batch_key else None
        raise code_error(code, message if isinstance(message, str) else None, details)

    async def _pages(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> list[Mapping[str, Any]]:
        """Return every item of a paged list (``amount`` tells how many there are)."""
        items: list[Mapping[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            document = await self._call(
                "GET", path, params={**(params or {}), "pageNo": page, "pageSize": PAGE_SIZE}
            )
            data = document.get("data")
            batch = [as_dict(item, path) for item in data] if isinstance(data, list) else []
            amount = _lenient(functools.partial(opt_int, document, "amount"))
            if not batch or (items and batch == items[-len(batch) :]):
                break  # past the end, or a server that ignores the page number
            items.extend(batch)
            # The server may serve fewer items per page than asked: the total tells the end.
            finished = len(items) >= amount if amount is not None else len(batch) < PAGE_SIZE
            if finished:
                break
        return items

    # --- account and application ----------------------------------------------------------

    async def validate(self) -> None:
        """Check the token (and that the application exists, once one is chosen)."""
        await self._call("GET", "app/list", params={"pageNo": 1, "pageSize": 1})
        if self.app_id is not None:
            await self.application()

    async def list_applications(self) -> dict[int, str]:
        """Return the account's applications: id → name."""
        applications = {}
        for item in await self._pages("app/list"):
            app_id = opt_int(item, "appID")
            if app_id is not None:
                applications[app_id] = opt_str(item, "appName") or str(app_id)
        return applications

    async def application(self) -> Mapping[str, Any]:
        """Return the application's status: its name, push URL and headers."""
        document = await self._call("GET", "app/status", params={"appID": self._app()})
        return as_dict(document.get("data"), "app/status")

    async def configure_push(self, url: str, headers: Mapping[str, str]) -> None:
        """Make the application push to ``url`` with ``headers`` (replacing what it had)."""
        if len(headers) > MAX_PUSH_HEADERS:
            raise InvalidRequest(f"IoTSquare sends at most {MAX_PUSH_HEADERS} headers")
        current = await self.application()
        await self._call(
            "POST",
            "app/update",
            json={
                "appID": self._app(),
                "appName": opt_str(current, "appName") or "",
                "enableMQTT": False,
                "pushURL": url,
                "headers": dict(headers),
            },
        )

    def _app(self) -> int:
        if self.app_id is None:
            raise InvalidRequest("no application chosen")
        return self.app_id

    # --- devices ----------------------------------------------------------------------------

    async def list_devices(self) -> list[DeviceInfo]:
        """Return the application's devices, each with the class it was created for."""
        listed = await self._pages("device/list", {"appID": self._app()})
        devices: list[DeviceInfo] = []
        for item in listed:
            try:
                device = device_from_list(item)
            except ProtocolError as err:
                self._log.warning("list", "Skipped a device IoTSquare lists: %s", err)
                continue
            devices.append(device)
            if region := _lenient(functools.partial(opt_str, item, "region")):
                self._regions[device.dev_eui] = region
        limit = asyncio.Semaphore(STATUS_REQUESTS)

        async def add_class(device: DeviceInfo) -> None:
            async with limit:
                try:
                    document = await self._call(
                        "GET", "device/status", params={"devEUI": device.dev_eui.lower()}
                    )
                except InvalidRequest as err:
                    if err.code != 4001:
                        raise
                    return  # deleted since it was listed
            status = document.get("data")
            if isinstance(status, Mapping):
                device.device_class = _lenient(lambda: class_from_status(status))
                device.app_eui = (_lenient(lambda: opt_str(status, "appEUI")) or "").upper() or None
                device.activation = _lenient(lambda: opt_str(status, "authType"))

        # The first failure is the error (not an exception group): the others are cancelled.
        tasks = [asyncio.ensure_future(add_class(device)) for device in devices]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
        self._listed = [device.dev_eui for device in devices]
        return devices

    async def latest_uplink(self, dev_eui: str) -> Uplink | None:
        """Return the device's latest uplink as the server kept it (None if it never sent)."""
        document = await self._call(
            "GET", "device/latestDeviceUplink", params={"devEui": dev_eui.lower()}
        )
        data = document.get("data")
        if not isinstance(data, Mapping):
            return None
        received = _field(data, "createtime", "Time")
        if received is None:
            return None
        return uplink_from_fields(dev_eui, data, _millis(received, "createtime"), data)

    # --- pushes ---------------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        """Seed each device's latest uplink, then take pushes until cancelled."""
        self._sink = sink
        sink.connection_changed(True, None)
        try:
            try:
                await self._seed(sink)
            except AuthError:
                raise
            except Exception:  # without the seed, pushes still come in
                _LOGGER.exception("Could not fetch the devices' latest uplinks")
            await asyncio.get_running_loop().create_future()
        finally:
            self._sink = None

    async def _seed(self, sink: Sink) -> None:
        """
        Deliver what each device last sent, unless it was seen already.

        A push may have brought something newer meanwhile; and the server's time of an uplink
        may differ from the time its push carried, so an uplink seen with the same frame
        counter shortly before or after counts as this one.
        """
        limit = asyncio.Semaphore(STATUS_REQUESTS)

        async def latest(dev_eui: str) -> Uplink | None:
            async with limit:
                try:
                    return await self.latest_uplink(dev_eui)
                except AuthError:
                    raise
                except LnsError as err:
                    self._log.warning(
                        "seed", "Could not fetch the latest uplink of %s: %s", dev_eui, err
                    )
                    return None

        uplinks = await asyncio.gather(*(latest(dev_eui) for dev_eui in self._listed))
        for uplink in uplinks:
            if uplink is None or uplink.dev_eui in self._pushed:
                continue
            if any(
                f_cnt == uplink.f_cnt and abs(when - uplink.received_at) <= SEED_SLACK
                for f_cnt, when in sink.recent_uplinks(uplink.dev_eui)
            ):
                continue
            sink.uplink(uplink)

    async def accept_push(self, topic: str, body: Any, limit: float) -> bool:
        """Take one push (``topic`` is the sub-path: uplink, join...); False when not running."""
        sink = self._sink
        if sink is None:
            return False
        for item in body if isinstance(body, list) else [body]:
            try:
                self._push(sink, topic, as_dict(item, "push"))
            except ProtocolError as err:
                self._log.warning("push", "Dropped a malformed %s push: %s", topic, err)
        return True

    def _push(self, sink: Sink, topic: str, envelope: Mapping[str, Any]) -> None:
        app_id = opt_int(envelope, "appID")
        if app_id is not None and app_id != self.app_id:
            return  # another application's push
        kind = topic if topic in PUSH_KINDS else _lenient(lambda: opt_str(envelope, "type"))
        if kind == "uplink":
            uplink = uplink_from_push(envelope)
            key = (uplink.dev_eui, uplink.f_cnt, as_int(envelope.get("time"), "time"))
            if key in self._seen:
                return  # a replay
            self._seen[key] = None
            if len(self._seen) > SEEN_MEMORY:
                self._seen.popitem(last=False)
            self._pushed.add(uplink.dev_eui)
            if uplink.device_class is not None:
                sink.device_updated(
                    DeviceInfo(dev_eui=uplink.dev_eui, device_class=uplink.device_class)
                )
            sink.uplink(uplink)
        elif kind == "join":
            dev_eui = eui(envelope.get("devEUI"), "devEUI")
            data = envelope.get("data")
            address = opt_str(data, "devAddr") if isinstance(data, Mapping) else None
            if address:
                sink.device_updated(DeviceInfo(dev_eui=dev_eui, dev_addr=address.upper()))
            sink.joined(JoinInfo(dev_eui=dev_eui, status="joined"))
        else:
            _LOGGER.debug("Ignored an IoTSquare %s push", kind)

    # --- downlinks --------------------------------------------------------------------------

    @staticmethod
    def _check_port(f_port: int) -> None:
        if f_port == _RESERVED_PORT:
            raise InvalidRequest(
                "IoTSquare reserves port 200",
                key="port_reserved",
                details={"port": str(f_port)},
            )

    async def send_downlink(self, downlink: Downlink) -> DownlinkResult:
        """Queue a downlink; the answer is its downlink frame counter."""
        if downlink.mode is not DownlinkMode.QUEUE:
            raise Unsupported("IoTSquare only queues downlinks")
        self._check_port(downlink.f_port)
        body = {
            "devEUI": downlink.dev_eui.lower(),
            "fPort": downlink.f_port,
            "data": base64.b64encode(downlink.payload).decode(),
            "confirmed": downlink.confirmed,
        }
        try:
            answer = await self._call("POST", "device/downlink/create", json=body)
        except InvalidRequest as err:
            if err.key != "not_found":
                raise
            # Servers before 3.4.21 name it devicedl/create.
            answer = await self._call("POST", "devicedl/create", json=body)
        f_cnt = _lenient(lambda: opt_int(answer, "fCnt"))
        if f_cnt is None:
            # Queued all the same: reporting a failure would have it sent twice.
            _LOGGER.warning("IoTSquare queued a downlink to %s without its fCnt", downlink.dev_eui)
        elif self._sink is not None:
            self._sink.device_updated(DeviceInfo(dev_eui=downlink.dev_eui, downlink_f_cnt=f_cnt))
        return DownlinkResult(message_id=None, state=DownlinkState.QUEUED, f_cnt=f_cnt)

    async def set_device_class(self, dev_eui: str, device_class: LoRaClass) -> None:
        """IoTSquare fixes a device's class when it is created."""
        raise Unsupported(
            "IoTSquare changes a device's class only by re-creating it",
            key="class_change_recreate",
        )

    # --- multicast groups (the account's; a group holds class C devices of one region) -----

    async def list_multicast_groups(self) -> list[MulticastGroup]:
        """Return the account's multicast groups."""
        return [
            MulticastGroup(
                group_id=eui(item.get("mcEUI"), "mcEUI"),
                name=opt_str(item, "mcName"),
                device_class=LoRaClass.C,
            )
            for item in await self._pages("mcgroup/list")
        ]

    async def create_multicast_group(self, setup: MulticastSetup) -> MulticastGroup:
        """
        Create a manually configured class C group in the application's region.

        Its address and session keys are generated here and kept by IoTSquare (its console shows
        them, to configure the devices); the group's id is its EUI.
        """
        check_multicast_setup(self.name, setup, names=True)
        name = setup.name or ""
        if setup.device_class is not LoRaClass.C:
            raise InvalidRequest(
                "IoTSquare multicast groups are class C", key="multicast_class_c_only"
            )
        _check_group_name(name)
        keys = setup.keys or MulticastKeys.generate()
        regions = set(self._regions.values())
        if len(regions) != 1:
            raise InvalidRequest(
                "the application's devices do not share one region",
                key="multicast_region_unknown",
                details={"regions": ", ".join(sorted(regions)) or "-"},
            )
        mc_eui = secrets.token_hex(8)
        await self._call(
            "POST",
            "mcgroup/create",
            json={
                "mcEUI": mc_eui,
                "mcName": name,
                "autoSubnet": True,
                "region": regions.pop(),
                "subnet": "auto",
                "class": "C",
                "enableMCRemote": False,
                "mcAddr": keys.address.lower(),
                "mcAppSKey": keys.app_s_key.lower(),
                "mcNwkSKey": keys.nwk_s_key.lower(),
                "enableMQTT": False,
            },
        )
        status = await self._call("GET", "mcgroup/status", params={"mcEUI": mc_eui})
        data = status.get("data")
        if setup.dev_euis:
            await self.add_to_multicast_group(mc_eui, setup.dev_euis)
        return MulticastGroup(
            group_id=mc_eui.upper(),
            name=opt_str(data, "mcName") if isinstance(data, Mapping) else name,
            device_class=LoRaClass.C,
            dev_euis=setup.dev_euis,
            keys=keys,
        )

    @staticmethod
    def _group(group_id: str) -> str:
        try:
            return eui(group_id, "group").lower()
        except ProtocolError:
            raise InvalidRequest(
                f"{group_id} is not a multicast group EUI",
                key="invalid_group_id",
                details={"group_id": group_id},
            ) from None

    async def rename_multicast_group(self, group_id: str, name: str) -> None:
        """Rename the group (``mcgroup/update`` with its name only: the rest stays)."""
        _check_group_name(name)
        await self._call(
            "POST", "mcgroup/update", json={"mcEUI": self._group(group_id), "mcName": name}
        )

    async def delete_multicast_group(self, group_id: str) -> None:
        """Delete the group (its devices are unbound)."""
        await self._call(
            "POST", "mcgroup/delete", json={"mcEUIs": [self._group(group_id)]}, batch_key="mcEUI"
        )

    async def add_to_multicast_group(self, group_id: str, dev_euis: Sequence[str]) -> None:
        """Bind devices to the group; the devices refused are named in the error."""
        await self._members("mcdevice/create", group_id, dev_euis)

    async def remove_from_multicast_group(self, group_id: str, dev_euis: Sequence[str]) -> None:
        """Unbind devices from the group; the devices refused are named in the error."""
        await self._members("mcdevice/delete", group_id, dev_euis)

    async def _members(self, path: str, group_id: str, dev_euis: Sequence[str]) -> None:
        await self._call(
            "POST",
            path,
            json={
                "mcEUI": self._group(group_id),
                "devEUIs": [dev_eui.lower() for dev_eui in dev_euis],
            },
            batch_key="devEUI",
        )

    async def multicast_group_status(self, group_id: str) -> MulticastGroup:
        """Return the group with its members, each joined or not (its configuration synced)."""
        group = self._group(group_id)
        document = await self._call("GET", "mcgroup/status", params={"mcEUI": group})
        status = as_dict(document.get("data"), "mcgroup/status")
        states = {}
        for item in await self._pages("mcdevice/list", {"mcEUI": group}):
            try:
                member = eui(item.get("devEUI"), "devEUI")
            except ProtocolError:
                continue
            states[member] = "joined" if opt_bool(item, "joined") else "not joined"
        return MulticastGroup(
            group_id=group.upper(),
            name=opt_str(status, "mcName"),
            device_class=LoRaClass.C,
            dev_euis=tuple(states),
            states=states,
        )

    async def send_multicast(
        self, group_id: str, f_port: int, payload: bytes, gateways: Sequence[str] = ()
    ) -> DownlinkResult:
        """Queue a downlink to the group; the answer is the group's downlink frame counter."""
        no_gateways(self.name, gateways)
        self._check_port(f_port)
        answer = await self._call(
            "POST",
            "mcdownlink/create",
            json={
                "mcEUI": self._group(group_id),
                "fPort": f_port,
                "data": base64.b64encode(payload).decode(),
            },
        )
        return DownlinkResult(
            message_id=None,
            state=DownlinkState.QUEUED,
            f_cnt=_lenient(lambda: opt_int(answer, "fCnt")),
        )

    # --- firmware updates over the air (file transfer to a multicast group) ---------------

    async def start_fuota(self, request: FuotaRequest) -> str:
        """Start a file transfer to the group; return ``<group EUI>/<task id>``."""
        if request.group_id is None or request.dev_euis:
            raise InvalidRequest(
                "IoTSquare sends firmware to a multicast group", key="fuota_group_required"
            )
        if not MIN_REDUNDANCY <= request.redundancy <= 1:
            raise InvalidRequest(
                "IoTSquare takes a redundancy of 0.1 to 1",
                key="fuota_redundancy_range",
                details={"minimum": f"{MIN_REDUNDANCY:g}", "maximum": "1"},
            )
        group = self._group(request.group_id)
        firmware_name = f"lorawan_hub_{time.strftime('%Y%m%d%H%M%S')}_{secrets.token_hex(2)}"
        await self._call(
            "POST",
            "fuota/create",
            json={
                "mcEUI": group,
                "firmwareName": firmware_name,
                "redundancyPercent": request.redundancy,
                "payload": base64.b64encode(request.firmware).decode(),
            },
        )
        # The answer names no task: find it by its (unique) name.
        for item in await self._pages("fuota/list", {"mcEUI": group}):
            if (
                item.get("firmwareName") == firmware_name
                and (task := opt_int(item, "fdID")) is not None
            ):
                return f"{group.upper()}/{task}"
        raise ProtocolError("the file transfer created is not listed")

    async def cancel_fuota(self, job_id: str) -> None:
        """Terminate a file transfer."""
        group, task = _job(job_id)
        await self._call("POST", "fuota/abort", json={"mcEUI": group, "fdID": task})

    async def fuota_status(self, job_id: str) -> FuotaStatus:
        """Return the transfer's state and how much of it the group's devices received."""
        group, task = _job(job_id)
        document = await self._call("GET", "fuota/status", params={"mcEUI": group, "fdID": task})
        status = as_dict(document.get("data"), "fuota/status")
        fragments = opt_int(status, "nbFrag")
        devices = await self._pages("fuota/device/list", {"mcEUI": group, "fdID": task})
        states: dict[str, int] = {}
        received = []
        for device in devices:
            state = opt_str(device, "state") or "Unknown"
            states[state] = states.get(state, 0) + 1
            count = opt_int(device, "nbFragReceived")
            if fragments and count is not None:
                received.append(min(100, count * 100 // fragments))
        return FuotaStatus(
            job_id=job_id,
            state=opt_str(status, "state") or "Unknown",
            percent_done=min(received) if received else None,
            result=", ".join(f"{state}: {count}" for state, count in sorted(states.items()))
            or None,
        )

    async def close(self) -> None:
        """Nothing to release."""
