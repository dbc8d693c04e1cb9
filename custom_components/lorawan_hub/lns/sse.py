"""
An incremental parser of Server-Sent Events streams (the WHATWG ``text/event-stream`` format).

Bytes go in as they arrive from the socket, in pieces of any size; complete events come out.
Lines end with LF, CR or CRLF (a CRLF split between two reads is one line end), ``data:`` lines
accumulate, ``id:`` sets the last event id that a reconnect sends back as ``Last-Event-ID`` and
keeps it for the following events, lines starting with ``:`` are comments, unknown fields are
ignored and an event is dispatched by an empty line.

With ``continuation_lines``, a line that names no field of the format and follows a ``data``
line continues that data: a JSON object printed over several lines after a single ``data:``,
as a vendor document may show its stream, is read whole.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Final

MAX_EVENT_SIZE: Final = 256 * 1024
"""Characters of data one event may carry; the data of a larger event is dropped."""
FIELDS: Final = frozenset({"data", "id", "event", "retry"})


@dataclass(slots=True, frozen=True)
class SseEvent:
    """One dispatched event."""

    data: str
    """The ``data`` lines joined with LF; empty for a keep-alive."""
    event: str = "message"
    last_event_id: str = ""
    """The stream's last event id once this event is dispatched (sent with it or before it)."""
    oversized: bool = False
    """The event carried more than ``MAX_EVENT_SIZE`` characters: its data was dropped."""


class SseParser:
    """Turn the bytes of one ``text/event-stream`` response into events."""

    def __init__(
        self,
        max_event_size: int = MAX_EVENT_SIZE,
        last_event_id: str = "",
        *,
        continuation_lines: bool = False,
    ) -> None:
        """
        Start at the beginning of a stream.

        ``last_event_id`` is the id a reconnect sent: events without an id of their own keep it.
        ``continuation_lines``: a line naming no field, right after data, continues the data.
        """
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._max = max_event_size
        self._started = False
        self._skip_lf = False
        self._pending = ""
        self._discarding = False
        self._data: list[str] = []
        self._size = 0
        self._oversized = False
        self._event = ""
        self._continuation = continuation_lines
        self._in_data = False
        self.last_event_id = last_event_id
        """The last event id buffer: what the next reconnect sends as ``Last-Event-ID``."""
        self.retry: int | None = None
        """The reconnection time (ms) the server asked for, if any."""

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Parse the next bytes; return the events they complete."""
        text = self._decoder.decode(chunk)
        if not text:
            return []
        if not self._started:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._skip_lf and text.startswith("\n"):
            text = text[1:]
        # A CR that ends this piece ends a line; an LF starting the next piece belongs to it.
        self._skip_lf = text.endswith("\r")
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        *lines, rest = text.split("\n")
        events: list[SseEvent] = []
        if lines:
            start = 0
            if self._discarding:
                # The end of an overlong line: drop it, then read normally again.
                self._discarding = False
                start = 1
            else:
                lines[0] = self._pending + lines[0]
            self._pending = ""
            for line in lines[start:]:
                if not line:
                    if event := self._dispatch():
                        events.append(event)
                else:
                    self._line(line)
        if self._discarding:
            return events
        self._pending += rest
        if len(self._pending) > self._max:
            # A line longer than any event may be: keep none of it.
            self._pending = ""
            self._discarding = True
            self._oversized = True
            self._data = []
        return events

    def _line(self, line: str) -> None:
        if line[0] == ":":
            self._in_data = False
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if self._continuation and self._in_data and name not in FIELDS:
            # The rest of a value printed over several lines: the whole line is data.
            self._add_data(line)
            return
        self._in_data = name == "data"
        if name == "data":
            self._add_data(value)
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif name == "event":
            self._event = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry = int(value)

    def _add_data(self, value: str) -> None:
        self._size += len(value) + 1
        if self._size > self._max:
            self._oversized = True
            self._data = []
        elif not self._oversized:
            self._data.append(value)

    def _dispatch(self) -> SseEvent | None:
        self._in_data = False
        data, self._data = self._data, []
        event, self._event = self._event or "message", ""
        oversized, self._oversized = self._oversized, False
        self._size = 0
        if not data and not oversized:
            return None
        return SseEvent(
            data="\n".join(data),
            event=event,
            last_event_id=self.last_event_id,
            oversized=oversized,
        )
