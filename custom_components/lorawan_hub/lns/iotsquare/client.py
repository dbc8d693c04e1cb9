"""
The IoTSquare client: uplinks and joins pushed over HTTP, the OpenAPI for the rest.

On start the client delivers each device's latest uplink (``device/latestDeviceUplink``) that a
push has not brought already: IoTSquare keeps no more than that of what was missed.
"""

from __future__ import annotations

import asyncio
import base64
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import timedelta
import logging
from typing import Any, Final

import aiohttp

from ..base import NetworkServer, Sink, ThrottledLog
from ..errors import AuthError, InvalidRequest, LnsError, ProtocolError, Unsupported
from ..models import (
    Capability,
    Downlink,
    DownlinkMode,
    DownlinkResult,
    DownlinkState,
    FuotaRequest,
    FuotaStatus,
    JoinInfo,
    LoRaClass,
    MulticastGroup,
    MulticastSetup,
    ServerDevice,
    Uplink,
)
from ..parse import as_dict, as_int, eui
from .api import ERROR_KEYS, OpenApi, check_port
from .fuota import cancel_fuota, fuota_status, start_fuota
from .multicast import Groups
from .parse import (
    class_from_status,
    device_from_list,
    first_field,
    lenient,
    millis,
    read_hex,
    read_number,
    read_text,
    status_from_multicast_push,
    uplink_from_fields,
    uplink_from_push,
)
from .push import PushConfig, PushSettings

_LOGGER = logging.getLogger(__name__)

DEFAULT_URL: Final = "https://cloud.iotsquare.xyz/openapi"
STATUS_REQUESTS: Final = 8
"""Device status requests in flight at once while listing devices."""
SEEN_MEMORY: Final = 4096
"""Pushed uplinks remembered (device, frame counter, time) to drop replays."""
PUSH_KINDS: Final = frozenset({"uplink", "join", "status", "gwstat", "gwconnection", "multicast"})
"""The sub-paths IoTSquare appends to the push URL."""
SEED_SLACK: Final = timedelta(minutes=10)
"""How far apart the server's and the push's time of one uplink may be."""


class _Undelivered(Exception):
    """The sink raised while taking a push: it was not handed over."""


class IotSquareClient(NetworkServer):
    """A client of one IoTSquare application: pushes in, OpenAPI out."""

    vendor = "iotsquare"
    name = "IoTSquare"
    capabilities = frozenset(
        {
            Capability.DOWNLINK,
            Capability.DOWNLINK_COUNTER,
            Capability.MULTICAST,
            Capability.MULTICAST_GROUPS,
            Capability.FUOTA,
        }
    )
    unsupported_reasons = {Capability.CLASS_CHANGE: "class_change_recreate"}
    error_keys = ERROR_KEYS

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        token: str,
        app_id: int | None = None,
        *,
        request_timeout: float = 15.0,
    ) -> None:
        """Prepare a client; without ``app_id`` it can only list the applications."""
        self._api = OpenApi(session, url, token, request_timeout)
        self.app_id = app_id
        self._sink: Sink | None = None
        self._seen: OrderedDict[tuple[str, int | None, int | None], None] = OrderedDict()
        self._pushed: set[str] = set()
        self._listed: list[str] = []
        self._places: dict[str, tuple[str, str | None]] = {}
        """DevEUI → the device's region and subnet (device/list), for multicast groups."""
        self._groups = Groups(self._api, self.name, self._places)
        self._log = ThrottledLog(_LOGGER)

    @property
    def host(self) -> str:
        """The API's host, safe to show."""
        return self._api.host

    # --- account and application ----------------------------------------------------------

    async def validate(self) -> None:
        """Check the token (and that the application exists, once one is chosen)."""
        await self._api.call("GET", "app/list", params={"pageNo": 1, "pageSize": 1})
        if self.app_id is not None:
            await self.application()

    async def list_applications(self) -> dict[int, str]:
        """Return the account's applications: id → name (an application without an id skipped)."""
        applications = {}
        for item in await self._api.pages("app/list"):
            app_id = read_number(item, "appID")
            if app_id is not None:
                applications[app_id] = read_text(item, "appName") or str(app_id)
        return applications

    def _app(self) -> int:
        if self.app_id is None:
            raise InvalidRequest("no application chosen")
        return self.app_id

    def _settings(self) -> PushSettings:
        return PushSettings(self._api, self._app())

    async def application(self) -> Mapping[str, Any]:
        """Return the application's status: its name, push URL and headers."""
        return await self._settings().status()

    async def push_config(self) -> PushConfig:
        """Return the application's push settings."""
        return await self._settings().read()

    async def configure_push(
        self, url: str, header: str, value: str, *, replace: Collection[str] = ()
    ) -> dict[str, Any]:
        """
        Make the application push to ``url`` with ``header: value``, keeping what it has.

        What would be replaced or turned off is changed only when in ``replace`` (the user
        agreed): otherwise PushConflict. Returns what the entry keeps to undo it.
        """
        return await self._settings().configure(url, header, value, replace=replace)

    async def remove_push(self, push_id: str, value: str, *, mqtt_was_on: bool = False) -> bool:
        """Take the entry's push link and header off the application (see ``PushSettings``)."""
        return await self._settings().remove(push_id, value, mqtt_was_on=mqtt_was_on)

    # --- devices ----------------------------------------------------------------------------

    async def list_devices(self) -> list[ServerDevice]:
        """
        Return the application's devices, each with the class it was created for.

        A device whose status is refused or malformed is listed without its class; a server
        that is busy or refuses the token fails the listing.
        """
        listed = await self._api.pages("device/list", {"appID": self._app()})
        devices: list[ServerDevice] = []
        for item in listed:
            try:
                device = device_from_list(item)
            except ProtocolError as err:
                self._log.warning("list", "Skipped a device IoTSquare lists: %s", err)
                continue
            devices.append(device)
            if region := read_text(item, "region"):
                self._places[device.dev_eui] = (region, read_text(item, "subnet"))
        limit = asyncio.Semaphore(STATUS_REQUESTS)

        async def add_class(device: ServerDevice) -> None:
            async with limit:
                try:
                    document = await self._api.call(
                        "GET", "device/status", params={"devEUI": device.dev_eui.lower()}
                    )
                except (InvalidRequest, ProtocolError) as err:
                    if err.code != 4001:  # 4001: deleted since it was listed
                        self._log.warning(
                            "status", "Listed %s without its class: %s", device.dev_eui, err
                        )
                    return
            status = document.get("data")
            if isinstance(status, Mapping):
                device.device_class = lenient(lambda: class_from_status(status), "class")
                device.app_eui = read_hex(status, "appEUI", 16)
                device.activation = read_text(status, "authType")

        # The first failure is the error (not an exception group): the others are cancelled.
        tasks = [asyncio.ensure_future(add_class(device)) for device in devices]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
        self._listed = [device.dev_eui for device in devices]
        return devices

    async def latest_uplink(self, dev_eui: str) -> Uplink | None:
        """Return the device's latest uplink as the server kept it (None if it never sent)."""
        document = await self._api.call(
            "GET", "device/latestDeviceUplink", params={"devEui": dev_eui.lower()}
        )
        data = document.get("data")
        if not isinstance(data, Mapping):
            return None
        received = first_field(data, "createtime", "Time")
        if received is None:
            return None
        return uplink_from_fields(dev_eui, data, millis(received, "createtime"), data)

    # --- pushes ---------------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        """Seed each device's latest uplink, then take pushes until cancelled."""
        self._sink = sink
        sink.connection_changed(True, None)
        try:
            try:
                await self._seed(sink)
            except AuthError:
                raise
            except Exception:  # without the seed, pushes still come in
                _LOGGER.exception("Could not fetch the devices' latest uplinks")
            await asyncio.get_running_loop().create_future()
        finally:
            self._sink = None

    async def _seed(self, sink: Sink) -> None:
        """
        Deliver what each device last sent, unless it was seen already.

        A push may have brought something newer meanwhile; and the server's time of an uplink
        may differ from the time its push carried, so an uplink seen with the same frame
        counter shortly before or after counts as this one.
        """
        limit = asyncio.Semaphore(STATUS_REQUESTS)

        async def latest(dev_eui: str) -> Uplink | None:
            async with limit:
                try:
                    return await self.latest_uplink(dev_eui)
                except AuthError:
                    raise
                except LnsError as err:
                    self._log.warning(
                        "seed", "Could not fetch the latest uplink of %s: %s", dev_eui, err
                    )
                    return None

        uplinks = await asyncio.gather(*(latest(dev_eui) for dev_eui in self._listed))
        for uplink in uplinks:
            if uplink is None or uplink.dev_eui in self._pushed:
                continue
            if any(
                f_cnt == uplink.f_cnt and abs(when - uplink.received_at) <= SEED_SLACK
                for f_cnt, when in sink.recent_uplinks(uplink.dev_eui)
            ):
                continue
            try:
                sink.uplink(uplink)
            except Exception:  # one uplink refused: the others are still seeded
                _LOGGER.exception("Could not deliver the latest uplink of %s", uplink.dev_eui)

    async def accept_push(self, topic: str, body: Any, limit: float) -> bool:
        """
        Take one push (``topic`` is the sub-path: uplink, join...); False when not taken.

        A malformed push is dropped (and answered as taken: sending it again would not help).
        When the sink raises, the push was not handed over: False, so that IoTSquare sends it
        again (the items handed over before are then dropped as replays).
        """
        sink = self._sink
        if sink is None:
            return False
        for item in body if isinstance(body, list) else [body]:
            try:
                self._push(sink, topic, as_dict(item, "push"))
            except ProtocolError as err:
                self._log.warning("push", "Dropped a malformed %s push: %s", topic, err)
            except _Undelivered as err:
                self._log.warning(
                    "deliver", "Could not hand over the %s push: %r", topic, err.__cause__
                )
                return False
        return True

    @staticmethod
    def _deliver[**P](call: Callable[P, None], *args: P.args, **kwargs: P.kwargs) -> None:
        """Hand something to the sink; its failure is _Undelivered (the push is not taken)."""
        try:
            call(*args, **kwargs)
        except Exception as err:
            raise _Undelivered from err

    def _push(self, sink: Sink, topic: str, envelope: Mapping[str, Any]) -> None:
        app_id = read_number(envelope, "appID")
        if app_id is not None and app_id != self.app_id:
            return  # another application's push
        kind = topic if topic in PUSH_KINDS else read_text(envelope, "type")
        if kind == "uplink":
            uplink = uplink_from_push(envelope)
            time_ms = lenient(lambda: as_int(envelope.get("time"), "time"), "time")
            key = (uplink.dev_eui, uplink.f_cnt, time_ms)
            if key in self._seen:
                return  # a replay
            if uplink.device_class is not None:
                self._deliver(
                    sink.device_updated,
                    ServerDevice(dev_eui=uplink.dev_eui, device_class=uplink.device_class),
                )
            self._deliver(sink.uplink, uplink)
            # Remembered only once delivered: a push the sink refused comes again, and is taken.
            self._seen[key] = None
            if len(self._seen) > SEEN_MEMORY:
                self._seen.popitem(last=False)
            self._pushed.add(uplink.dev_eui)
        elif kind == "join":
            dev_eui = eui(envelope.get("devEUI"), "devEUI")
            data = envelope.get("data")
            address = read_hex(data, "devAddr", 8) if isinstance(data, Mapping) else None
            if address:
                self._deliver(sink.device_updated, ServerDevice(dev_eui=dev_eui, dev_addr=address))
            self._deliver(sink.joined, JoinInfo(dev_eui=dev_eui, status="joined", dev_addr=address))
        elif kind == "multicast":
            self._deliver(sink.downlink_status, status_from_multicast_push(envelope))
        else:
            _LOGGER.debug("Ignored an IoTSquare %s push", kind)

    # --- downlinks --------------------------------------------------------------------------

    async def send_downlink(self, downlink: Downlink) -> DownlinkResult:
        """Queue a downlink; the answer is its downlink frame counter."""
        if downlink.mode is not DownlinkMode.QUEUE:
            raise Unsupported("IoTSquare only queues downlinks")
        check_port(downlink.f_port)
        body = {
            "devEUI": downlink.dev_eui.lower(),
            "fPort": downlink.f_port,
            "data": base64.b64encode(downlink.payload).decode(),
            "confirmed": downlink.confirmed,
        }
        try:
            answer = await self._api.call("POST", "device/downlink/create", json=body)
        except InvalidRequest as err:
            if err.key != "not_found":
                raise
            # Servers before 3.4.21 name it devicedl/create.
            answer = await self._api.call("POST", "devicedl/create", json=body)
        f_cnt = read_number(answer, "fCnt")
        if f_cnt is None:
            # Queued all the same: reporting a failure would have it sent twice.
            _LOGGER.warning("IoTSquare queued a downlink to %s without its fCnt", downlink.dev_eui)
        elif self._sink is not None:
            self._sink.device_updated(ServerDevice(dev_eui=downlink.dev_eui, downlink_f_cnt=f_cnt))
        return DownlinkResult(message_id=None, state=DownlinkState.QUEUED, f_cnt=f_cnt)

    async def set_device_class(self, dev_eui: str, device_class: LoRaClass) -> None:
        """IoTSquare fixes a device's class when it is created."""
        raise Unsupported(
            "IoTSquare changes a device's class only by re-creating it",
            key="class_change_recreate",
        )

    # --- multicast groups (the account's; a group holds class C devices of one region) -----

    async def create_multicast_group(self, setup: MulticastSetup) -> MulticastGroup:
        """Create a manually configured class C group, then add its members."""
        return await self._groups.create(setup)

    async def rename_multicast_group(self, group_id: str, name: str) -> None:
        """Rename the group (``mcgroup/update`` gets what its table requires of it)."""
        await self._groups.rename(group_id, name)

    async def delete_multicast_group(self, group_id: str) -> None:
        """Delete the group (its devices are unbound)."""
        await self._groups.delete(group_id)

    async def add_to_multicast_group(self, group_id: str, dev_euis: Sequence[str]) -> None:
        """Bind devices to the group; the devices refused are named in the error."""
        await self._groups.add(group_id, dev_euis)

    async def remove_from_multicast_group(self, group_id: str, dev_euis: Sequence[str]) -> None:
        """Unbind devices from the group; the devices refused are named in the error."""
        await self._groups.remove(group_id, dev_euis)

    async def multicast_group_status(self, group_id: str) -> MulticastGroup:
        """Return the group with its members, each joined or not."""
        return await self._groups.status(group_id)

    async def send_multicast(
        self, group_id: str, f_port: int, payload: bytes, gateways: Sequence[str] = ()
    ) -> DownlinkResult:
        """Queue a downlink to the group; the answer is the group's downlink frame counter."""
        return await self._groups.send(group_id, f_port, payload, gateways)

    # --- firmware updates over the air (file transfer to a multicast group) ---------------

    async def start_fuota(self, request: FuotaRequest) -> str:
        """Start a file transfer to the group; return ``<group EUI>/<task id>``."""
        return await start_fuota(self._api, request)

    async def cancel_fuota(self, job_id: str) -> None:
        """Terminate a file transfer."""
        await cancel_fuota(self._api, job_id)

    async def fuota_status(self, job_id: str) -> FuotaStatus:
        """Return the transfer's state and how much of it the group's devices received."""
        return await fuota_status(self._api, job_id)

    async def close(self) -> None:
        """Nothing to release (the push settings are removed only with the entry)."""
