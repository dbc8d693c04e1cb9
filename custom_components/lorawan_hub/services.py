"""Actions: downlinks, class changes, multicast and device requests."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Coroutine, Mapping
import string
from typing import Any

import probatio

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_CONFIG_ENTRY_ID, ATTR_DEVICE_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.service import async_register_admin_service

from .codecs.javascript import CodecError
from .const import DOMAIN
from .coordinator import LoRaWANHubConfigEntry, LoRaWANHubCoordinator
from .device_state import DeviceState
from .device_types import config_path
from .downlink import (
    MAX_PORT,
    MIN_PORT,
    async_send_downlink,
    call_vendor,
    validation_error,
)
from .lns.models import (
    Capability,
    Downlink,
    DownlinkMode,
    DownlinkResult,
    FuotaRequest,
    LoRaClass,
    MulticastGroup,
    MulticastKeys,
    MulticastSetup,
    ServerDevice,
    normalize_eui,
)

ATTR_F_PORT = "f_port"
ATTR_PAYLOAD_HEX = "payload_hex"
ATTR_PAYLOAD_BASE64 = "payload_base64"
ATTR_DATA = "data"
ATTR_CONFIRMED = "confirmed"
ATTR_MODE = "mode"
ATTR_DEVICE_CLASS = "device_class"
ATTR_GROUP_ID = "group_id"
ATTR_NAME = "name"
ATTR_GATEWAY_IDS = "gateway_ids"
ATTR_TAGS = "tags"
ATTR_ADDRESS = "address"
ATTR_APP_S_KEY = "app_s_key"
ATTR_NWK_S_KEY = "nwk_s_key"
ATTR_PING_SLOT_PERIODICITY = "ping_slot_periodicity"
_KEY_LENGTHS = {ATTR_ADDRESS: 8, ATTR_APP_S_KEY: 32, ATTR_NWK_S_KEY: 32}
"""The hex digits of each part of a multicast session."""

SERVICE_SEND_DOWNLINK = "send_downlink"
SERVICE_SET_DEVICE_CLASS = "set_device_class"
SERVICE_CLEAR_DOWNLINK_QUEUE = "clear_downlink_queue"
SERVICE_REQUEST_DEVICE_STATUS = "request_device_status"
SERVICE_SEND_MULTICAST = "send_multicast"
SERVICE_CREATE_MULTICAST_GROUP = "create_multicast_group"
SERVICE_DELETE_MULTICAST_GROUP = "delete_multicast_group"
SERVICE_ADD_TO_MULTICAST_GROUP = "add_to_multicast_group"
SERVICE_REMOVE_FROM_MULTICAST_GROUP = "remove_from_multicast_group"
SERVICE_START_FUOTA = "start_fuota"
SERVICE_CANCEL_FUOTA = "cancel_fuota"
SERVICE_FUOTA_STATUS = "fuota_status"
SERVICE_MULTICAST_GROUP_STATUS = "multicast_group_status"
SERVICE_RENAME_MULTICAST_GROUP = "rename_multicast_group"

ATTR_FIRMWARE = "firmware"
ATTR_START_DELAY = "start_delay"
ATTR_REDUNDANCY = "redundancy"
ATTR_JOB_ID = "job_id"
MAX_FIRMWARE = 4 * 1024 * 1024
"""Bytes of a firmware file (device firmwares are a few hundred kilobytes)."""


_CLASS = probatio.All(cv.string, probatio.Upper, probatio.In([item.value for item in LoRaClass]))
"""A LoRaWAN class, in either case (the selector offers a, b, c)."""
_GROUP_CLASS = probatio.All(
    cv.string, probatio.Upper, probatio.In([LoRaClass.B.value, LoRaClass.C.value])
)
"""The class of a multicast group: B or C."""

_PAYLOAD = {
    probatio.Required(ATTR_F_PORT): probatio.Coerce(int),
    probatio.Optional(ATTR_PAYLOAD_HEX): cv.string,
    probatio.Optional(ATTR_PAYLOAD_BASE64): cv.string,
    probatio.Optional(ATTR_DATA): dict,
}
SEND_DOWNLINK_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_DEVICE_ID): cv.string,
        **_PAYLOAD,
        probatio.Optional(ATTR_CONFIRMED, default=False): cv.boolean,
        probatio.Optional(ATTR_MODE, default=DownlinkMode.QUEUE.value): probatio.In(
            [mode.value for mode in DownlinkMode]
        ),
        probatio.Optional(ATTR_DEVICE_CLASS): _CLASS,
    }
)
DEVICE_SCHEMA = probatio.Schema({probatio.Required(ATTR_DEVICE_ID): cv.string})
SET_DEVICE_CLASS_SCHEMA = DEVICE_SCHEMA.extend({probatio.Required(ATTR_DEVICE_CLASS): _CLASS})
ENTRY_GROUP_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        probatio.Required(ATTR_GROUP_ID): cv.string,
    }
)
SEND_MULTICAST_SCHEMA = ENTRY_GROUP_SCHEMA.extend(
    {**_PAYLOAD, probatio.Optional(ATTR_GATEWAY_IDS): probatio.All(cv.ensure_list, [cv.string])}
)
CREATE_MULTICAST_GROUP_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        probatio.Optional(ATTR_NAME): cv.string,
        probatio.Optional(ATTR_DEVICE_CLASS, default=LoRaClass.C.value): _GROUP_CLASS,
        probatio.Optional(ATTR_DEVICE_ID): probatio.All(cv.ensure_list, [cv.string]),
        probatio.Optional(ATTR_TAGS): probatio.All(cv.ensure_list, [cv.string]),
        **{probatio.Optional(key): cv.string for key in _KEY_LENGTHS},
        probatio.Optional(ATTR_PING_SLOT_PERIODICITY): probatio.All(
            probatio.Coerce(int), probatio.Range(min=0, max=7)
        ),
    }
)
START_FUOTA_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        probatio.Exclusive(ATTR_DEVICE_ID, "target"): probatio.All(
            cv.ensure_list, [cv.string], probatio.Length(min=1)
        ),
        probatio.Exclusive(ATTR_GROUP_ID, "target"): cv.string,
        probatio.Required(ATTR_FIRMWARE): cv.string,
        probatio.Optional(ATTR_DEVICE_CLASS, default=LoRaClass.C.value): _GROUP_CLASS,
        probatio.Optional(ATTR_START_DELAY, default=120): probatio.All(
            probatio.Coerce(int), probatio.Range(min=1, max=86400)
        ),
        probatio.Optional(ATTR_REDUNDANCY, default=1.0): probatio.All(
            probatio.Coerce(float), probatio.Range(min=0.0, max=1.0)
        ),
    }
)
FUOTA_JOB_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        probatio.Required(ATTR_JOB_ID): cv.string,
    }
)
GROUP_MEMBERS_SCHEMA = ENTRY_GROUP_SCHEMA.extend(
    {probatio.Required(ATTR_DEVICE_ID): probatio.All(cv.ensure_list, [cv.string])}
)


def _loaded_entry(hass: HomeAssistant, entry_id: str) -> LoRaWANHubConfigEntry:
    entry: LoRaWANHubConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise validation_error("entry_not_found", entry_id=entry_id)
    if entry.state is not ConfigEntryState.LOADED:
        raise validation_error("entry_not_loaded", title=entry.title)
    return entry


def _resolve_device(
    hass: HomeAssistant, device_id: str
) -> tuple[LoRaWANHubCoordinator, DeviceState]:
    """Return the coordinator and state of a LoRaWAN device targeted by its registry id."""
    device = dr.async_get(hass).async_get(device_id)
    if device is None:
        raise validation_error("device_not_found", device_id=device_id)
    dev_eui = next(
        (identifier for domain, identifier in device.identifiers if domain == DOMAIN), None
    )
    entry_id = next(
        (
            entry_id
            for entry_id in device.config_entries
            if (entry := hass.config_entries.async_get_entry(entry_id)) and entry.domain == DOMAIN
        ),
        None,
    )
    if dev_eui is None or entry_id is None or dev_eui == entry_id:
        raise validation_error("not_a_lorawan_device", device=device.name or device_id)
    coordinator = _loaded_entry(hass, entry_id).runtime_data
    state = coordinator.devices.get(dev_eui)
    if state is None:
        raise validation_error("device_not_found", device_id=device_id)
    return coordinator, state


def _require(coordinator: LoRaWANHubCoordinator, capability: Capability, action: str) -> None:
    client = coordinator.client
    if capability not in client.capabilities:
        raise validation_error(
            client.unsupported_reasons.get(capability, "action_not_supported"),
            vendor=client.name,
            action=action,
        )


def _payload(data: dict[str, Any]) -> bytes:
    """Return the payload given as hex or base64 (an object needs the device's codec)."""
    given = [key for key in (ATTR_PAYLOAD_HEX, ATTR_PAYLOAD_BASE64, ATTR_DATA) if key in data]
    if len(given) != 1:
        raise validation_error("payload_required")
    port = data[ATTR_F_PORT]
    if not MIN_PORT <= port <= MAX_PORT:
        raise validation_error("invalid_port", port=str(port))
    if ATTR_PAYLOAD_HEX in data:
        text = "".join(data[ATTR_PAYLOAD_HEX].split())
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise validation_error("invalid_hex", payload=text[:64]) from None
    if ATTR_PAYLOAD_BASE64 in data:
        try:
            return base64.b64decode(data[ATTR_PAYLOAD_BASE64], validate=True)
        except binascii.Error, ValueError:
            raise validation_error("invalid_base64") from None
    raise validation_error("no_encoder")


def _result(result: DownlinkResult) -> dict[str, Any]:
    return {
        "message_id": result.message_id,
        "state": result.state.value,
        "f_cnt": result.f_cnt,
        "queue_length": result.queue_length,
    }


async def _encode(
    coordinator: LoRaWANHubCoordinator, state: DeviceState, data: dict[str, Any]
) -> tuple[bytes, int]:
    """Return the payload and port: given as hex or base64, or an object the codec encodes."""
    given = [key for key in (ATTR_PAYLOAD_HEX, ATTR_PAYLOAD_BASE64, ATTR_DATA) if key in data]
    if given != [ATTR_DATA]:
        return _payload(data), data[ATTR_F_PORT]
    if not MIN_PORT <= data[ATTR_F_PORT] <= MAX_PORT:
        raise validation_error("invalid_port", port=str(data[ATTR_F_PORT]))
    try:
        encoded = await coordinator.async_encode_downlink(state, data[ATTR_DATA], data[ATTR_F_PORT])
    except CodecError as err:
        raise validation_error("codec_refused", reason=str(err)) from err
    if encoded is None:
        raise validation_error("no_encoder")
    payload, port = encoded
    if not MIN_PORT <= port <= MAX_PORT:
        raise validation_error("invalid_port", port=str(port))
    return payload, port


async def _send_downlink(call: ServiceCall) -> ServiceResponse:
    coordinator, state = _resolve_device(call.hass, call.data[ATTR_DEVICE_ID])
    _require(coordinator, Capability.DOWNLINK, SERVICE_SEND_DOWNLINK)
    payload, port = await _encode(coordinator, state, dict(call.data))
    downlink = Downlink(
        dev_eui=state.dev_eui,
        f_port=port,
        payload=payload,
        confirmed=call.data[ATTR_CONFIRMED],
        mode=DownlinkMode(call.data[ATTR_MODE]),
        device_class=LoRaClass(call.data[ATTR_DEVICE_CLASS])
        if ATTR_DEVICE_CLASS in call.data
        else None,
    )
    return _result(await async_send_downlink(coordinator, downlink))


async def _set_device_class(call: ServiceCall) -> None:
    coordinator, state = _resolve_device(call.hass, call.data[ATTR_DEVICE_ID])
    _require(coordinator, Capability.CLASS_CHANGE, SERVICE_SET_DEVICE_CLASS)
    device_class = LoRaClass(call.data[ATTR_DEVICE_CLASS])
    await call_vendor(coordinator, coordinator.client.set_device_class(state.dev_eui, device_class))
    coordinator.device_updated(ServerDevice(dev_eui=state.dev_eui, device_class=device_class))


async def _clear_downlink_queue(call: ServiceCall) -> None:
    coordinator, state = _resolve_device(call.hass, call.data[ATTR_DEVICE_ID])
    _require(coordinator, Capability.CLEAR_QUEUE, SERVICE_CLEAR_DOWNLINK_QUEUE)
    await call_vendor(coordinator, coordinator.client.clear_downlink_queue(state.dev_eui))


async def _request_device_status(call: ServiceCall) -> None:
    coordinator, state = _resolve_device(call.hass, call.data[ATTR_DEVICE_ID])
    _require(coordinator, Capability.DEVICE_STATUS, SERVICE_REQUEST_DEVICE_STATUS)
    await call_vendor(coordinator, coordinator.client.request_device_status(state.dev_eui))


def _group_coordinator(
    call: ServiceCall, capability: Capability, action: str
) -> LoRaWANHubCoordinator:
    coordinator = _loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID]).runtime_data
    _require(coordinator, capability, action)
    return coordinator


def _members(call: ServiceCall, coordinator: LoRaWANHubCoordinator) -> list[str]:
    members = []
    for device_id in call.data[ATTR_DEVICE_ID]:
        owner, state = _resolve_device(call.hass, device_id)
        if owner is not coordinator:
            raise validation_error("device_of_other_entry", device_id=device_id)
        members.append(state.dev_eui)
    return members


async def _send_multicast(call: ServiceCall) -> ServiceResponse:
    coordinator = _group_coordinator(call, Capability.MULTICAST, SERVICE_SEND_MULTICAST)
    payload = _payload(dict(call.data))
    gateways = []
    for gateway in call.data.get(ATTR_GATEWAY_IDS, []):
        try:
            gateways.append(normalize_eui(gateway))
        except ValueError:
            raise validation_error("invalid_gateway_id", gateway=gateway) from None
    result = await call_vendor(
        coordinator,
        coordinator.client.send_multicast(
            call.data[ATTR_GROUP_ID], call.data[ATTR_F_PORT], payload, gateways
        ),
    )
    return _result(result)


def _member(coordinator: LoRaWANHubCoordinator, dev_eui: str) -> dict[str, Any]:
    """Name a device of a group in an action's response: its DevEUI and Home Assistant device."""
    state = coordinator.devices.get(dev_eui)
    return {"dev_eui": dev_eui, "device_id": state.device_id if state else None}


def _group_response(coordinator: LoRaWANHubCoordinator, group: MulticastGroup) -> dict[str, Any]:
    """Describe a multicast group and its member devices in an action's response."""
    return {
        "group_id": group.group_id,
        "name": group.name,
        "device_class": group.device_class.value if group.device_class else None,
        "devices": [_member(coordinator, dev_eui) for dev_eui in group.dev_euis],
    }


async def _multicast_group_status(call: ServiceCall) -> ServiceResponse:
    coordinator = _group_coordinator(
        call, Capability.MULTICAST_GROUPS, SERVICE_MULTICAST_GROUP_STATUS
    )
    group = await call_vendor(
        coordinator, coordinator.client.multicast_group_status(call.data[ATTR_GROUP_ID])
    )
    response = _group_response(coordinator, group)
    for member in response["devices"]:
        member["state"] = group.states.get(member["dev_eui"])
    return response


def _multicast_keys(data: Mapping[str, Any]) -> MulticastKeys | None:
    """Return the session the user gave (all three parts, in hex), or None."""
    given = {key: "".join(data[key].split()).upper() for key in _KEY_LENGTHS if key in data}
    if not given:
        return None
    if len(given) != len(_KEY_LENGTHS):
        raise validation_error("multicast_keys_incomplete")
    for key, value in given.items():
        if len(value) != _KEY_LENGTHS[key] or any(c not in string.hexdigits for c in value):
            raise validation_error(
                "invalid_multicast_key", field=key, digits=str(_KEY_LENGTHS[key])
            )
    return MulticastKeys(
        address=given[ATTR_ADDRESS],
        app_s_key=given[ATTR_APP_S_KEY],
        nwk_s_key=given[ATTR_NWK_S_KEY],
    )


async def _create_multicast_group(call: ServiceCall) -> ServiceResponse:
    coordinator = _group_coordinator(
        call, Capability.MULTICAST_GROUPS, SERVICE_CREATE_MULTICAST_GROUP
    )
    setup = MulticastSetup(
        name=call.data.get(ATTR_NAME) or None,
        device_class=LoRaClass(call.data[ATTR_DEVICE_CLASS]),
        dev_euis=tuple(_members(call, coordinator)) if ATTR_DEVICE_ID in call.data else (),
        tags=tuple(tag.strip() for tag in call.data.get(ATTR_TAGS, ()) if tag.strip()),
        keys=_multicast_keys(call.data),
        ping_slot_periodicity=call.data.get(ATTR_PING_SLOT_PERIODICITY),
    )
    group = await call_vendor(coordinator, coordinator.client.create_multicast_group(setup))
    response = _group_response(coordinator, group)
    refused = {
        dev_eui: state for dev_eui, state in group.states.items() if dev_eui not in group.dev_euis
    }
    if refused:
        # The group exists; the devices the server did not add, each with its reason.
        response["refused"] = [
            {**_member(coordinator, dev_eui), "reason": reason}
            for dev_eui, reason in refused.items()
        ]
    if group.keys is not None:
        # The member devices need the session; it is in the response only, never logged.
        response["keys"] = {
            ATTR_ADDRESS: group.keys.address,
            ATTR_APP_S_KEY: group.keys.app_s_key,
            ATTR_NWK_S_KEY: group.keys.nwk_s_key,
        }
    return response


async def _rename_multicast_group(call: ServiceCall) -> None:
    coordinator = _group_coordinator(
        call, Capability.MULTICAST_GROUPS, SERVICE_RENAME_MULTICAST_GROUP
    )
    await call_vendor(
        coordinator,
        coordinator.client.rename_multicast_group(call.data[ATTR_GROUP_ID], call.data[ATTR_NAME]),
    )


async def _delete_multicast_group(call: ServiceCall) -> None:
    coordinator = _group_coordinator(
        call, Capability.MULTICAST_GROUPS, SERVICE_DELETE_MULTICAST_GROUP
    )
    await call_vendor(
        coordinator, coordinator.client.delete_multicast_group(call.data[ATTR_GROUP_ID])
    )


async def _add_to_multicast_group(call: ServiceCall) -> None:
    coordinator = _group_coordinator(
        call, Capability.MULTICAST_GROUPS, SERVICE_ADD_TO_MULTICAST_GROUP
    )
    members = _members(call, coordinator)
    await call_vendor(
        coordinator,
        coordinator.client.add_to_multicast_group(call.data[ATTR_GROUP_ID], members),
    )


async def _remove_from_multicast_group(call: ServiceCall) -> None:
    coordinator = _group_coordinator(
        call, Capability.MULTICAST_GROUPS, SERVICE_REMOVE_FROM_MULTICAST_GROUP
    )
    members = _members(call, coordinator)
    await call_vendor(
        coordinator,
        coordinator.client.remove_from_multicast_group(call.data[ATTR_GROUP_ID], members),
    )


def _read_firmware(hass: HomeAssistant, name: str) -> bytes:
    """Read a firmware file under the configuration directory (in the executor)."""
    # Under the configuration directory, and not in a hidden place such as .storage (which
    # holds credentials): the file goes to the network server.
    path = config_path(hass, name)
    if path is None:
        raise validation_error("firmware_outside_config", path=name)
    try:
        with path.open("rb") as file:
            firmware = file.read(MAX_FIRMWARE + 1)
    except OSError:
        raise validation_error("firmware_not_found", path=name) from None
    if len(firmware) > MAX_FIRMWARE:
        raise validation_error("firmware_too_large", path=name, maximum=str(MAX_FIRMWARE))
    return firmware


async def _start_fuota(call: ServiceCall) -> ServiceResponse:
    coordinator = _group_coordinator(call, Capability.FUOTA, SERVICE_START_FUOTA)
    members = _members(call, coordinator) if ATTR_DEVICE_ID in call.data else []
    firmware = await call.hass.async_add_executor_job(
        _read_firmware, call.hass, call.data[ATTR_FIRMWARE]
    )
    request = FuotaRequest(
        dev_euis=tuple(members),
        firmware=firmware,
        device_class=LoRaClass(call.data[ATTR_DEVICE_CLASS]),
        start_delay=call.data[ATTR_START_DELAY],
        redundancy=call.data[ATTR_REDUNDANCY],
        group_id=call.data.get(ATTR_GROUP_ID),
    )
    job_id = await call_vendor(coordinator, coordinator.client.start_fuota(request))
    return {"job_id": job_id}


async def _cancel_fuota(call: ServiceCall) -> None:
    coordinator = _group_coordinator(call, Capability.FUOTA, SERVICE_CANCEL_FUOTA)
    await call_vendor(coordinator, coordinator.client.cancel_fuota(call.data[ATTR_JOB_ID]))


async def _fuota_status(call: ServiceCall) -> ServiceResponse:
    coordinator = _group_coordinator(call, Capability.FUOTA, SERVICE_FUOTA_STATUS)
    status = await call_vendor(coordinator, coordinator.client.fuota_status(call.data[ATTR_JOB_ID]))
    return {
        "job_id": status.job_id,
        "state": status.state,
        "percent_done": status.percent_done,
        "result": status.result,
    }


_SERVICES: tuple[
    tuple[
        str,
        probatio.Schema,
        Callable[[ServiceCall], Coroutine[Any, Any, ServiceResponse]],
        SupportsResponse,
    ],
    ...,
] = (
    (SERVICE_SEND_DOWNLINK, SEND_DOWNLINK_SCHEMA, _send_downlink, SupportsResponse.OPTIONAL),
    (SERVICE_SET_DEVICE_CLASS, SET_DEVICE_CLASS_SCHEMA, _set_device_class, SupportsResponse.NONE),
    (SERVICE_CLEAR_DOWNLINK_QUEUE, DEVICE_SCHEMA, _clear_downlink_queue, SupportsResponse.NONE),
    (SERVICE_REQUEST_DEVICE_STATUS, DEVICE_SCHEMA, _request_device_status, SupportsResponse.NONE),
    (SERVICE_SEND_MULTICAST, SEND_MULTICAST_SCHEMA, _send_multicast, SupportsResponse.OPTIONAL),
    (
        SERVICE_CREATE_MULTICAST_GROUP,
        CREATE_MULTICAST_GROUP_SCHEMA,
        _create_multicast_group,
        SupportsResponse.OPTIONAL,
    ),
    (
        SERVICE_RENAME_MULTICAST_GROUP,
        ENTRY_GROUP_SCHEMA.extend({probatio.Required(ATTR_NAME): cv.string}),
        _rename_multicast_group,
        SupportsResponse.NONE,
    ),
    (
        SERVICE_DELETE_MULTICAST_GROUP,
        ENTRY_GROUP_SCHEMA,
        _delete_multicast_group,
        SupportsResponse.NONE,
    ),
    (
        SERVICE_ADD_TO_MULTICAST_GROUP,
        GROUP_MEMBERS_SCHEMA,
        _add_to_multicast_group,
        SupportsResponse.NONE,
    ),
    (
        SERVICE_REMOVE_FROM_MULTICAST_GROUP,
        GROUP_MEMBERS_SCHEMA,
        _remove_from_multicast_group,
        SupportsResponse.NONE,
    ),
    (SERVICE_CANCEL_FUOTA, FUOTA_JOB_SCHEMA, _cancel_fuota, SupportsResponse.NONE),
    (SERVICE_FUOTA_STATUS, FUOTA_JOB_SCHEMA, _fuota_status, SupportsResponse.ONLY),
    (
        SERVICE_MULTICAST_GROUP_STATUS,
        ENTRY_GROUP_SCHEMA,
        _multicast_group_status,
        SupportsResponse.ONLY,
    ),
)


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register every action once; each checks what the target's vendor supports."""
    for name, schema, handler, supports_response in _SERVICES:
        hass.services.async_register(
            DOMAIN, name, handler, schema=schema, supports_response=supports_response
        )
    # Reads a file of the configuration directory and sends it away: for administrators only.
    async_register_admin_service(
        hass,
        DOMAIN,
        SERVICE_START_FUOTA,
        _start_fuota,
        schema=START_FUOTA_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
