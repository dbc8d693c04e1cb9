"""Which client serves which vendor, built from a config entry's data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from homeassistant.const import CONF_TOKEN, CONF_URL

from .const import CONF_APP_ID, CONF_VENDOR, VENDOR_ORION
from .lns.base import NetworkServer
from .lns.errors import Unsupported
from .lns.orion import OrionClient


def create_client(session: aiohttp.ClientSession, data: Mapping[str, Any]) -> NetworkServer:
    """Return the client for the vendor and credentials in ``data``."""
    vendor = data[CONF_VENDOR]
    if vendor == VENDOR_ORION:
        return OrionClient(session, data[CONF_URL], data[CONF_APP_ID], data[CONF_TOKEN])
    raise Unsupported(f"vendor {vendor} is not available yet")
