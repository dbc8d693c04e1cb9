"""Config flow: pick a vendor, enter its credentials; reauth, reconfigure and options."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
import contextlib
import math
import re
import secrets
from typing import Any

import probatio
from yarl import URL

from homeassistant.components import webhook
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import (
    CONF_API_KEY,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_PASSWORD,
    CONF_TOKEN,
    CONF_URL,
    CONF_USERNAME,
    CONF_WEBHOOK_ID,
)
from homeassistant.core import callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
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
    TextSelectorType,
)
from homeassistant.util.ulid import ulid_now

from .codecs.decode import AUTO, CHOICES
from .codecs.javascript import CodecError, JsRunner
from .commands import (
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
    NUMBER,
    SELECT,
    SWITCH,
)
from .const import (
    CONF_APP_EUI,
    CONF_APP_ID,
    CONF_APPLICATION,
    CONF_AUTH_MODE,
    CONF_AUTH_URL,
    CONF_CODEC,
    CONF_DEVICES,
    CONF_F_PORT,
    CONF_IDENTITY,
    CONF_MQTT_HOST,
    CONF_MQTT_PORT,
    CONF_MQTT_TLS,
    CONF_OFFLINE_AFTER,
    CONF_OWN_ENTITIES,
    CONF_PUSH_ID,
    CONF_PUSH_REPLACES,
    CONF_PUSH_SECRET,
    CONF_TRANSPORT,
    CONF_VENDOR,
    DEFAULT_F_PORT,
    DEFAULT_OFFLINE_AFTER,
    DOMAIN,
    LOGGER,
    VENDOR_IOTSQUARE,
    VENDOR_NETEMERA,
    VENDOR_ORBIWISE,
    VENDOR_ORION,
    VENDOR_SENRA,
    VENDORS,
)
from .device_types import (
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
from .lns.base import NetworkServer
from .lns.errors import AuthError, Forbidden, InvalidRequest, LimitReached, LnsError
from .lns.iotsquare import (
    DEFAULT_URL as IOTSQUARE_DEFAULT_URL,
    HEADER_TAKEN,
    MQTT_ON,
    PUSH_URL_TAKEN,
    IotSquareClient,
    PushConfig,
    PushConflict,
)
from .lns.models import DownlinkMode, normalize_eui
from .lns.netemera import (
    DEFAULT_API_URL as NETEMERA_DEFAULT_API_URL,
    DEFAULT_TOKEN_URL as NETEMERA_DEFAULT_TOKEN_URL,
    api_root,
)
from .lns.orbiwise import AuthMode, MqttSettings, PushConfiguration, Transport
from .lns.orbiwise.mqtt import check_mqtt
from .lns.orion import DEFAULT_URL as ORION_DEFAULT_URL
from .lns.senra import DEFAULT_URL as SENRA_DEFAULT_URL, SENET_URL
from .push import PUSH_PATH, push_path_url, push_receiver_url
from .vendors import (
    CLIENT_CLASSES,
    create_client,
    iotsquare_client,
    netemera_client,
    orbiwise_client,
)

CONF_DEVICE = "device"
CONF_CONFIGURE_PUSH = "configure_push"
CONF_REPLACE_PUSH = "replace_push"
CONF_REPLACE_PUSH_URL = "replace_push_url"
CONF_TURN_OFF_MQTT = "turn_off_mqtt"
CONF_REPLACE_HEADER = "replace_header"
IOTSQUARE_PUSH_HEADER = "Authorization"
"""The header IoTSquare sends the push secret in (the push receiver checks it)."""
_PUSH_CONSENTS = {
    PUSH_URL_TAKEN: CONF_REPLACE_PUSH_URL,
    MQTT_ON: CONF_TURN_OFF_MQTT,
    HEADER_TAKEN: CONF_REPLACE_HEADER,
}
"""What setting the IoTSquare push up would replace → the box the user ticks to allow it."""
_PUSH_ERRORS = frozenset({"push_headers_full", "push_not_kept"})
_NOW = ("push_url", "push_urls", "headers")
"""The placeholders showing an IoTSquare application's push settings now."""
CONF_DEVICE_TYPE = "device_type"
CONF_COMMAND = "command"


def _number_fits(data: Mapping[str, Any]) -> bool:
    """Whether a number command's range, scaled, fits its length (signed below zero)."""
    low, high, multiplier = data[CONF_MINIMUM], data[CONF_MAXIMUM], data[CONF_MULTIPLIER]
    if not all(math.isfinite(value) for value in (low, high, multiplier)):
        return False
    if multiplier <= 0 or low >= high:
        return False
    bits = 8 * data[CONF_LENGTH]
    lowest, highest = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if low < 0 else (0, 2**bits - 1)
    return bool(lowest <= round(low * multiplier) and round(high * multiplier) <= highest)


def _command_data(user_input: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Return a command as the options keep it, or the form's errors."""
    kind = user_input[CONF_KIND]
    data: dict[str, Any] = {
        CONF_NAME: user_input[CONF_NAME].strip(),
        CONF_KIND: kind,
        CONF_PORT: int(user_input[CONF_PORT]),
        CONF_CONFIRMED: user_input[CONF_CONFIRMED],
        CONF_MODE: user_input[CONF_MODE],
    }
    errors: dict[str, str] = {}
    if not data[CONF_NAME]:
        errors[CONF_NAME] = "name_required"
    wanted = {
        BUTTON: (CONF_PAYLOAD,),
        SWITCH: (CONF_PAYLOAD_ON, CONF_PAYLOAD_OFF),
        NUMBER: (CONF_PAYLOAD,),
        SELECT: (),
    }[kind]
    for key in wanted:
        text = "".join((user_input.get(key) or "").split())
        try:
            bytes.fromhex(text)
        except ValueError:
            errors[key] = "invalid_hex"
        data[key] = text.upper()
    if kind == SWITCH and not (data[CONF_PAYLOAD_ON] and data[CONF_PAYLOAD_OFF]):
        errors.setdefault(CONF_PAYLOAD_ON, "switch_payloads")
    if kind == NUMBER:
        data |= {
            CONF_LENGTH: int(user_input.get(CONF_LENGTH, 1)),
            CONF_BIG_ENDIAN: user_input.get(CONF_BIG_ENDIAN, True),
            CONF_MULTIPLIER: float(user_input.get(CONF_MULTIPLIER, 1)),
            CONF_MINIMUM: float(user_input.get(CONF_MINIMUM, 0)),
            CONF_MAXIMUM: float(user_input.get(CONF_MAXIMUM, 255)),
        }
        if not _number_fits(data):
            errors[CONF_MAXIMUM] = "number_range"
    if kind == SELECT:
        options: dict[str, str] = {}
        for line in (user_input.get(CONF_OPTIONS) or "").splitlines():
            if not line.strip():
                continue
            label, separator, text = line.partition("=")
            text = "".join(text.split())
            try:
                bytes.fromhex(text)
            except ValueError:
                separator = ""
            if not separator or not label.strip() or label.strip() in options:
                errors[CONF_OPTIONS] = "select_options"
                break
            options[label.strip()] = text.upper()
        if not options:
            errors.setdefault(CONF_OPTIONS, "select_options")
        data[CONF_OPTIONS] = options
    return data, errors


_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_URL = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
_REPOSITORY_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")


def parse_identity(text: str) -> dict[str, str] | None:
    """Read ``vendor/device`` (LoRaWAN Device Repository ids), None when it is not that."""
    brand, _, model = text.strip().lower().partition("/")
    if _REPOSITORY_ID.fullmatch(brand) is None or _REPOSITORY_ID.fullmatch(model) is None:
        return None
    return {"brand_id": brand, "model_id": model}


_OFFLINE_AFTER = NumberSelector(
    NumberSelectorConfig(
        min=1, max=10080, step=1, mode=NumberSelectorMode.BOX, unit_of_measurement="min"
    )
)


def _authority(parsed: URL) -> str:
    authority = (parsed.host or "").lower()
    if parsed.explicit_port is not None:
        authority = f"{authority}:{parsed.explicit_port}"
    return authority


def orion_unique_id(url: str, app_id: str) -> str:
    """Identify an Orion application on a server: ``host[:port]/app_id``."""
    return f"{_authority(URL(url))}/{app_id}"


def netemera_unique_id(api_url: str, application_id: str) -> str:
    """Identify a Netemera application of an API: ``host[:port]/path/application``."""
    parsed = api_root(api_url)
    return f"{_authority(parsed)}{parsed.path}/{application_id}"


def _valid_url(url: str, schemes: tuple[str, ...]) -> bool:
    try:
        parsed = URL(url)
    except ValueError:
        return False
    return parsed.scheme in schemes and bool(parsed.host)


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


def _netemera_schema(
    defaults: Mapping[str, Any], *, secret_required: bool = True
) -> probatio.Schema:
    secret = (
        probatio.Required(CONF_CLIENT_SECRET)
        if secret_required
        else probatio.Optional(CONF_CLIENT_SECRET)
    )
    return probatio.Schema(
        {
            probatio.Required(
                CONF_URL, default=defaults.get(CONF_URL, NETEMERA_DEFAULT_API_URL)
            ): _URL,
            probatio.Required(
                CONF_AUTH_URL, default=defaults.get(CONF_AUTH_URL, NETEMERA_DEFAULT_TOKEN_URL)
            ): _URL,
            probatio.Required(
                CONF_CLIENT_ID, default=defaults.get(CONF_CLIENT_ID, probatio.UNDEFINED)
            ): str,
            secret: _PASSWORD,
        }
    )


def _netemera_data(user_input: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """Return the entry data of a Netemera form: ``current`` with the form's values, trimmed."""
    url = user_input[CONF_URL].strip()
    with contextlib.suppress(ValueError):  # an invalid URL stays as typed, to be reported
        url = str(api_root(url))
    data = {
        **current,
        CONF_VENDOR: VENDOR_NETEMERA,
        CONF_URL: url,
        CONF_AUTH_URL: user_input[CONF_AUTH_URL].strip(),
        CONF_CLIENT_ID: user_input[CONF_CLIENT_ID].strip(),
    }
    if secret := (user_input.get(CONF_CLIENT_SECRET) or "").strip():
        data[CONF_CLIENT_SECRET] = secret
    return data


def _netemera_url_errors(data: Mapping[str, Any]) -> dict[str, str]:
    errors = {}
    for key in (CONF_URL, CONF_AUTH_URL):
        if not _valid_url(data[key], ("https", "http")):
            errors[key] = "invalid_http_url"
    return errors


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
MQTT_CHECK_SECONDS = 10.0
_SENRA_SERVERS = SelectSelector(
    SelectSelectorConfig(
        options=[SENRA_DEFAULT_URL, SENET_URL], custom_value=True, mode=SelectSelectorMode.DROPDOWN
    )
)

# What reauthentication asks each vendor for: str fields show the current value.
_REAUTH_FIELDS: dict[str, dict[str, Any]] = {
    VENDOR_ORION: {CONF_TOKEN: _PASSWORD},
    VENDOR_NETEMERA: {CONF_CLIENT_ID: str, CONF_CLIENT_SECRET: _PASSWORD},
    VENDOR_ORBIWISE: {CONF_PASSWORD: _PASSWORD},
    VENDOR_SENRA: {CONF_API_KEY: _PASSWORD},
    VENDOR_IOTSQUARE: {CONF_TOKEN: _PASSWORD},
}
# Secrets that may begin or end with a space: taken as typed.
_VERBATIM = frozenset({CONF_PASSWORD})


def _account(data: Mapping[str, Any]) -> str:
    """Name what the entry connects as: the application (id or EUI) or the user name."""
    return str(data.get(CONF_APP_ID) or data.get(CONF_APP_EUI) or data.get(CONF_USERNAME) or "")


def senra_unique_id(data: Mapping[str, Any]) -> str:
    """Identify a SenRa application by its EUI (the same on both API hosts)."""
    return f"senra/{data[CONF_APP_EUI]}"


def iotsquare_unique_id(data: Mapping[str, Any]) -> str:
    """Identify an IoTSquare application of a server: ``iotsquare/host[:port]/app id``."""
    return f"iotsquare/{_authority(URL(data[CONF_URL]))}/{data[CONF_APP_ID]}"


def orbiwise_unique_id(data: Mapping[str, Any]) -> str:
    """Identify an OrbiWAN account (and application) on a server: ``host[:port]/user[/app]``."""
    unique_id = f"{_authority(URL(data[CONF_URL]))}/{data[CONF_USERNAME]}"
    if data.get(CONF_APPLICATION):
        unique_id = f"{unique_id}/{data[CONF_APPLICATION]}"
    return unique_id


def _orbiwise_schema() -> probatio.Schema:
    return probatio.Schema(
        {
            probatio.Required(CONF_URL): _URL,
            probatio.Required(CONF_USERNAME): str,
            probatio.Required(CONF_PASSWORD): _PASSWORD,
            probatio.Required(CONF_AUTH_MODE, default=AuthMode.OAUTH2.value): _AUTH_MODES,
            probatio.Optional(CONF_APPLICATION): str,
            probatio.Required(CONF_TRANSPORT, default=Transport.WEBSOCKET.value): _TRANSPORTS,
        }
    )


def _orbiwise_data(user_input: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """Return the entry data of an OrbiWAN form: ``current`` with the form's values, trimmed."""
    parsed = user_input[CONF_URL].strip().rstrip("/")
    data = {
        **current,
        CONF_VENDOR: VENDOR_ORBIWISE,
        CONF_URL: parsed,
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


class LoRaWANHubConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a network-server connection."""

    VERSION = 1

    _netemera: dict[str, Any]
    _applications: dict[str, str]
    _orbiwise: dict[str, Any]
    _orbiwise_foreign: PushConfiguration
    _senra: dict[str, Any]
    _iotsquare: dict[str, Any]
    _shown_url: str | None = None
    _push_config: PushConfig | None = None
    _push_conflicts: frozenset[str] = frozenset()

    def __init__(self) -> None:
        """Name the webhook (and its secret) a vendor that pushes to Home Assistant would use."""
        super().__init__()
        self._webhook_id = webhook.async_generate_id()
        self._push_secret = secrets.token_urlsafe(32)

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> LoRaWANHubOptionsFlow:
        """Per-device codec and offline threshold."""
        return LoRaWANHubOptionsFlow()

    async def _check[C: NetworkServer, T](
        self, client: C, request: Callable[[C], Awaitable[T]]
    ) -> tuple[T | None, dict[str, str]]:
        """Run ``request`` with ``client``; return its result or the form errors."""
        try:
            return await request(client), {}
        except AuthError:
            return None, {"base": "invalid_auth"}
        except LimitReached:
            return None, {"base": "client_limit"}
        except Forbidden:
            return None, {"base": "forbidden"}
        except LnsError:
            return None, {"base": "cannot_connect"}
        except Exception:  # noqa: BLE001 - a flow must show "unknown", not crash
            LOGGER.exception("Unexpected error while validating the connection")
            return None, {"base": "unknown"}
        finally:
            await client.close()

    async def _validate(self, data: Mapping[str, Any]) -> dict[str, str]:
        """Connect with ``data``; return the form errors (none when it worked)."""
        client = create_client(async_get_clientsession(self.hass), data)
        _result, errors = await self._check(client, lambda client: client.validate())
        return errors

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Pick the network server's vendor."""
        if user_input is not None:
            steps = {
                VENDOR_ORION: self.async_step_orion,
                VENDOR_NETEMERA: self.async_step_netemera,
                VENDOR_ORBIWISE: self.async_step_orbiwise,
                VENDOR_SENRA: self.async_step_senra,
                VENDOR_IOTSQUARE: self.async_step_iotsquare,
            }
            return await steps[user_input[CONF_VENDOR]]()
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
            if not _valid_url(data[CONF_URL], ("ws", "wss")):
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

    async def async_step_netemera(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Enter the Netemera API and authorization server and the client credentials."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _netemera_data(user_input, {})
            errors = _netemera_url_errors(data)
            if not errors:
                applications, errors = await self._check(
                    netemera_client(async_get_clientsession(self.hass), data),
                    lambda client: client.list_applications(),
                )
                if applications is not None and not applications:
                    errors = {"base": "no_applications"}
                if not errors and applications:
                    self._netemera = data
                    self._applications = {
                        app.application_id: app.name or app.application_id for app in applications
                    }
                    return await self.async_step_netemera_application()
        return self.async_show_form(
            step_id="netemera",
            data_schema=self.add_suggested_values_to_schema(
                _netemera_schema(user_input or {}),
                {k: v for k, v in (user_input or {}).items() if k != CONF_CLIENT_SECRET},
            ),
            errors=errors,
        )

    async def async_step_netemera_application(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick one of the applications the credentials can see."""
        errors: dict[str, str] = {}
        if user_input is not None:
            application_id = user_input[CONF_APP_ID]
            data = {**self._netemera, CONF_APP_ID: application_id}
            await self.async_set_unique_id(netemera_unique_id(data[CONF_URL], application_id))
            self._abort_if_unique_id_configured()
            errors = await self._validate(data)
            if not errors:
                return self.async_create_entry(
                    title=f"Netemera {self._applications.get(application_id, application_id)}",
                    data=data,
                )
        options = [
            SelectOptionDict(
                value=application_id,
                label=name if name == application_id else f"{name} ({application_id})",
            )
            for application_id, name in sorted(
                self._applications.items(), key=lambda item: item[1].lower()
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

    async def async_step_orbiwise(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Enter the OrbiWAN server, the account, how to authenticate and how pushes come."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _orbiwise_data(user_input, {})
            if not _valid_url(data[CONF_URL], ("https", "http")):
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
            data_schema=self.add_suggested_values_to_schema(
                _orbiwise_schema(),
                {k: v for k, v in (user_input or {}).items() if k != CONF_PASSWORD},
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
        client = orbiwise_client(async_get_clientsession(self.hass), data, push_url=url)
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

    async def async_step_senra(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Enter the SenRa API server, an API key and the application's EUI."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {
                CONF_VENDOR: VENDOR_SENRA,
                CONF_URL: user_input[CONF_URL].strip().rstrip("/"),
                CONF_API_KEY: user_input[CONF_API_KEY].strip(),
                CONF_APP_EUI: user_input[CONF_APP_EUI].strip(),
            }
            try:
                data[CONF_APP_EUI] = normalize_eui(data[CONF_APP_EUI])
            except ValueError:
                errors[CONF_APP_EUI] = "invalid_eui"
            if not _valid_url(data[CONF_URL], ("https", "http")):
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
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(
                    {
                        probatio.Required(CONF_URL, default=SENRA_DEFAULT_URL): _SENRA_SERVERS,
                        probatio.Required(CONF_API_KEY): _PASSWORD,
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

    async def async_step_iotsquare(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Enter the IoTSquare OpenAPI address and the API token."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {
                CONF_VENDOR: VENDOR_IOTSQUARE,
                CONF_URL: user_input[CONF_URL].strip().rstrip("/"),
                CONF_TOKEN: user_input[CONF_TOKEN].strip(),
            }
            if not _valid_url(data[CONF_URL], ("https", "http")):
                errors[CONF_URL] = "invalid_http_url"
            else:
                client = iotsquare_client(async_get_clientsession(self.hass), data)
                applications, errors = await self._check(
                    client, lambda client: client.list_applications()
                )
                if applications is not None and not applications:
                    errors = {"base": "no_applications"}
            if not errors and applications:
                self._iotsquare = data
                self._applications = {str(key): name for key, name in applications.items()}
                return await self.async_step_iotsquare_application()
        return self._iotsquare_form(user_input or {}, errors)

    def _iotsquare_form(
        self, suggested: Mapping[str, Any], errors: dict[str, str]
    ) -> ConfigFlowResult:
        return self.async_show_form(
            step_id="iotsquare",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(
                    {
                        probatio.Required(CONF_URL, default=IOTSQUARE_DEFAULT_URL): _URL,
                        probatio.Required(CONF_TOKEN): _PASSWORD,
                    }
                ),
                {k: v for k, v in suggested.items() if k in (CONF_URL,)},
            ),
            errors=errors,
        )

    async def async_step_iotsquare_application(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the application whose devices to bring in."""
        if user_input is not None:
            app_id = int(user_input[CONF_APP_ID])
            self._iotsquare = {**self._iotsquare, CONF_APP_ID: app_id}
            await self.async_set_unique_id(iotsquare_unique_id(self._iotsquare))
            self._abort_if_unique_id_configured()
            return await self.async_step_iotsquare_push()
        options = [
            SelectOptionDict(value=app_id, label=f"{name} ({app_id})")
            for app_id, name in sorted(self._applications.items(), key=lambda item: item[1].lower())
        ]
        return self.async_show_form(
            step_id="iotsquare_application",
            data_schema=probatio.Schema(
                {
                    probatio.Required(CONF_APP_ID, default=options[0]["value"]): SelectSelector(
                        SelectSelectorConfig(options=options, mode=SelectSelectorMode.DROPDOWN)
                    )
                }
            ),
        )

    async def async_step_iotsquare_push(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """
        Set the application's push link and header up, with the user's consent, or show them.

        IoTSquare appends /uplink, /join... to the link: the entry gets a path of its own. The
        step shows what the application has now; setting up keeps it (other push links, the
        user's headers). What would have to be replaced or turned off is asked for first.
        """
        url = push_path_url(self.hass, self._webhook_id)
        if url is None:
            if user_input is not None:
                return self._create_iotsquare_entry({})
            return self._iotsquare_push_form("iotsquare_push_manual", {})
        if user_input is not None:
            if not user_input.get(CONF_CONFIGURE_PUSH):
                return self._create_iotsquare_entry({})
            return await self._configure_iotsquare_push(url, frozenset())
        config, errors = await self._check(
            iotsquare_client(async_get_clientsession(self.hass), self._iotsquare),
            lambda client: client.push_config(),
        )
        if errors.get("base") == "invalid_auth":
            # Only the first step can take another token.
            return self._iotsquare_form(self._iotsquare, errors)
        if config is not None:
            self._push_config = config
            self._push_conflicts = config.conflicts(url, IOTSQUARE_PUSH_HEADER, self._push_value)
            if config.headers_full(IOTSQUARE_PUSH_HEADER):
                errors = {"base": "push_headers_full"}
            elif self._push_conflicts:
                return self._iotsquare_push_form("iotsquare_push_replace", {})
        return self._iotsquare_push_form("iotsquare_push", errors)

    async def async_step_iotsquare_push_replace(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """
        Ask before replacing a push link, turning MQTT off or replacing a header of the user's.

        Only with every box ticked is the application changed; otherwise it stays as it is and
        the user sets the push up by hand (the step says what to enter).
        """
        url = push_path_url(self.hass, self._webhook_id)
        if url is None:  # Home Assistant lost its address meanwhile: what to enter by hand
            return self._iotsquare_push_form("iotsquare_push_manual", {})
        if user_input is None:
            return self._iotsquare_push_form("iotsquare_push_replace", {})
        agreed = frozenset(
            conflict
            for conflict in self._push_conflicts
            if user_input.get(_PUSH_CONSENTS[conflict])
        )
        if agreed != self._push_conflicts:
            return self._create_iotsquare_entry({})
        return await self._configure_iotsquare_push(url, agreed)

    async def async_step_iotsquare_push_manual(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Without an address on the internet: the user sets the push URL up by hand."""
        return await self.async_step_iotsquare_push(user_input)

    @property
    def _push_value(self) -> str:
        return f"Bearer {self._push_secret}"

    async def _configure_iotsquare_push(
        self, url: str, replace: frozenset[str]
    ) -> ConfigFlowResult:
        """Set the push up (replacing only ``replace``); create the entry once it is."""

        async def configure(client: IotSquareClient) -> dict[str, Any] | PushConflict | str:
            try:
                return await client.configure_push(
                    url, IOTSQUARE_PUSH_HEADER, self._push_value, replace=replace
                )
            except PushConflict as err:
                return err
            except InvalidRequest as err:
                if err.key in _PUSH_ERRORS:
                    return err.key
                raise

        result, errors = await self._check(
            iotsquare_client(async_get_clientsession(self.hass), self._iotsquare), configure
        )
        if errors.get("base") == "invalid_auth":
            return self._iotsquare_form(self._iotsquare, errors)
        if isinstance(result, PushConflict):
            # The application changed since it was shown: show it again, and ask.
            self._push_config, self._push_conflicts = result.config, result.conflicts
            return self._iotsquare_push_form("iotsquare_push_replace", {})
        if isinstance(result, str):
            errors = {"base": result}
        elif result is not None:
            return self._create_iotsquare_entry(result)
        step = "iotsquare_push_replace" if replace else "iotsquare_push"
        return self._iotsquare_push_form(step, errors)

    def _iotsquare_push_form(self, step_id: str, errors: dict[str, str]) -> ConfigFlowResult:
        """Show a push step: what to push to, and what the application has now."""
        config = self._push_config
        if step_id == "iotsquare_push":
            schema = probatio.Schema({probatio.Required(CONF_CONFIGURE_PUSH, default=True): bool})
        elif step_id == "iotsquare_push_replace":
            schema = probatio.Schema(
                {
                    probatio.Required(_PUSH_CONSENTS[conflict], default=False): bool
                    for conflict in sorted(self._push_conflicts)
                }
            )
        else:
            schema = probatio.Schema({})
        url = push_path_url(self.hass, self._webhook_id)
        # What the application has now; the header values are the user's: names only.
        now = (
            (config.push_url, ", ".join(config.push_urls or ()), ", ".join(config.headers))
            if config is not None
            else ("", "", "")
        )
        return self.async_show_form(
            step_id=step_id,
            data_schema=schema,
            description_placeholders={
                "url": url or f"https://HOME-ASSISTANT-ADDRESS{PUSH_PATH}/{self._webhook_id}",
                "header": IOTSQUARE_PUSH_HEADER,
                "value": self._push_value,
                **{key: shown or "-" for key, shown in zip(_NOW, now, strict=True)},
            },
            errors=errors,
        )

    def _create_iotsquare_entry(self, push_setup: dict[str, Any]) -> ConfigFlowResult:
        """Create the entry, with what was set up on the application (to undo it on removal)."""
        data = self._iotsquare
        title = self._applications.get(str(data[CONF_APP_ID]), str(data[CONF_APP_ID]))
        return self.async_create_entry(
            title=f"IoTSquare {title}",
            data={
                **data,
                CONF_PUSH_ID: self._webhook_id,
                CONF_PUSH_SECRET: self._push_secret,
                **push_setup,
            },
        )

    async def async_step_reconfigure_iotsquare(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the IoTSquare address or token; the application stays."""
        return await self._reconfigure_url_and_secret(
            "reconfigure_iotsquare", user_input, _URL, CONF_TOKEN, iotsquare_unique_id
        )

    async def _reconfigure_url_and_secret(
        self,
        step_id: str,
        user_input: dict[str, Any] | None,
        url_selector: TextSelector | SelectSelector,
        secret: str,
        unique_id: Callable[[Mapping[str, Any]], str] | None = None,
    ) -> ConfigFlowResult:
        """
        Change the server address, and the ``secret`` when one is typed; the account stays.

        ``unique_id`` tells the entry's identity from its data, where the address is part of it.
        """
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, CONF_URL: user_input[CONF_URL].strip().rstrip("/")}
            if value := (user_input.get(secret) or "").strip():
                data[secret] = value
            if not _valid_url(data[CONF_URL], ("https", "http")):
                errors[CONF_URL] = "invalid_http_url"
            else:
                if unique_id is not None:
                    await self.async_set_unique_id(unique_id(data))
                    self._abort_if_unique_id_mismatch()
                errors = await self._validate(data)
                if not errors:
                    return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(
                    {
                        probatio.Required(CONF_URL): url_selector,
                        probatio.Optional(secret): _PASSWORD,
                    }
                ),
                {CONF_URL: (user_input or entry.data)[CONF_URL]},
            ),
            description_placeholders={"account": _account(entry.data)},
            errors=errors,
        )

    def _push_step(
        self,
        step_id: str,
        user_input: dict[str, Any] | None,
        placeholders: dict[str, str],
        create: Callable[[dict[str, Any]], ConfigFlowResult],
    ) -> ConfigFlowResult:
        """
        Show the webhook the network server pushes to; create the entry once it was seen.

        Needs Home Assistant's address on the internet. ``create`` gets the webhook's data.
        """
        url = push_receiver_url(self.hass, self._webhook_id)
        if user_input is not None and url is not None and url == self._shown_url:
            return create({CONF_WEBHOOK_ID: self._webhook_id, CONF_PUSH_SECRET: self._push_secret})
        # The address the server will push to is created only once the user saw it.
        self._shown_url = url
        return self.async_show_form(
            step_id=step_id,
            data_schema=probatio.Schema({}),
            description_placeholders={"url": url or "-", **placeholders},
            errors={"base": "no_external_url"} if url is None else {},
        )

    def _create_orbiwise_entry(self, data: dict[str, Any]) -> ConfigFlowResult:
        title = f"OrbiWAN {data[CONF_USERNAME]}"
        if data.get(CONF_APPLICATION):
            title = f"{title} / {data[CONF_APPLICATION]}"
        return self.async_create_entry(title=title, data=data)

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Start reauthentication after the network server refused the stored credentials."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for new credentials: a token, a client id and secret, or a user and password."""
        entry = self._get_reauth_entry()
        vendor = entry.data[CONF_VENDOR]
        fields = _REAUTH_FIELDS[vendor]
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
            description_placeholders={"title": entry.title, "account": _account(entry.data)},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the server address or credentials of the same application."""
        entry = self._get_reconfigure_entry()
        if entry.data[CONF_VENDOR] == VENDOR_NETEMERA:
            return await self.async_step_reconfigure_netemera()
        if entry.data[CONF_VENDOR] == VENDOR_ORBIWISE:
            return await self.async_step_reconfigure_orbiwise()
        if entry.data[CONF_VENDOR] == VENDOR_SENRA:
            return await self.async_step_reconfigure_senra()
        if entry.data[CONF_VENDOR] == VENDOR_IOTSQUARE:
            return await self.async_step_reconfigure_iotsquare()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {
                **entry.data,
                CONF_URL: user_input[CONF_URL].strip(),
                CONF_APP_ID: user_input[CONF_APP_ID].strip(),
            }
            if token := (user_input.get(CONF_TOKEN) or "").strip():
                data[CONF_TOKEN] = token
            if not _valid_url(data[CONF_URL], ("ws", "wss")):
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

    async def async_step_reconfigure_netemera(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the Netemera addresses or credentials; the application stays."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _netemera_data(user_input, entry.data)
            errors = _netemera_url_errors(data)
            if not errors:
                await self.async_set_unique_id(
                    netemera_unique_id(data[CONF_URL], data[CONF_APP_ID])
                )
                self._abort_if_unique_id_mismatch()
                errors = await self._validate(data)
                if not errors:
                    return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reconfigure_netemera",
            data_schema=_netemera_schema(user_input or entry.data, secret_required=False),
            description_placeholders={"app_id": entry.data[CONF_APP_ID]},
            errors=errors,
        )

    async def async_step_reconfigure_orbiwise(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the OrbiWAN address, password or authentication; the account stays."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _orbiwise_data(
                {**user_input, CONF_USERNAME: entry.data[CONF_USERNAME]}, entry.data
            )
            if not _valid_url(data[CONF_URL], ("https", "http")):
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
                        probatio.Required(CONF_URL): _URL,
                        probatio.Optional(CONF_PASSWORD): _PASSWORD,
                        probatio.Required(CONF_AUTH_MODE): _AUTH_MODES,
                    }
                ),
                user_input or current,
            ),
            description_placeholders={"account": _account(entry.data)},
            errors=errors,
        )

    async def async_step_reconfigure_senra(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the SenRa server or API key; the application stays."""
        return await self._reconfigure_url_and_secret(
            "reconfigure_senra", user_input, _SENRA_SERVERS, CONF_API_KEY
        )


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
            data, errors = _command_data(user_input)
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
        client = CLIENT_CLASSES.get(self.config_entry.data.get(CONF_VENDOR, ""))
        asks_port = client is not None and not client.reports_port
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
