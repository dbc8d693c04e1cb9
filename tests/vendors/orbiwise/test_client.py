"""The OrbiWAN client against the OrbiWise simulator: REST, WebSocket pushes and the drain."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
import hashlib
import logging
import re
from typing import Any

import aiohttp
from aiohttp import web
import orjson
import pytest

from custom_components.lorawan_hub.lns.base import Backoff, ThrottledLog
from custom_components.lorawan_hub.lns.errors import (
    AuthError,
    CannotConnect,
    Forbidden,
    InvalidRequest,
    ProtocolError,
    Unsupported,
)
from custom_components.lorawan_hub.lns.models import (
    DeviceStatus,
    Downlink,
    DownlinkMode,
    DownlinkState,
    Location,
    LoRaClass,
    MulticastKeys,
    MulticastSetup,
    ServerDevice,
)
from custom_components.lorawan_hub.lns.orbiwise import (
    AuthMode,
    OrbiWiseClient,
    PushTarget,
    Transport,
)
from custom_components.lorawan_hub.lns.orbiwise.channel import Channel
from custom_components.lorawan_hub.lns.orbiwise.parse import (
    alarm_from_push,
    device_from_node,
    downlink_status,
    join_from_push,
    payload_bytes,
    push_error,
    result_from_answer,
    status_from_push,
    uplink_from_payload,
)
from simulator.orbiwise import OrbiWiseSimulator
from simulator.server import SimulatorServer
from tests.vendors.sink import RecordingSink, RunningClient, StartClient

CLIMATE = "70B3D57ED0000001"
DOOR = "70B3D57ED0000002"
WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
"""RFC 6455: what the server appends to the client's key to answer the handshake."""
LPP_TEMPERATURE = b"\x01\x67\x00\xe6"


@pytest.fixture
async def orbiwise() -> AsyncIterator[OrbiWiseSimulator]:
    """An OrbiWAN server with two devices, one in application ``app-1``."""
    simulator = OrbiWiseSimulator()
    simulator.add_node(CLIMATE, comment="Climate", applications={"app-1"})
    simulator.add_node(DOOR, comment="Door", device_class=2)
    async with simulator:
        yield simulator


@pytest.fixture(autouse=True)
def reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees the dropped values it causes reported (the log is rate-limited)."""
    monkeypatch.setattr(
        "custom_components.lorawan_hub.lns.orbiwise.parse._VALUES",
        ThrottledLog(logging.getLogger("custom_components.lorawan_hub.lns.orbiwise.parse")),
    )


def make_client(
    session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator, **kwargs: Any
) -> OrbiWiseClient:
    """Return a client of the simulated account."""
    return OrbiWiseClient(
        session,
        orbiwise.url,
        username=orbiwise.username,
        password=kwargs.pop("password", orbiwise.password),
        **kwargs,
    )


@pytest.fixture
async def running_orbiwise_client(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator, run_client: StartClient
) -> RunningClient[OrbiWiseClient]:
    """A client receiving WebSocket pushes, connected and drained."""
    client = make_client(http_session, orbiwise)
    await client.list_devices()
    running = run_client(client)
    async with asyncio.timeout(10):
        await client.live.wait()
        # The server registers a WebSocket for pushes just after the handshake.
        await orbiwise.wait_for(lambda: orbiwise.websocket_count == 1)
    return running


# --- parsing ------------------------------------------------------------------------------------


def test_uplink_from_the_documented_push() -> None:
    """The document's example: base64 data, Hz frequency, gateways, decoded object."""
    uplink = uplink_from_payload(
        {
            "DevEUI": "AA-BB-CC-dd-00-11-22-33",
            "dataFrame": "AACq",
            "port": 8,
            "timestamp": "2019-03-28T10:23:43.768Z",
            "fcnt": 5,
            "rssi": -69,
            "snr": 9,
            "dr_used": "SF7BW125",
            "sf_used": 7,
            "freq": 865572500,
            "confirmed": True,
            "decrypted": True,
            "gtw_info": [
                {"gtw_id": "0000000012340000", "rssi": -100, "snr": 5},
                {"gtw_id": "0000000012350000", "rssi": -90, "snr": 15},
            ],
            "decoded": {"temperature": 19.5, "humidity": 25},
            "latitude": 46.2,
            "longitude": 6.15,
        }
    )
    assert uplink.dev_eui == "AABBCCDD00112233"
    assert uplink.payload == b"\x00\x00\xaa"
    assert uplink.received_at == datetime(2019, 3, 28, 10, 23, 43, 768000, tzinfo=UTC)
    assert (uplink.f_port, uplink.f_cnt, uplink.confirmed) == (8, 5, True)
    assert uplink.frequency == pytest.approx(865.5725)
    assert [gateway.gateway_id for gateway in uplink.gateways] == [
        "0000000012350000",
        "0000000012340000",
    ]
    assert uplink.decoded == {"temperature": 19.5, "humidity": 25}
    assert uplink.location == Location(46.2, 6.15)
    assert uplink.encrypted is False


def test_encrypted_and_hex_payloads() -> None:
    """``decrypted: false`` marks the payload encrypted; hex payloads decode as hex."""
    data = {"DevEUI": CLIMATE, "timestamp": "2026-01-01T00:00:00Z", "dataFrame": "0a0b"}
    assert uplink_from_payload({**data, "decrypted": False}, "hex").encrypted is True
    assert uplink_from_payload(data, "hex").payload == b"\x0a\x0b"
    assert payload_bytes(None, "base64", "x") == b""


@pytest.mark.parametrize(
    "change",
    [
        {"dataFrame": "!!"},
        {"dataFrame": 5},
        {"DevEUI": "nope"},
        {"timestamp": "yesterday"},
        {"timestamp": None},
    ],
)
def test_malformed_uplinks(change: dict[str, Any]) -> None:
    """Without a readable DevEUI, time or payload there is no uplink: a ProtocolError."""
    data = {"DevEUI": CLIMATE, "timestamp": "2026-01-01T00:00:00Z", "dataFrame": "AQ=="} | change
    with pytest.raises(ProtocolError):
        uplink_from_payload(data)


@pytest.mark.parametrize(
    ("change", "dropped"),
    [
        ({"latitude": 95, "longitude": 6.1}, "location"),
        ({"latitude": 46.2, "longitude": "east"}, "location"),
        ({"latitude": 46.2, "longitude": 6.1, "altitude": "high"}, "altitude"),
        ({"gtw_info": {}}, "gateways"),
        ({"gtw_info": [{"gtw_id": True}, {"gtw_id": "0000000012340000"}]}, "one gateway"),
        ({"gtw_info": [5, {"gtw_id": "0000000012340000", "rssi": "loud"}]}, "gateway rssi"),
        ({"decoded": [1]}, "decoded"),
        ({"port": "one"}, "f_port"),
        ({"fcnt": 1.5}, "f_cnt"),
        ({"rssi": "strong", "snr": [1]}, "rssi"),
        ({"sf_used": "seven", "dr_used": 7, "freq": "high"}, "data rate"),
        ({"freq": -5}, "frequency"),
        ({"confirmed": "maybe", "decrypted": 7}, "flags"),
        ({"devaddr": "xyz"}, "dev_addr"),
        ({"devaddr": 2**40}, "dev_addr"),
    ],
)
def test_bad_optional_values_drop_only_themselves(
    change: dict[str, Any], dropped: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A bad optional value is dropped (and reported); the uplink and its payload stay."""
    data = {
        "DevEUI": CLIMATE,
        "timestamp": "2026-01-01T00:00:00Z",
        "dataFrame": "AWcA5g==",
        "port": 1,
        "fcnt": 3,
    } | change
    uplink = uplink_from_payload(data)
    assert uplink.payload == LPP_TEMPERATURE
    assert uplink.dev_eui == CLIMATE
    checks = {
        "location": uplink.location is None,
        "altitude": uplink.location == Location(46.2, 6.1, None),
        "gateways": uplink.gateways == (),
        "one gateway": [g.gateway_id for g in uplink.gateways] == ["0000000012340000"],
        "gateway rssi": [(g.gateway_id, g.rssi) for g in uplink.gateways]
        == [("0000000012340000", None)],
        "decoded": uplink.decoded is None,
        "f_port": uplink.f_port is None and uplink.f_cnt == 3,
        "f_cnt": uplink.f_cnt is None and uplink.f_port == 1,
        "rssi": uplink.rssi is None and uplink.snr is None,
        "data rate": (uplink.spreading_factor, uplink.data_rate, uplink.frequency)
        == (None, None, None),
        "frequency": uplink.frequency is None,
        "flags": uplink.confirmed is None and uplink.encrypted is False,
        "dev_addr": uplink.dev_addr is None,
    }
    assert checks[dropped]
    assert "Dropped" in caplog.text


def test_bad_optional_values_of_other_pushes() -> None:
    """Status, node, alarm and join pushes keep what they can read."""
    status = status_from_push(
        {"DevEUI": CLIMATE, "battery_status": 300, "margin_status": "x", "req_status": "ready"}
    )
    assert status == DeviceStatus(dev_eui=CLIMATE)
    node = device_from_node(
        {
            "DevEUI": DOOR,
            "comment": 5,
            "appeui": "HEX ",
            "device_class": "C",
            "lora_device_class": 2,
            "latitude": 100,
            "longitude": 6,
            "dl_fcnt": "many",
        }
    )
    assert node == ServerDevice(dev_eui=DOOR, device_class=LoRaClass.C)
    alarm = alarm_from_push(
        {"timestamp": "ISO8601", "alarm_code": 7, "DevEUI": "hex", "gtw_id": "0102"}
    )
    assert (alarm.code, alarm.dev_eui, alarm.at, alarm.gateway_id) == (
        "unknown",
        None,
        None,
        "0102",
    )
    join = join_from_push({"DevEUI": DOOR, "appeui": "HEX", "join_status": 1})
    assert (join.dev_eui, join.app_eui, join.status) == (DOOR, None, "unknown")
    answer = result_from_answer({"id": "x", "transmissionStatus": "y", "fcnt": 2})
    assert (answer.message_id, answer.state, answer.f_cnt) == (None, DownlinkState.QUEUED, 2)


def test_status_and_node_pushes() -> None:
    """Battery 0 is external power, 1-254 a level, 255 unknown; a pending request is no result."""
    base = {"DevEUI": CLIMATE, "margin_status": 7, "req_status": 3}
    powered = status_from_push({**base, "battery_status": 0})
    assert powered is not None
    assert (powered.battery, powered.external_power, powered.margin) == (None, True, 7)
    full = status_from_push({**base, "battery_status": 254})
    assert full is not None
    assert (full.battery, full.external_power) == (100.0, False)
    unknown = status_from_push({**base, "battery_status": 255})
    assert unknown is not None
    assert (unknown.battery, unknown.external_power) == (None, None)
    assert status_from_push({**base, "battery_status": 9, "req_status": 2}) is None
    node = device_from_node({"DevEUI": DOOR, "lora_device_class": 1, "dl_fcnt": 4})
    assert (node.device_class, node.downlink_f_cnt, node.location) == (LoRaClass.B, 4, None)


def test_downlink_status_codes() -> None:
    """Each transmissionStatus maps to a state; an unknown one is a protocol error."""
    states = [
        downlink_status({"DevEUI": DOOR, "id": 1, "transmissionStatus": code}).state
        for code in range(6)
    ]
    assert states == [
        DownlinkState.QUEUED,
        DownlinkState.SENT,
        DownlinkState.ACKNOWLEDGED,
        DownlinkState.FAILED,
        DownlinkState.FAILED,
        DownlinkState.CANCELLED,
    ]
    group = downlink_status({"groupid": "g", "id": 2, "transmissionStatus": 1}, group=True)
    assert (group.dev_eui, group.group_id) == ("", "g")
    with pytest.raises(ProtocolError):
        downlink_status({"DevEUI": DOOR, "id": 1, "transmissionStatus": 9})
    with pytest.raises(ProtocolError):
        downlink_status({"DevEUI": DOOR, "transmissionStatus": 1})


# --- REST and authentication ----------------------------------------------------------------


async def test_devices_pages_and_application(
    http_session: aiohttp.ClientSession,
    orbiwise: OrbiWiseSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every page of the device list; an application sees its own devices only."""
    monkeypatch.setattr("custom_components.lorawan_hub.lns.orbiwise.rest.PAGE_SIZE", 1)
    devices = await make_client(http_session, orbiwise).list_devices()
    assert [(d.dev_eui, d.name, d.device_class) for d in devices] == [
        (CLIMATE, "Climate", LoRaClass.A),
        (DOOR, "Door", LoRaClass.C),
    ]
    pages = [path for _m, path in orbiwise.requests if path == "/rest/nodes"]
    assert len(pages) == 2
    scoped = make_client(http_session, orbiwise, application="app-1")
    await scoped.validate()
    assert [d.dev_eui for d in await scoped.list_devices()] == [CLIMATE]


async def test_oauth2_token_renewed_once_then_refused(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """A refused token is replaced once; refused credentials are an AuthError."""
    client = make_client(http_session, orbiwise)
    await client.validate()
    orbiwise.expire_tokens()
    await client.validate()
    orbiwise.expire_tokens()
    orbiwise.reject_credentials = True
    with pytest.raises(AuthError):
        await client.validate()


async def test_basic_authentication(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """Basic works while the operator allows it; a refusal is an AuthError, not retried."""
    client = make_client(http_session, orbiwise, auth_mode=AuthMode.BASIC)
    await client.validate()
    orbiwise.basic_enabled = False
    with pytest.raises(AuthError):
        await client.validate()
    with pytest.raises(AuthError):
        await make_client(http_session, orbiwise, password="wrong").validate()


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, InvalidRequest),
        (403, Forbidden),
        (404, InvalidRequest),
        (409, InvalidRequest),
        (418, InvalidRequest),
        (503, CannotConnect),
    ],
)
async def test_status_errors(
    http_session: aiohttp.ClientSession,
    orbiwise: OrbiWiseSimulator,
    status: int,
    error: type[Exception],
) -> None:
    """Documented statuses map to error types, with the server's RFC 7807 detail."""
    orbiwise.fail_next("/rest/nodes", status)
    with pytest.raises(error, match="simulated failure"):
        await make_client(http_session, orbiwise).validate()


async def test_plain_text_errors_and_bad_json(http_session: aiohttp.ClientSession) -> None:
    """Plain-text error answers keep their text; a success that is not JSON is a protocol error."""
    answers = iter(
        [
            web.Response(status=404, text="cannot find device"),
            web.Response(status=400),
            web.Response(status=200, text="not json"),
            web.json_response({"results": 5}),
            web.json_response(["x"]),
            web.json_response({"detail": ""}, status=409),
            web.json_response([1], status=409),
        ]
    )

    async def nodes(request: web.Request) -> web.Response:
        return next(answers)

    app = web.Application()
    app.router.add_get("/rest/nodes", nodes)
    async with SimulatorServer(app) as server:
        client = OrbiWiseClient(
            http_session, server.base_url, username="u", password="p", auth_mode=AuthMode.BASIC
        )
        with pytest.raises(InvalidRequest, match="cannot find device"):
            await client.validate()
        with pytest.raises(InvalidRequest, match="the request is not valid"):
            await client.validate()
        with pytest.raises(ProtocolError):
            await client.validate()
        with pytest.raises(ProtocolError, match="no results"):
            await client.list_devices()
        assert await client.list_devices() == []  # an entry that is not an object is dropped
        with pytest.raises(InvalidRequest, match="busy or full"):
            await client.validate()
        with pytest.raises(InvalidRequest, match="busy or full"):
            await client.validate()


async def test_unreachable(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """A server that went away is CannotConnect."""
    client = make_client(http_session, orbiwise, auth_mode=AuthMode.BASIC)
    await orbiwise.stop()
    with pytest.raises(CannotConnect):
        await client.validate()


# --- WebSocket pushes and the drain ------------------------------------------------------------


async def test_live_uplinks_are_delivered_and_deleted(
    running_orbiwise_client: RunningClient[OrbiWiseClient], orbiwise: OrbiWiseSimulator
) -> None:
    """A pushed uplink reaches the sink once (early and complete pushes) and leaves the store."""
    first = orbiwise.publish(CLIMATE, LPP_TEMPERATURE)
    second = orbiwise.publish(DOOR, b"\x01\x66\x01", decoded={"open": True}, decrypted=True)
    await running_orbiwise_client.uplinks(2)
    async with asyncio.timeout(10):
        await orbiwise.wait_for(lambda: {first, second} <= set(orbiwise.deleted))
    assert len(running_orbiwise_client.sink.uplinks) == 2
    assert running_orbiwise_client.sink.uplinks[1].decoded == {"open": True}
    assert orbiwise.stored[CLIMATE] == {}
    assert orbiwise.websocket_subscriptions[0] == frozenset(
        {
            "payloads_ul",
            "payloads_dl",
            "multicast",
            "nodeinfo",
            "status",
            "joininfo",
            "location",
            "alarm",
        }
    )
    assert orbiwise.websocket_authorizations[0].startswith("Bearer ")


async def test_outage_drain(
    running_orbiwise_client: RunningClient[OrbiWiseClient], orbiwise: OrbiWiseSimulator
) -> None:
    """100 uplinks stored during an outage: all delivered once, in order, and all deleted."""
    orbiwise.hold_pushes = True
    orbiwise.drop_websockets()
    async with asyncio.timeout(10):
        await running_orbiwise_client.sink.wait_for(lambda: not running_orbiwise_client.sink.up)
    ids = [
        orbiwise.publish(CLIMATE if index % 2 else DOOR, bytes([1, 0x67, 0, index]))
        for index in range(100)
    ]
    orbiwise.hold_pushes = False
    await running_orbiwise_client.uplinks(100)
    async with asyncio.timeout(10):
        await orbiwise.wait_for(lambda: set(ids) <= set(orbiwise.deleted))
    assert len(running_orbiwise_client.sink.uplinks) == 100
    for dev_eui in (CLIMATE, DOOR):
        counters = [u.f_cnt for u in running_orbiwise_client.sink.uplinks if u.dev_eui == dev_eui]
        assert counters == list(range(50))
    assert orbiwise.stored == {CLIMATE: {}, DOOR: {}}
    assert len(orbiwise.deleted) == 100
    assert running_orbiwise_client.sink.connections[-1] == (True, None)
    # The reconnect listed the devices again.
    assert len(running_orbiwise_client.sink.device_lists) == 1


async def test_one_bad_stored_record_never_blocks_the_drain(
    http_session: aiohttp.ClientSession,
    orbiwise: OrbiWiseSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """
    Each stored record is read on its own: a bad id, a bad optional value or a broken record.

    A record whose id cannot be read is delivered but stays stored (it cannot be deleted); one
    with a bad latitude is delivered without its position and deleted; one that cannot be read
    at all is reported and left in the server's store; the drain goes on and the entry is live.
    """
    first = orbiwise.publish(CLIMATE, bytes([1, 0x67, 0, 1]))
    bad_id = orbiwise.publish(CLIMATE, bytes([1, 0x67, 0, 2]))
    orbiwise.stored[CLIMATE][bad_id]["id"] = "a1b2"
    bad_latitude = orbiwise.publish(CLIMATE, bytes([1, 0x67, 0, 3]), location=(95.0, 6.1))
    unreadable = orbiwise.publish(CLIMATE, bytes([1, 0x67, 0, 4]))
    orbiwise.stored[CLIMATE][unreadable]["dataFrame"] = "!!"
    orbiwise.stored[CLIMATE][-1] = "not an object"
    last = orbiwise.publish(CLIMATE, bytes([1, 0x67, 0, 5]))
    client = make_client(http_session, orbiwise)
    await client.list_devices()
    run = RunningClient(client)
    async with asyncio.timeout(10):
        await client.live.wait()
        await orbiwise.wait_for(lambda: {first, bad_latitude, last} <= set(orbiwise.deleted))
    assert [uplink.payload[-1] for uplink in run.sink.uplinks] == [1, 2, 3, 5]
    assert run.sink.uplinks[2].location is None
    assert bad_id in orbiwise.stored[CLIMATE]  # delivered; its id cannot name it to delete
    assert unreadable in orbiwise.stored[CLIMATE]  # never deleted unread
    assert run.sink.connections == [(True, None)]
    assert "Skipped a stored uplink of 70B3D57ED0000001" in caplog.text
    assert "not objects" in caplog.text
    await run.stop()


async def test_live_uplink_with_a_bad_optional_value(
    running_orbiwise_client: RunningClient[OrbiWiseClient], orbiwise: OrbiWiseSimulator
) -> None:
    """A pushed uplink with a latitude of 95 is delivered without its position, then deleted."""
    body = {
        "early": False,
        "DevEUI": CLIMATE,
        "dataFrame": "AWcA5g==",
        "port": 1,
        "timestamp": "2026-01-01T00:00:00.000Z",
        "fcnt": 9,
        "id": 77,
        "live": True,
        "latitude": 95,
        "longitude": 6.1,
    }
    orbiwise.push_uplink(body)
    await running_orbiwise_client.uplinks(1)
    async with asyncio.timeout(10):
        await orbiwise.wait_for(lambda: 77 in orbiwise.deleted)
    assert running_orbiwise_client.sink.uplinks[0].payload == LPP_TEMPERATURE
    assert running_orbiwise_client.sink.uplinks[0].location is None
    assert CLIMATE not in running_orbiwise_client.sink.locations


async def test_pushes_of_every_kind(
    running_orbiwise_client: RunningClient[OrbiWiseClient], orbiwise: OrbiWiseSimulator
) -> None:
    """nodeinfo, status, location, joininfo and alarm pushes reach the sink."""
    orbiwise.push_nodeinfo(DOOR)
    orbiwise.push_status(CLIMATE, battery=127, margin=5)
    orbiwise.push_status(CLIMATE, battery=127, margin=5, ready=2)
    orbiwise.push_location(CLIMATE, 46.2, 6.1)
    orbiwise.push_joininfo(DOOR)
    orbiwise.push_alarm(DOOR, "UPLINK_WITHOUT_ADR", "An uplink without ADR was dropped")
    orbiwise.push_alarm(None, "ACCOUNT", "Account alarm")
    orbiwise.publish(CLIMATE, LPP_TEMPERATURE, location=(46.3, 6.2))
    sink = running_orbiwise_client.sink
    async with asyncio.timeout(10):
        await sink.wait_for(lambda: len(sink.alarms) == 2 and len(sink.uplinks) == 1)
    assert sink.device_updates[0].device_class is LoRaClass.C
    assert [status.battery for status in sink.device_statuses] == [49.8]
    assert sink.locations[CLIMATE] == Location(46.3, 6.2)
    assert sink.joins[0].status == "JOIN_ACCEPTED"
    assert sink.alarms[0].code == "UPLINK_WITHOUT_ADR"
    assert sink.alarms[0].dev_eui == DOOR
    assert sink.alarms[1].dev_eui is None


async def test_malformed_pushes_are_dropped(
    running_orbiwise_client: RunningClient[OrbiWiseClient],
    orbiwise: OrbiWiseSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A push that is not JSON, or an uplink with a broken payload, is logged; the rest goes on."""
    orbiwise.push_malformed()
    orbiwise.publish(CLIMATE, LPP_TEMPERATURE)
    await running_orbiwise_client.uplinks(1)
    running_orbiwise_client.client.receive(b'{"payloads_ul": 5}')
    assert "not JSON" in caplog.text
    assert "Dropped a malformed payloads_ul push" in caplog.text
    assert "Dropped a payloads_ul push that is not an object" in caplog.text
    assert running_orbiwise_client.sink.connections == [(True, None)]


async def test_websocket_refused(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """Refused credentials end the run with AuthError."""
    orbiwise.reject_credentials = True
    run = RunningClient(make_client(http_session, orbiwise, auth_mode=AuthMode.BASIC))
    with pytest.raises(AuthError):
        await asyncio.wait_for(run.task, 10)


async def test_websocket_handshake_statuses(http_session: aiohttp.ClientSession) -> None:
    """A 401 handshake after a renewal is an AuthError; other failures are retried."""
    statuses = iter([401, 401, 500])

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "t", "expires_in": 600})

    async def connect(request: web.Request) -> web.Response:
        return web.Response(status=next(statuses, 500))

    async def nodes(request: web.Request) -> web.Response:
        return web.json_response([])

    app = web.Application()
    app.router.add_post("/rest/oauth2/token", token)
    app.router.add_get("/websocket/connect", connect)
    app.router.add_get("/rest/nodes", nodes)
    async with SimulatorServer(app) as server:
        client = OrbiWiseClient(http_session, server.base_url, username="u", password="p")
        with pytest.raises(AuthError):
            await client.run(RecordingSink())
        sink = RecordingSink()
        task = asyncio.create_task(client.run(sink))
        async with asyncio.timeout(10):
            await sink.wait_for(lambda: len(sink.connections) >= 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert "HTTP 500" in str(sink.connections[0][1])


async def test_unexpected_error_is_retried(
    http_session: aiohttp.ClientSession,
    orbiwise: OrbiWiseSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug during a connection is logged and the connection made again."""

    class Broken(RecordingSink):
        failed = False

        def devices_listed(self, devices: Any) -> None:
            if not self.failed:
                self.failed = True
                raise RuntimeError("bug")
            super().devices_listed(devices)

    client = make_client(http_session, orbiwise)
    sink = Broken()
    # A first connection that works, so that the reconnect lists the devices (and fails once).
    task = asyncio.create_task(client.run(sink))
    async with asyncio.timeout(10):
        await sink.wait_for(lambda: sink.up)
        orbiwise.drop_websockets()
        await sink.wait_for(lambda: len(sink.device_lists) == 1)
    assert "Unexpected error in the connection" in caplog.text
    assert (False, "unexpected error") in sink.connections
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# --- actions -----------------------------------------------------------------------------------


async def test_downlink_over_websocket_and_its_status(
    running_orbiwise_client: RunningClient[OrbiWiseClient], orbiwise: OrbiWiseSimulator
) -> None:
    """A downlink goes over the WebSocket with a tag; its later states are pushed."""
    result = await running_orbiwise_client.client.send_downlink(
        Downlink(dev_eui=DOOR, f_port=10, payload=b"\x01\xff", confirmed=True)
    )
    assert result.state is DownlinkState.QUEUED
    assert result.f_cnt == 1
    sent = orbiwise.downlinks[0]
    assert (sent.target, sent.port, sent.payload, sent.confirmed, sent.mode) == (
        DOOR,
        10,
        b"\x01\xff",
        True,
        "enqueue_on_busy",
    )
    assert sent.tag is not None
    orbiwise.advance_downlink(sent.id, 1)
    orbiwise.advance_downlink(sent.id, 2)
    async with asyncio.timeout(10):
        await running_orbiwise_client.sink.wait_for(
            lambda: len(running_orbiwise_client.sink.downlink_statuses) == 2
        )
    assert [s.state for s in running_orbiwise_client.sink.downlink_statuses] == [
        DownlinkState.SENT,
        DownlinkState.ACKNOWLEDGED,
    ]
    assert running_orbiwise_client.sink.downlink_statuses[0].message_id == result.message_id


async def test_downlink_modes_and_refusals(
    running_orbiwise_client: RunningClient[OrbiWiseClient], orbiwise: OrbiWiseSimulator
) -> None:
    """Modes map to fail/replace/enqueue_on_busy; a busy queue and unknown devices are refused."""
    client = running_orbiwise_client.client
    await client.send_downlink(
        Downlink(dev_eui=CLIMATE, f_port=1, payload=b"\x00", mode=DownlinkMode.IMMEDIATE)
    )
    assert orbiwise.downlinks[0].mode == "fail_on_busy"  # nothing waiting: taken
    await client.send_downlink(Downlink(dev_eui=DOOR, f_port=1, payload=b"\x01"))
    with pytest.raises(InvalidRequest) as refused:
        await client.send_downlink(
            Downlink(dev_eui=DOOR, f_port=1, payload=b"\x02", mode=DownlinkMode.IMMEDIATE)
        )
    # OrbiWAN cannot send at once: immediate is fail_on_busy, refused while others wait.
    assert (refused.value.key, refused.value.code) == ("orbiwise_busy", 409)
    assert "fail_on_busy" in refused.value.reason
    del orbiwise.downlinks[0]
    await client.send_downlink(
        Downlink(dev_eui=DOOR, f_port=1, payload=b"\x03", mode=DownlinkMode.REPLACE)
    )
    assert [d.status for d in orbiwise.downlinks] == [5, 0]
    with pytest.raises(InvalidRequest, match="cannot find device"):
        await client.send_downlink(Downlink(dev_eui="0000000000000009", f_port=1, payload=b""))
    with pytest.raises(Unsupported):
        await client.send_downlink(
            Downlink(dev_eui=DOOR, f_port=1, payload=b"", device_class=LoRaClass.C)
        )


@pytest.mark.parametrize("transport", [Transport.WEBSOCKET, Transport.REST_PUSH])
async def test_full_queue_is_named(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator, transport: Transport
) -> None:
    """A 409 to a queued downlink or multicast is a full queue (at most 10 waiting)."""
    client = rest_push_client(http_session, orbiwise) if transport is Transport.REST_PUSH else None
    client = client or make_client(http_session, orbiwise)
    run = RunningClient(client)
    async with asyncio.timeout(10):
        await client.live.wait()
    for _ in range(10):
        await client.send_downlink(Downlink(dev_eui=DOOR, f_port=1, payload=b"\x01"))
    with pytest.raises(InvalidRequest) as refused:
        await client.send_downlink(Downlink(dev_eui=DOOR, f_port=1, payload=b"\x01"))
    assert refused.value.key == "orbiwise_queue_full"
    orbiwise.groups["g"] = {"groupid": "g", "title": "g"}
    for _ in range(10):
        await client.send_multicast("g", 1, b"\x01")
    with pytest.raises(InvalidRequest) as refused:
        await client.send_multicast("g", 1, b"\x01")
    assert refused.value.key == "orbiwise_queue_full"
    with pytest.raises(InvalidRequest) as unknown:
        await client.send_multicast("nope", 1, b"\x01")
    assert unknown.value.code == 404
    await run.stop()


async def test_websocket_messages_are_json_text(
    running_orbiwise_client: RunningClient[OrbiWiseClient], orbiwise: OrbiWiseSimulator
) -> None:
    """The document's WebSocket messages are JSON text: downlinks go in text frames."""
    await running_orbiwise_client.client.send_downlink(
        Downlink(dev_eui=DOOR, f_port=1, payload=b"\x01")
    )
    assert orbiwise.ws_frames == ["text"]


async def test_binary_pushes_are_read_too(
    running_orbiwise_client: RunningClient[OrbiWiseClient], orbiwise: OrbiWiseSimulator
) -> None:
    """A server pushing JSON in binary frames is understood all the same."""
    orbiwise.binary_pushes = True
    orbiwise.publish(CLIMATE, LPP_TEMPERATURE)
    await running_orbiwise_client.uplinks(1)


class HeldSender:
    """A push channel that records what is sent and answers only when told."""

    def __init__(self, client: OrbiWiseClient) -> None:
        """Take ``client``'s channel."""
        self.client = client
        self.sent: list[dict[str, Any]] = []

    async def send(self, message: Any) -> None:
        """Record one message."""
        self.sent.append(dict(message))

    def answer(self, index: int) -> None:
        """Answer the message sent ``index``-th."""
        ((topic, body),) = self.sent[index].items()
        answer = {"id": 100 + index, "transmissionStatus": 0, "fcnt": 1, "tag": body["tag"]}
        if topic == "payloads_dl":
            answer["DevEUI"] = body["DevEUI"]
        else:
            answer["groupid"] = body["groupid"]
        self.client.dispatch(topic, answer)


@pytest.mark.parametrize("second", ["downlink", "multicast"])
async def test_one_downlink_at_a_time(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator, second: str
) -> None:
    """
    "Scheduling several payloads in parallel is not supported": the next waits for the answer.

    Downlinks and multicasts share the turn, over the push channel as over REST.
    """
    client = make_client(http_session, orbiwise, transport=Transport.MQTT)
    client._sink = RecordingSink()  # running, without a broker: the channel is ours
    channel = HeldSender(client)
    client.set_sender(channel.send)
    first = asyncio.create_task(
        client.send_downlink(Downlink(dev_eui=DOOR, f_port=1, payload=b"\x01"))
    )
    other = asyncio.create_task(
        client.send_downlink(Downlink(dev_eui=CLIMATE, f_port=1, payload=b"\x02"))
        if second == "downlink"
        else client.send_multicast("g", 1, b"\x03")
    )
    await asyncio.sleep(0)  # both tasks run up to where they wait
    assert len(channel.sent) == 1
    channel.answer(0)
    assert (await first).message_id == "100"
    await asyncio.sleep(0)
    assert len(channel.sent) == 2
    channel.answer(1)
    assert (await other).message_id == "101"


async def test_untagged_error_answers_the_request_waiting(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """An error the server could not tag answers the one request waiting, at once."""
    client = make_client(http_session, orbiwise, transport=Transport.MQTT)
    client._sink = RecordingSink()  # running, without a broker: the channel is ours

    async def refuse(message: Any) -> None:
        error = {"error": {"error_msg": "invalid message", "status_code": 400}}
        asyncio.get_running_loop().call_soon(client.receive, orjson.dumps(error))

    client.set_sender(refuse)
    with pytest.raises(InvalidRequest, match="invalid message"):
        await client.send_downlink(Downlink(dev_eui=DOOR, f_port=1, payload=b"\x01"))
    client.dispatch("error", {"error_msg": "late", "status_code": 400})  # nothing waits: ignored


async def test_one_rest_downlink_at_a_time(
    http_session: aiohttp.ClientSession,
    orbiwise: OrbiWiseSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over REST too, the next POST waits for the previous one's answer."""
    client = rest_push_client(http_session, orbiwise)
    posted: list[str] = []
    answers: list[asyncio.Future[dict[str, Any]]] = []

    async def request(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        posted.append(path)
        answers.append(asyncio.get_running_loop().create_future())
        return await answers[-1]

    monkeypatch.setattr(client._rest, "request", request)
    first = asyncio.create_task(
        client.send_downlink(Downlink(dev_eui=DOOR, f_port=1, payload=b"\x01"))
    )
    other = asyncio.create_task(client.send_multicast("g", 1, b"\x03"))
    await asyncio.sleep(0)
    assert posted == [f"rest/nodes/{DOOR}/payloads/dl"]
    answers[0].set_result({"id": 1})
    await first
    await asyncio.sleep(0)
    assert posted[1:] == ["rest/multicast/g"]
    answers[1].set_result({"id": 2})
    assert (await other).message_id == "2"


async def test_downlink_without_connection(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """No push channel, no downlink over it."""
    with pytest.raises(CannotConnect):
        await make_client(http_session, orbiwise).send_downlink(
            Downlink(dev_eui=DOOR, f_port=1, payload=b"\x01")
        )


async def test_class_status_and_multicast(
    running_orbiwise_client: RunningClient[OrbiWiseClient], orbiwise: OrbiWiseSimulator
) -> None:
    """Class change, a status request answered on the next uplink, and multicast groups."""
    client = running_orbiwise_client.client
    await client.set_device_class(CLIMATE, LoRaClass.C)
    assert orbiwise.nodes[CLIMATE].device_class == 2
    await client.request_device_status(CLIMATE)
    orbiwise.publish(CLIMATE, LPP_TEMPERATURE)
    async with asyncio.timeout(10):
        await running_orbiwise_client.sink.wait_for(
            lambda: bool(running_orbiwise_client.sink.device_statuses)
        )
    assert running_orbiwise_client.sink.device_statuses[0].margin == 12

    group = await client.create_multicast_group(MulticastSetup(name="valves"))
    assert group.group_id == "valves"
    with pytest.raises(InvalidRequest):
        await client.create_multicast_group(
            MulticastSetup(name="a-group", device_class=LoRaClass.A)
        )
    await client.add_to_multicast_group("valves", [CLIMATE, DOOR])
    assert orbiwise.nodes[DOOR].groups == {"valves"}
    await client.remove_from_multicast_group("valves", [DOOR])
    assert orbiwise.nodes[DOOR].groups == set()
    result = await client.send_multicast("valves", 5, b"\x0a")
    assert result.state is DownlinkState.QUEUED
    orbiwise.advance_downlink(int(str(result.message_id)), 1)
    async with asyncio.timeout(10):
        await running_orbiwise_client.sink.wait_for(
            lambda: bool(running_orbiwise_client.sink.downlink_statuses)
        )
    assert running_orbiwise_client.sink.downlink_statuses[0].group_id == "valves"
    with pytest.raises(InvalidRequest, match="group not found"):
        await client.send_multicast("nope", 5, b"\x0a")
    await client.delete_multicast_group("valves")
    assert orbiwise.groups == {}


async def test_rest_push_transport(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """REST push: registered with the server, pushes taken by the receiver, stopped on close."""
    received: list[tuple[str, str]] = []
    holder: dict[str, OrbiWiseClient] = {}

    async def receiver(request: web.Request) -> web.Response:
        received.append((request.method, request.headers.get("Authorization", "")))
        accepted = holder["client"].dispatch(request.query["topic"], await request.json())
        return web.Response(status=200 if accepted else 503)

    app = web.Application()
    app.router.add_route("*", "/api/webhook/hook-id", receiver)
    async with SimulatorServer(app) as home:
        client = make_client(
            http_session,
            orbiwise,
            transport=Transport.REST_PUSH,
            push_target=PushTarget(f"{home.base_url}/api/webhook/hook-id", "Bearer secret"),
        )
        holder["client"] = client
        stored = orbiwise.publish(CLIMATE, LPP_TEMPERATURE)  # stored before the push starts
        await client.list_devices()
        run = RunningClient(client)
        async with asyncio.timeout(10):
            await client.live.wait()
        await run.uplinks(1)
        orbiwise.publish(DOOR, b"\x01\x66\x01")
        await run.uplinks(2)
        async with asyncio.timeout(10):
            await orbiwise.wait_for(lambda: ("payloads_ul", 200) in orbiwise.pushed)
        assert orbiwise.push_mode is not None
        assert orbiwise.push_mode.path_prefix == "${skip_topic}/api/webhook/hook-id?topic=${topic}"
        assert received[0] == ("POST", "Bearer secret")
        assert stored in orbiwise.deleted
        assert orbiwise.stored[DOOR] == {}  # deleted by the server after the 200
        result = await client.send_downlink(Downlink(dev_eui=DOOR, f_port=2, payload=b"\x05"))
        assert result.message_id == str(orbiwise.downlinks[0].id)
        orbiwise.advance_downlink(orbiwise.downlinks[0].id, 2)
        async with asyncio.timeout(10):
            await run.sink.wait_for(lambda: bool(run.sink.downlink_statuses))
        orbiwise.groups["g"] = {"groupid": "g", "title": "g"}
        group_result = await client.send_multicast("g", 3, b"\x01")
        assert group_result.message_id is not None
        await run.stop()
        await client.close()
        assert orbiwise.push_mode is not None
        assert orbiwise.push_mode.enabled is False  # stopped: it was ours
        # After the run, a push is not taken: the server keeps the uplink.
        assert client.dispatch("payloads_ul", {}) is False


def rest_push_client(
    session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator, **kwargs: Any
) -> OrbiWiseClient:
    """A REST push client whose receiver nobody serves (enough to see the set-up)."""
    return make_client(
        session,
        orbiwise,
        transport=Transport.REST_PUSH,
        push_target=PushTarget("http://127.0.0.1:9/api/webhook/x", "Bearer s"),
        **kwargs,
    )


@pytest.mark.parametrize(
    ("host", "port", "target"),
    [
        ("https://lora.example.net", 443, "https://lora.example.net:443"),
        ("mqtts://user:secret@broker.example.net", 8883, "mqtts://broker.example.net:8883"),
    ],
)
async def test_rest_push_leaves_a_push_set_up_elsewhere_alone(
    http_session: aiohttp.ClientSession,
    orbiwise: OrbiWiseSimulator,
    host: str,
    port: int,
    target: str,
) -> None:
    """
    Someone else's push (REST or MQTT client mode) is neither replaced nor stopped.

    The connection is reported down, naming where the account pushes (never its credentials).
    """
    theirs = orbiwise.set_push_mode(host, port, "/v1/networks/ubiq/uplink")
    client = rest_push_client(http_session, orbiwise)
    foreign = await client.foreign_push()
    assert foreign is not None
    assert foreign.target == target
    run = RunningClient(client)
    async with asyncio.timeout(10):
        await run.sink.wait_for(lambda: bool(run.sink.connections))
    await run.stop()
    reason = str(run.sink.connections[0][1])
    assert target in reason
    assert "secret" not in reason
    await client.close()
    assert orbiwise.push_modes[""] is theirs
    assert theirs.enabled is True
    assert ("PUT", "/rest/pushmode/start") not in orbiwise.requests
    assert ("PUT", "/rest/pushmode/stop") not in orbiwise.requests


async def test_rest_push_replaces_what_the_user_agreed_to_replace(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """With consent for that very configuration it is replaced, and ours stopped at close."""
    orbiwise.set_push_mode("https://lora.example.net", 443, "/v1/uplink", enabled=False)
    probe = rest_push_client(http_session, orbiwise)
    foreign = await probe.foreign_push()
    assert foreign is not None
    other = orbiwise.set_push_mode("https://lora.example.net", 443, "/v2/other")
    # Consent was for /v1/uplink: another configuration is still left alone.
    refused = RunningClient(rest_push_client(http_session, orbiwise, replaces=foreign.fingerprint))
    async with asyncio.timeout(10):
        await refused.sink.wait_for(lambda: bool(refused.sink.connections))
    await refused.stop()
    assert orbiwise.push_modes[""] is other
    orbiwise.set_push_mode("https://lora.example.net", 443, "/v1/uplink")
    client = rest_push_client(http_session, orbiwise, replaces=foreign.fingerprint)
    run = RunningClient(client)
    async with asyncio.timeout(10):
        await client.live.wait()
    assert orbiwise.push_modes[""].host == "http://127.0.0.1"
    assert await client.foreign_push() is None  # ours now
    await run.stop()
    await client.close()
    assert orbiwise.push_modes[""].enabled is False


async def test_close_stops_only_our_own_push(
    http_session: aiohttp.ClientSession,
    orbiwise: OrbiWiseSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Replaced elsewhere while running: closing (unload, Home Assistant stop) leaves it."""
    client = rest_push_client(http_session, orbiwise, application="app-1")
    run = RunningClient(client)
    async with asyncio.timeout(10):
        await client.live.wait()
    assert orbiwise.push_modes["app-1"].host == "http://127.0.0.1"
    theirs = orbiwise.set_push_mode("mqtts://broker.example.net", 8883, application="app-1")
    await run.stop()
    await client.close()
    await client.close()
    assert theirs.enabled is True
    assert ("PUT", "/rest/pushmode/stop/app-1") not in orbiwise.requests
    assert "changed elsewhere" in caplog.text


async def test_rest_push_needs_a_target(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """Without Home Assistant's address the push cannot start: reported and retried."""
    client = make_client(http_session, orbiwise, transport=Transport.REST_PUSH)
    run = RunningClient(client)
    async with asyncio.timeout(10):
        await run.sink.wait_for(lambda: bool(run.sink.connections))
    assert "address of Home Assistant" in str(run.sink.connections[0][1])
    await run.stop()


async def test_stop_push_failure_is_logged(
    http_session: aiohttp.ClientSession,
    orbiwise: OrbiWiseSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failing pushmode/stop is logged, never raised from close."""
    client = make_client(
        http_session,
        orbiwise,
        transport=Transport.REST_PUSH,
        push_target=PushTarget("http://127.0.0.1:9/api/webhook/x", "Bearer s"),
    )
    run = RunningClient(client)
    async with asyncio.timeout(10):
        await run.sink.wait_for(lambda: run.sink.up)
    await run.stop()
    orbiwise.fail_next("/rest/pushmode/stop", 500)
    await client.close()
    assert "Could not stop the pushes" in caplog.text
    await client.close()  # once stopped, nothing more to do


# --- edges ---------------------------------------------------------------------------------------


async def test_second_refusal_after_renewal_is_an_auth_error(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """A request refused again with a fresh token: the credentials are no good."""
    orbiwise.fail_next("/rest/nodes", 401, 401)
    with pytest.raises(AuthError):
        await make_client(http_session, orbiwise).validate()


async def test_page_limit_and_bad_nodes(
    http_session: aiohttp.ClientSession,
    orbiwise: OrbiWiseSimulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Endless pages are refused; a device the list cannot describe is skipped and logged."""
    orbiwise.nodes["NOT-AN-EUI"] = type(orbiwise.nodes[CLIMATE])("NOT-AN-EUI")
    devices = await make_client(http_session, orbiwise).list_devices()
    assert [device.dev_eui for device in devices] == [CLIMATE, DOOR]
    assert "cannot describe" in caplog.text
    monkeypatch.setattr("custom_components.lorawan_hub.lns.orbiwise.rest.PAGE_SIZE", 1)
    monkeypatch.setattr("custom_components.lorawan_hub.lns.orbiwise.rest.MAX_PAGES", 2)
    with pytest.raises(ProtocolError, match="pages"):
        await make_client(http_session, orbiwise).list_devices()


async def test_pushes_during_the_drain_wait_for_it(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """A live push that arrives while stored uplinks are read comes after them, in order."""
    orbiwise.stored_gate = asyncio.Event()
    orbiwise.publish(CLIMATE, bytes([1, 0x67, 0, 1]))
    client = make_client(http_session, orbiwise)
    await client.list_devices()
    run = RunningClient(client)
    async with asyncio.timeout(10):
        await orbiwise.wait_for(
            lambda: (
                orbiwise.websocket_count == 1
                and ("GET", f"/rest/nodes/{CLIMATE}/payloads/ul") in orbiwise.requests
            )
        )
    live_id = orbiwise.publish(CLIMATE, bytes([1, 0x67, 0, 2]))
    async with asyncio.timeout(10):
        await orbiwise.wait_for(lambda: live_id in {item[1] for item in orbiwise.ws_sent})
    orbiwise.stored_gate.set()
    await run.uplinks(2)
    async with asyncio.timeout(10):
        await client.live.wait()
    # Stored first, then the live one (pushed during the drain, and stored too): each once.
    assert [uplink.f_cnt for uplink in run.sink.uplinks] == [0, 1]
    await run.stop()


async def test_same_push_twice_is_delivered_once(
    running_orbiwise_client: RunningClient[OrbiWiseClient],
    orbiwise: OrbiWiseSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The early and the complete push of one uplink (same id) make one uplink."""
    monkeypatch.setattr("custom_components.lorawan_hub.lns.orbiwise.store.DELIVERED_MEMORY", 1)
    body = {
        "DevEUI": CLIMATE,
        "dataFrame": "AWcA5g==",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "fcnt": 7,
        "id": 42,
    }
    running_orbiwise_client.client.dispatch("payloads_ul_early", {**body, "early": True})
    running_orbiwise_client.client.dispatch("payloads_ul", {**body, "early": False})
    running_orbiwise_client.client.dispatch("payloads_ul", {**body, "id": 43, "fcnt": 8})
    assert [uplink.f_cnt for uplink in running_orbiwise_client.sink.uplinks] == [7, 8]


async def test_deletion_failures(
    running_orbiwise_client: RunningClient[OrbiWiseClient],
    orbiwise: OrbiWiseSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A payload already gone is fine; another failure to delete is logged."""
    first = orbiwise.publish(CLIMATE, LPP_TEMPERATURE)
    orbiwise.fail_next(f"/rest/nodes/{CLIMATE}/payloads/ul/{first}", 404)
    second = orbiwise.publish(CLIMATE, LPP_TEMPERATURE)
    orbiwise.fail_next(f"/rest/nodes/{CLIMATE}/payloads/ul/{second}", 500)
    third = orbiwise.publish(CLIMATE, LPP_TEMPERATURE)
    await running_orbiwise_client.uplinks(3)
    # Deletions go one after the other: once the third is done, the others were tried.
    async with asyncio.timeout(10):
        await orbiwise.wait_for(lambda: third in orbiwise.deleted)
    assert "Cannot delete a delivered uplink" in caplog.text
    assert first not in orbiwise.deleted


async def test_stored_malformed_without_id(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """A broken stored uplink without an id cannot be deleted: it is skipped."""
    bad = orbiwise.publish(CLIMATE, LPP_TEMPERATURE)
    item = orbiwise.stored[CLIMATE][bad]
    item["dataFrame"] = "!!"
    del item["id"]
    client = make_client(http_session, orbiwise)
    await client.list_devices()
    run = RunningClient(client)
    async with asyncio.timeout(10):
        await client.live.wait()
    assert run.sink.uplinks == []
    await run.stop()


async def test_channel_without_answer(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """A downlink the server never answers is reported as not answered."""
    client = make_client(http_session, orbiwise, request_timeout=0.3)
    run = RunningClient(client)
    async with asyncio.timeout(10):
        await client.live.wait()
    orbiwise.answer_channel = False
    with pytest.raises(CannotConnect, match="did not answer"):
        await client.send_downlink(Downlink(dev_eui=DOOR, f_port=1, payload=b"\x01"))
    await run.stop()


async def test_channel_requests_that_stop_waiting() -> None:
    """A request fails when the channel goes; an answer to one that gave up goes to nobody."""
    channel = Channel("orbiwan.example", 5)
    sent: list[Mapping[str, Any]] = []
    waiting = asyncio.Event()

    async def send(message: Mapping[str, Any]) -> None:
        sent.append(message)
        waiting.set()

    channel.set_sender(send)
    request = asyncio.create_task(channel.request("payloads_dl", {"port": 1}))
    await waiting.wait()
    channel.set_sender(None)
    with pytest.raises(CannotConnect, match="the connection closed"):
        await request

    channel.set_sender(send)
    waiting.clear()
    request = asyncio.create_task(channel.request("payloads_dl", {"port": 1}))
    await waiting.wait()
    tag = sent[-1]["payloads_dl"]["tag"]
    assert channel.awaits(tag)
    request.cancel()
    assert channel.answered(tag, {"id": 1})
    with pytest.raises(asyncio.CancelledError):
        await request
    assert not channel.awaits(tag)
    assert not channel.answered(tag, {"id": 1})


async def test_websocket_protocol_error(http_session: aiohttp.ClientSession) -> None:
    """A frame the WebSocket protocol does not know ends the connection, which is retried."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        match = re.search(rb"sec-websocket-key: *(\S+)", request, re.IGNORECASE)
        assert match is not None
        digest = hashlib.sha1(match.group(1) + WEBSOCKET_GUID, usedforsecurity=False).digest()
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + base64.b64encode(digest)
            + b"\r\n\r\n\x83\x00"  # a frame of a reserved opcode
        )
        await writer.drain()
        await reader.read()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = OrbiWiseClient(
        http_session,
        f"http://127.0.0.1:{port}",
        username="u",
        password="p",
        auth_mode=AuthMode.BASIC,
    )
    run = RunningClient(client)
    try:
        async with asyncio.timeout(10):
            await run.sink.wait_for(lambda: any(not up for up, _reason in run.sink.connections))
        reasons = [reason for up, reason in run.sink.connections if not up]
        assert reasons[0] == "WebSocket error: WebSocketError"
    finally:
        await run.stop()
        server.close()
        await server.wait_closed()


async def test_websocket_server_down_with_basic(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """With Basic authentication no token is needed: the WebSocket itself finds the server gone."""
    client = make_client(http_session, orbiwise, auth_mode=AuthMode.BASIC)
    await orbiwise.stop()
    run = RunningClient(client)
    async with asyncio.timeout(10):
        await run.sink.wait_for(lambda: bool(run.sink.connections))
    assert "cannot reach" in str(run.sink.connections[0][1])
    await run.stop()


def test_push_errors() -> None:
    """Errors on the push channel map by status code."""
    assert isinstance(push_error({"status_code": 401}), AuthError)
    assert isinstance(push_error({"status_code": 403}), Forbidden)
    assert isinstance(push_error({"status_code": 503}), CannotConnect)
    refused = push_error({})
    assert isinstance(refused, InvalidRequest)
    assert refused.reason == "refused"


async def test_failed_deletion_is_retried_after_reconnect(
    running_orbiwise_client: RunningClient[OrbiWiseClient], orbiwise: OrbiWiseSimulator
) -> None:
    """A deletion the server could not take (503) is tried again once connected again."""
    payload_id = orbiwise.publish(CLIMATE, LPP_TEMPERATURE)
    orbiwise.fail_next(f"/rest/nodes/{CLIMATE}/payloads/ul/{payload_id}", 503)
    await running_orbiwise_client.uplinks(1)
    check = orbiwise.publish(DOOR, LPP_TEMPERATURE)
    async with asyncio.timeout(10):
        await orbiwise.wait_for(lambda: check in orbiwise.deleted)
    assert payload_id in orbiwise.stored[CLIMATE]
    orbiwise.drop_websockets()
    async with asyncio.timeout(10):
        await running_orbiwise_client.sink.wait_for(lambda: not running_orbiwise_client.sink.up)
        await orbiwise.wait_for(lambda: payload_id in orbiwise.deleted)
    # The stored copy met on the reconnect was not delivered a second time.
    assert len(running_orbiwise_client.sink.uplinks) == 2


async def test_one_device_store_failing_spares_the_others(
    http_session: aiohttp.ClientSession,
    orbiwise: OrbiWiseSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A device whose store cannot be read is logged; the others are drained; live goes on."""
    orbiwise.publish(DOOR, LPP_TEMPERATURE)
    orbiwise.fail_next(f"/rest/nodes/{CLIMATE}/payloads/ul", 500)
    client = make_client(http_session, orbiwise)
    await client.list_devices()
    run = RunningClient(client)
    await run.uplinks(1)
    async with asyncio.timeout(10):
        await client.live.wait()
    assert "Cannot read the stored uplinks of 70B3D57ED0000001" in caplog.text
    assert run.sink.connections == [(True, None)]
    await run.stop()


async def test_rest_push_waits_for_the_drain(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """A REST push during the catch-up is taken only after it (never acknowledged before)."""
    orbiwise.stored_gate = asyncio.Event()
    client = make_client(
        http_session,
        orbiwise,
        transport=Transport.REST_PUSH,
        push_target=PushTarget("http://127.0.0.1:9/api/webhook/x", "Bearer s"),
    )
    await client.list_devices()
    body = {
        "DevEUI": CLIMATE,
        "dataFrame": "AWcA5g==",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "fcnt": 3,
        "id": 9,
    }
    assert await client.accept_push("payloads_ul", body, 1) is False  # not running
    run = RunningClient(client)
    async with asyncio.timeout(10):
        await run.sink.wait_for(lambda: run.sink.up)
    taking = asyncio.create_task(client.accept_push("payloads_ul", body, 10))
    assert await client.accept_push("payloads_ul", body, 0.05) is False  # still catching up
    assert run.sink.uplinks == []
    orbiwise.stored_gate.set()
    assert await taking is True
    assert [uplink.f_cnt for uplink in run.sink.uplinks] == [3]
    await run.stop()


async def test_application_scope(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """With an application, pushes about the account's other devices are ignored."""
    client = make_client(http_session, orbiwise, application="app-1")
    await client.list_devices()
    run = RunningClient(client)
    async with asyncio.timeout(10):
        await client.live.wait()
        await orbiwise.wait_for(lambda: orbiwise.websocket_count == 1)
    orbiwise.publish(DOOR, LPP_TEMPERATURE)
    orbiwise.publish(CLIMATE, LPP_TEMPERATURE)
    await run.uplinks(1)
    assert [uplink.dev_eui for uplink in run.sink.uplinks] == [CLIMATE]
    client.dispatch("payloads_ul", {"DevEUI": "bad"})  # malformed: reported, not filtered
    await run.stop()


async def test_closing_websocket_refuses_downlinks(
    running_orbiwise_client: RunningClient[OrbiWiseClient], orbiwise: OrbiWiseSimulator
) -> None:
    """A downlink sent while the WebSocket closes is a CannotConnect, not a crash."""

    async def closed(message: object) -> None:
        raise aiohttp.ClientConnectionResetError("closing")

    running_orbiwise_client.client.set_sender(closed)
    with pytest.raises(CannotConnect, match="closed"):
        await running_orbiwise_client.client.send_downlink(
            Downlink(dev_eui=DOOR, f_port=1, payload=b"\x01")
        )


# --- devices added after connecting (application scope) ---------------------------------------

NEW = "70B3D57ED0000003"


def list_requests(orbiwise: OrbiWiseSimulator) -> int:
    """How many times the device list was read."""
    return orbiwise.requests.count(("GET", "/rest/nodes"))


async def test_application_device_added_after_connecting(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """
    A push from a device added to the application since the list was read is delivered.

    The list is read again first; the new device's stored uplinks are drained, its status read.
    """
    client = make_client(http_session, orbiwise, application="app-1")
    await client.list_devices()
    run = RunningClient(client)
    async with asyncio.timeout(10):
        await client.live.wait()
        await orbiwise.wait_for(lambda: orbiwise.websocket_count == 1)
    orbiwise.add_node(NEW, comment="Boiler", applications={"app-1"})
    orbiwise.hold_pushes = True
    missed = orbiwise.publish(NEW, bytes([1, 0x67, 0, 1]))
    orbiwise.hold_pushes = False
    orbiwise.push_status(NEW, battery=254, margin=4)  # not stored, read back after the list
    live = orbiwise.publish(NEW, bytes([1, 0x67, 0, 2]))
    await run.uplinks(2)
    async with asyncio.timeout(10):
        await orbiwise.wait_for(lambda: {missed, live} <= set(orbiwise.deleted))
        await run.sink.wait_for(lambda: bool(run.sink.device_statuses))
    assert [uplink.payload[-1] for uplink in run.sink.uplinks] == [1, 2]
    assert [device.name for device in run.sink.device_lists[-1]] == ["Climate", "Boiler"]
    assert run.sink.device_statuses[-1].dev_eui == NEW
    await run.stop()


async def test_other_applications_devices_are_asked_about_once(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """
    A device outside the application costs one reading of the list, not one per push.

    Its pushes (uplinks, nodeinfo) are dropped, and its uplinks stay in the server's store.
    """
    client = make_client(http_session, orbiwise, application="app-1")
    await client.list_devices()
    run = RunningClient(client)
    async with asyncio.timeout(10):
        await client.live.wait()
        await orbiwise.wait_for(lambda: orbiwise.websocket_count == 1)
    before = list_requests(orbiwise)
    first = orbiwise.publish(DOOR, LPP_TEMPERATURE)
    orbiwise.publish(CLIMATE, LPP_TEMPERATURE)
    await run.uplinks(1)
    async with asyncio.timeout(10):
        await orbiwise.wait_for(lambda: list_requests(orbiwise) == before + 1)
    orbiwise.push_nodeinfo(DOOR)
    orbiwise.publish(DOOR, LPP_TEMPERATURE)
    orbiwise.publish(CLIMATE, LPP_TEMPERATURE)
    await run.uplinks(2)
    assert [uplink.dev_eui for uplink in run.sink.uplinks] == [CLIMATE, CLIMATE]
    assert run.sink.device_updates == []
    assert list_requests(orbiwise) == before + 1
    assert first in orbiwise.stored[DOOR]
    await run.stop()


async def test_unlisted_device_pushes_wait_for_the_next_reading(
    http_session: aiohttp.ClientSession,
    orbiwise: OrbiWiseSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """
    The list is read at most once per interval: pushes held meanwhile are decided after it.

    A reading that fails keeps them for the next one.
    """
    monkeypatch.setattr("custom_components.lorawan_hub.lns.orbiwise.client.REFRESH_INTERVAL", 0.2)
    client = make_client(http_session, orbiwise, application="app-1")
    await client.list_devices()
    run = RunningClient(client)
    async with asyncio.timeout(10):
        await client.live.wait()
        await orbiwise.wait_for(lambda: orbiwise.websocket_count == 1)
    before = list_requests(orbiwise)
    orbiwise.fail_next("/rest/nodes", 503)
    orbiwise.add_node(NEW, applications={"app-1"})
    orbiwise.push_nodeinfo(NEW)
    orbiwise.publish(NEW, LPP_TEMPERATURE)
    await run.uplinks(1)
    async with asyncio.timeout(10):
        await run.sink.wait_for(lambda: bool(run.sink.device_updates))
    assert run.sink.device_updates[0].dev_eui == NEW
    assert list_requests(orbiwise) == before + 1  # the failed reading is not counted
    await run.stop()


async def test_rest_push_from_a_device_added_to_the_application(
    http_session: aiohttp.ClientSession,
    orbiwise: OrbiWiseSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A REST push about an unlisted device is answered once the list was read again."""
    monkeypatch.setattr("custom_components.lorawan_hub.lns.orbiwise.client.REFRESH_INTERVAL", 0.05)
    client = rest_push_client(http_session, orbiwise, application="app-1")
    await client.list_devices()
    run = RunningClient(client)
    async with asyncio.timeout(10):
        await client.live.wait()
    orbiwise.add_node(NEW, applications={"app-1"})
    body = {
        "DevEUI": NEW,
        "dataFrame": "AWcA5g==",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "fcnt": 1,
        "id": 5,
    }
    assert await client.accept_push("payloads_ul", body, 10) is True
    assert [uplink.dev_eui for uplink in run.sink.uplinks] == [NEW]
    # Not the application's: not taken, so that the server keeps it.
    assert await client.accept_push("payloads_ul", {**body, "DevEUI": DOOR}, 10) is False
    assert await client.accept_push("payloads_ul", {**body, "DevEUI": DOOR}, 10) is False
    assert len(run.sink.uplinks) == 1
    await run.stop()


async def test_account_learns_about_new_devices(
    running_orbiwise_client: RunningClient[OrbiWiseClient], orbiwise: OrbiWiseSimulator
) -> None:
    """Without an application, a new device's uplink is delivered at once and its name read."""
    orbiwise.add_node(NEW, comment="Boiler")
    orbiwise.publish(NEW, LPP_TEMPERATURE)
    await running_orbiwise_client.uplinks(1)
    async with asyncio.timeout(10):
        await running_orbiwise_client.sink.wait_for(
            lambda: bool(running_orbiwise_client.sink.device_lists)
        )
    assert running_orbiwise_client.sink.device_lists[-1][-1].name == "Boiler"


# --- names, statuses, multicast groups ----------------------------------------------------------


async def test_names_come_from_the_complete_registration(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """
    The documented device list has no name: each device's ``comment`` is read with ?all=true.

    Once per device: the next listings ask only about devices not seen yet (or not readable).
    """
    client = make_client(http_session, orbiwise)
    orbiwise.fail_next(f"/rest/nodes/{DOOR}", 503)
    devices = await client.list_devices()
    assert [(d.dev_eui, d.name) for d in devices] == [(CLIMATE, "Climate"), (DOOR, None)]
    devices = await client.list_devices()
    assert [(d.dev_eui, d.name, d.device_class) for d in devices] == [
        (CLIMATE, "Climate", LoRaClass.A),
        (DOOR, "Door", LoRaClass.C),
    ]
    details = [path for method, path in orbiwise.requests if path.startswith("/rest/nodes/")]
    assert details == [f"/rest/nodes/{CLIMATE}", f"/rest/nodes/{DOOR}"]
    await client.list_devices()
    assert orbiwise.requests.count(("GET", f"/rest/nodes/{CLIMATE}")) == 1


async def test_device_profiles_come_from_the_complete_registration(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """
    A device's profile is its registration's ``device_profile_uuid`` (001:342, 001:397).

    Read with the name, once: the next listings keep it without asking again. An empty one
    (the document's sample) is no profile.
    """
    profile = "2f0ea3a4-6d35-4c3e-9a2d-2b8c3e0e5a11"
    orbiwise.nodes[CLIMATE].device_profile_uuid = profile
    client = make_client(http_session, orbiwise)
    for _ in range(2):
        devices = await client.list_devices()
        assert [(d.dev_eui, d.profile) for d in devices] == [(CLIMATE, profile), (DOOR, None)]
    assert orbiwise.requests.count(("GET", f"/rest/nodes/{CLIMATE}")) == 1


async def test_registration_fields_fill_what_the_list_lacks(
    http_session: aiohttp.ClientSession,
) -> None:
    """A list that names devices itself (``comment``) needs no further request."""
    registration = {
        "DevEUI": CLIMATE,
        "lora_device_class": 2,
        "appeui": "70B3D57ED0000000",
        "comment": " Pump ",
        "latitude": 46.2,
        "longitude": 6.1,
        "dl_fcnt": 4,
    }
    listed = [{"DevEUI": CLIMATE}, {"DevEUI": DOOR, "comment": "Door", "device_class": 1}]
    asked: list[str] = []

    async def nodes(request: web.Request) -> web.Response:
        return web.json_response(listed)

    async def node(request: web.Request) -> web.Response:
        asked.append(request.match_info["eui"])
        return web.json_response(registration)

    app = web.Application()
    app.router.add_get("/rest/nodes", nodes)
    app.router.add_get("/rest/nodes/{eui}", node)
    async with SimulatorServer(app) as server:
        client = OrbiWiseClient(
            http_session, server.base_url, username="u", password="p", auth_mode=AuthMode.BASIC
        )
        devices = await client.list_devices()
    assert asked == [CLIMATE]
    assert devices == [
        ServerDevice(
            dev_eui=CLIMATE,
            name="Pump",
            app_eui="70B3D57ED0000000",
            device_class=LoRaClass.C,
            location=Location(46.2, 6.1),
            downlink_f_cnt=4,
        ),
        ServerDevice(dev_eui=DOOR, name="Door", device_class=LoRaClass.B),
    ]


async def test_statuses_are_read_after_connecting(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """Each device's last DevStatusAns is read back; a device without a result gives none."""
    orbiwise.push_status(CLIMATE, battery=0, margin=9)  # nobody listens yet
    orbiwise.fail_next(f"/rest/nodes/{DOOR}/status", 503)
    client = make_client(http_session, orbiwise)
    await client.list_devices()
    run = RunningClient(client)
    async with asyncio.timeout(10):
        await run.sink.wait_for(lambda: bool(run.sink.device_statuses))
        await orbiwise.wait_for(
            lambda: ("GET", f"/rest/nodes/{CLIMATE}/status") in orbiwise.requests
        )
    assert run.sink.device_statuses == [
        DeviceStatus(dev_eui=CLIMATE, external_power=True, margin=9)
    ]
    await run.stop()


async def test_multicast_group_as_the_document_describes_it(
    running_orbiwise_client: RunningClient[OrbiWiseClient],
    orbiwise: OrbiWiseSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """
    A class B group: the document's group object with the ping slot periodicity.

    ``devaddr`` is the address's number, the keys hex strings; a member that cannot be added
    is named in words and left out of the members returned.
    """
    keys = MulticastKeys(address="01A2B3C4", app_s_key="11" * 16, nwk_s_key="22" * 16)
    group = await running_orbiwise_client.client.create_multicast_group(
        MulticastSetup(
            name="lamps",
            device_class=LoRaClass.B,
            dev_euis=(CLIMATE, "0000000000000009"),
            keys=keys,
            ping_slot_periodicity=3,
        )
    )
    created = orbiwise.groups["lamps"]
    assert created == {
        "groupid": "lamps",
        "title": "lamps",
        "comment": "Class B multicast group",
        "nwkskey": "22" * 16,
        "appskey": "11" * 16,
        "devaddr": 0x01A2B3C4,
        "fcnt": 0,
        "ping_slot_periodicity": 3,
    }
    assert (group.dev_euis, group.keys, group.device_class) == ((CLIMATE,), keys, LoRaClass.B)
    assert group.states == {CLIMATE: "added", "0000000000000009": "cannot find device"}
    assert "0000000000000009 was not added to the multicast group lamps" in caplog.text
    assert orbiwise.nodes[CLIMATE].groups == {"lamps"}


async def test_application_groups_and_group_ids(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """An application's group lets the application reach it; ids read otherwise are refused."""
    client = make_client(http_session, orbiwise, application="app-1")
    group = await client.create_multicast_group(MulticastSetup(name="valves"))
    assert group.keys is not None
    assert orbiwise.groups["valves"]["applications"] == "app-1"
    for name in (
        "a,b",
        "+a",
        "-a",
        " a",
        "a/b",
        "..",
        "70B3D57ED0000009",
        "70-B3-D5-7E-D0-00-00-09",
    ):
        with pytest.raises(InvalidRequest) as refused:
            await client.create_multicast_group(MulticastSetup(name=name))
        assert refused.value.key == "orbiwise_group_invalid"
        assert refused.value.details == {"name": name}
    with pytest.raises(InvalidRequest):
        await client.add_to_multicast_group("a,b", [CLIMATE])
    with pytest.raises(InvalidRequest):
        await client.remove_from_multicast_group("-a", [CLIMATE])
    with pytest.raises(InvalidRequest):
        await client.delete_multicast_group(".")
    assert list(orbiwise.groups) == ["valves"]


async def test_ids_stay_inside_their_path_segment(http_session: aiohttp.ClientSession) -> None:
    """A group id like ``../nodes/<DevEUI>`` names a group, never another resource."""
    paths: list[str] = []

    async def anything(request: web.Request) -> web.Response:
        paths.append(request.raw_path)
        return web.Response(status=404, text="group not found")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    async with SimulatorServer(app) as server:
        client = OrbiWiseClient(
            http_session,
            f"{server.base_url}/api",
            username="u",
            password="p",
            auth_mode=AuthMode.BASIC,
        )
        with pytest.raises(InvalidRequest):
            await client.delete_multicast_group(f"../nodes/{CLIMATE}")
        with pytest.raises(InvalidRequest):
            await client.send_multicast("a b?c#d", 1, b"\x01")
    assert paths == [
        f"/api/rest/groups/..%2Fnodes%2F{CLIMATE}",
        "/api/rest/multicast/a%20b%3Fc%23d?port=1&data_format=hex",
    ]


# --- what a hostile or broken server finds ------------------------------------------------------


class RecordedBackoff(Backoff):
    """A backoff that records the delays it gives."""

    def __init__(self) -> None:
        """Start at 10 ms."""
        super().__init__(initial=0.01, maximum=10)
        self.delays: list[float] = []

    def next_delay(self) -> float:
        """Record the delay given."""
        delay = super().next_delay()
        self.delays.append(delay)
        return delay


async def test_backoff_resets_only_after_a_connection_proved_itself(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """A server that accepts and drops at once keeps the delay growing; an uplink resets it."""
    backoff = RecordedBackoff()
    client = make_client(http_session, orbiwise, backoff=backoff)
    await client.list_devices()
    run = RunningClient(client)
    for attempt in range(1, 4):

        def retried(count: int = attempt) -> bool:
            return len(backoff.delays) == count

        async with asyncio.timeout(10):
            await client.live.wait()
            await orbiwise.wait_for(lambda: orbiwise.websocket_count == 1)
        orbiwise.drop_websockets()
        async with asyncio.timeout(10):
            await run.sink.wait_for(retried)
    assert backoff.delays[2] > 2 * backoff.delays[0]  # doubling: 10, 20, 40 ms (± 20 %)
    async with asyncio.timeout(10):
        await client.live.wait()
        await orbiwise.wait_for(lambda: orbiwise.websocket_count == 1)
    orbiwise.publish(CLIMATE, LPP_TEMPERATURE)
    await run.uplinks(1)
    orbiwise.drop_websockets()
    async with asyncio.timeout(10):
        await run.sink.wait_for(lambda: len(backoff.delays) == 4)
    assert backoff.delays[3] < 0.0125  # proven by the uplink: back to the initial delay
    await run.stop()


async def test_rest_push_of_an_unreadable_uplink_is_not_taken(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """Answered "not taken", so that the server keeps it; other malformed pushes are taken."""
    client = rest_push_client(http_session, orbiwise)
    await client.list_devices()
    run = RunningClient(client)
    async with asyncio.timeout(10):
        await client.live.wait()
    bad = {"DevEUI": CLIMATE, "dataFrame": "!!", "timestamp": "2026-01-01T00:00:00Z", "id": 3}
    assert await client.accept_push("payloads_ul", bad, 10) is False
    assert await client.accept_push("status", {"DevEUI": "bad"}, 10) is True
    assert run.sink.uplinks == []
    await run.stop()


async def test_tagged_pushes_of_other_applications_are_not_ours(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """A downlink status carrying another client's tag is still checked against the scope."""
    client = make_client(http_session, orbiwise, application="app-1")
    await client.list_devices()
    run = RunningClient(client)
    async with asyncio.timeout(10):
        await client.live.wait()
    status = {"DevEUI": DOOR, "id": 1, "transmissionStatus": 1, "tag": "their-app-7"}
    client.dispatch("payloads_dl", status)
    client.dispatch("payloads_dl", {**status, "DevEUI": CLIMATE})
    async with asyncio.timeout(10):
        # The list read again shows DOOR outside the application: its status is dropped.
        await run.sink.wait_for(lambda: bool(run.sink.device_lists))
    assert [s.dev_eui for s in run.sink.downlink_statuses] == [CLIMATE]
    await run.stop()


async def test_drained_uplinks_keep_their_position(
    http_session: aiohttp.ClientSession, orbiwise: OrbiWiseSimulator
) -> None:
    """The drain asks for the estimated locations, which stored payloads carry only then."""
    orbiwise.publish(CLIMATE, LPP_TEMPERATURE, location=(46.2, 6.1))
    client = make_client(http_session, orbiwise)
    await client.list_devices()
    run = RunningClient(client)
    await run.uplinks(1)
    assert run.sink.uplinks[0].location == Location(46.2, 6.1)
    await run.stop()


async def test_held_pushes_are_bounded_and_foreign_devices_forgotten(
    http_session: aiohttp.ClientSession,
    orbiwise: OrbiWiseSimulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """
    A device found outside the application is asked about again once forgotten.

    Pushes held meanwhile are bounded: the oldest goes (its uplink stays in the server's store).
    """
    monkeypatch.setattr("custom_components.lorawan_hub.lns.orbiwise.client.FOREIGN_MEMORY", 0)
    monkeypatch.setattr("custom_components.lorawan_hub.lns.orbiwise.client.MAX_HELD", 1)
    client = make_client(http_session, orbiwise, application="app-1")
    await client.list_devices()
    run = RunningClient(client)
    async with asyncio.timeout(10):
        await client.live.wait()
        await orbiwise.wait_for(lambda: orbiwise.websocket_count == 1)
    orbiwise.publish(DOOR, LPP_TEMPERATURE)
    async with asyncio.timeout(10):
        await run.sink.wait_for(lambda: bool(run.sink.device_lists))
    # Forgotten at once: the next pushes wait for a new reading, not due for 15 s.
    orbiwise.publish(DOOR, LPP_TEMPERATURE)
    orbiwise.publish(DOOR, LPP_TEMPERATURE)
    orbiwise.publish(CLIMATE, LPP_TEMPERATURE)
    await run.uplinks(1)
    assert "Too many pushes about unlisted devices" in caplog.text
    assert [uplink.dev_eui for uplink in run.sink.uplinks] == [CLIMATE]
    await run.stop()
