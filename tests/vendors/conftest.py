"""Fixtures of the network-server client tests: a recording sink and clients running into one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from custom_components.lorawan_hub.lns.base import NetworkServer

from .sink import RecordingSink, RunningClient, StartClient


@pytest.fixture
def recording_sink() -> RecordingSink:
    """A sink that records what a client delivers."""
    return RecordingSink()


@pytest.fixture
async def run_client() -> AsyncIterator[StartClient]:
    """Start clients running into recording sinks; those still running stop after the test."""
    started: list[RunningClient[Any]] = []

    def start[ClientT: NetworkServer](
        client: ClientT, sink: RecordingSink | None = None
    ) -> RunningClient[ClientT]:
        running = RunningClient(client, sink)
        started.append(running)
        return running

    yield start
    for running in started:
        if not running.task.done():
            await running.stop()
