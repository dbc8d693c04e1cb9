"""
Netemera LoRaWAN API v4: OAuth 2.0, a JSON:API REST interface and an SSE uplink stream.

Uplinks arrive as Server-Sent Events (``GET /uplink-packets/applications/{id}``). The stream
resumes where it stopped: every event carries an id, the sink stores the id of the last event
processed, and a reconnect (after an outage or a restart) sends it as ``Last-Event-ID`` so that
the server replays exactly what was missed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import logging
import time
from typing import Any, Final

import aiohttp
import orjson
from yarl import URL

from .base import Backoff, NetworkServer, Sink, ThrottledLog
from .errors import (
    AuthError,
    CannotConnect,
    Forbidden,
    InvalidRequest,
    LnsError,
    ProtocolError,
    Unsupported,
)
from .models import (
    Capability,
    DeviceInfo,
    Downlink,
    DownlinkMode,
    DownlinkResult,
    DownlinkState,
    Gateway,
    LoRaClass,
    Uplink,
)
from .oauth2 import TokenSource
from .parse import as_dict, eui, hex_payload, opt_bool, opt_float, opt_int, opt_str, parse_time
from .sse import SseEvent, SseParser

_LOGGER = logging.getLogger(__name__)

DEFAULT_API_URL: Final = "https://eu868.lorawan.netemera.com/api/v4"
DEFAULT_TOKEN_URL: Final = "https://authorization.netemera.com/api/v2/oauth2/token"  # noqa: S105
JSON_API: Final = "application/vnd.api+json"
EVENT_STREAM: Final = "text/event-stream"
READ_TIMEOUT: Final = 120.0
"""Seconds without a byte (not even a keep-alive) after which the stream is considered dead."""
KEEPALIVES_MISSED: Final = 3
"""Once the keep-alive interval is known, a stream silent for this many intervals is dead..."""
MIN_READ_TIMEOUT: Final = 10.0
"""...but never sooner than this many seconds."""
MIN_KEEPALIVE_GAP: Final = 1.0
"""Keep-alives closer together than this (one read, a burst) do not tell the rhythm."""
MAX_DOCUMENT: Final = 64 * 1024 * 1024
MAX_PAGES: Final = 1000
ACTIVATION_LOOKUPS: Final = 8
"""Activations fetched at once while listing devices."""

# What a profile's class flags must be for a device to run in each class.
_CLASS_FLAGS: Final = {
    LoRaClass.A: (False, False),
    LoRaClass.B: (True, False),
    LoRaClass.C: (False, True),
}
# Attributes that do not make two profiles different devices: the identity, the name, the class
# flags being changed and the parameters that only apply to a class.
_CLASS_ATTRIBUTES: Final = frozenset(
    {
        "_id",
        "deviceProfileId",
        "name",
        "supportsClassB",
        "classBTimeout",
        "pingSlotPeriod",
        "pingSlotFrequency",
        "supportsClassC",
        "classCTimeout",
    }
)


def api_root(url: str) -> URL:
    """Return the API base URL without a trailing slash."""
    parsed = URL(url.strip())
    return parsed.with_path(parsed.path.rstrip("/"), keep_query=False, keep_fragment=False)


def uplink_from_packet(packet: Mapping[str, Any]) -> Uplink:
    """
    Build an Uplink from an Uplink Packet object of the stream.

    Raises ProtocolError when a field is missing or of the wrong type.
    """
    gateways: list[Gateway] = []
    info = packet.get("gwInfo")
    if info is not None:
        if not isinstance(info, list):
            raise ProtocolError("gwInfo is not a list")
        for item in info:
            gateway = as_dict(item, "gwInfo item")
            gateway_id = opt_str(gateway, "id")
            if gateway_id is None:
                raise ProtocolError("gwInfo item without id")
            gateways.append(
                Gateway(gateway_id.upper(), opt_float(gateway, "rssi"), opt_float(gateway, "snr"))
            )
    # Documented as sorted by RSSI, strongest first: make sure of it.
    gateways.sort(key=lambda gateway: -gateway.rssi if gateway.rssi is not None else float("inf"))
    best = gateways[0] if gateways else None
    data_rate = opt_int(packet, "dataRate")
    frequency = opt_float(packet, "ulFreq")
    spreading_factor = None
    if data_rate is not None and 0 <= data_rate <= 5 and frequency and 863 <= frequency <= 870:
        # EU868: DR0..DR5 = SF12..SF7 at 125 kHz.
        spreading_factor = 12 - data_rate
    return Uplink(
        dev_eui=eui(packet.get("devEui"), "devEui"),
        received_at=parse_time(packet.get("recvTime"), "recvTime"),
        f_port=opt_int(packet, "fPort"),
        f_cnt=opt_int(packet, "fCntUp"),
        payload=hex_payload(packet.get("frmPayload"), "frmPayload"),
        rssi=best.rssi if best else None,
        snr=best.snr if best else None,
        data_rate=None if data_rate is None else f"DR{data_rate}",
        spreading_factor=spreading_factor,
        frequency=frequency,
        gateways=tuple(gateways),
        ack=opt_bool(packet, "ack"),
        raw=packet,
    )


@dataclass(slots=True, frozen=True)
class Application:
    """An application the credentials can see."""

    application_id: str
    name: str | None


def resources(document: object, kind: str) -> list[Mapping[str, Any]]:
    """Return the attributes of every resource of a JSON:API document (one or a list)."""
    data = as_dict(document, kind).get("data")
    items = data if isinstance(data, list) else [data]
    result: list[Mapping[str, Any]] = []
    for item in items:
        resource = as_dict(item, kind)
        attributes = dict(as_dict(resource.get("attributes", {}), f"{kind} attributes"))
        if "id" in resource:
            attributes.setdefault("_id", resource["id"])
        result.append(attributes)
    return result


def profile_class(profile: Mapping[str, Any]) -> LoRaClass:
    """Return the class a device with this profile runs in: C or B where supported, else A."""
    if profile.get("supportsClassC"):
        return LoRaClass.C
    if profile.get("supportsClassB"):
        return LoRaClass.B
    return LoRaClass.A


def profile_like(
    current: Mapping[str, Any], profiles: Sequence[Mapping[str, Any]], wanted: LoRaClass
) -> Mapping[str, Any] | None:
    """Return the profile identical to ``current`` except for its class support, or None."""
    class_b, class_c = _CLASS_FLAGS[wanted]
    same = {key: value for key, value in current.items() if key not in _CLASS_ATTRIBUTES}
    candidates = [
        profile
        for profile in profiles
        if bool(profile.get("supportsClassB")) is class_b
        and bool(profile.get("supportsClassC")) is class_c
        and {key: value for key, value in profile.items() if key not in _CLASS_ATTRIBUTES} == same
    ]
    # Several copies: the one named most like the current profile, else the first by id.
    name = str(current.get("name") or "")
    candidates.sort(
        key=lambda profile: (
            not str(profile.get("name") or "").startswith(name),
            str(profile.get("deviceProfileId")),
        )
    )
    return candidates[0] if candidates else None


class NetemeraClient(NetworkServer):
    """A client of one Netemera application."""

    vendor = "netemera"
    name = "Netemera"
    capabilities = frozenset({Capability.DOWNLINK, Capability.CLASS_CHANGE, Capability.BACKFILL})

    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_url: str,
        token_url: str,
        *,
        client_id: str,
        client_secret: str,
        application_id: str | None,
        request_timeout: float = 15.0,
        read_timeout: float = READ_TIMEOUT,
        backoff: Backoff | None = None,
    ) -> None:
        """Prepare a client; nothing connects until a method is called."""
        self._session = session
        self._api = api_root(api_url)
        self._application = application_id
        self._tokens = TokenSource(
            session,
            token_url,
            {"grant_type": "client_credentials", "audience": str(self._api)},
            client=(client_id, client_secret),
            timeout=request_timeout,
        )
        self._request_timeout = request_timeout
        self._read_timeout = read_timeout
        self._backoff = backoff or Backoff()
        self._dev_addrs: dict[str, str] = {}
        self._streamed = False
        self._log = ThrottledLog(_LOGGER)

    @property
    def host(self) -> str:
        """The API's host, safe to show."""
        return self._api.host or ""

    @property
    def application_id(self) -> str:
        """The application this client follows."""
        if self._application is None:
            raise InvalidRequest("no application chosen")
        return self._application

    # --- REST ---------------------------------------------------------------------------------

    def _url(self, path: str) -> URL:
        return self._api.with_path(f"{self._api.path.rstrip('/')}/{path}", encoded=False)

    async def _request(
        self,
        method: str,
        url: URL,
        *,
        document: Mapping[str, Any] | None = None,
        accept: tuple[int, ...] = (200,),
    ) -> Any:
        """Send one API request; renew the token once when it is refused."""
        token = await self._tokens.token()
        headers = {"Accept": JSON_API}
        body = None
        if document is not None:
            headers["Content-Type"] = JSON_API
            body = orjson.dumps(document)
        renewed = False
        while True:
            headers["Authorization"] = f"Bearer {token}"
            try:
                async with self._session.request(
                    method,
                    url,
                    data=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self._request_timeout),
                    allow_redirects=False,
                ) as response:
                    status = response.status
                    if status == 401 and not renewed:
                        renewed = True
                        token = await self._tokens.renew(token)
                        continue
                    self._raise_for_status(status, url)
                    if status not in accept:
                        raise ProtocolError(f"{method} {url.path} answered HTTP {status}")
                    text = await _read_limited(response, url)
            except (aiohttp.ClientError, TimeoutError, OSError) as err:
                raise CannotConnect(f"cannot reach {self.host}: {type(err).__name__}") from None
            if not text.strip():
                return None
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                raise ProtocolError(f"{url.path}: the answer is not JSON") from None

    def _raise_for_status(self, status: int, url: URL) -> None:
        """Raise the error documented for an HTTP status (2xx passes)."""
        if 200 <= status < 300:
            return
        if status == 401:
            raise AuthError(f"{self.host} refused the access token", code=status)
        if status in (403, 405):
            raise Forbidden(f"the credentials lack a permission ({url.path})", code=status)
        if status == 404:
            raise InvalidRequest(f"{url.path} does not exist", key="not_found", code=status)
        if status in (400, 409, 422):
            raise InvalidRequest(f"{self.host} rejected the request (HTTP {status})", code=status)
        raise CannotConnect(f"{self.host} answered HTTP {status}", code=status)

    async def _collection(self, path: str, kind: str) -> list[Mapping[str, Any]]:
        """Return every resource of a collection, following JSON:API ``links.next``."""
        url: URL | None = self._url(path)
        result: list[Mapping[str, Any]] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return result
            document = await self._request("GET", url)
            if document is None:
                return result
            result.extend(resources(document, kind))
            url = self._next_page(url, document)
        raise ProtocolError(f"{path}: more than {MAX_PAGES} pages")

    def _next_page(self, current: URL, document: Mapping[str, Any]) -> URL | None:
        links = document.get("links")
        link = links.get("next") if isinstance(links, Mapping) else None
        if isinstance(link, Mapping):
            link = link.get("href")
        if not isinstance(link, str) or not link:
            return None
        target = current.join(URL(link))
        # The token goes with every request: never follow a link to another server.
        if target.origin() != self._api.origin() or target == current:
            raise ProtocolError("a page link leads off the API server")
        return target

    async def validate(self) -> None:
        """Obtain a token and read the application (or the application list)."""
        if self._application is None:
            await self.list_applications()
        else:
            await self._request("GET", self._url(f"applications/{self._application}"))

    async def list_applications(self) -> list[Application]:
        """Return the applications the credentials can see."""
        applications = []
        for item in await self._collection("applications", "application"):
            application_id = opt_str(item, "applicationId") or opt_str(item, "_id")
            if application_id is None:
                raise ProtocolError("an application without id")
            applications.append(Application(application_id, opt_str(item, "name")))
        return applications

    async def list_devices(self) -> list[DeviceInfo]:
        """Return the application's end-devices, with their network address where activated."""
        items = await self._collection(
            f"applications/{self.application_id}/end-devices", "end-device"
        )
        profiles = await self._profiles()
        devices = []
        for item in items:
            try:
                dev_eui = eui(item.get("devEui") or item.get("_id"), "devEui")
            except ProtocolError:
                self._log.warning("device", "%s listed a device without a valid EUI", self.host)
                continue
            # Keep the name and profile only: an end-device also carries its root keys.
            profile = profiles.get(str(item.get("deviceProfileId")))
            devices.append(
                DeviceInfo(
                    dev_eui=dev_eui,
                    name=opt_str(item, "name"),
                    model=opt_str(profile, "name") if profile else None,
                    device_class=profile_class(profile) if profile else None,
                )
            )
        semaphore = asyncio.Semaphore(ACTIVATION_LOOKUPS)

        async def activation(device: DeviceInfo) -> None:
            address = self._dev_addrs.get(device.dev_eui)
            if address is None:
                # Looked up until the device has an address (it may join later).
                try:
                    async with semaphore:
                        address = await self._dev_addr(device.dev_eui)
                except (CannotConnect, ProtocolError) as err:
                    # One device's address is not worth the whole list: asked again next time.
                    self._log.warning("activation", "Cannot read an activation: %s", err)
                if address is not None:
                    self._dev_addrs[device.dev_eui] = address
            device.dev_addr = address
            device.activation = "activated" if address else None

        try:
            async with asyncio.TaskGroup() as group:
                for device in devices:
                    group.create_task(activation(device))
        except* AuthError as refused:
            raise refused.exceptions[0] from None
        return devices

    async def _profiles(self) -> dict[str, Mapping[str, Any]]:
        """Return the account's device profiles by id; none when the client may not read them."""
        try:
            items = await self._collection("device-profiles", "device-profile")
        except Forbidden:
            return {}
        except (InvalidRequest, ProtocolError) as err:
            self._log.warning("profiles", "Cannot read the device profiles: %s", err.reason)
            return {}
        return {str(item.get("deviceProfileId")): item for item in items}

    async def _dev_addr(self, dev_eui: str) -> str | None:
        """Return the device's network address, None when it has no activation."""
        try:
            document = await self._request("GET", self._url(f"end-devices/{dev_eui}/activation"))
        except InvalidRequest, Forbidden:
            return None  # not activated, or activations (they hold session keys) not readable
        if document is None:
            return None
        # Only the address: an activation also carries the session keys.
        address = resources(document, "activation")[0].get("devAddr")
        return address.upper() if isinstance(address, str) and address else None

    # --- realtime -----------------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        """Follow the application's uplink stream, resuming after every outage, until cancelled."""
        while True:
            try:
                reason = await self._follow(sink)
            except AuthError:
                raise
            except LnsError as err:
                reason = err.reason or err.key
            except Exception:  # a bug must not end the connection for good: retry
                _LOGGER.exception("Unexpected error in the stream of %s", self.host)
                reason = "unexpected error"
            sink.connection_changed(False, reason)
            delay = self._backoff.next_delay()
            _LOGGER.debug("Stream of %s: %s; retry in %.1f s", self.host, reason, delay)
            await asyncio.sleep(delay)

    async def _open_stream(self, sink: Sink) -> tuple[aiohttp.ClientResponse, str]:
        """Open the stream where the last one stopped; return it and the position sent."""
        url = self._url(f"uplink-packets/applications/{self.application_id}")
        token = await self._tokens.token()
        renewed = False
        position = sink.stream_position() or ""
        while True:
            headers = {
                "Accept": EVENT_STREAM,
                "Cache-Control": "no-cache",
                "Authorization": f"Bearer {token}",
            }
            if position:
                headers["Last-Event-ID"] = position
            try:
                response = await self._session.get(
                    url,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(
                        total=None, sock_connect=self._request_timeout, sock_read=None
                    ),
                    allow_redirects=False,
                )
            except (aiohttp.ClientError, TimeoutError, OSError) as err:
                raise CannotConnect(f"cannot reach {self.host}: {type(err).__name__}") from None
            if response.status == 401 and not renewed:
                response.release()
                renewed = True
                token = await self._tokens.renew(token)
                continue
            if response.status == 400 and position:
                # The server no longer knows where we were (expired history): go on live.
                response.release()
                _LOGGER.warning(
                    "%s cannot resume the stream where it stopped; uplinks received meanwhile"
                    " are not recovered",
                    self.host,
                )
                position = ""
                continue
            try:
                self._raise_for_status(response.status, url)
                if response.status != 200:
                    raise ProtocolError(f"the stream answered HTTP {response.status}")
                if response.content_type != EVENT_STREAM:
                    raise ProtocolError(f"the stream is {response.content_type}, not events")
            except BaseException:
                response.release()
                raise
            return response, position

    async def _relist(self, sink: Sink) -> None:
        """List the devices again after an outage (best effort: the stream matters more)."""
        try:
            sink.devices_listed(await self.list_devices())
        except AuthError:
            raise
        except LnsError as err:
            self._log.warning("relist", "Cannot list the devices of %s: %s", self.host, err)

    async def _follow(self, sink: Sink) -> str:
        """Read one stream until it ends; return why it ended."""
        response, position = await self._open_stream(sink)
        parser = SseParser(last_event_id=position)
        try:
            if self._streamed:
                await self._relist(sink)
            self._streamed = True
            self._backoff.reset()
            sink.connection_changed(True, None)
            timeout = self._read_timeout
            gaps = 0
            longest = 0.0
            last_keepalive: float | None = None
            while True:
                try:
                    async with asyncio.timeout(timeout):
                        chunk = await response.content.readany()
                except TimeoutError:
                    return f"no data or keep-alive for {timeout:.3g} s"
                if not chunk:
                    return "the server ended the stream"
                for event in parser.feed(chunk):
                    if not self._event(event, sink):
                        continue
                    # A keep-alive. Once their rhythm is known (two real gaps: keep-alives that
                    # arrive together say nothing), silence for a few of them is an outage: a
                    # half-open TCP connection never reports its end.
                    now = time.monotonic()
                    if last_keepalive is not None and now - last_keepalive >= MIN_KEEPALIVE_GAP:
                        gaps += 1
                        longest = max(longest, now - last_keepalive)
                        if gaps >= 2:
                            timeout = min(
                                self._read_timeout,
                                max(KEEPALIVES_MISSED * longest, MIN_READ_TIMEOUT),
                            )
                    last_keepalive = now
        except (aiohttp.ClientError, OSError) as err:
            return f"stream interrupted: {type(err).__name__}"
        finally:
            response.close()

    def _event(self, event: SseEvent, sink: Sink) -> bool:
        """
        Deliver one event; return True when it is a keep-alive.

        An event that cannot be delivered is logged and passed (with its id): retrying it after
        every reconnect would stop the stream for good.
        """
        keepalive = False
        if event.oversized:
            self._log.warning("size", "Dropped an oversized event from %s", self.host)
        elif event.data.strip():
            try:
                sink.uplink(uplink_from_packet(as_dict(orjson.loads(event.data), "event")))
            except (orjson.JSONDecodeError, ProtocolError) as err:
                self._log.warning(
                    "event", "Dropped a malformed event from %s: %s", self.host, _reason(err)
                )
            except Exception as err:  # noqa: BLE001 - one event must not stop the stream
                self._log.warning("bug", "Dropped an event of %s that failed: %r", self.host, err)
        else:
            keepalive = True
        sink.set_stream_position(event.last_event_id)
        return keepalive

    # --- actions ------------------------------------------------------------------------------

    async def send_downlink(self, downlink: Downlink) -> DownlinkResult:
        """Queue a downlink; the network sends it in the device's next receive window."""
        if downlink.mode is not DownlinkMode.QUEUE:
            raise Unsupported("Netemera only queues downlinks")
        if downlink.device_class is not None:
            raise Unsupported("Netemera sends downlinks in the device's own class")
        await self._request(
            "POST",
            self._url(f"downlink-packets/end-devices/{downlink.dev_eui}"),
            document={
                "data": {
                    "type": "downlink-packet",
                    "attributes": {
                        "devEui": downlink.dev_eui,
                        "fPort": downlink.f_port,
                        "confirmed": downlink.confirmed,
                        "frmPayload": downlink.payload.hex().upper(),
                    },
                }
            },
            accept=(200, 201, 202, 204),
        )
        return DownlinkResult(message_id=None, state=DownlinkState.QUEUED)

    async def set_device_class(self, dev_eui: str, device_class: LoRaClass) -> None:
        """Assign the device a copy of its profile that supports ``device_class``."""
        device = resources(
            await self._request("GET", self._url(f"end-devices/{dev_eui}")), "end-device"
        )[0]
        profile_id = opt_str(device, "deviceProfileId")
        if profile_id is None:
            raise ProtocolError("the end-device has no device profile")
        profiles = await self._collection("device-profiles", "device-profile")
        current = next(
            (profile for profile in profiles if profile.get("deviceProfileId") == profile_id),
            None,
        )
        if current is None:
            current = resources(
                await self._request("GET", self._url(f"device-profiles/{profile_id}")),
                "device-profile",
            )[0]
        if profile_class(current) is device_class:
            return
        target = profile_like(current, profiles, device_class)
        if target is None:
            name = str(current.get("name") or profile_id)
            raise InvalidRequest(
                f"no device profile like '{name}' supports class {device_class} only",
                key="class_profile_missing",
                details={"profile": name, "device_class": device_class.value},
            )
        await self._request(
            "PATCH",
            self._url(f"end-devices/{dev_eui}"),
            document={
                "data": {
                    "type": "end-device",
                    "id": dev_eui,
                    "attributes": {"deviceProfileId": target["deviceProfileId"]},
                }
            },
            accept=(200, 201, 202, 204),
        )

    async def close(self) -> None:
        """Nothing to release: the stream closes with ``run``'s cancellation."""


async def _read_limited(response: aiohttp.ClientResponse, url: URL) -> bytes:
    """Read a whole answer, however it is split, refusing more than ``MAX_DOCUMENT`` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > MAX_DOCUMENT:
            raise ProtocolError(f"{url.path}: the answer is too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _reason(err: Exception) -> str:
    if isinstance(err, orjson.JSONDecodeError):
        return "not JSON"
    return str(err)
