"""
Errors raised by network-server clients.

Every client raises only these types. Each carries a stable ``key`` naming the reason (used as a
translation key by the integration) and a plain-English ``reason`` from the vendor, never a secret.
"""

from __future__ import annotations

from collections.abc import Mapping


class LnsError(Exception):
    """Base class of every network-server error."""

    key = "unknown"

    def __init__(
        self,
        reason: str = "",
        *,
        key: str | None = None,
        code: int | None = None,
        details: Mapping[str, str] | None = None,
    ) -> None:
        """
        Store the vendor's reason, an optional more specific key and the vendor's error code.

        ``details`` are the values a message about this specific ``key`` shows (never secrets).
        """
        super().__init__(reason or self.key)
        self.reason = reason
        self.code = code
        self.details: Mapping[str, str] = details or {}
        if key is not None:
            self.key = key


class AuthError(LnsError):
    """The credentials were refused; only the user can fix this (reauthentication)."""

    key = "invalid_auth"


class Forbidden(LnsError):
    """The credentials work but lack the permission for this request (the account's setup)."""

    key = "forbidden"


class CannotConnect(LnsError):
    """The server could not be reached, timed out or answered with a server-side failure."""

    key = "cannot_connect"


class LimitReached(CannotConnect):
    """The server refused the connection because a client or consumer limit is reached."""

    key = "limit_reached"


class InvalidRequest(LnsError):
    """The server refused a request because of its content (bad payload, unknown device...)."""

    key = "invalid_request"


class InputError(InvalidRequest):
    """
    The user's input cannot be used as given: a translated message with details.

    Raised before anything is asked of the server, or where the vendor's rules refuse what the
    user chose. Its ``key`` has a message of its own, which shows the ``details``.
    """

    def __init__(self, reason: str, *, key: str, details: Mapping[str, str] | None = None) -> None:
        """Keep the reason, the key of the message and what the message shows."""
        super().__init__(reason, key=key, details=details)


class Unsupported(LnsError):
    """The vendor does not offer the requested feature."""

    key = "unsupported"


class ProtocolError(LnsError):
    """The server sent something that does not follow its own protocol."""

    key = "protocol_error"
