"""
The OrbiWAN client: pushes over a WebSocket, MQTT (host mode) or REST push; REST for the rest.

The server keeps every uplink in a temporary store until the application deletes it: on every
(re)connect the client drains that store (``GET /rest/nodes/{eui}/payloads/ul``), delivers what
it finds and deletes each payload only once it was delivered. Live uplinks are deleted from the
store once delivered too, so that the store only ever holds what was missed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping, Sequence
import contextlib
import dataclasses
from dataclasses import dataclass
from enum import StrEnum
import logging
import time
from typing import Any, Final

import aiohttp
import orjson

from ..base import Backoff, NetworkServer, Sink, ThrottledLog, no_gateways, reconnect_forever
from ..errors import InvalidRequest, LnsError, ProtocolError, Unsupported
from ..models import (
    Capability,
    Downlink,
    DownlinkMode,
    DownlinkResult,
    LoRaClass,
    MulticastGroup,
    MulticastSetup,
    ServerDevice,
)
from ..parse import as_dict, eui
from .channel import Channel, Sender
from .groups import change_members, create_group, delete_group
from .parse import (
    CLASS_TO_ORBIWISE,
    TOPICS,
    UPLINK_TOPICS,
    PushConfiguration,
    alarm_from_push,
    device_from_node,
    downlink_status,
    join_from_push,
    location_of,
    payload_id,
    push_error,
    result_from_answer,
    status_from_push,
    uplink_from_payload,
)
from .push import PushTarget, RestPush
from .rest import AuthMode, OrbiWiseRest, segment
from .store import UplinkStore
from .websocket import open_websocket, run_websocket

_LOGGER = logging.getLogger(__name__)

DETAIL_CONCURRENCY: Final = 4
"""Devices whose name or status are read at the same time."""
REFRESH_INTERVAL: Final = 15.0
"""Seconds between two readings of the device list prompted by a push about an unlisted device."""
FOREIGN_MEMORY: Final = 300.0
"""Seconds a device found outside the application is ignored without reading the list again."""
MAX_HELD: Final = 1000
"""Pushes about unlisted devices kept while the device list is read again."""
ERROR_KEYS: Final = frozenset({"orbiwise_busy", "orbiwise_queue_full"})
"""Refusals with a message of their own (``translations/en.json`` exceptions)."""


class Transport(StrEnum):
    """How the server pushes to us."""

    WEBSOCKET = "websocket"
    MQTT = "mqtt"
    REST_PUSH = "rest_push"


_MODES: Final = {
    DownlinkMode.QUEUE: "enqueue_on_busy",
    DownlinkMode.REPLACE: "replace_on_busy",
    DownlinkMode.IMMEDIATE: "fail_on_busy",
}


@dataclass(slots=True, frozen=True)
class MqttSettings:
    """The server's MQTT broker (host mode)."""

    host: str
    port: int
    tls: bool


class OrbiWiseClient(NetworkServer):
    """A client of one OrbiWAN account (or one application of it)."""

    vendor = "orbiwise"
    name = "OrbiWise OrbiWAN"
    capabilities = frozenset(
        {
            Capability.DOWNLINK,
            Capability.DOWNLINK_ACK,
            Capability.CLASS_CHANGE,
            Capability.DEVICE_STATUS,
            Capability.MULTICAST,
            Capability.MULTICAST_GROUPS,
            Capability.LOCATION,
            Capability.BACKFILL,
            Capability.DOWNLINK_COUNTER,
        }
    )
    error_keys = ERROR_KEYS

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        username: str,
        password: str,
        auth_mode: AuthMode = AuthMode.OAUTH2,
        application: str | None = None,
        transport: Transport = Transport.WEBSOCKET,
        push_target: PushTarget | None = None,
        replaces: str | None = None,
        mqtt: MqttSettings | None = None,
        request_timeout: float = 15.0,
        heartbeat: float = 30.0,
        backoff: Backoff | None = None,
    ) -> None:
        """
        Prepare a client; nothing connects until a method is called.

        ``replaces`` is the fingerprint of a push configuration set up elsewhere that the user
        agreed to replace (REST push): any other one is left alone.
        """
        self._session = session
        self._rest = OrbiWiseRest(
            session,
            url,
            username=username,
            password=password,
            auth_mode=auth_mode,
            request_timeout=request_timeout,
        )
        self._username = username
        self._password = password
        self._application = application or None
        self.transport = transport
        self._push = RestPush(self._rest, self._application, push_target, replaces)
        self.mqtt_settings = mqtt
        self.request_timeout = request_timeout
        self._heartbeat = heartbeat
        self._backoff = backoff or Backoff()
        self._log = ThrottledLog(_LOGGER)
        self._sink: Sink | None = None
        self._buffer: list[tuple[str, Mapping[str, Any]]] | None = None
        self._channel = Channel(self.host, request_timeout)
        self._sending = asyncio.Lock()
        """One downlink or multicast at a time: the server does not take them in parallel."""
        self._store = UplinkStore(
            self._rest, server_deletes_pushes=transport is Transport.REST_PUSH
        )
        self._deleter: asyncio.Task[None] | None = None
        self._devices: set[str] = set()
        self._registered: dict[str, ServerDevice] = {}
        """DevEUI → its registration, once read: its name (``comment``) and device profile."""
        self._streamed = False
        self._held: list[tuple[str, Mapping[str, Any]]] = []
        """Pushes about devices not listed yet, waiting for the device list to be read again."""
        self._foreign: dict[str, float] = {}
        """DevEUI → when a fresh device list showed it outside the application."""
        self._refresh_task: asyncio.Task[None] | None = None
        self._last_refresh = -REFRESH_INTERVAL
        self._tasks: set[asyncio.Task[None]] = set()
        """Background reads (device statuses) of the running connection."""
        self.live = asyncio.Event()
        """Set once a connection has drained the store and delivers pushes as they come."""
        self.mqtt_client: Any = None
        """The paho client while MQTT is connected (tests reach the broker through it)."""

    @property
    def host(self) -> str:
        """The server's host, safe to show."""
        return self._rest.host

    @property
    def username(self) -> str:
        """The account's user name (also the MQTT user)."""
        return self._username

    @property
    def password(self) -> str:
        """The account's password (for the MQTT connection only)."""
        return self._password

    @property
    def account_id(self) -> str:
        """The first part of every MQTT topic: the user name the broker knows."""
        return self._username

    @property
    def topics(self) -> tuple[str, ...]:
        """The pushes MQTT subscribes to."""
        return TOPICS

    # --- devices ------------------------------------------------------------------------------

    async def validate(self) -> None:
        """Authenticate and read the device list's first page."""
        await self._rest.request("GET", "rest/nodes", params=self._scope({"limit": "1"}))

    def _scope(self, params: Mapping[str, str]) -> dict[str, str]:
        return {**params, "application": self._application} if self._application else {**params}

    async def list_devices(self) -> list[ServerDevice]:
        """
        Return every device of the account (or application), with its name and device profile.

        The documented device info objects carry neither: they are the registration's
        ``comment`` and ``device_profile_uuid``, read once per device with ``?all=true``
        (documented for one device).
        """
        nodes: dict[str, Mapping[str, Any]] = {}
        for node in await self._rest.pages("rest/nodes", self._scope({})):
            try:
                dev_eui = eui(node.get("DevEUI"), "DevEUI")
            except ProtocolError as err:
                self._log.warning(
                    "node", "%s listed a device it cannot describe: %s", self.host, err
                )
                continue
            nodes[dev_eui] = node
            if "comment" in node:  # a server that lists the whole registration
                self._registered[dev_eui] = device_from_node(node)
        missing = [dev_eui for dev_eui in nodes if dev_eui not in self._registered]
        registrations: dict[str, Mapping[str, Any]] = {}
        semaphore = asyncio.Semaphore(DETAIL_CONCURRENCY)

        async def registration(dev_eui: str) -> None:
            async with semaphore:
                try:
                    answer = await self._rest.request(
                        "GET", f"rest/nodes/{segment(dev_eui)}", params={"all": "true"}
                    )
                    registrations[dev_eui] = as_dict(answer, "device registration")
                except LnsError as err:
                    self._log.warning(
                        "registration", "Cannot read the registration of %s yet: %s", dev_eui, err
                    )

        await asyncio.gather(*(registration(dev_eui) for dev_eui in missing))
        devices = []
        for dev_eui, node in nodes.items():
            device = device_from_node(node)
            if (complete := registrations.get(dev_eui)) is not None:
                full = self._registered[dev_eui] = device_from_node({**complete, "DevEUI": dev_eui})
                device = dataclasses.replace(
                    device,
                    app_eui=device.app_eui or full.app_eui,
                    device_class=device.device_class or full.device_class,
                    location=device.location or full.location,
                    downlink_f_cnt=_first(device.downlink_f_cnt, full.downlink_f_cnt),
                )
            registered = self._registered.get(dev_eui)
            devices.append(
                dataclasses.replace(
                    device,
                    name=registered.name if registered else None,
                    profile=registered.profile if registered else None,
                )
            )
        self._devices = set(nodes)
        return devices

    # --- realtime -----------------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        """Receive pushes until cancelled, reconnecting with backoff and draining each time."""
        self._sink = sink
        self._deleter = asyncio.create_task(self._store.delete_delivered(), name="orbiwise deleter")
        try:
            await reconnect_forever(
                lambda: self._connection(sink),
                sink,
                self._backoff,
                _LOGGER,
                f"connection to {self.host}",
            )
        finally:
            self._sink = None
            tasks = [self._deleter, self._refresh_task, *self._tasks]
            self._deleter = self._refresh_task = None
            self._tasks.clear()
            self._held.clear()
            for task in tasks:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def _connection(self, sink: Sink) -> str:
        """Run one connection of the entry's transport until it ends; then pushes wait again."""
        try:
            if self.transport is Transport.WEBSOCKET:
                ws = await open_websocket(self._session, self._rest, self._heartbeat)
                return await run_websocket(self, sink, ws)
            if self.transport is Transport.MQTT:
                from .mqtt import run_mqtt  # noqa: PLC0415 - paho only when MQTT is used

                reason: str = await run_mqtt(self, sink)
                return reason
            await self._push.start()
            await self.connected(sink)
            # Pushes arrive through the receiver (``dispatch``): wait here until cancelled.
            forever: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            return await forever
        finally:
            self.live.clear()

    async def connected(self, sink: Sink) -> None:
        """Catch up after a (re)connect: list the devices again, drain, then go live."""
        self.live.clear()
        self._backoff.opened()
        self._buffer = []
        try:
            if self._streamed:
                sink.devices_listed(await self.list_devices())
            self._streamed = True
            sink.connection_changed(True, None)
            await self._store.drain(sink, sorted(self._devices))
        finally:
            buffered, self._buffer = self._buffer, None
        for topic, data in buffered:
            self.dispatch(topic, data)
        # Deletions that failed while the server was unreachable: try them again.
        self._store.retry_deletions()
        self.live.set()
        # Status pushes are not stored: read each device's last status (in the background).
        self._background(self._read_statuses(sink, sorted(self._devices)))

    def _background(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine, name="orbiwise statuses")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read_statuses(self, sink: Sink, dev_euis: Sequence[str]) -> None:
        """Read the last DevStatusAns of each device (``GET …/status``) and report it."""
        semaphore = asyncio.Semaphore(DETAIL_CONCURRENCY)

        async def read(dev_eui: str) -> None:
            async with semaphore:
                try:
                    answer = await self._rest.request(
                        "GET", f"rest/nodes/{segment(dev_eui)}/status"
                    )
                    status = status_from_push(
                        {**as_dict(answer, "device status"), "DevEUI": dev_eui}
                    )
                except LnsError as err:
                    self._log.warning(
                        "status", "Cannot read the status of %s: %s", dev_eui, err.reason or err.key
                    )
                    return
            if status is not None:
                sink.device_status(status)

        await asyncio.gather(*(read(dev_eui) for dev_eui in dev_euis))

    def set_sender(self, send: Sender | None) -> None:
        """Use ``send`` for downlinks over the push channel (None: the channel is down)."""
        self._channel.set_sender(send)

    # --- REST push ----------------------------------------------------------------------------

    async def push_configuration(self) -> PushConfiguration | None:
        """Return the account's (or application's) push configuration, None when there is none."""
        return await self._push.configuration()

    async def foreign_push(self) -> PushConfiguration | None:
        """Return the push configuration set up elsewhere that REST push would replace, if any."""
        return await self._push.foreign()

    async def stop_push(self) -> None:
        """Stop the REST pushes this client started, if they are still as it set them."""
        await self._push.stop()

    # --- what the server pushes ---------------------------------------------------------------

    def receive(self, raw: str | bytes) -> None:
        """Handle one pushed message (``{"<topic>": {...}}``) from any transport."""
        try:
            message = as_dict(orjson.loads(raw), "message")
        except orjson.JSONDecodeError, ProtocolError:
            self._log.warning("json", "Dropped a message from %s that is not JSON", self.host)
            return
        for topic, data in message.items():
            if isinstance(data, Mapping):
                self.dispatch(topic, data)
            else:
                self._log.warning("shape", "Dropped a %s push that is not an object", topic)

    def dispatch(self, topic: str, data: Mapping[str, Any]) -> bool:
        """
        Deliver one push to the sink; a malformed push is logged and dropped.

        Returns False when nothing is running to take it, or for an uplink that was not
        delivered (malformed, or not the application's): the server should keep it.
        """
        sink = self._sink
        if sink is None:
            return False
        self._backoff.proven()
        try:
            return self._dispatch(sink, topic, data)
        except ProtocolError as err:
            self._log.warning(
                topic, "Dropped a malformed %s push from %s: %s", topic, self.host, err
            )
        return topic not in UPLINK_TOPICS

    async def accept_push(self, topic: str, body: Any, limit: float) -> bool:
        """
        Take a REST push; True once it was handed over (the receiver may then answer 200).

        An uplink pushed while the store is being drained waits for the drain, so that it is
        never acknowledged (and deleted by the server) before it was delivered. A push about a
        device missing from an application's list waits for the list to be read again.
        """
        if self._sink is None or not isinstance(body, Mapping):
            return False
        try:
            async with asyncio.timeout(limit):
                if topic in UPLINK_TOPICS:
                    await self.live.wait()
                if self._application and (dev_eui := self._unknown(body)) is not None:
                    if not self._foreign_recently(dev_eui):
                        await asyncio.shield(self._refreshed())
                    if dev_eui not in self._devices:
                        return False  # not the application's: the server keeps it
        except TimeoutError:
            return False
        return self.dispatch(topic, body)

    def _unknown(self, data: Mapping[str, Any]) -> str | None:
        """Return the DevEUI of a push about a device the last list did not have (else None)."""
        value = data.get("DevEUI")
        if value is None:
            return None
        try:
            dev_eui = eui(value, "DevEUI")
        except ProtocolError:
            return None  # the handler reports it
        return None if dev_eui in self._devices else dev_eui

    def _foreign_recently(self, dev_eui: str) -> bool:
        """Whether a recent device list showed this device outside the application."""
        seen = self._foreign.get(dev_eui)
        if seen is None:
            return False
        if time.monotonic() - seen < FOREIGN_MEMORY:
            return True
        del self._foreign[dev_eui]
        return False

    def _dispatch(self, sink: Sink, topic: str, data: Mapping[str, Any]) -> bool:
        tag = data.get("tag")
        if not self._channel.awaits(tag) and (dev_eui := self._unknown(data)) is not None:
            if not self._application:
                self._schedule_refresh()  # deliver now; the fresh list brings its name
            elif self._foreign_recently(dev_eui):
                return False  # another application's device: the account pushes them all
            else:
                # Perhaps added to the application since the list was read: ask again first.
                self._hold(topic, data)
                return False
        if topic in UPLINK_TOPICS:
            if self._buffer is not None:
                self._buffer.append((topic, data))
                return True
            self._store.deliver(sink, uplink_from_payload(data), payload_id(data))
        elif topic == "error":
            self._channel.refused(tag, push_error(data))
        elif topic in ("payloads_dl", "multicast"):
            if self._channel.answered(tag, data):
                return True
            sink.downlink_status(downlink_status(data, group=topic == "multicast"))
        elif topic == "nodeinfo":
            sink.device_updated(device_from_node(data))
        elif topic == "status":
            if (status := status_from_push(data)) is not None:
                sink.device_status(status)
        elif topic == "location":
            if (location := location_of(data, "location")) is not None:
                sink.device_location(eui(data.get("DevEUI"), "DevEUI"), location)
        elif topic == "joininfo":
            sink.joined(join_from_push(data))
        elif topic == "alarm":
            sink.alarm(alarm_from_push(data))
        # Other topics (join, future ones) are not used.
        return True

    def _hold(self, topic: str, data: Mapping[str, Any]) -> None:
        """Keep a push until the device list was read again."""
        if len(self._held) >= MAX_HELD:
            self._held.pop(0)
            self._log.warning(
                "held",
                "Too many pushes about unlisted devices: dropped the oldest "
                "(an uplink stays in the server's store)",
            )
        self._held.append((topic, data))
        self._schedule_refresh()

    def _schedule_refresh(self) -> asyncio.Task[None]:
        """Have the device list read again (or join the reading already on its way)."""
        task = self._refresh_task
        if task is None or task.done():
            task = self._refresh_task = asyncio.get_running_loop().create_task(
                self._refresh(), name="orbiwise device list"
            )
        return task

    async def _refreshed(self) -> None:
        """Wait for the device list to be read again (at most once per REFRESH_INTERVAL)."""
        await self._schedule_refresh()

    async def _refresh(self) -> None:
        """Read the device list again; deliver the held pushes its devices now cover."""
        while True:
            loop = asyncio.get_running_loop()
            wait = self._last_refresh + REFRESH_INTERVAL - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_refresh = loop.time()
            before = set(self._devices)
            try:
                devices = await self.list_devices()
            except LnsError as err:
                self._log.warning(
                    "refresh", "Cannot read the device list of %s again: %s", self.host, err
                )
                if not self._held:
                    return
                continue  # the held pushes wait for the next attempt
            break
        sink = self._sink
        if sink is None:
            return
        sink.devices_listed(devices)
        held, self._held = self._held, []
        now = time.monotonic()
        for _topic, data in held:
            if (dev_eui := self._unknown(data)) is not None:
                self._foreign[dev_eui] = now
        new = sorted(self._devices - before)
        if new and self.live.is_set():
            # Uplinks they sent before the list knew them are in the server's store.
            await self._store.drain(sink, new)
            self._background(self._read_statuses(sink, new))
        for topic, data in held:
            self.dispatch(topic, data)

    # --- actions ------------------------------------------------------------------------------

    async def send_downlink(self, downlink: Downlink) -> DownlinkResult:
        """
        Send a downlink over the push channel (REST when pushes come by REST).

        ``immediate`` is OrbiWAN's ``fail_on_busy``: OrbiWAN sends every downlink at the
        device's next opportunity and cannot send at once; ``fail_on_busy`` sends it only when
        nothing else is waiting (never behind out-of-date downlinks) and is refused otherwise.
        """
        if downlink.device_class is not None:
            raise Unsupported("OrbiWAN sends downlinks in the device's own class")
        mode = _MODES[downlink.mode]
        # "It is important to wait for the POST to complete before making a new POST":
        # one downlink (or multicast) at a time, whatever the channel.
        async with self._sending:
            try:
                if self.transport is Transport.REST_PUSH:
                    answer = await self._rest.request(
                        "POST",
                        f"rest/nodes/{segment(downlink.dev_eui)}/payloads/dl",
                        params={
                            "port": str(downlink.f_port),
                            "confirmed": "true" if downlink.confirmed else "false",
                            "mode": mode,
                            "data_format": "hex",
                        },
                        text=downlink.payload.hex(),
                    )
                else:
                    answer = await self._channel.request(
                        "payloads_dl",
                        {
                            "DevEUI": downlink.dev_eui,
                            "confirmed": downlink.confirmed,
                            "data": downlink.payload.hex(),
                            "data_format": "hex",
                            "port": downlink.f_port,
                            "mode": mode,
                        },
                    )
            except InvalidRequest as err:
                raise _busy(err, downlink.mode) from None
        return result_from_answer(as_dict(answer, "downlink answer"))

    async def set_device_class(self, dev_eui: str, device_class: LoRaClass) -> None:
        """Change the device's class (``lora_device_class``)."""
        await self._rest.request(
            "PUT",
            f"rest/nodes/{segment(dev_eui)}",
            json={"lora_device_class": CLASS_TO_ORBIWISE[device_class]},
        )

    async def request_device_status(self, dev_eui: str) -> None:
        """Ask for a DevStatusReq on the device's next uplink; the answer is pushed."""
        await self._rest.request("PUT", f"rest/nodes/{segment(dev_eui)}/status")

    async def create_multicast_group(self, setup: MulticastSetup) -> MulticastGroup:
        """Create a group named ``setup.name`` (its id), then add its members."""
        return await create_group(self._rest, self.name, setup, self._application)

    async def delete_multicast_group(self, group_id: str) -> None:
        """Delete a group (its devices stay)."""
        await delete_group(self._rest, group_id)

    async def add_to_multicast_group(self, group_id: str, dev_euis: Sequence[str]) -> None:
        """Add devices to a group, keeping their other groups."""
        await change_members(self._rest, group_id, dev_euis, "+")

    async def remove_from_multicast_group(self, group_id: str, dev_euis: Sequence[str]) -> None:
        """Remove devices from a group, keeping their other groups."""
        await change_members(self._rest, group_id, dev_euis, "-")

    async def send_multicast(
        self, group_id: str, f_port: int, payload: bytes, gateways: Sequence[str] = ()
    ) -> DownlinkResult:
        """Send a downlink to every device of a group (REST, or MQTT which answers with the id)."""
        no_gateways(self.name, gateways)
        path = f"rest/multicast/{segment(group_id)}"
        async with self._sending:
            try:
                if self.transport is not Transport.MQTT:
                    answer = await self._rest.request(
                        "POST",
                        path,
                        params={"port": str(f_port), "data_format": "hex"},
                        text=payload.hex(),
                    )
                else:
                    # The answer to a multicast comes back on MQTT only (the document's note).
                    answer = await self._channel.request(
                        "multicast",
                        {
                            "groupid": group_id,
                            "data": payload.hex(),
                            "data_format": "hex",
                            "port": f_port,
                        },
                    )
            except InvalidRequest as err:
                raise _busy(err, DownlinkMode.QUEUE) from None
        return result_from_answer(as_dict(answer, "multicast answer"))

    async def close(self) -> None:
        """Stop the REST pushes this client started; the connections close with ``run``'s end."""
        await self.stop_push()


def _first(*values: int | None) -> int | None:
    return next((value for value in values if value is not None), None)


def _busy(err: InvalidRequest, mode: DownlinkMode) -> InvalidRequest:
    """Name a 409 (the device's downlink queue is busy or full) for the mode used."""
    if err.code != 409:
        return err
    if mode is DownlinkMode.IMMEDIATE:
        return InvalidRequest(
            "other downlinks are waiting (immediate is fail_on_busy)",
            key="orbiwise_busy",
            code=409,
        )
    return InvalidRequest(
        err.reason or "the downlink queue is full", key="orbiwise_queue_full", code=409
    )
