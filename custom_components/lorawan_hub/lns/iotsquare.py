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
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import functools
import logging
import re
import secrets
import time
from typing import Any, Final

import aiohttp
from yarl import URL

from .base import (
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
from .http import SERVER_FAILURE, JsonApi, Refusal, StatusTable
from .models import (
    Capability,
    Downlink,
    DownlinkMode,
    DownlinkResult,
    DownlinkState,
    DownlinkStatus,
    FuotaRequest,
    FuotaStatus,
    Gateway,
    JoinInfo,
    LoRaClass,
    MulticastGroup,
    MulticastKeys,
    MulticastSetup,
    ServerDevice,
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
# The document says group names are "letters and underscores", its own samples have digits
# (mc_group_00, 6.2.2): both are taken.
_GROUP_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,19}")
_HEX: Final = re.compile(r"[0-9A-Fa-f]+")
_RESERVED_PORT: Final = 200
MIN_REDUNDANCY: Final = 0.1
DEFAULT_START_DELAY: Final = FuotaRequest(dev_euis=(), firmware=b"").start_delay
"""The start delay the start_fuota action passes when none is given: no wish of the user's."""
_ALREADY_MEMBER: Final = 14010
"""A device already in the group it is added to (it is a member)."""

_LOG: Final = ThrottledLog(_LOGGER)


ERRORS: Final = StatusTable(
    statuses={
        401: Refusal(AuthError, "{host} refused the API token"),
        403: Refusal(Forbidden, "{host} refused the request"),
        404: Refusal(InvalidRequest, "{host} has no {path}", key="not_found"),
        429: SERVER_FAILURE,
    },
    client_error=Refusal(InvalidRequest, "HTTP {status}"),
    other=Refusal(InvalidRequest, "HTTP {status}"),
)
"""The HTTP statuses; a request the server takes answers with a response code of its own."""


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


class BatchRefused(InvalidRequest):
    """A batch request refused for some of its items (``refusals``: identifier → code, words)."""

    def __init__(
        self, error: InvalidRequest, refusals: Mapping[str, tuple[int | None, str]]
    ) -> None:
        """Keep the refusal's key, code and reason, and each item's."""
        super().__init__(error.reason, key=error.key, code=error.code)
        self.refusals = refusals


def item_refusals(document: Mapping[str, Any], id_key: str) -> dict[str, tuple[int | None, str]]:
    """Return a batch answer's per-item errors: identifier (upper case) → code and message."""
    items = document.get("data")
    refusals: dict[str, tuple[int | None, str]] = {}
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, Mapping):
            continue
        identifier = str(item.get(id_key) or "?").upper()
        code = item.get("code")
        number = code if isinstance(code, int) and not isinstance(code, bool) else None
        message = RESPONSE_CODES.get(number) if number is not None else None
        refusals[identifier] = (number, str(message or item.get("msg") or code))
    return refusals


def item_errors(document: Mapping[str, Any], id_key: str) -> str | None:
    """Return a batch answer's per-item errors (``EUI: message; ...``), None when it lists none."""
    refusals = item_refusals(document, id_key)
    return "; ".join(f"{key}: {message}" for key, (_, message) in refusals.items()) or None


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


def _lenient[T](read: Callable[[], T], what: str = "value") -> T | None:
    """
    Return what ``read`` reads; None when the value is malformed (that value only is dropped).

    A malformed value is logged, at most once a minute for each kind of value.
    """
    try:
        return read()
    except ProtocolError as err:
        _LOG.warning(f"value:{what}", "Dropped a malformed %s from IoTSquare: %s", what, err)
        return None


def _text(data: Mapping[str, Any], key: str) -> str | None:
    """Return an optional string field; a malformed one is dropped."""
    return _lenient(functools.partial(opt_str, data, key), key)


def _flag(data: Mapping[str, Any], key: str) -> bool | None:
    """Return an optional boolean field; a malformed one is dropped."""
    return _lenient(functools.partial(opt_bool, data, key), key)


def _number(data: Mapping[str, Any], key: str) -> int | None:
    """Return an optional integer field; a malformed one is dropped."""
    return _lenient(functools.partial(opt_int, data, key), key)


def _eui(value: object, what: str) -> str | None:
    """Return an EUI; None when malformed (logged)."""
    return _lenient(functools.partial(eui, value, what), what)


def _hex_field(data: Mapping[str, Any], key: str, digits: int) -> str | None:
    """Return a hex field of ``digits`` digits in upper case; None when absent or malformed."""
    value = _text(data, key)
    if value is None:
        return None
    if len(value) != digits or _HEX.fullmatch(value) is None:
        _LOG.warning(f"value:{key}", "Dropped a malformed %s from IoTSquare", key)
        return None
    return value.upper()


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
                    _lenient(functools.partial(_rssi, item), "rssi"),
                    _lenient(functools.partial(opt_float, item, "snr"), "snr"),
                )
            )
    if gateways:
        return tuple(gateways)
    best = _field(fields, "gwid", "gwID", "GwID")
    if isinstance(best, str) and best:
        return (
            Gateway(
                best.upper(),
                _lenient(lambda: _rssi(fields), "rssi"),
                _lenient(lambda: opt_float(fields, "snr"), "snr"),
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

    A malformed field is left out (logged): the payload is then empty, the frame counter
    unknown; the uplink itself, its time and its radio data are kept.
    """
    f_cnt = _field(fields, "fCnt", "FCnt")
    data_rate = _lenient(lambda: opt_int({"dr": _field(fields, "dr", "Dr")}, "dr"), "dr")
    device_class = _field(fields, "class", "Class")
    sfbw = fields.get("sfbw")
    spreading = _SF.match(sfbw) if isinstance(sfbw, str) else None
    return Uplink(
        dev_eui=dev_eui,
        received_at=received_at,
        f_port=_lenient(
            lambda: opt_int({"fPort": _field(fields, "fPort", "FPort")}, "fPort"), "fPort"
        ),
        f_cnt=None if f_cnt is None else _lenient(lambda: as_int(f_cnt, "fCnt"), "fCnt"),
        payload=_lenient(lambda: _base64(_field(fields, "data", "Data"), "data"), "payload") or b"",
        rssi=_lenient(lambda: _rssi(fields), "rssi"),
        snr=_lenient(lambda: opt_float(fields, "snr"), "snr"),
        data_rate=None if data_rate is None else f"DR{data_rate}",
        spreading_factor=int(spreading.group(1)) if spreading else None,
        frequency=_lenient(
            lambda: opt_float({"freq": _field(fields, "freq", "Freq")}, "freq"), "freq"
        ),
        gateways=_gateways(fields),
        confirmed=_flag(fields, "confirmed"),
        device_class=_CLASSES.get(device_class.upper()) if isinstance(device_class, str) else None,
        raw=raw,
    )


def uplink_from_push(envelope: Mapping[str, Any]) -> Uplink:
    """
    Build an Uplink from an ``/uplink`` push: ``{devEUI, appID, time, type, data}``.

    Without a device or an uplink object there is no uplink (ProtocolError); a malformed time
    is replaced by the time the push arrived.
    """
    dev_eui = eui(envelope.get("devEUI"), "devEUI")
    fields = as_dict(envelope.get("data"), "data")
    received = _lenient(lambda: _millis(envelope.get("time"), "time"), "time")
    return uplink_from_fields(dev_eui, fields, received or datetime.now(UTC), envelope)


_ACKNOWLEDGED: Final = ("successNum", "successNums", "successCount", "success", "ackNum")
_TOTAL: Final = ("total", "totalNum", "deviceNums", "deviceNum")
_OUTCOME_WORDS: Final = ("result", "status", "state")
_FAILURE_WORDS: Final = frozenset({"fail", "failed", "failure", "error", "timeout"})


def status_from_multicast_push(envelope: Mapping[str, Any]) -> DownlinkStatus:
    """
    Read a multicast downlink result pushed to ``<push link>/multicast``.

    The document says only that, for a group with the multicast extension, IoTSquare pushes
    "each data downlink result" there after one or more rounds of downlinks, with "the number of
    devices that responded successfully" (sections 6.1.4 and 6.2.2); it shows no body. So the
    plausible forms are taken: the uplink push's envelope (``{devEUI, appID, time, type, data}``)
    or a flat object; the group as ``mcEUI`` (or the envelope's ``devEUI``), the group's downlink
    counter as ``fCnt`` (what ``mcdownlink/create`` answered), and the outcome as a count of the
    devices that responded (with their total), a boolean ``success``, or a word (result, status,
    state). A result that tells none of these is reported as sent.
    """
    data = envelope.get("data")
    sources = [envelope] + ([data] if isinstance(data, Mapping) else [])

    def find(*names: str) -> Any:
        for name in names:
            for source in sources:
                if source.get(name) is not None:
                    return source[name]
        return None

    group = eui(find("mcEUI", "mcEui", "McEUI", "devEUI"), "mcEUI")
    f_cnt = _lenient(lambda: opt_int({"fCnt": find("fCnt", "FCnt")}, "fCnt"), "fCnt")
    at = _lenient(lambda: _millis(find("time", "createtime"), "time"), "time")
    responded = next(
        (
            count
            for name in _ACKNOWLEDGED
            if isinstance(count := find(name), int) and not isinstance(count, bool)
        ),
        None,
    )
    total = next(
        (
            count
            for name in _TOTAL
            if isinstance(count := find(name), int) and not isinstance(count, bool)
        ),
        None,
    )
    state, reason = DownlinkState.SENT, None
    if responded is not None:
        state = DownlinkState.ACKNOWLEDGED if responded > 0 else DownlinkState.FAILED
        reason = (
            f"{responded} of {total} devices responded"
            if total is not None
            else f"{responded} devices responded"
        )
    elif isinstance(success := find("success"), bool):
        state = DownlinkState.SENT if success else DownlinkState.FAILED
    elif isinstance(word := find(*_OUTCOME_WORDS), str) and word:
        reason = word
        if word.lower() in _FAILURE_WORDS:
            state = DownlinkState.FAILED
    return DownlinkStatus(
        dev_eui="",
        message_id="" if f_cnt is None else str(f_cnt),
        state=state,
        at=at,
        reason=reason,
        group_id=group,
    )


def device_from_list(item: Mapping[str, Any]) -> ServerDevice:
    """
    Build a ServerDevice from a ``device/list`` entry (without its class: see device/status).

    Only a malformed DevEUI drops the device; another malformed field is left out.
    """
    product = _text(item, "productType")
    address = _hex_field(item, "devAddr", 8)
    return ServerDevice(
        dev_eui=eui(item.get("devEUI"), "devEUI"),
        name=_text(item, "devName"),
        dev_addr=address,
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
        raise InputError(
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
        raise InputError(
            f"{job_id} is not an IoTSquare firmware update id",
            key="invalid_job_id",
            details={"job_id": job_id},
        ) from None


def _keys_from_status(status: Mapping[str, Any]) -> MulticastKeys | None:
    """Return a manually configured group's session as its status shows it, None if it does not."""
    address = _hex_field(status, "mcAddr", 8)
    app_s_key = _hex_field(status, "mcAppSKey", 32)
    nwk_s_key = _hex_field(status, "mcNwkSKey", 32)
    if address is None or app_s_key is None or nwk_s_key is None:
        return None
    return MulticastKeys(address=address, app_s_key=app_s_key, nwk_s_key=nwk_s_key)


# --- the application's push settings --------------------------------------------------------

PUSH_URL_TAKEN: Final = "push_url"
"""The application's one push link leads elsewhere (a server without pushUrls)."""
MQTT_ON: Final = "mqtt"
"""The application sends its data over MQTT: IoTSquare then pushes nothing over HTTP."""
HEADER_TAKEN: Final = "header"
"""The application already sends a header of the name the push needs, with another value."""
PUSH_MQTT_WAS_ON: Final = "push_mqtt_was_on"
"""Entry data: MQTT was turned off, with the user's consent, to push to Home Assistant."""


@dataclass(slots=True, frozen=True, kw_only=True)
class PushConfig:
    """An application's push settings as IoTSquare shows them (``app/status``)."""

    name: str | None
    push_url: str
    push_urls: tuple[str, ...] | None
    """The further push links (3.4.18); None: the server has only the one push link."""
    headers: Mapping[str, Any]
    """The custom headers, name → value (the values are the user's: never shown)."""
    mqtt: bool

    def conflicts(self, url: str, header: str, value: str) -> frozenset[str]:
        """Return what pushing to ``url`` with ``header: value`` would replace or turn off."""
        conflicts = set()
        if self.push_urls is None and self.push_url not in ("", url):
            conflicts.add(PUSH_URL_TAKEN)
        if self.mqtt:
            conflicts.add(MQTT_ON)
        if any(
            name.lower() == header.lower() and given != value
            for name, given in self.headers.items()
        ):
            conflicts.add(HEADER_TAKEN)
        return frozenset(conflicts)

    def headers_full(self, header: str) -> bool:
        """Whether a header of that name cannot be added (IoTSquare sends at most five)."""
        return len(self.headers) >= MAX_PUSH_HEADERS and all(
            name.lower() != header.lower() for name in self.headers
        )

    @property
    def links(self) -> tuple[str, ...]:
        """Every push link the application pushes to."""
        links = [self.push_url] if self.push_url else []
        return tuple(dict.fromkeys([*links, *(self.push_urls or ())]))


class PushConflict(InvalidRequest):
    """Pushing to Home Assistant needs to replace or turn off what the user set up."""

    key = "push_conflict"

    def __init__(self, config: PushConfig, conflicts: frozenset[str]) -> None:
        """Keep the application's settings and what would be replaced."""
        super().__init__("the application's push is set up for another receiver")
        self.config = config
        self.conflicts = conflicts


def _links(value: object) -> tuple[str, ...]:
    """Return the push links of a ``pushUrls`` or a ``pushURL`` given as a list."""
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list):
        return tuple(item for item in value if isinstance(item, str) and item)
    return ()


class _Undelivered(Exception):
    """The sink raised while taking a push: it was not handed over."""


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
        self._api = JsonApi(
            session,
            URL(url.strip()),
            errors=ERRORS,
            timeout=request_timeout,
            headers={"X-Access-Token": token},
        )
        self.app_id = app_id
        self._sink: Sink | None = None
        self._seen: OrderedDict[tuple[str, int | None, int | None], None] = OrderedDict()
        self._pushed: set[str] = set()
        self._listed: list[str] = []
        self._places: dict[str, tuple[str, str | None]] = {}
        """DevEUI → the device's region and subnet (device/list), for multicast groups."""
        self._log = ThrottledLog(_LOGGER)

    @property
    def host(self) -> str:
        """The API's host, safe to show."""
        return self._api.host

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

        ``batch_key`` names the identifier of a batch answer's per-item errors (then in a
        BatchRefused).
        """
        answer = await self._api.request(
            method,
            path,
            params={key: str(value) for key, value in (params or {}).items()},
            json=json,
        )
        document = as_dict(answer, path)
        code = document.get("code")
        if code == 0:
            return document
        if not isinstance(code, int) or isinstance(code, bool):
            raise ProtocolError(f"{path}: the answer has no response code")
        message = document.get("msg")
        refusals = item_refusals(document, batch_key) if batch_key else {}
        details = "; ".join(f"{key}: {words}" for key, (_, words) in refusals.items()) or None
        error = code_error(code, message if isinstance(message, str) else None, details)
        if refusals and isinstance(error, InvalidRequest):
            raise BatchRefused(error, refusals)
        raise error

    async def _pages(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> list[Mapping[str, Any]]:
        """
        Return every item of a paged list (``amount`` tells how many there are).

        An item that is not an object is skipped (logged); the others are kept.
        """
        items: list[Mapping[str, Any]] = []
        previous: list[Any] = []
        count = 0
        for page in range(1, MAX_PAGES + 1):
            document = await self._call(
                "GET", path, params={**(params or {}), "pageNo": page, "pageSize": PAGE_SIZE}
            )
            data = document.get("data")
            batch = data if isinstance(data, list) else []
            amount = _number(document, "amount")
            if not batch or batch == previous:
                break  # past the end, or a server that ignores the page number
            previous = batch
            count += len(batch)
            for item in batch:
                if isinstance(item, Mapping):
                    items.append(item)
                else:
                    self._log.warning(f"item:{path}", "Skipped an item of %s: not an object", path)
            # The server may serve fewer items per page than asked: the total tells the end.
            finished = count >= amount if amount is not None else len(batch) < PAGE_SIZE
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
        """Return the account's applications: id → name (an application without an id skipped)."""
        applications = {}
        for item in await self._pages("app/list"):
            app_id = _number(item, "appID")
            if app_id is not None:
                applications[app_id] = _text(item, "appName") or str(app_id)
        return applications

    async def application(self) -> Mapping[str, Any]:
        """Return the application's status: its name, push URL and headers."""
        document = await self._call("GET", "app/status", params={"appID": self._app()})
        return as_dict(document.get("data"), "app/status")

    async def push_config(self) -> PushConfig:
        """
        Return the application's push settings.

        ``app/status`` has the headers; ``pushUrls`` (3.4.18) is in its table and in the
        application list's, in neither's sample: a server that shows it in neither has the one
        push link.
        """
        status = await self.application()
        push_urls = _links(status["pushUrls"]) if "pushUrls" in status else None
        if push_urls is None:
            for item in await self._pages("app/list"):
                if _number(item, "appID") == self.app_id and "pushUrls" in item:
                    push_urls = _links(item["pushUrls"])
        headers = status.get("headers")
        return PushConfig(
            name=_text(status, "appName"),
            push_url=_text(status, "pushURL") or "",
            push_urls=push_urls,
            headers={
                name: value
                for name, value in (headers.items() if isinstance(headers, Mapping) else ())
                if isinstance(name, str)
            },
            mqtt=bool(_flag(status, "enableMQTT")),
        )

    def _update(self, config: PushConfig) -> dict[str, Any]:
        """Return the ``app/update`` body that makes the application as ``config`` shows it."""
        body: dict[str, Any] = {"appID": self._app()}
        if config.name is not None:
            body["appName"] = config.name
        body |= {"enableMQTT": config.mqtt, "pushURL": config.push_url}
        if config.push_urls is not None:
            body["pushUrls"] = list(config.push_urls)
        body["headers"] = dict(config.headers)
        return body

    async def configure_push(
        self, url: str, header: str, value: str, *, replace: Collection[str] = ()
    ) -> dict[str, Any]:
        """
        Make the application push to ``url`` with ``header: value``, keeping what it has.

        The link goes beside the application's others (``pushUrls``), or becomes its one push
        link where none is set; the header joins the user's. What would be replaced or turned
        off (a push link, MQTT, a header of the same name) is done only when in ``replace``
        (the user agreed): otherwise PushConflict. Returns what the entry keeps to undo it.
        """
        config = await self.push_config()
        if config.headers_full(header):
            raise InvalidRequest(
                f"the application already has {MAX_PUSH_HEADERS} custom headers",
                key="push_headers_full",
            )
        conflicts = config.conflicts(url, header, value)
        if conflicts - set(replace):
            raise PushConflict(config, conflicts)
        headers = {
            name: given for name, given in config.headers.items() if name.lower() != header.lower()
        }
        wanted = PushConfig(
            name=config.name,
            push_url=config.push_url if config.push_urls is not None and config.push_url else url,
            push_urls=None
            if config.push_urls is None
            else tuple(dict.fromkeys([*config.push_urls, url])),
            headers=headers | {header: value},
            mqtt=False,
        )
        await self._call("POST", "app/update", json=self._update(wanted))
        # pushUrls is not among app/update's documented fields: check that it was kept.
        kept = await self.push_config()
        if url not in kept.links or kept.headers.get(header) != value or kept.mqtt:
            raise InvalidRequest(
                "IoTSquare did not keep the push link or header", key="push_not_kept"
            )
        return {PUSH_MQTT_WAS_ON: MQTT_ON in conflicts}

    async def remove_push(self, push_id: str, value: str, *, mqtt_was_on: bool = False) -> bool:
        """
        Take the entry's push link (the one ending in ``push_id``) and header off the application.

        Everything else stays; MQTT is turned on again if it was turned off for the push. Returns
        whether there was anything of the entry's to remove.
        """
        config = await self.push_config()

        def ours(link: str) -> bool:
            try:
                path = URL(link).path
            except ValueError:  # a link that is not even a URL: not the entry's
                return False
            return path.rstrip("/").endswith(f"/{push_id}")

        link_ours = bool(config.push_url) and ours(config.push_url)
        others = tuple(link for link in config.push_urls or () if not ours(link))
        links_ours = config.push_urls is not None and others != config.push_urls
        headers = {name: given for name, given in config.headers.items() if given != value}
        if not (link_ours or links_ours or headers != config.headers):
            return False
        await self._call(
            "POST",
            "app/update",
            json=self._update(
                PushConfig(
                    name=config.name,
                    push_url="" if link_ours else config.push_url,
                    push_urls=None if config.push_urls is None else others,
                    headers=headers,
                    mqtt=config.mqtt or (mqtt_was_on and (link_ours or links_ours)),
                )
            ),
        )
        return True

    def _app(self) -> int:
        if self.app_id is None:
            raise InvalidRequest("no application chosen")
        return self.app_id

    # --- devices ----------------------------------------------------------------------------

    async def list_devices(self) -> list[ServerDevice]:
        """
        Return the application's devices, each with the class it was created for.

        A device whose status is refused or malformed is listed without its class; a server
        that is busy or refuses the token fails the listing.
        """
        listed = await self._pages("device/list", {"appID": self._app()})
        devices: list[ServerDevice] = []
        for item in listed:
            try:
                device = device_from_list(item)
            except ProtocolError as err:
                self._log.warning("list", "Skipped a device IoTSquare lists: %s", err)
                continue
            devices.append(device)
            if region := _text(item, "region"):
                self._places[device.dev_eui] = (region, _text(item, "subnet"))
        limit = asyncio.Semaphore(STATUS_REQUESTS)

        async def add_class(device: ServerDevice) -> None:
            async with limit:
                try:
                    document = await self._call(
                        "GET", "device/status", params={"devEUI": device.dev_eui.lower()}
                    )
                except (InvalidRequest, ProtocolError) as err:
                    if err.code != 4001:  # 4001: deleted since it was listed
                        self._log.warning(
                            "status", "Listed %s without its class: %s", device.dev_eui, err
                        )
                    return
            status = document.get("data")
            if isinstance(status, Mapping):
                device.device_class = _lenient(lambda: class_from_status(status), "class")
                device.app_eui = _hex_field(status, "appEUI", 16)
                device.activation = _text(status, "authType")

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
            try:
                sink.uplink(uplink)
            except Exception:  # one uplink refused: the others are still seeded
                _LOGGER.exception("Could not deliver the latest uplink of %s", uplink.dev_eui)

    async def accept_push(self, topic: str, body: Any, limit: float) -> bool:
        """
        Take one push (``topic`` is the sub-path: uplink, join...); False when not taken.

        A malformed push is dropped (and answered as taken: sending it again would not help).
        When the sink raises, the push was not handed over: False, so that IoTSquare sends it
        again (the items handed over before are then dropped as replays).
        """
        sink = self._sink
        if sink is None:
            return False
        for item in body if isinstance(body, list) else [body]:
            try:
                self._push(sink, topic, as_dict(item, "push"))
            except ProtocolError as err:
                self._log.warning("push", "Dropped a malformed %s push: %s", topic, err)
            except _Undelivered as err:
                self._log.warning(
                    "deliver", "Could not hand over the %s push: %r", topic, err.__cause__
                )
                return False
        return True

    @staticmethod
    def _deliver[**P](call: Callable[P, None], *args: P.args, **kwargs: P.kwargs) -> None:
        """Hand something to the sink; its failure is _Undelivered (the push is not taken)."""
        try:
            call(*args, **kwargs)
        except Exception as err:
            raise _Undelivered from err

    def _push(self, sink: Sink, topic: str, envelope: Mapping[str, Any]) -> None:
        app_id = _number(envelope, "appID")
        if app_id is not None and app_id != self.app_id:
            return  # another application's push
        kind = topic if topic in PUSH_KINDS else _text(envelope, "type")
        if kind == "uplink":
            uplink = uplink_from_push(envelope)
            time_ms = _lenient(lambda: as_int(envelope.get("time"), "time"), "time")
            key = (uplink.dev_eui, uplink.f_cnt, time_ms)
            if key in self._seen:
                return  # a replay
            if uplink.device_class is not None:
                self._deliver(
                    sink.device_updated,
                    ServerDevice(dev_eui=uplink.dev_eui, device_class=uplink.device_class),
                )
            self._deliver(sink.uplink, uplink)
            # Remembered only once delivered: a push the sink refused comes again, and is taken.
            self._seen[key] = None
            if len(self._seen) > SEEN_MEMORY:
                self._seen.popitem(last=False)
            self._pushed.add(uplink.dev_eui)
        elif kind == "join":
            dev_eui = eui(envelope.get("devEUI"), "devEUI")
            data = envelope.get("data")
            address = _hex_field(data, "devAddr", 8) if isinstance(data, Mapping) else None
            if address:
                self._deliver(sink.device_updated, ServerDevice(dev_eui=dev_eui, dev_addr=address))
            self._deliver(sink.joined, JoinInfo(dev_eui=dev_eui, status="joined", dev_addr=address))
        elif kind == "multicast":
            self._deliver(sink.downlink_status, status_from_multicast_push(envelope))
        else:
            _LOGGER.debug("Ignored an IoTSquare %s push", kind)

    # --- downlinks --------------------------------------------------------------------------

    @staticmethod
    def _check_port(f_port: int) -> None:
        if f_port == _RESERVED_PORT:
            raise InputError(
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
        f_cnt = _number(answer, "fCnt")
        if f_cnt is None:
            # Queued all the same: reporting a failure would have it sent twice.
            _LOGGER.warning("IoTSquare queued a downlink to %s without its fCnt", downlink.dev_eui)
        elif self._sink is not None:
            self._sink.device_updated(ServerDevice(dev_eui=downlink.dev_eui, downlink_f_cnt=f_cnt))
        return DownlinkResult(message_id=None, state=DownlinkState.QUEUED, f_cnt=f_cnt)

    async def set_device_class(self, dev_eui: str, device_class: LoRaClass) -> None:
        """IoTSquare fixes a device's class when it is created."""
        raise Unsupported(
            "IoTSquare changes a device's class only by re-creating it",
            key="class_change_recreate",
        )

    # --- multicast groups (the account's; a group holds class C devices of one region) -----

    def _place(self, dev_euis: Sequence[str]) -> tuple[str, str | None]:
        """
        Return the region and subnet for a group of ``dev_euis`` (else of every device).

        A group takes devices of one region and subnet (7.1): one subnet shared by them all
        is the group's; otherwise the group's subnet is automatic.
        """
        places = [self._places[d] for d in dev_euis if d in self._places] or list(
            self._places.values()
        )
        regions = {region for region, _ in places}
        if len(regions) != 1:
            raise InputError(
                "the devices do not share one region",
                key="multicast_region_unknown",
                details={"regions": ", ".join(sorted(regions)) or "-"},
            )
        subnets = {subnet for _, subnet in places}
        subnet = subnets.pop() if len(subnets) == 1 else None
        return regions.pop(), None if subnet in (None, "auto") else subnet

    async def create_multicast_group(self, setup: MulticastSetup) -> MulticastGroup:
        """
        Create a manually configured class C group, then add its members.

        The session is the one given, or one generated here; the group returned carries the
        session IoTSquare shows for it (what the devices must be given) and the members that
        joined; each refused member is in its states, with IoTSquare's reason. The group's id
        is its EUI.
        """
        check_multicast_setup(self.name, setup, names=True)
        name = setup.name or ""
        if setup.device_class is not LoRaClass.C:
            raise InputError("IoTSquare multicast groups are class C", key="multicast_class_c_only")
        _check_group_name(name)
        region, subnet = self._place(setup.dev_euis)
        keys = setup.keys or MulticastKeys.generate()
        mc_eui = secrets.token_hex(8)
        # As the document's manual sample (6.2.2), with enableMQTT, which its table requires.
        body: dict[str, Any] = {
            "mcName": name,
            "mcEUI": mc_eui,
            "region": region,
            "subnet": subnet or "auto",
        }
        if subnet is None:
            body["autoSubnet"] = True
        body |= {
            "class": "C",
            "enableMCRemote": False,
            "mcAddr": keys.address.lower(),
            "mcAppSKey": keys.app_s_key.lower(),
            "mcNwkSKey": keys.nwk_s_key.lower(),
            "enableMQTT": False,
        }
        await self._call("POST", "mcgroup/create", json=body)
        # The group exists from here on: nothing below may lose its session.
        try:
            document = await self._call("GET", "mcgroup/status", params={"mcEUI": mc_eui})
            status = as_dict(document.get("data"), "mcgroup/status")
        except LnsError as err:
            self._log.warning("created", "Could not read the group just created: %s", err)
            status = {}
        kept = _keys_from_status(status)
        if kept is not None and kept != keys:
            _LOGGER.warning("IoTSquare gave multicast group %s a session of its own", mc_eui)
        joined, refused = await self._bind_new(mc_eui.upper(), setup.dev_euis)
        return MulticastGroup(
            group_id=mc_eui.upper(),
            name=_text(status, "mcName") or name,
            device_class=LoRaClass.C,
            dev_euis=joined,
            states=dict.fromkeys(joined, "joined") | refused,
            keys=kept or keys,
        )

    async def _bind_new(
        self, group_id: str, dev_euis: Sequence[str]
    ) -> tuple[tuple[str, ...], dict[str, str]]:
        """Add a new group's first members: those that joined, and why each other did not."""
        if not dev_euis:
            return (), {}
        try:
            await self._members("mcdevice/create", group_id, dev_euis)
        except BatchRefused as err:
            refusals = {
                normalized: (code, words)
                for key, (code, words) in err.refusals.items()
                if (normalized := _eui(key, "devEUI"))
            }
        except LnsError as err:
            refusals = dict.fromkeys(dev_euis, (err.code, err.reason or err.key))
        else:
            refusals = {}
        refused = {}
        for dev_eui in dev_euis:
            code, words = refusals.get(dev_eui, (_ALREADY_MEMBER, ""))
            if code != _ALREADY_MEMBER:  # not refused, or a member already
                refused[dev_eui] = f"refused: {words}"
        for dev_eui, words in refused.items():
            self._log.warning(
                f"member:{dev_eui}",
                "IoTSquare did not add %s to the new multicast group %s: %s",
                dev_eui,
                group_id,
                words,
            )
        return tuple(dict.fromkeys(d for d in dev_euis if d not in refused)), refused

    @staticmethod
    def _group(group_id: str) -> str:
        try:
            return eui(group_id, "group").lower()
        except ProtocolError:
            raise InputError(
                f"{group_id} is not a multicast group EUI",
                key="invalid_group_id",
                details={"group_id": group_id},
            ) from None

    async def _group_status(self, group: str) -> Mapping[str, Any]:
        document = await self._call("GET", "mcgroup/status", params={"mcEUI": group})
        return as_dict(document.get("data"), "mcgroup/status")

    async def rename_multicast_group(self, group_id: str, name: str) -> None:
        """
        Rename the group; ``mcgroup/update`` also gets what its table requires of the group.

        A manually configured group: its address and keys, and enableMQTT (6.2.4). One with
        remote set-up: its push link, headers, MQTT flag and time slice. All as
        ``mcgroup/status`` shows them, so nothing else changes.
        """
        _check_group_name(name)
        group = self._group(group_id)
        status = await self._group_status(group)
        body: dict[str, Any] = {"mcEUI": group, "mcName": name}
        if _flag(status, "enableMCRemote"):
            # The table says pushURL became an array (3.3.65); the samples (status and update)
            # show a string: it is sent back in the form the status shows.
            if isinstance(push := status.get("pushURL"), str | list):
                body["pushURL"] = push
            if isinstance(headers := status.get("headers"), Mapping):
                body["headers"] = dict(headers)
            if (slot := _number(status, "timeSlotLength")) is not None:
                body["timeSlotLength"] = slot  # unchanged (its sample sends it, 6.2.4)
        else:
            keys = _keys_from_status(status)
            if keys is None:
                raise ProtocolError(
                    "IoTSquare shows the group without its address and keys, which a rename sends"
                )
            body |= {
                "mcAddr": keys.address.lower(),
                "mcAppSKey": keys.app_s_key.lower(),
                "mcNwkSKey": keys.nwk_s_key.lower(),
            }
        body["enableMQTT"] = bool(_flag(status, "enableMQTT"))
        await self._call("POST", "mcgroup/update", json=body)

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
        status = await self._group_status(group)
        states = {}
        for item in await self._pages("mcdevice/list", {"mcEUI": group}):
            member = _eui(item.get("devEUI"), "devEUI")
            if member is None:
                continue
            joined = _flag(item, "joined")
            states[member] = "unknown" if joined is None else "joined" if joined else "not joined"
        device_class = _text(status, "class")
        return MulticastGroup(
            group_id=group.upper(),
            name=_text(status, "mcName"),
            device_class=_CLASSES.get((device_class or "C").upper(), LoRaClass.C),
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
            message_id=None, state=DownlinkState.QUEUED, f_cnt=_number(answer, "fCnt")
        )

    # --- firmware updates over the air (file transfer to a multicast group) ---------------

    async def start_fuota(self, request: FuotaRequest) -> str:
        """
        Start a file transfer to the group; return ``<group EUI>/<task id>``.

        ``fuota/create`` takes the group, a name, the redundancy and the file: the class is
        the group's (class C), the schedule IoTSquare's own. Another class, or a start delay
        other than the action's default, is refused in words rather than ignored.
        """
        if request.group_id is None or request.dev_euis:
            raise InputError(
                "IoTSquare sends firmware to a multicast group", key="fuota_group_required"
            )
        if request.device_class is not LoRaClass.C:
            raise InputError(
                "IoTSquare sends firmware to class C multicast groups", key="fuota_class_c_only"
            )
        if request.start_delay != DEFAULT_START_DELAY:
            raise InputError(
                "IoTSquare starts a file transfer on its own schedule",
                key="fuota_start_delay_unsupported",
                details={"default": str(DEFAULT_START_DELAY)},
            )
        if not MIN_REDUNDANCY <= request.redundancy <= 1:
            raise InputError(
                "IoTSquare takes a redundancy of 0.1 to 1",
                key="fuota_redundancy_range",
                details={"minimum": f"{MIN_REDUNDANCY:g}", "maximum": "1"},
            )
        group = self._group(request.group_id)
        firmware_name = self._firmware_name()
        await self._call(
            "POST",
            "fuota/create",
            json={
                "mcEUI": group,
                "firmwareName": firmware_name,
                "payload": base64.b64encode(request.firmware).decode(),
                "redundancyPercent": request.redundancy,
            },
        )
        # The answer names no task: find it by its (unique) name.
        for item in await self._pages("fuota/list", {"mcEUI": group}):
            if item.get("firmwareName") == firmware_name and (task := _number(item, "fdID")):
                return f"{group.upper()}/{task}"
        raise ProtocolError("the file transfer created is not listed")

    @staticmethod
    def _firmware_name() -> str:
        """Return a new file transfer's name, unique: the answer to fuota/create has no id."""
        return f"lorawan_hub_{time.strftime('%Y%m%d%H%M%S')}_{secrets.token_hex(2)}"

    async def cancel_fuota(self, job_id: str) -> None:
        """Terminate a file transfer."""
        group, task = _job(job_id)
        await self._call("POST", "fuota/abort", json={"mcEUI": group, "fdID": task})

    async def fuota_status(self, job_id: str) -> FuotaStatus:
        """Return the transfer's state and how much of it the group's devices received."""
        group, task = _job(job_id)
        document = await self._call("GET", "fuota/status", params={"mcEUI": group, "fdID": task})
        status = as_dict(document.get("data"), "fuota/status")
        fragments = _number(status, "nbFrag")
        devices = await self._pages("fuota/device/list", {"mcEUI": group, "fdID": task})
        states: dict[str, int] = {}
        received = []
        for device in devices:
            state = _text(device, "state") or "Unknown"
            states[state] = states.get(state, 0) + 1
            # nbFragReceived: "string" in the table (9.4), a number in the sample: both read.
            count = _number(device, "nbFragReceived")
            if fragments and count is not None:
                received.append(min(100, count * 100 // fragments))
        return FuotaStatus(
            job_id=job_id,
            state=_text(status, "state") or "Unknown",
            percent_done=min(received) if received else None,
            result=", ".join(f"{state}: {count}" for state, count in sorted(states.items()))
            or None,
        )

    async def close(self) -> None:
        """Nothing to release (the push settings are removed only with the entry)."""
