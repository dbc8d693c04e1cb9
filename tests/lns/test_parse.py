"""The readers that turn vendor JSON values into typed values, or refuse them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from custom_components.lorawan_hub.lns.errors import ProtocolError
from custom_components.lorawan_hub.lns.models import normalize_eui
from custom_components.lorawan_hub.lns.parse import (
    MAX_PAYLOAD,
    as_dict,
    as_float,
    as_int,
    eui,
    hex_id,
    hex_payload,
    opt_bool,
    opt_float,
    opt_int,
    opt_str,
    parse_time,
)


@pytest.mark.parametrize(("value", "expected"), [(5, 5), (5.0, 5), (" 7 ", 7), ("-3", -3)])
def test_as_int(value: object, expected: int) -> None:
    assert as_int(value, "x") == expected


@pytest.mark.parametrize("value", [True, 5.5, "five", None, [], "1e3"])
def test_as_int_refuses(value: object) -> None:
    with pytest.raises(ProtocolError, match="x is not an integer"):
        as_int(value, "x")


@pytest.mark.parametrize(("value", "expected"), [(5, 5.0), (-1.5, -1.5), (" 868.1", 868.1)])
def test_as_float(value: object, expected: float) -> None:
    assert as_float(value, "x") == expected


@pytest.mark.parametrize("value", [False, "n/a", None, {}, float("inf"), "nan"])
def test_as_float_refuses(value: object) -> None:
    with pytest.raises(ProtocolError):
        as_float(value, "x")


def test_optional_readers() -> None:
    data: dict[str, Any] = {"i": "3", "f": "", "b": 1, "s": "text", "n": None, "t": "TRUE"}
    assert opt_int(data, "i") == 3
    assert opt_int(data, "missing") is None
    assert opt_float(data, "f") is None
    assert opt_float({"f": 2}, "f") == 2.0
    assert opt_bool(data, "b") is True
    assert opt_bool(data, "t") is True
    assert opt_bool({"b": "0"}, "b") is False
    assert opt_bool({"b": False}, "b") is False
    assert opt_bool(data, "n") is None
    assert opt_str(data, "s") == "text"
    assert opt_str(data, "n") is None
    with pytest.raises(ProtocolError):
        opt_bool({"b": 2}, "b")
    with pytest.raises(ProtocolError):
        opt_str({"s": 5}, "s")


def test_as_dict() -> None:
    assert as_dict({"a": 1}, "x") == {"a": 1}
    with pytest.raises(ProtocolError, match="x is not an object"):
        as_dict([1], "x")


def test_euis() -> None:
    assert eui("70-b3-d5-7e-d0-00-00-01", "x") == "70B3D57ED0000001"
    assert normalize_eui("70:B3:D5:7E:D0:00:00:01") == "70B3D57ED0000001"
    for value in ("70B3D57ED00000", "70B3D57ED000000G", 5):
        with pytest.raises(ProtocolError):
            eui(value, "x")
    with pytest.raises(ValueError, match="not an EUI-64"):
        normalize_eui("short")


def test_hex_id() -> None:
    assert hex_id(255, "gw") == "00000000000000FF"
    assert hex_id("b8:27:eb:fd", "gw") == "B827EBFD"
    for value in (True, -1, "", "zz", 1.5):
        with pytest.raises(ProtocolError):
            hex_id(value, "gw")


def test_hex_payload() -> None:
    assert hex_payload(None, "p") == b""
    assert hex_payload("01ff", "p") == b"\x01\xff"
    assert hex_payload("00" * MAX_PAYLOAD, "p") == bytes(MAX_PAYLOAD)
    with pytest.raises(ProtocolError, match="longer than a LoRaWAN payload"):
        hex_payload("00" * (MAX_PAYLOAD + 1), "p")
    for value in (5, "0", "zz"):
        with pytest.raises(ProtocolError):
            hex_payload(value, "p")


def test_parse_time() -> None:
    expected = datetime(2018, 2, 17, 13, 6, 22, tzinfo=UTC)
    assert parse_time("2018-02-17 13:06:22+0000", "t") == expected
    assert parse_time("2018-02-17 19:06:22+0600", "t") == expected
    assert parse_time("2018-02-17T13:06:22z", "t") == expected
    assert parse_time("2018-02-17 13:06:22", "t") == expected
    for value in ("yesterday", 5, None):
        with pytest.raises(ProtocolError):
            parse_time(value, "t")
