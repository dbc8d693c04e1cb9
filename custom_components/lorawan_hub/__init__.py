"""LoRaWAN Hub: LoRaWAN devices from commercial network servers in Home Assistant."""

from __future__ import annotations

from homeassistant.const import CONF_WEBHOOK_ID, EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryError, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .alarms import async_delete_alarm_issues
from .codec_worker import async_delete_codec_issues
from .const import CONF_DECODED, CONF_DEVICES, CONF_VENDOR, DOMAIN, LOGGER
from .coordinator import LoRaWANHubConfigEntry, LoRaWANHubCoordinator
from .framework.consumer import FrameworkClient
from .framework.provider import async_link_framework
from .lns.errors import AuthError, LnsError
from .push import (
    async_register_push_receiver,
    async_register_push_view,
    async_unregister_push_receiver,
    push_receiver_url,
)
from .services import async_setup_services
from .vendors import VENDORS, create_client, spec_of

PLATFORMS = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.DEVICE_TRACKER,
    Platform.EVENT,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions and the push path, once for all entries."""
    async_setup_services(hass)
    async_register_push_view(
        hass, frozenset().union(*(spec.push_kinds for spec in VENDORS.values()))
    )
    return True


async def async_setup_entry(hass: HomeAssistant, entry: LoRaWANHubConfigEntry) -> bool:
    """Connect to the network server, create the devices and start the realtime connection."""
    push_url = None
    if CONF_WEBHOOK_ID in entry.data:
        async_register_push_receiver(hass, entry)
        push_url = push_receiver_url(hass, entry.data[CONF_WEBHOOK_ID])
        if push_url is None:
            raise ConfigEntryNotReady(translation_domain=DOMAIN, translation_key="no_external_url")
    if (spec := spec_of(entry.data)) is None:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="vendor_not_available",
            translation_placeholders={"vendor": entry.data.get(CONF_VENDOR, "")},
        )
    client = create_client(hass, entry.data, push_url, entry.options)
    coordinator = LoRaWANHubCoordinator(hass, entry, client)
    try:
        await coordinator.async_setup()
    except AuthError as err:
        await client.close()
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN,
            translation_key="auth_failed",
            translation_placeholders={"vendor": client.name},
        ) from err
    except LnsError as err:
        await client.close()
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="cannot_connect",
            translation_placeholders={"vendor": client.name, "reason": err.reason or err.key},
        ) from err
    entry.runtime_data = coordinator
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    # Home Assistant's LoRaWAN framework (2026.11 and later): our devices become its devices.
    if spec.provides_connection:
        coordinator.framework = await async_link_framework(
            hass, entry, coordinator, spec.configuration_url(entry.data)
        )
    if push_url is not None:
        entry.async_on_unload(lambda: async_unregister_push_receiver(hass, entry))

        async def stop_pushes(_event: Event) -> None:
            # Home Assistant does not unload entries when it stops: tell the server now.
            await client.close()

        entry.async_on_unload(hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, stop_pushes))
    coordinator.start()
    return True


async def async_unload_entry(hass: HomeAssistant, entry: LoRaWANHubConfigEntry) -> bool:
    """Stop the connection and remove the entities."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.async_shutdown()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: LoRaWANHubConfigEntry) -> None:
    """
    Forget the entry's repairs and push receiver, and undo what it set up on the server.

    What the user set up themselves stays; a server that cannot be reached now is logged (the
    entry is removed all the same).
    """
    async_delete_codec_issues(hass, entry.entry_id)
    async_delete_alarm_issues(hass, entry.entry_id)
    if CONF_WEBHOOK_ID in entry.data:
        async_unregister_push_receiver(hass, entry)
    if (spec := spec_of(entry.data)) is None or spec.undo_setup is None:
        return
    try:
        await spec.undo_setup(async_get_clientsession(hass), entry.data)
    except LnsError as err:
        LOGGER.warning(
            "Could not undo the push set-up of %s on the network server: %s; remove it there",
            entry.title,
            err.reason or err.key,
        )


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: LoRaWANHubConfigEntry, device: dr.DeviceEntry
) -> bool:
    """
    Allow removing a device the network server no longer lists (never the server itself).

    A device of Home Assistant's LoRaWAN connections is no longer decoded: removed, it is chosen
    again in the options (or offered again when it names its model).
    """
    coordinator: LoRaWANHubCoordinator | None = getattr(entry, "runtime_data", None)
    for domain, identifier in device.identifiers:
        if domain != DOMAIN:
            continue
        if identifier == entry.entry_id:
            return False
        if identifier in entry.options.get(CONF_DECODED, {}):
            _stop_decoding(hass, entry, identifier)
        elif coordinator is not None and identifier in coordinator.server_devices:
            return False
        if coordinator is not None:
            coordinator.forget_device(identifier)
    return True


def _stop_decoding(hass: HomeAssistant, entry: LoRaWANHubConfigEntry, dev_eui: str) -> None:
    """Stop decoding a device of Home Assistant's LoRaWAN connections (loaded or not)."""
    coordinator = getattr(entry, "runtime_data", None)
    if coordinator is not None and isinstance(coordinator.client, FrameworkClient):
        coordinator.client.decoded.pop(dev_eui, None)
    hass.config_entries.async_update_entry(
        entry,
        options={
            **entry.options,
            CONF_DECODED: {
                known: network
                for known, network in entry.options.get(CONF_DECODED, {}).items()
                if known != dev_eui
            },
            CONF_DEVICES: {
                known: device_options
                for known, device_options in entry.options.get(CONF_DEVICES, {}).items()
                if known != dev_eui
            },
        },
    )
