"""JavaScript codecs in QuickJS: decoding, normalizing, encoding, and limits that hold."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
import logging
from pathlib import Path
import threading
import time

import pytest

from custom_components.lorawan_hub.codecs import limits
from custom_components.lorawan_hub.codecs.javascript import (
    DOWNLINK_DECODER,
    CodecError,
    JsCodec,
    JsRunner,
    decode_batch,
)
from custom_components.lorawan_hub.codecs.metadata import infer_metadata

CODECS = Path(__file__).parent / "js"
WHEN = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
# 21.5 °C, 55 %, 3.3 V, door open.
CLIMATE = bytes([0x08, 0x66, 110, 0x0C, 0xE4, 0x01])


def codec(name: str, **limits: float) -> JsCodec:
    """Return the test codec ``name``.js."""
    return JsCodec((CODECS / f"{name}.js").read_text(encoding="utf-8"), **limits)  # type: ignore[arg-type]


@pytest.fixture
async def runner() -> AsyncIterator[JsRunner]:
    """The codec thread."""
    async with JsRunner() as js:
        yield js


async def test_decode_and_normalize(runner: JsRunner) -> None:
    """Normalized fields get the standard units, so their metadata is right."""
    climate = codec("climate")
    result = await runner.run(climate.decode_uplink, CLIMATE, 2, WHEN)
    assert result.fields == {
        "air_temperature": 21.5,
        "air_relative_humidity": 55.0,
        "battery": 3.3,
        "action_contact_state": "OPEN",
        # Not covered by a normalized field: kept.
        "door_open": True,
    }
    assert result.units["air_temperature"] == "°C"
    assert result.units["air_relative_humidity"] == "%"
    temperature = infer_metadata("air_temperature", 21.5, result.units["air_temperature"])
    humidity = infer_metadata("air_relative_humidity", 55.0, result.units["air_relative_humidity"])
    assert (temperature.device_class, temperature.unit) == ("temperature", "°C")
    assert (humidity.device_class, humidity.unit) == ("humidity", "%")
    assert result.warnings == []
    # The codec's warnings are kept; its errors fail the decode with its own words.
    low = await runner.run(climate.decode_uplink, CLIMATE[:3] + b"\x09\x60\x00", 2, WHEN)
    assert low.warnings == ["battery low"]
    with pytest.raises(CodecError, match="expected 6 bytes, got 2"):
        await runner.run(climate.decode_uplink, b"\x01\x02", 2, WHEN)
    with pytest.raises(CodecError, match="unknown port 9"):
        await runner.run(climate.decode_uplink, CLIMATE, 9, WHEN)


async def test_encode_decode_round_trip(runner: JsRunner) -> None:
    """An object encodes to bytes and the downlink decoder reads it back; bad objects fail."""
    valve = codec("valve")
    payload, port = await runner.run(valve.encode_downlink, {"open": True, "minutes": 30}, None)
    assert (payload, port) == (b"\x01\x1e", 10)
    decoded_downlink = await runner.run(
        valve.invoke, DOWNLINK_DECODER, {"bytes": list(payload), "fPort": port}
    )
    assert decoded_downlink == {"data": {"open": True, "minutes": 30}}
    with pytest.raises(CodecError, match="minutes must be 0 to 255"):
        await runner.run(valve.encode_downlink, {"open": True, "minutes": 300}, 10)
    with pytest.raises(CodecError, match="open must be true or false"):
        await runner.run(valve.encode_downlink, {"open": "yes"}, 10)
    # A codec without an encoder says so.
    assert not await runner.run(codec("climate").defines, "encodeDownlink")
    with pytest.raises(CodecError, match="no encodeDownlink"):
        await runner.run(codec("climate").encode_downlink, {"open": True}, 10)
    decoded = await runner.run(valve.decode_uplink, b"\x01\x00\x7b", 1, WHEN)
    assert decoded.fields == {"open": True, "flow": 12.3}


@pytest.mark.parametrize(
    ("port", "reason"),
    [
        (1, "ran longer than 0.05 s"),
        (2, "used too much memory"),
        (3, "unexpected byte 7"),
        (4, "recursed too deeply"),
    ],
)
async def test_limits(runner: JsRunner, port: int, reason: str) -> None:
    """A codec that hangs, hogs memory, throws or recurses fails; it works again afterwards."""
    broken = codec("broken", time_limit=0.05, memory_limit=4 * 1024 * 1024)
    assert (await runner.run(broken.decode_uplink, b"\x00", 9, WHEN)).fields == {"calls": 1}
    with pytest.raises(CodecError, match=reason):
        await runner.run(broken.decode_uplink, b"\x07", port, WHEN)
    after = await runner.run(broken.decode_uplink, b"\x00", 9, WHEN)
    assert after.fields["calls"] >= 1


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("function decodeUplink(input) {", "does not load"),
        ("var x = 1;", "no decodeUplink"),
        ("function decodeUplink(input) { return 5; }", "did not return an object"),
        ("function decodeUplink(input) { return {}; }", "no data object"),
        ("function decodeUplink(input) { return undefined; }", "did not return an object"),
        ("function decodeUplink(input) { return {data: {}}; }\x00", "does not load"),
    ],
    ids=["syntax", "no-decoder", "number", "no-data", "undefined", "nul"],
)
async def test_bad_codecs(runner: JsRunner, source: str, reason: str) -> None:
    """Codecs that do not load or return the wrong shape fail clearly."""
    with pytest.raises(CodecError, match=reason):
        await runner.run(JsCodec(source).decode_uplink, b"\x00", 1, WHEN)


async def test_encoder_shapes(runner: JsRunner) -> None:
    """An encoder must return bytes 0-255 and a port."""
    for body, reason in (
        ("return {bytes: [1, 256], fPort: 1};", "no byte array"),
        ("return {bytes: 'AQ==', fPort: 1};", "no byte array"),
        ("return {bytes: [1]};", "no port"),
    ):
        encoder = JsCodec(f"function encodeDownlink(input) {{ {body} }}")
        with pytest.raises(CodecError, match=reason):
            await runner.run(encoder.encode_downlink, {}, None)


async def test_normalized_list_and_size_limit(runner: JsRunner) -> None:
    """A normalized list of one measurement is that measurement; huge sources are refused."""
    one = JsCodec(
        "function decodeUplink(i) { return {data: {t: 20}}; }"
        " function normalizeUplink(i) { return {data: [{air: {temperature: i.data.t}}]}; }"
    )
    assert (await runner.run(one.decode_uplink, b"", 1, WHEN)).fields == {"air_temperature": 20}
    with pytest.raises(CodecError, match="longer than"):
        JsCodec("x" * (1024 * 1024 + 1))


async def test_runs_on_one_thread(runner: JsRunner) -> None:
    """Every codec runs on the codec thread, never on the event loop's."""
    names = {await runner.run(lambda: threading.current_thread().name) for _ in range(5)}
    assert len(names) == 1
    assert names.pop().startswith("lorawan_hub_codec")


async def test_odd_codecs_and_data(runner: JsRunner) -> None:
    """Codecs of const functions, a failing normalizer, broken strings, odd data, surprises."""
    arrow = JsCodec("const decodeUplink = (input) => ({data: {count: input.bytes.length}});")
    assert (await runner.run(arrow.decode_uplink, b"\x01\x02", 1, WHEN)).fields == {"count": 2}
    # A normalizer that fails leaves the decoded fields, with a warning.
    shaky = JsCodec(
        "function decodeUplink(i) { return {data: {t: 20, s: 'a\\ud800b'}}; }"
        " function normalizeUplink(i) { return {data: 3}; }"
    )
    result = await runner.run(shaky.decode_uplink, b"", 1, WHEN)
    assert result.fields == {"t": 20, "s": "a?b"}
    assert result.warnings == ["normalizeUplink returned no data object"]
    # Several normalized measurements get the standard units too.
    listed = JsCodec(
        "function decodeUplink(i) { return {data: {}}; }"
        " function normalizeUplink(i) { return {data: [{air: {temperature: 1}},"
        " {air: {temperature: 2}}]}; }"
    )
    result = await runner.run(listed.decode_uplink, b"", 1, WHEN)
    assert result.units == {
        "measurement_0_air_temperature": "°C",
        "measurement_1_air_temperature": "°C",
    }
    valve = codec("valve")
    for data in ({"open": {1, 2}}, {"open": float("nan")}):
        with pytest.raises(CodecError, match="cannot be given to the codec"):
            await runner.run(valve.encode_downlink, data, 10)

    class Surprising:
        def decode_uplink(self, *_args: object) -> None:
            raise RuntimeError("surprise")

    outcomes = await runner.run(
        decode_batch, [(Surprising(), b"", 1, WHEN), (arrow, b"\x01", 1, WHEN)]
    )
    assert isinstance(outcomes[0], CodecError)
    assert "RuntimeError: surprise" in str(outcomes[0])
    assert not isinstance(outcomes[1], CodecError)
    assert outcomes[1].fields == {"count": 1}


async def test_state_never_passes_between_calls(runner: JsRunner) -> None:
    """
    Every call starts from the codec's source again, as with The Things Stack's fresh context.

    Top-level variables, globals a call assigns (comtac's LPN KM does), properties set on the
    global object, and a global that cannot be deleted: none is seen by the next call.
    """
    stateful = JsCodec(
        "var calls = 0; var history = [];"
        " function decodeUplink(input) {"
        "   calls += 1; history.push(input.bytes[0]);"
        "   lastPort = (typeof lastPort === 'undefined' ? 0 : lastPort) + input.fPort;"
        "   globalThis.seen = (globalThis.seen || 0) + 1;"
        "   Object.defineProperty(globalThis, 'hidden', {value: 1, configurable: true});"
        "   return {data: {calls: calls, history: history.length, last: lastPort,"
        "                  seen: globalThis.seen}};"
        " }"
    )
    for payload in (b"\x01", b"\x02", b"\x03"):
        result = await runner.run(stateful.decode_uplink, payload, 2, WHEN)
        assert result.fields == {"calls": 1, "history": 1, "last": 2, "seen": 1}
    stubborn = JsCodec(
        "function decodeUplink(input) {"
        "  var before = typeof stuck !== 'undefined';"
        "  if (!before) { Object.defineProperty(globalThis, 'stuck', {value: 1,"
        "                 enumerable: true}); }"
        "  return {data: {before: before}};"
        "}"
    )
    for _ in range(3):
        result = await runner.run(stubborn.decode_uplink, b"", 1, WHEN)
        assert result.fields == {"before": False}


async def test_script_semantics_kept(runner: JsRunner) -> None:
    """Top-level names stay properties of the global (``this.helper()``), strict mode holds."""
    sloppy = JsCodec(
        "var scale = 10; function helper(x) { return x * this.scale; }"
        " function decodeUplink(input) { return {data: {v: this.helper(input.bytes[0]),"
        "   top: typeof globalThis.decodeUplink}}; }"
    )
    assert (await runner.run(sloppy.decode_uplink, b"\x02", 1, WHEN)).fields == {
        "v": 20,
        "top": "function",
    }
    strict = JsCodec(
        "'use strict'; function decodeUplink(input) {"
        " try { undeclared = 1; } catch (err) { return {data: {strict: true}}; }"
        " return {data: {strict: false}}; }"
    )
    assert (await runner.run(strict.decode_uplink, b"", 1, WHEN)).fields == {"strict": True}


async def test_version_2_fallback(runner: JsRunner) -> None:
    """Decoder() and Encoder() of The Things Network's version 2 run when the others are absent."""
    v2 = JsCodec(
        "function Decoder(bytes, port) { return {t: bytes[0] / 10, port: port}; }"
        " function Encoder(object, port) { return [object.on ? 1 : 0, port]; }"
    )
    assert await runner.run(v2.defines, "decodeUplink")
    assert await runner.run(v2.defines, "encodeDownlink")
    assert not await runner.run(v2.defines, "decodeDownlink")
    assert not await runner.run(v2.defines, "nothing")
    assert (await runner.run(v2.decode_uplink, b"\xd7", 3, WHEN)).fields == {"t": 21.5, "port": 3}
    assert await runner.run(v2.encode_downlink, {"on": True}, 5) == (b"\x01\x05", 5)
    with pytest.raises(CodecError, match="has no decodeDownlink"):
        await runner.run(v2.invoke, DOWNLINK_DECODER, {"bytes": [0], "fPort": 1})
    only_up = JsCodec({"uplinkDecoder": "function Decoder(b) { return {}; }"})
    assert not await runner.run(only_up.defines, "encodeDownlink")
    with pytest.raises(CodecError, match="no downlinkEncoder"):
        await runner.run(only_up.encode_downlink, {}, 1)


async def test_console_logs_at_debug(runner: JsRunner, caplog: pytest.LogCaptureFixture) -> None:
    """console.* is there (37 repository codecs call it); its lines go to the debug log."""
    chatty = JsCodec(
        "function decodeUplink(input) { console.log('port', input.fPort, {a: 1});"
        " console.warn(123); console.error(); for (var i = 0; i < 30; i++) console.debug(i);"
        " return {data: {ok: 1}}; }"
    )
    with caplog.at_level(logging.DEBUG, "custom_components.lorawan_hub.codecs.javascript"):
        assert (await runner.run(chatty.decode_uplink, b"", 4, WHEN)).fields == {"ok": 1}
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Codec console")]
    assert lines[:3] == [
        'Codec console: log: port 4 {"a":1}',
        "Codec console: warn: 123",
        "Codec console: error: ",
    ]
    assert len(lines) == 20


async def test_decoded_field_beside_normalized_keeps_its_unit(runner: JsRunner) -> None:
    """A decoded field normalization does not cover keeps the unit the codec gave it."""
    rain = JsCodec(
        "function decodeUplink(i) { return {data: {t: 4, rain: {value: 3, unit: 'mm'}}}; }"
        " function normalizeUplink(i) { return {data: {air: {temperature: i.data.t}}}; }"
    )
    result = await runner.run(rain.decode_uplink, b"", 1, WHEN)
    assert result.fields == {"air_temperature": 4, "rain": 3}
    assert result.units == {"air_temperature": "°C", "rain": "mm"}


async def test_normalized_and_decoded_fields_together(runner: JsRunner) -> None:
    """Decoded fields that normalization does not cover stay; soil nutrients get ppm."""
    # Like the repository's example wind sensor: knots and a compass point, normalized.
    wind = JsCodec(
        "var points = ['N', 'E', 'S', 'W'];"
        " function decodeUplink(i) { return {data: {direction: points[i.bytes[0]],"
        " speed: i.bytes[1]}}; }"
        " function normalizeUplink(i) { return {data: {wind: {"
        " direction: points.indexOf(i.data.direction) * 90, speed: i.data.speed * 0.5144}}}; }"
    )
    result = await runner.run(wind.decode_uplink, bytes([0, 32]), 1, WHEN)
    assert result.fields == {"wind_direction": 0, "wind_speed": 16.4608, "direction": "N"}
    assert result.units == {"wind_direction": "°", "wind_speed": "m/s"}
    soil = JsCodec(
        "function decodeUplink(i) { return {data: {n: 10, t: 4, temp: 4}}; }"
        " function normalizeUplink(i) { return {data: {soil: {n: i.data.n, p: 2, k: 30},"
        " air: {temperature: 4}}, warnings: ['w']}; }"
    )
    result = await runner.run(soil.decode_uplink, b"", 1, WHEN)
    assert result.fields == {"soil_n": 10, "soil_p": 2, "soil_k": 30, "air_temperature": 4}
    assert result.units == {
        "soil_n": "ppm",
        "soil_p": "ppm",
        "soil_k": "ppm",
        "air_temperature": "°C",
    }
    assert result.warnings == ["w"]
    clash = JsCodec(
        "function decodeUplink(i) { return {data: {battery: 'low'}}; }"
        " function normalizeUplink(i) { return {data: {battery: 3.1}}; }"
    )
    assert (await runner.run(clash.decode_uplink, b"", 1, WHEN)).fields == {
        "battery": 3.1,
        "battery_decoded": "low",
    }
    failing = JsCodec(
        "function decodeUplink(i) { return {data: {x: 1}}; }"
        " function normalizeUplink(i) { throw new Error('nope'); }"
    )
    result = await runner.run(failing.decode_uplink, b"", 1, WHEN)
    assert result.fields == {"x": 1}
    assert result.warnings == ["normalizeUplink failed: Error: nope"]
    erring = JsCodec(
        "function decodeUplink(i) { return {data: {x: 1}}; }"
        " function normalizeUplink(i) { return {errors: ['bad']}; }"
    )
    assert (await runner.run(erring.decode_uplink, b"", 1, WHEN)).warnings == [
        "normalizeUplink failed: bad"
    ]


def _spin_seconds(codec: JsCodec, loops: int) -> float:
    """Run the spinning codec once on this thread; return the thread's CPU seconds it took."""
    started = time.thread_time()
    codec.decode_uplink(loops.to_bytes(4, "big"), 1, WHEN)
    return time.thread_time() - started


SPIN = (
    "function decodeUplink(input) { var n = 0;"
    " for (var i = 0; i < input.bytes[0] * 16777216 + input.bytes[1] * 65536"
    " + input.bytes[2] * 256 + input.bytes[3]; i++) { n += i % 7; }"
    " return {data: {n: n}}; }"
)


async def test_busy_thread_leaves_the_budget_alone(runner: JsRunner) -> None:
    """
    A codec near its limit still passes while another thread of the process is busy.

    The limit is the codec thread's own CPU time: the binding's limit, measured with the
    process's ``clock()``, would have stopped it at about half its budget.
    """
    budget = 0.25
    codec = JsCodec(SPIN, time_limit=budget)
    probe = 200_000
    per_loop = await runner.run(_spin_seconds, codec, probe) / probe
    loops = int(0.6 * budget / per_loop)
    stop = threading.Event()

    def busy() -> None:
        total = 0
        while not stop.is_set():
            total += sum(range(1000))

    other = threading.Thread(target=busy)
    other.start()
    try:
        process = time.process_time()
        used = await runner.run(_spin_seconds, codec, loops)
        process = time.process_time() - process
    finally:
        stop.set()
        other.join()
    assert used < budget
    # The other thread did run meanwhile: the process's CPU time grew faster than the codec's.
    assert process > 1.2 * used
    # A codec that keeps going is still stopped, at its own budget.
    with pytest.raises(CodecError, match=r"ran longer than 0\.25 s"):
        await runner.run(_spin_seconds, codec, loops * 4)


def test_outside_a_runner_and_odd_results() -> None:
    """
    Off a codec thread the binding's own limit applies; odd results fail clearly.

    A global that cannot be removed makes a new context for the next call.
    """
    assert limits.current() is None
    hanging = JsCodec("function decodeUplink(i) { while (true) {} }", time_limit=0.05)
    with pytest.raises(CodecError, match="ran longer than"):
        hanging.decode_uplink(b"", 1, WHEN)
    stuck = JsCodec(
        "function decodeUplink(i) {"
        " var first = typeof stuck === 'undefined';"
        " Object.defineProperty(globalThis, 'stuck', {value: 1});"
        " if (i.fPort === 1) { throw new Error('first ' + first); }"
        " return {data: {first: first}}; }"
    )
    for port in (1, 1):
        with pytest.raises(CodecError, match="first true"):
            stuck.decode_uplink(b"", port, WHEN)
    assert stuck.decode_uplink(b"", 2, WHEN).fields == {"first": True}
    assert stuck.decode_uplink(b"", 2, WHEN).fields == {"first": True}
    large = JsCodec("function decodeUplink(i) { return {data: {x: new Array(300000).join('y')}}; }")
    with pytest.raises(CodecError, match="nothing usable"):
        large.decode_uplink(b"", 1, WHEN)
    silent = JsCodec("function encodeDownlink(i) { return undefined; }")
    with pytest.raises(CodecError, match="nothing usable"):
        silent.encode_downlink({}, 1)
    number = JsCodec("function encodeDownlink(i) { return 5; }")
    with pytest.raises(CodecError, match="did not return an object"):
        number.encode_downlink({}, 1)
    odd = JsCodec(
        "function decodeUplink(i) { return {data: {x: 1}}; }"
        " function normalizeUplink(i) { return 5; }"
    )
    assert odd.decode_uplink(b"", 1, WHEN).warnings == ["normalizeUplink did not return an object"]
    with pytest.raises(CodecError, match="longer than"):
        JsCodec({"uplinkDecoder": "x" * (1024 * 1024 + 1)})
