"""
The SenRa document's samples, one fixture each (tests/fixtures/senra/), against the client.

Every response and push sample goes through the client's own parsing to what the document says it
means; every request sample is compared with what the client sends for the same call (the same
parameters, documented ones only, the same values where the call determines them). The server
here answers with the samples themselves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.lorawan_hub.lns.errors import InvalidRequest
from custom_components.lorawan_hub.lns.models import (
    Downlink,
    DownlinkState,
    FuotaRequest,
    LoRaClass,
    MulticastSetup,
)
from custom_components.lorawan_hub.lns.parse import eui
from custom_components.lorawan_hub.lns.senra import SenraClient
from custom_components.lorawan_hub.lns.senra_parse import devices_from_csv, task_request_id
from simulator.server import SimulatorServer
from tests.vendors.sink import RecordingSink

from .samples import FIXTURES, CurlRequest, curl_requests, load, text

APP_EUI = "AAAAAAAAAAAAAA01"
"""The application of the document's examples."""

# The parameters each endpoint's table documents (and the spellings its examples add).
DOCUMENTED: dict[str, set[str]] = {
    "device/sendmsg": {
        "eui",
        "pdu",
        "port",
        "confirmed",
        "timeoutMinutes",
        "clear",
        "class",
        "immediate",
    },
    "device/sendmcastmsg": {"addr", "pdu", "port", "bstnEuis"},
    "device/clearmsgs": {"eui", "devEui", "msgId"},
    "device/register": {"token", "appEui", "joinEui", "contractId", "profId", "tags", "actType"},
    "device/activate": {"appEui", "joinEui", "contractId", "profId", "tags", "token"},
    "device/activateOne": {
        "appEui",
        "joinEui",
        "contractId",
        "profId",
        "tags",
        "metadata",
        "lat",
        "lng",
        "devType",
        "devEui",
    },
    "device/deactivate": {"appEui", "joinEui", "contractId", "profId"},
    "device/update": {"appEui", "profId", "tagsOperation", "tags"},
    "device/csvExport": {"appEui", "fields", "state", "psrDays", "contractId", "devEuis"},
    "device/transfer": {"fromAppEui", "toAppEui", "contractId", "profId"},
    "device/status": {"reqId"},
    "mcastTransfer": {
        "appEui",
        "devEuis",
        "devTags",
        "startDelaySecs",
        "txChnl",
        "txDr",
        "contractId",
        "fragAlg",
        "fragPkgVer",
        "devClass",
        "redundancy",
        "millisBetweenPkts",
        "descriptor",
        "useMultiPkg",
        "maxFragSize",
    },
    "mcastCancel": {"jobID", "jobId", "appEui", "devEuis", "devTags"},
    "mcastStatus": {"jobID", "jobId", "appEui"},
    "mcast/setup": {
        "appEui",
        "devEuis",
        "devTags",
        "txChnl",
        "txDr",
        "contractId",
        "devClass",
        "type",
        "periodicity",
    },
    "mcast/addDevices": {"appEui", "type", "mcAddr", "devEuis", "devTags"},
    "mcast/removeDevices": {"appEui", "type", "mcAddr", "devEuis", "devTags"},
    "mcast/status": {"appEui", "type", "mcAddr"},
    "mcast/sendmsg": {"appEui", "type", "mcAddr", "pdu", "port"},
    "mcast/delete": {"appEui", "type", "mcAddr"},
}
# The export's fields (003:648-650).
EXPORT_FIELDS = {
    "devEui",
    "contract",
    "tags",
    "metadata",
    "state",
    "registrationDate",
    "activationDate",
    "deactivationDate",
    "lastHeardFrom",
    "lastJoinTime",
    "firstJoinTime",
    "yestBstns",
    "yestPsr",
    "yestAvgRssi",
    "yestAvgSnr",
    "lat",
    "lng",
    "profId",
    "devType",
    "devAddr",
    "estLat",
    "estLng",
    "txPeriod",
    "txPower",
    "curDr",
    "adrChg",
    "fwVer",
    "serviceMetrics",
    "metricA",
    "metricB",
    "metricC",
    "joinEui",
}


@dataclass
class Taken:
    """A request the sample server took."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None
    form: list[str] = field(default_factory=list)


class SampleServer:
    """Answer each endpoint with a sample; record every request."""

    def __init__(self) -> None:
        """Answer nothing yet."""
        self.answers: dict[str, tuple[str, str]] = {}
        self.taken: list[Taken] = []
        self.url = ""

    def answer(self, path: str, fixture: str) -> None:
        """Answer ``path`` with a fixture (CSV or JSON)."""
        kind = "text/csv" if fixture.endswith(".csv") else "application/json"
        self.answers[path] = (text(fixture), kind)

    def last(self, path: str) -> Taken:
        """Return the last request to ``path``."""
        return next(taken for taken in reversed(self.taken) if taken.path == path)

    async def handle(self, request: web.Request) -> web.Response:
        """Record the request and answer with its sample."""
        path = request.match_info["tail"]
        taken = Taken(
            request.method,
            path,
            dict(request.query),
            {key.lower(): value for key, value in request.headers.items()},
        )
        if request.content_type == "application/json":
            taken.body = await request.json()
        elif request.content_type == "multipart/form-data":
            taken.form = list((await request.post()).keys())
        self.taken.append(taken)
        body, kind = self.answers[path]
        return web.Response(text=body, content_type=kind)


@pytest.fixture
async def server() -> AsyncIterator[SampleServer]:
    """A server answering with the document's samples."""
    samples = SampleServer()
    app = web.Application()
    app.router.add_route("*", "/rest/integration/{tail:.*}", samples.handle)
    async with SimulatorServer(app) as running:
        samples.url = running.base_url
        yield samples


@pytest.fixture
def client(server: SampleServer, http_session: aiohttp.ClientSession) -> SenraClient:
    """A client of the document's application on the sample server."""
    return SenraClient(
        http_session, server.url, "AK2:" + "k" * 40, APP_EUI, task_poll=0.01, task_limit=5
    )


def only(name: str) -> CurlRequest:
    """Return the one request of a curl fixture."""
    (request,) = curl_requests(name)
    return request


def check_request(sample: CurlRequest, taken: Taken, *, same: set[str]) -> None:
    """
    The client's request is the sample's: same method and endpoint, documented parameters.

    ``same``: the parameters whose values the call determines (compared; hex without case).
    """
    assert (taken.method, taken.path) == (sample.method, sample.path)
    assert set(taken.query) <= DOCUMENTED[sample.path], set(taken.query) - DOCUMENTED[sample.path]
    for name in same:
        assert taken.query[name].upper() == sample.query[name].upper(), name
    # The key is sent as the examples send it, in the authorization header.
    assert "authorization" in sample.headers
    assert taken.headers["authorization"].startswith("AK2:")


def test_every_sample_is_a_fixture_and_valid() -> None:
    """The folder holds the samples this module tests, each readable as its format."""
    names = {path.name for path in FIXTURES.iterdir()} - {"README.md"}
    assert names == TESTED
    for name in names:
        if name.endswith(".json"):
            load(name)
        elif name.endswith(".request.txt"):
            for request in curl_requests(name):
                assert request.path in DOCUMENTED, name
                assert set(request.query) <= DOCUMENTED[request.path], name


TESTED = {
    "uplink.json",
    "uplink_rf.json",
    "uplink_batching_disabled.json",
    "uplink_batch.json",
    "uplink_batch_of_one.json",
    "sendmsg.request.txt",
    "sendmsg.response.json",
    "sendmcastmsg.request.txt",
    "sendmcastmsg.response.json",
    "clearmsgs.request.txt",
    "clearmsgs.response.json",
    "register_otaa.body.json",
    "register_abp.body.json",
    "register_callback.body.json",
    "register_otaa.request.txt",
    "register_abp.request.txt",
    "register.response.json",
    "activate.body.json",
    "activate.request.txt",
    "activate.response.json",
    "activate_one.request.txt",
    "activate_one.response.json",
    "deactivate.body.json",
    "deactivate.request.txt",
    "deactivate.response.json",
    "update.body.json",
    "update.request.txt",
    "update.response.json",
    "csv_export.request.txt",
    "csv_export.response.csv",
    "csv_export_metrics.request.txt",
    "csv_export_metrics.response.csv",
    "transfer.body.json",
    "transfer.request.txt",
    "transfer.response.json",
    "task_status.request.txt",
    "task_status.response.json",
    "mcast_transfer.request.txt",
    "mcast_transfer.response.json",
    "mcast_cancel.request.txt",
    "mcast_cancel.response.json",
    "mcast_status.request.txt",
    "mcast_status.response.json",
    "mcast_setup.request.txt",
    "mcast_setup.response.json",
    "mcast_add_devices.request.txt",
    "mcast_add_devices.response.json",
    "mcast_remove_devices.request.txt",
    "mcast_remove_devices.response.json",
    "mcast_group_status.request.txt",
    "mcast_group_status.response.json",
    "mcast_sendmsg.request.txt",
    "mcast_sendmsg.response.json",
    "mcast_delete.request.txt",
    "mcast_delete.response.json",
}


# --- notifications (pushed to Home Assistant) ---------------------------------------------------


async def push(client: SenraClient, body: Any) -> RecordingSink:
    """Push ``body`` to a running client; return what its sink received."""
    sink = RecordingSink()
    client._sink = sink  # what run() sets: the push path is what is tested here
    assert await client.accept_push("", body, 1)
    return sink


async def test_uplink_sample(client: SenraClient) -> None:
    """003:66-78: an uplink acknowledging downlink 100000, of a class A device."""
    sink = await push(client, load("uplink.json"))
    (uplink,) = sink.uplinks
    assert uplink.dev_eui == "FFFFFFFFFFFFFFFF"
    assert uplink.gateways[0].gateway_id == "AAAAAAAAAAAAAAAA"
    assert uplink.payload == bytes.fromhex("01000016D7011400060E06")
    assert (uplink.f_port, uplink.f_cnt, uplink.ack) == (1, 1, True)
    assert uplink.received_at == datetime(2017, 2, 9, 12, 38, 38, 375000, tzinfo=UTC)
    assert uplink.device_class is LoRaClass.A
    assert [(s.message_id, s.state) for s in sink.downlink_statuses] == [
        ("100000", DownlinkState.ACKNOWLEDGED)
    ]
    assert sink.device_updates[0].device_class is LoRaClass.A


async def test_uplink_with_rf_fields_sample(client: SenraClient) -> None:
    """003:82-97: RF fields; maxPayload becomes the device's downlink limit."""
    sink = await push(client, load("uplink_rf.json"))
    (uplink,) = sink.uplinks
    assert (uplink.rssi, uplink.snr, uplink.data_rate, uplink.frequency) == (
        -77.0,
        None,
        "DR0",
        903.0,
    )
    assert uplink.received_at == datetime(2017, 2, 9, 11, 35, 44, 384000, tzinfo=UTC)
    assert await client.max_downlink_size("FFFFFFFFFFFFFFFF") == 242


async def test_batching_samples(client: SenraClient) -> None:
    """003:108, 003:113-119, 003:123-125: one object, a batch, a batch of one."""
    single = await push(client, load("uplink_batching_disabled.json"))
    assert [(u.dev_eui, u.f_cnt, u.snr, u.rssi, u.frequency) for u in single.uplinks] == [
        ("000000000000000A", 74503, 9.25, -57.0, 913.3)
    ]
    # The three samples carry the same first notification: pushed again, it is a replay.
    assert load("uplink_batch.json")[0] == load("uplink_batching_disabled.json")
    assert load("uplink_batch_of_one.json") == [load("uplink_batching_disabled.json")]
    batch = await push(client, load("uplink_batch.json"))
    assert [(u.dev_eui, u.f_cnt, u.frequency) for u in batch.uplinks] == [
        ("000000000000000B", 23423, 907.9),
        ("000000000000000C", 34532, 913.5),
        ("000000000000000E", 76453, 907.7),
        ("000000000000000F", 18743, 902.5),
    ]
    one = await push(client, load("uplink_batch_of_one.json"))
    assert one.uplinks == []


# --- device API -------------------------------------------------------------------------------


async def test_sendmsg_sample(server: SampleServer, client: SenraClient) -> None:
    """003:170-174: a confirmed downlink on port 88; the answer's msgId."""
    server.answer("device/sendmsg", "sendmsg.response.json")
    result = await client.send_downlink(
        Downlink(
            dev_eui="AAAAAAAAAAAAAAAA",
            f_port=88,
            payload=bytes.fromhex("0102030405060708090a0b0c0d0e0f"),
            confirmed=True,
        )
    )
    assert (result.message_id, result.state) == ("119", DownlinkState.QUEUED)
    sample = only("sendmsg.request.txt")
    taken = server.last("device/sendmsg")
    check_request(sample, taken, same={"eui", "pdu", "confirmed", "port"})
    assert set(taken.query) == set(sample.query)
    assert taken.query["timeoutMinutes"].isdigit()


async def test_sendmcastmsg_sample(server: SampleServer, client: SenraClient) -> None:
    """003:209-213: a multicast downlink through two base stations."""
    server.answer("device/sendmcastmsg", "sendmcastmsg.response.json")
    result = await client.send_multicast(
        "12FFFFFF",
        1,
        bytes.fromhex("0102030405060708090a0b0c0d0e0f"),
        ["AAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAB"],
    )
    assert result.message_id == "119"
    sample = only("sendmcastmsg.request.txt")
    taken = server.last("device/sendmcastmsg")
    check_request(sample, taken, same={"addr", "pdu", "bstnEuis"})
    assert set(taken.query) == set(sample.query) | {"port"}  # port: documented, default 1
    assert taken.query["port"] == "1"


async def test_clearmsgs_sample(server: SampleServer, client: SenraClient) -> None:
    """003:245-248: the device named devEui (the example) and eui (the table); all cleared."""
    server.answer("device/clearmsgs", "clearmsgs.response.json")
    await client.clear_downlink_queue("AAAAAAAAAAAAAAAA")
    sample = only("clearmsgs.request.txt")
    taken = server.last("device/clearmsgs")
    check_request(sample, taken, same={"devEui"})
    assert taken.query["eui"] == "AAAAAAAAAAAAAAAA"
    assert "msgId" not in taken.query  # "If not specified, all will be cleared"
    assert load("clearmsgs.response.json") == {"clearedIds": [1]}


async def test_update_and_task_status_samples(server: SampleServer, client: SenraClient) -> None:
    """003:581-617 and 003:752-771: a class change; the task's errors are the action's error."""
    server.answer("device/update", "update.response.json")
    server.answer("device/status", "task_status.response.json")
    with pytest.raises(InvalidRequest, match="has not been registered"):
        await client.set_device_class("123000000000ABC0", LoRaClass.B)
    sample = only("update.request.txt")
    taken = server.last("device/update")
    check_request(sample, taken, same={"appEui"})
    assert "tagsOperation" not in taken.query  # "only required if tags are updated"
    (item,) = taken.body["data"]
    documented = sample.body["data"][0]
    assert set(item) <= set(documented)
    assert {key: type(value) for key, value in item.items()} == {
        key: type(documented[key]) for key in item
    }
    assert item == {"devEui": "123000000000ABC0", "devClass": "CLASS_B"}
    assert item["devClass"] in {d["devClass"] for d in load("update.body.json")["data"]}
    # The status is asked with the reqId of the statusUrl, as the document asks it.
    status = server.last("device/status")
    check_request(only("task_status.request.txt"), status, same=set())
    assert status.query == {"reqId": "DevUpdateJobReq:AAAAAAAAAAAAAA01"}


async def test_csv_export_samples(server: SampleServer, client: SenraClient) -> None:
    """003:654-670: the export, by header names, with quoted tags and metric columns."""
    server.answer("device/csvExport", "csv_export.response.csv")
    devices = await client.list_devices()
    assert [(d.dev_eui, d.activation) for d in devices] == [
        ("123000000000ABC0", "ACTIVATED"),
        ("123000000000ABC1", "ACTIVATED"),
        ("123000000000ABC2", "ACTIVATED"),
    ]
    taken = server.last("device/csvExport")
    for sample in (only("csv_export.request.txt"), only("csv_export_metrics.request.txt")):
        check_request(sample, taken, same=set())
        assert set(sample.query["fields"].split(",")) <= EXPORT_FIELDS
    assert taken.query["appEui"] == APP_EUI
    assert set(taken.query["fields"].split(",")) <= EXPORT_FIELDS
    metrics = devices_from_csv(text("csv_export_metrics.response.csv"))
    assert [(d.dev_eui, d.activation) for d in metrics] == [("123000000000ABC0", "ACTIVATED")]
    # Known by position when the header is not one the document shows.
    fields = only("csv_export.request.txt").query["fields"].split(",")
    renamed = text("csv_export.response.csv").replace("Dev EUI", "DevEUI #", 1)
    assert [d.dev_eui for d in devices_from_csv(renamed, fields)] == [d.dev_eui for d in devices]


async def test_device_task_samples_without_a_client_call() -> None:
    """
    Registration, activation, deactivation and transfer: the integration makes none of them.

    Their answers are read like a class change's (statusUrl → reqId); their requests name
    devices that are EUIs.
    """
    assert task_request_id(load("register.response.json"), "register") == (
        "DevMgmtJobReq:AAAAAAAAAAAAAA01"
    )
    for name in ("activate.response.json", "deactivate.response.json"):
        assert task_request_id(load(name), name) == "DevMgmtJobReq:AAAAAAAAAAAAAA01"
    assert task_request_id(load("transfer.response.json"), "transfer") == (
        "DevTransferJobReq:A1A1A1A1A1A1A1A1-A2A2A2A2A2A2A2A2"
    )
    assert load("activate_one.response.json") == {"message": "Device successfully Activated"}
    bodies = [
        load(name)
        for name in (
            "register_otaa.body.json",
            "register_abp.body.json",
            "register_callback.body.json",
            "activate.body.json",
            "deactivate.body.json",
            "transfer.body.json",
        )
    ]
    bodies += [
        request.body
        for name in (
            "register_otaa.request.txt",
            "register_abp.request.txt",
            "activate.request.txt",
            "deactivate.request.txt",
            "transfer.request.txt",
        )
        for request in curl_requests(name)
    ]
    for body in bodies:
        assert all(eui(item["devEui"], "devEui") for item in body["data"])
    assert only("activate_one.request.txt").query["devEui"] == "0A00000012000002"


# --- firmware updates -------------------------------------------------------------------------


async def test_fuota_samples(server: SampleServer, client: SenraClient) -> None:
    """003:866-953: start (the file as multipart "file"), cancel, status."""
    server.answer("mcastTransfer", "mcast_transfer.response.json")
    server.answer("mcastCancel", "mcast_cancel.response.json")
    server.answer("mcastStatus", "mcast_status.response.json")
    job_id = await client.start_fuota(
        FuotaRequest(
            dev_euis=("123000000000ABC0", "123000000000ABC1"),
            firmware=b"\x7fELF",
            device_class=LoRaClass.C,
            start_delay=120,
            redundancy=1.0,
        )
    )
    assert job_id == "MCastXferJobReq:AAAAAAAAAAAAAA01"
    sample = only("mcast_transfer.request.txt")
    taken = server.last("mcastTransfer")
    check_request(
        sample,
        taken,
        same={"appEui", "devEuis", "devClass", "startDelaySecs", "fragAlg", "redundancy"},
    )
    assert {"appEui", "startDelaySecs", "redundancy"} <= set(taken.query)  # the required ones
    assert taken.form == list(sample.form) == ["file"]

    await client.cancel_fuota(job_id)
    by_job, _by_devices = curl_requests("mcast_cancel.request.txt")
    check_request(by_job, server.last("mcastCancel"), same={"jobId"})

    status = await client.fuota_status(job_id)
    assert (status.job_id, status.state, status.percent_done, status.result) == (
        "MCastXferJobReq:AAAAAAAAAAAAAA01",
        "Running",
        0,
        "string",
    )
    by_job, by_application = curl_requests("mcast_status.request.txt")
    check_request(by_job, server.last("mcastStatus"), same={"jobId"})
    assert set(by_application.query) == {"appEui"}


# --- multicast groups -------------------------------------------------------------------------


async def test_mcast_setup_sample(server: SampleServer, client: SenraClient) -> None:
    """003:988-1016: a class C group of two devices; both are setting up their session."""
    server.answer("mcast/setup", "mcast_setup.response.json")
    group = await client.create_multicast_group(
        MulticastSetup(dev_euis=("DEDEDEDEDEDEDE00", "DEDEDEDEDEDEDE01"), device_class=LoRaClass.C)
    )
    assert group.group_id == "BBBBBB01"
    assert group.device_class is LoRaClass.C
    assert group.dev_euis == ("DEDEDEDEDEDEDE00", "DEDEDEDEDEDEDE01")
    assert group.states == {"DEDEDEDEDEDEDE00": "Initializing", "DEDEDEDEDEDEDE01": "Initializing"}
    assert group.keys is None  # the network server gives the devices the session itself
    sample = only("mcast_setup.request.txt")
    taken = server.last("mcast/setup")
    check_request(sample, taken, same={"appEui", "devEuis", "devClass"})
    # The example sets a device-to-device group (D2D); Home Assistant sends from the application
    # ("Use APP for Application Server to Device multicast communication", 003:981).
    assert (sample.query["type"], taken.query["type"]) == ("D2D", "APP")
    # Class B: the ping slot periodicity is the documented "periodicity" (0-7, 003:982).
    await client.create_multicast_group(
        MulticastSetup(tags=("lamps",), device_class=LoRaClass.B, ping_slot_periodicity=4)
    )
    taken = server.last("mcast/setup")
    assert (taken.query["devTags"], taken.query["devClass"], taken.query["periodicity"]) == (
        "lamps",
        "B",
        "4",
    )
    assert "devEuis" not in taken.query  # "devEuis must be empty"


async def test_mcast_member_samples(server: SampleServer, client: SenraClient) -> None:
    """
    003:1044-1148: devices added and removed.

    The add example asks for DEDEDEDEDEDEDD03 and DD04 but its answer lists DE02 and DE03 as the
    devices setting up: the answer's devices are what the group has, so the call here adds the
    devices the answer lists.
    """
    server.answer("mcast/addDevices", "mcast_add_devices.response.json")
    server.answer("mcast/removeDevices", "mcast_remove_devices.response.json")
    await client.add_to_multicast_group("BBBBBB01", ["DEDEDEDEDEDEDE02", "DEDEDEDEDEDEDE03"])
    check_request(
        only("mcast_add_devices.request.txt"),
        server.last("mcast/addDevices"),
        same={"appEui", "mcAddr"},
    )
    with pytest.raises(InvalidRequest, match="DEDEDEDEDEDEDD03, DEDEDEDEDEDEDD04"):
        await client.add_to_multicast_group("BBBBBB01", ["DEDEDEDEDEDEDD03", "DEDEDEDEDEDEDD04"])
    await client.remove_from_multicast_group("BBBBBB01", ["DEDEDEDEDEDEDD03", "DEDEDEDEDEDEDD04"])
    check_request(
        only("mcast_remove_devices.request.txt"),
        server.last("mcast/removeDevices"),
        same={"appEui", "mcAddr", "devEuis"},
    )


async def test_mcast_status_send_and_delete_samples(
    server: SampleServer, client: SenraClient
) -> None:
    """003:1172-1282: a group with a failed member; a downlink to it; its removal."""
    server.answer("mcast/status", "mcast_group_status.response.json")
    server.answer("mcast/sendmsg", "mcast_sendmsg.response.json")
    server.answer("mcast/delete", "mcast_delete.response.json")
    group = await client.multicast_group_status("BBBBBB01")
    assert (group.group_id, group.device_class) == ("BBBBBB01", LoRaClass.C)
    assert group.states == {"DEDEDEDEDEDEDE00": "Initialized", "DEDEDEDEDEDEDE01": "Failed"}
    check_request(
        only("mcast_group_status.request.txt"),
        server.last("mcast/status"),
        same={"appEui", "mcAddr"},
    )
    result = await client.send_multicast(
        "BBBBBB01", 1, bytes.fromhex("0102030405060708090a0b0c0d0e0f")
    )
    assert result.message_id == "119"
    sample = only("mcast_sendmsg.request.txt")
    taken = server.last("mcast/sendmsg")
    check_request(sample, taken, same={"appEui", "mcAddr", "pdu"})
    assert set(taken.query) - set(sample.query) == {"type", "port"}
    await client.delete_multicast_group("BBBBBB01")
    check_request(
        only("mcast_delete.request.txt"), server.last("mcast/delete"), same={"appEui", "mcAddr"}
    )
