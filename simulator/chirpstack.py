"""
A fake ChirpStack v4 network server: the gRPC API Home Assistant's ``chirpstack`` uses.

That is what ``lorawan-connection``'s ChirpStack backend calls. The services are the
``chirpstack-api`` package's generated servicers, served by ``grpc.aio`` on 127.0.0.1.
Implemented, as ChirpStack 4 answers them:

* ``TenantService.List`` / ``Get``, ``ApplicationService.List``,
  ``DeviceService.List`` / ``Get`` / ``Enqueue``;
* ``DeviceProfileService.Get`` (with the device-catalog link ``device_id``) and
  the catalog's ``GetDevice`` / ``GetVendor`` (the vendor carries its LoRa Alliance
  ``vendor_id``);
* ``InternalService.StreamDeviceEvents``: one stream per device that first replays
  the device's retained events (the last ``event_history``, as ChirpStack reads its
  per-device Redis stream from the start) and then sends new ones as they happen
  (ChirpStack polls that stream every second; the simulator sends at once).
  Each item is a ``LogItem``: ``id`` the Redis stream id ``<millis>-<seq>``,
  ``time`` the event's time, ``description`` the event type (``up``, ``join``,
  ``status``, ``ack``, ``txack``, ``log``, ``location``), ``body`` the event's
  ``chirpstack_api.integration`` message in protobuf JSON and ``properties`` the
  summary ChirpStack adds.

Every other method answers UNIMPLEMENTED (the generated base classes), and so does
a request that uses a filter or option the simulator does not model (search,
ordering, tags, queue flushing, codec objects, encrypted payloads): a request the
simulator cannot answer faithfully is refused, never half-answered.

Access follows ChirpStack's API keys, sent as ``authorization: Bearer <key>``: a
missing or unknown key is UNAUTHENTICATED. An admin key reaches everything and
gets NOT_FOUND for objects that do not exist; a tenant key reaches its own tenant,
and anything else (another tenant's object, a missing one, the tenant list) is
UNAUTHENTICATED, as ChirpStack's access validators answer; the device-profile
catalog is global and read with any valid key. A read-only key (the knob for a key
without write permission) gets PERMISSION_DENIED from ``Enqueue``.

Identifiers are UUIDs (derived from the names unless given, so a restarted
simulator keeps them) and DevEUIs are lower-case hex, as ChirpStack returns them.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import random
import re
import struct
import time
from typing import Any
import uuid

from chirpstack_api import api, common, gw, integration  # type: ignore[import-untyped]
from google.protobuf.json_format import MessageToJson
import grpc

from .command import Command, Option, demo_devices, generate_until
from .lpp import DemoPayloads, guess_kind
from .server import LOCALHOST, StartStop

DEFAULT_API_KEY = "demo-api-key"
DEFAULT_GATEWAY_ID = "0016c001ff10a235"
SEEED_VENDOR_ID = 744
"""Seeed Technology's LoRa Alliance vendor id (SenseCAP devices)."""
SEEED_VENDOR_NAME = "Seeed Technology Co., Ltd"
S2101_CATALOG_ID = "fc455aa2-01cf-492b-9359-a5d8c9a0e1b3"
"""The SenseCAP S2101's device-catalog UUID, as device libraries identify it."""
S2101_NAME = "S2101- LoRaWAN® Air Temperature and Humidity Sensor"
MALFORMED_KINDS = ("json", "fields", "id", "overflow", "other_device", "unknown_type")

_NAMESPACE = uuid.UUID("6f1d3c52-8a4e-4c7b-9d0a-2b7e5c1f9a64")
_EUI = re.compile(r"[0-9a-f]{16}")
_DEV_ADDR = re.compile(r"[0-9a-f]{8}")

type _Context = grpc.aio.ServicerContext[Any, Any]


def _now() -> datetime:
    return datetime.now(UTC)


def _stable_id(kind: str, *names: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, ":".join((kind, *names))))


def _canonical_uuid(text: str) -> str:
    """Return ``text`` as a canonical UUID string; ValueError if it is none."""
    return str(uuid.UUID(text))


def _canonical_eui(text: str) -> str:
    """Return ``text`` as ChirpStack writes a DevEUI (lower-case hex); ValueError if none."""
    eui = text.replace(":", "").replace("-", "").lower()
    if not _EUI.fullmatch(eui):
        raise ValueError(f"{text!r} is not an EUI-64")
    return eui


def s2101_payload(temperature: float, humidity: float) -> bytes:
    """
    Encode a SenseCAP S2101 telemetry frame: two 7-byte records and a 2-byte trailer.

    A record is channel (1), measurement id (2, little-endian: 4097 temperature,
    4098 humidity) and value times 1000 (4, little-endian, signed), as in the LoRaWAN
    Device Repository's sample ``01011098530000010210A87A0000AF51``.
    """
    records = b"".join(
        struct.pack("<BHi", 1, measurement, round(value * 1000))
        for measurement, value in ((4097, temperature), (4098, humidity))
    )
    return records + b"\xaf\x51"


# ----------------------------------------------------------------------- the data


@dataclass
class Tenant:
    """A tenant."""

    id: str
    name: str
    description: str = ""


@dataclass
class Application:
    """An application of a tenant."""

    id: str
    tenant_id: str
    name: str
    description: str = ""


@dataclass
class CatalogVendor:
    """A vendor of the device-profile catalog, with its LoRa Alliance vendor id."""

    id: str
    name: str
    vendor_id: int


@dataclass
class CatalogDevice:
    """A device of the device-profile catalog; ``vendor_id`` is its vendor's UUID."""

    id: str
    vendor_id: str
    name: str
    description: str = ""


@dataclass
class DeviceProfile:
    """A device profile; ``device_id`` links it to a catalog device (empty: no link)."""

    id: str
    tenant_id: str
    name: str
    device_id: str = ""


@dataclass
class SimulatedDevice:
    """A device (DevEUI in lower-case hex) and what the simulator tracks of it."""

    dev_eui: str
    application_id: str
    device_profile_id: str
    name: str
    description: str = ""
    dev_addr: str = ""
    kind: str = "sensor"
    """What the generator simulates: ``sensor``, ``door``, ``tracker`` or ``s2101``."""
    f_cnt_up: int = 0
    f_cnt_down: int = 0
    last_seen_at: datetime | None = None
    margin: int | None = None
    """The last status: link margin (None: no status yet), power and battery."""
    external_power_source: bool = False
    battery_level: float | None = None
    created_at: datetime = field(default_factory=_now)


@dataclass
class QueuedDownlink:
    """A downlink a client enqueued, exactly as it was given."""

    id: str
    dev_eui: str
    f_port: int
    data: bytes
    confirmed: bool
    expires_at: datetime | None
    enqueued_at: datetime
    f_cnt_down: int | None = None
    """Set once the downlink was sent (``emit_txack``); None while it waits."""
    acknowledged: bool | None = None
    """The device's answer to a confirmed downlink (``emit_ack``)."""

    @property
    def pending(self) -> bool:
        """Whether the downlink still waits in the device queue."""
        return self.f_cnt_down is None


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key: admin (``tenant_id`` None) or for one tenant; may lack write permission."""

    key: str
    tenant_id: str | None = None
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class Reception:
    """One gateway's reception of an uplink."""

    gateway_id: str = DEFAULT_GATEWAY_ID
    rssi: int = -80
    snr: float = 7.5


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An entry of a device's event stream, as the stream sends it."""

    id: str
    description: str
    body: str
    time: datetime
    properties: dict[str, str]


@dataclass(frozen=True, slots=True)
class Call:
    """A request a client made: ``Service.Method``, the request message, the key it sent."""

    method: str
    request: Any
    api_key: str | None


@dataclass(frozen=True, slots=True)
class _End:
    """The end of a stream: with ``code`` an error, without one a clean end."""

    code: grpc.StatusCode | None
    details: str = ""


@dataclass
class _Failures:
    count: int
    code: grpc.StatusCode
    method: str | None


class ChirpStackSimulator(StartStop):
    """
    A fake ChirpStack v4 gRPC server on 127.0.0.1.

    State for tests: ``tenants``, ``applications``, ``device_profiles``,
    ``catalog_vendors``, ``catalog_devices``, ``devices`` (by DevEUI), ``api_keys``,
    ``downlinks`` (every enqueued downlink, in order; ``queue(dev_eui)`` those still
    waiting) and ``calls`` (every request, in order). Fault knobs: ``fail_next``
    (the next calls fail, UNAVAILABLE by default), ``drop_streams`` (end the event
    streams with an error or cleanly), ``stall``/``resume`` (calls and stream items
    wait), ``delay`` (seconds before each answer), ``send_malformed`` (a bad stream
    item), a read-only key (``add_api_key(..., read_only=True)``).
    """

    def __init__(
        self, *, api_key: str = DEFAULT_API_KEY, port: int = 0, event_history: int = 10
    ) -> None:
        """Prepare an empty server that accepts ``api_key`` as an admin key."""
        self.api_keys: dict[str, ApiKey] = {api_key: ApiKey(api_key)}
        self.event_history = event_history
        """How many events of each device a new stream replays (ChirpStack's default: 10)."""
        self.tenants: dict[str, Tenant] = {}
        self.applications: dict[str, Application] = {}
        self.catalog_vendors: dict[str, CatalogVendor] = {}
        self.catalog_devices: dict[str, CatalogDevice] = {}
        self.device_profiles: dict[str, DeviceProfile] = {}
        self.devices: dict[str, SimulatedDevice] = {}
        self.downlinks: list[QueuedDownlink] = []
        self.calls: list[Call] = []
        self.delay = 0.0
        """Seconds to wait before answering each call."""
        self._requested_port = port
        self._port: int | None = None
        self._server: grpc.aio.Server | None = None
        self._history: dict[str, deque[StoredEvent]] = {}
        self._last_ids: dict[str, tuple[int, int]] = {}
        self._streams: dict[str, set[asyncio.Queue[StoredEvent | _End]]] = {}
        self._failures: _Failures | None = None
        self._running = asyncio.Event()
        self._running.set()
        self._wakeup = asyncio.Event()

    # ----------------------------------------------------------------- lifecycle

    @property
    def port(self) -> int:
        """The TCP port the server listens (or, once stopped, listened) on."""
        if self._port is None:
            raise RuntimeError("the server has not been started")
        return self._port

    @property
    def endpoint(self) -> str:
        """What a client is configured with, e.g. ``http://127.0.0.1:8770``."""
        return f"http://{LOCALHOST}:{self.port}"

    async def start(self) -> None:
        """
        Bind the port and serve; port 0 binds a free one.

        A stopped simulator started again binds the same port.
        """
        if self._server is not None:
            raise RuntimeError("the server is already started")
        server = grpc.aio.server(options=(("grpc.so_reuseport", 0),))
        api.add_TenantServiceServicer_to_server(_TenantService(self), server)
        api.add_ApplicationServiceServicer_to_server(_ApplicationService(self), server)
        api.add_DeviceServiceServicer_to_server(_DeviceService(self), server)
        api.add_DeviceProfileServiceServicer_to_server(_DeviceProfileService(self), server)
        api.add_InternalServiceServicer_to_server(_InternalService(self), server)
        port = server.add_insecure_port(f"{LOCALHOST}:{self._requested_port}")
        await server.start()
        self._server = server
        self._port = self._requested_port = port

    async def stop(self) -> None:
        """End every stream cleanly and stop serving; does nothing when not started."""
        server, self._server = self._server, None
        if server is not None:
            self.resume()
            self.drop_streams(code=None)
            await server.stop(grace=1.0)

    # ---------------------------------------------------------------- inventory

    def add_api_key(
        self, key: str, *, tenant_id: str | None = None, read_only: bool = False
    ) -> ApiKey:
        """Accept ``key``: an admin key, or one for ``tenant_id``; read-only if asked."""
        api_key = ApiKey(key, tenant_id, read_only)
        self.api_keys[key] = api_key
        return api_key

    def add_tenant(self, name: str, *, tenant_id: str | None = None) -> Tenant:
        """Add a tenant; its id derives from ``name`` unless given."""
        tenant = Tenant(_canonical_uuid(tenant_id or _stable_id("tenant", name)), name)
        self.tenants[tenant.id] = tenant
        return tenant

    def add_application(
        self, tenant_id: str, name: str, *, application_id: str | None = None
    ) -> Application:
        """Add an application to a tenant (KeyError for an unknown tenant)."""
        tenant = self.tenants[tenant_id]
        application = Application(
            _canonical_uuid(application_id or _stable_id("application", tenant.id, name)),
            tenant.id,
            name,
        )
        self.applications[application.id] = application
        return application

    def add_catalog_vendor(
        self, vendor_id: int, name: str, *, catalog_id: str | None = None
    ) -> CatalogVendor:
        """Add a catalog vendor with LoRa Alliance ``vendor_id`` (reused if already there)."""
        for vendor in self.catalog_vendors.values():
            if vendor.vendor_id == vendor_id and catalog_id is None:
                return vendor
        vendor = CatalogVendor(
            _canonical_uuid(catalog_id or _stable_id("vendor", str(vendor_id))), name, vendor_id
        )
        self.catalog_vendors[vendor.id] = vendor
        return vendor

    def add_catalog_device(
        self, vendor: CatalogVendor, name: str, *, device_id: str | None = None
    ) -> CatalogDevice:
        """Add a device of ``vendor`` to the catalog; its UUID derives from the names."""
        device = CatalogDevice(
            _canonical_uuid(device_id or _stable_id("catalog-device", vendor.id, name)),
            vendor.id,
            name,
        )
        self.catalog_devices[device.id] = device
        return device

    def add_device_profile(
        self,
        tenant_id: str,
        name: str,
        *,
        profile_id: str | None = None,
        vendor_id: int | None = None,
        vendor_name: str = "",
        model_name: str = "",
        catalog_device_id: str | None = None,
    ) -> DeviceProfile:
        """
        Add a device profile to a tenant, linked to the catalog when ``vendor_id`` is given.

        The link names a catalog device ``model_name`` (UUID ``catalog_device_id``
        when given) of the vendor with LoRa Alliance id ``vendor_id``, both added
        to the catalog. Without ``vendor_id``, ``catalog_device_id`` alone makes a
        link to a catalog device that does not exist.
        """
        tenant = self.tenants[tenant_id]
        link = _canonical_uuid(catalog_device_id) if catalog_device_id else ""
        if vendor_id is not None:
            vendor = self.add_catalog_vendor(vendor_id, vendor_name)
            link = self.add_catalog_device(vendor, model_name, device_id=link or None).id
        profile = DeviceProfile(
            _canonical_uuid(profile_id or _stable_id("profile", tenant.id, name)),
            tenant.id,
            name,
            link,
        )
        self.device_profiles[profile.id] = profile
        return profile

    def add_device(
        self,
        dev_eui: str,
        application_id: str,
        device_profile_id: str,
        *,
        name: str = "",
        description: str = "",
        dev_addr: str | None = None,
        kind: str | None = None,
    ) -> SimulatedDevice:
        """
        Add a device to an application (KeyError for an unknown application or profile).

        ``name`` defaults to the DevEUI, ``kind`` to a guess from the name.
        """
        eui = _canonical_eui(dev_eui)
        application = self.applications[application_id]
        profile = self.device_profiles[device_profile_id]
        if profile.tenant_id != application.tenant_id:
            raise ValueError("the device profile belongs to another tenant")
        device = SimulatedDevice(
            dev_eui=eui,
            application_id=application.id,
            device_profile_id=profile.id,
            name=name or eui,
            description=description,
            dev_addr=(dev_addr or eui[-8:]).lower(),
            kind=kind or guess_kind(name),
        )
        self.devices[eui] = device
        return device

    def remove_device(self, dev_eui: str) -> None:
        """Delete a device; its retained events stay, as in Redis, until it expires."""
        del self.devices[_canonical_eui(dev_eui)]

    # ------------------------------------------------------------------- events

    def emit_uplink(
        self,
        dev_eui: str,
        data: bytes,
        *,
        f_port: int = 1,
        f_cnt: int | None = None,
        receptions: Sequence[Reception] = (Reception(),),
        dr: int = 5,
        frequency: int = 868100000,
        confirmed: bool = False,
        recorded_at: datetime | None = None,
    ) -> StoredEvent:
        """
        Record an uplink of ``dev_eui`` received by ``receptions`` and stream it.

        ``f_cnt`` defaults to the device's next frame counter; ``recorded_at``
        (the stream id's time) to now.
        """
        device = self._device(dev_eui)
        if f_cnt is None:
            f_cnt = device.f_cnt_up
        device.f_cnt_up = f_cnt + 1
        device.last_seen_at = _now()
        message = integration.UplinkEvent(
            deduplication_id=str(uuid.uuid4()),
            dev_addr=device.dev_addr,
            adr=True,
            dr=dr,
            f_cnt=f_cnt,
            f_port=f_port,
            confirmed=confirmed,
            data=data,
            rx_info=[
                gw.UplinkRxInfo(
                    gateway_id=reception.gateway_id,
                    uplink_id=random.getrandbits(32),
                    rssi=reception.rssi,
                    snr=reception.snr,
                    channel=0,
                    crc_status=gw.CRC_OK,
                )
                for reception in receptions
            ],
            tx_info=gw.UplinkTxInfo(
                frequency=frequency,
                modulation=gw.Modulation(
                    lora=gw.LoraModulationInfo(
                        bandwidth=125000, spreading_factor=12 - dr, code_rate=gw.CR_4_5
                    )
                ),
            ),
        )
        properties = {"DR": str(dr), "FPort": str(f_port), "FCnt": str(f_cnt), "Data": data.hex()}
        return self.emit_event(device.dev_eui, "up", message, properties, recorded_at=recorded_at)

    def emit_join(self, dev_eui: str, *, dev_addr: str | None = None) -> StoredEvent:
        """Record an (OTAA) join of ``dev_eui``, with a new DevAddr if given, and stream it."""
        device = self._device(dev_eui)
        if dev_addr is not None:
            if not _DEV_ADDR.fullmatch(dev_addr.lower()):
                raise ValueError(f"{dev_addr!r} is not a DevAddr")
            device.dev_addr = dev_addr.lower()
        device.f_cnt_up = device.f_cnt_down = 0
        device.last_seen_at = _now()
        message = integration.JoinEvent(
            deduplication_id=str(uuid.uuid4()), dev_addr=device.dev_addr
        )
        return self.emit_event(device.dev_eui, "join", message, {"DevAddr": device.dev_addr})

    def emit_status(
        self,
        dev_eui: str,
        *,
        margin: int = 10,
        external_power_source: bool = False,
        battery_level: float | None = None,
    ) -> StoredEvent:
        """Record a device status answer (``battery_level`` None: unavailable) and stream it."""
        device = self._device(dev_eui)
        device.margin = margin
        device.external_power_source = external_power_source
        device.battery_level = battery_level
        message = integration.StatusEvent(
            deduplication_id=str(uuid.uuid4()),
            margin=margin,
            external_power_source=external_power_source,
            battery_level_unavailable=battery_level is None,
            battery_level=battery_level or 0.0,
        )
        properties = {
            "Margin": str(margin),
            "Battery level": f"{battery_level or 0.0:.0f}%",
            "Battery level unavailable": str(battery_level is None).lower(),
            "External power source": str(external_power_source).lower(),
        }
        return self.emit_event(device.dev_eui, "status", message, properties)

    def emit_txack(
        self, queue_item_id: str, *, gateway_id: str = DEFAULT_GATEWAY_ID
    ) -> StoredEvent:
        """Send an enqueued downlink through ``gateway_id`` and stream the gateway's ack."""
        downlink = self._downlink(queue_item_id)
        device = self._device(downlink.dev_eui)
        downlink.f_cnt_down = device.f_cnt_down
        device.f_cnt_down += 1
        message = integration.TxAckEvent(
            downlink_id=random.getrandbits(32),
            queue_item_id=downlink.id,
            f_cnt_down=downlink.f_cnt_down,
            gateway_id=gateway_id,
        )
        return self.emit_event(device.dev_eui, "txack", message, {})

    def emit_ack(self, queue_item_id: str, *, acknowledged: bool = True) -> StoredEvent:
        """Stream the device's answer to a confirmed downlink (sent first if it was not)."""
        downlink = self._downlink(queue_item_id)
        if downlink.pending:
            self.emit_txack(queue_item_id)
        downlink.acknowledged = acknowledged
        message = integration.AckEvent(
            deduplication_id=str(uuid.uuid4()),
            queue_item_id=downlink.id,
            acknowledged=acknowledged,
            f_cnt_down=downlink.f_cnt_down,
        )
        return self.emit_event(downlink.dev_eui, "ack", message, {})

    def emit_log(
        self,
        dev_eui: str,
        description: str,
        *,
        level: int = integration.WARNING,
        code: int = integration.UNKNOWN,
    ) -> StoredEvent:
        """Stream a log event (``integration.LogLevel`` and ``LogCode`` values)."""
        message = integration.LogEvent(level=level, code=code, description=description)
        properties = {
            "Level": integration.LogLevel.Name(level),
            "Code": integration.LogCode.Name(code),
        }
        return self.emit_event(dev_eui, "log", message, properties)

    def emit_location(
        self, dev_eui: str, latitude: float, longitude: float, altitude: float = 0.0
    ) -> StoredEvent:
        """Stream a resolved location of ``dev_eui``."""
        message = integration.LocationEvent(
            deduplication_id=str(uuid.uuid4()),
            location=common.Location(
                latitude=latitude,
                longitude=longitude,
                altitude=altitude,
                source=common.GEO_RESOLVER_GNSS,
            ),
        )
        return self.emit_event(dev_eui, "location", message, {})

    def emit_event(
        self,
        dev_eui: str,
        description: str,
        message: Any,
        properties: dict[str, str] | None = None,
        *,
        recorded_at: datetime | None = None,
    ) -> StoredEvent:
        """
        Stream any ``integration`` event message of a device under ``description``.

        Its ``device_info`` and ``time`` are filled in unless set. ``recorded_at``
        gives the stream id's time; like Redis, the ids of a stream only grow.
        """
        device = self._device(dev_eui)
        if not message.HasField("device_info"):
            message.device_info.CopyFrom(self._device_info(device))
        if not message.HasField("time"):
            message.time.FromDatetime(_now())
        return self._append(
            device.dev_eui,
            description,
            MessageToJson(message, indent=None),
            message.time.ToDatetime(UTC),
            properties or {},
            recorded_at=recorded_at,
        )

    def _append(
        self,
        dev_eui: str,
        description: str,
        body: str,
        moment: datetime,
        properties: dict[str, str],
        *,
        recorded_at: datetime | None = None,
        stream_id: str | None = None,
    ) -> StoredEvent:
        event = StoredEvent(
            stream_id or self._next_id(dev_eui, recorded_at),
            description,
            body,
            moment,
            properties,
        )
        history = self._history.setdefault(dev_eui, deque(maxlen=self.event_history))
        history.append(event)
        for queue in self._streams.get(dev_eui, ()):
            queue.put_nowait(event)
        self._notify()
        return event

    def _next_id(self, dev_eui: str, recorded_at: datetime | None) -> str:
        last_ms, last_seq = self._last_ids.get(dev_eui, (0, -1))
        if recorded_at is None:
            millis = max(time.time_ns() // 1_000_000, last_ms)
        else:
            millis = int(recorded_at.timestamp() * 1000)
            if millis < last_ms:
                raise ValueError("the ids of a stream only grow: recorded_at is too early")
        seq = last_seq + 1 if millis == last_ms else 0
        self._last_ids[dev_eui] = (millis, seq)
        return f"{millis}-{seq}"

    def history(self, dev_eui: str) -> list[StoredEvent]:
        """Return the retained events of a device, oldest first."""
        return list(self._history.get(_canonical_eui(dev_eui), ()))

    def _device(self, dev_eui: str) -> SimulatedDevice:
        return self.devices[_canonical_eui(dev_eui)]

    def _downlink(self, queue_item_id: str) -> QueuedDownlink:
        for downlink in self.downlinks:
            if downlink.id == queue_item_id:
                return downlink
        raise KeyError(queue_item_id)

    def _device_info(self, device: SimulatedDevice) -> Any:
        application = self.applications[device.application_id]
        return integration.DeviceInfo(
            tenant_id=application.tenant_id,
            tenant_name=self.tenants[application.tenant_id].name,
            application_id=application.id,
            application_name=application.name,
            device_profile_id=device.device_profile_id,
            device_profile_name=self.device_profiles[device.device_profile_id].name,
            device_name=device.name,
            dev_eui=device.dev_eui,
            device_class_enabled=common.CLASS_A,
        )

    # ---------------------------------------------------------------- downlinks

    def enqueue(
        self,
        dev_eui: str,
        f_port: int,
        data: bytes,
        *,
        confirmed: bool = False,
        expires_at: datetime | None = None,
    ) -> QueuedDownlink:
        """Put a downlink in a device's queue, as ``DeviceService.Enqueue`` does."""
        downlink = QueuedDownlink(
            id=str(uuid.uuid4()),
            dev_eui=self._device(dev_eui).dev_eui,
            f_port=f_port,
            data=data,
            confirmed=confirmed,
            expires_at=expires_at,
            enqueued_at=_now(),
        )
        self.downlinks.append(downlink)
        self._notify()
        return downlink

    async def wait_for_downlinks(self, count: int) -> None:
        """Wait until at least ``count`` downlinks were enqueued."""
        await self.wait_for(lambda: len(self.downlinks) >= count)

    def queue(self, dev_eui: str) -> list[QueuedDownlink]:
        """Return the downlinks still waiting in a device's queue, oldest first."""
        eui = _canonical_eui(dev_eui)
        return [d for d in self.downlinks if d.dev_eui == eui and d.pending]

    # ------------------------------------------------------------- synchronising

    def stream_count(self, dev_eui: str | None = None) -> int:
        """How many event streams are open (for one device if given)."""
        if dev_eui is not None:
            return len(self._streams.get(_canonical_eui(dev_eui), ()))
        return sum(len(queues) for queues in self._streams.values())

    def _notify(self) -> None:
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate`` holds, checked after each call, event and stream change."""
        while not predicate():
            await self._wakeup.wait()

    async def wait_for_streams(self, count: int, dev_eui: str | None = None) -> None:
        """Wait until at least ``count`` event streams are open (for one device if given)."""
        await self.wait_for(lambda: self.stream_count(dev_eui) >= count)

    # ---------------------------------------------------------------- fault knobs

    def fail_next(
        self,
        count: int = 1,
        code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE,
        *,
        method: str | None = None,
    ) -> None:
        """Fail the next ``count`` calls (of ``method``, e.g. ``DeviceService.Enqueue``)."""
        self._failures = _Failures(count, code, method) if count > 0 else None

    def drop_streams(
        self,
        code: grpc.StatusCode | None = grpc.StatusCode.UNAVAILABLE,
        *,
        dev_eui: str | None = None,
        details: str = "stream dropped",
    ) -> None:
        """End the open event streams (of one device if given): with ``code``, or cleanly."""
        eui = _canonical_eui(dev_eui) if dev_eui is not None else None
        for stream_eui, queues in self._streams.items():
            if eui in (None, stream_eui):
                for queue in queues:
                    queue.put_nowait(_End(code, details))

    def stall(self) -> None:
        """Hold every call and stream item until ``resume``."""
        self._running.clear()

    def resume(self) -> None:
        """Answer the held calls and send the held stream items."""
        self._running.set()

    def send_malformed(self, dev_eui: str, kind: str) -> StoredEvent:
        """
        Stream one bad item of ``kind`` (see ``MALFORMED_KINDS``) to a device's streams.

        ``json``: a body that is not JSON; ``fields``: fields of the wrong type;
        ``id``: a stream id that is not ``<millis>-<seq>``; ``overflow``: an id
        whose time no clock can hold; ``other_device``: a body of another DevEUI;
        ``unknown_type``: an event type the clients do not know (``integration``).
        """
        device = self._device(dev_eui)
        info = MessageToJson(self._device_info(device), indent=None)
        stream_id: str | None = None
        description = "up"
        match kind:
            case "json":
                body = '{"deviceInfo": '
            case "fields":
                body = f'{{"deviceInfo": {info}, "fPort": "one", "data": 7}}'
            case "id":
                body, stream_id = f'{{"deviceInfo": {info}}}', "not-an-id"
            case "overflow":
                body, stream_id = f'{{"deviceInfo": {info}}}', f"{10**30}-0"
            case "other_device":
                other = self._device_info(device)
                other.dev_eui = "ffffffffffffffff"
                body = MessageToJson(integration.UplinkEvent(device_info=other), indent=None)
            case "unknown_type":
                description, body = "integration", f'{{"deviceInfo": {info}}}'
            case _:
                raise ValueError(f"unknown malformed item kind {kind!r}")
        return self._append(device.dev_eui, description, body, _now(), {}, stream_id=stream_id)

    # ------------------------------------------------------------- the services

    async def admit(self, method: str, request: Any, context: _Context) -> ApiKey:
        """
        Begin one call: record it, apply the fault knobs, then check its API key.

        The servicers call this first; it aborts the call on a failure. The key
        must come as ``Bearer <key>``; ``calls`` records it without the prefix.
        """
        metadata = dict(context.invocation_metadata() or ())
        authorization = metadata.get("authorization")
        token = authorization.removeprefix("Bearer ") if isinstance(authorization, str) else None
        self.calls.append(Call(method, request, token))
        self._notify()
        await self._running.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        failures = self._failures
        if failures is not None and failures.method in (None, method):
            failures.count -= 1
            if failures.count <= 0:
                self._failures = None
            await context.abort(failures.code, "simulated failure")
        if authorization is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "authorization metadata missing")
        if token in (None, authorization) or token not in self.api_keys:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid API key")
        return self.api_keys[token]

    async def lookup[T](
        self,
        context: _Context,
        key: ApiKey,
        table: dict[str, T],
        object_id: str,
        tenant_of: Callable[[T], str | None],
    ) -> T:
        """
        Return ``table[object_id]`` if ``key`` may read it, else abort the call.

        A missing object is NOT_FOUND for an admin key; a tenant key gets
        UNAUTHENTICATED for it and for another tenant's object. Objects of no
        tenant (``tenant_of`` None: the catalog) are read with any key.
        """
        found = table.get(object_id)
        if found is None or key.tenant_id not in (None, tenant_of(found) or key.tenant_id):
            if key.tenant_id is not None:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "")
            await context.abort(
                grpc.StatusCode.NOT_FOUND, f"Object does not exist (id: {object_id})"
            )
        return found

    def tenant_of_device(self, device: SimulatedDevice) -> str:
        """Return the tenant a device belongs to."""
        return self.applications[device.application_id].tenant_id

    async def open_stream(self, dev_eui: str, context: _Context) -> AsyncIterator[StoredEvent]:
        """Yield a device's retained events, then its new ones until the stream ends."""
        queue: asyncio.Queue[StoredEvent | _End] = asyncio.Queue()
        self._streams.setdefault(dev_eui, set()).add(queue)
        retained = list(self._history.get(dev_eui, ()))
        self._notify()
        try:
            for event in retained:
                await self._running.wait()
                yield event
            while True:
                item = await queue.get()
                await self._running.wait()
                if isinstance(item, _End):
                    if item.code is not None:
                        await context.abort(item.code, item.details)
                    return
                yield item
        finally:
            self._streams[dev_eui].discard(queue)
            self._notify()

    # ------------------------------------------------------------- the generator

    async def run_generator(self, interval: float, *, jitter: float = 0.2, seed: int = 1) -> None:
        """
        Emit realistic uplinks forever: each device about every ``interval`` seconds.

        Devices take turns; payloads are Cayenne LPP (``DemoPayloads``) or, for
        ``s2101`` devices, SenseCAP S2101 frames; every tenth round each device
        also reports its status. The same ``seed`` gives the same sequence.
        """
        rng = random.Random(seed)
        payloads = DemoPayloads(seed)
        rounds = 0
        while True:
            devices = list(self.devices.values())
            if not devices:
                await asyncio.sleep(interval)
                continue
            for device in devices:
                if device.kind == "s2101":
                    data = s2101_payload(
                        round(rng.gauss(21, 1), 1), round(min(100.0, rng.gauss(45, 5)), 1)
                    )
                else:
                    data = payloads.next_payload(device.dev_eui, device.kind, _now())
                if device.dev_eui in self.devices:
                    self.emit_uplink(
                        device.dev_eui,
                        data,
                        receptions=(
                            Reception(rssi=round(rng.gauss(-95, 8)), snr=round(rng.gauss(7, 2), 1)),
                        ),
                        dr=rng.choice((3, 4, 5, 5, 5)),
                    )
                    if rounds % 10 == 0:
                        self.emit_status(
                            device.dev_eui, margin=rng.randint(5, 20), battery_level=90.0
                        )
                pause = interval / len(devices) * (1 + rng.uniform(-jitter, jitter))
                await asyncio.sleep(max(pause, 0.0))
            rounds += 1


# ---------------------------------------------------------------- the servicers


def _page[T](items: Iterable[T], limit: int, offset: int) -> list[T]:
    return list(items)[offset : offset + limit]


async def _check_uuid(context: _Context, text: str) -> str:
    try:
        return _canonical_uuid(text)
    except ValueError:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid UUID: {text!r}")


async def _check_eui(context: _Context, text: str) -> str:
    try:
        return _canonical_eui(text)
    except ValueError:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid EUI-64: {text!r}")


async def _refuse_options(context: _Context, request: Any, *names: str) -> None:
    """Abort with UNIMPLEMENTED when ``request`` sets one of the options ``names``."""
    used = [name for name in names if getattr(request, name)]
    if used:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"not simulated: {', '.join(used)}")


def _timestamps(response: Any, created_at: datetime) -> Any:
    response.created_at.FromDatetime(created_at)
    response.updated_at.FromDatetime(created_at)
    return response


class _TenantService(api.TenantServiceServicer):  # type: ignore[misc]
    def __init__(self, sim: ChirpStackSimulator) -> None:
        self._sim = sim

    async def List(self, request: Any, context: _Context) -> Any:  # noqa: N802
        key = await self._sim.admit("TenantService.List", request, context)
        await _refuse_options(context, request, "search", "user_id")
        if key.tenant_id is not None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "")
        tenants = sorted(self._sim.tenants.values(), key=lambda tenant: tenant.name)
        return api.ListTenantsResponse(
            total_count=len(tenants),
            result=[
                api.TenantListItem(id=tenant.id, name=tenant.name, can_have_gateways=True)
                for tenant in _page(tenants, request.limit, request.offset)
            ],
        )

    async def Get(self, request: Any, context: _Context) -> Any:  # noqa: N802
        key = await self._sim.admit("TenantService.Get", request, context)
        tenant_id = await _check_uuid(context, request.id)
        tenant = await self._sim.lookup(
            context, key, self._sim.tenants, tenant_id, lambda tenant: tenant.id
        )
        return api.GetTenantResponse(
            tenant=api.Tenant(
                id=tenant.id,
                name=tenant.name,
                description=tenant.description,
                can_have_gateways=True,
            )
        )


class _ApplicationService(api.ApplicationServiceServicer):  # type: ignore[misc]
    def __init__(self, sim: ChirpStackSimulator) -> None:
        self._sim = sim

    async def List(self, request: Any, context: _Context) -> Any:  # noqa: N802
        key = await self._sim.admit("ApplicationService.List", request, context)
        await _refuse_options(context, request, "search")
        tenant_id = await _check_uuid(context, request.tenant_id)
        if key.tenant_id not in (None, tenant_id):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "")
        applications = sorted(
            (a for a in self._sim.applications.values() if a.tenant_id == tenant_id),
            key=lambda application: application.name,
        )
        return api.ListApplicationsResponse(
            total_count=len(applications),
            result=[
                api.ApplicationListItem(id=a.id, name=a.name, description=a.description)
                for a in _page(applications, request.limit, request.offset)
            ],
        )


class _DeviceService(api.DeviceServiceServicer):  # type: ignore[misc]
    def __init__(self, sim: ChirpStackSimulator) -> None:
        self._sim = sim

    @staticmethod
    def _status(device: SimulatedDevice) -> Any:
        battery = -1.0 if device.battery_level is None else device.battery_level
        return api.DeviceStatus(
            margin=device.margin,
            external_power_source=device.external_power_source,
            battery_level=battery,
        )

    async def List(self, request: Any, context: _Context) -> Any:  # noqa: N802
        sim = self._sim
        key = await sim.admit("DeviceService.List", request, context)
        await _refuse_options(
            context,
            request,
            "search",
            "multicast_group_id",
            "order_by",
            "order_by_desc",
            "tags",
            "device_profile_id",
        )
        application_id = await _check_uuid(context, request.application_id)
        application = sim.applications.get(application_id)
        if key.tenant_id is not None and (
            application is None or application.tenant_id != key.tenant_id
        ):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "")
        devices = sorted(
            (d for d in sim.devices.values() if d.application_id == application_id),
            key=lambda device: device.name,
        )
        result = []
        for device in _page(devices, request.limit, request.offset):
            item = api.DeviceListItem(
                dev_eui=device.dev_eui,
                name=device.name,
                description=device.description,
                device_profile_id=device.device_profile_id,
                device_profile_name=sim.device_profiles[device.device_profile_id].name,
            )
            _timestamps(item, device.created_at)
            if device.last_seen_at is not None:
                item.last_seen_at.FromDatetime(device.last_seen_at)
            if device.margin is not None:
                item.device_status.CopyFrom(self._status(device))
            result.append(item)
        return api.ListDevicesResponse(total_count=len(devices), result=result)

    async def Get(self, request: Any, context: _Context) -> Any:  # noqa: N802
        sim = self._sim
        key = await sim.admit("DeviceService.Get", request, context)
        dev_eui = await _check_eui(context, request.dev_eui)
        device = await sim.lookup(context, key, sim.devices, dev_eui, sim.tenant_of_device)
        response = api.GetDeviceResponse(
            device=api.Device(
                dev_eui=device.dev_eui,
                name=device.name,
                description=device.description,
                application_id=device.application_id,
                device_profile_id=device.device_profile_id,
                join_eui="0000000000000000",
            ),
            class_enabled=common.CLASS_A,
        )
        _timestamps(response, device.created_at)
        if device.last_seen_at is not None:
            response.last_seen_at.FromDatetime(device.last_seen_at)
        if device.margin is not None:
            response.device_status.CopyFrom(self._status(device))
        return response

    async def Enqueue(self, request: Any, context: _Context) -> Any:  # noqa: N802
        sim = self._sim
        key = await sim.admit("DeviceService.Enqueue", request, context)
        item = request.queue_item
        await _refuse_options(context, request, "flush_queue")
        await _refuse_options(context, item, "is_encrypted", "f_cnt_down")
        if item.HasField("object"):
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not simulated: object")
        dev_eui = await _check_eui(context, item.dev_eui)
        await sim.lookup(context, key, sim.devices, dev_eui, sim.tenant_of_device)
        if key.read_only:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, "the API key has no write permission"
            )
        if not 1 <= item.f_port <= 255:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "FPort must be between 1 - 255")
        downlink = sim.enqueue(
            dev_eui,
            item.f_port,
            bytes(item.data),
            confirmed=item.confirmed,
            expires_at=item.expires_at.ToDatetime(UTC) if item.HasField("expires_at") else None,
        )
        return api.EnqueueDeviceQueueItemResponse(id=downlink.id)


class _DeviceProfileService(api.DeviceProfileServiceServicer):  # type: ignore[misc]
    def __init__(self, sim: ChirpStackSimulator) -> None:
        self._sim = sim

    async def Get(self, request: Any, context: _Context) -> Any:  # noqa: N802
        sim = self._sim
        key = await sim.admit("DeviceProfileService.Get", request, context)
        profile_id = await _check_uuid(context, request.id)
        profile = await sim.lookup(
            context, key, sim.device_profiles, profile_id, lambda profile: profile.tenant_id
        )
        return _timestamps(
            api.GetDeviceProfileResponse(
                device_profile=api.DeviceProfile(
                    id=profile.id,
                    tenant_id=profile.tenant_id,
                    name=profile.name,
                    region=common.EU868,
                    mac_version=common.LORAWAN_1_0_3,
                    reg_params_revision=common.A,
                    adr_algorithm_id="default",
                    supports_otaa=True,
                    uplink_interval=3600,
                    device_id=profile.device_id,
                )
            ),
            _now(),
        )

    async def GetDevice(self, request: Any, context: _Context) -> Any:  # noqa: N802
        sim = self._sim
        key = await sim.admit("DeviceProfileService.GetDevice", request, context)
        device_id = await _check_uuid(context, request.id)
        device = await sim.lookup(context, key, sim.catalog_devices, device_id, lambda _: None)
        return _timestamps(
            api.GetDeviceProfileDeviceResponse(
                device=api.DeviceProfileDevice(
                    id=device.id,
                    vendor_id=device.vendor_id,
                    name=device.name,
                    description=device.description,
                )
            ),
            _now(),
        )

    async def GetVendor(self, request: Any, context: _Context) -> Any:  # noqa: N802
        sim = self._sim
        key = await sim.admit("DeviceProfileService.GetVendor", request, context)
        vendor_id = await _check_uuid(context, request.id)
        vendor = await sim.lookup(context, key, sim.catalog_vendors, vendor_id, lambda _: None)
        return _timestamps(
            api.GetDeviceProfileVendorResponse(
                vendor=api.DeviceProfileVendor(
                    id=vendor.id, name=vendor.name, vendor_id=vendor.vendor_id
                )
            ),
            _now(),
        )


class _InternalService(api.InternalServiceServicer):  # type: ignore[misc]
    def __init__(self, sim: ChirpStackSimulator) -> None:
        self._sim = sim

    async def StreamDeviceEvents(  # noqa: N802
        self, request: Any, context: _Context
    ) -> AsyncIterator[Any]:
        sim = self._sim
        key = await sim.admit("InternalService.StreamDeviceEvents", request, context)
        dev_eui = await _check_eui(context, request.dev_eui)
        await sim.lookup(context, key, sim.devices, dev_eui, sim.tenant_of_device)
        async for event in sim.open_stream(dev_eui, context):
            item = api.LogItem(
                id=event.id,
                description=event.description,
                body=event.body,
                properties=event.properties,
            )
            item.time.FromDatetime(event.time)
            yield item


# ------------------------------------------------------------------ command line

S2101_DEV_EUI = "2CF7F1C04430004B"
"""The demo SenseCAP S2101."""


async def run_demo(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
    """Serve a ChirpStack simulator with demo devices and a SenseCAP S2101 until ``stop``."""
    simulator = ChirpStackSimulator(api_key=args.api_key, port=args.port)
    tenant = simulator.add_tenant(args.tenant)
    application = simulator.add_application(tenant.id, "Demo application")
    profile = simulator.add_device_profile(tenant.id, "Cayenne LPP")
    s2101 = simulator.add_device_profile(
        tenant.id,
        "SenseCAP S2101",
        vendor_id=SEEED_VENDOR_ID,
        vendor_name=SEEED_VENDOR_NAME,
        model_name=S2101_NAME,
        catalog_device_id=S2101_CATALOG_ID,
    )
    for dev_eui, dev_addr, demo in demo_devices(args.devices):
        simulator.add_device(
            dev_eui,
            application.id,
            profile.id,
            name=demo.description,
            dev_addr=dev_addr,
            kind=demo.kind,
        )
    simulator.add_device(S2101_DEV_EUI, application.id, s2101.id, name="Office S2101", kind="s2101")
    async with simulator:
        print(
            f"ChirpStack simulator: {simulator.endpoint} (gRPC), API key {args.api_key}, tenant"
            f" {tenant.id}, application {application.id} ({args.devices} devices and a SenseCAP"
            f" S2101, an uplink each every {args.interval:g} s)",
            flush=True,
        )
        await generate_until(stop, simulator.run_generator(args.interval, seed=args.seed))


COMMAND = Command(
    name="chirpstack",
    help="ChirpStack v4 network server (gRPC API, for Home Assistant's chirpstack)",
    description="Serve a fake ChirpStack v4 gRPC API on 127.0.0.1 with demo devices.",
    port=8770,
    run=run_demo,
    options=(
        Option("--api-key", DEFAULT_API_KEY, "the (admin) API key clients use"),
        Option("--tenant", "Demo tenant", "the tenant's name"),
    ),
)
