"""
Every sample message of the Netemera document, through the client's own code.

Each sample response is served by a plain HTTP server and read by the client to what the
document says it means; each sample request is compared with what the client sends for the
matching call (method, path, headers, body). Samples of calls the integration never makes are
accounted for, each with the reason, and still read where the client has a reader for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
import json
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web
import pytest

from custom_components.lorawan_hub.lns.models import (
    Downlink,
    DownlinkState,
    LoRaClass,
)
from custom_components.lorawan_hub.lns.netemera import NetemeraClient
from custom_components.lorawan_hub.lns.netemera_parse import (
    Application,
    application_from,
    profile_class,
    resource,
)
from custom_components.lorawan_hub.lns.oauth2 import TokenSource
from custom_components.lorawan_hub.lns.sse import SseParser
from simulator.server import SimulatorServer
from tests.vendors.sink import RecordingSink

from .samples import (
    DEV_EUI,
    DOCUMENT_API,
    SampleRequest,
    SampleResponse,
    names,
    request,
    response,
)

APPLICATION = "APPLICATION_ID"
USED = {
    "token_client_credentials": "the client's token grant",
    "token_refresh_token": "the renewal before expiry",
    "applications_list": "choosing the application (config flow)",
    "application_get": "checking the credentials of an entry",
    "device_profiles_list": "device models and classes; class changes",
    "device_profile_get": "a class change when the device's profile is not listed",
    "end_devices_list": "the device list",
    "end_device_get": "a class change reads the device",
    "end_device_update": "a class change assigns the profile",
    "activation_get": "the DevAddr of each device",
    "uplinks_application": "the uplink stream",
    "downlink_send": "send_downlink",
}
UNUSED = {
    "authorize": "acting for another resource owner: the integration acts on its own behalf",
    "token_authorization_code": "the same: its answer has the shape the client reads, though",
    "application_create": "the integration creates no application",
    "application_update": "the integration changes no application",
    "application_delete": "the integration deletes no application",
    "device_profile_create": "the user creates profiles (a class change only picks one)",
    "device_profile_update": "the integration changes no profile",
    "device_profile_delete": "the integration deletes no profile",
    "end_device_create": "devices are created in the Netemera console",
    "end_device_delete": "the integration deletes no device",
    "activation_create": "devices are activated by the network or the console",
    "activation_update": "the same",
    "activation_delete": "the same",
    "uplinks_end_device": "one stream per application serves every device (same event format)",
    "downlinks_end_device": "the integration does not follow downlinks sent by others",
}


@dataclass(slots=True)
class Received:
    """One request the sample server received."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


class SampleServer:
    """A server answering each (method, path) with a sample response; it records requests."""

    def __init__(self) -> None:
        """Answer nothing yet."""
        self.routes: dict[tuple[str, str], tuple[int, dict[str, str], bytes]] = {}
        self.received: list[Received] = []
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.server = SimulatorServer(app)

    @property
    def api_url(self) -> str:
        """The document's API base URL on this server."""
        return f"{self.server.base_url}/api/v4"

    @property
    def token_url(self) -> str:
        """The document's token endpoint on this server."""
        return f"{self.server.base_url}/api/v2/oauth2/token"

    def serve(self, sample: SampleRequest, answer: SampleResponse, body: str | None = None) -> None:
        """Answer the sample request's method and path with the sample response."""
        headers = {
            key: value
            for key, value in answer.headers.items()
            if key in {"Content-Type", "Cache-Control", "Pragma"}
        }
        text = answer.body if body is None else body
        self.routes[sample.method, sample.url.path] = (
            answer.status,
            headers,
            text.encode(),
        )

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.received.append(
            Received(
                request.method,
                request.path,
                request.query_string,
                dict(request.headers),
                await request.read(),
            )
        )
        status, headers, body = self.routes.get((request.method, request.path), (404, {}, b""))
        return web.Response(status=status, headers=headers, body=body or None)

    def requests_to(self, path: str) -> list[Received]:
        """The requests received for ``path``."""
        return [received for received in self.received if received.path == path]


@pytest.fixture
async def samples() -> AsyncIterator[SampleServer]:
    """A sample server issuing the document's token."""
    server = SampleServer()
    server.serve(request("token_client_credentials"), response("token_client_credentials"))
    async with server.server:
        yield server


def client_of(session: aiohttp.ClientSession, samples: SampleServer) -> NetemeraClient:
    """A client of the document's application, with the document's client id and secret."""
    user = request("token_client_credentials").user
    assert user is not None
    client_id, _colon, secret = user.partition(":")
    return NetemeraClient(
        session,
        samples.api_url,
        samples.token_url,
        client_id=client_id,
        client_secret=secret,
        application_id=APPLICATION,
    )


def assert_sent_as(received: Received, sample: SampleRequest) -> None:
    """The client's request has the sample's method, path and headers."""
    assert received.method == sample.method
    assert received.path == sample.url.path
    for key, value in sample.headers.items():
        assert received.headers.get(key) == value, key


def test_every_sample_is_a_fixture() -> None:
    """The document's 27 request/response pairs are all here, each used or said why not."""
    assert len(names()) == 27
    assert set(names()) == USED.keys() | UNUSED.keys()
    assert not USED.keys() & UNUSED.keys()
    for name in names():
        request(name)
        response(name)


# --- authorization --------------------------------------------------------------------------


async def test_token_with_client_credentials(
    http_session: aiohttp.ClientSession, samples: SampleServer
) -> None:
    """The client asks for a token as the sample does and reads the sample's answer."""
    samples.serve(request("application_get"), response("application_get"))
    client = client_of(http_session, samples)
    await client.validate()
    sample = request("token_client_credentials")
    [asked] = samples.requests_to("/api/v2/oauth2/token")
    assert asked.method == sample.method == "POST"
    expected = sample.form()
    assert expected["audience"] == DOCUMENT_API
    expected["audience"] = samples.api_url
    assert dict(parse_qsl(asked.body.decode(), strict_parsing=True)) == expected
    assert sample.user is not None
    assert asked.headers["Authorization"] == aiohttp.encode_basic_auth(*sample.user.split(":"))
    # The token of the sample is the one the API then gets.
    assert samples.received[-1].headers["Authorization"] == "Bearer ACCESS_TOKEN"


@pytest.mark.parametrize(
    "name", ["token_client_credentials", "token_authorization_code", "token_refresh_token"]
)
async def test_token_answers(http_session: aiohttp.ClientSession, name: str) -> None:
    """Every token answer of the document gives its token and lifetime."""
    server = SampleServer()
    server.serve(request(name), response(name))
    async with server.server:
        tokens = TokenSource(http_session, server.token_url, {"grant_type": "client_credentials"})
        assert await tokens.token() == "ACCESS_TOKEN"
    assert tokens.expires_in == 86400


async def test_token_refresh(
    http_session: aiohttp.ClientSession, samples: SampleServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before expiry the token is renewed with the refresh token, as the sample asks."""
    now = [1000.0]
    monkeypatch.setattr("custom_components.lorawan_hub.lns.oauth2.time.monotonic", lambda: now[0])
    sample = request("token_refresh_token")
    assert sample.user is not None
    tokens = TokenSource(
        http_session,
        samples.token_url,
        {"grant_type": "client_credentials"},
        client=(sample.user.split(":")[0], sample.user.split(":")[1]),
    )
    await tokens.token()
    now[0] += 86400
    samples.serve(sample, response("token_refresh_token"))
    assert await tokens.token() == "ACCESS_TOKEN"
    refresh = samples.received[-1]
    assert refresh.method == sample.method
    assert dict(parse_qsl(refresh.body.decode(), strict_parsing=True)) == sample.form()
    assert refresh.headers["Authorization"] == aiohttp.encode_basic_auth(*sample.user.split(":"))


def test_authorize_sample() -> None:
    """The authorization-code redirect: a 302 to the redirect URI with the code (not used)."""
    answer = response("authorize")
    assert answer.status == 302
    assert answer.headers["Location"] == "REDIRECT_URI?code=AUTHORIZATION_CODE"
    assert request("authorize").url.query["response_type"] == "code"
    assert request("token_authorization_code").form() == {
        "grant_type": "authorization_code",
        "code": "AUTHORIZATION_CODE",
    }


# --- applications -----------------------------------------------------------------------------


async def test_applications(http_session: aiohttp.ClientSession, samples: SampleServer) -> None:
    """The application list and one application, asked and read as the samples show."""
    for name in ("applications_list", "application_get"):
        samples.serve(request(name), response(name))
    client = client_of(http_session, samples)
    assert await client.list_applications() == [Application(APPLICATION, "test")]
    assert_sent_as(samples.received[-1], request("applications_list"))
    await client.validate()
    assert_sent_as(samples.received[-1], request("application_get"))
    assert application_from(resource(response("application_get").json(), "application")) == (
        Application(APPLICATION, "test")
    )


@pytest.mark.parametrize("name", ["application_create", "application_update"])
def test_application_writes(name: str) -> None:
    """The answers to writes the integration never makes read as the same application."""
    answer = response(name)
    assert answer.status == 201
    assert application_from(resource(answer.json(), "application")) == Application(
        APPLICATION, "test"
    )
    assert request(name).json()["data"]["type"] == "application"


# --- device profiles, end-devices, activations -----------------------------------------------


async def test_device_list(http_session: aiohttp.ClientSession, samples: SampleServer) -> None:
    """
    The end-device list, the profiles and the activation of the samples.

    The device is named "test", its model is its profile's name, class C (the profile supports
    B and C), its DevAddr the activation's "0000000" (seven digits, zero-padded), its profile
    the end-device's ``deviceProfileId``. No key goes anywhere.
    """
    activation = request("activation_get")
    for name in ("end_devices_list", "device_profiles_list", "activation_get"):
        samples.serve(request(name), response(name))
    devices = await client_of(http_session, samples).list_devices()
    assert [
        (d.dev_eui, d.name, d.model, d.device_class, d.dev_addr, d.activation, d.profile)
        for d in devices
    ] == [
        (DEV_EUI.upper(), "test", "test", LoRaClass.C, "00000000", "activated", "DEVICE_PROFILE_ID")
    ]
    assert "0000000000" not in repr(devices)
    assert_sent_as(
        samples.requests_to(request("end_devices_list").url.path)[0], request("end_devices_list")
    )
    assert_sent_as(
        samples.requests_to(request("device_profiles_list").url.path)[0],
        request("device_profiles_list"),
    )
    assert_sent_as(samples.requests_to(activation.url.path)[0], activation)


@pytest.mark.parametrize(
    "name",
    [
        "device_profiles_list",
        "device_profile_get",
        "device_profile_create",
        "device_profile_update",
    ],
)
def test_device_profile_answers(name: str) -> None:
    """Every profile answer reads as the sample's profile: classes B and C, so class C."""
    profiles = [resource(response(name).json(), "device-profile")]
    assert [profile_class(profile) for profile in profiles] == [LoRaClass.C]
    assert profiles[0]["deviceProfileId"] == "DEVICE_PROFILE_ID"


async def test_class_change(http_session: aiohttp.ClientSession, samples: SampleServer) -> None:
    """
    A class change reads the end-device and the profile, and updates the end-device.

    The update has the path, headers and body shape of the sample: the attributes the
    document does not make optional, and the name; never the root keys (optional, not ours).
    """
    profiles = response("device_profiles_list")
    listed = profiles.json()
    copy = json.loads(json.dumps(listed["data"][0]))
    copy["id"] = copy["attributes"]["deviceProfileId"] = "DEVICE_PROFILE_ID_A"
    copy["attributes"]["supportsClassB"] = copy["attributes"]["supportsClassC"] = False
    listed["data"].append(copy)
    samples.serve(request("device_profiles_list"), profiles, json.dumps(listed))
    for name in ("end_device_get", "end_device_update"):
        samples.serve(request(name), response(name))
    await client_of(http_session, samples).set_device_class(DEV_EUI.upper(), LoRaClass.A)
    sample = request("end_device_update")
    [update] = [received for received in samples.received if received.method == "PATCH"]
    assert_sent_as(update, sample)
    assert_sent_as(
        samples.requests_to(request("end_device_get").url.path)[0], request("end_device_get")
    )
    sent = json.loads(update.body)
    expected = sample.json()
    attributes = expected["data"].pop("attributes")
    assert {key: value for key, value in sent["data"].items() if key != "attributes"} == expected[
        "data"
    ]
    assert sent["data"]["attributes"] == {
        key: attributes[key] for key in ("devEui", "name", "applicationId")
    } | {"deviceProfileId": "DEVICE_PROFILE_ID_A"}
    assert set(attributes) - set(sent["data"]["attributes"]) == {"nwkKey", "appKey"}
    # The document's profile is read alone when the list lacks it.
    samples.serve(request("device_profiles_list"), profiles, '{"data": []}')
    samples.serve(request("device_profile_get"), response("device_profile_get"))
    await client_of(http_session, samples).set_device_class(DEV_EUI.upper(), LoRaClass.C)
    assert_sent_as(
        samples.requests_to(request("device_profile_get").url.path)[0],
        request("device_profile_get"),
    )


@pytest.mark.parametrize(
    "name",
    [
        "end_device_create",
        "end_device_update",
        "activation_create",
        "activation_update",
    ],
)
def test_write_answers_are_bare(name: str) -> None:
    """Writes are answered "201 Created" without a body (the tables say "202 Created")."""
    answer = response(name)
    assert (answer.status, answer.body) == (201, "")
    assert request(name).json()["data"]["id"] == DEV_EUI


@pytest.mark.parametrize(
    "name",
    [
        "application_delete",
        "device_profile_delete",
        "end_device_delete",
        "activation_delete",
    ],
)
def test_deletes(name: str) -> None:
    """Deletes are answered "204 No Content"."""
    assert request(name).method == "DELETE"
    assert (response(name).status, response(name).body) == (204, "")


# --- uplinks and downlinks ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "uplinks_application",
            [
                ("70B3D5CA40000031", 51, 1, 1, "DR0", 12, 868.3, -116.0, -15.2, b"\x20\x0a"),
                ("70B3D5CA40000032", 53, 11, 123, "DR1", 11, 868.2, -80.0, -11.5, b"\x00\x1f"),
            ],
        ),
        (
            "uplinks_end_device",
            [
                ("70B3D5CA40000031", 51, 1, 1, "DR1", 11, 868.3, -116.0, -15.2, b"\x05\xf0"),
                ("70B3D5CA40000031", 53, 11, 123, "DR0", 12, 868.2, -80.0, -11.5, b"\xaa\xf0"),
            ],
        ),
    ],
)
async def test_uplink_streams(
    http_session: aiohttp.ClientSession,
    samples: SampleServer,
    name: str,
    expected: list[tuple[Any, ...]],
    recording_sink: RecordingSink,
) -> None:
    """
    The stream samples, exactly as printed, give their two uplinks and the event ids.

    The JSON lines after ``data:`` carry no prefix in the document: they are read as the
    data's continuation. The printed stream stops before the blank line ending its last event;
    the server sends it. The stream request has the sample's headers, its stored position as
    ``Last-Event-ID``.
    """
    sample = request("uplinks_application")
    answer = response(name)
    samples.serve(sample, answer, answer.body + "\n")
    recording_sink.position = sample.headers["Last-Event-ID"]
    task = asyncio.create_task(client_of(http_session, samples).run(recording_sink))
    async with asyncio.timeout(10):
        await recording_sink.wait_for(lambda: len(recording_sink.uplinks) == 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [
        (
            u.dev_eui,
            u.received_at.second,
            u.f_port,
            u.f_cnt,
            u.data_rate,
            u.spreading_factor,
            u.frequency,
            u.rssi,
            u.snr,
            u.payload,
        )
        for u in recording_sink.uplinks
    ] == expected
    assert recording_sink.uplinks[0].received_at == datetime(
        2016, 10, 31, 21, 41, 51, 765598, tzinfo=UTC
    )
    assert [g.gateway_id for g in recording_sink.uplinks[0].gateways] == ["7276FF002E0400E8"]
    assert [u.ack for u in recording_sink.uplinks] == [False, False]
    assert recording_sink.positions == ["AAABWByxABU=", "AAABWByxB+U="]
    assert_sent_as(samples.requests_to(sample.url.path)[0], sample)


async def test_downlink(http_session: aiohttp.ClientSession, samples: SampleServer) -> None:
    """The sample downlink is what the client sends, exactly; its bare 202 means queued."""
    sample = request("downlink_send")
    samples.serve(sample, response("downlink_send"))
    result = await client_of(http_session, samples).send_downlink(
        Downlink(dev_eui=DEV_EUI.upper(), f_port=2, payload=b"\x00\x00", confirmed=False)
    )
    assert (result.message_id, result.state) == (None, DownlinkState.QUEUED)
    sent = samples.requests_to(sample.url.path)[0]
    assert_sent_as(sent, sample)
    assert json.loads(sent.body) == sample.json()


def test_downlink_stream_sample() -> None:
    """The downlink stream sample: two Downlink Packets and two keep-alives (not followed)."""
    parser = SseParser(continuation_lines=True)
    events = parser.feed((response("downlinks_end_device").body + "\n").encode())
    packets = [json.loads(event.data) for event in events if event.data]
    assert [(p["devEui"], p["fPort"], p["confirmed"], p["frmPayload"]) for p in packets] == [
        (DEV_EUI, 2, False, "0000"),
        (DEV_EUI, 2, False, "0001"),
    ]
    # The sample gives both events the same id.
    assert [event.last_event_id for event in events] == ["AAABWByxABU="] * 4
    assert request("downlinks_end_device").headers["Accept"] == "text/event-stream"
