"""
OrbiWAN's multicast groups: created with their session, members added and removed by device.

A group's id is its name. A device's ``groups`` is a comma-separated list changed with ``+`` and
``-`` prefixes, group ids go in URL paths, and ``PUT /rest/nodes/{id}`` takes a DevEUI or a
group id alike: an id that would be read as something else is refused before it is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
import logging
import re
from typing import Any, Final, Literal

from ..base import check_multicast_setup
from ..errors import InputError, InvalidRequest, LnsError
from ..models import LoRaClass, MulticastGroup, MulticastKeys, MulticastSetup
from .rest import OrbiWiseRest, segment

_LOGGER = logging.getLogger(__name__)

_EUI_LIKE: Final = re.compile(r"[0-9A-Fa-f]{16}")


async def create_group(
    rest: OrbiWiseRest, vendor: str, setup: MulticastSetup, application: str | None
) -> MulticastGroup:
    """
    Create a group named ``setup.name`` (its id is the name), then add its members.

    The group object is the document's (``POST /rest/groups``): ``groupid`` and ``title``, the
    session (``devaddr`` as the number the document shows, ``nwkskey`` and ``appskey`` in hex,
    ``fcnt``) and, for class B, ``ping_slot_periodicity``. Members that cannot be added are
    reported; the group is returned with those that were. A group created for an application
    is given to it (the application could not reach it otherwise).
    """
    check_multicast_setup(vendor, setup, names=True, ping_slots=True)
    name = setup.name or ""
    _check_group_name(name)
    device_class = setup.device_class
    if device_class is LoRaClass.A:
        raise InvalidRequest("a multicast group is class B or C", key="invalid_request")
    # A group multicasts once it has session keys and an address (the devices receive them
    # with the LoRaWAN remote multicast setup).
    keys = setup.keys or MulticastKeys.generate()
    group: dict[str, Any] = {
        "groupid": name,
        "title": name,
        "comment": f"Class {device_class} multicast group",
        "nwkskey": keys.nwk_s_key,
        "appskey": keys.app_s_key,
        "devaddr": int(keys.address, 16),
        "fcnt": 0,
    }
    if setup.ping_slot_periodicity is not None:
        group["ping_slot_periodicity"] = setup.ping_slot_periodicity
    if application:
        group["applications"] = application
    await rest.request("POST", "rest/groups", json=group)
    added: list[str] = []
    states: dict[str, str] = {}
    for dev_eui in setup.dev_euis:
        try:
            await rest.request("PUT", f"rest/nodes/{segment(dev_eui)}", json={"groups": f"+{name}"})
        except LnsError as err:
            states[dev_eui] = err.reason or err.key  # the reason it was not added
            _LOGGER.warning(
                "%s was not added to the multicast group %s: %s",
                dev_eui,
                name,
                err.reason or err.key,
            )
        else:
            added.append(dev_eui)
            states[dev_eui] = "added"
    return MulticastGroup(
        group_id=name,
        name=name,
        device_class=device_class,
        dev_euis=tuple(added),
        states=states,
        keys=keys,
    )


async def delete_group(rest: OrbiWiseRest, group_id: str) -> None:
    """Delete a group (its devices stay)."""
    await rest.request("DELETE", f"rest/groups/{segment(group_id)}")


async def change_members(
    rest: OrbiWiseRest, group_id: str, dev_euis: Sequence[str], change: Literal["+", "-"]
) -> None:
    """Add (``+``) devices to a group, or remove them (``-``), keeping their other groups."""
    _check_group_reference(group_id)
    for dev_eui in dev_euis:
        await rest.request(
            "PUT", f"rest/nodes/{segment(dev_eui)}", json={"groups": f"{change}{group_id}"}
        )


def _check_group_reference(group_id: str) -> None:
    """Refuse a group id a device's ``groups`` field cannot hold (a list, with +/- changes)."""
    if not group_id or "," in group_id or group_id[0] in "+-" or group_id != group_id.strip():
        raise InputError(
            f"{group_id!r} is not an OrbiWAN group id",
            key="orbiwise_group_invalid",
            details={"name": group_id},
        )


def _check_group_name(name: str) -> None:
    """Refuse a new group's id that would be read as something else (see the module's words)."""
    _check_group_reference(name)
    if "/" in name or name in (".", "..") or _EUI_LIKE.fullmatch(name.replace("-", "")):
        raise InputError(
            f"{name!r} is not an OrbiWAN group id",
            key="orbiwise_group_invalid",
            details={"name": name},
        )
