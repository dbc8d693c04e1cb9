"""
An IoTSquare application's push settings: where it pushes, with which custom headers.

IoTSquare POSTs each uplink to ``<push URL>/uplink`` and each join to ``<push URL>/join`` with
the custom headers configured on the application. Home Assistant's push link and header join
what the application has; what they would replace or turn off (a push link, MQTT, a header of
the same name) is changed only with the user's consent, and undone with the entry.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from yarl import URL

from ..errors import InvalidRequest
from ..parse import as_dict
from .api import OpenApi
from .parse import read_flag, read_number, read_text

MAX_PUSH_HEADERS: Final = 5
PUSH_URL_TAKEN: Final = "push_url"
"""The application's one push link leads elsewhere (a server without pushUrls)."""
MQTT_ON: Final = "mqtt"
"""The application sends its data over MQTT: IoTSquare then pushes nothing over HTTP."""
HEADER_TAKEN: Final = "header"
"""The application already sends a header of the name the push needs, with another value."""
PUSH_MQTT_WAS_ON: Final = "push_mqtt_was_on"
"""Entry data: MQTT was turned off, with the user's consent, to push to Home Assistant."""


@dataclass(slots=True, frozen=True, kw_only=True)
class PushConfig:
    """An application's push settings as IoTSquare shows them (``app/status``)."""

    name: str | None
    push_url: str
    push_urls: tuple[str, ...] | None
    """The further push links (3.4.18); None: the server has only the one push link."""
    headers: Mapping[str, Any]
    """The custom headers, name → value (the values are the user's: never shown)."""
    mqtt: bool

    def conflicts(self, url: str, header: str, value: str) -> frozenset[str]:
        """Return what pushing to ``url`` with ``header: value`` would replace or turn off."""
        conflicts = set()
        if self.push_urls is None and self.push_url not in ("", url):
            conflicts.add(PUSH_URL_TAKEN)
        if self.mqtt:
            conflicts.add(MQTT_ON)
        if any(
            name.lower() == header.lower() and given != value
            for name, given in self.headers.items()
        ):
            conflicts.add(HEADER_TAKEN)
        return frozenset(conflicts)

    def headers_full(self, header: str) -> bool:
        """Whether a header of that name cannot be added (IoTSquare sends at most five)."""
        return len(self.headers) >= MAX_PUSH_HEADERS and all(
            name.lower() != header.lower() for name in self.headers
        )

    @property
    def links(self) -> tuple[str, ...]:
        """Every push link the application pushes to."""
        links = [self.push_url] if self.push_url else []
        return tuple(dict.fromkeys([*links, *(self.push_urls or ())]))


class PushConflict(InvalidRequest):
    """Pushing to Home Assistant needs to replace or turn off what the user set up."""

    key = "push_conflict"

    def __init__(self, config: PushConfig, conflicts: frozenset[str]) -> None:
        """Keep the application's settings and what would be replaced."""
        super().__init__("the application's push is set up for another receiver")
        self.config = config
        self.conflicts = conflicts


def _links(value: object) -> tuple[str, ...]:
    """Return the push links of a ``pushUrls`` or a ``pushURL`` given as a list."""
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list):
        return tuple(item for item in value if isinstance(item, str) and item)
    return ()


class PushSettings:
    """The push settings of one application."""

    def __init__(self, api: OpenApi, app_id: int) -> None:
        """Read and change the settings of application ``app_id`` through ``api``."""
        self._api = api
        self._app_id = app_id

    async def status(self) -> Mapping[str, Any]:
        """Return the application's status: its name, push URL and headers."""
        document = await self._api.call("GET", "app/status", params={"appID": self._app_id})
        return as_dict(document.get("data"), "app/status")

    async def read(self) -> PushConfig:
        """
        Return the application's push settings.

        ``app/status`` has the headers; ``pushUrls`` (3.4.18) is in its table and in the
        application list's, in neither's sample: a server that shows it in neither has the one
        push link.
        """
        status = await self.status()
        push_urls = _links(status["pushUrls"]) if "pushUrls" in status else None
        if push_urls is None:
            for item in await self._api.pages("app/list"):
                if read_number(item, "appID") == self._app_id and "pushUrls" in item:
                    push_urls = _links(item["pushUrls"])
        headers = status.get("headers")
        return PushConfig(
            name=read_text(status, "appName"),
            push_url=read_text(status, "pushURL") or "",
            push_urls=push_urls,
            headers={
                name: value
                for name, value in (headers.items() if isinstance(headers, Mapping) else ())
                if isinstance(name, str)
            },
            mqtt=bool(read_flag(status, "enableMQTT")),
        )

    def _update(self, config: PushConfig) -> dict[str, Any]:
        """Return the ``app/update`` body that makes the application as ``config`` shows it."""
        body: dict[str, Any] = {"appID": self._app_id}
        if config.name is not None:
            body["appName"] = config.name
        body |= {"enableMQTT": config.mqtt, "pushURL": config.push_url}
        if config.push_urls is not None:
            body["pushUrls"] = list(config.push_urls)
        body["headers"] = dict(config.headers)
        return body

    async def configure(
        self, url: str, header: str, value: str, *, replace: Collection[str] = ()
    ) -> dict[str, Any]:
        """
        Make the application push to ``url`` with ``header: value``, keeping what it has.

        The link goes beside the application's others (``pushUrls``), or becomes its one push
        link where none is set; the header joins the user's. What would be replaced or turned
        off (a push link, MQTT, a header of the same name) is done only when in ``replace``
        (the user agreed): otherwise PushConflict. Returns what the entry keeps to undo it.
        """
        config = await self.read()
        if config.headers_full(header):
            raise InvalidRequest(
                f"the application already has {MAX_PUSH_HEADERS} custom headers",
                key="push_headers_full",
            )
        conflicts = config.conflicts(url, header, value)
        if conflicts - set(replace):
            raise PushConflict(config, conflicts)
        headers = {
            name: given for name, given in config.headers.items() if name.lower() != header.lower()
        }
        wanted = PushConfig(
            name=config.name,
            push_url=config.push_url if config.push_urls is not None and config.push_url else url,
            push_urls=None
            if config.push_urls is None
            else tuple(dict.fromkeys([*config.push_urls, url])),
            headers=headers | {header: value},
            mqtt=False,
        )
        await self._api.call("POST", "app/update", json=self._update(wanted))
        # pushUrls is not among app/update's documented fields: check that it was kept.
        kept = await self.read()
        if url not in kept.links or kept.headers.get(header) != value or kept.mqtt:
            raise InvalidRequest(
                "IoTSquare did not keep the push link or header", key="push_not_kept"
            )
        return {PUSH_MQTT_WAS_ON: MQTT_ON in conflicts}

    async def remove(self, push_id: str, value: str, *, mqtt_was_on: bool = False) -> bool:
        """
        Take the entry's push link (the one ending in ``push_id``) and header off the application.

        Everything else stays; MQTT is turned on again if it was turned off for the push. Returns
        whether there was anything of the entry's to remove.
        """
        config = await self.read()

        def ours(link: str) -> bool:
            try:
                path = URL(link).path
            except ValueError:  # a link that is not even a URL: not the entry's
                return False
            return path.rstrip("/").endswith(f"/{push_id}")

        link_ours = bool(config.push_url) and ours(config.push_url)
        others = tuple(link for link in config.push_urls or () if not ours(link))
        links_ours = config.push_urls is not None and others != config.push_urls
        headers = {name: given for name, given in config.headers.items() if given != value}
        if not (link_ours or links_ours or headers != config.headers):
            return False
        await self._api.call(
            "POST",
            "app/update",
            json=self._update(
                PushConfig(
                    name=config.name,
                    push_url="" if link_ours else config.push_url,
                    push_urls=None if config.push_urls is None else others,
                    headers=headers,
                    mqtt=config.mqtt or (mqtt_was_on and (link_ours or links_ours)),
                )
            ),
        )
        return True
