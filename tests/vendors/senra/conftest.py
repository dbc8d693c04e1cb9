"""The SenRa server of the Home Assistant tests (the client tests start their own)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from simulator.senra import SenraSimulator

METER = "70B3D57ED0000601"


@pytest.fixture
async def senra() -> AsyncIterator[SenraSimulator]:
    """A SenRa server with one device."""
    simulator = SenraSimulator()
    simulator.add_device(METER, metadata="Basement meter", dev_addr="01ABCDEF")
    async with simulator:
        yield simulator
