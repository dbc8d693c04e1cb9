"""SenRa (Senet): an application, with an API key; its notifications pushed to a webhook."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
import probatio

from homeassistant.config_entries import ConfigFlowResult
from homeassistant.const import CONF_API_KEY, CONF_URL, CONF_WEBHOOK_ID
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)

from ..const import CONF_APP_EUI, CONF_PUSH_SECRET, CONF_VENDOR
from ..lns.models import normalize_eui
from ..lns.senra import DEFAULT_URL, SENET_URL, SenraClient
from .flow import HTTP_SCHEMES, PASSWORD, VendorFlow, valid_url
from .spec import VendorSpec, register

_SERVERS = SelectSelector(
    SelectSelectorConfig(
        options=[DEFAULT_URL, SENET_URL], custom_value=True, mode=SelectSelectorMode.DROPDOWN
    )
)


_SERVER_URLS = {"senra_url": DEFAULT_URL, "senet_url": SENET_URL}


def senra_unique_id(data: Mapping[str, Any]) -> str:
    """Identify a SenRa application by its EUI (the same on both API hosts)."""
    return f"senra/{data[CONF_APP_EUI]}"


def _client(
    session: aiohttp.ClientSession, data: Mapping[str, Any], push_url: str | None
) -> SenraClient:
    return SenraClient(session, data[CONF_URL], data[CONF_API_KEY], data[CONF_APP_EUI])


class SenraFlow(VendorFlow):
    """The SenRa steps: the server, the key and the application, then the notification target."""

    _senra: dict[str, Any]

    async def async_step_senra(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Enter the SenRa API server, an API key and the application's EUI."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {
                CONF_VENDOR: SenraClient.vendor,
                CONF_URL: user_input[CONF_URL].strip().rstrip("/"),
                CONF_API_KEY: user_input[CONF_API_KEY].strip(),
                CONF_APP_EUI: user_input[CONF_APP_EUI].strip(),
            }
            try:
                data[CONF_APP_EUI] = normalize_eui(data[CONF_APP_EUI])
            except ValueError:
                errors[CONF_APP_EUI] = "invalid_eui"
            if not valid_url(data[CONF_URL], HTTP_SCHEMES):
                errors[CONF_URL] = "invalid_http_url"
            if not errors:
                await self.async_set_unique_id(senra_unique_id(data))
                self._abort_if_unique_id_configured()
                errors = await self._validate(data)
            if not errors:
                self._senra = data
                return await self.async_step_senra_push()
        return self.async_show_form(
            step_id="senra",
            description_placeholders=_SERVER_URLS,
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(
                    {
                        probatio.Required(CONF_URL, default=DEFAULT_URL): _SERVERS,
                        probatio.Required(CONF_API_KEY): PASSWORD,
                        probatio.Required(CONF_APP_EUI): str,
                    }
                ),
                {k: v for k, v in (user_input or {}).items() if k != CONF_API_KEY},
            ),
            errors=errors,
        )

    async def async_step_senra_push(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the notification target to set up in SenRa: the URL and the header."""
        return self._push_step(
            "senra_push",
            user_input,
            {"header": "Authorization", "value": f"Bearer {self._push_secret}"},
            lambda data: self.async_create_entry(
                title=f"SenRa {self._senra[CONF_APP_EUI]}", data={**self._senra, **data}
            ),
        )

    async def async_step_reconfigure_senra(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the SenRa server or API key; the application stays."""
        return await self._reconfigure_url_and_secret(
            "reconfigure_senra", user_input, _SERVERS, CONF_API_KEY, placeholders=_SERVER_URLS
        )


SPEC = register(
    VendorSpec(
        client_class=SenraClient,
        create_client=_client,
        flow=SenraFlow,
        reauth_fields={CONF_API_KEY: PASSWORD},
        unique_id=senra_unique_id,
        secrets=frozenset({CONF_API_KEY, CONF_PUSH_SECRET, CONF_WEBHOOK_ID}),
    )
)
