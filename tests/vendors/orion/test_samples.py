"""
The OrionM2M document's own samples (tests/fixtures/orion/) as test vectors.

Each response and frame sample, sent verbatim over a WebSocket, means to the client what the
document says; each request sample has the shape of what the client sends for that call; and the
simulator answers each documented request with the shape of the document's sample answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import re
from typing import Any

import aiohttp
import pytest

from custom_components.lorawan_hub.lns.errors import ProtocolError
from custom_components.lorawan_hub.lns.models import (
    Downlink,
    DownlinkState,
    Gateway,
    Location,
    LoRaClass,
)
from custom_components.lorawan_hub.lns.orion import OrionClient
from simulator.orion import OrionSimulator
from tests.vendors.sink import RecordingSink, RunningClient, StartClient

from .scripted_server import Reply, ScriptedServer, answer

FIXTURES = Path(__file__).parents[2] / "fixtures" / "orion"

SAMPLES = {
    # section: request sample, response sample (None where the document has none)
    "3.1": ("connections_list_request", "connections_list_response"),
    "3.2": ("connection_kill_request", "connection_kill_response"),
    "3.3": ("get_applications_request", "get_applications_response"),
    "3.4": ("create_application_request", "create_application_response"),
    "3.5": ("delete_application_request", "delete_application_response"),
    "3.6": ("get_tariffs_request", "get_tariffs_response"),
    "3.7": ("get_devices_request", "get_devices_response"),
    "3.8": ("create_device_request", "create_device_response"),
    "3.9": ("update_device_request", "update_device_response"),
    "3.10": ("delete_device_request", "delete_device_response"),
    "3.11": ("consume_request", "realtime_data"),
    "3.13": ("ping_request", None),
    "3.15": ("get_data_request", "get_data_response"),
    "3.16": ("dev_lw_class_request", "dev_lw_class_response"),
    "3.17": ("max_dl_data_request", "max_dl_data_response"),
    "3.18": ("downlink_data_request", "downlink_data_response"),
    "3.19": ("downlink_ack_request", "downlink_ack_response"),
    "3.20": ("get_downlink_data_request", "get_downlink_data_response"),
    "3.21": ("get_device_coordinates_request", "get_device_coordinates_response"),
    "3.22": ("set_device_coordinates_request", "set_device_coordinates_response"),
    "3.23": ("json_parse_error", "invalid_req"),
    "3.23 ": ("invalid_command_req", "die_connection_close"),
}
DATE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d{4}")


def sample(name: str) -> dict[str, Any]:
    """Return a sample of the document, as its fixture holds it."""
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


def shape(value: object) -> object:
    """Return the JSON shape of a value: its keys and types, lists by their first item."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value[:1]]
    if value is None:
        return None
    return type(value).__name__


def test_every_sample_is_a_fixture() -> None:
    """All 44 sample messages and the connection URL of the document are fixtures."""
    names = {name for pair in SAMPLES.values() for name in pair if name is not None}
    assert {path.stem for path in FIXTURES.glob("*.json")} == names
    assert len(names) == 43
    assert (FIXTURES / "connect_url.txt").read_text().strip() == (
        "wss://iot.orion-m2m.com/ws/v2/?app_id=APP_ID&token=APP_KEY"
    )


# --- what the client makes of the samples ------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    """A scripted server answering with the document's samples, verbatim."""
    scripted = ScriptedServer()
    scripted.handlers["get_devices_req"] = lambda request: sample("get_devices_response")
    scripted.handlers["get_device_coordinates_req"] = lambda request: sample(
        "get_device_coordinates_response"
    )
    await scripted.start()
    yield scripted
    await scripted.stop()


@pytest.fixture
async def running_orion_client(
    server: ScriptedServer, http_session: aiohttp.ClientSession, run_client: StartClient
) -> AsyncIterator[RunningClient[OrionClient]]:
    """A client subscribed to the scripted server, with its sink."""
    running = run_client(
        OrionClient(http_session, server.url, "APP_ID", "APP_KEY", request_timeout=2)
    )
    await running.sink.wait_for(lambda: running.sink.up and bool(running.sink.locations))
    yield running
    await running.stop()
    await running.client.close()


def requests_of(server: ScriptedServer, cmd: str) -> list[dict[str, Any]]:
    """Return the requests with ``cmd`` the server received."""
    return [request for request in server.requests if request["cmd"] == cmd]


def same_shape_as_example(
    sent: dict[str, Any], example: dict[str, Any], optional: set[str]
) -> None:
    """
    Check a request against the document's example: shared keys of the same types.

    Keys of the example the client leaves out, and keys it adds, must be among ``optional``.
    """
    shared = sent.keys() & example.keys()
    assert {key: shape(sent[key]) for key in shared} == {key: shape(example[key]) for key in shared}
    assert (sent.keys() ^ example.keys()) <= optional


async def test_connection_url(
    server: ScriptedServer, running_orion_client: RunningClient[OrionClient]
) -> None:
    """The client connects as the document's URL says: /ws/v2/?app_id=...&token=..."""
    url = (FIXTURES / "connect_url.txt").read_text().strip()
    documented = dict(pair.split("=") for pair in url.split("?")[1].split("&"))
    assert server.queries[0] == documented
    assert server.url.endswith("/ws/v2/")


async def test_subscription_requests(
    server: ScriptedServer, running_orion_client: RunningClient[OrionClient]
) -> None:
    """consume_req is the sample; get_devices_req and coordinates are their examples' shape."""
    assert requests_of(server, "consume_req") == [sample("consume_request")]
    # Without devEui: every device (optional in 3.7 and 3.21).
    same_shape_as_example(
        requests_of(server, "get_devices_req")[0], sample("get_devices_request"), {"devEui"}
    )
    same_shape_as_example(
        requests_of(server, "get_device_coordinates_req")[0],
        sample("get_device_coordinates_request"),
        {"devEui"},
    )


async def test_get_devices_response(running_orion_client: RunningClient[OrionClient]) -> None:
    """The device sample is a class A OTAA device at (45.234232, 76.342534), without its keys."""
    sink = running_orion_client.sink
    [device] = sink.device_lists[0]
    assert device.dev_eui == "D745F677B2412E03"
    assert device.dev_addr == "D1FD37F0"
    assert device.app_eui == "819EA8554FCD762A"
    assert device.name is None
    assert device.device_class is LoRaClass.A
    assert device.activation == "OTAA"
    assert device.location == Location(45.234232, 76.342534)
    assert "2B7E151628AED2A6ABF7158809CF4F3C" not in repr(device)


async def test_get_device_coordinates_response(
    running_orion_client: RunningClient[OrionClient],
) -> None:
    """The coordinates sample places its device."""
    sink = running_orion_client.sink
    assert sink.locations == {"D745F677B2412E03": Location(43.2217921642226, 76.8974626064301)}


async def test_realtime_data(
    server: ScriptedServer, running_orion_client: RunningClient[OrionClient]
) -> None:
    """The realtime sample: an unconfirmed uplink, fcnt 7525 at DR4, no port, no ack."""
    sink = running_orion_client.sink
    await server.push(sample("realtime_data"))
    await sink.wait_for(lambda: bool(sink.uplinks))
    [uplink] = sink.uplinks
    assert uplink.dev_eui == "7950D20CBBB77561"
    assert uplink.dev_addr == "7950D20C"
    assert uplink.received_at == datetime(2018, 2, 17, 13, 6, 22, tzinfo=UTC)
    assert uplink.f_cnt == 7525
    assert uplink.f_port is None
    assert uplink.payload == bytes.fromhex("7713F800020F010AA78D0014360100150B0000")
    assert (uplink.data_rate, uplink.spreading_factor) == ("DR4", 8)
    assert (uplink.rssi, uplink.snr, uplink.frequency) == (-100, 6.2, 865.1)
    assert uplink.gateways == (Gateway("0000B827EBFD64DE", -100, 6.2),)
    assert uplink.confirmed is False
    assert uplink.ack is None  # ADRACKReq, not a downlink acknowledgement


async def test_get_data(server: ScriptedServer) -> None:
    """The stored uplink sample is the realtime one, its gateway named by gatewayEui."""
    server.handlers["get_data_req"] = lambda request: sample("get_data_response")
    async with aiohttp.ClientSession() as session:
        client = OrionClient(session, server.url, "app", "token", request_timeout=2)
        sink = RecordingSink()
        sink.resume = datetime.now(UTC) - timedelta(hours=1)
        task = asyncio.create_task(client.run(sink))
        try:
            await sink.wait_for(lambda: bool(sink.uplinks))
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    uplink = sink.uplinks[0]
    assert uplink.dev_eui == "7950D20CBBB77561"
    assert uplink.received_at == datetime(2018, 2, 17, 13, 6, 22, tzinfo=UTC)
    assert (uplink.f_cnt, uplink.f_port, uplink.ack) == (7525, None, None)
    assert uplink.gateways == (Gateway("0000B827EB76A75F", -100, 6.2),)
    request = requests_of(server, "get_data_req")[0]
    # appld and devEui are optional: the client asks for every device of its token.
    same_shape_as_example(request, sample("get_data_request"), {"appld", "devEui", "descending"})
    assert DATE.fullmatch(request["date_from"])
    assert DATE.fullmatch(request["date_to"])


async def test_device_commands(
    server: ScriptedServer, running_orion_client: RunningClient[OrionClient]
) -> None:
    """Class, size, downlink and ack samples answer the client's calls as the document says."""
    client = running_orion_client.client
    server.handlers["dev_lw_class_req"] = lambda request: sample("dev_lw_class_response")
    server.handlers["max_dl_data_req"] = lambda request: sample("max_dl_data_response")
    server.handlers["downlink_data_req"] = lambda request: sample("downlink_data_response")
    server.handlers["downlink_ack_req"] = lambda request: sample("downlink_ack_response")
    assert await client.device_class("6F1E570FFE14DBFC") is LoRaClass.A
    assert await client.max_downlink_size("7AA8974136303736") == 51
    result = await client.send_downlink(
        Downlink(
            dev_eui="6F1E570FFE14DBFC",
            f_port=2,
            payload=bytes.fromhex("FFFFFFFFFFFF"),
            device_class=LoRaClass.A,
        )
    )
    assert (result.message_id, result.state, result.queue_length) == (
        "21",
        DownlinkState.QUEUED,
        1,
    )
    assert await client.downlink_sent_at("16") == datetime(2018, 6, 4, 10, 30, 15, tzinfo=UTC)
    for name, cmd in (
        ("dev_lw_class_request", "dev_lw_class_req"),
        ("max_dl_data_request", "max_dl_data_req"),
    ):
        [sent] = requests_of(server, cmd)
        assert {**sent, "operation_id": "x"} == {**sample(name), "operation_id": "x"}
    [sent] = requests_of(server, "downlink_data_req")
    assert {**sent, "operation_id": "xyz"} == sample("downlink_data_request")
    sent = requests_of(server, "downlink_ack_req")[-1]
    # The document's spelling (datald), and the one downlink_data_resp uses (dataId).
    assert {**sent, "operation_id": "abc"} == {**sample("downlink_ack_request"), "dataId": 16}


async def test_update_device(
    server: ScriptedServer, running_orion_client: RunningClient[OrionClient]
) -> None:
    """A class change sends the record the device sample read, as the update example is shaped."""
    client = running_orion_client.client
    server.handlers["update_device_req"] = lambda request: sample("update_device_response")
    server.handlers["dev_lw_class_req"] = lambda request: sample("dev_lw_class_response")
    await client.set_device_class("D745F677B2412E03", LoRaClass.A)
    read = requests_of(server, "get_devices_req")[-1]
    assert {**read, "operation_id": "Qlg"} == sample("get_devices_request")
    [update] = requests_of(server, "update_device_req")
    example = sample("update_device_request")
    assert example.keys() <= update.keys()
    assert {key: shape(update[key]) for key in example} == shape(example)
    record = sample("get_devices_response")["deviceList"][0]
    assert {key: update[key] for key in record if key != "node_class"} == {
        key: value for key, value in record.items() if key != "node_class"
    }
    assert update["node_class"] == 1


@pytest.mark.parametrize("name", ["json_parse_error", "invalid_req", "invalid_command_req"])
async def test_refusals(
    server: ScriptedServer, running_orion_client: RunningClient[OrionClient], name: str
) -> None:
    """The three refusals of 3.23 fail the request they answer."""
    client = running_orion_client.client
    server.handlers["max_dl_data_req"] = lambda request: sample(name)
    with pytest.raises(ProtocolError, match=name):
        await client.max_downlink_size("7AA8974136303736")


async def test_die_connection_close(
    server: ScriptedServer, running_orion_client: RunningClient[OrionClient]
) -> None:
    """After die_connection_close the client connects again."""
    sink = running_orion_client.sink
    await server.push(sample("die_connection_close"))
    await server.push(None)
    await sink.wait_for(lambda: [state for state, _ in sink.connections] == [True, False, True])


async def test_ping_request(server: ScriptedServer) -> None:
    """The keep-alive is the document's ping_req."""
    pinged = asyncio.Event()

    def ping(request: dict[str, Any]) -> Reply:
        pinged.set()
        return answer("ping_resp", seq=1)(request)

    server.handlers["ping_req"] = ping
    async with aiohttp.ClientSession() as session:
        client = OrionClient(session, server.url, "app", "token", ping_interval=0.01)
        task = asyncio.create_task(client.run(RecordingSink()))
        try:
            await pinged.wait()
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert requests_of(server, "ping_req")[0] == sample("ping_request")


# --- what the simulator answers to the documented requests -------------------------------------


@pytest.fixture
async def sim() -> AsyncIterator[OrionSimulator]:
    """A simulator holding the devices, uplinks and downlinks the document's examples name."""
    simulator = OrionSimulator(app_id="77179F01", token="token")
    for dev_eui in (
        "D745F677B2412E03",
        "7DA50BE8C74CE6DC",
        "7950D20CBBB77561",
        "6F1E570FFE14DBFC",
        "7AA8974136303736",
    ):
        simulator.add_device(dev_eui, lat=45.234232, lon=76.342534)
    simulator.devices["7DA50BE8C74CE6DC"].app_key = "79AFAC4879C5A1E2BFEDF4A4E35C0C6B"
    async with simulator:
        yield simulator


async def test_simulator_answers_as_the_samples(sim: OrionSimulator) -> None:
    """
    Each documented request, sent to the simulator, is answered in the shape of its sample.

    Not compared: the management commands (3.4, 3.5, 3.8, 3.10), which the simulated
    application token may not use (it answers "Unauthorized access").
    """
    await sim.emit_uplink("7950D20CBBB77561", b"\x01", time=datetime(2018, 2, 16, 12, tzinfo=UTC))
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{sim.url}?app_id=77179F01&token=token") as ws,
    ):
        await ws.receive_json()

        async def ask(request: dict[str, Any]) -> dict[str, Any]:
            await ws.send_json(request)
            answer_: dict[str, Any] = await ws.receive_json()
            return answer_

        connections = await ask(sample("connections_list_request"))
        assert shape(connections) == shape(sample("connections_list_response"))
        sim.app_eui = "819EA8554FCD762A"
        assert shape(await ask(sample("get_applications_request"))) == shape(
            sample("get_applications_response")
        )
        assert await ask(sample("get_tariffs_request")) == sample("get_tariffs_response")
        devices = await ask(sample("get_devices_request"))
        assert shape(devices) == shape(sample("get_devices_response"))
        sim.app_eui = "6042366ED7A302CF"
        assert shape(await ask(sample("update_device_request"))) == shape(
            sample("update_device_response")
        )
        assert shape(await ask(sample("get_data_request"))) == shape(sample("get_data_response"))
        assert shape(await ask(sample("dev_lw_class_request"))) == shape(
            sample("dev_lw_class_response")
        )
        assert shape(await ask(sample("max_dl_data_request"))) == shape(
            sample("max_dl_data_response")
        )
        for _ in range(15):  # the examples follow downlink 16
            await ask({"cmd": "downlink_data_req", "devEui": "7950D20CBBB77561", "data": "01"})
        queued = await ask(sample("downlink_data_request"))
        assert shape(queued) == shape(sample("downlink_data_response"))
        assert queued["dataId"] == 16
        sim.ack_downlink(16)
        assert shape(await ask(sample("downlink_ack_request"))) == shape(
            sample("downlink_ack_response")
        )
        sim.ack_downlink(1)
        sim.downlinks[0].queued_at = datetime(2019, 2, 22, 12, tzinfo=UTC)
        assert shape(await ask(sample("get_downlink_data_request"))) == shape(
            sample("get_downlink_data_response")
        )
        assert shape(await ask(sample("get_device_coordinates_request"))) == shape(
            sample("get_device_coordinates_response")
        )
        assert shape(await ask(sample("set_device_coordinates_request"))) == shape(
            sample("set_device_coordinates_response")
        )
        kill = sample("connection_kill_request")
        kill["uuid"] = connections["connections"][0]["uuid"]  # the example's is not connected
        assert shape(await ask(kill)) == shape(sample("connection_kill_response"))
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{sim.url}?app_id=77179F01&token=token") as ws,
    ):
        await ws.receive_json()
        await ws.send_json(sample("consume_request"))
        await ws.receive_json()
        await sim.emit_uplink("7950D20CBBB77561", bytes.fromhex("7713F8"))
        assert shape(await ws.receive_json()) == shape(sample("realtime_data"))
        await ws.send_str("{")
        assert await ws.receive_json() == sample("json_parse_error")
        await ws.send_json({"cmd": "get_devices_req", "devEui": 5})
        assert await ws.receive_json() == sample("invalid_req")
        await ws.send_json({"cmd": "what_req"})
        assert await ws.receive_json() == sample("invalid_command_req")
        dying = asyncio.create_task(sim.die())
        assert await ws.receive_json() == sample("die_connection_close")
        await ws.close()
        await dying
