"""Device types and device identities chosen from the LoRaWAN Device Repository's lists."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
import shutil
from typing import Any
from unittest.mock import patch

import pytest

from homeassistant.config_entries import ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lorawan_hub.codecs.catalog import Device
from custom_components.lorawan_hub.codecs.javascript import JsRunner
from custom_components.lorawan_hub.codecs.repository import (
    example_argument,
    load_yaml,
    routine_output,
    same,
)
from custom_components.lorawan_hub.config_flow.picker import device_choices
from custom_components.lorawan_hub.const import CONF_CODEC, CONF_DEVICES, CONF_F_PORT, DOMAIN
from custom_components.lorawan_hub.device_types import CONF_DEVICE_TYPES, async_load_codec
from custom_components.lorawan_hub.framework.provider import identity_of

from .repository_server import RepositoryFiles, unpack

DOOR = "70B3D57ED0000002"
S2101 = ("sensecap", "sensecaps2101-temp-humid")
S2101_NAME = "S2101- LoRaWAN® Air Temperature and Humidity Sensor"
ANALOG = {
    "name": "Analog sensor",
    "source": "repository",
    "vendor_id": "adeunis",
    "model": "analog",
    "hardware_version": "8200AA",
    "firmware": "2.1.X",
    "band": "EU863-870",
}


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Some vendors of the snapshot, unpacked."""
    return unpack(tmp_path_factory.mktemp("repository"))


@pytest.fixture
async def files(
    hass: HomeAssistant, snapshot: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[RepositoryFiles]:
    """The snapshot as the repository, and a configuration directory of the test's own."""
    hass.config.config_dir = str(tmp_path)
    async with RepositoryFiles(snapshot) as server:
        monkeypatch.setattr(
            "custom_components.lorawan_hub.codecs.repository.DEFAULT_REPOSITORY", server.base_url
        )
        yield server


@pytest.fixture
def no_reload() -> Iterator[None]:
    """Options saved by the flow are checked without setting the entry up again."""
    with (
        patch("custom_components.lorawan_hub.async_setup_entry", return_value=True),
        patch("custom_components.lorawan_hub.async_unload_entry", return_value=True),
    ):
        yield


def choices(result: ConfigFlowResult, field: str) -> list[tuple[str, str]]:
    """Return a dropdown's (value, label) choices, in their order."""
    schema = result["data_schema"]
    assert schema is not None
    config = schema.schema[field].config
    return [
        (option, option) if isinstance(option, str) else (option["value"], option["label"])
        for option in config["options"]
    ]


def default(result: ConfigFlowResult, field: str) -> object:
    """Return what a field has chosen beforehand (None: nothing)."""
    schema = result["data_schema"]
    assert schema is not None
    for key in schema.schema:
        if key == field:
            return key.default() if callable(key.default) else None
    raise AssertionError(field)


async def open_step(hass: HomeAssistant, entry: MockConfigEntry, *menus: str) -> ConfigFlowResult:
    """Open the options and go through menus."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    for menu in menus:
        assert result["type"] is FlowResultType.MENU
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"next_step_id": menu}
        )
    return result


async def answer(hass: HomeAssistant, result: ConfigFlowResult, **fields: Any) -> ConfigFlowResult:
    """Answer a form."""
    return await hass.config_entries.options.async_configure(result["flow_id"], fields)


async def decodes_its_example(
    hass: HomeAssistant, snapshot: Path, definition: dict[str, Any], codec_file: str
) -> None:
    """Check the saved device type decodes the first uplink example of its codec file."""
    codec = await async_load_codec(hass, definition)
    document = load_yaml((snapshot / "vendor" / codec_file).read_text(encoding="utf-8"), "codec")
    example = document["uplinkDecoder"]["examples"][0]
    async with JsRunner() as runner:
        result = await runner.run(
            codec.invoke, "uplinkDecoder", example_argument("uplinkDecoder", example["input"])
        )
    decoded = routine_output("uplinkDecoder", result)
    assert decoded["data"]
    assert same(example["output"]["data"], decoded["data"])


@pytest.mark.usefixtures("no_reload")
async def test_device_type_chosen_from_the_lists(
    hass: HomeAssistant, files: RepositoryFiles, snapshot: Path
) -> None:
    """Vendor, device, hardware version, firmware, band, name: saved, and it decodes."""
    entry = MockConfigEntry(domain=DOMAIN, data={"vendor": "orion"})
    entry.add_to_hass(hass)
    result = await open_step(hass, entry, "device_types", "add_device_type")
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["codec_paste", "codec_file", "repository_vendor"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "repository_vendor"}
    )
    assert result["step_id"] == "repository_vendor"
    vendors = choices(result, "vendor_id")
    assert ("adeunis", "Adeunis") in vendors
    assert ("dragino", "Dragino Technology Co., Limited") in vendors
    assert [label.casefold() for _, label in vendors] == sorted(
        label.casefold() for _, label in vendors
    )
    assert "example" not in dict(vendors)  # a draft
    assert default(result, "vendor_id") is None

    result = await answer(hass, result, vendor_id="adeunis")
    assert result["step_id"] == "repository_device"
    assert result["description_placeholders"] == {"vendor": "Adeunis"}
    devices = choices(result, "model")
    assert ("analog", "Analog - Sensor Interface") in devices
    assert [label for _, label in devices] == sorted(
        (label for _, label in devices), key=str.casefold
    )

    result = await answer(hass, result, model="analog")
    assert result["step_id"] == "repository_hardware"
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert placeholders["device"] == "Analog - Sensor Interface"
    assert placeholders["description"].startswith("The Adeunis Analog has 2 inputs")
    assert choices(result, "hardware_version") == [
        ("1.04", "1.04"),
        ("8180BA", "8180BA"),
        ("8200AA", "8200AA"),
    ]

    result = await answer(hass, result, hardware_version="8200AA")
    assert result["step_id"] == "repository_firmware"
    assert [value for value, _ in choices(result, "firmware")] == ["2.1.X", "1.3.X"]
    assert default(result, "firmware") == "2.1.X"

    result = await answer(hass, result, firmware="2.1.X")
    assert result["step_id"] == "repository_band"
    assert choices(result, "band") == [("EU863-870", "EU863-870")]
    assert default(result, "band") == "EU863-870"

    result = await answer(hass, result, band="EU863-870")
    assert result["step_id"] == "repository_name"
    assert default(result, "name") == "Analog - Sensor Interface"
    files.take_requests()
    result = await answer(hass, result, name=" Analog sensor ")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (type_id,) = entry.options[CONF_DEVICE_TYPES]
    assert entry.options[CONF_DEVICE_TYPES][type_id] == ANALOG
    # Only the device's codec is fetched at the end.
    assert files.take_requests() == [
        "vendor/adeunis/analog.yaml",
        "vendor/adeunis/analog2-codec.yaml",
        "vendor/adeunis/analog_v2_lib.js",
    ]
    await decodes_its_example(hass, snapshot, ANALOG, "adeunis/analog2-codec.yaml")


@pytest.mark.usefixtures("no_reload")
async def test_lists_come_once(hass: HomeAssistant, files: RepositoryFiles, snapshot: Path) -> None:
    """
    A device with one hardware version goes straight to its firmware.

    A second device type of the same vendor, and a restart, fetch no list again.
    """
    entry = MockConfigEntry(domain=DOMAIN, data={"vendor": "orion"})
    entry.add_to_hass(hass)
    result = await open_step(hass, entry, "device_types", "add_device_type", "repository_vendor")
    result = await answer(hass, result, vendor_id="dragino")
    result = await answer(hass, result, model="lht65")
    assert result["step_id"] == "repository_firmware"
    assert [value for value, _ in choices(result, "firmware")] == ["1.9.1", "1.8", "lht65 abp"]
    result = await answer(hass, result, firmware="1.9.1")
    assert len(choices(result, "band")) == 9
    assert default(result, "band") is None
    result = await answer(hass, result, band="EU863-870")
    result = await answer(hass, result, name="LHT65")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (definition,) = entry.options[CONF_DEVICE_TYPES].values()
    assert definition == {
        "name": "LHT65",
        "source": "repository",
        "vendor_id": "dragino",
        "model": "lht65",
        "firmware": "1.9.1",
        "band": "EU863-870",
    }
    await decodes_its_example(hass, snapshot, definition, "dragino/lht65-codec.yaml")

    files.take_requests()
    result = await open_step(hass, entry, "device_types", "add_device_type", "repository_vendor")
    result = await answer(hass, result, vendor_id="dragino")
    assert result["step_id"] == "repository_device"
    assert files.take_requests() == []
    # Home Assistant restarted: the lists kept on disk.
    hass.data.pop("lorawan_hub_catalog")
    result = await open_step(hass, entry, "device_types", "add_device_type", "repository_vendor")
    result = await answer(hass, result, vendor_id="dragino")
    assert result["step_id"] == "repository_device"
    assert files.take_requests() == []
    assert (Path(hass.config.path(".storage", "lorawan_hub_catalog")) / "vendors.json").is_file()


@pytest.mark.usefixtures("no_reload")
async def test_refusals_in_words(hass: HomeAssistant, files: RepositoryFiles) -> None:
    """Nothing to list, nothing reachable, a codec that cannot be had: said, and a way on."""
    entry = MockConfigEntry(domain=DOMAIN, data={"vendor": "orion"})
    entry.add_to_hass(hass)
    await files.stop()
    result = await open_step(hass, entry, "device_types", "add_device_type", "repository_vendor")
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "repository_unreachable"
    assert result["menu_options"] == ["repository_vendor", "codec_paste", "codec_file"]
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert "cannot be reached" in placeholders["reason"]
    paste = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "codec_paste"}
    )
    assert paste["step_id"] == "codec_paste"
    await files.start()
    result = await open_step(hass, entry, "device_types", "add_device_type", "repository_vendor")
    assert result["step_id"] == "repository_vendor"

    # Listed in the index, without a folder: said, and not offered again.
    assert "1m2m" in dict(choices(result, "vendor_id"))
    result = await answer(hass, result, vendor_id="1m2m")
    assert result["errors"] == {"base": "no_repository_devices"}
    assert "1m2m" not in dict(choices(result, "vendor_id"))
    # Devices, none with a codec.
    result = await answer(hass, result, vendor_id="agriseen")
    assert result["errors"] == {"base": "no_repository_codecs"}
    # The vendor's devices cannot be had now.
    files.statuses["vendor/sensecap/index.yaml"] = 503
    result = await answer(hass, result, vendor_id="sensecap")
    assert result["errors"] == {"base": "repository_unreachable"}
    assert result["description_placeholders"] == {"reason": "**the repository answered HTTP 503**"}
    assert default(result, "vendor_id") == "sensecap"
    del files.statuses["vendor/sensecap/index.yaml"]
    result = await answer(hass, result, vendor_id="sensecap")
    assert ("sensecaps2101-temp-humid", S2101_NAME) in choices(result, "model")
    result = await answer(hass, result, model="sensecaps2101-temp-humid")
    assert result["step_id"] == "repository_firmware"
    result = await answer(hass, result, firmware="1.0")
    result = await answer(hass, result, band="EU863-870")
    # The codec cannot be had: the reason, on the same step.
    files.statuses["vendor/sensecap/sensecap210x-codec.yaml"] = 404
    result = await answer(hass, result, name="S2101")
    assert result["errors"] == {"base": "codec_invalid"}
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert placeholders["reason"] == "**the repository has no sensecap210x-codec.yaml**"
    result = await answer(hass, result, name=" ")
    assert result["errors"] == {"name": "name_required"}
    await files.stop()
    result = await answer(hass, result, name="S2101")
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert "the repository cannot be reached" in placeholders["reason"]
    await files.start()
    del files.statuses["vendor/sensecap/sensecap210x-codec.yaml"]
    result = await answer(hass, result, name="S2101")
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.usefixtures("no_reload")
async def test_changing_a_device_type_from_the_repository(
    hass: HomeAssistant, files: RepositoryFiles
) -> None:
    """Each list starts at what the device type had chosen; its commands stay."""
    commands = {"go": {"name": "Go", "kind": "button", "port": 1, "payload": "01"}}
    entry = MockConfigEntry(
        domain=DOMAIN,
        data={"vendor": "orion"},
        options={CONF_DEVICE_TYPES: {"analog": {**ANALOG, "commands": commands}}},
    )
    entry.add_to_hass(hass)
    result = await open_step(hass, entry, "device_types", "edit_device_type")
    result = await answer(hass, result, device_type="analog")
    assert result["step_id"] == "repository_vendor"
    assert default(result, "vendor_id") == "adeunis"
    result = await answer(hass, result, vendor_id="adeunis")
    assert default(result, "model") == "analog"
    result = await answer(hass, result, model="analog")
    assert default(result, "hardware_version") == "8200AA"
    result = await answer(hass, result, hardware_version="8180BA")
    assert default(result, "firmware") == "2.1.X"
    result = await answer(hass, result, firmware="1.3.X")
    assert default(result, "band") == "EU863-870"
    result = await answer(hass, result, band="EU863-870")
    assert default(result, "name") == "Analog sensor"
    result = await answer(hass, result, name="Analog sensor")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_DEVICE_TYPES]["analog"] == {
        **ANALOG,
        "hardware_version": "8180BA",
        "firmware": "1.3.X",
        "commands": commands,
    }
    # Another device of the vendor: its own name, nothing chosen beforehand.
    result = await open_step(hass, entry, "device_types", "edit_device_type")
    result = await answer(hass, result, device_type="analog")
    result = await answer(hass, result, vendor_id="adeunis")
    result = await answer(hass, result, model="modbus")
    assert default(result, "hardware_version") is None
    result = await answer(hass, result, hardware_version="8240AA")
    result = await answer(hass, result, firmware="2.1.X")
    result = await answer(hass, result, band="EU863-870")
    assert default(result, "name") == "Modbus - Modbus Interface"
    # The same device, on hardware without the firmware it had: the newest firmware instead.
    result = await open_step(hass, entry, "device_types", "edit_device_type")
    result = await answer(hass, result, device_type="analog")
    result = await answer(hass, result, vendor_id="adeunis")
    result = await answer(hass, result, model="analog")
    result = await answer(hass, result, hardware_version="1.04")
    assert default(result, "firmware") == "1.03"
    # Another vendor: nothing of the old device chosen beforehand.
    result = await open_step(hass, entry, "device_types", "edit_device_type")
    result = await answer(hass, result, device_type="analog")
    result = await answer(hass, result, vendor_id="dragino")
    assert default(result, "model") is None


@pytest.mark.parametrize(
    "lost_at",
    [
        "repository_device",
        "repository_hardware",
        "repository_firmware",
        "repository_band",
        "repository_name",
    ],
)
@pytest.mark.usefixtures("no_reload")
async def test_lists_lost_on_the_way(
    hass: HomeAssistant, files: RepositoryFiles, lost_at: str
) -> None:
    """The lists gone (none kept) and the repository down between two steps: the menu."""
    entry = MockConfigEntry(domain=DOMAIN, data={"vendor": "orion"})
    entry.add_to_hass(hass)
    result = await open_step(hass, entry, "device_types", "add_device_type", "repository_vendor")
    for field, value in (
        ("vendor_id", "adeunis"),
        ("model", "analog"),
        ("hardware_version", "8200AA"),
        ("firmware", "2.1.X"),
        ("band", "EU863-870"),
        ("name", "Analog"),
    ):
        if result["step_id"] == lost_at:
            break
        result = await answer(hass, result, **{field: value})
    assert result["step_id"] == lost_at
    hass.data.pop("lorawan_hub_catalog")
    await hass.async_add_executor_job(
        shutil.rmtree, hass.config.path(".storage", "lorawan_hub_catalog")
    )
    await files.stop()
    result = await answer(hass, result, **{field: value})
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "repository_unreachable"


async def device_options(hass: HomeAssistant, entry: MockConfigEntry) -> ConfigFlowResult:
    """Open the door's options."""
    result = await open_step(hass, entry, "device")
    return await answer(hass, result, device=DOOR)


async def test_device_identity_chosen_from_the_lists(
    hass: HomeAssistant, loaded_orion_entry: MockConfigEntry, files: RepositoryFiles
) -> None:
    """A device's repository model: vendor, then device; kept, changed or removed later."""
    result = await device_options(hass, loaded_orion_entry)
    assert result["step_id"] == "device_options"
    assert result["description_placeholders"] == {"dev_eui": DOOR, "identity": "-"}
    assert choices(result, "identity") == [("none", "none"), ("choose", "choose")]
    assert default(result, "identity") == "none"
    result = await answer(hass, result, codec="auto", f_port=1, identity="choose")
    assert result["step_id"] == "identity_vendor"
    assert ("sensecap", "SenseCAP") in choices(result, "vendor_id")
    result = await answer(hass, result, vendor_id="sensecap")
    assert result["step_id"] == "identity_device"
    assert result["description_placeholders"] == {"vendor": "SenseCAP"}
    result = await answer(hass, result, model_id="sensecaps2101-temp-humid")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    device = loaded_orion_entry.options[CONF_DEVICES][DOOR]
    assert device == {
        CONF_CODEC: "auto",
        CONF_F_PORT: 1,
        "identity": {
            "brand_id": "sensecap",
            "model_id": "sensecaps2101-temp-humid",
            "manufacturer": "SenseCAP",
            "model": S2101_NAME,
        },
    }
    identity = identity_of(loaded_orion_entry.options, device)
    assert identity is not None
    assert (identity.brand_id, identity.model_id) == S2101
    assert (identity.manufacturer, identity.model) == ("SenseCAP", S2101_NAME)
    await hass.async_block_till_done()

    # Shown, and kept while other settings change.
    result = await device_options(hass, loaded_orion_entry)
    assert result["description_placeholders"] == {
        "dev_eui": DOOR,
        "identity": f"SenseCAP {S2101_NAME} (sensecap/sensecaps2101-temp-humid)",
    }
    assert [value for value, _ in choices(result, "identity")] == ["keep", "choose", "none"]
    assert default(result, "identity") == "keep"
    result = await answer(hass, result, codec="raw", f_port=1, identity="keep")
    assert loaded_orion_entry.options[CONF_DEVICES][DOOR] == {**device, CONF_CODEC: "raw"}
    await hass.async_block_till_done()

    # Chosen again: the lists start at the device's model.
    result = await device_options(hass, loaded_orion_entry)
    result = await answer(hass, result, codec="raw", f_port=1, identity="choose")
    assert default(result, "vendor_id") == "sensecap"
    result = await answer(hass, result, vendor_id="sensecap")
    assert default(result, "model_id") == "sensecaps2101-temp-humid"
    result = await device_options(hass, loaded_orion_entry)
    result = await answer(hass, result, codec="raw", f_port=1, identity="choose")
    result = await answer(hass, result, vendor_id="dragino")
    assert default(result, "model_id") is None
    result = await answer(hass, result, model_id="lht65")
    assert loaded_orion_entry.options[CONF_DEVICES][DOOR]["identity"] == {
        "brand_id": "dragino",
        "model_id": "lht65",
        "manufacturer": "Dragino Technology Co., Limited",
        "model": "LHT65 - Temperature & Humidity Sensor",
    }
    await hass.async_block_till_done()

    # Removed.
    result = await device_options(hass, loaded_orion_entry)
    result = await answer(hass, result, codec="raw", f_port=1, identity="none")
    assert loaded_orion_entry.options[CONF_DEVICES][DOOR] == {CONF_CODEC: "raw", CONF_F_PORT: 1}


async def test_device_identity_saved_before_and_refusals(
    hass: HomeAssistant, loaded_orion_entry: MockConfigEntry, files: RepositoryFiles
) -> None:
    """
    An identity saved as ids alone is shown and kept.

    A repository that cannot be read says so, and the other settings can still be saved.
    """
    hass.config_entries.async_update_entry(
        loaded_orion_entry,
        options={
            CONF_DEVICES: {
                DOOR: {CONF_CODEC: "auto", "identity": {"brand_id": "acme", "model_id": "x1"}}
            }
        },
    )
    await hass.async_block_till_done()
    result = await device_options(hass, loaded_orion_entry)
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert placeholders["identity"] == "acme/x1"
    await files.stop()
    result = await answer(hass, result, codec="raw", f_port=2, identity="choose")
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "identity_unreachable"
    assert result["menu_options"] == ["identity_vendor", "identity_keep"]
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert "cannot be reached" in placeholders["reason"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "identity_keep"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert loaded_orion_entry.options[CONF_DEVICES][DOOR] == {
        CONF_CODEC: "raw",
        CONF_F_PORT: 2,
        "identity": {"brand_id": "acme", "model_id": "x1"},
    }
    await hass.async_block_till_done()

    await files.start()
    result = await device_options(hass, loaded_orion_entry)
    result = await answer(hass, result, codec="raw", f_port=2, identity="choose")
    assert default(result, "vendor_id") is None  # acme is no vendor of the repository
    result = await answer(hass, result, vendor_id="1m2m")
    assert result["errors"] == {"base": "no_repository_devices"}
    files.statuses["vendor/seeed/index.yaml"] = 503
    result = await answer(hass, result, vendor_id="seeed")
    assert result["errors"] == {"base": "repository_unreachable"}
    assert result["description_placeholders"] == {"reason": "**the repository answered HTTP 503**"}
    # Without a device yet: the vendor's devices without a codec are offered too.
    result = await answer(hass, result, vendor_id="agriseen")
    assert choices(result, "model_id") == [("ga5067", "GA5067 - Cattle Tracking")]
    # The lists become unreachable on the way (and none is kept): the menu again.
    hass.data.pop("lorawan_hub_catalog")
    await hass.async_add_executor_job(
        shutil.rmtree, hass.config.path(".storage", "lorawan_hub_catalog")
    )
    await files.stop()
    result = await answer(hass, result, model_id="ga5067")
    assert result["step_id"] == "identity_unreachable"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "identity_vendor"}
    )
    assert result["step_id"] == "identity_unreachable"


def test_devices_sharing_a_name_are_told_apart() -> None:
    """Two devices of one name get their ids beside it; the list goes by name."""
    devices = {
        device_id: Device(device_id, name, "", (), ())
        for device_id, name in (("b-2", "Beta"), ("a-1", "alpha"), ("b-1", "beta"))
    }
    assert device_choices(devices) == [
        ("a-1", "alpha"),
        ("b-1", "beta (b-1)"),
        ("b-2", "Beta (b-2)"),
    ]
