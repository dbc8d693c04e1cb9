"""The SenRa simulator: its REST contract as a plain HTTP client sees it, and its pusher."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from simulator.senra import SenraSimulator

METER = "70B3D57ED0000701"


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
    assert sim.groups[address] == {METER}
