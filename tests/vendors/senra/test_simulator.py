"""The SenRa simulator: its REST contract as a plain HTTP client sees it, and its pusher."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from simulator.senra import SenraSimulator

from .samples import CurlRequest, curl_requests, load, shape_differences, text

METER = "70B3D57ED0000701"
APP_EUI = "AAAAAAAAAAAAAA01"
"""The application of the document's examples."""


@pytest.fixture
async def sim() -> AsyncIterator[SenraSimulator]:
    """A simulator with one device."""
    simulator = SenraSimulator()
    simulator.add_device(METER)
    async with simulator:
        yield simulator


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/rest/integration/device/csvExport?appEui=0000000000000001", {}, 403),
        ("POST", "/rest/integration/device/update?appEui=70B3D57ED0FFFF01", {"data": "{"}, 400),
        ("POST", "/rest/integration/device/update", {"json": {"data": []}}, 400),
        ("GET", "/rest/integration/device/status?reqId=nope", {}, 404),
        ("POST", f"/rest/integration/device/sendmsg?eui={METER}", {}, 400),
        ("POST", "/rest/integration/mcast/setup?appEui=0000000000000001", {}, 400),
        ("POST", "/rest/integration/mcast/sendmsg?appEui=70B3D57ED0FFFF01&mcAddr=X", {}, 404),
        ("POST", "/rest/integration/mcast/status?appEui=70B3D57ED0FFFF01&mcAddr=BBBBBB01", {}, 404),
        ("POST", "/rest/integration/device/sendmcastmsg?addr=01&pdu=zz&bstnEuis=01", {}, 400),
        ("POST", "/rest/integration/device/sendmcastmsg?addr=01&pdu=01&bstnEuis=", {}, 400),
        (
            "POST",
            "/rest/integration/device/update?appEui=0000000000000001",
            {"json": {"data": []}},
            400,
        ),
        (
            "POST",
            "/rest/integration/mcast/setup?appEui=70B3D57ED0FFFF01&devEuis=01&contractId=0",
            {},
            400,
        ),
        ("POST", "/rest/integration/mcastTransfer?appEui=70B3D57ED0FFFF01", {}, 400),
        # "class: A, B, or C"; flags "true or false" (003:150-155).
        ("POST", f"/rest/integration/device/sendmsg?eui={METER}&pdu=01&class=CLASS_C", {}, 400),
        ("POST", f"/rest/integration/device/sendmsg?eui={METER}&pdu=01&class=c", {}, 400),
        ("POST", f"/rest/integration/device/sendmsg?eui={METER}&pdu=01&confirmed=yes", {}, 400),
        ("POST", f"/rest/integration/device/sendmsg?eui={METER}&pdu=01&timeoutMinutes=0", {}, 400),
        # "Either a list of Device EUIs OR a list of Device tags" (003:984), class B or C, a
        # periodicity of 0-7, a type D2D or APP.
        ("POST", "/rest/integration/mcast/setup?appEui=70B3D57ED0FFFF01", {}, 400),
        (
            "POST",
            f"/rest/integration/mcast/setup?appEui=70B3D57ED0FFFF01&devEuis={METER}&devTags=a",
            {},
            400,
        ),
        (
            "POST",
            f"/rest/integration/mcast/setup?appEui=70B3D57ED0FFFF01&devEuis={METER}&devClass=A",
            {},
            400,
        ),
        (
            "POST",
            f"/rest/integration/mcast/setup?appEui=70B3D57ED0FFFF01&devEuis={METER}&periodicity=8",
            {},
            400,
        ),
        (
            "POST",
            f"/rest/integration/mcast/setup?appEui=70B3D57ED0FFFF01&devEuis={METER}&type=X",
            {},
            400,
        ),
    ],
)
async def test_refusals(
    sim: SenraSimulator, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    """A wrong application, malformed updates, unknown tasks and missing payloads are refused."""
    async with (
        aiohttp.ClientSession(headers={"authorization": sim.api_key}) as session,
        session.request(method, f"{sim.url}{path}", **kwargs) as response,
    ):
        assert response.status == status


async def test_queue_holds_three(sim: SenraSimulator) -> None:
    """A device's downlink queue takes three downlinks; a fourth is refused."""
    async with aiohttp.ClientSession(headers={"authorization": sim.api_key}) as session:
        statuses = []
        for _ in range(4):
            async with session.post(
                f"{sim.url}/rest/integration/device/sendmsg?eui={METER}&pdu=01"
            ) as response:
                statuses.append(response.status)
    assert statuses == [200, 200, 200, 400]


async def test_pusher_without_target_and_unreachable(sim: SenraSimulator) -> None:
    """No target: pushing is an error and the generator waits; an unreachable one is counted."""
    with pytest.raises(RuntimeError):
        await sim.push({})
    task = asyncio.create_task(sim.run_generator(0.01))
    sim.notify_to("http://127.0.0.1:9/hook", {})
    async with asyncio.timeout(10):
        await sim.wait_for(lambda: -1 in sim.push_results)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_group_edges(sim: SenraSimulator) -> None:
    """A group downlink without payload is refused; an action the simulator lacks is 404."""
    async with aiohttp.ClientSession(headers={"authorization": sim.api_key}) as session:
        base = f"{sim.url}/rest/integration/mcast"
        async with session.post(f"{base}/setup?appEui={sim.app_eui}&devEuis={METER}") as r:
            address = (await r.json())["mcAddr"]
        async with session.post(f"{base}/sendmsg?appEui={sim.app_eui}&mcAddr={address}") as r:
            assert r.status == 400
        async with session.post(f"{base}/status?appEui={sim.app_eui}&mcAddr={address}") as r:
            assert r.status == 404
        async with session.post(f"{base}/addDevices?appEui={sim.app_eui}&mcAddr={address}") as r:
            assert r.status == 400
    assert set(sim.groups[address].members) == {METER}


async def test_sendmsg_class(sim: SenraSimulator) -> None:
    """A downlink's class is taken as documented ("A, B, or C") and kept with the downlink."""
    async with aiohttp.ClientSession(headers={"authorization": sim.api_key}) as session:
        for params in ({"class": "B"}, {}):
            async with session.post(
                f"{sim.url}/rest/integration/device/sendmsg",
                params={"eui": METER, "pdu": "01", **params},
            ) as response:
                assert response.status == 200
    assert [d.params.get("class") for d in sim.downlinks] == ["B", None]


async def test_group_members_by_tag(sim: SenraSimulator) -> None:
    """Tags choose only the devices carrying one of them (a device without tags is not one)."""
    tagged = "70B3D57ED0000702"
    sim.add_device(tagged, tags="lamps, street")
    async with (
        aiohttp.ClientSession(headers={"authorization": sim.api_key}) as session,
        session.post(
            f"{sim.url}/rest/integration/mcast/setup",
            params={"appEui": sim.app_eui, "devTags": "street"},
        ) as response,
    ):
        body = await response.json()
    assert [device["devEui"] for device in body["devs"]] == [tagged]


async def replay(sim: SenraSimulator, session: aiohttp.ClientSession, request: CurlRequest) -> Any:
    """Send a request of the document to the simulator; return its answer (JSON or text)."""
    kwargs: dict[str, Any] = {"params": request.query}
    if request.body is not None:
        kwargs["json"] = request.body
    if request.form:
        form = aiohttp.FormData()
        for name in request.form:
            form.add_field(name, b"\x7fELF", filename="patch-to_new.bin")
        kwargs["data"] = form
    async with session.request(
        request.method, f"{sim.url}/rest/integration/{request.path}", **kwargs
    ) as response:
        assert response.status == 200, (request.path, await response.text())
        if response.content_type == "text/csv":
            return await response.text()
        return await response.json()


async def test_documented_requests_get_documented_answers() -> None:
    """
    The document's own requests, sent as they are, get answers shaped as the document's.

    The simulator holds the examples' application and devices.
    """
    simulator = SenraSimulator(app_eui=APP_EUI)
    for dev_eui in (
        "AAAAAAAAAAAAAAAA",
        "123000000000ABC0",
        "123000000000ABC1",
        "DEDEDEDEDEDEDE00",
        "DEDEDEDEDEDEDE01",
        "DEDEDEDEDEDEDD03",
        "DEDEDEDEDEDEDD04",
    ):
        simulator.add_device(dev_eui)
    simulator.add_device("AAAAAAAAAAAAAAAB", dev_addr="12FFFFFF")
    simulator.task_polls = 0
    async with (
        simulator,
        aiohttp.ClientSession(headers={"authorization": simulator.api_key}) as session,
    ):

        async def answer(name: str, index: int = 0) -> Any:
            return await replay(simulator, session, curl_requests(name)[index])

        async def same(fixture: str, request: str, index: int = 0) -> Any:
            body = await answer(request, index)
            assert shape_differences(load(fixture), body) == [], fixture
            return body

        await same("sendmsg.response.json", "sendmsg.request.txt")
        await same("sendmcastmsg.response.json", "sendmcastmsg.request.txt")
        await same("clearmsgs.response.json", "clearmsgs.request.txt")
        update = await same("update.response.json", "update.request.txt")
        assert simulator.devices["123000000000ABC0"].dev_class == "B"
        async with session.get(update["statusUrl"]) as response:
            task = await response.json()
        assert shape_differences(load("task_status.response.json"), task) == []
        for request, fixture in (
            ("csv_export.request.txt", "csv_export.response.csv"),
            ("csv_export_metrics.request.txt", "csv_export_metrics.response.csv"),
        ):
            exported = await answer(request)
            assert exported.splitlines()[0] == text(fixture).splitlines()[0]

        await same("mcast_transfer.response.json", "mcast_transfer.request.txt")
        await same("mcast_status.response.json", "mcast_status.request.txt")
        await same("mcast_status.response.json", "mcast_status.request.txt", 1)
        await same("mcast_cancel.response.json", "mcast_cancel.request.txt")
        await same("mcast_cancel.response.json", "mcast_cancel.request.txt", 1)

        group = await same("mcast_setup.response.json", "mcast_setup.request.txt")
        # As the example: txChnl 7 and txDr 13 of US915, a device-to-device group of class C.
        assert (group["mcAddr"], group["devClass"], group["mcastType"]) == (
            "BBBBBB01",
            "CLASS_C",
            "D2D",
        )
        assert (group["dr"], group["freq"], group["durationSecs"]) == (13, 927.5, 32768)
        assert group["endTime"] - group["startTime"] == 32768 * 1000
        added = await same("mcast_add_devices.response.json", "mcast_add_devices.request.txt")
        assert {d["devEui"]: d["state"] for d in added["devs"]} == {
            "DEDEDEDEDEDEDE00": "Initialized",
            "DEDEDEDEDEDEDE01": "Initialized",
            "DEDEDEDEDEDEDD03": "Initializing",
            "DEDEDEDEDEDEDD04": "Initializing",
        }
        removed = await same(
            "mcast_remove_devices.response.json", "mcast_remove_devices.request.txt"
        )
        assert [d["state"] for d in removed["devs"]] == [
            "Closing",
            "Closing",
            "Initialized",
            "Initialized",
        ]
        await same("mcast_group_status.response.json", "mcast_group_status.request.txt")
        await same("mcast_sendmsg.response.json", "mcast_sendmsg.request.txt")
        deleted = await same("mcast_delete.response.json", "mcast_delete.request.txt")
        assert {d["state"] for d in deleted["devs"]} == {"Closing"}
        assert simulator.groups == {}


# The notification fields of the document (003:32-60) and of the legacy format.
NOTIFICATION_FIELDS = {
    "devEui",
    "gwEui",
    "joinId",
    "pdu",
    "port",
    "seqno",
    "txtime",
    "channel",
    "datarate",
    "freq",
    "rssi",
    "snr",
    "ismBand",
    "maxPayload",
    "appEui",
    "ack",
    "ackDnMsgId",
    "devClass",
    "devType",
    "dup",
    "estLat",
    "estLng",
    "cfgLat",
    "cfgLng",
    "tags",
    "metadata",
    "devProfile",
    "fwVersion",
    "gwRxTime",
}
LEGACY_FIELDS = {"PDU", "FREQ", "GW", "EUI", "TXTime", "RSSI", "SeqNo", "Port", "SNR", "DataRate"}


def test_notifications_have_the_documented_fields(sim: SenraSimulator) -> None:
    """Only documented fields, of the samples' types; the legacy format's names."""
    notification = sim.notification(METER, b"\x01", ack=True, ackDnMsgId=100000)
    assert set(notification) <= NOTIFICATION_FIELDS
    samples = {
        **load("uplink.json"),
        **load("uplink_rf.json"),
        **load("uplink_batching_disabled.json"),
    }
    shared = {key: samples[key] for key in notification}
    assert shape_differences(shared, notification) == []
    assert set(sim.legacy(notification)) <= LEGACY_FIELDS


@pytest.mark.parametrize(
    "params",
    [
        {"startDelaySecs": "0"},
        {"redundancy": "1.5"},
        {"devClass": "A"},
        {"fragAlg": "ZIP"},
        {"devEuis": "", "devTags": ""},
    ],
)
async def test_fuota_refusals(sim: SenraSimulator, params: dict[str, str]) -> None:
    """A transfer with a documented parameter out of its range is refused."""
    query = {
        "appEui": sim.app_eui,
        "devEuis": METER,
        "startDelaySecs": "60",
        "redundancy": "1.0",
    } | params
    form = aiohttp.FormData()
    form.add_field("file", b"x", filename="f.bin")
    async with (
        aiohttp.ClientSession(headers={"authorization": sim.api_key}) as session,
        session.post(f"{sim.url}/rest/integration/mcastTransfer", params=query, data=form) as r,
    ):
        assert r.status == 400


async def test_one_transfer_per_application(sim: SenraSimulator) -> None:
    """A second transfer while one is pending is refused; the export ignores unknown fields."""
    query = {"appEui": sim.app_eui, "devEuis": METER, "startDelaySecs": "60", "redundancy": "1"}
    async with aiohttp.ClientSession(headers={"authorization": sim.api_key}) as session:
        statuses = []
        for _ in range(2):
            form = aiohttp.FormData()
            form.add_field("file", b"x", filename="f.bin")
            async with session.post(
                f"{sim.url}/rest/integration/mcastTransfer", params=query, data=form
            ) as response:
                statuses.append(response.status)
        async with session.get(
            f"{sim.url}/rest/integration/device/csvExport", params={"fields": "devEui,bogus"}
        ) as response:
            assert await response.text() == f"Dev EUI\n{METER}\n"
        async with session.post(
            f"{sim.url}/rest/integration/device/update",
            params={"appEui": sim.app_eui},
            json={"data": [{"devEui": METER, "tags": "x"}]},
        ) as response:
            assert response.status == 200
    assert statuses == [200, 400]
