"""
Config flow: pick a vendor, enter its credentials; reauthentication and reconfiguration.

The vendors' own steps live in their registry modules (``vendors/``); this flow combines them,
offers every vendor of the registry in its first step, and asks each vendor's reauthentication
fields and reconfiguration step the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
import types
from typing import Any

import probatio

from homeassistant.config_entries import ConfigEntry, ConfigFlowResult
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)

from ..const import CONF_VENDOR, DOMAIN
from ..vendors import VENDORS
from ..vendors.flow import VendorFlow, account
from .options import LoRaWANHubOptionsFlow

_VERBATIM = frozenset({"password"})
"""Secrets that may begin or end with a space: taken as typed."""


class HubFlow(VendorFlow):
    """The steps of every entry: the vendor menu, reauthentication, reconfiguration."""

    VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> LoRaWANHubOptionsFlow:
        """Per-device decoding, port and identity; device types and their commands."""
        return LoRaWANHubOptionsFlow()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Pick the network server's vendor."""
        if user_input is not None:
            step = getattr(self, f"async_step_{user_input[CONF_VENDOR]}")
            result: ConfigFlowResult = await step()
            return result
        offered = [
            vendor
            for vendor, spec in VENDORS.items()
            if spec.available is None or await spec.available(self.hass)
        ]
        return self.async_show_form(
            step_id="user",
            data_schema=probatio.Schema(
                {
                    probatio.Required(CONF_VENDOR): SelectSelector(
                        SelectSelectorConfig(
                            options=offered,
                            translation_key=CONF_VENDOR,
                            mode=SelectSelectorMode.LIST,
                        )
                    )
                }
            ),
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Start reauthentication after the network server refused the stored credentials."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the vendor's credentials again: a token, a client and secret, a password..."""
        entry = self._get_reauth_entry()
        fields = VENDORS[entry.data[CONF_VENDOR]].reauth_fields
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {
                **entry.data,
                **{
                    key: user_input[key] if key in _VERBATIM else user_input[key].strip()
                    for key in fields
                },
            }
            errors = await self._validate(data)
            if not errors:
                return self.async_update_reload_and_abort(entry, data=data)
        schema = probatio.Schema(
            {
                probatio.Required(key, default=entry.data[key])
                if fields[key] is str
                else probatio.Required(key): fields[key]
                for key in fields
            }
        )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=schema,
            description_placeholders={"title": entry.title, "account": account(entry.data)},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the server address or credentials of the same application: the vendor's step."""
        vendor = self._get_reconfigure_entry().data[CONF_VENDOR]
        step = getattr(self, f"async_step_reconfigure_{vendor}")
        result: ConfigFlowResult = await step()
        return result


LoRaWANHubConfigFlow = types.new_class(
    "LoRaWANHubConfigFlow",
    (HubFlow, *(spec.flow for spec in VENDORS.values())),
    {"domain": DOMAIN},
    lambda namespace: namespace.update({"__module__": __name__}),
)
"""The config flow: the shared steps, and each registered vendor's own (``vendors/``)."""
