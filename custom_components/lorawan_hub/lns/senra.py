"""
SenRa (Senet) network server: uplinks pushed by its HTTP notification target, REST for the rest.

The server POSTs each uplink (or a batch of them, as a JSON array) to Home Assistant. Downlinks,
queue clearing and class changes use the Application REST API with the API key in the
``authorization`` header; a class change is a device-update task whose status is polled. What the
server sends is read in ``senra_parse``.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping, Sequence
import dataclasses
from datetime import datetime
import logging
from typing import Any, Final

import aiohttp
import orjson
from yarl import URL

from .base import NetworkServer, Sink, ThrottledLog, check_multicast_setup
from .errors import (
    AuthError,
    CannotConnect,
    Forbidden,
    InputError,
    InvalidRequest,
    LnsError,
    ProtocolError,
)
from .http import JsonApi, Refusal, StatusTable, decode_json
from .models import (
    Capability,
    Downlink,
    DownlinkMode,
    DownlinkResult,
    DownlinkState,
    DownlinkStatus,
    FuotaRequest,
    FuotaStatus,
    LoRaClass,
    MulticastGroup,
    MulticastSetup,
    ServerDevice,
)
from .parse import as_dict, opt_str
from .senra_parse import (
    EXPORT_FIELDS,
    Notification,
    devices_from_csv,
    fuota_status_from,
    group_class,
    group_from_status,
    group_states,
    joining,
    message_id,
    read_notification,
    split_tags,
    task_outcome,
    task_request_id,
)

_LOGGER = logging.getLogger(__name__)

DEFAULT_URL: Final = "https://api.senraco.io"
SENET_URL: Final = "https://api.senetco.io"
TASK_POLL: Final = 2.0
"""Seconds between two looks at a device-update task."""
TASK_LIMIT: Final = 120.0
"""Seconds a class change may take before the action gives up waiting."""
SEEN_MEMORY: Final = 4096
"""Notifications remembered (device, join, sequence number, time) to drop replays."""
DOWNLINK_TIMEOUT_MINUTES: Final = 65


def _message(body: bytes) -> str | None:
    """Return what an error answer says: its JSON ``message``, or its text (shortened)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body.decode(errors="replace").strip()
        return text[:200] or None
    if isinstance(document, dict) and isinstance(document.get("message"), str):
        return str(document["message"])[:200]
    return None


ERRORS: Final = StatusTable(
    statuses={
        401: Refusal(AuthError, "{host} refused the API key"),
        403: Refusal(Forbidden, "the API key may not do this", explanation="instead"),
        404: Refusal(InvalidRequest, "not found", explanation="instead"),
        429: Refusal(CannotConnect, "{host} asks to slow down (HTTP 429)"),
    },
    client_error=Refusal(InvalidRequest, "HTTP {status}", explanation="instead"),
    explain=_message,
)
"""
The API's statuses; an error explains itself in a JSON ``message`` or plain text.

403 ("Authorization failure") is the document's only refusal of a key: on an action it may also
mean that the key may not do that one thing (see ``SenraClient._request``).
"""


def _errors(path: str, key_check: bool) -> StatusTable:
    """
    Return the statuses of a request to ``path``.

    A device endpoint's 404 is an unknown device; a request that checks the key (``key_check``)
    takes a 403 for a refused key.
    """
    statuses = dict(ERRORS.statuses)
    if path.startswith("device/"):
        statuses[404] = Refusal(
            InvalidRequest, "device not found", key="unknown_device", explanation="instead"
        )
    if key_check:
        statuses[403] = statuses[401]
    return dataclasses.replace(ERRORS, statuses=statuses)


class SenraClient(NetworkServer):
    """A client of one SenRa application: pushes in, REST out."""

    vendor = "senra"
    name = "SenRa"
    capabilities = frozenset(
        {
            Capability.DOWNLINK,
            Capability.DOWNLINK_ACK,
            Capability.CLEAR_QUEUE,
            Capability.CLASS_CHANGE,
            Capability.MAX_DOWNLINK_SIZE,
            Capability.LOCATION,
            Capability.MULTICAST,
            Capability.MULTICAST_GROUPS,
            Capability.FUOTA,
        }
    )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        api_key: str,
        app_eui: str,
        *,
        request_timeout: float = 15.0,
        task_poll: float = TASK_POLL,
        task_limit: float = TASK_LIMIT,
    ) -> None:
        """Prepare a client; nothing is sent until a method is called."""
        parsed = URL(url.strip())
        self._api = JsonApi(
            session,
            parsed.with_path(f"{parsed.path.rstrip('/')}/rest/integration", keep_query=False),
            errors=ERRORS,
            timeout=request_timeout,
            headers={"authorization": api_key},
            secrets=(api_key,),
        )
        self.app_eui = app_eui.upper()
        self._task_poll = task_poll
        self._task_limit = task_limit
        self._sink: Sink | None = None
        self._max_payload: dict[str, int] = {}
        self._seen: OrderedDict[tuple[str, int | None, int | None, datetime], None] = OrderedDict()
        self._task_lock = asyncio.Lock()
        self._log = ThrottledLog(_LOGGER)

    @property
    def host(self) -> str:
        """The API's host, safe to show."""
        return self._api.host

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        form: aiohttp.FormData | None = None,
        key_check: bool = False,
    ) -> bytes:
        """
        Send one request with the API key; raise the documented error for a failure.

        403 ("Authorization failure") is the document's only refusal of a key. When the request
        checks the key (``key_check``) it means a refused key. On an action it may also mean
        that the key may not do this one thing: the key is then checked with the export, and
        only a key the export refuses too is a refused key (reauthentication).
        """
        try:
            return await self._api.read(
                method, path, params=params, json=json, form=form, errors=_errors(path, key_check)
            )
        except Forbidden:
            await self._check_key()
            raise

    async def _check_key(self) -> None:
        """Raise AuthError when the export refuses the key (it was revoked)."""
        try:
            await self._export("devEui")
        except AuthError:
            raise
        except LnsError:
            pass  # the key could not be checked now: the action's refusal stands

    async def _json(
        self, method: str, path: str, params: Mapping[str, str], json: Any = None
    ) -> Mapping[str, Any]:
        return self._document(await self._request(method, path, params=params, json=json), path)

    async def validate(self) -> None:
        """Check the API key with a harmless call (the export of the application's EUIs)."""
        await self._export("devEui")

    async def _export(self, fields: str) -> str:
        body = await self._request(
            "GET",
            "device/csvExport",
            params={"appEui": self.app_eui, "fields": fields},
            key_check=True,
        )
        return body.decode("utf-8-sig", errors="replace")

    async def list_devices(self) -> list[ServerDevice]:
        """Return the application's devices from the CSV export."""
        return devices_from_csv(await self._export(EXPORT_FIELDS), EXPORT_FIELDS.split(","))

    # --- pushes -------------------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        """Take pushes until cancelled (the server connects to us: nothing to keep open)."""
        self._sink = sink
        sink.connection_changed(True, None)
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            self._sink = None

    async def accept_push(self, topic: str, body: Any, limit: float) -> bool:
        """
        Take one notification or a batch; False when something was not delivered.

        Each notification of a batch is taken on its own. One that could not be delivered makes
        the answer False (HTTP 503) so that the server sends the push again; those delivered are
        then recognised as replays. A malformed one is dropped (the server cannot mend it).
        """
        sink = self._sink
        if sink is None:
            return False
        delivered = True
        for item in body if isinstance(body, list) else [body]:
            try:
                notification = read_notification(as_dict(item, "notification"), self.app_eui)
            except ProtocolError as err:
                self._log.warning("push", "Dropped a malformed notification: %s", err)
                continue
            if notification is None:
                continue
            key = notification.key
            if key is not None and key in self._seen:
                continue  # a replay: delivered once, with its acknowledgement and position
            try:
                self._deliver(sink, notification)
            except Exception as err:  # noqa: BLE001 - the server must send it again
                self._log.warning(
                    "deliver",
                    "An uplink of %s was not taken; the server will send it again: %s",
                    notification.uplink.dev_eui,
                    repr(err),
                )
                delivered = False
                continue
            if key is not None:
                # Remembered only once delivered: a push that failed comes back and is taken.
                self._seen[key] = None
                if len(self._seen) > SEEN_MEMORY:
                    self._seen.popitem(last=False)
        return delivered

    def _deliver(self, sink: Sink, notification: Notification) -> None:
        uplink = notification.uplink
        dev_eui = uplink.dev_eui
        if notification.max_payload is not None:
            self._max_payload[dev_eui] = notification.max_payload
        if uplink.device_class is not None:
            sink.device_updated(ServerDevice(dev_eui=dev_eui, device_class=uplink.device_class))
        if notification.position is not None:
            sink.device_location(dev_eui, notification.position)
        sink.uplink(uplink)
        if notification.acknowledged is not None:
            sink.downlink_status(
                DownlinkStatus(
                    dev_eui=dev_eui,
                    message_id=notification.acknowledged,
                    state=DownlinkState.ACKNOWLEDGED,
                    at=uplink.received_at,
                )
            )

    # --- actions ------------------------------------------------------------------------------

    async def max_downlink_size(self, dev_eui: str) -> int | None:
        """Return what the device's last uplink said it can receive, if it said."""
        return self._max_payload.get(dev_eui)

    async def send_downlink(self, downlink: Downlink) -> DownlinkResult:
        """
        Queue a downlink (``clear`` replaces the queue, ``immediate`` answers this uplink).

        ``class`` is sent only when the downlink asks for one ("A, B, or C"; the default is the
        device's own, 003:154).
        """
        params = {
            "eui": downlink.dev_eui,
            "pdu": downlink.payload.hex().upper(),
            "port": str(downlink.f_port),
            "confirmed": "true" if downlink.confirmed else "false",
            "timeoutMinutes": str(DOWNLINK_TIMEOUT_MINUTES),
        }
        if downlink.mode is DownlinkMode.REPLACE:
            params["clear"] = "true"
        if downlink.mode is DownlinkMode.IMMEDIATE:
            params["immediate"] = "true"
        if downlink.device_class is not None:
            params["class"] = downlink.device_class.value
        answer = await self._json("POST", "device/sendmsg", params)
        return DownlinkResult(message_id=message_id(answer, "sendmsg"), state=DownlinkState.QUEUED)

    async def clear_downlink_queue(self, dev_eui: str) -> None:
        """Drop every downlink queued for the device."""
        # The document names it eui in its table and devEui in its example: send both.
        await self._request("POST", "device/clearmsgs", params={"eui": dev_eui, "devEui": dev_eui})

    async def set_device_class(self, dev_eui: str, device_class: LoRaClass) -> None:
        """Update the device's class (a task), and wait until the task says how it went."""
        # SenRa runs one task per application at a time.
        async with self._task_lock:
            await self._change_class(dev_eui, device_class)

    async def _change_class(self, dev_eui: str, device_class: LoRaClass) -> None:
        answer = await self._json(
            "POST",
            "device/update",
            {"appEui": self.app_eui},
            json={"data": [{"devEui": dev_eui, "devClass": f"CLASS_{device_class}"}]},
        )
        request_id = task_request_id(answer, "device/update")
        # Polled on the configured server (the API key never goes to another host).
        try:
            async with asyncio.timeout(self._task_limit):
                while True:
                    task = await self._json("GET", "device/status", {"reqId": request_id})
                    if task.get("state") in ("DONE_SUC", "DONE_FAIL"):
                        break
                    await asyncio.sleep(self._task_poll)
        except TimeoutError:
            raise CannotConnect("the class change did not finish in time") from None
        task_outcome(task)

    # --- multicast groups (type APP: from the application to the devices) --------------------

    async def _group(self, path: str, params: Mapping[str, str]) -> Mapping[str, Any]:
        # "Use APP for Application Server to Device multicast communication" (003:981).
        return await self._json(
            "POST", f"mcast/{path}", {"appEui": self.app_eui, "type": "APP", **params}
        )

    async def create_multicast_group(self, setup: MulticastSetup) -> MulticastGroup:
        """
        Set up a group of the chosen devices, or of the devices carrying the chosen tags.

        SenRa groups have no name: a group is set up with its first members ("Either a list of
        Device EUIs OR a list of Device tags", 003:984), and its id is its multicast address.
        The network server makes the session and gives it to the devices itself. The group
        returned lists the devices the answer shows joining (a "Failed" one did not).
        """
        check_multicast_setup(
            self.name, setup, names=False, tags=True, given_keys=False, ping_slots=True
        )
        device_class = setup.device_class
        if device_class is LoRaClass.A:
            raise InvalidRequest("a multicast group is class B or C")
        params = {"devClass": device_class.value}
        if setup.dev_euis:
            params["devEuis"] = ",".join(setup.dev_euis)
        elif tags := split_tags(setup.tags):
            params["devTags"] = ",".join(tags)
        else:
            raise InputError("choose the devices or tags", key="multicast_members_required")
        if (periodicity := setup.ping_slot_periodicity) is not None:
            if not 0 <= periodicity <= 7:
                raise InvalidRequest("the ping slot periodicity is 0 to 7")
            params["periodicity"] = str(periodicity)
        answer = await self._group("setup", params)
        address = opt_str(answer, "mcAddr")
        if address is None:
            raise ProtocolError("mcast/setup answered without mcAddr")
        states = group_states(answer)
        return MulticastGroup(
            group_id=address.upper(),
            device_class=group_class(answer) or device_class,
            dev_euis=tuple(dev_eui for dev_eui, state in states.items() if joining(state)),
            states=states,
        )

    async def delete_multicast_group(self, group_id: str) -> None:
        """Remove the group (its devices close their multicast session)."""
        await self._group("delete", {"mcAddr": group_id})

    async def add_to_multicast_group(self, group_id: str, dev_euis: Sequence[str]) -> None:
        """Add devices; a device the answer does not list, or lists as failed, was refused."""
        answer = await self._group(
            "addDevices", {"mcAddr": group_id, "devEuis": ",".join(dev_euis)}
        )
        states = group_states(answer)
        missing = [
            dev_eui for dev_eui in dev_euis if not joining(states.get(dev_eui.upper(), "Failed"))
        ]
        if missing:
            raise InvalidRequest(f"not added to the group: {', '.join(missing)}")

    async def remove_from_multicast_group(self, group_id: str, dev_euis: Sequence[str]) -> None:
        """Remove devices from the group."""
        await self._group("removeDevices", {"mcAddr": group_id, "devEuis": ",".join(dev_euis)})

    async def multicast_group_status(self, group_id: str) -> MulticastGroup:
        """Return the group with its members and the state of each one's multicast session."""
        answer = await self._json(
            "GET", "mcast/status", {"appEui": self.app_eui, "type": "APP", "mcAddr": group_id}
        )
        return group_from_status(answer, group_id)

    async def send_multicast(
        self, group_id: str, f_port: int, payload: bytes, gateways: Sequence[str] = ()
    ) -> DownlinkResult:
        """
        Send a downlink to the group; through chosen base stations, to a device address.

        With ``gateways``, ``group_id`` is the address of a device that holds the multicast
        session keys, and only those base stations transmit (``sendmcastmsg``).
        """
        if gateways:
            answer = await self._json(
                "POST",
                "device/sendmcastmsg",
                {
                    "addr": group_id,
                    "pdu": payload.hex().upper(),
                    "port": str(f_port),
                    "bstnEuis": ",".join(gateways),
                },
            )
        else:
            answer = await self._group(
                "sendmsg",
                {"mcAddr": group_id, "pdu": payload.hex().upper(), "port": str(f_port)},
            )
        return DownlinkResult(
            message_id=message_id(answer, "the multicast downlink"), state=DownlinkState.QUEUED
        )

    # --- firmware updates over the air ------------------------------------------------------

    async def start_fuota(self, request: FuotaRequest) -> str:
        """Start ``mcastTransfer`` with the firmware as the multipart file; return the job id."""
        if not request.dev_euis or request.group_id is not None:
            raise InputError(
                "SenRa sends firmware to a list of devices", key="fuota_devices_required"
            )
        form = aiohttp.FormData()
        form.add_field(
            "file",
            request.firmware,
            filename="firmware.bin",
            content_type="application/octet-stream",
        )
        params = {
            "appEui": self.app_eui,
            "devEuis": ",".join(request.dev_euis),
            "devClass": request.device_class.value,
            "startDelaySecs": str(request.start_delay),
            # "Double value from 0 - 1.0", written as the document does ("redundancy=1.0").
            "redundancy": repr(float(request.redundancy)),
            "fragAlg": "FWD_ERR_CORR",
        }
        body = await self._request("POST", "mcastTransfer", params=params, form=form)
        job_id = opt_str(self._document(body, "mcastTransfer"), "jobId")
        if job_id is None:
            raise ProtocolError("mcastTransfer answered without jobId")
        return job_id

    async def cancel_fuota(self, job_id: str) -> None:
        """Cancel a firmware update."""
        # The document spells it jobID in its tables and jobId in its examples: send both.
        await self._request("POST", "mcastCancel", params={"jobId": job_id, "jobID": job_id})

    async def fuota_status(self, job_id: str) -> FuotaStatus:
        """Return where a firmware update is (a wrong value is left out, not a failure)."""
        body = await self._request("GET", "mcastStatus", params={"jobId": job_id, "jobID": job_id})
        return fuota_status_from(self._document(body, "mcastStatus"), job_id)

    @staticmethod
    def _document(body: bytes, what: str) -> Mapping[str, Any]:
        return as_dict(decode_json(body, what), what)

    async def close(self) -> None:
        """Nothing to release."""
