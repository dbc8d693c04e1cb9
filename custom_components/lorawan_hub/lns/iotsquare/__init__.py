"""
IoTSquare (RisingHF): uplinks and joins pushed over HTTP, the OpenAPI for the rest.

``client`` takes the pushes and drives the actions; ``api`` is the OpenAPI (its response codes),
``push`` the application's push settings, ``multicast`` its multicast groups, ``fuota`` the file
transfers to them, and ``parse`` reads what the server sends.
"""

from .client import DEFAULT_URL, PUSH_KINDS, IotSquareClient
from .push import (
    HEADER_TAKEN,
    MQTT_ON,
    PUSH_MQTT_WAS_ON,
    PUSH_URL_TAKEN,
    PushConfig,
    PushConflict,
)

__all__ = [
    "DEFAULT_URL",
    "HEADER_TAKEN",
    "MQTT_ON",
    "PUSH_KINDS",
    "PUSH_MQTT_WAS_ON",
    "PUSH_URL_TAKEN",
    "IotSquareClient",
    "PushConfig",
    "PushConflict",
]
