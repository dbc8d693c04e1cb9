"""
One OrionM2M WebSocket and the requests waiting on it.

Requests (``*_req``) are answered by ``*_resp`` frames, matched by ``operation_id`` where the
server echoes it and otherwise in order: the oldest request of the command. Some commands are
answered twice, an acknowledgement and then the result; the wait for the result starts again at
the acknowledgement. A frame that refuses a request without naming its command (3.23) fails the
request it names by ``operation_id``, else the oldest one waiting.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterator, Mapping
import contextlib
from dataclasses import dataclass
import json
from typing import Any, Final

import aiohttp
import orjson

from .errors import CannotConnect, ProtocolError
from .orion_messages import raise_for_status
from .parse import as_dict

OPERATION_PREFIX: Final = "lh"
"""Our operation ids start with it: an answer echoing one no longer waited for answers nothing."""
ERROR_FRAMES: Final = {
    "json_parse_error": "protocol_error",
    "invalid_req": "protocol_error",
    "invalid_command_req": "unknown_command",
}
"""The frames that refuse a request without naming its command (3.23), and their error key."""


def _response_cmd(cmd: str) -> str:
    return (cmd.removesuffix("_req")) + "_resp"


@dataclass
class _Waiter:
    """A request waiting for its answer."""

    future: asyncio.Future[dict[str, Any]]
    response_cmd: str
    final: Callable[[Mapping[str, Any]], bool] | None = None
    """For a command answered in two frames: whether a frame is the second one."""
    interim: dict[str, Any] | None = None
    deadline: asyncio.Timeout | None = None


class Connection:
    """One open WebSocket and the requests waiting for an answer on it."""

    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        *,
        host: str,
        request_timeout: float,
        operation_ids: Iterator[int],
    ) -> None:
        """Send requests over ``ws`` with ids from ``operation_ids``, answers due in time."""
        self.ws = ws
        self.closed = False
        """Lost, or announced closed by the server: no request is sent any more."""
        self._host = host
        self._request_timeout = request_timeout
        self._operation_ids = operation_ids
        self._by_operation: dict[str, _Waiter] = {}
        self._by_cmd: dict[str, deque[_Waiter]] = {}
        self._order: deque[_Waiter] = deque()

    async def receive_json(self) -> dict[str, Any]:
        """Read the next frame, a JSON object (the greeting, before anything is requested)."""
        message = await self.ws.receive()
        if message.type is not aiohttp.WSMsgType.TEXT:
            raise CannotConnect(f"{self._host} closed the connection")
        try:
            decoded = orjson.loads(message.data)
        except orjson.JSONDecodeError:
            raise ProtocolError(f"{self._host} sent a frame that is not JSON") from None
        return dict(as_dict(decoded, "frame"))

    async def request(
        self,
        request: dict[str, Any],
        *,
        operation_id: bool = True,
        final: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """
        Send a request and return its response; raise the documented error for status 2.

        ``final`` tells the answer from an acknowledgement that announces it; the wait starts
        again at each acknowledgement.
        """
        if self.closed:
            raise CannotConnect(f"the connection to {self._host} is closed")
        cmd = request["cmd"]
        waiter = _Waiter(asyncio.get_running_loop().create_future(), _response_cmd(cmd), final)
        op_id = None
        if operation_id:
            op_id = f"{OPERATION_PREFIX}{next(self._operation_ids)}"
            request = {**request, "operation_id": op_id}
            self._by_operation[op_id] = waiter
        self._by_cmd.setdefault(waiter.response_cmd, deque()).append(waiter)
        self._order.append(waiter)
        try:
            await self.ws.send_str(json.dumps(request))
            async with asyncio.timeout(self._request_timeout) as deadline:
                waiter.deadline = deadline
                response = await waiter.future
        except TimeoutError:
            if waiter.interim is not None:
                raise CannotConnect(f"{self._host} accepted {cmd} but sent no result") from None
            raise CannotConnect(f"{self._host} did not answer {cmd}") from None
        except (aiohttp.ClientError, ConnectionError) as err:
            raise CannotConnect(f"lost {self._host} during {cmd}: {type(err).__name__}") from None
        finally:
            waiter.deadline = None
            if op_id is not None:
                self._by_operation.pop(op_id, None)
            with contextlib.suppress(ValueError):
                self._by_cmd[waiter.response_cmd].remove(waiter)
            with contextlib.suppress(ValueError):
                self._order.remove(waiter)
        raise_for_status(response)
        return response

    def _waiter_for(self, message: Mapping[str, Any], response_cmd: str | None) -> _Waiter | None:
        """
        Return the request a frame answers: by ``operation_id``, else the oldest of its command.

        ``response_cmd`` None: a frame naming no command answers the oldest request. A frame
        echoing one of our operation ids that no longer waits answers a request given up: none.
        """
        op_id = message.get("operation_id")
        if isinstance(op_id, str) and op_id:
            waiter = self._by_operation.get(op_id)
            if waiter is not None and not waiter.future.done():
                return waiter
            if op_id.startswith(OPERATION_PREFIX):
                return None
        waiting = self._order if response_cmd is None else self._by_cmd.get(response_cmd, ())
        return next((item for item in waiting if not item.future.done()), None)

    def answer(self, message: dict[str, Any]) -> bool:
        """Hand a frame to the request it answers or refuses; False when it answers none."""
        cmd = message.get("cmd")
        if isinstance(cmd, str) and cmd in ERROR_FRAMES:
            if (refused := self._waiter_for(message, None)) is not None:
                refused.future.set_exception(
                    ProtocolError(f"the server answered {cmd}", key=ERROR_FRAMES[cmd])
                )
            return True
        waiter = self._waiter_for(message, str(cmd))
        if waiter is None:
            return False
        if waiter.final is not None and not waiter.final(message):
            waiter.interim = message
            if waiter.deadline is not None:
                waiter.deadline.reschedule(
                    asyncio.get_running_loop().time() + self._request_timeout
                )
            return True
        waiter.future.set_result(message)
        return True

    def fail_all(self) -> None:
        """Close the connection for requests: every request waiting fails."""
        self.closed = True
        for waiter in self._order:
            if not waiter.future.done():
                waiter.future.set_exception(CannotConnect(f"lost the connection to {self._host}"))
