"""JavaScript codecs in QuickJS: decoding, normalizing, encoding, and limits that hold."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
import threading

import pytest

from custom_components.lorawan_hub.codecs.javascript import (
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
    """An object encodes to bytes and decodes back; bad objects fail with the codec's words."""
    valve = codec("valve")
    payload, port = await runner.run(valve.encode_downlink, {"open": True, "minutes": 30}, None)
    assert (payload, port) == (b"\x01\x1e", 10)
    assert await runner.run(valve.decode_downlink, payload, port) == {"open": True, "minutes": 30}
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
        ("function decodeUplink(input) { return undefined; }", "nothing usable"),
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
    decoder = JsCodec("function decodeDownlink(input) { return {data: 1}; }")
    with pytest.raises(CodecError, match="no data object"):
        await runner.run(decoder.decode_downlink, b"\x00", 1)


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
