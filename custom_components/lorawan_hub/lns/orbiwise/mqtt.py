"""
OrbiWAN pushes over MQTT, host mode: the server's own broker, topics ``<account>/<topic>``.

paho-mqtt runs its network loop in a thread of its own; its callbacks hand every message to the
event loop, and connecting and stopping (which block) run in the executor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import secrets
import ssl
from typing import TYPE_CHECKING, Any

import orjson
from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ..base import Sink
from ..errors import AuthError, CannotConnect

if TYPE_CHECKING:
    from .client import MqttSettings, OrbiWiseClient

KEEPALIVE = 60
REPLY_TOPICS = ("payloads_dl", "multicast")
"""The answers to downlinks and multicasts, on the topics the downlink sections give host mode."""
# MQTT 3.1.1 CONNACK codes 4 and 5, MQTT 5 codes 134 and 135: the credentials are refused.
_REFUSED = frozenset({4, 5, 134, 135})


def _refusal(reason: ReasonCode) -> Exception | None:
    """Return the error a broker's answer to connecting means, None when it accepted."""
    if not reason.is_failure:
        return None
    if reason.value in _REFUSED:
        return AuthError(f"the broker refused the credentials ({reason})")
    return CannotConnect(f"the broker refused the connection ({reason})")


def _settle(
    future: asyncio.Future[Any], result: Any = None, error: Exception | None = None
) -> None:
    """Give ``future`` its result or ``error``, unless it has one already (on the event loop)."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _tls_context() -> ssl.SSLContext:
    """Build a verifying TLS context (reads the system's certificates: not on the event loop)."""
    return ssl.create_default_context()


async def run_mqtt(client: OrbiWiseClient, sink: Sink) -> str:
    """Connect to the server's broker, drain, receive pushes until the connection drops."""
    settings = client.mqtt_settings
    if settings is None:
        raise CannotConnect("MQTT needs the broker's address")
    loop = asyncio.get_running_loop()
    account = client.account_id
    subscribed: asyncio.Future[None] = loop.create_future()
    lost: asyncio.Future[str] = loop.create_future()

    def on_connect(
        mqttc: Client,
        userdata: Any,
        flags: ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if (error := _refusal(reason)) is not None:
            loop.call_soon_threadsafe(_settle, subscribed, None, error)
            return
        topics = [f"{account}/{topic}" for topic in client.topics]
        # Host mode prefixes every topic with the account (document lines 1767-1779 and the
        # default "broker_topic_any": "${userid}/${topic}" of line 1904, which line 1944 applies
        # to the downlink topics too), but the downlink sections give the answers on plain
        # "payloads_dl" / "multicast" in host mode (lines 1820, 1838, 1866, 1884). Both
        # readings are accepted: answers are taken from either topic (a broker refusing the
        # plain ones refuses only those).
        topics.extend(REPLY_TOPICS)
        mqttc.subscribe([(topic, 1) for topic in topics])

    def on_subscribe(
        mqttc: Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if all(reason.is_failure for reason in reasons):
            error = CannotConnect("the broker refused every topic of the account")
            loop.call_soon_threadsafe(_settle, subscribed, None, error)
        else:
            loop.call_soon_threadsafe(_settle, subscribed)

    def on_message(mqttc: Client, userdata: Any, message: MQTTMessage) -> None:
        loop.call_soon_threadsafe(client.receive, message.payload)

    def on_disconnect(
        mqttc: Client,
        userdata: Any,
        flags: DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        text = f"the broker closed the connection ({reason})"
        loop.call_soon_threadsafe(_settle, lost, text)
        loop.call_soon_threadsafe(_settle, subscribed, None, CannotConnect(text))

    mqttc = Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"lorawan-hub-{secrets.token_hex(6)}",
    )
    mqttc.username_pw_set(client.username, client.password)
    if settings.tls:
        mqttc.tls_set_context(await loop.run_in_executor(None, _tls_context))
    mqttc.on_connect = on_connect
    mqttc.on_subscribe = on_subscribe
    mqttc.on_message = on_message
    mqttc.on_disconnect = on_disconnect
    try:
        await loop.run_in_executor(None, mqttc.connect, settings.host, settings.port, KEEPALIVE)
    except (OSError, ssl.SSLError) as err:
        raise CannotConnect(
            f"cannot reach the broker {settings.host}:{settings.port}: {type(err).__name__}"
        ) from None
    mqttc.loop_start()
    client.mqtt_client = mqttc

    async def publish(message: Mapping[str, Any]) -> None:
        (name,) = message
        payload = orjson.dumps(message)
        # Published once, on the prefixed topic: host mode prefixes every topic it takes with the
        # account (lines 1767 and 1904, applied to send_payloads_dl/send_multicast by line
        # 1944), although lines 1802 and 1852 write the host-mode downlink topics without it.
        topic = f"{account}/send_{name}"
        info = await loop.run_in_executor(None, mqttc.publish, topic, payload, 1)
        if info.rc:
            raise CannotConnect(f"the broker did not take the {name} (error {info.rc})")

    try:
        async with asyncio.timeout(client.request_timeout):
            await subscribed
        client.set_sender(publish)
        await client.connected(sink)
        return await lost
    except TimeoutError:
        raise CannotConnect("the broker did not answer the connection") from None
    finally:
        client.set_sender(None)
        client.mqtt_client = None
        mqttc.disconnect()
        await loop.run_in_executor(None, mqttc.loop_stop)


async def check_mqtt(settings: MqttSettings, username: str, password: str, limit: float) -> None:
    """Connect to the broker once to check the address and the credentials (within ``limit`` s)."""
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[None] = loop.create_future()

    def on_connect(
        mqttc: Client,
        userdata: Any,
        flags: ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        loop.call_soon_threadsafe(_settle, answered, None, _refusal(reason))

    mqttc = Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"lorawan-hub-check-{secrets.token_hex(4)}",
    )
    mqttc.username_pw_set(username, password)
    if settings.tls:
        mqttc.tls_set_context(await loop.run_in_executor(None, _tls_context))
    mqttc.on_connect = on_connect
    # paho waits up to the keep-alive for a TLS handshake: a check must not wait a minute.
    keepalive = max(1, min(KEEPALIVE, round(limit)))
    try:
        await loop.run_in_executor(None, mqttc.connect, settings.host, settings.port, keepalive)
    except (OSError, ssl.SSLError) as err:
        raise CannotConnect(
            f"cannot reach the broker {settings.host}:{settings.port}: {type(err).__name__}"
        ) from None
    mqttc.loop_start()
    try:
        async with asyncio.timeout(limit):
            await answered
    except TimeoutError:
        raise CannotConnect("the broker did not answer the connection") from None
    finally:
        mqttc.disconnect()
        await loop.run_in_executor(None, mqttc.loop_stop)
