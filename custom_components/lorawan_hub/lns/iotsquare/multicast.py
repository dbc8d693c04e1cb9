"""
IoTSquare's multicast groups: manually configured class C groups of one region and subnet.

A group's id is its EUI. Its session is the one given, or one generated here; what IoTSquare
shows of it after the creation is what the devices must be given. Members that IoTSquare
refuses are named, each with its reason.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
import logging
import re
import secrets
from typing import Any, Final

from ..base import ThrottledLog, check_multicast_setup, no_gateways
from ..errors import InputError, LnsError, ProtocolError
from ..models import (
    DownlinkResult,
    DownlinkState,
    LoRaClass,
    MulticastGroup,
    MulticastKeys,
    MulticastSetup,
)
from ..parse import as_dict, eui
from .api import BatchRefused, OpenApi, check_port
from .parse import CLASSES, keys_from_status, read_eui, read_flag, read_number, read_text

_LOGGER = logging.getLogger(__name__)

# The document says group names are "letters and underscores", its own samples have digits
# (mc_group_00, 6.2.2): both are taken.
_GROUP_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,19}")
_ALREADY_MEMBER: Final = 14010
"""A device already in the group it is added to (it is a member)."""


def check_group_name(name: str) -> None:
    """Refuse a group name IoTSquare does not take."""
    if _GROUP_NAME.fullmatch(name) is None:
        raise InputError(
            "a group name has letters, digits and underscores, at most 20",
            key="group_name_invalid",
            details={"name": name},
        )


def group_eui(group_id: str) -> str:
    """Return a group's EUI as the API takes it; InputError when the id is none."""
    try:
        return eui(group_id, "group").lower()
    except ProtocolError:
        raise InputError(
            f"{group_id} is not a multicast group EUI",
            key="invalid_group_id",
            details={"group_id": group_id},
        ) from None


class Groups:
    """The multicast groups of the account, for the devices of one application."""

    def __init__(
        self, api: OpenApi, vendor: str, places: Mapping[str, tuple[str, str | None]]
    ) -> None:
        """Manage groups through ``api``; ``places``: each listed device's region and subnet."""
        self._api = api
        self._vendor = vendor
        self._places = places
        self._log = ThrottledLog(_LOGGER)

    def _place(self, dev_euis: Sequence[str]) -> tuple[str, str | None]:
        """
        Return the region and subnet for a group of ``dev_euis`` (else of every device).

        A group takes devices of one region and subnet (7.1): one subnet shared by them all
        is the group's; otherwise the group's subnet is automatic.
        """
        places = [self._places[d] for d in dev_euis if d in self._places] or list(
            self._places.values()
        )
        regions = {region for region, _ in places}
        if len(regions) != 1:
            raise InputError(
                "the devices do not share one region",
                key="multicast_region_unknown",
                details={"regions": ", ".join(sorted(regions)) or "-"},
            )
        subnets = {subnet for _, subnet in places}
        subnet = subnets.pop() if len(subnets) == 1 else None
        return regions.pop(), None if subnet in (None, "auto") else subnet

    async def create(self, setup: MulticastSetup) -> MulticastGroup:
        """
        Create a manually configured class C group, then add its members.

        The session is the one given, or one generated here; the group returned carries the
        session IoTSquare shows for it (what the devices must be given) and the members that
        joined; each refused member is in its states, with IoTSquare's reason. The group's id
        is its EUI.
        """
        check_multicast_setup(self._vendor, setup, names=True)
        name = setup.name or ""
        if setup.device_class is not LoRaClass.C:
            raise InputError("IoTSquare multicast groups are class C", key="multicast_class_c_only")
        check_group_name(name)
        region, subnet = self._place(setup.dev_euis)
        keys = setup.keys or MulticastKeys.generate()
        mc_eui = secrets.token_hex(8)
        # As the document's manual sample (6.2.2), with enableMQTT, which its table requires.
        body: dict[str, Any] = {
            "mcName": name,
            "mcEUI": mc_eui,
            "region": region,
            "subnet": subnet or "auto",
        }
        if subnet is None:
            body["autoSubnet"] = True
        body |= {
            "class": "C",
            "enableMCRemote": False,
            "mcAddr": keys.address.lower(),
            "mcAppSKey": keys.app_s_key.lower(),
            "mcNwkSKey": keys.nwk_s_key.lower(),
            "enableMQTT": False,
        }
        await self._api.call("POST", "mcgroup/create", json=body)
        # The group exists from here on: nothing below may lose its session.
        try:
            document = await self._api.call("GET", "mcgroup/status", params={"mcEUI": mc_eui})
            status = as_dict(document.get("data"), "mcgroup/status")
        except LnsError as err:
            self._log.warning("created", "Could not read the group just created: %s", err)
            status = {}
        kept = keys_from_status(status)
        if kept is not None and kept != keys:
            _LOGGER.warning("IoTSquare gave multicast group %s a session of its own", mc_eui)
        joined, refused = await self._bind_new(mc_eui.upper(), setup.dev_euis)
        return MulticastGroup(
            group_id=mc_eui.upper(),
            name=read_text(status, "mcName") or name,
            device_class=LoRaClass.C,
            dev_euis=joined,
            states=dict.fromkeys(joined, "joined") | refused,
            keys=kept or keys,
        )

    async def _bind_new(
        self, group_id: str, dev_euis: Sequence[str]
    ) -> tuple[tuple[str, ...], dict[str, str]]:
        """Add a new group's first members: those that joined, and why each other did not."""
        if not dev_euis:
            return (), {}
        try:
            await self._members("mcdevice/create", group_id, dev_euis)
        except BatchRefused as err:
            refusals = {
                normalized: (code, words)
                for key, (code, words) in err.refusals.items()
                if (normalized := read_eui(key, "devEUI"))
            }
        except LnsError as err:
            refusals = dict.fromkeys(dev_euis, (err.code, err.reason or err.key))
        else:
            refusals = {}
        refused = {}
        for dev_eui in dev_euis:
            code, words = refusals.get(dev_eui, (_ALREADY_MEMBER, ""))
            if code != _ALREADY_MEMBER:  # not refused, or a member already
                refused[dev_eui] = f"refused: {words}"
        for dev_eui, words in refused.items():
            self._log.warning(
                f"member:{dev_eui}",
                "IoTSquare did not add %s to the new multicast group %s: %s",
                dev_eui,
                group_id,
                words,
            )
        return tuple(dict.fromkeys(d for d in dev_euis if d not in refused)), refused

    async def _group_status(self, group: str) -> Mapping[str, Any]:
        document = await self._api.call("GET", "mcgroup/status", params={"mcEUI": group})
        return as_dict(document.get("data"), "mcgroup/status")

    async def rename(self, group_id: str, name: str) -> None:
        """
        Rename the group; ``mcgroup/update`` also gets what its table requires of the group.

        A manually configured group: its address and keys, and enableMQTT (6.2.4). One with
        remote set-up: its push link, headers, MQTT flag and time slice. All as
        ``mcgroup/status`` shows them, so nothing else changes.
        """
        check_group_name(name)
        group = group_eui(group_id)
        status = await self._group_status(group)
        body: dict[str, Any] = {"mcEUI": group, "mcName": name}
        if read_flag(status, "enableMCRemote"):
            # The table says pushURL became an array (3.3.65); the samples (status and update)
            # show a string: it is sent back in the form the status shows.
            if isinstance(push := status.get("pushURL"), str | list):
                body["pushURL"] = push
            if isinstance(headers := status.get("headers"), Mapping):
                body["headers"] = dict(headers)
            if (slot := read_number(status, "timeSlotLength")) is not None:
                body["timeSlotLength"] = slot  # unchanged (its sample sends it, 6.2.4)
        else:
            keys = keys_from_status(status)
            if keys is None:
                raise ProtocolError(
                    "IoTSquare shows the group without its address and keys, which a rename sends"
                )
            body |= {
                "mcAddr": keys.address.lower(),
                "mcAppSKey": keys.app_s_key.lower(),
                "mcNwkSKey": keys.nwk_s_key.lower(),
            }
        body["enableMQTT"] = bool(read_flag(status, "enableMQTT"))
        await self._api.call("POST", "mcgroup/update", json=body)

    async def delete(self, group_id: str) -> None:
        """Delete the group (its devices are unbound)."""
        await self._api.call(
            "POST", "mcgroup/delete", json={"mcEUIs": [group_eui(group_id)]}, batch_key="mcEUI"
        )

    async def add(self, group_id: str, dev_euis: Sequence[str]) -> None:
        """Bind devices to the group; the devices refused are named in the error."""
        await self._members("mcdevice/create", group_id, dev_euis)

    async def remove(self, group_id: str, dev_euis: Sequence[str]) -> None:
        """Unbind devices from the group; the devices refused are named in the error."""
        await self._members("mcdevice/delete", group_id, dev_euis)

    async def _members(self, path: str, group_id: str, dev_euis: Sequence[str]) -> None:
        await self._api.call(
            "POST",
            path,
            json={
                "mcEUI": group_eui(group_id),
                "devEUIs": [dev_eui.lower() for dev_eui in dev_euis],
            },
            batch_key="devEUI",
        )

    async def status(self, group_id: str) -> MulticastGroup:
        """Return the group with its members, each joined or not (its configuration synced)."""
        group = group_eui(group_id)
        status = await self._group_status(group)
        states = {}
        for item in await self._api.pages("mcdevice/list", {"mcEUI": group}):
            member = read_eui(item.get("devEUI"), "devEUI")
            if member is None:
                continue
            joined = read_flag(item, "joined")
            states[member] = "unknown" if joined is None else "joined" if joined else "not joined"
        device_class = read_text(status, "class")
        return MulticastGroup(
            group_id=group.upper(),
            name=read_text(status, "mcName"),
            device_class=CLASSES.get((device_class or "C").upper(), LoRaClass.C),
            dev_euis=tuple(states),
            states=states,
        )

    async def send(
        self, group_id: str, f_port: int, payload: bytes, gateways: Sequence[str] = ()
    ) -> DownlinkResult:
        """Queue a downlink to the group; the answer is the group's downlink frame counter."""
        no_gateways(self._vendor, gateways)
        check_port(f_port)
        answer = await self._api.call(
            "POST",
            "mcdownlink/create",
            json={
                "mcEUI": group_eui(group_id),
                "fPort": f_port,
                "data": base64.b64encode(payload).decode(),
            },
        )
        return DownlinkResult(
            message_id=None, state=DownlinkState.QUEUED, f_cnt=read_number(answer, "fCnt")
        )
