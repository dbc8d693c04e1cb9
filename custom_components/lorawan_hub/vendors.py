"""Which client serves which vendor, built from a config entry's data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from homeassistant.const import (
    CONF_API_KEY,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_PASSWORD,
    CONF_TOKEN,
    CONF_URL,
    CONF_USERNAME,
)

from .const import (
    CONF_APP_EUI,
    CONF_APP_ID,
    CONF_APPLICATION,
    CONF_AUTH_MODE,
    CONF_AUTH_URL,
    CONF_MQTT_HOST,
    CONF_MQTT_PORT,
    CONF_MQTT_TLS,
    CONF_PUSH_ID,
    CONF_PUSH_REPLACES,
    CONF_PUSH_SECRET,
    CONF_TRANSPORT,
    CONF_VENDOR,
    VENDOR_IOTSQUARE,
    VENDOR_NETEMERA,
    VENDOR_ORBIWISE,
    VENDOR_ORION,
    VENDOR_SENRA,
)
from .lns.base import NetworkServer
from .lns.errors import Unsupported
from .lns.iotsquare import PUSH_MQTT_WAS_ON, IotSquareClient
from .lns.netemera import NetemeraClient
from .lns.orbiwise import AuthMode, MqttSettings, OrbiWiseClient, PushTarget, Transport
from .lns.orion import OrionClient
from .lns.senra import SenraClient

CLIENT_CLASSES: Mapping[str, type[NetworkServer]] = {
    VENDOR_ORION: OrionClient,
    VENDOR_ORBIWISE: OrbiWiseClient,
    VENDOR_NETEMERA: NetemeraClient,
    VENDOR_SENRA: SenraClient,
    VENDOR_IOTSQUARE: IotSquareClient,
}
"""Each vendor's client, for what it can do before an entry connects."""


def create_client(
    session: aiohttp.ClientSession, data: Mapping[str, Any], *, push_url: str | None = None
) -> NetworkServer:
    """
    Return the client for the vendor and credentials in ``data``.

    ``push_url`` is where the network server can push to (REST push), when Home Assistant has one.
    """
    vendor = data[CONF_VENDOR]
    if vendor == VENDOR_ORION:
        return OrionClient(session, data[CONF_URL], data[CONF_APP_ID], data[CONF_TOKEN])
    if vendor == VENDOR_NETEMERA:
        return netemera_client(session, data)
    if vendor == VENDOR_ORBIWISE:
        return orbiwise_client(session, data, push_url=push_url)
    if vendor == VENDOR_SENRA:
        return SenraClient(session, data[CONF_URL], data[CONF_API_KEY], data[CONF_APP_EUI])
    if vendor == VENDOR_IOTSQUARE:
        return iotsquare_client(session, data)
    raise Unsupported(f"vendor {vendor} is not available yet")


def netemera_client(session: aiohttp.ClientSession, data: Mapping[str, Any]) -> NetemeraClient:
    """Return a Netemera client; without an application id it can only list applications."""
    return NetemeraClient(
        session,
        data[CONF_URL],
        data[CONF_AUTH_URL],
        client_id=data[CONF_CLIENT_ID],
        client_secret=data[CONF_CLIENT_SECRET],
        application_id=data.get(CONF_APP_ID),
    )


def orbiwise_client(
    session: aiohttp.ClientSession, data: Mapping[str, Any], *, push_url: str | None = None
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


def iotsquare_client(session: aiohttp.ClientSession, data: Mapping[str, Any]) -> IotSquareClient:
    """Return an IoTSquare client; without an application id it can only list applications."""
    return IotSquareClient(session, data[CONF_URL], data[CONF_TOKEN], data.get(CONF_APP_ID))


async def async_undo_setup(session: aiohttp.ClientSession, data: Mapping[str, Any]) -> None:
    """
    Undo what an entry set up on its network server, when the entry is removed.

    IoTSquare: the entry's push link and header come off the application (nothing else), and
    MQTT is turned on again if the push set-up turned it off. Raises ``lns`` errors.
    """
    if data.get(CONF_VENDOR) == VENDOR_IOTSQUARE and CONF_PUSH_ID in data:
        await iotsquare_client(session, data).remove_push(
            data[CONF_PUSH_ID],
            f"Bearer {data[CONF_PUSH_SECRET]}",
            mqtt_was_on=bool(data.get(PUSH_MQTT_WAS_ON)),
        )


def configuration_url(data: Mapping[str, Any]) -> str | None:
    """Return the address of the network server's own web interface, where it is known."""
    vendor = data.get(CONF_VENDOR)
    if vendor == VENDOR_ORBIWISE:
        return str(data[CONF_URL])
    if vendor == VENDOR_IOTSQUARE:
        # The OpenAPI sits under the console's address.
        return str(data[CONF_URL]).removesuffix("/").removesuffix("/openapi") + "/"
    return None
