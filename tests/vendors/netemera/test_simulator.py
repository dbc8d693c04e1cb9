"""The Netemera simulator: its HTTP contract as a plain HTTP client sees it, and its CLI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
import json
from typing import Any

import aiohttp
import pytest

from simulator import __main__ as cli, netemera
from simulator.netemera import JSON_API, NetemeraSimulator

from . import samples

APP = "app"
DEVICE = "70B3D57ED0000001"


@pytest.fixture
async def sim() -> AsyncIterator[NetemeraSimulator]:
    """A simulator with one application and one device."""
    simulator = NetemeraSimulator(keepalive=0.05)
    simulator.add_application(APP)
    simulator.add_device(DEVICE, APP, name="Meter")
    async with simulator:
        yield simulator


async def grant_token(
    session: aiohttp.ClientSession, sim: NetemeraSimulator, form: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    """Post to the token endpoint with the simulator's client; return status and body."""
    async with session.post(
        sim.token_url,
        data=form,
        auth=None,
        headers={"Authorization": aiohttp.encode_basic_auth(sim.client_id, sim.client_secret)},
    ) as response:
        return response.status, await response.json(content_type=None)


@pytest.fixture
async def headers(http_session: aiohttp.ClientSession, sim: NetemeraSimulator) -> dict[str, str]:
    """Headers with a valid access token."""
    status, body = await grant_token(
        http_session, sim, {"grant_type": "client_credentials", "audience": sim.api_url}
    )
    assert status == 200
    return {"Authorization": f"Bearer {body['access_token']}", "Accept": JSON_API}


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "client_credentials", "audience": "https://other"}, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "unknown"}, "invalid_grant"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
    ],
)
async def test_token_errors(
    http_session: aiohttp.ClientSession, sim: NetemeraSimulator, form: dict[str, str], error: str
) -> None:
    """A wrong audience, an unknown refresh token and other grants are refused (RFC 6749)."""
    assert await grant_token(http_session, sim, form) == (400, {"error": error})


async def test_refresh_token_is_single_use(
    http_session: aiohttp.ClientSession, sim: NetemeraSimulator
) -> None:
    """A refresh token gives one new token pair."""
    _status, first = await grant_token(
        http_session, sim, {"grant_type": "client_credentials", "audience": sim.api_url}
    )
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    status, second = await grant_token(http_session, sim, form)
    assert status == 200
    assert second["expires_in"] == 86400
    assert (await grant_token(http_session, sim, form))[0] == 400


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/applications/nope", None, 404),
        ("GET", "/applications/nope/end-devices", None, 404),
        ("GET", "/end-devices/0000000000000009", None, 404),
        ("PATCH", "/end-devices/0000000000000009", {}, 404),
        ("PATCH", f"/end-devices/{DEVICE}", {"data": {"type": "x", "attributes": {}}}, 401),
        ("PATCH", f"/end-devices/{DEVICE}", {"data": []}, 401),
        (
            "PATCH",
            f"/end-devices/{DEVICE}",
            {"data": {"type": "end-device", "attributes": {"deviceProfileId": "nope"}}},
            401,
        ),
        ("GET", "/device-profiles/nope", None, 404),
        ("GET", f"/end-devices/{DEVICE}/activation", None, 404),
        ("POST", "/downlink-packets/end-devices/0000000000000009", {}, 404),
        ("POST", f"/downlink-packets/end-devices/{DEVICE}", {"data": {}}, 401),
        ("POST", f"/downlink-packets/end-devices/{DEVICE}", {"data": []}, 401),
        ("GET", "/uplink-packets/applications/nope", None, 404),
        ("GET", f"/uplink-packets/applications/{APP}", None, 400),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
async def test_refusals(
    http_session: aiohttp.ClientSession,
    sim: NetemeraSimulator,
    headers: dict[str, str],
    method: str,
    path: str,
    body: Any,
    status: int,
) -> None:
    """
    Unknown resources are 404, a stream without Accept 400.

    An update or downlink that fails validation gets the document's "401 Bad Request".
    """
    async with http_session.request(
        method, f"{sim.api_url}{path}", json=body, headers=headers
    ) as response:
        assert response.status == status


async def test_stream_needs_no_cache(
    http_session: aiohttp.ClientSession, sim: NetemeraSimulator, headers: dict[str, str]
) -> None:
    """The document requires ``Cache-Control: no-cache`` on the stream request."""
    async with http_session.get(
        f"{sim.api_url}/uplink-packets/applications/{APP}",
        headers=headers | {"Accept": "text/event-stream"},
    ) as response:
        assert response.status == 400


async def test_update_needs_the_end_device_object(
    http_session: aiohttp.ClientSession, sim: NetemeraSimulator, headers: dict[str, str]
) -> None:
    """
    An end-device update carries an End-Device object (devEui, applicationId, deviceProfileId).

    Answered by a bare "201 Created", as in the document's sample; a partial one is refused.
    """
    url = f"{sim.api_url}/end-devices/{DEVICE.lower()}"
    attributes = {"devEui": DEVICE.lower(), "applicationId": APP, "deviceProfileId": "profile-a"}
    async with http_session.patch(
        url,
        json={"data": {"type": "end-device", "attributes": {"name": "Renamed"}}},
        headers=headers,
    ) as response:
        assert response.status == 401
    async with http_session.patch(
        url,
        json={"data": {"type": "end-device", "attributes": attributes | {"applicationId": "x"}}},
        headers=headers,
    ) as response:
        assert response.status == 401
    async with http_session.patch(
        url,
        json={"data": {"type": "end-device", "attributes": attributes | {"name": "Renamed"}}},
        headers=headers,
    ) as response:
        assert (response.status, await response.read()) == (201, b"")
    assert sim.devices[DEVICE].name == "Renamed"
    assert sim.devices[DEVICE].profile_id == "profile-a"
    assert len(sim.patches) == 3


async def test_without_token(http_session: aiohttp.ClientSession, sim: NetemeraSimulator) -> None:
    """Every API path needs a valid bearer token."""
    async with http_session.get(f"{sim.api_url}/applications") as response:
        assert response.status == 401


async def test_stream_from_an_unknown_id_and_stall(
    http_session: aiohttp.ClientSession, sim: NetemeraSimulator, headers: dict[str, str]
) -> None:
    """An unknown Last-Event-ID follows live; a stalled stream sends not even keep-alives."""
    sim.publish(DEVICE, b"\x01")
    stream_headers = headers | {
        "Accept": "text/event-stream",
        "Cache-Control": "no-cache",
        "Last-Event-ID": "unknown",
    }
    async with http_session.get(
        f"{sim.api_url}/uplink-packets/applications/{APP}", headers=stream_headers
    ) as response:
        assert response.status == 200
        assert sim.stream_count == 1
        sim.stall()
        before = sim.keepalives_sent
        sim.publish(DEVICE, b"\x02")
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await sim.wait_for_keepalives(before + 1)
        assert sim.events_sent == 0
        sim.stall(False)
        async with asyncio.timeout(5):
            await sim.wait_for_sent(1)
        text = await response.content.readuntil(b"\n\n")
    assert b'"frmPayload": "02"' in text
    async with asyncio.timeout(5):
        await sim.wait_for_streams(0)


async def test_generator(sim: NetemeraSimulator) -> None:
    """The demo generator publishes an uplink per device in turn."""
    sim.add_device("70B3D57ED0000002", APP, name="Front door")
    task = asyncio.create_task(sim.run_generator(0.01))
    async with asyncio.timeout(5):
        await sim.wait_for_published(APP, 4)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sim.devices[DEVICE].f_cnt >= 2


async def test_generator_without_devices() -> None:
    """A generator without devices waits for some."""
    simulator = NetemeraSimulator()
    task = asyncio.create_task(simulator.run_generator(0.01))
    await asyncio.sleep(0)  # the generator starts and finds no device
    assert not simulator.log
    simulator.add_application(APP)
    simulator.add_device(DEVICE, APP)
    async with asyncio.timeout(5):
        await simulator.wait_for_published(APP, 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_cli_arguments() -> None:
    """The netemera subcommand's defaults and options."""
    args = cli.build_parser().parse_args(["netemera"])
    assert (args.port, args.devices, args.client_id, args.application) == (
        8766,
        5,
        "demo-client",
        "demo-application",
    )
    assert args.run is netemera.run_demo


async def test_run_netemera(capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI serves demo devices and prints how to reach them."""
    args = cli.build_parser().parse_args(["netemera", "--port", "0", "--devices", "3"])
    stop = asyncio.Event()
    stop.set()
    await netemera.run_demo(args, stop)
    line = capsys.readouterr().out.strip()
    assert line.startswith("Netemera simulator: API http://127.0.0.1:")
    assert line.endswith(
        "client demo-client / demo-secret, application demo-application"
        " (3 devices, an uplink each every 5 s)"
    )


async def read_events(response: aiohttp.ClientResponse, count: int) -> list[bytes]:
    """Read ``count`` events (up to their blank line) from a stream."""
    return [await response.content.readuntil(b"\n\n") for _ in range(count)]


def packet_of(event: bytes) -> Any:
    """The JSON of an event's data lines."""
    lines = event.decode().splitlines()
    return json.loads(
        "\n".join(line.removeprefix("data:") for line in lines if not line.startswith("id:"))
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"filter[since]": "2026-01-01T00:02:00.000000Z"}, ["03", "04"]),
        (
            {"filter[since]": "2026-01-01T00:01:00Z", "filter[until]": "2026-01-01T00:03:00Z"},
            ["02"],
        ),
        ({"filter[tail]": "2"}, ["03", "04"]),
        ({"filter[since]": "2026-01-01T00:00:00Z", "filter[tail]": "1"}, ["04"]),
    ],
    ids=["since", "since-until", "tail", "since-tail"],
)
async def test_stream_filters(
    http_session: aiohttp.ClientSession,
    sim: NetemeraSimulator,
    headers: dict[str, str],
    query: dict[str, str],
    expected: list[str],
) -> None:
    """
    ``filter[since]`` (inclusive), ``filter[until]`` (exclusive), ``filter[tail]``.

    The uplinks received in the range are replayed, by reception time; live ones follow.
    """
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for minutes in range(4):
        sim.publish(DEVICE, bytes([minutes + 1]), when=start + timedelta(minutes=minutes))
    stream_headers = headers | {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
    async with http_session.get(
        f"{sim.api_url}/uplink-packets/applications/{APP}", headers=stream_headers, params=query
    ) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        assert response.headers["Connection"] == "keep-alive"
        if "filter[until]" not in query:
            sim.publish(DEVICE, b"\x09")
            expected = [*expected, "09"]
        events = await read_events(response, len(expected))
    assert [packet_of(event)["frmPayload"] for event in events] == expected
    assert sim.stream_queries[-1]


@pytest.mark.parametrize(
    "query",
    [
        {"filter[since]": "yesterday"},
        {"filter[until]": "2026-01-01T00:00:00"},
        {"filter[tail]": "-1"},
    ],
)
async def test_stream_filter_refusals(
    http_session: aiohttp.ClientSession,
    sim: NetemeraSimulator,
    headers: dict[str, str],
    query: dict[str, str],
) -> None:
    """A filter that is no UTC time, or a negative tail, is "400 Bad Request"."""
    stream_headers = headers | {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
    async with http_session.get(
        f"{sim.api_url}/uplink-packets/applications/{APP}", headers=stream_headers, params=query
    ) as response:
        assert response.status == 400


async def test_stream_fault_knobs(
    http_session: aiohttp.ClientSession, sim: NetemeraSimulator, headers: dict[str, str]
) -> None:
    """Forgotten ids, a refused since, streams ending at once, headers that never come."""
    stream_headers = headers | {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
    url = f"{sim.api_url}/uplink-packets/applications/{APP}"
    known = sim.publish(DEVICE, b"\x01")
    sim.expire_event_ids()
    async with http_session.get(url, headers=stream_headers | {"Last-Event-ID": known}) as response:
        assert response.status == 400
    sim.refuse_since = True
    async with http_session.get(
        url, headers=stream_headers, params={"filter[since]": "2026-01-01T00:00:00Z"}
    ) as response:
        assert response.status == 400
    sim.end_streams_at_once = True
    async with http_session.get(url, headers=stream_headers) as response:
        assert response.status == 200
        assert await response.read() == b""
    sim.end_streams_at_once = False
    sim.stall_headers()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3), http_session.get(url, headers=stream_headers):
            pass
    async with asyncio.timeout(5):
        await sim.wait_for_stream_requests(4)
    sim.stall_headers(False)
    async with http_session.get(url, headers=stream_headers) as response:
        assert response.status == 200


async def test_literal_layout(
    http_session: aiohttp.ClientSession, sim: NetemeraSimulator, headers: dict[str, str]
) -> None:
    """The document's layout: ``data:`` before the first line of the JSON object only."""
    sim.literal_layout = True
    stream_headers = headers | {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
    async with http_session.get(
        f"{sim.api_url}/uplink-packets/applications/{APP}", headers=stream_headers
    ) as response:
        identifier = sim.publish(DEVICE, b"\x05\xf0")
        [event] = await read_events(response, 1)
    lines = event.decode().rstrip("\n").splitlines()
    assert lines[0] == "data:{"
    assert lines[1] == f'  "devEui": "{DEVICE.lower()}",'
    assert lines[-1] == f"id:{identifier}"
    assert sum(line.startswith("data:") for line in lines) == 1


async def test_answers_have_the_documents_shapes(
    http_session: aiohttp.ClientSession, sim: NetemeraSimulator, headers: dict[str, str]
) -> None:
    """Every answer the simulator gives has the keys and types of the document's sample."""
    sim.devices[DEVICE].dev_addr = "260B0001"
    checked = {
        "applications_list": "/applications",
        "application_get": f"/applications/{APP}",
        "device_profiles_list": "/device-profiles",
        "device_profile_get": "/device-profiles/profile-a",
        "end_devices_list": f"/applications/{APP}/end-devices",
        "end_device_get": f"/end-devices/{DEVICE.lower()}",
        "activation_get": f"/end-devices/{DEVICE.lower()}/activation",
    }
    for name, path in checked.items():
        sample = samples.response(name)
        async with http_session.get(f"{sim.api_url}{path}", headers=headers) as response:
            assert response.status == sample.status
            assert response.headers["Content-Type"] == sample.headers["Content-Type"]
            assert samples.same_shape(await response.json(content_type=None), sample.json()) == []
    for grant, name in (("client_credentials", "token_client_credentials"),):
        status, body = await grant_token(
            http_session, sim, {"grant_type": grant, "audience": sim.api_url}
        )
        sample = samples.response(name)
        assert status == sample.status
        assert samples.same_shape(body, sample.json()) == []
    # The stream's packets, the downlink's and the update's bare answers.
    stream_headers = headers | {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
    async with http_session.get(
        f"{sim.api_url}/uplink-packets/applications/{APP}", headers=stream_headers
    ) as response:
        sim.publish(DEVICE, b"\x05\xf0")
        [event] = await read_events(response, 1)
    packet = packet_of(event)
    stream_sample = samples.response("uplinks_application").body
    first = stream_sample.split("\nid:")[0].removeprefix("data:")
    assert samples.same_shape(packet, json.loads(first)) == []
    document = samples.request("downlink_send").json()
    async with http_session.post(
        f"{sim.api_url}/downlink-packets/end-devices/{DEVICE.lower()}",
        json=document,
        headers=headers,
    ) as response:
        assert (response.status, await response.read()) == (202, b"")
    patch = samples.request("end_device_update").json()
    patch["data"]["attributes"] |= {
        "devEui": DEVICE.lower(),
        "applicationId": APP,
        "deviceProfileId": "profile-a",
    }
    async with http_session.patch(
        f"{sim.api_url}/end-devices/{DEVICE.lower()}", json=patch, headers=headers
    ) as response:
        assert (response.status, await response.read()) == (
            samples.response("end_device_update").status,
            b"",
        )


async def test_token_answers_as_the_samples(
    http_session: aiohttp.ClientSession, sim: NetemeraSimulator
) -> None:
    """The token answers carry the samples' headers (JSON:API, then JSON for a refresh)."""
    form = {"grant_type": "client_credentials", "audience": sim.api_url}
    for grant_type, name in (
        ("client_credentials", "token_client_credentials"),
        ("refresh_token", "token_refresh_token"),
    ):
        async with http_session.post(
            sim.token_url,
            data=form,
            headers={"Authorization": aiohttp.encode_basic_auth(sim.client_id, sim.client_secret)},
        ) as response:
            assert grant_type == form["grant_type"]
            sample = samples.response(name)
            for key in ("Content-Type", "Cache-Control", "Pragma"):
                assert response.headers[key] == sample.headers[key]
            body = await response.json(content_type=None)
        form = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
