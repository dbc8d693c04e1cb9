"""A sink that records what a network-server client delivers, and a client running into one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Protocol

import pytest

from custom_components.lorawan_hub.lns.base import NetworkServer
from custom_components.lorawan_hub.lns.models import (
    Alarm,
    DeviceStatus,
    DownlinkStatus,
    JoinInfo,
    Location,
    ServerDevice,
    Uplink,
)


class RecordingSink:
    """A sink that records everything and lets a test wait for what it expects."""

    def __init__(self) -> None:
        """Start empty."""
        self.uplinks: list[Uplink] = []
        self.connections: list[tuple[bool, str | None]] = []
        self.device_lists: list[list[ServerDevice]] = []
        self.downlink_statuses: list[DownlinkStatus] = []
        self.device_statuses: list[DeviceStatus] = []
        self.locations: dict[str, Location] = {}
        self.resume: datetime | None = None
        self.device_updates: list[ServerDevice] = []
        self.alarms: list[Alarm] = []
        self.joins: list[JoinInfo] = []
        self.position: str | None = None
        self.positions: list[str] = []
        self.reachability: list[tuple[list[str], bool]] = []
        self._changed = asyncio.Event()

    def _touch(self) -> None:
        self._changed.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10) -> None:
        """Wait until ``predicate`` holds, woken by each callback."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    def connection_changed(self, connected: bool, reason: str | None) -> None:
        """Record a connection change."""
        self.connections.append((connected, reason))
        self._touch()

    def devices_reachable(self, dev_euis: Collection[str], reachable: bool) -> None:
        """Record devices reachable or not."""
        self.reachability.append((sorted(dev_euis), reachable))
        self._touch()

    def devices_listed(self, devices: Sequence[ServerDevice]) -> None:
        """Record a device list."""
        self.device_lists.append(list(devices))
        self._touch()

    def uplink(self, uplink: Uplink) -> None:
        """Record an uplink and advance the resume point, as the coordinator does."""
        self.uplinks.append(uplink)
        if self.resume is None or uplink.received_at > self.resume:
            self.resume = uplink.received_at
        self._touch()

    def downlink_status(self, status: DownlinkStatus) -> None:
        """Record a downlink status."""
        self.downlink_statuses.append(status)
        self._touch()

    def device_status(self, status: DeviceStatus) -> None:
        """Record a device status."""
        self.device_statuses.append(status)
        self._touch()

    def device_location(self, dev_eui: str, location: Location) -> None:
        """Record a location."""
        self.locations[dev_eui] = location
        self._touch()

    def recent_uplinks(self, dev_eui: str) -> Collection[tuple[int | None, datetime]]:
        """Return what was delivered for the device, as the coordinator remembers it."""
        return [(u.f_cnt, u.received_at) for u in self.uplinks if u.dev_eui == dev_eui]

    def resume_from(self) -> datetime | None:
        """Return the newest uplink time seen."""
        return self.resume

    def device_updated(self, info: ServerDevice) -> None:
        """Record news about a device."""
        self.device_updates.append(info)
        self._touch()

    def alarm(self, alarm: Alarm) -> None:
        """Record an alarm."""
        self.alarms.append(alarm)
        self._touch()

    def joined(self, join: JoinInfo) -> None:
        """Record a join."""
        self.joins.append(join)
        self._touch()

    def stream_position(self) -> str | None:
        """Return the stream position last set."""
        return self.position

    def set_stream_position(self, position: str) -> None:
        """Remember the stream position, as the coordinator does."""
        self.position = position
        self.positions.append(position)
        self._touch()

    @property
    def up(self) -> bool:
        """Whether the last connection report says connected."""
        return bool(self.connections) and self.connections[-1][0]


class RunningClient[ClientT: NetworkServer]:
    """A client running against a recording sink in a background task."""

    def __init__(self, client: ClientT, sink: RecordingSink | None = None) -> None:
        """Start ``client.run`` into ``sink`` (a new one when not given)."""
        self.client = client
        self.sink = RecordingSink() if sink is None else sink
        self.task = asyncio.create_task(client.run(self.sink))

    async def connected(self) -> None:
        """Wait until the client reports itself connected."""
        await self.sink.wait_for(lambda: self.sink.up)

    async def uplinks(self, count: int) -> None:
        """Wait for ``count`` uplinks in all."""
        await self.sink.wait_for(lambda: len(self.sink.uplinks) >= count)

    async def stop(self) -> None:
        """Cancel the run, which must end cancelled rather than fail."""
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task


class StartClient(Protocol):
    """Start a client running into a recording sink (a new one when not given)."""

    def __call__[ClientT: NetworkServer](
        self, client: ClientT, sink: RecordingSink | None = None
    ) -> RunningClient[ClientT]:
        """Start ``client``."""
        ...
