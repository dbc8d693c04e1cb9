"""The Server-Sent Events parser: the WHATWG stream format, fed in pieces of any size."""

from __future__ import annotations

import pytest

from custom_components.lorawan_hub.lns.sse import SseEvent, SseParser

# The two-uplink sample of the Netemera document, each JSON line behind its own ``data:``.
SAMPLE = (
    'data:{\n data:  "devEui": "70b3d5ca40000031",\n data:  "fCntUp": 1\ndata:}\n'
    "id:AAABWByxABU=\n\ndata:\n\ndata:\n\n"
    'data:{"devEui": "70b3d5ca40000032", "fCntUp": 123}\nid:AAABWByxB+U=\n\n'
).replace("\n data:", "\ndata:")


def parse(*chunks: bytes) -> list[SseEvent]:
    """Feed ``chunks`` to a new parser; return every event."""
    parser = SseParser()
    events: list[SseEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return events


def test_sample_stream() -> None:
    """
    Multi-line data is joined with LF; keep-alives are empty events carrying the last id.

    One space after the colon belongs to the syntax: of two, one stays.
    """
    events = parse(SAMPLE.encode())
    assert [event.data for event in events] == [
        '{\n "devEui": "70b3d5ca40000031",\n "fCntUp": 1\n}',
        "",
        "",
        '{"devEui": "70b3d5ca40000032", "fCntUp": 123}',
    ]
    assert [event.last_event_id for event in events] == [
        "AAABWByxABU=",
        "AAABWByxABU=",
        "AAABWByxABU=",
        "AAABWByxB+U=",
    ]
    assert {event.event for event in events} == {"message"}


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_every_split_gives_the_same_events(ending: str) -> None:
    """Byte by byte, or cut anywhere, with LF, CRLF or CR line ends: the same events."""
    data = SAMPLE.replace("\n", ending).encode()
    whole = parse(data)
    assert len(whole) == 4
    assert parse(*(data[index : index + 1] for index in range(len(data)))) == whole
    for cut in range(1, len(data)):
        assert parse(data[:cut], data[cut:]) == whole, f"cut at {cut}"


def test_crlf_split_between_reads_is_one_line_end() -> None:
    """A CR ending one read and an LF starting the next end one line, not two."""
    events = parse(b"data:a\r", b"\ndata:b\r", b"\n\r", b"\n")
    assert [event.data for event in events] == ["a\nb"]


def test_field_syntax() -> None:
    """One leading space is dropped; a line without colon is a field with an empty value."""
    events = parse(b"data:  two spaces\ndata\ndata: x:y\n\n")
    assert events[0].data == " two spaces\n\nx:y"


def test_comments_and_unknown_fields_are_ignored() -> None:
    """Comments, unknown fields and blank lines without data dispatch nothing."""
    events = parse(b": keep-alive comment\n\nfoo: bar\n\n\n\ndata:x\nfoo:bar\n:note\n\n")
    assert [event.data for event in events] == ["x"]


def test_id_persists_and_resets() -> None:
    """An id stays for later events; an empty id clears it; an id with NUL is ignored."""
    parser = SseParser()
    first = parser.feed(b"id:1\ndata:a\n\ndata:b\n\n")
    assert [event.last_event_id for event in first] == ["1", "1"]
    assert parser.feed(b"id:2\0x\ndata:c\n\n")[0].last_event_id == "1"
    assert parser.feed(b"id\ndata:d\n\n")[0].last_event_id == ""
    # An id alone (no data) changes the id buffer without dispatching an event.
    assert parser.feed(b"id:9\n\n") == []
    assert parser.last_event_id == "9"


def test_event_type_and_retry() -> None:
    """The event type applies to one event; a numeric retry is kept, another ignored."""
    parser = SseParser()
    events = parser.feed(b"event:uplink\ndata:a\n\ndata:b\nretry:2500\n\nretry:soon\n\n")
    assert [event.event for event in events] == ["uplink", "message"]
    assert parser.retry == 2500


def test_byte_order_mark_only_at_start() -> None:
    """A UTF-8 BOM opening the stream is skipped; anywhere else it is data."""
    events = parse(b"\xef\xbb", b"\xbfdata:a\n\ndata:\xef\xbb\xbfb\n\n")
    assert [event.data for event in events] == ["a", "\ufeffb"]


def test_utf8_split_across_reads() -> None:
    """A multi-byte character cut between two reads is decoded whole; invalid bytes replaced."""
    text = "data:température 22 °C\n\n".encode()
    cut = text.index(b"\xc3") + 1
    assert parse(text[:cut], text[cut:])[0].data == "température 22 °C"
    assert parse(b"data:\xff\n\n")[0].data == "\ufffd"


def test_oversized_event_is_dropped_and_the_stream_goes_on() -> None:
    """Data beyond the limit is dropped, the event is flagged, the next one is intact."""
    parser = SseParser(max_event_size=16)
    events = parser.feed(b"data:0123456789\ndata:0123456789\nid:7\n\ndata:ok\n\n")
    assert events == [
        SseEvent(data="", last_event_id="7", oversized=True),
        SseEvent(data="ok", last_event_id="7"),
    ]


def test_overlong_line_is_skipped_across_reads() -> None:
    """A line longer than the limit, arriving in many reads, is skipped; parsing resumes."""
    parser = SseParser(max_event_size=16)
    events = parser.feed(b"data:" + b"x" * 20)
    events += parser.feed(b"x" * 40)
    events += parser.feed(b"x" * 10 + b"\nid:5\n\ndata:next\n\n")
    assert events == [
        SseEvent(data="", last_event_id="5", oversized=True),
        SseEvent(data="next", last_event_id="5"),
    ]


def test_overlong_line_ending_a_read() -> None:
    """The end of an overlong line, alone in a read, is skipped; its event loses all data."""
    parser = SseParser(max_event_size=8)
    assert parser.feed(b"data:" + b"y" * 10) == []
    assert parser.feed(b"yy\n") == []
    assert parser.feed(b"data:z\n\n") == [SseEvent(data="", oversized=True)]
    assert parser.feed(b"data:z\n\n") == [SseEvent(data="z")]


def test_empty_read() -> None:
    """No bytes: no events, and the stream start is still ahead (a BOM would be skipped)."""
    parser = SseParser()
    assert parser.feed(b"") == []
    assert parser.feed(b"\xef\xbb\xbfdata:a\n\n") == [SseEvent(data="a")]


def test_overlong_line_drops_the_data_before_it() -> None:
    """Data lines before an overlong line belong to the same oversized event: all dropped."""
    parser = SseParser(max_event_size=16)
    events = parser.feed(b"data:ok\ndata:" + b"x" * 40 + b"\n\n")
    assert events == [SseEvent(data="", oversized=True)]


def test_reconnected_parser_keeps_the_id_it_sent() -> None:
    """A parser opened with the id a reconnect sent gives it to events without an id."""
    parser = SseParser(last_event_id="AAAB")
    assert parser.feed(b"data:a\n\n") == [SseEvent(data="a", last_event_id="AAAB")]


# The document's sample stream as printed (lines 1672-1708): each JSON object over several lines
# with ``data:`` before its first line only.
LITERAL = (
    'data:{\n  "devEui": "70b3d5ca40000031",\n  "gwInfo": [{\n      "id": "7276ff002e0400e8"\n'
    '  }],\n  "frmPayload":"200A"\n}\nid:AAABWByxABU=\n\ndata:\n\ndata:\n\n'
    'data:{\n  "devEui": "70b3d5ca40000032"\n}\nid:AAABWByxB+U=\n'
)


def test_continuation_lines_read_the_documents_layout() -> None:
    """With continuation lines, lines naming no field after ``data:`` continue its data."""
    parser = SseParser(continuation_lines=True)
    events = parser.feed(LITERAL.encode()) + parser.feed(b"\n")
    assert [event.data for event in events] == [
        (
            '{\n  "devEui": "70b3d5ca40000031",\n  "gwInfo": [{\n      "id": "7276ff002e0400e8"\n'
            '  }],\n  "frmPayload":"200A"\n}'
        ),
        "",
        "",
        '{\n  "devEui": "70b3d5ca40000032"\n}',
    ]
    assert [event.last_event_id for event in events] == [
        "AAABWByxABU=",
        "AAABWByxABU=",
        "AAABWByxABU=",
        "AAABWByxB+U=",
    ]
    # Read strictly (the WHATWG way), the same bytes lose all but the first line.
    assert parse(LITERAL.encode() + b"\n")[0].data == "{"


def test_continuation_lines_only_right_after_data() -> None:
    """Known fields keep their meaning; after another field or a comment nothing continues."""
    parser = SseParser(continuation_lines=True)
    events = parser.feed(b"data:a\n b\nid:1\nstray\ndata:c\n:note\nstray\n\n")
    assert [(event.data, event.last_event_id) for event in events] == [("a\n b\nc", "1")]
    assert parser.feed(b"stray line\n\n") == []


def test_continuation_lines_count_toward_the_size_limit() -> None:
    """Continued data is data: beyond the limit the event is dropped as oversized."""
    parser = SseParser(max_event_size=16, continuation_lines=True)
    events = parser.feed(b"data:{\n" + b"  0123456789,\n" * 3 + b"}\nid:9\n\ndata:ok\n\n")
    assert events == [
        SseEvent(data="", last_event_id="9", oversized=True),
        SseEvent(data="ok", last_event_id="9"),
    ]
