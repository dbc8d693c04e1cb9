"""
Tests of the OrionM2M simulator, over real sockets on 127.0.0.1.

pytest-homeassistant-custom-component disables ``socket.socket`` before every
test (only Unix sockets stay allowed) and limits connections to 127.0.0.1.
The ``socket_enabled`` fixture of pytest-socket re-enables socket creation for
a test while the 127.0.0.1-only restriction stays, so every test here uses it
(through ``pytestmark``). The ``enable_socket`` marker is not enough: the Home
Assistant plugin disables sockets again after pytest-socket's marker handling.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
import json
import runpy
import sys
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web
import pytest

from simulator import __main__ as cli, orion
from simulator.command import demo_device
from simulator.lpp import DemoPayloads, guess_kind
from simulator.orion import (
    DEFAULT_APP_ID,
    DEFAULT_TOKEN,
    HUGE_FRAME_SIZE,
    OrionSimulator,
    format_time,
    parse_time,
)
from simulator.server import SimulatorServer

pytestmark = pytest.mark.usefixtures("socket_enabled")

LIVING = "70B3D57ED0050000"
DOOR = "70B3D57ED0050001"
TRACKER = "70B3D57ED0050002"
UNKNOWN = "0011223344556677"

type WS = aiohttp.ClientWebSocketResponse


@pytest.fixture
async def sim() -> AsyncIterator[OrionSimulator]:
    """Return a started simulator with three devices."""
    simulator = OrionSimulator()
    simulator.add_device(LIVING, description="Living room climate", lat=52.09, lon=5.12)
    simulator.add_device(DOOR, description="Front door", node_class=3, lat=52.1, lon=5.13)
    simulator.add_device(TRACKER, description="Garden tracker", max_dl_size=11)
    async with simulator:
        yield simulator


def endpoint(sim: OrionSimulator, app_id: str = DEFAULT_APP_ID, token: str = DEFAULT_TOKEN) -> str:
    """Return the simulator's URL with credentials."""
    return f"{sim.url}?app_id={app_id}&token={token}"


async def connect(session: aiohttp.ClientSession, sim: OrionSimulator) -> WS:
    """Connect with the right credentials and check the greeting."""
    ws = await session.ws_connect(endpoint(sim))
    greeting = await ws.receive_json()
    assert greeting["cmd"] == "connected"
    assert greeting["status"] == 1
    return ws


@pytest.fixture
async def ws(http_session: aiohttp.ClientSession, sim: OrionSimulator) -> AsyncIterator[WS]:
    """Return a connected client."""
    client = await connect(http_session, sim)
    yield client
    await client.close()


async def ask(ws: WS, request: dict[str, Any]) -> dict[str, Any]:
    """Send a request and return the next message."""
    await ws.send_json(request)
    answer: dict[str, Any] = await ws.receive_json()
    return answer


async def consume(ws: WS) -> None:
    """Subscribe to realtime data."""
    assert await ask(ws, {"cmd": "consume_req"}) == {
        "cmd": "consume_resp",
        "status": 1,
        "consumer_count": 1,
    }


# ------------------------------------------------------------------ connection


async def test_connect_greeting_counts_clients_and_consumers(
    http_session: aiohttp.ClientSession, sim: OrionSimulator
) -> None:
    first = await http_session.ws_connect(endpoint(sim))
    assert await first.receive_json() == {
        "cmd": "connected",
        "status": 1,
        "clients_count": 1,
        "consumer_count": 0,
    }
    await consume(first)
    second = await http_session.ws_connect(endpoint(sim))
    assert await second.receive_json() == {
        "cmd": "connected",
        "status": 1,
        "clients_count": 2,
        "consumer_count": 1,
    }
    assert sim.client_count == 2
    assert sim.consumer_count == 1
    await first.close()
    await second.close()


@pytest.mark.parametrize(("app_id", "token"), [("demo-app", "wrong"), ("other", "demo-token")])
async def test_wrong_credentials_are_refused(
    http_session: aiohttp.ClientSession, sim: OrionSimulator, app_id: str, token: str
) -> None:
    async with http_session.ws_connect(endpoint(sim, app_id, token)) as ws:
        assert await ws.receive_json() == {"cmd": "connected", "status": 2, "error_code": 1}
        assert (await ws.receive()).type is WSMsgType.CLOSE
    assert sim.client_count == 0


async def test_missing_credentials_are_refused(
    http_session: aiohttp.ClientSession, sim: OrionSimulator
) -> None:
    async with http_session.ws_connect(sim.url) as ws:
        assert (await ws.receive_json())["error_code"] == 1


async def test_reject_token_once(http_session: aiohttp.ClientSession, sim: OrionSimulator) -> None:
    sim.reject_token_once()
    async with http_session.ws_connect(endpoint(sim)) as ws:
        assert await ws.receive_json() == {"cmd": "connected", "status": 2, "error_code": 1}
    ws = await connect(http_session, sim)
    await ws.close()


async def test_client_limit(http_session: aiohttp.ClientSession, sim: OrionSimulator) -> None:
    sim.max_clients = 1
    first = await connect(http_session, sim)
    async with http_session.ws_connect(endpoint(sim)) as ws:
        assert await ws.receive_json() == {"cmd": "connected", "status": 2, "error_code": 2}
        assert (await ws.receive()).type is WSMsgType.CLOSE
    await first.close()


async def test_plain_http_get_is_a_bad_request(
    http_session: aiohttp.ClientSession, sim: OrionSimulator
) -> None:
    async with http_session.get(f"http://127.0.0.1:{sim.port}/ws/v2/") as response:
        assert response.status == 400
    async with http_session.ws_connect(
        f"ws://127.0.0.1:{sim.port}/ws/v2?app_id=demo-app&token=demo-token"
    ) as ws:
        assert (await ws.receive_json())["status"] == 1


async def test_url_and_port(sim: OrionSimulator) -> None:
    assert sim.url == f"ws://127.0.0.1:{sim.port}/ws/v2/"
    assert sim.port > 0


async def test_client_closing_is_noticed(
    http_session: aiohttp.ClientSession, sim: OrionSimulator
) -> None:
    ws = await connect(http_session, sim)
    await consume(ws)
    await ws.close()
    await sim.wait_for_clients(0)
    assert sim.consumer_count == 0


async def test_connection_ends_when_server_stops(http_session: aiohttp.ClientSession) -> None:
    simulator = OrionSimulator()
    await simulator.start()
    ws = await connect(http_session, simulator)
    stopping = asyncio.create_task(simulator.stop())
    message = await ws.receive()
    assert message.type is WSMsgType.CLOSE
    assert message.data == 1001
    await stopping
    assert ws.closed


async def test_client_that_does_not_read_cannot_block_stop(
    http_session: aiohttp.ClientSession,
) -> None:
    simulator = OrionSimulator()
    simulator.close_timeout = 0.2
    simulator.add_device(LIVING)
    await simulator.start()
    ws = await connect(http_session, simulator)
    await consume(ws)
    # Far more than the socket buffers hold, and the client reads none of it.
    for _ in range(20):
        simulator.send_malformed("huge")
    loop = asyncio.get_running_loop()
    started = loop.time()
    await simulator.stop()
    assert loop.time() - started < 5
    assert simulator.client_count == 0
    await ws.close()


async def test_alive_timeout_with_a_client_that_does_not_read(
    http_session: aiohttp.ClientSession, sim: OrionSimulator
) -> None:
    sim.close_timeout = 0.1
    sim.alive_timeout_unit = 0.1
    ws = await connect(http_session, sim)
    await consume(ws)
    assert (await ask(ws, {"cmd": "set_alive_timeout", "timeout": 1}))["timeout"] == 1
    for _ in range(20):
        sim.send_malformed("huge")
    await sim.wait_for_clients(0)
    await ws.close()


async def test_frames_for_a_closed_connection_are_dropped(
    http_session: aiohttp.ClientSession, sim: OrionSimulator
) -> None:
    ws = await connect(http_session, sim)
    conn = sim._connections[0]
    await ws.close()
    await sim.wait_for_clients(0)
    conn.send_json({"cmd": "ping_resp"})  # the outbox is shut: nothing happens
    conn.abort()  # no transport left: nothing happens
    assert conn.outbox.empty()


# -------------------------------------------------------------------- requests


async def test_unparseable_json(ws: WS, sim: OrionSimulator) -> None:
    await ws.send_str("{nope")
    assert await ws.receive_json() == {"cmd": "json_parse_error"}
    await ws.send_bytes(b"\x00")
    assert await ws.receive_json() == {"cmd": "json_parse_error"}
    assert sim.received == []


@pytest.mark.parametrize(
    "request_",
    [{"cmd": "what_req"}, {"cmd": 5}, {"operation_id": "x"}],
)
async def test_unknown_command(ws: WS, request_: dict[str, Any]) -> None:
    # As the document shows it (3.23): the command only, no operation_id.
    assert await ask(ws, request_) == {"cmd": "invalid_command_req"}


async def test_unknown_commands_knob(ws: WS, sim: OrionSimulator) -> None:
    """A server that predates a command (coordinates came in revision 09) does not know it."""
    sim.unknown_commands.add("get_device_coordinates_req")
    request = {"cmd": "get_device_coordinates_req", "operation_id": "1W3fd"}
    assert await ask(ws, request) == {"cmd": "invalid_command_req"}
    assert (await ask(ws, {"cmd": "get_devices_req"}))["status"] == 1


async def test_json_that_is_not_an_object(ws: WS) -> None:
    await ws.send_str("[1, 2]")
    assert await ws.receive_json() == {"cmd": "invalid_command_req"}


async def test_wrongly_typed_operation_id(ws: WS) -> None:
    assert await ask(ws, {"cmd": "get_tariffs_req", "operation_id": 7}) == {"cmd": "invalid_req"}


async def test_received_and_wait_for_request(ws: WS, sim: OrionSimulator) -> None:
    await ask(ws, {"cmd": "ping_req"})
    await ask(ws, {"cmd": "ping_req", "operation_id": "second"})
    assert await sim.wait_for_request("ping_req") == {"cmd": "ping_req"}
    assert (await sim.wait_for_request("ping_req"))["operation_id"] == "second"
    waiting = asyncio.create_task(sim.wait_for_request("ping_req"))
    await ws.send_json({"cmd": "ping_req", "operation_id": "third"})
    assert (await waiting)["operation_id"] == "third"
    assert [r.get("operation_id") for r in sim.received] == [None, "second", "third"]


async def test_delay(ws: WS, sim: OrionSimulator) -> None:
    sim.delay = 0.01
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await ask(ws, {"cmd": "ping_req"}))["cmd"] == "ping_resp"
    assert loop.time() - started >= 0.01


async def test_get_applications(ws: WS, sim: OrionSimulator) -> None:
    # The sample (3.3) has no status.
    expected = {
        "cmd": "get_applications_resp",
        "operation_id": "abc",
        "applicationCount": 1,
        "applicationList": [{"appEui": sim.app_eui, "tokens": ["demo-token"]}],
    }
    assert await ask(ws, {"cmd": "get_applications_req", "operation_id": "abc"}) == expected
    request = {"cmd": "get_applications_req", "operation_id": "abc", "appEui": sim.app_eui}
    assert await ask(ws, request) == expected
    request["appEui"] = "819EA8554FCD762A"
    assert await ask(ws, request) == {
        "cmd": "get_applications_resp",
        "operation_id": "abc",
        "status": 2,
        "error_code": 2,
    }
    assert (await ask(ws, {"cmd": "get_applications_req", "appEui": 1}))["cmd"] == "invalid_req"


async def test_get_tariffs(ws: WS) -> None:
    answer = await ask(ws, {"cmd": "get_tariffs_req"})
    assert answer["status"] == 1
    assert [t["code"] for t in answer["tariffs"]] == ["A1", "A2"]


@pytest.mark.parametrize(
    ("cmd", "response"),
    [
        ("create_application_req", "create_application_resp"),
        ("delete_application_req", "delete_application_resp"),
        ("create_device_req", "create_device_resp"),
        ("delete_device_req", "delete_device_resp"),
        ("delete_device", "delete_device_resp"),
    ],
)
async def test_management_commands_are_unauthorized(ws: WS, cmd: str, response: str) -> None:
    assert await ask(ws, {"cmd": cmd, "operation_id": "m"}) == {
        "cmd": response,
        "operation_id": "m",
        "status": 2,
        "error_code": 1,
    }


async def test_get_devices(ws: WS, sim: OrionSimulator) -> None:
    answer = await ask(ws, {"cmd": "get_devices_req", "operation_id": "Qlg"})
    assert answer["cmd"] == "get_devices_resp"
    assert answer["operation_id"] == "Qlg"
    assert answer["status"] == 1
    assert "error_code" not in answer
    assert answer["deviceCount"] == 3
    living, door, tracker = answer["deviceList"]
    living_device = sim.devices[LIVING]
    assert living == {
        "devEui": LIVING,
        "devAddr": "D0050000",
        "application_eui": sim.app_eui,
        "description": "Living room climate",
        "app_key": living_device.app_key,
        "nwks_key": living_device.nwks_key,
        "apps_key": living_device.apps_key,
        "node_class": 1,
        "rx_window": 1,
        "adr": True,
        "adr_interval": 5,
        "adr_min": None,
        "adr_max": None,
        "adr_fix": None,
        "duty_cycle": 0,
        "seq_up": 0,
        "seq_down": 0,
        "seq_chk": 0,
        "region": 1,
        "activation": 0,
        "lat": 52.09,
        "lon": 5.12,
    }
    assert len(living_device.app_key) == 32
    assert living_device.app_key != sim.devices[DOOR].app_key
    # Every other device carries its coordinates as strings.
    assert (door["lat"], door["lon"], door["node_class"]) == ("52.1", "5.13", 3)
    assert (tracker["lat"], tracker["lon"]) == (None, None)


async def test_get_devices_filter(ws: WS) -> None:
    answer = await ask(ws, {"cmd": "get_devices_req", "devEui": DOOR.lower()})
    assert [d["devEui"] for d in answer["deviceList"]] == [DOOR]
    answer = await ask(ws, {"cmd": "get_devices_req", "devEui": UNKNOWN})
    assert (answer["status"], answer["deviceCount"], answer["deviceList"]) == (1, 0, [])
    answer = await ask(ws, {"cmd": "get_devices_req", "devEui": "XYZ"})
    assert answer == {"cmd": "get_devices_resp", "status": 2, "error_code": 3}
    answer = await ask(ws, {"cmd": "get_devices_req", "devEui": 12})
    assert answer == {"cmd": "invalid_req"}


def required(sim: OrionSimulator, dev_eui: str = LIVING) -> dict[str, Any]:
    """Return what an update must carry besides the device, as the document's example sends."""
    return {"application_eui": sim.app_eui, "app_key": sim.devices[dev_eui].app_key}


async def test_update_device_class(ws: WS, sim: OrionSimulator) -> None:
    request = {"cmd": "update_device_req", "operation_id": "rdk", "devEui": LIVING}
    answer = await ask(ws, {**request, **required(sim), "node_class": 3})
    assert answer["cmd"] == "update_device_resp"
    assert answer["operation_id"] == "rdk"
    assert answer["status"] == 1
    assert answer["node_class"] == 3
    assert answer["devEui"] == LIVING
    assert sim.devices[LIVING].node_class == 3
    # The sample accept's fields: the device record with down_queue, numbers for lat/lon.
    assert list(answer)[3:] == [
        "devEui",
        "devAddr",
        "application_eui",
        "description",
        "app_key",
        "nwks_key",
        "apps_key",
        "node_class",
        "rx_window",
        "adr",
        "adr_interval",
        "adr_min",
        "adr_max",
        "adr_fix",
        "duty_cycle",
        "seq_up",
        "seq_down",
        "seq_chk",
        "region",
        "activation",
        "down_queue",
        "lat",
        "lon",
    ]
    answer = await ask(ws, {"cmd": "dev_lw_class_req", "devEui": LIVING})
    assert answer["deviceList"] == [{"devEui": LIVING, "devAddr": "D0050000", "lwClass": 3}]


async def test_update_device_fields(ws: WS, sim: OrionSimulator) -> None:
    key = "79AFAC4879C5A1E2BFEDF4A4E35C0C6B"
    answer = await ask(
        ws,
        {
            "cmd": "update_device_req",
            "devAddr": "d0050001",
            "description": "Back door",
            "app_key": key,
            "down_queue": 2,
            "application_eui": sim.app_eui,
            "adr_min": None,
            "adr_max": 5,
            "seq_chk": True,
            "lat": 1,
            "lon": 2.5,
            "tariff_code": "A2",
            "region": 2,
        },
    )
    assert answer["status"] == 1
    device = sim.devices[DOOR]
    assert (device.description, device.app_key, device.adr_max, device.seq_chk) == (
        "Back door",
        key,
        5,
        1,
    )
    assert (device.lat, device.lon, device.tariff_code, device.region) == (1.0, 2.5, "A2", 2)
    # Numbers in update_device_resp, though get_devices_resp gives this device's as strings.
    assert (answer["lat"], answer["lon"], answer["down_queue"]) == (1.0, 2.5, 2)
    answer = await ask(
        ws,
        {
            "cmd": "update_device_req",
            "devEui": DOOR,
            "devAddr": "0a0b0c0d",
            "lat": None,
            **required(sim, DOOR),
        },
    )
    assert (answer["devAddr"], answer["lat"]) == ("0A0B0C0D", None)


async def test_update_device_document_example(ws: WS, sim: OrionSimulator) -> None:
    """The document's example update (3.9) is accepted: what it sends is enough."""
    device = sim.add_device("7DA50BE8C74CE6DC")
    device.app_key = "79AFAC4879C5A1E2BFEDF4A4E35C0C6B"
    sim.app_eui = "6042366ED7A302CF"
    answer = await ask(
        ws,
        {
            "cmd": "update_device_req",
            "operation_id": "rdk",
            "devEui": "7DA50BE8C74CE6DC",
            "application_eui": "6042366ED7A302CF",
            "app_key": "79AFAC4879C5A1E2BFEDF4A4E35C0C6B",
            "region": 2,
        },
    )
    assert (answer["status"], answer["region"]) == (1, 2)


@pytest.mark.parametrize("missing", ["application_eui", "app_key"])
async def test_update_device_without_required_fields(
    ws: WS, sim: OrionSimulator, missing: str
) -> None:
    """An update that leaves out a required field is error 2, "Required field is not filled"."""
    fields = {"devEui": LIVING, **required(sim), "node_class": 3}
    del fields[missing]
    assert await ask(ws, {"cmd": "update_device_req", **fields}) == {
        "cmd": "update_device_resp",
        "status": 2,
        "error_code": 2,
    }
    assert await ask(ws, {"cmd": "update_device_req", "devEui": LIVING, "node_class": 3}) == {
        "cmd": "update_device_resp",
        "status": 2,
        "error_code": 2,
    }
    assert sim.devices[LIVING].node_class == 1


@pytest.mark.parametrize(
    ("fields", "error_code"),
    [
        ({}, 2),
        ({"devEui": UNKNOWN}, 9),
        ({"devAddr": "01020304"}, 9),
        ({"devEui": LIVING, "node_class": 4}, 3),
        ({"devEui": LIVING, "node_class": 0}, 3),
        ({"devEui": LIVING, "app_key": "00"}, 3),
        ({"devEui": LIVING, "lat": 91}, 3),
        ({"devEui": LIVING, "application_eui": "0000000000000001"}, 5),
        ({"devEui": LIVING, "tariff_code": "Z9"}, 6),
        ({"devEui": LIVING, "devAddr": "D0050001"}, 4),
        ({"devEui": LIVING, "devAddr": "xyz"}, 3),
    ],
)
async def test_update_device_errors(
    ws: WS, sim: OrionSimulator, fields: dict[str, Any], error_code: int
) -> None:
    base = required(sim) if fields else {}
    answer = await ask(ws, {"cmd": "update_device_req", **base, **fields})
    assert answer == {"cmd": "update_device_resp", "status": 2, "error_code": error_code}
    assert sim.devices[LIVING].node_class == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"devEui": LIVING, "node_class": "3"},
        {"devEui": LIVING, "node_class": True},
        {"devEui": LIVING, "node_class": None},
        {"devEui": LIVING, "adr": 1},
        {"devEui": LIVING, "lat": "52.1"},
        {"devEui": 5},
    ],
)
async def test_update_device_wrong_types(ws: WS, fields: dict[str, Any]) -> None:
    assert await ask(ws, {"cmd": "update_device_req", **fields}) == {"cmd": "invalid_req"}


async def test_consume_and_unconsume(
    http_session: aiohttp.ClientSession, sim: OrionSimulator
) -> None:
    first = await connect(http_session, sim)
    second = await connect(http_session, sim)
    await consume(first)
    await sim.wait_for_consumers(1)
    assert await ask(first, {"cmd": "consume_req"}) == {
        "cmd": "consume_resp",
        "status": 2,
        "error_code": 2,
    }
    assert await ask(second, {"cmd": "consume_req"}) == {
        "cmd": "consume_resp",
        "status": 2,
        "error_code": 1,
    }
    assert await ask(first, {"cmd": "unconsume_req", "unbind": False}) == {
        "cmd": "unconsume_resp",
        "status": 1,
    }
    assert await ask(first, {"cmd": "unconsume_req"}) == {
        "cmd": "unconsume_resp",
        "status": 2,
        "error_code": 1,
    }
    assert await ask(first, {"cmd": "unconsume_req", "unbind": "yes"}) == {"cmd": "invalid_req"}
    await consume(second)
    await first.close()
    await second.close()


async def test_consume_more_consumers(http_session: aiohttp.ClientSession) -> None:
    async with OrionSimulator(max_consumers=2) as simulator:
        first = await connect(http_session, simulator)
        second = await connect(http_session, simulator)
        await consume(first)
        assert (await ask(second, {"cmd": "consume_req"}))["consumer_count"] == 2
        await simulator.wait_for_consumers(2)
        await first.close()
        await second.close()


async def test_consume_disabled_application(ws: WS, sim: OrionSimulator) -> None:
    sim.disabled = True
    assert await ask(ws, {"cmd": "consume_req"}) == {
        "cmd": "consume_resp",
        "status": 2,
        "error_code": 3,
    }


async def test_ping(ws: WS, sim: OrionSimulator) -> None:
    assert await ask(ws, {"cmd": "ping_req"}) == {"cmd": "ping_resp", "seq": 0}
    assert await ask(ws, {"cmd": "ping_req"}) == {"cmd": "ping_resp", "seq": 1}
    sim.answer_pings = False
    await ws.send_json({"cmd": "ping_req"})
    # The ping is ignored: the next answer is the tariff list's.
    assert (await ask(ws, {"cmd": "get_tariffs_req"}))["cmd"] == "get_tariffs_resp"
    sim.answer_pings = True
    assert await ask(ws, {"cmd": "ping_req", "operation_id": "p"}) == {
        "cmd": "ping_resp",
        "operation_id": "p",
        "seq": 2,
    }


async def test_ping_sequence_wraps(ws: WS, sim: OrionSimulator) -> None:
    await ask(ws, {"cmd": "ping_req"})
    conn = sim._connections[0]
    conn.ping_seq = 65535
    assert (await ask(ws, {"cmd": "ping_req"}))["seq"] == 65535
    assert (await ask(ws, {"cmd": "ping_req"}))["seq"] == 0


async def test_alive_timeout_is_enforced(ws: WS, sim: OrionSimulator) -> None:
    sim.alive_timeout_unit = 0.05
    assert await ask(ws, {"cmd": "set_alive_timeout", "timeout": 2}) == {
        "cmd": "set_alive_timeout_resp",
        "timeout": 2,
    }
    message = await ws.receive()
    assert message.type is WSMsgType.CLOSE
    assert (message.data, message.extra) == (1001, "alive timeout")


async def test_alive_timeout_zero_disables_it(ws: WS, sim: OrionSimulator) -> None:
    sim.alive_timeout_unit = 0.01
    await ask(ws, {"cmd": "set_alive_timeout", "timeout": 1})
    assert await ask(ws, {"cmd": "set_alive_timeout", "timeout": 0}) == {
        "cmd": "set_alive_timeout_resp",
        "timeout": 0,
    }
    assert sim._connections[0].alive_timeout is None


@pytest.mark.parametrize("value", [None, -1, 65536, 1.5, "10", True])
async def test_alive_timeout_invalid(ws: WS, value: object) -> None:
    request: dict[str, Any] = {"cmd": "set_alive_timeout"}
    if value is not None:
        request["timeout"] = value
    assert await ask(ws, request) == {"cmd": "invalid_req"}


# -------------------------------------------------------------------- realtime


async def test_realtime_data(ws: WS, sim: OrionSimulator) -> None:
    await consume(ws)
    moment = datetime(2018, 2, 17, 13, 6, 22, 123456, tzinfo=UTC)
    uplink = await sim.emit_uplink(
        LIVING,
        bytes.fromhex("7713f8"),
        fcnt=7525,
        time=moment,
        rssi=-99,
        lsnr=7.5,
        datr=4,
        freq=865.1,
        gateway_id="0000B827EB76A75F",
    )
    assert await ws.receive_json() == {
        "cmd": "realtime_data",
        "devEui": LIVING,
        "devAddr": "D0050000",
        "status": 1,
        "data": {
            "adr": True,
            "fcnt": 7525,
            "ack": False,
            "time": "2018-02-17 13:06:22+0000",
            "datr": 4,
            "mtype": 2,
            "fopts": "",
            "lsnr": 7.5,
            "gatewayId": "0000B827EB76A75F",
            "gateway_available": [],
            "rssi": -99,
            "freq": 865.1,
            "data": "7713F8",
            "id": uplink.id,
            "size": 16,
        },
    }
    assert uplink.time == moment.replace(microsecond=0)
    second = await sim.emit_uplink(LIVING.lower(), b"\x01", time=datetime(2024, 1, 1, 12))  # noqa: DTZ001
    assert second.time == datetime(2024, 1, 1, 12, tzinfo=UTC)
    message = await ws.receive_json()
    assert message["data"]["fcnt"] == 7526
    assert second.id == uplink.id + 1
    third = await sim.emit_uplink(LIVING, b"\x02")
    await ws.receive_json()
    assert third.time.tzinfo is UTC
    assert third.time.microsecond == 0


async def test_uplinks_are_stored_without_consumers(sim: OrionSimulator) -> None:
    first = await sim.emit_uplink(DOOR, b"\x00")
    second = await sim.emit_uplink(DOOR, b"\x01")
    assert (first.fcnt, second.fcnt) == (0, 1)
    assert sim.history == [first, second]
    with pytest.raises(KeyError):
        await sim.emit_uplink(UNKNOWN, b"")


async def test_duplicate_next(ws: WS, sim: OrionSimulator) -> None:
    await consume(ws)
    sim.duplicate_next()
    await sim.emit_uplink(LIVING, b"\x01")
    await sim.emit_uplink(LIVING, b"\x02")
    frames = [(await ws.receive_json())["data"]["data"] for _ in range(3)]
    assert frames == ["01", "01", "02"]
    assert len(sim.history) == 2


async def test_drop_after(http_session: aiohttp.ClientSession, ws: WS, sim: OrionSimulator) -> None:
    await consume(ws)
    sim.drop_after(2)
    await sim.emit_uplink(LIVING, b"\x01")
    await sim.emit_uplink(LIVING, b"\x02")
    assert (await ws.receive_json())["data"]["data"] == "01"
    assert (await ws.receive_json())["data"]["data"] == "02"
    # No close frame: the connection just ends.
    assert (await ws.receive()).type is WSMsgType.CLOSED
    await sim.wait_for_clients(0)
    # The knob is spent: the next connection lasts.
    again = await connect(http_session, sim)
    assert (await ask(again, {"cmd": "ping_req"}))["cmd"] == "ping_resp"
    await again.close()


async def test_drop_after_zero_drops_at_once(ws: WS, sim: OrionSimulator) -> None:
    sim.drop_after(0)
    assert (await ws.receive()).type is WSMsgType.CLOSED


async def test_die(ws: WS, sim: OrionSimulator) -> None:
    dying = asyncio.create_task(sim.die())
    assert await ws.receive_json() == {"cmd": "die_connection_close"}
    message = await ws.receive()
    assert message.type is WSMsgType.CLOSE
    await dying
    assert sim.client_count == 0


async def test_wait_for_consumers_waits(ws: WS, sim: OrionSimulator) -> None:
    waiting = asyncio.create_task(sim.wait_for_consumers())
    await ws.send_json({"cmd": "consume_req"})
    await waiting
    assert sim.consumer_count == 1


@pytest.mark.parametrize(
    "kind", ["json", "hex", "types", "missing", "huge", "unknown_cmd", "binary"]
)
async def test_send_malformed(ws: WS, sim: OrionSimulator, kind: str) -> None:
    await consume(ws)
    sim.send_malformed(kind)
    message = await ws.receive(timeout=5)
    if kind == "binary":
        assert message.type is WSMsgType.BINARY
        return
    assert message.type is WSMsgType.TEXT
    if kind == "json":
        with pytest.raises(json.JSONDecodeError):
            json.loads(message.data)
        return
    frame = json.loads(message.data)
    if kind == "unknown_cmd":
        assert frame == {"cmd": "something_new"}
        return
    assert frame["cmd"] == "realtime_data"
    assert frame["devEui"] == LIVING
    if kind == "hex":
        assert frame["data"]["data"] == "ZZ"
    elif kind == "types":
        assert frame["data"]["fcnt"] == "abc"
        assert frame["data"]["rssi"] == {}
    elif kind == "missing":
        assert "data" not in frame
    else:
        assert len(message.data) >= HUGE_FRAME_SIZE


async def test_send_malformed_without_devices(http_session: aiohttp.ClientSession) -> None:
    async with OrionSimulator() as simulator:
        ws = await connect(http_session, simulator)
        await consume(ws)
        simulator.send_malformed("missing")
        assert (await ws.receive_json())["devEui"] == "0000000000000000"
        with pytest.raises(ValueError, match="unknown malformed"):
            simulator.send_malformed("other")
        await ws.close()


async def test_send_malformed_only_to_consumers(ws: WS, sim: OrionSimulator) -> None:
    sim.send_malformed("unknown_cmd")
    assert (await ask(ws, {"cmd": "ping_req"}))["cmd"] == "ping_resp"


# ---------------------------------------------------------------- the database


async def fill_history(sim: OrionSimulator) -> None:
    """Store uplinks at 10:00, 10:01, ... 10:14 UTC on 2024-05-01, alternating devices."""
    start = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    for minute in range(15):
        device = LIVING if minute % 2 == 0 else DOOR
        await sim.emit_uplink(device, bytes([minute]), time=start + timedelta(minutes=minute))


async def test_get_data(ws: WS, sim: OrionSimulator) -> None:
    await fill_history(sim)
    answer = await ask(
        ws,
        {
            "cmd": "get_data_req",
            "operation_id": "abc",
            "appld": "demo-app",
            "devEui": LIVING,
            "date_from": "2024-05-01 12:02:00+0200",
            "date_to": "2024-05-01 10:06:00+0000",
            "limit": 10,
        },
    )
    assert answer["cmd"] == "get_data_resp"
    assert answer["operation_id"] == "abc"
    assert answer["status"] == 1
    assert answer["dataCount"] == 3
    assert [entry["data"] for entry in answer["dataList"]] == ["02", "04", "06"]
    first = answer["dataList"][0]
    assert first == {
        "devEui": LIVING,
        "devAddr": "D0050000",
        "gatewayEui": "0000B827EBFD64DE",
        "adr": True,
        "fcnt": 1,
        "ack": False,
        "time": "2024-05-01 10:02:00+0000",
        "datr": 5,
        "mtype": 2,
        "fopts": "",
        "lsnr": 6.2,
        "gatewayId": 1,
        "gateway_available": [],
        "rssi": -100,
        "freq": 868.1,
        "data": "02",
        "id": sim.history[2].id,
        "size": 14,
        "output_ack": False,
        "output_ack_time": None,
    }


async def test_get_data_limit_and_order(ws: WS, sim: OrionSimulator) -> None:
    await fill_history(sim)
    answer = await ask(ws, {"cmd": "get_data_req"})
    assert [e["data"] for e in answer["dataList"]] == [f"{n:02X}" for n in range(10)]
    answer = await ask(ws, {"cmd": "get_data_req", "descending": True, "limit": 3})
    assert [e["data"] for e in answer["dataList"]] == ["0E", "0D", "0C"]
    answer = await ask(ws, {"cmd": "get_data_req", "devAddr": "D0050001", "limit": 100})
    assert answer["dataCount"] == 7
    answer = await ask(ws, {"cmd": "get_data_req", "devEui": UNKNOWN})
    assert answer["dataCount"] == 0
    answer = await ask(ws, {"cmd": "get_data_req", "limit": 0})
    assert answer["dataList"] == []


async def test_get_data_same_second_keeps_order(ws: WS, sim: OrionSimulator) -> None:
    moment = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    for n in range(3):
        await sim.emit_uplink(LIVING, bytes([n]), time=moment)
    answer = await ask(ws, {"cmd": "get_data_req", "descending": True})
    assert [e["data"] for e in answer["dataList"]] == ["02", "01", "00"]


@pytest.mark.parametrize(
    ("fields", "error_code"),
    [
        ({"date_from": "yesterday"}, 1),
        ({"date_to": "2024-05-01 10:00:00"}, 1),
        ({"date_from": "2024-05-01T10:00:00+0000"}, 1),
        ({"date_from": "2024-05-02 00:00:00+0000", "date_to": "2024-05-01 00:00:00+0000"}, 3),
        ({"appld": "other-app"}, 2),
        ({"appId": "other-app"}, 2),
    ],
)
async def test_get_data_errors(ws: WS, fields: dict[str, Any], error_code: int) -> None:
    for cmd in ("get_data_req", "get_downlink_data_req"):
        answer = await ask(ws, {"cmd": cmd, **fields})
        assert answer == {
            "cmd": cmd.replace("_req", "_resp"),
            "status": 2,
            "error_code": error_code,
        }


@pytest.mark.parametrize(
    "fields",
    [{"limit": "10"}, {"limit": -1}, {"descending": "yes"}, {"date_from": 1}, {"devEui": 1}],
)
async def test_get_data_wrong_types(ws: WS, fields: dict[str, Any]) -> None:
    assert await ask(ws, {"cmd": "get_data_req", **fields}) == {"cmd": "invalid_req"}


# ----------------------------------------------------------------- class, size


async def test_dev_lw_class(ws: WS) -> None:
    answer = await ask(ws, {"cmd": "dev_lw_class_req", "operation_id": "axd"})
    assert answer["operation_id"] == "axd"
    assert answer["status"] == 1
    assert answer["deviceCount"] == 3
    assert [d["lwClass"] for d in answer["deviceList"]] == [1, 3, 1]
    answer = await ask(ws, {"cmd": "dev_lw_class_req", "devEui": UNKNOWN})
    assert answer["deviceList"] == []
    answer = await ask(ws, {"cmd": "dev_lw_class_req", "devEui": "12"})
    assert answer["error_code"] == 3


async def test_max_dl_data(ws: WS) -> None:
    answer = await ask(ws, {"cmd": "max_dl_data_req", "operation_id": "abc", "devEui": TRACKER})
    assert answer == {
        "cmd": "max_dl_data_resp",
        "operation_id": "abc",
        "status": 1,
        "devCount": 1,
        "devList": [{"devEui": TRACKER, "devAddr": "D0050002", "maxDataSize": 11}],
    }
    answer = await ask(ws, {"cmd": "max_dl_data_req", "devAddr": "D0050000"})
    assert answer["devList"][0]["devEui"] == LIVING
    answer = await ask(ws, {"cmd": "max_dl_data_req"})
    assert answer["devCount"] == 3
    answer = await ask(ws, {"cmd": "max_dl_data_req", "devEui": UNKNOWN})
    assert answer == {"cmd": "max_dl_data_resp", "status": 2, "error_code": 1}
    answer = await ask(ws, {"cmd": "max_dl_data_req", "devAddr": "FFFFFFFF"})
    assert answer["error_code"] == 1


# ------------------------------------------------------------------- downlinks


async def test_downlink_class_a_waits_for_an_uplink(ws: WS, sim: OrionSimulator) -> None:
    answer = await ask(
        ws,
        {
            "cmd": "downlink_data_req",
            "operation_id": "xyz",
            "devEui": LIVING,
            "lwClass": 1,
            "fport": 2,
            "data": "ffffffffffff",
        },
    )
    assert answer == {
        "cmd": "downlink_data_resp",
        "operation_id": "xyz",
        "status": 1,
        "dataId": 1,
        "dataInQueue": 1,
        "devEui": LIVING,
        "devAddr": "D0050000",
    }
    answer = await ask(ws, {"cmd": "downlink_data_req", "devAddr": "D0050000", "data": "01"})
    assert (answer["dataId"], answer["dataInQueue"]) == (2, 2)
    stored = sim.downlinks[0]
    assert (stored.data_hex, stored.fport, stored.lw_class, stored.real_time) == (
        "FFFFFFFFFFFF",
        2,
        1,
        None,
    )
    assert stored.queued_at.tzinfo is UTC
    # The sample accept (3.19) has no status.
    assert await ask(ws, {"cmd": "downlink_ack_req", "operation_id": "abc", "datald": 1}) == {
        "cmd": "downlink_ack_resp",
        "operation_id": "abc",
        "ack_time": None,
        "datald": 1,
    }
    uplink = await sim.emit_uplink(LIVING, b"\x01")
    assert stored.ack_time is not None
    assert uplink.output_ack
    answer = await ask(ws, {"cmd": "downlink_ack_req", "dataId": 1})
    assert answer["ack_time"] == format_time(stored.ack_time)
    assert answer["ack_time"].endswith("+0000")
    assert sim.downlinks[1].ack_time is None
    assert sim.devices[LIVING].seq_down == 1
    answer = await ask(ws, {"cmd": "get_data_req", "devEui": LIVING})
    assert answer["dataList"][0]["output_ack"] is True
    assert answer["dataList"][0]["output_ack_time"] == format_time(stored.ack_time)


async def test_downlink_class_c_is_sent_at_once(ws: WS, sim: OrionSimulator) -> None:
    answer = await ask(ws, {"cmd": "downlink_data_req", "devEui": DOOR, "data": "AA"})
    assert answer["dataInQueue"] == 0
    assert sim.downlinks[0].ack_time is not None
    answer = await ask(
        ws, {"cmd": "downlink_data_req", "devEui": LIVING, "data": "AA", "lwClass": 3}
    )
    assert answer["dataInQueue"] == 0


async def test_downlink_real_time(ws: WS, sim: OrionSimulator) -> None:
    request = {"cmd": "downlink_data_req", "devEui": LIVING, "data": "01", "realTime": True}
    # No uplink yet: the receive window is closed, the downlink is late.
    assert (await ask(ws, request))["dataInQueue"] == 0
    assert sim.downlinks[0].late
    assert sim.downlinks[0].ack_time is None
    await sim.emit_uplink(LIVING, b"\x00")
    assert sim.downlinks[0].ack_time is None
    sim.rx1_window = 60
    assert (await ask(ws, request))["dataInQueue"] == 0
    assert sim.downlinks[1].ack_time is not None
    sim.rx1_window = 0
    await ask(ws, request)
    assert sim.downlinks[2].late


@pytest.mark.parametrize(
    ("fields", "error_code"),
    [
        ({"devEui": UNKNOWN, "data": "01"}, 1),
        ({"data": "01"}, 1),
        ({"devAddr": "01020304", "data": "01"}, 1),
        ({"devEui": LIVING, "data": "0G"}, 3),
        ({"devEui": LIVING, "data": "012"}, 3),
        ({"devEui": LIVING, "data": "01 02"}, 3),
        ({"devEui": TRACKER, "data": "00" * 12}, 4),
        ({"devEui": LIVING, "data": "01", "dr": "SF13BW125"}, 5),
        ({"devEui": LIVING, "data": "01", "freq": "868.1"}, 6),
        ({"devEui": LIVING, "data": "01", "freq": True}, 6),
        ({"devEui": LIVING, "data": "01", "freq": 915.0}, 7),
        ({"devEui": LIVING, "data": "01", "freq": 862}, 7),
    ],
)
async def test_downlink_errors(
    ws: WS, sim: OrionSimulator, fields: dict[str, Any], error_code: int
) -> None:
    answer = await ask(ws, {"cmd": "downlink_data_req", "operation_id": "e", **fields})
    assert answer == {
        "cmd": "downlink_data_resp",
        "operation_id": "e",
        "status": 2,
        "error_code": error_code,
    }
    assert sim.downlinks == []


async def test_downlink_accepts_documented_options(ws: WS, sim: OrionSimulator) -> None:
    answer = await ask(
        ws,
        {
            "cmd": "downlink_data_req",
            "devEui": TRACKER,
            "data": "00" * 11,
            "dr": "SF12BW125",
            "freq": 869.525,
            "gatewayEui": "0000B827EB76A75F",
        },
    )
    assert answer["status"] == 1
    answer = await ask(ws, {"cmd": "downlink_data_req", "devEui": TRACKER, "data": "", "freq": 868})
    assert answer["status"] == 1
    assert len(sim.downlinks) == 2


@pytest.mark.parametrize(
    "fields",
    [
        {"devEui": LIVING},
        {"devEui": LIVING, "data": 1},
        {"devEui": LIVING, "data": "01", "fport": "2"},
        {"devEui": LIVING, "data": "01", "fport": 256},
        {"devEui": LIVING, "data": "01", "lwClass": 4},
        {"devEui": LIVING, "data": "01", "realTime": 1},
        {"devEui": LIVING, "data": "01", "dr": 5},
        {"devEui": 1, "data": "01"},
    ],
)
async def test_downlink_wrong_types(ws: WS, fields: dict[str, Any]) -> None:
    assert await ask(ws, {"cmd": "downlink_data_req", **fields}) == {"cmd": "invalid_req"}


async def test_downlink_ack_errors(ws: WS, sim: OrionSimulator) -> None:
    assert await ask(ws, {"cmd": "downlink_ack_req"}) == {
        "cmd": "downlink_ack_resp",
        "status": 2,
        "error_code": 1,
    }
    assert (await ask(ws, {"cmd": "downlink_ack_req", "datald": 99}))["error_code"] == 2
    assert await ask(ws, {"cmd": "downlink_ack_req", "datald": "1"}) == {"cmd": "invalid_req"}


async def test_ack_downlink(ws: WS, sim: OrionSimulator) -> None:
    await ask(ws, {"cmd": "downlink_data_req", "devEui": LIVING, "data": "01"})
    sim.ack_downlink(1)
    assert (await ask(ws, {"cmd": "downlink_ack_req", "datald": 1}))["ack_time"] is not None
    with pytest.raises(KeyError):
        sim.ack_downlink(2)


async def test_get_downlink_data(ws: WS, sim: OrionSimulator) -> None:
    await ask(ws, {"cmd": "downlink_data_req", "devEui": LIVING, "data": "01"})
    await ask(ws, {"cmd": "downlink_data_req", "devEui": DOOR, "data": "02"})
    sim.downlinks[0].queued_at = datetime(2019, 2, 22, 3, 0, tzinfo=UTC)
    answer = await ask(
        ws,
        {
            "cmd": "get_downlink_data_req",
            "operation_id": "rsm234",
            "appld": "demo-app",
            "devEui": LIVING,
            "date_from": "2019-02-22 00:00:00+0600",
            "date_to": "2019-02-23 00:00:00+0600",
            "limit": 10,
        },
    )
    assert answer == {
        "cmd": "get_downlink_data_resp",
        "operation_id": "rsm234",
        "status": 1,
        "dataCount": 1,
        "dataList": [
            {
                "devEui": LIVING,
                "devAddr": "D0050000",
                "time": "2019-02-22 03:00:00+0000",
                "data": "01",
                "downlink_ack": False,
                "downlink_ack_time": None,
            }
        ],
    }
    answer = await ask(ws, {"cmd": "get_downlink_data_req", "descending": True})
    door = answer["dataList"][0]
    assert (door["devEui"], door["downlink_ack"]) == (DOOR, True)
    assert door["downlink_ack_time"].endswith("+0000")


# ----------------------------------------------------------------- coordinates


async def test_device_coordinates(ws: WS, sim: OrionSimulator) -> None:
    answer = await ask(ws, {"cmd": "get_device_coordinates_req", "operation_id": "1W3fd"})
    assert answer == {
        "cmd": "get_device_coordinates_resp",
        "operation_id": "1W3fd",
        "status": 1,
        "deviceCount": 3,
        "deviceList": [
            {"lat": 52.09, "lon": 5.12, "devEui": LIVING},
            {"lat": 52.1, "lon": 5.13, "devEui": DOOR},
            {"lat": None, "lon": None, "devEui": TRACKER},
        ],
    }
    answer = await ask(
        ws,
        {
            "cmd": "set_device_coordinates_req",
            "operation_id": "1W3fd",
            "devEui": TRACKER,
            "lat": 42.221848,
            "lon": 75,
        },
    )
    assert answer == {
        "cmd": "set_device_coordinates_resp",
        "operation_id": "1W3fd",
        "status": 1,
        "devEui": TRACKER,
        "lat": 42.221848,
        "lon": 75.0,
    }
    answer = await ask(ws, {"cmd": "get_device_coordinates_req", "devEui": TRACKER})
    assert answer["deviceList"] == [{"lat": 42.221848, "lon": 75.0, "devEui": TRACKER}]
    assert (sim.devices[TRACKER].lat, sim.devices[TRACKER].lon) == (42.221848, 75.0)


@pytest.mark.parametrize(
    ("fields", "error_code"),
    [
        ({"lat": 1, "lon": 2}, 2),
        ({"devEui": LIVING, "lon": 2}, 2),
        ({"devEui": LIVING, "lat": 1}, 2),
        ({"devEui": LIVING, "lat": 91, "lon": 2}, 3),
        ({"devEui": LIVING, "lat": 1, "lon": -181}, 3),
        ({"devEui": UNKNOWN, "lat": 1, "lon": 2}, 8),
    ],
)
async def test_set_device_coordinates_errors(
    ws: WS, fields: dict[str, Any], error_code: int
) -> None:
    answer = await ask(ws, {"cmd": "set_device_coordinates_req", **fields})
    assert answer == {
        "cmd": "set_device_coordinates_resp",
        "status": 2,
        "error_code": error_code,
    }


async def test_set_device_coordinates_wrong_types(ws: WS) -> None:
    request = {"cmd": "set_device_coordinates_req", "devEui": LIVING, "lat": "1", "lon": 2}
    assert await ask(ws, request) == {"cmd": "invalid_req"}


# ------------------------------------------------------------------ connections


async def test_connections_list_and_kill(
    http_session: aiohttp.ClientSession, sim: OrionSimulator
) -> None:
    first = await connect(http_session, sim)
    second = await connect(http_session, sim)
    await consume(second)
    answer = await ask(first, {"cmd": "connections_list", "operation_id": "abc"})
    assert answer["cmd"] == "connections_list"
    assert answer["operation_id"] == "abc"
    assert answer["status"] == 1
    connections = answer["connections"]
    assert [c["consume"] for c in connections] == [False, True]
    assert all(c["peer"].startswith("tcp4:127.0.0.1:") for c in connections)
    assert all(len(c["uuid"]) == 32 for c in connections)
    answer = await ask(
        first, {"cmd": "connection_kill", "operation_id": "k", "uuid": connections[1]["uuid"]}
    )
    assert answer == {"cmd": "connection_kill_resp", "operation_id": "k", "status": 1}
    message = await second.receive()
    assert message.type is WSMsgType.CLOSE
    assert message.extra == "killed"
    await sim.wait_for_clients(1)
    # A client may end its own connection: the answer comes first.
    answer = await ask(first, {"cmd": "connection_kill", "uuid": connections[0]["uuid"]})
    assert answer == {"cmd": "connection_kill_resp", "status": 1}
    assert (await first.receive()).type is WSMsgType.CLOSE
    await second.close()
    await first.close()


async def test_connection_kill_errors(ws: WS) -> None:
    answer = await ask(ws, {"cmd": "connection_kill", "uuid": "80f0769cae484a4ea7a22a023f2f6379"})
    assert answer == {"cmd": "connection_kill_resp", "status": 2, "error_code": 1}
    assert await ask(ws, {"cmd": "connection_kill"}) == {"cmd": "invalid_req"}


# ------------------------------------------------------------------- generator


async def test_run_generator(ws: WS, sim: OrionSimulator) -> None:
    await consume(ws)
    generator = asyncio.create_task(sim.run_generator(0.003, jitter=0.5, seed=3))
    try:
        frames = [await ws.receive_json() for _ in range(6)]
    finally:
        generator.cancel()
        with pytest.raises(asyncio.CancelledError):
            await generator
    assert [f["devEui"] for f in frames] == [LIVING, DOOR, TRACKER] * 2
    sizes = [len(bytes.fromhex(f["data"]["data"])) for f in frames[:3]]
    # Sensor: six items; door: three; tracker: GPS and voltage.
    assert sizes == [4 + 3 + 4 + 4 + 4 + 4, 3 + 3 + 3, 11 + 4]


async def test_run_generator_waits_for_devices(http_session: aiohttp.ClientSession) -> None:
    async with OrionSimulator() as simulator:
        client = await connect(http_session, simulator)
        await consume(client)
        generator = asyncio.create_task(simulator.run_generator(0.005))
        await asyncio.sleep(0)  # let the generator find no device
        simulator.add_device(TRACKER, description="Bike GPS")
        try:
            frame = await client.receive_json()
        finally:
            generator.cancel()
            with pytest.raises(asyncio.CancelledError):
                await generator
        assert frame["devEui"] == TRACKER
        await client.close()


def test_add_device() -> None:
    simulator = OrionSimulator()
    device = simulator.add_device("70b3d57ed0050009", dev_addr="260b0009", kind="door")
    assert (device.dev_eui, device.dev_addr, device.kind) == (
        "70B3D57ED0050009",
        "260B0009",
        "door",
    )
    assert simulator.add_device(UNKNOWN, description="Cellar climate").kind == "sensor"
    with pytest.raises(ValueError, match="DevEUI"):
        simulator.add_device("1234")
    with pytest.raises(RuntimeError):
        _ = simulator.url


def test_time_format() -> None:
    moment = parse_time("2018-06-04 16:30:15+0600")
    assert format_time(moment) == "2018-06-04 10:30:15+0000"
    with pytest.raises(ValueError, match="does not match format"):
        parse_time("2018-06-04 16:30:15")


# ------------------------------------------------------------------ demo payloads


def test_demo_payloads_are_deterministic() -> None:
    when = datetime(2024, 6, 1, 13, 0, tzinfo=UTC)

    def sequence(seed: int) -> list[bytes]:
        payloads = DemoPayloads(seed)
        return [
            payloads.next_payload(key, kind, when + timedelta(minutes=n), home=(52.0, 5.0))
            for n in range(20)
            for key, kind in (("a", "sensor"), ("b", "door"), ("c", "tracker"))
        ]

    assert sequence(1) == sequence(1)
    assert sequence(1) != sequence(2)


def test_demo_payloads_are_realistic() -> None:
    payloads = DemoPayloads(7)
    noon = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    night = datetime(2024, 6, 1, 2, 0, tzinfo=UTC)
    door_states = set()
    for n in range(200):
        sensor = payloads.next_payload("s", "sensor", noon if n % 2 else night)
        temperature = int.from_bytes(sensor[2:4], "big", signed=True) / 10
        humidity = sensor[6] / 2
        pressure = int.from_bytes(sensor[9:11], "big") / 10
        lux = int.from_bytes(sensor[13:15], "big")
        volts = int.from_bytes(sensor[-2:], "big") / 100
        assert 17 < temperature < 25
        assert 30 < humidity < 60
        assert 1000 < pressure < 1026
        assert (lux > 500) if n % 2 else (lux == 0)
        assert 2.9 <= volts <= 3.7
        door = payloads.next_payload("d", "door", noon)
        door_states.add((door[2], door[5]))
        tracker = payloads.next_payload("t", "tracker", noon)
        latitude = int.from_bytes(tracker[2:5], "big", signed=True) / 10000
        longitude = int.from_bytes(tracker[5:8], "big", signed=True) / 10000
        assert abs(latitude - 52.0907) < 0.02
        assert abs(longitude - 5.1214) < 0.02
    assert door_states == {(0, 0), (0, 1), (1, 0), (1, 1)}
    with pytest.raises(ValueError, match="kind"):
        payloads.next_payload("x", "robot", noon)


def test_guess_kind() -> None:
    assert guess_kind("Front door") == "door"
    assert guess_kind("Window contact") == "door"
    assert guess_kind("Garden tracker") == "tracker"
    assert guess_kind("Bike GPS") == "tracker"
    assert guess_kind("Cellar climate") == "sensor"


# ---------------------------------------------------------------------- server


async def test_simulator_server(http_session: aiohttp.ClientSession) -> None:
    async def hello(_request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    server = SimulatorServer(app)
    with pytest.raises(RuntimeError, match="not been started"):
        _ = server.port
    await server.stop()  # not started: nothing to do
    async with server:
        assert server.started
        with pytest.raises(RuntimeError, match="already started"):
            await server.start()
        async with http_session.get(server.base_url + "/") as response:
            assert await response.text() == "hello"
        port = server.port
    # Stopped, then started again: it binds the same port.
    async with server:
        assert server.port == port
        async with http_session.get(f"http://127.0.0.1:{port}/") as response:
            assert response.status == 200


async def test_simulator_server_port_in_use() -> None:
    async with SimulatorServer(web.Application()) as first:
        second = SimulatorServer(web.Application(), port=first.port)
        with pytest.raises(OSError, match="address already in use"):
            await second.start()
        assert not second.started
    assert not first.started


# ------------------------------------------------------------------------- CLI


def test_cli_defaults() -> None:
    args = cli.build_parser().parse_args(["orion"])
    assert (args.vendor, args.port, args.devices, args.interval) == ("orion", 8765, 5, 5.0)
    assert (args.app_id, args.token, args.seed) == ("demo-app", "demo-token", 1)
    assert args.run is orion.run_demo


def test_cli_options() -> None:
    args = cli.build_parser().parse_args(
        [
            "orion",
            "--port",
            "0",
            "--devices",
            "7",
            "--interval",
            "0.5",
            "--app-id",
            "a",
            "--token",
            "t",
            "--seed",
            "9",
        ]
    )
    assert (args.port, args.devices, args.interval, args.app_id, args.token, args.seed) == (
        0,
        7,
        0.5,
        "a",
        "t",
        9,
    )


@pytest.mark.parametrize(
    "argv", [[], ["nokia"], ["orion", "--interval", "0"], ["orion", "--interval", "x"]]
)
def test_cli_rejects_bad_arguments(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.build_parser().parse_args(argv)
    assert exited.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_cli_main_stops_on_ctrl_c(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[argparse.Namespace] = []

    async def interrupted(args: argparse.Namespace, stop: asyncio.Event | None) -> None:
        seen.append(args)
        raise KeyboardInterrupt

    monkeypatch.setattr(orion, "COMMAND", replace(orion.COMMAND, run=interrupted))
    assert cli.main(["orion", "--devices", "2"]) == 0
    assert seen[0].devices == 2


def test_cli_module_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", ["simulator", "--help"])
    monkeypatch.delitem(sys.modules, "simulator.__main__")
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("simulator", run_name="__main__", alter_sys=True)
    assert exited.value.code == 0


async def test_run_orion(capsys: pytest.CaptureFixture[str]) -> None:
    args = cli.build_parser().parse_args(
        ["orion", "--port", "0", "--devices", "7", "--interval", "60"]
    )
    stop = asyncio.Event()
    stop.set()
    await orion.run_demo(args, stop)
    line = capsys.readouterr().out.strip()
    assert line.startswith("OrionM2M simulator: ws://127.0.0.1:")
    assert line.endswith(
        "/ws/v2/?app_id=demo-app&token=demo-token (7 devices, an uplink each every 60 s)"
    )


def test_demo_devices() -> None:
    simulator = OrionSimulator()
    orion.add_demo_devices(simulator, 8)
    devices = list(simulator.devices.values())
    assert [d.description for d in devices[:5]] == [
        "Living room climate",
        "Front door",
        "Garden tracker",
        "Greenhouse climate",
        "Cellar climate",
    ]
    assert [d.kind for d in devices] == [
        "sensor",
        "door",
        "tracker",
        "sensor",
        "sensor",
        "sensor",
        "door",
        "tracker",
    ]
    assert devices[5].description == "Room 6 climate"
    assert devices[0].dev_eui == "70B3D57ED0050000"
    assert devices[7].dev_eui == "70B3D57ED0050007"
    assert devices[7].dev_addr == "260B0007"
    assert sum(d.lat is not None for d in devices) == 2
    assert demo_device(3) == demo_device(3)
