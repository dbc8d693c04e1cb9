"""What an entry keeps across restarts: its devices' entities, recent uplinks and resume points."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN, LOGGER, STORAGE_SAVE_DELAY, STORAGE_VERSION
from .device_state import DeviceState, FieldSpec


def device_data(state: DeviceState) -> dict[str, Any]:
    """Return what is kept of a device: its entities, last uplink time and recent uplinks."""
    return {
        "fields": [spec.as_dict() for spec in state.fields.values()],
        "last_seen": state.last_seen.isoformat() if state.last_seen else None,
        "recent": [[f_cnt, when.isoformat()] for f_cnt, when in state.recent],
        "forgotten_until": state.forgotten_until.isoformat() if state.forgotten_until else None,
        "unlisted_since": state.unlisted_since.isoformat() if state.unlisted_since else None,
    }


def restore_device(state: DeviceState, data: Mapping[str, Any]) -> None:
    """Give a device back what was kept of it; what cannot be read is dropped alone."""
    for spec in data.get("fields", ()):
        try:
            state.add_spec(FieldSpec.from_dict(spec))
        except TypeError, ValueError, KeyError:
            LOGGER.warning("Dropped a stored entity of %s that cannot be read", state.dev_eui)
    if last_seen := data.get("last_seen"):
        state.last_seen = dt_util.parse_datetime(last_seen)
    if forgotten := data.get("forgotten_until"):
        state.forgotten_until = dt_util.parse_datetime(forgotten)
    state.unlisted_since = parse_time(data.get("unlisted_since"))
    for f_cnt, received_at in data.get("recent", ()):
        if (when := dt_util.parse_datetime(received_at)) is not None:
            state.remember((f_cnt, when))


def parse_time(value: Any) -> datetime | None:
    """Read back a stored time."""
    return dt_util.parse_datetime(value) if isinstance(value, str) else None


class EntryStore:
    """The entry's store: loaded at set-up, saved a few seconds after a change and at stop."""

    def __init__(
        self, hass: HomeAssistant, entry_id: str, data: Callable[[], dict[str, Any]]
    ) -> None:
        """Keep ``data()`` (called when saving) under the entry's own, private key."""
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}", private=True
        )
        self._data = data
        self._pending = False

    async def async_load(self) -> dict[str, Any]:
        """Return what was kept (empty the first time)."""
        return await self._store.async_load() or {}

    @callback
    def schedule_save(self) -> None:
        """Save soon (changes within the delay are written together)."""
        if not self._pending:
            self._pending = True
            self._store.async_delay_save(self._collect, STORAGE_SAVE_DELAY)

    @callback
    def _collect(self) -> dict[str, Any]:
        self._pending = False
        return self._data()

    async def async_save_pending(self) -> None:
        """Write now what waits to be written."""
        if self._pending:
            await self._store.async_save(self._collect())
