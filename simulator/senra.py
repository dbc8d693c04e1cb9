"""
A SenRa (Senet) network server on 127.0.0.1: the Application REST API subset and a pusher.

The pusher POSTs notifications to a URL with a header, as a SenRa HTTP notification target does:
one JSON object, or a batch (JSON array), in the current or the legacy format; knobs push
malformed bodies, duplicates and a wrong header. Device-update tasks report RUNNING for a number
of status polls before DONE_SUC (or DONE_FAIL with an error message).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime
import io
import itertools
import json
import random
from typing import Any, Final

from aiohttp import ClientTimeout, web

from .lpp import DemoPayloads, guess_kind
from .server import PushingServer

DEFAULT_API_KEY: Final = "AK2:demo0123456789demo0123456789demo012345678"
DEFAULT_APP_EUI: Final = "70B3D57ED0FFFF01"


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
    kind: str = "sensor"
    seqno: int = 0
    queue: list[int] = field(default_factory=list)


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
        self.push_results: list[int] = []
        """The HTTP status of every push made."""
        self.task_polls = 2
        """Status polls a task stays RUNNING for."""
        self.fail_tasks = False
        self.target: tuple[str, dict[str, str]] | None = None
        """Where to push: URL and headers (a notification target)."""
        self.groups: dict[str, set[str]] = {}
        """Multicast address → member DevEUIs."""
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
        key = request.headers.get("authorization") or request.query.get("key")
        if key != self.api_key:
            raise web.HTTPForbidden(
                text=json.dumps({"message": "Authorization failure"}),
                content_type="application/json",
            )
        self.requests.append((request.method, request.path))
        self._notify()

    def _device(self, request: web.Request, name: str = "eui") -> SenraDevice:
        dev_eui = request.query.get(name, "").upper()
        if dev_eui not in self.devices:
            raise web.HTTPNotFound(
                text=json.dumps({"message": "Device EUI was not found"}),
                content_type="application/json",
            )
        return self.devices[dev_eui]

    async def _export(self, request: web.Request) -> web.Response:
        self._authorized(request)
        if request.query.get("appEui", self.app_eui).upper() != self.app_eui:
            raise web.HTTPForbidden(text="wrong application")
        fields = request.query.get("fields", "devEui,contract,tags,state,lastHeardFrom")
        headers = {
            "devEui": "Dev EUI",
            "contract": "Contract",
            "tags": "Tags",
            "metadata": "Metadata",
            "state": "State",
            "devType": "Dev Type",
            "devAddr": "Dev Addr",
            "lat": "Lat",
            "lng": "Lng",
            "lastHeardFrom": "Last Heard From",
        }
        names = [name for name in fields.split(",") if name in headers]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([headers[name] for name in names])
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
                "lastHeardFrom": "",
            }
            writer.writerow([values[name] for name in names])
        return web.Response(text=out.getvalue(), content_type="text/csv")

    async def _sendmsg(self, request: web.Request) -> web.Response:
        self._authorized(request)
        device = self._device(request)
        try:
            pdu = bytes.fromhex(request.query["pdu"])
            port = int(request.query.get("port", "1"))
            if not 1 <= port <= 254:
                raise ValueError
        except KeyError, ValueError:
            return web.json_response({"message": "Bad Request"}, status=400)
        if request.query.get("clear") == "true":
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
        device = self._device(request)
        cleared, device.queue = device.queue, []
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
                "stats": {"updated": changed, "errors": len(messages)},
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
        if query.get("appEui", "").upper() != self.app_eui:
            return web.json_response({"message": "Bad Request"}, status=400)
        action = request.match_info.get("action", "status")
        euis = [e.upper() for e in query.get("devEuis", "").split(",") if e]
        if action == "setup":
            tags = set(query.get("devTags", "").split(","))
            members = {d.dev_eui for d in self.devices.values() if tags & set(d.tags.split(","))}
            address = f"{next(self._addresses):08X}"
            self.groups[address] = members | {e for e in euis if e in self.devices}
            return web.json_response(self._group_body(address))
        address = query.get("mcAddr", "").upper()
        if address not in self.groups:
            return web.json_response({"message": "Multicast group not found"}, status=404)
        if action == "addDevices":
            self.groups[address] |= {e for e in euis if e in self.devices}
        elif action == "removeDevices":
            self.groups[address] -= set(euis)
        elif action == "status" and request.method == "GET":
            pass
        elif action == "delete":
            del self.groups[address]
            return web.json_response({"appEui": self.app_eui, "mcAddr": address, "devs": []})
        elif action == "sendmsg":
            try:
                pdu = bytes.fromhex(query["pdu"])
            except KeyError, ValueError:
                return web.json_response({"message": "Bad Request"}, status=400)
            self.group_downlinks.append((address, pdu, int(query.get("port", "1"))))
            return web.json_response({"message": "Success!", "msgId": next(self._msg_ids)})
        else:
            return web.json_response({"message": "Not Found"}, status=404)
        return web.json_response(self._group_body(address))

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

    def _group_body(self, address: str) -> dict[str, Any]:
        return {
            "appEui": self.app_eui,
            "devClass": "CLASS_C",
            "devs": [
                {"devEui": eui, "groupId": 1, "state": "Initializing"}
                for eui in sorted(self.groups[address])
            ],
            "mcAddr": address,
            "mcastType": "APP",
        }

    async def _fuota_start(self, request: web.Request) -> web.Response:
        self._authorized(request)
        query = request.query
        try:
            if query["appEui"].upper() != self.app_eui:
                raise ValueError
            delay = int(query["startDelaySecs"])
            redundancy = float(query["redundancy"])
            form = await request.post()
            upload = form["file"]
            firmware = upload.file.read()  # type: ignore[union-attr]
        except KeyError, ValueError, AttributeError:
            return web.json_response({"responseMsg": "Bad Request", "statusCode": 400}, status=400)
        devices = [eui.upper() for eui in query.get("devEuis", "").split(",") if eui]
        if not devices or any(eui not in self.devices for eui in devices):
            return web.json_response(
                {"responseMsg": "Unknown devices", "statusCode": 404}, status=404
            )
        job_id = f"MCastXferJobReq:{self.app_eui}-{len(self.fuota) + 1}"
        self.fuota[job_id] = {
            "devices": devices,
            "firmware": firmware,
            "delay": delay,
            "redundancy": redundancy,
            "devClass": query.get("devClass", "C"),
            "state": "Pending",
        }
        return web.json_response(
            {"jobId": job_id, "responseMsg": "MCastXferJobReq job starting", "statusCode": 200}
        )

    async def _fuota_cancel(self, request: web.Request) -> web.Response:
        self._authorized(request)
        job = self.fuota.get(request.query.get("jobId", ""))
        if job is None:
            return web.json_response({"responseMsg": "No such job", "statusCode": 404}, status=404)
        job["state"] = "Cancelled"
        return web.json_response({"jobId": request.query["jobId"], "statusCode": 200})

    async def _fuota_status(self, request: web.Request) -> web.Response:
        self._authorized(request)
        job_id = request.query.get("jobId", "")
        job = self.fuota.get(job_id)
        if job is None:
            return web.json_response({"responseMsg": "No such job", "statusCode": 404}, status=404)
        return web.json_response(
            {"jobId": job_id, "state": job["state"], "pctDone": 0, "result": ""}
        )
