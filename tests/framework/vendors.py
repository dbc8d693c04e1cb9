"""
Each vendor's real client against its simulator, feeding the LoRaWAN framework (no Home Assistant).

``FrameworkSink`` does for the framework what an entry's coordinator and ``FrameworkLink`` do, with
no Home Assistant: it takes what a running client delivers (devices, uplinks, joins, statuses,
downlink statuses, positions) and feeds a ``FrameworkFeed``. Downlinks the framework sends go to
the client directly: ``FrameworkLink``'s own path runs through ``downlink.py``, which needs the
entry's coordinator and raises Home Assistant's errors.

One driver per vendor makes its simulator do what the tests need (an uplink, a join, a status, an
acknowledgement, a position, a refused downlink) the way the vendor's document describes it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
import contextlib
import dataclasses
from datetime import UTC, datetime
from typing import ClassVar, Final
import uuid

import aiohttp
from aiohttp import web
from lorawan_connection import Downlink as FrameworkDownlink, DownlinkError

from custom_components.lorawan_hub.framework.connection import (
    DeviceFacts,
    FrameworkFeed,
    HubConnection,
    Identity,
)
from custom_components.lorawan_hub.lns.base import NetworkServer
from custom_components.lorawan_hub.lns.errors import LnsError
from custom_components.lorawan_hub.lns.iotsquare import IotSquareClient
from custom_components.lorawan_hub.lns.models import (
    DeviceStatus,
    Downlink,
    DownlinkStatus,
    JoinInfo,
    Location,
    ServerDevice,
    Uplink,
)
from custom_components.lorawan_hub.lns.netemera import NetemeraClient
from custom_components.lorawan_hub.lns.orbiwise import OrbiWiseClient
from custom_components.lorawan_hub.lns.orion import OrionClient
from custom_components.lorawan_hub.lns.senra import SenraClient
from simulator.iotsquare import IotSquareSimulator
from simulator.netemera import NetemeraSimulator
from simulator.orbiwise import OrbiWiseSimulator
from simulator.orion import OrionSimulator
from simulator.senra import SenraSimulator
from simulator.server import SimulatorServer
from tests.vendors.sink import RecordingSink, RunningClient

NETWORK: Final = "01KALIBRARYTESTENTRY000000"
"""The entry id the connection serves (the framework's ``network_id``)."""
DEVICE_PORT: Final = 1
"""The port of a device whose server does not report ports: the coordinator's default setting."""

type Send = Callable[[FrameworkDownlink], Awaitable[str]]
type Reception = tuple[str, float | None, float | None]
"""A gateway's id, RSSI and SNR."""
type SentDownlink = tuple[str, int, bytes, bool]
"""What a simulator accepted: DevEUI (upper case), port, payload, confirmed."""


class FrameworkSink(RecordingSink):
    """Feeds the framework from a running client, as the coordinator and ``FrameworkLink`` do."""

    def __init__(
        self,
        client: NetworkServer,
        application_id: str,
        identities: Mapping[str, Identity] | None = None,
    ) -> None:
        """Feed a new ``FrameworkFeed``; ``identities`` are the devices' chosen models."""
        super().__init__()
        self.client = client
        self.application_id = application_id
        self.identities = dict(identities or {})
        self.known: dict[str, ServerDevice] = {}
        """What the server told about each device (its list, then its news)."""
        self.registrations: list[HubConnection] = []
        """The connections handed over for registration, newest last."""
        self.sent: list[str] = []
        """The id returned for each downlink the framework sent."""
        self.feed = FrameworkFeed(NETWORK, self.send, self.registrations.append)

    def facts(self, info: ServerDevice) -> DeviceFacts:
        """Return what the framework is told about a device."""
        return DeviceFacts(
            dev_eui=info.dev_eui,
            name=info.name or info.dev_eui,
            application_id=self.application_id,
            profile_id=info.profile or "",
            identity=self.identities.get(info.dev_eui),
        )

    def _known(self, dev_eui: str) -> ServerDevice:
        """Return a device, made known from its first event as the coordinator does."""
        if (info := self.known.get(dev_eui)) is None:
            info = self.known[dev_eui] = ServerDevice(dev_eui=dev_eui)
            self.feed.set_device(self.facts(info))
        return info

    def connection_changed(self, connected: bool, reason: str | None) -> None:
        """Follow the realtime connection."""
        super().connection_changed(connected, reason)
        self.feed.connection_changed(connected)

    def devices_listed(self, devices: Sequence[ServerDevice]) -> None:
        """Tell the device list (a device missing from it stays until it is stale)."""
        super().devices_listed(devices)
        self.known.update((device.dev_eui, device) for device in devices)
        self.feed.set_devices([self.facts(info) for info in self.known.values()])
        for device in devices:
            if device.location is not None:
                self.device_location(device.dev_eui, device.location)

    def device_updated(self, info: ServerDevice) -> None:
        """Tell news about a device; what it leaves out stays as it was."""
        super().device_updated(info)
        known = self._known(info.dev_eui)
        changes = {
            field.name: value
            for field in dataclasses.fields(info)
            if (value := getattr(info, field.name)) is not None
        }
        merged = self.known[info.dev_eui] = dataclasses.replace(known, **changes)
        self.feed.set_device(self.facts(merged))
        if info.location is not None:
            self.device_location(info.dev_eui, info.location)

    def uplink(self, uplink: Uplink) -> None:
        """Tell an uplink not seen before; without a port from the server, the device's own."""
        self._known(uplink.dev_eui)
        if (uplink.f_cnt, uplink.received_at) in self.recent_uplinks(uplink.dev_eui):
            return
        if uplink.f_port is None:
            uplink.f_port = DEVICE_PORT
        super().uplink(uplink)
        self.feed.uplink(uplink)

    def joined(self, join: JoinInfo) -> None:
        """Tell a join, with the session's DevAddr where the server gives it."""
        super().joined(join)
        dev_addr = join.dev_addr or self._known(join.dev_eui).dev_addr
        self.feed.joined(join.dev_eui, dev_addr or "", datetime.now(UTC))

    def device_status(self, status: DeviceStatus) -> None:
        """Tell a device's battery and margin."""
        self._known(status.dev_eui)
        super().device_status(status)
        self.feed.device_status(status, datetime.now(UTC))

    def downlink_status(self, status: DownlinkStatus) -> None:
        """Tell a device's downlink status (a multicast one is no device's)."""
        super().downlink_status(status)
        if status.dev_eui in self.known:
            self.feed.downlink_status(status)

    def device_location(self, dev_eui: str, location: Location) -> None:
        """Tell a device's position when it moved."""
        if self.locations.get(dev_eui) == location:
            return
        self._known(dev_eui)
        super().device_location(dev_eui, location)
        self.feed.location(dev_eui, location, datetime.now(UTC))

    async def send(self, downlink: FrameworkDownlink) -> str:
        """Send the framework's downlink through the client; a refusal in the vendor's words."""
        dev_eui = downlink.dev_eui.upper()
        name = self.client.name
        if dev_eui not in self.known:
            raise DownlinkError(f"{dev_eui} is not a device of this {name} entry")
        if not self.up:
            raise DownlinkError(f"the connection to {name} is lost")
        if downlink.expires_at is not None:
            raise DownlinkError(f"{name} has no expiry for queued downlinks")
        try:
            result = await self.client.send_downlink(
                Downlink(
                    dev_eui=dev_eui,
                    f_port=downlink.f_port,
                    payload=downlink.data,
                    confirmed=downlink.confirmed,
                )
            )
        except LnsError as err:
            raise DownlinkError(err.reason or err.key) from err
        # Acknowledgements carry the vendor's message id; without one, a local id.
        message_id = result.message_id or f"local:{uuid.uuid4()}"
        self.sent.append(message_id)
        self._touch()
        return message_id


class PushReceiver(SimulatorServer):
    """Takes what a vendor pushes over HTTP and hands it to the client, as ``push.py`` does."""

    def __init__(self, client: NetworkServer) -> None:
        """Receive at ``/push`` and ``/push/<kind>`` for ``client``."""
        app = web.Application()
        app.router.add_post("/push", self._take)
        app.router.add_post("/push/{kind}", self._take)
        super().__init__(app)
        self._client = client

    async def _take(self, request: web.Request) -> web.Response:
        taken = await self._client.accept_push(
            request.match_info.get("kind", ""), await request.json(), 10
        )
        return web.Response(status=200 if taken else 503)


class Driver(ABC):
    """One vendor's simulator and client, run the way an entry runs them."""

    vendor: ClassVar[str]
    devices: ClassVar[Mapping[str, str]]
    """DevEUI → the name the server lists."""
    profiles: ClassVar[Mapping[str, str]] = {}
    """DevEUI → the device profile the server lists (a vendor without profiles: none)."""
    device: ClassVar[str]
    """The device the tests use."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        """Use ``session`` for the client."""
        self.session = session

    @property
    @abstractmethod
    def application_id(self) -> str:
        """The application the entry is for."""

    @abstractmethod
    def client(self) -> NetworkServer:
        """Return a client of the simulator."""

    @contextlib.asynccontextmanager
    async def running(self, sink: FrameworkSink) -> AsyncIterator[None]:
        """
        Run the client into ``sink`` as an entry does: list the devices, then follow the server.

        Ready once the client delivers what the server sends.
        """
        sink.devices_listed(await sink.client.list_devices())
        running = RunningClient(sink.client, sink)
        try:
            await self.ready(sink)
            yield
        finally:
            await running.stop()
            await sink.client.close()

    @abstractmethod
    async def ready(self, sink: FrameworkSink) -> None:
        """Wait until the running client delivers what the server sends."""

    @abstractmethod
    async def uplink(self, dev_eui: str, payload: bytes, f_port: int) -> list[Reception]:
        """Have the device send an uplink; return the receptions the server reports with it."""

    @abstractmethod
    def downlinks(self) -> list[SentDownlink]:
        """Return the downlinks the server accepted, oldest first."""

    @abstractmethod
    async def refusal(self, send: Send) -> tuple[FrameworkDownlink, str]:
        """Return a downlink the vendor refuses (after ``send``-ing what it takes), and why."""

    async def join(self, dev_eui: str) -> str:
        """Have the device join; return the DevAddr the framework is told."""
        raise NotImplementedError(f"{self.vendor} reports no joins")

    async def report_status(self, dev_eui: str) -> tuple[float, int]:
        """Have the device report its status; return the battery (percent) and margin told."""
        raise NotImplementedError(f"{self.vendor} reports no device status")

    async def acknowledge_last(self, dev_eui: str) -> None:
        """Have the device acknowledge the last downlink the server sent it."""
        raise NotImplementedError(f"{self.vendor} reports no acknowledgements")

    async def locate(self) -> tuple[str, Location]:
        """Have the server tell a device's position; return the device and the position."""
        raise NotImplementedError(f"{self.vendor} reports no positions")


class OrionDriver(Driver):
    """OrionM2M: the tests' shared simulator (three devices, one with coordinates)."""

    vendor = "orion"
    devices: ClassVar[Mapping[str, str]] = {
        "70B3D57ED0000001": "Living room climate",
        "70B3D57ED0000002": "Front door",
        "70B3D57ED0000003": "Garden tracker",
    }
    device = "70B3D57ED0000001"
    tracker = "70B3D57ED0000003"

    def __init__(self, session: aiohttp.ClientSession, simulator: OrionSimulator) -> None:
        """Drive ``simulator``."""
        super().__init__(session)
        self.simulator = simulator

    @property
    def application_id(self) -> str:
        """The Orion application."""
        return self.simulator.app_id

    def client(self) -> NetworkServer:
        """Return a client of the simulator's application."""
        orion = self.simulator
        return OrionClient(self.session, orion.url, orion.app_id, orion.token)

    async def ready(self, sink: FrameworkSink) -> None:
        """Subscribed, and the server's device coordinates read (3.21)."""
        await sink.wait_for(lambda: sink.up and self.tracker in sink.locations)

    async def uplink(self, dev_eui: str, payload: bytes, f_port: int) -> list[Reception]:
        """``realtime_data`` (3.11): one gateway, its RSSI and SNR; no port."""
        await self.simulator.emit_uplink(
            dev_eui, payload, rssi=-70, lsnr=9.5, gateway_id="0000B827EBFD64DE"
        )
        return [("0000B827EBFD64DE", -70.0, 9.5)]

    def downlinks(self) -> list[SentDownlink]:
        """``downlink_data_req`` as received (3.18): no confirmed flag exists."""
        return [
            (sent.dev_eui, sent.fport or 0, bytes.fromhex(sent.data_hex), False)
            for sent in self.simulator.downlinks
        ]

    async def refusal(self, send: Send) -> tuple[FrameworkDownlink, str]:
        """A payload longer than the device's data rate takes (3.18, ``error_code`` 4)."""
        size = self.simulator.devices[self.device].max_dl_size + 1
        return (
            FrameworkDownlink(self.device.lower(), 2, bytes(size)),
            "Payload max size exceed for current SF",
        )

    async def locate(self) -> tuple[str, Location]:
        """The coordinates the server keeps (3.21), read at each connection."""
        return self.tracker, Location(43.2218, 76.8975)


class OrbiWiseDriver(Driver):
    """OrbiWise OrbiWAN: two devices, pushes over the WebSocket."""

    vendor = "orbiwise"
    devices: ClassVar[Mapping[str, str]] = {
        "70B3D57ED0000001": "Climate",
        "70B3D57ED0000002": "Door",
    }
    profiles: ClassVar[Mapping[str, str]] = {
        "70B3D57ED0000001": "2f0ea3a4-6d35-4c3e-9a2d-2b8c3e0e5a11"
    }
    device = "70B3D57ED0000001"

    def __init__(self, session: aiohttp.ClientSession, simulator: OrbiWiseSimulator) -> None:
        """Drive ``simulator``."""
        super().__init__(session)
        self.simulator = simulator
        self._client: OrbiWiseClient | None = None

    @property
    def application_id(self) -> str:
        """The whole account (no application chosen)."""
        return ""

    def client(self) -> NetworkServer:
        """Return a client of the simulated account, pushed to over the WebSocket."""
        orbiwise = self.simulator
        self._client = OrbiWiseClient(
            self.session, orbiwise.url, username=orbiwise.username, password=orbiwise.password
        )
        return self._client

    async def ready(self, sink: FrameworkSink) -> None:
        """The store drained, the WebSocket registered for pushes."""
        assert self._client is not None
        await sink.wait_for(lambda: sink.up)
        await self._client.live.wait()
        await self.simulator.wait_for(lambda: self.simulator.websocket_count == 1)

    async def uplink(self, dev_eui: str, payload: bytes, f_port: int) -> list[Reception]:
        """``payloads_ul`` with ``gtw_info``: every gateway, its RSSI and SNR."""
        self.simulator.publish(dev_eui, payload, port=f_port)
        return [("0000000012340000", -97.0, 7.5), ("0000000012350000", -110.0, -3.0)]

    def downlinks(self) -> list[SentDownlink]:
        """The unicast downlinks queued."""
        return [
            (sent.target, sent.port, sent.payload, sent.confirmed)
            for sent in self.simulator.downlinks
            if not sent.multicast
        ]

    async def refusal(self, send: Send) -> tuple[FrameworkDownlink, str]:
        """The eleventh outstanding downlink: the queue holds ten (``enqueue_on_busy``, 409)."""
        for index in range(10):
            await send(FrameworkDownlink(self.device.lower(), 2, bytes([index])))
        return FrameworkDownlink(self.device.lower(), 2, b"\x0a"), "queue busy or full"

    async def join(self, dev_eui: str) -> str:
        """``joininfo``: the join accepted; it carries no DevAddr, nor does the device list."""
        self.simulator.push_joininfo(dev_eui, "JOIN_ACCEPTED")
        return ""

    async def report_status(self, dev_eui: str) -> tuple[float, int]:
        """``status``: battery 254 (the LoRaWAN maximum: 100 %) and a margin of 12 dB."""
        self.simulator.push_status(dev_eui, battery=254, margin=12)
        return 100.0, 12

    async def acknowledge_last(self, dev_eui: str) -> None:
        """``payloads_dl`` with ``transmissionStatus`` 2: sent and acknowledged by the device."""
        last = next(sent for sent in reversed(self.simulator.downlinks) if sent.target == dev_eui)
        self.simulator.advance_downlink(last.id, 2)

    async def locate(self) -> tuple[str, Location]:
        """``location``: a position the location solver estimated."""
        self.simulator.push_location(self.device, 46.2, 6.15)
        return self.device, Location(46.2, 6.15)


class NetemeraDriver(Driver):
    """Netemera: the tests' shared simulator (one application of two devices), SSE uplinks."""

    vendor = "netemera"
    devices: ClassVar[Mapping[str, str]] = {
        "70B3D57ED0000101": "Office climate",
        "70B3D57ED0000102": "Office door",
    }
    profiles: ClassVar[Mapping[str, str]] = {
        "70B3D57ED0000101": "profile-a",
        "70B3D57ED0000102": "profile-a",
    }
    device = "70B3D57ED0000101"

    def __init__(
        self, session: aiohttp.ClientSession, simulator: NetemeraSimulator, application: str
    ) -> None:
        """Drive ``simulator``'s ``application``."""
        super().__init__(session)
        self.simulator = simulator
        self.application = application

    @property
    def application_id(self) -> str:
        """The Netemera application."""
        return self.application

    def client(self) -> NetworkServer:
        """Return a client following the application's uplink stream."""
        netemera = self.simulator
        return NetemeraClient(
            self.session,
            netemera.api_url,
            netemera.token_url,
            client_id=netemera.client_id,
            client_secret=netemera.client_secret,
            application_id=self.application,
            read_timeout=5,
        )

    async def ready(self, sink: FrameworkSink) -> None:
        """The application's uplink stream open."""
        await self.simulator.wait_for_streams(1)
        await sink.wait_for(lambda: sink.up)

    async def uplink(self, dev_eui: str, payload: bytes, f_port: int) -> list[Reception]:
        """An Uplink Packet with ``gwInfo``: every gateway (its id in upper case), RSSI and SNR."""
        self.simulator.publish(dev_eui, payload, f_port=f_port)
        return [("7276FF002E0400E8", -80.0, 9.5), ("7276FF002E0400E9", -112.0, -6.25)]

    def downlinks(self) -> list[SentDownlink]:
        """The Downlink Packets posted."""
        return [
            (sent.dev_eui, sent.f_port, sent.payload, sent.confirmed)
            for sent in self.simulator.downlinks
        ]

    async def refusal(self, send: Send) -> tuple[FrameworkDownlink, str]:
        """
        The document's one refusal of a downlink: "401 Bad Request — Request validation failed".

        Ports are 1 to 223 as for the framework, no size limit is documented: nothing the
        framework can send is invalid, so the simulator is told to refuse it (to the token in use
        and to the one renewed after it).
        """
        path = f"/downlink-packets/end-devices/{self.device.lower()}"
        self.simulator.fail_next(401, 401, path=path, method="POST")
        return FrameworkDownlink(self.device.lower(), 2, b"\x01"), "Request validation failed"

    async def acknowledge_last(self, dev_eui: str) -> None:
        """An uplink whose ``ack`` acknowledges "the last downlink packet"."""
        self.simulator.publish(dev_eui, b"\x00", extra={"ack": True})


class SenraDriver(Driver):
    """SenRa: two devices; notifications pushed over HTTP."""

    vendor = "senra"
    devices: ClassVar[Mapping[str, str]] = {
        "70B3D57ED0000501": "Water meter",
        "70B3D57ED0000502": "Garden valve",
    }
    profiles: ClassVar[Mapping[str, str]] = {"70B3D57ED0000501": "12"}
    device = "70B3D57ED0000501"

    def __init__(self, session: aiohttp.ClientSession, simulator: SenraSimulator) -> None:
        """Drive ``simulator``."""
        super().__init__(session)
        self.simulator = simulator

    @property
    def application_id(self) -> str:
        """The SenRa application's EUI."""
        return self.simulator.app_eui

    def client(self) -> NetworkServer:
        """Return a client of the simulated application."""
        senra = self.simulator
        return SenraClient(self.session, senra.url, senra.api_key, senra.app_eui)

    @contextlib.asynccontextmanager
    async def running(self, sink: FrameworkSink) -> AsyncIterator[None]:
        """Run, with the notification target pointing at a receiver."""
        async with PushReceiver(sink.client) as receiver, super().running(sink):
            self.simulator.notify_to(f"{receiver.base_url}/push", {"Authorization": "k"})
            yield

    async def ready(self, sink: FrameworkSink) -> None:
        """Taking pushes."""
        await sink.wait_for(lambda: sink.up)

    async def uplink(self, dev_eui: str, payload: bytes, f_port: int) -> list[Reception]:
        """A notification with RF fields: the gateway that relayed it, its RSSI and SNR."""
        await self.simulator.push(self.simulator.notification(dev_eui, payload, port=f_port))
        return [("00800000A0001234", -77.0, 8.5)]

    def downlinks(self) -> list[SentDownlink]:
        """The ``sendmsg`` requests taken."""
        return [
            (sent.dev_eui, sent.port, sent.pdu, sent.confirmed) for sent in self.simulator.downlinks
        ]

    async def refusal(self, send: Send) -> tuple[FrameworkDownlink, str]:
        """A device deleted on the server since it was listed: ``sendmsg``'s documented 404."""
        del self.simulator.devices[self.device]
        return FrameworkDownlink(self.device.lower(), 2, b"\x01"), "Device EUI was not found"

    async def acknowledge_last(self, dev_eui: str) -> None:
        """A notification with ``ack`` and ``ackDnMsgId``: the message the device acknowledged."""
        last = next(sent for sent in reversed(self.simulator.downlinks) if sent.dev_eui == dev_eui)
        notification = self.simulator.notification(
            dev_eui, b"\x00", ack=True, ackDnMsgId=last.msg_id
        )
        await self.simulator.push(notification)

    async def locate(self) -> tuple[str, Location]:
        """A notification with the estimated position (``estLat``/``estLng``)."""
        notification = self.simulator.notification(self.device, b"\x00", estLat=40.5, estLng=-73.9)
        await self.simulator.push(notification)
        return self.device, Location(40.5, -73.9)


class IotSquareDriver(Driver):
    """IoTSquare: the tests' shared simulator (application 89, two devices), HTTP pushes."""

    vendor = "iotsquare"
    devices: ClassVar[Mapping[str, str]] = {
        "90B96DADCE96A06A": "Basement meter",
        "55E1032590DC5682": "Street lamp",
    }
    device = "90B96DADCE96A06A"

    def __init__(self, session: aiohttp.ClientSession, simulator: IotSquareSimulator) -> None:
        """Drive ``simulator``."""
        super().__init__(session)
        self.simulator = simulator

    @property
    def application_id(self) -> str:
        """The IoTSquare application's id."""
        return "89"

    def client(self) -> NetworkServer:
        """Return a client of application 89."""
        return IotSquareClient(self.session, self.simulator.url, self.simulator.token, 89)

    @contextlib.asynccontextmanager
    async def running(self, sink: FrameworkSink) -> AsyncIterator[None]:
        """Run, with the application's push link pointing at a receiver."""
        async with PushReceiver(sink.client) as receiver, super().running(sink):
            self.simulator.apps[89].push_url = f"{receiver.base_url}/push"
            yield

    async def ready(self, sink: FrameworkSink) -> None:
        """Taking pushes."""
        await sink.wait_for(lambda: sink.up)

    async def uplink(self, dev_eui: str, payload: bytes, f_port: int) -> list[Reception]:
        """An uplink push with ``gws``: every gateway (its id in upper case), RSSI and SNR."""
        await self.simulator.push_uplink(dev_eui, payload, f_port=f_port)
        return [("B827EBFFFE9AAE48", -97.0, -9.0), ("0016C001FF10A235", -109.0, -14.2)]

    def downlinks(self) -> list[SentDownlink]:
        """The ``device/downlink/create`` requests taken."""
        return [
            (dev_eui.upper(), port, data, confirmed)
            for dev_eui, port, data, confirmed, _f_cnt in self.simulator.downlinks
        ]

    async def refusal(self, send: Send) -> tuple[FrameworkDownlink, str]:
        """Port 200, which IoTSquare reserves ("fPort is 1~199, 201~223", 4.2.1)."""
        return FrameworkDownlink(self.device.lower(), 200, b"\x01"), "IoTSquare reserves port 200"

    async def join(self, dev_eui: str) -> str:
        """A join push with the DevAddr the device was given."""
        await self.simulator.push_join(dev_eui)
        return self.simulator.devices[dev_eui.lower()].dev_addr.upper()
