"""The SenRa client against the SenRa simulator: REST, notifications, downlinks, class changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
import pytest

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
    MulticastSetup,
)
from custom_components.lorawan_hub.lns.senra import (
    SenraClient,
    devices_from_csv,
    uplink_from_notification,
)
from simulator import __main__ as cli
from simulator.senra import SenraSimulator
from simulator.server import SimulatorServer

from .sink import RecordingSink

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


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


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
    "change", [{"devEui": "x"}, {"txtime": None}, {"pdu": "0Z"}, {"seqno": "many"}]
)
def test_malformed_notifications(change: dict[str, Any]) -> None:
    """A wrong field is a ProtocolError."""
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


async def test_validate_and_devices(session: aiohttp.ClientSession, senra: SenraSimulator) -> None:
    """The API key is checked with the export; devices come with metadata, type and address."""
    client = make_client(session, senra)
    await client.validate()
    devices = await client.list_devices()
    assert [(d.dev_eui, d.name, d.model, d.dev_addr, d.activation) for d in devices] == [
        (METER, "Water meter", "METER", "01ABCDEF", "JOINED"),
        (VALVE, None, None, None, "JOINED"),
    ]
    assert devices[1].location == Location(40.1, -73.2)
    with pytest.raises(AuthError):
        await make_client(session, senra, api_key="AK2:wrong").validate()
    # On an action, a 403 is a refusal of that action: the key itself works.
    with pytest.raises(Forbidden):
        await make_client(session, senra, api_key="AK2:wrong").clear_downlink_queue(METER)
    await senra.stop()
    with pytest.raises(CannotConnect):
        await client.validate()


async def test_notifications_reach_the_sink(
    session: aiohttp.ClientSession, senra: SenraSimulator
) -> None:
    """Single and batched notifications, ack of a downlink, class, positions, max payload."""
    client = make_client(session, senra)
    sink = RecordingSink()
    assert await client.accept_push("", {}, 1) is False  # not running yet
    task = asyncio.create_task(client.run(sink))
    async with asyncio.timeout(10):
        await sink.wait_for(lambda: sink.up)
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
    assert [u.dev_eui for u in sink.uplinks] == [METER, VALVE]
    assert len(sink.downlink_statuses) == 1
    assert sink.downlink_statuses[0].message_id == "100000"
    assert sink.downlink_statuses[0].state is DownlinkState.ACKNOWLEDGED
    assert sink.device_updates[0].device_class is LoRaClass.A
    assert sink.locations[VALVE] == Location(40.2, -73.3)
    assert await client.max_downlink_size(METER) == 53
    assert await client.max_downlink_size(VALVE) is None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_downlinks(session: aiohttp.ClientSession, senra: SenraSimulator) -> None:
    """Sendmsg with port, confirmed, clear (replace) and immediate; clearmsgs empties the queue."""
    client = make_client(session, senra)
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


async def test_class_change_task(session: aiohttp.ClientSession, senra: SenraSimulator) -> None:
    """A class change polls its task until done; a failed task reports its messages."""
    client = make_client(session, senra)
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
    slow = make_client(session, senra, task_limit=0.2)
    with pytest.raises(CannotConnect, match="did not finish"):
        await slow.set_device_class(VALVE, LoRaClass.A)


async def test_task_answers_that_are_wrong(session: aiohttp.ClientSession) -> None:
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
        client = SenraClient(session, server.base_url, "k", "70B3D57ED0FFFF01")
        for _ in range(3):
            with pytest.raises(ProtocolError):
                await client.set_device_class(METER, LoRaClass.C)
        with pytest.raises(ProtocolError, match="msgId"):
            await client.send_downlink(Downlink(dev_eui=METER, f_port=1, payload=b""))
        with pytest.raises(ProtocolError, match="mcAddr"):
            await client.create_multicast_group(MulticastSetup(tags=("g",)))
        with pytest.raises(ProtocolError, match="msgId"):
            await client.send_multicast("BBBBBB01", 1, b"")
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
    await cli.run_senra(args, stop)
    assert "pushed to http://127.0.0.1:9/x" in capsys.readouterr().out


async def test_multicast_groups(session: aiohttp.ClientSession, senra: SenraSimulator) -> None:
    """A group of the devices tagged with its name; members added and removed; a downlink."""
    client = make_client(session, senra)
    group = await client.create_multicast_group(MulticastSetup(tags=("valves",)))
    assert group.dev_euis == (VALVE,)
    address = group.group_id
    await client.add_to_multicast_group(address, [METER])
    assert senra.groups[address] == {METER, VALVE}
    with pytest.raises(InvalidRequest, match="not added"):
        await client.add_to_multicast_group(address, ["0000000000000009"])
    await client.remove_from_multicast_group(address, [VALVE])
    assert senra.groups[address] == {METER}
    result = await client.send_multicast(address, 5, b"\x0a")
    assert result.message_id is not None
    assert senra.group_downlinks == [(address, b"\x0a", 5)]
    status = await client.multicast_group_status(address)
    assert (status.group_id, status.device_class, status.dev_euis) == (
        address,
        LoRaClass.C,
        (METER,),
    )
    assert status.states == {METER: "Initializing"}
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


async def test_fuota(session: aiohttp.ClientSession, senra: SenraSimulator) -> None:
    """A firmware transfer starts with the file and its parameters, reports, and cancels."""
    client = make_client(session, senra)
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
