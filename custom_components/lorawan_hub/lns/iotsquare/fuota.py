"""
IoTSquare's firmware updates over the air: a file transfer to a class C multicast group.

``fuota/create`` takes the group, a name, the redundancy and the file: the class is the group's,
the schedule IoTSquare's own. What the action asks for beyond that is refused in words, never
ignored. A transfer's id is ``<group EUI>/<task id>``.
"""

from __future__ import annotations

import base64
import secrets
import time
from typing import Final

from ..errors import InputError, ProtocolError
from ..models import FuotaRequest, FuotaStatus, LoRaClass
from ..parse import as_dict, eui
from .api import OpenApi
from .multicast import group_eui
from .parse import read_number, read_text

MIN_REDUNDANCY: Final = 0.1
DEFAULT_START_DELAY: Final = FuotaRequest(dev_euis=(), firmware=b"").start_delay
"""The start delay the start_fuota action passes when none is given: no wish of the user's."""


async def start_fuota(api: OpenApi, request: FuotaRequest) -> str:
    """
    Start a file transfer to the group; return ``<group EUI>/<task id>``.

    ``fuota/create`` takes the group, a name, the redundancy and the file: the class is
    the group's (class C), the schedule IoTSquare's own. Another class, or a start delay
    other than the action's default, is refused in words rather than ignored.
    """
    if request.group_id is None or request.dev_euis:
        raise InputError(
            "IoTSquare sends firmware to a multicast group", key="fuota_group_required"
        )
    if request.device_class is not LoRaClass.C:
        raise InputError(
            "IoTSquare sends firmware to class C multicast groups", key="fuota_class_c_only"
        )
    if request.start_delay != DEFAULT_START_DELAY:
        raise InputError(
            "IoTSquare starts a file transfer on its own schedule",
            key="fuota_start_delay_unsupported",
            details={"default": str(DEFAULT_START_DELAY)},
        )
    if not MIN_REDUNDANCY <= request.redundancy <= 1:
        raise InputError(
            "IoTSquare takes a redundancy of 0.1 to 1",
            key="fuota_redundancy_range",
            details={"minimum": f"{MIN_REDUNDANCY:g}", "maximum": "1"},
        )
    group = group_eui(request.group_id)
    firmware_name = _firmware_name()
    await api.call(
        "POST",
        "fuota/create",
        json={
            "mcEUI": group,
            "firmwareName": firmware_name,
            "payload": base64.b64encode(request.firmware).decode(),
            "redundancyPercent": request.redundancy,
        },
    )
    # The answer names no task: find it by its (unique) name.
    for item in await api.pages("fuota/list", {"mcEUI": group}):
        if item.get("firmwareName") == firmware_name and (task := read_number(item, "fdID")):
            return f"{group.upper()}/{task}"
    raise ProtocolError("the file transfer created is not listed")


def _firmware_name() -> str:
    """Return a new file transfer's name, unique: the answer to fuota/create has no id."""
    return f"lorawan_hub_{time.strftime('%Y%m%d%H%M%S')}_{secrets.token_hex(2)}"


async def cancel_fuota(api: OpenApi, job_id: str) -> None:
    """Terminate a file transfer."""
    group, task = _job(job_id)
    await api.call("POST", "fuota/abort", json={"mcEUI": group, "fdID": task})


async def fuota_status(api: OpenApi, job_id: str) -> FuotaStatus:
    """Return the transfer's state and how much of it the group's devices received."""
    group, task = _job(job_id)
    document = await api.call("GET", "fuota/status", params={"mcEUI": group, "fdID": task})
    status = as_dict(document.get("data"), "fuota/status")
    fragments = read_number(status, "nbFrag")
    devices = await api.pages("fuota/device/list", {"mcEUI": group, "fdID": task})
    states: dict[str, int] = {}
    received = []
    for device in devices:
        state = read_text(device, "state") or "Unknown"
        states[state] = states.get(state, 0) + 1
        # nbFragReceived: "string" in the table (9.4), a number in the sample: both read.
        count = read_number(device, "nbFragReceived")
        if fragments and count is not None:
            received.append(min(100, count * 100 // fragments))
    return FuotaStatus(
        job_id=job_id,
        state=read_text(status, "state") or "Unknown",
        percent_done=min(received) if received else None,
        result=", ".join(f"{state}: {count}" for state, count in sorted(states.items())) or None,
    )


def _job(job_id: str) -> tuple[str, int]:
    """Split a firmware update's id, ``<multicast group EUI>/<task id>``."""
    group, _, task = job_id.partition("/")
    try:
        return eui(group, "group").lower(), int(task)
    except ProtocolError, ValueError:
        raise InputError(
            f"{job_id} is not an IoTSquare firmware update id",
            key="invalid_job_id",
            details={"job_id": job_id},
        ) from None
