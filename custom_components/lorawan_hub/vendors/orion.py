"""OrionM2M: an application's WebSocket API, with its id and token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
import probatio
from yarl import URL

from homeassistant.config_entries import ConfigFlowResult
from homeassistant.const import CONF_TOKEN, CONF_URL

from ..const import CONF_APP_ID, CONF_VENDOR
from ..lns.orion import DEFAULT_URL, OrionClient
from .flow import PASSWORD, URL_SELECTOR, VendorFlow, authority, valid_url
from .spec import VendorSpec, register

_SCHEMES = ("ws", "wss")


def orion_unique_id(data: Mapping[str, Any]) -> str:
    """Identify an Orion application on a server: ``host[:port]/app_id``."""
    return f"{authority(URL(data[CONF_URL]))}/{data[CONF_APP_ID]}"


def _schema(defaults: Mapping[str, Any], *, token_required: bool = True) -> probatio.Schema:
    token = probatio.Required(CONF_TOKEN) if token_required else probatio.Optional(CONF_TOKEN)
    return probatio.Schema(
        {
            probatio.Required(CONF_URL, default=defaults.get(CONF_URL, DEFAULT_URL)): URL_SELECTOR,
            probatio.Required(
                CONF_APP_ID, default=defaults.get(CONF_APP_ID, probatio.UNDEFINED)
            ): str,
            token: PASSWORD,
        }
    )


def _data(user_input: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    data = {
        **current,
        CONF_VENDOR: OrionClient.vendor,
        CONF_URL: user_input[CONF_URL].strip(),
        CONF_APP_ID: user_input[CONF_APP_ID].strip(),
    }
    if token := (user_input.get(CONF_TOKEN) or "").strip():
        data[CONF_TOKEN] = token
    return data


class OrionFlow(VendorFlow):
    """The OrionM2M steps: the server, the application id and the token."""

    async def async_step_orion(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Enter the OrionM2M server, application id and token."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _data(user_input, {})
            if not valid_url(data[CONF_URL], _SCHEMES):
                errors[CONF_URL] = "invalid_url"
            else:
                await self.async_set_unique_id(orion_unique_id(data))
                self._abort_if_unique_id_configured()
                errors = await self._validate(data)
                if not errors:
                    return self.async_create_entry(title=f"OrionM2M {data[CONF_APP_ID]}", data=data)
        return self.async_show_form(
            step_id="orion",
            data_schema=self.add_suggested_values_to_schema(
                _schema(user_input or {}),
                {k: v for k, v in (user_input or {}).items() if k != CONF_TOKEN},
            ),
            errors=errors,
        )

    async def async_step_reconfigure_orion(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the server address or the token of the same application."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _data(user_input, entry.data)
            if not valid_url(data[CONF_URL], _SCHEMES):
                errors[CONF_URL] = "invalid_url"
            else:
                await self.async_set_unique_id(orion_unique_id(data))
                self._abort_if_unique_id_mismatch()
                errors = await self._validate(data)
                if not errors:
                    return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reconfigure_orion",
            data_schema=_schema(user_input or entry.data, token_required=False),
            errors=errors,
        )


def _client(
    session: aiohttp.ClientSession, data: Mapping[str, Any], push_url: str | None
) -> OrionClient:
    return OrionClient(session, data[CONF_URL], data[CONF_APP_ID], data[CONF_TOKEN])


SPEC = register(
    VendorSpec(
        client_class=OrionClient,
        create_client=_client,
        flow=OrionFlow,
        reauth_fields={CONF_TOKEN: PASSWORD},
        unique_id=orion_unique_id,
        secrets=frozenset({CONF_TOKEN, CONF_APP_ID}),
    )
)
