"""Netemera: an application of the LoRaWAN API, with OAuth 2.0 client credentials."""

from __future__ import annotations

from collections.abc import Mapping
import contextlib
from typing import Any

import aiohttp
import probatio

from homeassistant.config_entries import ConfigFlowResult
from homeassistant.const import CONF_CLIENT_ID, CONF_CLIENT_SECRET, CONF_URL
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)

from ..const import CONF_APP_ID, CONF_AUTH_URL, CONF_VENDOR
from ..lns.netemera import DEFAULT_API_URL, DEFAULT_TOKEN_URL, NetemeraClient, api_root
from .flow import HTTP_SCHEMES, PASSWORD, URL_SELECTOR, VendorFlow, authority, valid_url
from .spec import VendorSpec, register


def netemera_unique_id(data: Mapping[str, Any]) -> str:
    """Identify a Netemera application of an API: ``host[:port]/path/application``."""
    parsed = api_root(data[CONF_URL])
    return f"{authority(parsed)}{parsed.path}/{data[CONF_APP_ID]}"


def netemera_client(
    session: aiohttp.ClientSession, data: Mapping[str, Any], push_url: str | None = None
) -> NetemeraClient:
    """Return a Netemera client; without an application id it can only list applications."""
    return NetemeraClient(
        session,
        data[CONF_URL],
        data[CONF_AUTH_URL],
        client_id=data[CONF_CLIENT_ID],
        client_secret=data[CONF_CLIENT_SECRET],
        application_id=data.get(CONF_APP_ID),
    )


def _schema(defaults: Mapping[str, Any], *, secret_required: bool = True) -> probatio.Schema:
    secret = (
        probatio.Required(CONF_CLIENT_SECRET)
        if secret_required
        else probatio.Optional(CONF_CLIENT_SECRET)
    )
    return probatio.Schema(
        {
            probatio.Required(CONF_URL, default=defaults.get(CONF_URL, DEFAULT_API_URL)): (
                URL_SELECTOR
            ),
            probatio.Required(
                CONF_AUTH_URL, default=defaults.get(CONF_AUTH_URL, DEFAULT_TOKEN_URL)
            ): URL_SELECTOR,
            probatio.Required(
                CONF_CLIENT_ID, default=defaults.get(CONF_CLIENT_ID, probatio.UNDEFINED)
            ): str,
            secret: PASSWORD,
        }
    )


def _data(user_input: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """Return the entry data of a Netemera form: ``current`` with the form's values, trimmed."""
    url = user_input[CONF_URL].strip()
    with contextlib.suppress(ValueError):  # an invalid URL stays as typed, to be reported
        url = str(api_root(url))
    data = {
        **current,
        CONF_VENDOR: NetemeraClient.vendor,
        CONF_URL: url,
        CONF_AUTH_URL: user_input[CONF_AUTH_URL].strip(),
        CONF_CLIENT_ID: user_input[CONF_CLIENT_ID].strip(),
    }
    if secret := (user_input.get(CONF_CLIENT_SECRET) or "").strip():
        data[CONF_CLIENT_SECRET] = secret
    return data


def _url_errors(data: Mapping[str, Any]) -> dict[str, str]:
    return {
        key: "invalid_http_url"
        for key in (CONF_URL, CONF_AUTH_URL)
        if not valid_url(data[key], HTTP_SCHEMES)
    }


class NetemeraFlow(VendorFlow):
    """The Netemera steps: the API and authorization server, the client, the application."""

    _netemera: dict[str, Any]
    _netemera_applications: dict[str, str]

    async def async_step_netemera(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Enter the Netemera API and authorization server and the client credentials."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _data(user_input, {})
            errors = _url_errors(data)
            if not errors:
                applications, errors = await self._check(
                    netemera_client(async_get_clientsession(self.hass), data),
                    lambda client: client.list_applications(),
                )
                if applications is not None and not applications:
                    errors = {"base": "no_applications"}
                if not errors and applications:
                    self._netemera = data
                    self._netemera_applications = {
                        app.application_id: app.name or app.application_id for app in applications
                    }
                    return await self.async_step_netemera_application()
        return self.async_show_form(
            step_id="netemera",
            description_placeholders={"api_url": DEFAULT_API_URL},
            data_schema=self.add_suggested_values_to_schema(
                _schema(user_input or {}),
                {k: v for k, v in (user_input or {}).items() if k != CONF_CLIENT_SECRET},
            ),
            errors=errors,
        )

    async def async_step_netemera_application(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick one of the applications the credentials can see."""
        errors: dict[str, str] = {}
        applications = self._netemera_applications
        if user_input is not None:
            application_id = user_input[CONF_APP_ID]
            data = {**self._netemera, CONF_APP_ID: application_id}
            await self.async_set_unique_id(netemera_unique_id(data))
            self._abort_if_unique_id_configured()
            errors = await self._validate(data)
            if not errors:
                return self.async_create_entry(
                    title=f"Netemera {applications.get(application_id, application_id)}",
                    data=data,
                )
        options = [
            SelectOptionDict(
                value=application_id,
                label=name if name == application_id else f"{name} ({application_id})",
            )
            for application_id, name in sorted(
                applications.items(), key=lambda item: item[1].lower()
            )
        ]
        return self.async_show_form(
            step_id="netemera_application",
            data_schema=probatio.Schema(
                {
                    probatio.Required(CONF_APP_ID, default=options[0]["value"]): SelectSelector(
                        SelectSelectorConfig(options=options, mode=SelectSelectorMode.DROPDOWN)
                    )
                }
            ),
            errors=errors,
        )

    async def async_step_reconfigure_netemera(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the Netemera addresses or credentials; the application stays."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _data(user_input, entry.data)
            errors = _url_errors(data)
            if not errors:
                await self.async_set_unique_id(netemera_unique_id(data))
                self._abort_if_unique_id_mismatch()
                errors = await self._validate(data)
                if not errors:
                    return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reconfigure_netemera",
            data_schema=_schema(user_input or entry.data, secret_required=False),
            description_placeholders={"app_id": entry.data[CONF_APP_ID]},
            errors=errors,
        )


SPEC = register(
    VendorSpec(
        client_class=NetemeraClient,
        create_client=netemera_client,
        flow=NetemeraFlow,
        reauth_fields={CONF_CLIENT_ID: str, CONF_CLIENT_SECRET: PASSWORD},
        unique_id=netemera_unique_id,
        secrets=frozenset({CONF_CLIENT_SECRET, "access_token", "refresh_token"}),
    )
)
