"""
Our entries in Home Assistant's LoRaWAN framework (Home Assistant 2026.11 and later).

Each network-server entry registers a connection (``connection.py``) with the framework's
``lorawan`` integration: its devices show on the LoRaWAN devices page, and device integrations
(SenseCAP...) can decode them. On an older release there is no framework: nothing happens here
and the entry works as before.

A device that a device integration supports (it made a device with the identifier
``(its domain, "<entry id>:<dev eui>")``) keeps our diagnostics, connection status and actions,
but not our decoded-field entities, unless the device's options ask for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final
import uuid

from lorawan_connection import ConnectionUnavailable, Downlink as FrameworkDownlink, DownlinkError

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.importlib import async_import_module
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util

from ..const import (
    CONF_APP_EUI,
    CONF_APP_ID,
    CONF_APPLICATION,
    CONF_DEVICES,
    CONF_IDENTITY,
    DOMAIN,
    LOGGER,
)
from ..device_state import DeviceState
from ..device_types import (
    CONF_DEVICE_TYPES,
    CONF_MODEL,
    CONF_SOURCE,
    CONF_VENDOR_ID,
    JS_PREFIX,
    SOURCE_REPOSITORY,
)
from ..downlink import async_send_downlink
from ..lns.models import Capability, DeviceStatus, Downlink, DownlinkStatus, Location, Uplink
from .connection import DeviceFacts, FrameworkFeed, HubConnection, Identity

if TYPE_CHECKING:
    from ..coordinator import LoRaWANHubCoordinator

FRAMEWORK: Final = "lorawan"
"""Home Assistant's LoRaWAN framework integration."""


async def async_framework_module(hass: HomeAssistant) -> ModuleType | None:
    """Return Home Assistant's ``lorawan`` integration, None on a release without it."""
    try:
        return await async_import_module(hass, f"homeassistant.components.{FRAMEWORK}")
    except ImportError:
        return None


def identity_of(options: Mapping[str, Any], device_options: Mapping[str, Any]) -> Identity | None:
    """
    Return a device's LoRaWAN Device Repository identity, None when it has none.

    Set in the device's options, or given by its device type when that comes from the
    repository (vendor and model).
    """
    if (chosen := device_options.get(CONF_IDENTITY)) and chosen.get("brand_id"):
        return Identity(
            brand_id=str(chosen["brand_id"]),
            model_id=str(chosen.get("model_id", "")),
            manufacturer=str(chosen.get("manufacturer", "")),
            model=str(chosen.get("model", "")),
        )
    codec = str(device_options.get("codec", ""))
    if codec.startswith(JS_PREFIX):
        definition = options.get(CONF_DEVICE_TYPES, {}).get(codec.removeprefix(JS_PREFIX), {})
        if definition.get(CONF_SOURCE) == SOURCE_REPOSITORY and definition.get(CONF_VENDOR_ID):
            return Identity(
                brand_id=str(definition[CONF_VENDOR_ID]).lower(),
                model_id=str(definition.get(CONF_MODEL, "")).lower(),
            )
    return None


def claimed_devices(hass: HomeAssistant, entry_id: str) -> dict[str, str]:
    """
    Return our devices that a device integration supports: DevEUI → its domain.

    The framework's device integrations name their devices ``(domain, "<entry id>:<dev eui>")``.
    """
    prefix = f"{entry_id}:"
    claimed: dict[str, str] = {}
    for device in dr.async_get(hass).devices:
        for domain, identifier in device.identifiers:
            if domain != DOMAIN and identifier.startswith(prefix):
                claimed[identifier.removeprefix(prefix).upper()] = domain
    return claimed


async def async_link_framework(
    hass: HomeAssistant,
    entry: ConfigEntry[Any],
    coordinator: LoRaWANHubCoordinator,
    configuration_url: str | None,
) -> FrameworkLink | None:
    """Set the framework up and link the entry to it; None on a release without it."""
    if (module := await async_framework_module(hass)) is None:
        return None
    if not await async_setup_component(hass, FRAMEWORK, {}):
        LOGGER.warning("Home Assistant's LoRaWAN framework could not be set up")
        return None
    link = FrameworkLink(hass, entry, coordinator, module, configuration_url)
    link.devices(coordinator.devices.values())
    return link


class FrameworkLink:
    """Feeds the framework from one entry's coordinator, and registers its connections."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        coordinator: LoRaWANHubCoordinator,
        module: ModuleType,
        configuration_url: str | None,
    ) -> None:
        """Link ``coordinator``'s entry to the framework integration ``module``."""
        self.hass = hass
        self.entry = entry
        self.coordinator = coordinator
        self.feed = FrameworkFeed(entry.entry_id, self._send, self._register)
        self._module = module
        self._configuration_url = configuration_url
        self._unregister: Callable[[], None] | None = None
        """The current registration's undoing (earlier ones ended with their connection)."""
        data = entry.data
        self.application = str(
            data.get(CONF_APP_ID) or data.get(CONF_APP_EUI) or data.get(CONF_APPLICATION) or ""
        )

    # --- what the coordinator tells -----------------------------------------------------------

    def facts(self, state: DeviceState) -> DeviceFacts:
        """Return what the framework is told about a device."""
        options = self.entry.options
        device = dr.async_get(self.hass).async_get(state.device_id)
        name = (
            (device.name_by_user or device.name)
            if device is not None
            else (state.info.name if state.info else None)
        )
        return DeviceFacts(
            dev_eui=state.dev_eui,
            name=name or state.dev_eui,
            application_id=self.application,
            profile_id=(state.info.profile if state.info else None) or "",
            identity=identity_of(options, options.get(CONF_DEVICES, {}).get(state.dev_eui, {})),
        )

    @callback
    def devices(self, states: Iterable[DeviceState]) -> None:
        """Tell the complete device list."""
        self.feed.set_devices([self.facts(state) for state in states])

    @callback
    def device(self, state: DeviceState) -> None:
        """Tell a new or changed device."""
        self.feed.set_device(self.facts(state))

    @callback
    def removed(self, dev_eui: str) -> None:
        """Tell a device that is gone."""
        self.feed.remove_device(dev_eui)

    @callback
    def uplink(self, uplink: Uplink) -> None:
        """Tell an uplink the entry delivered."""
        self.feed.uplink(uplink)

    @callback
    def joined(self, dev_eui: str, dev_addr: str | None) -> None:
        """Tell a device's join."""
        self.feed.joined(dev_eui, dev_addr or "", dt_util.utcnow())

    @callback
    def device_status(self, status: DeviceStatus) -> None:
        """Tell a device's battery and margin."""
        self.feed.device_status(status, dt_util.utcnow())

    @callback
    def downlink_status(self, status: DownlinkStatus) -> None:
        """Tell a downlink's acknowledgement, by the id the framework was given for it."""
        self.feed.downlink_status(status)

    @callback
    def location(self, dev_eui: str, location: Location) -> None:
        """Tell a device's position."""
        self.feed.location(dev_eui, location, dt_util.utcnow())

    @callback
    def connection_changed(self, connected: bool) -> None:
        """Follow the realtime connection."""
        self.feed.connection_changed(connected)

    def stop(self) -> None:
        """Stop: the framework is told the connection is gone, and our registration goes."""
        self.feed.close()
        if (unregister := self._unregister) is not None:
            self._unregister = None
            unregister()

    # --- registration and downlinks -----------------------------------------------------------

    def _register(self, connection: HubConnection) -> None:
        self.entry.async_create_background_task(
            self.hass, self._async_register(connection), f"{DOMAIN} framework registration"
        )

    async def _async_register(self, connection: HubConnection) -> None:
        try:
            unregister = await self._module.async_register_connection(
                self.hass,
                self.entry,
                connection=connection,
                configuration_url=self._configuration_url,
            )
        except (ValueError, ConnectionUnavailable, HomeAssistantError) as err:
            LOGGER.warning(
                "Home Assistant's LoRaWAN framework did not take %s: %s", self.entry.title, err
            )
            self.feed.registration_failed(connection)
            return
        if (previous := self._unregister) is not None:
            previous()  # the registration of a connection that was lost: nothing left to undo
        self._unregister = unregister
        self.feed.registered(connection)

    async def _send(self, downlink: FrameworkDownlink) -> str:
        """Send a device integration's downlink with the checks of ``send_downlink``."""
        dev_eui = downlink.dev_eui.upper()
        coordinator = self.coordinator
        if dev_eui not in coordinator.devices:
            raise DownlinkError(f"{dev_eui} is not a device of {self.entry.title}")
        if not coordinator.connected:
            raise DownlinkError(f"the connection to {self.entry.title} is lost")
        if downlink.expires_at is not None:
            raise DownlinkError(f"{coordinator.client.name} has no expiry for queued downlinks")
        if downlink.confirmed and Capability.DOWNLINK_ACK not in coordinator.client.capabilities:
            # The library waits for the acknowledgement of a confirmed downlink: none would come.
            raise DownlinkError(
                f"{coordinator.client.name} does not report acknowledgements: "
                "send the downlink unconfirmed (without waiting for an acknowledgement)"
            )
        try:
            result = await async_send_downlink(
                coordinator,
                Downlink(
                    dev_eui=dev_eui,
                    f_port=downlink.f_port,
                    payload=downlink.data,
                    confirmed=downlink.confirmed,
                ),
            )
        except HomeAssistantError as err:
            raise DownlinkError(str(err)) from err
        # Acknowledgements carry the vendor's message id; without one, a local id of ours.
        return result.message_id or f"{DOMAIN}:{uuid.uuid4()}"
