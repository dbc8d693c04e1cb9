"""
Requests over the push channel (the WebSocket or MQTT): downlinks and multicasts.

Each request carries a tag of its own; its answer (on ``payloads_dl`` or ``multicast``), or an
``error``, comes back with that tag. Requests go one at a time, so an error without a tag (a
request the server could not read) answers the one request waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
import itertools
import secrets
from typing import Any

import aiohttp

from ..errors import CannotConnect, LnsError

type Sender = Callable[[Mapping[str, Any]], Awaitable[None]]


class Channel:
    """The requests sent over the push channel, waiting for their answers."""

    def __init__(self, host: str, timeout: float) -> None:
        """Wait ``timeout`` seconds for an answer from ``host``."""
        self._host = host
        self._timeout = timeout
        self._tags = itertools.count(1)
        self._tag_prefix = f"lorawan-hub-{secrets.token_hex(4)}"
        self._pending: dict[str, asyncio.Future[Mapping[str, Any]]] = {}
        self._send: Sender | None = None

    def set_sender(self, send: Sender | None) -> None:
        """Send with ``send`` (None: the channel is down, the requests waiting fail)."""
        self._send = send
        if send is None:
            self._fail(CannotConnect("the connection closed"))

    async def request(self, topic: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """Send a request on ``topic`` and return its answer."""
        send = self._send
        if send is None:
            raise CannotConnect(f"not connected to {self._host}")
        tag = f"{self._tag_prefix}-{next(self._tags)}"
        future: asyncio.Future[Mapping[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[tag] = future
        try:
            await send({topic: {**body, "tag": tag}})
            async with asyncio.timeout(self._timeout):
                return await future
        except TimeoutError:
            raise CannotConnect(f"{self._host} did not answer the {topic}") from None
        except (aiohttp.ClientError, ConnectionError) as err:
            raise CannotConnect(
                f"the connection to {self._host} closed: {type(err).__name__}"
            ) from None
        finally:
            self._pending.pop(tag, None)

    def awaits(self, tag: object) -> bool:
        """Whether a push with this tag answers a request."""
        return tag is not None and str(tag) in self._pending

    def answered(self, tag: object, answer: Mapping[str, Any]) -> bool:
        """Hand an answer to the request of this tag; False when no request has that tag."""
        future = self._pending.pop(str(tag), None) if tag is not None else None
        if future is None:
            return False
        if not future.done():
            future.set_result(answer)
        return True

    def refused(self, tag: object, error: LnsError) -> None:
        """Fail the request of this tag (without a tag: the one request waiting)."""
        future = self._pending.pop(str(tag), None) if tag is not None else None
        if tag is None and len(self._pending) == 1:
            ((_tag, future),) = self._pending.items()
            self._pending.clear()
        if future is not None and not future.done():
            future.set_exception(error)

    def _fail(self, error: LnsError) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)
