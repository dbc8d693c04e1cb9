"""
An OrbiWise OrbiWAN server on 127.0.0.1: the REST API subset the integration uses and its pushes.

Pushes go over the WebSocket (``/websocket/connect``, JSON text frames), to an MQTT broker (host
mode: the simulator publishes ``<user>/<topic>`` and takes downlinks from
``<user>/send_payloads_dl``), and as REST push to the URL registered with
``PUT /rest/pushmode/start`` (one push configuration per account and per application, kept when
stopped). Every uplink is kept in the temporary store until the application deletes it (or a
REST push is answered 200). Every object served has the fields of the document's samples, no
others: device lists without names, the complete registration (with ``comment``) only with
``?all=true``.

Fault knobs: refuse the credentials or Basic authentication, fail the next requests of a path,
drop the WebSocket connections, hold pushes back (an outage) while uplinks are stored, push an
uplink twice (early and complete), push a malformed message, a push configuration set up by
someone else, MQTT answers on the plain topics.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
from collections.abc import Mapping
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
import itertools
import json
import random
import secrets
import time
from typing import Any, Final
import uuid

from aiohttp import ClientTimeout, WSMsgType, web
from paho.mqtt.client import Client as MqttClient, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion

from .command import Command, Option, demo_devices, generate_until
from .lpp import DemoPayloads, guess_kind
from .server import PushingServer

DEFAULT_USERNAME: Final = "demo-user"
DEFAULT_PASSWORD: Final = "demo-password"
TOPICS: Final = (
    "payloads_ul",
    "payloads_ul_early",
    "payloads_dl",
    "multicast",
    "nodeinfo",
    "status",
    "joininfo",
    "location",
    "alarm",
)
_METHODS: Final = {"payloads_ul": "POST", "payloads_ul_early": "POST", "alarm": "POST"}


def _now() -> datetime:
    return datetime.now(UTC)


def _timestamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


# The fields of each uplink object in the document's samples.
_STORED_FIELDS: Final = (
    "dataFrame",
    "confirmed",
    "port",
    "timestamp",
    "fcnt",
    "rssi",
    "snr",
    "sf_used",
    "dr_used",
    "cr_used",
    "device_redundancy",
    "time_on_air_ms",
    "id",
    "session_id",
    "decrypted",
    "gtw_info",
    "decoded",
)
"""GET …/payloads/ul (its location only with ``locations=true``)."""
_LOCATION_FIELDS: Final = ("latitude", "longitude", "altitude")
_PUSH_FIELDS: Final = (
    "DevEUI",
    "dataFrame",
    "port",
    "timestamp",
    "fcnt",
    "rssi",
    "snr",
    "sf_used",
    "id",
    "live",
    "session_id",
    "decrypted",
    "gtw_info",
    "confirmed",
    "cr_used",
    "devaddr",
    "dr_used",
    "freq",
    "time_on_air_ms",
    "decoded",
    *_LOCATION_FIELDS,
)
"""The complete payloads_ul push (its sample, with the fields of the decoded_json example)."""
_EARLY_FIELDS: Final = (
    "DevEUI",
    "dataFrame",
    "port",
    "timestamp",
    "fcnt",
    "sf_used",
    "id",
    "live",
    "session_id",
    "decrypted",
)


def _shape(
    record: Mapping[str, Any], fields: tuple[str, ...], *, early: bool | None = None
) -> dict[str, Any]:
    """Return the fields of ``record`` one kind of object has (a push: ``early`` and ``live``)."""
    body: dict[str, Any] = {} if early is None else {"early": early}
    if early is not None:
        record = {**record, "live": True}
    body.update((key, record[key]) for key in fields if key in record)
    return body


def _device_status(node: Node) -> int:
    """0: registered but never seen, 3: successfully received uplink."""
    return 3 if node.fcnt else 0


@dataclass
class Node:
    """A device of the simulated account."""

    dev_eui: str
    comment: str | None = None
    device_class: int = 0
    kind: str = "sensor"
    groups: set[str] = field(default_factory=set)
    applications: set[str] = field(default_factory=set)
    fcnt: int = 0
    dl_fcnt: int = 0
    latitude: float = 0.0
    longitude: float = 0.0
    last_reception: datetime = field(default_factory=_now)
    req_status: int = 0
    """0: never updated, 1: update requested, 2: request pending, 3: result ready."""
    battery: int = 0
    margin: int = 0
    status_at: datetime | None = None
    device_profile_uuid: str = ""
    """The registration's device profile ("" as in the document's sample: none given)."""


@dataclass
class StoredDownlink:
    """A downlink the server accepted (unicast or multicast)."""

    id: int
    target: str
    """DevEUI, or the group id of a multicast."""
    port: int
    payload: bytes
    confirmed: bool
    mode: str
    multicast: bool = False
    tag: str | None = None
    status: int = 0


@dataclass
class PushMode:
    """The push configuration of the account or of one application (REST or MQTT client)."""

    host: str
    port: int
    path_prefix: str
    auth_string: str
    data_format: str
    subscription: frozenset[str]
    enabled: bool = True


class OrbiWiseSimulator(PushingServer):
    """The simulated server, its account, devices, stored payloads and push channels."""

    def __init__(
        self,
        *,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        port: int = 0,
        token_lifetime: int = 43200,
    ) -> None:
        """Prepare a server for one account; ``start`` serves it."""
        app = web.Application(middlewares=[self._authorize])
        app.router.add_post("/rest/oauth2/token", self._token)
        app.router.add_get("/rest/nodes", self._nodes)
        app.router.add_get("/rest/nodes/{eui}", self._node)
        app.router.add_put("/rest/nodes/{eui}", self._update_node)
        app.router.add_put("/rest/nodes/{eui}/status", self._request_status)
        app.router.add_get("/rest/nodes/{eui}/status", self._status)
        app.router.add_get("/rest/nodes/{eui}/payloads/ul", self._stored)
        app.router.add_delete("/rest/nodes/{eui}/payloads/ul/{id}", self._delete_stored)
        app.router.add_post("/rest/nodes/{eui}/payloads/dl", self._downlink)
        app.router.add_get("/rest/groups", self._groups)
        app.router.add_post("/rest/groups", self._create_group)
        app.router.add_get("/rest/groups/{group}", self._group)
        app.router.add_delete("/rest/groups/{group}", self._delete_group)
        app.router.add_post("/rest/multicast/{group}", self._multicast)
        app.router.add_put("/rest/pushmode/start", self._push_start)
        app.router.add_put("/rest/pushmode/start/{app}", self._push_start)
        app.router.add_put("/rest/pushmode/stop", self._push_stop)
        app.router.add_put("/rest/pushmode/stop/{app}", self._push_stop)
        app.router.add_get("/rest/pushmode/status", self._push_status)
        app.router.add_get("/rest/pushmode/status/{app}", self._push_status)
        app.router.add_get("/websocket/connect", self._websocket)
        super().__init__(app, port=port, shutdown_timeout=0.5)
        self.username = username
        self.password = password
        self.token_lifetime = token_lifetime
        self.nodes: dict[str, Node] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.stored: dict[str, dict[int, Any]] = {}
        """DevEUI → payload id → the stored uplink."""
        self.downlinks: list[StoredDownlink] = []
        self.requests: list[tuple[str, str]] = []
        """(method, path) of every request that passed authentication."""
        self.deleted: list[int] = []
        self.pushed: list[tuple[str, int]] = []
        """(topic, HTTP status) of every REST push made."""
        self.push_modes: dict[str, PushMode] = {}
        """The push configuration of the account ("") and of each application."""
        self.push_application: str | None = None
        """The application of the last ``pushmode/start`` (None: the account)."""
        self.mqtt_plain_replies = False
        """Answer MQTT downlinks on ``payloads_dl``/``multicast`` (the host-mode reading of the
        downlink sections) instead of ``<user>/payloads_dl``/``<user>/multicast``."""
        self.binary_pushes = False
        """Push over the WebSocket in binary frames (a server that does)."""
        self.ws_frames: list[str] = []
        """The kind of every frame a WebSocket client sent: ``text`` or ``binary``."""
        self.basic_enabled = True
        self.reject_credentials = False
        self.hold_pushes = False
        """An outage: uplinks are stored but not pushed."""
        self.answer_channel = True
        """Answer downlinks sent over the WebSocket or MQTT (False: never answer)."""
        self.stored_gate: asyncio.Event | None = None
        """When set, reading the store waits for this event (a slow catch-up)."""
        self.websocket_subscriptions: list[frozenset[str]] = []
        self.ws_sent: list[tuple[str, Any]] = []
        """(topic, payload id) of every push written to a WebSocket."""
        self.websocket_authorizations: list[str] = []
        self._ids = itertools.count(1_553_768_623_768)
        self._dl_ids = itertools.count(252)
        self._access: dict[str, float] = {}
        self._refresh: set[str] = set()
        self._failures: dict[str, list[int]] = {}
        self._sockets: list[tuple[web.WebSocketResponse, frozenset[str]]] = []
        self._mqtt: MqttClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # --------------------------------------------------------------- set-up

    @property
    def url(self) -> str:
        """The server's root URL."""
        return self.base_url

    def add_node(
        self,
        dev_eui: str,
        *,
        comment: str | None = None,
        device_class: int = 0,
        applications: set[str] | None = None,
        kind: str | None = None,
        device_profile_uuid: str = "",
    ) -> Node:
        """Register a device."""
        node = Node(
            dev_eui.upper(),
            comment=comment,
            device_class=device_class,
            applications=applications or set(),
            kind=kind or guess_kind(comment or ""),
            device_profile_uuid=device_profile_uuid,
        )
        self.nodes[node.dev_eui] = node
        self.stored.setdefault(node.dev_eui, {})
        return node

    @property
    def push_mode(self) -> PushMode | None:
        """The push configuration the last ``pushmode/start`` set (account or application)."""
        return self.push_modes.get(self.push_application or "")

    def set_push_mode(
        self,
        host: str,
        port: int,
        path_prefix: str = "",
        *,
        application: str | None = None,
        enabled: bool = True,
        auth_string: str = "",
    ) -> PushMode:
        """Set a push configuration as someone else would (another application, MQTT client)."""
        mode = PushMode(
            host=host,
            port=port,
            path_prefix=path_prefix,
            auth_string=auth_string,
            data_format="base64",
            subscription=frozenset(("payloads_ul", "payloads_dl", "nodeinfo")),
            enabled=enabled,
        )
        self.push_modes[application or ""] = mode
        return mode

    def fail_next(self, path: str, *statuses: int) -> None:
        """Answer the next requests to ``path`` with these HTTP statuses."""
        self._failures.setdefault(path, []).extend(statuses)

    async def start(self) -> None:
        """Serve, with an HTTP session for REST pushes."""
        self._loop = asyncio.get_running_loop()
        await super().start()

    async def stop(self) -> None:
        """Stop serving, close the WebSockets and the MQTT connection."""
        for ws, _topics in list(self._sockets):
            await ws.close()
        await self.disconnect_mqtt()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await super().stop()

    # --------------------------------------------------------------- MQTT (host mode)

    async def connect_mqtt(self, host: str, port: int) -> None:
        """Publish pushes to (and take downlinks from) an MQTT broker at ``host:port``."""
        loop = asyncio.get_running_loop()
        connected = loop.create_future()
        client = MqttClient(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"orbiwise-sim-{secrets.token_hex(4)}",
        )

        def on_connect(*_args: Any) -> None:
            client.subscribe(
                [(f"{self.username}/send_payloads_dl", 1), (f"{self.username}/send_multicast", 1)]
            )

        def subscribed() -> None:
            if not connected.done():
                connected.set_result(None)

        def on_subscribe(*_args: Any) -> None:
            loop.call_soon_threadsafe(subscribed)

        def on_message(_client: MqttClient, _userdata: Any, message: MQTTMessage) -> None:
            loop.call_soon_threadsafe(self._mqtt_request, message.payload)

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        await loop.run_in_executor(None, client.connect, host, port, 30)
        client.loop_start()
        self._mqtt = client
        async with asyncio.timeout(10):
            await connected

    async def disconnect_mqtt(self) -> None:
        """Leave the MQTT broker."""
        client, self._mqtt = self._mqtt, None
        if client is not None:
            client.disconnect()
            await asyncio.get_running_loop().run_in_executor(None, client.loop_stop)

    def _mqtt_request(self, payload: bytes) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            return
        reply = self._channel_request(message)
        (topic,) = reply
        if topic == "error":
            # An error goes back on the topic of the request's answer.
            asked = next(iter(message), None) if isinstance(message, dict) else None
            topic = asked if asked in ("payloads_dl", "multicast") else "payloads_dl"
        self._publish_mqtt(topic, reply, reply=True)

    def _publish_mqtt(self, topic: str, message: Mapping[str, Any], *, reply: bool = False) -> None:
        if self._mqtt is not None:
            name = topic if reply and self.mqtt_plain_replies else f"{self.username}/{topic}"
            self._mqtt.publish(name, json.dumps(message), qos=1)

    # --------------------------------------------------------------- pushes

    def _push(self, topic: str, body: Mapping[str, Any]) -> None:
        """Send a push over every channel subscribed to ``topic``."""
        message = {topic: body}
        for ws, topics in list(self._sockets):
            if topic in topics:
                self._spawn(self._send_ws(ws, topic, body))
        if topic != "payloads_ul_early":
            self._publish_mqtt(topic, message)
        node = self.nodes.get(str(body.get("DevEUI", "")).upper())
        for owner, mode in self.push_modes.items():
            if (
                mode.enabled
                and mode.host.startswith(("http://", "https://"))
                and topic in mode.subscription
                and (not owner or (node is not None and owner in node.applications))
            ):
                self._spawn(self._rest_push(mode, topic, body))
        self._notify()

    async def _send_ws(self, ws: web.WebSocketResponse, topic: str, body: Any) -> None:
        if self.binary_pushes:
            await ws.send_bytes(json.dumps({topic: body}).encode())
        else:
            await ws.send_str(json.dumps({topic: body}))
        self.ws_sent.append((topic, body.get("id") if isinstance(body, dict) else None))
        self._notify()

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _rest_push(self, mode: PushMode, topic: str, body: Mapping[str, Any]) -> None:
        if self._session is None:
            return
        topic_path = {"payloads_ul": "payloads/ul", "payloads_dl": "payloads/dl"}.get(
            topic, "payloads/ul_early" if topic == "payloads_ul_early" else topic
        )
        prefix = mode.path_prefix.replace("${topic}", topic).replace("${topic_path}", topic_path)
        if "${skip_topic}" in prefix:
            path = prefix.replace("${skip_topic}", "")
        else:
            path = f"{prefix}/rest/callback/{topic_path}"
        url = f"{mode.host}:{mode.port}{path}"
        try:
            async with self._session.request(
                _METHODS.get(topic, "PUT"),
                url,
                json=body,
                headers={"Authorization": mode.auth_string},
                timeout=ClientTimeout(total=10),
            ) as response:
                status = response.status
        except OSError, TimeoutError:
            self.pushed.append((topic, -1))
            self._notify()
            return
        self.pushed.append((topic, status))
        if status == 200 and topic == "payloads_ul":
            self.stored.get(body["DevEUI"], {}).pop(body["id"], None)
        self._notify()

    def _uplink_body(
        self,
        node: Node,
        payload: bytes,
        port: int,
        when: datetime,
        *,
        decoded: Mapping[str, Any] | None = None,
        decrypted: bool = True,
    ) -> dict[str, Any]:
        """Return the record of an uplink: every field any of the document's samples shows."""
        body: dict[str, Any] = {
            "DevEUI": node.dev_eui,
            "dataFrame": base64.b64encode(payload).decode(),
            "confirmed": False,
            "port": port,
            "timestamp": _timestamp(when),
            "fcnt": node.fcnt,
            "rssi": -97,
            "snr": 7.5,
            "sf_used": 7,
            "dr_used": "SF7BW125",
            "cr_used": "4/5",
            "device_redundancy": 1,
            "time_on_air_ms": 41.216,
            "id": next(self._ids),
            "session_id": "be20388f-3ee2-4d38-9794-bce44a28d8c0",
            "decrypted": decrypted,
            "gtw_info": [
                {"gtw_id": "0000000012340000", "rssi": -97, "snr": 7.5},
                {"gtw_id": "0000000012350000", "rssi": -110, "snr": -3},
            ],
            "devaddr": 279387178,
            "freq": 868100000,
        }
        if decoded is not None:
            body["decoded"] = dict(decoded)
        return body

    def publish(
        self,
        dev_eui: str,
        payload: bytes,
        *,
        port: int = 1,
        when: datetime | None = None,
        decoded: Mapping[str, Any] | None = None,
        decrypted: bool = True,
        early: bool = False,
        location: tuple[float, float] | None = None,
    ) -> int:
        """Store an uplink and push it (unless held back); return its payload id."""
        node = self.nodes[dev_eui.upper()]
        body = self._uplink_body(
            node, payload, port, when or _now(), decoded=decoded, decrypted=decrypted
        )
        if location is not None:
            body["latitude"], body["longitude"] = location
        node.fcnt += 1
        node.last_reception = _now()
        self.stored[node.dev_eui][body["id"]] = body
        if node.req_status == 1:
            # The DevStatusReq went out with the previous downlink opportunity: answered now.
            self.push_status(node.dev_eui, battery=254, margin=12)
        if not self.hold_pushes:
            if early:
                self._push("payloads_ul_early", _shape(body, _EARLY_FIELDS, early=True))
            self._push("payloads_ul", _shape(body, _PUSH_FIELDS, early=False))
        self._notify()
        return int(body["id"])

    def push_malformed(self) -> None:
        """Push an uplink message with a broken payload and a message that is not JSON."""
        node = next(iter(self.nodes.values()))
        bad = _shape(self._uplink_body(node, b"", 1, _now()), _PUSH_FIELDS, early=False)
        bad["dataFrame"] = "!!not base64!!"
        self._push("payloads_ul", bad)
        for ws, _topics in self._sockets:
            self._spawn(ws.send_str("{not json"))

    def push_uplink(self, body: Mapping[str, Any]) -> None:
        """Push an uplink message as given (stored under its DevEUI and id when it has them)."""
        dev_eui = str(body.get("DevEUI", "")).upper()
        if dev_eui in self.stored and isinstance(body.get("id"), int):
            self.stored[dev_eui][body["id"]] = dict(body)
        self._push("payloads_ul", body)

    def push_nodeinfo(self, dev_eui: str) -> None:
        """Push a device's info (class and downlink counter): the document's nodeinfo object."""
        node = self.nodes[dev_eui.upper()]
        self._push(
            "nodeinfo",
            {
                "DevEUI": node.dev_eui,
                "device_status": _device_status(node),
                "last_reception": _timestamp(node.last_reception),
                "dl_fcnt": node.dl_fcnt,
                "device_class": node.device_class,
                "registration_status": 1,
                "expiry_time_uplink": 168,
                "expiry_time_downlink": 168,
            },
        )

    def push_status(self, dev_eui: str, *, battery: int, margin: int, ready: int = 3) -> None:
        """Record a DevStatusAns result (read back with GET …/status) and push it."""
        node = self.nodes[dev_eui.upper()]
        node.battery, node.margin, node.req_status = battery, margin, ready
        node.status_at = _now()
        self._push("status", {"DevEUI": node.dev_eui, **self._status_body(node)})

    def _status_body(self, node: Node) -> dict[str, Any]:
        return {
            "battery_status": node.battery,
            "margin_status": node.margin,
            "timestamp_status": _timestamp(node.status_at or node.last_reception),
            "req_status": node.req_status,
        }

    def push_location(self, dev_eui: str, latitude: float, longitude: float) -> None:
        """Push a location estimate."""
        self._push(
            "location",
            {
                "DevEUI": dev_eui,
                "latitude": latitude,
                "longitude": longitude,
                "loraloc_time": _timestamp(_now()),
                "loraloc_fcnt": 1,
            },
        )

    def push_joininfo(self, dev_eui: str, status: str = "JOIN_ACCEPTED") -> None:
        """Push a join notification."""
        self._push(
            "joininfo",
            {
                "DevEUI": dev_eui,
                "appeui": "70B3D57ED0000000",
                "join_status": status,
                "session_id": "x",
            },
        )

    def push_alarm(
        self, dev_eui: str | None, code: str, text: str, *, severity: str = "warning"
    ) -> None:
        """Push an alarm (``severity`` one of syslog's, as the document lists them)."""
        body: dict[str, Any] = {
            "timestamp": _timestamp(_now()),
            "severity": severity,
            "category": "devices" if dev_eui else "accounts",
            "alarm_code": code,
            "alarm_text": text,
        }
        if dev_eui:
            body["DevEUI"] = dev_eui
        self._push("alarm", body)

    def advance_downlink(self, downlink_id: int, status: int) -> None:
        """Move a downlink to a new transmissionStatus and push it."""
        downlink = next(item for item in self.downlinks if item.id == downlink_id)
        downlink.status = status
        body = self._downlink_body(downlink)
        if downlink.multicast:
            # The multicast status object has no session_id.
            del body["session_id"]
            self._push("multicast", {"groupid": downlink.target, **body})
        else:
            data = base64.b64encode(downlink.payload).decode()
            self._push("payloads_dl", {"DevEUI": downlink.target, "data": data, **body})

    def drop_websockets(self) -> None:
        """Close every WebSocket connection."""
        for ws, _topics in list(self._sockets):
            self._spawn(ws.close())

    async def run_generator(self, interval: float, *, seed: int = 1) -> None:
        """Publish realistic Cayenne LPP uplinks forever: each device about every ``interval`` s."""
        rng = random.Random(seed)
        payloads = DemoPayloads(seed)
        while True:
            nodes = list(self.nodes.values())
            if not nodes:
                await asyncio.sleep(interval)
                continue
            for node in nodes:
                self.publish(node.dev_eui, payloads.next_payload(node.dev_eui, node.kind, _now()))
                await asyncio.sleep(interval / len(nodes) * rng.uniform(0.8, 1.2))

    # --------------------------------------------------------------- waiting

    @property
    def websocket_count(self) -> int:
        """WebSocket connections open now."""
        return len(self._sockets)

    # --------------------------------------------------------------- authentication

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant = form.get("grant_type")
        if grant == "password":
            if (
                self.reject_credentials
                or form.get("username") != self.username
                or form.get("password") != self.password
            ):
                return web.Response(status=401, text="invalid credentials")
        elif grant == "refresh_token":
            token = str(form.get("refresh_token"))
            if token not in self._refresh:
                return web.Response(status=401, text="refresh token expired")
            self._refresh.discard(token)
        else:
            return web.Response(status=400, text="unsupported grant")
        access = secrets.token_urlsafe(24)
        refresh = secrets.token_urlsafe(24)
        self._access[access] = time.monotonic() + self.token_lifetime
        self._refresh.add(refresh)
        return web.json_response(
            {
                "access_token": access,
                "expires_in": self.token_lifetime,
                "jti": str(uuid.uuid4()),
                "refresh_token": refresh,
                "scope": "openid",
                "token_type": "bearer",
            }
        )

    def expire_tokens(self) -> None:
        """Make every access token invalid."""
        self._access.clear()

    def _authenticated(self, header: str) -> bool:
        if self.reject_credentials:
            return False
        if header.startswith("Bearer "):
            expiry = self._access.get(header.removeprefix("Bearer "))
            return expiry is not None and time.monotonic() < expiry
        if header.startswith("Basic ") and self.basic_enabled:
            expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return header.removeprefix("Basic ") == expected
        return False

    @web.middleware
    async def _authorize(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/rest/oauth2/token":
            response: web.StreamResponse = await handler(request)
            return response
        if not self._authenticated(request.headers.get("Authorization", "")):
            return web.Response(status=401, text="unauthorized")
        failures = self._failures.get(request.path)
        if failures:
            return web.json_response(
                {
                    "type": "about:blank",
                    "title": "failure",
                    "detail": "simulated failure",
                    "status": failures[0],
                },
                status=failures.pop(0),
                content_type="application/problem+json",
            )
        self.requests.append((request.method, request.path))
        self._notify()
        answer: web.StreamResponse = await handler(request)
        return answer

    # --------------------------------------------------------------- REST

    def _list_item(self, node: Node) -> dict[str, Any]:
        """Return a device of ``GET /rest/nodes``: the document's list object (no name)."""
        return {
            "device_status": _device_status(node),
            "last_reception": _timestamp(node.last_reception),
            "dl_fcnt": node.dl_fcnt,
            "device_class": node.device_class,
            "registration_status": 1,
            "DevEUI": node.dev_eui,
            "appeui": "",
        }

    def _info(self, node: Node) -> dict[str, Any]:
        """Return ``GET /rest/nodes/{DevEUI}``: the document's device info object."""
        return {
            "device_status": _device_status(node),
            "last_reception": _timestamp(node.last_reception),
            "dl_fcnt": node.dl_fcnt,
            "registration_status": 1,
            "DevEUI": node.dev_eui,
            "expiry_time_uplink": 168,
            "expiry_time_downlink": 168,
            "latitude": node.latitude,
            "longitude": node.longitude,
            "loraloc_time": _timestamp(node.last_reception),
            "loraloc_fcnt": node.fcnt,
        }

    def _registration(self, node: Node) -> dict[str, Any]:
        """Return the complete registration (``?all=true``), keys blank: the registration object."""
        return {
            "DevEUI": node.dev_eui,
            "lora_device_class": node.device_class,
            "appeui": "",
            "joineui": "",
            "appkey": "",
            "nwkkey": "",
            "nwkskey": "",
            "snwksintkey": "",
            "fnwksintkey": "",
            "nwksenckey": "",
            "appskey": "",
            "applications": ",".join(sorted(node.applications)),
            "groups": ",".join(sorted(node.groups)),
            "userid": self.username,
            "comment": node.comment or "",
            "altitude": 0,
            "latitude": node.latitude,
            "longitude": node.longitude,
            "options": 0,
            "activated": True,
            "device_profile_uuid": node.device_profile_uuid,
            "service_profile_uuid": "",
        }

    def _get_node(self, request: web.Request) -> Node:
        node = self.nodes.get(request.match_info["eui"].replace("-", "").upper())
        if node is None:
            raise web.HTTPNotFound(text="cannot find device")
        return node

    async def _nodes(self, request: web.Request) -> web.Response:
        application = request.query.get("application")
        nodes = sorted(
            (n for n in self.nodes.values() if not application or application in n.applications),
            key=lambda node: node.dev_eui,
        )
        if request.query.get("paged_results") != "true":
            return web.json_response([self._list_item(node) for node in nodes])
        limit = int(request.query.get("limit", "2000"))
        start = int(request.query.get("page_state", "0"))
        page = nodes[start : start + limit]
        body: dict[str, Any] = {"results": [self._list_item(node) for node in page]}
        if start + limit < len(nodes):
            body["next_page_state"] = str(start + limit)
        return web.json_response(body)

    async def _node(self, request: web.Request) -> web.Response:
        node = self._get_node(request)
        if request.query.get("all") == "true":
            return web.json_response({**self._info(node), **self._registration(node)})
        return web.json_response(self._info(node))

    async def _update_node(self, request: web.Request) -> web.Response:
        node = self._get_node(request)
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise TypeError
        except ValueError, TypeError:
            return web.Response(status=400, text="invalid JSON")
        if "lora_device_class" in changes:
            device_class = changes["lora_device_class"]
            if device_class not in (0, 1, 2):
                return web.Response(status=400, text="invalid lora_device_class")
            node.device_class = device_class
        if "groups" in changes:
            value = str(changes["groups"])
            if value.startswith("+"):
                if value[1:] not in self.groups:
                    return web.Response(status=400, text="unknown group")
                node.groups.add(value[1:])
            elif value.startswith("-"):
                node.groups.discard(value[1:])
            else:
                node.groups = {group for group in value.split(",") if group}
        if "comment" in changes:
            node.comment = changes["comment"]
        return web.Response(status=200)

    async def _request_status(self, request: web.Request) -> web.Response:
        self._get_node(request).req_status = 1
        return web.Response(status=200)

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response(self._status_body(self._get_node(request)))

    async def _stored(self, request: web.Request) -> web.Response:
        node = self._get_node(request)
        if self.stored_gate is not None:
            await self.stored_gate.wait()
        data_format = request.query.get("data_format", "base64")
        items = sorted(
            self.stored[node.dev_eui].values(),
            key=lambda item: str(item.get("timestamp")) if isinstance(item, dict) else "",
        )
        if request.query.get("sort_by_timestamp") == "desc":
            items.reverse()
        if not items:
            return web.Response(status=204)
        fields: tuple[str, ...] = _STORED_FIELDS
        if request.query.get("locations") == "true":
            fields = (*fields, *_LOCATION_FIELDS)
        result = []
        for item in items:
            if not isinstance(item, dict):  # a broken record, served as it is
                result.append(item)
                continue
            copy = _shape(item, fields)
            if data_format == "hex":
                with contextlib.suppress(ValueError, TypeError):
                    copy["dataFrame"] = base64.b64decode(item["dataFrame"]).hex()
            result.append(copy)
        if request.query.get("paged_results") != "true":
            return web.json_response(result)
        limit = int(request.query.get("limit", "2000"))
        start = int(request.query.get("page_state", "0"))
        body: dict[str, Any] = {"results": result[start : start + limit]}
        if start + limit < len(result):
            body["next_page_state"] = str(start + limit)
        return web.json_response(body)

    async def _delete_stored(self, request: web.Request) -> web.Response:
        node = self._get_node(request)
        payload_id = int(request.match_info["id"])
        if self.stored[node.dev_eui].pop(payload_id, None) is None:
            return web.Response(status=404, text="cannot find payload")
        self.deleted.append(payload_id)
        self._notify()
        return web.Response(status=200)

    def _downlink_body(self, downlink: StoredDownlink) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": downlink.id,
            "fcnt": self.nodes[downlink.target].dl_fcnt if not downlink.multicast else 0,
            "port": downlink.port,
            "transmissionStatus": downlink.status,
            "session_id": "UUID",
        }
        if downlink.tag is not None:
            body["tag"] = downlink.tag
        return body

    def _queue(
        self,
        target: str,
        port: Any,
        payload: bytes,
        confirmed: bool,
        mode: str,
        *,
        multicast: bool = False,
        tag: str | None = None,
    ) -> StoredDownlink | int:
        """Queue a downlink; an HTTP status when it is refused."""
        if type(port) is not int or not 1 <= port <= 223:
            return 400
        if mode not in ("fail_on_busy", "replace_on_busy", "enqueue_on_busy"):
            return 400
        pending = [
            item
            for item in self.downlinks
            if item.target == target and item.status == 0 and item.multicast == multicast
        ]
        if mode == "fail_on_busy" and pending:
            return 409
        if mode == "replace_on_busy":
            for item in pending:
                item.status = 5
        elif len(pending) >= 10:
            return 409
        if not multicast:
            self.nodes[target].dl_fcnt += 1
        downlink = StoredDownlink(
            next(self._dl_ids), target, port, payload, confirmed, mode, multicast, tag
        )
        self.downlinks.append(downlink)
        self._notify()
        return downlink

    async def _downlink(self, request: web.Request) -> web.Response:
        node = self._get_node(request)
        try:
            payload = _decode(await request.text(), request.query.get("data_format", "base64"))
            port = int(request.query["port"])
        except KeyError, ValueError:
            return web.Response(status=400, text="invalid payload or port")
        queued = self._queue(
            node.dev_eui,
            port,
            payload,
            request.query.get("confirmed", "true") == "true",
            request.query.get("mode", "enqueue_on_busy"),
        )
        if isinstance(queued, int):
            return web.Response(status=queued, text="refused")
        return web.json_response(self._downlink_body(queued))

    async def _groups(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {key: group[key] for key in ("groupid", "title", "comment") if key in group}
                for group in self.groups.values()
            ]
        )

    async def _group(self, request: web.Request) -> web.Response:
        group = self.groups.get(request.match_info["group"])
        if group is None:
            return web.Response(status=404, text="group not found")
        keys = ("groupid", "title", "comment", "nwkskey", "appskey", "fcnt", "applications")
        body = {key: group[key] for key in keys if key in group}
        if "ping_slot_periodicity" in group:  # class B multicast only
            body.update(
                (key, group[key])
                for key in ("ping_slot_periodicity", "data_rate", "freq")
                if key in group
            )
        return web.json_response(body)

    async def _create_group(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid JSON")
        group_id = body.get("groupid")
        if not isinstance(group_id, str) or not group_id or not isinstance(body.get("title"), str):
            return web.Response(status=400, text="groupid and title are mandatory")
        if (problem := _group_problem(body)) is not None:
            return web.Response(status=400, text=problem)
        if group_id in self.groups:
            return web.Response(status=409, text="group exists")
        self.groups[group_id] = {"comment": "", **body}
        return web.Response(status=200)

    async def _delete_group(self, request: web.Request) -> web.Response:
        if self.groups.pop(request.match_info["group"], None) is None:
            return web.Response(status=404, text="group not found")
        for node in self.nodes.values():
            node.groups.discard(request.match_info["group"])
        return web.Response(status=200)

    async def _multicast(self, request: web.Request) -> web.Response:
        group = request.match_info["group"]
        if group not in self.groups:
            return web.Response(status=404, text="group not found")
        try:
            payload = _decode(await request.text(), request.query.get("data_format", "base64"))
            port = int(request.query["port"])
        except KeyError, ValueError:
            return web.Response(status=400, text="invalid payload or port")
        queued = self._queue(
            group,
            port,
            payload,
            False,
            request.query.get("mode", "enqueue_on_busy"),
            multicast=True,
        )
        if isinstance(queued, int):
            return web.Response(status=queued, text="refused")
        return web.json_response(self._downlink_body(queued))

    async def _push_start(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            mode = PushMode(
                host=body["host"],
                port=int(body["port"]),
                path_prefix=body.get("path_prefix", ""),
                auth_string=body.get("auth_string", ""),
                data_format=body.get("data_format", "base64"),
                subscription=frozenset(
                    body.get("push_subscription", "payloads_ul,payloads_dl").split(",")
                ),
            )
        except ValueError, KeyError, TypeError, AttributeError:
            return web.Response(status=400, text="invalid push settings")
        if not mode.host.startswith(("http://", "https://", "mqtt://", "mqtts://")):
            return web.Response(status=400, text="host needs http(s):// or mqtt(s)://")
        application = request.match_info.get("app")
        key = application or ""
        if request.query.get("update_only") == "true":
            current = self.push_modes.get(key)
            mode.enabled = current.enabled if current is not None else False
        self.push_modes[key] = mode
        self.push_application = application
        self._notify()
        return web.Response(status=200)

    async def _push_stop(self, request: web.Request) -> web.Response:
        # Stopped, its settings kept (pushmode/status still shows them).
        mode = self.push_modes.get(request.match_info.get("app") or "")
        if mode is not None:
            mode.enabled = False
        self._notify()
        return web.Response(status=200)

    async def _push_status(self, request: web.Request) -> web.Response:
        mode = self.push_modes.get(request.match_info.get("app") or "")
        # The document's pushmode status object; secrets are never read back.
        return web.json_response(
            {
                "enabled": mode is not None and mode.enabled,
                "host": mode.host if mode else "",
                "port": mode.port if mode else 0,
                "path_prefix": mode.path_prefix if mode else "",
                "auth_string": "",
                "push_auth_access_token": "",
                "push_auth_cert": "",
                "push_auth_key": "",
                "push_auth_passphrase": "",
                "retry_policy": 0,
                "data_format": mode.data_format if mode else "base64",
                "push_subscription": ",".join(sorted(mode.subscription)) if mode else "",
            }
        )

    # --------------------------------------------------------------- WebSocket

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        topics = frozenset(request.query.get("push_subscription", ",".join(TOPICS)).split(","))
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self.websocket_subscriptions.append(topics)
        self.websocket_authorizations.append(request.headers.get("Authorization", ""))
        entry = (ws, topics)
        self._sockets.append(entry)
        self._notify()
        try:
            async for message in ws:
                if message.type is WSMsgType.BINARY:
                    # The document's messages are JSON text: a binary frame is refused.
                    self.ws_frames.append("binary")
                    error: dict[str, Any] = {
                        "error_msg": "binary frame: JSON text expected",
                        "status_code": 400,
                    }
                    with contextlib.suppress(
                        ValueError, AttributeError, StopIteration, TypeError, KeyError
                    ):
                        error["tag"] = next(iter(json.loads(message.data).values()))["tag"]
                    await ws.send_str(json.dumps({"error": error}))
                    continue
                self.ws_frames.append("text")
                try:
                    request_body = json.loads(message.data)
                except ValueError:
                    continue
                if self.answer_channel:
                    await ws.send_str(json.dumps(self._channel_request(request_body)))
        finally:
            self._sockets.remove(entry)
            self._notify()
        return ws

    def _channel_request(self, message: Any) -> dict[str, Any]:
        """Answer a downlink or multicast sent over the WebSocket or MQTT."""
        if not isinstance(message, dict) or len(message) != 1:
            return {"error": {"error_msg": "invalid message", "status_code": 400}}
        ((topic, body),) = message.items()
        tag = body.get("tag") if isinstance(body, dict) else None
        try:
            payload = _decode(body.get("data", ""), body.get("data_format", "base64"))
            if topic == "payloads_dl":
                target = str(body["DevEUI"]).upper()
                if target not in self.nodes:
                    return {
                        "error": {"tag": tag, "error_msg": "cannot find device", "status_code": 404}
                    }
                queued = self._queue(
                    target,
                    body.get("port"),
                    payload,
                    bool(body.get("confirmed", True)),
                    body.get("mode", "enqueue_on_busy"),
                    tag=tag,
                )
                reply_topic = "payloads_dl"
                extra = {"DevEUI": target}
            elif topic == "multicast":
                target = str(body["groupid"])
                if target not in self.groups:
                    return {
                        "error": {"tag": tag, "error_msg": "group not found", "status_code": 404}
                    }
                queued = self._queue(
                    target,
                    body.get("port"),
                    payload,
                    False,
                    body.get("mode", "enqueue_on_busy"),
                    multicast=True,
                    tag=tag,
                )
                reply_topic = "multicast"
                extra = {"groupid": target}
            else:
                return {"error": {"tag": tag, "error_msg": "unknown message", "status_code": 400}}
        except KeyError, ValueError, AttributeError:
            return {"error": {"tag": tag, "error_msg": "invalid message", "status_code": 400}}
        if isinstance(queued, int):
            reason = "queue busy or full" if queued == 409 else "invalid downlink"
            return {"error": {"tag": tag, "error_msg": reason, "status_code": queued}}
        return {reply_topic: {**self._downlink_body(queued), **extra}}


_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")


def _hex_of(value: object, digits: int) -> bool:
    """Whether ``value`` is a hex value of ``digits`` digits in one of the document's notations."""
    if not isinstance(value, str):
        return False
    text = value.removeprefix("0x").removeprefix("0X").replace("-", "")
    return len(text) == digits and set(text) <= _HEX_DIGITS


def _group_problem(body: Mapping[str, Any]) -> str | None:
    """Check a group object against the document's (field names and types); the problem."""
    for key in ("comment", "applications"):
        if key in body and not isinstance(body[key], str):
            return f"{key} is a string"
    for key in ("nwkskey", "appskey"):
        if key in body and not _hex_of(body[key], 32):
            return f"{key} is a 16-byte hex key"
    if "devaddr" in body:
        devaddr = body["devaddr"]
        number = type(devaddr) is int and 0 <= devaddr <= 0xFFFFFFFF
        if not number and not _hex_of(devaddr, 8):
            return "devaddr is a hex string or its decimal number"
    for key in ("fcnt", "data_rate", "ping_slot_periodicity"):
        if key in body and type(body[key]) is not int:
            return f"{key} is a number"
    if "ping_slot_periodicity" in body and not 0 <= body["ping_slot_periodicity"] <= 7:
        return "ping_slot_periodicity is 0 to 7"
    if "freq" in body and type(body["freq"]) not in (int, float):
        return "freq is a number"
    return None


def _decode(text: str, data_format: str) -> bytes:
    if data_format == "hex":
        return bytes.fromhex(text)
    return base64.b64decode(text, validate=True)


# ------------------------------------------------------------------ command line


async def run_demo(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
    """Serve an OrbiWAN simulator with demo devices until ``stop`` is set (or forever)."""
    simulator = OrbiWiseSimulator(username=args.username, password=args.password, port=args.port)
    for dev_eui, _dev_addr, demo in demo_devices(args.devices):
        simulator.add_node(dev_eui, comment=demo.description, kind=demo.kind)
    async with simulator:
        print(
            f"OrbiWise OrbiWAN simulator: {simulator.url}, user {args.username} /"
            f" {args.password} ({args.devices} devices, an uplink each every {args.interval:g} s)",
            flush=True,
        )
        await generate_until(stop, simulator.run_generator(args.interval, seed=args.seed))


COMMAND = Command(
    name="orbiwise",
    help="OrbiWise OrbiWAN network server (REST API, WebSocket and REST push)",
    description="Serve a fake OrbiWAN network server on 127.0.0.1 with demo devices.",
    port=8767,
    run=run_demo,
    options=(
        Option("--username", DEFAULT_USERNAME, "the account's user name"),
        Option("--password", DEFAULT_PASSWORD, "the account's password"),
    ),
)
