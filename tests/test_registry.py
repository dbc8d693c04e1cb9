"""
What holds for every vendor of the registry (``vendors/``), tested once per vendor.

A vendor added to the registry is tested here without a line of its own, but for its sample
entry data (``SAMPLES``): a vendor without one fails these tests until it has one.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
import importlib
import inspect
import json
from pathlib import Path
import textwrap
from typing import Any

import pytest

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.config_entries import SOURCE_USER, ConfigFlowResult
from homeassistant.const import (
    CONF_API_KEY,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_PASSWORD,
    CONF_TOKEN,
    CONF_URL,
    CONF_USERNAME,
    CONF_WEBHOOK_ID,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.selector import TextSelector, TextSelectorType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lorawan_hub import diagnostics
from custom_components.lorawan_hub.config_flow import LoRaWANHubConfigFlow
from custom_components.lorawan_hub.const import (
    CONF_APP_EUI,
    CONF_APP_ID,
    CONF_APPLICATION,
    CONF_AUTH_MODE,
    CONF_AUTH_URL,
    CONF_PUSH_ID,
    CONF_PUSH_SECRET,
    CONF_TRANSPORT,
    CONF_VENDOR,
    DOMAIN,
)
from custom_components.lorawan_hub.vendors import VENDORS, VendorSpec
from simulator.__main__ import discover
from simulator.command import Command

STRINGS: Mapping[str, Any] = json.loads(
    (
        Path(__file__).parents[1] / "custom_components" / DOMAIN / "translations" / "en.json"
    ).read_text(encoding="utf-8")
)
STEPS: Mapping[str, Mapping[str, Any]] = STRINGS["config"]["step"]

EVERY_VENDOR = list(VENDORS)
NETWORK_SERVERS = [vendor for vendor, spec in VENDORS.items() if spec.provides_connection]
"""The vendors that are network servers (not Home Assistant's own connections)."""


@dataclass(frozen=True)
class Sample:
    """An entry's data of a vendor, and changes of it that name another application or account."""

    data: Mapping[str, Any]
    others: tuple[Mapping[str, Any], ...]


SAMPLES: Mapping[str, Sample] = {
    "orion": Sample(
        {
            CONF_VENDOR: "orion",
            CONF_URL: "wss://iot.example:9443/ws/v2",
            CONF_APP_ID: "app-1",
            CONF_TOKEN: "orion-token-1",
        },
        ({CONF_APP_ID: "app-2"},),
    ),
    "netemera": Sample(
        {
            CONF_VENDOR: "netemera",
            CONF_URL: "https://api.netemera.example/api/v1",
            CONF_AUTH_URL: "https://auth.netemera.example/token",
            CONF_CLIENT_ID: "client-1",
            CONF_CLIENT_SECRET: "netemera-secret-1",
            CONF_APP_ID: "building-7",
        },
        ({CONF_APP_ID: "building-8"},),
    ),
    "orbiwise": Sample(
        {
            CONF_VENDOR: "orbiwise",
            CONF_URL: "https://orbiwan.example",
            CONF_USERNAME: "user-1",
            CONF_PASSWORD: "orbiwise-password-1",
            CONF_AUTH_MODE: "oauth2",
            CONF_TRANSPORT: "websocket",
        },
        ({CONF_USERNAME: "user-2"}, {CONF_APPLICATION: "app-1"}, {CONF_APPLICATION: "app-2"}),
    ),
    "senra": Sample(
        {
            CONF_VENDOR: "senra",
            CONF_URL: "https://api.senraco.io",
            CONF_API_KEY: "AK2:senra-key-1",
            CONF_APP_EUI: "70B3D57ED0FFFF01",
            CONF_WEBHOOK_ID: "senra-webhook-1",
            CONF_PUSH_SECRET: "senra-push-secret-1",
        },
        ({CONF_APP_EUI: "70B3D57ED0FFFF02"},),
    ),
    "iotsquare": Sample(
        {
            CONF_VENDOR: "iotsquare",
            CONF_URL: "https://cloud.iotsquare.example",
            CONF_TOKEN: "iotsquare-token-1",
            CONF_APP_ID: 89,
            CONF_PUSH_ID: "iotsquare-push-1",
            CONF_PUSH_SECRET: "iotsquare-push-secret-1",
        },
        ({CONF_APP_ID: 90},),
    ),
}


def shown_steps(flow: type) -> set[str]:
    """
    Return the ids of the steps a vendor's flow shows.

    A step shown as ``x`` is answered by the flow's ``async_step_x``, and its id is written out
    where the form is shown (``step_id="x"``, or given to a helper that shows it). A step method
    whose id is written nowhere only starts or ends a flow (a discovery, an abort).
    """
    steps = {
        name.removeprefix("async_step_") for name in vars(flow) if name.startswith("async_step_")
    }
    tree = ast.parse(textwrap.dedent(inspect.getsource(flow)))
    written = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    return steps & written


def assert_form_described(result: ConfigFlowResult) -> None:
    """The form has a title, and each of its fields a label and a description."""
    assert result["type"] is FlowResultType.FORM
    step_id = result["step_id"]
    texts = STEPS.get(step_id, {})
    assert texts.get("title"), f"step {step_id} has no title"
    schema = result["data_schema"]
    fields = [str(key) for key in schema.schema] if schema is not None else []
    assert [field for field in fields if field not in texts.get("data", {})] == [], step_id
    assert [field for field in fields if field not in texts.get("data_description", {})] == []


def entry_of(vendor: str) -> MockConfigEntry:
    """An entry of the vendor's sample data (not set up)."""
    data = SAMPLES[vendor].data
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"{VENDORS[vendor].name} sample",
        unique_id=VENDORS[vendor].unique_id(data),
        data=dict(data),
    )


def is_password(selector: Any) -> bool:
    """Whether a form field is typed as a password (a secret)."""
    return isinstance(selector, TextSelector) and (
        selector.config.get("type") == TextSelectorType.PASSWORD
    )


@pytest.mark.parametrize("vendor", NETWORK_SERVERS)
async def test_menu_offers_the_vendor(hass: HomeAssistant, vendor: str) -> None:
    """The first step lists the vendor, by its translated name."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["step_id"] == "user"
    schema = result["data_schema"]
    assert schema is not None
    assert vendor in schema.schema[CONF_VENDOR].config["options"]
    assert STRINGS["selector"][CONF_VENDOR]["options"].get(vendor)


@pytest.mark.parametrize("vendor", EVERY_VENDOR)
def test_flow_has_the_vendor_steps(vendor: str) -> None:
    """The vendor's flow starts with ``async_step_<vendor>``, reconfigures with its own step."""
    flow = VENDORS[vendor].flow
    for name in (f"async_step_{vendor}", f"async_step_reconfigure_{vendor}"):
        assert name in vars(flow), name
        assert inspect.iscoroutinefunction(vars(flow)[name])
        # The config flow of the integration is the vendors' flows combined.
        assert getattr(LoRaWANHubConfigFlow, name) is vars(flow)[name]


@pytest.mark.parametrize("vendor", EVERY_VENDOR)
def test_every_step_shown_has_a_title(vendor: str) -> None:
    """Each step of the vendor's flow that shows a form has its title in the translations."""
    steps = shown_steps(VENDORS[vendor].flow)
    assert vendor in steps
    assert sorted(step for step in steps if not STEPS.get(step, {}).get("title")) == []


@pytest.mark.parametrize("vendor", NETWORK_SERVERS)
async def test_first_form_is_described(hass: HomeAssistant, vendor: str) -> None:
    """Picking the vendor shows its form, each field with a label and a description."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_VENDOR: vendor}
    )
    assert result["step_id"] == vendor
    assert_form_described(result)


@pytest.mark.parametrize("vendor", NETWORK_SERVERS)
async def test_reconfigure_form_is_described(hass: HomeAssistant, vendor: str) -> None:
    """Reconfiguring an entry shows the vendor's own form, each field described."""
    entry = entry_of(vendor)
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == f"reconfigure_{vendor}"
    assert_form_described(result)


@pytest.mark.parametrize("vendor", NETWORK_SERVERS)
async def test_reauth_fields_are_translated(hass: HomeAssistant, vendor: str) -> None:
    """Reauthentication asks for the vendor's reauth fields, each with a label and description."""
    spec = VENDORS[vendor]
    assert spec.reauth_fields
    entry = entry_of(vendor)
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    schema = result["data_schema"]
    assert schema is not None
    assert {str(key) for key in schema.schema} == set(spec.reauth_fields)
    assert_form_described(result)


@pytest.mark.parametrize("vendor", NETWORK_SERVERS)
async def test_secrets_are_redacted(hass: HomeAssistant, vendor: str) -> None:
    """Diagnostics redact each of the vendor's secrets, in entry data and in server messages."""
    spec: VendorSpec = VENDORS[vendor]
    assert spec.secrets
    # What reauthentication asks for as a password is a secret of the vendor's.
    assert {key for key, selector in spec.reauth_fields.items() if is_password(selector)} <= (
        spec.secrets
    )
    values = {key: f"secret-value-of-{key}" for key in spec.secrets}
    message = {"data": values, "received": [{"nested": values}], "kept": "visible"}
    redacted = async_redact_data(message, diagnostics.TO_REDACT)
    assert redacted["data"] == dict.fromkeys(spec.secrets, REDACTED)
    assert redacted["received"] == [{"nested": dict.fromkeys(spec.secrets, REDACTED)}]
    assert redacted["kept"] == "visible"
    # The diagnostics of an entry (not set up) show none of its secrets' values.
    entry = entry_of(vendor)
    entry.add_to_hass(hass)
    shown = json.dumps(await diagnostics.async_get_config_entry_diagnostics(hass, entry))
    secret_values = [str(entry.data[key]) for key in spec.secrets if key in entry.data]
    assert secret_values
    assert [value for value in secret_values if value in shown] == []


@pytest.mark.parametrize("vendor", NETWORK_SERVERS)
def test_simulator_has_its_command(vendor: str) -> None:
    """The vendor's simulator module declares the command of the vendor's name."""
    module = importlib.import_module(f"simulator.{vendor}")
    command = getattr(module, "COMMAND", None)
    assert isinstance(command, Command)
    assert command.name == vendor
    assert discover()[vendor] is command


@pytest.mark.parametrize("vendor", NETWORK_SERVERS)
def test_unique_id_tells_applications_apart(vendor: str) -> None:
    """Other applications or accounts get other ids; new credentials keep the entry's."""
    spec = VENDORS[vendor]
    sample = SAMPLES[vendor]
    ids = [spec.unique_id(sample.data)] + [
        spec.unique_id({**sample.data, **other}) for other in sample.others
    ]
    assert all(isinstance(unique_id, str) and unique_id for unique_id in ids)
    assert len(set(ids)) == len(ids), ids
    renewed = {**sample.data, **{key: f"renewed-{key}" for key in spec.reauth_fields}}
    assert spec.unique_id(renewed) == ids[0]
