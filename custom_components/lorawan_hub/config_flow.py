"""Config flow: pick a vendor, enter its credentials; reauth, reconfigure and options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import probatio
from yarl import URL

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_TOKEN, CONF_URL
from homeassistant.core import callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .codecs.decode import AUTO, CHOICES
from .const import (
    AVAILABLE_VENDORS,
    CONF_APP_ID,
    CONF_CODEC,
    CONF_DEVICES,
    CONF_OFFLINE_AFTER,
    CONF_VENDOR,
    DEFAULT_OFFLINE_AFTER,
    DOMAIN,
    LOGGER,
    VENDOR_ORION,
    VENDORS,
)
from .lns.errors import AuthError, LimitReached, LnsError
from .lns.orion import DEFAULT_URL as ORION_DEFAULT_URL
from .vendors import create_client

CONF_DEVICE = "device"

_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_URL = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
_OFFLINE_AFTER = NumberSelector(
    NumberSelectorConfig(
        min=1, max=10080, step=1, mode=NumberSelectorMode.BOX, unit_of_measurement="min"
    )
)


def orion_unique_id(url: str, app_id: str) -> str:
    """Identify an Orion application on a server: ``host[:port]/app_id``."""
    parsed = URL(url)
    authority = (parsed.host or "").lower()
    if parsed.explicit_port is not None:
        authority = f"{authority}:{parsed.explicit_port}"
    return f"{authority}/{app_id}"


def _valid_ws_url(url: str) -> bool:
    try:
        parsed = URL(url)
    except ValueError:
        return False
    return parsed.scheme in ("ws", "wss") and bool(parsed.host)


def _orion_schema(defaults: Mapping[str, Any], *, token_required: bool = True) -> probatio.Schema:
    token = probatio.Required(CONF_TOKEN) if token_required else probatio.Optional(CONF_TOKEN)
    return probatio.Schema(
        {
            probatio.Required(CONF_URL, default=defaults.get(CONF_URL, ORION_DEFAULT_URL)): _URL,
            probatio.Required(
                CONF_APP_ID, default=defaults.get(CONF_APP_ID, probatio.UNDEFINED)
            ): str,
            token: _PASSWORD,
        }
    )


class LoRaWANHubConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a network-server connection."""

    VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> LoRaWANHubOptionsFlow:
        """Per-device codec and offline threshold."""
        return LoRaWANHubOptionsFlow()

    async def _validate(self, data: Mapping[str, Any]) -> dict[str, str]:
        """Connect with ``data``; return the form errors (none when it worked)."""
        client = create_client(async_get_clientsession(self.hass), data)
        try:
            await client.validate()
        except AuthError:
            return {"base": "invalid_auth"}
        except LimitReached:
            return {"base": "client_limit"}
        except LnsError:
            return {"base": "cannot_connect"}
        except Exception:  # noqa: BLE001 - a flow must show "unknown", not crash
            LOGGER.exception("Unexpected error while validating the connection")
            return {"base": "unknown"}
        finally:
            await client.close()
        return {}

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Pick the network server's vendor."""
        errors: dict[str, str] = {}
        if user_input is not None:
            if user_input[CONF_VENDOR] in AVAILABLE_VENDORS:
                return await self.async_step_orion()
            errors[CONF_VENDOR] = "vendor_not_available"
        return self.async_show_form(
            step_id="user",
            data_schema=probatio.Schema(
                {
                    probatio.Required(CONF_VENDOR): SelectSelector(
                        SelectSelectorConfig(
                            options=list(VENDORS),
                            translation_key=CONF_VENDOR,
                            mode=SelectSelectorMode.LIST,
                        )
                    )
                }
            ),
            errors=errors,
        )

    async def async_step_orion(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Enter the OrionM2M server, application id and token."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {
                CONF_VENDOR: VENDOR_ORION,
                CONF_URL: user_input[CONF_URL].strip(),
                CONF_APP_ID: user_input[CONF_APP_ID].strip(),
                CONF_TOKEN: user_input[CONF_TOKEN].strip(),
            }
            if not _valid_ws_url(data[CONF_URL]):
                errors[CONF_URL] = "invalid_url"
            else:
                await self.async_set_unique_id(orion_unique_id(data[CONF_URL], data[CONF_APP_ID]))
                self._abort_if_unique_id_configured()
                errors = await self._validate(data)
                if not errors:
                    return self.async_create_entry(title=f"OrionM2M {data[CONF_APP_ID]}", data=data)
        return self.async_show_form(
            step_id="orion",
            data_schema=self.add_suggested_values_to_schema(
                _orion_schema(user_input or {}),
                {k: v for k, v in (user_input or {}).items() if k != CONF_TOKEN},
            ),
            errors=errors,
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Start reauthentication after the network server refused the stored credentials."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a new token."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, CONF_TOKEN: user_input[CONF_TOKEN].strip()}
            errors = await self._validate(data)
            if not errors:
                return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=probatio.Schema({probatio.Required(CONF_TOKEN): _PASSWORD}),
            description_placeholders={"title": entry.title, "app_id": entry.data[CONF_APP_ID]},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the server address or token of the same application."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {
                **entry.data,
                CONF_URL: user_input[CONF_URL].strip(),
                CONF_APP_ID: user_input[CONF_APP_ID].strip(),
            }
            if token := (user_input.get(CONF_TOKEN) or "").strip():
                data[CONF_TOKEN] = token
            if not _valid_ws_url(data[CONF_URL]):
                errors[CONF_URL] = "invalid_url"
            else:
                await self.async_set_unique_id(orion_unique_id(data[CONF_URL], data[CONF_APP_ID]))
                self._abort_if_unique_id_mismatch()
                errors = await self._validate(data)
                if not errors:
                    return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=_orion_schema(user_input or entry.data, token_required=False),
            errors=errors,
        )


class LoRaWANHubOptionsFlow(OptionsFlowWithReload):
    """Options: the default offline threshold, and codec and threshold per device."""

    _dev_eui: str

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose what to change."""
        return self.async_show_menu(step_id="init", menu_options=["settings", "device"])

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

    async def async_step_device_options(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Codec and offline threshold of the chosen device."""
        devices: dict[str, dict[str, Any]] = dict(self.config_entry.options.get(CONF_DEVICES, {}))
        current = devices.get(self._dev_eui, {})
        if user_input is not None:
            device_options: dict[str, Any] = {CONF_CODEC: user_input[CONF_CODEC]}
            if (offline_after := user_input.get(CONF_OFFLINE_AFTER)) is not None:
                device_options[CONF_OFFLINE_AFTER] = int(offline_after)
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
                        options=list(CHOICES),
                        translation_key=CONF_CODEC,
                        mode=SelectSelectorMode.LIST,
                    )
                ),
                probatio.Optional(CONF_OFFLINE_AFTER): _OFFLINE_AFTER,
            }
        )
        return self.async_show_form(
            step_id="device_options",
            data_schema=self.add_suggested_values_to_schema(schema, current),
            description_placeholders={"dev_eui": self._dev_eui},
        )
