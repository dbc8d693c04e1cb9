"""Shared fixtures: Home Assistant's test harness, fast reconnects, an HTTP session, simulators."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any
from unittest.mock import PropertyMock, patch

import aiohttp
import pytest

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_CLIENT_ID, CONF_CLIENT_SECRET, CONF_TOKEN, CONF_URL
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity import Entity
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.lorawan_hub.const import (
    CONF_APP_ID,
    CONF_AUTH_URL,
    CONF_PUSH_ID,
    CONF_PUSH_SECRET,
    CONF_VENDOR,
    DOMAIN,
    EVENT_DOWNLINK_STATUS,
    EVENT_UPLINK,
)
from custom_components.lorawan_hub.lns import base
from custom_components.lorawan_hub.vendors.iotsquare import iotsquare_unique_id
from custom_components.lorawan_hub.vendors.netemera import netemera_unique_id
from custom_components.lorawan_hub.vendors.orion import orion_unique_id
from simulator.iotsquare import IotSquareSimulator
from simulator.netemera import NetemeraSimulator
from simulator.orion import OrionSimulator

# The devices every Orion test starts with: DevEUI → description.
ORION_DEVICES = {
    "70B3D57ED0000001": "Living room climate",
    "70B3D57ED0000002": "Front door",
    "70B3D57ED0000003": "Garden tracker",
}


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load the integration from custom_components/."""


@pytest.fixture(autouse=True)
def local_sockets(socket_enabled: None) -> None:
    """Allow sockets: the tests talk to simulators on 127.0.0.1 (other hosts stay blocked)."""


@pytest.fixture
def all_entities_enabled() -> Iterator[None]:
    """Create the entities that are disabled by default enabled, as a user who enabled them."""
    with patch.object(
        Entity, "entity_registry_enabled_default", new_callable=PropertyMock, return_value=True
    ):
        yield


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session, for clients and requests outside Home Assistant."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(autouse=True)
def fast_reconnect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reconnect after 10 ms instead of a second, so outage tests run quickly."""
    monkeypatch.setattr(base, "RECONNECT_INITIAL", 0.01)


@pytest.fixture
async def orion() -> AsyncIterator[OrionSimulator]:
    """An Orion network server on 127.0.0.1 with three devices."""
    simulator = OrionSimulator(app_id="test-app", token="test-token")
    simulator.add_device("70B3D57ED0000001", description=ORION_DEVICES["70B3D57ED0000001"])
    simulator.add_device("70B3D57ED0000002", description=ORION_DEVICES["70B3D57ED0000002"])
    simulator.add_device(
        "70B3D57ED0000003",
        description=ORION_DEVICES["70B3D57ED0000003"],
        node_class=3,
        lat=43.2218,
        lon=76.8975,
    )
    async with simulator:
        yield simulator


NETEMERA_APP = "building-7"
NETEMERA_ENTRY_ID = "01KANETEMERATESTENTRY00000"


@pytest.fixture
async def netemera() -> AsyncIterator[NetemeraSimulator]:
    """A Netemera server with one application and two devices."""
    simulator = NetemeraSimulator(keepalive=0.1)
    simulator.add_application(NETEMERA_APP, "Building 7")
    simulator.add_device(
        "70B3D57ED0000101", NETEMERA_APP, name="Office climate", dev_addr="260B0101"
    )
    simulator.add_device("70B3D57ED0000102", NETEMERA_APP, name="Office door")
    simulator.add_profile("profile-c", name="Sensor class C", supportsClassC=True)
    async with simulator:
        yield simulator


@pytest.fixture
def netemera_entry(netemera: NetemeraSimulator) -> MockConfigEntry:
    """A config entry of the simulator's application."""
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id=NETEMERA_ENTRY_ID,
        title="Netemera Building 7",
        unique_id=netemera_unique_id({CONF_URL: netemera.api_url, CONF_APP_ID: NETEMERA_APP}),
        data={
            CONF_VENDOR: "netemera",
            CONF_URL: netemera.api_url,
            CONF_AUTH_URL: netemera.token_url,
            CONF_CLIENT_ID: netemera.client_id,
            CONF_CLIENT_SECRET: netemera.client_secret,
            CONF_APP_ID: NETEMERA_APP,
        },
    )


class EventRecorder:
    """Records a bus event type and lets a test wait for a number of them."""

    def __init__(self, hass: HomeAssistant, event_type: str) -> None:
        """Start listening."""
        self.events: list[Event] = []
        self._changed = asyncio.Event()
        hass.bus.async_listen(event_type, self._record)

    @callback
    def _record(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    async def wait(self, count: int, timeout: float = 10) -> list[Event]:
        """Wait until ``count`` events arrived; return them all."""
        async with asyncio.timeout(timeout):
            while len(self.events) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.events


@pytest.fixture
def uplinks(hass: HomeAssistant) -> EventRecorder:
    """The ``lorawan_hub_uplink`` events."""
    return EventRecorder(hass, EVENT_UPLINK)


@pytest.fixture
def downlink_statuses(hass: HomeAssistant) -> EventRecorder:
    """The ``lorawan_hub_downlink_status`` events."""
    return EventRecorder(hass, EVENT_DOWNLINK_STATUS)


@pytest.fixture
def orion_entry(orion: OrionSimulator) -> MockConfigEntry:
    """The Orion config entry of the simulator's application."""
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id="01KAORIONTESTENTRY000000000",
        title="OrionM2M test-app",
        unique_id=orion_unique_id({CONF_URL: orion.url, CONF_APP_ID: orion.app_id}),
        data={
            CONF_VENDOR: "orion",
            CONF_URL: orion.url,
            CONF_APP_ID: orion.app_id,
            CONF_TOKEN: orion.token,
        },
    )


@pytest.fixture
async def loaded_orion_entry(
    hass: HomeAssistant, orion_entry: MockConfigEntry, orion: OrionSimulator
) -> MockConfigEntry:
    """The Orion config entry, set up and subscribed to the simulator."""
    orion_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(orion_entry.entry_id)
    await hass.async_block_till_done()
    await orion.wait_for_request("get_device_coordinates_req")
    await orion.wait_for_consumers(1)
    return orion_entry


def entities_snapshot(
    hass: HomeAssistant, entity_registry: er.EntityRegistry, config_entry_id: str
) -> dict[str, dict[str, Any]]:
    """Return the stable description and state of every entity of an entry."""
    result: dict[str, dict[str, Any]] = {}
    entries = er.async_entries_for_config_entry(entity_registry, config_entry_id)
    for entry in sorted(entries, key=lambda item: item.entity_id):
        state = hass.states.get(entry.entity_id)
        result[entry.entity_id] = {
            "unique_id": entry.unique_id,
            "original_name": entry.original_name,
            "translation_key": entry.translation_key,
            "device_class": entry.original_device_class,
            "unit_of_measurement": entry.unit_of_measurement,
            "entity_category": entry.entity_category,
            "capabilities": entry.capabilities,
            "state": state.state if state else None,
            "attributes": dict(state.attributes) if state else None,
        }
    return result


def state_of(hass: HomeAssistant, entity_id: str) -> str:
    """Return an entity's state, failing the test when the entity does not exist."""
    state = hass.states.get(entity_id)
    assert state is not None, f"{entity_id} does not exist"
    return state.state


IOTSQUARE_ENTRY_ID = "01KAIOTSQUARETESTENTRY0000"


@pytest.fixture
async def iotsquare() -> AsyncIterator[IotSquareSimulator]:
    """An IoTSquare server with one application of two devices."""
    simulator = IotSquareSimulator()
    app = simulator.add_app("garden")
    simulator.add_device(app.app_id, "90B96DADCE96A06A", "Basement meter")
    simulator.add_device(app.app_id, "55E1032590DC5682", "Street lamp", support_class_c=True)
    simulator.add_app("empty")
    async with simulator:
        yield simulator


async def load_iotsquare(
    hass: HomeAssistant,
    sim: IotSquareSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    options: dict[str, Any] | None = None,
) -> MockConfigEntry:
    """Set up an entry of the simulator's first application, pushing to Home Assistant."""
    data = {
        CONF_VENDOR: "iotsquare",
        CONF_URL: sim.url,
        CONF_TOKEN: sim.token,
        CONF_APP_ID: 89,
        CONF_PUSH_ID: "push-id-0123",
        CONF_PUSH_SECRET: "p4ss",
    }
    entry = MockConfigEntry(
        domain=DOMAIN,
        entry_id=IOTSQUARE_ENTRY_ID,
        title="IoTSquare garden",
        unique_id=iotsquare_unique_id(data),
        data=data,
        options=options or {},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    http = await hass_client_no_auth()  # the test server takes the routes registered so far
    app = sim.apps[89]
    app.push_url = f"http://127.0.0.1:{http.server.port}/api/lorawan_hub/push/push-id-0123"
    app.headers = {"Authorization": "Bearer p4ss"}
    return entry


async def start_vendor_flow(hass: HomeAssistant, vendor: str) -> str:
    """Open the flow, pick ``vendor``, and return the flow id at the vendor's first form."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_VENDOR: vendor}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == vendor
    return str(result["flow_id"])


@pytest.fixture
def no_unload() -> Iterator[None]:
    """Entries the flow creates are not really set up: unloading them has nothing to stop."""
    with patch("custom_components.lorawan_hub.async_unload_entry", return_value=True):
        yield
