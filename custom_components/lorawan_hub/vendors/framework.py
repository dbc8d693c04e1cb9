"""
Home Assistant's own LoRaWAN connections (2026.11 and later), as a source of devices to decode.

One entry decodes the devices the user chose on any connection of Home Assistant's LoRaWAN
framework (ChirpStack, The Things Network...). A device with a LoRaWAN Device Repository identity
that no device integration supports is offered by discovery: one confirmation adds it, with
the repository's codec for its model. Others are added in the entry's options.
"""

from __future__ import annotations

from collections.abc import Mapping
import re
from typing import Any, Final

import probatio

from homeassistant.config_entries import (
    SOURCE_INTEGRATION_DISCOVERY,
    ConfigEntry,
    ConfigFlowResult,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import discovery_flow

from ..codecs.javascript import CodecError
from ..const import CONF_CODEC, CONF_DECODED, CONF_DEVICES, CONF_VENDOR, DOMAIN, LOGGER
from ..device_types import (
    CONF_BAND,
    CONF_CHOSEN,
    CONF_DEVICE_TYPES,
    CONF_FIRMWARE,
    CONF_HARDWARE_VERSION,
    CONF_MODEL,
    CONF_NAME,
    CONF_SOURCE,
    CONF_VENDOR_ID,
    SOURCE_REPOSITORY,
    codec_choice,
    repository_catalog,
)
from ..framework.connection import STACK as STACK_TTS
from ..framework.consumer import (
    VENDOR,
    FrameworkClient,
    FrameworkDevice,
)
from ..framework.provider import async_framework_module
from .flow import VendorFlow
from .spec import VendorSpec, register

UNIQUE_ID: Final = "framework"
_SLUG = re.compile(r"[^a-z0-9]+")


def decoding_entry(hass: HomeAssistant) -> ConfigEntry[Any] | None:
    """Return the entry that decodes the framework's devices, if there is one."""
    return next(
        (
            entry
            for entry in hass.config_entries.async_entries(DOMAIN)
            if entry.data.get(CONF_VENDOR) == VENDOR
        ),
        None,
    )


@callback
def offer_decoding(hass: HomeAssistant, device: FrameworkDevice) -> None:
    """
    Offer to decode a device (a discovery) when it names its model.

    The Things Stack names it by its repository identity; ChirpStack by the names of its device
    profile's catalog entry (imported from the repository), resolved when the flow starts. The
    framework client offers none that a device integration takes (see
    ``left_to_a_device_integration``): a device is never decoded twice.
    """
    descriptor = device.descriptor
    if descriptor.stack == STACK_TTS:
        if not descriptor.brand_id or not descriptor.model_id:
            return
        names = {"brand_id": str(descriptor.brand_id), "model_id": descriptor.model_id}
    elif descriptor.manufacturer and descriptor.model:
        names = {"manufacturer": descriptor.manufacturer, "model": descriptor.model}
    else:
        return
    discovery_flow.async_create_flow(
        hass,
        DOMAIN,
        context={"source": SOURCE_INTEGRATION_DISCOVERY},
        data={
            "network_id": device.network_id,
            "dev_eui": device.dev_eui,
            "name": descriptor.name or device.dev_eui,
            **names,
        },
    )


def type_id_of(brand_id: str, model_id: str) -> str:
    """Return the device type id of a repository model (one per model and entry)."""
    return _SLUG.sub("_", f"{brand_id}_{model_id}".lower()).strip("_")


class FrameworkFlow(VendorFlow):
    """The steps of the decoding entry, and of the discoveries that add its devices."""

    _offered: dict[str, Any]
    _definition: dict[str, Any]

    async def async_step_framework(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Decode the devices of Home Assistant's LoRaWAN connections (one entry)."""
        await self.async_set_unique_id(UNIQUE_ID)
        self._abort_if_unique_id_configured()
        errors = await self._validate({CONF_VENDOR: VENDOR})
        if errors:
            return self.async_abort(reason="no_framework")
        if user_input is None:
            return self.async_show_form(step_id="framework", data_schema=probatio.Schema({}))
        return self.async_create_entry(title="LoRaWAN connections", data={CONF_VENDOR: VENDOR})

    async def async_step_reconfigure_framework(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Nothing to reconfigure: the devices and the repository are options."""
        return self.async_abort(reason="nothing_to_reconfigure")

    async def async_step_integration_discovery(
        self, discovery_info: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """Offer to decode a device that names a repository model and appeared."""
        dev_eui = str(discovery_info["dev_eui"]).upper()
        network_id = str(discovery_info["network_id"])
        await self.async_set_unique_id(f"{UNIQUE_ID}:{network_id}:{dev_eui}")
        self._abort_if_unique_id_configured()
        entry = decoding_entry(self.hass)
        if entry is None:
            return self.async_abort(reason="no_decoding_entry")
        if dev_eui in entry.options.get(CONF_DECODED, {}):
            return self.async_abort(reason="already_decoded")
        try:
            identity = await self._async_identity(discovery_info)
            if identity is None:
                return self.async_abort(reason="no_codec")
            brand_id, model_id = identity
            device = await repository_catalog(self.hass).async_device(brand_id, model_id)
            choice = device.default_choice()
        except CodecError as err:
            LOGGER.debug("Not offering %s (%s): %s", dev_eui, dict(discovery_info), err)
            return self.async_abort(reason="no_codec")
        self._offered = {
            "dev_eui": dev_eui,
            "network_id": network_id,
            "name": str(discovery_info["name"]),
            "brand_id": brand_id,
            "model_id": model_id,
            "why": choice.why,
        }
        self._definition = {
            CONF_NAME: f"{brand_id} {model_id}",
            CONF_SOURCE: SOURCE_REPOSITORY,
            CONF_VENDOR_ID: brand_id,
            CONF_MODEL: model_id,
            CONF_FIRMWARE: choice.firmware,
            CONF_BAND: choice.band or "",
            CONF_HARDWARE_VERSION: choice.hardware or "",
            CONF_CHOSEN: choice.why,
        }
        self.context["title_placeholders"] = {"name": str(discovery_info["name"])}
        return await self.async_step_decode_device()

    async def _async_identity(self, discovery_info: Mapping[str, Any]) -> tuple[str, str] | None:
        """Return the repository's (vendor id, device id) of the device; None if unsure."""
        if "brand_id" in discovery_info:
            return str(discovery_info["brand_id"]), str(discovery_info["model_id"])
        return await repository_catalog(self.hass).async_identify(
            str(discovery_info["manufacturer"]), str(discovery_info["model"])
        )

    async def async_step_decode_device(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm: the device is decoded with its model's codec from the repository."""
        offered = self._offered
        if user_input is None:
            return self.async_show_form(
                step_id="decode_device",
                data_schema=probatio.Schema({}),
                description_placeholders={
                    "name": str(offered["name"]),
                    "model": f"{offered['brand_id']}/{offered['model_id']}",
                    "why": str(offered["why"]),
                },
            )
        entry = decoding_entry(self.hass)
        if entry is None:
            return self.async_abort(reason="no_decoding_entry")
        type_id = type_id_of(str(offered["brand_id"]), str(offered["model_id"]))
        options = dict(entry.options)
        types = {**options.get(CONF_DEVICE_TYPES, {})}
        types.setdefault(type_id, self._definition)
        devices = {**options.get(CONF_DEVICES, {})}
        devices[offered["dev_eui"]] = {
            **devices.get(offered["dev_eui"], {}),
            CONF_CODEC: codec_choice(type_id),
        }
        decoded = {**options.get(CONF_DECODED, {}), offered["dev_eui"]: offered["network_id"]}
        self.hass.config_entries.async_update_entry(
            entry,
            options={
                **options,
                CONF_DEVICE_TYPES: types,
                CONF_DEVICES: devices,
                CONF_DECODED: decoded,
            },
        )
        self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return self.async_abort(
            reason="decoding_added", description_placeholders={"name": str(offered["name"])}
        )


def _client(
    hass: HomeAssistant, data: Mapping[str, Any], options: Mapping[str, Any]
) -> FrameworkClient:
    return FrameworkClient(
        hass,
        options.get(CONF_DECODED, {}),
        offer=lambda device: offer_decoding(hass, device),
    )


async def _framework_here(hass: HomeAssistant) -> bool:
    return await async_framework_module(hass) is not None


def _no_session_client(*_args: Any) -> FrameworkClient:
    raise TypeError("the decoding entry's client needs Home Assistant itself")


SPEC = register(
    VendorSpec(
        client_class=FrameworkClient,
        create_client=_no_session_client,
        create_with_hass=_client,
        flow=FrameworkFlow,
        reauth_fields={},
        unique_id=lambda data: UNIQUE_ID,
        single=True,
        provides_connection=False,
        available=_framework_here,
    )
)
