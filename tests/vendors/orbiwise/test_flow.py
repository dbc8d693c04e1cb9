"""The OrbiWAN config flow: the account, each push channel, reauth and reconfigure."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import patch

from amqtt.broker import Broker
import pytest

from homeassistant.const import CONF_PASSWORD, CONF_URL, CONF_USERNAME, CONF_WEBHOOK_ID
from homeassistant.core import HomeAssistant
from homeassistant.core_config import async_process_ha_core_config
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lorawan_hub.const import (
    CONF_APPLICATION,
    CONF_AUTH_MODE,
    CONF_MQTT_HOST,
    CONF_MQTT_PORT,
    CONF_MQTT_TLS,
    CONF_PUSH_REPLACES,
    CONF_PUSH_SECRET,
    CONF_TRANSPORT,
    CONF_VENDOR,
    DOMAIN,
)
from custom_components.lorawan_hub.lns.orbiwise import OrbiWiseClient
from custom_components.lorawan_hub.vendors.orbiwise import orbiwise_unique_id
from simulator.orbiwise import OrbiWiseSimulator
from tests.conftest import start_vendor_flow

from .test_mqtt import ScriptedBroker, free_port

SETUP = "custom_components.lorawan_hub.async_setup_entry"


@pytest.fixture
async def orbiwise() -> AsyncIterator[OrbiWiseSimulator]:
    """An OrbiWAN server with one device."""
    simulator = OrbiWiseSimulator()
    simulator.add_node("70B3D57ED0000301", comment="Meter", applications={"app-1"})
    async with simulator:
        yield simulator


def account(orbiwise: OrbiWiseSimulator, **change: Any) -> dict[str, Any]:
    """The first step's input for the simulator."""
    return {
        CONF_URL: orbiwise.url + "/",
        CONF_USERNAME: f" {orbiwise.username} ",
        CONF_PASSWORD: orbiwise.password,
        CONF_AUTH_MODE: "oauth2",
        CONF_TRANSPORT: "websocket",
    } | change


async def test_websocket_entry(hass: HomeAssistant, orbiwise: OrbiWiseSimulator) -> None:
    """Working credentials with the default WebSocket channel create the entry at once."""
    flow_id = await start_vendor_flow(hass, "orbiwise")
    with patch(SETUP, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            flow_id, account(orbiwise, **{CONF_APPLICATION: " app-1 "})
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"OrbiWAN {orbiwise.username} / app-1"
    assert result["data"] == {
        CONF_VENDOR: "orbiwise",
        CONF_URL: orbiwise.url,
        CONF_USERNAME: orbiwise.username,
        CONF_PASSWORD: orbiwise.password,
        CONF_AUTH_MODE: "oauth2",
        CONF_TRANSPORT: "websocket",
        CONF_APPLICATION: "app-1",
    }
    assert result["result"].unique_id == f"127.0.0.1:{orbiwise.port}/{orbiwise.username}/app-1"


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({CONF_PASSWORD: "wrong"}, {"base": "invalid_auth"}),
        ({CONF_URL: "lora.example.com"}, {CONF_URL: "invalid_http_url"}),
        ({CONF_AUTH_MODE: "basic", CONF_PASSWORD: "wrong"}, {"base": "invalid_auth"}),
    ],
)
async def test_account_errors(
    hass: HomeAssistant,
    orbiwise: OrbiWiseSimulator,
    change: dict[str, Any],
    errors: dict[str, str],
) -> None:
    """Refused credentials and a URL without scheme keep the form with a translated error."""
    flow_id = await start_vendor_flow(hass, "orbiwise")
    result = await hass.config_entries.flow.async_configure(flow_id, account(orbiwise, **change))
    assert result["errors"] == errors


async def test_forbidden_and_unreachable(hass: HomeAssistant, orbiwise: OrbiWiseSimulator) -> None:
    """An account without the right to list devices, then a server that is gone."""
    flow_id = await start_vendor_flow(hass, "orbiwise")
    orbiwise.fail_next("/rest/nodes", 403)
    result = await hass.config_entries.flow.async_configure(flow_id, account(orbiwise))
    assert result["errors"] == {"base": "forbidden"}
    await orbiwise.stop()
    result = await hass.config_entries.flow.async_configure(flow_id, account(orbiwise))
    assert result["errors"] == {"base": "cannot_connect"}


async def test_already_configured(hass: HomeAssistant, orbiwise: OrbiWiseSimulator) -> None:
    """The same account on the same server is added once."""
    data = {**account(orbiwise), CONF_VENDOR: "orbiwise", CONF_URL: orbiwise.url}
    data[CONF_USERNAME] = orbiwise.username
    MockConfigEntry(domain=DOMAIN, unique_id=orbiwise_unique_id(data), data=data).add_to_hass(hass)
    flow_id = await start_vendor_flow(hass, "orbiwise")
    result = await hass.config_entries.flow.async_configure(flow_id, account(orbiwise))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


@pytest.fixture
async def broker() -> AsyncIterator[int]:
    """An MQTT broker on 127.0.0.1; yields its port."""
    port = free_port()
    server = Broker({"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}}})
    await server.start()
    yield port
    await server.shutdown()


async def test_mqtt_entry(hass: HomeAssistant, orbiwise: OrbiWiseSimulator, broker: int) -> None:
    """MQTT asks for the broker (the server's host by default) and checks it."""
    flow_id = await start_vendor_flow(hass, "orbiwise")
    result = await hass.config_entries.flow.async_configure(
        flow_id, account(orbiwise, **{CONF_TRANSPORT: "mqtt"})
    )
    assert result["step_id"] == "orbiwise_mqtt"
    schema = result["data_schema"]
    assert schema is not None
    suggested = {str(key): (key.description or {}).get("suggested_value") for key in schema.schema}
    assert suggested == {CONF_MQTT_HOST: "127.0.0.1", CONF_MQTT_PORT: 8883, CONF_MQTT_TLS: True}
    mqtt = {CONF_MQTT_HOST: "127.0.0.1", CONF_MQTT_PORT: free_port(), CONF_MQTT_TLS: False}
    result = await hass.config_entries.flow.async_configure(flow_id, mqtt)
    assert result["errors"] == {"base": "cannot_connect"}
    async with ScriptedBroker(5) as refusing:
        result = await hass.config_entries.flow.async_configure(
            flow_id, {**mqtt, CONF_MQTT_PORT: refusing.port}
        )
    assert result["errors"] == {"base": "invalid_auth"}
    with patch(SETUP, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {**mqtt, CONF_MQTT_PORT: broker}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_MQTT_PORT] == broker
    assert result["data"][CONF_MQTT_TLS] is False


async def test_rest_push_entry(hass: HomeAssistant, orbiwise: OrbiWiseSimulator) -> None:
    """REST push shows the address the server will push to; without one it cannot go on."""
    flow_id = await start_vendor_flow(hass, "orbiwise")
    result = await hass.config_entries.flow.async_configure(
        flow_id, account(orbiwise, **{CONF_TRANSPORT: "rest_push"})
    )
    assert result["step_id"] == "orbiwise_push"
    assert result["errors"] == {"base": "no_external_url"}
    result = await hass.config_entries.flow.async_configure(flow_id, {})
    assert result["errors"] == {"base": "no_external_url"}
    await async_process_ha_core_config(hass, {"external_url": "https://home.example.com"})
    result = await hass.config_entries.flow.async_configure(flow_id, {})
    assert result["type"] is FlowResultType.FORM
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert placeholders["url"].startswith("https://home.example.com/api/webhook/")
    with patch(SETUP, return_value=True):
        result = await hass.config_entries.flow.async_configure(flow_id, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    data = result["data"]
    assert placeholders["url"].endswith(data[CONF_WEBHOOK_ID])
    assert len(data[CONF_PUSH_SECRET]) >= 32


@pytest.fixture
def orbiwise_entry(orbiwise: OrbiWiseSimulator) -> MockConfigEntry:
    """An entry of the simulated account."""
    data = {
        CONF_VENDOR: "orbiwise",
        CONF_URL: orbiwise.url,
        CONF_USERNAME: orbiwise.username,
        CONF_PASSWORD: orbiwise.password,
        CONF_AUTH_MODE: "oauth2",
        CONF_TRANSPORT: "websocket",
    }
    return MockConfigEntry(
        domain=DOMAIN, title="OrbiWAN demo-user", unique_id=orbiwise_unique_id(data), data=data
    )


async def test_reauth(
    hass: HomeAssistant, orbiwise: OrbiWiseSimulator, orbiwise_entry: MockConfigEntry
) -> None:
    """Reauthentication asks for the user and password again."""
    orbiwise_entry.add_to_hass(hass)
    orbiwise.password = "rotated"
    result = await orbiwise_entry.start_reauth_flow(hass)
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert placeholders["account"] == orbiwise.username
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: "old"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    orbiwise.password = " changed "
    with patch(SETUP, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_PASSWORD: " changed "}
        )
    assert result["reason"] == "reauth_successful"
    # A password is taken as typed, spaces included.
    assert orbiwise_entry.data[CONF_PASSWORD] == " changed "


async def test_reconfigure(
    hass: HomeAssistant, orbiwise: OrbiWiseSimulator, orbiwise_entry: MockConfigEntry
) -> None:
    """Address and authentication change; an empty password keeps the stored one."""
    orbiwise_entry.add_to_hass(hass)
    result = await orbiwise_entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure_orbiwise"
    form = {CONF_URL: orbiwise.url, CONF_AUTH_MODE: "basic"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**form, CONF_URL: "ftp://x"}
    )
    assert result["errors"] == {CONF_URL: "invalid_http_url"}
    with patch(SETUP, return_value=True):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], form)
    assert result["reason"] == "reconfigure_successful"
    assert orbiwise_entry.data[CONF_AUTH_MODE] == "basic"
    assert orbiwise_entry.data[CONF_PASSWORD] == orbiwise.password
    result = await orbiwise_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**form, CONF_URL: "https://other.example.com"}
    )
    assert result["reason"] == "unique_id_mismatch"


async def rest_push_form(hass: HomeAssistant, orbiwise: OrbiWiseSimulator) -> str:
    """Start a REST push entry up to the form showing the push address; return the flow id."""
    await async_process_ha_core_config(hass, {"external_url": "https://home.example.com"})
    flow_id = await start_vendor_flow(hass, "orbiwise")
    result = await hass.config_entries.flow.async_configure(
        flow_id, account(orbiwise, **{CONF_TRANSPORT: "rest_push"})
    )
    assert result["step_id"] == "orbiwise_push"
    return flow_id


async def test_rest_push_asks_before_replacing_a_push(
    hass: HomeAssistant, orbiwise: OrbiWiseSimulator
) -> None:
    """
    A push configured elsewhere is named without secrets, and kept unless the user agrees.

    Agreeing stores which configuration may be replaced (scheme, host and port are shown).
    """
    orbiwise.set_push_mode("mqtts://user:pw@broker.example.net", 8883, "/t?token=abc")
    flow_id = await rest_push_form(hass, orbiwise)
    result = await hass.config_entries.flow.async_configure(flow_id, {})
    assert result["step_id"] == "orbiwise_push_replace"
    placeholders = result["description_placeholders"]
    assert placeholders == {"target": "mqtts://broker.example.net:8883"}
    result = await hass.config_entries.flow.async_configure(flow_id, {"replace_push": False})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "orbiwise_push_kept"
    assert orbiwise.push_modes[""].host == "mqtts://user:pw@broker.example.net"

    flow_id = await rest_push_form(hass, orbiwise)
    result = await hass.config_entries.flow.async_configure(flow_id, {})
    with patch(SETUP, return_value=True):
        result = await hass.config_entries.flow.async_configure(flow_id, {"replace_push": True})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    theirs = await OrbiWiseClient(
        async_get_clientsession(hass),
        orbiwise.url,
        username=orbiwise.username,
        password=orbiwise.password,
    ).push_configuration()
    assert theirs is not None
    assert result["data"][CONF_PUSH_REPLACES] == theirs.fingerprint
    assert orbiwise.push_modes[""].enabled  # nothing changes before the entry starts


async def test_rest_push_status_unreadable(
    hass: HomeAssistant, orbiwise: OrbiWiseSimulator
) -> None:
    """When the push configuration cannot be read, the flow says so and can try again."""
    flow_id = await rest_push_form(hass, orbiwise)
    orbiwise.fail_next("/rest/pushmode/status", 500)
    result = await hass.config_entries.flow.async_configure(flow_id, {})
    assert result["errors"] == {"base": "cannot_connect"}
    with patch(SETUP, return_value=True):
        result = await hass.config_entries.flow.async_configure(flow_id, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert CONF_PUSH_REPLACES not in result["data"]
