"""The interface every network-server client implements, and what they share."""

from __future__ import annotations

from abc import ABC, abstractmethod
import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import datetime
import logging
import random
import time
from typing import Any, ClassVar, NoReturn, Protocol

from .errors import AuthError, InputError, LnsError, Unsupported
from .models import (
    Alarm,
    Capability,
    DeviceStatus,
    Downlink,
    DownlinkResult,
    DownlinkStatus,
    FuotaRequest,
    FuotaStatus,
    JoinInfo,
    Location,
    LoRaClass,
    MulticastGroup,
    MulticastSetup,
    ServerDevice,
    Uplink,
)


class Sink(Protocol):
    """
    Where a running client delivers what the network server pushes.

    Every method is called from the event loop and must return quickly.
    """

    def connection_changed(self, connected: bool, reason: str | None) -> None:
        """
        Report that the realtime connection is up, or lost or failed (with the reason).

        Called again at every failed attempt; the sink reports only transitions.
        """

    def devices_listed(self, devices: Sequence[ServerDevice]) -> None:
        """Report the server's complete device list, after each (re)connect."""

    def uplink(self, uplink: Uplink) -> None:
        """Deliver one uplink (live or caught up; the sink removes duplicates)."""

    def devices_reachable(self, dev_euis: Collection[str], reachable: bool) -> None:
        """
        Report that some devices cannot be reached (or can again) while the connection is up.

        For a client whose devices sit behind several connections of their own.
        """

    def downlink_status(self, status: DownlinkStatus) -> None:
        """Report a downlink's new state."""

    def device_status(self, status: DeviceStatus) -> None:
        """Report a device's battery and link margin."""

    def device_location(self, dev_eui: str, location: Location) -> None:
        """Report a device position kept by the network server."""

    def device_updated(self, info: ServerDevice) -> None:
        """Report news about one device; fields left None keep what was known."""

    def alarm(self, alarm: Alarm) -> None:
        """Report a problem the network server detected."""

    def joined(self, join: JoinInfo) -> None:
        """Report a device's join attempt."""

    def recent_uplinks(self, dev_eui: str) -> Collection[tuple[int | None, datetime]]:
        """Return the frame counter and time of the device's recent uplinks (kept on restart)."""

    def resume_from(self) -> datetime | None:
        """When the last uplink seen was received: catch up from there after an outage."""

    def stream_position(self) -> str | None:
        """Where in the server's event stream to resume: the value last given to the next method."""

    def set_stream_position(self, position: str) -> None:
        """
        Remember the server's stream position once everything up to it was delivered.

        The sink keeps it across restarts, together with what it processed.
        """


class NetworkServer(ABC):
    """A connection to one network server account or application."""

    vendor: ClassVar[str]
    """Stable identifier, also the config-flow step and translation key."""
    name: ClassVar[str]
    """The vendor's name, as users know it."""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    unsupported_reasons: ClassVar[Mapping[Capability, str]] = {}
    """For a capability the vendor lacks, the key of a message saying why (and what to do)."""
    error_keys: ClassVar[frozenset[str]] = frozenset()
    """Keys of the vendor's documented refusals that have a message of their own."""
    reports_port: ClassVar[bool] = True
    """Uplinks carry their port; False: each device's port is a setting of its own."""

    @abstractmethod
    async def validate(self) -> None:
        """
        Check the credentials and that the server can be reached.

        Raises AuthError, CannotConnect (or LimitReached).
        """

    @abstractmethod
    async def list_devices(self) -> list[ServerDevice]:
        """Return every device the credentials can see."""

    @abstractmethod
    async def run(self, sink: Sink) -> None:
        """
        Connect, subscribe and deliver to ``sink`` until cancelled.

        Reconnects with backoff on connection loss; returns only by raising AuthError, when the
        credentials are refused, or by cancellation.
        """

    @abstractmethod
    async def close(self) -> None:
        """Release connections; ``run`` is cancelled separately."""

    async def accept_push(self, topic: str, body: Any, limit: float) -> bool:
        """
        Take what the network server pushed to Home Assistant (a vendor that pushes over HTTP).

        ``topic`` names the kind of push where the vendor says it ("" otherwise), ``body`` is the
        JSON. True once it was handed over; False when it was not taken (the server keeps it).
        ``limit`` bounds how long the push may wait (for a catch-up in progress).
        """
        return False

    async def send_downlink(self, downlink: Downlink) -> DownlinkResult:
        """Queue or send a downlink."""
        raise Unsupported(f"{self.name} does not send downlinks")

    async def max_downlink_size(self, dev_eui: str) -> int | None:
        """Return the largest payload the device can receive now, when the server knows it."""
        return None

    async def set_device_class(self, dev_eui: str, device_class: LoRaClass) -> None:
        """Change the device's LoRaWAN class."""
        raise Unsupported(f"{self.name} cannot change a device's class")

    async def clear_downlink_queue(self, dev_eui: str) -> None:
        """Drop the downlinks queued for a device."""
        raise Unsupported(f"{self.name} cannot clear a downlink queue")

    async def request_device_status(self, dev_eui: str) -> None:
        """Ask the device for its battery and margin (LoRaWAN DevStatusReq)."""
        raise Unsupported(f"{self.name} cannot request a device status")

    async def start_fuota(self, request: FuotaRequest) -> str:
        """Start a firmware update over the air; return its job id."""
        raise Unsupported(f"{self.name} has no firmware updates over the air")

    async def cancel_fuota(self, job_id: str) -> None:
        """Cancel a firmware update."""
        raise Unsupported(f"{self.name} has no firmware updates over the air")

    async def fuota_status(self, job_id: str) -> FuotaStatus:
        """Return where a firmware update is."""
        raise Unsupported(f"{self.name} has no firmware updates over the air")

    async def create_multicast_group(self, setup: MulticastSetup) -> MulticastGroup:
        """
        Create a multicast group with its first members.

        The group returned lists the members that joined, and the session keys (generated when
        the setup gave none) that the devices must be given.
        """
        raise Unsupported(f"{self.name} has no multicast groups")

    async def rename_multicast_group(self, group_id: str, name: str) -> None:
        """Give a multicast group another name."""
        raise Unsupported(f"{self.name} cannot rename a multicast group")

    async def delete_multicast_group(self, group_id: str) -> None:
        """Delete a multicast group."""
        raise Unsupported(f"{self.name} has no multicast groups")

    async def add_to_multicast_group(self, group_id: str, dev_euis: Sequence[str]) -> None:
        """Add devices to a multicast group."""
        raise Unsupported(f"{self.name} has no multicast groups")

    async def remove_from_multicast_group(self, group_id: str, dev_euis: Sequence[str]) -> None:
        """Remove devices from a multicast group."""
        raise Unsupported(f"{self.name} has no multicast groups")

    async def multicast_group_status(self, group_id: str) -> MulticastGroup:
        """Return a multicast group with its members and their set-up."""
        raise Unsupported(f"{self.name} has no multicast groups")

    async def send_multicast(
        self, group_id: str, f_port: int, payload: bytes, gateways: Sequence[str] = ()
    ) -> DownlinkResult:
        """
        Send a downlink to every device of a multicast group.

        ``gateways`` (where the vendor takes them) are the gateways that transmit it.
        """
        raise Unsupported(f"{self.name} has no multicast")


def no_gateways(vendor: str, gateways: Sequence[str]) -> None:
    """Refuse gateways chosen for a multicast downlink by a vendor that chooses them itself."""
    if gateways:
        raise InputError(
            f"{vendor} chooses the gateways of a multicast downlink itself",
            key="multicast_gateways_unsupported",
        )


def check_multicast_setup(
    vendor: str,
    setup: MulticastSetup,
    *,
    names: bool,
    tags: bool = False,
    given_keys: bool = True,
    ping_slots: bool = False,
) -> None:
    """
    Refuse what a vendor cannot use in a multicast setup, in words (never ignore a field).

    ``names``: the vendor's groups have a name, and it is required. ``tags``: members may be
    chosen by device tag. ``given_keys``: the user may give the session. ``ping_slots``: the
    vendor takes a class B group's ping slot periodicity.
    """
    if names and not setup.name:
        raise InputError(f"{vendor} needs a name for the group", key="multicast_name_required")
    if not names and setup.name:
        raise InputError(
            f"{vendor} multicast groups have no name", key="multicast_name_unsupported"
        )
    if setup.tags and not tags:
        raise InputError(f"{vendor} has no device tags", key="multicast_tags_unsupported")
    if setup.tags and setup.dev_euis:
        raise InputError(
            "members are chosen either as devices or by tag", key="multicast_members_twice"
        )
    if setup.keys is not None and not given_keys:
        raise InputError(
            f"{vendor} generates the group's session itself", key="multicast_keys_unsupported"
        )
    if setup.ping_slot_periodicity is not None:
        if setup.device_class is not LoRaClass.B:
            raise InputError(
                "a ping slot periodicity is for class B groups", key="multicast_ping_slot_class_b"
            )
        if not ping_slots:
            raise InputError(
                f"{vendor} sets a class B group's ping slots itself",
                key="multicast_ping_slot_unsupported",
            )


RECONNECT_INITIAL = 1.0
RECONNECT_MAXIMUM = 300.0
STABLE_AFTER = 60.0
"""Seconds a connection must stay up, without data, before it counts as one that worked."""


class Backoff:
    """
    Exponential reconnect delay with jitter: ``initial`` doubling up to ``maximum`` seconds.

    The delay starts again from ``initial`` only after a connection proved itself: it brought
    data (``proven``), or it stayed up for ``STABLE_AFTER`` seconds after ``opened``. A server
    that accepts and closes at once keeps the delay growing.
    """

    def __init__(self, initial: float | None = None, maximum: float = RECONNECT_MAXIMUM) -> None:
        """Start at ``initial`` seconds (``RECONNECT_INITIAL`` by default)."""
        initial = RECONNECT_INITIAL if initial is None else initial
        self.initial = initial
        self.maximum = maximum
        self._next = initial
        self._opened_at: float | None = None

    def next_delay(self) -> float:
        """Return the delay to wait now and double the following one."""
        if self._opened_at is not None:
            if time.monotonic() - self._opened_at >= STABLE_AFTER:
                self._next = self.initial
            self._opened_at = None
        delay = self._next
        self._next = min(self._next * 2, self.maximum)
        return delay * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not cryptography

    def opened(self) -> None:
        """Note that a connection is open: if it lasts, the next delay starts again."""
        self._opened_at = time.monotonic()

    def proven(self) -> None:
        """Start again from the initial delay: the connection brought data."""
        self._next = self.initial

    def reset(self) -> None:
        """Start again from the initial delay, after a connection that worked."""
        self._next = self.initial
        self._opened_at = None


async def reconnect_forever(
    attempt: Callable[[], Awaitable[str]],
    sink: Sink,
    backoff: Backoff,
    logger: logging.Logger,
    channel: str,
) -> NoReturn:
    """
    Run ``attempt`` (one connection, returning why it ended) again and again until cancelled.

    Each end is reported to ``sink`` as a lost connection, then ``backoff`` says how long to
    wait. Refused credentials (``AuthError``) end it; any other error, a bug included, is one
    more lost connection. ``channel`` names the connection in the log (``connection to …``).
    """
    while True:
        try:
            reason = await attempt()
        except AuthError:
            raise
        except LnsError as err:
            reason = err.reason or err.key
        except Exception:  # a bug must not end the connection for good: retry
            logger.exception("Unexpected error in the %s", channel)
            reason = "unexpected error"
        sink.connection_changed(False, reason)
        delay = backoff.next_delay()
        logger.debug("%s: %s; retry in %.1f s", channel[:1].upper() + channel[1:], reason, delay)
        await asyncio.sleep(delay)


class ThrottledLog:
    """Log a recurring problem at most once per ``interval`` seconds; count what it held back."""

    def __init__(self, logger: logging.Logger, interval: float = 60.0) -> None:
        """Log through ``logger``."""
        self._logger = logger
        self._interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, msg: str, *args: object) -> None:
        """Log ``msg`` unless the same ``key`` was logged less than ``interval`` seconds ago."""
        self._log(key, msg, args, exc_info=False)

    def exception(self, key: str, msg: str, *args: object) -> None:
        """Log ``msg`` with the exception being handled, rate-limited like ``warning``."""
        self._log(key, msg, args, exc_info=True)

    def _log(self, key: str, msg: str, args: tuple[object, ...], *, exc_info: bool) -> None:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        self._last[key] = now
        suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            self._logger.warning(
                "%s (%d more since the last report)", msg % args, suppressed, exc_info=exc_info
            )
        else:
            self._logger.warning(msg, *args, exc_info=exc_info)
