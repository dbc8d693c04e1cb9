"""OrbiWAN pushes over MQTT (host mode), through a real MQTT broker on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import socket
from typing import Self

import aiohttp
from amqtt.broker import Broker
import pytest

from custom_components.lorawan_hub.lns.errors import AuthError, CannotConnect, InvalidRequest
from custom_components.lorawan_hub.lns.models import Downlink, DownlinkState
from custom_components.lorawan_hub.lns.orbiwise import MqttSettings, OrbiWiseClient, Transport
from custom_components.lorawan_hub.lns.orbiwise.mqtt import check_mqtt
from simulator.orbiwise import OrbiWiseSimulator
from tests.vendors.sink import RecordingSink

CLIMATE = "70B3D57ED0000001"


def free_port() -> int:
    """Return a TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RunningBroker:
    """An MQTT broker on 127.0.0.1."""

    def __init__(self) -> None:
        """Pick a port."""
        self.port = free_port()
        self.server = Broker(
            {"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}}}
        )
        self.running = False

    async def start(self) -> None:
        """Start serving."""
        await self.server.start()
        self.running = True

    async def stop(self) -> None:
        """Stop serving (every client is disconnected)."""
        if self.running:
            self.running = False
            await self.server.shutdown()


@pytest.fixture
async def mqtt_broker() -> AsyncIterator[RunningBroker]:
    """An MQTT broker on 127.0.0.1."""
    server = RunningBroker()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def broker(mqtt_broker: RunningBroker) -> int:
    """The broker's port."""
    return mqtt_broker.port


@pytest.fixture
async def orbiwise(broker: int) -> AsyncIterator[OrbiWiseSimulator]:
    """An OrbiWAN server publishing to the broker."""
    simulator = OrbiWiseSimulator()
    simulator.add_node(CLIMATE, comment="Climate")
    async with simulator:
        await simulator.connect_mqtt("127.0.0.1", broker)
        yield simulator


async def test_mqtt_uplinks_downlinks_and_multicast(
    orbiwise: OrbiWiseSimulator, broker: int, mqtt_broker: RunningBroker
) -> None:
    """Uplinks come over MQTT and are deleted; downlinks and multicast go over it, with answers."""
    async with aiohttp.ClientSession() as session:
        client = OrbiWiseClient(
            session,
            orbiwise.url,
            username=orbiwise.username,
            password=orbiwise.password,
            transport=Transport.MQTT,
            mqtt=MqttSettings("127.0.0.1", broker, tls=False),
        )
        stored = orbiwise.publish(CLIMATE, b"\x01\x67\x00\xe6")
        await client.list_devices()
        sink = RecordingSink()
        task = asyncio.create_task(client.run(sink))
        async with asyncio.timeout(15):
            await client.live.wait()
            live = orbiwise.publish(CLIMATE, b"\x01\x67\x00\xeb")
            await sink.wait_for(lambda: len(sink.uplinks) == 2)
            await orbiwise.wait_for(lambda: {stored, live} <= set(orbiwise.deleted))
        assert [uplink.payload[-1] for uplink in sink.uplinks] == [0xE6, 0xEB]
        assert client.mqtt_client is not None

        result = await client.send_downlink(Downlink(dev_eui=CLIMATE, f_port=4, payload=b"\x07"))
        assert result.state is DownlinkState.QUEUED
        assert orbiwise.downlinks[0].payload == b"\x07"
        orbiwise.advance_downlink(orbiwise.downlinks[0].id, 2)
        async with asyncio.timeout(15):
            await sink.wait_for(lambda: bool(sink.downlink_statuses))
        assert sink.downlink_statuses[0].state is DownlinkState.ACKNOWLEDGED

        orbiwise.groups["g"] = {"groupid": "g", "title": "g"}
        group = await client.send_multicast("g", 9, b"\x01")
        assert group.message_id == str(orbiwise.downlinks[1].id)

        # The broker goes away: the connection is reported lost (and retried).
        await orbiwise.disconnect_mqtt()
        await mqtt_broker.stop()
        async with asyncio.timeout(15):
            await sink.wait_for(lambda: not sink.up)
        assert "the broker closed the connection" in str(sink.connections[-1][1])
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client.mqtt_client is None


async def test_mqtt_answers_on_the_plain_topics(orbiwise: OrbiWiseSimulator, broker: int) -> None:
    """
    Host mode answers on "payloads_dl" and "multicast" in one reading of the document.

    Downlinks go to "<user>/send_payloads_dl" (host mode prefixes every topic); their answers
    are taken from the prefixed and the plain topics alike.
    """
    orbiwise.mqtt_plain_replies = True
    async with aiohttp.ClientSession() as session:
        client = OrbiWiseClient(
            session,
            orbiwise.url,
            username=orbiwise.username,
            password=orbiwise.password,
            transport=Transport.MQTT,
            mqtt=MqttSettings("127.0.0.1", broker, tls=False),
            request_timeout=5,
        )
        await client.list_devices()
        sink = RecordingSink()
        task = asyncio.create_task(client.run(sink))
        async with asyncio.timeout(15):
            await client.live.wait()
        result = await client.send_downlink(Downlink(dev_eui=CLIMATE, f_port=4, payload=b"\x07"))
        assert result.message_id == str(orbiwise.downlinks[0].id)
        orbiwise.groups["g"] = {"groupid": "g", "title": "g"}
        group = await client.send_multicast("g", 9, b"\x01")
        assert group.message_id == str(orbiwise.downlinks[1].id)
        with pytest.raises(InvalidRequest, match="group not found"):
            await client.send_multicast("nope", 9, b"\x01")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_broker_gone(orbiwise: OrbiWiseSimulator, broker: int) -> None:
    """The broker stopping ends the connection with a reason; reconnects then fail clearly."""
    async with aiohttp.ClientSession() as session:
        client = OrbiWiseClient(
            session,
            orbiwise.url,
            username=orbiwise.username,
            password=orbiwise.password,
            transport=Transport.MQTT,
            mqtt=MqttSettings("127.0.0.1", free_port(), tls=False),
        )
        sink = RecordingSink()
        task = asyncio.create_task(client.run(sink))
        async with asyncio.timeout(15):
            await sink.wait_for(lambda: bool(sink.connections))
        assert "cannot reach the broker" in str(sink.connections[0][1])
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_check_mqtt(broker: int) -> None:
    """The flow's check: a working broker passes; none listening, or TLS on plain MQTT, fails."""
    await check_mqtt(MqttSettings("127.0.0.1", broker, tls=False), "u", "p", 10)
    with pytest.raises(CannotConnect):
        await check_mqtt(MqttSettings("127.0.0.1", free_port(), tls=False), "u", "p", 10)
    with pytest.raises(CannotConnect):
        await check_mqtt(MqttSettings("127.0.0.1", broker, tls=True), "u", "p", 1)


class ScriptedBroker:
    """A minimal MQTT peer answering CONNECT (and SUBSCRIBE) with chosen codes."""

    def __init__(self, connack: int, suback: int = 0x80, *, silent: bool = False) -> None:
        """Answer CONNECT with ``connack`` and SUBSCRIBE with ``suback`` (or nothing)."""
        self.connack = connack
        self.suback = suback
        self.silent = silent
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Self:
        """Listen on a free port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop listening."""
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while packet := await reader.read(1):
                length = (await reader.read(1))[0]
                body = await reader.readexactly(length)
                kind = packet[0] >> 4
                if self.silent:
                    continue
                if kind == 1:  # CONNECT
                    writer.write(bytes([0x20, 2, 0, self.connack]))
                elif kind == 8:  # SUBSCRIBE: packet id, then one topic per filter
                    filters = body[2:].count(b"\x01") or 1
                    writer.write(
                        bytes([0x90, 2 + filters]) + body[:2] + bytes([self.suback]) * filters
                    )
                await writer.drain()
        except ConnectionError, asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()


@pytest.mark.parametrize(("connack", "error"), [(5, AuthError), (3, CannotConnect)])
async def test_refused_connection(connack: int, error: type[Exception]) -> None:
    """Refused credentials (CONNACK 5) are an AuthError; an unavailable server is not."""
    async with ScriptedBroker(connack) as scripted:
        with pytest.raises(error):
            await check_mqtt(MqttSettings("127.0.0.1", scripted.port, tls=False), "u", "p", 10)


async def test_refusals_while_running() -> None:
    """In a run: refused credentials raise AuthError; refused topics are a connection failure."""
    async with aiohttp.ClientSession() as session:
        async with ScriptedBroker(5) as scripted:
            client = OrbiWiseClient(
                session,
                "http://127.0.0.1:9",
                username="u",
                password="p",
                transport=Transport.MQTT,
                mqtt=MqttSettings("127.0.0.1", scripted.port, tls=False),
            )
            with pytest.raises(AuthError):
                await asyncio.wait_for(client.run(RecordingSink()), 15)
        async with ScriptedBroker(0) as scripted:
            client = OrbiWiseClient(
                session,
                "http://127.0.0.1:9",
                username="u",
                password="p",
                transport=Transport.MQTT,
                mqtt=MqttSettings("127.0.0.1", scripted.port, tls=False),
            )
            sink = RecordingSink()
            task = asyncio.create_task(client.run(sink))
            async with asyncio.timeout(15):
                await sink.wait_for(lambda: bool(sink.connections))
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert sink.connections[0] == (False, "the broker refused every topic of the account")


async def test_silent_broker_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broker that never answers the connection is reported, not waited for forever."""
    async with ScriptedBroker(0, silent=True) as scripted:
        with pytest.raises(CannotConnect, match="did not answer"):
            await check_mqtt(MqttSettings("127.0.0.1", scripted.port, tls=False), "u", "p", 0.2)
        async with aiohttp.ClientSession() as session:
            client = OrbiWiseClient(
                session,
                "http://127.0.0.1:9",
                username="u",
                password="p",
                transport=Transport.MQTT,
                mqtt=MqttSettings("127.0.0.1", scripted.port, tls=False),
                request_timeout=0.2,
            )
            sink = RecordingSink()
            task = asyncio.create_task(client.run(sink))
            async with asyncio.timeout(15):
                await sink.wait_for(lambda: bool(sink.connections))
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert sink.connections[0] == (False, "the broker did not answer the connection")


async def test_mqtt_without_settings() -> None:
    """An MQTT client without a broker address cannot connect (and says so)."""
    async with aiohttp.ClientSession() as session:
        client = OrbiWiseClient(
            session, "http://127.0.0.1:9", username="u", password="p", transport=Transport.MQTT
        )
        sink = RecordingSink()
        task = asyncio.create_task(client.run(sink))
        async with asyncio.timeout(15):
            await sink.wait_for(lambda: bool(sink.connections))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert sink.connections[0] == (False, "MQTT needs the broker's address")
