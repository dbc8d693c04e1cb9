"""The one authenticated JSON client: credentials renewed once, statuses by table, capped reads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import aiohttp
from aiohttp import web
import pytest
from yarl import URL

from custom_components.lorawan_hub.lns.errors import (
    AuthError,
    CannotConnect,
    Forbidden,
    InvalidRequest,
    LnsError,
    ProtocolError,
)
from custom_components.lorawan_hub.lns.http import (
    Credentials,
    JsonApi,
    Refusal,
    StatusTable,
)
from simulator.server import SimulatorServer

TABLE = StatusTable(
    statuses={
        401: Refusal(AuthError, "{host} refused the key"),
        403: Refusal(Forbidden, "may not", explanation="instead"),
        404: Refusal(InvalidRequest, "{path} does not exist", key="not_found"),
    },
    client_error=Refusal(InvalidRequest, "HTTP {status}", explanation="instead"),
    other=Refusal(InvalidRequest, "redirected with HTTP {status}"),
    explain=lambda body: body.decode()[:12] or None,
)


class Api:
    """A server that answers each path as the test says, and records what it was sent."""

    def __init__(self) -> None:
        """Answer nothing until told."""
        self.answers: dict[str, list[Callable[[], web.StreamResponse]]] = {}
        self.requests: list[web.Request] = []
        self.bodies: list[bytes] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/api/{path:.*}", self._answer)

    def answer(self, path: str, *responses: Callable[[], web.StreamResponse]) -> None:
        """Answer ``path`` with what ``responses`` make, one per request (the last one again)."""
        self.answers[path] = list(responses)

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        self.bodies.append(await request.read())
        answers = self.answers[request.match_info["path"]]
        return (answers.pop(0) if len(answers) > 1 else answers[0])()


@pytest.fixture
async def api() -> AsyncIterator[tuple[Api, URL]]:
    """The server, and the base URL of its API."""
    server = Api()
    async with SimulatorServer(server.app) as running:
        yield server, URL(f"{running.base_url}/api")


class Keys:
    """Credentials that are handed out and renewed: ``old`` first, ``new`` once renewed."""

    def __init__(self, *, fresh: bool = False) -> None:
        """Hand out ``old`` (obtained for the request when ``fresh``)."""
        self.fresh = fresh
        self.renewed: list[Credentials] = []

    async def authorize(self) -> Credentials:
        """Return the credentials of a request."""
        return Credentials({"Authorization": "old"}, fresh=self.fresh)

    async def renew(self, refused: Credentials) -> Credentials:
        """Return new credentials."""
        self.renewed.append(refused)
        return Credentials({"Authorization": "new"}, fresh=True)


def client(session: aiohttp.ClientSession, base: URL, **kwargs: Any) -> JsonApi:
    """Return a client of the test API."""
    return JsonApi(session, base, errors=kwargs.pop("errors", TABLE), timeout=5, **kwargs)


async def test_credentials_renewed_once_on_401(
    api: tuple[Api, URL], http_session: aiohttp.ClientSession
) -> None:
    """A 401 renews the credentials and sends the request again; a second 401 is refused."""
    server, base = api
    server.answer(
        "things", partial(web.Response, status=401), partial(web.json_response, {"ok": True})
    )
    keys = Keys()
    things = client(http_session, base, authorize=keys.authorize, renew=keys.renew)
    assert await things.request("GET", "things") == {"ok": True}
    assert [r.headers["Authorization"] for r in server.requests] == ["old", "new"]
    assert keys.renewed == [Credentials({"Authorization": "old"})]

    server.answer("things", partial(web.Response, status=401))
    with pytest.raises(AuthError, match=r"127\.0\.0\.1 refused the key") as refused:
        await things.request("GET", "things")
    assert refused.value.code == 401
    assert len(server.requests) == 4  # sent once more, never a third time


async def test_refusals_that_are_no_401_are_not_renewed(
    api: tuple[Api, URL], http_session: aiohttp.ClientSession
) -> None:
    """Only a 401 that refuses the credentials renews them; without a renew hook, none does."""
    server, base = api
    keys = Keys(fresh=True)
    table = StatusTable(
        statuses=TABLE.statuses,
        client_error=TABLE.client_error,
        fresh_401=Refusal(InvalidRequest, "the request is invalid"),
    )
    things = client(http_session, base, authorize=keys.authorize, renew=keys.renew)
    server.answer("things", partial(web.Response, status=401))
    with pytest.raises(InvalidRequest, match="the request is invalid"):
        await things.request("GET", "things", errors=table)
    server.answer("things", partial(web.Response, status=403, text="not yours"))
    with pytest.raises(Forbidden, match="not yours"):
        await things.request("GET", "things")
    assert keys.renewed == []
    server.answer("things", partial(web.Response, status=401))
    with pytest.raises(AuthError):
        await client(http_session, base, headers={"X-Key": "k"}).request("GET", "things")
    assert len(server.requests) == 3
    assert server.requests[-1].headers["X-Key"] == "k"


@pytest.mark.parametrize(
    ("status", "kind", "reason", "key"),
    [
        (404, InvalidRequest, "/api/things does not exist", "not_found"),
        (409, InvalidRequest, "queue is ful", "invalid_request"),  # the server's words
        (429, InvalidRequest, "queue is ful", "invalid_request"),
        (500, CannotConnect, "127.0.0.1 answered HTTP 500", "cannot_connect"),
        (302, InvalidRequest, "redirected with HTTP 302", "invalid_request"),
    ],
)
async def test_statuses_by_table(
    api: tuple[Api, URL],
    http_session: aiohttp.ClientSession,
    status: int,
    kind: type[LnsError],
    reason: str,
    key: str,
) -> None:
    """Each status is the table's error: documented, other 4xx, 5xx, anything else."""
    server, base = api
    server.answer(
        "things",
        partial(
            web.Response,
            status=status,
            text="queue is full",
            headers={"Location": "/api/elsewhere"},
        ),
    )
    server.answer("elsewhere", partial(web.json_response, {}))
    with pytest.raises(LnsError) as refused:
        await client(http_session, base).request("POST", "things", json={"a": 1})
    assert type(refused.value) is kind
    assert (refused.value.reason, refused.value.key, refused.value.code) == (reason, key, status)
    assert [request.path for request in server.requests] == ["/api/things"]  # never redirected


async def test_explanations_never_show_a_secret(
    api: tuple[Api, URL], http_session: aiohttp.ClientSession
) -> None:
    """A server that echoes a secret has it masked, before its words are shortened."""
    server, base = api
    table = StatusTable(
        client_error=Refusal(InvalidRequest, "HTTP {status}", explanation="after"),
        explain=TABLE.explain,
    )
    things = client(http_session, base, errors=table, secrets=("", "s3cret-key"))
    server.answer("things", partial(web.Response, status=400, text="bad s3cret-key"))
    with pytest.raises(InvalidRequest) as refused:
        await things.request("GET", "things")
    assert refused.value.reason == "HTTP 400: bad ***"
    server.answer("things", partial(web.Response, status=400))
    with pytest.raises(InvalidRequest) as refused:
        await things.request("GET", "things")
    assert refused.value.reason == "HTTP 400"


async def test_unreachable_names_only_the_host(http_session: aiohttp.ClientSession) -> None:
    """A server that cannot be reached is named by its host: never a path or query."""
    things = client(http_session, URL("http://127.0.0.1:9/api"))
    with pytest.raises(CannotConnect) as failed:
        await things.request("GET", "things", params={"key": "s3cret"})
    assert failed.value.reason == "cannot reach 127.0.0.1: ClientConnectorError"


async def test_answers_are_read_up_to_a_limit(
    api: tuple[Api, URL], http_session: aiohttp.ClientSession
) -> None:
    """A success over the limit is a protocol error; a refusal over it is the status's error."""
    server, base = api
    body = b'{"items": "' + b"x" * 100_000 + b'"}'
    server.answer("things", partial(web.Response, body=body, content_type="application/json"))
    things = client(http_session, base, limit=len(body))
    assert await things.read("GET", "things") == body
    with pytest.raises(ProtocolError, match="/api/things: the answer is too large"):
        await things.read("GET", "things", limit=len(body) - 1)
    server.answer("things", partial(web.Response, status=403, body=body))
    with pytest.raises(Forbidden) as refused:
        await things.read("GET", "things", limit=1000)
    assert refused.value.reason == "may not"  # its words were too long to read


async def test_bodies_answers_and_expected_statuses(
    api: tuple[Api, URL], http_session: aiohttp.ClientSession
) -> None:
    """JSON and text bodies go with their type; empty answers are None, others must be JSON."""
    server, base = api
    things = client(
        http_session,
        base,
        accept="application/vnd.api+json",
        content_type="application/vnd.api+json",
    )
    server.answer("things", partial(web.Response, status=204))
    assert await things.request("POST", "things", json={"a": 1}) is None
    assert server.requests[-1].headers["Content-Type"] == "application/vnd.api+json"
    assert server.requests[-1].headers["Accept"] == "application/vnd.api+json"
    assert server.bodies[-1] == b'{"a":1}'
    assert await things.request("POST", "things", text="0a0b") is None
    assert server.requests[-1].headers["Content-Type"] == "text/plain"
    assert server.bodies[-1] == b"0a0b"
    with pytest.raises(ProtocolError, match="POST /api/things answered HTTP 204"):
        await things.request("POST", "things", expect=(200, 202))
    server.answer("things", partial(web.Response, text="plain words"))
    assert await things.read("GET", "things") == b"plain words"
    with pytest.raises(ProtocolError, match="/api/things: the answer is not JSON"):
        await things.request("GET", "things")
    quoted = client(http_session, base, encoded=True)
    assert str(quoted.url("nodes/a%2Fb")).endswith("/api/nodes/a%2Fb")  # quoted by the caller
    assert str(client(http_session, base).url("nodes/a b")).endswith("/api/nodes/a%20b")
    assert quoted.url(base / "other") == base / "other"
