"""
Options: the default offline threshold, each device's settings, device types and their commands.

A device's settings are its decoder, offline threshold, port (where the server reports none),
LoRaWAN Device Repository identity, and whether to keep our decoded entities.
"""

from __future__ import annotations

from collections.abc import Mapping
import re
from typing import Any

import probatio

from homeassistant.config_entries import ConfigFlowResult, OptionsFlowWithReload
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
)
from homeassistant.util.ulid import ulid_now

from ..codecs.decode import AUTO, CHOICES
from ..codecs.javascript import CodecError, JsRunner
from ..commands import (
    BUTTON,
    CONF_BIG_ENDIAN,
    CONF_COMMANDS,
    CONF_CONFIRMED,
    CONF_KIND,
    CONF_LENGTH,
    CONF_MAXIMUM,
    CONF_MINIMUM,
    CONF_MODE,
    CONF_MULTIPLIER,
    CONF_OPTIONS,
    CONF_PAYLOAD,
    CONF_PAYLOAD_OFF,
    CONF_PAYLOAD_ON,
    CONF_PORT,
    KINDS,
    command_from_input,
)
from ..const import (
    CONF_CODEC,
    CONF_DEVICES,
    CONF_F_PORT,
    CONF_IDENTITY,
    CONF_OFFLINE_AFTER,
    CONF_OWN_ENTITIES,
    CONF_VENDOR,
    DEFAULT_F_PORT,
    DEFAULT_OFFLINE_AFTER,
    DOMAIN,
)
from ..device_types import (
    CONF_CODE,
    CONF_DEVICE_TYPES,
    CONF_FIRMWARE,
    CONF_MODEL,
    CONF_NAME,
    CONF_PATH,
    CONF_SOURCE,
    CONF_VENDOR_ID,
    SOURCE_FILE,
    SOURCE_PASTE,
    SOURCE_REPOSITORY,
    SOURCES,
    async_fetch_tested_codec,
    async_load_codec,
    codec_choice,
)
from ..lns.models import DownlinkMode
from ..vendors import VENDORS

CONF_DEVICE = "device"
CONF_DEVICE_TYPE = "device_type"
CONF_COMMAND = "command"
_REPOSITORY_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
_OFFLINE_AFTER = NumberSelector(
    NumberSelectorConfig(
        min=1, max=10080, step=1, mode=NumberSelectorMode.BOX, unit_of_measurement="min"
    )
)


def parse_identity(text: str) -> dict[str, str] | None:
    """Read ``vendor/device`` (LoRaWAN Device Repository ids), None when it is not that."""
    brand, _, model = text.strip().lower().partition("/")
    if _REPOSITORY_ID.fullmatch(brand) is None or _REPOSITORY_ID.fullmatch(model) is None:
        return None
    return {"brand_id": brand, "model_id": model}


class LoRaWANHubOptionsFlow(OptionsFlowWithReload):
    """Options: the default offline threshold, and codec and threshold per device."""

    _dev_eui: str
    _type_id: str

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose what to change."""
        return self.async_show_menu(
            step_id="init", menu_options=["settings", "device", "device_types"]
        )

    async def async_step_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Defaults for every device."""
        if user_input is not None:
            return self.async_create_entry(
                data={
                    **self.config_entry.options,
                    CONF_OFFLINE_AFTER: int(user_input[CONF_OFFLINE_AFTER]),
                }
            )
        current = self.config_entry.options.get(CONF_OFFLINE_AFTER, DEFAULT_OFFLINE_AFTER)
        return self.async_show_form(
            step_id="settings",
            data_schema=probatio.Schema(
                {probatio.Required(CONF_OFFLINE_AFTER, default=current): _OFFLINE_AFTER}
            ),
        )

    async def async_step_device(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Pick a device."""
        if user_input is not None:
            self._dev_eui = user_input[CONF_DEVICE]
            return await self.async_step_device_options()
        registry = dr.async_get(self.hass)
        options: list[SelectOptionDict] = []
        for device in dr.async_entries_for_config_entry(registry, self.config_entry.entry_id):
            for domain, identifier in device.identifiers:
                if domain == DOMAIN and identifier != self.config_entry.entry_id:
                    label = device.name_by_user or device.name or identifier
                    options.append(SelectOptionDict(value=identifier, label=label))
        if not options:
            return self.async_abort(reason="no_devices")
        options.sort(key=lambda option: option["label"].lower())
        return self.async_show_form(
            step_id="device",
            data_schema=probatio.Schema(
                {
                    probatio.Required(CONF_DEVICE): SelectSelector(
                        SelectSelectorConfig(options=options, mode=SelectSelectorMode.DROPDOWN)
                    )
                }
            ),
        )

    def _device_types(self) -> dict[str, dict[str, Any]]:
        return dict(self.config_entry.options.get(CONF_DEVICE_TYPES, {}))

    async def async_step_device_types(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add a device type (a JavaScript codec shared by devices), or change or remove one."""
        options = ["add_device_type"]
        if self._device_types():
            options += ["edit_device_type", "remove_device_type", "add_command"]
        if any(definition.get(CONF_COMMANDS) for definition in self._device_types().values()):
            options.append("remove_command")
        return self.async_show_menu(step_id="device_types", menu_options=options)

    def _pick_type_schema(self) -> probatio.Schema:
        choices = [
            SelectOptionDict(value=type_id, label=str(definition.get(CONF_NAME, type_id)))
            for type_id, definition in self._device_types().items()
        ]
        return probatio.Schema(
            {
                probatio.Required(CONF_DEVICE_TYPE): SelectSelector(
                    SelectSelectorConfig(options=choices, mode=SelectSelectorMode.DROPDOWN)
                )
            }
        )

    async def async_step_edit_device_type(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the device type to change."""
        if user_input is not None:
            self._type_id = user_input[CONF_DEVICE_TYPE]
            return await self.async_step_device_type()
        return self.async_show_form(
            step_id="edit_device_type", data_schema=self._pick_type_schema()
        )

    async def async_step_remove_device_type(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Remove a device type; its devices go back to automatic decoding."""
        if user_input is not None:
            type_id = user_input[CONF_DEVICE_TYPE]
            types = self._device_types()
            types.pop(type_id, None)
            devices = {
                dev_eui: {**device, CONF_CODEC: AUTO}
                if device.get(CONF_CODEC) == codec_choice(type_id)
                else device
                for dev_eui, device in self.config_entry.options.get(CONF_DEVICES, {}).items()
            }
            return self.async_create_entry(
                data={**self.config_entry.options, CONF_DEVICE_TYPES: types, CONF_DEVICES: devices}
            )
        return self.async_show_form(
            step_id="remove_device_type", data_schema=self._pick_type_schema()
        )

    async def async_step_add_device_type(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Define a new device type."""
        self._type_id = ulid_now().lower()
        return await self.async_step_device_type()

    async def async_step_device_type(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Name the device type and give its codec: pasted, or a .js file under the config."""
        current = self._device_types().get(self._type_id, {CONF_SOURCE: SOURCE_PASTE})
        errors: dict[str, str] = {}
        reason = ""
        if user_input is not None:
            definition = {
                CONF_NAME: user_input[CONF_NAME].strip(),
                CONF_SOURCE: user_input[CONF_SOURCE],
            }
            if commands := current.get(CONF_COMMANDS):
                definition[CONF_COMMANDS] = commands
            if user_input[CONF_SOURCE] == SOURCE_FILE:
                definition[CONF_PATH] = (user_input.get(CONF_PATH) or "").strip()
            elif user_input[CONF_SOURCE] == SOURCE_REPOSITORY:
                for key in (CONF_VENDOR_ID, CONF_MODEL, CONF_FIRMWARE):
                    definition[key] = (user_input.get(key) or "").strip()
            else:
                definition[CONF_CODE] = user_input.get(CONF_CODE) or ""
            reason = await self._check_codec(definition) if definition[CONF_NAME] else ""
            if not definition[CONF_NAME]:
                errors[CONF_NAME] = "name_required"
            elif reason:
                errors["base"] = "codec_invalid"
            else:
                types = {**self._device_types(), self._type_id: definition}
                return self.async_create_entry(
                    data={**self.config_entry.options, CONF_DEVICE_TYPES: types}
                )
        schema = probatio.Schema(
            {
                probatio.Required(CONF_NAME): str,
                probatio.Required(CONF_SOURCE): SelectSelector(
                    SelectSelectorConfig(
                        options=list(SOURCES),
                        translation_key=CONF_SOURCE,
                        mode=SelectSelectorMode.LIST,
                    )
                ),
                probatio.Optional(CONF_CODE): TextSelector(TextSelectorConfig(multiline=True)),
                probatio.Optional(CONF_PATH): str,
                probatio.Optional(CONF_VENDOR_ID): str,
                probatio.Optional(CONF_MODEL): str,
                probatio.Optional(CONF_FIRMWARE): str,
            }
        )
        return self.async_show_form(
            step_id="device_type",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or current),
            description_placeholders={"reason": f"**{reason}**" if reason else ""},
            errors=errors,
        )

    async def async_step_add_command(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Define a command of a device type: a button, switch, number or select downlink."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = command_from_input(user_input)
            if not errors:
                types = self._device_types()
                type_id = user_input[CONF_DEVICE_TYPE]
                definition = dict(types[type_id])
                definition[CONF_COMMANDS] = {
                    **definition.get(CONF_COMMANDS, {}),
                    ulid_now().lower(): data,
                }
                types[type_id] = definition
                return self.async_create_entry(
                    data={**self.config_entry.options, CONF_DEVICE_TYPES: types}
                )
        schema = self._pick_type_schema().extend(
            {
                probatio.Required(CONF_NAME): str,
                probatio.Required(CONF_KIND, default=BUTTON): SelectSelector(
                    SelectSelectorConfig(
                        options=list(KINDS), translation_key=CONF_KIND, mode=SelectSelectorMode.LIST
                    )
                ),
                probatio.Required(CONF_PORT, default=1): NumberSelector(
                    NumberSelectorConfig(min=1, max=223, step=1, mode=NumberSelectorMode.BOX)
                ),
                probatio.Required(CONF_CONFIRMED, default=False): bool,
                probatio.Required(CONF_MODE, default=DownlinkMode.QUEUE.value): SelectSelector(
                    SelectSelectorConfig(
                        options=[mode.value for mode in DownlinkMode],
                        translation_key=CONF_MODE,
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
                probatio.Optional(CONF_PAYLOAD): str,
                probatio.Optional(CONF_PAYLOAD_ON): str,
                probatio.Optional(CONF_PAYLOAD_OFF): str,
                probatio.Optional(CONF_LENGTH, default=1): NumberSelector(
                    NumberSelectorConfig(min=1, max=8, step=1, mode=NumberSelectorMode.BOX)
                ),
                probatio.Optional(CONF_BIG_ENDIAN, default=True): bool,
                probatio.Optional(CONF_MULTIPLIER, default=1): NumberSelector(
                    NumberSelectorConfig(mode=NumberSelectorMode.BOX, step="any")
                ),
                probatio.Optional(CONF_MINIMUM, default=0): NumberSelector(
                    NumberSelectorConfig(mode=NumberSelectorMode.BOX, step="any")
                ),
                probatio.Optional(CONF_MAXIMUM, default=255): NumberSelector(
                    NumberSelectorConfig(mode=NumberSelectorMode.BOX, step="any")
                ),
                probatio.Optional(CONF_OPTIONS): TextSelector(TextSelectorConfig(multiline=True)),
            }
        )
        return self.async_show_form(
            step_id="add_command",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
        )

    async def async_step_remove_command(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Remove a command (its entity goes away)."""
        types = self._device_types()
        if user_input is not None:
            type_id, _, command_id = user_input[CONF_COMMAND].partition("/")
            definition = dict(types[type_id])
            commands = dict(definition.get(CONF_COMMANDS, {}))
            commands.pop(command_id, None)
            definition[CONF_COMMANDS] = commands
            types[type_id] = definition
            return self.async_create_entry(
                data={**self.config_entry.options, CONF_DEVICE_TYPES: types}
            )
        choices = [
            SelectOptionDict(
                value=f"{type_id}/{command_id}",
                label=f"{definition.get(CONF_NAME, type_id)}: {command.get(CONF_NAME, command_id)}",
            )
            for type_id, definition in types.items()
            for command_id, command in definition.get(CONF_COMMANDS, {}).items()
        ]
        return self.async_show_form(
            step_id="remove_command",
            data_schema=probatio.Schema(
                {
                    probatio.Required(CONF_COMMAND): SelectSelector(
                        SelectSelectorConfig(options=choices, mode=SelectSelectorMode.DROPDOWN)
                    )
                }
            ),
        )

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

    async def async_step_device_options(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Codec and offline threshold of the chosen device."""
        devices: dict[str, dict[str, Any]] = dict(self.config_entry.options.get(CONF_DEVICES, {}))
        current = devices.get(self._dev_eui, {})
        spec = VENDORS.get(self.config_entry.data.get(CONF_VENDOR, ""))
        asks_port = spec is not None and not spec.client_class.reports_port
        errors: dict[str, str] = {}
        if user_input is not None:
            device_options: dict[str, Any] = {CONF_CODEC: user_input[CONF_CODEC]}
            if (offline_after := user_input.get(CONF_OFFLINE_AFTER)) is not None:
                device_options[CONF_OFFLINE_AFTER] = int(offline_after)
            if asks_port:
                device_options[CONF_F_PORT] = int(user_input[CONF_F_PORT])
            if user_input.get(CONF_OWN_ENTITIES):
                device_options[CONF_OWN_ENTITIES] = True
            if text := str(user_input.get(CONF_IDENTITY, "")).strip():
                if (identity := parse_identity(text)) is None:
                    errors[CONF_IDENTITY] = "invalid_identity"
                else:
                    device_options[CONF_IDENTITY] = identity
            if not errors:
                devices[self._dev_eui] = device_options
                return self.async_create_entry(
                    data={**self.config_entry.options, CONF_DEVICES: devices}
                )
        schema = probatio.Schema(
            {
                probatio.Required(
                    CONF_CODEC, default=current.get(CONF_CODEC, AUTO)
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=[
                            *(SelectOptionDict(value=choice, label=choice) for choice in CHOICES),
                            *(
                                SelectOptionDict(
                                    value=codec_choice(type_id),
                                    label=str(definition.get(CONF_NAME, type_id)),
                                )
                                for type_id, definition in self._device_types().items()
                            ),
                        ],
                        translation_key=CONF_CODEC,
                        mode=SelectSelectorMode.LIST,
                    )
                ),
                probatio.Optional(CONF_OFFLINE_AFTER): _OFFLINE_AFTER,
                probatio.Optional(CONF_IDENTITY): TextSelector(),
                probatio.Optional(CONF_OWN_ENTITIES, default=False): BooleanSelector(),
            }
        )
        if asks_port:
            schema = schema.extend(
                {
                    probatio.Required(
                        CONF_F_PORT, default=current.get(CONF_F_PORT, DEFAULT_F_PORT)
                    ): NumberSelector(
                        NumberSelectorConfig(min=1, max=223, step=1, mode=NumberSelectorMode.BOX)
                    )
                }
            )
        suggested = dict(current)
        if identity := current.get(CONF_IDENTITY):
            suggested[CONF_IDENTITY] = f"{identity['brand_id']}/{identity['model_id']}"
        return self.async_show_form(
            step_id="device_options",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            description_placeholders={"dev_eui": self._dev_eui},
            errors=errors,
        )
