"""The Netemera simulator: its HTTP contract as a plain HTTP client sees it, and its CLI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from simulator import __main__ as cli
from simulator.netemera import JSON_API, NetemeraSimulator

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


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


async def grant(
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
async def headers(session: aiohttp.ClientSession, sim: NetemeraSimulator) -> dict[str, str]:
    """Headers with a valid access token."""
    status, body = await grant(
        session, sim, {"grant_type": "client_credentials", "audience": sim.api_url}
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
    session: aiohttp.ClientSession, sim: NetemeraSimulator, form: dict[str, str], error: str
) -> None:
    """A wrong audience, an unknown refresh token and other grants are refused (RFC 6749)."""
    assert await grant(session, sim, form) == (400, {"error": error})


async def test_refresh_token_is_single_use(
    session: aiohttp.ClientSession, sim: NetemeraSimulator
) -> None:
    """A refresh token gives one new token pair."""
    _status, first = await grant(
        session, sim, {"grant_type": "client_credentials", "audience": sim.api_url}
    )
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    status, second = await grant(session, sim, form)
    assert status == 200
    assert second["expires_in"] == 86400
    assert (await grant(session, sim, form))[0] == 400


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/applications/nope", None, 404),
        ("GET", "/applications/nope/end-devices", None, 404),
        ("GET", "/end-devices/0000000000000009", None, 404),
        ("PATCH", "/end-devices/0000000000000009", {}, 404),
        ("PATCH", f"/end-devices/{DEVICE}", {"data": {"type": "x", "attributes": {}}}, 400),
        ("PATCH", f"/end-devices/{DEVICE}", {"data": []}, 400),
        (
            "PATCH",
            f"/end-devices/{DEVICE}",
            {"data": {"type": "end-device", "attributes": {"deviceProfileId": "nope"}}},
            400,
        ),
        ("GET", "/device-profiles/nope", None, 404),
        ("GET", f"/end-devices/{DEVICE}/activation", None, 404),
        ("POST", "/downlink-packets/end-devices/0000000000000009", {}, 404),
        ("POST", f"/downlink-packets/end-devices/{DEVICE}", {"data": {}}, 400),
        ("GET", "/uplink-packets/applications/nope", None, 404),
        ("GET", f"/uplink-packets/applications/{APP}", None, 400),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
async def test_refusals(
    session: aiohttp.ClientSession,
    sim: NetemeraSimulator,
    headers: dict[str, str],
    method: str,
    path: str,
    body: Any,
    status: int,
) -> None:
    """Unknown resources are 404, malformed documents and a stream without Accept 400."""
    async with session.request(
        method, f"{sim.api_url}{path}", json=body, headers=headers
    ) as response:
        assert response.status == status


async def test_stream_needs_no_cache(
    session: aiohttp.ClientSession, sim: NetemeraSimulator, headers: dict[str, str]
) -> None:
    """The document requires ``Cache-Control: no-cache`` on the stream request."""
    async with session.get(
        f"{sim.api_url}/uplink-packets/applications/{APP}",
        headers=headers | {"Accept": "text/event-stream"},
    ) as response:
        assert response.status == 400


async def test_rename_through_patch(
    session: aiohttp.ClientSession, sim: NetemeraSimulator, headers: dict[str, str]
) -> None:
    """A PATCH without a profile keeps it and may rename the device."""
    async with session.patch(
        f"{sim.api_url}/end-devices/{DEVICE}",
        json={"data": {"type": "end-device", "attributes": {"name": "Renamed"}}},
        headers=headers,
    ) as response:
        assert response.status == 201
    assert sim.devices[DEVICE].name == "Renamed"
    assert sim.devices[DEVICE].profile_id == "profile-a"


async def test_without_token(session: aiohttp.ClientSession, sim: NetemeraSimulator) -> None:
    """Every API path needs a valid bearer token."""
    async with session.get(f"{sim.api_url}/applications") as response:
        assert response.status == 401


async def test_stream_from_an_unknown_id_and_stall(
    session: aiohttp.ClientSession, sim: NetemeraSimulator, headers: dict[str, str]
) -> None:
    """An unknown Last-Event-ID follows live; a stalled stream sends not even keep-alives."""
    sim.publish(DEVICE, b"\x01")
    stream_headers = headers | {
        "Accept": "text/event-stream",
        "Cache-Control": "no-cache",
        "Last-Event-ID": "unknown",
    }
    async with session.get(
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
    assert args.run is cli.run_netemera


async def test_run_netemera(capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI serves demo devices and prints how to reach them."""
    args = cli.build_parser().parse_args(["netemera", "--port", "0", "--devices", "3"])
    stop = asyncio.Event()
    stop.set()
    await cli.run_netemera(args, stop)
    line = capsys.readouterr().out.strip()
    assert line.startswith("Netemera simulator: API http://127.0.0.1:")
    assert line.endswith(
        "client demo-client / demo-secret, application demo-application"
        " (3 devices, an uplink each every 5 s)"
    )
