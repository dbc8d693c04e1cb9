"""The Netemera client against the Netemera simulator, over real HTTP and SSE."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
import itertools
import logging
from typing import Any
from unittest.mock import patch

import aiohttp
from aiohttp import web
import orjson
import pytest

from custom_components.lorawan_hub.lns.base import Backoff
from custom_components.lorawan_hub.lns.errors import (
    AuthError,
    CannotConnect,
    Forbidden,
    InvalidRequest,
    ProtocolError,
    Unsupported,
)
from custom_components.lorawan_hub.lns.models import (
    Capability,
    Downlink,
    DownlinkMode,
    DownlinkState,
    DownlinkStatus,
    LoRaClass,
    Uplink,
)
from custom_components.lorawan_hub.lns.netemera import LAST_DOWNLINK, NetemeraClient, api_root
from custom_components.lorawan_hub.lns.netemera_parse import (
    profile_class,
    profile_like,
    uplink_from_packet,
)
from simulator.netemera import BASE_PROFILE, MALFORMED_KINDS, NetemeraSimulator, event_id
from simulator.server import SimulatorServer
from tests.vendors.sink import RecordingSink, RunningClient, StartClient

APP = "app-1"
CLIMATE = "70B3D57ED0000001"
DOOR = "70B3D57ED0000002"
LPP_TEMPERATURE = b"\x01\x67\x00\xe6"


@pytest.fixture
async def netemera() -> AsyncIterator[NetemeraSimulator]:
    """A Netemera server with one application, two devices and profiles for each class."""
    simulator = NetemeraSimulator(keepalive=0.05)
    simulator.add_application(APP, "Building")
    simulator.add_application("app-2", "Other")
    simulator.add_device(CLIMATE, APP, name="Climate", dev_addr="260b0001")
    simulator.add_device(DOOR, APP, name="Door")
    simulator.add_device("70B3D57ED00000FF", "app-2", name="Elsewhere")
    simulator.add_profile("profile-c", name="Sensor class C", supportsClassC=True, classCTimeout=8)
    simulator.add_profile("profile-b", name="Sensor class B", supportsClassB=True, classBTimeout=8)
    simulator.add_profile("profile-other", name="Other radio", supportsClassC=True, maxEirp=16)
    async with simulator:
        yield simulator


def make_client(
    session: aiohttp.ClientSession,
    netemera: NetemeraSimulator,
    application: str | None = APP,
    **kwargs: Any,
) -> NetemeraClient:
    """Return a client of the simulator's application."""
    return NetemeraClient(
        session,
        netemera.api_url,
        netemera.token_url,
        client_id=netemera.client_id,
        client_secret=kwargs.pop("secret", netemera.client_secret),
        application_id=application,
        **kwargs,
    )


def scripted_client(
    session: aiohttp.ClientSession,
    server: SimulatorServer,
    application: str | None = "a",
    **kwargs: Any,
) -> NetemeraClient:
    """Return a client of a test's own scripted server (its API under /api/v4, tokens at /token)."""
    return NetemeraClient(
        session,
        f"{server.base_url}/api/v4",
        f"{server.base_url}/token",
        client_id="c",
        client_secret="s",
        application_id=application,
        **kwargs,
    )


class FailingSink(RecordingSink):
    """A sink with a bug: the uplink with frame counter ``fail_at`` raises, once or always."""

    def __init__(self, fail_at: int, *, always: bool = False) -> None:
        """Fail at the given uplink."""
        super().__init__()
        self._fail_at = fail_at
        self._always = always
        self.failures = 0

    def uplink(self, uplink: Uplink) -> None:
        """Record the uplink, except the failing one."""
        if uplink.f_cnt == self._fail_at and (self._always or not self.failures):
            self.failures += 1
            raise RuntimeError("bug")
        super().uplink(uplink)


class PositionBugSink(RecordingSink):
    """A sink whose first answer about the stream position raises."""

    def __init__(self) -> None:
        """Fail once."""
        super().__init__()
        self._failed = False

    def stream_position(self) -> str | None:
        """Raise the first time, then answer."""
        if not self._failed:
            self._failed = True
            raise RuntimeError("bug")
        return super().stream_position()


@pytest.fixture
async def running_netemera_client(
    http_session: aiohttp.ClientSession, netemera: NetemeraSimulator, run_client: StartClient
) -> RunningClient[NetemeraClient]:
    """A client following the application's stream."""
    running = run_client(make_client(http_session, netemera, read_timeout=5))
    async with asyncio.timeout(10):
        await netemera.wait_for_streams(1)
    return running


# --- parsing --------------------------------------------------------------------------------


def test_uplink_from_packet() -> None:
    """The document's packet: gateways strongest first, DR→SF on EU868, hex payload."""
    uplink = uplink_from_packet(
        {
            "devEui": "70b3d5ca40000031",
            "recvTime": "2016-10-31T21:41:51.765598114Z",
            "fPort": 1,
            "fCntUp": 1,
            "ack": False,
            "adr": False,
            "dataRate": 1,
            "ulFreq": 868.3,
            "gwInfo": [
                {"id": "7276ff002e0400e8", "rssi": -116.0, "snr": -15.2},
                {"id": "7276ff002e0400e9", "rssi": -80.0, "snr": 5},
                {"id": "7276ff002e0400ea", "rssi": None, "snr": None},
            ],
            "frmPayload": "05F0",
        }
    )
    assert uplink.dev_eui == "70B3D5CA40000031"
    assert uplink.received_at == datetime(2016, 10, 31, 21, 41, 51, 765598, tzinfo=UTC)
    assert (uplink.f_port, uplink.f_cnt, uplink.payload) == (1, 1, b"\x05\xf0")
    assert [gateway.gateway_id for gateway in uplink.gateways] == [
        "7276FF002E0400E9",
        "7276FF002E0400E8",
        "7276FF002E0400EA",
    ]
    assert (uplink.rssi, uplink.snr) == (-80.0, 5.0)
    assert (uplink.data_rate, uplink.spreading_factor, uplink.frequency) == ("DR1", 11, 868.3)
    assert uplink.ack is False


def test_uplink_minimal_and_other_regions() -> None:
    """No gateways, no payload, no port; outside EU868 the spreading factor stays unknown."""
    uplink = uplink_from_packet(
        {"devEui": CLIMATE, "recvTime": "2026-01-01T00:00:00Z", "fCntUp": 3, "dataRate": 0}
    )
    assert (uplink.payload, uplink.f_port, uplink.gateways, uplink.rssi) == (b"", None, (), None)
    assert uplink.spreading_factor is None
    us915 = uplink_from_packet(
        {"devEui": CLIMATE, "recvTime": "2026-01-01T00:00:00Z", "dataRate": 0, "ulFreq": 902.3}
    )
    assert (us915.data_rate, us915.spreading_factor) == ("DR0", None)


@pytest.mark.parametrize(
    "change",
    [{"devEui": "xyz"}, {"devEui": None}, {"recvTime": None}, {"frmPayload": "0G"}],
)
def test_malformed_packet(change: dict[str, Any]) -> None:
    """No device, no time or a payload that is not hex: no uplink (a ProtocolError)."""
    packet = {"devEui": CLIMATE, "recvTime": "2026-01-01T00:00:00Z", "fCntUp": 1} | change
    with pytest.raises(ProtocolError):
        uplink_from_packet(packet)


@pytest.mark.parametrize(
    ("change", "kept", "dropped"),
    [
        ({"gwInfo": {"id": "x"}}, [], ["gwInfo is not a list"]),
        (
            {"gwInfo": [{"rssi": -1}, {"id": "a1", "rssi": -90}]},
            [("A1", -90.0, None)],
            ["a gwInfo item has no id"],
        ),
        ({"gwInfo": ["x", {"id": "b2"}]}, [("B2", None, None)], ["not an object"]),
        ({"gwInfo": [{"id": 7, "rssi": -50}]}, [], ["id is not a string", "has no id"]),
        (
            {"gwInfo": [{"id": "c3", "rssi": "loud", "snr": 99}]},
            [("C3", None, None)],
            ["rssi is not a number", "snr 99"],
        ),
    ],
)
def test_bad_gateway_entries_cost_only_themselves(
    change: dict[str, Any], kept: list[tuple[str, float | None, float | None]], dropped: list[str]
) -> None:
    """A gateway entry without an id (or a bad value in one) is dropped; the uplink is kept."""
    reasons: list[str] = []
    packet = {"devEui": CLIMATE, "recvTime": "2026-01-01T00:00:00Z", "fCntUp": 1} | change
    uplink = uplink_from_packet(packet, reasons.append)
    assert [(g.gateway_id, g.rssi, g.snr) for g in uplink.gateways] == kept
    assert (uplink.dev_eui, uplink.f_cnt) == (CLIMATE, 1)
    assert len(reasons) == len(dropped)
    for reason, expected in zip(reasons, dropped, strict=True):
        assert expected in reason


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"fCntUp": "many"}, "f_cnt", "fCntUp is not an integer"),
        ({"fCntUp": -1}, "f_cnt", "fCntUp -1 is out of range"),
        ({"fPort": 300}, "f_port", "fPort 300 is out of range"),
        ({"fPort": [1]}, "f_port", "fPort is not an integer"),
        ({"dataRate": 99}, "data_rate", "dataRate 99 is out of range"),
        ({"ulFreq": 868100000}, "frequency", "ulFreq 868100000.0 is out of range"),
        ({"ulFreq": "x"}, "frequency", "ulFreq is not a number"),
        ({"ack": "maybe"}, "ack", "ack is not a boolean"),
    ],
)
def test_bad_optional_value_costs_only_itself(
    change: dict[str, Any], field: str, reason: str
) -> None:
    """A bad frame counter, port, data rate, frequency or ack flag is dropped, never the uplink."""
    reasons: list[str] = []
    packet = {
        "devEui": CLIMATE,
        "recvTime": "2026-01-01T00:00:00Z",
        "fPort": 2,
        "fCntUp": 1,
        "dataRate": 3,
        "ulFreq": 868.1,
        "ack": False,
        "frmPayload": "01",
    } | change
    uplink = uplink_from_packet(packet, reasons.append)
    assert getattr(uplink, field) is None
    assert reasons == [reason]
    assert uplink.payload == b"\x01"


def test_api_root() -> None:
    """Trailing slashes, queries and fragments go; the path stays."""
    assert str(api_root(" https://x.example/api/v4/?a=1#f ")) == "https://x.example/api/v4"


def test_profile_like_ignores_class_parameters_and_prefers_the_name() -> None:
    """Class-only parameters differ freely; of two copies the one named like the current wins."""
    current = {"deviceProfileId": "a", "name": "Meter", **BASE_PROFILE}
    copies = [
        {**BASE_PROFILE, "deviceProfileId": "c1", "name": "Other", "supportsClassC": True},
        {
            **BASE_PROFILE,
            "deviceProfileId": "c2",
            "name": "Meter C",
            "supportsClassC": True,
            "classCTimeout": 5,
        },
        {**BASE_PROFILE, "deviceProfileId": "bc", "supportsClassB": True, "supportsClassC": True},
    ]
    chosen = profile_like(current, copies, LoRaClass.C)
    assert chosen is not None
    assert chosen["deviceProfileId"] == "c2"
    assert profile_like(current, copies, LoRaClass.B) is None
    back = profile_like(copies[1], [current, *copies], LoRaClass.A)
    assert back is not None
    assert back["deviceProfileId"] == "a"
    assert [profile_class(profile) for profile in (current, *copies)] == ["A", "C", "C", "C"]
    assert profile_class({"supportsClassB": True}) is LoRaClass.B


# --- REST ---------------------------------------------------------------------------------


async def test_validate_and_list(
    http_session: aiohttp.ClientSession, netemera: NetemeraSimulator
) -> None:
    """Applications, the application's devices with their address, and no keys anywhere."""
    client = make_client(http_session, netemera)
    await client.validate()
    assert client.host == "127.0.0.1"
    applications = await make_client(http_session, netemera, None).list_applications()
    assert [(app.application_id, app.name) for app in applications] == [
        (APP, "Building"),
        ("app-2", "Other"),
    ]
    netemera.devices[DOOR].profile_id = "profile-c"
    devices = await client.list_devices()
    assert [
        (d.dev_eui, d.name, d.dev_addr, d.activation, d.model, d.device_class, d.profile)
        for d in devices
    ] == [
        (CLIMATE, "Climate", "260B0001", "activated", "Sensor class A", LoRaClass.A, "profile-a"),
        (DOOR, "Door", None, None, "Sensor class C", LoRaClass.C, "profile-c"),
    ]
    # An address, once known, is not looked up again; a device without one is (it may join).
    netemera.requests.clear()
    netemera.devices[DOOR].dev_addr = "260B0002"
    devices = await client.list_devices()
    # The EUI in the path as the document writes it: lower case.
    assert [path for _m, path in netemera.requests if path.endswith("/activation")] == [
        f"/end-devices/{DOOR.lower()}/activation"
    ]
    assert devices[1].dev_addr == "260B0002"
    assert netemera.devices[CLIMATE].app_key not in repr(devices)
    await make_client(http_session, netemera, None).validate()
    await client.close()


@pytest.mark.parametrize(("status", "logged"), [(403, False), (400, True)])
async def test_device_list_without_profiles(
    http_session: aiohttp.ClientSession,
    netemera: NetemeraSimulator,
    caplog: pytest.LogCaptureFixture,
    status: int,
    logged: bool,
) -> None:
    """Profiles the client may not read (or cannot get) leave the devices listed, without class."""
    netemera.fail_next(status, path="/device-profiles")
    devices = await make_client(http_session, netemera).list_devices()
    assert [(d.name, d.model, d.device_class) for d in devices] == [
        ("Climate", None, None),
        ("Door", None, None),
    ]
    assert ("Cannot read the device profiles" in caplog.text) is logged


async def test_activation_failures(
    http_session: aiohttp.ClientSession,
    netemera: NetemeraSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failing activation lookup leaves that address unknown; a refused token still refuses."""
    client = make_client(http_session, netemera)
    netemera.fail_next(500, path=f"/end-devices/{CLIMATE.lower()}/activation")
    devices = await client.list_devices()
    assert [device.dev_addr for device in devices] == [None, None]
    assert "Cannot read an activation" in caplog.text
    assert (await client.list_devices())[0].dev_addr == "260B0001"
    netemera.devices[DOOR].dev_addr = "260B0002"
    netemera.fail_next(401, 401, path=f"/end-devices/{DOOR.lower()}/activation")
    with pytest.raises(AuthError):
        await client.list_devices()


async def test_device_list_refused(
    http_session: aiohttp.ClientSession, netemera: NetemeraSimulator
) -> None:
    """A refused token while reading profiles is not hidden: it is an AuthError."""
    netemera.fail_next(401, 401, path="/device-profiles")
    with pytest.raises(AuthError):
        await make_client(http_session, netemera).list_devices()


async def test_device_list_pages(
    http_session: aiohttp.ClientSession, netemera: NetemeraSimulator
) -> None:
    """A paged list (JSON:API ``links.next``) is read to the end."""
    for index in range(3, 8):
        netemera.add_device(f"70B3D57ED000000{index}", APP)
    netemera.page_size = 2
    devices = await make_client(http_session, netemera).list_devices()
    assert len(devices) == 7
    pages = [path for _m, path in netemera.requests if path.endswith("/end-devices")]
    assert len(pages) == 4


async def test_page_link_to_another_server_is_refused(http_session: aiohttp.ClientSession) -> None:
    """The token goes with every request: a next link to another origin is not followed."""

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "t", "expires_in": 60})

    async def devices(request: web.Request) -> web.Response:
        return web.json_response(
            {"data": [], "links": {"next": {"href": "https://elsewhere.example/steal"}}}
        )

    app = web.Application()
    app.router.add_post("/token", token)
    app.router.add_get("/api/v4/applications/a/end-devices", devices)
    async with SimulatorServer(app) as server:
        client = scripted_client(http_session, server)
        with pytest.raises(ProtocolError, match="off the API server"):
            await client.list_devices()


async def test_page_links_in_a_circle(http_session: aiohttp.ClientSession) -> None:
    """Pages that link back to one already read end in an error at once, not 1,000 requests."""
    pages: list[str] = []

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "t", "expires_in": 60})

    async def devices(request: web.Request) -> web.Response:
        page = request.query.get("page", "1")
        pages.append(page)
        return web.json_response(
            {"data": [], "links": {"next": f"?page={'2' if page == '1' else '1'}"}}
        )

    app = web.Application()
    app.router.add_post("/token", token)
    app.router.add_get("/api/v4/applications/a/end-devices", devices)
    async with SimulatorServer(app) as server:
        client = scripted_client(http_session, server)
        with pytest.raises(ProtocolError, match="go round in a circle"):
            await client.list_devices()
    assert pages == ["1", "2", "1"]


@pytest.mark.parametrize(
    ("status", "error", "key"),
    [
        (400, InvalidRequest, "invalid_request"),
        (403, Forbidden, "forbidden"),
        (404, InvalidRequest, "not_found"),
        (405, Forbidden, "forbidden"),
        (500, CannotConnect, "cannot_connect"),
        (204, ProtocolError, "protocol_error"),
    ],
)
async def test_api_errors(
    http_session: aiohttp.ClientSession,
    netemera: NetemeraSimulator,
    status: int,
    error: type[Exception],
    key: str,
) -> None:
    """Each documented status maps to its error type; an unexpected success is a protocol error."""
    netemera.fail_next(status)
    client = make_client(http_session, netemera)
    with pytest.raises(error) as raised:
        await client.validate()
    assert getattr(raised.value, "key", None) == key


async def test_bad_documents(
    http_session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """
    Answers that are not JSON:API documents are protocol errors.

    In a list, an item that is no resource, or an application without an id, costs only itself.
    """
    answers = iter(
        [
            b"not json",
            b"[1]",
            b'{"data": 5}',
            (
                b'{"data": [{"id": "x", "attributes": []}, 7, {"attributes": {"name": "no id"}},'
                b' {"id": 5, "attributes": {"applicationId": 9, "name": 3}},'
                b' {"id": "y", "attributes": {"name": "Kept"}}]}'
            ),
        ]
    )

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "t", "expires_in": 60})

    async def applications(request: web.Request) -> web.Response:
        return web.Response(body=next(answers), content_type="application/vnd.api+json")

    app = web.Application()
    app.router.add_post("/token", token)
    app.router.add_get("/api/v4/applications", applications)
    async with SimulatorServer(app) as server:
        client = scripted_client(http_session, server, application=None)
        for _ in range(3):
            with pytest.raises(ProtocolError):
                await client.list_applications()
        listed = await client.list_applications()
    assert [(app.application_id, app.name) for app in listed] == [("y", "Kept")]
    assert "Left out a bad value of application" in caplog.text


async def test_application_required(
    http_session: aiohttp.ClientSession, netemera: NetemeraSimulator
) -> None:
    """Without an application the client can only list applications."""
    with pytest.raises(InvalidRequest):
        await make_client(http_session, netemera, None).list_devices()


async def test_unreachable(
    http_session: aiohttp.ClientSession, netemera: NetemeraSimulator
) -> None:
    """A server that went away: CannotConnect, for the token and for the API."""
    client = make_client(http_session, netemera)
    await client.validate()
    await netemera.stop()
    with pytest.raises(CannotConnect):
        await client.validate()


async def test_wrong_secret(
    http_session: aiohttp.ClientSession, netemera: NetemeraSimulator
) -> None:
    """Refused client credentials: AuthError without the secret in it."""
    with pytest.raises(AuthError) as raised:
        await make_client(http_session, netemera, secret="bad-secret").validate()
    assert "bad-secret" not in str(raised.value)


async def test_expired_token_is_renewed_once(
    http_session: aiohttp.ClientSession, netemera: NetemeraSimulator
) -> None:
    """A 401 gets one new token and the request again; a second 401 is an AuthError."""
    client = make_client(http_session, netemera)
    await client.validate()
    netemera.expire_tokens()
    await client.validate()
    assert netemera.token_requests == ["client_credentials", "client_credentials"]
    netemera.expire_tokens()
    netemera.reject_credentials = True
    with pytest.raises(AuthError):
        await client.validate()


# --- downlinks and class changes -------------------------------------------------------------


async def test_send_downlink(
    http_session: aiohttp.ClientSession, netemera: NetemeraSimulator
) -> None:
    """A downlink is posted as a JSON:API document and queued."""
    client = make_client(http_session, netemera)
    result = await client.send_downlink(
        Downlink(dev_eui=DOOR, f_port=10, payload=b"\x01\xff", confirmed=True)
    )
    assert result.state is DownlinkState.QUEUED
    assert result.message_id is None
    # The EUI in lower case, as the document's paths; the attributes of its sample.
    assert netemera.requests[-1] == ("POST", f"/downlink-packets/end-devices/{DOOR.lower()}")
    assert netemera.downlink_documents == [
        {
            "data": {
                "type": "downlink-packet",
                "attributes": {"fPort": 10, "confirmed": True, "frmPayload": "01FF"},
            }
        }
    ]
    sent = netemera.downlinks[0]
    assert (sent.dev_eui, sent.f_port, sent.confirmed, sent.payload) == (
        DOOR,
        10,
        True,
        b"\x01\xff",
    )


async def test_downlink_refusals(
    http_session: aiohttp.ClientSession, netemera: NetemeraSimulator
) -> None:
    """Modes and classes Netemera lacks, unknown devices and invalid ports are refused."""
    client = make_client(http_session, netemera)
    with pytest.raises(Unsupported):
        await client.send_downlink(
            Downlink(dev_eui=DOOR, f_port=1, payload=b"\x01", mode=DownlinkMode.REPLACE)
        )
    with pytest.raises(Unsupported):
        await client.send_downlink(
            Downlink(dev_eui=DOOR, f_port=1, payload=b"\x01", device_class=LoRaClass.C)
        )
    with pytest.raises(InvalidRequest, match="does not exist"):
        await client.send_downlink(Downlink(dev_eui="0000000000000009", f_port=1, payload=b""))
    with pytest.raises(InvalidRequest):
        await client.send_downlink(Downlink(dev_eui=DOOR, f_port=224, payload=b"\x01"))
    assert netemera.downlinks == []


async def test_set_device_class(
    http_session: aiohttp.ClientSession, netemera: NetemeraSimulator
) -> None:
    """Class C: the copy of the device's profile with only class C; back to A: the original."""
    client = make_client(http_session, netemera)
    await client.set_device_class(DOOR, LoRaClass.C)
    assert netemera.devices[DOOR].profile_id == "profile-c"
    # An End-Device object with what the document does not make optional, at the lower-case path.
    assert netemera.patches == [
        {
            "data": {
                "type": "end-device",
                "id": DOOR.lower(),
                "attributes": {
                    "devEui": DOOR.lower(),
                    "applicationId": APP,
                    "deviceProfileId": "profile-c",
                    "name": "Door",
                },
            }
        }
    ]
    assert ("PATCH", f"/end-devices/{DOOR.lower()}") in netemera.requests
    await client.set_device_class(DOOR, LoRaClass.B)
    assert netemera.devices[DOOR].profile_id == "profile-b"
    await client.set_device_class(DOOR, LoRaClass.A)
    assert netemera.devices[DOOR].profile_id == "profile-a"
    patches = [path for method, path in netemera.requests if method == "PATCH"]
    await client.set_device_class(DOOR, LoRaClass.A)
    # A profile with both B and C runs the device in class C: asking for C changes nothing.
    netemera.add_profile("profile-bc", name="Both", supportsClassB=True, supportsClassC=True)
    netemera.devices[DOOR].profile_id = "profile-bc"
    await client.set_device_class(DOOR, LoRaClass.C)
    assert [path for method, path in netemera.requests if method == "PATCH"] == patches
    assert netemera.devices[DOOR].profile_id == "profile-bc"


async def test_set_device_class_without_matching_profile(
    http_session: aiohttp.ClientSession, netemera: NetemeraSimulator
) -> None:
    """No identical profile for the class: an error naming the profile to copy."""
    netemera.add_profile("lonely", name="Lonely meter", maxEirp=20)
    netemera.devices[DOOR].profile_id = "lonely"
    client = make_client(http_session, netemera)
    with pytest.raises(InvalidRequest) as raised:
        await client.set_device_class(DOOR, LoRaClass.C)
    assert raised.value.key == "class_profile_missing"
    assert raised.value.details == {"profile": "Lonely meter", "device_class": "C"}
    assert netemera.devices[DOOR].profile_id == "lonely"


async def test_set_device_class_reads_a_profile_not_listed(
    http_session: aiohttp.ClientSession, netemera: NetemeraSimulator
) -> None:
    """A device profile missing from the account's list is read on its own."""
    netemera.add_profile("hidden", name="Shared meter")
    netemera.hidden_profiles.add("hidden")
    netemera.devices[DOOR].profile_id = "hidden"
    client = make_client(http_session, netemera)
    # Identical to the hidden profile except for class C: the listed profile-c.
    await client.set_device_class(DOOR, LoRaClass.C)
    assert ("GET", "/device-profiles/hidden") in netemera.requests
    assert netemera.devices[DOOR].profile_id == "profile-c"
    netemera.devices[DOOR].profile_id = "deleted"
    with pytest.raises(InvalidRequest, match="does not exist"):
        await client.set_device_class(DOOR, LoRaClass.C)


# --- the stream -------------------------------------------------------------------------------


async def test_stream_delivers_in_order_and_tracks_the_position(
    running_netemera_client: RunningClient[NetemeraClient], netemera: NetemeraSimulator
) -> None:
    """Live uplinks arrive in order; the position follows the event ids."""
    ids = [netemera.publish(CLIMATE, LPP_TEMPERATURE) for _ in range(3)]
    await running_netemera_client.uplinks(3)
    assert [uplink.f_cnt for uplink in running_netemera_client.sink.uplinks] == [0, 1, 2]
    assert running_netemera_client.sink.position == ids[-1]
    assert running_netemera_client.sink.connections == [(True, None)]
    assert netemera.stream_requests == [None]


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
async def test_stream_in_small_pieces(
    running_netemera_client: RunningClient[NetemeraClient], netemera: NetemeraSimulator, ending: str
) -> None:
    """Events split over many writes, with CRLF or CR line ends, arrive whole."""
    netemera.chunk_size = 5
    netemera.line_ending = ending
    for _ in range(3):
        netemera.publish(DOOR, b"\x01\x66\x01")
    await running_netemera_client.uplinks(3)
    assert [uplink.payload for uplink in running_netemera_client.sink.uplinks] == [
        b"\x01\x66\x01"
    ] * 3


async def test_reconnect_resumes_after_the_last_event(
    running_netemera_client: RunningClient[NetemeraClient], netemera: NetemeraSimulator
) -> None:
    """After a dropped stream the client sends Last-Event-ID and gets what it missed, once."""
    netemera.publish(CLIMATE, LPP_TEMPERATURE)
    await running_netemera_client.uplinks(1)
    netemera.drop_streams()
    await running_netemera_client.sink.wait_for(lambda: not running_netemera_client.sink.up)
    missed = [netemera.publish(DOOR, b"\x01\x66\x00") for _ in range(2)]
    await running_netemera_client.uplinks(3)
    assert netemera.stream_requests == [None, running_netemera_client.sink.positions[0]]
    assert running_netemera_client.sink.position == missed[-1]
    assert netemera.events_sent == 3
    assert running_netemera_client.sink.connections[1] == (False, "the server ended the stream")


async def test_token_expiring_mid_stream(
    running_netemera_client: RunningClient[NetemeraClient], netemera: NetemeraSimulator
) -> None:
    """The stream closes with the token; the reconnect gets a new token and resumes."""
    netemera.publish(CLIMATE, LPP_TEMPERATURE)
    await running_netemera_client.uplinks(1)
    netemera.expire_tokens()
    netemera.publish(CLIMATE, LPP_TEMPERATURE)
    await running_netemera_client.uplinks(2)
    assert netemera.token_requests == ["client_credentials", "client_credentials"]
    assert len(running_netemera_client.sink.uplinks) == 2


async def test_revoked_credentials_end_the_run(
    running_netemera_client: RunningClient[NetemeraClient], netemera: NetemeraSimulator
) -> None:
    """Expired token and refused credentials: run raises AuthError (the entry reauthenticates)."""
    netemera.reject_credentials = True
    netemera.expire_tokens()
    with pytest.raises(AuthError):
        await asyncio.wait_for(running_netemera_client.task, 10)


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
async def test_malformed_event_is_skipped(
    running_netemera_client: RunningClient[NetemeraClient],
    netemera: NetemeraSimulator,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    """A broken event is logged and passed (its id too); the stream goes on."""
    bad = netemera.publish_malformed(APP, kind)
    netemera.publish_malformed(APP, kind)
    netemera.publish(DOOR, b"\x01\x66\x01")
    await running_netemera_client.uplinks(1)
    assert bad in running_netemera_client.sink.positions
    assert len(running_netemera_client.sink.uplinks) == 1
    assert caplog.text.count("Dropped a malformed event") == 1
    assert running_netemera_client.sink.connections == [(True, None)]


async def test_unknown_malformed_kind(netemera: NetemeraSimulator) -> None:
    """The simulator refuses a malformed kind it does not know."""
    with pytest.raises(ValueError, match="unknown malformed kind"):
        netemera.publish_malformed(APP, "mystery")


async def test_keepalives_hold_the_stream(
    http_session: aiohttp.ClientSession, netemera: NetemeraSimulator
) -> None:
    """Keep-alives more frequent than the read timeout keep one stream open."""
    run = RunningClient(make_client(http_session, netemera, read_timeout=0.5))
    async with asyncio.timeout(10):
        await netemera.wait_for_streams(1)
        start = netemera.keepalives_sent
        await netemera.wait_for_keepalives(start + 30)
    assert run.sink.connections == [(True, None)]
    assert netemera.stream_requests == [None]
    await run.stop()


async def test_stalled_stream_is_replaced(
    http_session: aiohttp.ClientSession, netemera: NetemeraSimulator
) -> None:
    """No byte for the read timeout: the client reconnects and resumes."""
    run = RunningClient(make_client(http_session, netemera, read_timeout=0.2))
    async with asyncio.timeout(10):
        await netemera.wait_for_streams(1)
        netemera.publish(CLIMATE, LPP_TEMPERATURE)
        await run.uplinks(1)
        netemera.stall()
        await run.sink.wait_for(lambda: not run.sink.up)
        netemera.stall(False)
        netemera.publish(CLIMATE, LPP_TEMPERATURE)
        await run.uplinks(2)
    assert run.sink.connections[1] == (False, "no data or keep-alive for 0.2 s")
    assert netemera.stream_requests[-1] == run.sink.positions[0]
    await run.stop()


async def test_read_timeout_follows_the_keepalives(
    http_session: aiohttp.ClientSession,
    netemera: NetemeraSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Frequent keep-alives shorten the read timeout: silence for a few of them is an outage."""
    monkeypatch.setattr("custom_components.lorawan_hub.lns.netemera.MIN_READ_TIMEOUT", 0.01)
    monkeypatch.setattr("custom_components.lorawan_hub.lns.netemera.MIN_KEEPALIVE_GAP", 0.01)
    run = RunningClient(make_client(http_session, netemera, read_timeout=60))
    async with asyncio.timeout(10):
        await netemera.wait_for_streams(1)
        await netemera.wait_for_keepalives(netemera.keepalives_sent + 4)
        netemera.stall()
        await run.sink.wait_for(lambda: not run.sink.up)
    reason = str(run.sink.connections[1][1])
    assert reason.startswith("no data or keep-alive for ")
    assert float(reason.split()[-2]) < 60
    await run.stop()


async def test_relists_devices_after_reconnect(
    running_netemera_client: RunningClient[NetemeraClient],
    netemera: NetemeraSimulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A reconnect once the list is old lists the devices again, picking up new ones."""
    monkeypatch.setattr("custom_components.lorawan_hub.lns.netemera.RELIST_AFTER", 0.0)
    netemera.add_device("70B3D57ED0000009", APP, name="New meter")
    netemera.drop_streams()
    await running_netemera_client.sink.wait_for(
        lambda: len(running_netemera_client.sink.device_lists) == 1
    )
    assert [d.name for d in running_netemera_client.sink.device_lists[0]][-1] == "New meter"
    # A list that cannot be read does not keep the stream from opening.
    netemera.fail_next(500, path=f"/applications/{APP}/end-devices")
    count = len(running_netemera_client.sink.connections)
    netemera.drop_streams()
    await running_netemera_client.sink.wait_for(
        lambda: len(running_netemera_client.sink.connections) >= count + 2
    )
    assert running_netemera_client.sink.up
    assert len(running_netemera_client.sink.device_lists) == 1
    assert "Cannot list the devices of 127.0.0.1" in caplog.text


@pytest.mark.parametrize(
    ("status", "content_type", "reason"),
    [
        (500, "text/plain", "answered HTTP 500"),
        (202, "text/event-stream", "answered HTTP 202"),
        (200, "application/json", "not events"),
    ],
)
async def test_stream_refusals_are_retried(
    http_session: aiohttp.ClientSession, status: int, content_type: str, reason: str
) -> None:
    """A failing stream request is reported and retried with backoff."""
    attempts: list[str | None] = []

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "t", "expires_in": 60})

    async def stream(request: web.Request) -> web.Response:
        attempts.append(request.headers.get("Last-Event-ID"))
        return web.Response(status=status, text="{}", content_type=content_type)

    app = web.Application()
    app.router.add_post("/token", token)
    app.router.add_get("/api/v4/uplink-packets/applications/a", stream)
    async with SimulatorServer(app) as server:
        client = scripted_client(http_session, server)
        sink = RecordingSink()
        sink.position = "AAAB"
        task = asyncio.create_task(client.run(sink))
        await sink.wait_for(lambda: len(sink.connections) >= 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert reason in str(sink.connections[0][1])
    assert attempts[:2] == ["AAAB", "AAAB"]


async def test_uplink_the_sink_fails_on_is_read_again(
    http_session: aiohttp.ClientSession,
    netemera: NetemeraSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """
    An uplink the sink fails to take does not move the position: the stream is read again.

    Nothing is lost: after the reconnect (from the last uplink taken) it is delivered.
    """
    client = make_client(http_session, netemera, backoff=Backoff(initial=0.01))
    sink = FailingSink(fail_at=1)
    task = asyncio.create_task(client.run(sink))
    async with asyncio.timeout(10):
        await netemera.wait_for_streams(1)
        ids = [netemera.publish(CLIMATE, LPP_TEMPERATURE) for _ in range(3)]
        await sink.wait_for(lambda: len(sink.uplinks) == 3)
    assert "was not taken (RuntimeError('bug')); reading it again" in caplog.text
    assert [uplink.f_cnt for uplink in sink.uplinks] == [0, 1, 2]
    assert sink.positions == ids
    assert netemera.stream_requests == [None, ids[0]]
    assert sink.connections == [(True, None), (False, "an uplink was not taken"), (True, None)]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_uplink_the_sink_always_fails_on_is_given_up(
    http_session: aiohttp.ClientSession,
    netemera: NetemeraSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An uplink the sink fails on every time is given up after a few readings, with an error."""
    client = make_client(http_session, netemera, backoff=Backoff(initial=0.01))
    sink = FailingSink(fail_at=1, always=True)
    task = asyncio.create_task(client.run(sink))
    async with asyncio.timeout(10):
        await netemera.wait_for_streams(1)
        ids = [netemera.publish(CLIMATE, LPP_TEMPERATURE) for _ in range(3)]
        await sink.wait_for(lambda: len(sink.uplinks) == 2)
    assert [uplink.f_cnt for uplink in sink.uplinks] == [0, 2]
    assert netemera.stream_requests == [None, ids[0], ids[0]]
    assert f"Dropped an uplink of {CLIMATE} that was not taken 3 times" in caplog.text
    assert sink.positions == ids
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_poison_event_is_skipped(
    running_netemera_client: RunningClient[NetemeraClient], netemera: NetemeraSimulator
) -> None:
    """A time no date can hold (year 1 minus an hour) is a malformed event, not a crash."""
    netemera.publish(CLIMATE, LPP_TEMPERATURE, extra={"recvTime": "0001-01-01T00:00:00+01:00"})
    netemera.publish(CLIMATE, LPP_TEMPERATURE)
    await running_netemera_client.uplinks(1)
    assert running_netemera_client.sink.uplinks[0].f_cnt == 1
    assert running_netemera_client.sink.connections == [(True, None)]


async def test_stream_unreachable_and_bug_are_retried(
    http_session: aiohttp.ClientSession,
    netemera: NetemeraSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug around the stream is logged and the stream reopened; a server down is retried."""
    client = make_client(http_session, netemera)
    sink = PositionBugSink()
    task = asyncio.create_task(client.run(sink))
    async with asyncio.timeout(10):
        await netemera.wait_for_streams(1)
        netemera.publish(CLIMATE, LPP_TEMPERATURE)
        await sink.wait_for(lambda: len(sink.uplinks) == 1)
    assert "Unexpected error in the stream" in caplog.text
    assert sink.connections[:2] == [(False, "unexpected error"), (True, None)]
    await netemera.stop()
    await sink.wait_for(lambda: "cannot reach" in str(sink.connections[-1][1]))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_cut_event_comes_again_whole(
    running_netemera_client: RunningClient[NetemeraClient], netemera: NetemeraSimulator
) -> None:
    """A stream that ends in the middle of an event: the event comes again, whole, once."""
    netemera.publish(CLIMATE, LPP_TEMPERATURE)
    await running_netemera_client.uplinks(1)
    netemera.cut_next_event()
    netemera.publish(DOOR, b"\x01\x66\x01")
    await running_netemera_client.uplinks(2)
    assert [uplink.dev_eui for uplink in running_netemera_client.sink.uplinks] == [CLIMATE, DOOR]
    assert netemera.stream_requests == [None, running_netemera_client.sink.positions[0]]


async def test_unknown_position_goes_live(
    http_session: aiohttp.ClientSession,
    netemera: NetemeraSimulator,
    caplog: pytest.LogCaptureFixture,
    recording_sink: RecordingSink,
) -> None:
    """A position the server refuses (expired history): logged once, then the live stream."""
    netemera.strict_resume = True
    recording_sink.position = "AAAAAAAAAAA="
    task = asyncio.create_task(make_client(http_session, netemera).run(recording_sink))
    async with asyncio.timeout(10):
        await netemera.wait_for_streams(1)
        netemera.publish(CLIMATE, LPP_TEMPERATURE)
        await recording_sink.wait_for(lambda: len(recording_sink.uplinks) == 1)
    assert netemera.stream_requests == ["AAAAAAAAAAA=", None]
    assert caplog.text.count("cannot resume the stream") == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_large_answer_in_pieces(http_session: aiohttp.ClientSession) -> None:
    """A device list of many pieces (as over TLS) is read whole; beyond the limit it is refused."""
    devices = [
        {"type": "end-device", "id": f"{index:016X}", "attributes": {"devEui": f"{index:016X}"}}
        for index in range(600)
    ]
    body = orjson.dumps({"data": devices})

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "t", "expires_in": 60})

    async def end_devices(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/vnd.api+json"})
        await response.prepare(request)
        for start in range(0, len(body), 16_384):
            await response.write(body[start : start + 16_384])
        return response

    async def nothing(request: web.Request) -> web.Response:
        return web.Response(status=404)

    app = web.Application()
    app.router.add_post("/token", token)
    app.router.add_get("/api/v4/applications/a/end-devices", end_devices)
    app.router.add_get("/api/v4/device-profiles", nothing)
    app.router.add_get("/api/v4/end-devices/{eui}/activation", nothing)
    async with SimulatorServer(app) as server:
        client = scripted_client(http_session, server)
        assert len(body) > 3 * 16_384
        assert len(await client.list_devices()) == 600
        with (
            patch("custom_components.lorawan_hub.lns.netemera.MAX_DOCUMENT", 40_000),
            pytest.raises(ProtocolError, match="too large"),
        ):
            await client.list_devices()


def test_event_ids_look_like_the_servers() -> None:
    """The simulator's ids have the server's shape: eight bytes in base64."""
    assert event_id(0x15C1CB10015) == "AAABXByxABU="


async def test_log_of_oversized_event(
    http_session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """An event too large to keep is dropped with a warning; the position still moves."""
    caplog.set_level(logging.WARNING)

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "t", "expires_in": 60})

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data:" + b"x" * 300_000 + b"\nid:big\n\n")
        await response.write(b'data:{"devEui": "' + CLIMATE.encode() + b'", "recvTime": ')
        await response.write(b'"2026-01-01T00:00:00Z", "fCntUp": 1}\nid:next\n\n')
        return response

    app = web.Application()
    app.router.add_post("/token", token)
    app.router.add_get("/api/v4/uplink-packets/applications/a", stream)
    async with SimulatorServer(app) as server:
        client = scripted_client(http_session, server)
        sink = RecordingSink()
        task = asyncio.create_task(client.run(sink))
        await sink.wait_for(lambda: len(sink.uplinks) == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert sink.positions[:2] == ["big", "next"]
    assert "Dropped an oversized event" in caplog.text


# --- waits, backoff and relisting -------------------------------------------------------------


class RecordingBackoff(Backoff):
    """A backoff that remembers every delay it gave."""

    def __init__(self, initial: float) -> None:
        """Start at ``initial`` seconds."""
        super().__init__(initial)
        self.delays: list[float] = []

    def next_delay(self) -> float:
        """Record and return the next delay."""
        delay = super().next_delay()
        self.delays.append(delay)
        return delay


async def test_stream_headers_that_never_come(
    http_session: aiohttp.ClientSession, netemera: NetemeraSimulator
) -> None:
    """A server that takes the stream request and never answers: reported, retried, recovered."""
    netemera.stall_headers()
    client = make_client(http_session, netemera, request_timeout=0.2, backoff=Backoff(initial=0.01))
    run = RunningClient(client)
    async with asyncio.timeout(10):
        await run.sink.wait_for(lambda: len(run.sink.connections) >= 2)
        assert (
            run.sink.connections[:2]
            == [
                (False, "127.0.0.1 did not answer the stream request within 0.2 s"),
            ]
            * 2
        )
        assert len(netemera.stream_requests) >= 2
        netemera.stall_headers(False)
        await run.sink.wait_for(lambda: run.sink.up)
        netemera.publish(CLIMATE, LPP_TEMPERATURE)
        await run.uplinks(1)
    await run.stop()


async def test_silent_tcp_server(http_session: aiohttp.ClientSession) -> None:
    """A socket that accepts the connection and never writes a byte does not hang the entry."""
    accepted: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "t", "expires_in": 60})

    app = web.Application()
    app.router.add_post("/token", token)
    silent = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    async with SimulatorServer(app) as server, silent:
        client = NetemeraClient(
            http_session,
            f"http://127.0.0.1:{port}/api/v4",
            f"{server.base_url}/token",
            client_id="c",
            client_secret="s",
            application_id="a",
            request_timeout=0.2,
            backoff=Backoff(initial=0.01),
        )
        sink = RecordingSink()
        task = asyncio.create_task(client.run(sink))
        await sink.wait_for(lambda: len(sink.connections) >= 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for writer in accepted:
            writer.close()
    assert sink.connections[0] == (
        False,
        "127.0.0.1 did not answer the stream request within 0.2 s",
    )
    assert len(accepted) >= 2


async def test_streams_that_end_at_once_back_off_without_relisting(
    http_session: aiohttp.ClientSession, netemera: NetemeraSimulator
) -> None:
    """
    A server that answers and closes every stream at once: each retry waits longer.

    The device list, fresh, is not read again at every reconnect. Once a stream brings an
    uplink, the delay starts again from the beginning.
    """
    netemera.end_streams_at_once = True
    backoff = RecordingBackoff(initial=0.01)
    run = RunningClient(make_client(http_session, netemera, backoff=backoff))
    async with asyncio.timeout(10):
        await netemera.wait_for_stream_requests(6)
        await run.sink.wait_for(lambda: len(backoff.delays) >= 5)
    delays = backoff.delays[:5]
    assert all(later > earlier for earlier, later in itertools.pairwise(delays)), delays
    assert run.sink.device_lists == []
    assert not [path for _method, path in netemera.requests if path.endswith("/end-devices")]
    netemera.end_streams_at_once = False
    async with asyncio.timeout(10):
        await netemera.wait_for_streams(1)
        netemera.publish(CLIMATE, LPP_TEMPERATURE)
        await run.uplinks(1)
        count = len(backoff.delays)
        netemera.drop_streams()
        await run.sink.wait_for(lambda: len(backoff.delays) > count)
    assert backoff.delays[count] <= 0.01 * 1.2
    await run.stop()


# --- resuming by time --------------------------------------------------------------------------


async def test_refused_position_resumes_from_the_last_uplink(
    http_session: aiohttp.ClientSession,
    netemera: NetemeraSimulator,
    caplog: pytest.LogCaptureFixture,
    recording_sink: RecordingSink,
) -> None:
    """
    The server no longer knows the stored event id: the stream resumes with ``filter[since]``.

    From the last uplink seen (inclusive: it comes again, as a duplicate the sink drops), so
    the uplinks received meanwhile are recovered.
    """
    base = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    stored = netemera.publish(CLIMATE, LPP_TEMPERATURE, when=base - timedelta(minutes=5))
    netemera.publish(CLIMATE, LPP_TEMPERATURE, when=base)
    missed = [
        netemera.publish(DOOR, b"\x01\x66\x01", when=base + timedelta(minutes=minutes))
        for minutes in (1, 2)
    ]
    netemera.expire_event_ids()
    recording_sink.position = stored
    recording_sink.resume = base
    task = asyncio.create_task(make_client(http_session, netemera).run(recording_sink))
    async with asyncio.timeout(10):
        await recording_sink.wait_for(lambda: len(recording_sink.uplinks) == 3)
    assert [(u.dev_eui, u.received_at) for u in recording_sink.uplinks] == [
        (CLIMATE, base),
        (DOOR, base + timedelta(minutes=1)),
        (DOOR, base + timedelta(minutes=2)),
    ]
    assert netemera.stream_requests == [stored, None]
    assert netemera.stream_queries == ["", "filter[since]=2026-05-01T12:00:00.123456Z"]
    assert recording_sink.position == missed[-1]
    assert "resuming from the last uplink seen (2026-05-01T12:00:00.123456+00:00)" in caplog.text
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_without_position_resumes_by_time_never_from_the_future(
    http_session: aiohttp.ClientSession, netemera: NetemeraSimulator
) -> None:
    """
    No stored event id but a last uplink: ``filter[since]`` from then.

    A last uplink time in the future (a server clock gone wrong) resumes from now, so what
    follows is not skipped.
    """
    past = datetime.now(UTC) - timedelta(hours=1)
    netemera.publish(CLIMATE, LPP_TEMPERATURE, when=past - timedelta(seconds=1))
    netemera.publish(CLIMATE, LPP_TEMPERATURE, when=past)
    sink = RecordingSink()
    sink.resume = past
    task = asyncio.create_task(make_client(http_session, netemera).run(sink))
    async with asyncio.timeout(10):
        await sink.wait_for(lambda: len(sink.uplinks) == 1)
    assert sink.uplinks[0].f_cnt == 1
    assert netemera.stream_queries[0].startswith("filter[since]=")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    future = datetime(2100, 1, 1, tzinfo=UTC)
    sink = RecordingSink()
    sink.resume = future
    async with asyncio.timeout(10):
        await netemera.wait_for_streams(0)
    task = asyncio.create_task(make_client(http_session, netemera).run(sink))
    async with asyncio.timeout(10):
        await netemera.wait_for_streams(1)
        netemera.publish(DOOR, b"\x01\x66\x01")
        await sink.wait_for(lambda: len(sink.uplinks) == 1)
    since = netemera.stream_queries[-1].removeprefix("filter[since]=")
    assert datetime.fromisoformat(since) <= datetime.now(UTC)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_refused_time_goes_live(
    http_session: aiohttp.ClientSession,
    netemera: NetemeraSimulator,
    caplog: pytest.LogCaptureFixture,
    recording_sink: RecordingSink,
) -> None:
    """Both the event id and the time refused: logged once, then the live stream."""
    netemera.strict_resume = True
    netemera.refuse_since = True
    recording_sink.position = "AAAAAAAAAAA="
    recording_sink.resume = datetime(2026, 1, 1, tzinfo=UTC)
    task = asyncio.create_task(make_client(http_session, netemera).run(recording_sink))
    async with asyncio.timeout(10):
        await netemera.wait_for_streams(1)
        netemera.publish(CLIMATE, LPP_TEMPERATURE)
        await recording_sink.wait_for(lambda: len(recording_sink.uplinks) == 1)
    assert netemera.stream_requests == ["AAAAAAAAAAA=", None, None]
    assert netemera.stream_queries == ["", "filter[since]=2026-01-01T00:00:00.000000Z", ""]
    assert caplog.text.count("uplinks received meanwhile are not recovered") == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# --- validation refusals -----------------------------------------------------------------------


async def test_downlink_refused_as_invalid_is_no_auth_failure(
    http_session: aiohttp.ClientSession, netemera: NetemeraSimulator
) -> None:
    """
    The document's "401 Bad Request" to a downlink or end-device update is a refused request.

    With a token just obtained it is reported at once; with an older one after one renewal;
    a token that expired is still renewed and the request sent again.
    """
    client = make_client(http_session, netemera)
    with pytest.raises(InvalidRequest, match="HTTP 401") as raised:
        await client.send_downlink(Downlink(dev_eui=DOOR, f_port=224, payload=b"\x01"))
    assert raised.value.key == "invalid_request"
    assert netemera.token_requests == ["client_credentials"]
    with pytest.raises(InvalidRequest):
        await client.send_downlink(Downlink(dev_eui=DOOR, f_port=224, payload=b"\x01"))
    assert netemera.token_requests == ["client_credentials"] * 2
    netemera.expire_tokens()
    await client.send_downlink(Downlink(dev_eui=DOOR, f_port=2, payload=b"\x01"))
    assert netemera.token_requests == ["client_credentials"] * 3
    assert len(netemera.downlinks) == 1
    # The update of an end-device the server refuses as invalid (to the older token, and again).
    netemera.fail_next(401, 401, method="PATCH")
    with pytest.raises(InvalidRequest, match="HTTP 401"):
        await client.set_device_class(DOOR, LoRaClass.C)
    assert netemera.devices[DOOR].profile_id == "profile-a"


# --- acknowledgements ----------------------------------------------------------------------------


async def test_ack_reports_the_last_downlink_acknowledged(
    running_netemera_client: RunningClient[NetemeraClient], netemera: NetemeraSimulator
) -> None:
    """An uplink with ``ack`` acknowledges the last downlink: once, even when it comes again."""
    netemera.publish(DOOR, b"\x01", extra={"ack": True})
    netemera.publish(DOOR, b"\x02")
    await running_netemera_client.uplinks(2)
    status = running_netemera_client.sink.downlink_statuses
    assert status == [
        DownlinkStatus(
            dev_eui=DOOR,
            message_id=LAST_DOWNLINK,
            state=DownlinkState.ACKNOWLEDGED,
            at=running_netemera_client.sink.uplinks[0].received_at,
        )
    ]
    # The same uplink read again (a resume by time is inclusive): no second acknowledgement.
    netemera.expire_event_ids()
    running_netemera_client.sink.resume = running_netemera_client.sink.uplinks[0].received_at
    netemera.drop_streams()
    await running_netemera_client.uplinks(4)
    assert len(running_netemera_client.sink.downlink_statuses) == 1
    assert Capability.DOWNLINK_ACK in running_netemera_client.client.capabilities


# --- a hostile server ------------------------------------------------------------------------


async def test_stream_in_the_documents_literal_layout(
    running_netemera_client: RunningClient[NetemeraClient], netemera: NetemeraSimulator
) -> None:
    """Events printed as the document prints them (JSON lines after ``data:`` unprefixed)."""
    netemera.literal_layout = True
    netemera.line_ending = "\r\n"
    netemera.chunk_size = 7
    ids = [netemera.publish(CLIMATE, LPP_TEMPERATURE) for _ in range(2)]
    await running_netemera_client.uplinks(2)
    assert [
        (u.f_cnt, u.payload, len(u.gateways)) for u in running_netemera_client.sink.uplinks
    ] == [
        (0, LPP_TEMPERATURE, 2),
        (1, LPP_TEMPERATURE, 2),
    ]
    assert running_netemera_client.sink.position == ids[-1]


async def test_gateway_without_id_keeps_the_uplink(
    running_netemera_client: RunningClient[NetemeraClient],
    netemera: NetemeraSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A gateway entry without id is left out with a warning; the uplink and its position stay."""
    identifier = netemera.publish(
        CLIMATE,
        LPP_TEMPERATURE,
        extra={"gwInfo": [{"rssi": -70.0, "snr": 3.0}, {"id": "7276ff002e0400e9", "rssi": -99}]},
    )
    await running_netemera_client.uplinks(1)
    uplink = running_netemera_client.sink.uplinks[0]
    assert [(g.gateway_id, g.rssi) for g in uplink.gateways] == [("7276FF002E0400E9", -99.0)]
    assert running_netemera_client.sink.position == identifier
    assert "Left out a bad value of uplink from 127.0.0.1: a gwInfo item has no id" in caplog.text


async def test_event_ids_that_cannot_be_sent_back(
    http_session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """
    An event id no header can carry is never stored, nor sent back.

    The position is cleared instead, and the next stream resumes by time rather than failing
    at every attempt for ever.
    """
    requests: list[tuple[str | None, str]] = []
    packet = b'data:{"devEui": "70b3d5ca40000031", "recvTime": "2026-01-01T00:00:00Z"}\n'

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "t", "expires_in": 60})

    async def stream(request: web.Request) -> web.StreamResponse:
        requests.append((request.headers.get("Last-Event-ID"), request.query_string))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(packet + b"id:good\n\n" + packet + b"id:bad\x01id\n\n")
        return response

    app = web.Application()
    app.router.add_post("/token", token)
    app.router.add_get("/api/v4/uplink-packets/applications/a", stream)
    async with SimulatorServer(app) as server:
        client = scripted_client(http_session, server, backoff=Backoff(initial=0.01))
        sink = RecordingSink()
        sink.position = "stored\x7fid"
        task = asyncio.create_task(client.run(sink))
        await sink.wait_for(lambda: len(sink.uplinks) >= 4)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert sink.positions[:2] == ["good", ""]
    # Live at first (no uplink seen yet), then from the last uplink's time.
    assert requests[:2] == [(None, ""), (None, "filter[since]=2026-01-01T00:00:00.000000Z")]
    assert "cannot be sent back" in caplog.text


async def test_one_bad_device_costs_only_itself(
    http_session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """
    A device list with bad entries: each costs only itself, or only its bad value.

    A name that is no string, a device listed twice, an item that is no resource, an
    activation without data or with an address that is no DevAddr, profile flags that are no
    booleans (class unknown, not A), the document's seven-digit DevAddr (zero-padded).
    """
    devices = {
        "data": [
            {"type": "end-device", "id": "70b3d5ca40000031", "attributes": {"name": 5}},
            7,
            {"type": "end-device", "attributes": {"devEui": "70B3D5CA40000031"}},
            {
                "type": "end-device",
                "attributes": {"devEui": "70b3d5ca40000032", "deviceProfileId": "odd"},
            },
            {"type": "end-device", "attributes": {"devEui": "70b3d5ca40000033", "name": "C"}},
            {"type": "end-device", "attributes": {"devEui": "DEV_EUI"}},
        ]
    }
    profiles = {
        "data": [
            {
                "id": "odd",
                "attributes": {"name": "Odd", "supportsClassB": "no", "supportsClassC": 0},
            },
            {"attributes": {"name": "no id"}},
        ]
    }
    activations = {
        "70b3d5ca40000031": {"data": {"attributes": {"devAddr": "0000000"}}},
        "70b3d5ca40000032": {"data": []},
        "70b3d5ca40000033": {"data": {"attributes": {"devAddr": "not-hex"}}},
    }

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "t", "expires_in": 60})

    async def end_devices(request: web.Request) -> web.Response:
        return web.json_response(devices)

    async def device_profiles(request: web.Request) -> web.Response:
        return web.json_response(profiles)

    async def activation(request: web.Request) -> web.Response:
        return web.json_response(activations[request.match_info["eui"]])

    app = web.Application()
    app.router.add_post("/token", token)
    app.router.add_get("/api/v4/applications/a/end-devices", end_devices)
    app.router.add_get("/api/v4/device-profiles", device_profiles)
    app.router.add_get("/api/v4/end-devices/{eui}/activation", activation)
    async with SimulatorServer(app) as server:
        client = scripted_client(http_session, server)
        listed = await client.list_devices()
    assert [(d.dev_eui, d.name, d.model, d.device_class, d.dev_addr) for d in listed] == [
        ("70B3D5CA40000031", None, None, None, "00000000"),
        ("70B3D5CA40000032", None, "Odd", None, None),
        ("70B3D5CA40000033", "C", None, None, None),
    ]
    assert "listed a device without a valid EUI" in caplog.text
    # Warnings are rate-limited per kind of document: the first of each is logged.
    assert "Left out a bad value of end-device from 127.0.0.1: " in caplog.text
    assert "devAddr of 70B3D5CA40000033 is not a DevAddr" in caplog.text


async def test_single_documents_without_data(http_session: aiohttp.ClientSession) -> None:
    """An end-device answered without data, or without profile, is a protocol error."""

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "t", "expires_in": 60})

    async def end_device(request: web.Request) -> web.Response:
        if request.match_info["eui"] == CLIMATE.lower():
            return web.json_response({"data": []})
        return web.json_response({"data": {"id": "x", "attributes": {"name": "no profile"}}})

    app = web.Application()
    app.router.add_post("/token", token)
    app.router.add_get("/api/v4/end-devices/{eui}", end_device)
    async with SimulatorServer(app) as server:
        client = scripted_client(http_session, server)
        with pytest.raises(ProtocolError, match="holds no end-device"):
            await client.set_device_class(CLIMATE, LoRaClass.C)
        with pytest.raises(ProtocolError, match="has no device profile"):
            await client.set_device_class(DOOR, LoRaClass.C)


async def test_empty_downlink_has_no_payload_attribute(
    http_session: aiohttp.ClientSession, netemera: NetemeraSimulator
) -> None:
    """An empty payload leaves out the optional ``frmPayload`` rather than sending ``""``."""
    await make_client(http_session, netemera).send_downlink(
        Downlink(dev_eui=DOOR, f_port=3, payload=b"")
    )
    assert netemera.downlink_documents[0]["data"]["attributes"] == {"fPort": 3, "confirmed": False}


def test_profile_flags_must_be_booleans() -> None:
    """A class flag that is no boolean makes the class unknown and the profile no candidate."""
    base = {"deviceProfileId": "a", "name": "Meter", **BASE_PROFILE}
    odd = {**base, "deviceProfileId": "odd", "supportsClassC": "yes please"}
    assert profile_class(odd) is None
    assert profile_class({**base, "supportsClassB": "1"}) is LoRaClass.B
    assert profile_class({**base, "supportsClassB": []}) is None
    assert profile_like(base, [odd], LoRaClass.C) is None
