"""A small HTTP server wrapper shared by every vendor simulator."""

from __future__ import annotations

from abc import ABC, abstractmethod
import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Self

from aiohttp import ClientSession, web

LOCALHOST = "127.0.0.1"


class StartStop(ABC):
    """Something started and stopped, usable as ``async with``."""

    @abstractmethod
    async def start(self) -> None:
        """Start."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop."""

    async def __aenter__(self) -> Self:
        """Start."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop."""
        await self.stop()


class SimulatorServer(StartStop):
    """
    Serve an aiohttp application on 127.0.0.1.

    Port 0 (the default) binds a free port chosen by the operating system;
    ``port`` tells which one once the server has started. A server that is
    stopped and started again binds the same port, so clients can reconnect
    to the address they knew.
    """

    def __init__(
        self, app: web.Application, *, port: int = 0, shutdown_timeout: float = 5.0
    ) -> None:
        """Prepare to serve ``app`` on ``port`` (0: any free port)."""
        self.app = app
        self.host = LOCALHOST
        self._requested_port = port
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def started(self) -> bool:
        """Whether the server is listening."""
        return self._runner is not None

    @property
    def port(self) -> int:
        """The TCP port the server listens (or, once stopped, listened) on."""
        if self._port is None:
            raise RuntimeError("the server has not been started")
        return self._port

    @property
    def base_url(self) -> str:
        """The server's HTTP root, e.g. ``http://127.0.0.1:8765``."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Bind the port and start serving."""
        if self._runner is not None:
            raise RuntimeError("the server is already started")
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=self._shutdown_timeout)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = self._requested_port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop serving and release the port; does nothing when not started."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


class PushingServer(SimulatorServer):
    """A simulator that also pushes to HTTP URLs and lets tests wait for what it did."""

    def __init__(
        self, app: web.Application, *, port: int = 0, shutdown_timeout: float = 5.0
    ) -> None:
        """Prepare; the HTTP session for the pushes opens with ``start``."""
        super().__init__(app, port=port, shutdown_timeout=shutdown_timeout)
        self._session: ClientSession | None = None
        self._wakeup = asyncio.Event()

    async def start(self) -> None:
        """Serve, with an HTTP session for the pushes."""
        self._session = ClientSession()
        await super().start()

    async def stop(self) -> None:
        """Stop serving and close the session."""
        await super().stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _notify(self) -> None:
        """Wake whoever waits for something the simulator did."""
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate`` holds (callers bound the wait)."""
        while not predicate():
            await self._wakeup.wait()
