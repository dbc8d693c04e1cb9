"""
OrbiWAN pushes over the WebSocket (``/websocket/connect``): JSON text frames both ways.

Downlinks and multicasts go over the same connection; their answers come back on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import contextlib
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from ..base import Sink
from ..errors import AuthError, CannotConnect
from .parse import SUBSCRIPTION
from .rest import OrbiWiseRest

if TYPE_CHECKING:
    from .client import OrbiWiseClient


async def open_websocket(
    session: aiohttp.ClientSession, rest: OrbiWiseRest, heartbeat: float
) -> aiohttp.ClientWebSocketResponse:
    """Open the WebSocket with the REST API's credentials (renewed once when refused)."""
    url = rest.url("websocket/connect").with_query(push_subscription=SUBSCRIPTION)
    credentials = await rest.authorize()
    renewed = False
    while True:
        try:
            return await session.ws_connect(
                url,
                headers=credentials.headers,
                heartbeat=heartbeat,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
            )
        except aiohttp.WSServerHandshakeError as err:
            if err.status == 401 and not renewed:
                renewed = True
                credentials = await rest.renew(credentials)
                continue
            if err.status in (401, 403):
                raise AuthError(f"WebSocket refused with HTTP {err.status}") from None
            raise CannotConnect(f"WebSocket refused with HTTP {err.status}") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise CannotConnect(f"cannot reach {rest.host}: {type(err).__name__}") from None


async def run_websocket(
    client: OrbiWiseClient, sink: Sink, ws: aiohttp.ClientWebSocketResponse
) -> str:
    """Catch up, then receive pushes until the WebSocket closes; return why it closed."""

    async def send(message: Mapping[str, Any]) -> None:
        # The document's messages are JSON text: text frames (binary ones are read too).
        await ws.send_str(orjson.dumps(message).decode())

    client.set_sender(send)
    try:
        reader = asyncio.create_task(_read(client, ws), name="orbiwise websocket")
        try:
            await client.connected(sink)
            return await reader
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    finally:
        client.set_sender(None)
        await ws.close()


async def _read(client: OrbiWiseClient, ws: aiohttp.ClientWebSocketResponse) -> str:
    async for message in ws:
        if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            client.receive(message.data)
        elif message.type is aiohttp.WSMsgType.ERROR:
            return f"WebSocket error: {type(message.data).__name__}"
    return "the server closed the WebSocket"
