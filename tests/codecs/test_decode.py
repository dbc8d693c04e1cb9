"""Choosing the codec of an uplink."""

from __future__ import annotations

from custom_components.lorawan_hub.codecs.decode import AUTO, CAYENNE_LPP, RAW, SERVER, decode

LPP = bytes.fromhex("016700E1")  # temperature_1 = 22.5
NOT_LPP = bytes.fromhex("FF")


def test_auto_prefers_the_server() -> None:
    decoded = decode(LPP, {"air": {"temperature": 20.0}}, AUTO)
    assert (decoded.codec, decoded.result.fields, decoded.error) == (
        SERVER,
        {"air_temperature": 20.0},
        None,
    )


def test_auto_falls_back_to_cayenne_then_raw() -> None:
    assert decode(LPP, None, AUTO).result.fields == {"temperature_1": 22.5}
    assert decode(LPP, None, AUTO).codec == CAYENNE_LPP
    raw = decode(NOT_LPP, None, AUTO)
    assert (raw.codec, raw.result.fields, raw.error) == (RAW, {}, None)
    assert decode(b"", {}, AUTO).codec == RAW


def test_explicit_choices() -> None:
    assert decode(LPP, {"t": 1}, CAYENNE_LPP).result.fields == {"temperature_1": 22.5}
    failed = decode(NOT_LPP, None, CAYENNE_LPP)
    assert failed.codec == CAYENNE_LPP
    assert failed.result.fields == {}
    assert failed.error
    assert decode(LPP, None, SERVER).codec == SERVER
    assert decode(LPP, None, SERVER).result.fields == {}
    assert decode(LPP, {"t": 1}, RAW).result.fields == {}
