"""Fixtures of the end-to-end tests: one Home Assistant process per test module."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
import pytest_socket

from .home_assistant import Api, HomeAssistantProcess


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Nothing to enable: Home Assistant runs in a process of its own here."""


@pytest.fixture(autouse=True)
def fast_reconnect() -> None:
    """The process reconnects at its own pace."""


@pytest.fixture(scope="module")
def home_assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HomeAssistantProcess]:
    """A Home Assistant process, onboarded, with LoRaWAN Hub available."""
    # Module fixtures run before the per-test socket permission: talking to the local process
    # over sockets is what these tests are for.
    pytest_socket.enable_socket()
    instance = HomeAssistantProcess(tmp_path_factory.mktemp("home-assistant"))
    try:
        instance.start()
        yield instance
    finally:
        instance.stop()


@pytest.fixture
async def api(home_assistant: HomeAssistantProcess) -> AsyncIterator[Api]:
    """The instance's APIs, with its owner's token."""
    async with aiohttp.ClientSession() as session:
        yield home_assistant.api(session)
