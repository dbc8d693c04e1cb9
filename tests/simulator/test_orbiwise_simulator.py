"""The OrbiWise simulator: its HTTP contract as a plain HTTP client sees it, and its CLI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from simulator import __main__ as cli
from simulator.orbiwise import OrbiWiseSimulator

NODE = "70B3D57ED0000401"


@pytest.fixture
async def sim() -> AsyncIterator[OrbiWiseSimulator]:
    """A simulator with one device."""
    simulator = OrbiWiseSimulator()
    simulator.add_node(NODE, comment="Meter")
    async with simulator:
        yield simulator


@pytest.fixture
async def session(sim: OrbiWiseSimulator) -> AsyncIterator[aiohttp.ClientSession]:
    """A session authenticated with Basic."""
    async with aiohttp.ClientSession(
        headers={"Authorization": aiohttp.encode_basic_auth(sim.username, sim.password)}
    ) as client_session:
        yield client_session


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/rest/nodes/0000000000000009", {}, 404),
        ("PUT", f"/rest/nodes/{NODE}", {"data": "{"}, 400),
        ("PUT", f"/rest/nodes/{NODE}", {"json": [1]}, 400),
        ("PUT", f"/rest/nodes/{NODE}", {"json": {"lora_device_class": 7}}, 400),
        ("PUT", f"/rest/nodes/{NODE}", {"json": {"groups": "+nope"}}, 400),
        ("DELETE", f"/rest/nodes/{NODE}/payloads/ul/1", {}, 404),
        ("POST", f"/rest/nodes/{NODE}/payloads/dl", {"data": "AQ=="}, 400),
        ("POST", f"/rest/nodes/{NODE}/payloads/dl?port=0", {"data": "AQ=="}, 400),
        ("POST", f"/rest/nodes/{NODE}/payloads/dl?port=1&mode=x", {"data": "AQ=="}, 400),
        ("POST", "/rest/groups", {"json": {"groupid": "g"}}, 400),
        ("DELETE", "/rest/groups/nope", {}, 404),
        ("POST", "/rest/multicast/nope?port=1", {"data": "AQ=="}, 404),
        ("PUT", "/rest/pushmode/start", {"json": {"host": "ftp://x", "port": 1}}, 400),
        ("PUT", "/rest/pushmode/start", {"json": {"port": 1}}, 400),
        ("POST", "/rest/oauth2/token", {"data": {"grant_type": "client_credentials"}}, 400),
        ("POST", "/rest/oauth2/token", {"data": {"grant_type": "refresh_token"}}, 401),
    ],
)
async def test_refusals(
    session: aiohttp.ClientSession,
    sim: OrbiWiseSimulator,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
) -> None:
    """Unknown resources are 404, invalid requests 400, an unknown refresh token 401."""
    async with session.request(method, f"{sim.url}{path}", **kwargs) as response:
        assert response.status == status


async def test_rest_api(session: aiohttp.ClientSession, sim: OrbiWiseSimulator) -> None:
    """Plain lists, groups set whole, hex downlinks and stored payloads in hex and newest first."""
    async with session.get(f"{sim.url}/rest/nodes") as response:
        assert [node["DevEUI"] for node in await response.json()] == [NODE]
    async with session.get(f"{sim.url}/rest/nodes/{NODE}") as response:
        assert "comment" not in await response.json()  # the device info object has no name
    async with session.get(f"{sim.url}/rest/nodes/{NODE}?all=true") as response:
        assert (await response.json())["comment"] == "Meter"
    async with session.post(f"{sim.url}/rest/groups", json={"groupid": "g", "title": "G"}):
        pass
    async with session.post(f"{sim.url}/rest/groups", json={"groupid": "g", "title": "G"}) as r:
        assert r.status == 409
    async with session.put(
        f"{sim.url}/rest/nodes/{NODE}", json={"groups": "g,h", "comment": "Renamed"}
    ):
        pass
    assert sim.nodes[NODE].groups == {"g", "h"}
    assert sim.nodes[NODE].comment == "Renamed"
    async with session.post(
        f"{sim.url}/rest/nodes/{NODE}/payloads/dl?port=2&data_format=hex&confirmed=false",
        data="0a0b",
    ) as response:
        assert (await response.json())["transmissionStatus"] == 0
    assert sim.downlinks[0].payload == b"\x0a\x0b"
    assert sim.downlinks[0].confirmed is False
    for _ in range(10):
        sim.downlinks.append(sim.downlinks[0])
    async with session.post(f"{sim.url}/rest/nodes/{NODE}/payloads/dl?port=2", data="AQ==") as r:
        assert r.status == 409
    async with session.post(f"{sim.url}/rest/multicast/g?port=2", data="AQ==") as response:
        assert response.status == 200
    async with session.post(f"{sim.url}/rest/multicast/g", data="AQ==") as response:
        assert response.status == 400
    async with session.get(f"{sim.url}/rest/nodes/{NODE}/payloads/ul") as response:
        assert response.status == 204
    sim.publish(NODE, b"\x01", when=None)
    sim.publish(NODE, b"\x02")
    async with session.get(
        f"{sim.url}/rest/nodes/{NODE}/payloads/ul?data_format=hex&sort_by_timestamp=desc"
    ) as response:
        assert [item["dataFrame"] for item in await response.json()] == ["02", "01"]
    async with session.get(
        f"{sim.url}/rest/nodes/{NODE}/payloads/ul?paged_results=true&limit=1"
    ) as response:
        page = await response.json()
    assert page["next_page_state"] == "1"
    async with session.put(f"{sim.url}/rest/pushmode/stop"):
        pass


async def test_push_to_a_missing_receiver(sim: OrbiWiseSimulator) -> None:
    """A REST push that cannot be delivered is recorded as failed; the uplink stays stored."""
    async with aiohttp.ClientSession() as session:
        auth = {"Authorization": aiohttp.encode_basic_auth(sim.username, sim.password)}
        async with session.put(
            f"{sim.url}/rest/pushmode/start",
            json={"host": "http://127.0.0.1", "port": 9, "path_prefix": "/cb"},
            headers=auth,
        ) as response:
            assert response.status == 200
    payload_id = sim.publish(NODE, b"\x01")
    async with asyncio.timeout(10):
        await sim.wait_for(lambda: ("payloads_ul", -1) in sim.pushed)
    assert payload_id in sim.stored[NODE]


async def test_websocket_channel_errors(sim: OrbiWiseSimulator) -> None:
    """Downlinks over the WebSocket to unknown targets or malformed get an error answer."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"{sim.url}/websocket/connect",
            headers={"Authorization": aiohttp.encode_basic_auth(sim.username, sim.password)},
        ) as ws,
    ):
        await ws.send_str("not json")
        answers = []
        for message in (
            {"payloads_dl": {"DevEUI": "0000000000000009", "port": 1, "tag": "a"}},
            {"multicast": {"groupid": "nope", "port": 1, "tag": "b"}},
            {"unknown": {"tag": "c"}},
            {"payloads_dl": {"DevEUI": NODE, "data": "!!", "tag": "d"}},
            {"payloads_dl": {"DevEUI": NODE, "port": 0, "tag": "e"}},
            [1],
        ):
            await ws.send_json(message)
            answers.append(await ws.receive_json())
    assert [answer["error"]["status_code"] for answer in answers] == [404, 404, 400, 400, 400, 400]


async def test_generator(sim: OrbiWiseSimulator) -> None:
    """The demo generator publishes an uplink per device in turn."""
    task = asyncio.create_task(sim.run_generator(0.01))
    async with asyncio.timeout(5):
        await sim.wait_for(lambda: sim.nodes[NODE].fcnt >= 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_generator_without_devices() -> None:
    """A generator without devices waits for some."""
    simulator = OrbiWiseSimulator()
    async with simulator:
        task = asyncio.create_task(simulator.run_generator(0.01))
        await asyncio.sleep(0)  # the generator starts and finds no device
        simulator.add_node(NODE)
        async with asyncio.timeout(5):
            await simulator.wait_for(lambda: simulator.nodes[NODE].fcnt >= 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_run_orbiwise(capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI serves demo devices and prints how to reach them."""
    args = cli.build_parser().parse_args(["orbiwise", "--port", "0", "--devices", "2"])
    assert args.run is cli.run_orbiwise
    stop = asyncio.Event()
    stop.set()
    await cli.run_orbiwise(args, stop)
    line = capsys.readouterr().out.strip()
    assert line.startswith("OrbiWise OrbiWAN simulator: http://127.0.0.1:")
    assert line.endswith("user demo-user / demo-password (2 devices, an uplink each every 5 s)")
