"""
Every sample of the OrbiWAN document (``tests/fixtures/orbiwise``) against the client.

Responses and pushes go through the client's own parsing and must mean what the document says;
requests must have the document's shape (the same keys, of the same types); the samples of
features the integration does not use are listed as such.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
from aiohttp import web
import orjson
import pytest

from custom_components.lorawan_hub.lns.errors import InvalidRequest, ProtocolError
from custom_components.lorawan_hub.lns.models import (
    DeviceStatus,
    Downlink,
    DownlinkState,
    Gateway,
    Location,
    LoRaClass,
    MulticastKeys,
    MulticastSetup,
    ServerDevice,
)
from custom_components.lorawan_hub.lns.orbiwise import (
    AuthMode,
    OrbiWiseClient,
    PushTarget,
    Transport,
)
from custom_components.lorawan_hub.lns.orbiwise.parse import (
    SUBSCRIPTION,
    alarm_from_push,
    device_from_node,
    downlink_status,
    join_from_push,
    location_of,
    payload_id,
    push_configuration,
    push_error,
    result_from_answer,
    status_from_push,
    uplink_from_payload,
)
from simulator.server import SimulatorServer
from tests.vendors.sink import RecordingSink

SAMPLES = Path(__file__).parents[2] / "fixtures" / "orbiwise"
DEV_EUI = "70B3D57ED0000001"
"""Stands for the document's placeholder DevEUIs (``"hex"``, ``"DevEUI in hex"``)."""

NOT_USED = frozenset(
    {
        # Device registration and administration: the integration registers nothing.
        "node_move.json",
        "node_move_with_groups.json",
        "node_update_failed_devices.json",
        "node_list_pages.json",
        "node_tags.json",
        "join_answer.json",
        # Push administration beyond pushmode start/status/stop.
        "pushmode_connections.json",
        "pushmode_log.json",
        "pushmode_loglevel.json",
        "application_push_headers.json",
        "topic_tag_client_mode.json",
        "topic_tag_deveui.json",
        "topic_tag_payloads_ul.json",
        "json_topic_tag.json",
        "json_topic_tag_none.json",
        "topic_tag_deveui_downlink.json",
        "topic_tag_send_payloads_dl.json",
        "push_url_prefix.json",
        "push_url_prefix_deveui.json",
        "push_url_device_tags.json",
        "group_update.json",
        "group_info.json",
        "group_list.json",
        # Applications, gateways, profiles, Graphite, geolocation solvers.
        "application_create.json",
        "application_created.json",
        "application_info.json",
        "application_list.json",
        "gateways.json",
        "gateway.json",
        "gateway_location_only.json",
        "gateway_associate.json",
        "profile_create.json",
        "profile_created.json",
        "profile_link.json",
        "profile_linked.json",
        "profile_unlink.json",
        "device_profile_create.json",
        "device_profile_list.json",
        "device_profile.json",
        "device_profile_reduced.json",
        "service_profile_list.json",
        "graphite_find_devices.json",
        "graphite_find_device.json",
        "graphite_find_info.json",
        "graphite_find_timeseries.json",
        "graphite_find_decoded.json",
        "graphite_render.json",
        "graphite_render_request.txt",
        "geosolver_tags.json",
        "geosolver_tags_loracloud.json",
    }
)
"""Samples of features the integration does not use (read, never sent or parsed)."""


def sample(name: str) -> Any:
    """Return a JSON sample."""
    return orjson.loads((SAMPLES / name).read_bytes())


def text_sample(name: str) -> str:
    """Return a sample that is not JSON."""
    return (SAMPLES / name).read_text().strip()


def same_shape(sent: Mapping[str, Any], documented: Mapping[str, Any]) -> None:
    """Every key the client sends is documented, with the documented type."""
    assert set(sent) <= set(documented), set(sent) - set(documented)
    for key, value in sent.items():
        expected = documented[key]
        if isinstance(expected, Mapping):
            assert isinstance(value, Mapping), key
            same_shape(value, expected)
        else:
            assert type(value) is type(expected), (key, value, expected)


class Server:
    """A server answering each route with a sample; records the requests."""

    def __init__(self) -> None:
        """No routes yet."""
        self.app = web.Application()
        self.requests: list[tuple[str, str, bytes, dict[str, str]]] = []

    def route(self, method: str, path: str, *answers: Any) -> None:
        """
        Answer ``method path`` with these answers in turn (the last one then).

        An answer is a JSON document (status 200), or ``(status, text or JSON, content type)``.
        """
        queue = list(answers)

        async def handler(request: web.Request) -> web.Response:
            self.requests.append(
                (request.method, request.path_qs, await request.read(), dict(request.headers))
            )
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
            if not isinstance(answer, tuple):
                return web.json_response(answer)
            status, body, content_type = answer
            if body is None:
                return web.Response(status=status)
            if isinstance(body, str):
                return web.Response(status=status, text=body, content_type=content_type)
            return web.json_response(body, status=status, content_type=content_type)

        self.app.router.add_route(method, path, handler)


def basic(server: SimulatorServer, **kwargs: Any) -> OrbiWiseClient:
    """A client with Basic authentication."""
    return OrbiWiseClient(
        kwargs.pop("session"),
        server.base_url,
        username="u",
        password="p",
        auth_mode=AuthMode.BASIC,
        **kwargs,
    )


# --- authentication and errors ----------------------------------------------------------------


async def test_tokens_and_their_requests(http_session: aiohttp.ClientSession) -> None:
    """
    The token answers are used as the document says; the grants carry the documented fields.

    The document writes the grant's parameters in the query, and asks for them in a form body:
    the client sends the same fields in the body.
    """
    token = sample("token.json")
    refreshed = sample("token_refreshed.json")
    server = Server()
    server.route("POST", "/rest/oauth2/token", token, refreshed)
    server.route("GET", "/rest/nodes", [])
    async with SimulatorServer(server.app) as running:
        client = OrbiWiseClient(http_session, running.base_url, username="my-user", password="pw")
        await client.validate()
        client._rest._tokens._renew_at = 0.0  # the access token is about to expire
        await client.validate()
    grants = [
        parse_qs(body.decode()) for method, _path, body, _h in server.requests if method == "POST"
    ]
    password_grant = parse_qs(urlsplit(text_sample("token_request.txt").split()[1]).query)
    refresh_grant = parse_qs(urlsplit(text_sample("token_refresh_request.txt").split()[1]).query)
    assert set(grants[0]) == set(password_grant)
    assert grants[0]["grant_type"] == ["password"]
    assert set(grants[1]) == set(refresh_grant)
    assert grants[1]["refresh_token"] == [token["refresh_token"]]
    authorizations = [h["Authorization"] for m, _p, _b, h in server.requests if m == "GET"]
    assert authorizations == [
        f"Bearer {token['access_token']}",
        f"Bearer {refreshed['access_token']}",
    ]


async def test_error_answers(http_session: aiohttp.ClientSession) -> None:
    """The RFC 7807 error and the plain-text error both say why."""
    problem = sample("error_problem.json")
    server = Server()
    server.route(
        "GET",
        "/rest/nodes",
        (404, problem, "application/problem+json"),
        (404, text_sample("error_text.txt"), "text/plain"),
    )
    async with SimulatorServer(server.app) as running:
        client = basic(running, session=http_session)
        with pytest.raises(InvalidRequest) as json_error:
            await client.validate()
        with pytest.raises(InvalidRequest) as text_error:
            await client.validate()
    assert (json_error.value.reason, json_error.value.code) == (problem["detail"], 404)
    assert text_error.value.reason == "cannot find device"


# --- devices --------------------------------------------------------------------------------------


async def test_device_list_registration_and_status(http_session: aiohttp.ClientSession) -> None:
    """
    The device list (placeholders replaced), the complete registration and the status.

    The list's placeholder DevEUIs name no device: such entries are skipped, not the list.
    """
    listed = sample("node_list.json")
    registration = sample("node_registration.json")
    status = sample("node_status.json")
    entries = [{**listed[0], "DevEUI": DEV_EUI}, listed[1]]
    server = Server()
    server.route("GET", "/rest/nodes", entries)
    server.route("GET", f"/rest/nodes/{DEV_EUI}", registration)
    server.route("GET", f"/rest/nodes/{DEV_EUI}/status", status)
    async with SimulatorServer(server.app) as running:
        client = basic(running, session=http_session)
        devices = await client.list_devices()
    # device_class 0 is class A; "HEX" is no AppEUI; the registration's comment is empty.
    assert devices == [ServerDevice(dev_eui=DEV_EUI, device_class=LoRaClass.A, downlink_f_cnt=45)]
    assert ("GET", f"/rest/nodes/{DEV_EUI}?all=true") in [r[:2] for r in server.requests]
    # The registration sample itself: its DevEUI in the dashed notation, class A, no position.
    assert device_from_node(registration) == ServerDevice(
        dev_eui="AABBCCDD00112233", device_class=LoRaClass.A
    )
    # req_status 2 (request pending): no result yet; 3 makes the same values a result.
    assert status_from_push({**status, "DevEUI": DEV_EUI}) is None
    ready = status_from_push({**status, "DevEUI": DEV_EUI, "req_status": 3})
    assert ready == DeviceStatus(dev_eui=DEV_EUI, external_power=True, margin=0)


def test_registration_device_profile() -> None:
    """
    The registration's ``device_profile_uuid`` is the device's profile.

    The document's sample leaves it empty (001:342): no profile; a UUID there is the profile.
    """
    registration = sample("node_registration.json")
    assert registration["device_profile_uuid"] == ""
    assert device_from_node(registration).profile is None
    profile = "2f0ea3a4-6d35-4c3e-9a2d-2b8c3e0e5a11"
    assert device_from_node({**registration, "device_profile_uuid": profile}).profile == profile


def test_device_info_and_nodeinfo() -> None:
    """The device info object and the nodeinfo push; a placeholder DevEUI is no device."""
    info = sample("node_info.json")
    with pytest.raises(ProtocolError):
        device_from_node(info)
    assert device_from_node({**info, "DevEUI": DEV_EUI}) == ServerDevice(
        dev_eui=DEV_EUI, location=Location(45, 22), downlink_f_cnt=45
    )
    nodeinfo = sample("push_nodeinfo.json")
    assert device_from_node({**nodeinfo, "DevEUI": DEV_EUI}) == ServerDevice(
        dev_eui=DEV_EUI, device_class=LoRaClass.A, downlink_f_cnt=45
    )


async def test_paged_results(http_session: aiohttp.ClientSession) -> None:
    """A page with no results ends the list, whatever its next page state."""
    page = sample("node_list_paged_results.json")
    server = Server()
    server.route("GET", "/rest/nodes", page)
    async with SimulatorServer(server.app) as running:
        assert await basic(running, session=http_session).list_devices() == []
    assert "paged_results=true" in server.requests[0][1]


async def test_device_update_requests(http_session: aiohttp.ClientSession) -> None:
    """Class changes and group membership changes are the document's update objects."""
    server = Server()
    server.route("PUT", f"/rest/nodes/{DEV_EUI}", (200, None, None))
    async with SimulatorServer(server.app) as running:
        client = basic(running, session=http_session)
        await client.set_device_class(DEV_EUI, LoRaClass.C)
        await client.add_to_multicast_group("groupid3", [DEV_EUI])
        await client.remove_from_multicast_group("groupid3", [DEV_EUI])
    bodies = [orjson.loads(body) for _m, _p, body, _h in server.requests]
    same_shape(bodies[0], sample("node_update.json"))
    assert bodies[0] == {"lora_device_class": 2}
    assert bodies[1] == sample("node_update_groups_add.json")
    assert bodies[2] == sample("node_update_groups_remove.json")


# --- uplinks --------------------------------------------------------------------------------------


def test_stored_uplink() -> None:
    """A stored payload: read under its device, ``id`` for its deletion, gateways best first."""
    (stored,) = sample("stored_uplinks.json")
    uplink = uplink_from_payload({**stored, "DevEUI": DEV_EUI})
    assert uplink.received_at == datetime(2015, 2, 11, 10, 33, 0, 578000, tzinfo=UTC)
    assert (uplink.payload, uplink.f_port, uplink.f_cnt) == (b"\x00", 1, 138)
    assert (uplink.rssi, uplink.snr, uplink.spreading_factor) == (-111, -6, 8)
    assert (uplink.data_rate, uplink.confirmed, uplink.encrypted) == ("SF8BW128", False, False)
    assert uplink.gateways == (
        Gateway("0000000012350000", -90, 15),
        Gateway("0000000012340000", -100, 5),
    )
    assert uplink.decoded == {}
    assert payload_id(stored) == 278998


def test_pushed_uplinks() -> None:
    """The complete and the early push, and the full example of the decoded_json section."""
    complete = sample("push_payloads_ul.json")
    with pytest.raises(ProtocolError):
        uplink_from_payload(complete)  # "hex" is a placeholder, not a DevEUI
    uplink = uplink_from_payload({**complete, "DevEUI": DEV_EUI})
    assert (uplink.payload, uplink.f_cnt, uplink.rssi) == (b"\x00", 138, -111)
    assert uplink.encrypted is True  # "decrypted": false
    assert uplink.location == Location(34, 30, 0)
    assert [gateway.gateway_id for gateway in uplink.gateways] == [
        "0000000012350000",
        "0000000012340000",
    ]
    early = uplink_from_payload({**sample("push_payloads_ul_early.json"), "DevEUI": DEV_EUI})
    assert (early.f_cnt, early.spreading_factor, early.rssi, early.gateways) == (138, 8, None, ())
    full = uplink_from_payload({**sample("push_payloads_ul_full.json"), "DevEUI": DEV_EUI})
    assert (full.payload, full.f_port, full.confirmed) == (b"\x00\x00\xaa", 8, True)
    assert full.frequency == pytest.approx(865.5725)  # given in Hz
    assert full.dev_addr == "10A71C2A"  # the decimal value of the DevAddr
    assert full.decoded == {"temperature": 19.5, "humidity": 25}
    # data_format decoded_json pushes only the decoded object: never asked for, no uplink.
    with pytest.raises(ProtocolError):
        uplink_from_payload(sample("push_decoded_json.json"))


# --- other pushes ---------------------------------------------------------------------------------


def test_downlink_and_multicast_statuses() -> None:
    """payloads_dl and multicast pushes, and the answers to a POST (one, then a list)."""
    pushed = downlink_status({**sample("push_payloads_dl.json"), "DevEUI": DEV_EUI})
    assert (pushed.message_id, pushed.state, pushed.dev_eui) == (
        "252",
        DownlinkState.QUEUED,
        DEV_EUI,
    )
    group = downlink_status(sample("push_multicast.json"), group=True)
    assert (group.group_id, group.message_id) == ("mulitcast-group-name", "252")
    answer = result_from_answer(sample("downlink_answer.json"))
    assert (answer.message_id, answer.state, answer.f_cnt) == ("252", DownlinkState.QUEUED, 10)
    listed = [result_from_answer(item) for item in sample("downlink_list.json")]
    assert [(r.message_id, r.state) for r in listed] == [
        ("252", DownlinkState.SENT),
        ("254", DownlinkState.QUEUED),
    ]


def test_status_join_location_alarm_pushes() -> None:
    """Each push means what the document says; placeholders are dropped, not the push."""
    assert status_from_push({**sample("push_status.json"), "DevEUI": DEV_EUI}) is None
    join = join_from_push({**sample("push_joininfo.json"), "DevEUI": DEV_EUI})
    assert (join.status, join.app_eui, join.accepted) == ("JOIN_ACCEPTED", None, True)
    for status in ("JOIN_COMPLETE", "JOIN_FAILURE_BAD_MIC", "JOIN_NOT_PROCESSED"):
        other = join_from_push(
            {**sample("push_joininfo.json"), "DevEUI": DEV_EUI, "join_status": status}
        )
        assert (other.status, other.accepted) == (status, False)
    assert location_of(sample("push_location.json")) == Location(46.207390, 6.155835)
    alarm = alarm_from_push(sample("push_alarm.json"))
    assert (alarm.code, alarm.severity, alarm.text) == (
        "UPLINK_WITHOUT_ADR",
        "warning",
        "textual description of alarm",
    )
    assert (alarm.at, alarm.dev_eui) == (None, None)  # "ISO8601" and "hex" are placeholders


async def test_join_push_is_not_used(
    http_session: aiohttp.ClientSession, recording_sink: RecordingSink
) -> None:
    """The raw join procedure is left to the network server: nothing reaches the sink."""
    client = OrbiWiseClient(http_session, "http://127.0.0.1:9", username="u", password="p")
    client._sink = recording_sink  # taking pushes, as while running
    assert client.dispatch("join", {**sample("push_join.json"), "DevEUI": DEV_EUI}) is True
    assert recording_sink.device_updates == recording_sink.joins == recording_sink.uplinks == []


# --- push channels: requests and answers ----------------------------------------------------------


class Channel:
    """A push channel answering each request with a sample, tagged as the server does."""

    def __init__(self, client: OrbiWiseClient, answers: dict[str, Any]) -> None:
        """Answer ``payloads_dl`` and ``multicast`` requests with these messages."""
        self.client = client
        self.answers = answers
        self.sent: list[dict[str, Any]] = []

    async def send(self, message: Any) -> None:
        """Record the request and answer it."""
        self.sent.append(dict(message))
        ((topic, body),) = message.items()
        answer = self.answers[topic]
        ((answer_topic, answer_body),) = answer.items()
        asyncio.get_running_loop().call_soon(
            self.client.receive, orjson.dumps({answer_topic: {**answer_body, "tag": body["tag"]}})
        )


@pytest.mark.parametrize("channel", ["ws", "mqtt"])
async def test_downlinks_over_the_push_channel(channel: str) -> None:
    """Downlink and multicast requests have the documented shape; answers and errors are read."""
    async with aiohttp.ClientSession() as session:
        client = OrbiWiseClient(
            session, "http://127.0.0.1:9", username="u", password="p", transport=Transport.MQTT
        )
        client._sink = RecordingSink()  # taking pushes, as while running
        replies = Channel(
            client,
            {
                "payloads_dl": sample(f"{channel}_payloads_dl_reply.json"),
                "multicast": sample(f"{channel}_multicast_reply.json"),
            },
        )
        client.set_sender(replies.send)
        result = await client.send_downlink(
            Downlink(dev_eui=DEV_EUI, f_port=10, payload=b"\xaa\xbb\xcc", confirmed=True)
        )
        assert (result.message_id, result.state, result.f_cnt) == ("252", DownlinkState.QUEUED, 10)
        group = await client.send_multicast("group-id", 10, b"\xaa\xbb\xcc")
        assert group.message_id == "252"
        replies.answers = {
            "payloads_dl": sample(f"{channel}_payloads_dl_error.json"),
            "multicast": sample(f"{channel}_multicast_error.json"),
        }
        with pytest.raises(InvalidRequest) as refused:
            await client.send_downlink(Downlink(dev_eui=DEV_EUI, f_port=10, payload=b"\x01"))
        assert (refused.value.reason, refused.value.code) == ("error message", 404)
        with pytest.raises(InvalidRequest):
            await client.send_multicast("group-id", 10, b"\x01")
    downlink, multicast = replies.sent[:2]
    documented_downlink = sample(f"{channel}_send_payloads_dl.json")
    same_shape(downlink, documented_downlink)
    assert downlink["payloads_dl"]["data"] == "aabbcc"  # with data_format hex, as documented
    same_shape(multicast, sample(f"{channel}_send_multicast.json"))
    assert isinstance(push_error(sample("ws_payloads_dl_error.json")["error"]), InvalidRequest)


# --- REST push ------------------------------------------------------------------------------------


async def test_pushmode_requests_and_status(http_session: aiohttp.ClientSession) -> None:
    """
    The status sample is someone else's push; the start request has the documented shape.

    The client's path_prefix is the documented ``${skip_topic}`` form, with a query.
    """
    status = sample("pushmode_status.json")
    theirs = push_configuration(status)
    assert theirs is not None
    assert (theirs.enabled, theirs.target) == (True, "https://lora.orbiwise.com:443")
    client_mode = push_configuration({**sample("mqtt_client_mode_pushmode_start.json")})
    assert client_mode is not None
    assert client_mode.target == "mqtts://mybroker.mydomain.com:8883"
    assert push_configuration({"enabled": False, "host": ""}) is None
    server = Server()
    server.route("GET", "/rest/pushmode/status", status)
    server.route("PUT", "/rest/pushmode/start", (200, None, None))
    server.route("GET", "/rest/nodes", (204, None, None))
    async with SimulatorServer(server.app) as running:
        target = PushTarget(f"{running.base_url}/api/webhook/x", "Bearer s")
        client = basic(
            running, session=http_session, transport=Transport.REST_PUSH, push_target=target
        )
        foreign = await client.foreign_push()
        assert foreign == theirs
        replacing = basic(
            running,
            session=http_session,
            transport=Transport.REST_PUSH,
            push_target=target,
            replaces=theirs.fingerprint,
        )
        sink = RecordingSink()
        task = asyncio.create_task(replacing.run(sink))
        async with asyncio.timeout(10):
            await replacing.live.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    (start,) = [orjson.loads(body) for method, _p, body, _h in server.requests if method == "PUT"]
    same_shape(start, sample("pushmode_start.json"))
    assert start["retry_policy"] == 0  # "for future use, must be set to zero"
    assert start["push_subscription"] == SUBSCRIPTION
    assert start["host"] == "http://127.0.0.1"
    documented = sample("push_url_skip_topic.json")["path_prefix"]
    assert documented.startswith("${skip_topic}/")
    assert start["path_prefix"] == "${skip_topic}/api/webhook/x?topic=${topic}"


def test_host_mode_topics() -> None:
    """Host mode prefixes every topic with the account: the tag behind it."""
    assert sample("topic_tag_host_mode.json") == {"broker_topic_any": "${userid}/${topic}"}


# --- groups ---------------------------------------------------------------------------------------


async def test_group_requests(http_session: aiohttp.ClientSession) -> None:
    """A created group is the document's group object."""
    server = Server()
    server.route("POST", "/rest/groups", (200, None, None))
    async with SimulatorServer(server.app) as running:
        client = basic(running, session=http_session)
        keys = MulticastKeys(address="00003039", app_s_key="AB" * 16, nwk_s_key="CD" * 16)
        await client.create_multicast_group(
            MulticastSetup(
                name="group-id", device_class=LoRaClass.B, keys=keys, ping_slot_periodicity=1
            )
        )
    created = orjson.loads(server.requests[0][2])
    documented = sample("group_create.json")
    same_shape(created, documented)
    assert created["devaddr"] == documented["devaddr"] == 12345


# --- every sample is accounted for ----------------------------------------------------------------


def test_every_sample_is_tested_or_not_used() -> None:
    """Each fixture is read by a test of this file, or listed as not used (and still JSON)."""
    names = {path.name for path in SAMPLES.iterdir() if path.name != "README.md"}
    source = Path(__file__).read_text()
    for name in names - NOT_USED:
        # ws_* and mqtt_* samples are read by the test parametrized with the channel.
        channel, _, rest = name.partition("_")
        channel_form = f'f"{{channel}}_{rest}"' if channel in ("ws", "mqtt") else f'"{name}"'
        assert f'"{name}"' in source or channel_form in source, name
    for name in NOT_USED:
        if name.endswith(".json"):
            orjson.loads((SAMPLES / name).read_bytes())
    assert names >= NOT_USED
    readme = (SAMPLES / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in names)
