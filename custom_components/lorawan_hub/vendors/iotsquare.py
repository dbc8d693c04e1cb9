"""IoTSquare (RisingHF): an OpenAPI application and its token; it pushes to a path of its own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
import probatio
from yarl import URL

from homeassistant.config_entries import ConfigFlowResult
from homeassistant.const import CONF_TOKEN, CONF_URL
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)

from ..const import CONF_APP_ID, CONF_PUSH_ID, CONF_PUSH_SECRET, CONF_VENDOR
from ..lns.errors import InvalidRequest
from ..lns.iotsquare import (
    DEFAULT_URL,
    HEADER_TAKEN,
    MQTT_ON,
    PUSH_KINDS,
    PUSH_MQTT_WAS_ON,
    PUSH_URL_TAKEN,
    IotSquareClient,
    PushConfig,
    PushConflict,
)
from ..push import PUSH_PATH, push_path_url
from .flow import HTTP_SCHEMES, PASSWORD, URL_SELECTOR, VendorFlow, authority, valid_url
from .spec import VendorSpec, register

CONF_CONFIGURE_PUSH = "configure_push"
CONF_REPLACE_PUSH_URL = "replace_push_url"
CONF_TURN_OFF_MQTT = "turn_off_mqtt"
CONF_REPLACE_HEADER = "replace_header"
PUSH_HEADER = "Authorization"
"""The header IoTSquare sends the push secret in (the push receiver checks it)."""
_PUSH_CONSENTS = {
    PUSH_URL_TAKEN: CONF_REPLACE_PUSH_URL,
    MQTT_ON: CONF_TURN_OFF_MQTT,
    HEADER_TAKEN: CONF_REPLACE_HEADER,
}
"""What setting the push up would replace → the box the user ticks to allow it."""
_PUSH_ERRORS = frozenset({"push_headers_full", "push_not_kept"})
_NOW = ("push_url", "push_urls", "headers")
"""The placeholders showing an application's push settings now."""


def iotsquare_unique_id(data: Mapping[str, Any]) -> str:
    """Identify an IoTSquare application of a server: ``iotsquare/host[:port]/app id``."""
    return f"iotsquare/{authority(URL(data[CONF_URL]))}/{data[CONF_APP_ID]}"


def iotsquare_client(
    session: aiohttp.ClientSession, data: Mapping[str, Any], push_url: str | None = None
) -> IotSquareClient:
    """Return an IoTSquare client; without an application id it can only list applications."""
    return IotSquareClient(session, data[CONF_URL], data[CONF_TOKEN], data.get(CONF_APP_ID))


async def _undo_setup(session: aiohttp.ClientSession, data: Mapping[str, Any]) -> None:
    """
    Take the entry's push link and header off the application (nothing else).

    MQTT is turned on again if the push set-up turned it off. Raises ``lns`` errors.
    """
    if CONF_PUSH_ID in data:
        await iotsquare_client(session, data).remove_push(
            data[CONF_PUSH_ID],
            f"Bearer {data[CONF_PUSH_SECRET]}",
            mqtt_was_on=bool(data.get(PUSH_MQTT_WAS_ON)),
        )


def _console(data: Mapping[str, Any]) -> str:
    """Return the console's address: the OpenAPI sits under it."""
    return str(data[CONF_URL]).removesuffix("/").removesuffix("/openapi") + "/"


class IotSquareFlow(VendorFlow):
    """The IoTSquare steps: the server and token, the application, then the push set-up."""

    _iotsquare: dict[str, Any]
    _iotsquare_applications: dict[str, str]
    _push_config: PushConfig | None = None
    _push_conflicts: frozenset[str] = frozenset()

    async def async_step_iotsquare(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Enter the IoTSquare OpenAPI address and the API token."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {
                CONF_VENDOR: IotSquareClient.vendor,
                CONF_URL: user_input[CONF_URL].strip().rstrip("/"),
                CONF_TOKEN: user_input[CONF_TOKEN].strip(),
            }
            if not valid_url(data[CONF_URL], HTTP_SCHEMES):
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
                self._iotsquare_applications = {
                    str(key): name for key, name in applications.items()
                }
                return await self.async_step_iotsquare_application()
        return self._iotsquare_form(user_input or {}, errors)

    def _iotsquare_form(
        self, suggested: Mapping[str, Any], errors: dict[str, str]
    ) -> ConfigFlowResult:
        return self.async_show_form(
            step_id="iotsquare",
            description_placeholders={"default_url": DEFAULT_URL},
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(
                    {
                        probatio.Required(CONF_URL, default=DEFAULT_URL): URL_SELECTOR,
                        probatio.Required(CONF_TOKEN): PASSWORD,
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
            for app_id, name in sorted(
                self._iotsquare_applications.items(), key=lambda item: item[1].lower()
            )
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
            self._push_conflicts = config.conflicts(url, PUSH_HEADER, self._push_value)
            if config.headers_full(PUSH_HEADER):
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
                    url, PUSH_HEADER, self._push_value, replace=replace
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
                "header": PUSH_HEADER,
                "value": self._push_value,
                **{key: shown or "-" for key, shown in zip(_NOW, now, strict=True)},
            },
            errors=errors,
        )

    def _create_iotsquare_entry(self, push_setup: dict[str, Any]) -> ConfigFlowResult:
        """Create the entry, with what was set up on the application (to undo it on removal)."""
        data = self._iotsquare
        title = self._iotsquare_applications.get(str(data[CONF_APP_ID]), str(data[CONF_APP_ID]))
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
            "reconfigure_iotsquare",
            user_input,
            URL_SELECTOR,
            CONF_TOKEN,
            unique_id=iotsquare_unique_id,
        )


SPEC = register(
    VendorSpec(
        client_class=IotSquareClient,
        create_client=iotsquare_client,
        flow=IotSquareFlow,
        reauth_fields={CONF_TOKEN: PASSWORD},
        unique_id=iotsquare_unique_id,
        secrets=frozenset({CONF_TOKEN, CONF_PUSH_ID, CONF_PUSH_SECRET, "mcAppSKey", "mcNwkSKey"}),
        push_kinds=PUSH_KINDS,
        configuration_url=_console,
        undo_setup=_undo_setup,
    )
)
