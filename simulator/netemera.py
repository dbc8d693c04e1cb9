"""
A Netemera network server on 127.0.0.1: OAuth 2.0, the API v4 and the SSE uplink stream.

The token endpoint is served at ``/api/v2/oauth2/token`` and the API subset the integration uses
at ``/api/v4`` of the same port. Every uplink published gets an event id; a stream opened with
``Last-Event-ID`` replays everything published after that id, then follows live; one opened with
``filter[since]`` (inclusive), ``filter[until]`` (exclusive) or ``filter[tail]`` replays the
uplinks received in that range, as the document defines them. Keep-alives (``data:`` with
nothing) are sent when there is no traffic. Answers have the shapes of the document's samples:
EUIs in lower case, a bare ``201 Created`` to an end-device update, a bare ``202`` to a downlink,
and ``401`` to an update or downlink that fails validation (the document's "401 Bad Request").

Fault knobs: refuse the credentials, expire every token (and close the streams opened with them),
drop the streams, end every stream as soon as it opens, forget the event ids (a resume by id is
refused), refuse ``filter[since]``, send a malformed event, stall (send nothing, not even
keep-alives), stall before the headers of a stream request, write events in the document's
literal layout (the JSON lines after the first without ``data:``), fail the next API requests
with an HTTP status.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
from collections.abc import Callable, Iterator, Mapping
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
import itertools
import json
import random
import secrets
import time
from typing import Any, Final

from aiohttp import web

from .command import Command, Option, demo_devices, generate_until
from .lpp import DemoPayloads, guess_kind
from .server import SimulatorServer

DEFAULT_CLIENT_ID: Final = "demo-client"
DEFAULT_CLIENT_SECRET: Final = "demo-secret"
DEFAULT_APPLICATION: Final = "demo-application"
TOKEN_PATH: Final = "/api/v2/oauth2/token"
API_PATH: Final = "/api/v4"
JSON_API: Final = "application/vnd.api+json"
MALFORMED_KINDS: Final = ("not_json", "no_dev_eui", "bad_payload", "not_object")

# A profile as the document shows it; the simulator's devices use copies of it.
BASE_PROFILE: Final[dict[str, Any]] = {
    "supportsClassB": False,
    "classBTimeout": None,
    "pingSlotPeriod": None,
    "pingSlotFrequency": None,
    "supportsClassC": False,
    "classCTimeout": None,
    "macVersion": "LW11",
    "regParamsRevision": "RP11B",
    "supportsJoin": True,
    "rxDelay1": 1,
    "rxDrOffset1": 0,
    "rxDataRate2": 0,
    "rxFreq2": 869.525,
    "factoryPresetFreqs": [868.1, 868.3, 868.5],
    "maxEirp": 14,
    "maxDutyCycle": 0.01,
    "rfRegion": "EU868",
    "supports32BitFCnt": None,
}


def _now() -> datetime:
    return datetime.now(UTC)


def event_id(number: int) -> str:
    """Return an event id in the server's style: eight bytes, base64 (``AAABWByxABU=``)."""
    return base64.b64encode(number.to_bytes(8, "big")).decode()


@dataclass
class SimDevice:
    """An end-device of the simulated server."""

    dev_eui: str
    application_id: str
    name: str | None = None
    profile_id: str = "profile-a"
    dev_addr: str | None = None
    kind: str = "sensor"
    f_cnt: int = 0
    app_key: str = field(default_factory=lambda: secrets.token_hex(16).upper())


@dataclass
class Downlink:
    """A downlink the simulator accepted."""

    dev_eui: str
    f_port: int
    confirmed: bool
    payload: bytes


@dataclass
class _Stream:
    """One open uplink stream."""

    application_id: str
    cursor: int
    since: datetime | None = None
    until: datetime | None = None
    closing: bool = False

    def wants(self, when: datetime) -> bool:
        """Whether an uplink received at ``when`` is in the stream's time range."""
        return (self.since is None or when >= self.since) and (
            self.until is None or when < self.until
        )


def _filter_time(value: str | None) -> datetime | None:
    """Read a ``filter[since]``/``filter[until]`` value: ISO 8601, UTC (ValueError if not)."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("not a UTC time")
    return parsed.astimezone(UTC)


class NetemeraSimulator(SimulatorServer):
    """The simulated server, its applications, devices and uplink log."""

    def __init__(
        self,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        port: int = 0,
        token_lifetime: int = 86400,
        keepalive: float = 15.0,
    ) -> None:
        """Prepare a server accepting ``client_id``/``client_secret``; ``start`` serves it."""
        app = web.Application()
        app.router.add_post(TOKEN_PATH, self._token)
        api = web.Application(middlewares=[self._authorize])
        api.router.add_get("/applications", self._applications)
        api.router.add_get("/applications/{app}", self._application)
        api.router.add_get("/applications/{app}/end-devices", self._end_devices)
        api.router.add_get("/end-devices/{eui}", self._end_device)
        api.router.add_patch("/end-devices/{eui}", self._update_end_device)
        api.router.add_get("/end-devices/{eui}/activation", self._activation)
        api.router.add_get("/device-profiles", self._profiles)
        api.router.add_get("/device-profiles/{profile}", self._profile)
        api.router.add_post("/downlink-packets/end-devices/{eui}", self._downlink)
        api.router.add_get("/uplink-packets/applications/{app}", self._uplink_stream)
        app.add_subapp(API_PATH, api)
        super().__init__(app, port=port, shutdown_timeout=0.5)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.keepalive = keepalive
        self.applications: dict[str, str] = {}
        self.devices: dict[str, SimDevice] = {}
        self.profiles: dict[str, dict[str, Any]] = {
            "profile-a": {**BASE_PROFILE, "name": "Sensor class A"}
        }
        self.downlinks: list[Downlink] = []
        self.log: dict[str, list[tuple[str, str, datetime]]] = {}
        """Application → its uplink events, oldest first: (event id, JSON text, recvTime)."""
        self.token_requests: list[str] = []
        """The grant type of every token request."""
        self.requests: list[tuple[str, str]] = []
        """(method, path below /api/v4) of every API request that passed authorization."""
        self.stream_requests: list[str | None] = []
        """The ``Last-Event-ID`` of every stream request."""
        self.stream_queries: list[str] = []
        """The query string of every stream request, as sent."""
        self.patches: list[Any] = []
        """The document of every end-device update received."""
        self.downlink_documents: list[Any] = []
        """The document of every downlink request received."""
        self.events_sent = 0
        """Uplink events written to streams, replays included."""
        self.keepalives_sent = 0
        self.strict_resume = False
        """Answer 400 to a Last-Event-ID the server does not know (instead of going live)."""
        self.expired_ids: set[str] = set()
        """Event ids the server no longer resumes from (answered 400)."""
        self.refuse_since = False
        """Answer 400 to ``filter[since]``."""
        self._stall_headers = False
        self.end_streams_at_once = False
        """Answer stream requests and end the stream at once, before any event."""
        self.literal_layout = False
        """
        Write events as the document's samples print them: the JSON object over several lines,
        ``data:`` before its first line only.
        """
        self._cut_next = False
        self.hidden_profiles: set[str] = set()
        """Profiles left out of the profile list (readable one by one, as another account's)."""
        self.reject_credentials = False
        self.page_size: int | None = None
        """Page the end-device list with JSON:API ``links.next`` when set."""
        self.line_ending = "\n"
        self.chunk_size: int | None = None
        """Write each event in pieces of this many bytes when set (split reads)."""
        self._ids = itertools.count(0x15C1CB10015)
        self._access: dict[str, float] = {}
        """Valid access tokens → expiry (monotonic)."""
        self._refresh: set[str] = set()
        self._streams: list[_Stream] = []
        self._failures: dict[tuple[str | None, str | None], list[int]] = {}
        self._stalled = False
        self._wakeup = asyncio.Event()

    # --------------------------------------------------------------- set-up

    @property
    def api_url(self) -> str:
        """The API base URL clients use (the token's audience)."""
        return f"{self.base_url}{API_PATH}"

    @property
    def token_url(self) -> str:
        """The token endpoint."""
        return f"{self.base_url}{TOKEN_PATH}"

    def add_application(self, application_id: str, name: str | None = None) -> None:
        """Create an application."""
        self.applications[application_id] = name or application_id
        self.log.setdefault(application_id, [])

    def add_device(
        self,
        dev_eui: str,
        application_id: str,
        *,
        name: str | None = None,
        profile_id: str = "profile-a",
        dev_addr: str | None = None,
        kind: str | None = None,
    ) -> SimDevice:
        """Create an end-device in an application."""
        device = SimDevice(
            dev_eui.upper(),
            application_id,
            name=name,
            profile_id=profile_id,
            dev_addr=dev_addr,
            kind=kind or guess_kind(name or ""),
        )
        self.devices[device.dev_eui] = device
        return device

    def add_profile(self, profile_id: str, **attributes: Any) -> None:
        """Create a device profile: ``BASE_PROFILE`` with ``attributes`` changed."""
        self.profiles[profile_id] = {**BASE_PROFILE, **attributes}

    # --------------------------------------------------------------- fault knobs

    def expire_tokens(self) -> None:
        """Make every access token invalid and close the streams opened with one."""
        self._access.clear()
        for stream in self._streams:
            stream.closing = True
        self._notify()

    def expire_event_ids(self) -> None:
        """Forget where every event published so far is: a resume from its id gets 400."""
        for events in self.log.values():
            self.expired_ids.update(identifier for identifier, _text, _when in events)

    def cut_next_event(self) -> None:
        """Write only the first half of the next event, then end its stream."""
        self._cut_next = True

    def forget_refresh_tokens(self) -> None:
        """Refuse every refresh token issued so far (``invalid_grant``)."""
        self._refresh.clear()

    def drop_streams(self) -> None:
        """End every open stream, as a proxy or server restart would."""
        for stream in self._streams:
            stream.closing = True
        self._notify()

    def stall(self, stalled: bool = True) -> None:
        """Stop (or resume) writing to the streams: no events and no keep-alives."""
        self._stalled = stalled
        self._notify()

    def stall_headers(self, stalled: bool = True) -> None:
        """Take stream requests and answer none of them, not even the headers (or answer again)."""
        self._stall_headers = stalled
        self._notify()

    def fail_next(self, *statuses: int, path: str | None = None, method: str | None = None) -> None:
        """
        Answer the next API requests with these statuses.

        Those to ``path`` below /api/v4 (or any path) with ``method`` (or any method).
        """
        self._failures.setdefault((method, path), []).extend(statuses)

    def publish_malformed(self, application_id: str, kind: str = "not_json") -> str:
        """Add a broken event to the application's stream (it has an id); return the id."""
        packet: Any
        if kind == "not_json":
            text = "{not json"
        else:
            packet = self._packet(next(iter(self.devices.values())), b"\x01", 1, _now())
            if kind == "no_dev_eui":
                del packet["devEui"]
            elif kind == "bad_payload":
                packet["frmPayload"] = "XYZ"
            elif kind == "not_object":
                packet = [packet]
            else:
                raise ValueError(f"unknown malformed kind {kind!r}")
            text = json.dumps(packet)
        return self._append(application_id, text, _now())

    # --------------------------------------------------------------- uplinks

    def _packet(
        self, device: SimDevice, payload: bytes, f_port: int, when: datetime
    ) -> dict[str, Any]:
        # The shape of the document's Uplink Packet sample.
        return {
            "devEui": device.dev_eui.lower(),
            "recvTime": when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z",
            "fPort": f_port,
            "fCntUp": device.f_cnt,
            "ack": False,
            "adr": True,
            "dataRate": 5,
            "ulFreq": 868.1,
            "gwInfo": [
                {"id": "7276ff002e0400e8", "rssi": -80.0, "snr": 9.5},
                {"id": "7276ff002e0400e9", "rssi": -112.0, "snr": -6.25},
            ],
            "frmPayload": payload.hex().upper(),
        }

    def publish(
        self,
        dev_eui: str,
        payload: bytes,
        *,
        f_port: int = 1,
        when: datetime | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        """Record an uplink of a device, send it to the open streams; return its event id."""
        device = self.devices[dev_eui.upper()]
        when = when or _now()
        packet = {**self._packet(device, payload, f_port, when), **(extra or {})}
        device.f_cnt += 1
        return self._append(device.application_id, json.dumps(packet, indent=2), when)

    def _append(self, application_id: str, text: str, when: datetime) -> str:
        identifier = event_id(next(self._ids))
        self.log.setdefault(application_id, []).append((identifier, text, when))
        self._notify()
        return identifier

    def _notify(self) -> None:
        """Wake everything waiting for a change."""
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    async def _wait_until(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            await self._wakeup.wait()

    async def run_generator(self, interval: float, *, jitter: float = 0.2, seed: int = 1) -> None:
        """Publish realistic Cayenne LPP uplinks forever: each device about every ``interval`` s."""
        rng = random.Random(seed)
        payloads = DemoPayloads(seed)
        while True:
            devices = list(self.devices.values())
            if not devices:
                await asyncio.sleep(interval)
                continue
            for device in devices:
                self.publish(
                    device.dev_eui, payloads.next_payload(device.dev_eui, device.kind, _now())
                )
                pause = interval / len(devices) * (1 + rng.uniform(-jitter, jitter))
                await asyncio.sleep(max(pause, 0.0))

    # --------------------------------------------------------------- waiting

    @property
    def stream_count(self) -> int:
        """Streams open now."""
        return len(self._streams)

    async def wait_for_streams(self, count: int) -> None:
        """Wait until exactly ``count`` streams are open (callers bound the wait)."""
        await self._wait_until(lambda: len(self._streams) == count)

    async def wait_for_published(self, application_id: str, count: int) -> None:
        """Wait until the application's stream holds ``count`` events."""
        await self._wait_until(lambda: len(self.log.get(application_id, ())) >= count)

    async def wait_for_stream_requests(self, count: int) -> None:
        """Wait until ``count`` stream requests were received in all."""
        await self._wait_until(lambda: len(self.stream_requests) >= count)

    async def wait_for_keepalives(self, count: int) -> None:
        """Wait until ``count`` keep-alives were written in all."""
        await self._wait_until(lambda: self.keepalives_sent >= count)

    async def wait_for_sent(self, count: int) -> None:
        """Wait until ``count`` uplink events were written to streams in all."""
        await self._wait_until(lambda: self.events_sent >= count)

    # --------------------------------------------------------------- OAuth 2.0

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant = str(form.get("grant_type", ""))
        self.token_requests.append(grant)
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if self.reject_credentials or request.headers.get("Authorization") != f"Basic {expected}":
            return web.json_response({"error": "invalid_client"}, status=401)
        if grant == "client_credentials":
            if form.get("audience") != self.api_url:
                return web.json_response({"error": "invalid_request"}, status=400)
        elif grant == "refresh_token":
            refresh = str(form.get("refresh_token", ""))
            if refresh not in self._refresh:
                return web.json_response({"error": "invalid_grant"}, status=400)
            self._refresh.discard(refresh)
        else:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        access = secrets.token_urlsafe(24)
        refresh = secrets.token_urlsafe(24)
        self._access[access] = time.monotonic() + self.token_lifetime
        self._refresh.add(refresh)
        # The samples' headers: JSON:API for the grants, plain JSON for a refresh.
        kind = JSON_API if grant == "client_credentials" else "application/json"
        return web.Response(
            body=json.dumps(
                {
                    "access_token": access,
                    "token_type": "Bearer",
                    "expires_in": self.token_lifetime,
                    "refresh_token": refresh,
                }
            ).encode(),
            headers={
                "Content-Type": f"{kind};charset=UTF-8",
                "Cache-Control": "no-store",
                "Pragma": "no-cache",
            },
        )

    def _valid(self, token: str) -> bool:
        expiry = self._access.get(token)
        return expiry is not None and time.monotonic() < expiry

    @web.middleware
    async def _authorize(self, request: web.Request, handler: Any) -> web.StreamResponse:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not self._valid(token):
            return web.Response(status=401)
        path = request.path.removeprefix(API_PATH)
        for key in ((request.method, path), (None, path), (request.method, None), (None, None)):
            if self._failures.get(key):
                return web.Response(status=self._failures[key].pop(0))
        self.requests.append((request.method, path))
        response: web.StreamResponse = await handler(request)
        return response

    # --------------------------------------------------------------- REST

    @staticmethod
    def _document(data: Any, status: int = 200, **members: Any) -> web.Response:
        # The samples' Content-Type, exactly (no charset parameter).
        return web.Response(
            body=json.dumps({"data": data, **members}).encode(),
            status=status,
            headers={"Content-Type": JSON_API},
        )

    def _application_resource(self, application_id: str) -> dict[str, Any]:
        return {
            "type": "application",
            "id": application_id,
            "attributes": {
                "applicationId": application_id,
                "name": self.applications[application_id],
            },
        }

    def _device_resource(self, device: SimDevice) -> dict[str, Any]:
        return {
            "type": "end-device",
            "id": device.dev_eui.lower(),
            "attributes": {
                "devEui": device.dev_eui.lower(),
                "name": device.name,
                "applicationId": device.application_id,
                "deviceProfileId": device.profile_id,
                "nwkKey": device.app_key,
                "appKey": device.app_key,
            },
        }

    def _profile_resource(self, profile_id: str) -> dict[str, Any]:
        return {
            "type": "device-profile",
            "id": profile_id,
            "attributes": {"deviceProfileId": profile_id, **self.profiles[profile_id]},
        }

    async def _applications(self, request: web.Request) -> web.Response:
        return self._document([self._application_resource(app) for app in self.applications])

    async def _application(self, request: web.Request) -> web.Response:
        application_id = request.match_info["app"]
        if application_id not in self.applications:
            return web.Response(status=404)
        return self._document(self._application_resource(application_id))

    async def _end_devices(self, request: web.Request) -> web.Response:
        application_id = request.match_info["app"]
        if application_id not in self.applications:
            return web.Response(status=404)
        devices = [d for d in self.devices.values() if d.application_id == application_id]
        if self.page_size is None:
            return self._document([self._device_resource(device) for device in devices])
        offset = int(request.query.get("page[offset]", "0"))
        page = devices[offset : offset + self.page_size]
        members: dict[str, Any] = {}
        if offset + self.page_size < len(devices):
            next_offset = offset + self.page_size
            members["links"] = {"next": f"{request.path}?page[offset]={next_offset}"}
        return self._document([self._device_resource(device) for device in page], **members)

    def _device(self, request: web.Request) -> SimDevice | None:
        return self.devices.get(request.match_info["eui"].upper())

    async def _end_device(self, request: web.Request) -> web.Response:
        if (device := self._device(request)) is None:
            return web.Response(status=404)
        return self._document(self._device_resource(device))

    async def _update_end_device(self, request: web.Request) -> web.Response:
        if (device := self._device(request)) is None:
            return web.Response(status=404)
        try:
            document = await request.json()
            self.patches.append(document)
            resource = document["data"]
            attributes = resource["attributes"]
            # An End-Device object: devEui, applicationId and deviceProfileId are not optional.
            valid = (
                resource["type"] == "end-device"
                and str(attributes["devEui"]).upper() == device.dev_eui
                and attributes["applicationId"] == device.application_id
                and attributes["deviceProfileId"] in self.profiles
                and isinstance(attributes.get("name", ""), str | None)
            )
        except ValueError, KeyError, TypeError:
            valid = False
        if not valid:
            # The document's "401 Bad Request — Request validation failed".
            return web.Response(status=401)
        device.profile_id = attributes["deviceProfileId"]
        device.name = attributes.get("name", device.name)
        return web.Response(status=201)

    async def _activation(self, request: web.Request) -> web.Response:
        if (device := self._device(request)) is None or device.dev_addr is None:
            return web.Response(status=404)
        return self._document(
            {
                "type": "activation",
                "id": device.dev_eui,
                "attributes": {
                    "devEui": device.dev_eui,
                    "devAddr": device.dev_addr,
                    "aFCntDown": 0,
                    "appSKey": secrets.token_hex(16),
                    "fCntUp": device.f_cnt,
                    "fNwkSIntKey": secrets.token_hex(16),
                    "nFCntDown": 0,
                    "nwkSEncKey": secrets.token_hex(16),
                    "sNwkSIntKey": secrets.token_hex(16),
                },
            }
        )

    async def _profiles(self, request: web.Request) -> web.Response:
        return self._document(
            [
                self._profile_resource(profile)
                for profile in self.profiles
                if profile not in self.hidden_profiles
            ]
        )

    async def _profile(self, request: web.Request) -> web.Response:
        profile_id = request.match_info["profile"]
        if profile_id not in self.profiles:
            return web.Response(status=404)
        return self._document(self._profile_resource(profile_id))

    async def _downlink(self, request: web.Request) -> web.Response:
        if (device := self._device(request)) is None:
            return web.Response(status=404)
        try:
            document = await request.json()
            self.downlink_documents.append(document)
            resource = document["data"]
            attributes = resource["attributes"]
            f_port = attributes.get("fPort", 1)
            confirmed = attributes["confirmed"]
            payload = bytes.fromhex(attributes.get("frmPayload") or "")
            valid = (
                resource["type"] == "downlink-packet"
                and type(f_port) is int
                and 1 <= f_port <= 223
                and isinstance(confirmed, bool)
            )
        except ValueError, KeyError, TypeError, AttributeError:
            valid = False
        if not valid:
            # The document's "401 Bad Request — Request validation failed".
            return web.Response(status=401)
        self.downlinks.append(Downlink(device.dev_eui, f_port, confirmed, payload))
        return web.Response(status=202)

    # --------------------------------------------------------------- SSE

    def _start_of(self, stream: _Stream, last_event_id: str | None, tail: int | None) -> int:
        """Return where a new stream starts in the log."""
        events = self.log.setdefault(stream.application_id, [])
        if last_event_id:
            for index, (identifier, _text, _when) in enumerate(events):
                if identifier == last_event_id:
                    return index + 1
            return len(events)
        if stream.since is None and tail is None:
            return len(events)
        wanted = [index for index, (_id, _text, when) in enumerate(events) if stream.wants(when)]
        if tail is not None:
            wanted = wanted[len(wanted) - tail :] if tail else []
        return wanted[0] if wanted else len(events)

    def _encode(self, identifier: str, text: str) -> bytes:
        end = self.line_ending
        if self.literal_layout:
            first, *rest = text.split("\n")
            lines = f"data:{first}{end}" + "".join(f"{line}{end}" for line in rest)
        else:
            lines = "".join(f"data:{line}{end}" for line in text.split("\n"))
        return f"{lines}id:{identifier}{end}{end}".encode()

    def _pieces(self, data: bytes) -> Iterator[bytes]:
        if self.chunk_size is None:
            yield data
            return
        for start in range(0, len(data), self.chunk_size):
            yield data[start : start + self.chunk_size]

    async def _uplink_stream(self, request: web.Request) -> web.StreamResponse:
        application_id = request.match_info["app"]
        if application_id not in self.applications:
            return web.Response(status=404)
        if request.headers.get("Accept") != "text/event-stream":
            return web.Response(status=400)
        if request.headers.get("Cache-Control") != "no-cache":
            return web.Response(status=400)
        last_event_id = request.headers.get("Last-Event-ID")
        self.stream_requests.append(last_event_id)
        self.stream_queries.append(request.query_string)
        self._notify()
        while self._stall_headers:
            transport = request.transport
            if transport is None or transport.is_closing():
                return web.Response(status=408)  # the client gave up: nobody reads this
            wakeup = self._wakeup
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.25):
                    await wakeup.wait()
        known = {identifier for identifier, _text, _when in self.log[application_id]}
        if last_event_id and (
            last_event_id in self.expired_ids or (self.strict_resume and last_event_id not in known)
        ):
            return web.Response(status=400, text="unknown Last-Event-ID")
        query = request.query
        try:
            since = _filter_time(query.get("filter[since]"))
            until = _filter_time(query.get("filter[until]"))
            tail = None if (value := query.get("filter[tail]")) is None else int(value)
            if tail is not None and tail < 0:
                raise ValueError("a negative tail")
        except ValueError:
            return web.Response(status=400, text="invalid filter")
        if since is not None and self.refuse_since:
            return web.Response(status=400, text="filter[since] refused")
        stream = _Stream(application_id, 0, since=since, until=until)
        stream.cursor = self._start_of(stream, last_event_id, tail)
        # The headers of the document's sample response.
        response = web.StreamResponse(
            headers={"Connection": "keep-alive", "Content-Type": "text/event-stream"}
        )
        await response.prepare(request)
        if self.end_streams_at_once:
            return response
        self._streams.append(stream)
        self._notify()
        try:
            await self._serve(request, stream, response)
        finally:
            self._streams.remove(stream)
            self._notify()
        return response

    async def _serve(
        self, request: web.Request, stream: _Stream, response: web.StreamResponse
    ) -> None:
        events = self.log[stream.application_id]
        quiet_since = time.monotonic()
        while not stream.closing:
            transport = request.transport
            if transport is None or transport.is_closing():
                return
            if not self._stalled and stream.cursor < len(events):
                identifier, text, when = events[stream.cursor]
                if not stream.wants(when):
                    stream.cursor += 1
                    continue
                encoded = self._encode(identifier, text)
                if self._cut_next:
                    self._cut_next = False
                    await response.write(encoded[: len(encoded) // 2])
                    return
                stream.cursor += 1
                for piece in self._pieces(encoded):
                    await response.write(piece)
                self.events_sent += 1
                self._notify()
                quiet_since = time.monotonic()
                continue
            if self._stalled:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= self.keepalive:
                await response.write(f"data:{self.line_ending}{self.line_ending}".encode())
                self.keepalives_sent += 1
                self._notify()
                quiet_since = time.monotonic()
            wakeup = self._wakeup
            # Wake at least every quarter second to notice a client that went away.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(self.keepalive, 0.25)):
                    await wakeup.wait()


# ------------------------------------------------------------------ command line


async def run_demo(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
    """Serve a Netemera simulator with demo devices until ``stop`` is set (or forever)."""
    simulator = NetemeraSimulator(
        client_id=args.client_id, client_secret=args.client_secret, port=args.port
    )
    simulator.add_application(args.application, "Demo application")
    for dev_eui, dev_addr, demo in demo_devices(args.devices):
        simulator.add_device(
            dev_eui, args.application, name=demo.description, dev_addr=dev_addr, kind=demo.kind
        )
    async with simulator:
        print(
            f"Netemera simulator: API {simulator.api_url}, token endpoint {simulator.token_url},"
            f" client {args.client_id} / {args.client_secret}, application {args.application}"
            f" ({args.devices} devices, an uplink each every {args.interval:g} s)",
            flush=True,
        )
        await generate_until(stop, simulator.run_generator(args.interval, seed=args.seed))


COMMAND = Command(
    name="netemera",
    help="Netemera network server (OAuth 2.0, API v4, SSE uplinks)",
    description="Serve a fake Netemera network server on 127.0.0.1 with demo devices.",
    port=8766,
    run=run_demo,
    options=(
        Option("--client-id", DEFAULT_CLIENT_ID, "the OAuth 2.0 client id"),
        Option("--client-secret", DEFAULT_CLIENT_SECRET, "the OAuth 2.0 client secret"),
        Option("--application", DEFAULT_APPLICATION, "the application id"),
    ),
)
