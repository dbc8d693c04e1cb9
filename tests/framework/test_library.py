"""
Each vendor's connection, seen by the ``lorawan-connection`` library itself (no Home Assistant).

The vendor's real client runs against its simulator over real sockets; ``FrameworkSink`` feeds
what it delivers into a ``FrameworkFeed``; the library's generic ``DeviceCollection`` (every device,
no models) and SenseCAP's device library subscribe to the resulting connection.

What each vendor reports differs, by its document (``REPORTS``): the tests of a kind of event run
for the vendors that report it, and ``test_the_table_is_what_clients_and_drivers_do`` keeps the
table, the clients and the simulator drivers in step.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import re

import aiohttp
from lorawan_connection import (
    AckEvent,
    AddedEvent,
    Device,
    DeviceCollection,
    DeviceDescriptor,
    DeviceEvent,
    Downlink,
    DownlinkError,
    JoinEvent,
    LocationEvent,
    StatusEvent,
    UplinkEvent,
)
import pytest
from sensecap_lorawan import S2101, SenseCapDeviceCollection

from custom_components.lorawan_hub.framework.connection import STACK, HubConnection, Identity
from custom_components.lorawan_hub.lns.models import Capability
from simulator.iotsquare import IotSquareSimulator
from simulator.netemera import NetemeraSimulator
from simulator.orbiwise import OrbiWiseSimulator
from simulator.orion import OrionSimulator
from simulator.senra import SenraSimulator
from tests.conftest import NETEMERA_APP

from .vendors import (
    DEVICE_PORT,
    NETWORK,
    Driver,
    FrameworkSink,
    IotSquareDriver,
    NetemeraDriver,
    OrbiWiseDriver,
    OrionDriver,
    SenraDriver,
)


@dataclass(frozen=True, slots=True)
class Reports:
    """What a vendor's server tells about its devices, by its document."""

    port: bool
    """Uplinks carry their port (otherwise it is each device's setting, 1 by default)."""
    joins: bool
    status: bool
    """Battery and margin (LoRaWAN DevStatusAns)."""
    confirmed: bool
    """Downlinks can be confirmed."""
    acks: bool
    """A device's acknowledgement of a confirmed downlink is reported."""
    locations: bool
    profiles: bool
    """The device list names each device's profile."""


# Documents in /work/shared/specs: 000 Orion, 001 OrbiWise, 002 Netemera, 003 SenRa, 004 IoTSquare;
# vendor-notes.md adds IoTSquare's push bodies. Every vendor's uplinks carry one reception per
# gateway with RSSI and SNR (Orion and SenRa: the one gateway they name).
REPORTS: dict[str, Reports] = {
    "orion": Reports(
        # realtime_data (000:903-957) has no port and no join, status or acknowledgement message
        # exists (000:131-154, the commands); downlink_data_req (000:1258-1275) has no confirmed
        # flag, and downlink_ack_req (3.19, 000:1329) tells when a downlink was sent, not that
        # the device acknowledged it; get_device_coordinates_req (3.21, 000:1452); get_devices_resp
        # (3.7, 000:489-514) names no profile (a tariff_code is given only at creation, 000:582).
        port=False,
        joins=False,
        status=False,
        confirmed=False,
        acks=False,
        locations=True,
        profiles=False,
    ),
    "orbiwise": Reports(
        # payloads_ul "port" (001:1048-1074); Join-Info (001:1256-1287); Device Status Update
        # (001:1180-1200); confirmed downlinks and transmissionStatus 2/3, acknowledged or not
        # (001:880-890, pushed as payloads_dl 001:1105); Geo-Location Info (001:1289-1305); the
        # registration's device_profile_uuid (001:342, 001:397).
        port=True,
        joins=True,
        status=True,
        confirmed=True,
        acks=True,
        locations=True,
        profiles=True,
    ),
    "netemera": Reports(
        # Uplink Packet fPort and ack, "the acknowledgment of the last downlink packet"
        # (002:1488-1503); Downlink Packet confirmed (002:1723); activations are read, never
        # pushed (002:1256); nothing about battery, margin or positions; the End-Device's
        # deviceProfileId (002:984, its sample 002:1041).
        port=True,
        joins=False,
        status=False,
        confirmed=True,
        acks=True,
        locations=False,
        profiles=True,
    ),
    "senra": Reports(
        # Notification fields port, ackDnMsgId, estLat/estLng, cfgLat/cfgLng (003:31-60); joinId
        # numbers the last join (003:34) but no message reports one; sendmsg confirmed (003:151);
        # the export's profId (003:648-650), "the Device Profile ID" (003:287).
        port=True,
        joins=False,
        status=False,
        confirmed=True,
        acks=True,
        locations=True,
        profiles=True,
    ),
    "iotsquare": Reports(
        # Pushes to <pushURL>/uplink and /join (004:32; bodies in vendor-notes.md: the uplink's
        # fPort and gws, the join's devAddr; the /status body is not described); downlink
        # confirmed, the device sets the ack bit of its next uplink (004:913-926), which no push
        # carries; no position in any message; device/list names no profile (004:430-444: its
        # productType is the kind of product, a relay, an RS485 unit or "lorawan").
        port=True,
        joins=True,
        status=False,
        confirmed=True,
        acks=False,
        locations=False,
        profiles=False,
    ),
}
VENDORS = tuple(REPORTS)


def vendors_that(report: str) -> list[str]:
    """Return the vendors whose ``REPORTS`` entry says ``report``."""
    return [vendor for vendor, reports in REPORTS.items() if getattr(reports, report)]


PAYLOAD = b"\x01\x02\x03\xfe"
S2101_IDENTITY = Identity(
    brand_id="sensecap",
    model_id="sensecaps2101-temp-humid",
    manufacturer="SenseCAP",
    model="SenseCAP S2101",
)
# The repository's S2101 capture (21.4 °C, 31.4 %) on port 1.
S2101_CAPTURE = bytes.fromhex("01011098530000010210A87A0000AF51")


class RecordingDevice(Device):
    """The library's base device, keeping every event it is given."""

    def __init__(self, descriptor: DeviceDescriptor) -> None:
        """Start without events."""
        super().__init__(descriptor)
        self.events: list[DeviceEvent] = []

    def handle_event(self, event: DeviceEvent) -> None:
        """Keep the event."""
        self.events.append(event)

    def of[EventT](self, kind: type[EventT]) -> list[EventT]:
        """Return the events of one kind, in order."""
        return [event for event in self.events if isinstance(event, kind)]


class RecordingCollection(DeviceCollection[RecordingDevice]):
    """The library's generic collection (no models: every device), with recording devices."""

    def _create_device(self, descriptor: DeviceDescriptor) -> RecordingDevice:
        return RecordingDevice(descriptor)


@dataclass(slots=True)
class Linked:
    """A running client, its connection, and the collection subscribed to it."""

    sink: FrameworkSink
    connection: HubConnection
    collection: RecordingCollection

    def device(self, dev_eui: str) -> RecordingDevice:
        """Return the collection's device."""
        return self.collection.devices[dev_eui.lower()]


@pytest.fixture
async def orbiwise() -> AsyncIterator[OrbiWiseSimulator]:
    """An OrbiWAN account with two devices."""
    simulator = OrbiWiseSimulator()
    for dev_eui, name in OrbiWiseDriver.devices.items():
        profile = OrbiWiseDriver.profiles.get(dev_eui, "")
        simulator.add_node(dev_eui, comment=name, device_profile_uuid=profile)
    async with simulator:
        yield simulator


@pytest.fixture
async def senra() -> AsyncIterator[SenraSimulator]:
    """A SenRa application with two devices."""
    simulator = SenraSimulator()
    for dev_eui, name in SenraDriver.devices.items():
        profile = SenraDriver.profiles.get(dev_eui)
        simulator.add_device(dev_eui, metadata=name, prof_id=int(profile) if profile else None)
    async with simulator:
        yield simulator


@pytest.fixture
def driver(request: pytest.FixtureRequest, http_session: aiohttp.ClientSession) -> Driver:
    """The driver of the vendor the test is parametrized with (``indirect``)."""
    vendor: str = request.param
    if vendor == "orion":
        orion: OrionSimulator = request.getfixturevalue("orion")
        return OrionDriver(http_session, orion)
    if vendor == "orbiwise":
        orbiwise: OrbiWiseSimulator = request.getfixturevalue("orbiwise")
        return OrbiWiseDriver(http_session, orbiwise)
    if vendor == "netemera":
        netemera: NetemeraSimulator = request.getfixturevalue("netemera")
        return NetemeraDriver(http_session, netemera, NETEMERA_APP)
    if vendor == "senra":
        senra: SenraSimulator = request.getfixturevalue("senra")
        return SenraDriver(http_session, senra)
    iotsquare: IotSquareSimulator = request.getfixturevalue("iotsquare")
    return IotSquareDriver(http_session, iotsquare)


@pytest.fixture
async def linked(driver: Driver) -> AsyncIterator[Linked]:
    """The vendor's client running, its connection registered, a generic collection on it."""
    sink = FrameworkSink(driver.client(), driver.application_id)
    async with driver.running(sink):
        connection = sink.registrations[-1]
        # As the framework registers a connection: it subscribes, then the events follow.
        collection = RecordingCollection(connection)
        await collection.async_setup()
        sink.feed.registered(connection)
        yield Linked(sink, connection, collection)
        collection.close()


def with_vendors(vendors: Sequence[str]) -> pytest.MarkDecorator:
    """Run the test once per vendor, with its driver."""
    return pytest.mark.parametrize("driver", vendors, indirect=True)


@with_vendors(VENDORS)
async def test_the_table_is_what_clients_and_drivers_do(driver: Driver) -> None:
    """``REPORTS`` says what the clients declare and what the simulators' drivers can make."""
    reports = REPORTS[driver.vendor]
    client = driver.client()
    assert client.reports_port is reports.port
    assert (Capability.DEVICE_STATUS in client.capabilities) is reports.status
    assert (Capability.LOCATION in client.capabilities) is reports.locations
    if reports.acks:
        assert Capability.DOWNLINK_ACK in client.capabilities
    await client.close()

    def made(method: str) -> bool:
        return getattr(type(driver), method) is not getattr(Driver, method)

    assert {
        "joins": made("join"),
        "status": made("report_status"),
        "acks": made("acknowledge_last"),
        "locations": made("locate"),
        "profiles": bool(driver.profiles),
    } == {
        "joins": reports.joins,
        "status": reports.status,
        "acks": reports.acks,
        "locations": reports.locations,
        "profiles": reports.profiles,
    }


@with_vendors(VENDORS)
async def test_the_inventory(driver: Driver, linked: Linked) -> None:
    """Every device the server lists arrives first, as an AddedEvent: its name, its profile."""
    first = {dev_eui: device.events[0] for dev_eui, device in linked.collection.devices.items()}
    added = {eui: event for eui, event in first.items() if isinstance(event, AddedEvent)}
    assert added.keys() == first.keys()
    assert {dev_eui: event.descriptor.name for dev_eui, event in added.items()} == {
        dev_eui.lower(): name for dev_eui, name in driver.devices.items()
    }
    assert {dev_eui: event.descriptor.profile_id for dev_eui, event in added.items()} == {
        dev_eui.lower(): driver.profiles.get(dev_eui, "") for dev_eui in driver.devices
    }
    for event in added.values():
        descriptor = event.descriptor
        assert (descriptor.network_id, descriptor.stack, descriptor.application_id) == (
            NETWORK,
            STACK,
            driver.application_id,
        )


@with_vendors(VENDORS)
async def test_an_uplink_with_its_receptions(driver: Driver, linked: Linked) -> None:
    """The payload, the port and one reception per gateway, with its RSSI and SNR."""
    sink = linked.sink
    receptions = await driver.uplink(driver.device, PAYLOAD, 7)
    await sink.wait_for(lambda: len(sink.uplinks) == 1)
    (uplink,) = linked.device(driver.device).of(UplinkEvent)
    assert uplink.data == PAYLOAD
    assert uplink.f_port == (7 if REPORTS[driver.vendor].port else DEVICE_PORT)
    assert [(r.gateway_id, r.rssi, r.snr) for r in uplink.receptions] == receptions
    assert uplink.received_at == sink.uplinks[0].received_at


@with_vendors(vendors_that("joins"))
async def test_joins(driver: Driver, linked: Linked) -> None:
    """A join, with the DevAddr the server tells (none where it tells none)."""
    sink = linked.sink
    dev_addr = await driver.join(driver.device)
    await sink.wait_for(lambda: len(sink.joins) == 1)
    (join,) = linked.device(driver.device).of(JoinEvent)
    assert join.dev_addr == dev_addr


@with_vendors(vendors_that("status"))
async def test_device_status(driver: Driver, linked: Linked) -> None:
    """The battery and margin a device reported."""
    sink = linked.sink
    battery, margin = await driver.report_status(driver.device)
    await sink.wait_for(lambda: bool(sink.device_statuses))
    device = linked.device(driver.device)
    # The status the server keeps is also read at each connection: told once or twice.
    assert {(status.battery_level, status.margin) for status in device.of(StatusEvent)} == {
        (battery, margin)
    }
    assert (device.battery_level, device.downlink_margin, device.external_power_source) == (
        battery,
        margin,
        False,
    )


@with_vendors(vendors_that("acks"))
async def test_acknowledgements(driver: Driver, linked: Linked) -> None:
    """A confirmed downlink's acknowledgement names the id ``async_send_downlink`` returned."""
    sink = linked.sink
    device = linked.device(driver.device)
    message_id = await linked.connection.async_send_downlink(
        Downlink(driver.device.lower(), 3, b"\x01", confirmed=True)
    )
    await driver.acknowledge_last(driver.device)
    await sink.wait_for(lambda: bool(device.of(AckEvent)))
    (ack,) = device.of(AckEvent)
    assert (ack.queue_item_id, ack.acknowledged) == (message_id, True)
    # The library's own wait for the acknowledgement of a command ends with it.
    waiting = asyncio.create_task(device.async_send_downlink(data=b"\x02", f_port=3))
    await sink.wait_for(lambda: len(sink.sent) == 2)
    await driver.acknowledge_last(driver.device)
    async with asyncio.timeout(10):
        await waiting
    assert [ack.queue_item_id for ack in device.of(AckEvent)] == sink.sent
    assert [sent[3] for sent in driver.downlinks()] == [True, True]


@with_vendors(vendors_that("locations"))
async def test_locations(driver: Driver, linked: Linked) -> None:
    """A position the server keeps or estimates for a device."""
    sink = linked.sink
    dev_eui, location = await driver.locate()
    await sink.wait_for(lambda: sink.locations.get(dev_eui) == location)
    events = linked.device(dev_eui).of(LocationEvent)
    assert [(event.latitude, event.longitude) for event in events] == [
        (location.latitude, location.longitude)
    ]


@with_vendors(VENDORS)
async def test_a_downlink_reaches_the_server(driver: Driver, linked: Linked) -> None:
    """A downlink sent through the library reaches the server as those bytes on that port."""
    message_id = await linked.connection.async_send_downlink(
        Downlink(driver.device.lower(), 9, b"\xde\xad\xbe\xef")
    )
    assert message_id == linked.sink.sent[-1]
    assert driver.downlinks() == [(driver.device, 9, b"\xde\xad\xbe\xef", False)]


@with_vendors(VENDORS)
async def test_a_downlink_the_vendor_refuses(driver: Driver, linked: Linked) -> None:
    """A downlink the vendor refuses raises DownlinkError with the vendor's reason."""
    downlink, reason = await driver.refusal(linked.connection.async_send_downlink)
    sent = driver.downlinks()
    with pytest.raises(DownlinkError, match=re.escape(reason)):
        await linked.connection.async_send_downlink(downlink)
    assert driver.downlinks() == sent


@with_vendors([vendor for vendor, reports in REPORTS.items() if not reports.confirmed])
async def test_confirmed_downlinks_where_there_are_none(driver: Driver, linked: Linked) -> None:
    """A vendor without confirmed downlinks refuses one (a device integration's command wait)."""
    device = linked.device(driver.device)
    with pytest.raises(DownlinkError, match="no confirmed downlinks"):
        await device.async_send_downlink(data=b"\x01", f_port=3, wait_for_ack=True)
    assert driver.downlinks() == []


@with_vendors(VENDORS)
async def test_what_is_refused_before_the_vendor(driver: Driver, linked: Linked) -> None:
    """An unknown device, an expiry, a lost connection: refused without asking the server."""
    connection = linked.connection
    with pytest.raises(DownlinkError, match="is not a device of"):
        await connection.async_send_downlink(Downlink("0000000000000009", 1, b"\x01"))
    expiring = Downlink(
        driver.device.lower(), 1, b"\x01", expires_at=datetime.now(UTC) + timedelta(minutes=5)
    )
    with pytest.raises(DownlinkError, match="no expiry"):
        await connection.async_send_downlink(expiring)
    linked.sink.connection_changed(False, "lost")
    assert not connection.available
    with pytest.raises(DownlinkError, match="is lost"):
        await connection.async_send_downlink(Downlink(driver.device.lower(), 1, b"\x01"))
    assert driver.downlinks() == []


async def test_sensecap_decodes_an_s2101_through_orion(
    http_session: aiohttp.ClientSession, orion: OrionSimulator
) -> None:
    """SenseCAP's device library decodes the repository's S2101 capture sent through Orion."""
    driver = OrionDriver(http_session, orion)
    sink = FrameworkSink(driver.client(), driver.application_id, {driver.device: S2101_IDENTITY})
    async with driver.running(sink):
        connection = sink.registrations[-1]
        collection = SenseCapDeviceCollection(connection)
        await collection.async_setup()
        sink.feed.registered(connection)
        # Only the device given the S2101 identity has a model.
        assert list(collection.devices) == [driver.device.lower()]
        device = collection.devices[driver.device.lower()]
        assert isinstance(device, S2101)
        # Orion tells no port: the device's own (1) is the S2101's.
        await driver.uplink(driver.device, S2101_CAPTURE, 1)
        await sink.wait_for(lambda: len(sink.uplinks) == 1)
        assert (device.temperature, device.humidity) == (21.4, 31.4)
        collection.close()
