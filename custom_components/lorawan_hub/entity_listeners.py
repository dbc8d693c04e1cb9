"""
The entities of one entry, as the coordinator reaches them.

Platforms register a factory that makes the entities of a device or of its new fields; entities
subscribe to the keys of their device's state that they show, and to the connection's ups and
downs (availability). One failing entity or platform never stops another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
import functools

from homeassistant.core import CALLBACK_TYPE, callback

from .const import LOGGER
from .device_state import DeviceState, FieldSpec, listener_failed
from .lns.base import ThrottledLog

type NewEntitiesCallback = Callable[[DeviceState, Sequence[FieldSpec] | None], None]
"""A platform's factory: the entities of a new device (None), or of some new fields."""

_LOG = ThrottledLog(LOGGER)


class EntityListeners:
    """The platforms' factories and the entities' subscriptions of one entry."""

    def __init__(self) -> None:
        """No platform, no entity yet."""
        self._availability: set[CALLBACK_TYPE] = set()
        self._platforms: list[NewEntitiesCallback] = []

    @callback
    def add_platform(
        self, new_entities: NewEntitiesCallback, devices: Iterable[DeviceState]
    ) -> None:
        """Register a platform's entity factory and give it every device known so far."""
        self._platforms.append(new_entities)
        for state in devices:
            self._make(new_entities, state, None)

    @callback
    def announce(self, state: DeviceState, specs: Sequence[FieldSpec] | None) -> None:
        """Have every platform add the entities of a new device (None) or of new fields."""
        for new_entities in self._platforms:
            self._make(new_entities, state, specs)

    @staticmethod
    def _make(
        new_entities: NewEntitiesCallback, state: DeviceState, specs: Sequence[FieldSpec] | None
    ) -> None:
        try:
            new_entities(state, specs)
        except Exception:  # noqa: BLE001 - one entity that cannot be made stops no other
            _LOG.exception("entities", "Entities of %s could not be added", state.dev_eui)

    @callback
    def subscribe(
        self,
        device: DeviceState,
        keys: tuple[str, ...],
        update: CALLBACK_TYPE,
        write: CALLBACK_TYPE,
    ) -> CALLBACK_TYPE:
        """
        Subscribe an entity; returns the remover.

        ``update`` is called when one of ``keys`` of the device changes, ``write`` when its
        availability may have changed.
        """
        for key in keys:
            device.listeners.setdefault(key, []).append(update)
        self._availability.add(write)
        # A partial, not a closure: one of these per entity, thousands of entities.
        return functools.partial(self._unsubscribe, device, keys, update, write)

    @callback
    def _unsubscribe(
        self,
        device: DeviceState,
        keys: tuple[str, ...],
        update: CALLBACK_TYPE,
        write: CALLBACK_TYPE,
    ) -> None:
        for key in keys:
            device.listeners[key].remove(update)
        self._availability.discard(write)

    @callback
    def write_availability(self) -> None:
        """Have every entity write its state: the connection or some devices went or came."""
        for write in list(self._availability):
            try:
                write()
            except Exception:  # noqa: BLE001 - one entity never stops the others
                listener_failed("the server", "availability")
