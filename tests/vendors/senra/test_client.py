"""The SenRa client against the SenRa simulator: REST, notifications, downlinks, class changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.lorawan_hub.lns import senra_parse
from custom_components.lorawan_hub.lns.base import ThrottledLog
from custom_components.lorawan_hub.lns.errors import (
    AuthError,
    CannotConnect,
    Forbidden,
    InvalidRequest,
    ProtocolError,
)
from custom_components.lorawan_hub.lns.models import (
    Downlink,
    DownlinkMode,
    DownlinkState,
    FuotaRequest,
    Location,
    LoRaClass,
    MulticastKeys,
    MulticastSetup,
    Uplink,
)
from custom_components.lorawan_hub.lns.senra import SenraClient
from custom_components.lorawan_hub.lns.senra_parse import (
    devices_from_csv,
    task_outcome,
    uplink_from_notification,
)
from simulator import __main__ as cli
from simulator.senra import SenraSimulator, run_demo
from simulator.server import SimulatorServer
from tests.vendors.sink import RecordingSink, StartClient

METER = "70B3D57ED0000501"
VALVE = "70B3D57ED0000502"


@pytest.fixture
async def senra() -> AsyncIterator[SenraSimulator]:
    """A SenRa server with two devices."""
    simulator = SenraSimulator()
    simulator.add_device(METER, metadata="Water meter", dev_type="METER", dev_addr="01abcdef")
    simulator.add_device(VALVE, tags="garden,valves", lat=40.1, lng=-73.2)
    async with simulator:
        yield simulator


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees the warnings about wrong values (they are rate-limited per field)."""
    monkeypatch.setattr(senra_parse, "_VALUES", ThrottledLog(senra_parse._LOGGER))


def make_client(
    session: aiohttp.ClientSession, senra: SenraSimulator, **kwargs: Any
) -> SenraClient:
    """Return a client of the simulated application."""
    return SenraClient(
        session,
        senra.url,
        kwargs.pop("api_key", senra.api_key),
        senra.app_eui,
        task_poll=0.01,
        **kwargs,
    )


def test_documented_notifications() -> None:
    """The document's examples, with RF fields and in the legacy format."""
    uplink = uplink_from_notification(
        {
            "ack": True,
            "channel": 64,
            "datarate": 0,
            "devEui": "FFFFFFFFFFFFFFFF",
            "freq": 903,
            "gwEui": "AAAAAAAAAAAAAAAA",
            "joinId": 209,
            "pdu": "01000016D7011400060E06",
            "port": 1,
            "rssi": -77,
            "seqno": 1,
            "ismBand": "US915",
            "maxPayload": 242,
            "txtime": "2017-02-09T11:35:44.384Z",
            "devClass": "C",
            "estLat": 40.5,
            "estLng": -73.9,
            "unknown": {"ignored": True},
        }
    )
    assert uplink.received_at == datetime(2017, 2, 9, 11, 35, 44, 384000, tzinfo=UTC)
    assert (uplink.f_port, uplink.f_cnt, uplink.ack) == (1, 1, True)
    assert uplink.payload == bytes.fromhex("01000016D7011400060E06")
    assert uplink.gateways[0].gateway_id == "AAAAAAAAAAAAAAAA"
    assert (uplink.rssi, uplink.data_rate, uplink.frequency) == (-77.0, "DR0", 903.0)
    assert uplink.device_class is LoRaClass.C
    assert uplink.location == Location(40.5, -73.9)
    # A position that cannot be right is no position, not a lost uplink.
    wrong = uplink_from_notification(
        {"devEui": METER, "txtime": "2026-01-01T00:00:00Z", "estLat": 99, "estLng": "x"}
    )
    assert wrong.location is None
    legacy = uplink_from_notification(
        {
            "EUI": "FFFFFFFFFFFFFFFF",
            "PDU": "0102",
            "TXTime": "2017-02-09T11:35:44.384Z",
            "SeqNo": 5,
            "Port": 2,
            "RSSI": -90,
            "GW": "AAAAAAAAAAAAAAAA",
        }
    )
    assert (legacy.dev_eui, legacy.f_cnt, legacy.payload, legacy.rssi) == (
        "FFFFFFFFFFFFFFFF",
        5,
        b"\x01\x02",
        -90.0,
    )


@pytest.mark.parametrize(
    "change", [{"devEui": "x"}, {"devEui": None}, {"pdu": "0Z"}, {"pdu": 5}, {"pdu": "00" * 300}]
)
def test_malformed_notifications(change: dict[str, Any]) -> None:
    """Without its device or its payload a notification is no uplink: a ProtocolError."""
    base = {"devEui": METER, "txtime": "2026-01-01T00:00:00Z", "pdu": "01", "seqno": 1}
    with pytest.raises(ProtocolError):
        uplink_from_notification(base | change)


def test_csv_export() -> None:
    """Quoted cells with commas, blank lines and unknown columns; a header without EUI fails."""
    devices = devices_from_csv(
        "Dev EUI,Contract,Tags,Metadata,Dev Type,Lat,Lng\n"
        '70B3D57ED0000501,99,"a,b",Meter,METER,40.1,-73.2\n'
        "\n"
        "70B3D57ED0000502,99,,,,0,0\n"
        "70B3D57ED0000503,99,,,,91,0\n"
    )
    assert [(d.dev_eui, d.name, d.model, d.location) for d in devices] == [
        ("70B3D57ED0000501", "Meter", "METER", Location(40.1, -73.2)),
        ("70B3D57ED0000502", None, None, None),
        ("70B3D57ED0000503", None, None, None),
    ]
    assert devices_from_csv("") == []
    # A BOM before the header, and a row without a valid EUI (skipped).
    assert [d.dev_eui for d in devices_from_csv("\ufeffDev EUI\nnope\n70B3D57ED0000501\n")] == [
        "70B3D57ED0000501"
    ]
    with pytest.raises(ProtocolError):
        devices_from_csv("Contract\n99\n")


async def test_validate_and_devices(
    http_session: aiohttp.ClientSession, senra: SenraSimulator
) -> None:
    """The key is checked with the export; devices come with metadata, type, address, profile."""
    client = make_client(http_session, senra)
    await client.validate()
    senra.devices[METER].prof_id = 12
    devices = await client.list_devices()
    assert [(d.dev_eui, d.name, d.model, d.dev_addr, d.activation, d.profile) for d in devices] == [
        (METER, "Water meter", "METER", "01ABCDEF", "JOINED", "12"),
        (VALVE, None, None, None, "JOINED", None),
    ]
    assert "profId" in senra.last_query("device/csvExport")["fields"].split(",")
    assert devices[1].location == Location(40.1, -73.2)
    with pytest.raises(AuthError):
        await make_client(http_session, senra, api_key="AK2:wrong").validate()
    with pytest.raises(AuthError):
        await make_client(http_session, senra, api_key="AK2:wrong").list_devices()
    await senra.stop()
    with pytest.raises(CannotConnect):
        await client.validate()


async def test_notifications_reach_the_sink(
    http_session: aiohttp.ClientSession, senra: SenraSimulator, recording_sink: RecordingSink
) -> None:
    """Single and batched notifications, ack of a downlink, class, positions, max payload."""
    client = make_client(http_session, senra)
    assert await client.accept_push("", {}, 1) is False  # not running yet
    task = asyncio.create_task(client.run(recording_sink))
    async with asyncio.timeout(10):
        await recording_sink.wait_for(lambda: recording_sink.up)
    one = senra.notification(METER, b"\x01\x67\x00\xe6", ackDnMsgId=100000, ack=True)
    assert await client.accept_push("", one, 1)
    batch = [
        senra.notification(VALVE, b"\x01\x00\x01", cfgLat=40.2, cfgLng=-73.3, rf=False),
        {"devEui": "broken"},
        senra.notification(METER, b"\x01", appEui="0000000000000001"),
    ]
    assert await client.accept_push("", batch, 1)
    # A replay and a copy heard by another gateway: nothing happens twice.
    assert await client.accept_push("", [one, {**one, "dup": True, "seqno": 99}], 1)
    assert [u.dev_eui for u in recording_sink.uplinks] == [METER, VALVE]
    assert len(recording_sink.downlink_statuses) == 1
    assert recording_sink.downlink_statuses[0].message_id == "100000"
    assert recording_sink.downlink_statuses[0].state is DownlinkState.ACKNOWLEDGED
    assert recording_sink.device_updates[0].device_class is LoRaClass.A
    assert recording_sink.locations[VALVE] == Location(40.2, -73.3)
    assert await client.max_downlink_size(METER) == 53
    assert await client.max_downlink_size(VALVE) is None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_downlinks(http_session: aiohttp.ClientSession, senra: SenraSimulator) -> None:
    """Sendmsg with port, confirmed, clear (replace) and immediate; clearmsgs empties the queue."""
    client = make_client(http_session, senra)
    result = await client.send_downlink(
        Downlink(dev_eui=METER, f_port=88, payload=b"\x01\x02", confirmed=True)
    )
    assert result.message_id == str(senra.downlinks[0].msg_id)
    sent = senra.downlinks[0]
    assert (sent.pdu, sent.port, sent.confirmed) == (b"\x01\x02", 88, True)
    assert sent.params["timeoutMinutes"] == "65"
    await client.send_downlink(
        Downlink(dev_eui=METER, f_port=1, payload=b"\x03", mode=DownlinkMode.REPLACE)
    )
    assert senra.downlinks[1].params["clear"] == "true"
    assert senra.devices[METER].queue == [senra.downlinks[1].msg_id]
    await client.send_downlink(
        Downlink(
            dev_eui=METER,
            f_port=1,
            payload=b"\x04",
            mode=DownlinkMode.IMMEDIATE,
            device_class=LoRaClass.C,
        )
    )
    assert senra.downlinks[2].params["immediate"] == "true"
    assert senra.downlinks[2].params["class"] == "C"
    await client.clear_downlink_queue(METER)
    assert senra.devices[METER].queue == []
    with pytest.raises(InvalidRequest, match="not found"):
        await client.send_downlink(Downlink(dev_eui="0000000000000009", f_port=1, payload=b""))
    with pytest.raises(InvalidRequest, match="Bad Request"):
        await client.send_downlink(Downlink(dev_eui=METER, f_port=255, payload=b"\x01"))


async def test_class_change_task(
    http_session: aiohttp.ClientSession, senra: SenraSimulator
) -> None:
    """A class change polls its task until done; a failed task reports its messages."""
    client = make_client(http_session, senra)
    await client.set_device_class(VALVE, LoRaClass.C)
    assert senra.devices[VALVE].dev_class == "C"
    polls = [path for _m, path in senra.requests if path.endswith("/device/status")]
    assert len(polls) == 3
    senra.fail_tasks = True
    with pytest.raises(InvalidRequest):
        await client.set_device_class(VALVE, LoRaClass.B)
    senra.fail_tasks = False
    with pytest.raises(InvalidRequest, match="was not found"):
        await client.set_device_class("0000000000000009", LoRaClass.B)
    senra.task_polls = 1000
    slow = make_client(http_session, senra, task_limit=0.2)
    with pytest.raises(CannotConnect, match="did not finish"):
        await slow.set_device_class(VALVE, LoRaClass.A)


async def test_task_answers_that_are_wrong(http_session: aiohttp.ClientSession) -> None:
    """No status URL, one on another server, or a status that is not JSON: protocol errors."""
    answers = iter(
        [
            {"message": "ok"},
            {"statusUrl": "https://elsewhere.example/status"},
            {"statusUrl": "SELF"},
        ]
    )
    base: dict[str, str] = {}

    async def update(request: web.Request) -> web.Response:
        answer = next(answers)
        if answer.get("statusUrl") == "SELF":
            answer = {"statusUrl": f"{base['url']}/rest/integration/device/status?reqId=x"}
        return web.json_response(answer)

    async def status(request: web.Request) -> web.Response:
        return web.Response(text="not json")

    async def sendmsg(request: web.Request) -> web.Response:
        return web.json_response({"message": "Success!", "devs": "none"})

    async def export(request: web.Request) -> web.Response:
        return web.Response(status=503)

    app = web.Application()
    app.router.add_post("/rest/integration/device/update", update)
    app.router.add_get("/rest/integration/device/status", status)
    app.router.add_post("/rest/integration/device/sendmsg", sendmsg)
    app.router.add_post("/rest/integration/mcast/setup", sendmsg)
    app.router.add_post("/rest/integration/mcast/sendmsg", sendmsg)
    app.router.add_get("/rest/integration/device/csvExport", export)
    async with SimulatorServer(app) as server:
        base["url"] = server.base_url
        client = SenraClient(http_session, server.base_url, "k", "70B3D57ED0FFFF01")
        for _ in range(3):
            with pytest.raises(ProtocolError):
                await client.set_device_class(METER, LoRaClass.C)
        # A success without a message id is still a queued downlink (not a failure to retry).
        result = await client.send_downlink(Downlink(dev_eui=METER, f_port=1, payload=b""))
        assert (result.message_id, result.state) == (None, DownlinkState.QUEUED)
        with pytest.raises(ProtocolError, match="mcAddr"):
            await client.create_multicast_group(MulticastSetup(tags=("g",)))
        assert (await client.send_multicast("BBBBBB01", 1, b"")).message_id is None
        with pytest.raises(CannotConnect):
            await client.validate()
        await client.close()


async def test_pusher_and_cli(senra: SenraSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    """The simulator's pusher posts to its target; the CLI serves demo devices."""
    received: list[Any] = []

    async def target(request: web.Request) -> web.Response:
        received.append((request.headers.get("Authorization"), await request.json()))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", target)
    async with SimulatorServer(app) as home:
        senra.notify_to(f"{home.base_url}/hook", {"Authorization": "Bearer x"})
        assert await senra.push(senra.legacy(senra.notification(METER, b"\x01"))) == 200
        task = asyncio.create_task(senra.run_generator(0.01))
        async with asyncio.timeout(10):
            await senra.wait_for(lambda: len(senra.push_results) >= 3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert received[0] == (
        "Bearer x",
        {
            "EUI": METER,
            "PDU": "01",
            "TXTime": received[0][1]["TXTime"],
            "SeqNo": 1,
            "Port": 1,
            "RSSI": -77,
            "SNR": 8.5,
            "FREQ": 903.9,
            "GW": "00800000A0001234",
            "DataRate": 3,
        },
    )
    args = cli.build_parser().parse_args(
        [
            "senra",
            "--port",
            "0",
            "--devices",
            "2",
            "--push-url",
            "http://127.0.0.1:9/x",
            "--push-header",
            "Authorization: Bearer y",
        ]
    )
    stop = asyncio.Event()
    stop.set()
    await run_demo(args, stop)
    assert "pushed to http://127.0.0.1:9/x" in capsys.readouterr().out


async def test_multicast_groups(http_session: aiohttp.ClientSession, senra: SenraSimulator) -> None:
    """A group of the devices tagged with its name; members added and removed; a downlink."""
    client = make_client(http_session, senra)
    group = await client.create_multicast_group(MulticastSetup(tags=("valves",)))
    assert group.dev_euis == (VALVE,)
    address = group.group_id
    await client.add_to_multicast_group(address, [METER])
    assert set(senra.groups[address].members) == {METER, VALVE}
    with pytest.raises(InvalidRequest, match="not added"):
        await client.add_to_multicast_group(address, ["0000000000000009"])
    await client.remove_from_multicast_group(address, [VALVE])
    assert set(senra.groups[address].members) == {METER}
    result = await client.send_multicast(address, 5, b"\x0a")
    assert result.message_id is not None
    assert senra.group_downlinks == [(address, b"\x0a", 5)]
    status = await client.multicast_group_status(address)
    assert (status.group_id, status.device_class, status.dev_euis) == (
        address,
        LoRaClass.C,
        (METER,),
    )
    assert status.states == {METER: "Initialized"}
    # Through chosen base stations, to the address of a device holding the session keys.
    stations = ["00800000A0001234", "00800000A0001235"]
    result = await client.send_multicast("01ABCDEF", 6, b"\x0b", stations)
    assert result.message_id is not None
    assert senra.station_downlinks == [("01ABCDEF", b"\x0b", 6, stations)]
    with pytest.raises(InvalidRequest, match="not found"):
        await client.send_multicast("0BADADD5", 6, b"\x0b", stations)
    await client.delete_multicast_group(address)
    with pytest.raises(InvalidRequest, match="not found"):
        await client.multicast_group_status(address)
    assert senra.groups == {}
    with pytest.raises(InvalidRequest, match="not found"):
        await client.send_multicast(address, 5, b"\x0a")
    with pytest.raises(InvalidRequest):
        await client.create_multicast_group(MulticastSetup(tags=("a",), device_class=LoRaClass.A))


async def test_fuota(http_session: aiohttp.ClientSession, senra: SenraSimulator) -> None:
    """A firmware transfer starts with the file and its parameters, reports, and cancels."""
    client = make_client(http_session, senra)
    job_id = await client.start_fuota(
        FuotaRequest(
            dev_euis=(METER, VALVE), firmware=b"\x7fELF" * 100, start_delay=60, redundancy=0.5
        )
    )
    job = senra.fuota[job_id]
    assert (job["devices"], job["firmware"], job["delay"], job["redundancy"]) == (
        [METER, VALVE],
        b"\x7fELF" * 100,
        60,
        0.5,
    )
    status = await client.fuota_status(job_id)
    assert (status.job_id, status.state, status.percent_done) == (job_id, "Pending", 0)
    await client.cancel_fuota(job_id)
    assert (await client.fuota_status(job_id)).state == "Cancelled"
    with pytest.raises(InvalidRequest):
        await client.cancel_fuota("nope")
    with pytest.raises(InvalidRequest):
        await client.start_fuota(FuotaRequest(dev_euis=("0000000000000009",), firmware=b"x"))
    # SenRa sends to devices, not to a group.
    with pytest.raises(InvalidRequest) as err:
        await client.start_fuota(FuotaRequest(dev_euis=(), firmware=b"x", group_id="BBBBBB01"))
    assert err.value.key == "fuota_devices_required"


# Optional fields with a wrong value, and what of the uplink they would have filled.
BAD_OPTIONAL_VALUES: list[tuple[dict[str, Any], str]] = [
    ({"maxPayload": "n/a"}, "maxPayload"),
    ({"maxPayload": 9000}, "maxPayload"),
    ({"appEui": 5}, "appEui"),
    ({"appEui": "not an EUI"}, "appEui"),
    ({"dup": "maybe"}, "dup"),
    ({"estLat": "x", "estLng": -73.0}, "estLat/estLng"),
    ({"cfgLat": [], "cfgLng": 1.0}, "cfgLat/cfgLng"),
    ({"cfgLat": 95.0, "cfgLng": 1.0}, "cfgLat/cfgLng"),
    ({"rssi": "loud"}, "rssi"),
    ({"snr": {}}, "snr"),
    ({"freq": "x"}, "freq"),
    ({"freq": 903900000}, "freq"),
    ({"rssi": 1e300}, "rssi"),
    ({"snr": -99}, "snr"),
    ({"datarate": -1}, "datarate"),
    ({"datarate": "fast"}, "datarate"),
    ({"gwEui": ["x"]}, "gwEui"),
    ({"devClass": "D"}, "devClass"),
    ({"devClass": 3}, "devClass"),
    ({"ack": "sure"}, "ack"),
    ({"ackDnMsgId": {}}, "ackDnMsgId"),
    ({"joinId": "x"}, "joinId"),
    ({"port": 300}, "port"),
    ({"port": "one"}, "port"),
    ({"seqno": "many"}, "seqno"),
    ({"seqno": -1}, "seqno"),
    ({"txtime": "yesterday"}, "txtime"),
    ({"txtime": None}, "txtime"),
]


@pytest.mark.parametrize(("bad", "field"), BAD_OPTIONAL_VALUES)
async def test_a_wrong_optional_value_drops_only_itself(
    http_session: aiohttp.ClientSession,
    senra: SenraSimulator,
    caplog: pytest.LogCaptureFixture,
    bad: dict[str, Any],
    field: str,
    recording_sink: RecordingSink,
    run_client: StartClient,
) -> None:
    """
    A wrong optional value is left out with a warning; the uplink is delivered.

    "Ignore any unknown fields and continue to parse" (003:25). Its replay is still recognised.
    """
    client = make_client(http_session, senra)
    running = run_client(client, recording_sink)
    await running.connected()
    notification = senra.notification(METER, b"\x01\x02", ackDnMsgId=100000) | bad
    assert await client.accept_push("", notification, 1)
    (uplink,) = recording_sink.uplinks
    assert uplink.payload == b"\x01\x02"
    assert f"Ignored a wrong {field} from the server" in caplog.text
    if "maxPayload" in bad:
        assert await client.max_downlink_size(METER) is None
    if "ackDnMsgId" not in bad:
        assert [status.message_id for status in recording_sink.downlink_statuses] == ["100000"]
    assert (uplink.f_port is None) is ("port" in bad)
    assert (uplink.f_cnt is None) is ("seqno" in bad)
    if "txtime" not in bad:
        # The server sends it again (its answer was lost): delivered once only.
        assert await client.accept_push("", notification, 1)
        assert len(recording_sink.uplinks) == 1
    await running.stop()


async def test_an_uplink_without_a_valid_time_is_placed_at_its_arrival(
    http_session: aiohttp.ClientSession, senra: SenraSimulator
) -> None:
    """A wrong txtime is left out: the uplink is kept, received now."""
    before = datetime.now(UTC)
    uplink = uplink_from_notification(senra.notification(METER, b"\x01") | {"txtime": "2026-13-45"})
    assert before <= uplink.received_at <= datetime.now(UTC)


class FailingSink(RecordingSink):
    """A sink whose delivery of the chosen uplinks fails once each."""

    def __init__(self, fail: set[tuple[str, int | None]]) -> None:
        """Fail (dev_eui, f_cnt) once each."""
        super().__init__()
        self.fail = fail

    def uplink(self, uplink: Uplink) -> None:
        """Raise for an uplink chosen to fail, the first time."""
        if (uplink.dev_eui, uplink.f_cnt) in self.fail:
            self.fail.discard((uplink.dev_eui, uplink.f_cnt))
            raise RuntimeError("the state could not be written")
        super().uplink(uplink)


async def test_a_replay_key_is_kept_only_once_delivered(
    http_session: aiohttp.ClientSession, senra: SenraSimulator, run_client: StartClient
) -> None:
    """
    An uplink whose delivery failed is answered "not accepted"; the server's retry delivers it.

    In a batch, each notification is taken on its own: the others are delivered, the push is
    not accepted, and on the retry only the failed one is delivered (the others are replays).
    """
    first = senra.notification(METER, b"\x01")
    sink = FailingSink({(METER, first["seqno"])})
    client = make_client(http_session, senra)
    running = run_client(client, sink)
    await running.connected()
    assert await client.accept_push("", first, 1) is False
    assert sink.uplinks == []
    assert await client.accept_push("", first, 1) is True
    assert [u.f_cnt for u in sink.uplinks] == [first["seqno"]]

    batch = [senra.notification(device, b"\x02") for device in (METER, VALVE, METER)]
    sink.fail = {(VALVE, batch[1]["seqno"])}
    assert await client.accept_push("", batch, 1) is False
    assert [(u.dev_eui, u.f_cnt) for u in sink.uplinks[1:]] == [
        (METER, batch[0]["seqno"]),
        (METER, batch[2]["seqno"]),
    ]
    assert await client.accept_push("", batch, 1) is True
    assert [(u.dev_eui, u.f_cnt) for u in sink.uplinks[3:]] == [(VALVE, batch[1]["seqno"])]
    await running.stop()


async def test_a_rejoin_starts_sequence_numbers_again(
    http_session: aiohttp.ClientSession,
    senra: SenraSimulator,
    recording_sink: RecordingSink,
    run_client: StartClient,
) -> None:
    """
    After a rejoin seqno starts again: the uplink's time tells a new uplink from a replay.

    Legacy notifications have no joinId.
    """
    client = make_client(http_session, senra)
    running = run_client(client, recording_sink)
    await running.connected()
    before = senra.notification(METER, b"\x01", when=datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
    senra.devices[METER].seqno = 0  # the device joined again
    after = senra.notification(METER, b"\x02", when=datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    assert before["seqno"] == after["seqno"] == 1
    for body in (senra.legacy(before), senra.legacy(after), senra.legacy(after)):
        assert await client.accept_push("", body, 1)
    # The current format without joinId too.
    current = {key: value for key, value in after.items() if key != "joinId"}
    assert await client.accept_push("", current | {"txtime": "2026-03-01T10:00:00Z"}, 1)
    assert [u.payload for u in recording_sink.uplinks] == [b"\x01", b"\x02", b"\x02"]
    await running.stop()


async def test_notifications_read_as_the_document_writes_them(
    http_session: aiohttp.ClientSession,
    senra: SenraSimulator,
    recording_sink: RecordingSink,
    run_client: StartClient,
) -> None:
    """
    Values read in every spelling the document uses.

    The application's EUI in another spelling is this application; a class written CLASS_B
    (the device API's spelling) is class B; a string message id is an id.
    """
    client = make_client(http_session, senra)
    running = run_client(client, recording_sink)
    await running.connected()
    spelled = "-".join(senra.app_eui[i : i + 2] for i in range(0, 16, 2)).lower()
    body = senra.notification(
        METER, b"\x01", appEui=spelled, devClass="CLASS_B", ackDnMsgId="100001"
    )
    assert await client.accept_push("", body, 1)
    assert [u.device_class for u in recording_sink.uplinks] == [LoRaClass.B]
    assert [s.message_id for s in recording_sink.downlink_statuses] == ["100001"]
    await running.stop()


async def test_a_revoked_key_is_a_refused_key(
    http_session: aiohttp.ClientSession, senra: SenraSimulator
) -> None:
    """
    403 is the document's only refusal of a key.

    On an action, a key the export refuses too is a refused key (reauthentication); one the
    export takes lacks the right for that action.
    """
    client = make_client(http_session, senra)
    downlink = Downlink(dev_eui=METER, f_port=1, payload=b"\x01")
    senra.refused = {"/rest/integration/device/sendmsg"}
    with pytest.raises(Forbidden):
        await client.send_downlink(downlink)
    senra.refused = set()
    senra.api_key = "AK2:another"  # the key was revoked
    with pytest.raises(AuthError):
        await client.send_downlink(downlink)
    with pytest.raises(AuthError):
        await client.clear_downlink_queue(METER)


async def test_an_unverifiable_key_leaves_the_refusal(http_session: aiohttp.ClientSession) -> None:
    """When the export cannot be reached either, the action's refusal is what is reported."""

    async def refuse(request: web.Request) -> web.Response:
        key = request.headers["authorization"]
        return web.json_response({"message": f"Authorization failure for {key}"}, status=403)

    async def export(request: web.Request) -> web.Response:
        return web.Response(status=503)

    async def busy(request: web.Request) -> web.Response:
        return web.Response(status=429)

    app = web.Application()
    app.router.add_post("/rest/integration/device/sendmsg", refuse)
    app.router.add_get("/rest/integration/device/csvExport", export)
    app.router.add_post("/rest/integration/device/clearmsgs", busy)
    async with SimulatorServer(app) as server:
        client = SenraClient(http_session, server.base_url, "AK2:secret", "70B3D57ED0FFFF01")
        with pytest.raises(Forbidden, match="Authorization failure") as raised:
            await client.send_downlink(Downlink(dev_eui=METER, f_port=1, payload=b""))
        # The server's words, without the key it may echo.
        assert "AK2:secret" not in str(raised.value)
        # 429 is "not now", not a wrong request.
        with pytest.raises(CannotConnect, match="429"):
            await client.clear_downlink_queue(METER)


async def test_a_key_echoed_in_plain_text_is_masked(http_session: aiohttp.ClientSession) -> None:
    """A plain-text refusal keeps its words, shortened, without the key: not even a part of it."""
    key = "AK2:" + "s" * 40

    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=400, text="x" * 180 + request.headers["authorization"])

    app = web.Application()
    app.router.add_post("/rest/integration/device/sendmsg", refuse)
    async with SimulatorServer(app) as server:
        client = SenraClient(http_session, server.base_url, key, "70B3D57ED0FFFF01")
        with pytest.raises(InvalidRequest) as raised:
            await client.send_downlink(Downlink(dev_eui=METER, f_port=1, payload=b""))
    assert raised.value.reason == "x" * 180 + "***"


async def test_not_found_names_what_was_not_found(
    http_session: aiohttp.ClientSession, senra: SenraSimulator
) -> None:
    """A 404 of a device endpoint is an unknown device; of a group, a group not found."""
    client = make_client(http_session, senra)
    with pytest.raises(InvalidRequest) as raised:
        await client.send_downlink(Downlink(dev_eui="0000000000000009", f_port=1, payload=b""))
    assert raised.value.key == "unknown_device"
    with pytest.raises(InvalidRequest) as raised:
        await client.multicast_group_status("0BADADD5")
    assert raised.value.key == "invalid_request"
    assert raised.value.reason == "Multicast group not found"


async def test_multicast_setup_as_documented(
    http_session: aiohttp.ClientSession, senra: SenraSimulator
) -> None:
    """
    A group is set up with the documented parameters; it lists the devices that joined.

    mcast/setup takes devEuis OR devTags (comma separated), devClass B or C, the class B ping
    slot periodicity, type APP.
    """
    client = make_client(http_session, senra)
    senra.failing = {VALVE}
    group = await client.create_multicast_group(
        MulticastSetup(
            dev_euis=(METER, VALVE, "0000000000000009"),
            device_class=LoRaClass.B,
            ping_slot_periodicity=5,
        )
    )
    query = senra.last_query("mcast/setup")
    assert query == {
        "appEui": senra.app_eui,
        "type": "APP",
        "devEuis": f"{METER},{VALVE},0000000000000009",
        "devClass": "B",
        "periodicity": "5",
    }
    assert (group.device_class, group.dev_euis) == (LoRaClass.B, (METER,))
    assert group.states == {METER: "Initializing", VALVE: "Failed"}
    assert senra.groups[group.group_id].dev_class == "B"
    assert senra.groups[group.group_id].periodicity == 5
    # A failed device is not added either.
    senra.add_device("70B3D57ED0000503")
    senra.failing.add("70B3D57ED0000503")
    with pytest.raises(InvalidRequest, match="70B3D57ED0000503"):
        await client.add_to_multicast_group(group.group_id, ["70B3D57ED0000503"])
    # Tags: a tag with a comma is two (SenRa's tags are a comma-separated list).
    senra.failing = set()
    tagged = await client.create_multicast_group(MulticastSetup(tags=(" garden, pumps ", "x")))
    assert senra.last_query("mcast/setup")["devTags"] == "garden,pumps,x"
    assert "devEuis" not in senra.last_query("mcast/setup")
    assert tagged.dev_euis == (VALVE,)
    refusals = [
        (MulticastSetup(), "multicast_members_required"),
        (MulticastSetup(tags=(" , ",)), "multicast_members_required"),
        (MulticastSetup(name="lamps", tags=("a",)), "multicast_name_unsupported"),
        (MulticastSetup(dev_euis=(METER,), tags=("a",)), "multicast_members_twice"),
        (
            MulticastSetup(dev_euis=(METER,), keys=MulticastKeys.generate()),
            "multicast_keys_unsupported",
        ),
        (MulticastSetup(dev_euis=(METER,), ping_slot_periodicity=3), "multicast_ping_slot_class_b"),
        (
            MulticastSetup(dev_euis=(METER,), device_class=LoRaClass.B, ping_slot_periodicity=8),
            "invalid_request",
        ),
    ]
    for setup, key in refusals:
        with pytest.raises(InvalidRequest) as raised:
            await client.create_multicast_group(setup)
        assert raised.value.key == key


def test_task_and_status_answers_with_a_wrong_value() -> None:
    """A wrong value in a task's or a transfer's status is left out, not a failure."""
    task_outcome({"state": "DONE_SUC", "result": {"stats": {"errors": "n/a"}}})
    task_outcome({"state": "DONE_SUC", "result": {"stats": {"errors": 0}}})
    with pytest.raises(InvalidRequest, match="Device update failed"):
        task_outcome({"state": "DONE_FAIL", "result": {"status": "Device update failed"}})
    with pytest.raises(InvalidRequest, match="the task failed"):
        task_outcome({"state": "DONE_FAIL", "result": "oops"})


async def test_fuota_status_with_wrong_values(http_session: aiohttp.ClientSession) -> None:
    """A transfer status with values of the wrong type still reports the job's state."""

    async def status(request: web.Request) -> web.Response:
        return web.json_response(
            {"jobId": 5, "state": "Running", "pctDone": "half", "result": {"x": 1}}
        )

    app = web.Application()
    app.router.add_get("/rest/integration/mcastStatus", status)
    async with SimulatorServer(app) as server:
        client = SenraClient(http_session, server.base_url, "k", "70B3D57ED0FFFF01")
        found = await client.fuota_status("MCastXferJobReq:70B3D57ED0FFFF01")
    assert (found.job_id, found.state, found.percent_done, found.result) == (
        "MCastXferJobReq:70B3D57ED0FFFF01",
        "Running",
        None,
        None,
    )


def test_csv_export_device_profile() -> None:
    """
    ``profId``, "the Device Profile ID" (003:287, 003:648-650), is the device's profile.

    The document shows no header for it: known by its field name as a header, or by position.
    """
    for header in ("Prof Id", "profId", "Profile ID"):
        devices = devices_from_csv(f"Dev EUI,{header}\n70B3D57ED0000501,12\n70B3D57ED0000502,\n")
        assert [(d.dev_eui, d.profile) for d in devices] == [
            ("70B3D57ED0000501", "12"),
            ("70B3D57ED0000502", None),
        ]
    devices = devices_from_csv("Device,P\n70B3D57ED0000501,7\n", ["devEui", "profId"])
    assert devices[0].profile == "7"


def test_csv_export_known_by_position() -> None:
    """Headers the document does not show are known by the order of the requested fields."""
    fields = ["devEui", "metadata", "devType", "devAddr", "lat", "lng"]
    devices = devices_from_csv(
        "Device,Meta,Kind,Address,Y,X\n70B3D57ED0000501,Meter,METER,01abcdef,40.1,-73.2\n",
        fields,
    )
    assert [(d.dev_eui, d.name, d.model, d.dev_addr, d.location) for d in devices] == [
        ("70B3D57ED0000501", "Meter", "METER", "01ABCDEF", Location(40.1, -73.2))
    ]
    with pytest.raises(ProtocolError):
        devices_from_csv("Device,Meta\n70B3D57ED0000501,Meter\n", fields)
