"""
The vendors' REST APIs: one authenticated JSON client.

``fetch`` sends one request and reads its answer, never more than a size limit; ``JsonApi`` adds
a vendor's credentials (renewed once when a request is refused with 401), turns each status
other than a success into the error the vendor documents for it (its ``StatusTable``) and
decodes the JSON. Redirects are never followed: credentials go only to the configured server.
An error names the server's host, never a path's query, a header or a secret.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypedDict, Unpack

import aiohttp
import orjson
from yarl import URL

from .errors import AuthError, CannotConnect, LnsError, ProtocolError

MAX_BODY: Final = 64 * 1024 * 1024
"""Bytes an answer may have unless a request says otherwise."""
JSON: Final = "application/json"


async def read_limited(content: aiohttp.StreamReader, limit: int) -> bytes | None:
    """Read a body of at most ``limit`` bytes; None as soon as it is longer (the rest unread)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in content.iter_any():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def fetch(
    session: aiohttp.ClientSession,
    method: str,
    url: URL,
    *,
    headers: Mapping[str, str],
    request_timeout: float,
    params: Mapping[str, str] | None = None,
    data: Any = None,
    limit: int = MAX_BODY,
) -> tuple[int, bytes | None]:
    """
    Send one request, redirects not followed; return its status and body (None: over ``limit``).

    Raises CannotConnect, naming only the host, when the server cannot be reached in time.
    """
    try:
        async with session.request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=request_timeout),
            allow_redirects=False,
        ) as response:
            return response.status, await read_limited(response.content, limit)
    except (aiohttp.ClientError, TimeoutError, OSError) as err:
        raise CannotConnect(f"cannot reach {url.host}: {type(err).__name__}") from None


def decode_json(body: bytes, what: str) -> Any:
    """Return the JSON of an answer, None when it is empty; ProtocolError when it is not JSON."""
    if not body.strip():
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ProtocolError(f"{what}: the answer is not JSON") from None


@dataclass(frozen=True, slots=True)
class Credentials:
    """The headers that authenticate a request."""

    headers: Mapping[str, str]
    fresh: bool = False
    """Obtained for this very request: a refusal of them is no refusal of credentials kept."""


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer other than a success, as a status table reads it."""

    method: str
    url: URL
    status: int
    body: bytes
    """Empty when the answer was too long to read."""
    fresh: bool = False
    """The request carried credentials obtained for it (see ``Credentials.fresh``)."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """What a status means: the error, its reason, and the key of a message of its own."""

    error: type[LnsError]
    reason: str
    """Words for the error; ``{host}``, ``{path}`` and ``{status}`` are filled in."""
    key: str | None = None
    explanation: Literal["instead", "after"] | None = None
    """Where the server's own explanation goes, if it gives one: instead of or after the reason."""


SERVER_FAILURE: Final = Refusal(CannotConnect, "{host} answered HTTP {status}")


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusTable:
    """How a vendor's API answers a request it does not carry out: each status's error."""

    statuses: Mapping[int, Refusal] = field(default_factory=dict)
    """The statuses the vendor documents."""
    client_error: Refusal
    """Any other 4xx."""
    server_error: Refusal = SERVER_FAILURE
    """Any other 5xx."""
    other: Refusal | None = None
    """Any other status (a redirect, which is not followed); None: as ``server_error``."""
    fresh_401: Refusal | None = None
    """
    A 401 to credentials obtained for this very request, where the vendor documents a 401 that
    refuses the request rather than the credentials; None: a 401 like any other.
    """
    explain: Callable[[bytes], str | None] | None = None
    """Return the server's explanation in an answer's body (None: it gives none)."""

    def refusal(self, reply: Reply) -> Refusal:
        """Return what the answer's status means."""
        status = reply.status
        if status == 401 and reply.fresh and self.fresh_401 is not None:
            return self.fresh_401
        if (known := self.statuses.get(status)) is not None:
            return known
        if 400 <= status < 500:
            return self.client_error
        if 500 <= status < 600 or self.other is None:
            return self.server_error
        return self.other

    def error(self, reply: Reply, secrets: Sequence[str] = ()) -> LnsError:
        """Return the error the answer stands for; ``secrets`` never appear in its reason."""
        refusal = self.refusal(reply)
        reason = refusal.reason.format(
            host=reply.url.host or "", path=reply.url.path, status=reply.status
        )
        if refusal.explanation is not None and self.explain is not None:
            body = reply.body
            for secret in secrets:
                if secret:  # a server that echoes the request must not show a secret
                    body = body.replace(secret.encode(), b"***")
            if detail := self.explain(body):
                reason = detail if refusal.explanation == "instead" else f"{reason}: {detail}"
        return refusal.error(reason, key=refusal.key, code=reply.status)


class Options(TypedDict, total=False):
    """What one request may carry besides its method and path (see ``JsonApi.read``)."""

    params: Mapping[str, str] | None
    json: Any
    text: str | None
    form: aiohttp.FormData | None
    expect: Collection[int] | None
    errors: StatusTable | None
    """The request's own statuses (the API's when None)."""
    limit: int | None
    """The request's own size limit (the API's when None)."""


class JsonApi:
    """
    One vendor's REST API at one server: requests with its credentials, errors by its table.

    ``headers`` go with every request; ``authorize`` returns the credentials of a request and
    ``renew`` new ones after a 401 (or raises AuthError when there are none): a request refused
    with 401 is sent once more with renewed credentials. Every other status outside 2xx is the
    error ``errors`` gives it (a request may bring a table of its own). ``secrets`` are masked
    in every explanation a server gives.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base: URL,
        *,
        errors: StatusTable,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        authorize: Callable[[], Awaitable[Credentials]] | None = None,
        renew: Callable[[Credentials], Awaitable[Credentials]] | None = None,
        accept: str = JSON,
        content_type: str = JSON,
        encoded: bool = False,
        limit: int = MAX_BODY,
        secrets: Sequence[str] = (),
    ) -> None:
        """
        Prepare requests under ``base``; ``encoded``: the paths given are quoted already.

        ``accept`` is the media type asked for, ``content_type`` the one of a JSON body.
        """
        self._session = session
        self._base = base.with_path(base.path.rstrip("/"), keep_query=False, keep_fragment=False)
        self._errors = errors
        self._timeout = timeout
        self._headers = dict(headers or {})
        self._authorize = authorize
        self._renew = renew
        self._accept = accept
        self._content_type = content_type
        self._encoded = encoded
        self._limit = limit
        self._secrets = tuple(secrets)

    @property
    def base(self) -> URL:
        """The URL every path is under."""
        return self._base

    @property
    def host(self) -> str:
        """The server's host, safe to show."""
        return self._base.host or ""

    def url(self, path: str | URL) -> URL:
        """Return the URL of ``path`` under the base (an absolute URL stays as it is)."""
        if isinstance(path, URL):
            return path
        if self._encoded:
            return self._base.with_path(f"{self._base.raw_path.rstrip('/')}/{path}", encoded=True)
        return self._base.with_path(f"{self._base.path.rstrip('/')}/{path}", encoded=False)

    async def read(self, method: str, path: str | URL, **options: Unpack[Options]) -> bytes:
        """
        Send one request (a JSON body, plain ``text`` or a ``form``) and return its answer.

        ``expect``: the successes the request documents (another is a ProtocolError; None: any
        2xx). A form goes out once: it is for an API whose credentials are not renewed.
        """
        json = options.get("json")
        text = options.get("text")
        expect = options.get("expect")
        limit = options.get("limit")
        url = self.url(path)
        headers = {"Accept": self._accept, **self._headers}
        data: Any = options.get("form")
        if json is not None:
            headers["Content-Type"] = self._content_type
            data = orjson.dumps(json)
        elif text is not None:
            headers["Content-Type"] = "text/plain"
            data = text.encode()
        credentials = await self._authorize() if self._authorize is not None else None
        table = options.get("errors") or self._errors
        renewed = False
        while True:
            sent = headers if credentials is None else {**headers, **credentials.headers}
            status, body = await fetch(
                self._session,
                method,
                url,
                headers=sent,
                request_timeout=self._timeout,
                params=options.get("params"),
                data=data,
                limit=self._limit if limit is None else limit,
            )
            if 200 <= status < 300:
                if body is None:
                    raise ProtocolError(f"{url.path}: the answer is too large")
                if expect is not None and status not in expect:
                    raise ProtocolError(f"{method} {url.path} answered HTTP {status}")
                return body
            fresh = credentials is not None and credentials.fresh
            error = table.error(Reply(method, url, status, body or b"", fresh), self._secrets)
            if (
                status == 401
                and isinstance(error, AuthError)
                and credentials is not None
                and self._renew is not None
                and not renewed
            ):
                renewed = True
                credentials = await self._renew(credentials)
                continue
            raise error

    async def request(self, method: str, path: str | URL, **options: Unpack[Options]) -> Any:
        """Send one request (as ``read``) and return the JSON answer; None when it is empty."""
        return decode_json(await self.read(method, path, **options), self.url(path).path)
