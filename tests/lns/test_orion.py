"""The OrionM2M client against the Orion simulator, over a real WebSocket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
import socket
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.lorawan_hub.lns.errors import (
    AuthError,
    CannotConnect,
    InvalidRequest,
    LimitReached,
    LnsError,
    ProtocolError,
    Unsupported,
)
from custom_components.lorawan_hub.lns.models import (
    Downlink,
    DownlinkMode,
    DownlinkState,
    Location,
    LoRaClass,
    Uplink,
)
from custom_components.lorawan_hub.lns.orion import (
    OrionClient,
    device_from_entry,
    raise_for_status,
    uplink_from_frame,
)
from simulator.orion import MALFORMED_KINDS, OrionSimulator

from .sink import RecordingSink

DOOR = "70B3D57ED0000002"
TRACKER = "70B3D57ED0000003"
CLIMATE = "70B3D57ED0000001"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def make_client(
    session: aiohttp.ClientSession, orion: OrionSimulator, **kwargs: Any
) -> OrionClient:
    """Return a client of the simulator's application."""
    return OrionClient(session, orion.url, orion.app_id, orion.token, **kwargs)


@pytest.fixture
async def running(
    session: aiohttp.ClientSession, orion: OrionSimulator
) -> AsyncIterator[tuple[OrionClient, RecordingSink]]:
    """A client subscribed to the simulator, with its sink."""
    client = make_client(session, orion)
    sink = RecordingSink()
    task = asyncio.create_task(client.run(sink))
    await sink.wait_for(lambda: sink.up)
    yield client, sink
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await client.close()


def free_port() -> int:
    """Return a port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --- connecting ---------------------------------------------------------------------------------


async def test_validate(session: aiohttp.ClientSession, orion: OrionSimulator) -> None:
    """Valid credentials connect and list devices; the connection is closed afterwards."""
    client = make_client(session, orion)
    await client.validate()
    assert [request["cmd"] for request in orion.received] == ["get_devices_req"]
    await orion.wait_for_clients(0)


async def test_validate_wrong_token(session: aiohttp.ClientSession, orion: OrionSimulator) -> None:
    """A wrong token is an AuthError whose text never carries the token."""
    client = OrionClient(session, orion.url, orion.app_id, "wrong-secret-token")
    with pytest.raises(AuthError) as caught:
        await client.validate()
    assert caught.value.code == 1
    assert "wrong-secret-token" not in repr(caught.value)
    assert caught.value.__cause__ is None


async def test_validate_client_limit(session: aiohttp.ClientSession, orion: OrionSimulator) -> None:
    """The server's client limit is reported as such (connected error_code 2)."""
    orion.max_clients = 0
    with pytest.raises(LimitReached) as caught:
        await make_client(session, orion).validate()
    assert caught.value.key == "client_limit"


async def test_validate_unreachable(session: aiohttp.ClientSession) -> None:
    """A closed port is CannotConnect, naming the host but not the token."""
    client = OrionClient(session, f"ws://127.0.0.1:{free_port()}/ws/v2/", "app", "secret-token")
    with pytest.raises(CannotConnect) as caught:
        await client.validate()
    assert "127.0.0.1" in str(caught.value)
    assert "secret-token" not in str(caught.value)
    assert client.host == "127.0.0.1"


@pytest.mark.parametrize(("status", "error"), [(401, AuthError), (404, CannotConnect)])
async def test_validate_http_refusal(
    session: aiohttp.ClientSession, status: int, error: type[LnsError]
) -> None:
    """A server that refuses the WebSocket upgrade is reported without the token in the URL."""

    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=status)

    app = web.Application()
    app.router.add_get("/ws/v2/", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        client = OrionClient(session, f"ws://127.0.0.1:{port}/ws/v2/", "app", "secret-token")
        with pytest.raises(error) as caught:
            await client.validate()
        assert str(status) in str(caught.value)
        assert "secret-token" not in repr(caught.value)
    finally:
        await runner.cleanup()


async def test_greeting_timeout(session: aiohttp.ClientSession) -> None:
    """A server that accepts the WebSocket but never greets is CannotConnect."""

    async def silent(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()
        return ws

    app = web.Application()
    app.router.add_get("/ws/v2/", silent)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        client = OrionClient(
            session, f"ws://127.0.0.1:{port}/ws/v2/", "app", "token", request_timeout=0.2
        )
        with pytest.raises(CannotConnect, match="did not answer"):
            await client.validate()
    finally:
        await runner.cleanup()


async def test_list_devices(session: aiohttp.ClientSession, orion: OrionSimulator) -> None:
    """Devices come with name, class and position, and without any key."""
    devices = {
        device.dev_eui: device for device in await make_client(session, orion).list_devices()
    }
    assert set(devices) == set(orion.devices)
    tracker = devices[TRACKER]
    assert tracker.name == "Garden tracker"
    assert tracker.device_class is LoRaClass.C
    assert tracker.location == Location(43.2218, 76.8975)
    assert tracker.activation == "OTAA"
    assert devices[DOOR].device_class is LoRaClass.A
    assert devices[DOOR].location is None
    for device in devices.values():
        text = repr(device)
        simulated = orion.devices[device.dev_eui]
        for secret in (simulated.app_key, simulated.nwks_key, simulated.apps_key):
            assert secret not in text


def test_device_from_entry_forms() -> None:
    """Coordinates arrive as numbers or strings; nonsense is a ProtocolError."""
    device = device_from_entry(
        {"devEui": "d745f677b2412e03", "lat": "45.234232", "lon": 76.342534, "activation": 1}
    )
    assert device.dev_eui == "D745F677B2412E03"
    assert device.location == Location(45.234232, 76.342534)
    assert device.activation == "ABP"
    assert device.device_class is None
    with pytest.raises(ProtocolError):
        device_from_entry({"devEui": "D745F677B2412E03", "lat": 123.0, "lon": 1.0})
    with pytest.raises(ProtocolError):
        device_from_entry({"devEui": "not-an-eui"})


# --- realtime -----------------------------------------------------------------------------------


async def test_realtime_uplink(
    orion: OrionSimulator, running: tuple[OrionClient, RecordingSink]
) -> None:
    """A realtime_data frame becomes an Uplink with every radio detail."""
    _, sink = running
    assert sink.connections == [(True, None)]
    assert {device.dev_eui for device in sink.device_lists[0]} == set(orion.devices)
    await sink.wait_for(lambda: TRACKER in sink.locations)
    assert sink.locations[TRACKER] == Location(43.2218, 76.8975)
    stored = await orion.emit_uplink(
        CLIMATE, bytes.fromhex("0167011A"), rssi=-87, lsnr=7.5, datr=3, freq=868.3
    )
    await sink.wait_for(lambda: len(sink.uplinks) == 1)
    uplink = sink.uplinks[0]
    assert uplink.dev_eui == CLIMATE
    assert uplink.payload == bytes.fromhex("0167011A")
    assert uplink.f_cnt == stored.fcnt
    assert uplink.received_at == stored.time
    assert uplink.rssi == -87
    assert uplink.snr == 7.5
    assert uplink.data_rate == "DR3"
    assert uplink.spreading_factor == 9
    assert uplink.frequency == 868.3
    assert uplink.confirmed is False
    assert uplink.gateways[0].gateway_id == "0000B827EBFD64DE"
    assert uplink.dev_addr == orion.devices[CLIMATE].dev_addr
    requests = [request["cmd"] for request in orion.received]
    assert requests[:2] == ["set_alive_timeout", "consume_req"]
    assert "get_device_coordinates_req" in requests


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
async def test_malformed_frames_are_dropped(
    orion: OrionSimulator,
    running: tuple[OrionClient, RecordingSink],
    kind: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bad frame is dropped without losing the connection; the next uplink arrives."""
    _, sink = running
    orion.send_malformed(kind)
    await orion.emit_uplink(DOOR, bytes.fromhex("0100"))
    await sink.wait_for(lambda: len(sink.uplinks) == 1)
    assert sink.uplinks[0].dev_eui == DOOR
    assert sink.connections == [(True, None)]
    if kind != "unknown_cmd":
        assert "Dropped" in caplog.text


async def test_malformed_frames_are_throttled(
    orion: OrionSimulator,
    running: tuple[OrionClient, RecordingSink],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A flood of bad frames is logged once, not once per frame."""
    _, sink = running
    for _ in range(5):
        orion.send_malformed("hex")
    await orion.emit_uplink(DOOR, b"\x01")
    await sink.wait_for(lambda: len(sink.uplinks) == 1)
    assert caplog.text.count("Dropped a malformed uplink") == 1


async def test_reconnect_catches_up(
    orion: OrionSimulator, running: tuple[OrionClient, RecordingSink]
) -> None:
    """Uplinks sent while the connection was down arrive from history after the reconnect."""
    _, sink = running
    for _ in range(3):
        await orion.emit_uplink(CLIMATE, b"\x01\x67\x00\xe1")
    await sink.wait_for(lambda: len(sink.uplinks) == 3)
    resume = sink.resume
    assert resume is not None
    orion.drop_after(0)
    for _ in range(4):
        await orion.emit_uplink(DOOR, b"\x01\x00\x01")
    await sink.wait_for(lambda: len({(u.dev_eui, u.f_cnt) for u in sink.uplinks}) == 7)
    assert [state for state, _ in sink.connections] == [True, False, True]
    request = await orion.wait_for_request("get_data_req")
    assert request["date_from"] == resume.strftime("%Y-%m-%d %H:%M:%S%z")
    door = [uplink.f_cnt or 0 for uplink in sink.uplinks if uplink.dev_eui == DOOR]
    assert door == sorted(door)
    assert set(door) == {0, 1, 2, 3}


async def test_catch_up_pages(session: aiohttp.ClientSession, orion: OrionSimulator) -> None:
    """More stored uplinks than a page are fetched page after page, oldest first."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    for index in range(1200):
        await orion.emit_uplink(CLIMATE, b"\x01", time=start + timedelta(seconds=index))
    client = make_client(session, orion)
    sink = RecordingSink()
    sink.resume = start
    task = asyncio.create_task(client.run(sink))
    try:
        await sink.wait_for(lambda: len({u.f_cnt for u in sink.uplinks}) == 1200)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    counters = [uplink.f_cnt or 0 for uplink in sink.uplinks]
    assert counters == sorted(counters)
    assert len(counters) - 1200 <= 2, "pages overlap by at most their boundary uplink"
    assert sum(1 for r in orion.received if r["cmd"] == "get_data_req") == 3


async def test_live_uplinks_wait_for_history(
    session: aiohttp.ClientSession, orion: OrionSimulator
) -> None:
    """An uplink pushed during the catch-up is delivered after the older stored ones."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    for index in range(3):
        await orion.emit_uplink(CLIMATE, b"\x01", time=start + timedelta(seconds=index))
    orion.delay = 0.05
    client = make_client(session, orion)
    sink = RecordingSink()
    sink.resume = start
    task = asyncio.create_task(client.run(sink))
    try:
        await orion.wait_for_request("get_data_req")
        await orion.emit_uplink(CLIMATE, b"\x02")
        await sink.wait_for(lambda: len(sink.uplinks) >= 4)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    counters = [uplink.f_cnt or 0 for uplink in sink.uplinks]
    # The live uplink may also be in the history answer (the sink removes such duplicates),
    # but it never comes before the older stored ones.
    assert list(dict.fromkeys(counters)) == [0, 1, 2, 3]
    assert counters == sorted(counters)


async def test_die_connection_close(
    orion: OrionSimulator, running: tuple[OrionClient, RecordingSink]
) -> None:
    """After die_connection_close the client reconnects and receives again."""
    _, sink = running
    await orion.die()
    await sink.wait_for(lambda: [state for state, _ in sink.connections] == [True, False, True])
    await orion.emit_uplink(DOOR, b"\x01")
    await sink.wait_for(lambda: len(sink.uplinks) == 1)


async def test_keepalive_detects_silence(
    session: aiohttp.ClientSession, orion: OrionSimulator
) -> None:
    """A server that stops answering pings is left and reconnected."""
    client = make_client(session, orion, ping_interval=0.05, request_timeout=0.3)
    sink = RecordingSink()
    task = asyncio.create_task(client.run(sink))
    try:
        await sink.wait_for(lambda: sink.up)
        await orion.wait_for_request("ping_req")
        orion.answer_pings = False
        await sink.wait_for(lambda: len(sink.connections) >= 2)
        assert sink.connections[1] == (False, "127.0.0.1 did not answer ping_req")
        orion.answer_pings = True
        await sink.wait_for(lambda: len(sink.connections) >= 3 and sink.up)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.mark.parametrize(
    ("knob", "reason"),
    [("disabled", "Disabled application"), ("max_consumers", "Consumer limit reached")],
)
async def test_consume_refused(
    session: aiohttp.ClientSession, orion: OrionSimulator, knob: str, reason: str
) -> None:
    """A refused subscription is reported and retried, never raised."""
    setattr(orion, knob, True if knob == "disabled" else 0)
    client = make_client(session, orion)
    sink = RecordingSink()
    task = asyncio.create_task(client.run(sink))
    try:
        await sink.wait_for(lambda: len(sink.connections) >= 2)
        assert sink.connections[0] == (False, reason)
        setattr(orion, knob, False if knob == "disabled" else 1)
        await sink.wait_for(lambda: sink.up)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_reconnects_after_server_restart(
    session: aiohttp.ClientSession, orion: OrionSimulator
) -> None:
    """While the server is down the client keeps retrying; it reconnects when it is back."""
    port = orion.port
    client = make_client(session, orion)
    sink = RecordingSink()
    task = asyncio.create_task(client.run(sink))
    try:
        await sink.wait_for(lambda: sink.up)
        await orion.stop()
        await sink.wait_for(lambda: len(sink.connections) >= 3)
        assert not sink.up
        restarted = OrionSimulator(app_id=orion.app_id, token=orion.token, port=port)
        async with restarted:
            await sink.wait_for(lambda: sink.up)
            await restarted.wait_for_consumers(1)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_run_raises_auth_error(session: aiohttp.ClientSession, orion: OrionSimulator) -> None:
    """A refused token ends ``run`` with AuthError: only the user can fix it."""
    orion.reject_token_once()
    with pytest.raises(AuthError):
        await make_client(session, orion).run(RecordingSink())


# --- downlinks and device commands --------------------------------------------------------------


async def test_send_downlink(
    orion: OrionSimulator, running: tuple[OrionClient, RecordingSink]
) -> None:
    """A downlink is queued with hex data, port, realTime and class (class C goes out at once)."""
    client, sink = running
    result = await client.send_downlink(
        Downlink(
            dev_eui=TRACKER,
            f_port=10,
            payload=b"\x01\xff",
            mode=DownlinkMode.IMMEDIATE,
            device_class=LoRaClass.C,
        )
    )
    assert result.state is DownlinkState.QUEUED
    assert result.message_id == str(orion.downlinks[0].data_id)
    assert result.queue_length == 0
    request = await orion.wait_for_request("downlink_data_req")
    assert request["data"] == "01FF"
    assert request["fport"] == 10
    assert request["realTime"] is True
    assert request["lwClass"] == 3
    await orion.emit_uplink(TRACKER, b"\x01")
    await sink.wait_for(lambda: bool(sink.downlink_statuses))
    assert sink.downlink_statuses[0].state is DownlinkState.SENT


async def test_downlink_sent_is_reported(
    orion: OrionSimulator, running: tuple[OrionClient, RecordingSink]
) -> None:
    """The device's next uplink carries the downlink; downlink_ack_req reports it sent."""
    client, sink = running
    result = await client.send_downlink(Downlink(dev_eui=DOOR, f_port=2, payload=b"\x01"))
    assert await client.downlink_sent_at(result.message_id or "") is None
    await orion.emit_uplink(DOOR, b"\x01\x00\x01")
    await sink.wait_for(lambda: bool(sink.downlink_statuses))
    status = sink.downlink_statuses[0]
    assert status.message_id == result.message_id
    assert status.state is DownlinkState.SENT
    assert status.dev_eui == DOOR
    assert status.at is not None
    request = next(r for r in orion.received if r["cmd"] == "downlink_ack_req")
    assert request["datald"] == int(result.message_id or 0)


async def test_downlink_ack_is_polled(
    session: aiohttp.ClientSession, orion: OrionSimulator
) -> None:
    """Without an uplink, pending downlinks are polled at the interval."""
    client = make_client(session, orion, ack_poll_interval=0.05)
    sink = RecordingSink()
    task = asyncio.create_task(client.run(sink))
    try:
        await sink.wait_for(lambda: sink.up)
        result = await client.send_downlink(Downlink(dev_eui=DOOR, f_port=2, payload=b"\x02"))
        await orion.wait_for_request("downlink_ack_req")
        orion.ack_downlink(int(result.message_id or 0))
        await sink.wait_for(lambda: bool(sink.downlink_statuses))
        assert sink.downlink_statuses[0].state is DownlinkState.SENT
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.close()


@pytest.mark.parametrize(
    ("downlink", "error", "key"),
    [
        (
            Downlink(dev_eui="0000000000000009", f_port=1, payload=b"\x01"),
            InvalidRequest,
            "unknown_device",
        ),
        (Downlink(dev_eui=DOOR, f_port=1, payload=bytes(60)), InvalidRequest, "payload_too_large"),
        (
            Downlink(dev_eui=DOOR, f_port=1, payload=b"\x01", confirmed=True),
            Unsupported,
            "unsupported",
        ),
        (
            Downlink(dev_eui=DOOR, f_port=1, payload=b"\x01", mode=DownlinkMode.REPLACE),
            Unsupported,
            "unsupported",
        ),
    ],
)
async def test_downlink_refused(
    running: tuple[OrionClient, RecordingSink],
    downlink: Downlink,
    error: type[LnsError],
    key: str,
) -> None:
    """Refusals carry the documented reason; unsupported options never reach the server."""
    client, _ = running
    with pytest.raises(error) as caught:
        await client.send_downlink(downlink)
    assert caught.value.key == key


async def test_commands_need_a_connection(
    session: aiohttp.ClientSession, orion: OrionSimulator
) -> None:
    """Without the realtime connection, device commands fail with CannotConnect."""
    client = make_client(session, orion)
    with pytest.raises(CannotConnect):
        await client.send_downlink(Downlink(dev_eui=DOOR, f_port=1, payload=b"\x01"))
    with pytest.raises(CannotConnect):
        await client.set_device_class(DOOR, LoRaClass.C)


async def test_max_downlink_size(
    orion: OrionSimulator, running: tuple[OrionClient, RecordingSink]
) -> None:
    """max_dl_data_req gives the device's current maximum."""
    client, _ = running
    orion.devices[DOOR].max_dl_size = 11
    assert await client.max_downlink_size(DOOR) == 11
    with pytest.raises(InvalidRequest):
        await client.max_downlink_size("0000000000000009")


async def test_set_device_class(
    orion: OrionSimulator, running: tuple[OrionClient, RecordingSink]
) -> None:
    """update_device_req changes node_class; dev_lw_class_req reads it back."""
    client, _ = running
    await client.set_device_class(DOOR, LoRaClass.C)
    assert orion.devices[DOOR].node_class == 3
    assert await client.device_class(DOOR) is LoRaClass.C
    assert await client.device_class("0000000000000009") is None
    with pytest.raises(InvalidRequest) as caught:
        await client.set_device_class("0000000000000009", LoRaClass.B)
    assert caught.value.key == "unknown_device"


async def test_invalid_request_frame_fails_the_request(
    orion: OrionSimulator, running: tuple[OrionClient, RecordingSink]
) -> None:
    """``invalid_req`` (which names no request) fails the oldest waiting request."""
    client, _ = running
    conn = client._live
    assert conn is not None
    with pytest.raises(ProtocolError, match="invalid_req"):
        await client._request(conn, {"cmd": "get_data_req", "date_from": 5, "date_to": 6})


# --- parsing and error mapping ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cmd", "code", "error", "key"),
    [
        ("connected", 1, AuthError, "invalid_auth"),
        ("connected", 2, LimitReached, "client_limit"),
        ("consume_resp", 1, LimitReached, "consumer_limit"),
        ("consume_resp", 2, LimitReached, "already_consumed"),
        ("consume_resp", 3, CannotConnect, "application_disabled"),
        ("get_devices_resp", 1, AuthError, "invalid_auth"),
        ("get_devices_resp", 2, InvalidRequest, "invalid_request"),
        ("get_devices_resp", 3, InvalidRequest, "invalid_request"),
        *[
            ("update_device_resp", code, InvalidRequest, "invalid_request")
            for code in (2, 3, 4, 5, 6, 7)
        ],
        ("update_device_resp", 1, AuthError, "invalid_auth"),
        ("update_device_resp", 8, CannotConnect, "server_error"),
        ("update_device_resp", 9, InvalidRequest, "unknown_device"),
        ("get_data_resp", 1, InvalidRequest, "invalid_request"),
        ("get_data_resp", 2, AuthError, "invalid_auth"),
        ("get_data_resp", 3, InvalidRequest, "invalid_request"),
        ("dev_lw_class_resp", 1, AuthError, "invalid_auth"),
        ("max_dl_data_resp", 1, InvalidRequest, "unknown_device"),
        ("max_dl_data_resp", 2, AuthError, "invalid_auth"),
        ("downlink_data_resp", 1, InvalidRequest, "unknown_device"),
        ("downlink_data_resp", 2, AuthError, "invalid_auth"),
        ("downlink_data_resp", 3, InvalidRequest, "invalid_payload"),
        ("downlink_data_resp", 4, InvalidRequest, "payload_too_large"),
        *[("downlink_data_resp", code, InvalidRequest, "invalid_request") for code in (5, 6, 7)],
        ("downlink_ack_resp", 1, InvalidRequest, "invalid_request"),
        ("downlink_ack_resp", 2, InvalidRequest, "unknown_device"),
        ("get_device_coordinates_resp", 1, AuthError, "invalid_auth"),
        ("get_devices_resp", 42, InvalidRequest, "invalid_request"),
        ("something_resp", None, InvalidRequest, "invalid_request"),
    ],
)
def test_error_codes(cmd: str, code: int | None, error: type[LnsError], key: str) -> None:
    """Every documented error code maps to a typed error with a stable key and a reason."""
    with pytest.raises(error) as caught:
        raise_for_status({"cmd": cmd, "status": 2, "error_code": code})
    assert caught.value.key == key
    assert caught.value.reason
    raise_for_status({"cmd": cmd, "status": 1})


def test_uplink_forms() -> None:
    """Documented variants: numeric gatewayId, ISO times, string numbers, no radio data."""
    uplink = uplink_from_frame(
        "7950d20cbbb77561",
        {
            "data": "",
            "time": "2018-02-17T13:06:22Z",
            "fcnt": "7525",
            "gatewayId": 3054,
            "mtype": 4,
            "rssi": "-100",
        },
        None,
    )
    assert uplink.dev_eui == "7950D20CBBB77561"
    assert uplink.payload == b""
    assert uplink.received_at == datetime(2018, 2, 17, 13, 6, 22, tzinfo=UTC)
    assert uplink.f_cnt == 7525
    assert uplink.gateways[0].gateway_id == "0000000000000BEE"
    assert uplink.confirmed is True
    assert uplink.rssi == -100
    assert uplink.data_rate is None
    bare = uplink_from_frame("7950D20CBBB77561", {"time": "2018-02-17 13:06:22+0600"}, "")
    assert bare.received_at == datetime(2018, 2, 17, 7, 6, 22, tzinfo=UTC)
    assert bare.gateways == ()
    assert bare.dev_addr is None


@pytest.mark.parametrize(
    "data",
    [
        {"time": "2018-02-17 13:06:22+0000", "data": "ZZ"},
        {"time": "yesterday"},
        {"time": 5},
        {"time": "2018-02-17 13:06:22+0000", "fcnt": "abc"},
        {"time": "2018-02-17 13:06:22+0000", "rssi": {}},
        {"time": "2018-02-17 13:06:22+0000", "gatewayId": -1},
        {"time": "2018-02-17 13:06:22+0000", "gatewayId": "xyz"},
        {"time": "2018-02-17 13:06:22+0000", "ack": "maybe"},
        {"time": "2018-02-17 13:06:22+0000", "lsnr": "NaN"},
    ],
)
def test_uplink_rejects_wrong_types(data: dict[str, Any]) -> None:
    """A field of the wrong type is a ProtocolError, never another exception."""
    with pytest.raises(ProtocolError):
        uplink_from_frame("7950D20CBBB77561", data, None)


async def test_sink_failure_does_not_end_the_connection(
    session: aiohttp.ClientSession, orion: OrionSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """An error while handling one uplink is logged; the next uplink is still delivered."""

    class FailingOnce(RecordingSink):
        failed = False

        def uplink(self, uplink: Uplink) -> None:
            if not self.failed:
                self.failed = True
                raise RuntimeError("handler bug")
            super().uplink(uplink)

    client = make_client(session, orion)
    sink = FailingOnce()
    task = asyncio.create_task(client.run(sink))
    try:
        await sink.wait_for(lambda: sink.up)
        await orion.emit_uplink(DOOR, b"\x01")
        await orion.emit_uplink(DOOR, b"\x02")
        await sink.wait_for(lambda: len(sink.uplinks) == 1)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert sink.uplinks[0].payload == b"\x02"
    assert sink.connections == [(True, None)]
    assert "Error while handling an uplink of 70B3D57ED0000002" in caplog.text
