"""Tests of flattening decoded payload objects."""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
import math
from typing import Any

import pytest

from custom_components.lorawan_hub.codecs.fields import (
    MAX_DEPTH,
    MAX_STRING_LENGTH,
    flatten,
    snake_case,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("temperature", "temperature"),
        ("relativeHumidity", "relative_humidity"),
        ("batteryVoltage", "battery_voltage"),
        ("BatteryVoltage", "battery_voltage"),
        ("CO2", "co2"),
        ("co2", "co2"),
        ("CO2Level", "co2_level"),
        ("pm2.5", "pm2_5"),
        ("pm2_5", "pm2_5"),
        ("PM2.5", "pm2_5"),
        ("pm25Value", "pm25_value"),
        ("pH", "ph"),
        ("eCO2", "eco2"),
        ("tVOC", "tvoc"),
        ("TVOC", "tvoc"),
        ("VOCIndex", "voc_index"),
        ("HTTPServer", "http_server"),
        ("maxTemp", "max_temp"),
        ("air.temperature", "air_temperature"),
        ("Air Temperature (°C)", "air_temperature_c"),
        ("Température", "temperature"),
        ("volume m³", "volume_m3"),
        ("__leading__trailing__", "leading_trailing"),
        ("a--b  c", "a_b_c"),
        ("temperature_1", "temperature_1"),
        ("x_yZ", "x_yz"),
        ("°", ""),
        ("", ""),
    ],
)
def test_snake_case(name: str, expected: str) -> None:
    assert snake_case(name) == expected


def test_snake_case_is_idempotent() -> None:
    for name in ("relativeHumidity", "pm2.5", "CO2Level", "Air Temperature (°C)", "tVOC"):
        once = snake_case(name)
        assert snake_case(once) == once


def test_nested_objects_join_with_underscore() -> None:
    result = flatten(
        {
            "air": {"temperature": 21.5, "relativeHumidity": 40, "pressure": 1013.2},
            "batteryVoltage": 3.6,
            "CO2": 415,
            "pm2.5": 7,
            "deep": {"a": {"b": {"c": True}}},
        }
    )
    assert result.fields == {
        "air_temperature": 21.5,
        "air_relative_humidity": 40,
        "air_pressure": 1013.2,
        "battery_voltage": 3.6,
        "co2": 415,
        "pm2_5": 7,
        "deep_a_b_c": True,
    }
    assert result.units == {}
    assert result.warnings == []


def test_lists_of_scalars_and_objects() -> None:
    result = flatten(
        {
            "temps": [20.1, 20.2, None],
            "probes": [{"id": "a", "value": 1}, {"id": "b", "value": 2}],
            "matrix": [[1, 2], [3]],
            "empty": [],
            "nothing": {},
            "pair": (5, 6),
        }
    )
    assert result.fields == {
        "temps_0": 20.1,
        "temps_1": 20.2,
        "temps_2": None,
        "probes_0_id": "a",
        "probes_0_value": 1,
        "probes_1_id": "b",
        "probes_1_value": 2,
        "matrix_0_0": 1,
        "matrix_0_1": 2,
        "matrix_1_0": 3,
        "pair_0": 5,
        "pair_1": 6,
    }
    assert result.warnings == []


def test_scalar_types_are_kept() -> None:
    result = flatten({"b": False, "i": -3, "f": 0.5, "s": "on", "n": None, "big": 2**70})
    assert result.fields == {"b": False, "i": -3, "f": 0.5, "s": "on", "n": None, "big": 2**70}
    assert type(result.fields["b"]) is bool


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_dropped_with_a_warning(bad: float) -> None:
    result = flatten({"ok": 1.0, "bad": bad})
    assert result.fields == {"ok": 1.0}
    assert len(result.warnings) == 1
    assert "'bad' dropped" in result.warnings[0]


def test_long_strings_are_truncated() -> None:
    result = flatten({"text": "x" * 300, "fits": "y" * MAX_STRING_LENGTH})
    assert result.fields["text"] == "x" * MAX_STRING_LENGTH
    assert result.fields["fits"] == "y" * MAX_STRING_LENGTH
    assert result.warnings == ["'text' truncated from 300 to 255 characters"]


def test_other_values_become_text() -> None:
    result = flatten(
        {"dec": Decimal("1.5"), "raw": b"\x01\xab", "buf": bytearray(b"\xff"), "set": {1}}
    )
    assert result.fields == {"dec": "1.5", "raw": "01ab", "buf": "ff", "set": "{1}"}


def test_unit_bearing_values() -> None:
    result = flatten(
        {
            "air": {
                "temperature": {"value": 21.5, "unit": "°C"},
                "humidity": {"unit": "%RH", "value": 40},
            },
            "battery": {"value": 3.6, "unit": " V "},
            "label": {"value": "x", "unit": ""},
        }
    )
    assert result.fields == {
        "air_temperature": 21.5,
        "air_humidity": 40,
        "battery": 3.6,
        "label": "x",
    }
    assert result.units == {"air_temperature": "°C", "air_humidity": "%RH", "battery": "V"}


@pytest.mark.parametrize(
    "data",
    [
        {"value": 1, "unit": "V", "extra": 2},
        {"value": 1, "unit": 3},
        {"value": {"inner": 1}, "unit": "V"},
        {"value": [1, 2], "unit": "V"},
        {"val": 1, "unit": "V"},
    ],
)
def test_not_unit_bearing_values_flatten_normally(data: dict[str, Any]) -> None:
    result = flatten({"x": data})
    assert result.units == {}
    assert "x_unit" in result.fields


def test_unit_bearing_value_with_a_nan_is_dropped() -> None:
    result = flatten({"t": {"value": math.nan, "unit": "°C"}})
    assert result.fields == {}
    assert result.units == {}
    assert len(result.warnings) == 1


def test_top_level_unit_bearing_object() -> None:
    result = flatten({"value": 21.5, "unit": "°C"})
    assert result.fields == {"value": 21.5}
    assert result.units == {"value": "°C"}


def test_collisions_get_a_numeric_suffix_and_a_warning() -> None:
    result = flatten(
        OrderedDict(
            [
                ("batteryVoltage", 3.6),
                ("battery_voltage", 3.7),
                ("battery voltage", 3.8),
                ("battery_voltage_2", 3.9),
            ]
        )
    )
    assert result.fields == {
        "battery_voltage": 3.6,
        "battery_voltage_2": 3.7,
        "battery_voltage_3": 3.8,
        "battery_voltage_2_2": 3.9,
    }
    assert len(result.warnings) == 3
    assert "'battery_voltage' occurs more than once" in result.warnings[0]
    assert "'battery_voltage_2'" in result.warnings[0]


def test_nested_and_flat_collision() -> None:
    result = flatten({"air": {"temperature": 1}, "air_temperature": 2})
    assert result.fields == {"air_temperature": 1, "air_temperature_2": 2}
    assert len(result.warnings) == 1


def test_empty_keys() -> None:
    result = flatten({"°": 1, "air": {"": 2, "#": 3}})
    assert result.fields == {"value": 1, "air": 2, "air_2": 3}
    assert len(result.warnings) == 1


def test_non_string_keys() -> None:
    result = flatten({1: "a", (2, 3): "b"})  # type: ignore[dict-item]
    assert result.fields == {"1": "a", "2_3": "b"}


def test_field_limit_drops_with_a_warning() -> None:
    data = {f"f{index}": index for index in range(120)}
    result = flatten(data)
    assert len(result.fields) == 100
    assert list(result.fields) == [f"f{index}" for index in range(100)]
    assert len(result.warnings) == 1
    warning = result.warnings[0]
    assert warning.startswith("20 field(s) beyond the limit of 100 dropped: f100, f101")
    assert warning.endswith(", ...")
    assert "f110" not in warning


def test_small_field_limit_lists_every_dropped_key() -> None:
    result = flatten({"a": 1, "b": {"value": 2, "unit": "V"}, "c": [3, 4]}, max_fields=1)
    assert result.fields == {"a": 1}
    assert result.units == {}
    assert result.warnings == ["3 field(s) beyond the limit of 1 dropped: b, c_0, c_1"]


def test_zero_field_limit() -> None:
    result = flatten({"a": 1}, max_fields=0)
    assert result.fields == {}
    assert result.warnings == ["1 field(s) beyond the limit of 0 dropped: a"]


def test_deep_and_cyclic_objects_do_not_raise() -> None:
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(MAX_DEPTH + 5):
        deep = {"n": deep}
    result = flatten(deep)
    assert len(result.fields) == 1
    ((key, value),) = result.fields.items()
    assert key == "_".join(["n"] * MAX_DEPTH)
    assert isinstance(value, str)
    assert "nested deeper than" in result.warnings[0]

    cyclic: dict[str, Any] = {"a": 1}
    cyclic["self"] = cyclic
    looped: list[Any] = [1]
    looped.append(looped)
    result = flatten({"cyclic": cyclic, "looped": looped})
    assert result.fields["cyclic_a"] == 1
    assert result.fields["looped_0"] == 1
    assert any("nested deeper than" in warning for warning in result.warnings)


def test_result_is_independent_per_call() -> None:
    first = flatten({"a": math.nan})
    second = flatten({"b": 1})
    assert first.warnings
    assert not second.warnings
    assert second.units == {}
