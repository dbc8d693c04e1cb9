"""Which client serves which vendor, built from a config entry's data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from homeassistant.const import CONF_CLIENT_ID, CONF_CLIENT_SECRET, CONF_TOKEN, CONF_URL

from .const import CONF_APP_ID, CONF_AUTH_URL, CONF_VENDOR, VENDOR_NETEMERA, VENDOR_ORION
from .lns.base import NetworkServer
from .lns.errors import Unsupported
from .lns.netemera import NetemeraClient
from .lns.orion import OrionClient


def create_client(session: aiohttp.ClientSession, data: Mapping[str, Any]) -> NetworkServer:
    """Return the client for the vendor and credentials in ``data``."""
    vendor = data[CONF_VENDOR]
    if vendor == VENDOR_ORION:
        return OrionClient(session, data[CONF_URL], data[CONF_APP_ID], data[CONF_TOKEN])
    if vendor == VENDOR_NETEMERA:
        return netemera_client(session, data)
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
