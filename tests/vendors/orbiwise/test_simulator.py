"""The OrbiWise simulator: its HTTP contract as a plain HTTP client sees it, and its CLI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from simulator import __main__ as cli, orbiwise
from simulator.orbiwise import TOPICS, OrbiWiseSimulator

NODE = "70B3D57ED0000401"


@pytest.fixture
async def sim() -> AsyncIterator[OrbiWiseSimulator]:
    """A simulator with one device."""
    simulator = OrbiWiseSimulator()
    simulator.add_node(NODE, comment="Meter")
    async with simulator:
        yield simulator


@pytest.fixture
async def orbiwise_basic_session(sim: OrbiWiseSimulator) -> AsyncIterator[aiohttp.ClientSession]:
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
    orbiwise_basic_session: aiohttp.ClientSession,
    sim: OrbiWiseSimulator,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
) -> None:
    """Unknown resources are 404, invalid requests 400, an unknown refresh token 401."""
    async with orbiwise_basic_session.request(method, f"{sim.url}{path}", **kwargs) as response:
        assert response.status == status


async def test_rest_api(
    orbiwise_basic_session: aiohttp.ClientSession, sim: OrbiWiseSimulator
) -> None:
    """Plain lists, groups set whole, hex downlinks and stored payloads in hex and newest first."""
    async with orbiwise_basic_session.get(f"{sim.url}/rest/nodes") as response:
        assert [node["DevEUI"] for node in await response.json()] == [NODE]
    async with orbiwise_basic_session.get(f"{sim.url}/rest/nodes/{NODE}") as response:
        assert "comment" not in await response.json()  # the device info object has no name
    async with orbiwise_basic_session.get(f"{sim.url}/rest/nodes/{NODE}?all=true") as response:
        assert (await response.json())["comment"] == "Meter"
    async with orbiwise_basic_session.post(
        f"{sim.url}/rest/groups", json={"groupid": "g", "title": "G"}
    ):
        pass
    async with orbiwise_basic_session.post(
        f"{sim.url}/rest/groups", json={"groupid": "g", "title": "G"}
    ) as r:
        assert r.status == 409
    async with orbiwise_basic_session.put(
        f"{sim.url}/rest/nodes/{NODE}", json={"groups": "g,h", "comment": "Renamed"}
    ):
        pass
    assert sim.nodes[NODE].groups == {"g", "h"}
    assert sim.nodes[NODE].comment == "Renamed"
    async with orbiwise_basic_session.post(
        f"{sim.url}/rest/nodes/{NODE}/payloads/dl?port=2&data_format=hex&confirmed=false",
        data="0a0b",
    ) as response:
        assert (await response.json())["transmissionStatus"] == 0
    assert sim.downlinks[0].payload == b"\x0a\x0b"
    assert sim.downlinks[0].confirmed is False
    for _ in range(10):
        sim.downlinks.append(sim.downlinks[0])
    async with orbiwise_basic_session.post(
        f"{sim.url}/rest/nodes/{NODE}/payloads/dl?port=2", data="AQ=="
    ) as r:
        assert r.status == 409
    async with orbiwise_basic_session.post(
        f"{sim.url}/rest/multicast/g?port=2", data="AQ=="
    ) as response:
        assert response.status == 200
    async with orbiwise_basic_session.post(f"{sim.url}/rest/multicast/g", data="AQ==") as response:
        assert response.status == 400
    async with orbiwise_basic_session.get(f"{sim.url}/rest/nodes/{NODE}/payloads/ul") as response:
        assert response.status == 204
    sim.publish(NODE, b"\x01", when=None)
    sim.publish(NODE, b"\x02")
    async with orbiwise_basic_session.get(
        f"{sim.url}/rest/nodes/{NODE}/payloads/ul?data_format=hex&sort_by_timestamp=desc"
    ) as response:
        assert [item["dataFrame"] for item in await response.json()] == ["02", "01"]
    async with orbiwise_basic_session.get(
        f"{sim.url}/rest/nodes/{NODE}/payloads/ul?paged_results=true&limit=1"
    ) as response:
        page = await response.json()
    assert page["next_page_state"] == "1"
    async with orbiwise_basic_session.put(f"{sim.url}/rest/pushmode/stop"):
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
    assert args.run is orbiwise.run_demo
    stop = asyncio.Event()
    stop.set()
    await orbiwise.run_demo(args, stop)
    line = capsys.readouterr().out.strip()
    assert line.startswith("OrbiWise OrbiWAN simulator: http://127.0.0.1:")
    assert line.endswith("user demo-user / demo-password (2 devices, an uplink each every 5 s)")


SAMPLES = Path(__file__).parents[2] / "fixtures" / "orbiwise"


def documented(name: str) -> Any:
    """A sample of the document (``tests/fixtures/orbiwise``)."""
    return json.loads((SAMPLES / name).read_text())


def fields(name: str) -> set[str]:
    """The keys of a sample object (of a list's first entry; of a message's inner object)."""
    value = documented(name)
    if isinstance(value, list):
        value = value[0]
    if len(value) == 1 and isinstance(next(iter(value.values())), dict):
        value = next(iter(value.values()))
    return set(value)


async def test_rest_objects_have_the_documents_shapes(
    orbiwise_basic_session: aiohttp.ClientSession, sim: OrbiWiseSimulator
) -> None:
    """Each object the REST API serves has exactly the fields of the document's sample."""
    async with orbiwise_basic_session.post(
        f"{sim.url}/rest/oauth2/token",
        data={"grant_type": "password", "username": sim.username, "password": sim.password},
    ) as response:
        assert set(await response.json()) == fields("token.json")
    async with orbiwise_basic_session.get(f"{sim.url}/rest/nodes") as response:
        (listed,) = await response.json()
    assert set(listed) == fields("node_list.json")
    async with orbiwise_basic_session.get(f"{sim.url}/rest/nodes/{NODE}") as response:
        assert set(await response.json()) == fields("node_info.json")
    async with orbiwise_basic_session.get(f"{sim.url}/rest/nodes/{NODE}?all=true") as response:
        complete = set(await response.json())
    assert complete == fields("node_info.json") | fields("node_registration.json")
    async with orbiwise_basic_session.get(f"{sim.url}/rest/nodes/{NODE}/status") as response:
        assert set(await response.json()) == fields("node_status.json")
    sim.publish(NODE, b"\x01", location=(46.2, 6.1))
    async with orbiwise_basic_session.get(f"{sim.url}/rest/nodes/{NODE}/payloads/ul") as response:
        (stored,) = await response.json()
    # push_status only with ?push_status=true, decoded only with a payload decoder.
    assert set(stored) == fields("stored_uplinks.json") - {"push_status", "decoded"}
    async with orbiwise_basic_session.get(
        f"{sim.url}/rest/nodes/{NODE}/payloads/ul?locations=true"
    ) as response:
        (located,) = await response.json()
    assert set(located) - set(stored) == {"latitude", "longitude"}
    async with orbiwise_basic_session.post(
        f"{sim.url}/rest/nodes/{NODE}/payloads/dl?port=1", data="AQ=="
    ) as r:
        assert set(await r.json()) <= fields("downlink_answer.json")
    for _ in range(2):
        async with orbiwise_basic_session.get(f"{sim.url}/rest/pushmode/status") as response:
            assert set(await response.json()) == fields("pushmode_status.json")
        sim.set_push_mode("https://lora.example.net", 443)
    group = {
        "groupid": "g",
        "title": "G",
        "comment": "c",
        "nwkskey": "0x" + "AB" * 16,
        "appskey": "AB-" * 15 + "AB",
        "devaddr": "01A2B3C4",
        "fcnt": 0,
        "data_rate": 0,
        "freq": 868.1,
        "ping_slot_periodicity": 1,
        "applications": "app",
    }
    assert set(group) == fields("group_create.json")
    async with orbiwise_basic_session.post(f"{sim.url}/rest/groups", json=group) as response:
        assert response.status == 200
    async with orbiwise_basic_session.get(f"{sim.url}/rest/groups") as response:
        assert set((await response.json())[0]) == fields("group_list.json")
    async with orbiwise_basic_session.get(f"{sim.url}/rest/groups/g") as response:
        assert set(await response.json()) == fields("group_info.json")
    sim.fail_next("/rest/nodes", 500)
    async with orbiwise_basic_session.get(f"{sim.url}/rest/nodes") as response:
        assert set(await response.json()) == fields("error_problem.json")


@pytest.mark.parametrize(
    "change",
    [
        {"nwkskey": "hex-key"},
        {"appskey": 5},
        {"devaddr": "xyz"},
        {"devaddr": -1},
        {"fcnt": "0"},
        {"ping_slot_periodicity": 9},
        {"freq": "868.1"},
        {"comment": 1},
    ],
)
async def test_group_objects_are_checked(
    orbiwise_basic_session: aiohttp.ClientSession, sim: OrbiWiseSimulator, change: dict[str, Any]
) -> None:
    """A group object with a field of the wrong type or format is refused (400)."""
    async with orbiwise_basic_session.post(
        f"{sim.url}/rest/groups", json={"groupid": "g", "title": "G"} | change
    ) as response:
        assert response.status == 400
    async with orbiwise_basic_session.post(f"{sim.url}/rest/groups", data="{") as response:
        assert response.status == 400


async def test_pushes_have_the_documents_shapes(sim: OrbiWiseSimulator) -> None:
    """Each push and answer on the WebSocket has the fields of the document's sample."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"{sim.url}/websocket/connect?push_subscription={','.join(TOPICS)}",
            headers={"Authorization": aiohttp.encode_basic_auth(sim.username, sim.password)},
        ) as ws,
    ):
        async with asyncio.timeout(10):
            await sim.wait_for(lambda: sim.websocket_count == 1)
        received: dict[str, set[str]] = {}

        async def receive(count: int) -> None:
            for _ in range(count):
                ((topic, body),) = (await ws.receive_json()).items()
                received.setdefault(topic, set(body))

        sim.publish(NODE, b"\x01", early=True, location=(46.2, 6.1))
        await receive(2)
        await ws.send_json({"payloads_dl": {"DevEUI": NODE, "data": "AQ==", "port": 1, "tag": "t"}})
        await receive(1)
        reply = received.pop("payloads_dl")
        await ws.send_json({"payloads_dl": {"DevEUI": "0000000000000009", "port": 1, "tag": "e"}})
        await receive(1)
        sim.groups["g"] = {"groupid": "g", "title": "g"}
        await ws.send_json({"multicast": {"groupid": "g", "data": "AQ==", "port": 1, "tag": "m"}})
        await receive(1)
        multicast_reply = received.pop("multicast")
        for downlink in sim.downlinks:
            sim.advance_downlink(downlink.id, 1)
        sim.push_nodeinfo(NODE)
        sim.push_status(NODE, battery=254, margin=3)
        sim.push_location(NODE, 46.2, 6.1)
        sim.push_joininfo(NODE)
        sim.push_alarm(NODE, "UPLINK_WITHOUT_ADR", "text")
        await receive(7)
    complete = fields("push_payloads_ul.json") | fields("push_payloads_ul_full.json")
    # "the altitude will normally not be available" (the locations option of the stored list)
    assert fields("push_payloads_ul.json") - {"altitude"} <= received["payloads_ul"] <= complete
    assert received["payloads_ul_early"] == fields("push_payloads_ul_early.json")
    assert reply == fields("ws_payloads_dl_reply.json")
    assert received["error"] == fields("ws_payloads_dl_error.json")
    assert multicast_reply == fields("ws_multicast_reply.json")
    assert received["payloads_dl"] == fields("push_payloads_dl.json")
    assert received["multicast"] == fields("push_multicast.json")
    assert received["nodeinfo"] == fields("push_nodeinfo.json")
    assert received["status"] == fields("push_status.json")
    assert received["location"] == fields("push_location.json")
    assert received["joininfo"] == fields("push_joininfo.json")
    assert received["alarm"] <= fields("push_alarm.json")


async def test_binary_frames_are_refused(sim: OrbiWiseSimulator) -> None:
    """The document's WebSocket messages are JSON text: a binary frame gets an error answer."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"{sim.url}/websocket/connect",
            headers={"Authorization": aiohttp.encode_basic_auth(sim.username, sim.password)},
        ) as ws,
    ):
        await ws.send_bytes(json.dumps({"payloads_dl": {"DevEUI": NODE, "tag": "b"}}).encode())
        answer = await ws.receive_json()
        await ws.send_bytes(b"[1]")
        untagged = await ws.receive_json()
    assert answer == {
        "error": {"error_msg": "binary frame: JSON text expected", "status_code": 400, "tag": "b"}
    }
    assert "tag" not in untagged["error"]
    assert sim.ws_frames == ["binary", "binary"]


async def test_push_configurations(sim: OrbiWiseSimulator) -> None:
    """One push configuration per account and application; stop keeps it; update_only too."""
    auth = {"Authorization": aiohttp.encode_basic_auth(sim.username, sim.password)}
    async with aiohttp.ClientSession(headers=auth) as session:
        start = {"host": "mqtts://broker.example.net", "port": 8883}
        async with session.put(f"{sim.url}/rest/pushmode/start/app-1", json=start) as response:
            assert response.status == 200
        async with session.put(f"{sim.url}/rest/pushmode/stop/app-1"):
            pass
        async with session.put(
            f"{sim.url}/rest/pushmode/start/app-1?update_only=true", json={**start, "port": 1883}
        ):
            pass
        async with session.get(f"{sim.url}/rest/pushmode/status/app-1") as response:
            status = await response.json()
        async with session.put(
            f"{sim.url}/rest/pushmode/start?update_only=true", json={**start, "port": 1}
        ):
            pass
    assert (status["enabled"], status["host"], status["port"]) == (
        False,
        "mqtts://broker.example.net",
        1883,
    )
    assert sim.push_modes[""].enabled is False
    assert sim.push_mode is sim.push_modes[""]
