"""The OrionM2M client against a server that breaks the protocol in ways the simulator does not.

A small scripted WebSocket server answers each request with whatever a test gives it, so that
missing fields, wrong greetings and odd pages can be sent over a real socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
import itertools
import json
import logging
from typing import Any

import aiohttp
import pytest

from custom_components.lorawan_hub.lns import base, orion as orion_module
from custom_components.lorawan_hub.lns.base import Backoff
from custom_components.lorawan_hub.lns.errors import (
    AuthError,
    CannotConnect,
    InvalidRequest,
    ProtocolError,
)
from custom_components.lorawan_hub.lns.models import Downlink, DownlinkState, LoRaClass
from custom_components.lorawan_hub.lns.orion import OrionClient
from tests.vendors.sink import RecordingSink

from .scripted_server import Handler, Reply, ScriptedServer, answer

DEVICE = "70B3D57ED0000001"
NOW = datetime.now(UTC).replace(microsecond=0)
OK: dict[str, Any] = {"status": 1}


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    """A scripted server, started."""
    scripted = ScriptedServer()
    await scripted.start()
    yield scripted
    await scripted.stop()


@pytest.fixture
async def client(server: ScriptedServer) -> AsyncIterator[OrionClient]:
    """A client of the scripted server."""
    async with aiohttp.ClientSession() as session:
        orion = OrionClient(session, server.url, "app", "token", request_timeout=2)
        yield orion
        await orion.close()


@pytest.fixture
async def pinging_client(server: ScriptedServer) -> AsyncIterator[OrionClient]:
    """A client of the scripted server that pings at once after setting up (see ``caught_up``)."""
    async with aiohttp.ClientSession() as session:
        orion = OrionClient(
            session, server.url, "app", "token", request_timeout=2, ping_interval=0.01
        )
        yield orion
        await orion.close()


LIVE_MARK = 99_999
"""The frame counter of the live uplink ``caught_up`` pushes."""


def caught_up(server: ScriptedServer) -> Callable[[RecordingSink], bool]:
    """
    Push a live uplink with ``LIVE_MARK`` when the client first pings, after its set-up.

    The client pings once the catch-up is done: the returned predicate holds from then on.
    """
    pushed = False

    def ping(request: dict[str, Any]) -> list[Reply]:
        nonlocal pushed
        replies: list[Reply] = [answer("ping_resp", seq=1)(request)]
        if not pushed:
            pushed = True
            frame = {"cmd": "realtime_data", "devEui": DEVICE, "data": row(LIVE_MARK, NOW)}
            replies.insert(0, frame)
        return replies

    server.handlers["ping_req"] = ping
    return lambda sink: any(uplink.f_cnt == LIVE_MARK for uplink in sink.uplinks)


async def run_until(
    client: OrionClient, sink: RecordingSink, predicate: Callable[[], bool]
) -> None:
    """Run the client until ``predicate`` holds for its sink."""
    task = asyncio.create_task(client.run(sink))
    try:
        await sink.wait_for(predicate)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def row(fcnt: int, moment: datetime, data: str = "01") -> dict[str, Any]:
    """Return a stored uplink as ``get_data_resp`` lists it."""
    return {
        "devEui": DEVICE,
        "devAddr": "D0000001",
        "fcnt": fcnt,
        "time": moment.strftime("%Y-%m-%d %H:%M:%S+0000"),
        "data": data,
    }


@pytest.mark.parametrize(
    ("greeting", "error", "text"),
    [
        ({"cmd": "hello"}, ProtocolError, "did not greet"),
        (None, CannotConnect, "closed the connection"),
        ("[1, 2]", ProtocolError, "not an object"),
        ("{nonsense", ProtocolError, "not JSON"),
    ],
)
async def test_bad_greeting(
    server: ScriptedServer,
    client: OrionClient,
    greeting: Reply,
    error: type[Exception],
    text: str,
) -> None:
    """A server that does not greet with 'connected' is refused."""
    server.greeting = greeting
    with pytest.raises(error, match=text):
        await client.validate()


async def test_unauthorized_while_subscribing(server: ScriptedServer, client: OrionClient) -> None:
    """'Unauthorized access' during set-up of the subscription ends ``run`` with AuthError."""
    server.handlers["get_devices_req"] = answer("get_devices_resp", status=2, error_code=1)
    with pytest.raises(AuthError):
        await client.run(RecordingSink())


async def test_odd_frames_are_dropped(
    server: ScriptedServer,
    client: OrionClient,
    caplog: pytest.LogCaptureFixture,
    recording_sink: RecordingSink,
) -> None:
    """Non-object JSON, oversized frames and stray answers are dropped; uplinks still arrive."""
    task = asyncio.create_task(client.run(recording_sink))
    try:
        await recording_sink.wait_for(lambda: recording_sink.up)
        await server.push("[1, 2, 3]")
        await server.push("x" * (10 * 1024 * 1024))
        await server.push({"cmd": "get_devices_resp", "operation_id": "unknown", "status": 1})
        await server.push(
            {"cmd": "realtime_data", "devEui": DEVICE, "data": row(7, datetime.now(UTC))}
        )
        await recording_sink.wait_for(lambda: len(recording_sink.uplinks) == 1)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert recording_sink.uplinks[0].f_cnt == 7
    assert "not an object" in caplog.text
    assert "that is not JSON" in caplog.text


async def test_uplink_outside_a_subscription_is_ignored(
    server: ScriptedServer, client: OrionClient
) -> None:
    """Realtime data pushed on a validation connection reaches no sink and breaks nothing."""

    def devices(request: dict[str, Any]) -> list[Reply]:
        return [
            {"cmd": "realtime_data", "devEui": DEVICE, "data": row(1, datetime.now(UTC))},
            answer("get_devices_resp", status=1, deviceList=[])(request),
        ]

    server.handlers["get_devices_req"] = devices
    assert await client.list_devices() == []


async def test_malformed_server_data_is_skipped(
    server: ScriptedServer,
    client: OrionClient,
    caplog: pytest.LogCaptureFixture,
    recording_sink: RecordingSink,
) -> None:
    """Bad device entries, coordinates and stored rows are skipped one by one."""
    now = datetime.now(UTC).replace(microsecond=0)
    server.handlers["get_devices_req"] = answer(
        "get_devices_resp", status=1, deviceList=[{"devEui": "bad"}, {"devEui": DEVICE}]
    )
    server.handlers["get_device_coordinates_req"] = answer(
        "get_device_coordinates_resp",
        status=1,
        deviceList=[{"devEui": DEVICE, "lat": "north", "lon": 1}, "nonsense"],
    )
    server.handlers["get_data_req"] = answer(
        "get_data_resp",
        status=1,
        dataList=[
            "nonsense",
            {**row(0, now), "time": "yesterday"},
            row(1, now, data="XYZ"),
            row(2, now),
        ],
    )
    recording_sink.resume = now - timedelta(minutes=1)
    await run_until(client, recording_sink, lambda: len(recording_sink.uplinks) == 1)
    assert [device.dev_eui for device in recording_sink.device_lists[0]] == [DEVICE]
    assert recording_sink.locations == {}
    assert recording_sink.uplinks[0].f_cnt == 2
    assert "Skipped a malformed device" in caplog.text
    assert "Skipped malformed coordinates" in caplog.text
    assert "Dropped a malformed stored uplink" in caplog.text


def stored_history(rows: list[dict[str, Any]]) -> Handler:
    """Answer ``get_data_req`` as a server with these stored rows: from date_from, up to limit."""

    def history(request: dict[str, Any]) -> Reply:
        start = datetime.strptime(request["date_from"], "%Y-%m-%d %H:%M:%S%z")
        chosen = [
            row for row in rows if datetime.strptime(row["time"], "%Y-%m-%d %H:%M:%S%z") >= start
        ][: request.get("limit", 10)]
        return answer("get_data_resp", status=1, dataCount=len(chosen), dataList=chosen)(request)

    return history


def history_requests(server: ScriptedServer) -> list[dict[str, Any]]:
    """Return the get_data_req requests the server received."""
    return [request for request in server.requests if request["cmd"] == "get_data_req"]


async def test_history_more_than_a_page_in_one_second(
    server: ScriptedServer, pinging_client: OrionClient, recording_sink: RecordingSink
) -> None:
    """More stored uplinks than a page in one second are all delivered, each once."""
    moment = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    rows = [row(index, moment) for index in range(1100)]
    rows += [row(1100 + index, moment + timedelta(seconds=1 + index)) for index in range(5)]
    server.handlers["get_data_req"] = stored_history(rows)
    done = caught_up(server)
    recording_sink.resume = moment
    await run_until(pinging_client, recording_sink, lambda: done(recording_sink))
    stored = [uplink.f_cnt or 0 for uplink in recording_sink.uplinks if uplink.f_cnt != LIVE_MARK]
    assert sorted(stored) == list(range(1105))
    # The same second asked again with a larger limit, then the rest from its newest second.
    assert [(r["date_from"], r["limit"]) for r in history_requests(server)] == [
        (moment.strftime("%Y-%m-%d %H:%M:%S+0000"), 500),
        (moment.strftime("%Y-%m-%d %H:%M:%S+0000"), 1000),
        (moment.strftime("%Y-%m-%d %H:%M:%S+0000"), 2000),
        ((moment + timedelta(seconds=5)).strftime("%Y-%m-%d %H:%M:%S+0000"), 500),
    ]


async def test_history_second_beyond_the_largest_limit(
    server: ScriptedServer,
    client: OrionClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    recording_sink: RecordingSink,
) -> None:
    """A second with more uplinks than the largest limit is passed, said in the log."""
    monkeypatch.setattr(orion_module, "HISTORY_MAX_LIMIT", 1000)
    moment = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    rows = [row(index, moment) for index in range(1500)]
    rows.append(row(1500, moment + timedelta(seconds=2)))
    server.handlers["get_data_req"] = stored_history(rows)
    recording_sink.resume = moment
    await run_until(
        client, recording_sink, lambda: any(u.f_cnt == 1500 for u in recording_sink.uplinks)
    )
    assert len(recording_sink.uplinks) == 1001
    assert "More than 1000 stored uplinks in the second" in caplog.text


async def test_history_short_page_followed_by_more(
    server: ScriptedServer, pinging_client: OrionClient, recording_sink: RecordingSink
) -> None:
    """A page shorter than asked for is not the end: pages follow until one brings nothing new."""
    moment = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    pages = [
        [row(index, moment + timedelta(seconds=index)) for index in range(3)],
        [row(index, moment + timedelta(seconds=index)) for index in range(2, 5)],
    ]

    def history(request: dict[str, Any]) -> Reply:
        return answer("get_data_resp", status=1, dataList=pages.pop(0) if pages else [])(request)

    server.handlers["get_data_req"] = history
    done = caught_up(server)
    recording_sink.resume = moment
    await run_until(pinging_client, recording_sink, lambda: done(recording_sink))
    assert [uplink.f_cnt for uplink in recording_sink.uplinks] == [0, 1, 2, 3, 4, LIVE_MARK]
    assert len(history_requests(server)) == 3


async def test_history_accepted_then_result(
    server: ScriptedServer, client: OrionClient, recording_sink: RecordingSink
) -> None:
    """Status 1 ("Accepted") without rows announces the result; the rows that follow count."""
    moment = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    calls = iter(range(100))

    def history(request: dict[str, Any]) -> list[Reply]:
        if next(calls):
            return [answer("get_data_resp", status=1, dataCount=0)(request)]
        rows = [row(index, moment + timedelta(seconds=index)) for index in range(2)]
        return [
            answer("get_data_resp", status=1)(request),
            answer("get_data_resp", status=3, dataCount=2, dataList=rows)(request),
        ]

    server.handlers["get_data_req"] = history
    recording_sink.resume = moment
    await run_until(client, recording_sink, lambda: len(recording_sink.uplinks) == 2)
    assert [uplink.f_cnt for uplink in recording_sink.uplinks] == [0, 1]


async def test_history_accepted_without_result(server: ScriptedServer) -> None:
    """An acknowledged query whose result never comes fails the connection: retried later."""
    server.handlers["get_data_req"] = answer("get_data_resp", status=1)
    async with aiohttp.ClientSession() as session:
        client = OrionClient(session, server.url, "app", "token", request_timeout=0.2)
        sink = RecordingSink()
        sink.resume = datetime.now(UTC) - timedelta(minutes=5)
        await run_until(client, sink, lambda: len(sink.connections) >= 2)
    assert sink.connections[1] == (False, "127.0.0.1 accepted get_data_req but sent no result")


@pytest.mark.parametrize("code", [1, 2, 3])
async def test_history_refused_keeps_the_connection(
    server: ScriptedServer,
    client: OrionClient,
    code: int,
    caplog: pytest.LogCaptureFixture,
    recording_sink: RecordingSink,
) -> None:
    """A refused catch-up is logged; live data still flows on the same connection."""
    server.handlers["get_data_req"] = answer("get_data_resp", status=2, error_code=code)
    recording_sink.resume = datetime.now(UTC) - timedelta(minutes=5)
    task = asyncio.create_task(client.run(recording_sink))
    try:
        await recording_sink.wait_for(lambda: recording_sink.up)
        await server.push(
            {"cmd": "realtime_data", "devEui": DEVICE, "data": row(9, datetime.now(UTC))}
        )
        await recording_sink.wait_for(lambda: len(recording_sink.uplinks) == 1)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert recording_sink.connections == [(True, None)]
    assert "refused the stored uplinks" in caplog.text


async def test_history_rows_that_are_no_list(
    server: ScriptedServer,
    pinging_client: OrionClient,
    caplog: pytest.LogCaptureFixture,
    recording_sink: RecordingSink,
) -> None:
    """A dataList that is no list brings nothing, and says so."""
    server.handlers["get_data_req"] = answer("get_data_resp", status=1, dataList="rows")
    done = caught_up(server)
    recording_sink.resume = datetime.now(UTC) - timedelta(minutes=5)
    await run_until(pinging_client, recording_sink, lambda: done(recording_sink))
    assert [uplink.f_cnt for uplink in recording_sink.uplinks] == [LIVE_MARK]
    assert "stored uplinks that are no list" in caplog.text


async def test_downlink_without_data_id(
    server: ScriptedServer, client: OrionClient, recording_sink: RecordingSink
) -> None:
    """An answer without dataId is a protocol error, not a silent success."""
    server.handlers["downlink_data_req"] = answer("downlink_data_resp", status=1)
    task = asyncio.create_task(client.run(recording_sink))
    try:
        await recording_sink.wait_for(lambda: recording_sink.up)
        with pytest.raises(ProtocolError, match="without dataId"):
            await client.send_downlink(Downlink(dev_eui=DEVICE, f_port=1, payload=b"\x01"))
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_downlink_failure_and_expiry(
    server: ScriptedServer,
    client: OrionClient,
    monkeypatch: pytest.MonkeyPatch,
    recording_sink: RecordingSink,
) -> None:
    """A downlink the server no longer knows is reported failed; a stale one is dropped."""
    data_ids = iter(range(1, 10))

    def queue(request: dict[str, Any]) -> Reply:
        return answer("downlink_data_resp", status=1, dataId=next(data_ids), dataInQueue=1)(request)

    server.handlers["downlink_data_req"] = queue

    def ack(request: dict[str, Any]) -> Reply:
        if request["datald"] == 1:
            return answer("downlink_ack_resp", status=2, error_code=2)(request)
        return answer("downlink_ack_resp", status=1, datald=request["datald"], ack_time=None)(
            request
        )

    server.handlers["downlink_ack_req"] = ack
    server.handlers["max_dl_data_req"] = answer("max_dl_data_resp", status=1, devList=[])
    monkeypatch.setattr(orion_module, "ACK_GIVE_UP", timedelta(0))
    task = asyncio.create_task(client.run(recording_sink))
    try:
        await recording_sink.wait_for(lambda: recording_sink.up)
        await client.send_downlink(Downlink(dev_eui=DEVICE, f_port=1, payload=b"\x01"))
        await client.send_downlink(Downlink(dev_eui=DEVICE, f_port=1, payload=b"\x02"))
        await server.push(
            {"cmd": "realtime_data", "devEui": DEVICE, "data": row(3, datetime.now(UTC))}
        )
        await recording_sink.wait_for(lambda: bool(recording_sink.downlink_statuses))
        status = recording_sink.downlink_statuses[0]
        assert (status.message_id, status.state) == ("1", DownlinkState.FAILED)
        assert status.reason == "Device not found"
        # The server answers in order: once a later request is answered, the check of
        # downlink 2 (sent before it) has been processed too.
        while not any(r.get("datald") == 2 for r in server.requests):
            await client.max_downlink_size(DEVICE)
        await client.max_downlink_size(DEVICE)
        assert not client._pending_acks
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len(recording_sink.downlink_statuses) == 1


async def test_device_class_of_other_device(
    server: ScriptedServer, client: OrionClient, recording_sink: RecordingSink
) -> None:
    """A class answer that does not list the asked device means unknown."""
    server.handlers["dev_lw_class_req"] = answer(
        "dev_lw_class_resp", status=1, deviceList=[{"devEui": "70B3D57ED0000009", "lwClass": 2}]
    )
    server.handlers["max_dl_data_req"] = answer("max_dl_data_resp", status=1, devList=[])
    task = asyncio.create_task(client.run(recording_sink))
    try:
        await recording_sink.wait_for(lambda: recording_sink.up)
        assert await client.device_class(DEVICE) is None
        assert await client.max_downlink_size(DEVICE) is None
        server.handlers["dev_lw_class_req"] = answer(
            "dev_lw_class_resp", status=1, deviceList=[{"devEui": DEVICE, "lwClass": 2}]
        )
        assert await client.device_class(DEVICE) is LoRaClass.B
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_request_on_closed_connection(
    server: ScriptedServer, client: OrionClient, recording_sink: RecordingSink
) -> None:
    """A request on a connection that closed fails at once."""
    task = asyncio.create_task(client.run(recording_sink))
    try:
        await recording_sink.wait_for(lambda: recording_sink.up)
        conn = client._live
        assert conn is not None
        for ws in server.sockets:
            await ws.close()
        await recording_sink.wait_for(lambda: not recording_sink.up)
        with pytest.raises(CannotConnect, match="closed"):
            await conn.request({"cmd": "ping_req"})
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_unexpected_error_is_retried(
    server: ScriptedServer,
    client: OrionClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    recording_sink: RecordingSink,
) -> None:
    """A bug while setting up a connection is logged and the connection retried, not lost."""
    failures = iter([RuntimeError("bug")])

    def devices_listed(devices: Any) -> None:
        if (error := next(failures, None)) is not None:
            raise error
        RecordingSink.devices_listed(recording_sink, devices)

    monkeypatch.setattr(recording_sink, "devices_listed", devices_listed)
    await run_until(client, recording_sink, lambda: len(recording_sink.device_lists) == 1)
    assert (False, "unexpected error") in recording_sink.connections
    assert "Unexpected error in the connection" in caplog.text


class RecordingBackoff(Backoff):
    """A backoff that records the delays it gives."""

    def __init__(self) -> None:
        """Start at 10 ms."""
        super().__init__(initial=0.01)
        self.delays: list[float] = []

    def next_delay(self) -> float:
        """Return and record the next delay."""
        delay = super().next_delay()
        self.delays.append(delay)
        return delay


async def test_backoff_grows_while_connections_bring_nothing(server: ScriptedServer) -> None:
    """A server that answers and closes at once is retried later and later, not at once."""

    def devices(request: dict[str, Any]) -> list[Reply]:
        return [answer("get_devices_resp", status=1, deviceList=[])(request), None]

    server.handlers["get_devices_req"] = devices
    backoff = RecordingBackoff()
    async with aiohttp.ClientSession() as session:
        client = OrionClient(session, server.url, "app", "token", backoff=backoff)
        sink = RecordingSink()
        await run_until(client, sink, lambda: len(backoff.delays) >= 5)
    assert [state for state, _ in sink.connections[:4]] == [True, False, True, False]
    # Doubling (with jitter of ±20 %): the fifth delay is about 16 times the first.
    assert backoff.delays[4] > 4 * backoff.delays[0]


async def test_backoff_starts_again_after_data(server: ScriptedServer) -> None:
    """A connection that brought an uplink before it closed is retried after the first delay."""

    def ping(request: dict[str, Any]) -> list[Reply]:
        frame = {"cmd": "realtime_data", "devEui": DEVICE, "data": row(1, datetime.now(UTC))}
        return [frame, answer("ping_resp", seq=1)(request), None]

    server.handlers["ping_req"] = ping
    backoff = RecordingBackoff()
    async with aiohttp.ClientSession() as session:
        client = OrionClient(
            session, server.url, "app", "token", backoff=backoff, ping_interval=0.01
        )
        sink = RecordingSink()
        await run_until(client, sink, lambda: len(backoff.delays) >= 5)
    assert len(sink.uplinks) >= 5
    assert max(backoff.delays[:5]) <= 0.01 * 1.2 + 1e-9


async def test_backoff_starts_again_after_a_lasting_connection(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection that stayed up long enough counts as working, data or not."""
    monkeypatch.setattr(base, "STABLE_AFTER", 0.0)  # every connection has lasted long enough

    def devices(request: dict[str, Any]) -> list[Reply]:
        return [answer("get_devices_resp", status=1, deviceList=[])(request), None]

    server.handlers["get_devices_req"] = devices
    backoff = RecordingBackoff()
    async with aiohttp.ClientSession() as session:
        client = OrionClient(session, server.url, "app", "token", backoff=backoff)
        sink = RecordingSink()
        await run_until(client, sink, lambda: len(backoff.delays) >= 5)
    assert max(backoff.delays[:5]) <= 0.01 * 1.2 + 1e-9


async def test_optional_commands_are_best_effort(
    server: ScriptedServer,
    client: OrionClient,
    caplog: pytest.LogCaptureFixture,
    recording_sink: RecordingSink,
) -> None:
    """
    An unknown set_alive_timeout or refused coordinates cost neither the connection nor auth.

    A command the server does not know is not asked again; each is logged once as a warning.
    """
    server.handlers["set_alive_timeout"] = lambda request: {"cmd": "invalid_command_req"}
    server.handlers["get_device_coordinates_req"] = answer(
        "get_device_coordinates_resp", status=2, error_code=1
    )
    task = asyncio.create_task(client.run(recording_sink))
    try:
        await recording_sink.wait_for(lambda: recording_sink.up)
        await server.push(
            {"cmd": "realtime_data", "devEui": DEVICE, "data": row(1, datetime.now(UTC))}
        )
        await recording_sink.wait_for(lambda: len(recording_sink.uplinks) == 1)
        assert recording_sink.connections == [(True, None)]
        for ws in server.sockets:
            await ws.close()
        await recording_sink.wait_for(
            lambda: len(recording_sink.connections) == 3 and recording_sink.up
        )
        await server.push(
            {"cmd": "realtime_data", "devEui": DEVICE, "data": row(2, datetime.now(UTC))}
        )
        await recording_sink.wait_for(lambda: len(recording_sink.uplinks) == 2)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    commands = [request["cmd"] for request in server.requests]
    assert commands.count("set_alive_timeout") == 1
    assert commands.count("get_device_coordinates_req") == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("did not do set_alive_timeout" in text for text in warnings) == 1
    assert sum("did not do get_device_coordinates_req" in text for text in warnings) == 1


async def test_bad_coordinates_keep_the_device(
    server: ScriptedServer,
    client: OrionClient,
    caplog: pytest.LogCaptureFixture,
    recording_sink: RecordingSink,
) -> None:
    """A device whose lat/lon cannot be read is listed without a position."""
    server.handlers["get_devices_req"] = answer(
        "get_devices_resp",
        status=1,
        deviceList=[
            {"devEui": DEVICE, "description": "Boiler", "node_class": 3, "lat": "45,23", "lon": "7"}
        ],
    )
    await run_until(client, recording_sink, lambda: bool(recording_sink.device_lists))
    [device] = recording_sink.device_lists[0]
    assert (device.dev_eui, device.name, device.device_class) == (DEVICE, "Boiler", LoRaClass.C)
    assert device.location is None
    assert "Left out the bad lat of device 70B3D57ED0000001" in caplog.text


@pytest.mark.parametrize(
    "reply", [{"status": 1}, {"status": 1, "deviceCount": 2}, {"status": 1, "deviceList": "x"}]
)
async def test_answer_without_device_list(
    server: ScriptedServer,
    client: OrionClient,
    reply: dict[str, Any],
    recording_sink: RecordingSink,
) -> None:
    """An answer that holds no device list says nothing about the devices: none are reported."""
    server.handlers["get_devices_req"] = answer("get_devices_resp", **reply)
    await run_until(client, recording_sink, lambda: recording_sink.up)
    assert recording_sink.device_lists == []
    with pytest.raises(ProtocolError, match="without a device list"):
        await client.list_devices()


async def test_no_devices(server: ScriptedServer, client: OrionClient) -> None:
    """An answer with deviceCount 0 and no list is an empty list."""
    server.handlers["get_devices_req"] = answer("get_devices_resp", status=1, deviceCount=0)
    assert await client.list_devices() == []


async def test_late_answer_is_not_taken_for_the_next(server: ScriptedServer) -> None:
    """The answer to a request given up is not taken as the answer to the next one."""
    calls = iter(range(10))

    def size(request: dict[str, Any]) -> list[Reply]:
        if next(calls) == 0:
            return []  # no answer in time
        late = {
            "cmd": "max_dl_data_resp",
            "operation_id": "lh1",
            "status": 1,
            "devList": [{"devEui": DEVICE, "maxDataSize": 11}],
        }
        return [
            late,
            answer("max_dl_data_resp", status=1, devList=[{"devEui": DEVICE, "maxDataSize": 22}])(
                request
            ),
        ]

    server.handlers["max_dl_data_req"] = size
    async with aiohttp.ClientSession() as session:
        client = OrionClient(session, server.url, "app", "token", request_timeout=0.3)
        sink = RecordingSink()
        task = asyncio.create_task(client.run(sink))
        try:
            await sink.wait_for(lambda: sink.up)
            conn = client._live
            assert conn is not None
            request = {"cmd": "max_dl_data_req", "devEui": DEVICE}
            # The operation ids count from 1: give the first request "lh1" for certain.
            conn._operation_ids = itertools.count(1)
            with pytest.raises(CannotConnect, match="did not answer"):
                await conn.request(request)
            assert (await conn.request(request))["devList"][0]["maxDataSize"] == 22
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


async def test_refusal_naming_its_request(
    server: ScriptedServer, client: OrionClient, recording_sink: RecordingSink
) -> None:
    """An invalid_req that echoes an operation_id fails that request, not the oldest."""
    server.handlers["max_dl_data_req"] = lambda request: []
    server.handlers["dev_lw_class_req"] = lambda request: {
        "cmd": "invalid_req",
        "operation_id": request["operation_id"],
    }
    task = asyncio.create_task(client.run(recording_sink))
    try:
        await recording_sink.wait_for(lambda: recording_sink.up)
        oldest = asyncio.create_task(client.max_downlink_size(DEVICE))
        await asyncio.sleep(0)
        with pytest.raises(ProtocolError, match="invalid_req"):
            await client.device_class(DEVICE)
        assert not oldest.done()
        oldest.cancel()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.mark.parametrize(
    "bad_answer",
    [
        {"cmd": "invalid_req"},
        {"cmd": "downlink_ack_resp", "datald": 1, "ack_time": "yesterday"},
    ],
)
async def test_ack_check_goes_past_a_bad_answer(
    server: ScriptedServer,
    client: OrionClient,
    bad_answer: dict[str, Any],
    recording_sink: RecordingSink,
) -> None:
    """A downlink the server answers badly for does not keep the others from being reported."""
    data_ids = iter(range(1, 10))

    def queue(request: dict[str, Any]) -> Reply:
        return answer("downlink_data_resp", status=1, dataId=next(data_ids), dataInQueue="many")(
            request
        )

    server.handlers["downlink_data_req"] = queue

    def ack(request: dict[str, Any]) -> Reply:
        if request["datald"] == 1:
            return bad_answer
        return answer("downlink_ack_resp", ack_time="2018-06-04 16:30:15+0600", datald=2)(request)

    server.handlers["downlink_ack_req"] = ack
    task = asyncio.create_task(client.run(recording_sink))
    try:
        await recording_sink.wait_for(lambda: recording_sink.up)
        first = await client.send_downlink(Downlink(dev_eui=DEVICE, f_port=1, payload=b"\x01"))
        await client.send_downlink(Downlink(dev_eui=DEVICE, f_port=1, payload=b"\x02"))
        # A bad dataInQueue loses only itself: the downlink is queued.
        assert (first.state, first.queue_length) == (DownlinkState.QUEUED, None)
        await server.push(
            {"cmd": "realtime_data", "devEui": DEVICE, "data": row(3, datetime.now(UTC))}
        )
        await recording_sink.wait_for(lambda: bool(recording_sink.downlink_statuses))
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    [status] = recording_sink.downlink_statuses
    assert (status.message_id, status.state) == ("2", DownlinkState.SENT)
    assert status.at == datetime(2018, 6, 4, 10, 30, 15, tzinfo=UTC)
    assert "1" in client._pending_acks


async def test_class_change_not_confirmed(
    server: ScriptedServer, client: OrionClient, recording_sink: RecordingSink
) -> None:
    """A class change the server accepts but does not apply is an error, not a success."""
    record = {"devEui": DEVICE, "devAddr": "D0000001", "application_eui": "819EA8554FCD762A"}
    server.handlers["get_devices_req"] = answer(
        "get_devices_resp", status=1, deviceList=[{**record, "node_class": 1, "lat": "x"}]
    )
    server.handlers["update_device_req"] = answer("update_device_resp", status=1, **record)
    server.handlers["dev_lw_class_req"] = answer(
        "dev_lw_class_resp", status=1, deviceList=[{"devEui": DEVICE, "lwClass": 1}]
    )
    task = asyncio.create_task(client.run(recording_sink))
    try:
        await recording_sink.wait_for(lambda: recording_sink.up)
        with pytest.raises(ProtocolError, match="still reports class A"):
            await client.set_device_class(DEVICE, LoRaClass.C)
        update = next(r for r in server.requests if r["cmd"] == "update_device_req")
        # A coordinate the server gave as text that is no number goes back as it came.
        assert (update["node_class"], update["lat"]) == (3, "x")
        server.handlers["dev_lw_class_req"] = answer(
            "dev_lw_class_resp", status=1, deviceList=[{"devEui": DEVICE, "lwClass": "C"}]
        )
        await client.set_device_class(DEVICE, LoRaClass.C)  # an unreadable class confirms nothing
        server.handlers["get_devices_req"] = answer("get_devices_resp", status=1, deviceList={})
        with pytest.raises(InvalidRequest) as caught:
            await client.set_device_class(DEVICE, LoRaClass.C)
        assert caught.value.key == "unknown_device"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_values_orjson_refuses_lose_only_themselves(
    server: ScriptedServer, client: OrionClient, recording_sink: RecordingSink
) -> None:
    """An id beyond 64 bits or a NaN (JSON that orjson refuses) does not cost the uplink."""
    task = asyncio.create_task(client.run(recording_sink))
    try:
        await recording_sink.wait_for(lambda: recording_sink.up)
        frame = json.dumps({"cmd": "realtime_data", "devEui": DEVICE, "data": row(4, NOW)})
        await server.push(frame.replace('"fcnt": 4', f'"fcnt": 4, "id": {2**70}, "lsnr": NaN'))
        await recording_sink.wait_for(lambda: len(recording_sink.uplinks) == 1)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert (recording_sink.uplinks[0].f_cnt, recording_sink.uplinks[0].snr) == (4, None)


async def test_refused_ping_keeps_the_connection(server: ScriptedServer) -> None:
    """A server that refuses ping_req has answered: the connection is alive and stays."""
    pings = iter(range(1000))

    def ping(request: dict[str, Any]) -> list[Reply]:
        if next(pings) < 3:
            return [{"cmd": "invalid_command_req"}]
        frame = {"cmd": "realtime_data", "devEui": DEVICE, "data": row(5, NOW)}
        return [frame, {"cmd": "invalid_command_req"}]

    server.handlers["ping_req"] = ping
    async with aiohttp.ClientSession() as session:
        client = OrionClient(session, server.url, "app", "token", ping_interval=0.01)
        sink = RecordingSink()
        await run_until(client, sink, lambda: bool(sink.uplinks))
    assert sink.connections == [(True, None)]
