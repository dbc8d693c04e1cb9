"""
A real Home Assistant process, driven over its HTTP and WebSocket APIs as the web UI does.

Used by the end-to-end tests (a fresh instance per test module) and by ``scripts/develop`` (the
demo instance). The process runs the release ``.venv-develop`` holds (the current one, with its
LoRaWAN framework), with LoRaWAN Hub linked into the configuration directory. Everything goes
through the APIs the web UI uses: onboarding, login, config flows, states, WebSocket commands.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
import json
import os
from pathlib import Path
import signal
import socket
import subprocess
from typing import Any, Final

import aiohttp

ROOT: Final = Path(__file__).resolve().parents[2]
VENV: Final = ROOT / ".venv-develop"
HASS: Final = VENV / "bin" / "hass"
DOMAIN: Final = "lorawan_hub"
ONBOARDING_STEPS: Final = ("user", "core_config", "analytics", "integration")
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
    """The instance failed to start or answered unexpectedly; the message says what to do."""


def free_port() -> int:
    """Return a TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed_http_store(config: Path, host: str, port: int) -> bool:
    """
    Store confirmed HTTP settings before the first start; False when settings exist already.

    A YAML ``http:`` block would become a pending trial that Home Assistant reverts (and restarts
    for) after five minutes; settings in the stable slot are simply used. The store is written
    in the format of 2026.10, which later releases migrate.
    """
    path = config / ".storage" / "http"
    if path.exists():
        return False
    stable = {
        "server_host": [host],
        "server_port": port,
        "cors_allowed_origins": ["https://cast.home-assistant.io"],
        "login_attempts_threshold": -1,
        "ip_ban_enabled": True,
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
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name("http.partial")
    partial.write_text(json.dumps(store, indent=2) + "\n")
    partial.chmod(0o600)
    partial.replace(path)
    return True


def link_integration(config: Path) -> None:
    """Make LoRaWAN Hub one of the instance's custom integrations (a link to this checkout)."""
    folder = config / "custom_components"
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / DOMAIN
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(ROOT / "custom_components" / DOMAIN)


class Api:
    """Home Assistant's HTTP and WebSocket APIs over one aiohttp session."""

    def __init__(self, url: str, session: aiohttp.ClientSession, token: str = "") -> None:
        """Talk to the instance at ``url`` (``http://host:port``), with ``token`` if given."""
        self.url = url.rstrip("/")
        self.session = session
        self.token = token
        self.describe_failure: Callable[[], str] = lambda: ""
        """What to add to a failure message (the end of the instance's log, say)."""

    @property
    def client_id(self) -> str:
        """Return the OAuth client id the web UI uses: the instance's own URL."""
        return f"{self.url}/"

    @property
    def redirect_uri(self) -> str:
        """Return the redirect URI the web UI uses after logging in."""
        return f"{self.url}/?auth_callback=1"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def request(
        self, method: str, path: str, body: Mapping[str, Any] | None = None, *, form: bool = False
    ) -> tuple[int, Any]:
        """Send one request; return the status and the decoded body (errors are returned)."""
        kwargs: dict[str, Any] = {"data": dict(body)} if form and body is not None else {}
        if not form and body is not None:
            kwargs["json"] = body
        async with self.session.request(
            method,
            self.url + path,
            headers=self._headers(),
            timeout=aiohttp.ClientTimeout(total=30),
            **kwargs,
        ) as answer:
            text = await answer.text()
            try:
                return answer.status, json.loads(text)
            except ValueError:
                return answer.status, text.strip() or None

    async def get(self, path: str) -> Any:
        """GET a JSON document; any status but 200 fails."""
        status, data = await self.request("GET", path)
        if status != 200:
            raise HomeAssistantError(f"GET {path}: HTTP {status} {data}")
        return data

    async def post(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """POST a JSON body; any status but 200 fails."""
        status, data = await self.request("POST", path, body or {})
        if status != 200:
            raise HomeAssistantError(f"POST {path}: HTTP {status} {data}")
        return data

    async def delete(self, path: str) -> Any:
        """DELETE a resource; any status but 200 fails."""
        status, data = await self.request("DELETE", path)
        if status != 200:
            raise HomeAssistantError(f"DELETE {path}: HTTP {status} {data}")
        return data

    async def state(self, entity_id: str) -> JSONObject | None:
        """Return an entity's state object, None when it does not exist."""
        status, data = await self.request("GET", f"/api/states/{entity_id}")
        if status == 404:
            return None
        if status != 200 or not isinstance(data, dict):
            raise HomeAssistantError(f"state of {entity_id}: HTTP {status} {data}")
        return data

    # --- start-up, onboarding, login ----------------------------------------------------------

    async def wait_until_answering(
        self, timeout: float = STARTUP_TIMEOUT, alive: Callable[[], str | None] = lambda: None
    ) -> set[str]:
        """
        Wait until the HTTP API answers; return the onboarding steps done.

        ``alive`` returns why waiting is pointless (a process that exited), or None.
        """
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                status, data = await self.request("GET", "/api/onboarding")
                if status == 200 and isinstance(data, list):
                    return {str(step["step"]) for step in data if step.get("done")}
                if status == 404:
                    # Once onboarding is complete its views are gone; the UI reads 404 so too.
                    return set(ONBOARDING_STEPS)
            if (problem := alive()) is not None:
                raise HomeAssistantError(problem)
            if asyncio.get_running_loop().time() > deadline:
                raise HomeAssistantError(f"Home Assistant did not answer within {timeout:.0f} s")
            await asyncio.sleep(0.25)

    async def onboard(
        self, username: str, password: str, done: set[str], country: str | None = None
    ) -> list[str]:
        """
        Create the owner (or log in as it), take a token, and finish onboarding.

        ``country`` is stored before the location step, as the UI's location step does (else
        Home Assistant raises a "country not configured" repair). Returns the steps finished.
        """
        code = None
        if "user" not in done:
            code = await self._create_owner(username, password)
        if code is None:
            code = await self._log_in(username, password)
        status, tokens = await self.request(
            "POST",
            "/auth/token",
            {"grant_type": "authorization_code", "code": code, "client_id": self.client_id},
            form=True,
        )
        if status != 200 or not isinstance(tokens, dict):
            raise HomeAssistantError(f"Could not get an access token: HTTP {status} {tokens}")
        self.token = str(tokens["access_token"])
        finished = [] if "user" in done else ["user"]
        for step in ONBOARDING_STEPS[1:]:
            if step in done:
                continue
            body: JSONObject = {}
            if step == "core_config" and country is not None:
                async with self.websocket() as ws:
                    await ws.call("config/core/update", country=country)
            if step == "integration":
                body = {"client_id": self.client_id, "redirect_uri": self.redirect_uri}
            await self.post(f"/api/onboarding/{step}", body)
            finished.append(step)
        return finished

    async def _create_owner(self, username: str, password: str) -> str | None:
        status, data = await self.request(
            "POST",
            "/api/onboarding/users",
            {
                "client_id": self.client_id,
                "name": username.capitalize(),
                "username": username,
                "password": password,
                "language": "en",
            },
        )
        if status == 403:
            return None  # someone else onboarded meanwhile
        if (
            status != 200
            or not isinstance(data, dict)
            or not isinstance(data.get("auth_code"), str)
        ):
            raise HomeAssistantError(f"Onboarding could not create the user: HTTP {status} {data}")
        return str(data["auth_code"])

    async def _log_in(self, username: str, password: str) -> str:
        started = await self.post(
            "/auth/login_flow",
            {
                "client_id": self.client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": self.redirect_uri,
            },
        )
        answer = await self.post(
            f"/auth/login_flow/{started['flow_id']}",
            {"username": username, "password": password, "client_id": self.client_id},
        )
        if answer.get("type") == "create_entry" and isinstance(answer.get("result"), str):
            return str(answer["result"])
        if answer.get("errors"):
            raise HomeAssistantError(
                f"The user {username!r} cannot log in ({answer['errors']}): this instance was "
                "onboarded with another user. Log in with that user, or delete the instance's "
                ".storage folder to start over."
            )
        raise HomeAssistantError(f"Logging in failed: {answer}")

    # --- config flows and entries -------------------------------------------------------------

    async def config_flow(
        self, handler: str, answers: Mapping[str, Mapping[str, Any]]
    ) -> JSONObject:
        """
        Walk a config flow the way the UI dialog does, answering each step from ``answers``.

        Returns the last result (an entry created, or an abort).
        """
        status, result = await self.request(
            "POST",
            "/api/config/config_entries/flow",
            {"handler": handler, "show_advanced_options": False},
        )
        if status == 404:
            raise HomeAssistantError(
                f"Home Assistant offers no config flow for {handler}: is it in "
                "custom_components, with a manifest that has config_flow? Its log says why."
            )
        if status != 200:
            raise HomeAssistantError(f"The {handler} config flow failed: HTTP {status} {result}")
        return await self.continue_flow(result, answers)

    async def continue_flow(
        self,
        result: JSONObject,
        answers: Mapping[str, Mapping[str, Any]],
        path: str = "/api/config/config_entries/flow",
    ) -> JSONObject:
        """
        Answer the steps of a started flow until it ends; a step without answer fails.

        ``path`` is where the flow's steps are posted (an options flow's is
        ``/api/config/config_entries/options/flow``).
        """
        seen: set[str] = set()
        while result.get("type") in ("form", "menu"):
            step = str(result["step_id"])
            if step in seen:
                raise HomeAssistantError(f"step {step} asked again: {result.get('errors')}")
            if step not in answers:
                raise HomeAssistantError(f"no answer for step {step}: {result}")
            seen.add(step)
            result = await self.post(f"{path}/{result['flow_id']}", answers[step])
        return result

    async def options_flow(
        self, entry_id: str, answers: Mapping[str, Mapping[str, Any]]
    ) -> JSONObject:
        """Walk an entry's options flow, answering each step from ``answers``."""
        path = "/api/config/config_entries/options/flow"
        result = await self.post(path, {"handler": entry_id, "show_advanced_options": False})
        return await self.continue_flow(result, answers, path)

    async def entries(self, domain: str = DOMAIN) -> list[JSONObject]:
        """Return the config entries of ``domain``."""
        entries: list[JSONObject] = await self.get(
            f"/api/config/config_entries/entry?domain={domain}"
        )
        return entries

    async def wait_for(
        self, condition: Callable[[], Awaitable[Any]], what: str, timeout: float = 30.0
    ) -> Any:
        """Await ``condition()`` until it returns something true; that is returned."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if value := await condition():
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise HomeAssistantError(f"timed out waiting for {what}\n{self.describe_failure()}")
            await asyncio.sleep(0.2)

    @contextlib.asynccontextmanager
    async def websocket(self) -> AsyncIterator[WebSocket]:
        """Open an authenticated WebSocket connection."""
        async with self.session.ws_connect(f"{self.url}/api/websocket") as ws:
            hello = await ws.receive_json(timeout=30)
            if hello.get("type") != "auth_required":
                raise HomeAssistantError(f"unexpected first WebSocket message {hello}")
            await ws.send_json({"type": "auth", "access_token": self.token})
            answer = await ws.receive_json(timeout=30)
            if answer.get("type") != "auth_ok":
                raise HomeAssistantError(f"WebSocket authentication failed: {answer}")
            client = WebSocket(ws)
            try:
                yield client
            finally:
                await client.close()


class WebSocket:
    """Commands and subscriptions over one authenticated WebSocket connection."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Use ``ws``."""
        self._ws = ws
        self._next = 1
        self._events: dict[int, asyncio.Queue[Any]] = {}
        self._results: dict[int, asyncio.Future[Any]] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            for item in data if isinstance(data, list) else [data]:
                ident = item.get("id")
                if item.get("type") == "result" and ident in self._results:
                    future = self._results.pop(ident)
                    if not future.done():
                        future.set_result(item)
                elif item.get("type") == "event" and ident in self._events:
                    self._events[ident].put_nowait(item["event"])

    async def _send(self, message_type: str, fields: Mapping[str, Any]) -> tuple[int, Any]:
        ident = self._next
        self._next += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._results[ident] = future
        await self._ws.send_json({"id": ident, "type": message_type, **fields})
        answer = await asyncio.wait_for(future, 30)
        if not answer.get("success"):
            raise HomeAssistantError(f"{message_type} failed: {answer.get('error')}")
        return ident, answer.get("result")

    async def call(self, message_type: str, **fields: Any) -> Any:
        """Send a command and return its result; an error result fails."""
        _, result = await self._send(message_type, fields)
        return result

    async def subscribe(self, message_type: str, **fields: Any) -> asyncio.Queue[Any]:
        """Start a subscription; its events arrive in the returned queue."""
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._events[self._next] = queue
        await self._send(message_type, fields)
        return queue

    async def close(self) -> None:
        """Stop reading."""
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@dataclass
class HomeAssistantProcess:
    """A fresh Home Assistant process with LoRaWAN Hub, onboarded (for the end-to-end tests)."""

    config: Path
    port: int = field(default_factory=free_port)
    token: str = ""
    username: str = "e2e"
    password: str = "e2e-password"
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
        link_integration(self.config)
        (self.config / "configuration.yaml").write_text(CONFIGURATION)
        seed_http_store(self.config, "127.0.0.1", self.port)
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(  # noqa: S603 - our own venv's hass
                [str(HASS), "--config", str(self.config), "--log-no-color", "--skip-pip"],
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        asyncio.run(self._onboard())

    async def _onboard(self) -> None:
        async with aiohttp.ClientSession() as session:
            api = self.api(session)
            done = await api.wait_until_answering(alive=self._exited)
            await api.onboard(self.username, self.password, done)
            self.token = api.token

    def _exited(self) -> str | None:
        if self.process is not None and self.process.poll() is not None:
            return f"Home Assistant exited at start-up:\n{self.tail()}"
        return None

    def api(self, session: aiohttp.ClientSession) -> Api:
        """Return the instance's APIs over ``session``, with the owner's token."""
        api = Api(self.url, session, self.token)
        api.describe_failure = lambda: f"--- Home Assistant:\n{self.tail()}"
        return api

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
