"""Constants of the LoRaWAN Hub integration."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "lorawan_hub"
LOGGER = logging.getLogger(__package__)

CONF_VENDOR: Final = "vendor"
CONF_APP_ID: Final = "app_id"
"""The vendor's application (OrionM2M API application, Netemera application)."""
CONF_AUTH_URL: Final = "auth_url"
"""An OAuth 2.0 token endpoint."""
CONF_AUTH_MODE: Final = "auth_mode"
CONF_APPLICATION: Final = "application"
"""An OrbiWAN application sub-account (optional)."""
CONF_TRANSPORT: Final = "transport"
CONF_APP_EUI: Final = "app_eui"
"""A SenRa application's EUI."""
CONF_MQTT_HOST: Final = "mqtt_host"
CONF_MQTT_PORT: Final = "mqtt_port"
CONF_MQTT_TLS: Final = "mqtt_tls"
CONF_PUSH_ID: Final = "push_id"
"""The entry's own path under /api/lorawan_hub/push/ (IoTSquare)."""
CONF_PUSH_SECRET: Final = "push_secret"  # noqa: S105 - a key name, not a secret
"""What the network server sends in the Authorization header of its pushes."""
CONF_PUSH_REPLACES: Final = "push_replaces"
"""OrbiWAN: the fingerprint of a push set up elsewhere that the user agreed to replace."""

# Options
CONF_OFFLINE_AFTER: Final = "offline_after"
"""Minutes without an uplink after which a device reports as offline."""
CONF_DEVICES: Final = "devices"
"""Per-device options, keyed by DevEUI."""
CONF_CODEC: Final = "codec"
CONF_IDENTITY: Final = "identity"
"""A device's LoRaWAN Device Repository identity: brand (vendor) and model ids, and names."""
CONF_OWN_ENTITIES: Final = "own_entities"
"""Keep our decoded-field entities for a device that a device integration supports."""
CONF_DECODED: Final = "decoded"
"""Of the entry of Home Assistant's LoRaWAN connections: the devices it decodes, DevEUI → the
network id of the device's connection."""
CONF_F_PORT: Final = "f_port"
"""The port of a device whose network server does not report ports."""
DEFAULT_F_PORT: Final = 1
DEFAULT_OFFLINE_AFTER: Final = 180

EVENT_UPLINK: Final = "lorawan_hub_uplink"
EVENT_DOWNLINK_STATUS: Final = "lorawan_hub_downlink_status"
EVENT_JOIN: Final = "lorawan_hub_join"
EVENT_ALARM: Final = "lorawan_hub_alarm"

ONLINE_CHECK_INTERVAL: Final = timedelta(minutes=1)
STORAGE_VERSION: Final = 1
STORAGE_SAVE_DELAY: Final = 10.0
STALE_AFTER: Final = timedelta(days=1)
"""How long a device the network server no longer lists, and that stays silent, is kept."""
DEDUP_MEMORY: Final = 16
"""Recent uplinks remembered per device to drop replays."""
