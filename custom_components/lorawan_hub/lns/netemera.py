"""
Netemera LoRaWAN API v4: OAuth 2.0, a JSON:API REST interface and an SSE uplink stream.

Uplinks arrive as Server-Sent Events (``GET /uplink-packets/applications/{id}``). The stream
resumes where it stopped: every event carries an id, the sink stores the id of the last event
delivered, and a reconnect (after an outage or a restart) sends it as ``Last-Event-ID`` so that
the server replays exactly what was missed. When the server refuses that id (HTTP 400: its
history moved on), the stream resumes from the reception time of the last uplink seen with
``filter[since]`` (inclusive: that uplink comes again and the sink drops it as a duplicate).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import dataclasses
from datetime import UTC, datetime
import logging
import time
from typing import Any, Final

import aiohttp
import orjson
from yarl import URL

from .base import Backoff, NetworkServer, Sink, ThrottledLog, reconnect_forever
from .errors import (
    AuthError,
    CannotConnect,
    Forbidden,
    InputError,
    InvalidRequest,
    LnsError,
    ProtocolError,
    Unsupported,
)
from .http import SERVER_FAILURE, JsonApi, Refusal, Reply, StatusTable
from .models import (
    Capability,
    Downlink,
    DownlinkMode,
    DownlinkResult,
    DownlinkState,
    DownlinkStatus,
    LoRaClass,
    ServerDevice,
    Uplink,
)
from .netemera_parse import (
    Application,
    Dropped,
    application_from,
    dev_addr,
    path_eui,
    profile_class,
    profile_id,
    profile_like,
    resource,
    resources,
    sendable_id,
    text,
    uplink_from_packet,
)
from .oauth2 import TokenSource
from .parse import as_dict, eui
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
RELIST_AFTER: Final = 300.0
"""Seconds a device list stays fresh: a reconnect sooner does not list the devices again."""
DELIVERY_ATTEMPTS: Final = 3
"""Times an uplink the sink failed to take is read again before it is given up."""
LAST_DOWNLINK: Final = "last_downlink"
"""
The message id of a downlink acknowledgement.

A downlink is answered with a bare ``202`` (no body, no id), and an uplink's ``ack`` is "the
acknowledgment of the last downlink packet": the only downlink it can name is the last one.
"""


ERRORS: Final = StatusTable(
    statuses={
        401: Refusal(AuthError, "{host} refused the access token"),
        **dict.fromkeys(
            (403, 405), Refusal(Forbidden, "the credentials lack a permission ({path})")
        ),
        404: Refusal(InvalidRequest, "{path} does not exist", key="not_found"),
        **dict.fromkeys(
            (400, 409, 422),
            Refusal(InvalidRequest, "{host} rejected the request (HTTP {status})"),
        ),
    },
    client_error=SERVER_FAILURE,
)
"""The statuses of the document's tables; any other is the server's failure."""
VALIDATED: Final = dataclasses.replace(
    ERRORS,
    fresh_401=Refusal(
        InvalidRequest,
        "{host} refused the request as invalid (HTTP 401, documented as 'Request validation"
        " failed')",
    ),
)
"""The statuses of an endpoint that documents a 401 refusing the request (see ``_request``)."""


def api_root(url: str) -> URL:
    """Return the API base URL without a trailing slash."""
    parsed = URL(url.strip())
    return parsed.with_path(parsed.path.rstrip("/"), keep_query=False, keep_fragment=False)


class NetemeraClient(NetworkServer):
    """A client of one Netemera application."""

    vendor = "netemera"
    name = "Netemera"
    capabilities = frozenset(
        {
            Capability.DOWNLINK,
            Capability.DOWNLINK_ACK,
            Capability.CLASS_CHANGE,
            Capability.BACKFILL,
        }
    )

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
        root = api_root(api_url)
        self._application = application_id
        self._tokens = TokenSource(
            session,
            token_url,
            {"grant_type": "client_credentials", "audience": str(root)},
            client=(client_id, client_secret),
            timeout=request_timeout,
        )
        self._api = JsonApi(
            session,
            root,
            errors=ERRORS,
            timeout=request_timeout,
            authorize=self._tokens.credentials,
            renew=self._tokens.renewed,
            accept=JSON_API,
            content_type=JSON_API,
            limit=MAX_DOCUMENT,
        )
        self._request_timeout = request_timeout
        self._read_timeout = read_timeout
        self._backoff = backoff or Backoff()
        self._dev_addrs: dict[str, str] = {}
        self._listed_at: float | None = None
        self._position = ""
        self._failed: tuple[str, str] | None = None
        self._failures = 0
        self._log = ThrottledLog(_LOGGER)

    @property
    def host(self) -> str:
        """The API's host, safe to show."""
        return self._api.host

    @property
    def application_id(self) -> str:
        """The application this client follows."""
        if self._application is None:
            raise InvalidRequest("no application chosen")
        return self._application

    def _dropped(self, what: str) -> Dropped:
        """Return a ``Dropped`` that warns (rate-limited) about values left out of ``what``."""

        def dropped(reason: str) -> None:
            self._log.warning(
                what, "Left out a bad value of %s from %s: %s", what, self.host, reason
            )

        return dropped

    # --- REST ---------------------------------------------------------------------------------

    def _url(self, path: str) -> URL:
        return self._api.url(path)

    async def _request(
        self,
        method: str,
        url: URL,
        *,
        document: Mapping[str, Any] | None = None,
        accept: tuple[int, ...] = (200,),
        validation_401: bool = False,
    ) -> Any:
        """
        Send one API request; renew the token once when it is refused.

        ``validation_401``: the endpoint documents ``401 Bad Request — Request validation
        failed`` besides ``401 Unauthorized`` (downlinks, line 1755 of the document; end-device
        updates, line 1189): a 401 to a token obtained for this very request is that refusal of
        the request, not of the token.
        """
        return await self._api.request(
            method,
            url,
            json=document,
            expect=accept,
            errors=VALIDATED if validation_401 else ERRORS,
            limit=MAX_DOCUMENT,
        )

    async def _collection(self, path: str, kind: str) -> list[Mapping[str, Any]]:
        """
        Return every resource of a collection, following JSON:API ``links.next``.

        An item that is no resource is left out with a warning: it never costs the others.
        """
        url: URL | None = self._url(path)
        result: list[Mapping[str, Any]] = []
        read: set[URL] = set()
        for _ in range(MAX_PAGES):
            if url is None:
                return result
            read.add(url)
            document = await self._request("GET", url)
            if document is None:
                return result
            result.extend(resources(document, kind, self._dropped(kind)))
            url = self._next_page(url, document)
            if url in read:
                raise ProtocolError(f"{path}: the page links go round in a circle")
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
        if target.origin() != self._api.base.origin():
            raise ProtocolError("a page link leads off the API server")
        return target

    async def validate(self) -> None:
        """Obtain a token and read the application (or the application list)."""
        if self._application is None:
            await self.list_applications()
        else:
            await self._request("GET", self._url(f"applications/{self._application}"))

    async def list_applications(self) -> list[Application]:
        """Return the applications the credentials can see (one without an id is left out)."""
        dropped = self._dropped("application")
        applications = []
        for item in await self._collection("applications", "application"):
            application = application_from(item, dropped)
            if application is None:
                dropped("an application has no id")
                continue
            applications.append(application)
        return applications

    async def list_devices(self) -> list[ServerDevice]:
        """Return the application's end-devices, with their network address where activated."""
        items = await self._collection(
            f"applications/{self.application_id}/end-devices", "end-device"
        )
        profiles = await self._profiles()
        dropped = self._dropped("end-device")
        devices: dict[str, ServerDevice] = {}
        for item in items:
            try:
                dev_eui = eui(item.get("devEui") or item.get("_id"), "devEui")
            except ProtocolError:
                self._log.warning("device", "%s listed a device without a valid EUI", self.host)
                continue
            if dev_eui in devices:
                dropped(f"{dev_eui} is listed twice")
                continue
            # Keep the name and profile only: an end-device also carries its root keys.
            assigned = text(item, "deviceProfileId", dropped)
            profile = profiles.get(assigned) if assigned else None
            devices[dev_eui] = ServerDevice(
                dev_eui=dev_eui,
                name=text(item, "name", dropped),
                model=text(profile, "name", dropped) if profile else None,
                device_class=profile_class(profile) if profile else None,
                profile=assigned,
            )
        semaphore = asyncio.Semaphore(ACTIVATION_LOOKUPS)

        async def activation(device: ServerDevice) -> None:
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
                for device in devices.values():
                    group.create_task(activation(device))
        except* AuthError as refused:
            raise refused.exceptions[0] from None
        return list(devices.values())

    async def _profiles(self) -> dict[str, Mapping[str, Any]]:
        """Return the account's device profiles by id; none when the client may not read them."""
        try:
            items = await self._collection("device-profiles", "device-profile")
        except Forbidden:
            return {}
        except (InvalidRequest, ProtocolError) as err:
            self._log.warning("profiles", "Cannot read the device profiles: %s", err.reason)
            return {}
        return {identifier: item for item in items if (identifier := profile_id(item))}

    async def _dev_addr(self, dev_eui: str) -> str | None:
        """Return the device's network address, None when it has no activation."""
        try:
            document = await self._request(
                "GET", self._url(f"end-devices/{path_eui(dev_eui)}/activation")
            )
        except InvalidRequest, Forbidden:
            return None  # not activated, or activations (they hold session keys) not readable
        if document is None:
            return None
        found = resources(document, "activation")
        if not found:
            return None
        # Only the address: an activation also carries the session keys.
        value = found[0].get("devAddr")
        address = dev_addr(value)
        if address is None and value is not None:
            self._dropped("activation")(f"devAddr of {dev_eui} is not a DevAddr")
        return address

    # --- realtime -----------------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        """Follow the application's uplink stream, resuming after every outage, until cancelled."""
        await reconnect_forever(
            lambda: self._follow(sink), sink, self._backoff, _LOGGER, f"stream of {self.host}"
        )

    def _since(self, sink: Sink) -> datetime | None:
        """Return when to resume from by time: the last uplink seen, never later than now."""
        since = sink.resume_from()
        # A reception time in the future (a server clock gone wrong) must not skip what follows.
        return None if since is None else min(since, datetime.now(UTC))

    def _stream_url(self, since: datetime | None) -> URL:
        url = self._url(f"uplink-packets/applications/{self.application_id}")
        if since is None:
            return url
        # ISO 8601 in UTC, as the document's recvTime; the brackets as the document writes them.
        stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return URL(f"{url}?filter[since]={stamp}", encoded=True)

    async def _open_stream(self, sink: Sink) -> tuple[aiohttp.ClientResponse, str]:
        """
        Open the stream where the last one stopped; return it and the position sent.

        At the stored event id; where there is none, or the server refuses it, from the last
        uplink's time; where that is refused too, live.
        """
        position = sink.stream_position() or ""
        if position and not sendable_id(position):
            self._log.warning(
                "position",
                "The stream position of %s cannot be sent back; resuming by time",
                self.host,
            )
            position = ""
        since = None if position else self._since(sink)
        credentials = await self._tokens.credentials()
        renewed = False
        while True:
            url = self._stream_url(since)
            headers = {"Accept": EVENT_STREAM, "Cache-Control": "no-cache", **credentials.headers}
            if position:
                headers["Last-Event-ID"] = position
            try:
                # Bounded until the headers arrive; the body has its own read timeout.
                async with asyncio.timeout(self._request_timeout):
                    response = await self._session.get(
                        url,
                        headers=headers,
                        timeout=aiohttp.ClientTimeout(
                            total=None, sock_connect=self._request_timeout, sock_read=None
                        ),
                        allow_redirects=False,
                    )
            except TimeoutError:
                raise CannotConnect(
                    f"{self.host} did not answer the stream request within"
                    f" {self._request_timeout:.3g} s"
                ) from None
            except (aiohttp.ClientError, OSError) as err:
                raise CannotConnect(f"cannot reach {self.host}: {type(err).__name__}") from None
            if response.status == 401 and not renewed:
                response.release()
                renewed = True
                credentials = await self._tokens.renewed(credentials)
                continue
            if response.status == 400 and (position or since is not None):
                # The server no longer knows where we were (expired history).
                response.release()
                if position:
                    position = ""
                    since = self._since(sink)
                    if since is not None:
                        _LOGGER.warning(
                            "%s cannot resume the stream at the last event processed; resuming"
                            " from the last uplink seen (%s)",
                            self.host,
                            since.isoformat(),
                        )
                        continue
                else:
                    since = None
                _LOGGER.warning(
                    "%s cannot resume the stream where it stopped; uplinks received meanwhile"
                    " are not recovered",
                    self.host,
                )
                continue
            try:
                if not 200 <= response.status < 300:
                    raise ERRORS.error(Reply("GET", url, response.status, b""))
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
        else:
            self._listed_at = time.monotonic()

    async def _follow(self, sink: Sink) -> str:
        """Read one stream until it ends; return why it ended."""
        response, position = await self._open_stream(sink)
        self._position = position
        parser = SseParser(last_event_id=position, continuation_lines=True)
        try:
            self._backoff.opened()
            if self._listed_at is None:
                self._listed_at = time.monotonic()  # the entry listed its devices as it started
            elif time.monotonic() - self._listed_at >= RELIST_AFTER:
                # Devices added during a long outage; a quick reconnect keeps the fresh list.
                await self._relist(sink)
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
                    if event.oversized or event.data.strip():
                        if (failure := self._event(event, sink)) is not None:
                            return failure
                        continue
                    self._advance(event, sink)
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

    def _event(self, event: SseEvent, sink: Sink) -> str | None:
        """
        Deliver one event and move the stream position past it.

        A malformed event is logged and passed (with its id): it can never be delivered. An
        uplink the sink failed to take stops the stream before its id, to be read again after
        the reconnect; only after ``DELIVERY_ATTEMPTS`` failures is it given up. Returns why
        the stream stops, or None.
        """
        if event.oversized:
            self._log.warning("size", "Dropped an oversized event from %s", self.host)
        else:
            try:
                uplink = uplink_from_packet(
                    as_dict(orjson.loads(event.data), "event"), self._dropped("uplink")
                )
            except (orjson.JSONDecodeError, ProtocolError) as err:
                self._log.warning(
                    "event", "Dropped a malformed event from %s: %s", self.host, _reason(err)
                )
            else:
                try:
                    self._deliver(uplink, sink)
                except Exception as err:  # read again, never lost silently
                    key = (event.last_event_id, event.data)
                    self._failures = self._failures + 1 if key == self._failed else 1
                    self._failed = key
                    if self._failures < DELIVERY_ATTEMPTS:
                        self._log.warning(
                            "deliver",
                            "An uplink of %s was not taken (%r); reading it again",
                            uplink.dev_eui,
                            err,
                        )
                        return "an uplink was not taken"
                    _LOGGER.exception(
                        "Dropped an uplink of %s that was not taken %d times",
                        uplink.dev_eui,
                        self._failures,
                    )
                else:
                    self._backoff.proven()
                self._failed = None
        self._advance(event, sink)
        return None

    def _deliver(self, uplink: Uplink, sink: Sink) -> None:
        """Hand an uplink to the sink, and the acknowledgement it carries."""
        # An uplink read again (a resumed stream) does not acknowledge its downlink twice.
        acknowledged = bool(uplink.ack) and (
            (uplink.f_cnt, uplink.received_at) not in sink.recent_uplinks(uplink.dev_eui)
        )
        sink.uplink(uplink)
        if acknowledged:
            sink.downlink_status(
                DownlinkStatus(
                    dev_eui=uplink.dev_eui,
                    message_id=LAST_DOWNLINK,
                    state=DownlinkState.ACKNOWLEDGED,
                    at=uplink.received_at,
                )
            )

    def _advance(self, event: SseEvent, sink: Sink) -> None:
        """Store the stream position an event leaves, when it moved."""
        identifier = event.last_event_id
        if identifier == self._position:
            return
        if identifier and not sendable_id(identifier):
            # It could never be sent back: with no position, a reconnect resumes by time.
            self._log.warning("event_id", "%s sent an event id that cannot be sent back", self.host)
            identifier = ""
        self._position = identifier
        sink.set_stream_position(identifier)

    # --- actions ------------------------------------------------------------------------------

    async def send_downlink(self, downlink: Downlink) -> DownlinkResult:
        """Queue a downlink; the network sends it in the device's next receive window."""
        if downlink.mode is not DownlinkMode.QUEUE:
            raise Unsupported("Netemera only queues downlinks")
        if downlink.device_class is not None:
            raise Unsupported("Netemera sends downlinks in the device's own class")
        # The attributes of the document's sample (line 1767); frmPayload is optional.
        attributes: dict[str, Any] = {"fPort": downlink.f_port, "confirmed": downlink.confirmed}
        if downlink.payload:
            attributes["frmPayload"] = downlink.payload.hex().upper()
        await self._request(
            "POST",
            self._url(f"downlink-packets/end-devices/{path_eui(downlink.dev_eui)}"),
            document={"data": {"type": "downlink-packet", "attributes": attributes}},
            accept=(200, 201, 202, 204),
            validation_401=True,
        )
        # A bare 202, without an id (line 1775): acknowledgements name LAST_DOWNLINK.
        return DownlinkResult(message_id=None, state=DownlinkState.QUEUED)

    async def set_device_class(self, dev_eui: str, device_class: LoRaClass) -> None:
        """Assign the device a copy of its profile that supports ``device_class``."""
        path = f"end-devices/{path_eui(dev_eui)}"
        device = resource(await self._request("GET", self._url(path)), "end-device")
        current_id = text(device, "deviceProfileId")
        if current_id is None:
            raise ProtocolError("the end-device has no device profile")
        profiles = await self._collection("device-profiles", "device-profile")
        current = next((profile for profile in profiles if profile_id(profile) == current_id), None)
        if current is None:
            current = resource(
                await self._request("GET", self._url(f"device-profiles/{current_id}")),
                "device-profile",
            )
        if profile_class(current) is device_class:
            return
        target = profile_like(current, profiles, device_class)
        if target is None:
            name = text(current, "name") or current_id
            raise InputError(
                f"no device profile like '{name}' supports class {device_class} only",
                key="class_profile_missing",
                details={"profile": name, "device_class": device_class.value},
            )
        # An End-Device object: devEui, applicationId and deviceProfileId are not optional
        # (lines 981-984). The name goes along so that no server reads the update as clearing
        # it; the root keys never do (they are not ours to send).
        attributes: dict[str, Any] = {
            "devEui": path_eui(dev_eui),
            "applicationId": text(device, "applicationId") or self.application_id,
            "deviceProfileId": profile_id(target),
        }
        if device_name := text(device, "name"):
            attributes["name"] = device_name
        # The table answers "202 Created" with the end-device, the sample (line 1207) a bare
        # "201 Created": both are taken.
        await self._request(
            "PATCH",
            self._url(path),
            document={
                "data": {"type": "end-device", "id": path_eui(dev_eui), "attributes": attributes}
            },
            accept=(200, 201, 202, 204),
            validation_401=True,
        )

    async def close(self) -> None:
        """Nothing to release: the stream closes with ``run``'s cancellation."""


def _reason(err: Exception) -> str:
    if isinstance(err, orjson.JSONDecodeError):
        return "not JSON"
    return str(err)
