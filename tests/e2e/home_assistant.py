"""
A real Home Assistant process for end-to-end tests, driven over its HTTP and WebSocket APIs.

The process runs the release the project targets (``.venv-develop``: Home Assistant 2026.11 with
its LoRaWAN framework), with LoRaWAN Hub linked into a fresh configuration directory. Everything
the tests do goes through the APIs the web UI uses: onboarding, config flows, the entity states,
the WebSocket commands.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
import json
import os
from pathlib import Path
import signal
import socket
import subprocess
import time
from typing import Any, Final
import urllib.error
import urllib.parse
import urllib.request

import aiohttp

ROOT: Final = Path(__file__).resolve().parents[2]
VENV: Final = ROOT / ".venv-develop"
HASS: Final = VENV / "bin" / "hass"
DOMAIN: Final = "lorawan_hub"
USERNAME: Final = "e2e"
PASSWORD: Final = "e2e-password"
STARTUP_TIMEOUT: Final = 180.0

type JSONObject = dict[str, Any]

CONFIGURATION: Final = """\
homeassistant:
  name: End to end
  country: NL
  time_zone: UTC
  unit_system: metric
logger:
  default: warning
  logs:
    custom_components.lorawan_hub: debug
    homeassistant.components.lorawan: debug
    homeassistant.setup: info
"""


class HomeAssistantError(Exception):
    """The instance failed to start or answered unexpectedly."""


def free_port() -> int:
    """Return a TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed_http_store(config: Path, port: int) -> None:
    """
    Store confirmed HTTP settings (127.0.0.1 and ``port``) before the first start.

    A YAML ``http:`` block would become a pending trial that Home Assistant reverts (and restarts
    for) after five minutes; settings in the stable slot are simply used.
    """
    stable = {
        "server_host": ["127.0.0.1"],
        "server_port": port,
        "cors_allowed_origins": [],
        "login_attempts_threshold": -1,
        "ip_ban_enabled": False,
        "ssl_profile": "modern",
        "use_x_frame_options": True,
        "created_at": datetime.now(UTC).isoformat(),
        "error": None,
        "error_message": None,
    }
    store = {
        "version": 2,
        "minor_version": 2,
        "key": "http",
        "data": {"stable": stable, "pending": None, "yaml_migration_done": True},
    }
    (config / ".storage").mkdir(parents=True, exist_ok=True)
    (config / ".storage" / "http").write_text(json.dumps(store))


@dataclass
class HomeAssistantProcess:
    """One Home Assistant process with LoRaWAN Hub, onboarded, and an access token."""

    config: Path
    port: int = field(default_factory=free_port)
    token: str = ""
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        """Return the path of the process's console output."""
        return self.config / "console.log"

    def start(self) -> None:
        """Prepare the configuration directory, start the process and onboard the owner."""
        if not HASS.exists():
            raise HomeAssistantError(
                f"{HASS} is missing: scripts/setup installs the Home Assistant release the "
                "end-to-end tests run"
            )
        (self.config / "custom_components").mkdir(parents=True, exist_ok=True)
        link = self.config / "custom_components" / DOMAIN
        if not link.exists():
            link.symlink_to(ROOT / "custom_components" / DOMAIN)
        (self.config / "configuration.yaml").write_text(CONFIGURATION)
        seed_http_store(self.config, self.port)
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(  # noqa: S603 - our own venv's hass
                [str(HASS), "--config", str(self.config), "--log-no-color", "--skip-pip"],
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self._wait_until_answering()
        self.token = self._onboard()

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 30 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def tail(self, lines: int = 60) -> str:
        """Return the end of the console output, for failure messages."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no output)"

    # --- start-up, with the standard library only (no event loop yet) -------------------------

    def _request(
        self, method: str, path: str, body: Mapping[str, Any] | None = None, *, form: bool = False
    ) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None and form:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(  # noqa: S310 - the local instance
            self.url + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                raw = answer.read()
                status = answer.status
        except urllib.error.HTTPError as err:
            raw = err.read()
            status = err.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise HomeAssistantError(f"Home Assistant exited at start-up:\n{self.tail()}")
            with contextlib.suppress(OSError):
                status, _ = self._request("GET", "/api/onboarding")
                if status == 200:
                    return
            if time.monotonic() > deadline:
                raise HomeAssistantError(f"Home Assistant did not answer:\n{self.tail()}")
            time.sleep(0.25)

    def _onboard(self) -> str:
        client_id = f"{self.url}/"
        status, created = self._request(
            "POST",
            "/api/onboarding/users",
            {
                "client_id": client_id,
                "name": "End to end",
                "username": USERNAME,
                "password": PASSWORD,
                "language": "en",
            },
        )
        if status != 200:
            raise HomeAssistantError(f"onboarding refused the owner: {status} {created}")
        status, tokens = self._request(
            "POST",
            "/auth/token",
            {
                "grant_type": "authorization_code",
                "code": created["auth_code"],
                "client_id": client_id,
            },
            form=True,
        )
        if status != 200:
            raise HomeAssistantError(f"no access token: {status} {tokens}")
        self.token = str(tokens["access_token"])
        for step, body in (
            ("core_config", {}),
            ("analytics", {}),
            (
                "integration",
                {"client_id": client_id, "redirect_uri": f"{self.url}/?auth_callback=1"},
            ),
        ):
            status, answer = self._request("POST", f"/api/onboarding/{step}", body)
            if status != 200:
                raise HomeAssistantError(f"onboarding step {step} failed: {status} {answer}")
        return self.token


class Api:
    """Home Assistant's HTTP and WebSocket APIs, as the web UI uses them (one aiohttp session)."""

    def __init__(self, instance: HomeAssistantProcess, session: aiohttp.ClientSession) -> None:
        """Talk to ``instance`` with its owner's token."""
        self.instance = instance
        self.session = session
        self._headers = {"Authorization": f"Bearer {instance.token}"}

    async def get(self, path: str) -> Any:
        """GET a JSON document; any status but 200 fails."""
        async with self.session.get(self.instance.url + path, headers=self._headers) as answer:
            if answer.status != 200:
                raise HomeAssistantError(f"GET {path}: {answer.status} {await answer.text()}")
            return await answer.json()

    async def post(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """POST a JSON body; any status but 200 fails."""
        async with self.session.post(
            self.instance.url + path, json=body or {}, headers=self._headers
        ) as answer:
            if answer.status != 200:
                raise HomeAssistantError(f"POST {path}: {answer.status} {await answer.text()}")
            return await answer.json()

    async def state(self, entity_id: str) -> JSONObject | None:
        """Return an entity's state object, None when it does not exist."""
        async with self.session.get(
            f"{self.instance.url}/api/states/{entity_id}", headers=self._headers
        ) as answer:
            if answer.status == 404:
                return None
            if answer.status != 200:
                raise HomeAssistantError(f"state of {entity_id}: {answer.status}")
            result: JSONObject = await answer.json()
            return result

    async def config_flow(
        self, handler: str, answers: Mapping[str, Mapping[str, Any]]
    ) -> JSONObject:
        """
        Walk a config flow the way the UI dialog does, answering each step from ``answers``.

        Returns the last result (an entry created, or an abort).
        """
        result: JSONObject = await self.post(
            "/api/config/config_entries/flow", {"handler": handler, "show_advanced_options": False}
        )
        return await self.continue_flow(result, answers)

    async def continue_flow(
        self, result: JSONObject, answers: Mapping[str, Mapping[str, Any]]
    ) -> JSONObject:
        """Answer the steps of a started flow until it ends; a step without answer fails."""
        seen: set[str] = set()
        while result.get("type") in ("form", "menu"):
            step = str(result["step_id"])
            if step in seen:
                raise HomeAssistantError(f"step {step} asked again: {result.get('errors')}")
            if step not in answers:
                raise HomeAssistantError(f"no answer for step {step}: {result}")
            seen.add(step)
            result = await self.post(
                f"/api/config/config_entries/flow/{result['flow_id']}", answers[step]
            )
        return result

    async def wait_for(
        self, condition: Any, what: str, timeout: float = 30.0, interval: float = 0.2
    ) -> Any:
        """Call the coroutine function ``condition`` until it returns something true."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if value := await condition():
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise HomeAssistantError(
                    f"timed out waiting for {what}\n--- Home Assistant:\n{self.instance.tail()}"
                )
            await asyncio.sleep(interval)

    @contextlib.asynccontextmanager
    async def websocket(self) -> AsyncIterator[WebSocket]:
        """Open an authenticated WebSocket connection."""
        async with self.session.ws_connect(f"{self.instance.url}/api/websocket") as ws:
            hello = await ws.receive_json(timeout=30)
            if hello.get("type") != "auth_required":
                raise HomeAssistantError(f"unexpected first message {hello}")
            await ws.send_json({"type": "auth", "access_token": self.instance.token})
            answer = await ws.receive_json(timeout=30)
            if answer.get("type") != "auth_ok":
                raise HomeAssistantError(f"WebSocket authentication failed: {answer}")
            client = WebSocket(ws)
            try:
                yield client
            finally:
                await client.close()


class WebSocket:
    """Commands and subscriptions over one WebSocket connection."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Use the authenticated ``ws``."""
        self._ws = ws
        self._next = 1
        self._events: dict[int, asyncio.Queue[Any]] = {}
        self._results: dict[int, asyncio.Future[Any]] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            for item in data if isinstance(data := json.loads(message.data), list) else [data]:
                ident = item.get("id")
                if item.get("type") == "result" and ident in self._results:
                    future = self._results.pop(ident)
                    if not future.done():
                        future.set_result(item)
                elif item.get("type") == "event" and ident in self._events:
                    self._events[ident].put_nowait(item["event"])

    async def call(self, message_type: str, **fields: Any) -> Any:
        """Send a command and return its result; an error result fails."""
        ident = self._next
        self._next += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._results[ident] = future
        await self._ws.send_json({"id": ident, "type": message_type, **fields})
        answer = await asyncio.wait_for(future, 30)
        if not answer.get("success"):
            raise HomeAssistantError(f"{message_type} failed: {answer.get('error')}")
        return answer.get("result")

    async def subscribe(self, message_type: str, **fields: Any) -> asyncio.Queue[Any]:
        """Start a subscription; its events arrive in the returned queue."""
        ident = self._next
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._events[ident] = queue
        self._next += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._results[ident] = future
        await self._ws.send_json({"id": ident, "type": message_type, **fields})
        answer = await asyncio.wait_for(future, 30)
        if not answer.get("success"):
            raise HomeAssistantError(f"{message_type} failed: {answer.get('error')}")
        return queue

    async def close(self) -> None:
        """Stop reading."""
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
