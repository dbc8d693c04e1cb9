"""
Devices of ours that a device integration supports: their decoded values are shown there.

A device integration of Home Assistant's LoRaWAN framework names the devices it decodes
``(its domain, "<entry id>:<DevEUI>")``. Such a device keeps our diagnostics, connection status
and actions, but not our decoded-field entities, unless its options keep them; they come back
when that integration lets the device go.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from homeassistant.const import Platform
from homeassistant.core import Event, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er

from ..const import DOMAIN, LOGGER
from ..device_state import NETWORK_LOCATION, DeviceState
from .consumer import FrameworkClient
from .provider import claimed_devices

if TYPE_CHECKING:
    from ..coordinator import LoRaWANHubCoordinator


@callback
def follow_claims(coordinator: LoRaWANHubCoordinator) -> Callable[[], None]:
    """Update the claims when a device of another integration names one of ours; unsubscribe."""

    @callback
    def updated(event: Event[dr.EventDeviceRegistryUpdatedData]) -> None:
        if event.data["action"] == "remove":
            coordinator.update_claims()
            return
        device = dr.async_get(coordinator.hass).async_get(event.data["device_id"])
        if device is None:
            return
        prefixes = tuple(f"{network_id}:" for network_id in claim_networks(coordinator))
        if any(
            domain != DOMAIN and identifier.startswith(prefixes)
            for domain, identifier in device.identifiers
        ):
            coordinator.update_claims()

    return coordinator.hass.bus.async_listen(dr.EVENT_DEVICE_REGISTRY_UPDATED, updated)


def claim_networks(coordinator: LoRaWANHubCoordinator) -> dict[str, set[str] | None]:
    """
    Return the framework networks device integrations name our devices in.

    Network id → the DevEUIs of ours on it (None: all). An entry of ours is a network of its
    own; the devices decoded from Home Assistant's LoRaWAN connections are on theirs.
    """
    client = coordinator.client
    if not isinstance(client, FrameworkClient):
        return {coordinator.entry.entry_id: None}
    networks: dict[str, set[str] | None] = {}
    for dev_eui, network_id in client.decoded.items():
        devices = networks.setdefault(network_id, set())
        if devices is not None:
            devices.add(dev_eui)
    return networks


def claims_of(coordinator: LoRaWANHubCoordinator) -> dict[str, str]:
    """Return our devices that a device integration supports: DevEUI → its domain."""
    return {
        dev_eui: domain
        for network_id, dev_euis in claim_networks(coordinator).items()
        for dev_eui, domain in claimed_devices(coordinator.hass, network_id).items()
        if dev_euis is None or dev_eui in dev_euis
    }


@callback
def update_claims(coordinator: LoRaWANHubCoordinator, claims: Mapping[str, str]) -> None:
    """Show or remove each device's decoded-field entities as ``claims`` (DevEUI → domain) say."""
    for state in coordinator.devices.values():
        shown = state.show_fields
        state.claimed_by = claims.get(state.dev_eui)
        if state.show_fields == shown:
            continue
        if state.show_fields:
            # All but the server's position, which stayed.
            coordinator.announce(
                state, [spec for spec in state.fields.values() if spec.key != NETWORK_LOCATION]
            )
        else:
            LOGGER.info(
                "%s decodes %s: its decoded values are shown there",
                state.claimed_by,
                state.dev_eui,
            )
            _remove_field_entities(coordinator, state)


@callback
def _remove_field_entities(coordinator: LoRaWANHubCoordinator, state: DeviceState) -> None:
    registry = er.async_get(coordinator.hass)
    for spec in state.fields.values():
        if spec.key == NETWORK_LOCATION:
            continue  # the server's position of the device, not a decoded value
        kind = "tracker" if spec.platform is Platform.DEVICE_TRACKER else "field"
        unique_id = f"{state.dev_eui}_{kind}_{spec.key}"
        if entity_id := registry.async_get_entity_id(spec.platform, DOMAIN, unique_id):
            registry.async_remove(entity_id)
