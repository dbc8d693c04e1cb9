"""
Options steps that choose from the LoRaWAN Device Repository's lists.

A device type from the repository: vendor → device → hardware version (when the device has
several) → firmware version → band → name, each a list of what the repository offers at that
point (only choices that lead to one codec), then the codec is fetched and self-tested. A
device's repository identity: vendor → device. The lists come from ``codecs.catalog``, fetched
once and kept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import probatio

from homeassistant.config_entries import ConfigFlowResult, OptionsFlowWithReload
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)

from ..codecs.catalog import Device
from ..codecs.javascript import CodecError, JsRunner
from ..command_types import CONF_COMMANDS
from ..const import CONF_DECODED, CONF_DEVICES, CONF_IDENTITY
from ..device_types import (
    CONF_BAND,
    CONF_DEVICE_TYPES,
    CONF_FIRMWARE,
    CONF_HARDWARE_VERSION,
    CONF_MODEL,
    CONF_NAME,
    CONF_SOURCE,
    CONF_VENDOR_ID,
    SOURCE_REPOSITORY,
    async_fetch_tested_codec,
    async_load_codec,
    repository_catalog,
)

CONF_BRAND_ID = "brand_id"
CONF_MODEL_ID = "model_id"
IDENTITY_KEEP = "keep"
IDENTITY_CHOOSE = "choose"
IDENTITY_NONE = "none"


def dropdown(choices: Iterable[tuple[str, str]]) -> SelectSelector:
    """Return a dropdown of (value, label) choices, as given (already in order)."""
    return SelectSelector(
        SelectSelectorConfig(
            options=[SelectOptionDict(value=value, label=label) for value, label in choices],
            mode=SelectSelectorMode.DROPDOWN,
        )
    )


def device_choices(devices: Mapping[str, Device]) -> list[tuple[str, str]]:
    """Return devices as (id, label) by name; a name two devices share gets the id beside it."""
    names = Counter(device.name.casefold() for device in devices.values())
    return sorted(
        (
            (
                device_id,
                device.name
                if names[device.name.casefold()] == 1
                else f"{device.name} ({device_id})",
            )
            for device_id, device in devices.items()
        ),
        key=lambda choice: (choice[1].casefold(), choice[0]),
    )


def chosen(key: str, value: object, choices: Iterable[str]) -> probatio.Required:
    """Return a required field, with ``value`` chosen beforehand when it is one of the choices."""
    if isinstance(value, str) and value in choices:
        return probatio.Required(key, default=value)
    return probatio.Required(key)


class RepositorySteps(OptionsFlowWithReload):
    """The steps that choose a repository device: for a device type, and as a device's identity."""

    _type_id: str
    _dev_eui: str
    _draft: dict[str, str]
    """What has been chosen so far."""
    _pending: dict[str, Any]
    """A device's options, saved once its identity is chosen."""
    _reason: str
    """Why the repository cannot be read."""
    _network_id: str | None = None
    """The connection of a device of Home Assistant's LoRaWAN connections not decoded yet."""

    def _device_types(self) -> dict[str, dict[str, Any]]:
        return dict(self.config_entry.options.get(CONF_DEVICE_TYPES, {}))

    def _current_type(self) -> dict[str, Any]:
        return self._device_types().get(getattr(self, "_type_id", ""), {})

    def _save_device_type(self, definition: dict[str, Any]) -> ConfigFlowResult:
        """Save the device type being added or changed; its commands stay."""
        if commands := self._current_type().get(CONF_COMMANDS):
            definition[CONF_COMMANDS] = commands
        types = {**self._device_types(), self._type_id: definition}
        return self.async_create_entry(data={**self.config_entry.options, CONF_DEVICE_TYPES: types})

    async def _check_codec(self, definition: Mapping[str, Any]) -> str:
        """Load and compile a codec; return why it cannot decode ("" when it can)."""
        async with JsRunner() as runner:
            try:
                if definition[CONF_SOURCE] == SOURCE_REPOSITORY:
                    # Fetched again and self-tested, also when a copy is kept from before.
                    codec, _passed = await async_fetch_tested_codec(self.hass, definition, runner)
                else:
                    codec = await async_load_codec(self.hass, definition)
                if not await runner.run(codec.defines, "decodeUplink"):
                    return "it defines no decodeUplink function"
            except CodecError as err:
                return str(err)
        return ""

    def _previous(self, key: str) -> str | None:
        """Return what the device type being changed had chosen, when on the same device."""
        current = self._current_type()
        if current.get(CONF_SOURCE) != SOURCE_REPOSITORY:
            return None
        same = all(
            current.get(name) == self._draft.get(name)
            for name in (CONF_VENDOR_ID, CONF_MODEL)
            if name in self._draft and name != key
        )
        previous = current.get(key) if same else None
        return previous if isinstance(previous, str) else None

    async def _device(self) -> Device | ConfigFlowResult:
        """Return the device chosen, or the step that says the repository cannot be read."""
        try:
            return await repository_catalog(self.hass).async_device(
                self._draft[CONF_VENDOR_ID], self._draft[CONF_MODEL]
            )
        except CodecError as err:
            return await self._unreachable(err)

    async def _unreachable(self, err: CodecError) -> ConfigFlowResult:
        self._reason = str(err)
        return await self.async_step_repository_unreachable()

    async def async_step_repository_unreachable(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Say that the repository cannot be read: try again, or give the codec another way."""
        return self.async_show_menu(
            step_id="repository_unreachable",
            menu_options=["repository_vendor", "codec_paste", "codec_file"],
            description_placeholders={"reason": self._reason},
        )

    async def async_step_repository_vendor(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the vendor; its devices are fetched then."""
        self._draft = {}
        try:
            vendor = await self._vendor_step(
                "repository_vendor", user_input, self._previous(CONF_VENDOR_ID), codecs=True
            )
        except CodecError as err:
            return await self._unreachable(err)
        if not isinstance(vendor, str):
            return vendor
        self._draft = {CONF_VENDOR_ID: vendor}
        return await self.async_step_repository_device()

    async def _vendor_step(
        self,
        step_id: str,
        user_input: dict[str, Any] | None,
        previous: str | None,
        *,
        codecs: bool,
    ) -> str | ConfigFlowResult:
        """
        Return the vendor chosen, when it has devices (with a codec, if ``codecs``).

        Otherwise the form of the repository's vendors, with why the choice was not taken.
        Raises CodecError when the repository's vendor list cannot be read.
        """
        catalog = repository_catalog(self.hass)
        errors: dict[str, str] = {}
        reason = ""
        vendors = await catalog.async_vendors()
        if user_input is not None:
            vendor: str = user_input[CONF_VENDOR_ID]
            try:
                devices = await catalog.async_devices(vendor)
            except CodecError as err:
                errors["base"] = "repository_unreachable"
                reason = str(err)
            else:
                if not devices:
                    errors["base"] = "no_repository_devices"
                    vendors = await catalog.async_vendors()
                elif codecs and not any(device.has_codec for device in devices.values()):
                    errors["base"] = "no_repository_codecs"
                else:
                    return vendor
            previous = vendor or previous
        return self.async_show_form(
            step_id=step_id,
            data_schema=probatio.Schema(
                {chosen(CONF_VENDOR_ID, previous, vendors): dropdown(vendors.items())}
            ),
            description_placeholders={"reason": f"**{reason}**" if reason else ""},
            errors=errors,
        )

    async def async_step_repository_device(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the device among the vendor's devices that have a codec."""
        catalog = repository_catalog(self.hass)
        vendor = self._draft[CONF_VENDOR_ID]
        try:
            devices = {
                device_id: device
                for device_id, device in (await catalog.async_devices(vendor)).items()
                if device.has_codec
            }
            vendor_name = await catalog.async_vendor_name(vendor)
        except CodecError as err:
            return await self._unreachable(err)
        if user_input is not None and (device := devices.get(user_input[CONF_MODEL])):
            self._draft = {CONF_VENDOR_ID: vendor, CONF_MODEL: device.device_id}
            if device.hardware_choices():
                return await self.async_step_repository_hardware()
            return await self.async_step_repository_firmware()
        return self.async_show_form(
            step_id="repository_device",
            data_schema=probatio.Schema(
                {
                    chosen(CONF_MODEL, self._previous(CONF_MODEL), devices): dropdown(
                        device_choices(devices)
                    )
                }
            ),
            description_placeholders={"vendor": vendor_name},
        )

    def _about(self, device: Device) -> dict[str, str]:
        return {"device": device.name, "description": device.description or "-"}

    async def async_step_repository_hardware(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the hardware version, for a device that lists several."""
        device = await self._device()
        if not isinstance(device, Device):
            return device
        if user_input is not None:
            self._draft[CONF_HARDWARE_VERSION] = user_input[CONF_HARDWARE_VERSION]
            return await self.async_step_repository_firmware()
        choices = device.hardware_choices()
        return self._list_form(
            "repository_hardware",
            CONF_HARDWARE_VERSION,
            self._previous(CONF_HARDWARE_VERSION),
            choices,
            self._about(device),
        )

    async def async_step_repository_firmware(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the firmware version (newest first), among those with a codec."""
        device = await self._device()
        if not isinstance(device, Device):
            return device
        if user_input is not None:
            self._draft[CONF_FIRMWARE] = user_input[CONF_FIRMWARE]
            return await self.async_step_repository_band()
        versions = device.firmware_versions(self._draft.get(CONF_HARDWARE_VERSION))
        previous = self._previous(CONF_FIRMWARE)
        previous = previous if previous in versions else versions[0]
        return self._list_form(
            "repository_firmware", CONF_FIRMWARE, previous, versions, self._about(device)
        )

    async def async_step_repository_band(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the band: those the firmware's profiles name a codec for."""
        device = await self._device()
        if not isinstance(device, Device):
            return device
        if user_input is not None:
            self._draft[CONF_BAND] = user_input[CONF_BAND]
            return await self.async_step_repository_name()
        bands = device.bands(self._draft[CONF_FIRMWARE], self._draft.get(CONF_HARDWARE_VERSION))
        previous = self._previous(CONF_BAND)
        if previous not in bands and len(bands) == 1:
            previous = bands[0]
        return self._list_form(
            "repository_band",
            CONF_BAND,
            previous,
            bands,
            {**self._about(device), "firmware": self._draft[CONF_FIRMWARE]},
        )

    def _list_form(
        self,
        step_id: str,
        key: str,
        previous: str | None,
        choices: list[str],
        placeholders: dict[str, str],
    ) -> ConfigFlowResult:
        """Show one of the repository's lists (versions, bands), with what it had chosen before."""
        return self.async_show_form(
            step_id=step_id,
            data_schema=probatio.Schema(
                {chosen(key, previous, choices): dropdown((item, item) for item in choices)}
            ),
            description_placeholders=placeholders,
        )

    async def async_step_repository_name(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Name the device type; its codec is then fetched and self-tested."""
        device = await self._device()
        if not isinstance(device, Device):
            return device
        errors: dict[str, str] = {}
        reason = ""
        if user_input is not None:
            definition: dict[str, Any] = {
                CONF_NAME: user_input[CONF_NAME].strip(),
                CONF_SOURCE: SOURCE_REPOSITORY,
                **self._draft,
            }
            if not definition[CONF_NAME]:
                errors[CONF_NAME] = "name_required"
            elif reason := await self._check_codec(definition):
                errors["base"] = "codec_invalid"
            else:
                return self._save_device_type(definition)
        name = (user_input or {}).get(CONF_NAME) or self._previous(CONF_NAME)
        return self.async_show_form(
            step_id="repository_name",
            data_schema=probatio.Schema(
                {probatio.Required(CONF_NAME, default=name or device.name): TextSelector()}
            ),
            description_placeholders={
                **self._about(device),
                "firmware": self._draft[CONF_FIRMWARE],
                "band": self._draft[CONF_BAND],
                "reason": f"**{reason}**" if reason else "",
            },
            errors=errors,
        )

    def _save_device(self, identity: Mapping[str, str] | None) -> ConfigFlowResult:
        """Save the device's options, with its repository identity (if any)."""
        device_options = dict(self._pending)
        if identity:
            device_options[CONF_IDENTITY] = dict(identity)
        devices = {**self.config_entry.options.get(CONF_DEVICES, {})}
        devices[self._dev_eui] = device_options
        options = {**self.config_entry.options, CONF_DEVICES: devices}
        if self._network_id is not None:  # a device of a LoRaWAN connection, decoded from now
            decoded = options.get(CONF_DECODED, {})
            options[CONF_DECODED] = {**decoded, self._dev_eui: self._network_id}
        return self.async_create_entry(data=options)

    def _identity(self) -> Mapping[str, str] | None:
        """Return the device's identity as saved before."""
        identity = self.config_entry.options.get(CONF_DEVICES, {}).get(self._dev_eui, {})
        chosen_before = identity.get(CONF_IDENTITY)
        return chosen_before if isinstance(chosen_before, Mapping) else None

    async def async_step_identity_unreachable(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Say that the repository cannot be read: try again, or keep the identity as it was."""
        return self.async_show_menu(
            step_id="identity_unreachable",
            menu_options=["identity_vendor", "identity_keep"],
            description_placeholders={"reason": self._reason},
        )

    async def async_step_identity_keep(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Save the device's other options; its identity stays as it was."""
        return self._save_device(self._identity())

    async def async_step_identity_vendor(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the vendor of the device's repository identity."""
        before = self._identity() or {}
        try:
            vendor = await self._vendor_step(
                "identity_vendor", user_input, before.get(CONF_BRAND_ID), codecs=False
            )
        except CodecError as err:
            self._reason = str(err)
            return await self.async_step_identity_unreachable()
        if not isinstance(vendor, str):
            return vendor
        self._draft = {CONF_VENDOR_ID: vendor}
        return await self.async_step_identity_device()

    async def async_step_identity_device(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the device of the identity; its names are kept with the ids."""
        catalog = repository_catalog(self.hass)
        vendor = self._draft[CONF_VENDOR_ID]
        try:
            devices = await catalog.async_devices(vendor)
            vendor_name = await catalog.async_vendor_name(vendor)
        except CodecError as err:
            self._reason = str(err)
            return await self.async_step_identity_unreachable()
        if user_input is not None and (device := devices.get(user_input[CONF_MODEL_ID])):
            return self._save_device(
                {
                    CONF_BRAND_ID: vendor,
                    CONF_MODEL_ID: device.device_id,
                    "manufacturer": vendor_name,
                    "model": device.name,
                }
            )
        before = self._identity() or {}
        previous = before.get(CONF_MODEL_ID) if before.get(CONF_BRAND_ID) == vendor else None
        return self.async_show_form(
            step_id="identity_device",
            data_schema=probatio.Schema(
                {chosen(CONF_MODEL_ID, previous, devices): dropdown(device_choices(devices))}
            ),
            description_placeholders={"vendor": vendor_name},
        )
