"""
IoTSquare's OpenAPI: the API token in ``X-Access-Token``, answers ``{"code": ..., "msg": ...}``.

A code other than 0 is one of the documented response codes (appendix 10.1), each an error of
its own; a batch request refused for some items names each one (``BatchRefused``).
"""

from __future__ import annotations

from collections.abc import Mapping
import logging
from typing import Any, Final

import aiohttp
from yarl import URL

from ..base import ThrottledLog
from ..errors import (
    AuthError,
    CannotConnect,
    Forbidden,
    InputError,
    InvalidRequest,
    LnsError,
    ProtocolError,
)
from ..http import SERVER_FAILURE, JsonApi, Refusal, StatusTable
from ..parse import as_dict
from .parse import read_number

_LOGGER = logging.getLogger(__name__)

PAGE_SIZE: Final = 100
"""Items asked for per page (0/0 would return at most 200 and nothing beyond)."""
MAX_PAGES: Final = 1000
_RESERVED_PORT: Final = 200

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


def check_port(f_port: int) -> None:
    """Refuse the port IoTSquare reserves (for its own use), before anything is sent."""
    if f_port == _RESERVED_PORT:
        raise InputError(
            "IoTSquare reserves port 200",
            key="port_reserved",
            details={"port": str(f_port)},
        )


class OpenApi:
    """The OpenAPI of one IoTSquare account."""

    def __init__(
        self, session: aiohttp.ClientSession, url: str, token: str, request_timeout: float
    ) -> None:
        """Prepare requests to the API at ``url``; nothing is sent yet."""
        self._json = JsonApi(
            session,
            URL(url.strip()),
            errors=ERRORS,
            timeout=request_timeout,
            headers={"X-Access-Token": token},
        )
        self._log = ThrottledLog(_LOGGER)

    @property
    def host(self) -> str:
        """The API's host, safe to show."""
        return self._json.host

    async def call(
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
        answer = await self._json.request(
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

    async def pages(
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
            document = await self.call(
                "GET", path, params={**(params or {}), "pageNo": page, "pageSize": PAGE_SIZE}
            )
            data = document.get("data")
            batch = data if isinstance(data, list) else []
            amount = read_number(document, "amount")
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
