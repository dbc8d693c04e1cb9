"""The IoTSquare client against the IoTSquare simulator: OpenAPI, pushes, downlinks, groups."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import dataclasses
from datetime import UTC, datetime, timedelta
import json
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
    Unsupported,
)
from custom_components.lorawan_hub.lns.iotsquare import (
    ERROR_KEYS,
    RESPONSE_CODES,
    IotSquareClient,
    code_error,
    item_errors,
    uplink_from_fields,
    uplink_from_push,
)
from custom_components.lorawan_hub.lns.models import (
    Downlink,
    DownlinkMode,
    DownlinkState,
    FuotaRequest,
    Gateway,
    LoRaClass,
    MulticastSetup,
)
from simulator.iotsquare import IotSquareSimulator
from simulator.server import SimulatorServer

from .sink import RecordingSink

METER = "90B96DADCE96A06A"
LAMP = "55E1032590DC5682"
OTHER = "0620F796026E645F"


@pytest.fixture
async def sim() -> AsyncIterator[IotSquareSimulator]:
    """An IoTSquare server with one application: a class A meter and a class C lamp."""
    simulator = IotSquareSimulator()
    app = simulator.add_app("garden")
    simulator.add_device(app.app_id, METER, "water_meter")
    simulator.add_device(app.app_id, LAMP, "street_lamp", support_class_c=True)
    other = simulator.add_app("elsewhere")
    simulator.add_device(other.app_id, OTHER, "not_ours", support_class_c=True)
    async with simulator:
        yield simulator


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def make_client(
    session: aiohttp.ClientSession, sim: IotSquareSimulator, **kwargs: Any
) -> IotSquareClient:
    """Return a client of the simulator's first application."""
    return IotSquareClient(
        session, sim.url, kwargs.pop("token", sim.token), kwargs.pop("app_id", 89), **kwargs
    )


def test_documented_messages() -> None:
    """The push example of the notes and the latestDeviceUplink example of the document."""
    uplink = uplink_from_push(
        {
            "devEUI": "90b96dadce96a06a",
            "appID": 89,
            "time": 1690353101457,
            "type": "uplink",
            "data": {
                "gwid": "b827ebfffe9aae48",
                "rssi": -97,
                "snr": -9.0,
                "freq": 868.1,
                "dr": 5,
                "adr": True,
                "class": "C",
                "fCnt": 10,
                "fPort": 8,
                "confirmed": True,
                "data": "ABEiM0Q=",
                "gws": [
                    {"id": "b827ebfffe9aae48", "rssi": -97, "snr": -9},
                    {"id": "0016c001ff10a235", "rssi": -110, "snr": -14.5},
                ],
                "someday": "a field added later",
            },
        }
    )
    assert (uplink.dev_eui, uplink.f_port, uplink.f_cnt, uplink.payload) == (
        METER,
        8,
        10,
        bytes.fromhex("0011223344"),
    )
    assert uplink.received_at == datetime(2023, 7, 26, 6, 31, 41, 457000, UTC)
    assert (uplink.rssi, uplink.snr, uplink.frequency, uplink.data_rate) == (-97, -9, 868.1, "DR5")
    assert (uplink.device_class, uplink.confirmed) == (LoRaClass.C, True)
    assert uplink.gateways == (
        Gateway("B827EBFFFE9AAE48", -97, -9),
        Gateway("0016C001FF10A235", -110, -14.5),
    )
    latest = uplink_from_fields(
        METER,
        {
            "devEUI": "76325350002f0045",
            "gwID": "b827ebfffe9aae48",
            "sfbw": "SF12BW125",
            "rssi": -97,
            "snr": "-9.0",
            "freq": "480.9",
            "dr": 0,
            "class": "B",
            "fCnt": 10,
            "fPort": 200,
            "data": "8gAC",
            "createtime": 1690353101457,
        },
        datetime(2023, 7, 26, tzinfo=UTC),
        {},
    )
    assert (latest.snr, latest.frequency, latest.spreading_factor) == (-9.0, 480.9, 12)
    assert latest.gateways == (Gateway("B827EBFFFE9AAE48", -97, -9.0),)
    assert latest.payload == bytes.fromhex("f20002")


@pytest.mark.parametrize(
    "envelope",
    [
        {"devEUI": "nope", "time": 1, "data": {}},
        {"devEUI": METER, "time": "soon", "data": {}},
        {"devEUI": METER, "time": 1, "data": {"data": "not base64!"}},
        {"devEUI": METER, "time": 1, "data": {"data": 7}},
        {"devEUI": METER, "time": 1, "data": {"fCnt": "ten"}},
        {"devEUI": METER, "time": 10**20, "data": {}},
        {"devEUI": METER, "time": 1, "data": []},
    ],
)
def test_malformed_pushes(envelope: dict[str, Any]) -> None:
    """A malformed device, time, payload or frame counter is a ProtocolError, never a crash."""
    with pytest.raises(ProtocolError):
        uplink_from_push(envelope)


def test_odd_metadata_keeps_the_uplink() -> None:
    """Malformed optional fields are left out; the payload still arrives."""
    uplink = uplink_from_push(
        {
            "devEUI": METER,
            "time": 1690353101457,
            "data": {
                "data": "AQ==",
                "fCnt": 4,
                "fPort": "eight",
                "rssi": "loud",
                "snr": [],
                "dr": "fast",
                "freq": {},
                "confirmed": "maybe",
                "gws": [{"rssi": -1}, "junk", {"id": "b827ebfffe9aae48", "rssi": "x"}],
            },
        }
    )
    assert (uplink.payload, uplink.f_cnt) == (b"\x01", 4)
    assert (uplink.f_port, uplink.rssi, uplink.snr, uplink.data_rate) == (None, None, None, None)
    assert (uplink.frequency, uplink.confirmed) == (None, None)
    assert uplink.gateways == (Gateway("B827EBFFFE9AAE48", None, None),)


def test_response_codes() -> None:
    """Every documented code has its own error; a refused token asks for reauthentication."""
    assert isinstance(code_error(1004, "Invalid Token"), AuthError)
    assert isinstance(code_error(1003, None), AuthError)
    busy = code_error(1001, "System Busy")
    assert (type(busy), busy.key) == (CannotConnect, "iotsquare_1001")
    assert isinstance(code_error(1010, None), Forbidden)
    missing = code_error(4001, "Device Not Exist")
    assert (type(missing), missing.key, missing.code) == (InvalidRequest, "iotsquare_4001", 4001)
    unknown = code_error(99999, "Something new")
    assert (unknown.key, unknown.reason) == ("invalid_request", "Something new")
    assert {f"iotsquare_{code}" for code in RESPONSE_CODES} - {
        "iotsquare_1003",
        "iotsquare_1004",
    } == ERROR_KEYS
    errors = item_errors(
        {
            "data": [
                {"code": 4001, "msg": "x", "devEUI": "55e1032590dc5682"},
                {"code": 77, "msg": "Odd", "devEUI": "476a2da3004b0039"},
                "junk",
            ]
        },
        "devEUI",
    )
    assert errors == "55E1032590DC5682: Device Not Exist; 476A2DA3004B0039: Odd"
    assert item_errors({"data": None}, "devEUI") is None


async def test_validate_applications_and_devices(
    session: aiohttp.ClientSession, sim: IotSquareSimulator
) -> None:
    """The token is checked, applications listed, devices listed with their class."""
    await make_client(session, sim).validate()
    assert await make_client(session, sim, app_id=None).list_applications() == {
        89: "garden",
        90: "elsewhere",
    }
    with pytest.raises(AuthError):
        await make_client(session, sim, token="wrong").validate()
    with pytest.raises(InvalidRequest) as err:
        await make_client(session, sim, app_id=4711).validate()
    assert err.value.key == "iotsquare_3001"
    with pytest.raises(InvalidRequest):
        await make_client(session, sim, app_id=None).list_devices()
    devices = {device.dev_eui: device for device in await make_client(session, sim).list_devices()}
    assert set(devices) == {METER, LAMP}
    assert devices[METER].name == "water_meter"
    assert (devices[METER].device_class, devices[LAMP].device_class) == (LoRaClass.A, LoRaClass.C)
    assert devices[LAMP].activation == "otaa"
    assert all("appKey" not in repr(device) for device in devices.values())


async def test_devices_beyond_one_page(
    session: aiohttp.ClientSession, sim: IotSquareSimulator
) -> None:
    """More devices than 0/0 returns (200) are all listed, page by page."""
    for index in range(250):
        sim.add_device(89, f"70B3D57ED0AA{index:04X}", f"sensor_{index}")
    devices = await make_client(session, sim).list_devices()
    assert len(devices) == 252
    pages = [params for method, path, params in sim.requests if path == "device/list"]
    assert [page["pageNo"] for page in pages] == ["1", "2", "3"]


async def test_pushes_reach_the_sink(
    session: aiohttp.ClientSession, sim: IotSquareSimulator
) -> None:
    """Seeded latest uplinks, uplink and join pushes; others ignored, replays dropped."""
    sim.uplink_body(METER, b"\x01\x67\x00\xe6")  # sent while Home Assistant was away
    client = make_client(session, sim)
    await client.list_devices()
    sink = RecordingSink()
    assert await client.accept_push("uplink", {}, 1) is False  # not running yet
    task = asyncio.create_task(client.run(sink))
    await sink.wait_for(lambda: len(sink.uplinks) == 1)
    seeded = sink.uplinks[0]
    assert (seeded.dev_eui, seeded.payload, seeded.f_cnt) == (METER, b"\x01\x67\x00\xe6", 1)
    push = sim.uplink_body(LAMP, b"\x02\x01\x01")
    assert await client.accept_push("uplink", push, 1)
    assert await client.accept_push("uplink", push, 1)  # a replay
    assert await client.accept_push("uplink", sim.uplink_body(OTHER, b"\x00"), 1)
    assert await client.accept_push("uplink", [{"devEUI": "junk"}, "junk"], 1)
    assert await client.accept_push("join", sim.join_body(LAMP), 1)
    assert await client.accept_push("status", {"devEUI": LAMP, "appID": 89, "type": "x"}, 1)
    assert [uplink.dev_eui for uplink in sink.uplinks] == [METER, LAMP]
    assert sink.uplinks[1].device_class is LoRaClass.C
    assert sink.joins[0].dev_eui == LAMP
    assert sink.device_updates[-1].dev_addr == sim.devices[LAMP.lower()].dev_addr.upper()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_seed_skips_what_pushes_brought(
    session: aiohttp.ClientSession, sim: IotSquareSimulator
) -> None:
    """A device whose push came first is not seeded with an older uplink; failures are logged."""
    sim.uplink_body(METER, b"\x01")
    sim.uplink_body(LAMP, b"\x02")
    client = make_client(session, sim)
    await client.list_devices()
    sink = RecordingSink()
    client._sink = sink  # a push arrives while the seed has not run yet
    assert await client.accept_push("uplink", sim.uplink_body(METER, b"\x03"), 1)
    await client._seed(sink)
    assert [uplink.payload for uplink in sink.uplinks] == [b"\x03", b"\x02"]
    # A device whose latest uplink cannot be fetched does not stop the others.
    sim.fail_next["device/latestDeviceUplink"] = 1001
    client._pushed.clear()
    sink = RecordingSink()
    await client._seed(sink)
    assert [uplink.payload for uplink in sink.uplinks] == [b"\x02"]
    sim.reject_token_once = True
    with pytest.raises(AuthError):
        await client._seed(sink)


async def test_downlinks(session: aiohttp.ClientSession, sim: IotSquareSimulator) -> None:
    """Downlinks go as base64 and answer the downlink counter; refusals are specific."""
    client = make_client(session, sim)
    sink = RecordingSink()
    client._sink = sink
    result = await client.send_downlink(
        Downlink(dev_eui=LAMP, f_port=8, payload=b"\x23\x33", confirmed=True)
    )
    assert result.f_cnt == 1
    assert sim.downlinks[-1] == (LAMP.lower(), 8, b"\x23\x33", True, 1)
    assert sink.device_updates[-1].downlink_f_cnt == 1
    # A server older than 3.4.21 has only devicedl/create.
    sim.http_fail_next["device/downlink/create"] = 404
    result = await client.send_downlink(Downlink(dev_eui=LAMP, f_port=9, payload=b"\x01"))
    assert result.f_cnt == 2
    assert sim.requests[-1][1] == "devicedl/create"
    with pytest.raises(InvalidRequest) as err:
        await client.send_downlink(Downlink(dev_eui=LAMP, f_port=200, payload=b"\x01"))
    assert err.value.key == "port_reserved"
    with pytest.raises(Unsupported):
        await client.send_downlink(
            Downlink(dev_eui=LAMP, f_port=8, payload=b"\x01", mode=DownlinkMode.REPLACE)
        )
    with pytest.raises(InvalidRequest) as err:
        await client.send_downlink(Downlink(dev_eui=OTHER[:-1] + "0", f_port=8, payload=b"\x01"))
    assert err.value.key == "iotsquare_4001"
    sim.http_fail_next["device/downlink/create"] = 503
    with pytest.raises(CannotConnect):
        await client.send_downlink(Downlink(dev_eui=LAMP, f_port=8, payload=b"\x01"))
    sim.fail_next["device/downlink/create"] = 1010
    with pytest.raises(Forbidden):
        await client.send_downlink(Downlink(dev_eui=LAMP, f_port=8, payload=b"\x01"))
    with pytest.raises(Unsupported) as unsupported:
        await client.set_device_class(LAMP, LoRaClass.A)
    assert unsupported.value.key == "class_change_recreate"


async def test_unreachable(session: aiohttp.ClientSession) -> None:
    """No server: CannotConnect."""
    client = IotSquareClient(session, "http://127.0.0.1:9/openapi", "t", 89, request_timeout=2)
    with pytest.raises(CannotConnect):
        await client.validate()


async def test_push_configuration(session: aiohttp.ClientSession, sim: IotSquareSimulator) -> None:
    """The push URL and header are set on the application, keeping its name."""
    client = make_client(session, sim)
    await client.configure_push("https://ha.example/api/lorawan_hub/push/x", {"Authorization": "B"})
    assert sim.app_updates[-1] == {
        "appID": 89,
        "appName": "garden",
        "enableMQTT": False,
        "pushURL": "https://ha.example/api/lorawan_hub/push/x",
        "headers": {"Authorization": "B"},
    }
    assert sim.apps[89].push_url == "https://ha.example/api/lorawan_hub/push/x"
    with pytest.raises(InvalidRequest):
        await client.configure_push("https://x", {str(n): "v" for n in range(6)})


async def test_multicast_groups(session: aiohttp.ClientSession, sim: IotSquareSimulator) -> None:
    """A class C group in the devices' region; per-device refusals are named."""
    client = make_client(session, sim)
    with pytest.raises(InvalidRequest) as err:
        await client.create_multicast_group(MulticastSetup(name="lamps"))  # regions not known yet
    assert err.value.key == "multicast_region_unknown"
    await client.list_devices()
    with pytest.raises(InvalidRequest) as err:
        await client.create_multicast_group(MulticastSetup(name="lamps", device_class=LoRaClass.B))
    assert err.value.key == "multicast_class_c_only"
    with pytest.raises(InvalidRequest) as err:
        await client.create_multicast_group(MulticastSetup(name="street lamps!"))
    assert err.value.key == "group_name_invalid"
    group = await client.create_multicast_group(MulticastSetup(name="lamps"))
    assert (group.name, group.device_class) == ("lamps", LoRaClass.C)
    stored = sim.groups[group.group_id.lower()]
    assert (stored.region, stored.subnet, stored.enable_mc_remote) == ("eu868", "auto", False)
    assert [g.group_id for g in await client.list_multicast_groups()] == [group.group_id]
    await client.rename_multicast_group(group.group_id, "street_lamps")
    assert (stored.name, stored.region) == ("street_lamps", "eu868")
    with pytest.raises(InvalidRequest) as err:
        await client.rename_multicast_group(group.group_id, "street lamps")
    assert err.value.key == "group_name_invalid"
    await client.add_to_multicast_group(group.group_id, [LAMP])
    with pytest.raises(InvalidRequest) as err:
        await client.add_to_multicast_group(group.group_id, [LAMP, METER, "0000000000000009"])
    assert err.value.key == "iotsquare_14008"
    assert "MCDevice Already Bind Current Group" in err.value.reason
    assert METER in err.value.reason
    assert "0000000000000009: Device Not Exist" in err.value.reason
    result = await client.send_multicast(group.group_id, 10, b"\x01\x02")
    assert result.f_cnt == 1
    assert sim.group_downlinks[-1] == (group.group_id.lower(), 10, b"\x01\x02", 1)
    with pytest.raises(InvalidRequest):
        await client.send_multicast(group.group_id, 200, b"\x01")
    await client.remove_from_multicast_group(group.group_id, [LAMP])
    with pytest.raises(InvalidRequest) as err:
        await client.remove_from_multicast_group(group.group_id, [LAMP])
    assert err.value.key == "iotsquare_14009"
    await client.delete_multicast_group(group.group_id)
    with pytest.raises(InvalidRequest) as err:
        await client.delete_multicast_group(group.group_id)
    assert err.value.key == "iotsquare_14007"
    with pytest.raises(InvalidRequest) as err:
        await client.send_multicast("not-an-eui", 10, b"\x01")
    assert err.value.key == "invalid_group_id"


async def test_fuota(session: aiohttp.ClientSession, sim: IotSquareSimulator) -> None:
    """A file transfer to a group starts, reports its progress, and is terminated."""
    sim.fuota_polls = 1
    client = make_client(session, sim)
    await client.list_devices()
    group = await client.create_multicast_group(MulticastSetup(name="lamps"))
    await client.add_to_multicast_group(group.group_id, [LAMP])
    firmware = bytes(range(256)) * 4
    with pytest.raises(InvalidRequest) as err:
        await client.start_fuota(FuotaRequest(dev_euis=(LAMP,), firmware=firmware))
    assert err.value.key == "fuota_group_required"
    with pytest.raises(InvalidRequest) as err:
        await client.start_fuota(
            FuotaRequest(dev_euis=(), firmware=firmware, group_id=group.group_id, redundancy=0)
        )
    assert err.value.key == "fuota_redundancy_range"
    job_id = await client.start_fuota(
        FuotaRequest(dev_euis=(), firmware=firmware, group_id=group.group_id, redundancy=0.3)
    )
    group_eui, _, task_id = job_id.partition("/")
    assert group_eui == group.group_id
    task = sim.fuota[int(task_id)]
    assert (task.payload, task.redundancy_percent) == (firmware, 0.3)
    with pytest.raises(InvalidRequest) as err:
        await client.start_fuota(
            FuotaRequest(dev_euis=(), firmware=firmware, group_id=group.group_id)
        )
    assert err.value.key == "iotsquare_16001"
    states = []
    for _ in range(10):
        status = await client.fuota_status(job_id)
        states.append(status.state)
        if status.state == "Done":
            break
    assert states[0] != "Done"
    assert states[-1] == "Done"
    assert status.percent_done == 100
    assert status.result == "Done: 1"
    await client.cancel_fuota(job_id)
    assert sim.requests[-1][1] == "fuota/abort"
    for bad in ("nope", f"{group.group_id}/x", "0000000000000009"):
        with pytest.raises(InvalidRequest) as err:
            await client.fuota_status(bad)
        assert err.value.key == "invalid_job_id"


class OddServer(SimulatorServer):
    """A server at the API's paths that answers what a test sets, per path."""

    def __init__(self) -> None:
        """Answer 404 until told otherwise."""
        app = web.Application()
        app.router.add_route("*", "/openapi/{path:.*}", self._answer)
        super().__init__(app)
        self.answers: dict[str, tuple[int, bytes]] = {}
        self.pages: dict[str, Callable[[int], tuple[int, bytes]]] = {}
        """Paths answered per page number."""

    async def _answer(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        if path in self.pages:
            status, body = self.pages[path](int(request.query["pageNo"]))
        else:
            status, body = self.answers.get(path, (404, b""))
        return web.Response(status=status, body=body, content_type="application/json")


def _json(document: Any) -> tuple[int, bytes]:
    return 200, json.dumps(document).encode()


async def test_answers_that_are_wrong(session: aiohttp.ClientSession) -> None:
    """HTTP refusals, answers that are not the documented JSON, and odd items are handled."""
    async with OddServer() as server:
        client = IotSquareClient(session, f"{server.base_url}/openapi", "t", 89)
        for answer, error in (
            ((401, b""), AuthError),
            ((403, b""), Forbidden),
            ((418, b""), InvalidRequest),
            ((429, b""), CannotConnect),
            ((200, b"<html>"), ProtocolError),
            (_json({"msg": "no code"}), ProtocolError),
            (_json([1, 2]), ProtocolError),
        ):
            server.answers["app/list"] = answer
            with pytest.raises(error):
                await client.validate()
        server.answers["device/list"] = _json(
            {
                "code": 0,
                "amount": 3,
                "data": [
                    {"devEUI": "bad"},
                    {"devEUI": METER, "lastSeen": "never", "region": 868},
                    {"devEUI": LAMP, "productType": "rhf3mr01", "region": ""},
                ],
            }
        )
        server.answers["device/status"] = _json({"code": 4001, "msg": "Device Not Exist"})
        devices = await client.list_devices()
        assert [(d.dev_eui, d.device_class, d.model) for d in devices] == [
            (METER, None, None),
            (LAMP, None, "rhf3mr01"),
        ]
        assert devices[1].manufacturer == "RisingHF"
        server.answers["device/status"] = _json({"code": 1001, "msg": "System Busy"})
        with pytest.raises(CannotConnect):
            await client.list_devices()
        server.answers["device/status"] = _json(
            {"code": 0, "data": {"supportClassB": True, "appEUI": "526973696e674846"}}
        )
        devices = await client.list_devices()
        assert (devices[0].device_class, devices[0].app_eui) == (LoRaClass.B, "526973696E674846")
        server.answers["device/status"] = _json({"code": 0, "data": None})
        assert (await client.list_devices())[0].device_class is None
        server.answers["device/status"] = _json(
            {"code": 0, "data": {"supportClassC": "yes", "appEUI": 5, "authType": "otaa"}}
        )
        device = (await client.list_devices())[0]
        assert (device.device_class, device.app_eui, device.activation) == (None, None, "otaa")
        for latest in ({"code": 0, "data": None}, {"code": 0, "data": {"fCnt": 1}}):
            server.answers["device/latestDeviceUplink"] = _json(latest)
            assert await client.latest_uplink(METER) is None
        # Queued, but the counter is missing: still queued (a failure would have it sent twice).
        server.answers["device/downlink/create"] = _json({"code": 0, "msg": "ok"})
        result = await client.send_downlink(Downlink(dev_eui=METER, f_port=8, payload=b"\x01"))
        assert (result.state, result.f_cnt) == (DownlinkState.QUEUED, None)
        server.answers["fuota/create"] = _json({"code": 0})
        server.answers["fuota/list"] = _json({"code": 0, "amount": 1, "data": [{"fdID": 3}]})
        with pytest.raises(ProtocolError):
            await client.start_fuota(
                FuotaRequest(dev_euis=(), firmware=b"\x01", group_id="778327E60A028072")
            )
        server.answers["fuota/status"] = _json({"code": 0, "data": {"state": "Created"}})
        server.answers["fuota/device/list"] = _json(
            {"code": 0, "amount": 1, "data": [{"devEUI": LAMP, "nbFragReceived": 3}]}
        )
        status = await client.fuota_status("778327E60A028072/3")
        assert (status.state, status.percent_done, status.result) == ("Created", None, "Unknown: 1")


async def test_push_memory_and_odd_pushes(
    session: aiohttp.ClientSession, sim: IotSquareSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replay memory is bounded; a join without an address is still an event."""
    monkeypatch.setattr("custom_components.lorawan_hub.lns.iotsquare.SEEN_MEMORY", 1)
    client = make_client(session, sim)
    sink = RecordingSink()
    client._sink = sink
    first = sim.uplink_body(METER, b"\x01")
    assert await client.accept_push("uplink", first, 1)
    assert await client.accept_push("uplink", sim.uplink_body(METER, b"\x02"), 1)
    assert await client.accept_push("uplink", first, 1)  # forgotten: delivered again
    assert len(sink.uplinks) == 3
    assert await client.accept_push("join", {"devEUI": LAMP, "appID": 89, "data": {}}, 1)
    assert sink.joins[-1].dev_eui == LAMP
    assert all(update.dev_addr is None for update in sink.device_updates)
    unknown = IotSquareClient(session, sim.url, sim.token)
    with pytest.raises(InvalidRequest):
        await unknown.application()


async def test_pages_smaller_than_asked(session: aiohttp.ClientSession) -> None:
    """A server serving fewer items per page than asked: the total tells when to stop."""
    async with OddServer() as server:
        client = IotSquareClient(session, f"{server.base_url}/openapi", "t", 89)
        pages = {
            page: [{"appID": n, "appName": f"app_{n}"} for n in range(page * 50, page * 50 + 50)]
            for page in range(2)
        }
        pages[2] = [{"appID": n, "appName": f"app_{n}"} for n in range(100, 120)]
        requested: list[int] = []

        def answer(page: int) -> tuple[int, bytes]:
            requested.append(page)
            return _json({"code": 0, "amount": 120, "data": pages.get(page - 1, [])})

        server.pages["app/list"] = answer
        applications = await client.list_applications()
        assert len(applications) == 120
        assert requested == [1, 2, 3]
        # A server that ignores the page number: its one page is taken once.
        requested.clear()
        server.pages["app/list"] = lambda page: answer(1)
        assert len(await client.list_applications()) == 50
        assert requested == [1, 1]
        # Without a total, a short page is the last.
        server.pages["app/list"] = lambda page: _json({"code": 0, "data": pages[2]})
        assert len(await client.list_applications()) == 20


async def test_seed_drops_what_was_seen(
    session: aiohttp.ClientSession, sim: IotSquareSimulator
) -> None:
    """An uplink seen before with the same counter at about the same time is not seeded again."""
    sim.uplink_body(METER, b"\x01")
    client = make_client(session, sim)
    await client.list_devices()
    sink = RecordingSink()
    await client._seed(sink)
    assert len(sink.uplinks) == 1
    seen = sink.uplinks[0]
    # After a restart the same uplink comes back with the server's own time, a little off.
    sink.uplinks[0] = dataclasses.replace(seen, received_at=seen.received_at - timedelta(seconds=2))
    await client._seed(sink)
    assert len(sink.uplinks) == 1
    # Without the memory of it, it is delivered again.
    sink.uplinks.clear()
    await client._seed(sink)
    assert len(sink.uplinks) == 1


async def test_seed_failure_keeps_the_pushes(
    session: aiohttp.ClientSession, sim: IotSquareSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected error while seeding is logged; pushes are still taken."""
    client = make_client(session, sim)
    await client.list_devices()

    async def broken(dev_eui: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(client, "latest_uplink", broken)
    sink = RecordingSink()
    task = asyncio.create_task(client.run(sink))
    await sink.wait_for(lambda: sink.connections == [(True, None)])
    assert await client.accept_push("uplink", sim.uplink_body(METER, b"\x01"), 1)
    assert len(sink.uplinks) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
