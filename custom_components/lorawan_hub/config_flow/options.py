"""
Options: the default offline threshold, each device's settings, device types and their commands.

A device's settings are its decoder, offline threshold, port (where the server reports none),
LoRaWAN Device Repository identity (chosen from the repository's lists), and whether to keep our
decoded entities. A device type's codec is pasted, read from a file, or chosen from the
repository's lists (``picker``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import probatio

from homeassistant.config_entries import ConfigFlowResult
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
from ..command_types import (
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
    CONF_NAME,
    CONF_PATH,
    CONF_SOURCE,
    SOURCE_FILE,
    SOURCE_PASTE,
    SOURCE_REPOSITORY,
    codec_choice,
)
from ..framework.consumer import FrameworkClient, FrameworkDevice
from ..lns.models import DownlinkMode
from ..vendors import VENDORS
from .picker import (
    CONF_BRAND_ID,
    CONF_MODEL_ID,
    IDENTITY_CHOOSE,
    IDENTITY_KEEP,
    IDENTITY_NONE,
    RepositorySteps,
)

CONF_DEVICE = "device"
CONF_DEVICE_TYPE = "device_type"
CONF_COMMAND = "command"
_OFFLINE_AFTER = NumberSelector(
    NumberSelectorConfig(
        min=1, max=10080, step=1, mode=NumberSelectorMode.BOX, unit_of_measurement="min"
    )
)
_SOURCE_STEPS = {
    SOURCE_PASTE: "codec_paste",
    SOURCE_FILE: "codec_file",
    SOURCE_REPOSITORY: "repository_vendor",
}
"""The step that gives a device type's codec, by where it comes from."""


class LoRaWANHubOptionsFlow(RepositorySteps):
    """Options: the default offline threshold, and codec and threshold per device."""

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
        """Pick a device (of the entry of LoRaWAN connections, also one it does not decode yet)."""
        undecoded = self._undecoded_devices()
        if user_input is not None:
            self._dev_eui = user_input[CONF_DEVICE]
            self._network_id = undecoded.get(self._dev_eui)
            return await self.async_step_device_options()
        registry = dr.async_get(self.hass)
        options: list[SelectOptionDict] = []
        for device in dr.async_entries_for_config_entry(registry, self.config_entry.entry_id):
            for domain, identifier in device.identifiers:
                if domain == DOMAIN and identifier != self.config_entry.entry_id:
                    label = device.name_by_user or device.name or identifier
                    options.append(SelectOptionDict(value=identifier, label=label))
        listed = {option["value"] for option in options}
        for dev_eui, label in self._undecoded_labels().items():
            if dev_eui not in listed:
                options.append(SelectOptionDict(value=dev_eui, label=label))
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

    def _connection_devices(self) -> list[FrameworkDevice]:
        """Return the devices of Home Assistant's LoRaWAN connections the entry does not decode."""
        client = getattr(getattr(self.config_entry, "runtime_data", None), "client", None)
        return client.undecoded_devices() if isinstance(client, FrameworkClient) else []

    def _undecoded_devices(self) -> dict[str, str]:
        """Return the devices the entry could decode: DevEUI → their connection's network id."""
        return {device.dev_eui: device.network_id for device in self._connection_devices()}

    def _undecoded_labels(self) -> dict[str, str]:
        """Return how the devices the entry could decode are shown: name, DevEUI, connection."""
        labels = {}
        for device in self._connection_devices():
            provider = self.hass.config_entries.async_get_entry(device.network_id)
            where = provider.title if provider is not None else device.network_id
            name = device.descriptor.name or device.dev_eui
            labels[device.dev_eui] = f"{name} ({device.dev_eui}, {where})"
        return labels

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
            source = self._current_type().get(CONF_SOURCE, SOURCE_PASTE)
            step = getattr(self, f"async_step_{_SOURCE_STEPS.get(source, 'codec_paste')}")
            result: ConfigFlowResult = await step()
            return result
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
        """Define a new device type: choose where its codec comes from."""
        self._type_id = ulid_now().lower()
        return self.async_show_menu(
            step_id="add_device_type",
            menu_options=["codec_paste", "codec_file", "repository_vendor"],
        )

    async def _codec_form(
        self, step_id: str, field: str, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """Name the device type and give its codec (pasted, or a file's path); check it."""
        source = SOURCE_PASTE if field == CONF_CODE else SOURCE_FILE
        current = self._current_type()
        errors: dict[str, str] = {}
        reason = ""
        if user_input is not None:
            value = str(user_input.get(field) or "")
            definition = {
                CONF_NAME: user_input[CONF_NAME].strip(),
                CONF_SOURCE: source,
                field: value if field == CONF_CODE else value.strip(),
            }
            if not definition[CONF_NAME]:
                errors[CONF_NAME] = "name_required"
            elif reason := await self._check_codec(definition):
                errors["base"] = "codec_invalid"
            else:
                return self._save_device_type(definition)
        suggested = user_input or (
            current if current.get(CONF_SOURCE, SOURCE_PASTE) == source else {}
        )
        widget = TextSelector(TextSelectorConfig(multiline=field == CONF_CODE))
        schema = probatio.Schema(
            {probatio.Required(CONF_NAME): TextSelector(), probatio.Required(field): widget}
        )
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            description_placeholders={"reason": f"**{reason}**" if reason else ""},
            errors=errors,
        )

    async def async_step_codec_paste(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Take a codec pasted here."""
        return await self._codec_form("codec_paste", CONF_CODE, user_input)

    async def async_step_codec_file(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Take a codec from a .js file under the configuration directory."""
        return await self._codec_form("codec_file", CONF_PATH, user_input)

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

    async def async_step_device_options(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Codec, offline threshold and repository identity of the chosen device."""
        devices: dict[str, dict[str, Any]] = dict(self.config_entry.options.get(CONF_DEVICES, {}))
        current = devices.get(self._dev_eui, {})
        spec = VENDORS.get(self.config_entry.data.get(CONF_VENDOR, ""))
        asks_port = spec is not None and not spec.client_class.reports_port
        # Identity and own entities concern devices the entry offers as a LoRaWAN connection.
        a_connection = spec is None or spec.provides_connection
        identity = self._identity() if a_connection else None
        if user_input is not None:
            device_options: dict[str, Any] = {CONF_CODEC: user_input[CONF_CODEC]}
            if (offline_after := user_input.get(CONF_OFFLINE_AFTER)) is not None:
                device_options[CONF_OFFLINE_AFTER] = int(offline_after)
            if asks_port:
                device_options[CONF_F_PORT] = int(user_input[CONF_F_PORT])
            if user_input.get(CONF_OWN_ENTITIES):
                device_options[CONF_OWN_ENTITIES] = True
            self._pending = device_options
            choice = user_input.get(CONF_IDENTITY, IDENTITY_KEEP)
            if choice == IDENTITY_CHOOSE:
                return await self.async_step_identity_vendor()
            return self._save_device(identity if choice == IDENTITY_KEEP else None)
        identity_choices = (
            [IDENTITY_KEEP, IDENTITY_CHOOSE, IDENTITY_NONE]
            if identity
            else [IDENTITY_NONE, IDENTITY_CHOOSE]
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
            }
        )
        if a_connection:
            schema = schema.extend(
                {
                    probatio.Required(CONF_IDENTITY, default=identity_choices[0]): SelectSelector(
                        SelectSelectorConfig(
                            options=identity_choices,
                            translation_key=CONF_IDENTITY,
                            mode=SelectSelectorMode.LIST,
                        )
                    ),
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
        return self.async_show_form(
            step_id="device_options",
            data_schema=self.add_suggested_values_to_schema(schema, current),
            description_placeholders={
                "dev_eui": self._dev_eui,
                "identity": _identity_text(identity),
            },
        )


def _identity_text(identity: Mapping[str, Any] | None) -> str:
    """Describe a device's repository identity: its names and ids (ids alone, as saved before)."""
    if not identity:
        return "-"
    ids = f"{identity.get(CONF_BRAND_ID, '')}/{identity.get(CONF_MODEL_ID, '')}"
    names = " ".join(str(identity[key]) for key in ("manufacturer", "model") if identity.get(key))
    return f"{names} ({ids})" if names else ids
