"""The OrionM2M client against the Orion simulator, over a real WebSocket."""

from __future__ import annotations

import asyncio
from collections import Counter
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
from custom_components.lorawan_hub.lns.orion_messages import UPDATE_FIELDS, update_request
from simulator.orion import MALFORMED_KINDS, OrionSimulator
from tests.vendors.sink import RecordingSink, RunningClient, StartClient

DOOR = "70B3D57ED0000002"
TRACKER = "70B3D57ED0000003"
CLIMATE = "70B3D57ED0000001"


def make_client(
    session: aiohttp.ClientSession, orion: OrionSimulator, **kwargs: Any
) -> OrionClient:
    """Return a client of the simulator's application."""
    return OrionClient(session, orion.url, orion.app_id, orion.token, **kwargs)


@pytest.fixture
async def running_orion_client(
    http_session: aiohttp.ClientSession, orion: OrionSimulator, run_client: StartClient
) -> AsyncIterator[RunningClient[OrionClient]]:
    """A client subscribed to the simulator, with its sink."""
    running = run_client(make_client(http_session, orion))
    await running.connected()
    yield running
    await running.stop()
    await running.client.close()


def free_port() -> int:
    """Return a port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --- connecting ---------------------------------------------------------------------------------


async def test_validate(http_session: aiohttp.ClientSession, orion: OrionSimulator) -> None:
    """Valid credentials connect and list devices; the connection is closed afterwards."""
    client = make_client(http_session, orion)
    await client.validate()
    assert [request["cmd"] for request in orion.received] == ["get_devices_req"]
    await orion.wait_for_clients(0)


async def test_validate_wrong_token(
    http_session: aiohttp.ClientSession, orion: OrionSimulator
) -> None:
    """A wrong token is an AuthError whose text never carries the token."""
    client = OrionClient(http_session, orion.url, orion.app_id, "wrong-secret-token")
    with pytest.raises(AuthError) as caught:
        await client.validate()
    assert caught.value.code == 1
    assert "wrong-secret-token" not in repr(caught.value)
    assert caught.value.__cause__ is None


async def test_validate_client_limit(
    http_session: aiohttp.ClientSession, orion: OrionSimulator
) -> None:
    """The server's client limit is reported as such (connected error_code 2)."""
    orion.max_clients = 0
    with pytest.raises(LimitReached) as caught:
        await make_client(http_session, orion).validate()
    assert caught.value.key == "client_limit"


async def test_validate_unreachable(http_session: aiohttp.ClientSession) -> None:
    """A closed port is CannotConnect, naming the host but not the token."""
    client = OrionClient(
        http_session, f"ws://127.0.0.1:{free_port()}/ws/v2/", "app", "secret-token"
    )
    with pytest.raises(CannotConnect) as caught:
        await client.validate()
    assert "127.0.0.1" in str(caught.value)
    assert "secret-token" not in str(caught.value)
    assert client.host == "127.0.0.1"


@pytest.mark.parametrize(("status", "error"), [(401, AuthError), (404, CannotConnect)])
async def test_validate_http_refusal(
    http_session: aiohttp.ClientSession, status: int, error: type[LnsError]
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
        client = OrionClient(http_session, f"ws://127.0.0.1:{port}/ws/v2/", "app", "secret-token")
        with pytest.raises(error) as caught:
            await client.validate()
        assert str(status) in str(caught.value)
        assert "secret-token" not in repr(caught.value)
    finally:
        await runner.cleanup()


async def test_greeting_timeout(http_session: aiohttp.ClientSession) -> None:
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
            http_session, f"ws://127.0.0.1:{port}/ws/v2/", "app", "token", request_timeout=0.2
        )
        with pytest.raises(CannotConnect, match="did not answer"):
            await client.validate()
    finally:
        await runner.cleanup()


async def test_list_devices(http_session: aiohttp.ClientSession, orion: OrionSimulator) -> None:
    """Devices come with name, class and position, and without any key."""
    devices = {
        device.dev_eui: device for device in await make_client(http_session, orion).list_devices()
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
    """Coordinates arrive as numbers or strings; a device needs a DevEUI."""
    device = device_from_entry(
        {"devEui": "d745f677b2412e03", "lat": "45.234232", "lon": 76.342534, "activation": 1}
    )
    assert device.dev_eui == "D745F677B2412E03"
    assert device.location == Location(45.234232, 76.342534)
    assert device.activation == "ABP"
    assert device.device_class is None
    with pytest.raises(ProtocolError):
        device_from_entry({"devEui": "not-an-eui"})


@pytest.mark.parametrize(
    ("fields", "dropped"),
    [
        ({"lat": "45,23", "lon": "76.34"}, ["lat"]),
        ({"lat": 123.0, "lon": 1.0}, ["lat"]),
        ({"lat": "north", "lon": "east"}, ["lat", "lon"]),
        ({"node_class": "A"}, ["node_class"]),
        ({"activation": [0]}, ["activation"]),
        ({"description": 5, "devAddr": {}}, ["description", "devAddr"]),
    ],
)
def test_device_bad_value_drops_only_that_value(fields: dict[str, Any], dropped: list[str]) -> None:
    """A value that cannot be read is left out; the device and its other values stay."""
    entry = {
        "devEui": "D745F677B2412E03",
        "description": "Boiler",
        "devAddr": "D1FD37F0",
        "node_class": 3,
        "activation": 0,
        "lat": "45.5",
        "lon": "76.25",
    }
    left_out: list[str] = []
    device = device_from_entry({**entry, **fields}, left_out)
    assert left_out == dropped
    assert device.dev_eui == "D745F677B2412E03"
    assert (device.name is None) == ("description" in dropped)
    assert (device.device_class is None) == ("node_class" in dropped)
    assert (device.activation is None) == ("activation" in dropped)
    assert (device.location is None) == ("lat" in dropped or "lon" in dropped)


# --- realtime -----------------------------------------------------------------------------------


async def test_realtime_uplink(
    orion: OrionSimulator, running_orion_client: RunningClient[OrionClient]
) -> None:
    """A realtime_data frame becomes an Uplink with every radio detail."""
    sink = running_orion_client.sink
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
    # Orion's frames carry no port: none is made up.
    assert uplink.f_port is None
    requests = [request["cmd"] for request in orion.received]
    assert requests[:2] == ["set_alive_timeout", "consume_req"]
    assert "get_device_coordinates_req" in requests


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
async def test_malformed_frames_are_dropped(
    orion: OrionSimulator,
    running_orion_client: RunningClient[OrionClient],
    kind: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bad frame is dropped without losing the connection; the next uplink arrives."""
    sink = running_orion_client.sink
    orion.send_malformed(kind)
    await orion.emit_uplink(DOOR, bytes.fromhex("0100"))
    await sink.wait_for(lambda: len(sink.uplinks) == 1)
    assert sink.uplinks[0].dev_eui == DOOR
    assert sink.connections == [(True, None)]
    if kind != "unknown_cmd":
        assert "Dropped" in caplog.text


async def test_malformed_frames_are_throttled(
    orion: OrionSimulator,
    running_orion_client: RunningClient[OrionClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A flood of bad frames is logged once, not once per frame."""
    sink = running_orion_client.sink
    for _ in range(5):
        orion.send_malformed("hex")
    await orion.emit_uplink(DOOR, b"\x01")
    await sink.wait_for(lambda: len(sink.uplinks) == 1)
    assert caplog.text.count("Dropped a malformed uplink") == 1


async def test_reconnect_catches_up(
    orion: OrionSimulator, running_orion_client: RunningClient[OrionClient]
) -> None:
    """Uplinks sent while the connection was down arrive from history after the reconnect."""
    sink = running_orion_client.sink
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


async def test_catch_up_pages(
    http_session: aiohttp.ClientSession, orion: OrionSimulator, recording_sink: RecordingSink
) -> None:
    """More stored uplinks than a page are fetched page after page, oldest first."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    for index in range(1200):
        await orion.emit_uplink(CLIMATE, b"\x01", time=start + timedelta(seconds=index))
    client = make_client(http_session, orion)
    recording_sink.resume = start
    task = asyncio.create_task(client.run(recording_sink))
    try:
        await recording_sink.wait_for(
            lambda: len({u.f_cnt for u in recording_sink.uplinks}) == 1200
        )
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    counters = [uplink.f_cnt or 0 for uplink in recording_sink.uplinks]
    assert counters == list(range(1200)), "each stored uplink once, oldest first"
    # Three pages, and a fourth that brings nothing new.
    assert sum(1 for r in orion.received if r["cmd"] == "get_data_req") == 4


async def test_catch_up_more_than_a_page_in_one_second(
    http_session: aiohttp.ClientSession, orion: OrionSimulator, recording_sink: RecordingSink
) -> None:
    """
    A backlog flushed in one second (more than a page) arrives whole, each uplink once.

    Times have whole seconds: the second is asked for again with a larger limit.
    """
    second = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    for _ in range(1234):
        await orion.emit_uplink(CLIMATE, b"\x01", time=second)
    for index in range(3):
        await orion.emit_uplink(DOOR, b"\x02", time=second + timedelta(seconds=1 + index))
    client = make_client(http_session, orion)
    recording_sink.resume = second
    task = asyncio.create_task(client.run(recording_sink))
    try:
        await recording_sink.wait_for(
            lambda: sum(u.dev_eui == DOOR for u in recording_sink.uplinks) == 3
        )
        await orion.emit_uplink(TRACKER, b"\x03")  # live, once the catch-up is over
        await recording_sink.wait_for(
            lambda: any(u.dev_eui == TRACKER for u in recording_sink.uplinks)
        )
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    climate = Counter(u.f_cnt or 0 for u in recording_sink.uplinks if u.dev_eui == CLIMATE)
    assert sorted(climate) == list(range(1234))
    assert set(climate.values()) == {1}, "each stored uplink exactly once"
    assert [u.f_cnt for u in recording_sink.uplinks if u.dev_eui == DOOR] == [0, 1, 2]
    limits = [r["limit"] for r in orion.received if r["cmd"] == "get_data_req"]
    assert max(limits) >= 1234


async def test_caught_up_and_live_uplinks_name_the_same_gateway(
    orion: OrionSimulator, running_orion_client: RunningClient[OrionClient]
) -> None:
    """A stored row's gatewayEui names the gateway as realtime_data's gatewayId does."""
    sink = running_orion_client.sink
    await orion.emit_uplink(DOOR, b"\x01", gateway_id="0000B827EB76A75F")
    await sink.wait_for(lambda: len(sink.uplinks) == 1)
    orion.drop_after(0)
    await orion.emit_uplink(DOOR, b"\x02", gateway_id="0000B827EB76A75F")
    await sink.wait_for(lambda: any(u.payload == b"\x02" for u in sink.uplinks))
    await orion.wait_for_request("get_data_req")
    gateways = {u.payload: u.gateways[0].gateway_id for u in sink.uplinks}
    assert gateways == {b"\x01": "0000B827EB76A75F", b"\x02": "0000B827EB76A75F"}


async def test_older_server_without_coordinates(
    http_session: aiohttp.ClientSession, orion: OrionSimulator, recording_sink: RecordingSink
) -> None:
    """A server from before revision 09 (no coordinates, no alive timeout) is used all the same."""
    orion.unknown_commands |= {"get_device_coordinates_req", "set_alive_timeout"}
    client = make_client(http_session, orion)
    task = asyncio.create_task(client.run(recording_sink))
    try:
        await recording_sink.wait_for(lambda: recording_sink.up)
        await orion.emit_uplink(DOOR, b"\x01")
        await recording_sink.wait_for(lambda: len(recording_sink.uplinks) == 1)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert recording_sink.connections == [(True, None)]
    # The device list still brings the positions it holds.
    assert recording_sink.device_lists[0][2].location == Location(43.2218, 76.8975)


async def test_live_uplinks_wait_for_history(
    http_session: aiohttp.ClientSession, orion: OrionSimulator, recording_sink: RecordingSink
) -> None:
    """An uplink pushed during the catch-up is delivered after the older stored ones."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    for index in range(3):
        await orion.emit_uplink(CLIMATE, b"\x01", time=start + timedelta(seconds=index))
    orion.delay = 0.05
    client = make_client(http_session, orion)
    recording_sink.resume = start
    task = asyncio.create_task(client.run(recording_sink))
    try:
        await orion.wait_for_request("get_data_req")
        await orion.emit_uplink(CLIMATE, b"\x02")
        await recording_sink.wait_for(lambda: len(recording_sink.uplinks) >= 4)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    counters = [uplink.f_cnt or 0 for uplink in recording_sink.uplinks]
    # The live uplink may also be in the history answer (the sink removes such duplicates),
    # but it never comes before the older stored ones.
    assert list(dict.fromkeys(counters)) == [0, 1, 2, 3]
    assert counters == sorted(counters)


async def test_die_connection_close(
    orion: OrionSimulator, running_orion_client: RunningClient[OrionClient]
) -> None:
    """After die_connection_close the client reconnects and receives again."""
    sink = running_orion_client.sink
    await orion.die()
    await sink.wait_for(lambda: [state for state, _ in sink.connections] == [True, False, True])
    await orion.emit_uplink(DOOR, b"\x01")
    await sink.wait_for(lambda: len(sink.uplinks) == 1)


async def test_keepalive_detects_silence(
    http_session: aiohttp.ClientSession, orion: OrionSimulator, recording_sink: RecordingSink
) -> None:
    """A server that stops answering pings is left and reconnected."""
    client = make_client(http_session, orion, ping_interval=0.05, request_timeout=0.3)
    task = asyncio.create_task(client.run(recording_sink))
    try:
        await recording_sink.wait_for(lambda: recording_sink.up)
        await orion.wait_for_request("ping_req")
        orion.answer_pings = False
        await recording_sink.wait_for(lambda: len(recording_sink.connections) >= 2)
        assert recording_sink.connections[1] == (False, "127.0.0.1 did not answer ping_req")
        orion.answer_pings = True
        await recording_sink.wait_for(
            lambda: len(recording_sink.connections) >= 3 and recording_sink.up
        )
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.mark.parametrize(
    ("knob", "reason"),
    [("disabled", "Disabled application"), ("max_consumers", "Consumer limit reached")],
)
async def test_consume_refused(
    http_session: aiohttp.ClientSession,
    orion: OrionSimulator,
    knob: str,
    reason: str,
    recording_sink: RecordingSink,
) -> None:
    """A refused subscription is reported and retried, never raised."""
    setattr(orion, knob, True if knob == "disabled" else 0)
    client = make_client(http_session, orion)
    task = asyncio.create_task(client.run(recording_sink))
    try:
        await recording_sink.wait_for(lambda: len(recording_sink.connections) >= 2)
        assert recording_sink.connections[0] == (False, reason)
        setattr(orion, knob, False if knob == "disabled" else 1)
        await recording_sink.wait_for(lambda: recording_sink.up)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_reconnects_after_server_restart(
    http_session: aiohttp.ClientSession, orion: OrionSimulator, recording_sink: RecordingSink
) -> None:
    """While the server is down the client keeps retrying; it reconnects when it is back."""
    port = orion.port
    client = make_client(http_session, orion)
    task = asyncio.create_task(client.run(recording_sink))
    try:
        await recording_sink.wait_for(lambda: recording_sink.up)
        await orion.stop()
        await recording_sink.wait_for(lambda: len(recording_sink.connections) >= 3)
        assert not recording_sink.up
        restarted = OrionSimulator(app_id=orion.app_id, token=orion.token, port=port)
        async with restarted:
            await recording_sink.wait_for(lambda: recording_sink.up)
            await restarted.wait_for_consumers(1)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_run_raises_auth_error(
    http_session: aiohttp.ClientSession, orion: OrionSimulator
) -> None:
    """A refused token ends ``run`` with AuthError: only the user can fix it."""
    orion.reject_token_once()
    with pytest.raises(AuthError):
        await make_client(http_session, orion).run(RecordingSink())


# --- downlinks and device commands --------------------------------------------------------------


async def test_send_downlink(
    orion: OrionSimulator, running_orion_client: RunningClient[OrionClient]
) -> None:
    """A downlink is queued with hex data, port, realTime and class (class C goes out at once)."""
    client, sink = running_orion_client.client, running_orion_client.sink
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
    orion: OrionSimulator, running_orion_client: RunningClient[OrionClient]
) -> None:
    """The device's next uplink carries the downlink; downlink_ack_req reports it sent."""
    client, sink = running_orion_client.client, running_orion_client.sink
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


async def test_late_realtime_downlink_is_cancelled(
    http_session: aiohttp.ClientSession, orion: OrionSimulator, recording_sink: RecordingSink
) -> None:
    """
    A realTime downlink that misses the receive window is reported cancelled.

    The server marks it late and cancels it (3.18); one that made the window is reported sent.
    """
    client = make_client(http_session, orion, realtime_window=0.1)
    task = asyncio.create_task(client.run(recording_sink))
    try:
        await recording_sink.wait_for(lambda: recording_sink.up)
        late = await client.send_downlink(
            Downlink(dev_eui=DOOR, f_port=2, payload=b"\x01", mode=DownlinkMode.IMMEDIATE)
        )
        await recording_sink.wait_for(lambda: len(recording_sink.downlink_statuses) == 1)
        await orion.emit_uplink(CLIMATE, b"\x01")
        in_time = await client.send_downlink(
            Downlink(dev_eui=CLIMATE, f_port=2, payload=b"\x02", mode=DownlinkMode.IMMEDIATE)
        )
        await recording_sink.wait_for(lambda: len(recording_sink.downlink_statuses) == 2)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.close()
    cancelled, sent = recording_sink.downlink_statuses
    assert (cancelled.message_id, cancelled.state) == (late.message_id, DownlinkState.CANCELLED)
    assert cancelled.dev_eui == DOOR
    assert cancelled.reason is not None
    assert "late" in cancelled.reason
    assert (sent.message_id, sent.state) == (in_time.message_id, DownlinkState.SENT)
    assert orion.downlinks[0].late


async def test_downlink_ack_is_polled(
    http_session: aiohttp.ClientSession, orion: OrionSimulator, recording_sink: RecordingSink
) -> None:
    """Without an uplink, pending downlinks are polled at the interval."""
    client = make_client(http_session, orion, ack_poll_interval=0.05)
    task = asyncio.create_task(client.run(recording_sink))
    try:
        await recording_sink.wait_for(lambda: recording_sink.up)
        result = await client.send_downlink(Downlink(dev_eui=DOOR, f_port=2, payload=b"\x02"))
        await orion.wait_for_request("downlink_ack_req")
        orion.ack_downlink(int(result.message_id or 0))
        await recording_sink.wait_for(lambda: bool(recording_sink.downlink_statuses))
        assert recording_sink.downlink_statuses[0].state is DownlinkState.SENT
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
    running_orion_client: RunningClient[OrionClient],
    downlink: Downlink,
    error: type[LnsError],
    key: str,
) -> None:
    """Refusals carry the documented reason; unsupported options never reach the server."""
    client = running_orion_client.client
    with pytest.raises(error) as caught:
        await client.send_downlink(downlink)
    assert caught.value.key == key


async def test_commands_need_a_connection(
    http_session: aiohttp.ClientSession, orion: OrionSimulator
) -> None:
    """Without the realtime connection, device commands fail with CannotConnect."""
    client = make_client(http_session, orion)
    with pytest.raises(CannotConnect):
        await client.send_downlink(Downlink(dev_eui=DOOR, f_port=1, payload=b"\x01"))
    with pytest.raises(CannotConnect):
        await client.set_device_class(DOOR, LoRaClass.C)


async def test_max_downlink_size(
    orion: OrionSimulator, running_orion_client: RunningClient[OrionClient]
) -> None:
    """max_dl_data_req gives the device's current maximum."""
    client = running_orion_client.client
    orion.devices[DOOR].max_dl_size = 11
    assert await client.max_downlink_size(DOOR) == 11
    with pytest.raises(InvalidRequest):
        await client.max_downlink_size("0000000000000009")


async def test_set_device_class_writes_the_whole_record(
    orion: OrionSimulator, running_orion_client: RunningClient[OrionClient]
) -> None:
    """
    The class change reads the device and writes the whole record back with another class.

    ``update_device_req`` marks only the device optional (3.9): a partial update is "Required
    field is not filled". The class for downlinks is then read back (``dev_lw_class_req``).
    """
    client = running_orion_client.client
    device = orion.devices[DOOR]
    device.lat, device.lon = 52.1, 5.13  # listed as strings: written back as numbers
    listed = orion._device_record(device)
    assert (listed["lat"], listed["lon"]) == ("52.1", "5.13")
    await client.set_device_class(DOOR, LoRaClass.C)
    request = await orion.wait_for_request("update_device_req")
    assert {key: value for key, value in request.items() if key != "operation_id"} == {
        "cmd": "update_device_req",
        **{key: value for key, value in listed.items() if key in UPDATE_FIELDS},
        "node_class": 3,
        "lat": 52.1,
        "lon": 5.13,
    }
    commands = [r["cmd"] for r in orion.received]
    index = commands.index("update_device_req")
    assert commands[index - 1 : index + 2] == [
        "get_devices_req",
        "update_device_req",
        "dev_lw_class_req",
    ]
    assert (device.node_class, device.lat, device.app_key) == (3, 52.1, listed["app_key"])


async def test_set_device_class(
    orion: OrionSimulator, running_orion_client: RunningClient[OrionClient]
) -> None:
    """update_device_req changes node_class; dev_lw_class_req reads it back."""
    client = running_orion_client.client
    await client.set_device_class(DOOR, LoRaClass.C)
    assert orion.devices[DOOR].node_class == 3
    assert await client.device_class(DOOR) is LoRaClass.C
    assert await client.device_class("0000000000000009") is None
    with pytest.raises(InvalidRequest) as caught:
        await client.set_device_class("0000000000000009", LoRaClass.B)
    assert caught.value.key == "unknown_device"


async def test_invalid_request_frame_fails_the_request(
    orion: OrionSimulator, running_orion_client: RunningClient[OrionClient]
) -> None:
    """``invalid_req`` (which names no request) fails the oldest waiting request."""
    client = running_orion_client.client
    conn = client._live
    assert conn is not None
    with pytest.raises(ProtocolError, match="invalid_req"):
        await conn.request({"cmd": "get_data_req", "date_from": 5, "date_to": 6})


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
    """Documented variants: numeric gatewayId (the server's id), ISO times, string numbers."""
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
    # A number is the server's own gateway id (the schema's uint32), not an EUI.
    assert uplink.gateways[0].gateway_id == "3054"
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
        {"time": "2018-02-17 13:06:22+0000", "data": 1234},
        {"time": "yesterday"},
        {"time": 5},
    ],
)
def test_uplink_rejects_a_frame_without_payload_or_time(data: dict[str, Any]) -> None:
    """A stored uplink without a readable payload or time is a ProtocolError, nothing else."""
    with pytest.raises(ProtocolError):
        uplink_from_frame("7950D20CBBB77561", data, None)
    with pytest.raises(ProtocolError):
        uplink_from_frame("not an EUI", {"time": "2018-02-17 13:06:22+0000"}, None)


def test_live_uplink_without_time_was_received_now() -> None:
    """A live uplink whose time cannot be read is kept, received now."""
    before = datetime.now(UTC)
    dropped: list[str] = []
    uplink = uplink_from_frame(
        "7950D20CBBB77561", {"time": 1518872782, "data": "01"}, None, dropped=dropped, live=True
    )
    assert before <= uplink.received_at <= datetime.now(UTC)
    assert uplink.payload == b"\x01"
    assert dropped == ["time"]


def test_uplink_time_in_the_future_is_no_time() -> None:
    """A time far ahead of this clock would become the resume point: it is no time."""
    data = {"time": "2099-01-01 00:00:00+0000", "data": "01"}
    with pytest.raises(ProtocolError, match="future"):
        uplink_from_frame("7950D20CBBB77561", data, None)
    dropped: list[str] = []
    live = uplink_from_frame("7950D20CBBB77561", data, None, dropped=dropped, live=True)
    assert live.received_at < datetime.now(UTC) + timedelta(seconds=1)
    assert dropped == ["time"]
    soon = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S+0000")
    assert uplink_from_frame("7950D20CBBB77561", {"time": soon}, None).received_at.year < 2099


@pytest.mark.parametrize(
    ("fields", "dropped"),
    [
        ({"fcnt": "abc"}, ["fcnt"]),
        ({"fcnt": -1}, ["fcnt"]),
        ({"rssi": {}}, ["rssi"]),
        ({"lsnr": "NaN"}, ["lsnr"]),
        ({"freq": [868.1]}, ["freq"]),
        ({"datr": "SF7"}, ["datr"]),
        ({"datr": 99}, ["datr"]),
        ({"mtype": "x"}, ["mtype"]),
        ({"gatewayId": -1}, ["gateway"]),
        ({"gatewayId": "xyz"}, ["gateway"]),
        ({"fport": 300}, ["fport"]),
        ({"fport": "two"}, ["fport"]),
        ({"ack": "maybe", "adr": "yes", "size": None, "id": "x"}, []),
    ],
)
def test_uplink_bad_value_drops_only_that_value(fields: dict[str, Any], dropped: list[str]) -> None:
    """A bad radio value is left out; the uplink, its payload and other values stay."""
    row = {
        "time": "2018-02-17 13:06:22+0000",
        "data": "7713",
        "fcnt": 7525,
        "rssi": -100,
        "lsnr": 6.2,
        "freq": 865.1,
        "datr": 4,
        "mtype": 2,
        "gatewayId": "0000B827EBFD64DE",
    }
    left_out: list[str] = []
    uplink = uplink_from_frame("7950D20CBBB77561", {**row, **fields}, None, dropped=left_out)
    assert left_out == dropped
    assert uplink.payload == b"\x77\x13"
    assert uplink.received_at == datetime(2018, 2, 17, 13, 6, 22, tzinfo=UTC)
    assert (uplink.f_cnt is None) == ("fcnt" in dropped)
    assert (uplink.rssi is None) == ("rssi" in dropped)
    assert (uplink.snr is None) == ("lsnr" in dropped)
    assert (uplink.frequency is None) == ("freq" in dropped)
    assert (uplink.data_rate is None) == ("datr" in dropped)
    assert (uplink.confirmed is None) == ("mtype" in dropped)
    assert (uplink.gateways == ()) == ("gateway" in dropped)
    assert uplink.f_port is None


async def test_sink_failure_does_not_end_the_connection(
    http_session: aiohttp.ClientSession, orion: OrionSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """An error while handling one uplink is logged; the next uplink is still delivered."""

    class FailingOnce(RecordingSink):
        failed = False

        def uplink(self, uplink: Uplink) -> None:
            if not self.failed:
                self.failed = True
                raise RuntimeError("handler bug")
            super().uplink(uplink)

    client = make_client(http_session, orion)
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


def test_ack_is_adr_ack_req_not_a_downlink_ack() -> None:
    """``ack`` in realtime data is ADRACKReq (3.11), not a downlink acknowledgement."""
    uplink = uplink_from_frame(
        "7950D20CBBB77561", {"time": "2018-02-17 13:06:22+0000", "ack": True, "data": ""}, None
    )
    assert uplink.ack is None
    assert uplink.raw["ack"] is True


@pytest.mark.parametrize(
    ("fields", "port"),
    [({}, None), ({"fport": 2}, 2), ({"fPort": "7"}, 7), ({"port": 0}, 0), ({"fport": None}, None)],
)
def test_uplink_port(fields: dict[str, Any], port: int | None) -> None:
    """The document gives uplinks no port: None unless a server sends one anyway."""
    data = {"time": "2018-02-17 13:06:22+0000", "data": "01", **fields}
    assert uplink_from_frame("7950D20CBBB77561", data, None).f_port == port


def test_update_request_writes_the_record_back() -> None:
    """The record goes back whole, lat/lon as numbers, without an address it does not have."""
    record = {
        "devEui": "d745f677b2412e03",
        "devAddr": "",
        "application_eui": "819EA8554FCD762A",
        "app_key": "2B7E151628AED2A6ABF7158809CF4F3C",
        "node_class": 1,
        "adr_min": None,
        "seq_chk": 0,
        "tariff_code": "A1",
        "lat": "",
        "lon": "76.342534",
    }
    assert update_request(record, "D745F677B2412E03", 3) == {
        "cmd": "update_device_req",
        "devEui": "D745F677B2412E03",
        "application_eui": "819EA8554FCD762A",
        "app_key": "2B7E151628AED2A6ABF7158809CF4F3C",
        "node_class": 3,
        "adr_min": None,
        "seq_chk": 0,
        "lat": None,
        "lon": 76.342534,
    }
