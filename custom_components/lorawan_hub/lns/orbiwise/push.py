"""
OrbiWAN's REST push: the server POSTs every push to Home Assistant's receiver.

An account (or application) has one push configuration, shared with MQTT client mode. One set
up elsewhere is never replaced unless the user agreed to replace that very one; only the push
this client started is stopped, and only while it is still as it was set.
"""

from __future__ import annotations

from dataclasses import dataclass
import logging

from yarl import URL

from ..errors import InvalidRequest, LnsError
from ..parse import as_dict
from .parse import SUBSCRIPTION, PushConfiguration, push_configuration
from .rest import OrbiWiseRest, segment

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class PushTarget:
    """Where the server pushes in REST push mode, and the header it must send."""

    url: str
    """The complete URL of the push receiver (``https://host[:port]/path``)."""
    authorization: str
    """The ``Authorization`` header the receiver checks."""


class RestPush:
    """The push configuration of an account or application, as far as it is ours."""

    def __init__(
        self,
        rest: OrbiWiseRest,
        application: str | None,
        target: PushTarget | None,
        replaces: str | None,
    ) -> None:
        """Push to ``target``; ``replaces``: the fingerprint the user agreed to replace."""
        self._rest = rest
        self._application = application
        self._target = target
        self._replaces = replaces
        self._started: PushConfiguration | None = None
        """The push configuration set up here, until stopped."""

    def _path(self, action: str) -> str:
        """Return the path of ``pushmode/<action>``, for the application when there is one."""
        suffix = f"/{segment(self._application)}" if self._application else ""
        return f"rest/pushmode/{action}{suffix}"

    def _ours(self) -> tuple[PushConfiguration, PushTarget]:
        """Return the push configuration set up here, and the receiver it pushes to."""
        target = self._target
        if target is None:
            raise InvalidRequest("REST push needs the address of Home Assistant")
        url = URL(target.url)
        # ${skip_topic} drops the standard /rest/callback/<topic> path; the topic goes in the query.
        ours = PushConfiguration(
            enabled=True,
            host=f"{url.scheme}://{url.host}",
            port=url.port,
            path_prefix=f"${{skip_topic}}{url.raw_path}?topic=${{topic}}",
        )
        return ours, target

    def _is_ours(self, current: PushConfiguration) -> bool:
        ours, _target = self._ours()
        return (current.host, current.port, current.path_prefix) == (
            ours.host,
            ours.port,
            ours.path_prefix,
        )

    async def configuration(self) -> PushConfiguration | None:
        """Return the account's (or application's) push configuration, None when there is none."""
        return push_configuration(
            as_dict(await self._rest.request("GET", self._path("status")) or {}, "pushmode status")
        )

    async def foreign(self) -> PushConfiguration | None:
        """Return the push configuration set up elsewhere that REST push would replace, if any."""
        current = await self.configuration()
        if current is None or self._is_ours(current):
            return None
        return current

    async def start(self) -> None:
        """Have the server push to the receiver (unless someone else's pushes would be lost)."""
        ours, target = self._ours()
        # One push configuration per account (or application), shared with MQTT client mode:
        # never replace one set up elsewhere unless the user agreed to replace that one.
        current = await self.configuration()
        if (
            current is not None
            and not self._is_ours(current)
            and current.fingerprint != self._replaces
        ):
            raise InvalidRequest(
                f"the account already pushes to {current.target}, set up elsewhere; "
                "Home Assistant leaves it alone (use the WebSocket or MQTT instead)",
                key="orbiwise_push_taken",
            )
        await self._rest.request(
            "PUT",
            self._path("start"),
            json={
                "host": ours.host,
                "port": ours.port,
                "path_prefix": ours.path_prefix,
                "auth_string": target.authorization,
                "retry_policy": 0,
                "data_format": "base64",
                "push_subscription": SUBSCRIPTION,
            },
        )
        self._started = ours

    async def stop(self) -> None:
        """
        Stop the REST pushes started here, if they are still as they were set.

        A configuration changed elsewhere since (another application, MQTT client mode) is left
        alone: only what was set up here is undone.
        """
        if self._started is None:
            return
        self._started = None
        host = self._rest.host
        try:
            current = await self.configuration()
            if current is None or not current.enabled or not self._is_ours(current):
                _LOGGER.info("The push configuration of %s changed elsewhere: left as it is", host)
                return
            await self._rest.request("PUT", self._path("stop"))
        except LnsError as err:
            _LOGGER.warning("Could not stop the pushes of %s: %s", host, err.reason)
