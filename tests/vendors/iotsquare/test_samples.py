"""
The IoTSquare OpenAPI document's samples (tests/fixtures/iotsquare), the client and the simulator.

Each answer the client reads goes through its real parsing, over a socket, to what the document
says it means; each request the client makes is compared with the document's request sample (the
same keys and types; the same values where the call determines them). The simulator answers in
the samples' shapes and takes their requests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
import json
from pathlib import Path
import re
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.lorawan_hub.lns.errors import InvalidRequest
from custom_components.lorawan_hub.lns.iotsquare import PUSH_URL_TAKEN, IotSquareClient
from custom_components.lorawan_hub.lns.iotsquare.api import RESPONSE_CODES, BatchRefused
from custom_components.lorawan_hub.lns.models import (
    Downlink,
    FuotaRequest,
    Gateway,
    LoRaClass,
    MulticastKeys,
    MulticastSetup,
)
from simulator.iotsquare import CODES, IotSquareSimulator
from simulator.server import SimulatorServer

FIXTURES = Path(__file__).parents[2] / "fixtures" / "iotsquare"

REQUESTS_MADE = frozenset(
    {
        "app_update_request",
        "device_downlink_create_request_hex",
        "device_downlink_create_request_ascii",
        "mcgroup_create_request_manual",
        "mcgroup_update_request_manual",
        "mcgroup_update_request_remote",
        "mcgroup_delete_request",
        "mcdevice_create_request",
        "mcdevice_delete_request",
        "mcdownlink_create_request_hex",
        "mcdownlink_create_request_ascii",
        "fuota_create_request_hex",
        "fuota_create_request_ascii",
    }
)
"""Requests the client makes: compared with what it sends."""
REQUESTS_NOT_MADE = {
    "app_create_request": "applications are the user's",
    "app_delete_request": "applications are the user's",
    "device_create_request_otaa": "devices are created in the IoTSquare console",
    "device_create_request_abp": "devices are created in the IoTSquare console",
    "device_delete_request": "devices are deleted in the IoTSquare console",
    "device_update_request": "devices are renamed in the IoTSquare console",
    "gateway_create_request": "gateways are not managed",
    "gateway_delete_request": "gateways are not managed",
    "gateway_update_request": "gateways are not managed",
    "mcgroup_create_request_remote": "groups are created manually configured",
}
"""Requests the client never makes, and why."""
ANSWERS_READ = frozenset(
    {
        "app_list_response",
        "app_status_response",
        "app_update_response",
        "device_list_response",
        "device_status_response",
        "device_latest_uplink_response",
        "device_downlink_create_response",
        "mcgroup_create_response",
        "mcgroup_update_response",
        "mcgroup_status_response_remote",
        "mcgroup_status_response_manual",
        "mcgroup_delete_response_ok",
        "mcgroup_delete_response_error",
        "mcdevice_list_response",
        "mcdevice_create_response_ok",
        "mcdevice_create_response_error",
        "mcdevice_delete_response_ok",
        "mcdevice_delete_response_error",
        "mcdownlink_create_response",
        "fuota_create_response",
        "fuota_list_response",
        "fuota_status_response",
        "fuota_device_list_response",
        "fuota_abort_response",
    }
)
"""Answers to the client's requests: read through its calls."""
OTHER_ANSWERS: dict[str, tuple[str, str, str | None, dict[str, tuple[int, str]] | None]] = {
    # answer: (path, request sample, batch id key, per-item refusals of an error answer)
    "app_create_response": ("app/create", "app_create_request", None, None),
    "app_delete_response_ok": ("app/delete", "app_delete_request", "appID", None),
    "app_delete_response_error": (
        "app/delete",
        "app_delete_request",
        "appID",
        {"23": (3001, "Application Not Exist"), "233": (3001, "Application Not Exist")},
    ),
    "device_create_response": ("device/create", "device_create_request_otaa", None, None),
    "device_delete_response_ok": ("device/delete", "device_delete_request", "devEUI", None),
    "device_delete_response_error": (
        "device/delete",
        "device_delete_request",
        "devEUI",
        {
            "0F475D71F5CD2F20": (4001, "Device Not Exist"),
            "84955E634EC6D815": (4001, "Device Not Exist"),
        },
    ),
    "device_update_response": ("device/update", "device_update_request", None, None),
    "gateway_list_response": ("gateway/list", "", None, None),
    "mcgroup_list_response": ("mcgroup/list", "", None, None),
    "gateway_create_response": ("gateway/create", "gateway_create_request", None, None),
    "gateway_delete_response_ok": ("gateway/delete", "gateway_delete_request", "gwID", None),
    "gateway_delete_response_error": (
        "gateway/delete",
        "gateway_delete_request",
        "gwID",
        {
            "D58158FFFE83FD51": (5001, "Gateway Not Exist"),
            "31B977FFFE398501": (5001, "Gateway Not Exist"),
        },
    ),
    "gateway_update_response": ("gateway/update", "gateway_update_request", None, None),
    "gateway_status_response": ("gateway/status", "", None, None),
    "gateway_status_online_response": ("gateway/status/online", "", None, None),
}
"""Answers to requests the client never makes: taken (code 0) or refused per item, as said."""

OUR_LINK = "https://ha.example/api/lorawan_hub/push/pushid0123"
BEARER = "Bearer s3cret"


def sample(name: str) -> Any:
    """Return a sample message of the document."""
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


MAPS = frozenset({"headers"})
"""Fields that are maps of the user's own keys (custom headers): their shape is "map"."""


def shape(value: Any) -> Any:
    """Return a message's shape: its keys, and each value's type (a list's by its first item)."""
    if isinstance(value, dict):
        return {
            key: "map" if key in MAPS and isinstance(item, dict) else shape(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    return "number" if isinstance(value, int | float) else type(value).__name__


def same_shape(ours: Any, theirs: Any, extra: frozenset[str] = frozenset()) -> list[str]:
    """Return how ``ours`` differs in shape from ``theirs`` (keys in ``extra`` may be added)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        differences = [f"missing {key}" for key in theirs if key not in ours]
        differences += [f"extra {key}" for key in ours if key not in theirs and key not in extra]
        for key in ours.keys() & theirs.keys():
            differences += [f"{key}: {d}" for d in same_shape(ours[key], theirs[key], extra)]
        return differences
    if isinstance(ours, list) and isinstance(theirs, list):
        return same_shape(ours[0], theirs[0], extra) if ours and theirs else []
    return [] if ours == theirs else [f"{ours} is not {theirs}"]


class SampleServer(SimulatorServer):
    """Answers each path with a sample (or what a handler makes of the request); records them."""

    def __init__(self) -> None:
        """Answer nothing until told."""
        app = web.Application()
        app.router.add_route("*", "/openapi/{path:.*}", self._answer)
        super().__init__(app)
        self.answers: dict[str, Any] = {}
        """Path → the answer, or a function of the request's body or query."""
        self.requests: list[tuple[str, str, Any]] = []

    async def _answer(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        body = await request.json() if request.method == "POST" else dict(request.query)
        self.requests.append((request.method, path, body))
        answer = self.answers[path]
        return web.json_response(answer(body) if callable(answer) else answer)

    def sent(self, path: str) -> Any:
        """Return the body (or query) of the last request to ``path``."""
        return next(body for _, where, body in reversed(self.requests) if where == path)


@pytest.fixture
async def server() -> AsyncIterator[SampleServer]:
    """A server answering the samples."""
    async with SampleServer() as sample_server:
        yield sample_server


@pytest.fixture
async def client(server: SampleServer) -> AsyncIterator[IotSquareClient]:
    """A client of application 89 of the sample server."""
    async with aiohttp.ClientSession() as session:
        yield IotSquareClient(session, f"{server.base_url}/openapi", "token", 89)


def test_every_sample_is_a_fixture_with_a_test() -> None:
    """Each sample of the document is a file here, and each file is checked below."""
    names = {path.stem for path in FIXTURES.glob("*.json")}
    covered = REQUESTS_MADE | set(REQUESTS_NOT_MADE) | ANSWERS_READ | set(OTHER_ANSWERS)
    assert names == covered
    assert len(names) == 62
    assert len(list(FIXTURES.glob("response_codes_*.txt"))) == 7


def test_response_codes() -> None:
    """The client and the simulator know every documented response code, with its message."""
    documented = {}
    for path in FIXTURES.glob("response_codes_*.txt"):
        for code, message in re.findall(r'(\d+):\s*"([^"]*)"', path.read_text(encoding="utf-8")):
            documented[int(code)] = message
    assert len(documented) == 60
    assert {0: "ok"} | dict(RESPONSE_CODES) == documented
    assert documented == CODES


async def test_application_samples(server: SampleServer, client: IotSquareClient) -> None:
    """The list and status answers; the update request as the sample, with its appID."""
    server.answers["app/list"] = sample("app_list_response")
    assert await client.list_applications() == {89: "app_01", 90: "app_02"}
    status = sample("app_status_response")
    server.answers["app/status"] = status
    config = await client.push_config()
    assert (config.name, config.push_url, config.push_urls, config.mqtt) == (
        "app_01",
        "https://iot.example.com/api/iotsquare",
        None,  # no pushUrls in either sample: a server with the one push link
        False,
    )
    assert config.headers == {"userID": "2333", "x-access-token": "6666"}
    assert config.conflicts(OUR_LINK, "Authorization", BEARER) == {PUSH_URL_TAKEN}

    def update(body: dict[str, Any]) -> Any:
        status["data"] |= {key: body[key] for key in ("pushURL", "headers", "enableMQTT")}
        return sample("app_update_response")

    server.answers["app/update"] = update
    await client.configure_push(OUR_LINK, "Authorization", BEARER, replace={PUSH_URL_TAKEN})
    sent, documented = server.sent("app/update"), sample("app_update_request")
    # The sample lacks appID, which the table of 2.2.4 lists (and the server needs).
    assert same_shape(shape(sent), shape(documented), frozenset({"appID"})) == []
    assert (sent["appID"], sent["enableMQTT"], sent["pushURL"]) == (89, False, OUR_LINK)
    assert sent["headers"] == documented["headers"] | {"Authorization": BEARER}


async def test_device_samples(server: SampleServer, client: IotSquareClient) -> None:
    """Devices as listed and shown, the latest uplink, a downlink as the samples send it."""
    server.answers["device/list"] = sample("device_list_response")
    server.answers["device/status"] = sample("device_status_response")
    devices = await client.list_devices()
    assert [(d.dev_eui, d.name, d.model, d.manufacturer) for d in devices] == [
        ("892E7EE4FF805B3E", "rxhf-test-2", "rhf3m485", "RisingHF"),
        ("478B36E3A3FDB43E", "rxhf-test-3", "rhf3mr01", "RisingHF"),
        ("0620F796026E645F", "rxhf-test-1", None, None),
    ]
    # Every status call answers the one sample: a class C OTAA device of "RisingHF".
    assert all(d.device_class is LoRaClass.C for d in devices)
    assert {(d.app_eui, d.activation, d.dev_addr) for d in devices} == {
        ("526973696E674846", "otaa", None)
    }
    asked = {body["devEUI"] for _, path, body in server.requests if path == "device/status"}
    assert asked == {"892e7ee4ff805b3e", "478b36e3a3fdb43e", "0620f796026e645f"}

    server.answers["device/latestDeviceUplink"] = sample("device_latest_uplink_response")
    uplink = await client.latest_uplink("76325350002F0045")
    assert uplink is not None
    assert (uplink.payload, uplink.f_port, uplink.f_cnt, uplink.confirmed) == (
        bytes.fromhex("f20002"),
        200,
        10,
        False,
    )
    assert (uplink.rssi, uplink.snr, uplink.frequency, uplink.data_rate) == (
        -97,
        -9.0,
        480.9,
        "DR0",
    )
    assert (uplink.spreading_factor, uplink.device_class) == (12, LoRaClass.B)
    assert uplink.gateways == (Gateway("B827EBFFFE9AAE48", -97, -9),)
    assert uplink.received_at == datetime(2023, 7, 26, 6, 31, 41, 457000, UTC)
    assert server.sent("device/latestDeviceUplink") == {"devEui": "76325350002f0045"}

    server.answers["device/downlink/create"] = sample("device_downlink_create_response")
    for payload, request in ((b"\x23\x33", "hex"), (b"2333", "ascii")):
        result = await client.send_downlink(
            Downlink(dev_eui="B0CF5E634EC6D815", f_port=8, payload=payload)
        )
        assert result.f_cnt == 6666
        assert server.sent("device/downlink/create") == sample(
            f"device_downlink_create_request_{request}"
        )


async def test_multicast_group_samples(server: SampleServer, client: IotSquareClient) -> None:
    """Groups shown, renamed with what the table requires, deleted, sent to."""
    server.answers["mcgroup/status"] = sample("mcgroup_status_response_manual")
    server.answers["mcdevice/list"] = sample("mcdevice_list_response")
    group = await client.multicast_group_status("A0891CE817397EE8")
    assert (group.name, group.device_class) == ("mc_group_03", LoRaClass.C)
    assert group.states == {
        "476A2DA3004B0039": "joined",
        "472B253300190039": "joined",
        "47AB2DA30027002E": "joined",
    }

    server.answers["mcgroup/update"] = sample("mcgroup_update_response")
    await client.rename_multicast_group("A0891CE817397EE8", "mc_group_03")
    # enableMQTT: "manual configuration multicast required" in the table, absent in the sample.
    assert server.sent("mcgroup/update") == sample("mcgroup_update_request_manual") | {
        "enableMQTT": False
    }
    server.answers["mcgroup/status"] = sample("mcgroup_status_response_remote")
    await client.rename_multicast_group("6F655B6FFE9C25CA", "mc_group_02")
    sent, documented = server.sent("mcgroup/update"), sample("mcgroup_update_request_remote")
    assert same_shape(shape(sent), shape(documented)) == []
    assert sent == documented | {"mcEUI": "6f655b6ffe9c25ca"}  # the sample updates another

    server.answers["mcgroup/delete"] = sample("mcgroup_delete_response_ok")
    await client.delete_multicast_group("EC6D815B0CF5E634")
    sent = server.sent("mcgroup/delete")
    assert same_shape(shape(sent), shape(sample("mcgroup_delete_request"))) == []
    assert sent == {"mcEUIs": ["ec6d815b0cf5e634"]}
    server.answers["mcgroup/delete"] = sample("mcgroup_delete_response_error")
    with pytest.raises(BatchRefused) as refused:
        await client.delete_multicast_group("32590DC55E105682")
    assert (refused.value.key, dict(refused.value.refusals)) == (
        "iotsquare_14007",
        {
            "32590DC55E105682": (14001, "MCGroup Not Exist"),
            "75D71F50F4CD2F20": (14001, "MCGroup Not Exist"),
        },
    )

    server.answers["mcdownlink/create"] = sample("mcdownlink_create_response")
    for payload, request in ((b"\x23\x33", "hex"), (b"2333", "ascii")):
        result = await client.send_multicast("B0CF5E634EC6D815", 8, payload)
        assert result.f_cnt == 6666
        assert server.sent("mcdownlink/create") == sample(f"mcdownlink_create_request_{request}")


async def test_multicast_member_samples(server: SampleServer, client: IotSquareClient) -> None:
    """Members added and removed as the samples send them; each refusal read with its device."""
    members = sample("mcdevice_create_request")["devEUIs"]
    server.answers["mcdevice/create"] = sample("mcdevice_create_response_ok")
    await client.add_to_multicast_group("A1CF5E687656D815", [m.upper() for m in members])
    assert server.sent("mcdevice/create") == sample("mcdevice_create_request")
    server.answers["mcdevice/create"] = sample("mcdevice_create_response_error")
    with pytest.raises(BatchRefused) as refused:
        await client.add_to_multicast_group("A1CF5E687656D815", members)
    assert refused.value.key == "iotsquare_14008"
    assert dict(refused.value.refusals) == {
        "55E1032590DC5682": (4001, "Device Not Exist"),
        "472B253300190039": (14010, "MCDevice Already Bind Current Group"),
        "476A2DA3004B0039": (14011, "MCDevice Already Bind Other Group"),
    }
    assert "476A2DA3004B0039: MCDevice Already Bind Other Group" in refused.value.reason

    removed = sample("mcdevice_delete_request")["devEUIs"]
    server.answers["mcdevice/delete"] = sample("mcdevice_delete_response_ok")
    await client.remove_from_multicast_group("A1CF5E687656D815", removed)
    assert server.sent("mcdevice/delete") == sample("mcdevice_delete_request")
    server.answers["mcdevice/delete"] = sample("mcdevice_delete_response_error")
    with pytest.raises(BatchRefused) as refused:
        await client.remove_from_multicast_group("A1CF5E687656D815", removed)
    assert (refused.value.key, set(refused.value.refusals)) == (
        "iotsquare_14009",
        {"476A2DA3004B0039", "55E1032590DC5682"},
    )


async def test_group_creation_samples(server: SampleServer, client: IotSquareClient) -> None:
    """The create request as the manual sample; the session IoTSquare shows; members' refusals."""
    server.answers["device/list"] = sample("device_list_response")
    server.answers["device/status"] = sample("device_status_response")
    await client.list_devices()
    server.answers["mcgroup/create"] = sample("mcgroup_create_response")
    server.answers["mcgroup/status"] = sample("mcgroup_status_response_manual")
    server.answers["mcdevice/create"] = sample("mcdevice_create_response_error")
    documented = sample("mcgroup_create_request_manual")
    members = ("478B36E3A3FDB43E", "55E1032590DC5682", "472B253300190039", "476A2DA3004B0039")
    group = await client.create_multicast_group(
        MulticastSetup(
            name="mc_group_02",
            dev_euis=members,
            keys=MulticastKeys(
                address=documented["mcAddr"].upper(),
                app_s_key=documented["mcAppSKey"].upper(),
                nwk_s_key=documented["mcNwkSKey"].upper(),
            ),
        )
    )
    sent = server.sent("mcgroup/create")
    # enableMQTT: "manual configuration multicast required" in the table, absent in the sample.
    assert same_shape(shape(sent), shape(documented), frozenset({"enableMQTT"})) == []
    # The region and subnet are the members' (the first is in cn470, ch_00-07).
    assert sent | {"mcEUI": "", "region": "", "enableMQTT": False} == documented | {
        "mcEUI": "",
        "region": "",
        "enableMQTT": False,
    }
    assert (sent["region"], sent["enableMQTT"], len(sent["mcEUI"])) == ("cn470", False, 16)
    assert server.sent("mcdevice/create") == {
        "mcEUI": sent["mcEUI"],
        "devEUIs": [member.lower() for member in members],
    }
    # The status shows another session than the one sent: the devices need IoTSquare's.
    assert group.keys == MulticastKeys(
        address="75BACECD",
        app_s_key="A32DA0C03D3AB55E5BE1DCC60F777481",
        nwk_s_key="C013D964A16C9EE761CFD295614ACF17",
    )
    assert group.dev_euis == ("478B36E3A3FDB43E", "472B253300190039")
    assert group.states == {
        "478B36E3A3FDB43E": "joined",
        "472B253300190039": "joined",  # "Already Bind Current Group": a member
        "55E1032590DC5682": "refused: Device Not Exist",
        "476A2DA3004B0039": "refused: MCDevice Already Bind Other Group",
    }


async def test_fuota_samples(
    server: SampleServer, client: IotSquareClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transfer created as the samples send it, found in the list, followed and terminated."""
    server.answers["fuota/create"] = sample("fuota_create_response")
    server.answers["fuota/list"] = sample("fuota_list_response")
    monkeypatch.setattr(
        "custom_components.lorawan_hub.lns.iotsquare.fuota._firmware_name", lambda: "test_2"
    )
    for payload, request in ((b"\x23\x33", "hex"), (b"2333", "ascii")):
        job_id = await client.start_fuota(
            FuotaRequest(dev_euis=(), firmware=payload, group_id="CC3E92CEA33AC62A", redundancy=0.3)
        )
        assert job_id == "CC3E92CEA33AC62A/16"  # test_2 is task 16 in the list
        assert server.sent("fuota/create") == sample(f"fuota_create_request_{request}") | {
            "firmwareName": "test_2"
        }
    server.answers["fuota/status"] = sample("fuota_status_response")
    server.answers["fuota/device/list"] = sample("fuota_device_list_response")
    status = await client.fuota_status("CC3E92CEA33AC62A/16")
    assert (status.state, status.percent_done, status.result) == (
        "EnqueueFragment",
        0,
        "MC Not Joined: 1",
    )
    assert server.sent("fuota/status") == {"mcEUI": "cc3e92cea33ac62a", "fdID": "16"}
    server.answers["fuota/abort"] = sample("fuota_abort_response")
    await client.cancel_fuota("CC3E92CEA33AC62A/16")
    assert server.sent("fuota/abort") == {"mcEUI": "cc3e92cea33ac62a", "fdID": 16}


@pytest.mark.parametrize("answer", sorted(OTHER_ANSWERS))
async def test_answers_to_requests_the_client_never_makes(
    server: SampleServer, client: IotSquareClient, answer: str
) -> None:
    """Through the client's request reading: taken (code 0), or refused naming each item."""
    path, request, id_key, refusals = OTHER_ANSWERS[answer]
    server.answers[path] = sample(answer)
    method = "POST" if request else "GET"
    body = sample(request) if request else None
    if refusals is None:
        assert (await client._api.call(method, path, json=body, batch_key=id_key))["code"] == 0
        return
    with pytest.raises(BatchRefused) as refused:
        await client._api.call(method, path, json=body, batch_key=id_key)
    assert dict(refused.value.refusals) == refusals
    assert isinstance(refused.value, InvalidRequest)


@pytest.mark.parametrize("request_name", sorted(REQUESTS_NOT_MADE))
def test_requests_the_client_never_makes(request_name: str) -> None:
    """Requests for what the integration leaves to the IoTSquare console are JSON objects."""
    assert isinstance(sample(request_name), dict)
    assert REQUESTS_NOT_MADE[request_name]


# ------------------------------------------------------------------ the simulator


@pytest.fixture
async def sim() -> AsyncIterator[IotSquareSimulator]:
    """A simulator with what the samples speak of."""
    simulator = IotSquareSimulator()
    app = simulator.add_app("app_01", push_url="https://iot.example.com/api/iotsquare")
    simulator.add_device(app.app_id, "90b96dadce96a06a", "device_01", support_class_c=True)
    simulator.add_device(app.app_id, "b0cf5e634ec6d815", "device_02", support_class_c=True)
    simulator.add_device(app.app_id, "472b253300190039", "mc_node_01", support_class_c=True)
    simulator.add_device(app.app_id, "476a2da3004b0039", "mc_node_00", support_class_c=True)
    simulator.uplink_body("90b96dadce96a06a", b"\xf2\x00\x02", f_port=200)
    simulator.add_group("a1cf5e687656d815", "mc_nodes_00").members["472b253300190039"] = 1
    simulator.add_group("e6a98ae25d7db6f8", "mc_nodes_01").members["476a2da3004b0039"] = 1
    simulator.add_group("a0891ce817397ee8", "mc_group_03")
    simulator.add_group(
        "6f655b6ffe9c25ca",
        "mc_group_01",
        enable_mc_remote=True,
        group_id=3,
        gen_app_key="c6a1f7c9c9db0f4536be3de8327ef57b",
        push_urls=["https://test.example.com/api/iotsquare"],
    )
    async with simulator:
        yield simulator


async def ask(sim: IotSquareSimulator, path: str, body: Any = None, **query: Any) -> Any:
    """Call the simulator (POST ``body``, else GET ``query``); its answer."""
    async with aiohttp.ClientSession(headers={"X-Access-Token": sim.token}) as session:
        if body is None:
            request = session.get(f"{sim.url}/{path}", params=query)
        else:
            request = session.post(f"{sim.url}/{path}", json=body)
        async with request as response:
            return await response.json()


# Answer → (path, query, the documented fields the sample lacks that the simulator may show).
SIMULATOR_ANSWERS: dict[str, tuple[str, dict[str, Any], frozenset[str]]] = {
    "app_list_response": ("app/list", {}, frozenset()),
    "app_status_response": ("app/status", {"appID": 89}, frozenset()),
    "device_list_response": ("device/list", {"appID": 89}, frozenset()),
    # remarks (3.3.65) and productType (3.4.15) are in the table of 3.2.5.
    "device_status_response": (
        "device/status",
        {"devEUI": "90b96dadce96a06a"},
        frozenset({"remarks", "productType"}),
    ),
    "device_latest_uplink_response": (
        "device/latestDeviceUplink",
        {"devEui": "90b96dadce96a06a"},
        frozenset(),
    ),
    "mcgroup_list_response": ("mcgroup/list", {}, frozenset()),
    "mcgroup_status_response_manual": (
        "mcgroup/status",
        {"mcEUI": "a0891ce817397ee8"},
        frozenset(),
    ),
    "mcgroup_status_response_remote": (
        "mcgroup/status",
        {"mcEUI": "6f655b6ffe9c25ca"},
        frozenset(),
    ),
    "mcdevice_list_response": ("mcdevice/list", {"mcEUI": "a1cf5e687656d815"}, frozenset()),
}


@pytest.mark.parametrize("answer", sorted(SIMULATOR_ANSWERS))
async def test_simulator_answers_like_the_samples(sim: IotSquareSimulator, answer: str) -> None:
    """Each answer the simulator gives has its sample's keys and types, nothing more."""
    sim.multiple_push_links = False  # the samples show no pushUrls
    path, query, extra = SIMULATOR_ANSWERS[answer]
    ours = await ask(sim, path, **query)
    assert same_shape(shape(ours), shape(sample(answer)), extra) == []


async def test_simulator_pushes_links_as_the_table_says(sim: IotSquareSimulator) -> None:
    """With pushUrls (3.4.18, in the tables of 2.2.1 and 2.2.5): only that field more."""
    for answer, path, query in (
        ("app_list_response", "app/list", {}),
        ("app_status_response", "app/status", {"appID": 89}),
    ):
        ours = await ask(sim, path, **query)
        assert same_shape(shape(ours), shape(sample(answer)), frozenset({"pushUrls"})) == []
        assert "pushUrls" in str(ours)


async def test_simulator_takes_the_sample_requests(sim: IotSquareSimulator) -> None:
    """The request samples of the paths it serves are taken, answered as documented."""
    update = sample("app_update_request") | {"appID": 89}  # the table's appID
    assert await ask(sim, "app/update", update) == sample("app_update_response")
    assert sim.apps[89].headers == {"userID": "2333", "x-access-token": "6666"}
    for request in ("hex", "ascii"):
        answer = await ask(
            sim, "device/downlink/create", sample(f"device_downlink_create_request_{request}")
        )
        assert same_shape(shape(answer), shape(sample("device_downlink_create_response"))) == []
    manual = sample("mcgroup_update_request_manual")
    assert await ask(sim, "mcgroup/update", manual) == sample("mcgroup_update_response")
    remote = sample("mcgroup_update_request_remote") | {"mcEUI": "6f655b6ffe9c25ca"}
    assert await ask(sim, "mcgroup/update", remote) == sample("mcgroup_update_response")
    assert sim.groups["6f655b6ffe9c25ca"].time_slot_length == 3
    # The create samples name their groups as the update samples rename theirs: start afresh.
    sim.groups.pop("6f655b6ffe9c25ca")
    for request in ("manual", "remote"):
        answer = await ask(sim, "mcgroup/create", sample(f"mcgroup_create_request_{request}"))
        assert answer == sample("mcgroup_create_response")
    for request in ("hex", "ascii"):
        answer = await ask(
            sim,
            "mcdownlink/create",
            sample(f"mcdownlink_create_request_{request}") | {"mcEUI": "a0891ce817397ee8"},
        )
        assert same_shape(shape(answer), shape(sample("mcdownlink_create_response"))) == []
    # The binding refusals of the sample: an unknown device (listed twice, refused once), a
    # member already, one of another group.
    assert await ask(sim, "mcdevice/create", sample("mcdevice_create_request")) == sample(
        "mcdevice_create_response_error"
    )
    answer = await ask(sim, "mcdevice/delete", sample("mcdevice_delete_request"))
    assert same_shape(shape(answer), shape(sample("mcdevice_delete_response_error"))) == []
    sim.add_group("ec6d815b0cf5e634", "one")
    sim.add_group("5e634ec6d8495815", "two")
    assert await ask(sim, "mcgroup/delete", sample("mcgroup_delete_request")) == sample(
        "mcgroup_delete_response_error"
    )
    create = sample("fuota_create_request_hex") | {"mcEUI": "a0891ce817397ee8"}
    assert await ask(sim, "fuota/create", create) == sample("fuota_create_response")
    listed = await ask(sim, "fuota/list", mcEUI="a0891ce817397ee8")
    assert same_shape(shape(listed), shape(sample("fuota_list_response"))) == []
    status = await ask(sim, "fuota/status", mcEUI="a0891ce817397ee8", fdID=1)
    assert same_shape(shape(status), shape(sample("fuota_status_response"))) == []
    sim.groups["a0891ce817397ee8"].members["b0cf5e634ec6d815"] = 1
    devices = await ask(sim, "fuota/device/list", mcEUI="a0891ce817397ee8", fdID=1)
    assert same_shape(shape(devices), shape(sample("fuota_device_list_response"))) == []
    abort = {"mcEUI": "a0891ce817397ee8", "fdID": 1}
    assert await ask(sim, "fuota/abort", abort) == sample("fuota_abort_response")
