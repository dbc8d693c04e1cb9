"""
The receivers of a network server's HTTP pushes (OrbiWAN REST push, SenRa, IoTSquare).

A webhook takes the pushes of a server that pushes to one URL; IoTSquare appends ``/uplink``,
``/join``... to the URL it is given, which a webhook cannot take: its entries get a path of their
own under ``/api/lorawan_hub/push/``. The server must send the secret agreed at set-up in its
``Authorization`` header. A push is
answered 200 only once it was handed over; otherwise the server keeps it and it comes back with
the next catch-up.
"""

from __future__ import annotations

import hmac
from http import HTTPStatus

from aiohttp import web
import orjson

from homeassistant.components import webhook
from homeassistant.components.http import KEY_HASS, HomeAssistantView
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_WEBHOOK_ID
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.network import NoURLAvailableError, get_url

from .const import CONF_PUSH_ID, CONF_PUSH_SECRET, DOMAIN, LOGGER
from .coordinator import LoRaWANHubConfigEntry
from .lns.base import ThrottledLog
from .lns.http import read_limited

MAX_PUSH = 256 * 1024
"""Bytes one push may carry (an uplink push is about 1 KB)."""
PUSH_WAIT = 30.0
"""Seconds a push may wait for the catch-up after a (re)connect before it is refused."""

_LOG = ThrottledLog(LOGGER)


def push_receiver_url(hass: HomeAssistant, webhook_id: str) -> str | None:
    """Return the address the network server must push to: Home Assistant from the internet."""
    try:
        return webhook.async_generate_url(
            hass, webhook_id, allow_internal=False, prefer_external=True
        )
    except NoURLAvailableError:
        return None


async def _receive(entry: LoRaWANHubConfigEntry, request: web.Request, topic: str) -> web.Response:
    """Check a push's secret and size, then hand its JSON to the entry's client."""
    expected = f"Bearer {entry.data[CONF_PUSH_SECRET]}".encode()
    given = request.headers.get("Authorization", "").encode()
    if not hmac.compare_digest(given, expected):
        _LOG.warning("auth", "Refused a push to %s without the right secret", entry.title)
        return web.Response(status=HTTPStatus.UNAUTHORIZED)
    if request.content_length is not None and request.content_length > MAX_PUSH:
        return web.Response(status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    body = await read_limited(request.content, MAX_PUSH)
    if body is None:
        return web.Response(status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict | list):
        _LOG.warning("shape", "Dropped a push to %s that is not JSON", entry.title)
        return web.Response(status=HTTPStatus.BAD_REQUEST)
    if entry.state is not ConfigEntryState.LOADED:
        return web.Response(status=HTTPStatus.SERVICE_UNAVAILABLE)
    try:
        accepted = await entry.runtime_data.client.accept_push(topic, data, PUSH_WAIT)
    except Exception:  # noqa: BLE001 - the server must keep what was not handed over
        LOGGER.exception("Unexpected error taking a push for %s", entry.title)
        accepted = False
    if not accepted:
        # Not running, or still catching up: the server keeps the push for the catch-up.
        return web.Response(status=HTTPStatus.SERVICE_UNAVAILABLE)
    return web.Response(status=HTTPStatus.OK)


@callback
def async_register_push_receiver(hass: HomeAssistant, entry: LoRaWANHubConfigEntry) -> None:
    """
    Take the entry's pushes on its webhook.

    Registered before the entry connects and kept while it cannot (set-up retries): Home
    Assistant answers 200 to a push for an unknown webhook, and the server would delete it. Until
    the entry runs, pushes are answered 503 and the server keeps them. Unregistered at unload.
    """
    webhook_id: str = entry.data[CONF_WEBHOOK_ID]

    async def handle(hass: HomeAssistant, hook: str, request: web.Request) -> web.Response:
        return await _receive(entry, request, request.query.get("topic", ""))

    # A set-up retry registers again.
    webhook.async_unregister(hass, webhook_id)
    webhook.async_register(
        hass, DOMAIN, entry.title, webhook_id, handle, allowed_methods=("POST", "PUT")
    )


@callback
def async_unregister_push_receiver(hass: HomeAssistant, entry: LoRaWANHubConfigEntry) -> None:
    """Stop taking the entry's pushes (the entry unloads, or goes away)."""
    webhook.async_unregister(hass, entry.data[CONF_WEBHOOK_ID])


PUSH_PATH = "/api/lorawan_hub/push"


def push_path_url(hass: HomeAssistant, push_id: str) -> str | None:
    """Return the push URL of an entry with a path of its own (the server appends the kind)."""
    try:
        root = get_url(hass, allow_internal=False, prefer_external=True)
    except NoURLAvailableError:
        return None
    return f"{root}{PUSH_PATH}/{push_id}"


class PushView(HomeAssistantView):
    """Take ``POST /api/lorawan_hub/push/<push id>/<kind>`` for the entry with that push id."""

    url = PUSH_PATH + "/{push_id}/{kind}"
    name = "api:lorawan_hub:push"
    requires_auth = False
    cors_allowed = False

    def __init__(self, kinds: frozenset[str]) -> None:
        """Accept the sub-paths in ``kinds``."""
        self._kinds = kinds

    async def post(self, request: web.Request, push_id: str, kind: str) -> web.Response:
        """Hand the push to its entry (the secret is checked before anything else)."""
        hass: HomeAssistant = request.app[KEY_HASS]
        entry = next(
            (
                entry
                for entry in hass.config_entries.async_entries(DOMAIN)
                if entry.data.get(CONF_PUSH_ID) == push_id
            ),
            None,
        )
        if entry is None or kind not in self._kinds:
            return web.Response(status=HTTPStatus.NOT_FOUND)
        return await _receive(entry, request, kind)


@callback
def async_register_push_view(hass: HomeAssistant, kinds: frozenset[str]) -> None:
    """Serve the push path (once, at set-up: an HTTP route stays until Home Assistant stops)."""
    hass.http.register_view(PushView(kinds))
