"""
OrbiWAN's REST API: OAuth 2.0 (password grant) or HTTP Basic, its statuses, its paged lists.

Paths are written with their segments quoted (``segment``): an identifier never names another
resource.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from enum import StrEnum
import logging
from typing import Any, Final
from urllib.parse import quote

import aiohttp
import orjson
from yarl import URL

from ..base import ThrottledLog
from ..errors import AuthError, CannotConnect, Forbidden, InputError, InvalidRequest, ProtocolError
from ..http import Credentials, JsonApi, Refusal, StatusTable
from ..oauth2 import TokenSource
from ..parse import as_dict
from .parse import STATUS_REASONS

_LOGGER = logging.getLogger(__name__)

TOKEN_CLIENT_ID: Final = "lorawan-hub"  # noqa: S105 - a client name, not a secret
"""The ``client_id`` of the password grant (the server does not register clients)."""
PAGE_SIZE: Final = 500
MAX_PAGES: Final = 1000


class AuthMode(StrEnum):
    """How requests authenticate."""

    OAUTH2 = "oauth2"
    BASIC = "basic"


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
            for status, reason in STATUS_REASONS.items()
        },
    },
    client_error=Refusal(InvalidRequest, "HTTP {status}", explanation="instead"),
    server_error=Refusal(CannotConnect, "{host} answered HTTP {status}", explanation="after"),
    explain=_problem,
)
"""The API's statuses; errors explain themselves in RFC 7807 JSON or plain text."""


def segment(value: str) -> str:
    """Quote one path segment; ``.`` and ``..`` would name another resource."""
    if value in ("", ".", ".."):
        raise InputError(
            f"{value!r} is not an OrbiWAN identifier",
            key="orbiwise_group_invalid",
            details={"name": value},
        )
    return quote(value, safe="")


class OrbiWiseRest:
    """The REST API of one OrbiWAN account, with its credentials."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        username: str,
        password: str,
        auth_mode: AuthMode,
        request_timeout: float,
    ) -> None:
        """Prepare requests to the server at ``url``; nothing is sent yet."""
        self._auth_mode = auth_mode
        self._api = JsonApi(
            session,
            URL(url.strip()),
            errors=ERRORS,
            timeout=request_timeout,
            authorize=self.authorize,
            renew=self.renew,
            accept="application/json, application/problem+json",
            encoded=True,
        )
        self._tokens = TokenSource(
            session,
            str(self.url("rest/oauth2/token")),
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

    @property
    def host(self) -> str:
        """The server's host, safe to show."""
        return self._api.host

    def url(self, path: str) -> URL:
        """Return the URL of ``path``, whose segments are already quoted (see ``segment``)."""
        return self._api.url(path)

    async def authorize(self) -> Credentials:
        """Return the ``Authorization`` of a request (a REST request or the WebSocket's)."""
        if self._auth_mode is AuthMode.BASIC:
            return Credentials({"Authorization": self._basic})
        return await self._tokens.credentials()

    async def renew(self, refused: Credentials) -> Credentials:
        """Return a new ``Authorization`` after a 401; with Basic, there is none: AuthError."""
        if self._auth_mode is AuthMode.BASIC:
            raise AuthError(f"{self.host} refused the user name or password", code=401)
        return await self._tokens.renewed(refused)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        text: str | None = None,
    ) -> Any:
        """Send one request (a JSON or plain-text body); return the JSON answer, None if empty."""
        return await self._api.request(method, path, params=params, json=json, text=text)

    async def pages(self, path: str, params: Mapping[str, str]) -> list[Mapping[str, Any]]:
        """
        Read every page of a list (``paged_results`` answers, or a plain array).

        An entry that is not an object is dropped (and reported), never the list.
        """
        query = {**params, "paged_results": "true", "limit": str(PAGE_SIZE)}
        items: list[Mapping[str, Any]] = []
        for _ in range(MAX_PAGES):
            document = await self.request("GET", path, params=query)
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
