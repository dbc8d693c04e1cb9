"""Tests of the Cayenne LPP decoder and encoder."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from custom_components.lorawan_hub.codecs.cayenne import (
    LPP_TYPES,
    LPP_TYPES_BY_ID,
    LPP_TYPES_BY_NAME,
    LppValue,
    decode_cayenne_lpp,
    encode_cayenne_lpp,
)
from custom_components.lorawan_hub.codecs.result import DecodeError, DecodeResult

# Each vector was worked out by hand from the type table: channel byte, type byte, big-endian data.
VECTORS: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    ("010001", {"digital_input_1": 1}, {}),
    ("0201ff", {"digital_output_2": 255}, {}),
    ("0302007b", {"analog_input_3": 1.23}, {}),
    ("0302ff85", {"analog_input_3": -1.23}, {}),
    ("04038000", {"analog_output_4": -327.68}, {}),
    ("04037fff", {"analog_output_4": 327.67}, {}),
    ("0564ffffffff", {"generic_sensor_5": 4294967295}, {}),
    ("0665012c", {"illuminance_6": 300}, {"illuminance_6": "lx"}),
    ("076601", {"presence_7": True}, {}),
    ("076600", {"presence_7": False}, {}),
    ("03670110", {"temperature_3": 27.2}, {"temperature_3": "°C"}),
    ("0167ffd7", {"temperature_1": -4.1}, {"temperature_1": "°C"}),
    ("056861", {"humidity_5": 48.5}, {"humidity_5": "%"}),
    ("0568ff", {"humidity_5": 127.5}, {"humidity_5": "%"}),
    (
        "067104d2fb2e0000",
        {"accelerometer_6_x": 1.234, "accelerometer_6_y": -1.234, "accelerometer_6_z": 0.0},
        {"accelerometer_6_x": "G", "accelerometer_6_y": "G", "accelerometer_6_z": "G"},
    ),
    ("07732767", {"barometric_pressure_7": 1008.7}, {"barometric_pressure_7": "hPa"}),
    ("08740168", {"voltage_8": 3.6}, {"voltage_8": "V"}),
    ("097504d2", {"current_9": 1.234}, {"current_9": "A"}),
    ("0a7600000032", {"frequency_10": 50}, {"frequency_10": "Hz"}),
    ("0b7864", {"percentage_11": 100}, {"percentage_11": "%"}),
    ("0c79fffb", {"altitude_12": -5}, {"altitude_12": "m"}),
    ("0d7d0190", {"concentration_13": 400}, {"concentration_13": "ppm"}),
    ("0e8003e8", {"power_14": 1000}, {"power_14": "W"}),
    ("0f82000004d2", {"distance_15": 1.234}, {"distance_15": "m"}),
    ("108300003039", {"energy_16": 12.345}, {"energy_16": "kWh"}),
    ("1184010e", {"direction_17": 270}, {"direction_17": "°"}),
    ("12855f5e1000", {"unix_time_18": 1600000000}, {}),
    (
        "13860064ff067fff",
        {"gyrometer_19_x": 1.0, "gyrometer_19_y": -2.5, "gyrometer_19_z": 327.67},
        {"gyrometer_19_x": "°/s", "gyrometer_19_y": "°/s", "gyrometer_19_z": "°/s"},
    ),
    ("1487ff8000", {"colour_20_red": 255, "colour_20_green": 128, "colour_20_blue": 0}, {}),
    (
        "018806765ff2960a0003e8",
        {"gps_1_latitude": 42.3519, "gps_1_longitude": -87.9094, "gps_1_altitude": 10.0},
        {"gps_1_latitude": "°", "gps_1_longitude": "°", "gps_1_altitude": "m"},
    ),
    (
        "02880a13c4fec8c2fffc18",
        {"gps_2_latitude": 66.042, "gps_2_longitude": -7.9678, "gps_2_altitude": -10.0},
        {"gps_2_latitude": "°", "gps_2_longitude": "°", "gps_2_altitude": "m"},
    ),
    ("158e01", {"switch_21": True}, {}),
    ("158e00", {"switch_21": False}, {}),
]


@pytest.mark.parametrize(("payload", "fields", "units"), VECTORS)
def test_decode_vectors(payload: str, fields: dict[str, Any], units: dict[str, str]) -> None:
    result = decode_cayenne_lpp(bytes.fromhex(payload))
    assert result == DecodeResult(fields=fields, units=units, warnings=[])
    for key, value in fields.items():
        assert type(result.fields[key]) is type(value)


def test_every_type_has_a_vector() -> None:
    covered = {bytes.fromhex(payload)[1] for payload, _, _ in VECTORS}
    assert covered == set(LPP_TYPES_BY_ID)
    assert len(LPP_TYPES) == 26
    assert {t.name for t in LPP_TYPES} == set(LPP_TYPES_BY_NAME)


def test_sizes_match_the_table() -> None:
    sizes = {t.type_id: t.size for t in LPP_TYPES}
    assert sizes == {
        0: 1, 1: 1, 2: 2, 3: 2, 100: 4, 101: 2, 102: 1, 103: 2, 104: 1, 113: 6, 115: 2, 116: 2,
        117: 2, 118: 4, 120: 1, 121: 2, 125: 2, 128: 2, 130: 4, 131: 4, 132: 2, 133: 4, 134: 6,
        135: 3, 136: 9, 142: 1,
    }  # fmt: skip


def test_multi_item_multi_channel_frame() -> None:
    result = decode_cayenne_lpp(bytes.fromhex("03670110056700ff"))
    assert result.fields == {"temperature_3": 27.2, "temperature_5": 25.5}
    assert result.units == {"temperature_3": "°C", "temperature_5": "°C"}

    frame = bytes.fromhex("0167ffd702686103730fa0047104d2fb2e0000058e01067401f4")
    result = decode_cayenne_lpp(frame)
    assert result.fields == {
        "temperature_1": -4.1,
        "humidity_2": 48.5,
        "barometric_pressure_3": 400.0,
        "accelerometer_4_x": 1.234,
        "accelerometer_4_y": -1.234,
        "accelerometer_4_z": 0.0,
        "switch_5": True,
        "voltage_6": 5.0,
    }
    assert not result.warnings


def test_same_channel_different_types() -> None:
    result = decode_cayenne_lpp(bytes.fromhex("01670110016861"))
    assert result.fields == {"temperature_1": 27.2, "humidity_1": 48.5}


def test_duplicate_item_keeps_the_later_value_with_a_warning() -> None:
    result = decode_cayenne_lpp(bytes.fromhex("03670110036700ff"))
    assert result.fields == {"temperature_3": 25.5}
    assert len(result.warnings) == 1
    assert "duplicate temperature item on channel 3 at offset 4" in result.warnings[0]


def test_accepts_bytearray_and_memoryview() -> None:
    assert decode_cayenne_lpp(bytearray.fromhex("03670110")).fields == {"temperature_3": 27.2}
    view = memoryview(bytes.fromhex("03670110"))
    assert decode_cayenne_lpp(view).fields == {"temperature_3": 27.2}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("", "empty Cayenne LPP payload"),
        ("03", "offset 0: channel 3 has no type byte"),
        ("0367011005", "offset 4: channel 5 has no type byte"),
        ("010500", "unknown Cayenne LPP type 5 (channel 1) at offset 0"),
        ("03670110 02ff", "unknown Cayenne LPP type 255 (channel 2) at offset 4"),
        ("03 65 00 00 09 04", "unknown Cayenne LPP type 4 (channel 9) at offset 4"),
        (
            "036701",
            "temperature item (type 103, channel 3) at offset 0: needs 2 data bytes, 1 left",
        ),
        ("0367", "temperature item (type 103, channel 3) at offset 0: needs 2 data bytes, 0 left"),
        ("03670110 0188 06765f", "gps item (type 136, channel 1) at offset 4: needs 9 data bytes"),
        ("0671 04d2fb2e00", "accelerometer item (type 113, channel 6) at offset 0"),
        ("0a76000000", "frequency item (type 118, channel 10) at offset 0"),
    ],
)
def test_decode_errors(payload: str, message: str) -> None:
    with pytest.raises(DecodeError, match=re.escape(message)):
        decode_cayenne_lpp(bytes.fromhex(payload))


def test_random_bytes_only_ever_raise_decode_error() -> None:
    rng = random.Random(20240611)  # noqa: S311
    type_ids = list(LPP_TYPES_BY_ID)
    decoded = failed = 0
    for index in range(6000):
        if index % 2:
            payload = rng.randbytes(rng.randint(0, 48))
        else:
            # Mostly valid headers, so that items of every type are exercised and truncated.
            parts = bytearray()
            for _ in range(rng.randint(1, 6)):
                type_id = rng.choice(type_ids)
                size = LPP_TYPES_BY_ID[type_id].size
                parts += bytes((rng.randrange(256), type_id))
                parts += rng.randbytes(size if rng.random() < 0.9 else rng.randint(0, size - 1))
            payload = bytes(parts)
        try:
            result = decode_cayenne_lpp(payload)
        except DecodeError:
            failed += 1
            continue
        decoded += 1
        for key, value in result.fields.items():
            assert isinstance(key, str)
            assert isinstance(value, int | float | bool)
    assert decoded > 100
    assert failed > 100


def test_encode_matches_hand_vectors() -> None:
    assert encode_cayenne_lpp([(3, "temperature", 27.2), (5, "temperature", 25.5)]) == (
        bytes.fromhex("03670110056700ff")
    )
    assert encode_cayenne_lpp([(1, "temperature", -4.1)]) == bytes.fromhex("0167ffd7")
    assert encode_cayenne_lpp([(6, "accelerometer", (1.234, -1.234, 0.0))]) == bytes.fromhex(
        "067104d2fb2e0000"
    )
    assert encode_cayenne_lpp([(1, "gps", (42.3519, -87.9094, 10.0))]) == bytes.fromhex(
        "018806765ff2960a0003e8"
    )
    assert encode_cayenne_lpp([(7, "presence", True), (21, "switch", False)]) == bytes.fromhex(
        "076601158e00"
    )
    assert encode_cayenne_lpp([]) == b""


def test_encode_rounds_to_the_resolution() -> None:
    assert encode_cayenne_lpp([(1, "temperature", 21.53)]) == bytes.fromhex("016700d7")
    assert encode_cayenne_lpp([(1, "humidity", 48.4)]) == bytes.fromhex("016861")


ROUND_TRIP: list[tuple[int, str, LppValue]] = [
    (0, "digital_input", 1),
    (1, "digital_output", 0),
    (2, "analog_input", -12.34),
    (3, "analog_output", 327.67),
    (4, "generic_sensor", 123456789),
    (5, "illuminance", 65535),
    (6, "presence", True),
    (7, "temperature", -40.5),
    (8, "humidity", 63.5),
    (9, "accelerometer", (-32.768, 0.001, 32.767)),
    (10, "barometric_pressure", 1013.2),
    (11, "voltage", 655.35),
    (12, "current", 0.123),
    (13, "frequency", 868100000),
    (14, "percentage", 42),
    (15, "altitude", -32768),
    (16, "concentration", 1200),
    (17, "power", 65535),
    (18, "distance", 4294967.295),
    (19, "energy", 0.001),
    (20, "direction", 359),
    (21, "unix_time", 1718000000),
    (22, "gyrometer", (-327.68, 12.5, 0.01)),
    (23, "colour", (1, 2, 3)),
    (24, "gps", (-33.8688, 151.2093, -12.34)),
    (255, "switch", False),
]


def _expected_fields(items: list[tuple[int, str, LppValue]]) -> dict[str, Any]:
    expected: dict[str, Any] = {}
    for channel, name, value in items:
        components = LPP_TYPES_BY_NAME[name].components
        if isinstance(value, tuple):
            for component, part in zip(components, value, strict=True):
                expected[f"{name}_{channel}_{component.suffix}"] = part
        else:
            expected[f"{name}_{channel}"] = value
    return expected


def test_round_trip_every_type_in_one_frame() -> None:
    assert {name for _, name, _ in ROUND_TRIP} == set(LPP_TYPES_BY_NAME)
    payload = encode_cayenne_lpp(ROUND_TRIP)
    result = decode_cayenne_lpp(payload)
    assert result.fields == _expected_fields(ROUND_TRIP)
    assert not result.warnings


@pytest.mark.parametrize("item", ROUND_TRIP, ids=[name for _, name, _ in ROUND_TRIP])
def test_round_trip_each_type(item: tuple[int, str, LppValue]) -> None:
    assert decode_cayenne_lpp(encode_cayenne_lpp([item])).fields == _expected_fields([item])


def test_round_trip_random_values() -> None:
    rng = random.Random(7)  # noqa: S311
    for lpp in LPP_TYPES:
        for _ in range(50):
            parts: list[float | int] = []
            for component in lpp.components:
                bits = 8 * component.size
                low, high = (
                    (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
                    if component.signed
                    else (0, (1 << bits) - 1)
                )
                raw = rng.randint(low, high)
                if lpp.kind == "float":
                    parts.append(round(raw / component.divisor, component.decimals))
                else:
                    parts.append(raw)
            value: LppValue = tuple(parts) if len(parts) > 1 else parts[0]
            if lpp.kind == "bool":
                value = bool(parts[0] % 2)
            item = (rng.randrange(256), lpp.name, value)
            assert decode_cayenne_lpp(encode_cayenne_lpp([item])).fields == _expected_fields([item])


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ((1, "temperature", 3276.8), "out of range"),
        ((1, "temperature", -3276.9), "out of range"),
        ((1, "humidity", -0.5), "out of range"),
        ((1, "humidity", 128), "out of range"),
        ((1, "digital_input", 256), "out of range"),
        ((1, "generic_sensor", -1), "out of range"),
        ((1, "gps", (90.0, 838.8608, 0.0)), "out of range"),
        ((1, "temperature", float("nan")), "not finite"),
        ((1, "temperature", float("inf")), "not finite"),
        ((256, "temperature", 1.0), "channel 256 is not in 0..255"),
        ((-1, "temperature", 1.0), "channel -1 is not in 0..255"),
        ((True, "temperature", 1.0), "channel True is not in 0..255"),
        ((1, "thermometer", 1.0), "unknown Cayenne LPP type name 'thermometer'"),
        ((1, "gps", (1.0, 2.0)), "gps on channel 1 takes 3 value(s)"),
        ((1, "temperature", (1.0, 2.0, 3.0)), "temperature on channel 1 takes 1 value(s)"),
        ((1, "colour", 5), "colour on channel 1 takes 3 value(s)"),
    ],
)
def test_encode_value_errors(item: tuple[Any, str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        encode_cayenne_lpp([item])


def test_encode_rejects_non_numbers() -> None:
    with pytest.raises(TypeError, match="is not a number"):
        encode_cayenne_lpp([(1, "temperature", "21.5")])  # type: ignore[list-item]
