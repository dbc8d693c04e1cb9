"""
OrbiWise OrbiWAN: the REST API, with pushes over a WebSocket, MQTT (host mode) or REST push.

``client`` drives the connection and the actions; ``rest`` is the REST API; ``websocket``,
``mqtt`` and ``push`` are the three ways the server pushes, ``channel`` the requests sent over
the first two; ``store`` drains the server's store of uplinks; ``groups`` manages multicast
groups; ``parse`` reads what the server sends. MQTT (paho) is imported only where it is used.
"""

from .client import MqttSettings, OrbiWiseClient, Transport
from .parse import PushConfiguration
from .push import PushTarget
from .rest import AuthMode

__all__ = [
    "AuthMode",
    "MqttSettings",
    "OrbiWiseClient",
    "PushConfiguration",
    "PushTarget",
    "Transport",
]
