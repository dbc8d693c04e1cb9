"""The OrionM2M client against a server that breaks the protocol in ways the simulator does not.

A small scripted WebSocket server answers each request with whatever a test gives it, so that
missing fields, wrong greetings and odd pages can be sent over a real socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
import json
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.lorawan_hub.lns import orion as orion_module
from custom_components.lorawan_hub.lns.errors import (
    AuthError,
    CannotConnect,
    ProtocolError,
)
from custom_components.lorawan_hub.lns.models import Downlink, DownlinkState, LoRaClass
from custom_components.lorawan_hub.lns.orion import OrionClient

from .sink import RecordingSink

type Reply = dict[str, Any] | str | bytes | None
type Answer = Callable[[dict[str, Any]], Reply]
type Handler = Callable[[dict[str, Any]], Reply | list[Reply]]

DEVICE = "70B3D57ED0000001"
OK: dict[str, Any] = {"status": 1}


def answer(cmd: str, **fields: Any) -> Answer:
    """Return a handler answering ``cmd`` with ``fields`` and the request's operation_id."""

    def handler(request: dict[str, Any]) -> Reply:
        reply = {"cmd": cmd, **fields}
        if "operation_id" in request:
            reply["operation_id"] = request["operation_id"]
        return reply

    return handler


class ScriptedServer:
    """A WebSocket server that greets, then answers each request by its ``cmd``."""

    def __init__(self) -> None:
        """Answer the commands a subscribing client sends, successfully and empty."""
        self.greeting: Reply = {"cmd": "connected", "status": 1}
        self.handlers: dict[str, Handler] = {
            "set_alive_timeout": answer("set_alive_timeout_resp", timeout=120),
            "consume_req": answer("consume_resp", status=1),
            "get_devices_req": answer("get_devices_resp", status=1, deviceList=[]),
            "get_device_coordinates_req": answer("get_device_coordinates_resp", status=1),
            "get_data_req": answer("get_data_resp", status=1, dataList=[]),
            "ping_req": answer("ping_resp", seq=1),
        }
        self.requests: list[dict[str, Any]] = []
        self.sockets: list[web.WebSocketResponse] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await self._send(ws, self.greeting)
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            parsed = json.loads(message.data)
            self.requests.append(parsed)
            handler = self.handlers.get(parsed["cmd"])
            replies = handler(parsed) if handler else None
            for reply in replies if isinstance(replies, list) else [replies]:
                await self._send(ws, reply)
        return ws

    @staticmethod
    async def _send(ws: web.WebSocketResponse, reply: Reply) -> None:
        if reply is None:
            await ws.close()
        elif isinstance(reply, bytes):
            await ws.send_bytes(reply)
        elif isinstance(reply, str):
            await ws.send_str(reply)
        else:
            await ws.send_json(reply)

    async def push(self, frame: Reply) -> None:
        """Send a frame to every connected client."""
        for ws in self.sockets:
            if not ws.closed:
                await self._send(ws, frame)

    async def start(self) -> None:
        """Listen on 127.0.0.1."""
        app = web.Application()
        app.router.add_get("/ws/v2/", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"ws://127.0.0.1:{self.runner.addresses[0][1]}/ws/v2/"

    async def stop(self) -> None:
        """Close every socket and stop listening."""
        for ws in self.sockets:
            await ws.close()
        if self.runner is not None:
            await self.runner.cleanup()


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
    server: ScriptedServer, client: OrionClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Non-object JSON, oversized frames and stray answers are dropped; uplinks still arrive."""
    sink = RecordingSink()
    task = asyncio.create_task(client.run(sink))
    try:
        await sink.wait_for(lambda: sink.up)
        await server.push("[1, 2, 3]")
        await server.push("x" * (10 * 1024 * 1024))
        await server.push({"cmd": "get_devices_resp", "operation_id": "unknown", "status": 1})
        await server.push(
            {"cmd": "realtime_data", "devEui": DEVICE, "data": row(7, datetime.now(UTC))}
        )
        await sink.wait_for(lambda: len(sink.uplinks) == 1)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert sink.uplinks[0].f_cnt == 7
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
    server: ScriptedServer, client: OrionClient, caplog: pytest.LogCaptureFixture
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
        "get_data_resp", status=1, dataList=[row(1, now, data="XYZ"), row(2, now)]
    )
    sink = RecordingSink()
    sink.resume = now - timedelta(minutes=1)
    await run_until(client, sink, lambda: len(sink.uplinks) == 1)
    assert [device.dev_eui for device in sink.device_lists[0]] == [DEVICE]
    assert sink.locations == {}
    assert sink.uplinks[0].f_cnt == 2
    assert "Skipped a malformed device" in caplog.text
    assert "Skipped malformed coordinates" in caplog.text
    assert "Dropped a malformed stored uplink" in caplog.text


async def test_history_page_within_one_second(server: ScriptedServer, client: OrionClient) -> None:
    """A full page of uplinks in the same second does not make the catch-up loop forever."""
    moment = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    pages = [
        [row(index, moment) for index in range(orion_module.HISTORY_PAGE)],
        [row(orion_module.HISTORY_PAGE, moment + timedelta(seconds=1))],
    ]

    def history(request: dict[str, Any]) -> Reply:
        return answer("get_data_resp", status=1, dataList=pages.pop(0) if pages else [])(request)

    server.handlers["get_data_req"] = history
    sink = RecordingSink()
    sink.resume = moment
    await run_until(client, sink, lambda: len(sink.uplinks) == orion_module.HISTORY_PAGE + 1)
    froms = [
        request["date_from"] for request in server.requests if request["cmd"] == "get_data_req"
    ]
    assert froms[1] == (moment + timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S+0000")


async def test_downlink_without_data_id(server: ScriptedServer, client: OrionClient) -> None:
    """An answer without dataId is a protocol error, not a silent success."""
    server.handlers["downlink_data_req"] = answer("downlink_data_resp", status=1)
    sink = RecordingSink()
    task = asyncio.create_task(client.run(sink))
    try:
        await sink.wait_for(lambda: sink.up)
        with pytest.raises(ProtocolError, match="without dataId"):
            await client.send_downlink(Downlink(dev_eui=DEVICE, f_port=1, payload=b"\x01"))
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_downlink_failure_and_expiry(
    server: ScriptedServer, client: OrionClient, monkeypatch: pytest.MonkeyPatch
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
    sink = RecordingSink()
    task = asyncio.create_task(client.run(sink))
    try:
        await sink.wait_for(lambda: sink.up)
        await client.send_downlink(Downlink(dev_eui=DEVICE, f_port=1, payload=b"\x01"))
        await client.send_downlink(Downlink(dev_eui=DEVICE, f_port=1, payload=b"\x02"))
        await server.push(
            {"cmd": "realtime_data", "devEui": DEVICE, "data": row(3, datetime.now(UTC))}
        )
        await sink.wait_for(lambda: bool(sink.downlink_statuses))
        status = sink.downlink_statuses[0]
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
    assert len(sink.downlink_statuses) == 1


async def test_device_class_of_other_device(server: ScriptedServer, client: OrionClient) -> None:
    """A class answer that does not list the asked device means unknown."""
    server.handlers["dev_lw_class_req"] = answer(
        "dev_lw_class_resp", status=1, deviceList=[{"devEui": "70B3D57ED0000009", "lwClass": 2}]
    )
    server.handlers["max_dl_data_req"] = answer("max_dl_data_resp", status=1, devList=[])
    sink = RecordingSink()
    task = asyncio.create_task(client.run(sink))
    try:
        await sink.wait_for(lambda: sink.up)
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


async def test_request_on_closed_connection(server: ScriptedServer, client: OrionClient) -> None:
    """A request on a connection that closed fails at once."""
    sink = RecordingSink()
    task = asyncio.create_task(client.run(sink))
    try:
        await sink.wait_for(lambda: sink.up)
        conn = client._live
        assert conn is not None
        for ws in server.sockets:
            await ws.close()
        await sink.wait_for(lambda: not sink.up)
        with pytest.raises(CannotConnect, match="closed"):
            await client._request(conn, {"cmd": "ping_req"})
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_unexpected_error_is_retried(
    server: ScriptedServer,
    client: OrionClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug while setting up a connection is logged and the connection retried, not lost."""
    sink = RecordingSink()
    failures = iter([RuntimeError("bug")])

    def devices_listed(devices: Any) -> None:
        if (error := next(failures, None)) is not None:
            raise error
        RecordingSink.devices_listed(sink, devices)

    monkeypatch.setattr(sink, "devices_listed", devices_listed)
    await run_until(client, sink, lambda: len(sink.device_lists) == 1)
    assert (False, "unexpected error") in sink.connections
    assert "Unexpected error in the connection" in caplog.text
