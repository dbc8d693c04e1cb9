"""OrbiWise OrbiWAN: an account (or one of its applications), over WebSocket, MQTT or REST push."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
import probatio
from yarl import URL

from homeassistant.config_entries import ConfigFlowResult
from homeassistant.const import CONF_PASSWORD, CONF_URL, CONF_USERNAME, CONF_WEBHOOK_ID
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)

from ..const import (
    CONF_APPLICATION,
    CONF_AUTH_MODE,
    CONF_MQTT_HOST,
    CONF_MQTT_PORT,
    CONF_MQTT_TLS,
    CONF_PUSH_REPLACES,
    CONF_PUSH_SECRET,
    CONF_TRANSPORT,
    CONF_VENDOR,
)
from ..lns.errors import AuthError, LnsError
from ..lns.orbiwise import (
    AuthMode,
    MqttSettings,
    OrbiWiseClient,
    PushConfiguration,
    PushTarget,
    Transport,
)
from ..lns.orbiwise.mqtt import check_mqtt
from ..push import push_receiver_url
from .flow import HTTP_SCHEMES, PASSWORD, URL_SELECTOR, VendorFlow, account, authority, valid_url
from .spec import VendorSpec, register

CONF_REPLACE_PUSH = "replace_push"
MQTT_CHECK_SECONDS = 10.0
_PORT = NumberSelector(NumberSelectorConfig(min=1, max=65535, step=1, mode=NumberSelectorMode.BOX))
_AUTH_MODES = SelectSelector(
    SelectSelectorConfig(
        options=[mode.value for mode in AuthMode],
        translation_key=CONF_AUTH_MODE,
        mode=SelectSelectorMode.LIST,
    )
)
_TRANSPORTS = SelectSelector(
    SelectSelectorConfig(
        options=[transport.value for transport in Transport],
        translation_key=CONF_TRANSPORT,
        mode=SelectSelectorMode.LIST,
    )
)


def orbiwise_unique_id(data: Mapping[str, Any]) -> str:
    """Identify an OrbiWAN account (and application) on a server: ``host[:port]/user[/app]``."""
    unique_id = f"{authority(URL(data[CONF_URL]))}/{data[CONF_USERNAME]}"
    if data.get(CONF_APPLICATION):
        unique_id = f"{unique_id}/{data[CONF_APPLICATION]}"
    return unique_id


def orbiwise_client(
    session: aiohttp.ClientSession, data: Mapping[str, Any], push_url: str | None = None
) -> OrbiWiseClient:
    """Return an OrbiWAN client with the entry's transport."""
    transport = Transport(data.get(CONF_TRANSPORT, Transport.WEBSOCKET))
    mqtt = None
    if transport is Transport.MQTT and CONF_MQTT_HOST in data:
        mqtt = MqttSettings(data[CONF_MQTT_HOST], data[CONF_MQTT_PORT], data[CONF_MQTT_TLS])
    push_target = None
    if transport is Transport.REST_PUSH and push_url is not None:
        push_target = PushTarget(push_url, f"Bearer {data[CONF_PUSH_SECRET]}")
    return OrbiWiseClient(
        session,
        data[CONF_URL],
        username=data[CONF_USERNAME],
        password=data[CONF_PASSWORD],
        auth_mode=AuthMode(data.get(CONF_AUTH_MODE, AuthMode.OAUTH2)),
        application=data.get(CONF_APPLICATION),
        transport=transport,
        push_target=push_target,
        replaces=data.get(CONF_PUSH_REPLACES),
        mqtt=mqtt,
    )


def _schema() -> probatio.Schema:
    return probatio.Schema(
        {
            probatio.Required(CONF_URL): URL_SELECTOR,
            probatio.Required(CONF_USERNAME): str,
            probatio.Required(CONF_PASSWORD): PASSWORD,
            probatio.Required(CONF_AUTH_MODE, default=AuthMode.OAUTH2.value): _AUTH_MODES,
            probatio.Optional(CONF_APPLICATION): str,
            probatio.Required(CONF_TRANSPORT, default=Transport.WEBSOCKET.value): _TRANSPORTS,
        }
    )


def _data(user_input: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """Return the entry data of an OrbiWAN form: ``current`` with the form's values, trimmed."""
    data = {
        **current,
        CONF_VENDOR: OrbiWiseClient.vendor,
        CONF_URL: user_input[CONF_URL].strip().rstrip("/"),
        CONF_USERNAME: user_input[CONF_USERNAME].strip(),
        CONF_AUTH_MODE: user_input[CONF_AUTH_MODE],
    }
    if password := user_input.get(CONF_PASSWORD):
        data[CONF_PASSWORD] = password
    if CONF_TRANSPORT in user_input:
        data[CONF_TRANSPORT] = user_input[CONF_TRANSPORT]
        application = (user_input.get(CONF_APPLICATION) or "").strip()
        data.pop(CONF_APPLICATION, None)
        if application:
            data[CONF_APPLICATION] = application
    return data


class OrbiWiseFlow(VendorFlow):
    """The OrbiWAN steps: the account, then the MQTT broker or the REST push where chosen."""

    _orbiwise: dict[str, Any]
    _orbiwise_foreign: PushConfiguration

    async def async_step_orbiwise(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Enter the OrbiWAN server, the account, how to authenticate and how pushes come."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _data(user_input, {})
            if not valid_url(data[CONF_URL], HTTP_SCHEMES):
                errors[CONF_URL] = "invalid_http_url"
            else:
                await self.async_set_unique_id(orbiwise_unique_id(data))
                self._abort_if_unique_id_configured()
                errors = await self._validate(data)
            if not errors:
                self._orbiwise = data
                if data[CONF_TRANSPORT] == Transport.MQTT:
                    return await self.async_step_orbiwise_mqtt()
                if data[CONF_TRANSPORT] == Transport.REST_PUSH:
                    return await self.async_step_orbiwise_push()
                return self._create_orbiwise_entry(data)
        return self.async_show_form(
            step_id="orbiwise",
            description_placeholders={"example_url": "https://lora.example.com"},
            data_schema=self.add_suggested_values_to_schema(
                _schema(), {k: v for k, v in (user_input or {}).items() if k != CONF_PASSWORD}
            ),
            errors=errors,
        )

    async def async_step_orbiwise_mqtt(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Enter the server's MQTT broker (host mode) and check it takes the account."""
        errors: dict[str, str] = {}
        if user_input is not None:
            settings = MqttSettings(
                user_input[CONF_MQTT_HOST].strip(),
                int(user_input[CONF_MQTT_PORT]),
                bool(user_input[CONF_MQTT_TLS]),
            )
            try:
                await check_mqtt(
                    settings,
                    self._orbiwise[CONF_USERNAME],
                    self._orbiwise[CONF_PASSWORD],
                    MQTT_CHECK_SECONDS,
                )
            except AuthError:
                errors["base"] = "invalid_auth"
            except LnsError:
                errors["base"] = "cannot_connect"
            else:
                return self._create_orbiwise_entry(
                    {
                        **self._orbiwise,
                        CONF_MQTT_HOST: settings.host,
                        CONF_MQTT_PORT: settings.port,
                        CONF_MQTT_TLS: settings.tls,
                    }
                )
        host = URL(self._orbiwise[CONF_URL]).host or ""
        return self.async_show_form(
            step_id="orbiwise_mqtt",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(
                    {
                        probatio.Required(CONF_MQTT_HOST): str,
                        probatio.Required(CONF_MQTT_PORT): _PORT,
                        probatio.Required(CONF_MQTT_TLS): bool,
                    }
                ),
                user_input or {CONF_MQTT_HOST: host, CONF_MQTT_PORT: 8883, CONF_MQTT_TLS: True},
            ),
            errors=errors,
        )

    async def async_step_orbiwise_push(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """
        Show where the server will push; it needs Home Assistant's address on the internet.

        OrbiWAN keeps one push configuration per account (or application), shared with MQTT
        client mode: when one is set up already, ask before replacing it.
        """
        url = push_receiver_url(self.hass, self._webhook_id)
        if user_input is None or url is None or url != self._shown_url:
            return self._push_step("orbiwise_push", None, {}, self._create_orbiwise_entry)
        data = {
            **self._orbiwise,
            CONF_WEBHOOK_ID: self._webhook_id,
            CONF_PUSH_SECRET: self._push_secret,
        }
        client = orbiwise_client(async_get_clientsession(self.hass), data, url)
        foreign, errors = await self._check(client, lambda client: client.foreign_push())
        if errors:
            return self.async_show_form(
                step_id="orbiwise_push",
                data_schema=probatio.Schema({}),
                description_placeholders={"url": url},
                errors=errors,
            )
        if foreign is None:
            return self._create_orbiwise_entry(data)
        self._orbiwise = data
        self._orbiwise_foreign = foreign
        return await self.async_step_orbiwise_push_replace()

    async def async_step_orbiwise_push_replace(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Name the push configuration set up elsewhere (no secrets) and ask to replace it."""
        foreign = self._orbiwise_foreign
        if user_input is not None:
            if not user_input[CONF_REPLACE_PUSH]:
                return self.async_abort(
                    reason="orbiwise_push_kept", description_placeholders={"target": foreign.target}
                )
            return self._create_orbiwise_entry(
                {**self._orbiwise, CONF_PUSH_REPLACES: foreign.fingerprint}
            )
        return self.async_show_form(
            step_id="orbiwise_push_replace",
            data_schema=probatio.Schema(
                {probatio.Required(CONF_REPLACE_PUSH, default=False): bool}
            ),
            description_placeholders={"target": foreign.target},
        )

    def _create_orbiwise_entry(self, data: dict[str, Any]) -> ConfigFlowResult:
        title = f"OrbiWAN {data[CONF_USERNAME]}"
        if data.get(CONF_APPLICATION):
            title = f"{title} / {data[CONF_APPLICATION]}"
        return self.async_create_entry(title=title, data=data)

    async def async_step_reconfigure_orbiwise(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the OrbiWAN address, password or authentication; the account stays."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _data({**user_input, CONF_USERNAME: entry.data[CONF_USERNAME]}, entry.data)
            if not valid_url(data[CONF_URL], HTTP_SCHEMES):
                errors[CONF_URL] = "invalid_http_url"
            else:
                await self.async_set_unique_id(orbiwise_unique_id(data))
                self._abort_if_unique_id_mismatch()
                errors = await self._validate(data)
                if not errors:
                    return self.async_update_reload_and_abort(entry, data=data)
        current = {key: entry.data.get(key) for key in (CONF_URL, CONF_AUTH_MODE)}
        return self.async_show_form(
            step_id="reconfigure_orbiwise",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(
                    {
                        probatio.Required(CONF_URL): URL_SELECTOR,
                        probatio.Optional(CONF_PASSWORD): PASSWORD,
                        probatio.Required(CONF_AUTH_MODE): _AUTH_MODES,
                    }
                ),
                user_input or current,
            ),
            description_placeholders={"account": account(entry.data)},
            errors=errors,
        )


SPEC = register(
    VendorSpec(
        client_class=OrbiWiseClient,
        create_client=orbiwise_client,
        flow=OrbiWiseFlow,
        reauth_fields={CONF_PASSWORD: PASSWORD},
        unique_id=orbiwise_unique_id,
        secrets=frozenset(
            {
                CONF_PASSWORD,
                CONF_PUSH_SECRET,
                CONF_PUSH_REPLACES,
                CONF_WEBHOOK_ID,
                "access_token",
                "refresh_token",
                "auth_string",
                "nwkskey",
                "appskey",
            }
        ),
        configuration_url=lambda data: str(data[CONF_URL]),
    )
)
