"""The ChirpStack simulator, driven by the client Home Assistant's chirpstack integration uses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
import logging
import re
from typing import Any

from chirpstack_api import api, integration  # type: ignore[import-untyped]
from google.protobuf.json_format import Parse
import grpc
from lorawan_connection import (
    AckEvent,
    ConnectionUnavailable,
    Device,
    DeviceCollection,
    DeviceDescriptor,
    DeviceEvent,
    Downlink,
    DownlinkError,
    EventType,
    GatewayReception,
    JoinEvent,
    LocationEvent,
    LogEvent,
    StatusEvent,
    TxAckEvent,
    UplinkEvent,
)
from lorawan_connection.backend.chirpstack import AuthenticationError, ChirpStackConnection
import pytest
import sensecap_lorawan

from simulator import __main__ as cli, chirpstack
from simulator.chirpstack import (
    DEFAULT_API_KEY,
    MALFORMED_KINDS,
    S2101_CATALOG_ID,
    S2101_NAME,
    SEEED_VENDOR_ID,
    SEEED_VENDOR_NAME,
    ChirpStackSimulator,
    Reception,
    s2101_payload,
)

S2101 = "2cf7f1c04430004b"
METER = "70b3d57ed0000701"
S2101_SAMPLE = bytes.fromhex("01011098530000010210A87A0000AF51")
"""The Device Repository's S2101 telemetry example: 21.4 °C, 31.4 %RH."""

INVENTORY = (EventType.ADDED, EventType.UPDATED, EventType.REMOVED)
AUTH = (("authorization", f"Bearer {DEFAULT_API_KEY}"),)
UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"

type ConnectFactory = Callable[..., ChirpStackConnection]


class RecordingDevice(Device):
    """A device model that keeps every activity event it is given."""

    def __init__(self, descriptor: DeviceDescriptor) -> None:
        """Start with no events."""
        super().__init__(descriptor)
        self.events: list[DeviceEvent] = []
        self.received = asyncio.Event()

    def handle_event(self, event: DeviceEvent) -> None:
        """Keep the event unless it is about the inventory."""
        if event.type not in INVENTORY:
            self.events.append(event)
            self.received.set()

    async def next_event(self) -> DeviceEvent:
        """Wait for the next event not yet taken and return it."""
        while not self.events:
            self.received.clear()
            await self.received.wait()
        return self.events.pop(0)


class AnyDevices(DeviceCollection[RecordingDevice]):
    """Every device of the connection, as a recording model."""

    def _create_device(self, descriptor: DeviceDescriptor) -> RecordingDevice | None:
        return RecordingDevice(descriptor)


class Home:
    """The simulated ChirpStack's content the tests use."""

    def __init__(self, sim: ChirpStackSimulator) -> None:
        """Add a tenant with an application, an S2101 and a meter, and a second tenant."""
        self.tenant = sim.add_tenant("Home")
        self.office = sim.add_tenant("Office")
        self.application = sim.add_application(self.tenant.id, "Sensors")
        self.office_application = sim.add_application(self.office.id, "Desks")
        self.s2101_profile = sim.add_device_profile(
            self.tenant.id,
            "SenseCAP S2101",
            vendor_id=SEEED_VENDOR_ID,
            vendor_name=SEEED_VENDOR_NAME,
            model_name=S2101_NAME,
            catalog_device_id=S2101_CATALOG_ID,
        )
        self.plain_profile = sim.add_device_profile(self.tenant.id, "Plain")
        sim.add_device(S2101, self.application.id, self.s2101_profile.id, name="Office climate")
        sim.add_device(METER, self.application.id, self.plain_profile.id, name="Water meter")


@pytest.fixture(autouse=True, scope="module")
def grpc_poller() -> Iterator[None]:
    """
    Hold gRPC's asyncio state for the whole module.

    Its poller thread then starts before the first test's census of threads, and
    lives on between tests instead of starting (and being counted) in each.
    """
    grpc.aio.init_grpc_aio()
    yield
    grpc.aio.shutdown_grpc_aio()


@pytest.fixture
async def sim() -> AsyncIterator[ChirpStackSimulator]:
    """A started simulator (content: ``Home``)."""
    simulator = ChirpStackSimulator()
    async with simulator:
        yield simulator


@pytest.fixture
def home(sim: ChirpStackSimulator) -> Home:
    """The simulator's content."""
    return Home(sim)


@pytest.fixture
async def connections() -> AsyncIterator[list[ChirpStackConnection]]:
    """Connections a test made; closed at its end."""
    made: list[ChirpStackConnection] = []
    yield made
    for connection in made:
        await connection.close()


@pytest.fixture
def connect(
    sim: ChirpStackSimulator, home: Home, connections: list[ChirpStackConnection]
) -> ConnectFactory:
    """Make (not yet connected) connections to the simulator, as Home Assistant configures them."""

    def make(api_key: str = DEFAULT_API_KEY, **kwargs: object) -> ChirpStackConnection:
        options: dict[str, object] = {
            "tenant_id": home.tenant.id,
            "application_ids": [home.application.id],
            "network_id": "entry1",
        } | kwargs
        connection = ChirpStackConnection(sim.endpoint, api_key, **options)  # type: ignore[arg-type]
        connections.append(connection)
        return connection

    return make


@pytest.fixture
async def channel(sim: ChirpStackSimulator) -> AsyncIterator[grpc.aio.Channel]:
    """A plain gRPC channel to the simulator, for calls the backend never makes."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{sim.port}") as opened:
        yield opened


async def rpc_error(call: Awaitable[Any]) -> grpc.aio.AioRpcError:
    """Await ``call`` and return the gRPC error it fails with."""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return raised.value


async def connected(
    connect: ConnectFactory, **kwargs: object
) -> tuple[ChirpStackConnection, AnyDevices]:
    """Connect as Home Assistant does and collect every device of the connection."""
    connection = connect(**kwargs)
    await connection.async_connect()
    devices = AnyDevices(connection)
    await devices.async_setup()
    return connection, devices


async def streaming(sim: ChirpStackSimulator, devices: AnyDevices) -> None:
    """Wait until the backend streams the events of every device of ``devices``."""
    async with asyncio.timeout(10):
        await sim.wait_for_streams(len(devices.devices))


async def next_event(device: RecordingDevice) -> DeviceEvent:
    """The device's next event, failing after ten seconds."""
    async with asyncio.timeout(10):
        return await device.next_event()


# ------------------------------------------------------------------- inventory


async def test_tenants_and_applications(connect: ConnectFactory, home: Home) -> None:
    """An admin key lists every tenant and the applications of one tenant or of all."""
    connection = connect()
    assert await connection.tenants() == {home.tenant.id: "Home", home.office.id: "Office"}
    assert await connection.applications() == {home.application.id: "Sensors"}
    everywhere = connect(tenant_id=None)
    assert await everywhere.applications() == {
        home.application.id: "Sensors",
        home.office_application.id: "Desks",
    }


async def test_inventory_with_catalog_identity(connect: ConnectFactory, home: Home) -> None:
    """The catalog link gives the vendor's LoRa Alliance id, the catalog UUID and the names."""
    inventory = {d.dev_eui: d for d in await connect().inventory()}
    assert inventory[S2101] == DeviceDescriptor(
        "entry1",
        S2101,
        "Office climate",
        home.application.id,
        home.s2101_profile.id,
        S2101_CATALOG_ID,
        SEEED_VENDOR_ID,
        S2101_NAME,
        SEEED_VENDOR_NAME,
        stack="chirpstack",
    )
    assert inventory[METER] == DeviceDescriptor(
        "entry1",
        METER,
        "Water meter",
        home.application.id,
        home.plain_profile.id,
        stack="chirpstack",
    )


async def test_inventory_pages_through_many_devices(
    sim: ChirpStackSimulator, connect: ConnectFactory, home: Home
) -> None:
    """More devices than a page holds are listed in pages of 100."""
    for index in range(150):
        sim.add_device(f"70b3d57ed001{index:04x}", home.application.id, home.plain_profile.id)
    assert len(await connect().inventory()) == 152
    offsets = [c.request.offset for c in sim.calls if c.method == "DeviceService.List"]
    assert offsets == [0, 100]
    assert {c.api_key for c in sim.calls} == {DEFAULT_API_KEY}


async def test_catalog_link_to_a_missing_device(
    sim: ChirpStackSimulator, connect: ConnectFactory, home: Home
) -> None:
    """A profile linked to no catalog device keeps the link but gets no vendor."""
    profile = sim.add_device_profile(home.tenant.id, "Stale", catalog_device_id=UNKNOWN_UUID)
    sim.add_device("70b3d57ed0000702", home.application.id, profile.id, name="Stale")
    inventory = {d.dev_eui: d for d in await connect().inventory()}
    stale = inventory["70b3d57ed0000702"]
    assert (stale.model_id, stale.brand_id, stale.model, stale.manufacturer) == (
        UNKNOWN_UUID,
        None,
        "",
        "",
    )


async def test_removed_device_leaves_the_inventory(
    sim: ChirpStackSimulator, connect: ConnectFactory
) -> None:
    """A deleted device is gone from the listing; its events cannot be emitted any more."""
    sim.remove_device(METER.upper())
    assert [d.dev_eui for d in await connect().inventory()] == [S2101]
    with pytest.raises(KeyError):
        sim.emit_uplink(METER, b"\x01")


# ---------------------------------------------------------------------- events


async def test_sensecap_library_decodes_the_s2101(
    sim: ChirpStackSimulator, connect: ConnectFactory
) -> None:
    """The catalog identity makes SenseCAP's library pick its S2101 model, which decodes."""
    connection = connect()
    await connection.async_connect()
    collection = sensecap_lorawan.SenseCapDeviceCollection(connection)
    await collection.async_setup()
    model = collection.devices[S2101]
    assert isinstance(model, sensecap_lorawan.S2101)
    updated = asyncio.Event()
    model.add_update_listener(updated.set)
    async with asyncio.timeout(10):
        await sim.wait_for_streams(1, S2101)
        sim.emit_uplink(S2101, S2101_SAMPLE, f_port=1)
        await updated.wait()
    assert (model.temperature, model.humidity) == (21.4, 31.4)
    collection.close()


async def test_collection_receives_every_kind_of_event(
    sim: ChirpStackSimulator, connect: ConnectFactory
) -> None:
    """Uplinks with their receptions, joins, status, gateway and device acks, logs, locations."""
    _connection, devices = await connected(connect)
    await streaming(sim, devices)
    device = devices.devices[S2101]
    sim.emit_uplink(
        S2101,
        b"\x01\x02",
        f_port=7,
        receptions=(Reception("0016c001ff10a235", -71, 9.5), Reception("0016c001ff10a236", -99)),
    )
    uplink = await next_event(device)
    assert isinstance(uplink, UplinkEvent)
    assert (uplink.data, uplink.f_port, uplink.receptions) == (
        b"\x01\x02",
        7,
        (
            GatewayReception("0016c001ff10a235", -71, 9.5),
            GatewayReception("0016c001ff10a236", -99, 7.5),
        ),
    )
    assert abs(uplink.received_at - datetime.now(UTC)) < timedelta(seconds=5)
    sim.emit_join(S2101, dev_addr="01AB23CD")
    join = await next_event(device)
    assert isinstance(join, JoinEvent)
    assert join.dev_addr == "01ab23cd"
    sim.emit_status(S2101, margin=12, battery_level=87.5)
    status = await next_event(device)
    assert isinstance(status, StatusEvent)
    assert (device.battery_level, device.downlink_margin, device.external_power_source) == (
        87.5,
        12,
        False,
    )
    sim.emit_status(S2101, margin=3, external_power_source=True)
    assert isinstance(await next_event(device), StatusEvent)
    assert (device.battery_level, device.external_power_source) == (None, True)
    queued = sim.enqueue(S2101, 2, b"\x10", confirmed=True)
    sim.emit_ack(queued.id, acknowledged=False)
    txack = await next_event(device)
    assert isinstance(txack, TxAckEvent)
    assert txack.gateway_id == "0016c001ff10a235"
    ack = await next_event(device)
    assert isinstance(ack, AckEvent)
    assert (ack.queue_item_id, ack.acknowledged) == (queued.id, False)
    assert (queued.f_cnt_down, queued.acknowledged, queued.pending) == (0, False, False)
    sim.emit_log(S2101, "Downlink payload too large", code=integration.DOWNLINK_PAYLOAD_SIZE)
    log = await next_event(device)
    assert isinstance(log, LogEvent)
    assert (log.description, log.level, log.code) == (
        "Downlink payload too large",
        integration.WARNING,
        integration.DOWNLINK_PAYLOAD_SIZE,
    )
    sim.emit_location(S2101, 52.09, 5.12, 3.5)
    location = await next_event(device)
    assert isinstance(location, LocationEvent)
    assert (location.latitude, location.longitude, location.altitude) == (52.09, 5.12, 3.5)
    assert devices.devices[METER].events == []


async def test_retained_events_are_replayed(
    sim: ChirpStackSimulator, connect: ConnectFactory
) -> None:
    """A new stream replays the retained events; the client drops those older than 5 s."""
    sim.emit_uplink(S2101, b"\x01", recorded_at=datetime.now(UTC) - timedelta(minutes=1))
    sim.emit_uplink(S2101, b"\x02")
    _connection, devices = await connected(connect)
    device = devices.devices[S2101]
    replayed = await next_event(device)
    assert isinstance(replayed, UplinkEvent)
    assert replayed.data == b"\x02"
    sim.emit_uplink(S2101, b"\x03")
    live = await next_event(device)
    assert isinstance(live, UplinkEvent)
    assert live.data == b"\x03"


async def test_malformed_items_are_skipped(
    sim: ChirpStackSimulator, connect: ConnectFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Bad bodies and ids, other devices' events and unknown types never reach the device."""
    _connection, devices = await connected(connect)
    await streaming(sim, devices)
    with caplog.at_level(logging.WARNING):
        for kind in MALFORMED_KINDS:
            sim.send_malformed(S2101, kind)
        sim.emit_uplink(S2101, b"\x0a")
        event = await next_event(devices.devices[S2101])
    assert isinstance(event, UplinkEvent)
    assert event.data == b"\x0a"
    assert caplog.text.count("Ignoring malformed ChirpStack event") == 4
    with pytest.raises(ValueError, match="unknown malformed"):
        sim.send_malformed(S2101, "nonsense")


# ------------------------------------------------------------------- downlinks


async def test_downlink_arrives_as_sent(sim: ChirpStackSimulator, connect: ConnectFactory) -> None:
    """A downlink lands in the device queue with exactly its bytes, port, flag and expiry."""
    connection, _devices = await connected(connect)
    expires = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    data = bytes(range(0, 256, 7))
    queue_id = await connection.async_send_downlink(
        Downlink(S2101, 223, data, confirmed=True, expires_at=expires)
    )
    [queued] = sim.downlinks
    assert (queued.id, queued.dev_eui, queued.f_port, queued.data) == (queue_id, S2101, 223, data)
    assert (queued.confirmed, queued.expires_at) == (True, expires)
    assert sim.queue(S2101) == [queued]
    sim.emit_txack(queue_id)
    assert sim.queue(S2101) == []
    sim.emit_ack(queue_id)
    assert (queued.f_cnt_down, queued.acknowledged) == (0, True)
    assert [e.description for e in sim.history(S2101)] == ["txack", "ack"]
    second = await connection.async_send_downlink(Downlink(METER, 1, b""))
    assert (sim.downlinks[1].id, sim.downlinks[1].data, sim.downlinks[1].confirmed) == (
        second,
        b"",
        False,
    )
    assert sim.downlinks[1].expires_at is None


async def test_device_waits_for_the_ack(sim: ChirpStackSimulator, connect: ConnectFactory) -> None:
    """A device library's confirmed command ends with the device's ack, or fails with its nack."""
    _connection, devices = await connected(connect)
    await streaming(sim, devices)
    device = devices.devices[S2101]
    for acknowledged in (True, False):
        command = asyncio.create_task(device.async_send_downlink(data=b"\x05", f_port=3))
        async with asyncio.timeout(10):
            await sim.wait_for_downlinks(1 if acknowledged else 2)
            sim.emit_ack(sim.downlinks[-1].id, acknowledged=acknowledged)
            if acknowledged:
                await command
            else:
                with pytest.raises(DownlinkError):
                    await command


# ------------------------------------------------------------------------ keys


async def test_wrong_key_is_an_authentication_error(connect: ConnectFactory) -> None:
    """An unknown key is refused on connecting and on every listing."""
    connection = connect("not-a-key")
    with pytest.raises(AuthenticationError, match="UNAUTHENTICATED"):
        await connection.async_connect()
    with pytest.raises(grpc.aio.AioRpcError):
        await connect("not-a-key").tenants()


async def test_read_only_key_cannot_enqueue(
    sim: ChirpStackSimulator, connect: ConnectFactory
) -> None:
    """A key without write permission reads everything but its downlinks are refused."""
    sim.add_api_key("reader", read_only=True)
    connection, devices = await connected(connect, api_key="reader")
    assert set(devices.devices) == {S2101, METER}
    with pytest.raises(DownlinkError, match="write permission"):
        await connection.async_send_downlink(Downlink(S2101, 1, b"\x01"))
    assert sim.downlinks == []
    assert sim.calls[-1].method == "DeviceService.Enqueue"


async def test_tenant_key_reaches_only_its_tenant(
    sim: ChirpStackSimulator, connect: ConnectFactory, home: Home
) -> None:
    """A tenant's key cannot list tenants or reach another tenant, as ChirpStack answers."""
    sim.add_api_key("home-key", tenant_id=home.tenant.id)
    connection = connect("home-key")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await connection.tenants()
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert await connection.applications() == {home.application.id: "Sensors"}
    assert {d.dev_eui for d in await connection.inventory()} == {S2101, METER}
    elsewhere = connect("home-key", tenant_id=home.office.id, application_ids=[])
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await elsewhere.applications()
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


# ----------------------------------------------------------------- fault knobs


async def test_failing_calls(sim: ChirpStackSimulator, connect: ConnectFactory) -> None:
    """The next calls fail as asked: unavailable by default, or with a code for one method."""
    sim.fail_next()
    with pytest.raises(ConnectionUnavailable, match="UNAVAILABLE"):
        await connect().async_connect()
    connection, _devices = await connected(connect)
    sim.fail_next(1, grpc.StatusCode.UNAUTHENTICATED, method="DeviceService.Enqueue")
    with pytest.raises(DownlinkError, match="API key"):
        await connection.async_send_downlink(Downlink(S2101, 1, b"\x01"))
    await connection.async_send_downlink(Downlink(S2101, 1, b"\x02"))
    sim.fail_next(5)
    sim.fail_next(0)
    await connection.async_send_downlink(Downlink(S2101, 1, b"\x03"))
    assert [d.data for d in sim.downlinks] == [b"\x02", b"\x03"]


async def test_dropped_streams_are_reopened(
    sim: ChirpStackSimulator, connect: ConnectFactory
) -> None:
    """A stream ended by an error or cleanly is opened again and delivers new events."""
    _connection, devices = await connected(connect)
    await streaming(sim, devices)
    sim.drop_streams(dev_eui=S2101)
    sim.drop_streams(code=None, dev_eui=METER)
    async with asyncio.timeout(10):
        await sim.wait_for(lambda: sim.stream_count() == 0)
        await sim.wait_for_streams(2)
    sim.emit_uplink(METER, b"\x0b")
    event = await next_event(devices.devices[METER])
    assert isinstance(event, UplinkEvent)
    assert event.data == b"\x0b"


async def test_streams_failing_three_times_end_the_connection(
    sim: ChirpStackSimulator, connect: ConnectFactory
) -> None:
    """A device stream that fails three times in a row makes the connection give up."""
    connection, devices = await connected(connect)
    await streaming(sim, devices)
    lost = asyncio.Event()
    connection.on_disconnect(lost.set)
    sim.fail_next(2, method="InternalService.StreamDeviceEvents")
    sim.drop_streams(dev_eui=S2101)
    async with asyncio.timeout(10):
        await lost.wait()
    assert not connection.available
    assert isinstance(connection.error, ConnectionUnavailable)


async def test_stall_and_delay_hold_answers(
    sim: ChirpStackSimulator, channel: grpc.aio.Channel, home: Home
) -> None:
    """A stalled or slow server answers nothing within a client's deadline."""
    tenants = api.TenantServiceStub(channel)
    request = api.GetTenantRequest(id=home.tenant.id)
    sim.stall()
    error = await rpc_error(tenants.Get(request, metadata=AUTH, timeout=0.2))
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    sim.resume()
    assert (await tenants.Get(request, metadata=AUTH, timeout=5)).tenant.name == "Home"
    sim.delay = 30
    error = await rpc_error(tenants.Get(request, metadata=AUTH, timeout=0.2))
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    sim.delay = 0
    sim.stall()
    held = asyncio.ensure_future(tenants.Get(request, metadata=AUTH, timeout=5))
    async with asyncio.timeout(10):
        await sim.wait_for(lambda: len(sim.calls) == 4)
    sim.resume()
    assert (await held).tenant.id == home.tenant.id


# ----------------------------------------------------------- direct gRPC calls


async def test_missing_or_unknown_key_is_unauthenticated(
    sim: ChirpStackSimulator, channel: grpc.aio.Channel
) -> None:
    """No ``authorization`` metadata, a key that is not ``Bearer``-prefixed or unknown."""
    tenants = api.TenantServiceStub(channel)
    request = api.ListTenantsRequest(limit=10)
    for metadata in ((), (("authorization", DEFAULT_API_KEY),), (("authorization", "Bearer x"),)):
        error = await rpc_error(tenants.List(request, metadata=metadata))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert [call.api_key for call in sim.calls] == [None, DEFAULT_API_KEY, "x"]


@pytest.mark.parametrize(
    ("service", "method", "request_"),
    [
        ("TenantService", "Get", api.GetTenantRequest(id=UNKNOWN_UUID)),
        ("DeviceService", "Get", api.GetDeviceRequest(dev_eui="0102030405060708")),
        (
            "DeviceService",
            "Enqueue",
            api.EnqueueDeviceQueueItemRequest(
                queue_item=api.DeviceQueueItem(dev_eui="0102030405060708", f_port=1)
            ),
        ),
        ("DeviceProfileService", "Get", api.GetDeviceProfileRequest(id=UNKNOWN_UUID)),
        ("DeviceProfileService", "GetDevice", api.GetDeviceProfileDeviceRequest(id=UNKNOWN_UUID)),
        ("DeviceProfileService", "GetVendor", api.GetDeviceProfileVendorRequest(id=UNKNOWN_UUID)),
    ],
)
async def test_missing_objects_are_not_found(
    channel: grpc.aio.Channel, home: Home, service: str, method: str, request_: Any
) -> None:
    """An admin key asking for an object that does not exist gets NOT_FOUND."""
    stub = getattr(api, f"{service}Stub")(channel)
    error = await rpc_error(getattr(stub, method)(request_, metadata=AUTH))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert "Object does not exist" in (error.details() or "")


async def test_stream_of_a_missing_device(channel: grpc.aio.Channel, home: Home) -> None:
    """The event stream of a device that does not exist fails with NOT_FOUND."""
    stream = api.InternalServiceStub(channel).StreamDeviceEvents(
        api.StreamDeviceEventsRequest(dev_eui="0102030405060708"), metadata=AUTH
    )
    error = await rpc_error(stream.read())
    assert error.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("service", "method", "request_"),
    [
        ("TenantService", "Get", api.GetTenantRequest(id="home")),
        ("ApplicationService", "List", api.ListApplicationsRequest(limit=1)),
        ("DeviceService", "List", api.ListDevicesRequest(limit=1, application_id="x")),
        ("DeviceService", "Get", api.GetDeviceRequest(dev_eui="01020304")),
        ("DeviceProfileService", "GetVendor", api.GetDeviceProfileVendorRequest(id="744")),
    ],
)
async def test_malformed_ids_are_invalid(
    channel: grpc.aio.Channel, home: Home, service: str, method: str, request_: Any
) -> None:
    """Ids that are no UUID and DevEUIs that are no EUI-64 are INVALID_ARGUMENT."""
    stub = getattr(api, f"{service}Stub")(channel)
    error = await rpc_error(getattr(stub, method)(request_, metadata=AUTH))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_tenant_key_is_refused_elsewhere(
    sim: ChirpStackSimulator, channel: grpc.aio.Channel, home: Home
) -> None:
    """Another tenant's objects and missing ones are UNAUTHENTICATED for a tenant key."""
    sim.add_api_key("office-key", tenant_id=home.office.id)
    metadata = (("authorization", "Bearer office-key"),)
    stubs = (
        (api.TenantServiceStub(channel).Get, api.GetTenantRequest(id=home.tenant.id)),
        (
            api.DeviceServiceStub(channel).List,
            api.ListDevicesRequest(limit=10, application_id=home.application.id),
        ),
        (
            api.DeviceServiceStub(channel).List,
            api.ListDevicesRequest(limit=10, application_id=UNKNOWN_UUID),
        ),
        (api.DeviceServiceStub(channel).Get, api.GetDeviceRequest(dev_eui=S2101)),
        (api.DeviceServiceStub(channel).Get, api.GetDeviceRequest(dev_eui="0102030405060708")),
        (
            api.DeviceProfileServiceStub(channel).Get,
            api.GetDeviceProfileRequest(id=home.s2101_profile.id),
        ),
        (
            api.ApplicationServiceStub(channel).List,
            api.ListApplicationsRequest(limit=10, tenant_id=home.tenant.id),
        ),
    )
    for method, request in stubs:
        error = await rpc_error(method(request, metadata=metadata))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    catalog_id = sim.device_profiles[home.s2101_profile.id].device_id
    catalog = await api.DeviceProfileServiceStub(channel).GetDevice(
        api.GetDeviceProfileDeviceRequest(id=catalog_id), metadata=metadata
    )
    assert catalog.device.name == S2101_NAME


@pytest.mark.parametrize(
    ("service", "method", "request_", "option"),
    [
        ("TenantService", "List", api.ListTenantsRequest(limit=1, search="Ho"), "search"),
        ("ApplicationService", "List", api.ListApplicationsRequest(search="S"), "search"),
        ("DeviceService", "List", api.ListDevicesRequest(tags={"a": "b"}), "tags"),
        ("DeviceService", "List", api.ListDevicesRequest(order_by_desc=True), "order_by_desc"),
        (
            "DeviceService",
            "Enqueue",
            api.EnqueueDeviceQueueItemRequest(
                queue_item=api.DeviceQueueItem(dev_eui=S2101, f_port=1), flush_queue=True
            ),
            "flush_queue",
        ),
        (
            "DeviceService",
            "Enqueue",
            api.EnqueueDeviceQueueItemRequest(
                queue_item=api.DeviceQueueItem(dev_eui=S2101, f_port=1, is_encrypted=True)
            ),
            "is_encrypted",
        ),
        (
            "DeviceService",
            "Enqueue",
            api.EnqueueDeviceQueueItemRequest(
                queue_item=api.DeviceQueueItem(dev_eui=S2101, f_port=1, object={"on": True})
            ),
            "object",
        ),
    ],
)
async def test_options_not_simulated_are_refused(
    sim: ChirpStackSimulator,
    channel: grpc.aio.Channel,
    home: Home,
    service: str,
    method: str,
    request_: Any,
    option: str,
) -> None:
    """A filter or option the simulator does not model is UNIMPLEMENTED, never ignored."""
    stub = getattr(api, f"{service}Stub")(channel)
    error = await rpc_error(getattr(stub, method)(request_, metadata=AUTH))
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED
    assert error.details() == f"not simulated: {option}"
    assert sim.downlinks == []


async def test_other_methods_are_unimplemented(channel: grpc.aio.Channel) -> None:
    """Methods the backend does not call answer as the generated servicer does."""
    error = await rpc_error(
        api.TenantServiceStub(channel).Create(api.CreateTenantRequest(), metadata=AUTH)
    )
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_enqueue_checks_the_port(
    sim: ChirpStackSimulator, channel: grpc.aio.Channel, home: Home
) -> None:
    """ChirpStack takes FPort 1 to 255 and refuses 0; the id it answers names the item."""
    devices = api.DeviceServiceStub(channel)
    error = await rpc_error(
        devices.Enqueue(
            api.EnqueueDeviceQueueItemRequest(queue_item=api.DeviceQueueItem(dev_eui=S2101)),
            metadata=AUTH,
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    response = await devices.Enqueue(
        api.EnqueueDeviceQueueItemRequest(
            queue_item=api.DeviceQueueItem(dev_eui=S2101.upper(), f_port=255, data=b"\xff")
        ),
        metadata=AUTH,
    )
    assert [(d.id, d.dev_eui, d.f_port, d.data) for d in sim.downlinks] == [
        (response.id, S2101, 255, b"\xff")
    ]


async def test_devices_report_last_seen_and_status(
    sim: ChirpStackSimulator, channel: grpc.aio.Channel, home: Home
) -> None:
    """Listing and reading a device show when it was last seen and its last status."""
    devices = api.DeviceServiceStub(channel)
    listing = api.ListDevicesRequest(limit=10, application_id=home.application.id)
    before = {item.dev_eui: item for item in (await devices.List(listing, metadata=AUTH)).result}
    assert not before[S2101].HasField("last_seen_at")
    assert not before[S2101].HasField("device_status")
    assert (before[S2101].name, before[S2101].device_profile_name) == (
        "Office climate",
        "SenseCAP S2101",
    )
    sim.emit_uplink(S2101, b"\x01")
    sim.emit_status(S2101, margin=9)
    after = {item.dev_eui: item for item in (await devices.List(listing, metadata=AUTH)).result}
    assert after[S2101].HasField("last_seen_at")
    assert (after[S2101].device_status.margin, after[S2101].device_status.battery_level) == (9, -1)
    sim.emit_status(S2101, margin=9, battery_level=80)
    response = await devices.Get(api.GetDeviceRequest(dev_eui=S2101), metadata=AUTH)
    assert response.HasField("last_seen_at")
    assert response.device_status.battery_level == 80
    assert (response.device.application_id, response.device.device_profile_id) == (
        home.application.id,
        home.s2101_profile.id,
    )
    meter = await devices.Get(api.GetDeviceRequest(dev_eui=METER), metadata=AUTH)
    assert not meter.HasField("last_seen_at")
    assert not meter.HasField("device_status")


async def read_items(stream: Any, count: int) -> list[Any]:
    """Read ``count`` items of an event stream."""
    async with asyncio.timeout(10):
        return [await stream.read() for _ in range(count)]


async def test_stream_items_as_chirpstack_sends_them(
    sim: ChirpStackSimulator, channel: grpc.aio.Channel, home: Home
) -> None:
    """Redis ids, event time, type, protobuf JSON body and ChirpStack's summary properties."""
    moment = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)
    sim.emit_uplink(S2101, b"\xca\xfe", f_port=9, f_cnt=41, dr=3)
    sim.emit_join(S2101)
    sim.emit_status(S2101, margin=7, battery_level=55.4)
    sim.emit_log(S2101, "bad codec", level=integration.ERROR, code=integration.UPLINK_CODEC)
    stranger = integration.DeviceInfo(dev_eui=S2101, device_name="Preset")
    sim.emit_event(S2101, "location", integration.LocationEvent(time=moment, device_info=stranger))
    stream = api.InternalServiceStub(channel).StreamDeviceEvents(
        api.StreamDeviceEventsRequest(dev_eui=S2101), metadata=AUTH
    )
    items = await read_items(stream, 5)
    assert [item.description for item in items] == ["up", "join", "status", "log", "location"]
    ids = [tuple(int(part) for part in item.id.split("-")) for item in items]
    assert all(re.fullmatch(r"\d+-\d+", item.id) for item in items)
    assert ids == sorted(ids)
    assert len(set(ids)) == 5
    assert dict(items[0].properties) == {"DR": "3", "FPort": "9", "FCnt": "41", "Data": "cafe"}
    assert dict(items[1].properties) == {"DevAddr": "4430004b"}
    assert dict(items[2].properties) == {
        "Margin": "7",
        "Battery level": "55%",
        "Battery level unavailable": "false",
        "External power source": "false",
    }
    assert dict(items[3].properties) == {"Level": "ERROR", "Code": "UPLINK_CODEC"}
    assert dict(items[4].properties) == {}
    assert items[4].time.ToDatetime(UTC) == moment
    located = Parse(items[4].body, integration.LocationEvent())
    assert (located.device_info.device_name, located.time.ToDatetime(UTC)) == ("Preset", moment)
    uplink = Parse(items[0].body, integration.UplinkEvent())
    assert (uplink.data, uplink.f_port, uplink.f_cnt, uplink.dr) == (b"\xca\xfe", 9, 41, 3)
    assert uplink.time == items[0].time
    info = uplink.device_info
    assert (info.dev_eui, info.tenant_name, info.application_name, info.device_name) == (
        S2101,
        "Home",
        "Sensors",
        "Office climate",
    )
    assert '"fPort": 9' in items[0].body
    sim.emit_uplink(S2101, b"\x01")
    [live] = await read_items(stream, 1)
    assert live.description == "up"
    stream.cancel()
    async with asyncio.timeout(10):
        await sim.wait_for(lambda: sim.stream_count(S2101) == 0)


async def test_streams_replay_only_the_retained_events() -> None:
    """A new stream replays the last ``event_history`` events of the device."""
    async with ChirpStackSimulator(event_history=3) as small:
        home = Home(small)
        for index in range(5):
            small.emit_uplink(S2101, bytes([index]))
        assert [Parse(e.body, integration.UplinkEvent()).data for e in small.history(S2101)] == [
            b"\x02",
            b"\x03",
            b"\x04",
        ]
        async with grpc.aio.insecure_channel(f"127.0.0.1:{small.port}") as channel:
            stream = api.InternalServiceStub(channel).StreamDeviceEvents(
                api.StreamDeviceEventsRequest(dev_eui=S2101), metadata=AUTH
            )
            items = await read_items(stream, 3)
            assert [Parse(i.body, integration.UplinkEvent()).data for i in items] == [
                b"\x02",
                b"\x03",
                b"\x04",
            ]
            stream.cancel()
        assert home.tenant.id in small.tenants


async def test_stream_ids_only_grow(sim: ChirpStackSimulator, home: Home) -> None:
    """Events recorded at one millisecond get growing sequence numbers; earlier ones are refused."""
    moment = datetime.now(UTC) + timedelta(minutes=1)
    first = sim.emit_uplink(S2101, b"\x01", recorded_at=moment)
    second = sim.emit_uplink(S2101, b"\x02", recorded_at=moment)
    millis = int(moment.timestamp() * 1000)
    assert (first.id, second.id) == (f"{millis}-0", f"{millis}-1")
    assert sim.emit_uplink(S2101, b"\x03").id == f"{millis}-2"
    with pytest.raises(ValueError, match="only grow"):
        sim.emit_uplink(S2101, b"\x04", recorded_at=moment - timedelta(seconds=1))
    assert sim.emit_uplink(METER, b"\x05", recorded_at=moment - timedelta(days=1)).id.endswith("-0")


async def test_stop_ends_streams_and_restart_keeps_the_port(
    sim: ChirpStackSimulator, home: Home
) -> None:
    """Stopping ends the open streams cleanly; started again, the server has the same port."""
    port = sim.port
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stream = api.InternalServiceStub(channel).StreamDeviceEvents(
            api.StreamDeviceEventsRequest(dev_eui=S2101), metadata=AUTH
        )
        async with asyncio.timeout(10):
            await sim.wait_for_streams(1)
            await sim.stop()
            assert await stream.read() == grpc.aio.EOF
        assert await stream.code() == grpc.StatusCode.OK
        await sim.stop()
        await sim.start()
        assert sim.port == port
        tenant = await api.TenantServiceStub(channel).Get(
            api.GetTenantRequest(id=home.tenant.id), metadata=AUTH, timeout=10
        )
        assert tenant.tenant.name == "Home"
    with pytest.raises(RuntimeError, match="already started"):
        await sim.start()


def test_port_is_known_once_started() -> None:
    """Asking for the port of a server never started is an error."""
    with pytest.raises(RuntimeError, match="not been started"):
        _ = ChirpStackSimulator().endpoint


def test_inventory_api(sim: ChirpStackSimulator, home: Home) -> None:
    """What the test API refuses and how it names and reuses things."""
    with pytest.raises(ValueError, match="EUI-64"):
        sim.add_device("70b3", home.application.id, home.plain_profile.id)
    office_profile = sim.add_device_profile(home.office.id, "Office profile")
    with pytest.raises(ValueError, match="another tenant"):
        sim.add_device("70b3d57ed0000799", home.application.id, office_profile.id)
    with pytest.raises(ValueError, match="DevAddr"):
        sim.emit_join(S2101, dev_addr="xyz")
    with pytest.raises(KeyError):
        sim.emit_ack("no-such-item")
    vendor = sim.add_catalog_vendor(SEEED_VENDOR_ID, "Seeed again")
    assert vendor.name == SEEED_VENDOR_NAME
    other = sim.add_catalog_vendor(SEEED_VENDOR_ID, "Seeed copy", catalog_id=UNKNOWN_UUID)
    assert (other.id, len(sim.catalog_vendors)) == (UNKNOWN_UUID, 2)
    assert sim.add_tenant("Home").id == home.tenant.id
    door = sim.add_device("70:B3:D5:7E:D0:00:07:03", home.application.id, home.plain_profile.id)
    assert (door.dev_eui, door.name, door.dev_addr, door.kind) == (
        "70b3d57ed0000703",
        "70b3d57ed0000703",
        "d0000703",
        "sensor",
    )
    assert (
        sim.add_device(
            "70b3d57ed0000704", home.application.id, home.plain_profile.id, name="Back door"
        ).kind
        == "door"
    )
    assert sim.history(METER) == []


def test_s2101_payload_is_the_repository_sample() -> None:
    """The S2101 frame of 21.4 °C and 31.4 %RH is the Device Repository's example."""
    assert s2101_payload(21.4, 31.4) == S2101_SAMPLE


async def test_generator_sends_uplinks_and_status(sim: ChirpStackSimulator) -> None:
    """The generator waits for devices, then sends each uplinks of its kind and a status."""
    generator = asyncio.create_task(sim.run_generator(0.05, seed=3))
    await asyncio.sleep(0)  # its first turn finds no device
    home = Home(sim)
    door = sim.add_device(
        "70b3d57ed0000705", home.application.id, home.plain_profile.id, name="Door"
    )
    sim.devices[S2101].kind = "s2101"
    try:
        async with asyncio.timeout(10):
            await sim.wait_for(lambda: len(sim.history(S2101)) >= 2)
            sim.remove_device(METER)
            await sim.wait_for(lambda: len(sim.history(door.dev_eui)) >= 2)
            await sim.wait_for(lambda: len(sim.history(S2101)) >= 3)
    finally:
        generator.cancel()
        with pytest.raises(asyncio.CancelledError):
            await generator
    assert sim.history(METER) == []
    assert [e.description for e in sim.history(door.dev_eui)][:2] == ["up", "status"]
    uplinks = [
        Parse(e.body, integration.UplinkEvent())
        for e in sim.history(S2101)
        if e.description == "up"
    ]
    assert len(uplinks) >= 2
    assert all(len(u.data) == 16 and u.data.endswith(b"\xaf\x51") for u in uplinks)
    assert all(len(u.rx_info) == 1 for u in uplinks)


# ------------------------------------------------------------------ command line


def test_cli_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    """The chirpstack subcommand's defaults, options and help."""
    args = cli.build_parser().parse_args(["chirpstack"])
    assert (args.port, args.devices, args.api_key, args.tenant) == (
        8770,
        5,
        DEFAULT_API_KEY,
        "Demo tenant",
    )
    assert args.run is chirpstack.run_demo
    with pytest.raises(SystemExit) as exited:
        cli.build_parser().parse_args(["chirpstack", "--help"])
    assert exited.value.code == 0
    assert "--api-key" in capsys.readouterr().out


async def test_run_chirpstack(capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI serves demo devices and an S2101 and prints how to configure a client."""
    args = cli.build_parser().parse_args(
        ["chirpstack", "--port", "0", "--devices", "2", "--api-key", "k", "--tenant", "Lab"]
    )
    stop = asyncio.Event()
    stop.set()
    await chirpstack.run_demo(args, stop)
    line = capsys.readouterr().out.strip()
    match = re.fullmatch(
        r"ChirpStack simulator: http://127\.0\.0\.1:\d+ \(gRPC\), API key k, tenant (\S+),"
        r" application (\S+) \(2 devices and a SenseCAP S2101, an uplink each every 5 s\)",
        line,
    )
    assert match is not None
    reference = ChirpStackSimulator()
    tenant = reference.add_tenant("Lab")
    assert match.groups() == (
        tenant.id,
        reference.add_application(tenant.id, "Demo application").id,
    )
