"""
OAuth 2.0 access tokens for server-to-server APIs (RFC 6749 section 4.4 and 6).

A ``TokenSource`` obtains a token with the account's own grant (client credentials, or a
password grant), renews it with the refresh token shortly before it expires, falls back to the
account grant when the refresh token is refused (any 4xx answer), keeps the current token while
it is valid when the authorization server cannot be reached, and hands out a fresh token when the
API refused the current one. Tokens and secrets never appear in errors or logs.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
import logging
import re
import time
from typing import Any, Final

import aiohttp
import orjson
from yarl import URL

from .errors import AuthError, CannotConnect, ProtocolError
from .http import Credentials, fetch
from .parse import as_int

_LOGGER = logging.getLogger(__name__)

DEFAULT_LIFETIME: Final = 3600
"""Seconds a token is assumed to live when the server does not say."""
MAX_REFRESH_MARGIN: Final = 300.0
"""Renew at most this many seconds before expiry (and at 90 % of a short lifetime)."""
REFRESH_RETRY: Final = 30.0
"""Seconds before trying again a renewal that failed while the current token is still valid."""
MAX_ANSWER: Final = 64 * 1024
"""Bytes a token answer may have: a few hundred are expected."""
# An access token goes into an HTTP header: visible ASCII only (RFC 6750 section 2.1 is stricter).
_SENDABLE: Final = re.compile(r"[\x21-\x7e]+")

# RFC 6749 section 5.2: the errors that mean the credentials (or the refresh token) are refused.
_REFUSED: Final = frozenset(
    {"invalid_client", "invalid_grant", "unauthorized_client", "access_denied", "invalid_scope"}
)


class TokenSource:
    """Access tokens of one account at one authorization server."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        token_url: str,
        grant: Mapping[str, str],
        *,
        client: tuple[str, str] | None = None,
        timeout: float = 15.0,
    ) -> None:
        """
        Use ``grant`` (``grant_type`` and its parameters) to obtain tokens from ``token_url``.

        ``client`` (id, secret) authenticates the client with HTTP Basic, as ``curl --user`` does.
        """
        self._session = session
        self._url = URL(token_url)
        self._grant = dict(grant)
        self._headers = {"Accept": "application/json"}
        if client is not None:
            credentials = base64.b64encode(f"{client[0]}:{client[1]}".encode()).decode()
            self._headers["Authorization"] = f"Basic {credentials}"
        self._timeout = timeout
        self._lock = asyncio.Lock()
        self._access: str | None = None
        self._refresh: str | None = None
        self._renew_at = 0.0
        self._expires_at = 0.0
        self.expires_in: int | None = None
        """The lifetime the server gave the current token, in seconds."""
        self.issued = 0
        """How many tokens were obtained so far: a change tells a caller its token is fresh."""

    @property
    def host(self) -> str:
        """The authorization server's host, safe to show."""
        return self._url.host or ""

    async def token(self) -> str:
        """Return a valid access token, obtaining or renewing it when needed."""
        async with self._lock:
            now = time.monotonic()
            if self._access is not None and now < self._renew_at:
                return self._access
            if self._refresh is not None:
                try:
                    return await self._request(
                        {"grant_type": "refresh_token", "refresh_token": self._refresh}
                    )
                except AuthError:
                    pass
                except CannotConnect as err:
                    if err.code is None or not 400 <= err.code < 500:
                        if self._access is None or now >= self._expires_at:
                            raise
                        # The server is down, the token still valid: keep it, retry a bit later.
                        self._renew_at = now + min(REFRESH_RETRY, (self._expires_at - now) / 2)
                        return self._access
                # Refused (RFC 6749 section 5.2, e.g. invalid_request or invalid_grant with HTTP
                # 400): that refresh token is done for; the account's grant gets a new token.
                _LOGGER.debug("%s refused the refresh token; using the grant", self.host)
                self._refresh = None
            return await self._request(self._grant)

    async def renew(self, refused: str | None) -> str:
        """
        Return a new token after the API refused ``refused``, with the account grant.

        Several requests refused at once renew it once: whoever comes second gets the new token.
        """
        async with self._lock:
            if self._access is not None and self._access != refused:
                return self._access
            self._access = self._refresh = None
            return await self._request(self._grant)

    async def credentials(self) -> Credentials:
        """Return the ``Authorization`` of a request: a valid token, fresh when just obtained."""
        issued = self.issued
        token = await self.token()
        return Credentials({"Authorization": f"Bearer {token}"}, fresh=self.issued != issued)

    async def renewed(self, refused: Credentials) -> Credentials:
        """Return a new ``Authorization`` after the API refused the one given (see ``renew``)."""
        token = await self.renew(refused.headers.get("Authorization", "").removeprefix("Bearer "))
        return Credentials({"Authorization": f"Bearer {token}"}, fresh=True)

    def clear(self) -> None:
        """Forget the tokens (after the credentials changed)."""
        self._access = self._refresh = None

    async def _request(self, form: Mapping[str, str]) -> str:
        status, body = await fetch(
            self._session,
            "POST",
            self._url,
            headers=self._headers,
            request_timeout=self._timeout,
            data=dict(form),
            limit=MAX_ANSWER,
        )
        if body is None:
            raise ProtocolError(f"{self.host} answered more than {MAX_ANSWER} bytes")
        try:
            document: Any = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            document = {}
        if not isinstance(document, dict):
            document = {}
        if status != 200:
            error = document.get("error")
            code = error if isinstance(error, str) and error.isascii() else None
            if status in (400, 401, 403) and (status != 400 or code in _REFUSED):
                raise AuthError(
                    f"{self.host} refused the credentials"
                    + (f" ({code[:40]})" if code else f" (HTTP {status})"),
                    code=status,
                )
            raise CannotConnect(f"{self.host} answered HTTP {status}", code=status)
        access = document.get("access_token")
        if not isinstance(access, str) or not access:
            raise ProtocolError(f"{self.host} answered without an access token")
        if _SENDABLE.fullmatch(access) is None:
            raise ProtocolError(f"{self.host} answered with an access token that cannot be sent")
        try:
            lifetime = as_int(document.get("expires_in", DEFAULT_LIFETIME), "expires_in")
        except ProtocolError:
            lifetime = DEFAULT_LIFETIME
        lifetime = max(lifetime, 1)
        refresh = document.get("refresh_token")
        self._access = access
        self._refresh = refresh if isinstance(refresh, str) and refresh else None
        self.expires_in = lifetime
        self.issued += 1
        now = time.monotonic()
        self._expires_at = now + lifetime
        self._renew_at = now + lifetime - min(MAX_REFRESH_MARGIN, lifetime / 10)
        return access
