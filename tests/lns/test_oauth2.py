"""OAuth 2.0 tokens: obtained, renewed before expiry, replaced when refused, never leaked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
import pytest

from custom_components.lorawan_hub.lns.errors import AuthError, CannotConnect, ProtocolError
from custom_components.lorawan_hub.lns.oauth2 import TokenSource
from simulator.netemera import NetemeraSimulator
from simulator.server import SimulatorServer


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        """Start at 1000 s."""
        self.now = 1000.0

    def __call__(self) -> float:
        """Return the current time."""
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The clock the token source reads."""
    fake = Clock()
    monkeypatch.setattr("custom_components.lorawan_hub.lns.oauth2.time.monotonic", fake)
    return fake


@pytest.fixture
async def server() -> AsyncIterator[NetemeraSimulator]:
    """A Netemera authorization server."""
    async with NetemeraSimulator(token_lifetime=1000) as simulator:
        yield simulator


def source(
    session: aiohttp.ClientSession, server: NetemeraSimulator, secret: str | None = None
) -> TokenSource:
    """Return a client-credentials token source for the simulator."""
    return TokenSource(
        session,
        server.token_url,
        {"grant_type": "client_credentials", "audience": server.api_url},
        client=(server.client_id, secret or server.client_secret),
    )


async def test_token_is_reused_then_refreshed_before_expiry(
    http_session: aiohttp.ClientSession, server: NetemeraSimulator, clock: Clock
) -> None:
    """One grant, reused; at 90 % of its life (or 5 min before) renewed with the refresh token."""
    tokens = source(http_session, server)
    first = await tokens.token()
    assert await tokens.token() == first
    assert tokens.expires_in == 1000
    clock.now += 899
    assert await tokens.token() == first
    clock.now += 2
    second = await tokens.token()
    assert second != first
    assert server.token_requests == ["client_credentials", "refresh_token"]
    # A day-long token is renewed five minutes before it ends.
    server.token_lifetime = 86400
    tokens.clear()
    await tokens.token()
    clock.now += 86400 - 301
    await tokens.token()
    assert server.token_requests[-1] == "client_credentials"
    clock.now += 2
    await tokens.token()
    assert server.token_requests[-1] == "refresh_token"


async def test_refused_refresh_token_falls_back_to_the_grant(
    http_session: aiohttp.ClientSession, server: NetemeraSimulator, clock: Clock
) -> None:
    """A refresh token the server no longer knows: the client credentials get a new token."""
    tokens = source(http_session, server)
    await tokens.token()
    server.forget_refresh_tokens()
    clock.now += 2000
    assert await tokens.token()
    assert server.token_requests == ["client_credentials", "refresh_token", "client_credentials"]


async def test_renew_after_refusal_happens_once(
    http_session: aiohttp.ClientSession, server: NetemeraSimulator, clock: Clock
) -> None:
    """Three requests refused with the same token renew it once and share the new one."""
    tokens = source(http_session, server)
    refused = await tokens.token()
    renewed = await asyncio.gather(*(tokens.renew(refused) for _ in range(3)))
    assert len(set(renewed)) == 1
    assert renewed[0] != refused
    assert server.token_requests == ["client_credentials", "client_credentials"]


async def test_refused_credentials(
    http_session: aiohttp.ClientSession, server: NetemeraSimulator, clock: Clock
) -> None:
    """A wrong secret is an AuthError that names neither the secret nor a token."""
    tokens = source(http_session, server, secret="wrong-secret")
    with pytest.raises(AuthError) as raised:
        await tokens.token()
    assert "invalid_client" in str(raised.value)
    assert "wrong-secret" not in str(raised.value)
    assert raised.value.code == 401


async def test_unreachable_server(http_session: aiohttp.ClientSession, clock: Clock) -> None:
    """Nothing listening: CannotConnect."""
    free = SimulatorServer(web.Application())
    async with free:
        url = f"{free.base_url}/token"
    tokens = TokenSource(http_session, url, {"grant_type": "client_credentials"})
    with pytest.raises(CannotConnect):
        await tokens.token()


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (500, b"", CannotConnect),
        (503, b'{"error": "temporarily_unavailable"}', CannotConnect),
        (400, b'{"error": "invalid_request"}', CannotConnect),
        (400, b'{"error": "invalid_grant"}', AuthError),
        (403, b"<html>forbidden</html>", AuthError),
        (200, b'{"token_type": "Bearer"}', ProtocolError),
        (200, b"[1, 2]", ProtocolError),
        (200, b"not json", ProtocolError),
    ],
)
async def test_token_endpoint_answers(
    http_session: aiohttp.ClientSession,
    clock: Clock,
    status: int,
    body: bytes,
    error: type[Exception],
) -> None:
    """Server failures, refusals and answers without a token map to the right errors."""

    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=status, body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/token", answer)
    async with SimulatorServer(app) as server:
        tokens = TokenSource(http_session, f"{server.base_url}/token", {"grant_type": "x"})
        with pytest.raises(error):
            await tokens.token()


@pytest.mark.parametrize(
    ("expires_in", "lifetime"), [("600", 600), (None, 3600), ("soon", 3600), (0, 1)]
)
async def test_lifetime_forms(
    http_session: aiohttp.ClientSession,
    clock: Clock,
    expires_in: object,
    lifetime: int,
) -> None:
    """``expires_in`` as a string (as documented), missing or invalid: a sensible lifetime."""
    document: dict[str, object] = {"access_token": "a", "token_type": "Bearer"}
    if expires_in is not None:
        document["expires_in"] = expires_in

    async def answer(request: web.Request) -> web.Response:
        return web.json_response(document)

    app = web.Application()
    app.router.add_post("/token", answer)
    async with SimulatorServer(app) as server:
        tokens = TokenSource(http_session, f"{server.base_url}/token", {"grant_type": "x"})
        assert await tokens.token() == "a"
    assert tokens.expires_in == lifetime
    assert tokens.host == "127.0.0.1"


class TokenServer:
    """A token endpoint answering each grant type from a script of (status, body)."""

    def __init__(self, answers: dict[str, list[tuple[int, bytes]]]) -> None:
        """Answer each grant type with its answers in turn (the last one repeats)."""
        self.answers = answers
        self.grants: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        """Answer one token request."""
        grant = str((await request.post()).get("grant_type"))
        self.grants.append(grant)
        answers = self.answers[grant]
        status, body = answers.pop(0) if len(answers) > 1 else answers[0]
        return web.Response(status=status, body=body, content_type="application/json")

    def app(self) -> web.Application:
        """The web application serving ``/token``."""
        app = web.Application()
        app.router.add_post("/token", self.handle)
        return app


def token_body(access: str, lifetime: int = 1000) -> bytes:
    """A token answer of the document's shape."""
    return (
        b'{"access_token": "'
        + access.encode()
        + b'", "token_type": "Bearer", "expires_in": '
        + str(lifetime).encode()
        + b', "refresh_token": "R"}'
    )


@pytest.mark.parametrize(
    "refusal",
    [
        b'{"error": "invalid_request"}',
        b'{"error": "invalid_grant"}',
        b'{"error": "unsupported_grant_type"}',
        b"",
    ],
)
async def test_refresh_refused_with_400_falls_back_to_the_grant(
    http_session: aiohttp.ClientSession, clock: Clock, refusal: bytes
) -> None:
    """Any 400 to a refresh (invalid_request too) gets a new token with the grant, once."""
    server = TokenServer(
        {
            "client_credentials": [(200, token_body("first")), (200, token_body("second"))],
            "refresh_token": [(400, refusal)],
        }
    )
    async with SimulatorServer(server.app()) as http:
        tokens = TokenSource(
            http_session, f"{http.base_url}/token", {"grant_type": "client_credentials"}
        )
        assert await tokens.token() == "first"
        clock.now += 2000
        assert await tokens.token() == "second"
        assert await tokens.token() == "second"
    assert server.grants == ["client_credentials", "refresh_token", "client_credentials"]


async def test_refresh_failing_on_the_server_keeps_a_valid_token(
    http_session: aiohttp.ClientSession, clock: Clock
) -> None:
    """
    The authorization server failing at renewal time: the token, still valid, is kept.

    The renewal is tried again a little later, not at every call; once the token has
    expired the failure is reported.
    """
    server = TokenServer(
        {
            "client_credentials": [(200, token_body("first"))],
            "refresh_token": [(503, b""), (503, b""), (200, token_body("renewed"))],
        }
    )
    async with SimulatorServer(server.app()) as http:
        tokens = TokenSource(
            http_session, f"{http.base_url}/token", {"grant_type": "client_credentials"}
        )
        assert await tokens.token() == "first"
        clock.now += 950  # past the renewal point (900 s), before expiry (1000 s)
        assert await tokens.token() == "first"
        assert await tokens.token() == "first"
        assert server.grants == ["client_credentials", "refresh_token"]
        clock.now += 30
        assert await tokens.token() == "first"
        assert server.grants == ["client_credentials", "refresh_token", "refresh_token"]
        clock.now += 30  # expired
        assert await tokens.token() == "renewed"
        server.answers["refresh_token"] = [(503, b"")]
        clock.now += 2000
        with pytest.raises(CannotConnect):
            await tokens.token()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (token_body("bad\\ntoken"), "cannot be sent"),
        (token_body("caf\u00e9"), "cannot be sent"),
        (token_body("two words"), "cannot be sent"),
        (b'{"access_token": "' + b"x" * 70_000 + b'"}', "more than 65536 bytes"),
    ],
    ids=["newline", "not-ascii", "space", "too-large"],
)
async def test_token_answers_that_cannot_be_used(
    http_session: aiohttp.ClientSession, clock: Clock, body: bytes, message: str
) -> None:
    """A token no header can carry, or an answer far too large, is a protocol error."""
    server = TokenServer({"client_credentials": [(200, body)]})
    async with SimulatorServer(server.app()) as http:
        tokens = TokenSource(
            http_session, f"{http.base_url}/token", {"grant_type": "client_credentials"}
        )
        with pytest.raises(ProtocolError, match=message) as raised:
            await tokens.token()
    assert "bad" not in str(raised.value)


async def test_issued_counts_tokens(
    http_session: aiohttp.ClientSession, server: NetemeraSimulator, clock: Clock
) -> None:
    """``issued`` changes exactly when a new token was obtained."""
    tokens = source(http_session, server)
    assert tokens.issued == 0
    first = await tokens.token()
    await tokens.token()
    assert tokens.issued == 1
    await tokens.renew(first)
    assert tokens.issued == 2
