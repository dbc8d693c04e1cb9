"""The Home Assistant instance, the hub entries in it, and the helpers that time and check."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
import contextlib
from dataclasses import dataclass
import gc
import itertools
from pathlib import Path
import tempfile
import time
from typing import Any
from unittest.mock import MagicMock, Mock, patch

from aiohttp.resolver import ThreadedResolver

from homeassistant import loader
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_TOKEN, CONF_URL, EVENT_STATE_CHANGED
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er, frame, translation
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockMqttReasonCode,
    async_test_home_assistant,
    mock_config_flow,
)

from custom_components.lorawan_hub.const import (
    CONF_APP_ID,
    CONF_VENDOR,
    DOMAIN,
    EVENT_UPLINK,
)
from custom_components.lorawan_hub.coordinator import LoRaWANHubCoordinator
from custom_components.lorawan_hub.lns.orion import OrionClient
from custom_components.lorawan_hub.vendors.orion import orion_unique_id
from simulator.orion import OrionSimulator

from .baseline import BASELINE_DOMAIN, BaselineFlow, register_baseline
from .results import BenchError, Results
from .uplinks import Reading

# --- the Home Assistant instance ------------------------------------------------------------------


class PlainResolver(ThreadedResolver):
    """The system's resolver, closed the way Home Assistant closes its zeroconf-aware one."""

    async def real_close(self) -> None:
        """Close the resolver."""
        await self.close()


@dataclass(frozen=True, slots=True)
class Instance:
    """A running Home Assistant, its configuration folder and the mocked paho client of MQTT."""

    hass: HomeAssistant
    config_dir: Path
    paho: MagicMock


@contextlib.asynccontextmanager
async def home_assistant(results: Results) -> AsyncIterator[Instance]:
    """Start Home Assistant as the test harness builds it; unload and stop everything at the end."""
    with contextlib.ExitStack() as stack:
        config_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        # As the test harness does: HTTP binds no port, paho opens no socket, and host names are
        # resolved without zeroconf (the simulators listen on 127.0.0.1 anyway).
        stack.enter_context(
            patch(
                "homeassistant.helpers.aiohttp_client._async_make_resolver",
                return_value=PlainResolver(),
            )
        )
        # No configuration.yaml: MQTT reads it for YAML-configured entities (none here).
        stack.enter_context(patch("homeassistant.config.load_yaml_config_file", return_value={}))
        stack.enter_context(patch("homeassistant.components.http.HomeAssistantHTTP.async_bind"))
        stack.enter_context(patch("homeassistant.components.http.HomeAssistantHTTP.start"))
        stack.enter_context(mock_config_flow(BASELINE_DOMAIN, BaselineFlow))
        async with async_test_home_assistant(config_dir=str(config_dir)) as hass:
            paho = stack.enter_context(paho_without_network(hass))
            frame.async_setup(hass)
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)  # load custom_components/ from the repo
            await translation.async_load_integrations(hass, {"homeassistant"})
            register_baseline(hass)
            try:
                yield Instance(hass, config_dir, paho)
            finally:
                await shutdown(hass, results)


async def shutdown(hass: HomeAssistant, results: Results) -> None:
    """Unload every entry, stop Home Assistant and report tasks left behind."""
    loaded = [
        entry.entry_id
        for entry in hass.config_entries.async_entries()
        if entry.state is ConfigEntryState.LOADED
    ]
    for entry_id in loaded:
        await hass.config_entries.async_unload(entry_id)
    await hass.async_block_till_done()
    await hass.async_stop(force=True)
    current = asyncio.current_task()
    lingering = [task for task in asyncio.all_tasks() if task is not current]
    for task in lingering:
        results.errors.append(f"task left running after shutdown: {task.get_name()}")
        task.cancel()
    if lingering:
        await asyncio.gather(*lingering, return_exceptions=True)


# --- MQTT without a broker ------------------------------------------------------------------------


@contextlib.contextmanager
def paho_without_network(hass: HomeAssistant) -> Iterator[MagicMock]:
    """Replace paho's network client the way the test harness's ``mqtt_client_mock`` does."""
    message_ids = itertools.count(1)

    class PublishInfo:
        def __init__(self, mid: int) -> None:
            self.mid = mid
            self.rc = 0

    with patch("homeassistant.components.mqtt.client.AsyncMQTTClient") as client_class:
        paho = client_class.return_value

        def connect(*_args: Any, **_kwargs: Any) -> int:
            paho.reconnect()
            hass.loop.call_soon_threadsafe(paho.on_connect, paho, None, 0, MockMqttReasonCode())
            paho.on_socket_open(paho, None, Mock(fileno=Mock(return_value=-1)))
            paho.on_socket_register_write(paho, None, Mock(fileno=Mock(return_value=-1)))
            return 0

        def subscribe(*_args: Any, **_kwargs: Any) -> tuple[int, int]:
            mid = next(message_ids)
            hass.loop.call_soon(paho.on_subscribe, Mock(), 0, mid, [MockMqttReasonCode()], None)
            return (0, mid)

        def unsubscribe(*_args: Any, **_kwargs: Any) -> tuple[int, int]:
            mid = next(message_ids)
            hass.loop.call_soon(paho.on_unsubscribe, Mock(), 0, mid, [MockMqttReasonCode()], None)
            return (0, mid)

        def publish(*_args: Any, **_kwargs: Any) -> PublishInfo:
            mid = next(message_ids)
            hass.loop.call_soon(paho.on_publish, Mock(), 0, mid, MockMqttReasonCode(), None)
            return PublishInfo(mid)

        paho.connect.side_effect = connect
        paho.subscribe.side_effect = subscribe
        paho.unsubscribe.side_effect = unsubscribe
        paho.publish.side_effect = publish
        paho.loop_read.return_value = 0
        yield paho


# --- the integration ------------------------------------------------------------------------------
#
# The pipeline is fed as the Orion client's WebSocket reader feeds it: each text frame handed to
# the client's frame handler with the live connection. The client has no public handle on that
# handler, on the connection or on the end of its catch-up, so the next three functions reach its
# private members; nothing else here does.


def live_connection(client: OrionClient) -> object | None:
    """Return the connection the client's reader serves while live, None otherwise."""
    return client._live  # noqa: SLF001 - the live connection has no public handle


def frame_handler(client: OrionClient) -> Callable[[Any, str], None]:
    """Return what the client's WebSocket reader calls with its connection and each text frame."""
    return client._dispatch  # noqa: SLF001 - the reader's frame handler has no public handle


def caught_up(client: OrionClient) -> bool:
    """Whether the client delivers uplinks as they come, no longer holding them for a catch-up."""
    return client._buffer is None  # noqa: SLF001 - the end of the catch-up is not public


@dataclass(slots=True)
class Hub:
    """A loaded LoRaWAN Hub entry and its live connection."""

    entry: ConfigEntry
    coordinator: LoRaWANHubCoordinator
    client: OrionClient

    def feed(self) -> Callable[[str], None]:
        """Return a function handing one WebSocket text frame to the client, as its reader does."""
        conn = live_connection(self.client)
        if conn is None:
            raise BenchError("the Orion client is not connected")
        dispatch = frame_handler(self.client)

        def feed(text: str) -> None:
            dispatch(conn, text)

        return feed


def hub_entry(simulator: OrionSimulator, entry_id: str, title: str) -> MockConfigEntry:
    """Return a config entry of the integration for the simulator's application."""
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id=entry_id,
        title=title,
        unique_id=orion_unique_id({CONF_URL: simulator.url, CONF_APP_ID: simulator.app_id}),
        data={
            CONF_VENDOR: "orion",
            CONF_URL: simulator.url,
            CONF_APP_ID: simulator.app_id,
            CONF_TOKEN: simulator.token,
        },
    )


async def wait_live(entry: ConfigEntry, limit: float = 60) -> Hub:
    """Wait (``limit`` s at most) until the client is subscribed, caught up and live."""
    async with asyncio.timeout(limit):
        while True:
            coordinator = getattr(entry, "runtime_data", None)
            if (
                entry.state is ConfigEntryState.LOADED
                and isinstance(coordinator, LoRaWANHubCoordinator)
                and isinstance(coordinator.client, OrionClient)
                and coordinator.connected
                and live_connection(coordinator.client) is not None
                and caught_up(coordinator.client)
            ):
                return Hub(entry, coordinator, coordinator.client)
            await asyncio.sleep(0.005)


async def start_hub(
    hass: HomeAssistant, simulator: OrionSimulator, entry_id: str, title: str
) -> Hub:
    """Add and set up an entry for the simulator; return it once live."""
    entry = hub_entry(simulator, entry_id, title)
    entry.add_to_hass(hass)
    if not await hass.config_entries.async_setup(entry.entry_id):
        raise BenchError(f"{title} did not set up")
    await hass.async_block_till_done()
    return await wait_live(entry)


class UplinkCounter:
    """Counts ``lorawan_hub_uplink`` events of some devices and waits for a number of them."""

    def __init__(self, hass: HomeAssistant, devices: Iterable[str]) -> None:
        """Start listening."""
        self.count = 0
        self._devices = frozenset(devices)
        self._target: int | None = None
        self._reached = asyncio.Event()
        self.remove = hass.bus.async_listen(EVENT_UPLINK, self._on_uplink)

    @callback
    def _on_uplink(self, event: Event) -> None:
        if event.data["dev_eui"] in self._devices:
            self.count += 1
            if self._target is not None and self.count >= self._target:
                self._reached.set()

    async def wait_for(self, target: int, limit: float) -> None:
        """Wait (``limit`` s at most) until ``target`` uplinks were counted."""
        self._target = target
        if self.count >= target:
            return
        self._reached.clear()
        async with asyncio.timeout(limit):
            await self._reached.wait()


async def remove_entry(hass: HomeAssistant, entry_id: str) -> None:
    """
    Remove a config entry with its devices and entities, leaving no trace in the registries.

    Home Assistant remembers removed entities and devices (to restore them if they come back)
    and writes them with the registries; forgetting them keeps one measurement's leftovers out of
    the next one's registry writes, as on a fresh installation.
    """
    await hass.config_entries.async_remove(entry_id)
    await hass.async_block_till_done()
    er.async_get(hass).deleted_entities.clear()
    # The device registry's public ``deleted_devices`` is deprecated and reports each use.
    dr.async_get(hass)._deleted_devices.clear()  # noqa: SLF001 - no public way to forget them


def entity_id_of(hass: HomeAssistant, platform_domain: str, unique_id: str) -> str:
    """Return the entity ID registered for ``unique_id``."""
    entity_id = er.async_get(hass).async_get_entity_id("sensor", platform_domain, unique_id)
    if entity_id is None:
        raise BenchError(f"no sensor of {platform_domain} with unique ID {unique_id}")
    return entity_id


def check_states(hass: HomeAssistant, entity_ids: Sequence[str], values: Reading) -> None:
    """Raise unless each entity shows its value of ``values``."""
    for entity_id, value in zip(entity_ids, values, strict=True):
        state = hass.states.get(entity_id)
        if state is None:
            raise BenchError(f"{entity_id} has no state")
        try:
            shown = float(state.state)
        except ValueError:
            raise BenchError(f"{entity_id} is {state.state!r}, expected {value}") from None
        if abs(shown - value) > 1e-9:
            raise BenchError(f"{entity_id} is {state.state}, expected {value}")


class StateWriteCounter:
    """Counts the state writes of some entities and remembers which were written."""

    def __init__(self, hass: HomeAssistant, entity_ids: Iterable[str]) -> None:
        """Start listening."""
        self.count = 0
        self.entity_ids: list[str] = []
        """The entities written, in order, each once."""
        self._watched = frozenset(entity_ids)
        self.remove = hass.bus.async_listen(EVENT_STATE_CHANGED, self._on_change)

    @callback
    def _on_change(self, event: Event[EventStateChangedData]) -> None:
        entity_id = event.data["entity_id"]
        if entity_id in self._watched:
            self.count += 1
            if entity_id not in self.entity_ids:
                self.entity_ids.append(entity_id)


# --- timing ---------------------------------------------------------------------------------------


async def timed(hass: HomeAssistant, step: Callable[[int], None], indices: range) -> float:
    """Run ``step`` for each index and let Home Assistant finish; return µs per index."""
    gc.collect()
    wall, _ = await timed_ns(hass, step, indices)
    return wall / 1000 / len(indices)


async def timed_ns(
    hass: HomeAssistant, step: Callable[[int], None], indices: range
) -> tuple[int, int]:
    """Run ``step`` for each index and let Home Assistant finish; return wall and CPU ns."""
    cpu = time.thread_time_ns()
    start = time.perf_counter_ns()
    for index in indices:
        step(index)
    await hass.async_block_till_done()
    return time.perf_counter_ns() - start, time.thread_time_ns() - cpu
