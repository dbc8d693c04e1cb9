"""Decoding the devices of Home Assistant's LoRaWAN connections (a stand-in registry on 2026.10).

Home Assistant 2026.10 has no framework: a stand-in registry holds connections the way
``homeassistant.components.lorawan`` does, each a ``lorawan_connection.MockConnection`` (the
library's own). The end-to-end tests run the real framework with Home Assistant's ChirpStack.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest.mock import patch

from aiohttp import web
from lorawan_connection import (
    AckEvent,
    AddedEvent,
    DeviceDescriptor,
    GatewayReception,
    JoinEvent,
    LocationEvent,
    LogEvent,
    RemovedEvent,
    StatusEvent,
    TxAckEvent,
    UplinkEvent,
)
from lorawan_connection.mock import MockConnection
import pytest

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, discovery_flow
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lorawan_hub import async_remove_config_entry_device
from custom_components.lorawan_hub.codecs import repository as repository_module
from custom_components.lorawan_hub.const import (
    CONF_CODEC,
    CONF_DECODED,
    CONF_DEVICES,
    CONF_VENDOR,
    DOMAIN,
)
from custom_components.lorawan_hub.diagnostics import async_get_config_entry_diagnostics
from custom_components.lorawan_hub.framework import consumer
from custom_components.lorawan_hub.framework.consumer import (
    FrameworkClient,
    FrameworkDevice,
)
from custom_components.lorawan_hub.lns.errors import CannotConnect, InvalidRequest, Unsupported
from custom_components.lorawan_hub.lns.models import (
    Downlink,
    DownlinkMode,
    DownlinkState,
    LoRaClass,
)
from custom_components.lorawan_hub.vendors import framework as framework_vendor
from simulator.lorawan_registry import Registry
from simulator.server import SimulatorServer
from tests.conftest import EventRecorder, state_of
from tests.vendors.sink import RecordingSink

NETWORK = "01KACHIRPSTACKENTRY00000000"
CLIMATE = "A84041000181C061"
OTHER = "A84041000181C062"
S2101 = "2CF7F1C04430004B"
AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
# Cayenne LPP: temperature channel 1 = 22.5 °C.
LPP_22_5 = bytes.fromhex("016700E1")
CODECS = Path(__file__).parents[1] / "codecs" / "js"


def descriptor(dev_eui: str, name: str, **identity: Any) -> DeviceDescriptor:
    """Return a ChirpStack-like descriptor (TTS identities when given ``brand_id``)."""
    return DeviceDescriptor(
        NETWORK,
        dev_eui,
        name,
        "app-1",
        "profile-1",
        identity.get("model_id", ""),
        identity.get("brand_id"),
        stack=identity.get("stack", "tts"),
    )


@pytest.fixture
def registry() -> Registry:
    """A registry with one ChirpStack-like connection of two devices."""
    stand_in = Registry()
    stand_in.register(
        NETWORK,
        MockConnection(
            [
                descriptor(CLIMATE, "Greenhouse", brand_id="acme", model_id="climate-sensor"),
                descriptor(OTHER, "Door"),
            ],
            stack_type="tts",
        ),
    )
    return stand_in


def connection_of(registry: Registry) -> MockConnection:
    """Return the stand-in's connection."""
    return registry.connections[NETWORK].connection


async def test_events_of_the_chosen_devices(hass: HomeAssistant, registry: Registry) -> None:
    """Only the chosen devices' events reach the sink; the others are offered."""
    provider = MockConfigEntry(domain="chirpstack", entry_id=NETWORK)
    provider.add_to_hass(hass)
    offered: list[FrameworkDevice] = []
    client = FrameworkClient(hass, {CLIMATE: NETWORK}, offer=offered.append)
    sink = RecordingSink()
    with patch.object(consumer, "async_registry", return_value=registry):
        listed = await client.list_devices()
        assert [device.dev_eui for device in listed] == [CLIMATE]
        assert (listed[0].name, listed[0].profile) == ("Greenhouse", "profile-1")
        task = hass.async_create_background_task(client.run(sink), "framework client")
        await sink.wait_for(lambda: sink.up)
    assert [device.dev_eui for device in offered] == [OTHER]
    connection = connection_of(registry)
    the_device = connection.devices[CLIMATE.lower()]
    connection.emit(
        UplinkEvent(
            descriptor=the_device,
            received_at=AT,
            data=LPP_22_5,
            f_port=2,
            receptions=(
                GatewayReception("gw-3"),
                GatewayReception("gw-2", -99.0, 1.0),
                GatewayReception("gw-1", -70.0, 9.0),
            ),
        )
    )
    connection.emit(JoinEvent(descriptor=the_device, received_at=AT, dev_addr="01020304"))
    connection.emit(
        StatusEvent(
            descriptor=the_device,
            received_at=AT,
            margin=7,
            battery_level_unavailable=False,
            battery_level=55.0,
        )
    )
    connection.emit(
        AckEvent(descriptor=the_device, received_at=AT, queue_item_id="1", acknowledged=False)
    )
    connection.emit(
        LocationEvent(
            descriptor=the_device, received_at=AT, latitude=1.0, longitude=2.0, altitude=3.0
        )
    )
    other = connection.devices[OTHER.lower()]
    connection.emit(UplinkEvent(descriptor=other, received_at=AT, data=b"\x01", f_port=1))
    (uplink,) = sink.uplinks
    assert (uplink.dev_eui, uplink.f_port, uplink.payload) == (CLIMATE, 2, LPP_22_5)
    assert [gateway.gateway_id for gateway in uplink.gateways] == ["gw-1", "gw-2", "gw-3"]
    assert (uplink.rssi, uplink.snr) == (-70.0, 9.0)
    assert sink.joins[0].dev_addr == "01020304"
    assert (sink.device_statuses[0].battery, sink.device_statuses[0].margin) == (55.0, 7)
    assert sink.downlink_statuses[0].state is DownlinkState.FAILED
    assert sink.locations[CLIMATE].altitude == 3.0
    # A downlink goes through the device's connection; its id is the connection's.
    result = await client.send_downlink(Downlink(dev_eui=CLIMATE, f_port=5, payload=b"\x0a"))
    assert result.message_id == "1"
    assert connection.downlinks["1"].data == b"\x0a"
    for refused in (
        Downlink(dev_eui=CLIMATE, f_port=5, payload=b"\x0a", mode=DownlinkMode.REPLACE),
        Downlink(dev_eui=CLIMATE, f_port=5, payload=b"\x0a", device_class=LoRaClass.C),
    ):
        with pytest.raises(Unsupported):
            await client.send_downlink(refused)
    # The connection goes: its devices are unreachable, downlinks cannot go; back: reachable.
    registry.unregister(NETWORK)
    assert sink.reachability[-1] == ([CLIMATE], False)
    # Away, its devices are unreachable, not gone: still listed, as last known.
    assert [device.name for device in await client.list_devices()] == ["Greenhouse"]
    # Unless the entry of its integration was deleted: then the devices went with it.
    with patch.object(hass.config_entries, "async_get_entry", return_value=None):
        assert await client.list_devices() == []
    with pytest.raises(CannotConnect):
        await client.send_downlink(Downlink(dev_eui=CLIMATE, f_port=5, payload=b"\x0a"))
    back = MockConnection([descriptor(CLIMATE, "Greenhouse 2")], stack_type="tts")
    registry.register(NETWORK, back)
    await hass.async_block_till_done()
    assert sink.reachability[-1] == ([CLIMATE], True)
    assert sink.device_updates[-1].name == "Greenhouse 2"
    assert [device.name for device in sink.device_lists[-1]] == ["Greenhouse 2"]
    # Removed from its server: no longer listed (the coordinator removes it once silent).
    back.emit(RemovedEvent(descriptor=back.devices[CLIMATE.lower()], received_at=AT))
    assert sink.device_lists[-1] == []
    back.emit(AddedEvent(descriptor=descriptor(CLIMATE, "Greenhouse 3"), received_at=AT))
    assert sink.device_updates[-1].name == "Greenhouse 3"
    back.disconnect()
    with pytest.raises(InvalidRequest, match="disconnected"):
        await client.send_downlink(Downlink(dev_eui=CLIMATE, f_port=5, payload=b"\x0a"))
    # Home Assistant stops: the framework clears its listeners before the client stops.
    registry.connection_change_listeners.clear()
    task.cancel()
    await hass.async_block_till_done()
    assert task.cancelled()
    assert registry.connection_change_listeners == []


async def test_a_device_chosen_in_the_options(hass: HomeAssistant) -> None:
    """A device that names no model is chosen in the options, decoded, and removed again."""
    registry = Registry()
    registry.register(
        NETWORK,
        MockConnection(
            [descriptor(CLIMATE, "Greenhouse"), descriptor(OTHER, "Door")], stack_type="tts"
        ),
    )
    provider = MockConfigEntry(domain="chirpstack", entry_id=NETWORK, title="Farm ChirpStack")
    provider.add_to_hass(hass)
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="framework", data={CONF_VENDOR: "framework"}, title="LoRaWAN"
    )
    entry.add_to_hass(hass)
    uplinks = EventRecorder(hass, "lorawan_hub_uplink")
    with patch.object(consumer, "async_registry", return_value=registry):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        result = await hass.config_entries.options.async_init(entry.entry_id)
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"next_step_id": "device"}
        )
        schema = result["data_schema"]
        assert schema is not None
        labels = {
            option["value"]: option["label"] for option in schema.schema["device"].config["options"]
        }
        assert labels == {
            CLIMATE: f"Greenhouse ({CLIMATE}, Farm ChirpStack)",
            OTHER: f"Door ({OTHER}, Farm ChirpStack)",
        }
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"device": OTHER}
        )
        assert result["step_id"] == "device_options"
        # Nothing of a LoRaWAN connection's own: no repository model, no entities to keep.
        schema = result["data_schema"]
        assert schema is not None
        assert set(schema.schema) == {"codec", "offline_after"}
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"codec": "cayenne_lpp"}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
        assert entry.options[CONF_DECODED] == {OTHER: NETWORK}
        assert entry.options[CONF_DEVICES] == {OTHER: {CONF_CODEC: "cayenne_lpp"}}
        connection = connection_of(registry)
        connection.emit(
            UplinkEvent(
                descriptor=connection.devices[OTHER.lower()],
                received_at=AT,
                data=LPP_22_5,
                f_port=3,
            )
        )
        await uplinks.wait(1)
        await hass.async_block_till_done()
        assert state_of(hass, "sensor.door_temperature_1") == "22.5"
        # What a connection cannot do is refused, saying why.
        device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, OTHER), entry.entry_id)
        assert device is not None
        with pytest.raises(ServiceValidationError) as refused:
            await hass.services.async_call(
                DOMAIN,
                "set_device_class",
                {"device_id": device.id, "device_class": "c"},
                blocking=True,
            )
        assert refused.value.translation_key == "connection_cannot"
        # A device integration makes it its own (on its connection's network): ours go.
        sensecap = MockConfigEntry(domain="sensecap_lorawan")
        sensecap.add_to_hass(hass)
        dr.async_get(hass).async_get_or_create(
            config_entry_id=sensecap.entry_id,
            identifiers={("sensecap_lorawan", f"{NETWORK}:{OTHER.lower()}")},
        )
        await hass.async_block_till_done()
        assert hass.states.get("sensor.door_temperature_1") is None
        assert entry.runtime_data.devices[OTHER].claimed_by == "sensecap_lorawan"
        # Removed from its page: no longer decoded, and offered in the options again.
        assert await async_remove_config_entry_device(hass, entry, device)
        assert entry.options[CONF_DECODED] == {}
        assert OTHER not in entry.options[CONF_DEVICES]
        connection.emit(
            UplinkEvent(
                descriptor=connection.devices[OTHER.lower()],
                received_at=AT,
                data=LPP_22_5,
                f_port=3,
            )
        )
        await hass.async_block_till_done()
        assert len(uplinks.events) == 1
        result = await hass.config_entries.options.async_init(entry.entry_id)
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"next_step_id": "device"}
        )
        schema = result["data_schema"]
        assert schema is not None
        assert OTHER in {option["value"] for option in schema.schema["device"].config["options"]}
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_without_the_framework(hass: HomeAssistant) -> None:
    """On a release without the framework the client says so."""
    client = FrameworkClient(hass, {})
    with pytest.raises(CannotConnect, match="no LoRaWAN framework"):
        await client.validate()


class Repository(SimulatorServer):
    """A LoRaWAN Device Repository with one model: acme's climate sensor."""

    def __init__(self) -> None:
        """Serve the model's file, its codec's file and its JavaScript."""
        app = web.Application()
        app.router.add_get("/{path:.*}", self._serve)
        super().__init__(app)
        self.files = {
            "vendor/index.yaml": "vendors:\n  - id: acme\n    name: Acme Sensors\n",
            "vendor/acme/index.yaml": "endDevices:\n  - climate-sensor\n",
            "vendor/acme/climate-sensor.yaml": (
                "name: Climate sensor\nfirmwareVersions:\n  - version: '1.0'\n"
                "    profiles:\n      EU863-870:\n        codec: climate-codec\n"
            ),
            "vendor/acme/climate-codec.yaml": "uplinkDecoder:\n  fileName: climate.js\n",
            "vendor/acme/climate.js": (CODECS / "climate.js").read_text(encoding="utf-8"),
        }

    async def _serve(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        if path not in self.files:
            return web.Response(status=404)
        return web.Response(text=self.files[path])


@pytest.mark.parametrize(
    "stack",
    [
        # The Things Stack: the repository identity itself.
        "tts",
        # ChirpStack: its device catalog's vendor and device names (a LoRa Alliance vendor id).
        "chirpstack",
    ],
)
async def test_discovery_adds_decoding_in_one_confirmation(
    hass: HomeAssistant, tmp_path: Path, stack: str
) -> None:
    """A device that names its model is offered, confirmed, then decoded with its codec."""
    hass.config.config_dir = str(tmp_path)
    registry = Registry()
    greenhouse = (
        descriptor(CLIMATE, "Greenhouse", brand_id="acme", model_id="climate-sensor")
        if stack == "tts"
        else DeviceDescriptor(
            NETWORK,
            CLIMATE.lower(),
            "Greenhouse",
            "app-1",
            "profile-1",
            "5b7bc5f4-6c7e-4c4e-9a57-2b0d1e6f2a10",
            1234,
            "Climate Sensor",
            "ACME sensors",
            stack="chirpstack",
        )
    )
    registry.register(
        NETWORK, MockConnection([greenhouse, descriptor(OTHER, "Door")], stack_type=stack)
    )
    repository = Repository()
    await repository.start()
    uplinks = EventRecorder(hass, "lorawan_hub_uplink")
    offered: asyncio.Future[str] = hass.loop.create_future()

    def flow_added(change: str, flow_id: str) -> None:
        if change == "added" and not offered.done():
            offered.set_result(flow_id)

    unsubscribe = hass.config_entries.flow.async_subscribe_flow(flow_added)
    with (
        patch.object(consumer, "async_registry", return_value=registry),
        patch.object(framework_vendor, "async_framework_module", return_value=object()),
        patch.object(repository_module, "DEFAULT_REPOSITORY", repository.base_url),
    ):
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_VENDOR: "framework"}
        )
        assert result["step_id"] == "framework"
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
        assert result["type"] is FlowResultType.CREATE_ENTRY
        entry = result["result"]
        # The greenhouse sensor names its model: it is offered (a discovery, in the background).
        flow_id = await offered
        unsubscribe()
        (flow,) = [
            flow
            for flow in hass.config_entries.flow.async_progress()
            if flow["handler"] == DOMAIN and flow["step_id"] == "decode_device"
        ]
        assert flow["flow_id"] == flow_id
        assert flow["context"]["title_placeholders"] == {"name": "Greenhouse"}
        result = await hass.config_entries.flow.async_configure(flow["flow_id"], {})
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "decoding_added"
        await hass.async_block_till_done()
        assert entry.options[CONF_DECODED] == {CLIMATE: NETWORK}
        assert entry.options[CONF_DEVICES][CLIMATE][CONF_CODEC] == "js:acme_climate_sensor"
        # Diagnostics say which profile was taken, and why.
        diagnostics = await async_get_config_entry_diagnostics(hass, entry)
        assert diagnostics["devices"][CLIMATE]["device_type"] == {
            "source": "repository",
            "vendor_id": "acme",
            "model": "climate-sensor",
            "firmware": "1.0",
            "chosen": "the codec all its profiles share",
        }
        connection = connection_of(registry)
        connection.emit(
            UplinkEvent(
                descriptor=connection.devices[CLIMATE.lower()],
                received_at=AT,
                data=bytes([0x08, 0x66, 110, 0x0C, 0xE4, 0x01]),
                f_port=2,
            )
        )
        await uplinks.wait(1)
        await hass.async_block_till_done()
        assert state_of(hass, "sensor.greenhouse_air_temperature") == "21.5"
        device = dr.async_get(hass).async_get_device_by_identifier(
            (DOMAIN, CLIMATE), entry.entry_id
        )
        assert device is not None
        assert device.name == "Greenhouse"
        # Offered again (a restart), it is decoded already.
        result = await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": "integration_discovery"},
            data={
                "network_id": NETWORK,
                "dev_eui": CLIMATE,
                "name": "Greenhouse",
                "brand_id": "acme",
                "model_id": "climate-sensor",
            },
        )
        assert result["reason"] == "already_decoded"
        # A model the repository does not know is not offered.
        result = await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": "integration_discovery"},
            data={
                "network_id": NETWORK,
                "dev_eui": OTHER,
                "name": "Door",
                "brand_id": "acme",
                "model_id": "no-such-model",
            },
        )
        assert result["reason"] == "no_codec"
        # Nor a catalog device whose names the repository's lists do not have.
        result = await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": "integration_discovery"},
            data={
                "network_id": NETWORK,
                "dev_eui": OTHER,
                "name": "Door",
                "manufacturer": "ACME sensors",
                "model": "Door sensor",
            },
        )
        assert result["reason"] == "no_codec"
        assert await hass.config_entries.async_unload(entry.entry_id)
    await repository.stop()


@pytest.mark.parametrize(
    ("sensecap", "offered"),
    [
        # Not set up: the framework offers SenseCAP for its brand's devices, not LoRaWAN Hub.
        (None, [CLIMATE]),
        # Set up, and the S2101 is its device: decoded once, there.
        ("claims", [CLIMATE]),
        # Set up, but a model of the brand it left out: LoRaWAN Hub offers it.
        ("leaves", [CLIMATE, S2101]),
    ],
)
async def test_a_device_a_device_integration_takes_is_not_offered(
    hass: HomeAssistant, sensecap: str | None, offered: list[str]
) -> None:
    """A device the manifest matchers of a device integration name is left to it."""
    registry = Registry(integrations={"sensecap_lorawan": [("tts", "sensecap")]})
    registry.register(
        NETWORK,
        MockConnection(
            [
                descriptor(CLIMATE, "Greenhouse", brand_id="acme", model_id="climate-sensor"),
                descriptor(S2101, "Shed", brand_id="sensecap", model_id="sensecaps2101"),
            ],
            stack_type="tts",
        ),
    )
    if sensecap is not None:
        other = MockConfigEntry(domain="sensecap_lorawan", state=ConfigEntryState.LOADED)
        other.add_to_hass(hass)
        if sensecap == "claims":
            dr.async_get(hass).async_get_or_create(
                config_entry_id=other.entry_id,
                identifiers={("sensecap_lorawan", f"{NETWORK}:{S2101.lower()}")},
            )
    seen: list[FrameworkDevice] = []
    client = FrameworkClient(hass, {}, offer=seen.append)
    sink = RecordingSink()
    with patch.object(consumer, "async_registry", return_value=registry):
        task = hass.async_create_background_task(client.run(sink), "framework client")
        await sink.wait_for(lambda: sink.up)
    assert [device.dev_eui for device in seen] == offered
    task.cancel()
    await hass.async_block_till_done()


async def test_offered_with_a_repository_identity_only(hass: HomeAssistant) -> None:
    """The Things Stack names a repository model: offered; without one, not."""
    with patch.object(discovery_flow, "async_create_flow") as create:
        framework_vendor.offer_decoding(hass, FrameworkDevice(NETWORK, descriptor(OTHER, "Door")))
    create.assert_not_called()
    with patch.object(discovery_flow, "async_create_flow") as create:
        framework_vendor.offer_decoding(
            hass,
            FrameworkDevice(NETWORK, descriptor(OTHER, "Door", brand_id="acme", model_id="x")),
        )
    create.assert_called_once()


async def test_not_offered_without_the_framework(hass: HomeAssistant) -> None:
    """On a release without the framework the menu does not offer it."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    schema = result["data_schema"]
    assert schema is not None
    options = schema.schema[CONF_VENDOR].config["options"]
    assert "framework" not in options
    assert "orion" in options


async def test_edges_of_the_decoding_entry(hass: HomeAssistant) -> None:
    """The framework that cannot be set up, reconfiguring, offers without an entry to add to."""
    with (
        patch.object(consumer, "async_registry", return_value=None),
        patch.object(framework_vendor, "async_framework_module", return_value=object()),
    ):
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_VENDOR: "framework"}
        )
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "no_framework")
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="framework", data={CONF_VENDOR: "framework"}, title="LoRaWAN"
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "nothing_to_reconfigure")
    # The ChirpStack device without a catalog link names nothing to look up: not offered.
    with patch.object(discovery_flow, "async_create_flow") as create:
        framework_vendor.offer_decoding(
            hass, FrameworkDevice(NETWORK, descriptor(OTHER, "Door", stack="chirpstack"))
        )
    create.assert_not_called()
    with pytest.raises(TypeError, match="needs Home Assistant"):
        framework_vendor.SPEC.create_client(async_get_clientsession(hass), {}, None)


async def test_offers_without_a_decoding_entry(hass: HomeAssistant, tmp_path: Path) -> None:
    """An offer comes to nothing without the entry; confirmed after it went, it says so."""
    hass.config.config_dir = str(tmp_path)
    offer = {
        "network_id": NETWORK,
        "dev_eui": CLIMATE,
        "name": "Greenhouse",
        "brand_id": "acme",
        "model_id": "climate-sensor",
    }
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "integration_discovery"}, data=offer
    )
    assert result["reason"] == "no_decoding_entry"
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="framework", data={CONF_VENDOR: "framework"}, title="LoRaWAN"
    )
    entry.add_to_hass(hass)
    repository = Repository()
    await repository.start()
    with patch.object(repository_module, "DEFAULT_REPOSITORY", repository.base_url):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": "integration_discovery"}, data=offer
        )
    await repository.stop()
    assert result["step_id"] == "decode_device"
    assert await hass.config_entries.async_remove(entry.entry_id)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["reason"] == "no_decoding_entry"


async def test_connections_it_does_not_follow(hass: HomeAssistant) -> None:
    """Our own entries' connections, one that is down, events that are no device's data."""
    ours = MockConfigEntry(domain=DOMAIN, entry_id="01KAOURORIONENTRY000000000")
    ours.add_to_hass(hass)
    sensecap = MockConfigEntry(domain="sensecap_lorawan", state=ConfigEntryState.LOADED)
    sensecap.add_to_hass(hass)
    dr.async_get(hass).async_get_or_create(
        config_entry_id=sensecap.entry_id,
        identifiers={("sensecap_lorawan", f"{NETWORK}:{S2101.lower()}")},
    )
    registry = Registry(integrations={"sensecap_lorawan": [("tts", "sensecap")]})
    here = MockConnection(
        [
            descriptor(CLIMATE, "Greenhouse"),
            descriptor(OTHER, "Door"),
            descriptor(S2101, "Shed", brand_id="sensecap", model_id="sensecaps2101"),
        ],
        stack_type="tts",
    )
    registry.register(NETWORK, here)
    registry.register(ours.entry_id, MockConnection([descriptor("70B3D57ED0000001", "Ours")]))
    down = MockConnection([descriptor("A840410000000D01", "Away")])
    down.disconnect()
    registry.register("01KADOWNCONNECTION00000000", down)
    client = FrameworkClient(
        hass, {CLIMATE: NETWORK, "A840410000000E01": "01KAGONECONNECTION000000"}
    )
    assert client.undecoded_devices() == []  # nothing known before it looked
    sink = RecordingSink()
    with patch.object(consumer, "async_registry", return_value=registry):
        task = hass.async_create_background_task(client.run(sink), "framework client")
        await sink.wait_for(lambda: sink.up)
    # A device whose connection is not there is unavailable from the start.
    assert (["A840410000000E01"], False) in sink.reachability
    # Neither ours (decoded by their own entry), nor one a device integration made its own.
    undecoded = [device.dev_eui for device in client.undecoded_devices()]
    assert undecoded == [OTHER, "A840410000000D01"]
    assert set(client._subscriptions) == {NETWORK}
    # A gateway's transmission acknowledgement and a log line are no device data.
    the_device = here.devices[CLIMATE.lower()]
    here.emit(TxAckEvent(descriptor=the_device, received_at=AT, gateway_id="gw", downlink_id=1))
    here.emit(LogEvent(descriptor=the_device, received_at=AT, description="x", level=1, code=2))
    assert (sink.uplinks, sink.downlink_statuses, sink.joins) == ([], [], [])
    task.cancel()
    await hass.async_block_till_done()
    # A connection registered once it stopped is not followed.
    registry.register("01KALATECONNECTION00000000", MockConnection([]))
    await hass.async_block_till_done()
    assert client._subscriptions == {}


async def test_the_registry_of_the_framework(hass: HomeAssistant) -> None:
    """The lorawan integration is set up for its registry; one that fails gives none."""
    module = ModuleType("lorawan_connection_module")
    module.DATA_REGISTRY = "lorawan"  # type: ignore[attr-defined]
    hass.data["lorawan"] = registry = Registry()
    with (
        patch.object(consumer, "async_import_module", return_value=module),
        patch.object(consumer, "async_setup_component", return_value=True),
    ):
        assert await consumer.async_registry(hass) is registry
    with (
        patch.object(consumer, "async_import_module", return_value=module),
        patch.object(consumer, "async_setup_component", return_value=False),
    ):
        assert await consumer.async_registry(hass) is None


async def test_a_device_removed_while_the_entry_is_not_loaded(hass: HomeAssistant) -> None:
    """Decoding stops all the same: the options forget it."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="framework",
        data={CONF_VENDOR: "framework"},
        options={
            CONF_DECODED: {CLIMATE: NETWORK, OTHER: NETWORK},
            CONF_DEVICES: {CLIMATE: {CONF_CODEC: "cayenne_lpp"}},
        },
    )
    entry.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, identifiers={(DOMAIN, CLIMATE)}
    )
    assert await async_remove_config_entry_device(hass, entry, device)
    assert entry.options[CONF_DECODED] == {OTHER: NETWORK}
    assert entry.options[CONF_DEVICES] == {}
