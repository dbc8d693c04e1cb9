"""What the vendors' config-flow steps share: checking credentials, push URLs, reconfiguring."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
import secrets
from typing import Any

import probatio
from yarl import URL

from homeassistant.components import webhook
from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_URL, CONF_USERNAME, CONF_WEBHOOK_ID
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    SelectSelector,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from ..const import CONF_APP_EUI, CONF_APP_ID, CONF_PUSH_SECRET, CONF_VENDOR, LOGGER
from ..lns.base import NetworkServer
from ..lns.errors import AuthError, Forbidden, LimitReached, LnsError
from ..push import push_receiver_url
from .spec import REGISTRY

PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
URL_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
HTTP_SCHEMES = ("https", "http")


def authority(parsed: URL) -> str:
    """Return ``host[:port]`` of a URL, in lower case."""
    host = (parsed.host or "").lower()
    return f"{host}:{parsed.explicit_port}" if parsed.explicit_port is not None else host


def valid_url(url: str, schemes: tuple[str, ...]) -> bool:
    """Whether ``url`` is a URL with one of ``schemes`` and a host."""
    try:
        parsed = URL(url)
    except ValueError:
        return False
    return parsed.scheme in schemes and bool(parsed.host)


def account(data: Mapping[str, Any]) -> str:
    """Name what the entry connects as: the application (id or EUI) or the user name."""
    return str(data.get(CONF_APP_ID) or data.get(CONF_APP_EUI) or data.get(CONF_USERNAME) or "")


def create_client(
    hass: HomeAssistant,
    data: Mapping[str, Any],
    push_url: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> NetworkServer:
    """Return the client of the vendor and credentials in ``data``."""
    return REGISTRY[data[CONF_VENDOR]].client(hass, data, options, push_url)


class VendorFlow(ConfigFlow):
    """The config flow's steps every vendor's steps build on."""

    _shown_url: str | None = None

    def __init__(self) -> None:
        """Name the webhook (and its secret) a vendor that pushes to Home Assistant would use."""
        super().__init__()
        self._webhook_id = webhook.async_generate_id()
        self._push_secret = secrets.token_urlsafe(32)

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
        client = create_client(self.hass, data)
        _result, errors = await self._check(client, lambda client: client.validate())
        return errors

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

    async def _reconfigure_url_and_secret(
        self,
        step_id: str,
        user_input: dict[str, Any] | None,
        url_selector: TextSelector | SelectSelector,
        secret: str,
        *,
        unique_id: Callable[[Mapping[str, Any]], str] | None = None,
        placeholders: Mapping[str, str] | None = None,
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
            if not valid_url(data[CONF_URL], HTTP_SCHEMES):
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
                        probatio.Optional(secret): PASSWORD,
                    }
                ),
                {CONF_URL: (user_input or entry.data)[CONF_URL]},
            ),
            description_placeholders={"account": account(entry.data), **(placeholders or {})},
            errors=errors,
        )
