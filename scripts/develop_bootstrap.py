"""
Prepare the local demo instance that scripts/develop starts.

Everything goes through Home Assistant's own HTTP and WebSocket APIs, the way the web UI does it, so
the demo ends in the same state a person clicking through the UI would reach. Standard library only:
this runs with the demo venv's interpreter before anything else is known to work.

Subcommands:

``seed-http``
    Write ``.storage/http`` with the HTTP server settings already confirmed, unless it exists.
``setup``
    Wait for Home Assistant, onboard the demo user (or log in as it on later runs), check the
    WebSocket API answers, and add the LoRaWAN Hub config entry unless one exists.
"""

import argparse
import base64
from collections.abc import Iterable, Mapping, Sequence
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
import hashlib
import json
import os
from pathlib import Path
import re
import socket
import struct
import sys
import time
from typing import Any, Final
import urllib.error
import urllib.parse
import urllib.request

DOMAIN: Final = "lorawan_hub"
ONBOARDING_STEPS: Final = ("user", "core_config", "analytics", "integration")
# Home Assistant's HTTP store format (homeassistant/components/http/config.py, 2026.10).
HTTP_STORE_VERSION: Final = 2
HTTP_STORE_MINOR_VERSION: Final = 2
WEBSOCKET_GUID: Final = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
POLL_SECONDS: Final = 1.0

type JSONObject = dict[str, Any]


class BootstrapError(Exception):
    """A setup step failed; the message tells the newcomer what happened and what to do."""


@dataclass(frozen=True, slots=True)
class Response:
    """Status and decoded body of one HTTP exchange."""

    status: int
    data: Any

    def describe(self) -> str:
        """Return the status and body in one line, for error messages."""
        return f"HTTP {self.status}: {json.dumps(self.data) if self.data is not None else '-'}"


# --- HTTP ----------------------------------------------------------------------------------------


class HomeAssistantHTTP:
    """A small JSON client for Home Assistant's HTTP API."""

    def __init__(self, base_url: str) -> None:
        """Talk to the instance at ``base_url`` (``http://host:port``)."""
        self.base_url = base_url.rstrip("/")
        self.access_token: str | None = None

    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        form: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> Response:
        """Send one request; HTTP error statuses are returned, not raised."""
        headers = {"Accept": "application/json"}
        payload: bytes | None = None
        if form is not None:
            payload = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.access_token is not None:
            headers["Authorization"] = f"Bearer {self.access_token}"
        request = urllib.request.Request(  # noqa: S310 - the URL is the local instance's
            self.base_url + path, data=payload, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
                return Response(answer.status, _decode(answer.read()))
        except urllib.error.HTTPError as err:
            return Response(err.code, _decode(err.read()))

    def get(self, path: str) -> Response:
        """Send a GET request."""
        return self.request("GET", path)

    def post(self, path: str, body: Mapping[str, Any] | None = None) -> Response:
        """Send a POST request with a JSON body."""
        return self.request("POST", path, body if body is not None else {})


def _decode(raw: bytes) -> Any:
    """Decode a JSON body, falling back to the plain text."""
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text.strip() or None


# --- WebSocket -----------------------------------------------------------------------------------


class WebSocketClient:
    """A minimal RFC 6455 client for Home Assistant's WebSocket API (text frames, no extensions)."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        """Open the connection and complete the opening handshake."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "ws" or parts.hostname is None:
            raise BootstrapError(f"Only ws:// URLs are supported, not {url}")
        port = parts.port or 80
        self._sock = socket.create_connection((parts.hostname, port), timeout=timeout)
        self._buffer = b""
        self._next_id = 1
        key = base64.b64encode(os.urandom(16)).decode()
        self._sock.sendall(
            (
                f"GET {parts.path or '/'} HTTP/1.1\r\n"
                f"Host: {parts.hostname}:{port}\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        status_line, *header_lines = self._read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        if status_line.split(" ")[1:2] != ["101"]:
            raise BootstrapError(f"WebSocket handshake with {url} failed: {status_line}")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in header_lines)
        }
        accept = hashlib.sha1((key + WEBSOCKET_GUID).encode(), usedforsecurity=False).digest()
        if headers.get("sec-websocket-accept") != base64.b64encode(accept).decode():
            raise BootstrapError(f"WebSocket handshake with {url} returned a wrong accept key")

    def close(self) -> None:
        """Close the connection without waiting for the server."""
        with contextlib.suppress(OSError):
            self._send_frame(0x8, struct.pack("!H", 1000))
        self._sock.close()

    def authenticate(self, access_token: str) -> None:
        """Answer Home Assistant's auth_required message."""
        if (hello := self.receive()).get("type") != "auth_required":
            raise BootstrapError(f"Unexpected first WebSocket message: {hello}")
        self.send({"type": "auth", "access_token": access_token})
        if (answer := self.receive()).get("type") != "auth_ok":
            raise BootstrapError(f"WebSocket authentication failed: {answer}")

    def call(self, message_type: str, **fields: Any) -> Any:
        """Send one command and return its result, raising on an error result."""
        message_id = self._next_id
        self._next_id += 1
        self.send({"id": message_id, "type": message_type, **fields})
        while True:
            answer = self.receive()
            if answer.get("id") != message_id or answer.get("type") != "result":
                continue
            if not answer.get("success"):
                raise BootstrapError(f"WebSocket command {message_type} failed: {answer}")
            return answer.get("result")

    def send(self, message: Mapping[str, Any]) -> None:
        """Send one JSON message as a text frame."""
        self._send_frame(0x1, json.dumps(message).encode())

    def receive(self) -> JSONObject:
        """Return the next JSON message, answering pings on the way."""
        message = b""
        while True:
            first, second = self._read_exact(2)
            opcode = first & 0x0F
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", self._read_exact(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", self._read_exact(8))
            mask = self._read_exact(4) if second & 0x80 else b""
            payload = self._read_exact(length)
            if mask:
                payload = _apply_mask(payload, mask)
            if opcode == 0x8:
                raise BootstrapError("Home Assistant closed the WebSocket connection")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            message += payload
            if first & 0x80:
                decoded = json.loads(message)
                if not isinstance(decoded, dict):
                    raise BootstrapError(f"Unexpected WebSocket message: {decoded}")
                return decoded

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        """Send one final, masked frame (clients must mask)."""
        length = len(payload)
        header = bytearray([0x80 | opcode])
        if length < 126:
            header.append(0x80 | length)
        elif length < 1 << 16:
            header.append(0x80 | 126)
            header += struct.pack("!H", length)
        else:
            header.append(0x80 | 127)
            header += struct.pack("!Q", length)
        mask = os.urandom(4)
        self._sock.sendall(bytes(header) + mask + _apply_mask(payload, mask))

    def _read_until(self, marker: bytes) -> bytes:
        """Read up to and including ``marker``; return what precedes it."""
        while marker not in self._buffer:
            self._fill()
        head, _, self._buffer = self._buffer.partition(marker)
        return head

    def _read_exact(self, count: int) -> bytes:
        """Read exactly ``count`` bytes."""
        while len(self._buffer) < count:
            self._fill()
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def _fill(self) -> None:
        """Append the next chunk from the socket to the buffer."""
        chunk = self._sock.recv(65536)
        if not chunk:
            raise BootstrapError("Home Assistant closed the WebSocket connection")
        self._buffer += chunk


def _apply_mask(payload: bytes, mask: bytes) -> bytes:
    """XOR ``payload`` with the repeated 4-byte ``mask``."""
    key = (mask * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload) ^ int.from_bytes(key)).to_bytes(len(payload))


def say(message: str) -> None:
    """Print a progress line at once (stdout may be a file or a pipe)."""
    print(message, flush=True)


# --- Waiting -------------------------------------------------------------------------------------


def process_alive(pid: int) -> bool:
    """Return whether ``pid`` runs (a zombie that its parent has not reaped yet counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def check_watched(watched: Mapping[str, int]) -> None:
    """Raise if one of the processes the demo depends on has exited."""
    for name, pid in watched.items():
        if not process_alive(pid):
            raise BootstrapError(f"{name} exited (see its log)")


def wait_for_tcp(host: str, port: int, watched: Mapping[str, int], timeout: float) -> None:
    """Wait until something accepts TCP connections on ``host:port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=2):
                return
        except OSError:
            pass
        check_watched(watched)
        if time.monotonic() > deadline:
            raise BootstrapError(f"Nothing answers on {host}:{port} after {timeout:.0f} s")
        time.sleep(POLL_SECONDS)


def wait_for_home_assistant(
    http: HomeAssistantHTTP, watched: Mapping[str, int], timeout: float
) -> set[str]:
    """Wait until the HTTP API answers; return the onboarding steps that are done."""
    started = time.monotonic()
    next_note = started + 30
    while True:
        try:
            answer = http.request("GET", "/api/onboarding", timeout=5)
        except OSError:
            pass
        else:
            if answer.status == 200 and isinstance(answer.data, list):
                return {str(step["step"]) for step in answer.data if step.get("done")}
            if answer.status == 404:
                # Once onboarding is complete, Home Assistant no longer serves its views; the web
                # UI reads a 404 here the same way.
                return set(ONBOARDING_STEPS)
        check_watched(watched)
        now = time.monotonic()
        if now - started > timeout:
            raise BootstrapError(f"Home Assistant did not answer within {timeout:.0f} s")
        if now > next_note:
            say(f"Still waiting for Home Assistant ({now - started:.0f} s)...")
            next_note = now + 30
        time.sleep(POLL_SECONDS)


# --- Onboarding and login ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Demo:
    """What the demo instance is set up with."""

    base_url: str
    username: str
    password: str
    lns_url: str
    app_id: str
    token: str

    @property
    def client_id(self) -> str:
        """Return the OAuth client id the web UI uses: the instance's own URL."""
        return f"{self.base_url}/"

    @property
    def redirect_uri(self) -> str:
        """Return the redirect URI the web UI uses after logging in."""
        return f"{self.base_url}/?auth_callback=1"


def guess_country() -> str:
    """Return the locale's territory as the home country (the UI asks; the demo guesses)."""
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if match := re.match(r"[a-z]{2,3}_([A-Z]{2})\b", os.environ.get(variable, "")):
            return match.group(1)
    return "US"


def exchange_code(http: HomeAssistantHTTP, demo: Demo, code: str) -> str:
    """Trade an authorization code for an access token, as the UI does after login."""
    answer = http.request(
        "POST",
        "/auth/token",
        form={"grant_type": "authorization_code", "code": code, "client_id": demo.client_id},
    )
    if answer.status != 200 or not isinstance(answer.data, dict):
        raise BootstrapError(f"Could not get an access token: {answer.describe()}")
    token = answer.data.get("access_token")
    if not isinstance(token, str):
        raise BootstrapError(f"The token answer has no access token: {answer.describe()}")
    return token


def create_owner(http: HomeAssistantHTTP, demo: Demo) -> str | None:
    """Run onboarding's user step; return the auth code, or None if the step was already done."""
    answer = http.post(
        "/api/onboarding/users",
        {
            "client_id": demo.client_id,
            "name": "Demo",
            "username": demo.username,
            "password": demo.password,
            "language": "en",
        },
    )
    if answer.status == 403:
        return None
    if answer.status != 200 or not isinstance(answer.data, dict):
        raise BootstrapError(f"Onboarding could not create the demo user: {answer.describe()}")
    code = answer.data.get("auth_code")
    if not isinstance(code, str):
        raise BootstrapError(f"Onboarding returned no auth code: {answer.describe()}")
    return code


def log_in(http: HomeAssistantHTTP, demo: Demo) -> str:
    """Log in with the demo user's password through the login flow; return the auth code."""
    started = http.post(
        "/auth/login_flow",
        {
            "client_id": demo.client_id,
            "handler": ["homeassistant", None],
            "redirect_uri": demo.redirect_uri,
        },
    )
    if started.status != 200 or not isinstance(started.data, dict):
        raise BootstrapError(f"Could not start the login flow: {started.describe()}")
    answer = http.post(
        f"/auth/login_flow/{started.data['flow_id']}",
        {"username": demo.username, "password": demo.password, "client_id": demo.client_id},
    )
    if answer.status == 200 and isinstance(answer.data, dict):
        if answer.data.get("type") == "create_entry" and isinstance(answer.data["result"], str):
            return answer.data["result"]
        if answer.data.get("errors"):
            raise BootstrapError(
                f"The demo user {demo.username!r} cannot log in ({answer.data['errors']}): this "
                "instance was onboarded by hand with another user. Log in with that user, or stop "
                "scripts/develop and delete config/.storage to start over."
            )
    raise BootstrapError(f"Logging in failed: {answer.describe()}")


def finish_onboarding(
    http: HomeAssistantHTTP, websocket: WebSocketClient, demo: Demo, done: Iterable[str]
) -> list[str]:
    """Run the onboarding steps after the user step that are not done yet; return their names."""
    finished: list[str] = []
    done = set(done)
    for step in ONBOARDING_STEPS[1:]:
        if step in done:
            continue
        body: JSONObject = {}
        if step == "core_config":
            # The UI's location step stores the home country with this command before it
            # finishes the step; without it Home Assistant raises a "country not configured" repair.
            websocket.call("config/core/update", country=guess_country())
        elif step == "integration":
            body = {"client_id": demo.client_id, "redirect_uri": demo.redirect_uri}
        answer = http.post(f"/api/onboarding/{step}", body)
        if answer.status != 200:
            raise BootstrapError(f"Onboarding step {step} failed: {answer.describe()}")
        finished.append(step)
    return finished


# --- The config entry ----------------------------------------------------------------------------


def existing_entries(http: HomeAssistantHTTP) -> list[JSONObject]:
    """Return the LoRaWAN Hub config entries."""
    answer = http.get(f"/api/config/config_entries/entry?domain={DOMAIN}")
    if answer.status != 200 or not isinstance(answer.data, list):
        raise BootstrapError(f"Could not list config entries: {answer.describe()}")
    return answer.data


def create_entry(http: HomeAssistantHTTP, demo: Demo) -> JSONObject:
    """Walk LoRaWAN Hub's config flow the way the UI dialog does; return the created entry."""
    answers: dict[str, JSONObject] = {
        "user": {"vendor": "orion"},
        "orion": {"url": demo.lns_url, "app_id": demo.app_id, "token": demo.token},
    }
    result = http.post(
        "/api/config/config_entries/flow", {"handler": DOMAIN, "show_advanced_options": False}
    )
    if result.status == 404:
        raise BootstrapError(
            f"Home Assistant does not offer a config flow for {DOMAIN} ({result.describe()}). Is "
            "config/custom_components/lorawan_hub there, with a manifest.json that has "
            '"config_flow": true? The reason is in config/home-assistant.log.'
        )
    answered: set[str] = set()
    while True:
        if result.status != 200 or not isinstance(result.data, dict):
            raise BootstrapError(f"The {DOMAIN} config flow failed: {result.describe()}")
        flow = result.data
        kind = flow.get("type")
        if kind == "create_entry":
            entry = flow.get("result")
            if not isinstance(entry, dict):
                raise BootstrapError(f"The config flow created no entry: {result.describe()}")
            return entry
        if kind == "abort":
            raise BootstrapError(f"The {DOMAIN} config flow aborted: {flow.get('reason')}")
        if kind != "form":
            raise BootstrapError(f"Unexpected {DOMAIN} config flow result: {result.describe()}")
        step = str(flow.get("step_id"))
        fields = [str(field.get("name")) for field in flow.get("data_schema") or []]
        if step in answered:
            raise BootstrapError(
                f"The {DOMAIN} config flow rejected the answers to step {step!r} with errors "
                f"{flow.get('errors')} (fields {fields})"
            )
        if step not in answers:
            raise BootstrapError(
                f"The {DOMAIN} config flow asks for step {step!r} with fields {fields}, which "
                "scripts/develop does not know how to answer"
            )
        answered.add(step)
        result = http.post(f"/api/config/config_entries/flow/{flow['flow_id']}", answers[step])


def wait_for_entry(http: HomeAssistantHTTP, entry_id: str, timeout: float) -> JSONObject:
    """Wait until the entry leaves the not-loaded/setting-up states; return it."""
    deadline = time.monotonic() + timeout
    while True:
        entry = next(
            (item for item in existing_entries(http) if item.get("entry_id") == entry_id), None
        )
        if entry is None:
            raise BootstrapError(f"The new {DOMAIN} entry {entry_id} disappeared")
        if entry.get("state") not in {"not_loaded", "setup_in_progress"}:
            return entry
        if time.monotonic() > deadline:
            return entry
        time.sleep(POLL_SECONDS)


# --- Commands ------------------------------------------------------------------------------------


def seed_http(config_dir: Path, host: str, port: int) -> bool:
    """
    Write ``.storage/http`` with the demo's server settings as confirmed; False if it exists.

    Home Assistant 2026.10 migrates an ``http:`` YAML block into this store as a *pending* trial
    that the user must confirm in the UI within five minutes, or it reverts to the defaults and
    restarts. Settings in the *stable* slot, with the YAML migration marked done, are simply used.
    """
    path = config_dir / ".storage" / "http"
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
        "version": HTTP_STORE_VERSION,
        "minor_version": HTTP_STORE_MINOR_VERSION,
        "key": "http",
        "data": {"stable": stable, "pending": None, "yaml_migration_done": True},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name("http.partial")
    partial.write_text(json.dumps(store, indent=2) + "\n")
    partial.chmod(0o600)
    partial.replace(path)
    return True


def setup(demo: Demo, watched: Mapping[str, int], timeout: float) -> None:
    """Bring the running instance to a logged-in, onboarded state with a LoRaWAN Hub entry."""
    http = HomeAssistantHTTP(demo.base_url)
    started = time.monotonic()
    done = wait_for_home_assistant(http, watched, timeout)
    say(f"Home Assistant answers after {time.monotonic() - started:.0f} s")

    code = None if "user" in done else create_owner(http, demo)
    if code is None:
        code = log_in(http, demo)
    else:
        say(f"Onboarding: created the user {demo.username!r}")
    http.access_token = exchange_code(http, demo, code)

    parts = urllib.parse.urlsplit(demo.base_url)
    websocket = WebSocketClient(f"ws://{parts.netloc}/api/websocket")
    try:
        websocket.authenticate(http.access_token)
        if finished := finish_onboarding(http, websocket, demo, done):
            say(f"Onboarding: finished {', '.join(finished)}")
        # The UI's first calls after login; if these answer, it will not hang on "Loading...".
        services = websocket.call("get_services")
        http_config = websocket.call("http/config")
    finally:
        websocket.close()
    if not isinstance(services, dict) or "homeassistant" not in services:
        raise BootstrapError(f"get_services returned no core services: {services!r}")
    if isinstance(http_config, dict) and http_config.get("pending"):
        say("Warning: Home Assistant has unconfirmed HTTP settings (see Settings > System)")

    if entries := existing_entries(http):
        # Home Assistant answers before it sets up integrations; wait for the entry to load.
        entry = wait_for_entry(http, str(entries[0]["entry_id"]), 120)
        how = "kept"
    else:
        lns = urllib.parse.urlsplit(demo.lns_url)
        wait_for_tcp(lns.hostname or "127.0.0.1", lns.port or 80, watched, timeout)
        entry = wait_for_entry(http, str(create_entry(http, demo)["entry_id"]), 120)
        how = "created"
    state = entry.get("state")
    say(f"LoRaWAN Hub: {how} entry {entry.get('title')!r} ({state})")
    if state != "loaded":
        raise BootstrapError(
            f"The {DOMAIN} entry did not load: {state} {entry.get('reason') or ''}".rstrip()
            + " (see config/home-assistant.log)"
        )


def _watch_pair(value: str) -> tuple[str, int]:
    """Parse one ``NAME=PID`` argument."""
    name, _, pid = value.rpartition("=")
    if not name or not pid.isdigit():
        raise argparse.ArgumentTypeError(f"wants NAME=PID, not {value!r}")
    return name, int(pid)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)

    seed = commands.add_parser("seed-http", help="pre-confirm the HTTP server settings")
    seed.add_argument("--config", type=Path, required=True, help="Home Assistant config dir")
    seed.add_argument("--host", default="127.0.0.1")
    seed.add_argument("--port", type=int, default=8123)

    run = commands.add_parser("setup", help="onboard or log in, then add the LoRaWAN Hub entry")
    run.add_argument("--url", default="http://127.0.0.1:8123", help="Home Assistant base URL")
    run.add_argument("--username", default="demo")
    run.add_argument("--password", default="demo-password")
    run.add_argument("--lns-url", default="ws://127.0.0.1:8765/ws/v2/")
    run.add_argument("--app-id", default="demo-app")
    run.add_argument("--token", default="demo-token")
    run.add_argument("--timeout", type=float, default=600, help="seconds to wait for startup")
    run.add_argument(
        "--watch",
        action="append",
        default=[],
        type=_watch_pair,
        metavar="NAME=PID",
        help="stop waiting and fail if PID exits",
    )

    args = parser.parse_args(argv)
    try:
        if args.command == "seed-http":
            if seed_http(args.config, args.host, args.port):
                say(f"Wrote {args.config / '.storage' / 'http'} ({args.host}:{args.port})")
            return 0
        demo = Demo(
            base_url=args.url.rstrip("/"),
            username=args.username,
            password=args.password,
            lns_url=args.lns_url,
            app_id=args.app_id,
            token=args.token,
        )
        setup(demo, dict(args.watch), args.timeout)
    except BootstrapError as err:
        print(f"scripts/develop: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"scripts/develop: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
