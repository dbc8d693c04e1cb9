"""Device types in Home Assistant: JavaScript codecs from the options, decoding live uplinks."""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
from unittest.mock import patch

import pytest

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.lorawan_hub.codecs.javascript import CodecError
from custom_components.lorawan_hub.command_types import Command
from custom_components.lorawan_hub.const import CONF_CODEC, CONF_DEVICES, DOMAIN
from custom_components.lorawan_hub.device_types import (
    CONF_CODE,
    CONF_DEVICE_TYPES,
    CONF_NAME,
    CONF_PATH,
    CONF_SOURCE,
    _cache_path,
    async_load_codec,
)
from custom_components.lorawan_hub.lns.iotsquare.parse import uplink_from_push
from simulator.iotsquare import IotSquareSimulator

from .codecs.test_repository import Repository
from .conftest import IOTSQUARE_ENTRY_ID, EventRecorder, load_iotsquare, state_of

METER = "90B96DADCE96A06A"
LAMP = "55E1032590DC5682"
CODECS = Path(__file__).parent / "codecs" / "js"
# 21.5 °C, 55 %, 3.3 V, door open.
CLIMATE = bytes([0x08, 0x66, 110, 0x0C, 0xE4, 0x01])


def climate_options(**device_type: str) -> dict[str, object]:
    """Options with the climate codec as device type ``climate``, used by the meter."""
    return {
        CONF_DEVICE_TYPES: {
            "climate": {
                CONF_NAME: "Climate sensor",
                CONF_SOURCE: "paste",
                CONF_CODE: (CODECS / "climate.js").read_text(encoding="utf-8"),
                **device_type,
            }
        },
        CONF_DEVICES: {METER: {CONF_CODEC: "js:climate"}},
    }


async def test_codec_decodes_and_normalizes(
    hass: HomeAssistant,
    iotsquare: IotSquareSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    uplinks: EventRecorder,
) -> None:
    """Normalized fields become sensors with the right units; a failure raises a repair."""
    entry = await load_iotsquare(hass, iotsquare, hass_client_no_auth, climate_options())
    assert await iotsquare.push_uplink(METER, CLIMATE, f_port=2) == 200
    events = await uplinks.wait(1)
    assert events[0].data["decoded"]["air_temperature"] == 21.5
    temperature = hass.states.get("sensor.basement_meter_air_temperature")
    assert temperature is not None
    assert temperature.state == "21.5"
    assert temperature.attributes["unit_of_measurement"] == "°C"
    assert temperature.attributes["device_class"] == "temperature"
    assert state_of(hass, "sensor.basement_meter_air_relative_humidity") == "55"

    # The codec refuses a short payload: the uplink stays raw, its event fires, a repair says why.
    assert await iotsquare.push_uplink(METER, b"\x01\x02", f_port=2) == 200
    events = await uplinks.wait(2)
    assert events[1].data["decoded"] == {}
    assert events[1].data["payload_hex"] == "0102"
    issue_id = f"codec_{IOTSQUARE_ENTRY_ID}_{METER}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders == {
        "device": "Basement meter",
        "device_type": "Climate sensor",
        "reason": "expected 6 bytes, got 2",
    }
    assert state_of(hass, "sensor.basement_meter_air_temperature") == "21.5"  # kept
    # Another device is unaffected; the next good uplink clears the repair.
    assert await iotsquare.push_uplink(LAMP, b"\x01\x67\x00\xe6") == 200
    assert await iotsquare.push_uplink(METER, CLIMATE[:1] + b"\x70" + CLIMATE[2:], f_port=2) == 200
    events = await uplinks.wait(4)
    assert events[2].data["decoded"] == {"temperature_1": 23.0}
    assert events[3].data["decoded"]["air_temperature"] == 21.6
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert entry.runtime_data.devices[METER].decode_error is None
    # A repair raised before a reload goes with it (the codec may have been fixed meanwhile).
    assert await iotsquare.push_uplink(METER, b"\x01", f_port=2) == 200
    await uplinks.wait(5)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    assert await hass.config_entries.async_reload(entry.entry_id)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_uplinks_waiting_for_the_codec_survive_an_unload(
    hass: HomeAssistant,
    iotsquare: IotSquareSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    uplinks: EventRecorder,
) -> None:
    """Uplinks taken but not decoded yet are decoded before the entry stops: none is lost."""
    entry = await load_iotsquare(hass, iotsquare, hass_client_no_auth, climate_options())
    coordinator = entry.runtime_data
    for _ in range(5):
        coordinator.uplink(uplink_from_push(iotsquare.uplink_body(METER, CLIMATE, fPort=2)))
    assert await hass.config_entries.async_unload(entry.entry_id)
    events = await uplinks.wait(5)
    assert [event.data["decoded"].get("air_temperature") for event in events] == [21.5] * 5


async def test_hanging_codec_from_a_file(
    hass: HomeAssistant,
    iotsquare: IotSquareSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    uplinks: EventRecorder,
    tmp_path: Path,
) -> None:
    """A codec file that hangs is stopped by its time limit; the lamp's Cayenne still decodes."""
    hass.config.config_dir = str(tmp_path)
    (tmp_path / "codecs").mkdir()
    (tmp_path / "codecs" / "broken.js").write_text((CODECS / "broken.js").read_text())
    options = climate_options(source="file", path="codecs/broken.js")
    await load_iotsquare(hass, iotsquare, hass_client_no_auth, options)
    assert await iotsquare.push_uplink(METER, b"\x00", f_port=1) == 200
    assert await iotsquare.push_uplink(LAMP, b"\x01\x67\x00\xe6") == 200
    events = await uplinks.wait(2)
    by_device = {event.data["dev_eui"]: event.data["decoded"] for event in events}
    assert by_device == {METER: {}, LAMP: {"temperature_1": 23.0}}
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"codec_{IOTSQUARE_ENTRY_ID}_{METER}")
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert "ran longer than" in issue.translation_placeholders["reason"]


async def test_device_type_that_cannot_load(
    hass: HomeAssistant,
    iotsquare: IotSquareSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    uplinks: EventRecorder,
) -> None:
    """A codec file that is missing leaves its devices raw, with a repair saying so."""
    options = climate_options(source="file", path="codecs/missing.js")
    await load_iotsquare(hass, iotsquare, hass_client_no_auth, options)
    assert await iotsquare.push_uplink(METER, CLIMATE, f_port=2) == 200
    await uplinks.wait(1)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"codec_{IOTSQUARE_ENTRY_ID}_{METER}")
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert "cannot be read" in issue.translation_placeholders["reason"]


@pytest.fixture
def no_reload() -> Iterator[None]:
    """Options saved by the flow are checked without setting the entry up again."""
    with (
        patch("custom_components.lorawan_hub.async_setup_entry", return_value=True),
        patch("custom_components.lorawan_hub.async_unload_entry", return_value=True),
    ):
        yield


@pytest.mark.usefixtures("no_reload")
async def test_options_flow(hass: HomeAssistant, tmp_path: Path) -> None:
    """Add a pasted and a file device type, change, use and remove one."""
    hass.config.config_dir = str(tmp_path)
    (tmp_path / "valve.js").write_text((CODECS / "valve.js").read_text())
    entry = MockConfigEntry(
        domain=DOMAIN,
        data={"vendor": "orion"},
        options={CONF_DEVICES: {METER: {CONF_CODEC: "auto"}}},
    )
    entry.add_to_hass(hass)

    async def step(*menus: str) -> str:
        result = await hass.config_entries.options.async_init(entry.entry_id)
        for menu in ("device_types", *menus):
            assert result["type"] is FlowResultType.MENU
            result = await hass.config_entries.options.async_configure(
                result["flow_id"], {"next_step_id": menu}
            )
        return str(result["flow_id"])

    for menu, form, reason in (
        ("codec_paste", {CONF_NAME: "x", CONF_CODE: "function ("}, "does not load"),
        ("codec_paste", {CONF_NAME: "x", CONF_CODE: "var a = 1;"}, "no decodeUplink"),
        ("codec_file", {CONF_NAME: "x", CONF_PATH: "../valve.js"}, "not a .js file"),
    ):
        flow_id = await step("add_device_type", menu)
        result = await hass.config_entries.options.async_configure(flow_id, form)
        assert result["errors"] == {"base": "codec_invalid"}
        placeholders = result["description_placeholders"]
        assert placeholders is not None
        assert reason in placeholders["reason"]
    result = await hass.config_entries.options.async_configure(
        flow_id, {CONF_NAME: " Garden valve ", CONF_PATH: " valve.js"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    types = entry.options[CONF_DEVICE_TYPES]
    (valve_id,) = types
    assert types[valve_id] == {
        CONF_NAME: "Garden valve",
        CONF_SOURCE: "file",
        CONF_PATH: "valve.js",
    }

    flow_id = await step("add_device_type", "codec_paste")
    code = (CODECS / "climate.js").read_text()
    result = await hass.config_entries.options.async_configure(
        flow_id, {CONF_NAME: "Climate", CONF_CODE: code}
    )
    assert len(entry.options[CONF_DEVICE_TYPES]) == 2
    (climate_id,) = set(entry.options[CONF_DEVICE_TYPES]) - {valve_id}
    assert entry.options[CONF_DEVICE_TYPES][climate_id] == {
        CONF_NAME: "Climate",
        CONF_SOURCE: "paste",
        CONF_CODE: code,
    }

    # Changed with the form of its source, filled in with what it has.
    flow_id = await step("edit_device_type")
    result = await hass.config_entries.options.async_configure(flow_id, {"device_type": climate_id})
    assert result["step_id"] == "codec_paste"
    schema = result["data_schema"]
    assert schema is not None
    suggested = {
        str(key): key.description.get("suggested_value") for key in schema.schema if key.description
    }
    assert suggested == {CONF_NAME: "Climate", CONF_CODE: code}
    result = await hass.config_entries.options.async_configure(
        flow_id, {CONF_NAME: "Climate v2", CONF_CODE: code}
    )
    assert entry.options[CONF_DEVICE_TYPES][climate_id][CONF_NAME] == "Climate v2"
    flow_id = await step("edit_device_type")
    result = await hass.config_entries.options.async_configure(flow_id, {"device_type": valve_id})
    assert result["step_id"] == "codec_file"
    # Changing a device type keeps its commands.
    commands = {"go": {"name": "Go", "kind": "button", "port": 1, "payload": "01"}}
    hass.config_entries.async_update_entry(
        entry,
        options={
            **entry.options,
            CONF_DEVICE_TYPES: {
                **entry.options[CONF_DEVICE_TYPES],
                climate_id: {**entry.options[CONF_DEVICE_TYPES][climate_id], "commands": commands},
            },
        },
    )
    flow_id = await step("edit_device_type")
    await hass.config_entries.options.async_configure(flow_id, {"device_type": climate_id})
    await hass.config_entries.options.async_configure(
        flow_id, {CONF_NAME: "Climate v3", CONF_CODE: code}
    )
    assert entry.options[CONF_DEVICE_TYPES][climate_id]["commands"] == commands
    flow_id = await step("edit_device_type")
    await hass.config_entries.options.async_configure(flow_id, {"device_type": climate_id})
    result = await hass.config_entries.options.async_configure(
        flow_id, {CONF_NAME: " ", CONF_CODE: code}
    )
    assert result["errors"] == {CONF_NAME: "name_required"}

    # A device uses the valve type; removing the type sends it back to automatic decoding.
    hass.config_entries.async_update_entry(
        entry,
        options={**entry.options, CONF_DEVICES: {METER: {CONF_CODEC: f"js:{valve_id}"}}},
    )
    flow_id = await step("remove_device_type")
    result = await hass.config_entries.options.async_configure(flow_id, {"device_type": valve_id})
    assert set(entry.options[CONF_DEVICE_TYPES]) == {climate_id}
    assert entry.options[CONF_DEVICES][METER][CONF_CODEC] == "auto"


async def test_downlink_data_encoded_by_the_codec(
    hass: HomeAssistant,
    iotsquare: IotSquareSimulator,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """send_downlink with data: the device's encodeDownlink makes the bytes and the port."""
    options = climate_options()
    options[CONF_DEVICE_TYPES]["valve"] = {  # type: ignore[index]
        CONF_NAME: "Valve",
        CONF_SOURCE: "paste",
        CONF_CODE: (CODECS / "valve.js").read_text(encoding="utf-8"),
    }
    options[CONF_DEVICES][LAMP] = {CONF_CODEC: "js:valve"}  # type: ignore[index]
    await load_iotsquare(hass, iotsquare, hass_client_no_auth, options)
    registry = dr.async_get(hass)
    lamp = registry.async_get_device_by_identifier((DOMAIN, LAMP), IOTSQUARE_ENTRY_ID)
    meter = registry.async_get_device_by_identifier((DOMAIN, METER), IOTSQUARE_ENTRY_ID)
    assert lamp is not None
    assert meter is not None
    response = await hass.services.async_call(
        DOMAIN,
        "send_downlink",
        {"device_id": lamp.id, "f_port": 1, "data": {"open": True, "minutes": 30}},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert iotsquare.downlinks == [(LAMP.lower(), 10, b"\x01\x1e", False, 1)]
    for device, data, key, words in (
        (lamp, {"open": True, "minutes": 300}, "codec_refused", "minutes must be 0 to 255"),
        (meter, {"open": True}, "no_encoder", None),
    ):
        with pytest.raises(ServiceValidationError) as invalid:
            await hass.services.async_call(
                DOMAIN,
                "send_downlink",
                {"device_id": device.id, "f_port": 10, "data": data},
                blocking=True,
            )
        assert invalid.value.translation_key == key
        if words:
            assert invalid.value.translation_placeholders == {"reason": words}
    with pytest.raises(ServiceValidationError) as invalid:
        await hass.services.async_call(
            DOMAIN,
            "send_downlink",
            {"device_id": lamp.id, "f_port": 0, "data": {"open": True}},
            blocking=True,
        )
    assert invalid.value.translation_key == "invalid_port"


def valve_with_commands() -> dict[str, object]:
    """Options: the lamp is a valve with a command of each kind."""
    return {
        CONF_DEVICE_TYPES: {
            "valve": {
                CONF_NAME: "Valve",
                CONF_SOURCE: "paste",
                CONF_CODE: (CODECS / "valve.js").read_text(encoding="utf-8"),
                "commands": {
                    "flush": {"name": "Flush", "kind": "button", "port": 12, "payload": "FF"},
                    "open": {
                        "name": "Open",
                        "kind": "switch",
                        "port": 10,
                        "confirmed": True,
                        "payload_on": "0100",
                        "payload_off": "0000",
                    },
                    "level": {
                        "name": "Level",
                        "kind": "number",
                        "port": 11,
                        "payload": "A0",
                        "length": 2,
                        "big_endian": False,
                        "multiplier": 10,
                        "minimum": -20,
                        "maximum": 50,
                    },
                    "program": {
                        "name": "Program",
                        "kind": "select",
                        "port": 13,
                        "options": {"Eco": "0201", "Boost": "0202"},
                    },
                    "broken": {"name": "Broken", "kind": "button", "port": 1, "payload": "zz"},
                },
            }
        },
        CONF_DEVICES: {LAMP: {CONF_CODEC: "js:valve"}},
    }


async def test_command_entities(
    hass: HomeAssistant,
    iotsquare: IotSquareSimulator,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Each command entity sends its bytes to the network server; bad values are refused."""
    await load_iotsquare(hass, iotsquare, hass_client_no_auth, valve_with_commands())
    await hass.services.async_call(
        "button", "press", {"entity_id": "button.street_lamp_flush"}, blocking=True
    )
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.street_lamp_open"}, blocking=True
    )
    assert state_of(hass, "switch.street_lamp_open") == "on"
    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": "switch.street_lamp_open"}, blocking=True
    )
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.street_lamp_level", "value": -1.5},
        blocking=True,
    )
    assert state_of(hass, "number.street_lamp_level") == "-1.5"
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": "select.street_lamp_program", "option": "Boost"},
        blocking=True,
    )
    assert state_of(hass, "select.street_lamp_program") == "Boost"
    lamp = LAMP.lower()
    assert iotsquare.downlinks == [
        (lamp, 12, b"\xff", False, 1),
        (lamp, 10, b"\x01\x00", True, 2),
        (lamp, 10, b"\x00\x00", True, 3),
        (lamp, 11, b"\xa0\xf1\xff", False, 4),
        (lamp, 13, b"\x02\x02", False, 5),
    ]
    # The malformed command has no entity; the meter (no device type) has none at all.
    assert hass.states.get("button.street_lamp_broken") is None
    assert hass.states.get("button.basement_meter_flush") is None
    # The server refuses: a translated error; the switch keeps what it showed.
    iotsquare.fail_next["device/downlink/create"] = 4001
    with pytest.raises(HomeAssistantError) as refused:
        await hass.services.async_call(
            "switch", "turn_on", {"entity_id": "switch.street_lamp_open"}, blocking=True
        )
    assert refused.value.translation_key == "iotsquare_4001"
    assert state_of(hass, "switch.street_lamp_open") == "off"
    # A value the bytes cannot hold is refused before anything is sent.
    entry = hass.config_entries.async_get_entry(IOTSQUARE_ENTRY_ID)
    assert entry is not None
    await hass.config_entries.async_unload(entry.entry_id)
    options = valve_with_commands()
    options[CONF_DEVICE_TYPES]["valve"]["commands"]["level"]["length"] = 1  # type: ignore[index]
    hass.config_entries.async_update_entry(entry, options=options)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert state_of(hass, "number.street_lamp_level") == "-1.5"  # restored
    with pytest.raises(ServiceValidationError) as invalid:
        await hass.services.async_call(
            "number",
            "set_value",
            {"entity_id": "number.street_lamp_level", "value": 20},
            blocking=True,
        )
    assert invalid.value.translation_key == "command_value_invalid"
    assert len(iotsquare.downlinks) == 5


@pytest.mark.usefixtures("no_reload")
async def test_command_options(hass: HomeAssistant) -> None:
    """Commands are added to a device type with their payloads checked, and removed."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        data={"vendor": "orion"},
        options={CONF_DEVICE_TYPES: {"valve": {CONF_NAME: "Valve", CONF_SOURCE: "paste"}}},
    )
    entry.add_to_hass(hass)

    async def open_step(menu: str) -> str:
        result = await hass.config_entries.options.async_init(entry.entry_id)
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"next_step_id": "device_types"}
        )
        assert menu in result["menu_options"]
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"next_step_id": menu}
        )
        return str(result["flow_id"])

    base = {"device_type": "valve", "port": 10, "confirmed": False, "mode": "queue"}
    flow_id = await open_step("add_command")
    for form, errors in (
        ({"name": "Open", "kind": "switch", "payload_on": "01"}, {"payload_on": "switch_payloads"}),
        ({"name": "Go", "kind": "button", "payload": "0x1"}, {"payload": "invalid_hex"}),
        (
            {"name": "Level", "kind": "number", "minimum": 5, "maximum": 5},
            {"maximum": "number_range"},
        ),
        ({"name": "Mode", "kind": "select", "options": "Eco"}, {"options": "select_options"}),
        ({"name": "Mode", "kind": "select", "options": "Eco=zz"}, {"options": "select_options"}),
        ({"name": "Mode", "kind": "select", "options": "\n"}, {"options": "select_options"}),
        (
            {"name": "Mode", "kind": "select", "options": "Eco=01\nEco=02"},
            {"options": "select_options"},
        ),
        ({"name": " ", "kind": "button", "payload": "01"}, {"name": "name_required"}),
        (
            {"name": "Level", "kind": "number", "minimum": -1, "maximum": 200},
            {"maximum": "number_range"},
        ),
        (
            {"name": "Level", "kind": "number", "multiplier": -1, "maximum": 20},
            {"maximum": "number_range"},
        ),
        (
            {"name": "Level", "kind": "number", "maximum": float("inf")},
            {"maximum": "number_range"},
        ),
    ):
        result = await hass.config_entries.options.async_configure(flow_id, {**base, **form})
        assert result["errors"] == errors
    result = await hass.config_entries.options.async_configure(
        flow_id, {**base, "name": "Mode", "kind": "select", "options": "Eco = 02 01\n\nBoost=0202"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    commands = entry.options[CONF_DEVICE_TYPES]["valve"]["commands"]
    (command_id,) = commands
    assert commands[command_id]["options"] == {"Eco": "0201", "Boost": "0202"}
    flow_id = await open_step("add_command")
    result = await hass.config_entries.options.async_configure(
        flow_id,
        {
            **base,
            "name": "Level",
            "kind": "number",
            "payload": "a0",
            "multiplier": 10,
            "maximum": 25,
        },
    )
    level = entry.options[CONF_DEVICE_TYPES]["valve"]["commands"]
    assert len(level) == 2
    flow_id = await open_step("remove_command")
    result = await hass.config_entries.options.async_configure(
        flow_id, {"command": f"valve/{command_id}"}
    )
    assert command_id not in entry.options[CONF_DEVICE_TYPES]["valve"]["commands"]


def test_number_payloads() -> None:
    """Values outside the range or too large for the length are refused."""
    command = Command(command_id="c", name="Level", kind="number", port=1, length=1, maximum=300)
    assert command.number_payload(255) == b"\xff"
    with pytest.raises(ValueError, match="outside"):
        command.number_payload(301)
    with pytest.raises(ValueError, match="does not fit"):
        command.number_payload(256)


async def test_codec_from_the_repository(
    hass: HomeAssistant,
    iotsquare: IotSquareSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    uplinks: EventRecorder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The options fetch and self-test the device's codec; set-up then uses the kept copy."""
    hass.config.config_dir = str(tmp_path)
    repository = Repository()
    await repository.start()
    monkeypatch.setattr(
        "custom_components.lorawan_hub.codecs.repository.DEFAULT_REPOSITORY",
        repository.base_url,
    )
    entry = MockConfigEntry(domain=DOMAIN, data={"vendor": "orion"})
    entry.add_to_hass(hass)
    with (
        patch("custom_components.lorawan_hub.async_setup_entry", return_value=True),
        patch("custom_components.lorawan_hub.async_unload_entry", return_value=True),
    ):
        result = await hass.config_entries.options.async_init(entry.entry_id)
        for menu in ("device_types", "add_device_type", "repository_vendor"):
            result = await hass.config_entries.options.async_configure(
                result["flow_id"], {"next_step_id": menu}
            )
        flow_id = result["flow_id"]
        for form in (
            {"vendor_id": "acme"},
            {"model": "climate-sensor"},
            {"firmware": "1.0"},
            {"band": "EU863-870"},
        ):
            result = await hass.config_entries.options.async_configure(flow_id, form)
        assert result["step_id"] == "repository_name"
        code = repository.files.pop("vendor/acme/climate.js")
        result = await hass.config_entries.options.async_configure(flow_id, {CONF_NAME: "Acme"})
        assert result["errors"] == {"base": "codec_invalid"}
        placeholders = result["description_placeholders"]
        assert placeholders is not None
        assert "has no climate.js" in placeholders["reason"]
        repository.files["vendor/acme/climate.js"] = code
        result = await hass.config_entries.options.async_configure(flow_id, {CONF_NAME: "Acme"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (type_id,) = entry.options[CONF_DEVICE_TYPES]
    cached = list((tmp_path / ".storage" / "lorawan_hub_codecs").iterdir())
    assert len(cached) == 1
    # Without the repository, set-up takes the copy kept on disk.
    await repository.stop()
    await hass.config_entries.async_remove(entry.entry_id)
    options = {
        CONF_DEVICE_TYPES: dict(entry.options[CONF_DEVICE_TYPES]),
        CONF_DEVICES: {METER: {CONF_CODEC: f"js:{type_id}"}},
    }
    await load_iotsquare(hass, iotsquare, hass_client_no_auth, options)
    assert await iotsquare.push_uplink(METER, CLIMATE, f_port=2) == 200
    events = await uplinks.wait(1)
    assert events[0].data["decoded"]["air_temperature"] == 21.5
    # Without the copy either, set-up fetches again (and the device stays raw if it cannot).
    cached[0].unlink()
    await repository.start()
    codec = await async_load_codec(hass, options[CONF_DEVICE_TYPES][type_id])
    assert "normalizeUplink" in codec.source
    await repository.stop()


async def test_repository_copies_kept_before(
    hass: HomeAssistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A copy kept as one joined script (earlier versions) is fetched again per routine.

    When the repository cannot be reached, the old copy still decodes.
    """
    hass.config.config_dir = str(tmp_path)
    definition = {
        CONF_NAME: "Acme",
        CONF_SOURCE: "repository",
        "vendor_id": "acme",
        "model": "climate-sensor",
        "firmware": "1.0",
        "band": "EU863-870",
    }
    path = _cache_path(hass, definition)
    path.parent.mkdir(parents=True)
    old = (CODECS / "climate.js").read_text(encoding="utf-8")
    path.write_text(json.dumps({"source": old}), encoding="utf-8")
    repository = Repository()
    await repository.start()
    monkeypatch.setattr(
        "custom_components.lorawan_hub.codecs.repository.DEFAULT_REPOSITORY", repository.base_url
    )
    codec = await async_load_codec(hass, definition)
    assert set(codec.sources) == {"uplinkDecoder"}
    assert "vendor/acme/climate.js" in repository.requested
    kept = json.loads(path.read_text(encoding="utf-8"))
    assert (kept["band"], set(kept["sources"])) == ("EU863-870", {"uplinkDecoder"})
    assert (await async_load_codec(hass, definition)).sources == codec.sources
    await repository.stop()
    path.write_text(json.dumps({"source": old}), encoding="utf-8")
    assert (await async_load_codec(hass, definition)).source == old
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(CodecError, match="cannot be reached"):
        await async_load_codec(hass, definition)
