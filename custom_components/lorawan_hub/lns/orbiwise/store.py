"""
OrbiWAN's temporary store: the server keeps every uplink until the application deletes it.

On every (re)connect the store of each device is drained (``GET /rest/nodes/{eui}/payloads/ul``):
what it holds is delivered, oldest first, and deleted only once delivered. Live uplinks are
deleted once delivered too (a REST push answered 200 the server deletes itself), so that the
store only ever holds what was missed. An uplink pushed twice, or pushed and then found stored,
is delivered once.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
import logging
from typing import Final

from ..base import Sink, ThrottledLog
from ..errors import AuthError, InvalidRequest, LnsError, ProtocolError
from ..models import Uplink
from .parse import payload_id, uplink_from_payload
from .rest import OrbiWiseRest, segment

_LOGGER = logging.getLogger(__name__)

DRAIN_CONCURRENCY: Final = 4
DELIVERED_MEMORY: Final = 4096
"""Payload ids remembered to deliver an uplink pushed twice (early and complete) once."""


class UplinkStore:
    """The server's store of a connection's uplinks: drained, and emptied of what was delivered."""

    def __init__(self, rest: OrbiWiseRest, *, server_deletes_pushes: bool) -> None:
        """Read and delete through ``rest``; ``server_deletes_pushes``: REST push (see above)."""
        self._rest = rest
        self._server_deletes_pushes = server_deletes_pushes
        self._delivered: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._deletions: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        self._undeleted: set[tuple[str, int]] = set()
        self._log = ThrottledLog(_LOGGER)

    def deliver(
        self, sink: Sink, uplink: Uplink, payload: int | None, *, stored: bool = False
    ) -> None:
        """Deliver an uplink once (``payload``: its id), then have it deleted from the store."""
        key = (uplink.dev_eui, payload) if payload is not None else None
        if key is not None and key in self._delivered:
            # A re-sent push, or a stored copy of an uplink delivered live: delivered once.
            if stored:
                self._deletions.put_nowait(key)
            return
        if uplink.location is not None:
            sink.device_location(uplink.dev_eui, uplink.location)
        sink.uplink(uplink)
        if key is not None:
            self._delivered[key] = None
            if len(self._delivered) > DELIVERED_MEMORY:
                self._delivered.popitem(last=False)
            if stored or not self._server_deletes_pushes:
                self._deletions.put_nowait(key)

    async def delete_delivered(self) -> None:
        """Delete delivered uplinks from the store, one at a time, until cancelled."""
        while True:
            dev_eui, payload = await self._deletions.get()
            try:
                await self._rest.request(
                    "DELETE", f"rest/nodes/{segment(dev_eui)}/payloads/ul/{payload}"
                )
            except InvalidRequest:
                pass  # already gone: pushed payloads may never be stored
            except LnsError as err:
                self._undeleted.add((dev_eui, payload))
                self._log.warning(
                    "delete", "Cannot delete a delivered uplink yet (retried): %s", err.reason
                )

    def retry_deletions(self) -> None:
        """Try again the deletions that failed (the server is back)."""
        for key in self._undeleted:
            self._deletions.put_nowait(key)
        self._undeleted.clear()

    async def drain(self, sink: Sink, dev_euis: Sequence[str]) -> None:
        """
        Deliver every stored uplink of these devices, oldest first per device, then delete it.

        A stored record that cannot be read is skipped (and left in the server's store); one
        whose ``id`` cannot be read is delivered but stays stored (it cannot be deleted).
        """
        semaphore = asyncio.Semaphore(DRAIN_CONCURRENCY)

        async def drain(dev_eui: str) -> None:
            try:
                async with semaphore:
                    stored = await self._rest.pages(
                        f"rest/nodes/{segment(dev_eui)}/payloads/ul",
                        {"data_format": "base64", "locations": "true"},
                    )
            except AuthError:
                raise
            except LnsError as err:
                # One device's store must not hold back the others (nor the live pushes).
                self._log.warning("drain", "Cannot read the stored uplinks of %s: %s", dev_eui, err)
                return
            # Oldest first (sorting on the server may need page states: sort here).
            stored.sort(key=lambda item: str(item.get("timestamp", "")))
            for item in stored:
                try:
                    # The stored objects have no DevEUI: it is the device whose store this is.
                    uplink = uplink_from_payload({**item, "DevEUI": dev_eui})
                except ProtocolError as err:
                    self._log.warning(
                        "stored",
                        "Skipped a stored uplink of %s that cannot be read (left stored): %s",
                        dev_eui,
                        err,
                    )
                    continue
                self.deliver(sink, uplink, payload_id(item), stored=True)

        await asyncio.gather(*(drain(dev_eui) for dev_eui in dev_euis))
