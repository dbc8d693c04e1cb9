"""A scripted OrionM2M WebSocket server for the client tests: it answers what a test gives it."""

from __future__ import annotations

from collections.abc import Callable
import json
from typing import Any

import aiohttp
from aiohttp import web

type Reply = dict[str, Any] | str | bytes | None
type Answer = Callable[[dict[str, Any]], Reply]
type Handler = Callable[[dict[str, Any]], Reply | list[Reply]]


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
        self.queries: list[dict[str, str]] = []
        """The query of each connection's URL."""
        self.sockets: list[web.WebSocketResponse] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.queries.append(dict(request.query))
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
