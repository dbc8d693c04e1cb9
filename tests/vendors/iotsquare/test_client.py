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
    HEADER_TAKEN,
    MQTT_ON,
    PUSH_MQTT_WAS_ON,
    PUSH_URL_TAKEN,
    IotSquareClient,
    PushConflict,
)
from custom_components.lorawan_hub.lns.iotsquare.api import (
    ERROR_KEYS,
    RESPONSE_CODES,
    code_error,
    item_errors,
)
from custom_components.lorawan_hub.lns.iotsquare.parse import uplink_from_fields, uplink_from_push
from custom_components.lorawan_hub.lns.models import (
    Downlink,
    DownlinkMode,
    DownlinkState,
    FuotaRequest,
    Gateway,
    JoinInfo,
    LoRaClass,
    MulticastKeys,
    MulticastSetup,
    Uplink,
)
from simulator.iotsquare import IotSquareSimulator
from simulator.server import SimulatorServer
from tests.vendors.sink import RecordingSink

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
        {"time": 1, "data": {}},
        {"devEUI": METER, "time": 1, "data": []},
        {"devEUI": METER, "time": 1},
    ],
)
def test_malformed_pushes(envelope: dict[str, Any]) -> None:
    """Without a device or an uplink object there is no uplink: a ProtocolError, never a crash."""
    with pytest.raises(ProtocolError):
        uplink_from_push(envelope)


@pytest.mark.parametrize(
    ("fields", "time", "expected"),
    [
        ({"data": "not base64!", "fCnt": 3}, 1000, (b"", 3, 1)),
        ({"data": 7, "fCnt": 3}, 1000, (b"", 3, 1)),
        ({"data": "AQ==", "fCnt": "ten"}, 1000, (b"\x01", None, 1)),
        ({"data": "AQ==", "fCnt": 3}, "soon", (b"\x01", 3, None)),
        ({"data": "AQ==", "fCnt": 3}, 10**20, (b"\x01", 3, None)),
    ],
)
def test_a_malformed_value_drops_only_that_value(
    fields: dict[str, Any], time: Any, expected: tuple[bytes, int | None, int | None]
) -> None:
    """A malformed payload, frame counter or time is left out; the uplink is still there."""
    before = datetime.now(UTC)
    uplink = uplink_from_push(
        {"devEUI": METER, "time": time, "data": fields | {"rssi": -80, "fPort": 5}}
    )
    payload, f_cnt, seconds = expected
    assert (uplink.payload, uplink.f_cnt, uplink.rssi, uplink.f_port) == (payload, f_cnt, -80, 5)
    if seconds is None:  # the time the push arrived
        assert uplink.received_at >= before
    else:
        assert uplink.received_at == datetime.fromtimestamp(seconds, UTC)


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
    http_session: aiohttp.ClientSession, sim: IotSquareSimulator
) -> None:
    """The token is checked, applications listed, devices listed with their class."""
    await make_client(http_session, sim).validate()
    assert await make_client(http_session, sim, app_id=None).list_applications() == {
        89: "garden",
        90: "elsewhere",
    }
    with pytest.raises(AuthError):
        await make_client(http_session, sim, token="wrong").validate()
    with pytest.raises(InvalidRequest) as err:
        await make_client(http_session, sim, app_id=4711).validate()
    assert err.value.key == "iotsquare_3001"
    with pytest.raises(InvalidRequest):
        await make_client(http_session, sim, app_id=None).list_devices()
    devices = {
        device.dev_eui: device for device in await make_client(http_session, sim).list_devices()
    }
    assert set(devices) == {METER, LAMP}
    assert devices[METER].name == "water_meter"
    assert (devices[METER].device_class, devices[LAMP].device_class) == (LoRaClass.A, LoRaClass.C)
    assert devices[LAMP].activation == "otaa"
    assert all("appKey" not in repr(device) for device in devices.values())


async def test_devices_beyond_one_page(
    http_session: aiohttp.ClientSession, sim: IotSquareSimulator
) -> None:
    """More devices than 0/0 returns (200) are all listed, page by page."""
    for index in range(250):
        sim.add_device(89, f"70B3D57ED0AA{index:04X}", f"sensor_{index}")
    devices = await make_client(http_session, sim).list_devices()
    assert len(devices) == 252
    pages = [params for method, path, params in sim.requests if path == "device/list"]
    assert [page["pageNo"] for page in pages] == ["1", "2", "3"]


async def test_pushes_reach_the_sink(
    http_session: aiohttp.ClientSession, sim: IotSquareSimulator, recording_sink: RecordingSink
) -> None:
    """Seeded latest uplinks, uplink and join pushes; others ignored, replays dropped."""
    sim.uplink_body(METER, b"\x01\x67\x00\xe6")  # sent while Home Assistant was away
    client = make_client(http_session, sim)
    await client.list_devices()
    assert await client.accept_push("uplink", {}, 1) is False  # not running yet
    task = asyncio.create_task(client.run(recording_sink))
    await recording_sink.wait_for(lambda: len(recording_sink.uplinks) == 1)
    seeded = recording_sink.uplinks[0]
    assert (seeded.dev_eui, seeded.payload, seeded.f_cnt) == (METER, b"\x01\x67\x00\xe6", 1)
    push = sim.uplink_body(LAMP, b"\x02\x01\x01")
    assert await client.accept_push("uplink", push, 1)
    assert await client.accept_push("uplink", push, 1)  # a replay
    assert await client.accept_push("uplink", sim.uplink_body(OTHER, b"\x00"), 1)
    assert await client.accept_push("uplink", [{"devEUI": "junk"}, "junk"], 1)
    assert await client.accept_push("join", sim.join_body(LAMP), 1)
    assert await client.accept_push("status", {"devEUI": LAMP, "appID": 89, "type": "x"}, 1)
    assert [uplink.dev_eui for uplink in recording_sink.uplinks] == [METER, LAMP]
    assert recording_sink.uplinks[1].device_class is LoRaClass.C
    assert recording_sink.joins[0].dev_eui == LAMP
    assert recording_sink.device_updates[-1].dev_addr == sim.devices[LAMP.lower()].dev_addr.upper()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_seed_skips_what_pushes_brought(
    http_session: aiohttp.ClientSession, sim: IotSquareSimulator
) -> None:
    """A device whose push came first is not seeded with an older uplink; failures are logged."""
    sim.uplink_body(METER, b"\x01")
    sim.uplink_body(LAMP, b"\x02")
    client = make_client(http_session, sim)
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


async def test_downlinks(
    http_session: aiohttp.ClientSession, sim: IotSquareSimulator, recording_sink: RecordingSink
) -> None:
    """Downlinks go as base64 and answer the downlink counter; refusals are specific."""
    client = make_client(http_session, sim)
    client._sink = recording_sink
    result = await client.send_downlink(
        Downlink(dev_eui=LAMP, f_port=8, payload=b"\x23\x33", confirmed=True)
    )
    assert result.f_cnt == 1
    assert sim.downlinks[-1] == (LAMP.lower(), 8, b"\x23\x33", True, 1)
    assert recording_sink.device_updates[-1].downlink_f_cnt == 1
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


async def test_unreachable(http_session: aiohttp.ClientSession) -> None:
    """No server: CannotConnect."""
    client = IotSquareClient(http_session, "http://127.0.0.1:9/openapi", "t", 89, request_timeout=2)
    with pytest.raises(CannotConnect):
        await client.validate()


async def test_multicast_groups(
    http_session: aiohttp.ClientSession, sim: IotSquareSimulator
) -> None:
    """A class C group in the devices' region; per-device refusals are named."""
    client = make_client(http_session, sim)
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
    assert (stored.region, stored.subnet, stored.enable_mc_remote) == ("eu868", "ch_00-07", False)
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


async def test_fuota(http_session: aiohttp.ClientSession, sim: IotSquareSimulator) -> None:
    """A file transfer to a group starts, reports its progress, and is terminated."""
    sim.fuota_polls = 1
    client = make_client(http_session, sim)
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


async def test_answers_that_are_wrong(http_session: aiohttp.ClientSession) -> None:
    """HTTP refusals, answers that are not the documented JSON, and odd items are handled."""
    async with OddServer() as server:
        client = IotSquareClient(http_session, f"{server.base_url}/openapi", "t", 89)
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
    http_session: aiohttp.ClientSession,
    sim: IotSquareSimulator,
    monkeypatch: pytest.MonkeyPatch,
    recording_sink: RecordingSink,
) -> None:
    """The replay memory is bounded; a join without an address is still an event."""
    monkeypatch.setattr("custom_components.lorawan_hub.lns.iotsquare.client.SEEN_MEMORY", 1)
    client = make_client(http_session, sim)
    client._sink = recording_sink
    first = sim.uplink_body(METER, b"\x01")
    assert await client.accept_push("uplink", first, 1)
    assert await client.accept_push("uplink", sim.uplink_body(METER, b"\x02"), 1)
    assert await client.accept_push("uplink", first, 1)  # forgotten: delivered again
    assert len(recording_sink.uplinks) == 3
    assert await client.accept_push("join", {"devEUI": LAMP, "appID": 89, "data": {}}, 1)
    assert recording_sink.joins[-1].dev_eui == LAMP
    assert all(update.dev_addr is None for update in recording_sink.device_updates)
    unknown = IotSquareClient(http_session, sim.url, sim.token)
    with pytest.raises(InvalidRequest):
        await unknown.application()


async def test_pages_smaller_than_asked(http_session: aiohttp.ClientSession) -> None:
    """A server serving fewer items per page than asked: the total tells when to stop."""
    async with OddServer() as server:
        client = IotSquareClient(http_session, f"{server.base_url}/openapi", "t", 89)
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
    http_session: aiohttp.ClientSession, sim: IotSquareSimulator, recording_sink: RecordingSink
) -> None:
    """An uplink seen before with the same counter at about the same time is not seeded again."""
    sim.uplink_body(METER, b"\x01")
    client = make_client(http_session, sim)
    await client.list_devices()
    await client._seed(recording_sink)
    assert len(recording_sink.uplinks) == 1
    seen = recording_sink.uplinks[0]
    # After a restart the same uplink comes back with the server's own time, a little off.
    recording_sink.uplinks[0] = dataclasses.replace(
        seen, received_at=seen.received_at - timedelta(seconds=2)
    )
    await client._seed(recording_sink)
    assert len(recording_sink.uplinks) == 1
    # Without the memory of it, it is delivered again.
    recording_sink.uplinks.clear()
    await client._seed(recording_sink)
    assert len(recording_sink.uplinks) == 1


async def test_seed_failure_keeps_the_pushes(
    http_session: aiohttp.ClientSession,
    sim: IotSquareSimulator,
    monkeypatch: pytest.MonkeyPatch,
    recording_sink: RecordingSink,
) -> None:
    """An unexpected error while seeding is logged; pushes are still taken."""
    client = make_client(http_session, sim)
    await client.list_devices()

    async def broken(dev_eui: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(client, "latest_uplink", broken)
    task = asyncio.create_task(client.run(recording_sink))
    await recording_sink.wait_for(lambda: recording_sink.connections == [(True, None)])
    assert await client.accept_push("uplink", sim.uplink_body(METER, b"\x01"), 1)
    assert len(recording_sink.uplinks) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


class FailingSink(RecordingSink):
    """A sink whose uplink and join raise for the payloads (or devices) listed, once each."""

    def __init__(self, refuse: set[bytes], refuse_joins: set[str] | None = None) -> None:
        """Refuse the uplinks with these payloads and the joins of these devices, once."""
        super().__init__()
        self.refuse = refuse
        self.refuse_joins = refuse_joins or set()

    def uplink(self, uplink: Uplink) -> None:
        """Raise once for a refused payload, else record."""
        if uplink.payload in self.refuse:
            self.refuse.discard(uplink.payload)
            raise RuntimeError("the coordinator failed")
        super().uplink(uplink)

    def joined(self, join: JoinInfo) -> None:
        """Raise once for a refused device, else record."""
        if join.dev_eui in self.refuse_joins:
            self.refuse_joins.discard(join.dev_eui)
            raise RuntimeError("the coordinator failed")
        super().joined(join)


async def test_a_push_not_handed_over_comes_again(
    http_session: aiohttp.ClientSession, sim: IotSquareSimulator
) -> None:
    """A push whose delivery failed is not taken (False: 503), and taken when it comes again."""
    client = make_client(http_session, sim)
    sink = FailingSink({b"\x02"}, {LAMP})
    client._sink = sink
    push = sim.uplink_body(METER, b"\x02")
    assert await client.accept_push("uplink", push, 1) is False
    assert sink.uplinks == []
    assert await client.accept_push("uplink", push, 1) is True  # IoTSquare's retry
    assert [uplink.payload for uplink in sink.uplinks] == [b"\x02"]
    assert await client.accept_push("uplink", push, 1) is True  # a replay now
    assert len(sink.uplinks) == 1
    # A batch: what was handed over before the failure is a replay when the batch comes again.
    sink.refuse = {b"\x04"}
    batch = [sim.uplink_body(METER, b"\x03"), sim.uplink_body(METER, b"\x04")]
    assert await client.accept_push("uplink", batch, 1) is False
    assert await client.accept_push("uplink", batch, 1) is True
    assert [uplink.payload for uplink in sink.uplinks] == [b"\x02", b"\x03", b"\x04"]
    join = sim.join_body(LAMP)
    assert await client.accept_push("join", join, 1) is False
    assert await client.accept_push("join", join, 1) is True
    assert [j.dev_eui for j in sink.joins] == [LAMP]


async def test_seed_goes_on_past_a_refused_uplink(
    http_session: aiohttp.ClientSession, sim: IotSquareSimulator
) -> None:
    """An uplink the sink refuses while seeding does not stop the others."""
    sim.uplink_body(METER, b"\x01")
    sim.uplink_body(LAMP, b"\x02")
    client = make_client(http_session, sim)
    await client.list_devices()
    sink = FailingSink({b"\x01"})
    await client._seed(sink)
    assert [uplink.payload for uplink in sink.uplinks] == [b"\x02"]


USER_LINK = "https://user.example/api/iotsquare"
OUR_LINK = "https://ha.example/api/lorawan_hub/push/pushid0123"
BEARER = "Bearer s3cret"


async def test_push_set_up_keeps_what_the_application_has(
    http_session: aiohttp.ClientSession, sim: IotSquareSimulator
) -> None:
    """With pushUrls (3.4.18) the link goes beside the user's; the user's headers stay."""
    app = sim.apps[89]
    app.push_url, app.push_urls = USER_LINK, [USER_LINK]
    app.headers = {"userID": "2333", "x-access-token": "6666"}
    client = make_client(http_session, sim)
    config = await client.push_config()
    assert (config.push_url, config.push_urls, config.mqtt) == (USER_LINK, (USER_LINK,), False)
    assert config.conflicts(OUR_LINK, "Authorization", BEARER) == frozenset()
    setup = await client.configure_push(OUR_LINK, "Authorization", BEARER)
    assert setup == {PUSH_MQTT_WAS_ON: False}
    assert sim.app_updates[-1] == {
        "appID": 89,
        "appName": "garden",
        "enableMQTT": False,
        "pushURL": USER_LINK,
        "pushUrls": [USER_LINK, OUR_LINK],
        "headers": {"userID": "2333", "x-access-token": "6666", "Authorization": BEARER},
    }
    assert sim.push_links(app) == [USER_LINK, OUR_LINK]
    # An application without any push link: ours becomes its push link too.
    other = sim.apps[90]
    client = make_client(http_session, sim, app_id=90)
    await client.configure_push(OUR_LINK, "Authorization", BEARER)
    assert (other.push_url, other.push_urls, other.headers) == (
        OUR_LINK,
        [OUR_LINK],
        {"Authorization": BEARER},
    )


async def test_push_set_up_asks_before_replacing(
    http_session: aiohttp.ClientSession, sim: IotSquareSimulator
) -> None:
    """One push link of the user's, MQTT on, the user's Authorization header: only if agreed."""
    sim.multiple_push_links = False  # a server before 3.4.18
    app = sim.apps[89]
    app.push_url, app.enable_mqtt = USER_LINK, True
    app.headers = {"authorization": "Basic dXNlcg==", "userID": "2333"}
    client = make_client(http_session, sim)
    config = await client.push_config()
    assert config.push_urls is None
    with pytest.raises(PushConflict) as conflict:
        await client.configure_push(OUR_LINK, "Authorization", BEARER, replace={"mqtt"})
    assert conflict.value.conflicts == {PUSH_URL_TAKEN, MQTT_ON, HEADER_TAKEN}
    assert conflict.value.config.push_url == USER_LINK
    assert sim.app_updates == []
    assert (app.push_url, app.enable_mqtt) == (USER_LINK, True)
    setup = await client.configure_push(
        OUR_LINK, "Authorization", BEARER, replace={PUSH_URL_TAKEN, MQTT_ON, HEADER_TAKEN}
    )
    assert setup == {PUSH_MQTT_WAS_ON: True}
    assert sim.app_updates[-1] == {
        "appID": 89,
        "appName": "garden",
        "enableMQTT": False,
        "pushURL": OUR_LINK,
        "headers": {"userID": "2333", "Authorization": BEARER},
    }
    # A server before 3.4.18 whose one link is free: no question.
    sim.apps[90].headers = {"Authorization": BEARER}
    client = make_client(http_session, sim, app_id=90)
    assert await client.configure_push(OUR_LINK, "Authorization", BEARER) == {
        PUSH_MQTT_WAS_ON: False
    }
    assert sim.apps[90].push_url == OUR_LINK


async def test_push_set_up_without_room_for_the_header(
    http_session: aiohttp.ClientSession, sim: IotSquareSimulator
) -> None:
    """Five headers of the user's already: refused in words, nothing changed."""
    sim.apps[89].headers = {f"h{n}": "v" for n in range(5)}
    client = make_client(http_session, sim)
    with pytest.raises(InvalidRequest) as err:
        await client.configure_push(OUR_LINK, "Authorization", BEARER)
    assert err.value.key == "push_headers_full"
    assert sim.app_updates == []


async def test_push_set_up_that_is_not_kept(http_session: aiohttp.ClientSession) -> None:
    """A server that answers ok but keeps neither link nor header: said, not taken as done."""
    async with OddServer() as server:
        status = {"appID": 89, "appName": "garden", "pushURL": "", "pushUrls": [], "headers": {}}
        server.answers["app/status"] = _json({"code": 0, "msg": "ok", "data": status})
        server.answers["app/update"] = _json({"code": 0, "msg": "ok"})
        client = IotSquareClient(http_session, f"{server.base_url}/openapi", "t", 89)
        with pytest.raises(InvalidRequest) as err:
            await client.configure_push(OUR_LINK, "Authorization", BEARER)
        assert err.value.key == "push_not_kept"


async def test_push_links_shown_only_in_the_list(http_session: aiohttp.ClientSession) -> None:
    """The application list shows pushUrls but its status does not: the server has it."""
    async with OddServer() as server:
        status = {"appID": 89, "appName": "garden", "pushURL": USER_LINK, "headers": None}
        server.answers["app/status"] = _json({"code": 0, "msg": "ok", "data": status})
        listed = [{"appID": 90, "pushUrls": []}, {"appID": 89, "pushUrls": [USER_LINK, 5]}]
        server.answers["app/list"] = _json({"code": 0, "amount": 2, "data": listed})
        client = IotSquareClient(http_session, f"{server.base_url}/openapi", "t", 89)
        config = await client.push_config()
        assert (config.push_urls, config.headers, config.links) == ((USER_LINK,), {}, (USER_LINK,))
        assert config.conflicts(OUR_LINK, "Authorization", BEARER) == frozenset()
        for odd, links in (("https://one.example", ("https://one.example",)), (5, ())):
            status["pushUrls"] = odd
            server.answers["app/status"] = _json({"code": 0, "msg": "ok", "data": status})
            assert (await client.push_config()).push_urls == links
        del status["pushUrls"]
        server.answers["app/status"] = _json({"code": 0, "msg": "ok", "data": status})
        server.answers["app/list"] = _json({"code": 0, "amount": 1, "data": [{"appID": 89}]})
        config = await client.push_config()
        assert config.push_urls is None
        assert config.conflicts(OUR_LINK, "Authorization", BEARER) == {PUSH_URL_TAKEN}


async def test_push_removal_takes_off_only_ours(
    http_session: aiohttp.ClientSession, sim: IotSquareSimulator
) -> None:
    """The entry's link and header go; the user's links and headers stay; MQTT comes back."""
    app = sim.apps[89]
    app.push_urls = [USER_LINK]
    app.headers = {"userID": "2333"}
    client = make_client(http_session, sim)
    await client.configure_push(OUR_LINK, "Authorization", BEARER)
    app.push_urls.append("https://user.example/second")  # the user adds one meanwhile
    app.push_urls.append("http://[::1")  # and one that is not even a URL
    assert await client.remove_push("pushid0123", BEARER) is True
    assert (app.push_url, app.push_urls, app.headers, app.enable_mqtt) == (
        "",
        [USER_LINK, "https://user.example/second", "http://[::1"],
        {"userID": "2333"},
        False,
    )
    assert await client.remove_push("pushid0123", BEARER) is False  # nothing of ours left
    # One push link, taken over with MQTT turned off: cleared, and MQTT on again.
    sim.multiple_push_links = False
    app.push_url, app.enable_mqtt = USER_LINK, True
    setup = await client.configure_push(
        OUR_LINK + "/", "Authorization", BEARER, replace={PUSH_URL_TAKEN, MQTT_ON}
    )
    assert await client.remove_push("pushid0123", BEARER, mqtt_was_on=setup[PUSH_MQTT_WAS_ON])
    assert (app.push_url, app.headers, app.enable_mqtt) == ("", {"userID": "2333"}, True)
    # A link of another entry and the user's header with another value are not ours.
    app.push_url, app.headers = OUR_LINK.replace("0123", "9999"), {"Authorization": "Basic x"}
    updates = len(sim.app_updates)
    assert await client.remove_push("pushid0123", BEARER) is False
    assert len(sim.app_updates) == updates


async def test_rename_sends_what_the_document_requires(
    http_session: aiohttp.ClientSession, sim: IotSquareSimulator
) -> None:
    """mcgroup/update gets a manual group's address and keys, a remote one's push link."""
    manual = sim.add_group("a0891ce817397ee8", "mc_group_03", mc_addr="75bacecd")
    client = make_client(http_session, sim)
    await client.rename_multicast_group("A0891CE817397EE8", "lamps_2")
    assert sim.requests[-1][2] == {
        "mcEUI": "a0891ce817397ee8",
        "mcName": "lamps_2",
        "mcAddr": "75bacecd",
        "mcAppSKey": manual.mc_app_s_key,
        "mcNwkSKey": manual.mc_nwk_s_key,
        "enableMQTT": False,
    }
    assert (manual.name, manual.mc_addr) == ("lamps_2", "75bacecd")
    remote = sim.add_group(
        "ef9a560aba9c3d7d",
        "mc_group_02",
        enable_mc_remote=True,
        group_id=3,
        enable_mc_ext=True,
        time_slot_length=3,
        push_urls=["https://test.example.com/api/iotsquare"],
        headers={"x-access-token": "6666", "userID": "2333"},
    )
    await client.rename_multicast_group("EF9A560ABA9C3D7D", "mc_group_04")
    assert sim.requests[-1][2] == {
        "mcEUI": "ef9a560aba9c3d7d",
        "mcName": "mc_group_04",
        "pushURL": "https://test.example.com/api/iotsquare",
        "headers": {"x-access-token": "6666", "userID": "2333"},
        "timeSlotLength": 3,
        "enableMQTT": False,
    }
    assert (remote.name, remote.push_urls, remote.time_slot_length) == (
        "mc_group_04",
        ["https://test.example.com/api/iotsquare"],
        3,
    )


async def test_rename_of_a_group_shown_without_keys(http_session: aiohttp.ClientSession) -> None:
    """A manual group whose status lacks its keys is not renamed blindly."""
    async with OddServer() as server:
        server.answers["mcgroup/status"] = _json(
            {"code": 0, "data": {"mcEUI": "a0891ce817397ee8", "enableMCRemote": False}}
        )
        client = IotSquareClient(http_session, f"{server.base_url}/openapi", "t", 89)
        with pytest.raises(ProtocolError):
            await client.rename_multicast_group("A0891CE817397EE8", "lamps")


async def test_created_group_session_and_members(
    http_session: aiohttp.ClientSession, sim: IotSquareSimulator
) -> None:
    """The session given is sent as documented; refused members are named, the session kept."""
    client = make_client(http_session, sim)
    await client.list_devices()
    given = MulticastKeys(
        address="45C325CE",
        app_s_key="A1EF710BB888C7F0D1A296A442203FB8",
        nwk_s_key="868D85D136E7006619C6910AAF3E488E",
    )
    group = await client.create_multicast_group(
        MulticastSetup(name="mc_group_02", keys=given, dev_euis=(LAMP, METER, "0000000000000009"))
    )
    body = next(body for _, path, body in sim.requests if path == "mcgroup/create")
    assert body == {
        "mcName": "mc_group_02",
        "mcEUI": group.group_id.lower(),
        "region": "eu868",
        "subnet": "ch_00-07",
        "class": "C",
        "enableMCRemote": False,
        "mcAddr": "45c325ce",
        "mcAppSKey": "a1ef710bb888c7f0d1a296a442203fb8",
        "mcNwkSKey": "868d85d136e7006619c6910aaf3e488e",
        "enableMQTT": False,
    }
    assert group.keys == given
    assert group.dev_euis == (LAMP,)
    assert group.states == {
        LAMP: "joined",
        METER: "refused: MCDevice Incompatible With Group",
        "0000000000000009": "refused: Device Not Exist",
    }
    assert list(sim.groups[group.group_id.lower()].members) == [LAMP.lower()]


async def test_created_group_keeps_its_session_whatever_follows(
    http_session: aiohttp.ClientSession, sim: IotSquareSimulator
) -> None:
    """The group exists once created: a failing read or bind never loses its session."""
    client = make_client(http_session, sim)
    await client.list_devices()
    sim.fail_next["mcgroup/status"] = 1001
    sim.fail_next["mcdevice/create"] = 1009
    group = await client.create_multicast_group(MulticastSetup(name="lamps", dev_euis=(LAMP,)))
    stored = sim.groups[group.group_id.lower()]
    assert group.keys is not None
    assert group.keys.address == stored.mc_addr.upper()
    assert group.name == "lamps"
    assert (group.dev_euis, group.states) == ((), {LAMP: "refused: Network Busy"})
    # A member twice: the second is "already in this group", still a member.
    group = await client.create_multicast_group(
        MulticastSetup(name="lamps_2", dev_euis=(LAMP, LAMP))
    )
    assert group.states == {LAMP: "joined"}
    assert group.dev_euis == (LAMP,)


async def test_created_group_with_the_servers_session(http_session: aiohttp.ClientSession) -> None:
    """A server that shows another session than the one sent: the devices need the server's."""
    async with OddServer() as server:
        status = {"mcName": "lamps", "mcAddr": "0096ccb5", "mcAppSKey": "3c" * 16}
        server.answers["mcgroup/create"] = _json({"code": 0, "msg": "ok"})
        server.answers["mcgroup/status"] = _json({"code": 0, "data": status})
        server.answers["device/list"] = _json(
            {
                "code": 0,
                "amount": 2,
                "data": [
                    {"devEUI": METER, "region": "eu868", "subnet": "ch_00-07"},
                    {"devEUI": LAMP, "region": "eu868", "subnet": "ch_08-15"},
                ],
            }
        )
        server.answers["device/status"] = _json({"code": 0, "data": {}})
        client = IotSquareClient(http_session, f"{server.base_url}/openapi", "t", 89)
        await client.list_devices()
        group = await client.create_multicast_group(MulticastSetup(name="lamps"))
        assert group.keys is not None  # the server's is incomplete: the one sent
        status["mcNwkSKey"] = "02" * 16
        server.answers["mcgroup/status"] = _json({"code": 0, "data": status})
        group = await client.create_multicast_group(MulticastSetup(name="lamps"))
        assert group.keys == MulticastKeys(
            address="0096CCB5", app_s_key="3C" * 16, nwk_s_key="02" * 16
        )


async def test_group_subnet_from_its_members(
    http_session: aiohttp.ClientSession, sim: IotSquareSimulator
) -> None:
    """The group takes its members' region and subnet; mixed subnets make it automatic."""
    sim.add_device(89, "70B3D57ED0000003", "lamp_two", support_class_c=True, subnet="ch_08-15")
    client = make_client(http_session, sim)
    await client.list_devices()
    group = await client.create_multicast_group(
        MulticastSetup(name="far", dev_euis=("70B3D57ED0000003",))
    )
    stored = sim.groups[group.group_id.lower()]
    assert (stored.region, stored.subnet, group.dev_euis) == (
        "eu868",
        "ch_08-15",
        ("70B3D57ED0000003",),
    )
    group = await client.create_multicast_group(MulticastSetup(name="all"))
    assert sim.requests[-2][2]["autoSubnet"] is True
    assert sim.groups[group.group_id.lower()].subnet == "auto"


async def test_fuota_options_the_document_lacks(
    http_session: aiohttp.ClientSession, sim: IotSquareSimulator
) -> None:
    """A class or a start delay fuota/create cannot take is refused in words, not ignored."""
    client = make_client(http_session, sim)
    firmware = b"\x01\x02"
    for request, key, details in (
        (
            FuotaRequest(dev_euis=(), firmware=firmware, group_id=OTHER, device_class=LoRaClass.B),
            "fuota_class_c_only",
            {},
        ),
        (
            FuotaRequest(dev_euis=(), firmware=firmware, group_id=OTHER, start_delay=60),
            "fuota_start_delay_unsupported",
            {"default": "120"},
        ),
    ):
        with pytest.raises(InvalidRequest) as err:
            await client.start_fuota(request)
        assert (err.value.key, dict(err.value.details)) == (key, details)
    assert sim.requests == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"mcEUI": "778327e60a028072", "fCnt": 7, "successNum": 12, "total": 20, "time": 5000},
            ("778327E60A028072", "7", DownlinkState.ACKNOWLEDGED, "12 of 20 devices responded"),
        ),
        (
            {"devEUI": "778327e60a028072", "type": "multicast", "data": {"fCnt": 8, "success": 0}},
            ("778327E60A028072", "8", DownlinkState.FAILED, "0 devices responded"),
        ),
        (
            {"appID": 89, "data": {"mcEUI": "778327e60a028072", "success": True}},
            ("778327E60A028072", "", DownlinkState.SENT, None),
        ),
        (
            {"mcEui": "778327e60a028072", "success": False},
            ("778327E60A028072", "", DownlinkState.FAILED, None),
        ),
        (
            {"mcEUI": "778327e60a028072", "result": "timeout", "fCnt": "x"},
            ("778327E60A028072", "", DownlinkState.FAILED, "timeout"),
        ),
        (
            {"mcEUI": "778327e60a028072", "status": "done"},
            ("778327E60A028072", "", DownlinkState.SENT, "done"),
        ),
        ({"mcEUI": "778327e60a028072"}, ("778327E60A028072", "", DownlinkState.SENT, None)),
    ],
)
async def test_multicast_results(
    http_session: aiohttp.ClientSession,
    sim: IotSquareSimulator,
    body: dict[str, Any],
    expected: tuple[str, str, DownlinkState, str | None],
    recording_sink: RecordingSink,
) -> None:
    """A result pushed to /multicast is the group downlink's status (no device)."""
    client = make_client(http_session, sim)
    client._sink = recording_sink
    assert await client.accept_push("multicast", body, 1)
    status = recording_sink.downlink_statuses[-1]
    assert (status.group_id, status.message_id, status.state, status.reason) == expected
    assert status.dev_eui == ""
    if "time" in body:
        assert status.at == datetime.fromtimestamp(5, UTC)


async def test_malformed_multicast_result(
    http_session: aiohttp.ClientSession, sim: IotSquareSimulator, recording_sink: RecordingSink
) -> None:
    """A result that names no group is dropped, and the push still answered as taken."""
    client = make_client(http_session, sim)
    client._sink = recording_sink
    assert await client.accept_push("multicast", {"fCnt": 3, "successNum": 1}, 1)
    assert recording_sink.downlink_statuses == []


async def test_odd_values_in_lists_drop_only_themselves(
    http_session: aiohttp.ClientSession,
) -> None:
    """A malformed name, id, flag or count drops that value or that item, never the list."""
    async with OddServer() as server:
        client = IotSquareClient(http_session, f"{server.base_url}/openapi", "t", 89)
        server.answers["app/list"] = _json(
            {
                "code": 0,
                "amount": 4,
                "data": [
                    {"appID": "x", "appName": "broken"},
                    {"appID": 89, "appName": 5},
                    "junk",
                    {"appID": 90, "appName": "garden"},
                ],
            }
        )
        assert await client.list_applications() == {89: "89", 90: "garden"}
        server.answers["device/list"] = _json(
            {
                "code": 0,
                "amount": 2,
                "data": [
                    {"devEUI": METER, "devName": 5, "productType": [], "devAddr": "zz"},
                    {"devEUI": LAMP, "devName": "lamp", "devAddr": "12EF4567"},
                ],
            }
        )
        server.answers["device/status"] = _json({"code": 1008, "msg": "Query Error"})
        devices = await client.list_devices()
        assert [(d.dev_eui, d.name, d.dev_addr, d.model, d.device_class) for d in devices] == [
            (METER, None, None, None, None),
            (LAMP, "lamp", "12EF4567", None, None),
        ]
        server.answers["mcgroup/status"] = _json(
            {"code": 0, "data": {"mcName": ["x"], "class": "C"}}
        )
        server.answers["mcdevice/list"] = _json(
            {
                "code": 0,
                "amount": 3,
                "data": [
                    {"devEUI": LAMP, "joined": "maybe"},
                    {"devEUI": None},
                    {"devEUI": METER, "joined": False},
                ],
            }
        )
        group = await client.multicast_group_status("778327E60A028072")
        assert (group.name, group.states) == (None, {LAMP: "unknown", METER: "not joined"})
        server.answers["fuota/status"] = _json({"code": 0, "data": {"state": 5, "nbFrag": "many"}})
        server.answers["fuota/device/list"] = _json(
            {"code": 0, "amount": 2, "data": [{"state": 7}, {"state": "Done"}]}
        )
        status = await client.fuota_status("778327E60A028072/3")
        assert (status.state, status.percent_done, status.result) == (
            "Unknown",
            None,
            "Done: 1, Unknown: 1",
        )
        server.answers["fuota/create"] = _json({"code": 0})
        server.answers["fuota/list"] = _json(
            {"code": 0, "amount": 2, "data": [{"fdID": "x"}, {"fdID": 4}]}
        )
        with pytest.raises(ProtocolError):
            await client.start_fuota(
                FuotaRequest(dev_euis=(), firmware=b"\x01", group_id="778327E60A028072")
            )
        server.answers["mcdownlink/create"] = _json({"code": 0, "fCnt": "six"})
        result = await client.send_multicast("778327E60A028072", 8, b"\x01")
        assert (result.state, result.f_cnt) == (DownlinkState.QUEUED, None)


async def test_odd_values_in_pushes_drop_only_themselves(
    http_session: aiohttp.ClientSession, sim: IotSquareSimulator, recording_sink: RecordingSink
) -> None:
    """A join with a malformed address is a join; a malformed appID is not another app's."""
    client = make_client(http_session, sim)
    client._sink = recording_sink
    assert await client.accept_push("join", {"devEUI": LAMP, "data": {"devAddr": 5}}, 1)
    assert [j.dev_eui for j in recording_sink.joins] == [LAMP]
    assert recording_sink.device_updates == []
    body = sim.uplink_body(METER, b"\x01") | {"appID": "eighty-nine"}
    assert await client.accept_push("uplink", body, 1)
    assert [u.payload for u in recording_sink.uplinks] == [b"\x01"]
    # Without a time the uplink still arrives; its retry is still a replay.
    body = sim.uplink_body(METER, b"\x02")
    del body["time"]
    assert await client.accept_push("uplink", body, 1)
    assert await client.accept_push("uplink", body, 1)
    assert [u.payload for u in recording_sink.uplinks] == [b"\x01", b"\x02"]
