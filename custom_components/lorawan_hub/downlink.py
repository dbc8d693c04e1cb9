"""
Downlinks and vendor errors, the way every sender checks and reports them.

The ``send_downlink`` action, the command entities and the LoRaWAN framework's downlinks all go
through ``async_send_downlink``: the port, the device's current maximum payload where the server
tells it, then the vendor; a vendor's refusal becomes a translated error with its reason.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Final

from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .const import DOMAIN
from .lns.errors import AuthError, CannotConnect, InputError, LnsError, Unsupported
from .lns.models import Capability, Downlink, DownlinkResult

if TYPE_CHECKING:
    from .coordinator import LoRaWANHubCoordinator

MIN_PORT: Final = 1
MAX_PORT: Final = 223
"""Application ports (0 carries MAC commands; 224 and above are reserved by LoRaWAN)."""


def validation_error(key: str, **placeholders: str) -> ServiceValidationError:
    """Return the translated error of the user's input ``key``."""
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def vendor_error(coordinator: LoRaWANHubCoordinator, err: LnsError) -> HomeAssistantError:
    """Translate a network-server failure for the user."""
    placeholders = {"vendor": coordinator.client.name, "reason": err.reason or err.key}
    if isinstance(err, InputError):
        # What the user asked for cannot be done as given: not a failure of the server.
        return ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key=err.key,
            translation_placeholders={**placeholders, **err.details},
        )
    if isinstance(err, Unsupported):
        return validation_error("not_supported", **placeholders)
    if isinstance(err, AuthError):
        coordinator.entry.async_start_reauth(coordinator.hass)
        key = "vendor_auth_failed"
    elif err.key in coordinator.client.error_keys:
        key = err.key
    elif isinstance(err, CannotConnect):
        key = "vendor_unavailable"
    else:
        key = "vendor_refused"
    return HomeAssistantError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


async def call_vendor[T](coordinator: LoRaWANHubCoordinator, request: Awaitable[T]) -> T:
    """Await a client request; a network-server failure becomes a translated error."""
    try:
        return await request
    except LnsError as err:
        raise vendor_error(coordinator, err) from err


async def check_downlink_size(
    coordinator: LoRaWANHubCoordinator, dev_eui: str, payload: bytes
) -> None:
    """Refuse a payload larger than the device can receive now, where the server tells."""
    client = coordinator.client
    if Capability.MAX_DOWNLINK_SIZE in client.capabilities:
        maximum = await call_vendor(coordinator, client.max_downlink_size(dev_eui))
        if maximum is not None and len(payload) > maximum:
            raise validation_error(
                "payload_too_large", size=str(len(payload)), maximum=str(maximum)
            )


def check_port(port: int) -> None:
    """Refuse a port outside the application range."""
    if not MIN_PORT <= port <= MAX_PORT:
        raise validation_error("invalid_port", port=str(port))


async def async_send_downlink(
    coordinator: LoRaWANHubCoordinator, downlink: Downlink
) -> DownlinkResult:
    """
    Send a downlink with every check, and return the vendor's answer.

    The vendor must send downlinks, the port be an application port and the payload fit the
    device's current maximum (where the server tells it); the vendor's refusals are translated.
    """
    client = coordinator.client
    if Capability.DOWNLINK not in client.capabilities:
        raise validation_error(
            client.unsupported_reasons.get(Capability.DOWNLINK, "action_not_supported"),
            vendor=client.name,
            action="send_downlink",
        )
    check_port(downlink.f_port)
    await check_downlink_size(coordinator, downlink.dev_eui, downlink.payload)
    return await call_vendor(coordinator, client.send_downlink(downlink))
