"""Diagnostics: the connection, the devices and each one's last raw uplink, secrets redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from .codecs.metadata import location_pairs
from .const import DOMAIN
from .coordinator import LoRaWANHubConfigEntry
from .device_state import DeviceState
from .device_types import (
    CONF_BAND,
    CONF_CHOSEN,
    CONF_DEVICE_TYPES,
    CONF_FIRMWARE,
    CONF_HARDWARE_VERSION,
    CONF_MODEL,
    CONF_SOURCE,
    CONF_VENDOR_ID,
    JS_PREFIX,
    SOURCE_REPOSITORY,
)
from .vendors import VENDORS

_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "client_secret",
        "api_key",
        "app_key",
        "appKey",
        "AppKey",
        "nwks_key",
        "apps_key",
        "nwkSKey",
        "appSKey",
        "NwkSKey",
        "AppSKey",
        "nwkKey",
        "NwkKey",
        "nwk_key",
        "nwkSEncKey",
        "sNwkSIntKey",
        "fNwkSIntKey",
        "genAppKey",
    }
)
"""Keys of any vendor's messages that carry a secret (the vendors add their entries' own)."""
_LOCATION = frozenset(
    {
        "latitude",
        "longitude",
        "altitude",
        "lat",
        "lon",
        "lng",
        "location",
        "estLat",
        "estLng",
        "cfgLat",
        "cfgLng",
        "gps",
    }
)
"""Where a device is: personal data, redacted too."""
TO_REDACT = _KEYS | _LOCATION | frozenset().union(*(spec.secrets for spec in VENDORS.values()))


_REPOSITORY_KEYS = (CONF_VENDOR_ID, CONF_MODEL, CONF_FIRMWARE, CONF_BAND, CONF_HARDWARE_VERSION)


def _device_type(entry: LoRaWANHubConfigEntry, codec: str) -> dict[str, Any] | None:
    """
    Return where the device's codec comes from.

    A repository model and the profile chosen for it (and how, when the device did not tell
    its firmware and band); of a pasted or file codec, the user's own, only its kind.
    """
    if not codec.startswith(JS_PREFIX):
        return None
    definition = entry.options.get(CONF_DEVICE_TYPES, {}).get(codec.removeprefix(JS_PREFIX))
    if definition is None:
        return None
    source = definition.get(CONF_SOURCE)
    if source != SOURCE_REPOSITORY:
        return {CONF_SOURCE: source}
    described = {CONF_SOURCE: source}
    described |= {key: definition[key] for key in _REPOSITORY_KEYS if definition.get(key)}
    if chosen := definition.get(CONF_CHOSEN):
        described[CONF_CHOSEN] = chosen
    return described


def _device(entry: LoRaWANHubConfigEntry, state: DeviceState) -> dict[str, Any]:
    uplink = state.last_uplink
    located = {key for spec in state.fields.values() for key in spec.source_keys} & {
        key for pair in location_pairs(list(state.values)) for key in pair[1:] if key
    }
    return {
        "info": async_redact_data(asdict(state.info), TO_REDACT) if state.info else None,
        "codec": state.codec,
        "device_type": _device_type(entry, state.codec),
        "last_codec": state.last_codec,
        "decode_error": state.decode_error,
        "offline_after": state.offline_after,
        "online": state.online,
        "last_seen": state.last_seen.isoformat() if state.last_seen else None,
        "fields": {key: spec.as_dict() for key, spec in state.fields.items()},
        "values": {
            key: REDACTED if key in located else value for key, value in state.values.items()
        },
        "location": REDACTED if state.location else None,
        "status": asdict(state.status) if state.status else None,
        "last_uplink": None
        if uplink is None
        else {
            "received_at": uplink.received_at.isoformat(),
            "f_port": uplink.f_port,
            "f_cnt": uplink.f_cnt,
            "payload_hex": uplink.payload.hex().upper(),
            "raw": async_redact_data(dict(uplink.raw), TO_REDACT),
        },
    }


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: LoRaWANHubConfigEntry
) -> dict[str, Any]:
    """Return the entry's connection state and every device (while it is loaded)."""
    described = {
        "entry": {
            "title": entry.title,
            "state": entry.state.value,
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            # Codecs, file names and identities of the user's own: their kinds only.
            "options": sorted(entry.options),
        },
    }
    if entry.state is not ConfigEntryState.LOADED:
        # Not set up (yet, or any more): nothing runs that could be described.
        return {**described, "connected": False, "devices": {}}
    coordinator = entry.runtime_data
    return {
        **described,
        "vendor": coordinator.client.name,
        "capabilities": sorted(coordinator.client.capabilities),
        "connected": coordinator.connected,
        "connection_error": coordinator.connection_error,
        "duplicates_dropped": coordinator.duplicates,
        "server_devices": sorted(coordinator.server_devices),
        "devices": {
            dev_eui: _device(entry, state) for dev_eui, state in sorted(coordinator.devices.items())
        },
    }


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: LoRaWANHubConfigEntry, device: dr.DeviceEntry
) -> dict[str, Any]:
    """Return one device's state and last raw uplink (while the entry is loaded)."""
    if entry.state is not ConfigEntryState.LOADED:
        return {"connected": False, "entry_state": entry.state.value}
    coordinator = entry.runtime_data
    for domain, identifier in device.identifiers:
        if domain == DOMAIN and (state := coordinator.devices.get(identifier)) is not None:
            return {"dev_eui": identifier, **_device(entry, state)}
    return {"connected": coordinator.connected, "vendor": coordinator.client.name}
