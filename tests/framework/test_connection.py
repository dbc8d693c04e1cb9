"""Our entries as connections of the LoRaWAN framework, tested with the library itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lorawan_connection import (
    AckEvent,
    ConnectionUnavailable,
    Device,
    DeviceCollection,
    DeviceEvent,
    Downlink,
    DownlinkError,
    EventType,
    JoinEvent,
    LocationEvent,
    StatusEvent,
    UplinkEvent,
)
import pytest
from sensecap_lorawan import S2101, SenseCapDeviceCollection

from custom_components.lorawan_hub.framework.connection import (
    BUFFER,
    STACK,
    DeviceFacts,
    FrameworkFeed,
    HubConnection,
    Identity,
)
from custom_components.lorawan_hub.lns.models import (
    DeviceStatus,
    DownlinkState,
    DownlinkStatus,
    Gateway,
    Location,
    Uplink,
)
from custom_components.lorawan_hub.lns.netemera import LAST_DOWNLINK

NETWORK = "01KAORIONTESTENTRY000000000"
S2101_EUI = "2CF7F1C04430004B"
OTHER_EUI = "70B3D57ED0000001"
S2101_IDENTITY = Identity(
    brand_id="sensecap",
    model_id="sensecaps2101-temp-humid",
    manufacturer="SenseCAP",
    model="SenseCAP S2101",
)
# The LoRaWAN Device Repository's S2101 example: 21.4 °C, 31.4 % on port 1.
S2101_PAYLOAD = bytes.fromhex("01011098530000010210A87A0000AF51")
AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def uplink(dev_eui: str, payload: bytes, *, f_port: int = 1, at: datetime = AT) -> Uplink:
    """Return an uplink heard by two gateways."""
    return Uplink(
        dev_eui=dev_eui,
        received_at=at,
        f_port=f_port,
        f_cnt=1,
        payload=payload,
        rssi=-80.0,
        snr=7.5,
        gateways=(Gateway("00800000A0001234", -80.0, 7.5), Gateway("00800000A0001235", -95.0, 1.0)),
    )


class Recorder:
    """The framework's side: what a connection delivers, and the downlinks it is given."""

    def __init__(self) -> None:
        """Start empty."""
        self.events: list[DeviceEvent] = []
        self.registered: list[HubConnection] = []
        self.downlinks: list[Downlink] = []
        self.refuse: str | None = None

    def listen(self, event: DeviceEvent) -> None:
        """Record an event."""
        self.events.append(event)

    def register(self, connection: HubConnection) -> None:
        """Record a connection handed over for registration."""
        self.registered.append(connection)

    async def send(self, downlink: Downlink) -> str:
        """Take a downlink, or refuse it with a reason."""
        if self.refuse:
            raise DownlinkError(self.refuse)
        self.downlinks.append(downlink)
        return f"m-{len(self.downlinks)}"


def feed_with_devices(recorder: Recorder) -> FrameworkFeed:
    """A feed with the S2101 (with its identity) and another device (without), connected."""
    feed = FrameworkFeed(NETWORK, recorder.send, recorder.register)
    feed.set_devices(
        [
            DeviceFacts(S2101_EUI, "Greenhouse", "app-1", "profile-1", S2101_IDENTITY),
            DeviceFacts(OTHER_EUI, "Door"),
        ]
    )
    feed.connection_changed(True)
    feed.registered(recorder.registered[-1])
    return feed


async def test_inventory_first_then_events_with_receptions() -> None:
    """Devices arrive as AddedEvents, then uplinks with one reception per gateway, and the rest."""
    recorder = Recorder()
    feed = feed_with_devices(recorder)
    connection = feed.connection
    assert connection is not None
    assert connection.stack_type == STACK
    await connection.async_subscribe(listener=recorder.listen)
    added = [event for event in recorder.events if event.type is EventType.ADDED]
    descriptors = {event.dev_eui: event.descriptor for event in added}
    assert set(descriptors) == {S2101_EUI.lower(), OTHER_EUI.lower()}
    greenhouse = descriptors[S2101_EUI.lower()]
    assert (greenhouse.network_id, greenhouse.name, greenhouse.application_id) == (
        NETWORK,
        "Greenhouse",
        "app-1",
    )
    assert (greenhouse.brand_id, greenhouse.model_id, greenhouse.manufacturer) == (
        "sensecap",
        "sensecaps2101-temp-humid",
        "SenseCAP",
    )
    door = descriptors[OTHER_EUI.lower()]
    assert (door.brand_id, door.model_id) == (None, "")

    feed.uplink(uplink(S2101_EUI, S2101_PAYLOAD))
    feed.joined(S2101_EUI, "260B0101", AT)
    feed.device_status(DeviceStatus(dev_eui=S2101_EUI, battery=87.5, margin=10), AT)
    feed.downlink_status(
        DownlinkStatus(dev_eui=S2101_EUI, message_id="m-1", state=DownlinkState.ACKNOWLEDGED)
    )
    feed.downlink_status(
        DownlinkStatus(dev_eui=S2101_EUI, message_id="m-2", state=DownlinkState.SENT)
    )
    feed.downlink_status(
        DownlinkStatus(dev_eui=S2101_EUI, message_id="m-3", state=DownlinkState.FAILED)
    )
    feed.location(S2101_EUI, Location(52.1, 5.1), AT)
    feed.uplink(uplink("0000000000000009", b"\x01"))  # not a device of the list: nothing
    events = recorder.events[len(added) :]
    assert [event.type for event in events] == [
        EventType.UPLINK,
        EventType.JOIN,
        EventType.STATUS,
        EventType.ACK,
        EventType.ACK,
        EventType.LOCATION,
    ]
    up, join, status, ack, nack, location = events
    assert isinstance(up, UplinkEvent)
    assert (up.data, up.f_port, up.received_at) == (S2101_PAYLOAD, 1, AT)
    assert [(r.gateway_id, r.rssi, r.snr) for r in up.receptions] == [
        ("00800000A0001234", -80.0, 7.5),
        ("00800000A0001235", -95.0, 1.0),
    ]
    assert isinstance(join, JoinEvent)
    assert join.dev_addr == "260B0101"
    assert isinstance(status, StatusEvent)
    assert (status.battery_level, status.battery_level_unavailable, status.margin) == (
        87.5,
        False,
        10,
    )
    assert isinstance(ack, AckEvent)
    assert isinstance(nack, AckEvent)
    assert (ack.queue_item_id, ack.acknowledged, nack.queue_item_id, nack.acknowledged) == (
        "m-1",
        True,
        "m-3",
        False,
    )
    assert isinstance(location, LocationEvent)
    assert (location.latitude, location.longitude) == (52.1, 5.1)


async def test_sensecap_decodes_our_devices() -> None:
    """SenseCAP's own device library decodes an S2101 on our connection to its values."""
    recorder = Recorder()
    feed = feed_with_devices(recorder)
    assert feed.connection is not None
    collection = SenseCapDeviceCollection(feed.connection)
    await collection.async_setup()
    # Only the device with the S2101 identity has a model; the other stays without.
    assert list(collection.devices) == [S2101_EUI.lower()]
    device = collection.devices[S2101_EUI.lower()]
    assert isinstance(device, S2101)
    feed.uplink(uplink(S2101_EUI, S2101_PAYLOAD))
    assert (device.temperature, device.humidity) == (21.4, 31.4)
    feed.device_status(DeviceStatus(dev_eui=S2101_EUI, battery=90.0, margin=7), AT)
    assert device.battery_level == 90.0
    # The device library's downlink reaches our client, its acknowledgement comes back.
    send = device.async_send_downlink(data=b"\x01\x02", f_port=5, wait_for_ack=False)
    await send
    assert recorder.downlinks == [
        Downlink(dev_eui=S2101_EUI.lower(), f_port=5, data=b"\x01\x02", confirmed=False)
    ]
    recorder.refuse = "the payload is larger than the device can receive now (51 bytes)"
    with pytest.raises(DownlinkError, match="larger than the device can receive"):
        await device.async_send_downlink(data=b"\x00" * 60, f_port=5, wait_for_ack=False)
    collection.close()


async def test_an_outage_keeps_events_for_the_next_connection() -> None:
    """Lost: the framework is told; back: a new connection, then what came meanwhile, in order."""
    recorder = Recorder()
    feed = feed_with_devices(recorder)
    first = feed.connection
    assert first is not None
    disconnected: list[bool] = []
    first.on_disconnect(lambda: disconnected.append(True))
    await first.async_subscribe(listener=recorder.listen)
    feed.connection_changed(False)
    feed.connection_changed(False)
    assert disconnected == [True]
    assert not first.available
    with pytest.raises(ConnectionUnavailable):
        await first.async_subscribe(listener=recorder.listen)
    # A catch-up after the outage delivers what was missed before the new registration is done.
    for minute in range(3):
        feed.uplink(uplink(S2101_EUI, bytes([minute]), at=AT + timedelta(minutes=minute)))
    feed.connection_changed(True)
    feed.connection_changed(True)
    assert len(recorder.registered) == 2
    second = recorder.registered[-1]
    feed.uplink(uplink(S2101_EUI, b"\x03", at=AT + timedelta(minutes=3)))
    late: list[DeviceEvent] = []
    await second.async_subscribe(listener=late.append)
    feed.registered(second)
    assert feed.connection is second
    uplinks = [event for event in late if isinstance(event, UplinkEvent)]
    assert [event.data for event in uplinks] == [b"\x00", b"\x01", b"\x02", b"\x03"]
    # A registration that finishes after the connection was lost again is not taken.
    feed.connection_changed(False)
    feed.connection_changed(True)
    third = recorder.registered[-1]
    feed.connection_changed(False)
    feed.registered(third)
    assert feed.connection is None
    assert not third.available


async def test_devices_listed_while_a_connection_is_registered() -> None:
    """
    A device listed again while the new connection is being registered is in it.

    At a reconnect the server lists its devices right away, before the framework has finished
    taking the new connection: a device added (or renamed) on the server during the outage
    reaches the framework, and its events that waited for the registration follow.
    """
    recorder = Recorder()
    feed = feed_with_devices(recorder)
    feed.connection_changed(False)
    feed.connection_changed(True)
    pending = recorder.registered[-1]
    # The framework subscribes during the registration, before it is reported done.
    seen: list[DeviceEvent] = []
    await pending.async_subscribe(listener=seen.append)
    new_eui = "70B3D57ED0000009"
    feed.set_devices(
        [
            DeviceFacts(S2101_EUI, "Greenhouse (renamed)", identity=S2101_IDENTITY),
            DeviceFacts(OTHER_EUI, "Door"),
            DeviceFacts(new_eui, "Cellar"),
        ]
    )
    feed.uplink(uplink(new_eui, b"\x07"))
    feed.remove_device(OTHER_EUI)
    feed.registered(pending)
    assert [(event.type, event.dev_eui) for event in seen][2:] == [
        (EventType.UPDATED, S2101_EUI.lower()),
        (EventType.ADDED, new_eui.lower()),
        (EventType.REMOVED, OTHER_EUI.lower()),
        (EventType.UPLINK, new_eui.lower()),
    ]
    assert pending.descriptor(S2101_EUI) is not None
    assert pending.descriptor(S2101_EUI).name == "Greenhouse (renamed)"  # type: ignore[union-attr]


async def test_an_acknowledgement_of_the_last_downlink_names_its_id() -> None:
    """
    A vendor that acknowledges "the last downlink" (no id) acknowledges the last one sent.

    The framework is told the id our send returned for it, so that the device integration
    waiting for that acknowledgement gets it.
    """
    recorder = Recorder()
    feed = feed_with_devices(recorder)
    connection = feed.connection
    assert connection is not None
    await connection.async_subscribe(listener=recorder.listen)
    # Before anything was sent, such an acknowledgement names no downlink of ours.
    feed.downlink_status(
        DownlinkStatus(dev_eui=S2101_EUI, message_id=LAST_DOWNLINK, state=DownlinkState.FAILED)
    )
    first = await connection.async_send_downlink(
        Downlink(dev_eui=S2101_EUI.lower(), f_port=5, data=b"\x01", confirmed=True)
    )
    second = await connection.async_send_downlink(
        Downlink(dev_eui=S2101_EUI.lower(), f_port=5, data=b"\x02", confirmed=True)
    )
    other = await connection.async_send_downlink(
        Downlink(dev_eui=OTHER_EUI.lower(), f_port=5, data=b"\x03", confirmed=True)
    )
    feed.downlink_status(
        DownlinkStatus(
            dev_eui=S2101_EUI, message_id=LAST_DOWNLINK, state=DownlinkState.ACKNOWLEDGED
        )
    )
    acks = [event for event in recorder.events if isinstance(event, AckEvent)]
    assert [(ack.queue_item_id, ack.acknowledged) for ack in acks] == [
        (LAST_DOWNLINK, False),
        (second, True),
    ]
    assert first != second != other


def test_a_long_outage_keeps_the_newest_events() -> None:
    """The buffer is bounded: what did not fit is counted."""
    recorder = Recorder()
    feed = feed_with_devices(recorder)
    feed.connection_changed(False)
    for index in range(BUFFER + 5):
        feed.uplink(uplink(S2101_EUI, index.to_bytes(4)))
    assert feed.dropped == 5


async def test_inventory_changes_reach_subscribers_by_brand() -> None:
    """Added, updated and removed devices; a subscriber by brand sees only its devices."""
    recorder = Recorder()
    feed = feed_with_devices(recorder)
    connection = feed.connection
    assert connection is not None
    sensecap: list[DeviceEvent] = []
    await connection.async_subscribe(
        brands=frozenset({(STACK, "sensecap")}), listener=sensecap.append
    )
    await connection.async_subscribe(listener=recorder.listen)
    feed.set_device(DeviceFacts(S2101_EUI, "Greenhouse 2", identity=S2101_IDENTITY))
    feed.set_device(DeviceFacts(S2101_EUI, "Greenhouse 2", identity=S2101_IDENTITY))  # same
    feed.set_device(DeviceFacts(OTHER_EUI, "Door", identity=None))  # same
    # The door gets the S2101 identity: added for the brand's subscriber.
    feed.set_device(DeviceFacts(OTHER_EUI, "Door", identity=S2101_IDENTITY))
    # The greenhouse loses its identity: removed for the brand's subscriber.
    feed.set_device(DeviceFacts(S2101_EUI, "Greenhouse 2"))
    feed.set_devices([DeviceFacts(OTHER_EUI, "Door", identity=S2101_IDENTITY)])
    assert [(event.type, event.dev_eui) for event in sensecap] == [
        (EventType.ADDED, S2101_EUI.lower()),
        (EventType.UPDATED, S2101_EUI.lower()),
        (EventType.UPDATED, OTHER_EUI.lower()),
        (EventType.REMOVED, S2101_EUI.lower()),
    ]
    assert [(event.type, event.dev_eui) for event in recorder.events][-4:] == [
        (EventType.UPDATED, S2101_EUI.lower()),
        (EventType.UPDATED, OTHER_EUI.lower()),
        (EventType.UPDATED, S2101_EUI.lower()),
        (EventType.REMOVED, S2101_EUI.lower()),
    ]
    feed.remove_device(OTHER_EUI)
    assert recorder.events[-1].type is EventType.REMOVED
    assert connection.descriptor(OTHER_EUI) is None


async def test_a_failing_listener_stops_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """A framework listener that raises is logged; the others and the feed go on."""
    recorder = Recorder()
    feed = feed_with_devices(recorder)
    connection = feed.connection
    assert connection is not None

    def broken(event: DeviceEvent) -> None:
        raise RuntimeError("a broken listener")

    await connection.async_subscribe(listener=broken)
    await connection.async_subscribe(listener=recorder.listen)
    connection.on_disconnect(lambda: broken(recorder.events[0]))
    feed.uplink(uplink(S2101_EUI, S2101_PAYLOAD))
    assert recorder.events[-1].type is EventType.UPLINK
    feed.close()
    assert "A LoRaWAN framework listener failed" in caplog.text
    assert feed.connection is None


async def test_a_refused_registration_is_retried_at_the_next_connection() -> None:
    """When the framework refuses a connection, the next reconnect offers a new one."""
    recorder = Recorder()
    feed = FrameworkFeed(NETWORK, recorder.send, recorder.register)
    feed.connection_changed(True)
    first = recorder.registered[-1]
    feed.registration_failed(first)
    feed.registration_failed(first)
    assert not first.available
    feed.connection_changed(True)
    assert len(recorder.registered) == 2


async def test_a_generic_collection_sees_every_device() -> None:
    """A collection without models (the framework's generic mode) gets every device."""
    recorder = Recorder()
    feed = feed_with_devices(recorder)
    assert feed.connection is not None
    collection: DeviceCollection[Device] = DeviceCollection(feed.connection)
    await collection.async_setup()
    assert set(collection.devices) == {S2101_EUI.lower(), OTHER_EUI.lower()}
    feed.device_status(DeviceStatus(dev_eui=OTHER_EUI, battery=None, external_power=True), AT)
    assert collection.devices[OTHER_EUI.lower()].external_power_source is True
    collection.close()


async def test_edges_of_the_feed() -> None:
    """Receptions without gateway ids, unknown devices, unsubscribing during the replay."""
    recorder = Recorder()
    feed = FrameworkFeed(NETWORK, recorder.send, recorder.register)
    # Devices set while no connection is registered are kept for the next one.
    feed.set_device(DeviceFacts(OTHER_EUI, "Door"))
    feed.remove_device(S2101_EUI)
    feed.set_devices([DeviceFacts(S2101_EUI, "Greenhouse"), DeviceFacts(OTHER_EUI, "Door")])
    feed.connection_changed(True)
    connection = recorder.registered[-1]
    feed.registered(connection)
    feed.registered(connection)  # a second report of the same registration changes nothing
    events: list[DeviceEvent] = []
    unsubscribe = await connection.async_subscribe(listener=events.append)
    assert {event.dev_eui for event in events} == {S2101_EUI.lower(), OTHER_EUI.lower()}
    # An uplink whose server tells the reception but not the gateway.
    heard = Uplink(
        dev_eui=OTHER_EUI, received_at=AT, f_port=None, f_cnt=1, payload=b"\x01", rssi=-99.0
    )
    feed.uplink(heard)
    event = events[-1]
    assert isinstance(event, UplinkEvent)
    assert event.f_port == 0
    assert [(r.gateway_id, r.rssi, r.snr) for r in event.receptions] == [("", -99.0, None)]
    # Devices the feed does not know: nothing is told.
    count = len(events)
    feed.joined("0000000000000009", "01020304", AT)
    feed.device_status(DeviceStatus(dev_eui="0000000000000009"), AT)
    feed.location("0000000000000009", Location(1.0, 2.0), AT)
    connection.emit(
        UplinkEvent(network_id=NETWORK, dev_eui="0000000000000009", received_at=AT, data=b"\x01")
    )
    connection.remove_device("0000000000000009")
    assert len(events) == count
    # Removing a disconnect listener or a subscription twice is harmless.
    stop = connection.on_disconnect(lambda: None)
    stop()
    stop()
    unsubscribe()
    unsubscribe()
    # A listener that ends the connection during the inventory's replay ends the replay.
    replayed: list[DeviceEvent] = []

    def end_at_once(event: DeviceEvent) -> None:
        replayed.append(event)
        connection.disconnect()

    await connection.async_subscribe(listener=end_at_once)
    assert len(replayed) == 1
    assert not connection.available
    feed.close()
