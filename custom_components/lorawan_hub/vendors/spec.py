"""What Home Assistant needs to know about one network-server vendor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from ..lns.base import NetworkServer

if TYPE_CHECKING:
    from .flow import VendorFlow

type ClientFactory = Callable[[aiohttp.ClientSession, Mapping[str, Any], str | None], NetworkServer]
"""Build the client of an entry from its data; the third argument is the push URL, if any."""
type HassClientFactory = Callable[
    [HomeAssistant, Mapping[str, Any], Mapping[str, Any]], NetworkServer
]
"""Build a client that needs Home Assistant itself, from the entry's data and options."""


@dataclass(frozen=True, kw_only=True)
class VendorSpec:
    """
    One vendor, as the rest of the integration sees it: the registry's entry.

    The vendor's config-flow steps live in ``flow`` (a class whose ``async_step_<vendor>``
    starts adding an entry and whose ``async_step_reconfigure_<vendor>`` changes one); the
    flow, diagnostics, push receiver and simulator command line read the rest from here.
    """

    client_class: type[NetworkServer]
    create_client: ClientFactory
    flow: type[VendorFlow]
    reauth_fields: Mapping[str, Any]
    """What reauthentication asks for: key → selector (a ``str`` field shows its current value)."""
    unique_id: Callable[[Mapping[str, Any]], str]
    """The entry's identity, from its data (the server and the application or account)."""
    secrets: frozenset[str] = frozenset()
    """Keys of the entry's data (and of what the server sends) that diagnostics redact."""
    push_kinds: frozenset[str] = frozenset()
    """Sub-paths the vendor pushes to under the entry's own push path (IoTSquare)."""
    configuration_url: Callable[[Mapping[str, Any]], str | None] = field(default=lambda data: None)
    """The address of the vendor's own web interface for the entry, where it is known."""
    undo_setup: Callable[[aiohttp.ClientSession, Mapping[str, Any]], Awaitable[None]] | None = None
    """Undo what the entry set up on the server (its push set-up), when the entry is removed."""
    create_with_hass: HassClientFactory | None = None
    """For a client of Home Assistant's own (its LoRaWAN framework): used instead."""
    single: bool = False
    """One entry at most."""
    provides_connection: bool = True
    """Its entries are connections of Home Assistant's LoRaWAN framework (a network server)."""
    available: Callable[[HomeAssistant], Awaitable[bool]] | None = None
    """Whether this Home Assistant can offer the vendor at all (None: always)."""

    def client(
        self,
        hass: HomeAssistant,
        data: Mapping[str, Any],
        options: Mapping[str, Any] | None = None,
        push_url: str | None = None,
    ) -> NetworkServer:
        """Return the client of an entry (or of a flow's data, to check it)."""
        if self.create_with_hass is not None:
            return self.create_with_hass(hass, data, options or {})
        return self.create_client(async_get_clientsession(hass), data, push_url)

    @property
    def vendor(self) -> str:
        """Return the vendor's id: the client's, also the first step's id and translation key."""
        return self.client_class.vendor

    @property
    def name(self) -> str:
        """Return the vendor's name, as users know it."""
        return self.client_class.name


REGISTRY: dict[str, VendorSpec] = {}
"""Every vendor, by id, in the order they were registered."""


def register(spec: VendorSpec) -> VendorSpec:
    """Make ``spec`` one of the vendors (each vendor module registers itself)."""
    REGISTRY[spec.vendor] = spec
    return spec
