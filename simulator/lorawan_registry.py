"""
A stand-in for the connection registry of Home Assistant's ``lorawan`` integration (2026.11).

Home Assistant releases without the LoRaWAN framework (the test suite's 2026.10, the
benchmark's) have no registry to follow. This one keeps what LoRaWAN Hub reads of the real one:
the registered connections by network id (the provider entry's id), each with its devices'
descriptors, and the listeners told of every connection registered or withdrawn. The
connections are the library's own ``MockConnection``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lorawan_connection import Connection, DeviceDescriptor
from lorawan_connection.mock import MockConnection


@dataclass(frozen=True, slots=True)
class DeviceState:
    """The framework's state of one device: here only its descriptor."""

    descriptor: DeviceDescriptor


@dataclass(slots=True)
class Registered:
    """One registered connection."""

    connection: MockConnection

    @property
    def devices(self) -> dict[str, DeviceState]:
        """The connection's devices by (lower-case) DevEUI."""
        return {
            dev_eui: DeviceState(descriptor)
            for dev_eui, descriptor in self.connection.devices.items()
        }


@dataclass(slots=True)
class Registry:
    """The registered connections, the listeners of their changes, the manifest matchers."""

    integrations: dict[str, list[tuple[str, int | str]]] = field(default_factory=dict)
    """Device integrations by domain, with the ``(stack, brand_id)`` pairs of their manifest."""
    connections: dict[str, Registered] = field(default_factory=dict)
    connection_change_listeners: list[Callable[[tuple[str, Connection | None]], None]] = field(
        default_factory=list
    )

    def register(self, network_id: str, connection: MockConnection) -> None:
        """Register a connection, telling the listeners."""
        self.connections[network_id] = Registered(connection)
        for listener in list(self.connection_change_listeners):
            listener((network_id, connection))

    def unregister(self, network_id: str) -> None:
        """Withdraw a connection, telling the listeners."""
        del self.connections[network_id]
        for listener in list(self.connection_change_listeners):
            listener((network_id, None))
