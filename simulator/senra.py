"""
A SenRa (Senet) network server on 127.0.0.1: the Application REST API subset and a pusher.

The pusher POSTs notifications to a URL with a header, as a SenRa HTTP notification target does:
one JSON object, or a batch (JSON array), in the current or the legacy format; knobs push
malformed bodies, duplicates and a wrong header. Device-update tasks report RUNNING for a number
of status polls before DONE_SUC (or DONE_FAIL with an error message).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping
import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime
import io
import itertools
import json
import random
import re
from typing import Any, Final

from aiohttp import ClientTimeout, web

from .command import (
    PUSH_HEADER,
    PUSH_URL,
    Command,
    Option,
    demo_devices,
    generate_until,
    push_headers,
)
from .lpp import DemoPayloads, guess_kind
from .server import PushingServer

DEFAULT_API_KEY: Final = "AK2:demo0123456789demo0123456789demo012345678"
DEFAULT_APP_EUI: Final = "70B3D57ED0FFFF01"
_FLAGS: Final = ("true", "false")
_SENDMSG_FLAGS: Final = ("confirmed", "clear", "immediate")
# The export's fields (003:648-650), and the headers the document shows for some (003:658).
_EXPORT_FIELDS: Final = frozenset(
    [
        "devEui",
        "contract",
        "tags",
        "metadata",
        "state",
        "registrationDate",
        "activationDate",
        "deactivationDate",
        "lastHeardFrom",
        "lastJoinTime",
        "firstJoinTime",
        "yestBstns",
        "yestPsr",
        "yestAvgRssi",
        "yestAvgSnr",
        "lat",
        "lng",
        "profId",
        "devType",
        "devAddr",
        "estLat",
        "estLng",
        "txPeriod",
        "txPower",
        "curDr",
        "adrChg",
        "fwVer",
        "serviceMetrics",
        "metricA",
        "metricB",
        "metricC",
        "joinEui",
    ]
)
_HEADERS: Final = {"devEui": "Dev EUI", "joinEui": "Join EUI"}
_EXPORT_DATE: Final = "03/31/2017 11:37:30 PM UTC"


def _title(name: str) -> str:
    """Return the header of a field as the document writes them: lastHeardFrom → Last Heard From."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).title()


MCAST_DURATION: Final = 32768
"""Seconds a multicast session lasts (as in the document's answers)."""


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SenraDevice:
    """A device of the simulated application."""

    dev_eui: str
    dev_type: str | None = None
    metadata: str | None = None
    tags: str = ""
    state: str = "JOINED"
    dev_addr: str | None = None
    dev_class: str = "A"
    lat: float | None = None
    lng: float | None = None
    prof_id: int | None = None
    """The device profile ID (an integer, 003:287)."""
    kind: str = "sensor"
    seqno: int = 0
    queue: list[int] = field(default_factory=list)


@dataclass
class SenraGroup:
    """A multicast group of the simulated application."""

    address: str
    dev_class: str
    mcast_type: str
    periodicity: int
    channel: int | None
    data_rate: int | None
    members: dict[str, str] = field(default_factory=dict)
    """DevEUI → the state of its multicast session (Initializing, Initialized, Failed)."""
    start_ms: int = 0


@dataclass
class SentDownlink:
    """A downlink the simulator accepted."""

    msg_id: int
    dev_eui: str
    pdu: bytes
    port: int
    confirmed: bool
    params: dict[str, str]


class SenraSimulator(PushingServer):
    """The simulated server and its pusher."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        app_eui: str = DEFAULT_APP_EUI,
        port: int = 0,
    ) -> None:
        """Prepare a server for one application; ``start`` serves it."""
        app = web.Application()
        app.router.add_get("/rest/integration/device/csvExport", self._export)
        app.router.add_post("/rest/integration/device/sendmsg", self._sendmsg)
        app.router.add_post("/rest/integration/device/clearmsgs", self._clearmsgs)
        app.router.add_post("/rest/integration/device/update", self._update)
        app.router.add_get("/rest/integration/device/status", self._status)
        app.router.add_post("/rest/integration/mcast/{action}", self._mcast)
        app.router.add_get("/rest/integration/mcast/status", self._mcast)
        app.router.add_post("/rest/integration/device/sendmcastmsg", self._sendmcastmsg)
        app.router.add_post("/rest/integration/mcastTransfer", self._fuota_start)
        app.router.add_post("/rest/integration/mcastCancel", self._fuota_cancel)
        app.router.add_get("/rest/integration/mcastStatus", self._fuota_status)
        super().__init__(app, port=port, shutdown_timeout=0.5)
        self.api_key = api_key
        self.app_eui = app_eui
        self.devices: dict[str, SenraDevice] = {}
        self.downlinks: list[SentDownlink] = []
        self.requests: list[tuple[str, str]] = []
        self.queries: list[tuple[str, dict[str, str]]] = []
        """The path and query of every request taken."""
        self.push_results: list[int] = []
        """The HTTP status of every push made."""
        self.task_polls = 2
        """Status polls a task stays RUNNING for."""
        self.fail_tasks = False
        self.target: tuple[str, dict[str, str]] | None = None
        """Where to push: URL and headers (a notification target)."""
        self.groups: dict[str, SenraGroup] = {}
        """Multicast address → the group."""
        self.failing: set[str] = set()
        """DevEUIs whose multicast session set-up fails (state Failed)."""
        self.refused: set[str] = set()
        """Paths answered 403 although the key is right (a key without that right)."""
        self.group_downlinks: list[tuple[str, bytes, int]] = []
        self.station_downlinks: list[tuple[str, bytes, int, list[str]]] = []
        """Multicast downlinks to a device address: address, PDU, port, base stations."""
        self.fuota: dict[str, dict[str, Any]] = {}
        """Job id → the transfer: its devices, firmware, parameters and state."""
        self._msg_ids = itertools.count(100_000)
        self._addresses = itertools.count(0xBBBBBB01)
        self._tasks: dict[str, dict[str, Any]] = {}
        self._task_ids = itertools.count(1)

    @property
    def url(self) -> str:
        """The API root."""
        return self.base_url

    def add_device(self, dev_eui: str, **fields: Any) -> SenraDevice:
        """Add a device to the application."""
        device = SenraDevice(dev_eui.upper(), **fields)
        if device.kind == "sensor" and device.metadata:
            device.kind = guess_kind(device.metadata)
        self.devices[device.dev_eui] = device
        return device

    def last_query(self, path: str) -> dict[str, str]:
        """Return the query of the last request to ``path`` (under ``/rest/integration/``)."""
        return next(query for taken, query in reversed(self.queries) if taken == path)

    def notify_to(self, url: str, headers: Mapping[str, str]) -> None:
        """Configure the notification target: POST to ``url`` with ``headers``."""
        self.target = (url, dict(headers))

    # --------------------------------------------------------------- notifications

    def notification(
        self,
        dev_eui: str,
        payload: bytes,
        *,
        port: int = 1,
        rf: bool = True,
        when: datetime | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Build the next notification of a device (the sequence number advances)."""
        device = self.devices[dev_eui.upper()]
        device.seqno += 1
        body: dict[str, Any] = {
            "devEui": device.dev_eui,
            "gwEui": "00800000A0001234",
            "joinId": 7,
            "pdu": payload.hex().upper(),
            "port": port,
            "seqno": device.seqno,
            "txtime": (when or _now()).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "devClass": device.dev_class,
        }
        if rf:
            body |= {
                "channel": 64,
                "datarate": 3,
                "freq": 903.9,
                "rssi": -77,
                "snr": 8.5,
                "ismBand": "US915",
                "maxPayload": 53,
            }
        return body | extra

    @staticmethod
    def legacy(body: Mapping[str, Any]) -> dict[str, Any]:
        """Return a notification in the legacy format."""
        names = {
            "devEui": "EUI",
            "pdu": "PDU",
            "freq": "FREQ",
            "gwEui": "GW",
            "txtime": "TXTime",
            "rssi": "RSSI",
            "seqno": "SeqNo",
            "port": "Port",
            "snr": "SNR",
            "datarate": "DataRate",
        }
        return {names[key]: value for key, value in body.items() if key in names}

    async def push(self, body: Any, *, headers: Mapping[str, str] | None = None) -> int:
        """POST a notification body (object, array, or raw bytes) to the target; its status."""
        if self.target is None or self._session is None:
            raise RuntimeError("no notification target")
        url, target_headers = self.target
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with self._session.post(
            url,
            data=data,
            headers={"Content-Type": "application/json", **(headers or target_headers)},
            timeout=ClientTimeout(total=10),
        ) as response:
            status = response.status
        self.push_results.append(status)
        self._notify()
        return status

    async def run_generator(self, interval: float, *, seed: int = 1) -> None:
        """Push realistic Cayenne LPP uplinks forever: each device about every ``interval`` s."""
        rng = random.Random(seed)
        payloads = DemoPayloads(seed)
        while True:
            devices = list(self.devices.values())
            if not devices or self.target is None:
                await asyncio.sleep(interval)
                continue
            for device in devices:
                payload = payloads.next_payload(device.dev_eui, device.kind, _now())
                try:
                    await self.push(self.notification(device.dev_eui, payload))
                except OSError:
                    self.push_results.append(-1)
                    self._notify()
                await asyncio.sleep(interval / len(devices) * rng.uniform(0.8, 1.2))

    # --------------------------------------------------------------- REST

    def _authorized(self, request: web.Request) -> None:
        # The document also allows the key as a URL parameter but does not name it.
        if request.headers.get("authorization") != self.api_key or request.path in self.refused:
            raise web.HTTPForbidden(
                text=json.dumps({"message": "Authorization failure"}),
                content_type="application/json",
            )
        self.requests.append((request.method, request.path))
        self.queries.append((request.path.removeprefix("/rest/integration/"), dict(request.query)))
        self._notify()

    def _device(self, request: web.Request, *names: str) -> SenraDevice:
        dev_eui = next(
            (request.query[name] for name in names or ("eui",) if name in request.query), ""
        ).upper()
        if dev_eui not in self.devices:
            raise web.HTTPNotFound(
                text=json.dumps({"message": "Device EUI was not found"}),
                content_type="application/json",
            )
        return self.devices[dev_eui]

    async def _export(self, request: web.Request) -> web.Response:
        self._authorized(request)
        if request.query.get("appEui", self.app_eui).upper() != self.app_eui:
            raise web.HTTPForbidden(
                text=json.dumps({"message": "Authorization failure"}),
                content_type="application/json",
            )
        fields = request.query.get("fields", "devEui,contract,tags,state,lastHeardFrom")
        columns: list[tuple[str, str]] = []
        for name in fields.split(","):
            if name == "serviceMetrics":
                columns += [(f"metric{part}", f"Metric {part}") for part in "ABC"]
            elif name in _EXPORT_FIELDS:
                columns.append((name, _HEADERS.get(name) or _title(name)))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([header for _name, header in columns])
        for device in self.devices.values():
            values = {
                "devEui": device.dev_eui,
                "contract": "99",
                "tags": device.tags,
                "metadata": device.metadata or "",
                "state": device.state,
                "devType": device.dev_type or "",
                "devAddr": device.dev_addr or "",
                "lat": "" if device.lat is None else str(device.lat),
                "lng": "" if device.lng is None else str(device.lng),
                "profId": "" if device.prof_id is None else str(device.prof_id),
                "registrationDate": _EXPORT_DATE,
                "activationDate": _EXPORT_DATE,
            }
            writer.writerow([values.get(name, "") for name, _header in columns])
        return web.Response(text=out.getvalue(), content_type="text/csv")

    async def _sendmsg(self, request: web.Request) -> web.Response:
        self._authorized(request)
        device = self._device(request)
        query = request.query
        try:
            pdu = bytes.fromhex(query["pdu"])
            port = int(query.get("port", "1"))
            timeout = int(query.get("timeoutMinutes", "65"))
            if not 1 <= port <= 254 or timeout < 1:
                raise ValueError
            # "true or false"; the class is "A, B, or C" (003:150-155).
            if any(query.get(flag, "false") not in _FLAGS for flag in _SENDMSG_FLAGS):
                raise ValueError
            if query.get("class", "A") not in ("A", "B", "C"):
                raise ValueError
        except KeyError, ValueError:
            return web.json_response({"message": "Bad Request"}, status=400)
        if query.get("clear") == "true":
            device.queue.clear()
        if len(device.queue) >= 3:
            return web.json_response({"message": "Downlink queue is full"}, status=400)
        msg_id = next(self._msg_ids)
        device.queue.append(msg_id)
        self.downlinks.append(
            SentDownlink(
                msg_id,
                device.dev_eui,
                pdu,
                port,
                request.query.get("confirmed") == "true",
                dict(request.query),
            )
        )
        return web.json_response({"message": "Success!", "msgId": msg_id})

    async def _clearmsgs(self, request: web.Request) -> web.Response:
        self._authorized(request)
        # The table names the device eui, the example devEui (003:230, 003:245).
        device = self._device(request, "eui", "devEui")
        wanted = request.query.get("msgId")
        if wanted is None:
            cleared, device.queue = device.queue, []
        else:
            cleared = [msg_id for msg_id in device.queue if str(msg_id) == wanted.lstrip("0")]
            device.queue = [msg_id for msg_id in device.queue if msg_id not in cleared]
        return web.json_response({"clearedIds": cleared})

    async def _update(self, request: web.Request) -> web.Response:
        self._authorized(request)
        try:
            body = await request.json()
            items = body["data"]
            if request.query["appEui"].upper() != self.app_eui or not isinstance(items, list):
                raise ValueError
        except ValueError, KeyError, TypeError:
            return web.json_response({"message": "Bad Request"}, status=400)
        messages = []
        changed = 0
        for item in items:
            device = self.devices.get(str(item.get("devEui", "")).upper())
            if device is None:
                messages.append(f"DevEUI: {item.get('devEui')} was not found.")
                continue
            if "devClass" in item:
                device.dev_class = str(item["devClass"]).removeprefix("CLASS_")
            changed += 1
        req_id = f"DevUpdateJobReq:{self.app_eui}-{next(self._task_ids)}"
        self._tasks[req_id] = {
            "polls": self.task_polls,
            "failed": self.fail_tasks,
            "result": {
                "status": f"Device update on App EUI: {self.app_eui} completed.",
                "msgs": messages,
                "stats": {
                    "activated": 0,
                    "updated": changed,
                    "notChanged": 0,
                    "errors": len(messages),
                },
            },
        }
        return web.json_response(
            {"statusUrl": f"{self.base_url}/rest/integration/device/status?reqId={req_id}"}
        )

    async def _status(self, request: web.Request) -> web.Response:
        self._authorized(request)
        task = self._tasks.get(request.query.get("reqId", ""))
        if task is None:
            return web.json_response({"message": "No task"}, status=404)
        if task["polls"] > 0:
            task["polls"] -= 1
            return web.json_response({"state": "RUNNING", "pctDone": 50})
        state = "DONE_FAIL" if task["failed"] else "DONE_SUC"
        return web.json_response({"state": state, "result": task["result"], "pctDone": 100})

    async def _mcast(self, request: web.Request) -> web.Response:
        self._authorized(request)
        query = request.query
        action = request.match_info.get("action", "status")
        try:
            if query["appEui"].upper() != self.app_eui:
                raise ValueError
            if query.get("type", "D2D") not in ("D2D", "APP"):
                raise ValueError
            if action == "setup":
                return web.json_response(self._group_body(self._setup(query)))
        except KeyError, ValueError:
            return web.json_response({"message": "Bad Request"}, status=400)
        group = self.groups.get(query.get("mcAddr", "").upper())
        if group is None:
            return web.json_response({"message": "Multicast group not found"}, status=404)
        self._settle(group)
        if action == "sendmsg":
            try:
                pdu = bytes.fromhex(query["pdu"])
            except KeyError, ValueError:
                return web.json_response({"message": "Bad Request"}, status=400)
            self.group_downlinks.append((group.address, pdu, int(query.get("port", "1"))))
            return web.json_response({"message": "Success!", "msgId": next(self._msg_ids)})
        if action == "status" and request.method == "GET":
            return web.json_response(self._group_body(group))
        if action not in ("addDevices", "removeDevices", "delete"):
            return web.json_response({"message": "Not Found"}, status=404)
        if action == "delete":
            leaving = set(group.members)
            del self.groups[group.address]
        else:
            try:
                chosen = self._chosen(query)
            except ValueError:
                return web.json_response({"message": "Bad Request"}, status=400)
            if action == "addDevices":
                self._join(group, chosen - set(group.members))
                return web.json_response(self._group_body(group))
            leaving = chosen & set(group.members)
        # The answer lists the devices leaving as Closing (003:1114-1148, 003:1259-1282).
        body = self._group_body(group, closing=leaving)
        for dev_eui in leaving:
            group.members.pop(dev_eui, None)
        return web.json_response(body)

    def _chosen(self, query: Mapping[str, str]) -> set[str]:
        """Return the devices a request names: "Either a list of Device EUIs OR ... tags"."""
        euis = {eui.upper() for eui in query.get("devEuis", "").split(",") if eui}
        tags = {tag for tag in query.get("devTags", "").split(",") if tag}
        if bool(euis) == bool(tags):
            raise ValueError  # neither, or both (devTags needs devEuis empty)
        if euis:
            return {eui for eui in euis if eui in self.devices}
        return {
            device.dev_eui
            for device in self.devices.values()
            if tags & {tag.strip() for tag in device.tags.split(",")}
        }

    def _setup(self, query: Mapping[str, str]) -> SenraGroup:
        """Create a group from a set-up request (raises ValueError for a wrong parameter)."""
        chosen = self._chosen(query)
        dev_class = query.get("devClass", "C")
        periodicity = int(query.get("periodicity", "3"))
        if dev_class not in ("B", "C") or not 0 <= periodicity <= 7:
            raise ValueError
        channel = int(query["txChnl"]) if "txChnl" in query else None
        data_rate = int(query["txDr"]) if "txDr" in query else None
        if "contractId" in query and int(query["contractId"]) < 1:
            raise ValueError
        group = SenraGroup(
            address=f"{next(self._addresses):08X}",
            dev_class=dev_class,
            mcast_type=query.get("type", "D2D"),
            periodicity=periodicity,
            channel=channel,
            data_rate=data_rate,
            start_ms=int(_now().timestamp() * 1000),
        )
        self._join(group, chosen)
        self.groups[group.address] = group
        return group

    def _join(self, group: SenraGroup, dev_euis: set[str]) -> None:
        for dev_eui in dev_euis:
            group.members[dev_eui] = "Failed" if dev_eui in self.failing else "Initializing"

    @staticmethod
    def _settle(group: SenraGroup) -> None:
        """Sessions being set up are set up by the next request."""
        for dev_eui, state in group.members.items():
            if state == "Initializing":
                group.members[dev_eui] = "Initialized"

    async def _sendmcastmsg(self, request: web.Request) -> web.Response:
        """Take a multicast downlink to a device address, sent by the base stations listed."""
        self._authorized(request)
        query = request.query
        try:
            address = query["addr"].upper()
            pdu = bytes.fromhex(query["pdu"])
            stations = [station.upper() for station in query["bstnEuis"].split(",") if station]
            int(address, 16)
        except KeyError, ValueError:
            return web.json_response({"message": "Bad Request"}, status=400)
        if not stations:
            return web.json_response({"message": "Bad Request"}, status=400)
        if not any(
            device.dev_addr and device.dev_addr.upper() == address
            for device in self.devices.values()
        ):
            return web.json_response({"message": "Device EUI was not found"}, status=404)
        self.station_downlinks.append((address, pdu, int(query.get("port", "1")), stations))
        return web.json_response({"message": "Success!", "msgId": next(self._msg_ids)})

    def _group_body(self, group: SenraGroup, closing: set[str] | None = None) -> dict[str, Any]:
        """Return a group answer shaped as the document's (US915 RX2 unless a channel is chosen)."""
        closing = closing or set()
        slots = {
            dev_eui: sum(dev_eui in other.members for other in self.groups.values()) % 4
            for dev_eui in group.members
        }
        return {
            "appEui": self.app_eui,
            "devClass": f"CLASS_{group.dev_class}",
            "devs": [
                {
                    "devEui": dev_eui,
                    "groupId": slots[dev_eui],
                    "state": "Closing" if dev_eui in closing else state,
                }
                for dev_eui, state in sorted(group.members.items())
            ],
            "dr": 8 if group.data_rate is None else group.data_rate,
            "durationSecs": MCAST_DURATION,
            "endTime": group.start_ms + MCAST_DURATION * 1000,
            "freq": round(923.3 + 0.6 * (group.channel or 0), 1),
            "maxFCnt": 2**32,
            "mcAddr": group.address,
            "mcastType": group.mcast_type,
            "minFCnt": 1,
            "startTime": group.start_ms,
        }

    async def _fuota_start(self, request: web.Request) -> web.Response:
        self._authorized(request)
        query = request.query
        try:
            if query["appEui"].upper() != self.app_eui:
                raise ValueError
            delay = int(query["startDelaySecs"])
            redundancy = float(query["redundancy"])
            if delay < 1 or not 0 <= redundancy <= 1:
                raise ValueError
            if query.get("devClass", "C") not in ("B", "C"):
                raise ValueError
            if query.get("fragAlg", "FWD_ERR_CORR") not in ("FWD_ERR_CORR", "NB_TRANS"):
                raise ValueError
            devices = sorted(self._chosen(query))
            form = await request.post()
            upload = form["file"]
            firmware = upload.file.read()  # type: ignore[union-attr]
        except KeyError, ValueError, AttributeError:
            return web.json_response({"responseMsg": "Bad Request", "statusCode": 400}, status=400)
        named = [eui.upper() for eui in query.get("devEuis", "").split(",") if eui]
        if not devices or len(devices) < len(named):
            return web.json_response(
                {"responseMsg": "Unknown devices", "statusCode": 404}, status=404
            )
        # One transfer per application at a time: its job id names the application (003:871).
        job_id = f"MCastXferJobReq:{self.app_eui}"
        if self.fuota.get(job_id, {}).get("state") == "Pending":
            return web.json_response(
                {"responseMsg": "MCastXferJobReq job already running", "statusCode": 400},
                status=400,
            )
        self.fuota[job_id] = {
            "devices": devices,
            "firmware": firmware,
            "delay": delay,
            "redundancy": redundancy,
            "devClass": query.get("devClass", "C"),
            "state": "Pending",
            "startTime": int(_now().timestamp() * 1000) + delay * 1000,
        }
        hours, rest = divmod(max(delay - 1, 0), 3600)
        return web.json_response(
            {
                "jobId": job_id,
                "responseMsg": (
                    f"MCastXferJobReq job starting in: {hours:02}:{rest // 60:02}:{rest % 60:02}"
                ),
                "statusCode": 200,
            }
        )

    def _job(self, request: web.Request) -> tuple[str, dict[str, Any]]:
        # The tables spell it jobID, the examples jobId (003:892, 003:901); "Either a Job ID OR"
        # the application (003:897, 003:931).
        query = request.query
        job_id = query.get("jobId") or query.get("jobID") or ""
        if not job_id and query.get("appEui", "").upper() == self.app_eui:
            job_id = f"MCastXferJobReq:{self.app_eui}"
        if job_id not in self.fuota:
            raise web.HTTPNotFound(
                text=json.dumps({"responseMsg": "No such job", "statusCode": 404}),
                content_type="application/json",
            )
        return job_id, self.fuota[job_id]

    async def _fuota_cancel(self, request: web.Request) -> web.Response:
        self._authorized(request)
        job_id, job = self._job(request)
        job["state"] = "Cancelled"
        return web.json_response(
            {"jobId": job_id, "responseMsg": "MCastXferJobReq job cancelled.", "statusCode": 200}
        )

    async def _fuota_status(self, request: web.Request) -> web.Response:
        self._authorized(request)
        job_id, job = self._job(request)
        return web.json_response(
            {
                "jobId": job_id,
                "serverId": "simulator",
                "state": job["state"],
                "startTime": job["startTime"],
                "endTime": 0,
                "removeTime": 0,
                "pctDone": 0,
                "username": "api",
                "result": "",
                "acctId": 1,
                "operId": 1,
                "jobLauncherClsNm": "MCastXferJobLauncher",
            }
        )


# ------------------------------------------------------------------ command line


async def run_demo(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
    """Serve a SenRa simulator, pushing demo uplinks to ``--push-url``, until ``stop`` is set."""
    simulator = SenraSimulator(api_key=args.api_key, app_eui=args.app_eui, port=args.port)
    for dev_eui, dev_addr, demo in demo_devices(args.devices):
        simulator.add_device(dev_eui, metadata=demo.description, dev_addr=dev_addr, kind=demo.kind)
    if args.push_url:
        simulator.notify_to(args.push_url, push_headers(args.push_header))
    async with simulator:
        print(
            f"SenRa simulator: API {simulator.url}, key {args.api_key}, application"
            f" {args.app_eui} ({args.devices} devices, an uplink each every {args.interval:g} s"
            f" pushed to {args.push_url or 'nowhere yet: give --push-url'})",
            flush=True,
        )
        await generate_until(stop, simulator.run_generator(args.interval, seed=args.seed))


COMMAND = Command(
    name="senra",
    help="SenRa / Senet network server (REST API and HTTP notifications)",
    description="Serve a fake SenRa network server on 127.0.0.1 that pushes demo uplinks.",
    port=8768,
    run=run_demo,
    options=(
        Option("--api-key", DEFAULT_API_KEY, "the API key clients use"),
        Option("--app-eui", DEFAULT_APP_EUI, "the application's EUI"),
        PUSH_URL,
        PUSH_HEADER,
    ),
)
