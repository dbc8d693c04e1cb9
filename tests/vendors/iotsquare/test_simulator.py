"""The IoTSquare simulator: its OpenAPI as a plain HTTP client sees it, and its pusher."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
import json
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
import pytest

from simulator import __main__ as cli, iotsquare
from simulator.iotsquare import CODES, DEFAULT_APP_ID, DEFAULT_TOKEN, IotSquareSimulator
from simulator.server import SimulatorServer

METER = "70b3d57ed0000701"  # class A
VALVE = "70b3d57ed0000702"  # class C, eu868 ch_00-07
LAMP = "70b3d57ed0000703"  # class C, eu868 ch_08-15
PUMP = "70b3d57ed0000704"  # class C, us915
GROUP = "f7d96c075a6d0154"
EXISTING = "0abe5ddf92cff537"
KEYS = {
    "mcAddr": "45c325ce",
    "mcAppSKey": "a1ef710bb888c7f0d1a296a442203fb8",
    "mcNwkSKey": "868d85d136e7006619c6910aaf3e488e",
}


@pytest.fixture
async def sim() -> AsyncIterator[IotSquareSimulator]:
    """A simulator with one application and four devices."""
    simulator = IotSquareSimulator()
    app = simulator.add_app("demo_app")
    simulator.add_device(app.app_id, METER.upper(), "Living room climate")
    simulator.add_device(app.app_id, VALVE, "Garden valve", support_class_c=True)
    simulator.add_device(app.app_id, LAMP, "Lamp", support_class_c=True, subnet="ch_08-15")
    simulator.add_device(app.app_id, PUMP, "Pump", support_class_c=True, region="us915")
    async with simulator:
        yield simulator


@pytest.fixture
async def iotsquare_token_session(sim: IotSquareSimulator) -> AsyncIterator[aiohttp.ClientSession]:
    """A session that sends the simulator's token."""
    async with aiohttp.ClientSession(headers={"X-Access-Token": sim.token}) as client:
        yield client


async def call(
    session: aiohttp.ClientSession,
    sim: IotSquareSimulator,
    path: str,
    body: Any = None,
    **params: Any,
) -> dict[str, Any]:
    """GET ``path`` with ``params``, or POST ``body`` as JSON; the answer."""
    if body is None:
        request = session.get(f"{sim.url}/{path}", params=params)
    else:
        request = session.post(f"{sim.url}/{path}", json=body)
    async with request as response:
        assert response.status == 200
        answer: dict[str, Any] = await response.json()
    assert answer["msg"] == CODES[answer["code"]]
    return answer


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ------------------------------------------------------------------ authentication


async def test_token_codes(
    sim: IotSquareSimulator, iotsquare_token_session: aiohttp.ClientSession
) -> None:
    """No token is 1003, a wrong one 1004; a refusal once; only accepted requests are recorded."""
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.get(f"{sim.url}/app/list") as response:
            assert await response.json() == {"code": 1003, "msg": "No Token, Please log in again"}
        async with anonymous.get(
            f"{sim.url}/app/list", headers={"X-Access-Token": "wrong"}
        ) as response:
            assert (await response.json())["code"] == 1004
    assert sim.requests == []
    sim.reject_token_once = True
    assert (await call(iotsquare_token_session, sim, "app/list"))["code"] == 1004
    assert not sim.reject_token_once
    assert (await call(iotsquare_token_session, sim, "app/list", pageNo=1))["code"] == 0
    assert sim.requests == [("GET", "app/list", {"pageNo": "1"})]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/openapi/nope"), ("POST", "/openapi/app/list"), ("GET", "/app/list")],
)
async def test_unknown_paths(
    sim: IotSquareSimulator, iotsquare_token_session: aiohttp.ClientSession, method: str, path: str
) -> None:
    """A path (or method) the API lacks is HTTP 404."""
    async with iotsquare_token_session.request(method, f"{sim.base_url}{path}") as response:
        assert response.status == 404
    assert sim.requests == []


async def test_fault_knobs(
    sim: IotSquareSimulator, iotsquare_token_session: aiohttp.ClientSession
) -> None:
    """A response code or an HTTP status is answered once for a path."""
    sim.fail_next["app/list"] = 1001
    sim.http_fail_next["app/status"] = 503
    assert await call(iotsquare_token_session, sim, "app/list") == {
        "code": 1001,
        "msg": "System Busy",
    }
    assert (await call(iotsquare_token_session, sim, "app/list"))["code"] == 0
    async with iotsquare_token_session.get(
        f"{sim.url}/app/status", params={"appID": 89}
    ) as response:
        assert response.status == 503
    assert (await call(iotsquare_token_session, sim, "app/status", appID=89))["code"] == 0
    assert sim.fail_next == sim.http_fail_next == {}
    assert [path for _, path, _ in sim.requests] == ["app/list"] * 2 + ["app/status"] * 2


@pytest.mark.parametrize("data", [b"{", b"[1, 2]", b""])
async def test_post_needs_a_json_object(
    sim: IotSquareSimulator, iotsquare_token_session: aiohttp.ClientSession, data: bytes
) -> None:
    """A POST body that is not a JSON object is a parameter error."""
    async with iotsquare_token_session.post(f"{sim.url}/app/update", data=data) as response:
        assert (await response.json())["code"] == 1007
    assert sim.requests == [("POST", "app/update", {})]
    assert sim.app_updates == []


# ------------------------------------------------------------------ applications


async def test_applications(
    sim: IotSquareSimulator, iotsquare_token_session: aiohttp.ClientSession
) -> None:
    """Applications are listed, shown with their headers, and updated field by field."""
    second = sim.add_app(
        "other",
        push_url="https://x.example/hook",
        headers={"a": "b"},
        push_urls=["https://x.example/second"],
    )
    assert (sim.apps[DEFAULT_APP_ID].app_id, second.app_id) == (89, 90)
    listed = await call(iotsquare_token_session, sim, "app/list")
    assert listed["amount"] == 2
    assert [(a["appID"], a["appName"], a["deviceNums"]) for a in listed["data"]] == [
        (89, "demo_app", 4),
        (90, "other", 0),
    ]
    assert list(listed["data"][1]) == [
        "appID",
        "appName",
        "pushURL",
        "pushUrls",
        "enableMQTT",
        "deviceNums",
        "createtime",
        "updatetime",
    ]
    assert listed["data"][1]["pushUrls"] == ["https://x.example/second"]
    status = (await call(iotsquare_token_session, sim, "app/status", appID=90))["data"]
    assert status["headers"] == {"a": "b"}
    assert (status["pushURL"], status["pushUrls"]) == (
        "https://x.example/hook",
        ["https://x.example/second"],
    )
    assert sim.push_links(second) == ["https://x.example/hook", "https://x.example/second"]
    assert (await call(iotsquare_token_session, sim, "app/status", appID=91))["code"] == 3001
    update = {"appID": 89, "pushURL": "http://127.0.0.1:1/push", "headers": {"k": "v"}}
    assert (await call(iotsquare_token_session, sim, "app/update", update))["code"] == 0
    app = sim.apps[89]
    assert (app.name, app.push_url, app.headers, app.enable_mqtt) == (
        "demo_app",
        "http://127.0.0.1:1/push",
        {"k": "v"},
        False,
    )
    assert sim.app_updates == [update]
    renamed = {"appID": 89, "appName": "home_2", "enableMQTT": True}
    assert (await call(iotsquare_token_session, sim, "app/update", renamed))["code"] == 0
    assert (app.name, app.push_url, app.headers, app.enable_mqtt) == (
        "home_2",
        "http://127.0.0.1:1/push",
        {"k": "v"},
        True,
    )
    links = {"appID": 89, "pushURL": "", "pushUrls": ["https://a.example/x"]}
    assert (await call(iotsquare_token_session, sim, "app/update", links))["code"] == 0
    assert (app.push_url, app.push_urls, sim.push_links(app)) == (
        "",
        ["https://a.example/x"],
        ["https://a.example/x"],
    )


async def test_applications_before_push_links(
    sim: IotSquareSimulator, iotsquare_token_session: aiohttp.ClientSession
) -> None:
    """A server before 3.4.18: applications as the samples show them, pushUrls ignored."""
    sim.multiple_push_links = False
    app = sim.apps[89]
    app.push_url = "https://iot.example.com/api/iotsquare"
    status = (await call(iotsquare_token_session, sim, "app/status", appID=89))["data"]
    assert list(status) == [
        "appID",
        "appName",
        "pushURL",
        "headers",
        "enableMQTT",
        "deviceNums",
        "createtime",
        "updatetime",
    ]
    update = {"appID": 89, "pushUrls": ["https://a.example/x"], "pushURL": "http://b.example"}
    assert (await call(iotsquare_token_session, sim, "app/update", update))["code"] == 0
    assert (app.push_url, app.push_urls, sim.push_links(app)) == (
        "http://b.example",
        [],
        ["http://b.example"],
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, 1006),
        ({"appID": "x"}, 1007),
        ({"appID": True}, 1007),
        ({"appID": 1}, 3001),
        ({"appID": 89, "pushURL": "ftp://x"}, 1007),
        ({"appID": 89, "pushURL": 5}, 1007),
        ({"appID": 89, "pushUrls": ["ftp://x"]}, 1007),
        ({"appID": 89, "pushUrls": ""}, 1007),
        ({"appID": 89, "pushUrls": [""]}, 1007),
        ({"appID": 89, "headers": {str(n): "v" for n in range(6)}}, 1007),
        ({"appID": 89, "headers": {"a": 1}}, 1007),
        ({"appID": 89, "headers": ["a"]}, 1007),
        ({"appID": 89, "appName": "with space"}, 1007),
        ({"appID": 89, "appName": 7}, 1007),
        ({"appID": 89, "enableMQTT": "yes"}, 1007),
    ],
)
async def test_application_update_refusals(
    sim: IotSquareSimulator,
    iotsquare_token_session: aiohttp.ClientSession,
    body: dict[str, Any],
    code: int,
) -> None:
    """Missing or malformed fields and unknown applications are refused; nothing changes."""
    assert (await call(iotsquare_token_session, sim, "app/update", body))["code"] == code
    assert sim.app_updates == []
    assert sim.apps[89].push_url == ""


# ------------------------------------------------------------------ devices


async def test_paging(
    sim: IotSquareSimulator, iotsquare_token_session: aiohttp.ClientSession
) -> None:
    """Pages of 10 by default; 0/0 answers the first 200 only; amount counts them all."""
    for n in range(246):
        sim.add_device(89, f"00000000{n:08x}", f"d{n}")

    async def page(**params: Any) -> tuple[int, list[str]]:
        answer = await call(iotsquare_token_session, sim, "device/list", appID=89, **params)
        return answer["amount"], [d["devEUI"] for d in answer["data"]]

    amount, euis = await page()
    assert (amount, euis[:2], len(euis)) == (250, [METER, VALVE], 10)
    amount, euis = await page(pageNo=0, pageSize=0)
    assert (amount, len(euis), euis[-1]) == (250, 200, "00000000000000c3")
    amount, euis = await page(pageNo=3, pageSize=100)
    assert (amount, len(euis), euis[-1]) == (250, 50, "00000000000000f5")
    assert len((await page(pageNo=1, pageSize=1000))[1]) == 200
    assert (await page(pageNo=9, pageSize=100))[1] == []
    for params in ({"pageNo": 0, "pageSize": 5}, {"pageNo": 1, "pageSize": -1}):
        assert (await call(iotsquare_token_session, sim, "device/list", appID=89, **params))[
            "code"
        ] == 1007
    assert (await call(iotsquare_token_session, sim, "device/list", appID=89, pageNo="x"))[
        "code"
    ] == 1007


async def test_device_list(
    sim: IotSquareSimulator, iotsquare_token_session: aiohttp.ClientSession
) -> None:
    """A device as listed; the application must be given and known."""
    sim.uplink_body(METER, b"\x01", f_port=5, when_ms=1_700_000_000_000)
    answer = await call(iotsquare_token_session, sim, "device/list", appID=89, pageNo=1, pageSize=1)
    assert answer["data"] == [
        {
            "devEUI": METER,
            "devName": "Living room climate",
            "devAddr": "",
            "region": "eu868",
            "subnet": "ch_00-07",
            "fCnt": 1,
            "fPort": 5,
            "lastSeen": 1_700_000_000_000,
            "status": 2,
            "username": "demo",
            "remarks": "",
            "tags": [],
            "productType": "lorawan",
        }
    ]
    assert (await call(iotsquare_token_session, sim, "device/list"))["code"] == 1006
    assert (await call(iotsquare_token_session, sim, "device/list", appID="x"))["code"] == 1007
    assert (await call(iotsquare_token_session, sim, "device/list", appID=7))["code"] == 3001


async def test_device_status(
    sim: IotSquareSimulator, iotsquare_token_session: aiohttp.ClientSession
) -> None:
    """A device's status has its keys and classes; unknown devices are 4001."""
    data = (await call(iotsquare_token_session, sim, "device/status", devEUI=VALVE.upper()))["data"]
    device = sim.devices[VALVE]
    assert data["devEUI"] == VALVE
    assert (data["supportClassB"], data["supportClassC"], data["authType"]) == (
        False,
        True,
        "otaa",
    )
    assert (data["appKey"], data["appSKey"], data["nwkSKey"]) == (
        device.app_key,
        device.app_s_key,
        device.nwk_s_key,
    )
    assert all(len(data[key]) == 32 for key in ("appKey", "appSKey", "nwkSKey"))
    assert (await call(iotsquare_token_session, sim, "device/status", devEUI="0" * 16))[
        "code"
    ] == 4001
    assert (await call(iotsquare_token_session, sim, "device/status"))["code"] == 1006


async def test_latest_uplink(
    sim: IotSquareSimulator, iotsquare_token_session: aiohttp.ClientSession
) -> None:
    """The latest uplink as the document shows it (snr and freq as strings); none yet: null."""
    assert await call(iotsquare_token_session, sim, "device/latestDeviceUplink", devEui=VALVE) == {
        "code": 0,
        "msg": "ok",
        "enMsg": "ok",
        "cnMsg": "ok",
        "data": None,
    }
    body = sim.uplink_body(VALVE, b"\xf2\x00\x02", f_port=200, when_ms=1690353101457, snr=-9)
    data = (await call(iotsquare_token_session, sim, "device/latestDeviceUplink", devEui=VALVE))[
        "data"
    ]
    assert data == {
        "devEUI": VALVE,
        "confirmed": False,
        "gwID": "b827ebfffe9aae48",
        "sfbw": "SF7BW125",
        "rssi": -97,
        "snr": "-9.0",
        "freq": "868.1",
        "dr": 5,
        "adr": True,
        "class": "C",
        "fCnt": 1,
        "fPort": 200,
        "data": "8gAC",
        "gws": body["data"]["gws"],
        "createtime": 1690353101457,
    }
    assert (await call(iotsquare_token_session, sim, "device/latestDeviceUplink", devEUI=VALVE))[
        "code"
    ] == 1006
    assert (await call(iotsquare_token_session, sim, "device/latestDeviceUplink", devEui="1" * 16))[
        "code"
    ] == 4001


async def test_downlinks(
    sim: IotSquareSimulator, iotsquare_token_session: aiohttp.ClientSession
) -> None:
    """Each device counts its downlinks from 1, on both paths; a downlink is recorded."""
    first = {"devEUI": VALVE.upper(), "fPort": 8, "data": "IzM="}
    assert await call(iotsquare_token_session, sim, "device/downlink/create", first) == {
        "code": 0,
        "msg": "ok",
        "fCnt": 1,
    }
    second = {"devEUI": VALVE, "fPort": 223, "data": "MjMzMw==", "confirmed": True}
    assert (await call(iotsquare_token_session, sim, "devicedl/create", second))["fCnt"] == 2
    third = {"devEUI": METER, "fPort": 1, "data": "AQ=="}
    assert (await call(iotsquare_token_session, sim, "device/downlink/create", third))["fCnt"] == 1
    assert sim.downlinks == [
        (VALVE, 8, b"\x23\x33", False, 1),
        (VALVE, 223, b"2333", True, 2),
        (METER, 1, b"\x01", False, 1),
    ]
    assert sim.devices[VALVE].downlink_f_cnt == 2


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"fPort": 0}, 1007),
        ({"fPort": 200}, 1007),
        ({"fPort": 224}, 1007),
        ({"fPort": "8"}, 1007),
        ({"fPort": None}, 1006),
        ({"data": "not base64!"}, 1007),
        ({"data": ""}, 1007),
        ({"data": 12}, 1007),
        ({"data": None}, 1006),
        ({"confirmed": "yes"}, 1007),
        ({"devEUI": "0000000000000000"}, 4001),
        ({"devEUI": None}, 1006),
        ({"devEUI": 5}, 1007),
    ],
)
async def test_downlink_refusals(
    sim: IotSquareSimulator,
    iotsquare_token_session: aiohttp.ClientSession,
    changes: dict[str, Any],
    code: int,
) -> None:
    """Reserved ports, bad payloads and unknown devices are refused; nothing is queued."""
    body = {"devEUI": VALVE, "fPort": 8, "data": "IzM="} | changes
    body = {key: value for key, value in body.items() if value is not None}
    assert (await call(iotsquare_token_session, sim, "device/downlink/create", body))[
        "code"
    ] == code
    assert sim.downlinks == []


# ------------------------------------------------------------------ multicast groups


def manual_group(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "mcEUI": GROUP,
        "mcName": "mc_group_02",
        "region": "eu868",
        "subnet": "ch_00-07",
        "class": "C",
        "enableMCRemote": False,
    } | KEYS
    return {key: value for key, value in (body | changes).items() if value is not None}


async def test_group_lifecycle(
    sim: IotSquareSimulator, iotsquare_token_session: aiohttp.ClientSession
) -> None:
    """A manual group is created, listed, shown, updated and deleted."""
    assert (
        await call(
            iotsquare_token_session, sim, "mcgroup/create", manual_group(mcEUI=GROUP.upper())
        )
    )["code"] == 0
    remote = {
        "mcName": "mc_group_00",
        "mcEUI": "778327e60a028072",
        "region": "eu868",
        "autoSubnet": True,
        "enableMCRemote": True,
        "groupID": 3,
        "genAppKey": "504e83e6dd1a457af1bf93f99d362e89",
        "enableMCExt": True,
        "timeSlotLength": 3,
        "pushURL": "https://test.example.com/api/iotsquare",
        "headers": {"userID": "2333"},
    }
    assert (await call(iotsquare_token_session, sim, "mcgroup/create", remote))["code"] == 0
    listed = await call(iotsquare_token_session, sim, "mcgroup/list", pageNo=0, pageSize=0)
    assert listed["amount"] == 2
    assert [(g["mcEUI"], g["groupID"], g["subnet"], g["pushURL"]) for g in listed["data"]] == [
        (GROUP, 256, "ch_00-07", ""),
        ("778327e60a028072", 3, "auto", "https://test.example.com/api/iotsquare"),
    ]
    status = (await call(iotsquare_token_session, sim, "mcgroup/status", mcEUI=GROUP))["data"]
    assert (status["mcAddr"], status["mcNwkSKey"], status["class"], status["deviceNums"]) == (
        "45c325ce",
        KEYS["mcNwkSKey"],
        "C",
        0,
    )
    remote_status = (
        await call(iotsquare_token_session, sim, "mcgroup/status", mcEUI="778327e60a028072")
    )["data"]
    assert (remote_status["enableMCRemote"], remote_status["genAppKey"]) == (
        True,
        "504e83e6dd1a457af1bf93f99d362e89",
    )
    assert (remote_status["headers"], len(remote_status["mcAddr"])) == ({"userID": "2333"}, 8)
    assert (await call(iotsquare_token_session, sim, "mcgroup/status", mcEUI="0" * 16))[
        "code"
    ] == 14001

    update = {"mcEUI": GROUP, "mcName": "renamed", "mcAddr": "75BACECD", "headers": {"a": "b"}}
    assert (await call(iotsquare_token_session, sim, "mcgroup/update", update))[
        "code"
    ] == 1006  # keys required
    update |= {key: KEYS[key] for key in ("mcAppSKey", "mcNwkSKey")}
    assert (await call(iotsquare_token_session, sim, "mcgroup/update", update))["code"] == 0
    group = sim.groups[GROUP]
    assert (group.name, group.mc_addr, group.mc_nwk_s_key, group.headers) == (
        "renamed",
        "75bacecd",
        KEYS["mcNwkSKey"],
        {"a": "b"},
    )
    remote_update = {"mcEUI": "778327e60a028072", "mcAddr": "00000001", "timeSlotLength": 9}
    assert (await call(iotsquare_token_session, sim, "mcgroup/update", remote_update))[
        "code"
    ] == 1006
    remote_update["pushURL"] = ["https://test.example.com/api/iotsquare"]
    assert (await call(iotsquare_token_session, sim, "mcgroup/update", remote_update))["code"] == 0
    remote_group = sim.groups["778327e60a028072"]
    assert (remote_group.mc_addr, remote_group.time_slot_length) == (
        remote_status["mcAddr"],
        9,
    )
    refusals: list[tuple[dict[str, Any], int]] = [
        ({"mcEUI": GROUP, "mcName": "mc_group_00"}, 14005),
        ({"mcEUI": GROUP, "timeSlotLength": 16}, 1007),
        ({"mcEUI": GROUP, "mcName": "with space"}, 1007),
        ({"mcEUI": GROUP, "pushURL": [1]}, 1007),
        ({"mcEUI": GROUP, "mcAddr": "xyz"}, 1007),
        ({"mcEUI": "0" * 16, "mcName": "x"}, 14001),
    ]
    for body, code in refusals:
        full = {**KEYS, "mcAddr": "75bacecd", **body}  # with the keys a manual group needs
        assert (await call(iotsquare_token_session, sim, "mcgroup/update", full))["code"] == code
    assert (group.name, group.mc_addr) == ("renamed", "75bacecd")  # nothing refused changed

    deleted = await call(
        iotsquare_token_session, sim, "mcgroup/delete", {"mcEUIs": [GROUP, "32590dc55e105682"]}
    )
    assert deleted == {
        "code": 14007,
        "msg": "MCGroup Batch Delete Error",
        "data": [{"code": 14001, "msg": "MCGroup Not Exist", "mcEUI": "32590dc55e105682"}],
    }
    assert list(sim.groups) == ["778327e60a028072"]
    assert (
        await call(iotsquare_token_session, sim, "mcgroup/delete", {"mcEUIs": ["778327E60A028072"]})
    ) == {
        "code": 0,
        "msg": "ok",
    }
    for body in ({}, {"mcEUIs": "x"}, {"mcEUIs": [1]}):
        expected = 1006 if not body else 1007
        assert (await call(iotsquare_token_session, sim, "mcgroup/delete", body))[
            "code"
        ] == expected


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"mcEUI": None}, 1006),
        ({"mcEUI": "f7d96c075a6d015"}, 1007),
        ({"mcEUI": "f7d96c075a6d015x"}, 1007),
        ({"mcName": None}, 1006),
        ({"mcName": "with space"}, 1007),
        ({"mcName": "a" * 21}, 1007),
        ({"region": None}, 1006),
        ({"subnet": None}, 1006),
        ({"class": "B"}, 1007),
        ({"mcAddr": None}, 1006),
        ({"mcAppSKey": "00"}, 1007),
        ({"mcNwkSKey": 5}, 1007),
        ({"enableMCRemote": True}, 1006),
        ({"enableMCRemote": True, "genAppKey": "0" * 32}, 1006),
        ({"enableMCRemote": True, "genAppKey": "0" * 32, "groupID": 4}, 1007),
        ({"enableMCRemote": "no"}, 1007),
        ({"timeSlotLength": -1}, 1007),
        ({"headers": {"a": 1}}, 1007),
        ({"mcAddr": "75BACECD"}, 14003),
        ({"mcName": "existing"}, 14005),
        ({"mcEUI": EXISTING}, 14002),
        ({"pushURL": {"a": 1}}, 1007),
    ],
)
async def test_group_create_refusals(
    sim: IotSquareSimulator,
    iotsquare_token_session: aiohttp.ClientSession,
    changes: dict[str, Any],
    code: int,
) -> None:
    """Missing and malformed fields, class B, reused keys, EUIs and names are refused."""
    sim.add_group(EXISTING, "existing", mc_addr="75bacecd", mc_nwk_s_key=KEYS["mcNwkSKey"])
    assert (await call(iotsquare_token_session, sim, "mcgroup/create", manual_group(**changes)))[
        "code"
    ] == code
    assert list(sim.groups) == [EXISTING]


async def test_members(
    sim: IotSquareSimulator, iotsquare_token_session: aiohttp.ClientSession
) -> None:
    """Devices of the group's class, region and subnet are bound; the others are listed."""
    sim.add_group(GROUP, "group")
    sim.add_group("0abe5ddf92cff537", "auto_group", subnet="auto")
    other = sim.add_group("1111111111111111", "other")
    other.members["2222222222222222"] = 1
    sim.add_device(89, "2222222222222222", "Bound elsewhere", support_class_c=True)
    answer = await call(
        iotsquare_token_session,
        sim,
        "mcdevice/create",
        {
            "mcEUI": GROUP,
            "devEUIs": [
                VALVE.upper(),
                "55e1032590dc5682",
                VALVE,
                "2222222222222222",
                METER,
                LAMP,
                PUMP,
            ],
        },
    )
    assert answer == {
        "code": 14008,
        "msg": "MCDevice Batch Bind Error",
        "data": [
            {"code": 4001, "msg": "Device Not Exist", "devEUI": "55e1032590dc5682"},
            {"code": 14010, "msg": "MCDevice Already Bind Current Group", "devEUI": VALVE},
            {
                "code": 14011,
                "msg": "MCDevice Already Bind Other Group",
                "devEUI": "2222222222222222",
            },
            {"code": 14012, "msg": "MCDevice Incompatible With Group", "devEUI": METER},
            {"code": 14012, "msg": "MCDevice Incompatible With Group", "devEUI": LAMP},
            {"code": 14012, "msg": "MCDevice Incompatible With Group", "devEUI": PUMP},
        ],
    }
    assert list(sim.groups[GROUP].members) == [VALVE]
    bind = {"mcEUI": "0abe5ddf92cff537", "devEUIs": [LAMP]}
    assert (await call(iotsquare_token_session, sim, "mcdevice/create", bind))["code"] == 0
    listed = await call(iotsquare_token_session, sim, "mcdevice/list", mcEUI=GROUP)
    assert listed["amount"] == 1
    assert [(d["devEUI"], d["devName"], d["joined"]) for d in listed["data"]] == [
        (VALVE, "Garden valve", True)
    ]
    status = (await call(iotsquare_token_session, sim, "mcgroup/status", mcEUI=GROUP))["data"]
    assert (status["deviceNums"], status["deviceSetup"]) == (1, 1)
    unbind = {"mcEUI": GROUP, "devEUIs": [VALVE, LAMP]}
    assert await call(iotsquare_token_session, sim, "mcdevice/delete", unbind) == {
        "code": 14009,
        "msg": "MCDevice Batch Unbind Error",
        "data": [{"code": 14013, "msg": "MCDevice Not Exist", "devEUI": LAMP}],
    }
    assert sim.groups[GROUP].members == {}
    unbind = {"mcEUI": "0abe5ddf92cff537", "devEUIs": [LAMP.upper()]}
    assert (await call(iotsquare_token_session, sim, "mcdevice/delete", unbind))["code"] == 0
    assert sim.groups["0abe5ddf92cff537"].members == {}
    for path, body in [
        ("mcdevice/create", {"mcEUI": "0" * 16, "devEUIs": [VALVE]}),
        ("mcdevice/delete", {"mcEUI": "0" * 16, "devEUIs": [VALVE]}),
    ]:
        assert (await call(iotsquare_token_session, sim, path, body))["code"] == 14001
    assert (await call(iotsquare_token_session, sim, "mcdevice/list", mcEUI="0" * 16))[
        "code"
    ] == 14001
    bad = {"mcEUI": GROUP, "devEUIs": VALVE}
    assert (await call(iotsquare_token_session, sim, "mcdevice/create", bad))["code"] == 1007


async def test_member_of_a_deleted_device(
    sim: IotSquareSimulator, iotsquare_token_session: aiohttp.ClientSession
) -> None:
    """A member whose device is gone is listed without a name."""
    sim.add_group(GROUP, "group").members["3333333333333333"] = 5
    listed = await call(iotsquare_token_session, sim, "mcdevice/list", mcEUI=GROUP)
    assert listed["data"] == [
        {"devEUI": "3333333333333333", "devName": "", "joined": True, "createtime": 5}
    ]


async def test_group_downlinks(
    sim: IotSquareSimulator, iotsquare_token_session: aiohttp.ClientSession
) -> None:
    """Each group counts its downlinks from 1; reserved ports and unknown groups are refused."""
    sim.add_group(GROUP, "group")
    body = {"mcEUI": GROUP, "fPort": 8, "data": "IzM="}
    assert (await call(iotsquare_token_session, sim, "mcdownlink/create", body))["fCnt"] == 1
    assert (await call(iotsquare_token_session, sim, "mcdownlink/create", body | {"fPort": 9}))[
        "fCnt"
    ] == 2
    assert (await call(iotsquare_token_session, sim, "mcdownlink/create", body | {"fPort": 200}))[
        "code"
    ] == 1007
    assert (
        await call(iotsquare_token_session, sim, "mcdownlink/create", body | {"mcEUI": "1" * 16})
    )["code"] == 14001
    assert sim.group_downlinks == [(GROUP, 8, b"\x23\x33", 1), (GROUP, 9, b"\x23\x33", 2)]


# ------------------------------------------------------------------ file transfers


async def test_fuota_progress(
    sim: IotSquareSimulator, iotsquare_token_session: aiohttp.ClientSession
) -> None:
    """A transfer advances every two status calls; its devices' fragments rise to all of them."""
    group = sim.add_group(GROUP, "group")
    group.members |= {VALVE: 1, LAMP: 2}
    firmware = bytes(range(256)) * 53 + bytes(169)  # 13737 bytes, as in the document
    create = {
        "mcEUI": GROUP,
        "firmwareName": "test_1",
        "payload": b64(firmware),
        "redundancyPercent": 0.3,
    }
    assert await call(iotsquare_token_session, sim, "fuota/create", create) == {
        "code": 0,
        "msg": "ok",
    }
    again = create | {"firmwareName": "test_2"}
    assert (await call(iotsquare_token_session, sim, "fuota/create", again))["code"] == 16001
    states, received = [], []
    for _ in range(7):
        status = (await call(iotsquare_token_session, sim, "fuota/status", mcEUI=GROUP, fdID=1))[
            "data"
        ]
        states.append(status["state"])
        devices = await call(iotsquare_token_session, sim, "fuota/device/list", mcEUI=GROUP, fdID=1)
        assert devices["amount"] == 2
        assert [d["devEUI"] for d in devices["data"]] == [VALVE, LAMP]
        received.append(devices["data"][0]["nbFragReceived"])
    assert states == ["Created"] * 2 + ["SendFragSessSetup"] * 2 + ["EnqueueFragment"] * 2 + [
        "Done"
    ]
    assert received == [0, 0, 0, 0, 95, 191, 287]
    assert (status["nbFrag"], status["fragSize"], status["padding"], status["redundancy"]) == (
        287,
        48,
        39,
        86,
    )
    assert (status["payloadSize"], status["nextStepTime"], len(status["descriptor"])) == (
        13737,
        -1,
        8,
    )
    assert devices["data"][0]["state"] == "Done"
    assert devices["data"][0]["nbFragMissing"] == 0

    assert (await call(iotsquare_token_session, sim, "fuota/create", again))["code"] == 0
    listed = await call(iotsquare_token_session, sim, "fuota/list", mcEUI=GROUP)
    assert listed["amount"] == 2
    assert [(t["fdID"], t["firmwareName"], t["state"]) for t in listed["data"]] == [
        (2, "test_2", "Created"),
        (1, "test_1", "Done"),
    ]
    assert listed["data"][0]["nextStepTime"] > listed["data"][0]["updatetime"]


async def test_fuota_abort(
    sim: IotSquareSimulator, iotsquare_token_session: aiohttp.ClientSession
) -> None:
    """An aborted transfer cleans up, then is done with the fragments received so far."""
    sim.add_group(GROUP, "group").members[VALVE] = 1
    sim.fuota_polls = 1
    create = {"mcEUI": GROUP, "firmwareName": "fw", "payload": "IzM=", "redundancyPercent": 1}
    assert (await call(iotsquare_token_session, sim, "fuota/create", create))["code"] == 0
    status = (await call(iotsquare_token_session, sim, "fuota/status", mcEUI=GROUP, fdID="1"))[
        "data"
    ]
    assert (status["nbFrag"], status["padding"], status["redundancy"]) == (1, 46, 1)
    assert await call(iotsquare_token_session, sim, "fuota/abort", {"mcEUI": GROUP, "fdID": 1}) == {
        "code": 0,
        "msg": "ok",
    }
    devices = (await call(iotsquare_token_session, sim, "fuota/device/list", mcEUI=GROUP, fdID=1))[
        "data"
    ]
    assert (devices[0]["state"], devices[0]["error_message"]) == ("FragSessDelAns", "aborted")
    states = [
        (await call(iotsquare_token_session, sim, "fuota/status", mcEUI=GROUP, fdID=1))["data"][
            "state"
        ]
        for _ in range(2)
    ]
    assert states == ["Cleanup", "Done"]
    devices = (await call(iotsquare_token_session, sim, "fuota/device/list", mcEUI=GROUP, fdID=1))[
        "data"
    ]
    assert (devices[0]["state"], devices[0]["nbFragReceived"], devices[0]["nbFragMissing"]) == (
        "Done",
        0,
        1,
    )
    assert (await call(iotsquare_token_session, sim, "fuota/abort", {"mcEUI": GROUP, "fdID": 1}))[
        "code"
    ] == 0
    assert sim.fuota[1].state == "Done"
    assert sim.fuota_aborts == [(GROUP, 1), (GROUP, 1)]


async def test_fuota_without_polls(
    sim: IotSquareSimulator, iotsquare_token_session: aiohttp.ClientSession
) -> None:
    """With no polls per state, a transfer is done at its first status call."""
    sim.add_group(GROUP, "group")
    sim.fuota_polls = 0
    create = {"mcEUI": GROUP, "firmwareName": "fw", "payload": "IzM=", "redundancyPercent": 0.5}
    assert (await call(iotsquare_token_session, sim, "fuota/create", create))["code"] == 0
    status = (await call(iotsquare_token_session, sim, "fuota/status", mcEUI=GROUP, fdID=1))["data"]
    assert status["state"] == "Done"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"redundancyPercent": 0.05}, 1007),
        ({"redundancyPercent": 1.5}, 1007),
        ({"redundancyPercent": "0.5"}, 1007),
        ({"redundancyPercent": True}, 1007),
        ({"redundancyPercent": None}, 1006),
        ({"payload": ""}, 1007),
        ({"payload": None}, 1006),
        ({"firmwareName": None}, 1006),
        ({"mcEUI": "1" * 16}, 14001),
    ],
)
async def test_fuota_create_refusals(
    sim: IotSquareSimulator,
    iotsquare_token_session: aiohttp.ClientSession,
    changes: dict[str, Any],
    code: int,
) -> None:
    """Redundancy out of 0.1 to 1, no payload, no name or an unknown group are refused."""
    sim.add_group(GROUP, "group")
    body = {"mcEUI": GROUP, "firmwareName": "fw", "payload": "IzM=", "redundancyPercent": 0.5}
    body = {k: v for k, v in (body | changes).items() if v is not None}
    assert (await call(iotsquare_token_session, sim, "fuota/create", body))["code"] == code
    assert sim.fuota == {}


async def test_fuota_unknown_tasks(
    sim: IotSquareSimulator, iotsquare_token_session: aiohttp.ClientSession
) -> None:
    """A task id that is not the group's is a parameter error; an unknown group is 14001."""
    sim.add_group(GROUP, "group")
    sim.add_group("1" * 16, "other")
    create = {"mcEUI": GROUP, "firmwareName": "fw", "payload": "IzM=", "redundancyPercent": 0.5}
    assert (await call(iotsquare_token_session, sim, "fuota/create", create))["code"] == 0
    assert (await call(iotsquare_token_session, sim, "fuota/status", mcEUI=GROUP, fdID=2))[
        "code"
    ] == 1007
    assert (await call(iotsquare_token_session, sim, "fuota/status", mcEUI="1" * 16, fdID=1))[
        "code"
    ] == 1007
    assert (await call(iotsquare_token_session, sim, "fuota/status", mcEUI=GROUP, fdID="x"))[
        "code"
    ] == 1007
    assert (await call(iotsquare_token_session, sim, "fuota/status", mcEUI=GROUP))["code"] == 1006
    assert (await call(iotsquare_token_session, sim, "fuota/list", mcEUI="2" * 16))["code"] == 14001
    assert (await call(iotsquare_token_session, sim, "fuota/device/list", mcEUI=GROUP, fdID=3))[
        "code"
    ] == 1007
    assert (await call(iotsquare_token_session, sim, "fuota/abort", {"mcEUI": GROUP, "fdID": 3}))[
        "code"
    ] == 1007
    assert sim.fuota_aborts == []


# ------------------------------------------------------------------ pushes


@pytest.fixture
async def home() -> AsyncIterator[
    tuple[SimulatorServer, list[tuple[str, CIMultiDict[str], bytes]]]
]:
    """A receiver of pushes: it records path, headers and body, and answers 200."""
    received: list[tuple[str, CIMultiDict[str], bytes]] = []

    async def receive(request: web.Request) -> web.Response:
        received.append((request.path, request.headers.copy(), await request.read()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook/{kind}", receive)
    async with SimulatorServer(app) as server:
        yield server, received


async def test_pushes(
    sim: IotSquareSimulator,
    home: tuple[SimulatorServer, list[tuple[str, CIMultiDict[str], bytes]]],
) -> None:
    """Uplinks and joins go to <pushURL>/uplink and /join with the application's headers."""
    server, received = home
    app = sim.apps[89]
    app.push_url, app.headers = f"{server.base_url}/hook/", {"x-access-token": "6666"}
    assert await sim.push_uplink(VALVE, b"\x00\x11\x22\x33\x44", f_port=3, when_ms=5) == 200
    assert await sim.push_join(METER) == 200
    assert await sim.push_uplink(METER) == 200
    assert await sim.push("uplink", b"{", headers={"x-other": "1"}) == 200
    assert sim.push_results == [200, 200, 200, 200]
    assert [path for path, _, _ in received] == ["/hook/uplink", "/hook/join"] + [
        "/hook/uplink"
    ] * 2
    assert all(headers["Content-Type"] == "application/json" for _, headers, _ in received)
    assert [headers.get("x-access-token") for _, headers, _ in received] == ["6666"] * 3 + [None]
    assert received[3][1]["x-other"] == "1"
    assert received[3][2] == b"{"
    uplink = json.loads(received[0][2])
    assert uplink == {
        "devEUI": VALVE,
        "appID": 89,
        "time": 5,
        "type": "uplink",
        "data": {
            "gwid": "b827ebfffe9aae48",
            "rssi": -97,
            "snr": -9.0,
            "freq": 868.1,
            "dr": 5,
            "adr": True,
            "class": "C",
            "fCnt": 1,
            "fPort": 3,
            "confirmed": False,
            "data": "ABEiM0Q=",
            "gws": [
                {"id": "b827ebfffe9aae48", "rssi": -97, "snr": -9.0},
                {"id": "0016c001ff10a235", "rssi": -109, "snr": -14.2},
            ],
        },
    }
    join = json.loads(received[1][2])
    assert join["type"] == "join"
    assert join["data"] == {"devAddr": sim.devices[METER].dev_addr}
    assert len(sim.devices[METER].dev_addr) == 8
    third = json.loads(received[2][2])
    assert (third["data"]["class"], third["data"]["fCnt"]) == ("A", 1)
    assert base64.b64decode(third["data"]["data"])  # a demo payload


async def test_pushes_to_every_link(
    sim: IotSquareSimulator,
    home: tuple[SimulatorServer, list[tuple[str, CIMultiDict[str], bytes]]],
) -> None:
    """A push goes to the push link and to each further link (pushUrls), once each."""
    server, received = home
    app = sim.apps[89]
    app.push_url = f"{server.base_url}/hook"
    app.push_urls = [f"{server.base_url}/hook", "http://127.0.0.1:9/down"]
    assert await sim.push_uplink(VALVE, b"\x01") == -1  # the last link's status
    assert sim.push_results == [200, -1]
    assert [path for path, _, _ in received] == ["/hook/uplink"]
    sim.multiple_push_links = False  # a server before 3.4.18 has the one link
    assert await sim.push_uplink(VALVE, b"\x02") == 200
    assert sim.push_results == [200, -1, 200]


async def test_push_failures(sim: IotSquareSimulator) -> None:
    """No push URL is an error; an unreachable one is status -1."""
    with pytest.raises(RuntimeError, match="no push URL"):
        await sim.push("uplink", {"appID": 89})
    with pytest.raises(RuntimeError, match="no push URL"):
        await sim.push("uplink", {}, app_id=7)
    sim.apps[89].push_url = "http://127.0.0.1:9/x"
    assert await sim.push("uplink", [1]) == -1
    assert sim.push_results == [-1]


async def test_class_b_and_join_address() -> None:
    """A class B device's uplinks say so; a device with an address keeps it when it joins."""
    simulator = IotSquareSimulator()
    simulator.add_app("a")
    assert simulator.add_app("b", app_id=7).app_id == 7
    assert simulator.add_app("c").app_id == 90
    device = simulator.add_device(
        89, "00000000000000AA", "Door", support_class_b=True, dev_addr="12ef4567"
    )
    assert device.kind == "door"
    body = simulator.uplink_body("00000000000000aa", b"\x01", rssi=-50, fCnt=41)
    assert (body["data"]["class"], body["data"]["fCnt"], device.f_cnt) == ("B", 41, 41)
    assert device.latest is not None
    assert (device.latest["rssi"], device.latest["fCnt"]) == (-50, 41)
    assert simulator.uplink_body(device.dev_eui, b"")["data"]["fCnt"] == 42
    assert simulator.join_body(device.dev_eui)["data"]["devAddr"] == "12ef4567"
    with pytest.raises(KeyError):
        simulator.add_device(1, "00000000000000ab", "x")
    await simulator.stop()  # never started: nothing to do
    assert not simulator.started


async def test_generator(
    sim: IotSquareSimulator,
    home: tuple[SimulatorServer, list[tuple[str, CIMultiDict[str], bytes]]],
) -> None:
    """The generator waits for a push URL, then pushes uplinks of that application's devices."""
    server, received = home
    other = sim.add_app("other")
    sim.add_device(other.app_id, "00000000000000bb", "Elsewhere")
    task = asyncio.create_task(sim.run_generator(0.01))
    try:
        await asyncio.sleep(0)  # the generator finds nothing to push and waits
        assert sim.push_results == []
        sim.apps[89].push_url = f"{server.base_url}/hook"
        async with asyncio.timeout(10):
            await sim.wait_for(lambda: len(sim.push_results) >= 6)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    euis = {json.loads(body)["devEUI"] for _, _, body in received}
    assert euis == {METER, VALVE, LAMP, PUMP}


# ------------------------------------------------------------------ command line


def test_cli_arguments() -> None:
    """The iotsquare subcommand's defaults and options."""
    args = cli.build_parser().parse_args(["iotsquare"])
    assert (args.port, args.devices, args.token, args.push_url, args.push_header) == (
        8769,
        5,
        DEFAULT_TOKEN,
        "",
        "",
    )
    assert args.run is iotsquare.run_demo


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    """``iotsquare --help`` describes the options."""
    with pytest.raises(SystemExit) as exited:
        cli.build_parser().parse_args(["iotsquare", "--help"])
    assert exited.value.code == 0
    assert "--push-header" in capsys.readouterr().out


async def test_run_iotsquare(capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI serves demo devices and prints how to reach them."""
    args = cli.build_parser().parse_args(
        [
            "iotsquare",
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
    await iotsquare.run_demo(args, stop)
    line = capsys.readouterr().out.strip()
    assert line.startswith("IoTSquare simulator: API http://127.0.0.1:")
    assert line.endswith(
        f"/openapi, token {DEFAULT_TOKEN}, application 89 (2 devices, an uplink each every 5 s"
        " pushed to http://127.0.0.1:9/x)"
    )
    args = cli.build_parser().parse_args(["iotsquare", "--port", "0", "--devices", "1"])
    await iotsquare.run_demo(args, stop)
    assert "nowhere yet" in capsys.readouterr().out
